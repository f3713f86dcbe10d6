#!/usr/bin/env bash
# Benchmark: import a generated CSV of N subscribers (default 100,000) into a
# fresh SQLite database, then PostgreSQL when reachable, and re-import it
# (idempotent pass). Prints wall-clock seconds; run a few times and take the
# median. Usage: scripts/bench/import-subscribers.sh [N] [--debug]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${1:-100000}
PROFILE=release
[ "${2:-}" = "--debug" ] && PROFILE=debug
if [ "$PROFILE" = release ]; then cargo build -q --release --bin bareme-mel; else cargo build -q --bin bareme-mel; fi
BIN="$PWD/target/$PROFILE/bareme-mel"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 - "$N" "$WORK/abonnes.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
kinds = ["Lycée", "Collège", "École", "Mairie de", "Lycée professionnel"]
with open(path, "w", encoding="utf-8") as f:
    f.write("numero_abonne,organisme,gestionnaire,adresse_mel\n")
    for i in range(1, n + 1):
        f.write(f"{100000 + i},{kinds[i % 5]} n°{i},Gestionnaire {i},gestion{i}@etab{i % 997}.ac-montpellier.fr\n")
PY

measure() { # label, url
    local start end
    start=$(date +%s.%N)
    BAREME_MEL__DATABASE__URL="$2" "$BIN" subscribers import "$WORK/abonnes.csv" >/dev/null
    end=$(date +%s.%N)
    printf '%-34s %6.2f s\n' "$1" "$(python3 -c "print($end - $start)")"
}

echo "subscribers import, $N lines, $PROFILE build"
SQLITE="sqlite://$WORK/bench.db?mode=rwc"
measure "sqlite: first import" "$SQLITE"
measure "sqlite: same file again" "$SQLITE"
if psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    DB="bm_bench_$$"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $DB"
    PG="postgres://postgres@127.0.0.1:5432/$DB"
    measure "postgres: first import" "$PG"
    measure "postgres: same file again" "$PG"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database $DB with (force)"
else
    echo "postgres: skipped (not reachable on 127.0.0.1:5432)"
fi
