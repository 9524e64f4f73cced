# shellcheck shell=bash
# Our mosquitto: mTLS on 127.0.0.1:8883 with per-device ACLs. Source after lib.sh and pki.sh.

MOSQ_PORT=8883
MOSQ_DIR="$LOCAL/mosquitto"
MOSQ_CONF="$MOSQ_DIR/mosquitto.conf"
MOSQ_PID="$MOSQ_DIR/mosquitto.pid"   # written by mosquitto itself (pid_file)
MOSQ_MATCH="$MOSQ_CONF"              # our process is the one running this config

# _acl_fragment_error FILE: print why an acl.d fragment is unsafe, or nothing if it is fine.
# mosquitto denies everything after a syntax error on reload, and a `topic` line before any
# `user` line would extend the previous user's rights.
_acl_fragment_error() {
    awk '
        /^[[:space:]]*(#|$)/ { next }
        /^user [^[:space:]]+[[:space:]]*$/ { user = 1; next }
        /^(topic|pattern) ((read|write|readwrite|deny) )?[^[:space:]]+[[:space:]]*$/ {
            if ($1 == "topic" && !user) { print "line " NR ": topic before any user line"; exit }
            next
        }
        { print "line " NR ": not an ACL line: " $0; exit }
    ' "$1"
}

# mosquitto_build_acl: acl = acl.base + acl.d/*.acl, written atomically. Unsafe fragments are
# left out and make it return 1 (the rest still applies).
mosquitto_build_acl() {
    local tmp="$MOSQ_DIR/acl.tmp" frag err rc=0
    mkdir -p "$MOSQ_DIR/acl.d"
    cp "$MOSQ_DIR/acl.base" "$tmp"
    for frag in "$MOSQ_DIR"/acl.d/*.acl; do
        [[ -e $frag ]] || continue
        err=$(_acl_fragment_error "$frag")
        if [[ -n $err ]]; then
            log "ERROR: skipping $frag: $err"
            rc=1
            continue
        fi
        printf '\n# --- %s\n' "${frag##*/}" >>"$tmp"
        cat "$frag" >>"$tmp"
    done
    mv -f "$tmp" "$MOSQ_DIR/acl"
    return "$rc"
}

_mosquitto_render() {
    mkdir -p "$MOSQ_DIR/data" "$MOSQ_DIR/acl.d"
    cp "$HERE/mosquitto/acl.base" "$MOSQ_DIR/acl.base"
    sed -e "s|@LOCAL@|$LOCAL|g" -e "s|@PKI@|$PKI|g" -e "s|@USER@|$(id -un)|g" \
        "$HERE/mosquitto/mosquitto.conf.in" >"$MOSQ_CONF"
    mosquitto_build_acl || true   # skipped fragments are reported; start with the rest
}

mosquitto_up() {
    part_served mosquitto "$MOSQ_PID" "$MOSQ_MATCH" "$MOSQ_PORT" && return
    [[ -x /usr/sbin/mosquitto ]] || apt_install mosquitto
    _mosquitto_render
    rm -f "$MOSQ_PID"
    # Startup messages (incl. the "should not be run as root" warning) go to the log.
    /usr/sbin/mosquitto -d -c "$MOSQ_CONF" 2>>"$LOGS/mosquitto.log" 8>&- || { log_tail "$LOGS/mosquitto.log"; die "mosquitto failed to start"; }
    if ! wait_for 15 port_open "$MOSQ_PORT"; then
        log_tail "$LOGS/mosquitto.log"; die "mosquitto did not listen on $MOSQ_PORT within 15 s"
    fi
    log "mosquitto: started on 127.0.0.1:$MOSQ_PORT (pid $(<"$MOSQ_PID"))"
}

mosquitto_down() { part_down mosquitto "$MOSQ_PID" "$MOSQ_MATCH" "$MOSQ_PORT"; }

mosquitto_status() { part_status mosquitto "$MOSQ_PID" "$MOSQ_MATCH" "$MOSQ_PORT"; }
