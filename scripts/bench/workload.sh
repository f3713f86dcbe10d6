# Sourced by intake-compare.sh and api-load.sh: the defaults they share and
# the shared workload of ../shared/bench/intake-peer. Expects ROOT (the
# checkout) and N (how many mails) to be set.
#   BIN=path/to/bareme-mel (default: target/release/bareme-mel, built if missing)
#   PEER=dir of the peer scripts (default: ../shared/bench/intake-peer)
#   PY=python with pypdf (default: $BAREME_MEL_TEST_PYTHON or python3)
#   LOAD=dir: reuse the mails generated there (kept; made there when absent),
#     so that runs compared (e.g. BIN= of two builds) read the same mails
PEER=${PEER:-$ROOT/../../shared/bench/intake-peer}
[ -d "$PEER" ] || PEER=/work/shared/bench/intake-peer
PY=${PY:-${BAREME_MEL_TEST_PYTHON:-python3}}
BIN=${BIN:-$ROOT/target/release/bareme-mel}
if [ ! -x "$BIN" ]; then (cd "$ROOT" && cargo build -q --release --bin bareme-mel); fi
BIN=$(realpath "$BIN")

# Makes ./load in the current directory: N request mails (`*.eml`) and the
# subscribers they name (`subscribers.csv`), generated from the form this
# BIN issues; with LOAD=dir, a link to the mails kept there (N becomes
# their count). Prints what was made.
make_workload() {
    if [ -n "${LOAD:-}" ]; then
        mkdir -p "$LOAD"
        LOAD=$(realpath "$LOAD")
        if [ ! -f "$LOAD/subscribers.csv" ]; then
            "$BIN" form -o form.pdf >/dev/null
            $PY "$PEER/make_load.py" --form form.pdf --out "$LOAD" -n "$N" --subscribers 5000 >/dev/null
        fi
        ln -s "$LOAD" load
        N=$(find load/ -name '*.eml' | wc -l)
    else
        "$BIN" form -o form.pdf >/dev/null
        $PY "$PEER/make_load.py" --form form.pdf --out load -n "$N" --subscribers 5000 >/dev/null
    fi
    echo "== $N mails of $(du -shL load | cut -f1), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
