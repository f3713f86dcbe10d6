# shellcheck shell=bash
# Helpers shared by scripts/services/*.sh. Source it; do not run it.
#
# Conventions:
#   - progress goes to stderr (log), facts for the caller go to stdout;
#   - background services are detached with setsid, stdin from /dev/null,
#     output to a log file, so `eval "$(scripts/services/all.sh start)"`
#     does not hang on an inherited pipe.

# Repository root (this file lives in <repo>/scripts/services/).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="$REPO_ROOT/.tools"
VENV_DIR="$TOOLS_DIR/venv"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run as root, or through sudo when available.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $*"
    fi
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_port HOST PORT SECONDS [PID]: wait until the port answers; give up
# early if PID (the server) dies.
wait_port() {
    local host=$1 port=$2 secs=$3 pid=${4:-} i
    for ((i = 0; i < secs * 5; i++)); do
        port_open "$host" "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.2
    done
    return 1
}

# wait_port_free HOST PORT SECONDS
wait_port_free() {
    local host=$1 port=$2 secs=$3 i
    for ((i = 0; i < secs * 5; i++)); do
        port_open "$host" "$port" || return 0
        sleep 0.2
    done
    return 1
}

# pid_from_file FILE: print the pid if FILE names a live process.
pid_from_file() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(tr -dc '0-9' <"$1")
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        return 1
    fi
    echo "$pid"
}

# stop_pidfile FILE NAME: TERM the process, wait up to 10 s, then KILL.
stop_pidfile() {
    local file=$1 name=$2 pid i
    if ! pid=$(pid_from_file "$file"); then
        log "$name: not running"
        rm -f "$file"
        return 0
    fi
    log "$name: stopping pid $pid"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: still alive after 10 s, sending KILL"
        kill -9 "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$file"
}

# start_bg PIDFILE LOGFILE CMD...: start CMD detached; its pid goes to PIDFILE.
# (The inner shell writes its own pid, then execs CMD, so the pid is CMD's.)
start_bg() {
    local pidfile=$1 logfile=$2
    shift 2
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
        </dev/null >>"$logfile" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do
        [ -s "$pidfile" ] && return 0
        sleep 0.1
    done
    die "could not start: $*"
}

# tail_log FILE: show the end of a log on stderr (for failures).
tail_log() {
    [ -f "$1" ] && { log "--- last lines of $1:"; tail -n 30 "$1" >&2; }
    return 0
}

# ensure_venv: <repo>/.tools/venv with aiosmtpd, pypdf and Pillow importable.
# Prefer the project's scripts/tools-venv.sh; fall back to doing it here.
ensure_venv() {
    if [ -x "$VENV_DIR/bin/python" ] &&
        "$VENV_DIR/bin/python" -c 'import aiosmtpd, pypdf, PIL' 2>/dev/null; then
        return 0
    fi
    if [ -f "$REPO_ROOT/scripts/tools-venv.sh" ]; then
        log "venv: running scripts/tools-venv.sh"
        bash "$REPO_ROOT/scripts/tools-venv.sh" >&2
    else
        log "venv: creating $VENV_DIR"
        [ -x "$VENV_DIR/bin/python" ] || python3 -m venv "$VENV_DIR"
        "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check aiosmtpd pypdf pillow >&2
    fi
    "$VENV_DIR/bin/python" -c 'import aiosmtpd, pypdf' ||
        die "venv $VENV_DIR still lacks aiosmtpd/pypdf"
}
