#!/bin/bash
# tests/lib/asprof.sh: a real async-profiler for the tests, built once from
# its release source (../shared/third_party/async-profiler-4.5.tar.gz, see
# that directory's README) into a cache outside the checkout, keyed by the
# tarball's SHA-256: a new tarball is a new cache entry, an unchanged one is
# never rebuilt. Never committed, never part of the project.
#
#   source tests/lib/asprof.sh
#   asprof_ensure     builds if needed and sets ASPROF_HOME (an install:
#                     lib/libasyncProfiler.so, bin/asprof). Returns 0; 77
#                     with the reason on stdout when the tarball or a build
#                     tool is missing; 1 when the build failed (log shown).
#
# As a command (the Makefile's test-build runs it): tests/lib/asprof.sh build
# builds the cache entry, or says why not; it fails only when a build that
# could run failed.
#
# Where: $FLAMESHOT_TEST_CACHE (default /var/cache/flameshot-test, shared by
# every checkout on the machine) if writable, else $BUILD/third_party.
# The tarball: in $FLAMESHOT_THIRD_PARTY if set (and only there), else in
# ../shared/third_party beside the checkout (or beside the main checkout of
# a git worktree).

ASPROF_TARBALL_NAME=async-profiler-4.5.tar.gz

asprof__tarball() {
    local root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)} common d
    local dirs=()
    if [ -n "${FLAMESHOT_THIRD_PARTY:-}" ]; then
        dirs+=("$FLAMESHOT_THIRD_PARTY")
    else
        dirs+=("$root/../shared/third_party")
        common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) &&
            dirs+=("$common/../../shared/third_party")
    fi
    for d in "${dirs[@]}"; do
        [ -f "$d/$ASPROF_TARBALL_NAME" ] && { echo "$(cd "$d" && pwd)/$ASPROF_TARBALL_NAME"; return 0; }
    done
    echo "no $ASPROF_TARBALL_NAME in ${dirs[*]} (set FLAMESHOT_THIRD_PARTY to its directory)"
    return 1
}

asprof__cache() {
    local c=${FLAMESHOT_TEST_CACHE:-/var/cache/flameshot-test}
    if mkdir -p "$c" 2>/dev/null && [ -w "$c" ]; then
        echo "$c"
    else
        local b=${BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
        mkdir -p "$b/third_party" && echo "$b/third_party"
    fi
}

asprof_ensure() {
    local tarball sha cache dest
    tarball=$(asprof__tarball) || { echo "$tarball"; return 77; }
    local tool
    for tool in make g++ javac jar sha256sum flock; do
        command -v "$tool" > /dev/null || { echo "building async-profiler needs $tool (make deps)"; return 77; }
    done
    sha=$(sha256sum "$tarball" | cut -d' ' -f1)
    cache=$(asprof__cache) || { echo "no writable cache directory"; return 1; }
    dest=$cache/async-profiler-${sha:0:16}
    ASPROF_HOME=$dest
    export ASPROF_HOME
    [ -f "$dest/.built" ] && return 0
    (
        flock 9
        [ -f "$dest/.built" ] && exit 0 # another test or checkout built it meanwhile
        local work; work=$(mktemp -d "$cache/.build.XXXXXX") || exit 1
        echo "# building async-profiler from $tarball into $dest (once)" >&2
        if tar -xzf "$tarball" -C "$work" &&
            make -C "$work"/async-profiler-* -j"$(nproc)" > "$work/build.log" 2>&1; then
            rm -rf "$dest"
            mkdir -p "$dest" && cp -a "$work"/async-profiler-*/build/. "$dest/" &&
                cp "$work/build.log" "$dest/build.log" && echo "$sha" > "$dest/.source-sha256" &&
                touch "$dest/.built"
            local rc=$?
            rm -rf "$work"
            exit $rc
        fi
        tail -n 30 "$work/build.log" >&2
        rm -rf "$work"
        exit 1
    ) 9> "$cache/.async-profiler.lock" || { echo "building async-profiler from $tarball failed"; return 1; }
    [ -f "$dest/lib/libasyncProfiler.so" ] || { echo "no lib/libasyncProfiler.so in $dest"; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = build ]; then
    asprof_ensure
    case $? in
        0) echo "async-profiler: $ASPROF_HOME" ;;
        77) echo "async-profiler not built (its tests skip, or fail under CI=true)" ;;
        *) exit 1 ;;
    esac
fi
