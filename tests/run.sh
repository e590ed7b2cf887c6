#!/bin/bash
# Runs the whole test suite: unit tests (built with ASan+UBSan) and
# integration tests (real JVMs, namespaces, cgroups, BPF). Every test prints
# TAP lines; this script counts them and ends with "N passed, N failed".
#
#   tests/run.sh            everything
#   tests/run.sh --unit     unit tests only
#   tests/run.sh NAME...    only the unit binaries / integration scripts
#                           whose name contains NAME
# CI=true turns a missing capability (root, BPF, JVM...) into a failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
export ROOT BUILD
cd "$ROOT" || exit 1

only_unit=0
filters=()
for a in "$@"; do
    case $a in
        --unit) only_unit=1 ;;
        *) filters+=("$a") ;;
    esac
done

selected() {
    [ ${#filters[@]} -eq 0 ] && return 0
    local f
    for f in "${filters[@]}"; do
        case $1 in *"$f"*) return 0 ;; esac
    done
    return 1
}

passed=0
failed=0
skipped=0
crashed=()

# run_one label timeout cmd...: runs a TAP producer and tallies its lines
run_one() {
    local label=$1 tmo=$2
    shift 2
    echo "# --- $label"
    local out rc
    out=$(mktemp)
    timeout --kill-after=10 "$tmo" "$@" >"$out" 2>&1
    rc=$?
    cat "$out"
    local p f s
    p=$(grep -cE '^ok [0-9]+' "$out" | tr -d ' ')
    s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out" | tr -d ' ')
    f=$(grep -cE '^not ok [0-9]+' "$out" | tr -d ' ')
    passed=$((passed + p - s))
    skipped=$((skipped + s))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $label exited with status $rc without reporting a failure"
        failed=$((failed + 1))
        crashed+=("$label")
    fi
    rm -f "$out"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$BUILD"/asan/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    selected "$name" || continue
    run_one "unit/$name" 300 "$t"
done

if [ $only_unit -eq 0 ]; then
    for t in tests/integration/*.sh; do
        [ -f "$t" ] || continue
        name=$(basename "$t" .sh)
        selected "$name" || continue
        run_one "integration/$name" 900 bash "$t"
    done
fi

echo "# skipped: $skipped${CI:+ (CI=$CI)}"
[ ${#crashed[@]} -gt 0 ] && echo "# crashed: ${crashed[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
