#!/bin/bash
# Active heap dumps on a memory emergency (FLAMESHOT_HEAP_DUMP_ENABLED) and
# the profiling switch (FLAMESHOT_PROFILING_ENABLED=false), with real
# namespaced non-root JVMs:
# - a JVM crossing its emergency threshold gets its thread dump and class
#   histogram first, then a heap dump (GC.heap_dump through the attach
#   protocol, no JDK in the agent) that ends as a valid HPROF on the node,
#   gone from the container, with its flameshot_oom_hprof record; then the
#   emergency profile;
# - a dump that would not fit the container's filesystem (its
#   HeapDumpPath on a small tmpfs) is refused, with the reason;
# - the cooldown is per process;
# - with profiling off: HTTP 409, no timed or threshold profile, while the
#   snapshots and the heap dump are still taken.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-heapdump-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq && command -v nsenter" "needs java, jq and nsenter"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Leaker.class' ]" "run make test-build first"
}

# leaker NAME MARK [JVM flags...]: a JVM that leaks MARK's MiB (the rule's
# regex names MARK), waiting for /tmp/go in its container
leaker() {
    local name=$1 mark=$2; shift 2
    ct_start "$name" -- /usr/bin/java -Xmx256m -XX:+UseSerialGC "$@" -cp "$CLASSES" \
        Leaker $mark || return 1
    ct_wait_output "$name" "Leaker started" 30
}

go() { touch "/proc/$(ct_pid "$1")/root/tmp/go"; }

# wait_count GLOB N [secs]: until at least N files match GLOB (records and
# snapshots reach the local sink through the outbox, after the job)
wait_count() {
    local i n=0
    for i in $(seq 1 $((${3:-20} * 10))); do
        # shellcheck disable=SC2086
        n=$(ls $1 2>/dev/null | wc -l)
        [ "$n" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "$n of $2 files matching $1"
    return 1
}

# the record of a heap dump of daemon D's service S whose reason is R
dump_record() {
    d_wait_json "$(d_profiles "$1")/host/$2/oom_hprof_*.json" \
        ".summary.fields.matched_by == \"$4\" and .summary.fields.reason == \"$3\"" "${5:-60}"
}

# the jobs of pid P on daemon D, as [{capture, started, finished, state}]
jobs_of() {
    d_api "$1" /v1/jobs >/dev/null
    jq --argjson p "$2" '[.jobs[] | select(.target.pid == $p) |
        {capture, trigger, state, started, finished}]' "$D_BODY"
}

case_emergency_evidence_in_order_and_the_dump_on_the_node() {
    caps
    d_start hd FLAMESHOT_HEAP_DUMP_ENABLED=true \
        FLAMESHOT_PROCESSES='[{"service":"leaker","command":"Leaker 40 go 80$","mem_usage_mb_emergency":100,"emergency_duration":"2s"}]' ||
        return 1
    leaker hd "40 go 80" || return 1
    local pid ns
    pid=$(ct_pid hd); ns=$(ct_nspid hd)
    d_wait_log hd "watching pid $pid " 20 || return 1
    go hd
    local rec
    rec=$(dump_record hd leaker ok memory_emergency) || { d_log hd | tail -20; return 1; }
    local f; f=$(jq -r .summary.fields.hprof_path "$rec")
    case $f in "$(d_data hd)"/dumps/leaker__"${ns}"_*.hprof.gz) ;; *) echo "dump at $f"; return 1 ;; esac
    [ -f "$f" ] || { echo "no file at $f"; return 1; }
    [ "$(gzip -dc "$f" | head -c 18)" = "JAVA PROFILE 1.0.2" ] ||
        { echo "not an HPROF: $(gzip -dc "$f" | head -c 32 | od -c | head -2)"; return 1; }
    gzip -t "$f" || { echo "a truncated gzip"; return 1; }
    jq -e --argjson s "$(stat -c %s "$f")" '.summary.measurement == "flameshot_oom_hprof" and
        .summary.fields.hprof_size_bytes == $s and .summary.fields.heap_dump_status == "ok" and
        .summary.fields.compressed == true and .summary.fields.heap_used_bytes > 50000000 and
        .summary.tags.trigger == "memory_emergency" and
        (.summary.fields.container_path | startswith("/tmp/.flameshot-10001/flameshot-heapdump-")) and
        (.summary.fields.message | contains("heap dump generated"))' "$rec" >/dev/null ||
        { jq .summary "$rec"; return 1; }
    # gone from the container
    local left
    left=$(ls "/proc/$pid/root/tmp/.flameshot-10001/" | grep heapdump)
    [ -z "$left" ] || { echo "left in the container: $left"; return 1; }
    # snapshots, then the dump, then the profile
    local dir; dir=$(d_profiles hd)/host/leaker
    d_wait_file "$dir/jcmd_gc_class_histogram_${ns}_*.txt" 20 >/dev/null || return 1
    d_wait_file "$dir/jcmd_thread_print_${ns}_*.txt" 20 >/dev/null || return 1
    local i j
    for i in $(seq 1 300); do
        j=$(jobs_of hd "$pid")
        jq -e 'map(select(.capture == "profile" and .finished != null)) | length >= 1' <<<"$j" >/dev/null && break
        sleep 0.1
    done
    jq -e '
        (map(select(.capture == "snapshot" and .trigger == "memory_emergency")) | min_by(.started)) as $s |
        (map(select(.capture == "heap_dump")) | .[0]) as $d |
        (map(select(.capture == "profile" and .trigger == "memory_emergency")) | min_by(.started)) as $p |
        $s.finished <= $d.started and $d.state == "done" and $d.finished <= $p.started and
        (map(select(.capture == "heap_dump")) | length == 1)' <<<"$j" >/dev/null ||
        { echo "jobs out of order: $j"; return 1; }
    d_stop hd && ct_stop hd
}

case_a_dump_the_container_cannot_hold_is_refused() {
    caps
    d_start small FLAMESHOT_HEAP_DUMP_ENABLED=true \
        FLAMESHOT_PROCESSES='[{"service":"small","command":"Leaker 41 go 80$","mem_usage_mb_emergency":100,"emergency_duration":"2s"}]' ||
        return 1
    leaker small "41 go 80" -XX:HeapDumpPath=/tmp/small || return 1
    local pid; pid=$(ct_pid small)
    # a small volume at the JVM's dump path, as a 32 MiB emptyDir would be
    nsenter -t "$pid" -m -- sh -c 'mkdir -p /tmp/small && mount -t tmpfs -o size=32m,mode=1777 tmpfs /tmp/small' ||
        return 1
    d_wait_log small "watching pid $pid " 20 || return 1
    go small
    local rec
    rec=$(dump_record small small no_space memory_emergency) || { d_log small | tail -20; return 1; }
    jq -e '.summary.fields.hprof_path == "" and .summary.fields.hprof_size_bytes == 0 and
        .summary.fields.heap_dump_status == "failed" and
        (.summary.fields.heap_dump_error | contains("not enough space in the container at /tmp/small")) and
        (.summary.fields.heap_dump_error | test("needs [0-9]+ MiB free")) and
        (.summary.fields.message | contains("heap dump failed"))' "$rec" >/dev/null ||
        { jq .summary "$rec"; return 1; }
    [ -z "$(ls "/proc/$pid/root/tmp/small")" ] || { ls -la "/proc/$pid/root/tmp/small"; return 1; }
    [ -z "$(ls "$(d_data small)/dumps" 2>/dev/null)" ] || { ls -la "$(d_data small)/dumps"; return 1; }
    d_stop small && ct_stop small
}

case_the_cooldown_is_per_process() {
    caps
    # the emergency fires every 2 s; the heap dump's cooldown (10m) holds
    d_start cool FLAMESHOT_TEST_SHORT_INTERVALS=true FLAMESHOT_HEAP_DUMP_ENABLED=true \
        FLAMESHOT_PROCESSES='[{"service":"cool","command":"Leaker 42 go 80$","mem_usage_mb_emergency":100,"emergency_duration":"1s","cooldown":"2s"}]' ||
        return 1
    leaker a "42 go 80" || return 1
    leaker b "42 go 80" || return 1
    local pa pb
    pa=$(ct_pid a); pb=$(ct_pid b)
    d_wait_log cool "watching pid $pa " 20 && d_wait_log cool "watching pid $pb " 20 || return 1
    go a
    dump_record cool cool ok memory_emergency >/dev/null || { d_log cool | tail -20; return 1; }
    # two more emergencies of a: queued profiles, no second dump
    local i n=0
    for i in $(seq 1 300); do
        n=$(d_log cool | grep -c "queued: profile of pid $pa, trigger memory_emergency")
        [ "$n" -ge 3 ] && break
        sleep 0.1
    done
    [ "$n" -ge 3 ] || { echo "only $n emergencies of pid $pa"; return 1; }
    [ "$(d_log cool | grep -c "queued: heap_dump of pid $pa,")" = 1 ] ||
        { d_log cool | grep "heap_dump of"; return 1; }
    # b's own emergency gets its own dump
    go b
    d_wait_log cool "queued: heap_dump of pid $pb," 60 || return 1
    d_wait_log cool "pid $pb: heap dump ok at " 60 || { d_log cool | tail -20; return 1; }
    wait_count "$(d_profiles cool)/host/cool/oom_hprof_*.json" 2 || return 1
    [ "$(ls "$(d_profiles cool)"/host/cool/oom_hprof_*.json | wc -l)" = 2 ] || return 1
    [ "$(ls "$(d_data cool)"/dumps/cool__*.hprof.gz | wc -l)" = 2 ] || return 1
    d_stop cool && ct_stop a && ct_stop b
}

case_profiling_off_keeps_snapshots_and_dumps() {
    caps
    # every trigger would ask for a profile: the timer (2 s), the CPU
    # threshold and the emergency
    D_LOG_LEVEL=debug d_start off FLAMESHOT_TEST_SHORT_INTERVALS=true \
        FLAMESHOT_PROFILING_ENABLED=false FLAMESHOT_HEAP_DUMP_ENABLED=true FLAMESHOT_AUTO_PROFILING=2s \
        FLAMESHOT_AUTO_PROFILING_DURATION=1s \
        FLAMESHOT_PROCESSES='[{"service":"off","command":"Leaker 43 go 80$","cpu_usage_percent":0.01,"mem_usage_mb_emergency":100,"emergency_duration":"1s"}]' ||
        return 1
    leaker off "43 go 80" || return 1
    local pid; pid=$(ct_pid off)
    d_wait_log off "watching pid $pid " 20 || return 1
    d_expect off 200 /v1/status '.config.profiling_enabled == false' || return 1
    d_expect off 409 "/v1/profile?pid=$pid&duration=2s" '.error == "profiling disabled" and
        (.detail | contains("FLAMESHOT_PROFILING_ENABLED=false")) and .queued == 0' || return 1
    d_expect off 202 "/v1/snapshot?pid=$pid" '.queued == 1' || return 1
    # the timer and the CPU threshold (the JVM polls for /tmp/go) fire
    local t
    for t in auto cpu; do
        d_wait_log off "pid $pid: $t profile not queued: FLAMESHOT_PROFILING_ENABLED=false" 30 || return 1
    done
    go off
    dump_record off off ok memory_emergency >/dev/null || { d_log off | tail -20; return 1; }
    d_wait_log off "pid $pid: memory_emergency profile not queued: FLAMESHOT_PROFILING_ENABLED=false" 30 ||
        return 1
    local ns; ns=$(ct_nspid off)
    wait_count "$(d_profiles off)/host/off/jcmd_thread_print_${ns}_*.txt" 2 ||
        { ls "$(d_profiles off)"/host/off; return 1; }
    d_api off /v1/jobs >/dev/null
    jq -e '[.jobs[] | select(.capture == "profile")] | length == 0' "$D_BODY" >/dev/null ||
        { jq '.jobs' "$D_BODY"; return 1; }
    [ -z "$(find "$(d_profiles off)" -name '*.jfr')" ] || return 1
    d_stop off && ct_stop off
}

t_case "emergency: snapshots, then the heap dump (a valid HPROF on the node, gone from the container), then the profile" \
    case_emergency_evidence_in_order_and_the_dump_on_the_node
t_case "a dump the container's filesystem cannot hold is refused with the reason" \
    case_a_dump_the_container_cannot_hold_is_refused
t_case "the heap-dump cooldown is per process" case_the_cooldown_is_per_process
t_case "FLAMESHOT_PROFILING_ENABLED=false: HTTP 409, no timed or threshold profile, snapshots and dumps go on" \
    case_profiling_off_keeps_snapshots_and_dumps
t_done
