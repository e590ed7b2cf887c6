#!/bin/bash
# The flame graph, diff and heat map pages opened in Debian's headless
# chromium (tests/browser/flame.mjs through playwright-core from
# tools/browser/fetch.sh), on pages tests/helpers/flame_render writes from
# small known inputs. Every expected value (frames, matched share, shares
# before and after, the samples of a time range) is computed here from the
# input with awk, independently of the renderers. Screenshots are kept in
# build/test-artefacts/91_flame_browser/.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
RENDER=$BUILD/tests/helpers/flame_render
SHOTS=$BUILD/test-artefacts/91_flame_browser
WORK=$(mktemp -d /tmp/flameshot-flame-browser.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# fetched once here: the cases run in subshells (t_case)
MODULES=""
if command -v node >/dev/null && command -v npm >/dev/null; then
    MODULES=$("$ROOT/tools/browser/fetch.sh" 2>"$WORK/fetch.err") || MODULES=""
fi

browser() {
    need "[ -x '$CHROMIUM' ]" "no chromium at $CHROMIUM (tools/deps.sh installs Debian's)"
    need "[ -n '$MODULES' ]" "playwright-core was not fetched (tools/browser/fetch.sh): $(tail -n1 "$WORK/fetch.err" 2>/dev/null)"
    [ -x "$RENDER" ] || { echo "$RENDER is not built (make test-build)"; return 1; }
    NODE_PATH=$MODULES CHROMIUM=$CHROMIUM timeout 120 node "$ROOT/tests/browser/flame.mjs" "$@"
}

# share FILE PREFIX: the weight of the stacks starting with PREFIX (whole
# frames), in percent of FILE's total, two decimals
share() {
    awk -v p="$2" '{ w = $NF; t += w; s = $0; sub(/ [0-9]+$/, "", s)
                     if (s == p || index(s, p ";") == 1) m += w }
                   END { printf "%.2f", t ? 100 * m / t : 0 }' "$1"
}

# --- (1) a flame graph -----------------------------------------------------
cat >"$WORK/known.txt" <<'EOF'
main;a;burn 50
main;a;b;burn 10
main;c 30
main;burn;x;burn 10
main;d;e 7
EOF

case_flame() {
    "$RENDER" --title "CPU: known" flame "$WORK/known.txt" "$WORK/known.html" || return 1
    # frames: the root and every distinct prefix of a stack
    local frames pct
    frames=$(awk '{ sub(/ [0-9]+$/, ""); n = split($0, f, ";"); p = ""
                    for (i = 1; i <= n; i++) { p = p ";" f[i]; seen[p] = 1 } }
                  END { print length(seen) + 1 }' "$WORK/known.txt")
    # the matched share counts a stack once however often "burn" recurs in it
    pct=$(awk '{ w = $NF; t += w; sub(/ [0-9]+$/, ""); n = split($0, f, ";")
                 for (i = 1; i <= n; i++) if (f[i] ~ /burn/) { m += w; break } }
               END { printf "%.2f", 100 * m / t }' "$WORK/known.txt")
    local aw
    aw=$(awk '/^main;a;/ { w += $NF } END { print w }' "$WORK/known.txt")
    echo "expect $frames frames, burn matches $pct%, a weighs $aw"
    browser flame "$WORK/known.html" "$SHOTS" \
        "{\"frames\":$frames,\"names\":[\"main\",\"a\",\"b\",\"burn\",\"c\",\"x\",\"d\",\"e\"],\"search\":\"burn\",\"matchedPct\":\"$pct\",\"zoom\":\"a\",\"hover\":{\"name\":\"a\",\"text\":\"$aw samples ($(share "$WORK/known.txt" "main;a")% of the total)\"}}"
}

# --- (2) a diff --------------------------------------------------------------
case_diff() {
    printf 'main;a;burn 40\nmain;c 40\nmain;old 10\nmain;s 10\n' >"$WORK/base.txt"
    printf 'main;a;burn 140\nmain;c 40\nmain;s 20\n' >"$WORK/cur.txt"
    "$RENDER" diff "$WORK/base.txt" "$WORK/cur.txt" "$WORK/diff.html" || return 1
    local b c d
    b=$(share "$WORK/base.txt" "main;a")
    c=$(share "$WORK/cur.txt" "main;a")
    d=$(awk -v b="$b" -v c="$c" 'BEGIN { printf "%+.2f", c - b }')
    echo "a: base $b% now $c% ($d)"
    [ "$(share "$WORK/base.txt" "main;s")" = "$(share "$WORK/cur.txt" "main;s")" ] ||
        { echo "the input's s should keep its share"; return 1; }
    browser diff "$WORK/diff.html" "$SHOTS" \
        "{\"grew\":\"a\",\"shrank\":\"c\",\"same\":\"s\",\"grewHover\":\"base $b% -> now $c% ($d points)\",\"gone\":\"main;old\"}"
}

# --- (3) a heat map ------------------------------------------------------------
# below 2^53: awk computes the times in doubles
START=5000000000000
# samples at the edges of buckets and seconds, and 600 more spread over 3 s
# (awk's own generator, seeded: the same file every run)
heat_input() {
    awk -v s=$START 'BEGIN {
        printf "%.0f;main;edge0 1\n", s
        printf "%.0f;main;edge0 1\n", s + 19999999
        printf "%.0f;main;row1 1\n", s + 20000000
        printf "%.0f;main;last 1\n", s + 999999999
        printf "%.0f;main;next 1\n", s + 1000000000
        printf "%.0f;main;mid 3\n", s + 1050000000
        printf "%.0f;main;far 1\n", s + 2200000000
        srand(7)
        for (i = 0; i < 600; i++)
            printf "%.0f;main;rand;r%d %d\n", s + int(rand() * 3e9), i % 5, 1 + int(rand() * 3)
    }'
}

# expect_range C1 R1 C2 R2 HOW: the selection's JSON, from the samples'
# times alone: start of cell (C1,R1) <= t < end of cell (C2,R2)
expect_range() {
    awk -v s=$START -v c1="$1" -v r1="$2" -v c2="$3" -v r2="$4" -v how="$5" '
        BEGIN { lo = c1 * 1e9 + r1 * 2e7; hi = c2 * 1e9 + (r2 + 1) * 2e7
                if (lo > hi) { t = lo; lo = c2 * 1e9 + r2 * 2e7; hi = c1 * 1e9 + (r1 + 1) * 2e7 } }
        { split($0, f, ";"); t = f[1] - s; w = $NF
          if (t >= lo && t < hi) { n++; sum += w; leaf = $0; sub(/ [0-9]+$/, "", leaf)
                                   k = split(leaf, g, ";"); lw[g[k]] += w } }
        END { printf "{\"from\":[%d,%d],\"to\":[%d,%d],\"how\":\"%s\",\"samples\":%d,\"weight\":%d,\"leaves\":{", c1, r1, c2, r2, how, n, sum
              split("edge0 row1 last next mid far", L, " ")
              for (i = 1; i <= 6; i++) printf "%s\"%s\":%d", (i > 1 ? "," : ""), L[i], lw[L[i]]
              printf "}}" }' "$WORK/heat.txt"
}

case_heatmap() {
    heat_input >"$WORK/heat.txt"
    "$RENDER" --start $START --title "heat" heatmap "$WORK/heat.txt" "$WORK/heat.html" || return 1
    # the same cell twice; the first and the last bucket of a second; a
    # range across seconds; a drag; a range selected end first
    local sel
    sel="$(expect_range 0 0 0 0 click),$(expect_range 0 49 0 49 click),$(expect_range 0 1 0 1 click)"
    sel="$sel,$(expect_range 0 49 1 2 click),$(expect_range 1 0 2 10 drag),$(expect_range 2 10 0 0 click)"
    echo "selections: $sel"
    browser heatmap "$WORK/heat.html" "$SHOTS" "{\"rows\":50,\"cols\":3,\"selections\":[$sel]}"
}

# --- (4) a hostile frame name ------------------------------------------------------
case_inject() {
    local evil='</script><img src=x onerror=alert(1)>'
    printf 'main;%s;leaf 5\nmain;"q" & <b>x</b>\xe2\x80\xa8;ok 5\n' "$evil" >"$WORK/evil.txt"
    "$RENDER" --title "T $evil" flame "$WORK/evil.txt" "$WORK/evil.html" || return 1
    grep -q '<img' "$WORK/evil.html" && { echo "the page holds a raw <img"; return 1; }
    browser inject "$WORK/evil.html" "$SHOTS" "{\"name\":\"</script><img src=x onerror=alert(1)>\",\"title\":\"T </script><img\"}"
}

# --- 100k distinct stacks: the page's size and the time to draw it -------------
# Stacks down a call tree whose branches are taken with skewed odds and
# weights falling with rank (Zipf-like), as real profiles are; the numbers
# go to measure.txt beside the screenshots and into the TAP comments.
case_big() {
    awk 'BEGIN { srand(5)
        for (i = 0; i < 100000; i++) {
            d = 10 + int(rand() * 30); s = "java/lang/Thread.run"
            for (j = 1; j < d; j++) { r = rand(); k = int(1 / (r * r + 0.02)) % 50; s = s ";com/example/p" (j % 7) "/C" k ".m" j }
            printf "%s;leaf%d %d\n", s, i, 1 + int(100000 / (i + 1))
        } }' >"$WORK/big.txt"
    "$RENDER" flame "$WORK/big.txt" "$WORK/big.html" 2>"$WORK/big.err" || { cat "$WORK/big.err"; return 1; }
    local bytes
    bytes=$(stat -c %s "$WORK/big.html")
    echo "100k stacks: input $(stat -c %s "$WORK/big.txt") bytes, page $bytes bytes; flame_render (-O1): $(cat "$WORK/big.err")" >"$SHOTS/measure.txt"
    # merged below 1e-4 of the total, the page is bounded whatever the input
    [ "$bytes" -lt $((8 << 20)) ] || { echo "page of $bytes bytes"; return 1; }
    grep -q '"merged":{"frames":[1-9]' "$WORK/big.html" || { echo "nothing merged"; return 1; }
    browser big "$WORK/big.html" "$SHOTS" '{}' | tee -a "$SHOTS/measure.txt"
}

# the page's sources are inlined: one that would end its element is refused
case_embed_refuses() {
    printf 'const s = "</script>";\n' >"$WORK/bad.js"
    if sh "$ROOT/tools/embed.sh" "$WORK/bad.js" >"$WORK/bad.h" 2>"$WORK/bad.err"; then
        echo "tools/embed.sh took a source holding </script>"; return 1
    fi
    grep -q 'would end its inline element' "$WORK/bad.err" || { cat "$WORK/bad.err"; return 1; }
    sh "$ROOT/tools/embed.sh" "$ROOT"/src/flame/page/*.js "$ROOT"/src/flame/page/*.css >/dev/null
}

t_case "embed.sh refuses a source that would end its inline element" case_embed_refuses
t_case "flame graph: drawn, search percentage, click zoom, icicle" case_flame
t_case "diff: grew red, shrank blue, hover shares, gone listed" case_diff
t_case "heat map: ranges give exactly their samples" case_heatmap
t_case "a hostile frame name stays inert" case_inject
t_case "100k stacks: bounded page, drawn" case_big
sed 's/^#* */# /' "$SHOTS/measure.txt" 2>/dev/null
t_done
