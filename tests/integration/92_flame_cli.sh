#!/bin/bash
# flameshotd flamegraph, the offline renderer, on JFRs recorded here: one by
# a real JVM's own Flight Recorder (Burner, settings=profile) and one by the
# real async-profiler (4.5, tests/lib/asprof.sh) attached to Workload with
# event cpu. Its collapsed output is the reader's (tests/helpers/
# jfr_collapse) stack for stack and carries exactly the samples the file
# holds (JFR: jdk.ExecutionSample + jdk.NativeMethodSample as `jfr summary`
# counts them; async-profiler: what its own converter, jfrconv -o
# collapsed, makes of the same file); the HTML, the range, the diff and the heat map
# are written; usage errors exit 2, unreadable files 1 with the file and
# the reason; a truncated file (two chunks, the second cut) renders the
# complete one with a warning. It runs as nobody with a hostile
# environment: it never loads the configuration, starts no daemon and
# touches no BPF.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/asprof.sh"
CLASSES=$BUILD/tests/java
W=$(mktemp -d /tmp/flameshot-flame-cli.XXXXXX)
chmod 755 "$W"
# the cases run in subshells (t_case): a JVM they start is recorded in a file
trap 'cat "$W"/*.pid 2>/dev/null | xargs -r kill 2>/dev/null; rm -rf "$W"' EXIT

flame() { "$FLAMESHOTD" flamegraph "$@"; }

caps() {
    need "[ -x '$FLAMESHOTD' ]" "build/flameshotd not built (make)"
    need "command -v java && command -v jfr && command -v jq" "needs a JDK (java, jfr) and jq"
    need "[ -f '$CLASSES/Burner.class' ] && [ -x '$BUILD/tests/helpers/jfr_collapse' ]" \
        "run make test-build first"
}

# A 4 s recording of Burner by the JVM's own Flight Recorder (dumped on exit).
jvm_jfr() {
    [ -s "$W/jvm.jfr" ] && return 0
    timeout 120 java -XX:StartFlightRecording=filename="$W/jvm.jfr",settings=profile \
        -cp "$CLASSES" Burner 4 >/dev/null 2>&1 && jfr summary "$W/jvm.jfr" >/dev/null
}

# The samples a JDK JFR holds for cpu, by the JDK's own tool.
jdk_cpu_samples() {
    jfr summary "$1" | awk '$1 == "jdk.ExecutionSample" || $1 == "jdk.NativeMethodSample" {n += $2}
        END {print n + 0}'
}

sum_collapsed() { awk '{n += $NF} END {print n + 0}' "$1"; }

# The CLI's collapsed output is the reader's samples, stack for stack
# (tests/helpers/jfr_collapse aggregates them on its own).
same_as_reader() { # JFR COLLAPSED EVENT
    "$BUILD/tests/helpers/jfr_collapse" --event "$3" "$1" 2>/dev/null | LC_ALL=C sort >"$2.reader" &&
        LC_ALL=C sort "$2" | cmp -s - "$2.reader" ||
        { LC_ALL=C sort "$2" | diff - "$2.reader" | head -5; echo "not the reader's stacks"; return 1; }
}

case_help_and_usage_errors() {
    caps
    flame --help >"$W/help" || { echo "--help did not exit 0"; return 1; }
    grep -q "usage: flameshotd flamegraph" "$W/help" || { cat "$W/help"; return 1; }
    "$FLAMESHOTD" --help | grep -q "flamegraph" || { echo "flameshotd --help does not name it"; return 1; }
    local args
    while IFS= read -r args; do
        eval "flame $args" >/dev/null 2>"$W/err"
        local rc=$?
        [ $rc = 2 ] || { echo "flamegraph $args: exit $rc, want 2"; cat "$W/err"; return 1; }
        grep -q "flameshotd flamegraph: " "$W/err" || { echo "$args: no message"; return 1; }
    done <<'EOF'

-o out.html
x.jfr
x.jfr -o out.html --event bogus
x.jfr -o out.html --from yesterday
x.jfr -o out.html --heatmap --diff y.jfr
x.jfr -o out.html --collapsed --heatmap
x.jfr y.jfr -o out.html
x.jfr -o out.html --no-such-option
x.jfr -o
EOF
}

case_unreadable_files_exit_1_with_the_reason() {
    caps
    head -c 4096 /dev/urandom >"$W/garbage.jfr"
    flame "$W/garbage.jfr" -o "$W/g.html" 2>"$W/err"
    local rc=$?
    [ $rc = 1 ] || { echo "garbage: exit $rc, want 1"; return 1; }
    grep -q "$W/garbage.jfr: neither a JFR file" "$W/err" || { cat "$W/err"; return 1; }
    [ ! -e "$W/g.html" ] || { echo "a page was written for garbage"; return 1; }
    { printf 'FLR\0'; head -c 200 /dev/urandom; } >"$W/badmagic.jfr"
    flame "$W/badmagic.jfr" -o "$W/g.html" 2>"$W/err"
    rc=$?
    [ $rc = 1 ] || { echo "FLR + garbage: exit $rc, want 1"; cat "$W/err"; return 1; }
    grep -q "$W/badmagic.jfr: " "$W/err" || { cat "$W/err"; return 1; }
    flame "$W/missing.jfr" -o "$W/g.html" 2>"$W/err"
    [ $? = 1 ] && grep -q "missing.jfr: No such file" "$W/err" || { cat "$W/err"; return 1; }
    ls "$W" | grep -q '\.tmp-' && { echo "a temporary file was left"; return 1; }
    return 0
}

case_jvm_jfr_collapsed_has_every_sample() {
    caps
    jvm_jfr || { echo "java did not record a JFR"; return 1; }
    flame "$W/jvm.jfr" -o "$W/jvm.collapsed" --collapsed 2>"$W/err" || { cat "$W/err"; return 1; }
    grep -q "event cpu (picked" "$W/err" || { echo "the picked event is not said"; cat "$W/err"; return 1; }
    local want got
    want=$(jdk_cpu_samples "$W/jvm.jfr")
    got=$(sum_collapsed "$W/jvm.collapsed")
    [ "$want" -gt 0 ] && [ "$got" = "$want" ] || { echo "collapsed $got samples, jfr summary $want"; return 1; }
    grep -Evq '^[^;]+(;[^;]+)* [0-9]+$' "$W/jvm.collapsed" &&
        { grep -Ev '^[^;]+(;[^;]+)* [0-9]+$' "$W/jvm.collapsed" | head -3; echo "not collapsed lines"; return 1; }
    grep -q 'Burner.flameshotBurnCpu [0-9]' "$W/jvm.collapsed" || { echo "no burning leaf"; return 1; }
    same_as_reader "$W/jvm.jfr" "$W/jvm.collapsed" cpu || return 1
    LC_ALL=C sort -c "$W/jvm.collapsed" ||
        { echo "not sorted by stack"; return 1; }
    flame "$W/jvm.jfr" -o - --collapsed --event cpu 2>/dev/null | cmp -s - "$W/jvm.collapsed" ||
        { echo "-o - differs from the file"; return 1; }
}

case_html_range_diff_heatmap_icicle() {
    caps
    jvm_jfr || { echo "java did not record a JFR"; return 1; }
    flame "$W/jvm.jfr" -o "$W/jvm.html" --title "Burner <cpu>" 2>"$W/err" || { cat "$W/err"; return 1; }
    grep -qi '<html' "$W/jvm.html" && grep -q 'flameshotBurnCpu' "$W/jvm.html" ||
        { echo "no page, or the burning method is not in it"; return 1; }
    grep -q 'Burner &lt;cpu&gt;' "$W/jvm.html" || { echo "the title is not escaped into the page"; return 1; }
    grep -Eq 'src=|href="?https?:' "$W/jvm.html" && { echo "the page loads something"; return 1; }
    flame "$W/jvm.jfr" -o "$W/range.collapsed" --collapsed --from 1 --to 2 2>"$W/err" || { cat "$W/err"; return 1; }
    local all part
    all=$(sum_collapsed "$W/jvm.collapsed")
    part=$(sum_collapsed "$W/range.collapsed")
    [ "$part" -gt 0 ] && [ "$part" -lt "$all" ] || { echo "range: $part of $all samples"; return 1; }
    flame "$W/jvm.jfr" -o "$W/none.html" --from 3600 2>"$W/err"
    [ $? = 1 ] && grep -q "no cpu samples in the range" "$W/err" || { cat "$W/err"; return 1; }
    flame "$W/jvm.jfr" -o "$W/range.html" --from 1 --to 2 2>"$W/err" && grep -qi '<html' "$W/range.html" ||
        { cat "$W/err"; echo "range page"; return 1; }
    flame "$W/jvm.jfr" -o "$W/diff.html" --diff "$W/jvm.jfr" 2>"$W/err" && grep -qi '<html' "$W/diff.html" ||
        { cat "$W/err"; echo "diff page"; return 1; }
    flame "$W/jvm.jfr" -o "$W/heat.html" --heatmap 2>"$W/err" && grep -qi '<html' "$W/heat.html" ||
        { cat "$W/err"; echo "heat map page"; return 1; }
    flame "$W/jvm.jfr" -o "$W/icicle.html" --icicle 2>"$W/err" && grep -qi '<html' "$W/icicle.html" ||
        { cat "$W/err"; echo "icicle page"; return 1; }
    flame "$W/jvm.collapsed" -o "$W/from-collapsed.collapsed" --collapsed 2>"$W/err" &&
        cmp -s "$W/jvm.collapsed" "$W/from-collapsed.collapsed" ||
        { cat "$W/err"; echo "collapsed in, collapsed out: not the same"; return 1; }
}

case_truncated_renders_the_complete_chunk() {
    caps
    jvm_jfr || { echo "java did not record a JFR"; return 1; }
    # a JFR is a sequence of chunks: two recordings end to end are one file
    cat "$W/jvm.jfr" "$W/jvm.jfr" >"$W/two.jfr"
    local one; one=$(stat -c %s "$W/jvm.jfr")
    head -c $((one + one / 2)) "$W/two.jfr" >"$W/cut.jfr"
    flame "$W/cut.jfr" -o "$W/cut.collapsed" --collapsed 2>"$W/err" || { cat "$W/err"; echo "exit $?"; return 1; }
    grep -q "warning: $W/cut.jfr is truncated" "$W/err" || { cat "$W/err"; echo "no warning"; return 1; }
    cmp -s "$W/cut.collapsed" "$W/jvm.collapsed" || { echo "not the first chunk's samples"; return 1; }
    flame "$W/cut.jfr" -o "$W/cut.html" 2>/dev/null && grep -qi '<html' "$W/cut.html" || { echo "no page"; return 1; }
}

case_runs_as_nobody_without_config_or_daemon() {
    caps
    jvm_jfr || { echo "java did not record a JFR"; return 1; }
    need "command -v setpriv" "needs setpriv (util-linux)"
    mkdir -p "$W/nobody" && chmod 777 "$W/nobody" && chmod 644 "$W/jvm.jfr"
    env -i PATH=/usr/bin:/bin FLAMESHOT_MODE=bogus FLAMESHOT_BPF=required FLAMESHOT_HTTP_LOCAL_PORT=1 \
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        "$FLAMESHOTD" flamegraph "$W/jvm.jfr" -o "$W/nobody/p.html" 2>"$W/err" ||
        { cat "$W/err"; return 1; }
    grep -qi '<html' "$W/nobody/p.html" || { echo "no page"; return 1; }
    grep -Eq 'config|bpf|listening' "$W/err" && { cat "$W/err"; echo "it did more than render"; return 1; }
    return 0
}

# async-profiler: cpu samples of Workload, recorded by asprof itself.
asprof_jfr() {
    [ -s "$W/asprof.jfr" ] && return 0
    java -cp "$CLASSES" Workload >"$W/workload.out" 2>&1 &
    local jp=$! i
    echo "$jp" >"$W/workload.pid"
    for i in $(seq 1 300); do
        grep -q "Workload started" "$W/workload.out" && break
        sleep 0.1
    done
    "$ASPROF_HOME/bin/asprof" -d 4 -e cpu -i 1ms -f "$W/asprof.jfr" "$jp" >"$W/asprof.out" 2>&1
    kill "$jp" 2>/dev/null
    wait "$jp" 2>/dev/null
    [ -s "$W/asprof.jfr" ] || { cat "$W/asprof.out"; return 1; }
}

case_asprof_jfr_collapsed_equals_jfrconv() {
    caps
    local why
    why=$(asprof_ensure) || { echo "$why"; [ "${CI:-}" = true ] && return 1; return 77; }
    asprof_ensure >/dev/null
    asprof_jfr || { echo "async-profiler did not record"; return 1; }
    flame "$W/asprof.jfr" -o "$W/asprof.collapsed" --collapsed --event cpu 2>"$W/err" || { cat "$W/err"; return 1; }
    "$ASPROF_HOME/bin/jfrconv" --cpu -o collapsed "$W/asprof.jfr" "$W/jfrconv.collapsed" >/dev/null 2>&1 ||
        "$ASPROF_HOME/bin/jfrconv" --collapsed "$W/asprof.jfr" "$W/jfrconv.collapsed" ||
        { echo "jfrconv failed"; return 1; }
    local ours theirs
    ours=$(sum_collapsed "$W/asprof.collapsed")
    theirs=$(sum_collapsed "$W/jfrconv.collapsed")
    [ "$ours" -gt 0 ] && [ "$ours" = "$theirs" ] || { echo "samples: ours $ours, jfrconv $theirs"; return 1; }
    grep -q 'flameshotBurnCpu' "$W/asprof.collapsed" || { echo "no burning method"; return 1; }
    same_as_reader "$W/asprof.jfr" "$W/asprof.collapsed" cpu || return 1
    # stack for stack, modulo naming: jfrconv keeps frame-type suffixes
    # (_[k] kernel, _[j] JIT...), which the reader leaves out unless asked
    # (JFR_OPT_ANNOTATE, flame/jfr.h)
    sed -E 's/_\[[a-z0-9]\]//g; s/^(.*) ([0-9]+)$/\1\t\2/' "$W/jfrconv.collapsed" |
        awk -F'\t' '{n[$1] += $2} END {for (s in n) print s " " n[s]}' | LC_ALL=C sort >"$W/jfrconv.sorted"
    LC_ALL=C sort "$W/asprof.collapsed" >"$W/asprof.sorted"
    diff "$W/asprof.sorted" "$W/jfrconv.sorted" >"$W/asprof.diff" ||
        { head -20 "$W/asprof.diff" | cut -c1-300; echo "our collapsed output differs from jfrconv's"; return 1; }
    flame "$W/asprof.jfr" -o "$W/asprof.html" 2>"$W/err" && grep -qi '<html' "$W/asprof.html" ||
        { cat "$W/err"; echo "no page"; return 1; }
    flame "$W/asprof.jfr" -o "$W/asprof-heat.html" --heatmap 2>"$W/err" || { cat "$W/err"; return 1; }
}

t_case "--help; usage errors exit 2 with a message" case_help_and_usage_errors
t_case "garbage, a bad JFR, a missing file: exit 1 naming the file and why" case_unreadable_files_exit_1_with_the_reason
t_case "JVM JFR: --collapsed carries every cpu sample jfr summary counts, sorted" case_jvm_jfr_collapsed_has_every_sample
t_case "JVM JFR: HTML, range, diff, heat map, icicle, collapsed in and out" case_html_range_diff_heatmap_icicle
t_case "a truncated JFR renders its complete chunk with a warning" case_truncated_renders_the_complete_chunk
t_case "runs as nobody, ignoring FLAMESHOT_* (no daemon, no BPF)" case_runs_as_nobody_without_config_or_daemon
t_case "async-profiler JFR: --collapsed equals jfrconv's, pages written" case_asprof_jfr_collapsed_equals_jfrconv
t_done
