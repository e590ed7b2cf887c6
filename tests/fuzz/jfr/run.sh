#!/bin/bash
# tests/fuzz/jfr/run.sh [SECONDS]: libFuzzer on the JFR reader from a seed
# corpus written now (build/fuzz/jfr_seeds), for SECONDS (60). Crashing
# inputs land in build/fuzz/jfr-crashes/. Built by `make fuzz` (which runs
# this) or `make test-build`.
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
secs=${1:-60}
corpus=$BUILD/fuzz/jfr-corpus
mkdir -p "$corpus" "$BUILD/fuzz/jfr-crashes"
"$BUILD/fuzz/jfr_seeds" "$corpus"
# rss_limit: the reader's memory is bounded by a chunk, inputs are small
exec nice -n 19 "$BUILD/fuzz/fuzz_jfr" -max_total_time="$secs" -rss_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="$BUILD/fuzz/jfr-crashes/" -print_final_stats=1 "$corpus"
