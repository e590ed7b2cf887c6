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
#
# The agent the integration scripts run ($FLAMESHOTD) is the ASan+UBSan
# build (build/asan/flameshotd) with leak checking and every report halting
# it; FLAMESHOT_TEST_AGENT=release runs them against build/flameshotd. The
# scripts that are about the release binaries (the lean entry, the
# benchmarks) choose it themselves. A sanitizer report from any process of
# a script (the agent, its helpers, an ASan test helper) fails that script:
# reports are written under build/test-artefacts/sanitizer/<script>/.
#
# Nothing passes silently. A producer fails when it prints no TAP plan
# ("1..N"), more than one, a plan of 0, or a number of "ok"/"not ok" lines
# other than its plan (it stopped early), or exits non-zero. The unit tests
# that should exist are tests/unit/*/test_*.c: a binary that was not built
# fails (and a stale binary without a source is not run); so does a test
# build without the helpers, agents and Java fixtures tests/ has sources
# for, and a NAME that selects nothing.
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
producers=0
crashed=()

# fail_line label why: a failure of the runner's own checks
fail_line() {
    echo "not ok - $1: $2"
    failed=$((failed + 1))
    crashed+=("$1")
}

# run_one label timeout cmd...: runs a TAP producer and tallies its lines
run_one() {
    local label=$1 tmo=$2
    shift 2
    echo "# --- $label"
    producers=$((producers + 1))
    local out rc
    out=$(mktemp)
    timeout --kill-after=10 "$tmo" "$@" >"$out" 2>&1
    rc=$?
    cat "$out"
    local p f s plans plan
    p=$(grep -cE '^ok [0-9]+' "$out")
    s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out")
    f=$(grep -cE '^not ok [0-9]+' "$out")
    plans=$(grep -cE '^1\.\.[0-9]+' "$out")
    plan=$(grep -m1 -oE '^1\.\.[0-9]+' "$out" | cut -c4-)
    rm -f "$out"
    passed=$((passed + p - s))
    skipped=$((skipped + s))
    failed=$((failed + f))
    if [ "$plans" -eq 0 ]; then
        fail_line "$label" "no TAP plan (1..N): it stopped before the end (exit status $rc)"
    elif [ "$plans" -gt 1 ]; then
        fail_line "$label" "$plans TAP plans"
    elif [ "$plan" -eq 0 ]; then
        fail_line "$label" "a plan of 1..0: no test ran"
    elif [ $((p + f)) -ne "$plan" ]; then
        fail_line "$label" "$((p + f)) results for a plan of $plan (exit status $rc)"
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail_line "$label" "exited with status $rc without reporting a failure"
    fi
}

# missing_builds: what `make test-build` makes for the integration tests
# from the sources in tests/, and is not there
missing_builds() {
    local src
    [ -x "$BUILD/flameshotd" ] || echo "$BUILD/flameshotd"
    [ -x "$BUILD/asan/flameshotd" ] || echo "$BUILD/asan/flameshotd"
    [ -x "$BUILD/libexec/flameshot/flameshotd" ] || echo "$BUILD/libexec/flameshot/flameshotd"
    for src in tests/helpers/*.c; do
        [ -f "$src" ] && [ ! -x "$BUILD/tests/helpers/$(basename "$src" .c)" ] &&
            echo "$BUILD/tests/helpers/$(basename "$src" .c)"
    done
    for src in tests/agents/*.c; do
        [ -f "$src" ] && [ ! -f "$BUILD/tests/agents/$(basename "$src" .c).so" ] &&
            echo "$BUILD/tests/agents/$(basename "$src" .c).so"
    done
    for src in tests/fixtures/java/*.java; do
        [ -f "$src" ] && [ ! -f "$BUILD/tests/java/$(basename "$src" .java).class" ] &&
            echo "$BUILD/tests/java/$(basename "$src" .java).class"
    done
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
SAN_DIR=$BUILD/test-artefacts/sanitizer

# run_integration script: one script against the agent chosen above; its
# processes' sanitizer reports go to files (a daemon's stderr is its log,
# which the script may never show) and any fails it
run_integration() {
    local name reports first
    name=$(basename "$1" .sh)
    reports=$SAN_DIR/$name
    rm -rf "$reports" && mkdir -p "$reports"
    if [ "${FLAMESHOT_TEST_AGENT:-asan}" = release ]; then
        FLAMESHOTD=$BUILD/flameshotd
    else
        FLAMESHOTD=$BUILD/asan/flameshotd
    fi
    FLAMESHOTD=$FLAMESHOTD \
        ASAN_OPTIONS="$ASAN_OPTIONS:halt_on_error=1:log_path=$reports/asan" \
        UBSAN_OPTIONS="$UBSAN_OPTIONS:halt_on_error=1:log_path=$reports/ubsan" \
        run_one "integration/$name" 900 bash "$1"
    if [ -n "$(ls -A "$reports")" ]; then
        first=$(grep -hm1 -E 'ERROR: |runtime error:' "$reports"/* | head -n 1)
        fail_line "integration/$name" "sanitizer report: ${first:-see $reports} ($reports)"
    else
        rmdir "$reports"
    fi
}

for src in tests/unit/*/test_*.c; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c)
    selected "$name" || continue
    t=$BUILD/asan/tests/$name
    if [ -x "$t" ]; then
        run_one "unit/$name" 300 "$t"
    else
        producers=$((producers + 1))
        fail_line "unit/$name" "$t was not built from $src (make test-build)"
    fi
done

if [ $only_unit -eq 0 ]; then
    scripts=()
    for t in tests/integration/*.sh; do
        [ -f "$t" ] && selected "$(basename "$t" .sh)" && scripts+=("$t")
    done
    if [ ${#scripts[@]} -gt 0 ]; then
        missing=$(missing_builds)
        [ -z "$missing" ] ||
            fail_line "test build" "missing (make test-build): $(echo $missing)"
    fi
    for t in "${scripts[@]}"; do
        run_integration "$t"
    done
fi

[ "$producers" -gt 0 ] || fail_line "selection" "no unit test or integration script matches: ${filters[*]:-(none)}"

echo "# skipped: $skipped${CI:+ (CI=$CI)}"
[ ${#crashed[@]} -gt 0 ] && echo "# failed as a whole: ${crashed[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
