#!/bin/bash
# OOM .hprof recovery end to end (FLAMESHOT_OOM_HPROF_ENABLED): a
# namespaced JVM with -XX:+HeapDumpOnOutOfMemoryError and a dump path in a
# directory shared with the host fills its heap (HotSpot writes the dump),
# then grows native memory until the memory cgroup's OOM killer ends it.
# The flameshot_oom_hprof record names the right file and size, found after
# the JVM and its namespaces are gone; without the flags the record says
# why nothing was found; the kill also gets a flameshot_process_exit record.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-oom-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq" "needs java and jq"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/OomApp.class' ]" "run make test-build first"
}

# run_oomapp NAME MARK [JVM flags...]: the daemon first, then the JVM (it
# waits 4 s before filling its heap, so the daemon has armed everything)
run_oomapp() {
    local name=$1 mark=$2; shift 2
    mkdir -p "$WORK/$name"; chmod 1777 "$WORK/$name"
    d_start "$name" FLAMESHOT_OOM_HPROF_ENABLED=true \
        FLAMESHOT_PROCESSES='[{"service":"oomapp","command":"OomApp '"$mark"'$"}]' || return 1
    ct_start "$name" --mem-limit 268435456 --share "$WORK/$name" -- \
        /usr/bin/java -Xmx48m -XX:+UseSerialGC -XX:MaxDirectMemorySize=2g -Doomapp.delay=4000 \
        "$@" -cp "$CLASSES" OomApp "$mark" || return 1
    NS=$(ct_nspid "$name")
    d_wait_log "$name" "watching pid $(ct_pid "$name")" 10 || return 1
    d_wait_log "$name" "OOM kill: victim pid [0-9]+ \\(java\\)" 60 || { ct_output "$name"; return 1; }
}

case_oom_summary_names_the_dump() {
    caps
    run_oomapp flags 77001 -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$WORK/flags" || return 1
    local dump="$WORK/flags/java_pid$NS.hprof"
    [ -s "$dump" ] || { echo "the JVM wrote no dump"; ls -la "$WORK/flags"; ct_output flags; return 1; }
    local dir; dir=$(d_profiles flags)/host/oomapp
    local rec
    rec=$(d_wait_json "$dir/oom_hprof_*.json" '.summary.fields.matched_by == "path+time_window"' 20) ||
        { d_log flags | tail -20; return 1; }
    jq -e --arg p "$dump" --argjson s "$(stat -c %s "$dump")" '
        .summary.measurement == "flameshot_oom_hprof" and .summary.fields.status == "error" and
        .summary.fields.hprof_path == $p and .summary.fields.hprof_size_bytes == $s and
        .summary.fields.oom_kill_delta == 1 and .summary.fields.process_name == "java" and
        (.summary.fields.message | contains($p))' "$rec" >/dev/null || { jq .summary "$rec"; return 1; }
    # the JVM is gone: the record was found through the pinned directory
    ! kill -0 "$(ct_pid flags)" 2>/dev/null || { echo "the JVM is still alive"; return 1; }
    local ex
    ex=$(d_wait_json "$dir/process_exit_*.json" '.summary.fields.suspected_reason == "oom_kill"' 10) || return 1
    jq -e '.summary.fields.status == "warning" and .summary.fields.exit_signal == 9 and
        (.summary.fields.recent_samples | fromjson | length >= 1)' "$ex" >/dev/null || { jq .summary "$ex"; return 1; }
    # reported once: no second OOM record names the same file
    [ "$(jq -r '.summary.fields | select(.oom_kill_delta == 1) | .hprof_path' "$dir"/oom_hprof_*.json |
        grep -c "java_pid$NS.hprof")" = 1 ] || { echo "the dump was reported twice"; return 1; }
}

case_without_flags_the_record_says_why() {
    caps
    run_oomapp noflags 77002 || return 1
    local dir; dir=$(d_profiles noflags)/host/oomapp
    local rec
    rec=$(d_wait_json "$dir/oom_hprof_*.json" '.summary.fields.reason == "not_enabled"' 20) ||
        { d_log noflags | tail -20; return 1; }
    jq -e '.summary.fields.hprof_path == "" and .summary.fields.matched_by == "none" and
        (.summary.fields.message | contains("-XX:+HeapDumpOnOutOfMemoryError"))' "$rec" >/dev/null ||
        { jq .summary "$rec"; return 1; }
}

case_dump_path_outside_reachable_volume() {
    caps
    # a dump path that does not exist in the container: HotSpot cannot write
    # it, and the record says the path was unreachable
    run_oomapp lost 77003 -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/no/such/volume/d.hprof || return 1
    local dir; dir=$(d_profiles lost)/host/oomapp
    local rec
    rec=$(d_wait_json "$dir/oom_hprof_*.json" '.summary.fields.reason == "path_unreachable"' 20) ||
        { d_log lost | tail -20; return 1; }
    jq -e '.summary.fields.message | contains("/no/such/volume")' "$rec" >/dev/null || { jq .summary "$rec"; return 1; }
}

case_java_level_oom_without_kill_is_reported() {
    caps
    mkdir -p "$WORK/stay"; chmod 1777 "$WORK/stay"
    d_start stay FLAMESHOT_OOM_HPROF_ENABLED=true \
        FLAMESHOT_PROCESSES='[{"service":"oomapp","command":"OomApp stay$"}]' || return 1
    # the flags after -cp's value (issue 9: they were taken for the application's)
    ct_start stay --share "$WORK/stay" -- /usr/bin/java -Xmx48m -XX:+UseSerialGC -Doomapp.delay=3000 \
        -cp "$CLASSES" -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$WORK/stay" OomApp stay || return 1
    local ns; ns=$(ct_nspid stay)
    local rec
    rec=$(d_wait_json "$(d_profiles stay)/host/oomapp/oom_hprof_*.json" '.summary.fields.matched_by == "new_file"' 40) ||
        { d_log stay | tail -20; return 1; }
    jq -e --arg p "$WORK/stay/java_pid$ns.hprof" '.summary.fields.hprof_path == $p and
        .summary.fields.oom_kill_delta == 0 and .summary.fields.hprof_size_bytes > 0' "$rec" >/dev/null ||
        { jq .summary "$rec"; return 1; }
    kill -0 "$(ct_pid stay)" || { echo "the JVM should still run"; return 1; }
    # a restart does not report it again
    d_stop stay
    rm -f "$(d_profiles stay)"/host/oomapp/oom_hprof_*.json*
    D_PORT= d_start stay FLAMESHOT_OOM_HPROF_ENABLED=true \
        FLAMESHOT_PROCESSES='[{"service":"oomapp","command":"OomApp stay$"}]' || return 1
    sleep 6
    ! ls "$(d_profiles stay)"/host/oomapp/oom_hprof_*.json >/dev/null 2>&1 ||
        { echo "reported again after a restart"; return 1; }
}

t_case "OOM kill: the summary names the heap dump and its size, after the JVM is gone" case_oom_summary_names_the_dump
t_case "OOM kill without -XX:+HeapDumpOnOutOfMemoryError: the record says why" case_without_flags_the_record_says_why
t_case "OOM kill with an unreachable dump path: the record says why" case_dump_path_outside_reachable_volume
t_case "a Java-level OutOfMemoryError dump without a kill is reported once" case_java_level_oom_without_kill_is_reported
t_done
