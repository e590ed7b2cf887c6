#!/bin/bash
# The user's real problem, end to end: a namespaced JVM (-Xmx2g, so the
# kernel kills it, not the JVM) leaks 50 MB/s into a 512 MiB memory cgroup
# until the kernel's OOM killer ends it, watched by the agent in BPF mode
# with its defaults (attach pre-warm, 3 s evidence lead) and the rule
# `mem_usage_percent_emergency: 80, emergency_duration: 5s`. Both snapshot
# files (the thread dump and the class histogram) are complete on disk
# before the kill, and the kill's process-exit record names them.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-before-kill-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq && command -v python3" "needs java, jq and python3"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Leaker.class' ]" "run make test-build first"
}

# mtime of a file as seconds since the epoch, with fractions
mtime() { stat -c %.6Y "$1"; }
before() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

case_both_snapshots_land_before_the_kill() {
    caps
    d_start kill FLAMESHOT_BPF=on \
        FLAMESHOT_PROCESSES='[{"service":"leaker","command":"Leaker 50 ","mem_usage_percent_emergency":80,"emergency_duration":"5s"}]' ||
        return 1
    ct_start leaker --mem-limit 536870912 -- /usr/bin/java -Xmx2g -cp "$CLASSES" Leaker 50 go ||
        return 1
    ct_wait_output leaker "Leaker started" 30 || return 1
    local pid ns cg
    pid=$(ct_pid leaker); ns=$(ct_nspid leaker); cg=$(ct_cgroup leaker)
    d_wait_log kill "watching pid $pid " 20 || return 1
    d_log kill | grep -q "event source: bpf" || { d_log kill | head -20; echo "not in BPF mode"; return 1; }
    # the listener is warm before the leak starts, as for any JVM watched
    # for 3 s (what the default pre-warm does)
    local i
    for i in $(seq 1 200); do
        [ "$(d_metric kill flameshot_attach_prewarmed_total)" = 1 ] && break
        sleep 0.1
    done
    [ "$(d_metric kill flameshot_attach_prewarmed_total)" = 1 ] || { echo "not pre-warmed"; return 1; }
    ct_watch_exit "$pid" "$WORK/exit" &
    local watcher=$!
    touch "/proc/$pid/root/tmp/go"
    wait "$watcher"
    local exit_t; exit_t=$(cat "$WORK/exit")
    [ "$(awk '$1 == "oom_kill" {print $2}' "$cg/memory.oom_control")" = 1 ] ||
        { cat "$cg/memory.oom_control"; ct_output leaker | tail -5; echo "not killed by the OOM killer"; return 1; }
    local dir; dir=$(d_profiles kill)/host/leaker
    local h t
    h=$(d_wait_file "$dir/jcmd_gc_class_histogram_${ns}_*.txt" 20) || { d_log kill | tail -20; return 1; }
    t=$(d_wait_file "$dir/jcmd_thread_print_${ns}_*.txt" 20) || { d_log kill | tail -20; return 1; }
    before "$(mtime "$h")" "$exit_t" || { echo "histogram written $(mtime "$h"), exit $exit_t"; return 1; }
    before "$(mtime "$t")" "$exit_t" || { echo "thread dump written $(mtime "$t"), exit $exit_t"; return 1; }
    jq -e '.summary.fields.complete == true and
        (.summary.tags.trigger | test("^(memory_lead|cgroup_memory_pressure|memory_emergency)$"))' \
        "$h.json" "$t.json" >/dev/null || { jq .summary "$h.json" "$t.json"; return 1; }
    grep -q '\[B ' "$h" || { echo "histogram without byte[]"; head "$h"; return 1; }
    grep -q 'Leaker.flameshotLeak\|Leaker.main' "$t" || { echo "thread dump without Leaker"; head "$t"; return 1; }
    local ex
    ex=$(d_wait_json "$dir/process_exit_*.json" '.summary.fields.suspected_reason == "oom_kill"' 20) ||
        return 1
    jq -e --arg h "$(basename "$h")" --arg t "$(basename "$t")" \
        '.summary.fields.recent_snapshots | contains($h) and contains($t)' "$ex" >/dev/null ||
        { jq .summary.fields "$ex"; return 1; }
    d_stop kill && ct_stop leaker
}

t_case "a 50 MB/s leak into 512 MiB: both snapshots complete on disk before the OOM kill (BPF)" \
    case_both_snapshots_land_before_the_kill
t_done
