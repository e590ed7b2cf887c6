#!/bin/bash
# The lead-time trigger end to end: build/flameshotd watching a namespaced
# JVM that leaks 150 MB/s into a 512 MiB memory cgroup and stops at ~80 %,
# below the static emergency threshold (95 %, the default): the projected
# time to the limit falls under FLAMESHOT_EVIDENCE_LEAD (3 s) once usage is
# past half the limit, and the jcmd snapshots and the emergency profile are
# asked for as trigger memory_lead, tagged with the projection. Only the
# growth rate can fire here: no threshold of the rule is reachable. The
# same without a cgroup limit, under FLAMESHOT_POD_MEM_LIMIT: the process's
# own RSS ladder projects against that.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-lead-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq" "needs a JDK and jq"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Leaker.class' ]" "run make test-build first"
}


# memory_lead NAME BPF [ct_start options] [-- daemon variables]
memory_lead() {
    local name=$1 bpf=$2 opts=() vars=() what="memory cgroup"
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ $# -gt 0 ] && { shift; vars=("$@"); what=pid; }
    caps
    ct_start "$name" "${opts[@]}" -- \
        /usr/bin/java -Xmx2g -cp "$CLASSES" Leaker 150 go 380 || return 1
    ct_wait_output "$name" "Leaker started" 20 || return 1
    local pid ns; pid=$(ct_pid "$name"); ns=$(ct_nspid "$name")
    d_start "$name" FLAMESHOT_BPF="$bpf" "${vars[@]}" \
        FLAMESHOT_PROCESSES='[{"service":"lead","command":"Leaker 150 go 380$","emergency_duration":"2s"}]' ||
        return 1
    d_wait_log "$name" "watching pid $pid " 20 || return 1
    touch "/proc/$pid/root/tmp/go"
    ct_wait_output "$name" "holding" 20 || return 1
    d_wait_log "$name" "queued: snapshot of pid $pid, trigger memory_lead" 10 || return 1
    d_wait_log "$name" "queued: profile of pid $pid, trigger memory_lead" 10 || return 1
    d_log "$name" | grep -E "$what [0-9]+: .* the limit in [0-9.]+ s \(FLAMESHOT_EVIDENCE_LEAD 3000 ms\); evidence from pid $pid" ||
        { echo "no lead line naming the projection"; return 1; }
    local dir h t
    dir=$(d_profiles "$name")/host/lead
    h=$(d_wait_file "$dir/jcmd_gc_class_histogram_${ns}_*.txt" 60) || { d_log "$name" | tail -20; return 1; }
    t=$(d_wait_file "$dir/jcmd_thread_print_${ns}_*.txt" 30) || return 1
    grep -q 'Leaker' "$t" || { echo "thread dump without Leaker"; return 1; }
    # The rate spans the last two ladder steps (~20 MiB, leadtime.h), so a
    # burst is what it reports: the Leaker catching up after a pause, or the
    # Serial collector copying young arrays, gave 1230 MiB/s in a CI-like
    # run. Bounds: a climb (not a plateau), and no faster than pages can be
    # touched (a unit slip would be 1000 times off).
    local f
    for f in "$h" "$t"; do
        jq -e '.summary.tags.trigger == "memory_lead" and
            (.summary.tags.lead_seconds | tonumber) < 3 and
            (.summary.tags.growth_mb_per_s | tonumber) > 50 and
            (.summary.tags.growth_mb_per_s | tonumber) < 20000' "$f.json" >/dev/null ||
            { jq .summary "$f.json"; return 1; }
    done
    # the static threshold never fired: the evidence came from the growth rate
    ! d_log "$name" | grep -Eq "trigger (cgroup_memory_pressure|memory_emergency)" ||
        { d_log "$name" | grep -E "queued"; return 1; }
    local src=bpf; [ "$bpf" = off ] && src=poller
    d_log "$name" | grep -q "event source: $src" || { echo "wrong event source"; return 1; }
    d_stop "$name" && ct_stop "$name"
}
case_memory_lead_bpf() { memory_lead lead-bpf on --mem-limit 536870912; }
case_memory_lead_poller() { memory_lead lead-poll off --mem-limit 536870912; }
case_memory_lead_pod_limit() { memory_lead lead-pod on -- FLAMESHOT_POD_MEM_LIMIT=512; }

t_case "memory lead: 150 MB/s towards the limit asks for the evidence before any threshold (BPF)" case_memory_lead_bpf
t_case "memory lead: 150 MB/s towards the limit asks for the evidence before any threshold (poller)" case_memory_lead_poller
t_case "memory lead: a process's own climb against FLAMESHOT_POD_MEM_LIMIT, no cgroup limit (BPF)" case_memory_lead_pod_limit
t_done
