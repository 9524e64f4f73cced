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

_cmdline_has() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"; }

# pid_of PIDFILE MATCH [PORT]: print the pid if the file names a live process whose command
# line contains MATCH (guards against a stale file whose pid was reused). With PORT, a process
# listening there whose command line contains MATCH (ours, but its pid file was lost, e.g. to
# an `rm -rf .local` while running) is adopted: its pid is written back to PIDFILE.
pid_of() {
    local file=$1 match=$2 port=${3:-} pid=""
    [[ -s $file ]] && pid=$(<"$file")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && _cmdline_has "$pid" "$match"; then
        echo "$pid"; return 0
    fi
    [[ -n $port ]] || return 1
    pid=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    [[ -n $pid ]] && _cmdline_has "$pid" "$match" || return 1
    mkdir -p "$(dirname "$file")" && echo "$pid" >"$file"
    log "adopted pid $pid on port $port (its pid file $file was missing)"
    echo "$pid"
}

# start_bg NAME CMD...: start CMD detached in its own session, log to $LOGS/NAME.log,
# pid to $RUN/NAME.pid. setsid execs (no fork) here, so $! is the server's own pid.
# Servers must not inherit fd 8, stack.sh's lock (`8>&-` wherever one is spawned).
start_bg() {
    local name=$1; shift
    (cd "$LOCAL" && exec setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&-) &
    echo $! >"$RUN/$name.pid"
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# stop_pid PIDFILE MATCH [GROUP]: SIGTERM the process (its whole process group if GROUP=group),
# wait up to 15 s, then SIGKILL. Removes the pid file. Call pid_of first to adopt a lost one.
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

# The parts that run one process of ours on 127.0.0.1:PORT, found by PIDFILE and MATCH (pid_of).

# part_served NAME PIDFILE MATCH PORT: true, and says so, when the port is served already: by
# our process, or by something else that is then used as is. False: the part is to be started.
part_served() {
    local name=$1 file=$2 match=$3 port=$4
    if pid_of "$file" "$match" "$port" >/dev/null; then
        log "$name: already running (ours) on $port"; return 0
    fi
    if port_open "$port"; then
        log "$name: port $port is served by something else; using it as is"; return 0
    fi
    return 1
}

# part_await NAME PIDFILE MATCH PORT SECONDS MESSAGE PROBE...: after start_bg NAME, wait until
# PROBE succeeds, giving up early when the process has died; otherwise show its log, stop it
# (its process group) and die with MESSAGE.
part_await() {
    local name=$1 file=$2 match=$3 port=$4 seconds=$5 message=$6
    shift 6
    if ! wait_for "$seconds" _part_answers_or_died "$@" || ! "$@"; then
        log_tail "$LOGS/$name.log"
        stop_pid "$file" "$match" group
        die "$message"
    fi
}
# (part_await's file, match and port: bash functions see their caller's locals.)
_part_answers_or_died() { "$@" || ! pid_of "$file" "$match" "$port" >/dev/null; }

# part_down NAME PIDFILE MATCH PORT [group]: stop our process (its process group with `group`).
part_down() {
    local name=$1 file=$2 match=$3 port=$4
    if pid_of "$file" "$match" "$port" >/dev/null; then
        log "$name: stopping"
        stop_pid "$file" "$match" "${5:-}"
    fi
    rm -f "$file"
}

# part_status NAME PIDFILE MATCH PORT: its status line (ours, external or down).
part_status() {
    local name=$1 file=$2 match=$3 port=$4 pid
    if pid=$(pid_of "$file" "$match" "$port"); then
        status_line "$name" "127.0.0.1:$port" up "ours (pid $pid)"
    elif port_open "$port"; then
        status_line "$name" "127.0.0.1:$port" up external
    else
        status_line "$name" "127.0.0.1:$port" down -
    fi
}
