# shellcheck shell=bash
# MongoDB wire-protocol server: SecantusDB in its own venv (GPL-2.0: run as a separate process,
# never a dependency of our packages). Source after lib.sh.

SECANTUS_VERSION="${SECANTUS_VERSION:?set at the top of stack.sh}"
MONGO_PORT=27017
SECANTUS_VENV="$LOCAL/secantus-venv"
MONGO_PIDFILE="$RUN/mongo.pid"
MONGO_MATCH="--storage-path $LOCAL/mongo"

# _mongo_uri_hostport: the host:port of MSM_MONGO_URI without credentials ("" when unset).
_mongo_uri_hostport() {
    local hp=${MSM_MONGO_URI:-}
    [[ -n $hp ]] || return 0
    hp=${hp#*://}; hp=${hp%%/*}; hp=${hp%%\?*}; hp=${hp##*@}
    echo "$hp"
}

# _mongo_wanted: false when MSM_MONGO_URI points anywhere but 127.0.0.1:27017.
_mongo_wanted() {
    case "$(_mongo_uri_hostport)" in
        "" | 127.0.0.1 | 127.0.0.1:27017 | localhost | localhost:27017) return 0 ;;
        *) return 1 ;;
    esac
}

_secantus_installed() {
    [[ -x $SECANTUS_VENV/bin/secantusd-py ]] &&
        [[ "$("$SECANTUS_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("secantusdb"))' 2>/dev/null)" == "$SECANTUS_VERSION" ]]
}

_secantus_install() {
    log "mongo: installing secantusdb==$SECANTUS_VERSION into $SECANTUS_VENV"
    [[ -x $SECANTUS_VENV/bin/python ]] || python3 -m venv "$SECANTUS_VENV"
    "$SECANTUS_VENV/bin/python" -m pip install -q --disable-pip-version-check "secantusdb==$SECANTUS_VERSION" \
        >>"$LOGS/secantus-install.log" 2>&1 || { log_tail "$LOGS/secantus-install.log"; die "pip install secantusdb failed"; }
}

# _mongo_ping: one `ping` through pymongo (installed with secantusdb in its venv).
_mongo_ping() {
    "$SECANTUS_VENV/bin/python" - "$MONGO_PORT" <<'PY' 2>/dev/null
import sys
from pymongo import MongoClient
client = MongoClient("127.0.0.1", int(sys.argv[1]), directConnection=True, serverSelectionTimeoutMS=1000)
client.admin.command("ping")
PY
}

mongo_up() {
    if ! _mongo_wanted; then
        log "mongo: MSM_MONGO_URI points to $(_mongo_uri_hostport); not starting SecantusDB"; return
    fi
    part_served mongo "$MONGO_PIDFILE" "$MONGO_MATCH" "$MONGO_PORT" && return
    _secantus_installed || _secantus_install
    mkdir -p "$LOCAL/mongo"
    # Oplog pruning is expensive on this server: past the default cap of 100,000 entries every
    # write also prunes, and the insert rate fell from ~10.5k to ~7k docs/s within 200k inserts
    # (same run, fresh store, with and without a bigger cap). So: prune past 2M entries or a
    # day, whichever comes first (2M entries of our documents: well under 1 GB on disk).
    start_bg mongo "$SECANTUS_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" \
        --storage-path "$LOCAL/mongo" --log-level WARNING \
        --oplog-max-entries 2000000 --oplog-retention-seconds 86400
    part_await mongo "$MONGO_PIDFILE" "$MONGO_MATCH" "$MONGO_PORT" 60 \
        "SecantusDB did not answer ping on 127.0.0.1:$MONGO_PORT within 60 s (log: $LOGS/mongo.log)" \
        _mongo_ping
    log "mongo: SecantusDB $SECANTUS_VERSION started on 127.0.0.1:$MONGO_PORT (pid $(<"$MONGO_PIDFILE"))"
}

mongo_down() { part_down mongo "$MONGO_PIDFILE" "$MONGO_MATCH" "$MONGO_PORT" group; }

mongo_status() {
    if _mongo_wanted; then
        part_status mongo "$MONGO_PIDFILE" "$MONGO_MATCH" "$MONGO_PORT"
    else
        status_line mongo - skip "external (MSM_MONGO_URI -> $(_mongo_uri_hostport))"
    fi
}
