#!/usr/bin/env bash
# Benchmark (not a timed test): peak RSS of `bareme-mel ingest FILE` for
#  - a 25 MB request mail (the form in the body, a filled form PDF and one
#    large PDF attachment, base64: 25 MB on the wire), and
#  - the object-stream bomb (a ~2 MB mail of 250 object streams that
#    inflate to 7 MiB each, as tests/it/pdf_bomb.rs builds it),
# each on a fresh SQLite database, measured by a small parent (`/usr/bin/time
# -f %M`: the child's own peak, not inherited from a large parent). Runs each
# case RUNS times (default 3) and prints the median.
# Usage: scripts/bench/ingest-rss.sh
#   BIN=path/to/bareme-mel (default: target/release/bareme-mel if present,
#   else target/debug/bareme-mel). Say which profile when quoting figures.
#   RUNS=3  SIZE_MB=25
# Target (issue 12): at most 150 MB for the 25 MB mail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-25}
if [ -z "${BIN:-}" ]; then
    BIN=$ROOT/target/release/bareme-mel
    [ -x "$BIN" ] || BIN=$ROOT/target/debug/bareme-mel
fi
[ -x "$BIN" ] || cargo build -q --bin bareme-mel
BIN=$(realpath "$BIN")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"

"$BIN" form -o form.pdf >/dev/null
python3 - "$SIZE_MB" <<'PY'
import base64, sys, zlib

size_mb = int(sys.argv[1])
form = open("form.pdf", "rb").read()

def mail(name, parts, subject="Changement d'adresse"):
    b = "b1"
    out = [
        "From: gestion@lycee-jean-moulin.fr\r\nTo: bareme@ac-montpellier.fr\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{name}@lycee-jean-moulin.fr>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n"
    ]
    out.append(f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               "Bonjour,\r\n\r\nN° abonné : 12345\r\nNouvelle adresse : agent@ac-montpellier.fr\r\n\r\n")
    for filename, data in parts:
        enc = base64.encodebytes(data).decode().replace("\n", "\r\n")
        out.append(f"--{b}\r\nContent-Type: application/pdf; name=\"{filename}\"\r\n"
                   f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
                   f"Content-Transfer-Encoding: base64\r\n\r\n{enc}")
    out.append(f"--{b}--\r\n")
    open(f"{name}.eml", "wb").write("".join(out).encode())

# The large mail: the form, then a PDF padded with a stream of incompressible
# bytes up to the wire size (base64 is 4/3 of the data).
target = size_mb * 1000 * 1000 * 1.03
pad_len = int((target - 4 * len(form) / 3 - 4000) * 3 / 4 * 76 / 78)
import random
random.seed(1)
pad = bytes(random.getrandbits(8) for _ in range(pad_len)) if pad_len < 2_000_000 else None
if pad is None:
    chunk = bytes(random.getrandbits(8) for _ in range(1 << 20))
    pad = (chunk * (pad_len // len(chunk) + 1))[:pad_len]
big = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
       + f"3 0 obj\n<< /Length {len(pad)} >>\nstream\n".encode() + pad
       + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
mail("large", [("formulaire.pdf", form), ("annexe.pdf", big)])

# The object-stream bomb of tests/it/pdf_bomb.rs: 250 streams of 7 MiB.
def bomb(streams, inflated_each):
    header = b"900 0 "
    content = header + b"(" + b"A" * (inflated_each - len(header) - 2) + b")"
    packed = zlib.compress(content, 9)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    def obj(body):
        offsets.append(len(out))
        out.extend(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")
    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    for _ in range(streams):
        obj(f"<< /Type /ObjStm /N 1 /First {len(header)} /Filter /FlateDecode /Length {len(packed)} >>\nstream\n".encode()
            + packed + b"\nendstream")
    xref = len(out)
    out.extend(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
    for o in offsets:
        out.extend(f"{o:010} 00000 n \n".encode())
    out.extend(f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return bytes(out)

mail("bomb", [("formulaire.pdf", bomb(250, 7 * 1024 * 1024))])
PY

export RUST_LOG=warn BAREME_MEL__INTAKE__TRUSTED_AUTHSERV_ID=mx.ac-montpellier.fr
profile=$(basename "$(dirname "$BIN")")
echo "== $BIN ($profile), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for case in large bomb; do
    size=$(stat -c %s "$case.eml")
    rss=()
    for run in $(seq "$RUNS"); do
        dir="$W/$case-$run"
        mkdir -p "$dir"
        (
            cd "$dir"
            export BAREME_MEL__DATABASE__URL="sqlite://$dir/db.sqlite?mode=rwc"
            t0=$(date +%s.%N)
            /usr/bin/time -f '%M' -o rss.txt "$BIN" ingest "$W/$case.eml" >out.txt 2>err.txt || true
            t1=$(date +%s.%N)
            echo "$(tail -1 rss.txt) $(python3 -c "print(f'{$t1-$t0:.2f}')") $(cut -d' ' -f1 out.txt)" >result.txt
        )
        read -r kib secs disposition <"$dir/result.txt"
        rss+=("$kib")
        echo "   $case run $run: peak RSS $((kib / 1024)) MiB, $secs s, ${disposition:-no disposition (see $dir/err.txt)}"
    done
    median=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    echo "$case mail ($((size / 1000 / 1000)) MB): median peak RSS $((median / 1024)) MiB over $RUNS runs"
done
