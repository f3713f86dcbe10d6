#!/usr/bin/env bash
# Fetches a handwriting font for the hand-printed capitals of the scan tests
# (forms/tests/scan.rs): Patrick Hand (SIL Open Font License), from the npm
# package @fontsource/patrick-hand, pinned. Pillow reads its WOFF directly.
# Prints the font's path. Idempotent.
#
#   scripts/services/hand-font.sh [DIR]     (default: .tools/fonts)
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"

dir="${1:-$TOOLS_DIR/fonts}"
font="$dir/patrick-hand-latin-400-normal.woff"
if [ ! -s "$font" ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch the handwriting font"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @fontsource/patrick-hand@5.3.0 >/dev/null)
    tar -xzf "$tmp"/fontsource-patrick-hand-5.3.0.tgz -C "$tmp"
    install -D -m 644 "$tmp/package/files/patrick-hand-latin-400-normal.woff" "$font"
    install -D -m 644 "$tmp/package/LICENSE" "$dir/patrick-hand-LICENSE"
    rm -rf "$tmp"
    log "hand font: fetched $font"
fi
echo "$font"
