#!/bin/bash
# Emergency evidence has a lane of its own: with one worker
# (FLAMESHOT_MAX_CONCURRENT_JOBS=1) busy with a long HTTP profile of one
# namespaced JVM, another JVM climbing past its memory cgroup's high-water
# mark gets its jcmd snapshots at once, not after the profile; and when
# the kernel's OOM killer then ends that JVM, its process-exit and OOM
# records name those snapshots.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
MEMHOG=$BUILD/tests/helpers/memhog
WORK=$(mktemp -d /var/tmp/flameshot-evidence-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq" "needs java and jq"
    need "[ -x '$FLAMESHOTD' ] && [ -x '$MEMHOG' ] && [ -f '$CLASSES/Climber.class' ]" \
        "run make test-build first"
}

# The id of the first job matching a jq filter, once there is one.
wait_job_id() {
    local name=$1 filter=$2 secs=${3:-60} i id
    for i in $(seq 1 $((secs * 10))); do
        d_api "$name" /v1/jobs >/dev/null
        id=$(jq -r "[.jobs[] | select($filter)][0].id // empty" "$D_BODY" 2>/dev/null)
        [ -n "$id" ] && { echo "$id"; return 0; }
        sleep 0.1
    done
    echo "no job matching $filter after ${secs}s" >&2
    return 1
}

job_field() { d_api "$1" "/v1/jobs/$2" >/dev/null && jq -r "$3" "$D_BODY"; }

# The leaky JVM: 16 MiB every 250 ms of kept heap up to 300 MiB in a
# 512 MiB memory cgroup whose high-water mark is at 60 %.
LEAKY_RULE='{"service":"leaky","command":"Climber 16 250 300$","mem_usage_percent_emergency":60,"emergency_duration":"2s"}'
start_leaky() {
    ct_start "$1" --mem-limit 536870912 -- /usr/bin/java -XX:+UseSerialGC -Xms16m -Xmx2g \
        -cp "$CLASSES" Climber 16 250 300 && ct_wait_output "$1" "Climber started" 10
}

# The two snapshot files of the leaky JVM, complete; sets H and T.
both_snapshots() {
    local dir=$1 ns=$2
    H=$(d_wait_file "$dir/jcmd_gc_class_histogram_${ns}_*.txt" 60) || return 1
    T=$(d_wait_file "$dir/jcmd_thread_print_${ns}_*.txt" 30) || return 1
    grep -q '\[B ' "$H" || { echo "histogram without byte[]"; return 1; }
    grep -q 'Climber' "$T" || { echo "thread dump without Climber"; return 1; }
    jq -e '.summary.fields.complete == true and .summary.tags.trigger == "cgroup_memory_pressure"' \
        "$H.json" "$T.json" >/dev/null || { jq .summary "$H.json" "$T.json"; return 1; }
}

case_emergency_snapshot_is_not_queued_behind_another_targets_profile() {
    caps
    ct_start busy -- /usr/bin/java -cp "$CLASSES" Burner 86457 && ct_wait_output busy "Burner started" 10 ||
        return 1
    local busy; busy=$(ct_pid busy)
    # the static mark is the trigger under test (51_memory_lead tests the lead time, which
    # would fire first)
    d_start prio FLAMESHOT_MAX_CONCURRENT_JOBS=1 FLAMESHOT_EVIDENCE_LEAD=0 \
        FLAMESHOT_PROCESSES='[{"service":"busy","command":"Burner 86457$"},'"$LEAKY_RULE"']' || return 1
    d_wait_log prio "watching pid $busy " 10 || return 1
    # the only worker profiles the busy JVM for a minute
    d_expect prio 202 "/v1/profile?pid=$busy&duration=60s" '.queued == 1' || return 1
    local prof; prof=$(jq .job_id "$D_BODY")
    local i
    for i in $(seq 1 300); do
        [ "$(job_field prio "$prof" .state)" = running ] && break
        sleep 0.1
    done
    [ "$(job_field prio "$prof" .state)" = running ] || { echo "profile: $(cat "$D_BODY")"; return 1; }
    # now the other JVM climbs
    start_leaky leaky || return 1
    local pid ns; pid=$(ct_pid leaky); ns=$(ct_nspid leaky)
    d_wait_log prio "watching pid $pid " 10 || return 1
    local snap
    snap=$(wait_job_id prio ".capture == \"snapshot\" and .target.pid == $pid" 60) ||
        { d_log prio | tail -20; return 1; }
    local st; st=$(d_wait_job prio "$snap" 60) || return 1
    [ "$st" = done ] || { echo "snapshot job: $(cat "$D_BODY")"; return 1; }
    jq -e '.urgent == true and .trigger == "cgroup_memory_pressure" and
        (.artefacts | length == 2) and all(.artefacts[]; .complete == true)' "$D_BODY" >/dev/null ||
        { echo "snapshot job: $(cat "$D_BODY")"; return 1; }
    local s_started; s_started=$(jq -r .started "$D_BODY")
    # it ran while the profile, started before it, was still running
    [ "$(job_field prio "$prof" .state)" = running ] ||
        { echo "the profile is no longer running: $(cat "$D_BODY")"; return 1; }
    local p_started; p_started=$(jq -r .started "$D_BODY")
    awk -v p="$(date -d "$p_started" +%s.%N)" -v s="$(date -d "$s_started" +%s.%N)" \
        'BEGIN { exit !(p < s) }' || { echo "profile started $p_started, snapshot $s_started"; return 1; }
    both_snapshots "$(d_profiles prio)/host/leaky" "$ns" || return 1
    d_log prio | grep -Eq "job $snap queued: snapshot of pid $pid, trigger cgroup_memory_pressure \(urgent\)" ||
        { d_log prio | grep queued; return 1; }
    d_stop prio && ct_stop leaky && ct_stop busy
}

case_the_kill_record_names_the_snapshots() {
    caps
    d_start kill FLAMESHOT_EVIDENCE_LEAD=0 FLAMESHOT_OOM_HPROF_ENABLED=true FLAMESHOT_PROCESSES="[$LEAKY_RULE]" || return 1
    start_leaky victim || return 1
    local pid ns; pid=$(ct_pid victim); ns=$(ct_nspid victim)
    d_wait_log kill "watching pid $pid " 10 || return 1
    local dir; dir=$(d_profiles kill)/host/leaky
    both_snapshots "$dir" "$ns" || { d_log kill | tail -20; return 1; }
    # the JVM holds ~300 MiB of heap; another process of its memory cgroup
    # takes 300 MiB more, and the kernel kills the largest: the JVM
    "$MEMHOG" --wait-file "$WORK/go" 300 > "$WORK/memhog.out" 2>&1 &
    local hog=$!
    echo "$hog" > "$(ct_cgroup victim)/cgroup.procs" || { kill -KILL "$hog"; return 1; }
    touch "$WORK/go"
    d_wait_log kill "OOM kill: victim pid $pid " 60 || { kill -KILL "$hog"; return 1; }
    kill -KILL "$hog" 2>/dev/null
    local ex oom h t
    h=$(basename "$H"); t=$(basename "$T")
    ex=$(d_wait_json "$dir/process_exit_*.json" '.summary.fields.suspected_reason == "oom_kill"' 20) ||
        return 1
    jq -e --arg h "$h" --arg t "$t" '.summary.fields.recent_snapshots | contains($h) and contains($t)' \
        "$ex" >/dev/null || { jq .summary.fields "$ex"; return 1; }
    oom=$(d_wait_json "$dir/oom_hprof_*.json" '.summary.fields.oom_kill_delta == 1' 20) || return 1
    jq -e --arg h "$h" --arg t "$t" '.summary.fields.recent_snapshots | contains($h) and contains($t)' \
        "$oom" >/dev/null || { jq .summary.fields "$oom"; return 1; }
    d_stop kill && ct_stop victim
}

t_case "an emergency snapshot is not queued behind another target's profile (one worker)" \
    case_emergency_snapshot_is_not_queued_behind_another_targets_profile
t_case "the process-exit and OOM records name the snapshots taken before the kill" \
    case_the_kill_record_names_the_snapshots
t_done
