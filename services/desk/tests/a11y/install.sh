#!/usr/bin/env bash
# Install axe-core (pinned by package-lock.json here) into a cache for the desk's accessibility
# check: `npm ci` in ${CASEDESK_A11Y_CACHE:-~/.cache/casedesk/desk-a11y}, skipped when that cache
# already holds this lock file's install. Prints the path of axe.min.js, which
# tests/integration/test_desk_browser.py finds there (or at CASEDESK_AXE_JS).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CASEDESK_A11Y_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/casedesk/desk-a11y}"
axe="$cache/node_modules/axe-core/axe.min.js"
mkdir -p "$cache"
if [[ -f "$axe" ]] && cmp -s "$here/package-lock.json" "$cache/package-lock.json"; then
    echo "$axe"
    exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$cache/"
# --ignore-scripts: axe-core needs none, and nothing from the registry runs here.
npm ci --prefix "$cache" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
[[ -f "$axe" ]] || { echo "axe-core installed but $axe is missing" >&2; exit 1; }
echo "$axe"
