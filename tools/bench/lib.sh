# tools/bench/lib.sh: what every `make bench` scenario shares. Sourced by
# tools/bench/<scenario>, which is run as
#     tools/bench/<scenario> [--smoke] [--out FILE]
# --smoke: a short version that only shows the scenario still runs (CI);
# --out: the JSON result (default build/bench/<scenario>.json).
#
#   bench_init NAME "$@"   parse the arguments; sets SMOKE (0|1), OUT and
#                          BENCH_WORK (a private directory, removed at exit)
#   bench_row METRIC VALUE UNIT [OP TARGET]
#                          one figure; with OP (<= or >=) and TARGET it says
#                          whether the target is met
#   bench_note TEXT        a line of context printed and kept in the JSON
#   bench_pct P            the P-th percentile (nearest rank) of the numbers
#                          on stdin, one per line
#   bench_finish           write OUT, print the scenario's table
# The JSON: {"scenario", "date", "machine", "git", "smoke", "rows": [{"metric",
# "value", "unit", "op", "target", "ok"}], "notes": [...]}; tools/bench/run
# gathers them into one table.
set -u
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$BENCH_ROOT/build}

bench_init() {
    BENCH_NAME=$1
    shift
    SMOKE=0
    OUT=$BUILD/bench/$BENCH_NAME.json
    while [ $# -gt 0 ]; do
        case $1 in
        --smoke) SMOKE=1 ;;
        --out) OUT=$2; shift ;;
        *) echo "$BENCH_NAME: unknown argument $1 (--smoke, --out FILE)" >&2; exit 2 ;;
        esac
        shift
    done
    mkdir -p "$(dirname "$OUT")"
    BENCH_WORK=$(mktemp -d /tmp/bench-"$BENCH_NAME".XXXXXX)
    : > "$BENCH_WORK/rows.jsonl"
    : > "$BENCH_WORK/notes.txt"
    trap 'bench_cleanup' EXIT
}

# Scenarios add their own clean-up to bench_cleanup_hook.
bench_cleanup_hook() { :; }
bench_cleanup() {
    bench_cleanup_hook
    rm -rf "$BENCH_WORK"
}

bench_row() {
    local metric=$1 value=$2 unit=$3 op=${4:-} target=${5:-} ok=null
    if [ -n "$op" ]; then
        ok=$(awk -v v="$value" -v t="$target" -v op="$op" \
            'BEGIN { print ((op == "<=" ? v + 0 <= t + 0 : v + 0 >= t + 0) ? "true" : "false") }')
    fi
    jq -nc --arg m "$metric" --arg v "$value" --arg u "$unit" --arg op "$op" --arg t "$target" \
        --argjson ok "$ok" \
        '{metric: $m, value: ($v | tonumber? // $v), unit: $u,
          op: (if $op == "" then null else $op end),
          target: (if $t == "" then null else ($t | tonumber? // $t) end), ok: $ok}' \
        >> "$BENCH_WORK/rows.jsonl"
}

bench_note() {
    echo "# $*"
    printf '%s\n' "$*" >> "$BENCH_WORK/notes.txt"
}

bench_pct() {
    sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
        print v[r] }'
}

bench_machine() {
    printf '%s, %s cores, %s MiB, kernel %s' "$(. /etc/os-release && echo "$PRETTY_NAME")" \
        "$(nproc)" "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" "$(uname -r)"
}

bench_finish() {
    jq -n --arg s "$BENCH_NAME" --arg d "$(date -u +%FT%TZ)" --arg m "$(bench_machine)" \
        --arg g "$(git -C "$BENCH_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
        --argjson smoke "$([ "$SMOKE" = 1 ] && echo true || echo false)" \
        --slurpfile rows "$BENCH_WORK/rows.jsonl" \
        --rawfile notes "$BENCH_WORK/notes.txt" \
        '{scenario: $s, date: $d, machine: $m, git: $g, smoke: $smoke, rows: $rows,
          notes: ($notes | split("\n") | map(select(. != "")))}' > "$OUT"
    jq -r '.scenario as $s | .rows[] | [$s, .metric, (.value | tostring), .unit,
        (if .op then "\(.op) \(.target)" else "" end),
        (if .ok == null then "" elif .ok then "ok" else "MISSED" end)] | @tsv' "$OUT" |
        column -t -s $'\t'
}
