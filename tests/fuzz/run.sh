#!/bin/bash
# tests/fuzz/run.sh TARGET [SECONDS]: libFuzzer on build/fuzz/fuzz_TARGET from
# its checked-in seeds (tests/fuzz/TARGET/corpus; jfr's also from the seed
# writer build/fuzz/jfr_seeds) for SECONDS (60). Crashing inputs land in
# build/fuzz/TARGET-crashes/. Built by `make test-build`; `make fuzz` runs
# every target through this.
#
# FUZZ_RUNS=N instead runs exactly N inputs from seed FUZZ_SEED (1) on a fresh
# corpus (FUZZ_CORPUS, a new directory): the same inputs every time, which is
# what the test suite wants; time-bounded runs explore and keep what they find
# in build/fuzz/TARGET-corpus.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
t=${1:?usage: run.sh TARGET [SECONDS]}
secs=${2:-60}
seeds=$ROOT/tests/fuzz/$t/corpus
bin=$BUILD/fuzz/fuzz_$t
[ -x "$bin" ] || { echo "run.sh: no $bin (make test-build)" >&2; exit 2; }
[ -d "$seeds" ] || { echo "run.sh: no seed corpus $seeds" >&2; exit 2; }
corpus=${FUZZ_CORPUS:-$BUILD/fuzz/$t-corpus}
mkdir -p "$corpus" "$BUILD/fuzz/$t-crashes"
cp -p "$seeds"/* "$corpus"/
if [ "$t" = jfr ]; then "$BUILD/fuzz/jfr_seeds" "$corpus"; fi
if [ -n "${FUZZ_RUNS:-}" ]; then
    bound=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
else
    bound=(-max_total_time="$secs")
fi
# inputs are small (a /proc file, a Pod, a JFR chunk); memory is bounded by them
exec nice -n 19 "$bin" "${bound[@]}" -rss_limit_mb=1024 -max_len="${FUZZ_MAX_LEN:-65536}" \
    -artifact_prefix="$BUILD/fuzz/$t-crashes/" -print_final_stats=1 "$corpus"
