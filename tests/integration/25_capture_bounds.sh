#!/bin/bash
# A container must not be able to fill the node's disk through a capture.
# The real daemon (standalone, local sink) captures from tests/helpers/
# fake_jvm in a test container (own PID and mount namespaces, private /tmp,
# uid 10001): a process that answers the HotSpot attach protocol as its own
# uid and then streams jcmd output without end, or plants a sparse 4 TiB
# file where the JVM is told to write the JFR. Each capture must end as a
# failed job whose reason starts with too_large, counted in /metrics, with
# nothing left in the spool (outbox/ and profiles/) nor in the container,
# and the agent must carry on. The artefact caps are lowered to keep the
# test fast: FLAMESHOT_MAX_PROFILE_MB=8; the jcmd cap is fixed (32 MiB).
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
FAKE=$BUILD/tests/helpers/fake_jvm
trap 'ct_cleanup; d_cleanup' EXIT
RULES='[{"service":"bounds","command":"/fake_jvm (stream|sparse-jfr|exit-on-jfr)$","duration":"1s"}]'


caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need d_can_run "needs curl, jq, ss and the test build (make test-build)"
    need "[ -x '$FAKE' ]" "run make test-build first (tests/helpers/fake_jvm)"
    [ -f "$D_DIR/ready" ] || { cat "$D_DIR/setup.err"; echo "setup failed"; exit 1; }
}

setup() {
    ct_start streamer -- "$FAKE" stream && ct_wait_output streamer "fake_jvm ready" 10 &&
        ct_start planter -- "$FAKE" sparse-jfr && ct_wait_output planter "fake_jvm ready" 10 &&
        ct_start quitter -- "$FAKE" exit-on-jfr && ct_wait_output quitter "fake_jvm ready" 10 ||
        return 1
    d_start main FLAMESHOT_PROCESSES="$RULES" FLAMESHOT_MAX_PROFILE_MB=8 \
        FLAMESHOT_ASYNC_PROFILER_PATH=/nonexistent FLAMESHOT_JCMD_TIMEOUT=30s || return 1
    # the start-up scan finds all three
    d_wait_api main /v1/targets .count 3 && return 0
    echo "targets: $(cat "$D_BODY")"
    return 1
}

# Nothing in the spool but the outbox lock and the local index.
spool_empty() {
    local left
    left=$(find "$(d_data main)/outbox" "$(d_profiles main)" -type f \
        ! -name .lock ! -name index.json 2>/dev/null)
    [ -z "$left" ] || { echo "left in the spool: $left"; return 1; }
    d_expect main 200 /v1/status '.outbox.items == 0 and .outbox.reserved_bytes == 0 and
        .outbox.local_items == 0' || return 1
}

# too_large_job PATH FILTER: queues a capture, waits for it to fail with a
# too_large reason and no artefact, the body passing FILTER; then the
# spool must be empty
too_large_job() {
    d_expect main 202 "$1" '.queued == 1' || return 1
    [ "$(d_wait_job main "$(jq .job_id "$D_BODY")" 60)" = failed ] || { echo "job: $(cat "$D_BODY")"; return 1; }
    jq -e '(.reason | startswith("too_large: ")) and .artefacts == [] and ('"$2"')' "$D_BODY" \
        > /dev/null || { echo "job: $(cat "$D_BODY")"; return 1; }
    spool_empty
}

case_endless_jcmd_output_is_cut() {
    caps
    too_large_job "/v1/snapshot?pid=$(ct_pid streamer)" '.reason | contains("output cut after")' ||
        return 1
    # both commands reached the fake (the cut is ours, not a refused attach)
    grep -q 'request jcmd Thread.print' "$CT_STATE/streamer.out" &&
        grep -q 'request jcmd GC.class_histogram' "$CT_STATE/streamer.out" ||
        { echo "fake saw: $(ct_output streamer)"; return 1; }
}

case_planted_sparse_jfr_is_refused_unread() {
    caps
    local p; p=$(ct_pid planter)
    too_large_job "/v1/profile?pid=$p&duration=1s" '(.reason | contains("4398046511104 bytes")) and
        (.reason | contains("not read")) and (.reason | contains("FLAMESHOT_MAX_PROFILE_MB=8"))' ||
        return 1
    grep -q 'request jcmd JFR.start' "$CT_STATE/planter.out" ||
        { echo "fake saw: $(ct_output planter)"; return 1; }
    # and the planted file is gone from the container too
    local left
    left=$(find "/proc/$p/root/tmp" -name 'profile-*.jfr' 2>/dev/null)
    [ -z "$left" ] || { echo "left in the container: $left"; return 1; }
}

case_counted_in_metrics() {
    caps
    [ "$(d_api main /metrics)" = 200 ] || return 1
    grep -qx 'flameshot_captures_too_large_total 2' "$D_BODY" ||
        { grep too_large "$D_BODY"; echo "too_large not counted twice"; return 1; }
    grep -qx 'flameshot_jobs_total{outcome="failed"} 2' "$D_BODY" ||
        { grep jobs_total "$D_BODY"; return 1; }
}

case_config_shows_the_cap() {
    caps
    d_expect main 200 /v1/status '.config.max_profile_mb == 8 and .config.spool_max_mb == 1024' ||
        return 1
    FLAMESHOT_MAX_PROFILE_MB=2048 "$FLAMESHOTD" --check-config > "$D_DIR/cc.out" 2>&1 &&
        { echo "a cap over the budget was accepted"; return 1; }
    grep -q 'FLAMESHOT_MAX_PROFILE_MB.*more than FLAMESHOT_SPOOL_MAX_MB' "$D_DIR/cc.out" ||
        { cat "$D_DIR/cc.out"; return 1; }
    FLAMESHOT_MAX_PROFILE_MB=64 "$FLAMESHOTD" --check-config > "$D_DIR/cc.json" 2>/dev/null &&
        jq -e '.max_profile_mb == 64' "$D_DIR/cc.json" > /dev/null ||
        { cat "$D_DIR/cc.json"; return 1; }
}

case_agent_carries_on() {
    caps
    d_expect main 200 /healthz '.status == "alive"' || return 1
    d_expect main 200 /readyz '.status == "ready"' || return 1
    # the fakes are still targets and can be asked again: the queue is free
    too_large_job "/v1/snapshot?pid=$(ct_pid streamer)&type=thread_print" \
        '.reason | startswith("too_large: Thread.print")'
}

# A JVM that dies while JFR.start is on its way: the job says the target
# exited, not that the attach was refused.
case_jvm_exiting_at_jfr_start_is_target_exited() {
    caps
    d_expect main 202 "/v1/profile?pid=$(ct_pid quitter)&duration=1s" '.queued == 1' || return 1
    [ "$(d_wait_job main "$(jq .job_id "$D_BODY")" 60)" = target_exited ] ||
        { echo "job: $(cat "$D_BODY")"; return 1; }
    jq -e '.artefacts == [] and (.reason | startswith("the JVM exited while the profile was being started"))' \
        "$D_BODY" > /dev/null || { echo "job: $(cat "$D_BODY")"; return 1; }
    grep -q 'request jcmd JFR.start' "$CT_STATE/quitter.out" ||
        { echo "fake saw: $(ct_output quitter)"; return 1; }
    # killed by a signal, it gets its process_exit record; no JFR is kept
    local left
    left=$(find "$(d_data main)/outbox" "$(d_profiles main)" -name '*.jfr' 2> /dev/null)
    [ -z "$left" ] || { echo "left in the spool: $left"; return 1; }
}

if setup > "$D_DIR/setup.err" 2>&1; then touch "$D_DIR/ready"; fi
t_case "endless jcmd output is cut at the cap: too_large, nothing kept" case_endless_jcmd_output_is_cut
t_case "a planted sparse 4 TiB JFR is refused by its size, unread: too_large" case_planted_sparse_jfr_is_refused_unread
t_case "too_large captures are counted in /metrics" case_counted_in_metrics
t_case "FLAMESHOT_MAX_PROFILE_MB in /v1/status and --check-config, validated" case_config_shows_the_cap
t_case "the agent carries on after too_large captures" case_agent_carries_on
t_case "a JVM exiting while JFR.start is on its way: target_exited" case_jvm_exiting_at_jfr_start_is_target_exited
t_done
