#!/usr/bin/env bash
# Benchmark (not a test): time and peak memory of reading ONE scanned page of
# the form — bareme_forms::read_scan: decoding or rasterising (pdftoppm), the
# QR code and marks, the boxes, OCR by Tesseract — as intake does it. Each
# page is read by a fresh process (the forms crate's `scan` example) under
# /usr/bin/time, the parent, which gives its wall and CPU time (children
# included) and the peak RSS of the largest process of the tree; the reader
# prints its own peak (VmHWM), and pdftoppm and tesseract (one after the
# other) run through wrappers that note theirs. A child's memory adds to the
# reader's while it runs, so « reader + largest child » bounds what one page
# needs at once.
# Prints the median (and min–max) of N pages per kind of scan, then over all.
# Targets (issue 16): ≤ 1.5 s and ≤ 200 MB per page.
#
# Usage: scripts/bench/scan-page.sh [N]        (N pages per kind, default 9)
#   PROFILE=dev|release (default dev: the tests' build, in which the forms
#     crate and the image decoders are optimised; say which in a report)
#   PY=python with pypdf and Pillow (default .tools/venv/bin/python)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
N=${1:-9}
PROFILE=${PROFILE:-dev}
PY=${PY:-${BAREME_MEL_TEST_PYTHON:-$ROOT/.tools/venv/bin/python}}
for tool in pdftoppm tesseract /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/services/install.sh)" >&2; exit 1; }
done
if [ "$PROFILE" = release ]; then
    cargo build -q --release -p bareme-forms --example scan --example render
    BIN=$ROOT/target/release/examples
else
    cargo build -q -p bareme-forms --example scan --example render
    BIN=$ROOT/target/debug/examples
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$BIN/render" "$W/blank.pdf"

# N filled forms per kind: a 200 dpi grey image PDF from an office scanner,
# a 300 dpi colour JPEG, a phone photo (200 dpi, perspective, uneven light).
"$PY" - "$W" "$N" <<'EOF'
import json, sys
w, n = sys.argv[1], int(sys.argv[2])
people = [
    ("Dupont", "Françoise", "Lycée Jean-Moulin", "francoise.dupont@ac-montpellier.fr", "Béziers"),
    ("N'Diaye", "Aïcha", "Collège Émile-Zola de Sète", "aicha.ndiaye@college-zola.fr", "Sète"),
    ("Roussel", "Éloïse", "Université de Perpignan", "eloise.roussel@univ-perp.fr", "Perpignan"),
]
kinds = [
    ("gris-200-pdf", dict(dpi=200, mode="L", container="pdf-image", angle=0.8)),
    ("couleur-300-jpeg", dict(dpi=300, mode="RGB", container="jpeg", angle=-1.2, jpeg=80)),
    ("photo-200-jpeg", dict(dpi=200, mode="RGB", container="jpeg", perspective=True, jpeg=80)),
]
cases = []
for kind, opts in kinds:
    for i in range(n):
        name, first, org, mail, town = people[i % len(people)]
        values = {
            "numero_abonne": str(10000 + 37 * i), "organisme": org, "nom": name,
            "prenom": first, "fonction": "Gestionnaire matériel", "telephone": "04 67 91 50 %02d" % i,
            "ancienne_adresse_mel": "intendance@ac-montpellier.fr", "nouvelle_adresse_mel": mail,
            "nouvelle_adresse_mel_confirmation": mail, "signataire_nom": "Jérôme Lefèvre",
            "signataire_qualite": "Proviseur", "fait_a": town, "date": "12/01/2026",
            "situation_nouveau": "/Yes",
        }
        cases.append(dict(name=f"{kind}-{i:02}", values=values, **opts))
json.dump({"blank": f"{w}/blank.pdf", "cases": cases}, open(f"{w}/spec.json", "w"))
EOF
"$PY" forms/tests/support/scans.py "$W/spec.json" "$W"

# The children (pdftoppm, tesseract) through wrappers that note their peak RSS.
mkdir -p "$W/bin"
for tool in pdftoppm tesseract; do
    printf '#!/bin/sh\nexec /usr/bin/time -f %%M -a -o %s/children.txt %s "$@"\n' \
        "$W" "$(command -v "$tool")" >"$W/bin/$tool"
    chmod +x "$W/bin/$tool"
done
export PATH="$W/bin:$PATH"

echo "== scan-page: $N pages per kind, profile $PROFILE, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$W/all.tsv"
for kind in gris-200-pdf couleur-300-jpeg photo-200-jpeg; do
    : >"$W/$kind.tsv"
    for f in "$W/$kind"-*; do
        : >"$W/children.txt"
        /usr/bin/time -f '%e %U %S %M' -o "$W/time.txt" "$BIN/scan" "$f" >"$W/out.txt" 2>"$W/err.txt"
        grep -q 'marks' "$W/out.txt" || { echo "not read as a form: $f" >&2; cat "$W/out.txt" >&2; exit 1; }
        own=$(sed -n 's/^peak_rss_kb //p' "$W/err.txt")
        read -r wall user sys tree <"$W/time.txt"
        child=$(sort -n "$W/children.txt" | tail -1)
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$wall" "$user" "$sys" "$own" "$tree" "${child:-0}" | tee -a "$W/all.tsv" >>"$W/$kind.tsv"
    done
done

# Median and range: wall s, CPU s (reader and children), the reader's peak
# RSS, the largest child's, the tree's (time's %M: the largest process), and
# reader + largest child (the most one page holds at once).
report() {
    "$PY" - "$1" "$2" <<'EOF'
import statistics, sys
label, path = sys.argv[1], sys.argv[2]
rows = [list(map(float, l.split("\t"))) for l in open(path) if l.strip()]
wall = [r[0] for r in rows]; cpu = [r[1] + r[2] for r in rows]
own = [r[3] / 1024 for r in rows]; tree = [r[4] / 1024 for r in rows]
child = [r[5] / 1024 for r in rows]
bound = [o + c for o, c in zip(own, child)]
f = lambda xs, u: f"{statistics.median(xs):.2f} {u} ({min(xs):.2f}–{max(xs):.2f})"
print(f"{label:<18} n={len(rows):<3} wall {f(wall, 's')}  cpu {f(cpu, 's')}  "
      f"reader {f(own, 'MB')}  largest child {f(child, 'MB')}  tree peak {f(tree, 'MB')}  "
      f"reader+child {f(bound, 'MB')}")
EOF
}
for kind in gris-200-pdf couleur-300-jpeg photo-200-jpeg; do
    report "$kind" "$W/$kind.tsv"
done
report "all pages" "$W/all.tsv"
echo "targets: ≤ 1.5 s and ≤ 200 MB per page"
