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
    postfix                     # the pipe transport to `bareme-mel ingest` (scripts/deploy)
    nginx-light                 # TLS reverse proxy in front of serve (scripts/deploy)
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
    # Postfix asks its configuration type: local only (scripts/deploy configures the rest).
    echo "postfix postfix/main_mailer_type select Local only" | as_root debconf-set-selections
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

# promtool (checks the Prometheus rules) without the Prometheus server and its
# web assets: the Debian package (19 MB) is downloaded and only its promtool
# (a static binary) is extracted into .tools/bin.
if [ ! -x "$TOOLS_DIR/bin/promtool" ]; then
    t3=$SECONDS
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -q prometheus >&2) || {
        as_root apt-get update -q >&2
        (cd "$tmp" && apt-get download -q prometheus >&2)
    }
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    install -D -m 755 "$tmp/x/usr/bin/promtool" "$TOOLS_DIR/bin/promtool"
    rm -rf "$tmp"
    log "promtool: extracted in $((SECONDS - t3)) s"
fi

# A handwriting font for the hand-printed capitals of the scan tests.
# Not fatal: without npm or the network, those tests try again and say why.
"$(dirname "$0")/hand-font.sh" >/dev/null || log "hand font: not fetched (npm or network missing)"
