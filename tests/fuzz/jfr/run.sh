#!/bin/bash
# tests/fuzz/jfr/run.sh [SECONDS]: libFuzzer on the JFR reader from a seed
# corpus written now, for SECONDS (60). Crashing inputs land in
# build/fuzz/jfr-crashes/. Built by `make fuzz` (which runs this) or
# `make test-build`.
#
# FUZZ_RUNS=N instead runs exactly N inputs from seed FUZZ_SEED (1) on a fresh
# corpus (FUZZ_CORPUS, a new directory): the same inputs every time, which is
# what the test suite wants; time-bounded runs explore and keep what they find
# in build/fuzz/jfr-corpus.
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
secs=${1:-60}
corpus=${FUZZ_CORPUS:-$BUILD/fuzz/jfr-corpus}
mkdir -p "$corpus" "$BUILD/fuzz/jfr-crashes"
"$BUILD/fuzz/jfr_seeds" "$corpus"
if [ -n "${FUZZ_RUNS:-}" ]; then
    bound=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
else
    bound=(-max_total_time="$secs")
fi
# rss_limit: the reader's memory is bounded by a chunk, inputs are small
exec nice -n 19 "$BUILD/fuzz/fuzz_jfr" "${bound[@]}" -rss_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="$BUILD/fuzz/jfr-crashes/" -print_final_stats=1 "$corpus"
