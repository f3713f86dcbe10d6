#!/usr/bin/env bash
# Installs what the tests need from Debian (apt) and the Python tools venv.
# Fast path: packages already installed are skipped, and apt-get update runs
# only when something is missing. Needs root (or sudo).
#
#   scripts/services/install.sh
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"

PACKAGES=(
    qpdf poppler-utils          # qpdf --check, pdftotext, pdftoppm
    tesseract-ocr tesseract-ocr-fra # OCR of scanned forms (Tesseract 5, French)
    dovecot-imapd dovecot-lmtpd # IMAP + LMTP test server
    chromium chromium-driver    # browser tests through chromedriver
    openssl                     # self-signed certificate for IMAPS
    wrk                         # load checks (not run in CI)
    python3 python3-venv        # the tools venv (pypdf, aiosmtpd)
    curl                        # chromedriver readiness probe
    postgresql-client           # psql for the CI sanity check
)

missing=()
for p in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" != "ii " ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    log "apt: all ${#PACKAGES[@]} packages already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    t0=$SECONDS
    log "apt: update"
    as_root apt-get update -q >&2
    log "apt: update took $((SECONDS - t0)) s; installing: ${missing[*]}"
    t1=$SECONDS
    # The packages' maintainer scripts would start the system-wide dovecot;
    # without systemd they may try. A policy-rc.d denying starts keeps the
    # machine clean (our instance runs from scripts/services/dovecot.sh).
    added_policy=
    if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" >&2 || rc=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || die "apt-get install failed ($rc)"
    log "apt: install took $((SECONDS - t1)) s"
fi

t2=$SECONDS
ensure_venv
log "venv: ready in $((SECONDS - t2)) s ($VENV_DIR)"
