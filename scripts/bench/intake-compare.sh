#!/usr/bin/env bash
# Benchmark: intake throughput of `bareme-mel ingest FILE...` beside the two
# reference points of ../shared/bench/intake-peer (bare SQLite floor, Python
# peer), in one run, on the same N generated request mails (default 2,000).
# Prints for each: msgs/s; for the service also statements per message
# (what `ingest` counts and reports at debug level, on 200 messages; BEGIN and COMMIT not counted), peak RSS
# and CPU time (user + system) per message, steadier than msgs/s on a shared machine.
# Then, when 127.0.0.1:5432 answers, the service on PostgreSQL with
# sslmode=disable and sslmode=require (TLS), one after the other.
# Usage: scripts/bench/intake-compare.sh [N]
#   BIN=, PEER=, PY=, LOAD=: see workload.sh (the binary, the peer's scripts,
#     their Python, mails kept for runs to compare)
#   BATCH="1 64": the intake.batch_size values to run (1 = one commit per message)
#   FLOOR_ROUNDS=5: rounds of the bare FULL floor and the service on SQLite at each batch size,
#     alternated; each round's ratio to its floor is printed, then the medians (the figures the
#     targets of issue 15 compare: on a shared machine a single run of each can land a fifth apart)
#   PG_ROUNDS=3: rounds of the service on PostgreSQL, sslmode=disable and require alternated
#     at each batch size; the medians and their ratio (TLS's cost) are printed
#   BASE=path/to/an-earlier/bareme-mel: also runs it and BIN alternately on SQLite, ROUNDS times (default 3)
#     for each batch size, and prints the medians and their ratio (a before/after measured in one run);
#     then the same on PostgreSQL with sslmode=require when it answers
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
N=${1:-2000}
BATCH=${BATCH:-"1 64"}
# shellcheck source=scripts/bench/workload.sh
source "$ROOT/scripts/bench/workload.sh"
BASE=${BASE:+$(realpath "$BASE")}
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d)
PGDBS=()
cleanup() {
    for d in "${PGDBS[@]}"; do
        psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $d with (force)" >/dev/null 2>&1 || true
    done
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
make_workload
FILES=(load/*.eml)
$PY "$PEER/bare_sqlite.py" --db bare.db --fresh --subscribers load/subscribers.csv --sync NORMAL --dir load
PEER_LINE=$($PY "$PEER/peer_ingest.py" --db peer.db --fresh --subscribers load/subscribers.csv --sync FULL --dir load)
echo "$PEER_LINE"

export BAREME_MEL__INTAKE__TRUSTED_AUTHSERV_ID=mx.ac-montpellier.fr RUST_LOG=warn

# One service run on a fresh database: label, database URL, batch size
# [, binary]. Prints one line; with SUMMARY=file, also appends
# "wall cpu" (seconds) to that file.
service() {
    local label=$1 url=$2 batch=$3 bin=${4:-$BIN} dir
    dir=$(mktemp -d "$W/svc-$label-$batch.XXXX")
    (
        cd "$dir"
        export BAREME_MEL__DATABASE__URL="${url//@DIR@/$dir}" BAREME_MEL__INTAKE__BATCH_SIZE="$batch"
        "$bin" subscribers import "$W/load/subscribers.csv" >/dev/null 2>&1
        local t0 t1
        t0=$(date +%s.%N)
        /usr/bin/time -f '%M %U %S' -o time.txt "$bin" ingest "${FILES[@]/#/$W/}" >out.txt 2>err.txt || true
        t1=$(date +%s.%N)
        local created rss user sys
        created=$(grep -c '^request_created' out.txt || true)
        read -r rss user sys < <(tail -1 time.txt)
        python3 -c "n=$N; dt=$t1-$t0; cpu=$user+$sys; print(f'service {\"$label\":<16} batch {$batch:>3}: {n} messages in {dt:.2f} s = {n/dt:.0f} msgs/s, CPU {cpu*1000/n:.2f} ms per message, peak RSS {$rss/1024:.0f} MiB ({$created} request_created)')"
        if [ -n "${SUMMARY:-}" ]; then echo "$(python3 -c "print($t1-$t0)") $(python3 -c "print($user+$sys)")" >>"$SUMMARY"; fi
    )
}

# Statements per message: what `ingest` reports at debug level (every
# statement sent through the store, counted after opening and migrating;
# BEGIN and COMMIT not counted), on 200 messages and a fresh database.
statements() {
    local label=$1 url=$2 batch=$3 dir some
    dir="$W/stmt-$label-$batch"
    mkdir -p "$dir"
    (
        cd "$dir"
        export BAREME_MEL__DATABASE__URL="$url" BAREME_MEL__INTAKE__BATCH_SIZE="$batch"
        "$BIN" subscribers import "$W/load/subscribers.csv" >/dev/null 2>&1
        some=("${FILES[@]:0:200}")
        RUST_LOG=warn,bareme_mel::cli::ingest=debug "$BIN" ingest "${some[@]/#/$W/}" >/dev/null 2>log.txt || true
        python3 - "$label" "$batch" log.txt <<'PY'
import re, sys
label, batch, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path, encoding="utf-8", errors="replace").read()
m = re.search(r"messages=(\d+) statements=(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", text))
if not m:
    print(f"service {label:<16} batch {batch:>3}: statements per message not reported (see {path})")
else:
    n, s = int(m.group(1)), int(m.group(2))
    print(f"service {label:<16} batch {batch:>3}: {s / n:.1f} statements per message ({s} for {n} messages)")
PY
    )
}

# The floor and the service alternated, FLOOR_ROUNDS times: each round's
# ratio compares two runs a few seconds apart; the medians are the figures.
FLOOR_ROUNDS=${FLOOR_ROUNDS:-5}
PG_ROUNDS=${PG_ROUNDS:-3}
: >"$W/floor.txt"
for run in $(seq "$FLOOR_ROUNDS"); do
    $PY "$PEER/bare_sqlite.py" --db bare.db --fresh --subscribers load/subscribers.csv --sync FULL --dir load |
        tee -a "$W/floor.txt"
    for b in $BATCH; do
        SUMMARY="$W/round-$b.txt" service sqlite "sqlite://@DIR@/db.sqlite?mode=rwc" "$b"
    done
done
python3 - "$W" "$N" "$PEER_LINE" $BATCH <<'PY'
import re, statistics, sys
w, n, peer_line, batches = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
floors = [float(m.group(1)) for m in re.finditer(r"= ([0-9.]+) txn/s", open(f"{w}/floor.txt").read())]
peer = float(re.search(r"= ([0-9.]+) msgs/s", peer_line).group(1))
print(f"floor FULL over {len(floors)} rounds: median {statistics.median(floors):.0f} txn/s "
      f"(min {min(floors):.0f}, max {max(floors):.0f})")
for b in batches:
    rates = [n / float(line.split()[0]) for line in open(f"{w}/round-{b}.txt") if line.strip()]
    ratios = [r / f for r, f in zip(rates, floors)]
    each = ", ".join(f"{r:.0%}" for r in ratios)
    print(f"service sqlite batch {int(b):>3}: median {statistics.median(rates):.0f} msgs/s = "
          f"{statistics.median(ratios):.0%} of its round's floor (median; rounds: {each}), "
          f"{statistics.median(rates) / peer:.1f}x the peer")
PY
# No NOTICE for each database dropped that did not exist.
export PGOPTIONS="${PGOPTIONS:-} --client-min-messages=warning"
pg_up() { psql -h 127.0.0.1 -U postgres -d postgres -qc 'select 1' >/dev/null 2>&1; }

pgdb() { # a fresh PostgreSQL database, its name printed
    local name="bench_intake_$$_$1"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $name with (force)" >/dev/null
    psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $name" >/dev/null
    echo "$name"
}

# Before/after in one run: BASE and BIN alternated, ROUNDS times, on one
# database kind (label, URL; @PG@ for a fresh PostgreSQL database each run),
# the medians of wall and CPU time (the service's own: PostgreSQL's server
# is not counted) and their ratio printed.
before_after() {
    local label=$1 url=$2 b run d
    for b in $BATCH; do
        : >"$W/base-$label-$b.txt"
        : >"$W/bin-$label-$b.txt"
        for run in $(seq "$ROUNDS"); do
            for side in base bin; do
                local u=$url
                if [[ $url == *@PG@* ]]; then
                    d=$(pgdb "ab_${side}_${b}_$run"); PGDBS+=("$d"); u=${url//@PG@/$d}
                fi
                if [ $side = base ]; then
                    SUMMARY="$W/base-$label-$b.txt" service "$label-base" "$u" "$b" "$BASE" >/dev/null
                else
                    SUMMARY="$W/bin-$label-$b.txt" service "$label" "$u" "$b" >/dev/null
                fi
            done
        done
        python3 - "$label" "$b" "$W/base-$label-$b.txt" "$W/bin-$label-$b.txt" "$N" <<'PY'
import statistics, sys
label, batch, base, new, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
def medians(path):
    rows = [tuple(map(float, line.split())) for line in open(path) if line.strip()]
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), len(rows)
bw, bc, k = medians(base)
nw, nc, _ = medians(new)
print(f"before/after {label:<10} batch {batch:>3} (medians of {k}, alternated): wall {bw:.2f} -> {nw:.2f} s (x{bw/nw:.2f}), "
      f"CPU {bc*1000/n:.2f} -> {nc*1000/n:.2f} ms per message (x{bc/nc:.2f})")
PY
    done
}

if [ -n "$BASE" ]; then
    before_after sqlite "sqlite://@DIR@/db.sqlite?mode=rwc"
    if pg_up; then
        before_after pg-require "postgres://postgres@127.0.0.1:5432/@PG@?sslmode=require"
    fi
fi
for b in $BATCH; do
    statements sqlite "sqlite://$W/stmt-sqlite-$b/db.sqlite?mode=rwc" "$b"
done
if pg_up; then
    # PG_ROUNDS rounds, sslmode=disable and require alternated (a fresh
    # database each run): the medians, and TLS's cost as their ratio.
    for b in $BATCH; do
        for mode in disable require; do : >"$W/pg-$mode-$b.txt"; done
        for run in $(seq "$PG_ROUNDS"); do
            for mode in disable require; do
                d=$(pgdb "${mode}_${b}_$run"); PGDBS+=("$d")
                SUMMARY="$W/pg-$mode-$b.txt" service "pg-$mode" "postgres://postgres@127.0.0.1:5432/$d?sslmode=$mode" "$b"
            done
        done
        python3 - "$b" "$N" "$W/pg-disable-$b.txt" "$W/pg-require-$b.txt" <<'PY'
import statistics, sys
batch, n, plain, tls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def rates(path):
    return [n / float(line.split()[0]) for line in open(path) if line.strip()]
p, t = rates(plain), rates(tls)
each = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(p, t))
print(f"service pg batch {batch:>3}: median disable {statistics.median(p):.0f} msgs/s, require {statistics.median(t):.0f} msgs/s "
      f"(TLS x{statistics.median(p) / statistics.median(t):.2f}; rounds disable/require: {each})")
PY
    done
    for b in $BATCH; do
        d=$(pgdb "stmt_$b"); PGDBS+=("$d")
        statements pg "postgres://postgres@127.0.0.1:5432/$d?sslmode=require" "$b"
    done
fi
