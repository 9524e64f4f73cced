#!/usr/bin/env bash
# Local stack for MSM: MongoDB-protocol server (SecantusDB), RabbitMQ, our mTLS mosquitto, moto.
# Usage: deploy/local/stack.sh up|down|status
#   up      start every part whose port is not already served (idempotent)
#   down    stop only what `up` started (pid files / markers under .local/)
#   status  one line per part: address, up/down, ours or external
# State, pids and logs live in .local/ (logs in .local/logs/). Environment: deploy/local/env.sh.
set -euo pipefail

SECANTUS_VERSION=0.7.0b3   # PyPI secantusdb, pinned exactly

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HERE/pki.sh"
source "$HERE/parts/mongo.sh"
source "$HERE/parts/rabbitmq.sh"
source "$HERE/parts/mosquitto.sh"
source "$HERE/parts/moto.sh"

PARTS=(mongo rabbitmq mosquitto moto)

# secrets_key_init: the envelope key of device secrets at rest (msm_common.secrets reads it as
# MSM_SECRETS_KEY_FILE; production uses KMS instead). Created once, 0600; never replaced.
secrets_key_init() {
    local file="$LOCAL/secrets/envelope.keys" tmp
    [[ -s $file ]] && return
    mkdir -p "$LOCAL/secrets" && chmod 700 "$LOCAL/secrets"
    tmp=$(mktemp "$LOCAL/secrets/.envelope.XXXXXX")   # mktemp: mode 0600
    { echo "# MSM secrets envelope keys (Fernet), newest first. Never commit."
      openssl rand 32 | base64 | tr '+/' '-_'; } >"$tmp"
    ln "$tmp" "$file" 2>/dev/null || true   # a concurrent first use may have made it already
    rm -f "$tmp"
    log "secrets: envelope key created in $file"
}

cmd_up() {
    ensure_dirs
    pki_init
    secrets_key_init
    local part
    for part in "${PARTS[@]}"; do "${part}_up"; done
    cmd_status
}

cmd_down() {
    local i
    for ((i = ${#PARTS[@]} - 1; i >= 0; i--)); do "${PARTS[i]}_down"; done
    log "down: nothing of ours is running"
}

cmd_status() {
    local part
    for part in "${PARTS[@]}"; do "${part}_status"; done
}

# One up/down at a time (parallel test targets may all call `up`).
lock() {
    ensure_dirs
    exec 8>"$RUN/stack.lock"
    flock -w 180 8 || die "another stack.sh up/down holds $RUN/stack.lock"
}

case "${1:-}" in
    up) lock && cmd_up ;;
    down) lock && cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
