# shellcheck shell=bash
# moto server (AWS IoT registry / iot-data stand-in) from the project venv. Source after lib.sh.

MOTO_PORT=5055
MOTO_BIN="$ROOT/.venv/bin/moto_server"
MOTO_PIDFILE="$RUN/moto.pid"
MOTO_MATCH="$MOTO_BIN -H 127.0.0.1 -p $MOTO_PORT"   # this checkout's moto only

_moto_answers() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; }
moto_up() {
    part_served moto "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT" && return
    [[ -x $MOTO_BIN ]] || die "$MOTO_BIN missing: run 'UV_PYTHON_DOWNLOADS=never uv sync --python python3' first"
    start_bg moto "$MOTO_BIN" -H 127.0.0.1 -p "$MOTO_PORT"
    part_await moto "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT" 30 \
        "moto did not answer on http://127.0.0.1:$MOTO_PORT/moto-api/ within 30 s" _moto_answers
    log "moto: started on 127.0.0.1:$MOTO_PORT (pid $(<"$MOTO_PIDFILE"))"
}

moto_down() { part_down moto "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT" group; }

moto_status() { part_status moto "$MOTO_PIDFILE" "$MOTO_MATCH" "$MOTO_PORT"; }
