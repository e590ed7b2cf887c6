#!/bin/bash
# 95_bench_smoke: `make bench` still runs. The short version of every
# scenario (tools/bench/run --smoke: the real daemon, real JVMs, tiny
# sizes) must run to the end and write its figures; what the figures are is
# for the benchmark, not for a test, so no target is checked here.
#   harness     tools/bench/lib.sh: a row with a target says ok or MISSED as
#               the numbers say; an unknown argument is refused
#   scenarios   tools/bench/run --smoke: every scenario's JSON has rows with
#               numeric values, and the summary has them all
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# benchmarks measure the release build, whichever agent the suite runs
export FLAMESHOTD=${BUILD:-$ROOT/build}/flameshotd
source "$ROOT/tests/lib.sh"
W=$(mktemp -d /tmp/fs-bench-smoke.XXXXXX)
trap 'rm -rf "$W"' EXIT
SCENARIOS="attach detect footprint execstorm economy outbox"

case_harness() {
    need "command -v jq && command -v column" "needs jq and column"
    # shellcheck disable=SC2016
    bash -c 'source "$1/tools/bench/lib.sh"; bench_init h --out "$2"
        bench_row fast 3 ms "<=" 5; bench_row slow 7 ms "<=" 5; bench_row big 30 x ">=" 20
        bench_row info 1.5 MB; bench_finish' _ "$ROOT" "$W/h.json" > "$W/h.txt" || return 1
    [ "$(jq -c '[.rows[].ok]' "$W/h.json")" = '[true,false,true,null]' ] ||
        { jq -c . "$W/h.json"; return 1; }
    grep -q 'slow .*MISSED' "$W/h.txt" || { cat "$W/h.txt"; return 1; }
    [ "$(printf '1\n2\n3\n4\n100\n' | bash -c 'source "$1/tools/bench/lib.sh"; bench_pct 50' _ "$ROOT")" = 3 ] ||
        return 1
    ! bash -c 'source "$1/tools/bench/lib.sh"; bench_init h --bogus' _ "$ROOT" 2> /dev/null
}

# failed_sections LOG: what each scenario that did not run to the end printed
# (its own section of the log: the summary's table would push it out of a tail)
failed_sections() {
    local s
    for s in $(sed -n 's/^scenarios that did not run to the end: //p' "$1"); do
        sed -n "/^=== $s\$/,/^=== /p" "$1" | tail -n 60
    done
    grep '^scenarios that did not run' "$1"
}

case_scenarios() {
    need "[ \$(id -u) = 0 ]" "needs root"
    need "command -v java && command -v jq" "needs java and jq"
    need "[ -x '$FLAMESHOTD' ] && [ -d '$BUILD/tests/java' ]" "needs make test-build"
    BUILD=$BUILD BENCH_OUT=$W/bench nice -n 5 "$ROOT/tools/bench/run" --smoke > "$W/run.log" 2>&1 ||
        { failed_sections "$W/run.log"; return 1; }
    local s n
    for s in $SCENARIOS; do
        n=$(jq '[.rows[] | select(.value | type == "number")] | length' "$W/bench/$s.json") ||
            { echo "$s: no JSON"; return 1; }
        [ "$n" -gt 0 ] || { echo "$s: no numeric figure"; jq -c . "$W/bench/$s.json"; return 1; }
        jq -e --arg s "$s" '.scenarios | map(.scenario) | index($s) != null' \
            "$W/bench/summary.json" > /dev/null || { echo "$s not in the summary"; return 1; }
    done
    sed -n '/=== summary/,$p' "$W/run.log" | sed 's/^/# /'
}

t_case "harness: targets, percentiles, arguments" case_harness
t_case "every scenario's short run writes its figures" case_scenarios
t_done
