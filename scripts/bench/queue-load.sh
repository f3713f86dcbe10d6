#!/usr/bin/env bash
# Benchmark: the back-office queue page (/gestion) with N requests (default
# 100,000) in the database and C signed-in clients (default 32, one session
# each), for D seconds (default 20), on SQLite and then on PostgreSQL when
# 127.0.0.1:5432 answers, over TLS (sslmode=require; PG_SSLMODE=disable for
# plain TCP). Loopback traffic only. Prints wrk's throughput and
# latency percentiles (target: p99 <= 20 ms).
# Usage: [BIN=…] [SEED=…] scripts/bench/queue-load.sh [N] [C] [D]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${1:-100000}
C=${2:-32}
D=${3:-20}
ROOT=$PWD

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >/dev/null; }
fi
# BIN= the service binary, SEED= the bench_seed example (its speed does not
# matter: a debug build will do); both built in release when absent.
BIN=${BIN:-$ROOT/target/release/bareme-mel}
SEED=${SEED:-$ROOT/target/release/examples/bench_seed}
if [ ! -x "$BIN" ] || [ ! -x "$SEED" ]; then
    cargo build -q --release --bin bareme-mel --example bench_seed
fi
WORK=$(mktemp -d)
SERVER=""
PGDB=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    [ -n "$PGDB" ] && psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $PGDB with (force)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_one() { # label, database url
    local label=$1 url=$2 port cookie
    echo "== $label: seeding $N requests and $C sessions"
    mkdir -p "$WORK/$label"
    # In serve's directory: both use its application key (data/bareme-mel.key),
    # which seals the audit events the seeding writes.
    (cd "$WORK/$label" && "$SEED" "$url" "$N" "$C") >"$WORK/cookies.txt"
    port=$(free_port)
    (cd "$WORK/$label" && BAREME_MEL__DATABASE__URL="$url" BAREME_MEL__SERVER__BIND="127.0.0.1:$port" \
        BAREME_MEL__DATABASE__MAX_CONNECTIONS="${BENCH_POOL:-16}" RUST_LOG=warn \
        exec "$BIN" serve >"$WORK/$label/serve.log" 2>&1) &
    SERVER=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    # Every session must see the queue itself, not the sign-in page.
    while read -r cookie; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: bm_gestion=$cookie" "http://127.0.0.1:$port/gestion")
        [ "$code" = 200 ] || { echo "session refused ($code): see $WORK/$label/serve.log" >&2; exit 1; }
    done <"$WORK/cookies.txt"
    # Warm-up, then the measured run.
    BENCH_COOKIES="$WORK/cookies.txt" BENCH_COOKIE_NAME=bm_gestion \
        wrk -t2 -c"$C" -d3s -s scripts/bench/queue-load.lua "http://127.0.0.1:$port" >/dev/null
    echo "== $label: wrk -t2 -c$C -d${D}s GET /gestion"
    BENCH_COOKIES="$WORK/cookies.txt" BENCH_COOKIE_NAME=bm_gestion \
        wrk -t2 -c"$C" -d"${D}s" --latency -s scripts/bench/queue-load.lua "http://127.0.0.1:$port" \
        | tee "$WORK/$label/wrk.txt"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

run_one sqlite "sqlite://$WORK/bench.db?mode=rwc"
if psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    PGDB="bm_queue_bench_$$"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $PGDB"
    run_one "postgres-${PG_SSLMODE:-require}" "postgres://postgres@127.0.0.1:5432/$PGDB?sslmode=${PG_SSLMODE:-require}"
else
    echo "== postgres: skipped (not reachable on 127.0.0.1:5432)"
fi
