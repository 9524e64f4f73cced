#!/usr/bin/env bash
# Rebuild .local/mosquitto/acl from acl.base (copied from deploy/local/mosquitto/acl.base) +
# acl.d/*.acl and SIGHUP our mosquitto, which then
# re-reads the ACL and the CRL. Safe to call concurrently (serialised by a lock) and when the
# broker is not running (then only the ACL file is rebuilt). Exits 1 if a fragment was left out
# as unsafe (the others are applied all the same).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HERE/parts/mosquitto.sh"

[[ -s $MOSQ_DIR/acl.base ]] || die "no $MOSQ_DIR/acl.base (run stack.sh up first)"
exec 9>"$MOSQ_DIR/.reload.lock"
flock -w 30 9 || die "could not lock $MOSQ_DIR/.reload.lock"
rc=0
# The static part from the template, so that an edited deploy/local/mosquitto/acl.base applies
# at once (no restart: mosquitto re-reads the ACL on SIGHUP and keeps its connections).
cp "$HERE/mosquitto/acl.base" "$MOSQ_DIR/acl.base.tmp" && mv -f "$MOSQ_DIR/acl.base.tmp" "$MOSQ_DIR/acl.base"
mosquitto_build_acl || rc=1
if pid=$(pid_of "$MOSQ_PID" "$MOSQ_MATCH" "$MOSQ_PORT"); then
    kill -HUP "$pid"
    log "mosquitto: ACL rebuilt, reloaded pid $pid"
else
    log "mosquitto: ACL rebuilt (broker not running)"
fi
exit "$rc"
