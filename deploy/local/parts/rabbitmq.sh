# shellcheck shell=bash
# RabbitMQ: use whatever serves 127.0.0.1:5672; otherwise start Debian's rabbitmq-server as our
# own node (msm@localhost) with its data, logs and config under .local/rabbitmq.
# Source after lib.sh. MSM_LOCAL_RABBIT_PORT moves it (only for testing this script).

RABBIT_PORT=${MSM_LOCAL_RABBIT_PORT:-5672}
RABBIT_DIR="$LOCAL/rabbitmq"
RABBIT_MARK="$RUN/rabbitmq.started"   # holds our node's port; exists only while it runs
RABBIT_NODE="msm@localhost"

# Environment for the rabbitmq commands (`env "${RABBIT_ENV[@]}" cmd`). The Debian wrappers su to
# the rabbitmq user and keep it; our env file replaces /etc/rabbitmq/rabbitmq-env.conf.
RABBIT_ENV=(RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf" RABBITMQ_NODENAME="$RABBIT_NODE"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1)

_rabbit_closed() { ! port_open "$RABBIT_PORT"; }

_rabbit_prepare() {
    mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
    cat >"$RABBIT_DIR/rabbitmq-env.conf" <<CONF
NODENAME=$RABBIT_NODE
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$RABBIT_PORT
DIST_PORT=$((RABBIT_PORT + 20000))
MNESIA_BASE=$RABBIT_DIR/mnesia
LOG_BASE=$RABBIT_DIR/log
CONFIG_FILE=$RABBIT_DIR/rabbitmq.conf
ENABLED_PLUGINS_FILE=$RABBIT_DIR/enabled_plugins
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CONF
    echo "listeners.tcp.local = 127.0.0.1:$RABBIT_PORT" >"$RABBIT_DIR/rabbitmq.conf"
    echo "[]." >"$RABBIT_DIR/enabled_plugins"
    # The node runs as the rabbitmq user (the Debian wrapper switches to it when run as root).
    if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq: "$RABBIT_DIR"; fi
}

rabbitmq_up() {
    if [[ -e $RABBIT_MARK ]] && port_open "$RABBIT_PORT"; then
        log "rabbitmq: already running (ours) on $RABBIT_PORT"; return
    fi
    if port_open "$RABBIT_PORT"; then
        log "rabbitmq: using the RabbitMQ already on 127.0.0.1:$RABBIT_PORT (external)"; return
    fi
    command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
    _rabbit_prepare
    port_open 4369 || touch "$RUN/epmd.started"   # our node will start epmd: stop it on down
    echo "$RABBIT_PORT" >"$RABBIT_MARK"
    env "${RABBIT_ENV[@]}" rabbitmq-server -detached >>"$LOGS/rabbitmq.log" 2>&1 8>&- ||
        { log_tail "$LOGS/rabbitmq.log"; die "rabbitmq-server -detached failed"; }
    if ! wait_for 90 port_open "$RABBIT_PORT"; then
        log_tail "$LOGS/rabbitmq.log"
        die "RabbitMQ did not listen on 127.0.0.1:$RABBIT_PORT within 90 s (logs: $RABBIT_DIR/log)"
    fi
    log "rabbitmq: node $RABBIT_NODE started on 127.0.0.1:$RABBIT_PORT"
}

rabbitmq_down() {
    [[ -e $RABBIT_MARK ]] || return 0
    RABBIT_PORT=$(<"$RABBIT_MARK")
    log "rabbitmq: stopping node $RABBIT_NODE"
    timeout 60 env "${RABBIT_ENV[@]}" rabbitmqctl -n "$RABBIT_NODE" stop >>"$LOGS/rabbitmq.log" 2>&1 ||
        log "rabbitmq: rabbitmqctl stop failed (see $LOGS/rabbitmq.log)"
    wait_for 30 _rabbit_closed || log "rabbitmq: port $RABBIT_PORT still open"
    rm -f "$RABBIT_MARK"
    if [[ -e $RUN/epmd.started ]]; then
        # Only if no other Erlang node registered meanwhile.
        epmd -names 2>/dev/null | grep -q '^name ' || epmd -kill >/dev/null 2>&1 || true
        rm -f "$RUN/epmd.started"
    fi
}

rabbitmq_status() {
    if ! port_open "$RABBIT_PORT"; then
        status_line rabbitmq "127.0.0.1:$RABBIT_PORT" down -
    elif [[ -e $RABBIT_MARK ]]; then
        status_line rabbitmq "127.0.0.1:$RABBIT_PORT" up "ours (node $RABBIT_NODE)"
    else
        status_line rabbitmq "127.0.0.1:$RABBIT_PORT" up external
    fi
}
