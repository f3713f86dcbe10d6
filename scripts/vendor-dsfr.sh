#!/usr/bin/env bash
# Re-vendors the French State design system (DSFR) into assets/dsfr from the npm registry.
# 1.14.4 is the last release without an interactive licence step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VERSION=${1:-1.14.4}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "@gouvfr/dsfr@$VERSION" >/dev/null && tar xzf gouvfr-dsfr-*.tgz)
src="$tmp/package/dist"; dst=assets/dsfr
rm -rf "$dst"; mkdir -p "$dst/fonts"
cp "$src/dsfr.min.css" "$dst/"; cp "$src"/fonts/*.woff2 "$dst/fonts/"
cp "$src/favicon/favicon.svg" "$src/favicon/favicon.ico" "$dst/"; cp "$tmp/package/LICENSE.md" "$dst/"
grep -o 'url(icons/[^)]*)' "$src/dsfr.min.css" | sed 's/url(//; s/)//' | sort -u | while read -r f; do
    mkdir -p "$dst/$(dirname "$f")"; cp "$src/$f" "$dst/$f"
done
echo "@gouvfr/dsfr $VERSION vendored into $dst"
