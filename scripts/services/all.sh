#!/usr/bin/env bash
# Starts (or stops) every outside service the tests use, and prints the
# environment the tests read as `export` lines on stdout (progress goes to
# stderr), so a shell can take them with:
#
#   eval "$(scripts/services/all.sh start)"         # or: start --install
#   scripts/services/all.sh stop
#   scripts/services/all.sh status
#
# --install first runs scripts/services/install.sh (apt + tools venv).
# PostgreSQL is only started if it is down, and never stopped here.
# The tests default to the same values when the variables are unset.
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"
HERE="$REPO_ROOT/scripts/services"

install=
cmd=
for arg in "$@"; do
    case "$arg" in
        --install) install=1 ;;
        start | stop | status) cmd=$arg ;;
        *) cmd= ; break ;;
    esac
done
[ -n "$cmd" ] || { echo "usage: $0 [--install] start|stop|status" >&2; exit 2; }

print_env() {
    local name value
    for name in PG IMAP LMTP SMTP SMTP_SINK CHROMEDRIVER PYTHON PROMTOOL; do
        case $name in
            PG) value=postgres://postgres@127.0.0.1:5432 ;;
            IMAP) value=127.0.0.1:10143 ;;
            LMTP) value=127.0.0.1:10024 ;;
            SMTP) value=127.0.0.1:2525 ;;
            SMTP_SINK) value=$TOOLS_DIR/smtp-sink/sink ;;
            CHROMEDRIVER) value=http://127.0.0.1:9515 ;;
            PYTHON) value=$VENV_DIR/bin/python ;;
            PROMTOOL) value=$TOOLS_DIR/bin/promtool ;;
        esac
        printf 'export BAREME_MEL_TEST_%s=%q\n' "$name" "$value"
    done
}

postgres_up() {
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null
}

start_postgres() {
    local i ver
    if postgres_up; then
        log "postgres: already running on 127.0.0.1:5432"
        return 0
    fi
    ver=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [ -n "$ver" ] || die "postgres: no cluster under /etc/postgresql"
    log "postgres: starting cluster $ver/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2
    for ((i = 0; i < 100; i++)); do
        postgres_up && return 0
        sleep 0.2
    done
    die "postgres: 127.0.0.1:5432 not ready within 20 s"
}

case "$cmd" in
    start)
        [ -z "$install" ] || bash "$HERE/install.sh"
        start_postgres
        bash "$HERE/dovecot.sh" start >&2
        bash "$HERE/smtp-sink.sh" start >&2
        bash "$HERE/chromedriver.sh" start >&2
        print_env
        ;;
    stop)
        rc=0
        bash "$HERE/chromedriver.sh" stop || rc=1
        bash "$HERE/smtp-sink.sh" stop || rc=1
        bash "$HERE/dovecot.sh" stop || rc=1
        exit "$rc"
        ;;
    status)
        rc=0
        if postgres_up; then echo "postgres: running on 127.0.0.1:5432"; else echo "postgres: down"; rc=3; fi
        bash "$HERE/dovecot.sh" status || rc=3
        bash "$HERE/smtp-sink.sh" status || rc=3
        bash "$HERE/chromedriver.sh" status || rc=3
        print_env
        exit "$rc"
        ;;
esac
