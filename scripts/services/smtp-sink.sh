#!/usr/bin/env bash
# An SMTP server that keeps what it receives: aiosmtpd's Mailbox handler
# writes every message into a Maildir (DIR/sink: new/, cur/, tmp/).
#
#   scripts/services/smtp-sink.sh start|stop|status [DIR]
#
# DIR defaults to <repo>/.tools/smtp-sink; pid file DIR/smtp-sink.pid, log
# DIR/smtp-sink.log. Listens on 127.0.0.1:2525, no AUTH, no STARTTLS.
# Python comes from <repo>/.tools/venv (made by scripts/tools-venv.sh).
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"

HOST=127.0.0.1
PORT=2525

usage() { echo "usage: $0 start|stop|status [DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
CMD=$1
DIR=${2:-$TOOLS_DIR/smtp-sink}
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
SINK="$DIR/sink"
PIDFILE="$DIR/smtp-sink.pid"
LOGFILE="$DIR/smtp-sink.log"

facts() {
    cat <<FACTS
smtp-sink: running (pid $1)
  SMTP    $HOST:$PORT  (no AUTH, no STARTTLS; accepts any sender/recipient)
  Maildir $SINK  (one file per message in new/)
  log     $LOGFILE
FACTS
}

start() {
    local pid
    if pid=$(pid_from_file "$PIDFILE") && port_open $HOST $PORT; then
        log "smtp-sink: already running"
        facts "$pid"
        return 0
    fi
    port_open $HOST $PORT && die "port $PORT is taken by another process"
    ensure_venv
    mkdir -p "$DIR"
    # The handler creates the Maildir itself and fails on an existing
    # directory without new/cur/tmp, so never pre-create it bare; repair it
    # if someone emptied it.
    if [ -d "$SINK" ]; then
        mkdir -p "$SINK/new" "$SINK/cur" "$SINK/tmp"
    fi
    rm -f "$PIDFILE"
    log "smtp-sink: starting on $HOST:$PORT"
    # -n: do not drop privileges to nobody (as root every delivery would fail).
    start_bg "$PIDFILE" "$LOGFILE" "$VENV_DIR/bin/python" -m aiosmtpd -n \
        -l "$HOST:$PORT" -c aiosmtpd.handlers.Mailbox "$SINK"
    pid=$(cat "$PIDFILE")
    if ! wait_port $HOST $PORT 20 "$pid"; then
        tail_log "$LOGFILE"
        die "smtp-sink: $HOST:$PORT did not answer within 20 s"
    fi
    facts "$pid"
}

stop() {
    stop_pidfile "$PIDFILE" smtp-sink
    wait_port_free $HOST $PORT 10 || die "port $PORT still in use after stop"
}

status() {
    local pid
    if pid=$(pid_from_file "$PIDFILE") && port_open $HOST $PORT; then
        facts "$pid"
    else
        echo "smtp-sink: not running"
        return 3
    fi
}

case "$CMD" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) usage ;;
esac
