#!/bin/sh
# Installs the browser tests' node packages (playwright-core, pinned by
# tools/browser/package.json and package-lock.json) into an ignored cache
# and prints its node_modules path. Idempotent: a cache whose stamp matches
# the pinned versions is reused, so a second run asks no registry. The
# browser itself is Debian's chromium (tools/deps.sh), not a download.
#
#   NODE_PATH=$(tools/browser/fetch.sh) node tests/browser/flame.mjs ...
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${BUILD:-$ROOT/build}/tools/browser

log() { echo "browser-fetch: $*" >&2; }

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing (tools/deps.sh)"; exit 1; }
done
mkdir -p "$CACHE"
stamp=$(cat "$HERE/package.json" "$HERE/package-lock.json" | cksum | cut -d' ' -f1)
if [ "$(cat "$CACHE/node.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$CACHE/node_modules" ]; then
    log "npm ci (playwright-core)"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/"
    # playwright-core downloads no browser; the variable keeps it that way
    (cd "$CACHE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >&2)
    echo "$stamp" >"$CACHE/node.stamp"
fi
echo "$CACHE/node_modules"
