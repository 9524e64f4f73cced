# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this
# Shared helpers for the local-stack scripts. Source it; do not execute it.
# Sets ROOT (repo root), LOCAL (state dir), LOGS and RUN (pid files).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
LOCAL="$ROOT/.local"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
PKI="$LOCAL/pki"

log() { printf '[local-stack] %s\n' "$*" >&2; }
die() { printf '[local-stack] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_dirs() { mkdir -p "$LOGS" "$RUN"; }

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# wait_for SECONDS CMD...: run CMD every half second until it succeeds or time runs out.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# apt_install PKG...: install Debian packages (needs root; only called when a binary is missing).
apt_install() {
    log "installing Debian packages: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# pid_of PIDFILE MATCH: print the pid if the file names a live process whose command line
# contains MATCH (guards against a stale file whose pid was reused).
pid_of() {
    local file=$1 match=$2 pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match" || return 1
    echo "$pid"
}

# start_bg NAME CMD...: start CMD detached in its own session, log to $LOGS/NAME.log,
# pid to $RUN/NAME.pid. setsid execs (no fork) here, so $! is the server's own pid.
start_bg() {
    local name=$1; shift
    (cd "$LOCAL" && exec setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null) &
    echo $! >"$RUN/$name.pid"
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# stop_pid PIDFILE MATCH [GROUP]: SIGTERM the process (its whole process group if GROUP=group),
# wait up to 15 s, then SIGKILL. Removes the pid file.
stop_pid() {
    local file=$1 match=$2 target pid
    if pid=$(pid_of "$file" "$match"); then
        target=$pid; [[ ${3:-} == group ]] && target=-$pid
        kill -TERM -- "$target" 2>/dev/null || true
        if ! wait_for 15 pid_gone "$pid"; then
            log "pid $pid did not exit after SIGTERM; sending SIGKILL"
            kill -KILL -- "$target" 2>/dev/null || true
        fi
    fi
    rm -f "$file"
}

# log_tail NAME: last lines of a log, for error messages.
log_tail() { tail -n 20 "$1" 2>/dev/null | sed 's/^/    | /' >&2 || true; }

# status_line PART ADDRESS STATE OWNER
status_line() { printf '%-10s %-16s %-5s %s\n' "$@"; }
