#!/usr/bin/env bash
# Benchmark: intake through the HTTP API, `POST /api/courriels` on a release
# `serve`, with concurrency 1 and 32 (group commit of concurrent posts), on
# the shared workload of ../shared/bench/intake-peer (N realistic request
# mails, default 2,000, generated as intake-compare.sh does). Each
# concurrency level posts all N mails to a fresh `serve` on a fresh SQLite
# database (then PostgreSQL over TLS, sslmode=require, when 127.0.0.1:5432
# answers); prints msgs/s, the answers' latency (p50, p99) and the
# dispositions, in one run.
# Usage: scripts/bench/api-load.sh [N]
#   BIN=, PEER=, PY=, LOAD=: see workload.sh (the binary, the peer's scripts,
#     their Python, mails kept for runs to compare)
#   CONCURRENCY="1 32": the numbers of clients posting at once
#   PG=0: SQLite only; SQLITE=0: PostgreSQL only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
N=${1:-2000}
CONCURRENCY=${CONCURRENCY:-"1 32"}
# shellcheck source=scripts/bench/workload.sh
source "$ROOT/scripts/bench/workload.sh"
W=$(mktemp -d)
SERVER=""
PGDBS=()
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    for d in "${PGDBS[@]}"; do
        psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $d with (force)" >/dev/null 2>&1 || true
    done
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
make_workload

# The client: C threads, each with its own keep-alive connection, post the
# mails in turn; the clock runs from the first post to the last answer.
cat >post.py <<'PY'
import glob, http.client, json, sys, threading, time
from collections import Counter
label, port, conc, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
files = sorted(glob.glob("load/*.eml"))
mails = [open(f, "rb").read() for f in files]
lock = threading.Lock()
todo = iter(range(len(mails)))
latencies, dispositions, statuses = [], Counter(), Counter()
def worker():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": "Bearer " + token, "Content-Type": "message/rfc822"}
    while True:
        with lock:
            i = next(todo, None)
        if i is None:
            return
        t0 = time.perf_counter()
        conn.request("POST", "/api/courriels", body=mails[i], headers=headers)
        r = conn.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)
            statuses[r.status] += 1
            if r.status == 200:
                dispositions[json.loads(body)["disposition"]] += 1
threads = [threading.Thread(target=worker) for _ in range(conc)]
t0 = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
dt = time.perf_counter() - t0
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
n = len(mails)
other = {s: c for s, c in statuses.items() if s != 200}
print(f"{label:<10} concurrency {conc:>2}: {n} messages in {dt:.2f} s = {n / dt:.0f} msgs/s, "
      f"latency p50 {p(0.5):.1f} ms p99 {p(0.99):.1f} ms; "
      + ", ".join(f"{k} {v}" for k, v in sorted(dispositions.items()))
      + (f"; HTTP {other}" if other else ""))
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One fresh serve on a fresh database: label, database URL, concurrency.
run_one() {
    local label=$1 url=$2 conc=$3 dir port
    dir="$W/$label-$conc"
    mkdir -p "$dir"
    port=$(free_port)
    (
        cd "$dir"
        export BAREME_MEL__DATABASE__URL="$url" BAREME_MEL__SERVER__BIND="127.0.0.1:$port" \
            BAREME_MEL__INTAKE__API_TOKEN=bench-token \
            BAREME_MEL__INTAKE__TRUSTED_AUTHSERV_ID=mx.ac-montpellier.fr RUST_LOG=warn
        "$BIN" subscribers import "$W/load/subscribers.csv" >/dev/null 2>&1
        exec "$BIN" serve >serve.log 2>&1
    ) &
    SERVER=$!
    for _ in $(seq 1 300); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    python3 post.py "$label" "$port" "$conc" bench-token
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

for c in $CONCURRENCY; do
    [ "${SQLITE:-1}" = 0 ] && break
    run_one sqlite "sqlite://$W/sqlite-$c/db.sqlite?mode=rwc" "$c"
done
if [ "${PG:-1}" != 0 ] && psql -h 127.0.0.1 -U postgres -d postgres -qc 'select 1' >/dev/null 2>&1; then
    for c in $CONCURRENCY; do
        d="bench_api_$$_$c"
        psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $d" >/dev/null
        PGDBS+=("$d")
        run_one pg-tls "postgres://postgres@127.0.0.1:5432/$d?sslmode=require" "$c"
    done
fi
