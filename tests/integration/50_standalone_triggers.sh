#!/bin/bash
# Standalone mode end to end: build/flameshotd watching namespaced JVMs
# (tests/lib/container.sh) does what Flameshot's sidecar does, driven by
# kernel events, with no HTTP call: CPU threshold on the 5-point average,
# single-hit emergencies, cooldowns, timed profiles, jcmd snapshots and an
# emergency profile when a container's memory climbs to its limit, and a
# clean shutdown that keeps what a running capture had.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-e2e-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jfr && command -v jq" "needs a JDK (java, jfr) and jq"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Climber.class' ]" "run make test-build first"
}

# start_java NAME MARKER [ct_start options --] java args...: waits for MARKER
start_java() {
    local name=$1 marker=$2; shift 2
    ct_start "$name" "$@" || return 1
    ct_wait_output "$name" "$marker" 10
}

# epoch seconds (with ms) of the first log line matching a regex
log_time() {
    local t
    t=$(grep -Em1 "$2" "$D_DIR/$1/log" | sed -E 's/^ts=([^ ]+) .*/\1/') || return 1
    [ -n "$t" ] && date -d "$t" +%s.%N
}


sidecar_tags() { jq -r .tags_profiler "$1.json"; }
count_log() { grep -Ec "$2" "$D_DIR/$1/log"; }

case_cpu_threshold_fires_on_five_point_average() {
    caps
    start_java cpu "Burner started" -- /usr/bin/java -cp "$CLASSES" Burner 86401 || return 1
    local pid; pid=$(ct_pid cpu)
    d_start cpu FLAMESHOT_MONITOR_INTERVAL=500ms FLAMESHOT_PROCESSES='[{"service":"burner","command":"Burner 86401$","cpu_usage_percent":50,"duration":"2s"}]' || return 1
    d_wait_log cpu "job [0-9]+ queued: profile of pid $pid, trigger cpu" 20 || return 1
    local t0 t1
    t0=$(log_time cpu "watching pid $pid") && t1=$(log_time cpu "queued: profile of pid $pid, trigger cpu") || return 1
    # one priming read, then five samples 500 ms apart: not before 2.5 s
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 2.4) }' ||
        { echo "fired after $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')s: before 5 samples"; return 1; }
    local f; f=$(d_wait_file "$(d_profiles cpu)/host/burner/profile_*.jfr" 30) || return 1
    jfr summary "$f" >/dev/null || { echo "jfr summary rejects $f"; return 1; }
    jfr print --events jdk.ExecutionSample "$f" | grep -q flameshotBurnCpu ||
        { echo "no flameshotBurnCpu sample"; return 1; }
    sidecar_tags "$f" | grep -q 'trigger:cpu' && sidecar_tags "$f" | grep -Eq 'cpu_avg:[0-9]+\.[0-9]{2}' ||
        { echo "tags: $(sidecar_tags "$f")"; return 1; }
    # still above the threshold, but the 1m cooldown holds the next one back
    sleep 6
    [ "$(count_log cpu "queued: profile of pid $pid, trigger cpu")" = 1 ] ||
        { echo "cooldown did not hold"; grep queued "$D_DIR/cpu/log"; return 1; }
    d_stop cpu || { echo "exit status $?"; return 1; }
}

case_emergency_fires_on_one_hit() {
    caps
    start_java emerg "Burner started" -- /usr/bin/java -cp "$CLASSES" Burner 86402 || return 1
    local pid; pid=$(ct_pid emerg)
    d_start emerg FLAMESHOT_PROCESSES='[{"service":"emerg","command":"Burner 86402$","mem_usage_mb_emergency":20,"emergency_duration":"2s"}]' || return 1
    d_wait_log emerg "queued: profile of pid $pid, trigger memory_emergency" 10 || return 1
    local t0 t1
    t0=$(log_time emerg "watching pid $pid") && t1=$(log_time emerg "trigger memory_emergency") || return 1
    # the kernel watermark fires at once: no 5-sample wait, no next tick
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1.0) }' ||
        { echo "emergency took $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')s"; return 1; }
    local f; f=$(d_wait_file "$(d_profiles emerg)/host/emerg/profile_*.jfr" 30) || return 1
    sidecar_tags "$f" | grep -q 'trigger:memory_emergency' &&
        sidecar_tags "$f" | grep -Eq 'mem_used_emergency:[0-9.]+' || { echo "tags: $(sidecar_tags "$f")"; return 1; }
    jq -e '.artefact.end_ns - .artefact.start_ns < 6000000000' "$f.json" >/dev/null 2>&1 ||
        jq -r '.artefact | "\(.start_ns) \(.end_ns)"' "$f.json"
    sleep 4 # still above: the 30s emergency cooldown holds
    [ "$(count_log emerg "trigger memory_emergency")" = 1 ] || { echo "cooldown did not hold"; return 1; }
    d_stop emerg
}

case_auto_profiling_on_schedule() {
    caps
    start_java auto "Burner started" -- /usr/bin/java -cp "$CLASSES" Burner 86403 || return 1
    local pid; pid=$(ct_pid auto)
    # FLAMESHOT_TEST_SHORT_INTERVALS: the documented test-only override of the 1m minimum
    d_start auto FLAMESHOT_TEST_SHORT_INTERVALS=1 FLAMESHOT_AUTO_PROFILING=4s FLAMESHOT_AUTO_PROFILING_DURATION=1s \
        FLAMESHOT_PROCESSES='[{"service":"auto","command":"Burner 86403$"}]' || return 1
    # every firing counts, queued or held back because the previous timed
    # profile of this JVM was still running (captures never overlap)
    local fired="(queued: profile of pid $pid, trigger auto|pid $pid: auto trigger not queued)"
    local i
    for i in $(seq 1 200); do
        [ "$(count_log auto "$fired")" -ge 3 ] && break
        sleep 0.1
    done
    local times; times=$(grep -E "$fired" "$D_DIR/auto/log" |
        sed -E 's/^ts=([^ ]+) .*/\1/' | while read -r t; do date -d "$t" +%s.%N; done)
    [ "$(echo "$times" | wc -l)" -ge 3 ] || { echo "auto triggers: $(echo "$times" | wc -l)"; return 1; }
    echo "$times" | awk 'NR > 1 { d = $1 - p; if (d < 3.5 || d > 5.5) bad = 1 } { p = $1 } END { exit bad }' ||
        { echo "not every 4s: $times"; return 1; }
    [ "$(count_log auto "queued: profile of pid $pid, trigger auto")" -ge 1 ] || return 1
    local f; f=$(d_wait_file "$(d_profiles auto)/host/auto/profile_*.jfr" 20) || return 1
    sidecar_tags "$f" | grep -q 'trigger:auto' || { echo "tags: $(sidecar_tags "$f")"; return 1; }
    d_stop auto
}

# A JVM whose memory climbs in a memory cgroup with a limit gets its jcmd
# snapshots and an emergency profile, with no HTTP call.
memory_climb() {
    local name=$1 bpf=$2 max=$3
    caps
    # 512 MiB limit, high-water mark at 60%: the climb to ~300 MiB of heap
    # crosses it with ~100 MiB to spare before the kernel would kill
    start_java "$name" "Climber started" --mem-limit 536870912 -- \
        /usr/bin/java -XX:+UseSerialGC -Xms16m -Xmx400m -cp "$CLASSES" Climber 16 250 "$max" || return 1
    local pid ns; pid=$(ct_pid "$name"); ns=$(ct_nspid "$name")
    # the static threshold alone: the lead time (tests/integration/51_memory_lead.sh)
    # would fire first at this rate
    d_start "$name" FLAMESHOT_BPF="$bpf" FLAMESHOT_EVIDENCE_LEAD=0 FLAMESHOT_PROCESSES='[{"service":"climber","command":"Climber 16 250 '"$max"'$","mem_usage_percent_emergency":60,"emergency_duration":"2s"}]' || return 1
    local dir; dir=$(d_profiles "$name")/host/climber
    local h t p
    h=$(d_wait_file "$dir/jcmd_gc_class_histogram_${ns}_*.txt" 60) || { d_log "$name" | tail -20; return 1; }
    t=$(d_wait_file "$dir/jcmd_thread_print_${ns}_*.txt" 30) || return 1
    p=$(d_wait_file "$dir/profile_${ns}_*.jfr" 30) || return 1
    grep -q '\[B ' "$h" || { echo "histogram without byte[]"; return 1; }
    grep -q 'Climber' "$t" || { echo "thread dump without Climber"; return 1; }
    jq -e --arg n "$(basename "$h")" '.summary.fields.snapshot_type == "gc_class_histogram" and
        (.summary.fields.output_path | endswith($n)) and (.summary.fields.preview | length > 0)' "$h.json" >/dev/null ||
        { jq . "$h.json"; return 1; }
    jq -e '.summary.tags.trigger == "cgroup_memory_pressure" and .summary.fields.cgroup_mem_percent >= 60' "$h.json" >/dev/null ||
        { jq .summary "$h.json"; return 1; }
    sidecar_tags "$p" | grep -Eq 'trigger:(memory_emergency|cgroup_memory_pressure)' ||
        { echo "profile tags: $(sidecar_tags "$p")"; return 1; }
    jfr summary "$p" >/dev/null || return 1
    local src=bpf; [ "$bpf" = off ] && src=poller
    d_log "$name" | grep -q "module=daemon msg=\"event source: $src" ||
        { echo "wrong event source"; d_log "$name" | grep 'event source'; return 1; }
    [ "$(d_log "$name" | grep -c 'watching pid')" = 1 ] ||
        { echo "more than the JVM watched:"; d_log "$name" | grep 'watching pid'; return 1; }
    d_stop "$name" && ct_stop "$name"
}
case_memory_climb_bpf() { memory_climb climb-bpf auto 300; }
case_memory_climb_poller() { memory_climb climb-poll off 304; }

case_sigterm_keeps_a_partial_profile_and_leaves_nothing_behind() {
    caps
    start_java term "Burner started" -- /usr/bin/java -cp "$CLASSES" Burner 86404 || return 1
    local pid; pid=$(ct_pid term)
    d_start term FLAMESHOT_PROCESSES='[{"service":"term","command":"Burner 86404$","mem_usage_mb_emergency":20,"emergency_duration":"60s"}]' || return 1
    d_wait_log term "job [0-9]+: profile of pid $pid" 10 || return 1
    # stop once the recording runs (JFR.start of a fresh JVM takes seconds),
    # and once it has recorded a little
    local i
    for i in $(seq 1 300); do
        setpriv --reuid "$CT_UID" --regid "$CT_UID" --clear-groups jcmd "$pid" JFR.check 2>/dev/null |
            grep -q 'name=flameshot-' && break
        sleep 0.1
    done
    sleep 2
    local t0; t0=$(date +%s)
    d_stop term || { echo "exit status $? after SIGTERM"; d_log term | tail; return 1; }
    [ $(($(date +%s) - t0)) -lt 20 ] || { echo "shutdown took too long"; return 1; }
    d_log term | grep -q "job [0-9]*: cancelled" || { d_log term | tail -20; return 1; }
    local f; f=$(d_wait_file "$(d_profiles term)/host/term/profile_*.jfr" 1) || return 1
    jfr summary "$f" >/dev/null || { echo "partial JFR unreadable"; return 1; }
    [ -z "$(find "$D_DIR/term/data" -name '.tmp-*' -o -name '*.tmp.*')" ] ||
        { echo "half-written files left:"; find "$D_DIR/term/data" -name '.tmp-*'; return 1; }
    [ -z "$(find "$(ct_root term)/tmp" -name '*.jfr' 2>/dev/null)" ] ||
        { echo "JFR left in the container"; find "$(ct_root term)/tmp"; return 1; }
}

case_exec_becomes_a_target_quickly_and_exit_removes_it() {
    caps
    d_start exec FLAMESHOT_PROCESSES='[{"service":"exec","command":"Burner 86405$"}]' || return 1
    local worst=0 i
    for i in 1 2 3; do
        # the stamp is taken just before execve of the JVM
        sh -c "date +%s.%N > '$WORK/stamp'; exec /usr/bin/java -cp '$CLASSES' Burner 86405" \
            >/dev/null 2>&1 &
        local pid=$!
        d_wait_log exec "watching pid $pid " 5 || return 1
        local t1 ms; t1=$(log_time exec "watching pid $pid ")
        ms=$(awk -v a="$(cat "$WORK/stamp")" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
        [ "$ms" -gt "$worst" ] && worst=$ms
        kill -KILL "$pid"; wait "$pid" 2>/dev/null
        d_wait_log exec "pid $pid \\(java\\) exited: code 0 signal 9" 5 || return 1
    done
    echo "# worst exec-to-target latency: ${worst} ms"
    [ "$worst" -lt 100 ] || { echo "exec to target took ${worst} ms"; return 1; }
    d_stop exec
}

t_case "exec of a matching JVM becomes a target in under 100 ms; exit removes it" case_exec_becomes_a_target_quickly_and_exit_removes_it
t_case "cpu threshold fires on the 5-point average, not before; cooldown holds" case_cpu_threshold_fires_on_five_point_average
t_case "memory emergency fires on one hit from the kernel watermark" case_emergency_fires_on_one_hit
t_case "auto-profiling fires on schedule" case_auto_profiling_on_schedule
t_case "memory climb: jcmd snapshots and an emergency profile (BPF)" case_memory_climb_bpf
t_case "memory climb: jcmd snapshots and an emergency profile (poller)" case_memory_climb_poller
t_case "SIGTERM: the running profile is kept, nothing half-written" case_sigterm_keeps_a_partial_profile_and_leaves_nothing_behind
t_done
