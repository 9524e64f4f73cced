# shellcheck shell=bash
# moto server (AWS IoT registry / iot-data stand-in) from the project venv. Source after lib.sh.

MOTO_PORT=5055
MOTO_BIN="$ROOT/.venv/bin/moto_server"
MOTO_PIDFILE="$RUN/moto.pid"
MOTO_MATCH="$MOTO_BIN -H 127.0.0.1 -p $MOTO_PORT"   # this checkout's moto only

_moto_answers() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; }
_moto_started_or_dead() { _moto_answers || ! pid_of "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT" >/dev/null; }

moto_up() {
    if pid_of "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT" >/dev/null; then
        log "moto: already running (ours) on $MOTO_PORT"; return
    fi
    if port_open "$MOTO_PORT"; then
        log "moto: port $MOTO_PORT is served by something else; using it as is"; return
    fi
    [[ -x $MOTO_BIN ]] || die "$MOTO_BIN missing: run 'UV_PYTHON_DOWNLOADS=never uv sync --python python3' first"
    start_bg moto "$MOTO_BIN" -H 127.0.0.1 -p "$MOTO_PORT"
    if ! wait_for 30 _moto_started_or_dead || ! _moto_answers; then
        log_tail "$LOGS/moto.log"
        stop_pid "$MOTO_PIDFILE" "$MOTO_MATCH" group
        die "moto did not answer on http://127.0.0.1:$MOTO_PORT/moto-api/ within 30 s"
    fi
    log "moto: started on 127.0.0.1:$MOTO_PORT (pid $(<"$MOTO_PIDFILE"))"
}

moto_down() {
    if pid_of "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT" >/dev/null; then
        log "moto: stopping"
        stop_pid "$MOTO_PIDFILE" "$MOTO_MATCH" group
    fi
    rm -f "$MOTO_PIDFILE"
}

moto_status() {
    local pid
    if pid=$(pid_of "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT"); then
        status_line moto "127.0.0.1:$MOTO_PORT" up "ours (pid $pid)"
    elif port_open "$MOTO_PORT"; then
        status_line moto "127.0.0.1:$MOTO_PORT" up external
    else
        status_line moto "127.0.0.1:$MOTO_PORT" down -
    fi
}
