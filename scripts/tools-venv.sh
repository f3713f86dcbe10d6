#!/usr/bin/env bash
# Creates (idempotently) the Python venv used by the tests for outside checks:
# pypdf (fill and read AcroForm fields), aiosmtpd (SMTP sink) and Pillow
# (the scan set of forms/tests/scan.rs).
# Location: <repo>/.tools/venv. Tests find it through BAREME_MEL_TEST_PYTHON,
# defaulting to <repo>/.tools/venv/bin/python.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi

if ! "$venv/bin/python" -c 'import pypdf, aiosmtpd, PIL' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check pypdf aiosmtpd pillow
fi

"$venv/bin/python" -c 'import pypdf; print("pypdf", pypdf.__version__)'
