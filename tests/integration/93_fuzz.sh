#!/bin/bash
# 93_fuzz: every libFuzzer target of tests/fuzz/ (the parsers of untrusted
# bytes: configuration, rules, durations, the HTTP query, attach replies,
# /proc files, cgroup paths, Pods and the watch stream, JFR, pprof, line
# protocol and tags), built by make test-build with ASan and UBSan.
#
#   layout      each tests/fuzz/<target>/ has fuzz.c, a checked-in corpus
#               and a built build/fuzz/fuzz_<target> (a missing one fails
#               under CI=true)
#   <target>    every checked-in corpus file (crashers found before
#               included) runs clean, then FUZZ_RUNS inputs from seed 1 on a
#               fresh copy of the corpus: no crash, no contract broken, and
#               the same inputs on every run (`make fuzz` explores for
#               longer, FUZZ_SECONDS each)
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
W=$(mktemp -d /var/tmp/flameshot-fuzz-test.XXXXXX)
trap 'rm -rf "$W"' EXIT

# inputs per target: about a minute for all of them on a 2-core VM (the
# slow ones parse a whole Pod, configuration or JFR chunk per input)
declare -A RUNS=([config]=3000 [rules]=20000 [pod]=10000 [watch]=20000 [jfr]=30000
    [pprof]=15000)
DEFAULT_RUNS=30000

targets() { (cd "$ROOT/tests/fuzz" && for d in */; do echo "${d%/}"; done); }

all_built() {
    local t
    for t in $(targets); do [ -x "$BUILD/fuzz/fuzz_$t" ] || return 1; done
}

case_layout() {
    local t bad=0
    for t in $(targets); do
        [ -f "$ROOT/tests/fuzz/$t/fuzz.c" ] || { echo "$t: no fuzz.c" >&2; bad=1; }
        [ -n "$(ls -A "$ROOT/tests/fuzz/$t/corpus" 2>/dev/null)" ] ||
            { echo "$t: no checked-in corpus" >&2; bad=1; }
    done
    [ "$bad" = 0 ] || return 1
    need all_built "needs build/fuzz/fuzz_* (make test-build, clang's libFuzzer)"
}

case_target() {
    local t=$1 bin=$BUILD/fuzz/fuzz_$1
    need "[ -x '$bin' ]" "needs $bin (make test-build, clang's libFuzzer)"
    "$bin" -runs=1 "$ROOT/tests/fuzz/$t/corpus"/* > "$W/$t-corpus.log" 2>&1 ||
        { tail -30 "$W/$t-corpus.log"; return 1; }
    FUZZ_RUNS=${FUZZ_RUNS:-${RUNS[$t]:-$DEFAULT_RUNS}} FUZZ_SEED=1 FUZZ_CORPUS=$W/$t-corpus \
        "$ROOT/tests/fuzz/run.sh" "$t" > "$W/$t.log" 2>&1 ||
        { tail -30 "$W/$t.log"; return 1; }
    grep 'Done\|runs in' "$W/$t.log" | tail -1
}

t_case "layout: every target has fuzz.c, a corpus and a build" case_layout
for t in $(targets); do
    t_case "fuzz_$t: its corpus, then fixed-seed inputs: no crash" case_target "$t"
done
t_done
