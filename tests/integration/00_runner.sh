#!/bin/bash
# tests/run.sh and tests/lib.sh themselves: nothing passes silently. Each
# case lays out a small tree (a copy of run.sh and lib.sh, test sources, a
# build directory with stand-in binaries that print TAP), runs that run.sh
# and checks its verdict: the last line "N passed, N failed" and its exit
# status.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
WORK=$(mktemp -d /tmp/flameshot-runner-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# tree NAME: a tree with run.sh and lib.sh, and a complete empty test build
tree() {
    T=$WORK/$1
    mkdir -p "$T/tests/integration" "$T/tests/unit/core" "$T/build/asan/tests" \
        "$T/build/libexec/flameshot"
    cp "$ROOT/tests/run.sh" "$ROOT/tests/lib.sh" "$T/tests/"
    # flameshotd's two files (the lean entry and the full program), and the
    # sanitizer build the integration scripts run
    printf '#!/bin/sh\n' >"$T/build/flameshotd"
    printf '#!/bin/sh\n' >"$T/build/libexec/flameshot/flameshotd"
    printf '#!/bin/sh\n' >"$T/build/asan/flameshotd"
    chmod +x "$T/build/flameshotd" "$T/build/libexec/flameshot/flameshotd" "$T/build/asan/flameshotd"
}

# unit NAME TAP...: a unit test source and its "binary", printing the lines
unit() {
    local name=$1; shift
    echo "/* $name */" >"$T/tests/unit/core/$name.c"
    printf '#!/bin/sh\n' >"$T/build/asan/tests/$name"
    printf "echo '%s'\n" "$@" >>"$T/build/asan/tests/$name"
    chmod +x "$T/build/asan/tests/$name"
}

# script NAME BODY: an integration script using tests/lib.sh
script() {
    printf 'source "$ROOT/tests/lib.sh"\n%s\n' "$2" >"$T/tests/integration/$1.sh"
}

# verdict [VAR=value...] run.sh [args...]: runs the tree's run.sh outside
# this run's environment (CI only when given); sets OUT, RC, LAST
verdict() {
    OUT=$(env -u BUILD -u ROOT -u CI "$@" 2>&1)
    RC=$?
    LAST=$(printf '%s\n' "$OUT" | tail -n1)
}

# expect "P passed, F failed" RC: the verdict, or the output on stderr
expect() {
    [ "$LAST" = "$1" ] && [ "$RC" = "$2" ] && return 0
    printf '%s\n' "$OUT" >&2
    echo "expected '$1' and exit $2, got '$LAST' and exit $RC" >&2
    return 1
}

case_complete_run_passes() {
    tree good
    unit test_a "1..2" "ok 1 - a" "ok 2 - b"
    script 10_x 't_ok one; t_ok two; t_done'
    verdict CI=true "$T/tests/run.sh"
    expect "4 passed, 0 failed" 0
}

case_script_stopping_early_fails() {
    tree early
    script 10_early 't_ok one; exit 0; t_ok two; t_done'
    verdict "$T/tests/run.sh"
    expect "1 passed, 1 failed" 1 || return 1
    grep -q '^not ok - integration/10_early: no TAP plan' <<<"$OUT"
}

case_no_plan_and_wrong_count_fail() {
    tree plans
    unit test_noplan "ok 1 - a"
    unit test_short "1..3" "ok 1 - a" "ok 2 - b"
    unit test_zero "1..0"
    unit test_twice "1..1" "ok 1 - a" "1..1"
    script 10_planned 't_plan 3; t_ok one; t_ok two; t_done'
    verdict "$T/tests/run.sh"
    expect "6 passed, 5 failed" 1 || return 1
    grep -q '^not ok - unit/test_noplan: no TAP plan' <<<"$OUT" &&
        grep -q '^not ok - unit/test_short: 2 results for a plan of 3' <<<"$OUT" &&
        grep -q '^not ok - unit/test_zero: a plan of 1..0' <<<"$OUT" &&
        grep -q '^not ok - unit/test_twice: 2 TAP plans' <<<"$OUT" &&
        grep -q '^not ok - integration/10_planned: 2 results for a plan of 3' <<<"$OUT"
}

case_missing_unit_binary_fails() {
    tree missing
    unit test_built "1..1" "ok 1 - a"
    echo "/* never built */" >"$T/tests/unit/core/test_unbuilt.c"
    # a stale binary whose source is gone is not run
    printf '#!/bin/sh\necho 1..1; echo ok 1 - stale\n' >"$T/build/asan/tests/test_stale"
    chmod +x "$T/build/asan/tests/test_stale"
    verdict "$T/tests/run.sh" --unit
    expect "1 passed, 1 failed" 1 || return 1
    grep -q "^not ok - unit/test_unbuilt: .*/build/asan/tests/test_unbuilt was not built" <<<"$OUT"
}

case_incomplete_test_build_fails() {
    tree helpers
    mkdir -p "$T/tests/helpers" "$T/tests/fixtures/java"
    echo "int main(void) { return 0; }" >"$T/tests/helpers/probe.c"
    echo "class Gone {}" >"$T/tests/fixtures/java/Gone.java"
    script 10_x 't_ok one; t_done'
    verdict "$T/tests/run.sh"
    expect "1 passed, 1 failed" 1 || return 1
    grep -q "^not ok - test build: missing (make test-build): .*/build/tests/helpers/probe .*/build/tests/java/Gone.class" <<<"$OUT"
}

case_crash_after_all_ok_fails() {
    tree crash
    unit test_crash "1..1" "ok 1 - a"
    echo "exit 3" >>"$T/build/asan/tests/test_crash"
    verdict "$T/tests/run.sh"
    expect "1 passed, 1 failed" 1 || return 1
    grep -q '^not ok - unit/test_crash: exited with status 3' <<<"$OUT"
}

case_skips_fail_under_ci() {
    tree skips
    script 10_skip 'sk() { need false "needs a unicorn"; }
t_case "needs something" sk
t_skip "optional extra" "opt-in"
t_done'
    verdict "$T/tests/run.sh"
    expect "0 passed, 0 failed" 0 || return 1
    [ "$(grep -c '# SKIP' <<<"$OUT")" = 2 ] || { echo "$OUT" >&2; return 1; }
    verdict CI=true "$T/tests/run.sh"
    expect "0 passed, 2 failed" 1 || return 1
    grep -q '^not ok 1 - needs something # skipped under CI=true: needs a unicorn' <<<"$OUT" &&
        grep -q '^not ok 2 - optional extra # skipped under CI=true: opt-in' <<<"$OUT"
}

case_selecting_nothing_fails() {
    tree empty
    unit test_a "1..1" "ok 1 - a"
    verdict "$T/tests/run.sh" no_such_test
    expect "0 passed, 1 failed" 1
}

# A real ASan program (a leak, a heap overflow) run by a script whose TAP
# says ok: the report its process wrote fails the script; the agent the
# scripts get is the sanitizer build unless FLAMESHOT_TEST_AGENT=release.
case_sanitizer_report_fails_the_script() {
    need "command -v gcc" "needs gcc"
    tree san
    printf '#include <stdlib.h>\nint main(int c, char **v) { char *p = malloc(8); p[0] = c;\n%s\n' \
        'if (c > 2) return p[8]; p = 0; return 0; }' >"$WORK/bad.c"
    gcc -fsanitize=address -g -o "$T/build/bad" "$WORK/bad.c" || return 1
    script 10_leak 't_ok "leaks, says ok"; "$BUILD/bad"; t_done'
    script 20_overflow 't_ok "overflows, says ok"; "$BUILD/bad" x y; t_done'
    script 30_agent 'echo "# agent $FLAMESHOTD"; t_ok agent; t_done'
    verdict CI=true "$T/tests/run.sh"
    expect "3 passed, 2 failed" 1 || return 1
    grep -q "^not ok - integration/10_leak: sanitizer report: .*ERROR: LeakSanitizer: detected memory leaks" <<<"$OUT" &&
        grep -q "^not ok - integration/20_overflow: sanitizer report: .*ERROR: AddressSanitizer: heap-buffer-overflow" <<<"$OUT" &&
        grep -q "^# agent $T/build/asan/flameshotd$" <<<"$OUT" &&
        compgen -G "$T/build/test-artefacts/sanitizer/10_leak/asan.*" >/dev/null || {
        echo "$OUT" >&2
        return 1
    }
    verdict CI=true FLAMESHOT_TEST_AGENT=release "$T/tests/run.sh" 30_agent
    expect "1 passed, 0 failed" 0 && grep -q "^# agent $T/build/flameshotd$" <<<"$OUT"
}

t_case "run.sh: a complete run of units and scripts passes" case_complete_run_passes
t_case "run.sh: a script that stops before t_done (no plan) fails" case_script_stopping_early_fails
t_case "run.sh: no plan, fewer results than planned, 1..0, two plans: each fails" case_no_plan_and_wrong_count_fail
t_case "run.sh: a unit test with a source but no binary fails; a stale binary is not run" case_missing_unit_binary_fails
t_case "run.sh: a test build without a helper or a Java fixture fails" case_incomplete_test_build_fails
t_case "run.sh: a producer exiting non-zero after all ok fails" case_crash_after_all_ok_fails
t_case "lib.sh: need and t_skip skip outside CI and fail under CI=true" case_skips_fail_under_ci
t_case "run.sh: a NAME that selects nothing fails" case_selecting_nothing_fails
t_case "run.sh: a sanitizer report from a script's process fails it; the agent is the ASan build" case_sanitizer_report_fails_the_script
t_done
