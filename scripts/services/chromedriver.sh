#!/usr/bin/env bash
# chromedriver for the browser tests, on 127.0.0.1:9515.
#
#   scripts/services/chromedriver.sh start|stop|status
#
# Debian's chromium + chromium-driver (/usr/bin). Tests must pass
# goog:chromeOptions with binary /usr/bin/chromium and --headless,
# --no-sandbox (we run as root), --disable-background-networking, etc.
# Pid file and log in <repo>/.tools/chromedriver/.
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"

HOST=127.0.0.1
PORT=9515
URL="http://$HOST:$PORT"
DIR="$TOOLS_DIR/chromedriver"
PIDFILE="$DIR/chromedriver.pid"
LOGFILE="$DIR/chromedriver.log"

[ $# -eq 1 ] || { echo "usage: $0 start|stop|status" >&2; exit 2; }

ready() {
    local body
    body=$(curl -sf --max-time 2 "$URL/status") || return 1
    [[ "$body" =~ \"ready\":\ *true ]]
}

facts() {
    cat <<FACTS
chromedriver: running (pid $1)
  WebDriver $URL  (browser /usr/bin/chromium)
  log       $LOGFILE
FACTS
}

start() {
    local pid i
    if pid=$(pid_from_file "$PIDFILE") && ready; then
        log "chromedriver: already running"
        facts "$pid"
        return 0
    fi
    port_open $HOST $PORT && die "port $PORT is taken by another process"
    command -v chromedriver >/dev/null ||
        die "chromedriver not installed (scripts/services/install.sh)"
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing (scripts/services/install.sh)"
    mkdir -p "$DIR"
    rm -f "$PIDFILE"
    log "chromedriver: starting on $URL"
    # Listens on localhost only unless --allowed-ips is given.
    start_bg "$PIDFILE" "$LOGFILE" chromedriver --port="$PORT"
    pid=$(cat "$PIDFILE")
    for ((i = 0; i < 100; i++)); do
        ready && { facts "$pid"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    tail_log "$LOGFILE"
    die "chromedriver: $URL/status not ready within 20 s"
}

stop() {
    stop_pidfile "$PIDFILE" chromedriver
    wait_port_free $HOST $PORT 10 || die "port $PORT still in use after stop"
}

status() {
    local pid
    if pid=$(pid_from_file "$PIDFILE") && ready; then
        facts "$pid"
    else
        echo "chromedriver: not running"
        return 3
    fi
}

case "$1" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
