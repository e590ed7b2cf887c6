#!/bin/bash
# The agent killed in the middle of its work, and the container going
# away under it, with build/flameshotd and namespaced JVMs:
# - SIGKILLed mid-profile, with a finished profile still pending (DataKit
#   down): the recording it started keeps running in the JVM; the restart
#   stops it, removes its files and JFR repository from the container,
#   logs what it cleaned, delivers the finished profile once and never the
#   cut one, and a later profile of the same JVM works.
# - the container removed mid-profile (every process killed, its mount
#   namespace and private /tmp gone once released): the job ends as
#   target_exited with the reason, the agent holds nothing of it (no fd on
#   its mount namespace) and goes on.
# - the JVM exiting mid-profile: target_exited early, the partial recording
#   kept, nothing of ours left in its /tmp.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/outbox.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-restart-test.XXXXXX)
# receivers are started in the cases' subshells: each records its pid
trap 'd_cleanup; ct_cleanup; for f in "$WORK"/*.recv "$WORK"/*.keeper; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$WORK"' EXIT

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need d_can_run "needs curl, jq, ss and the test build (make test-build)"
    need "command -v java" "needs a JDK"
    need "[ -x '$RECEIVER' ] && [ -f '$CLASSES/Burner.class' ]" "run make test-build first"
}

# the JVM's recordings, as the agent's own jcmd sees them (the JDK's jcmd
# may not reach a JVM in another PID namespace)
recordings() { "$FLAMESHOTD" jcmd "$1" JFR.check 2>&1; }

# wait_recording PID: until a recording of ours runs in it (30 s at most)
wait_recording() {
    local i
    for i in $(seq 1 300); do
        recordings "$1" | grep -q 'name=flameshot-' && return 0
        sleep 0.1
    done
    echo "no flameshot- recording in pid $1:"; recordings "$1"
    return 1
}

job_is() { # NAME ID STATE
    local st; st=$(d_wait_job "$1" "$2") || { echo "$st"; return 1; }
    [ "$st" = "$3" ] || { echo "job $2 ended $st, want $3: $(cat "$D_BODY")"; return 1; }
}

profile() { # NAME PID DURATION: starts a profile job, prints its id
    d_expect "$1" 202 "/v1/profile?pid=$2&duration=$3" '.job_id > 0' >&2 || return 1
    jq .job_id "$D_BODY"
}

outbox_items() { d_api "$1" /v1/status >/dev/null && jq .outbox.items "$D_BODY"; }

# What is in the container's /tmp but the JVM's attach socket and perf data.
ct_tmp() { ls -A "/proc/$1/root/tmp" | grep -v '^\.java_pid\|^hsperfdata_' | sort; }

case_sigkill_mid_profile_restart_cleans_up_and_delivers() {
    caps
    ct_start rs -- /usr/bin/java -cp "$CLASSES" Burner 86701 || return 1
    ct_wait_output rs "Burner started" 10 || return 1
    local p port id i; p=$(ct_pid rs); port=$(d_free_port)
    local env=(FLAMESHOT_DATAKIT_ADDR="http://127.0.0.1:$port/profiling/v1/input"
        FLAMESHOT_PROCESSES='[{"service":"rs","command":"Burner 86701$"}]')
    d_start rs "${env[@]}" || return 1
    # a finished profile waits in the spool: DataKit is down
    id=$(profile rs "$p" 2s) && job_is rs "$id" done || return 1
    [ "$(outbox_items rs)" = 1 ] || { jq .outbox "$D_BODY"; return 1; }
    local before; before=$(ct_tmp "$p")
    # a long one is cut by the SIGKILL: the recording keeps running
    id=$(profile rs "$p" 60s) || return 1
    wait_recording "$p" || return 1
    local journal; journal=$(d_data rs)/journal
    jq -e '.recording | startswith("flameshot-")' "$journal"/*.json >/dev/null ||
        { echo "no journal entry naming the recording:"; ls -la "$journal"; return 1; }
    d_kill rs
    recordings "$p" | grep -q 'name=flameshot-' || { echo "the kill stopped the recording"; return 1; }
    # DataKit up, the agent restarted
    ob_receiver_start "$WORK/r1" "$port" || return 1
    echo "$RECV_PID" > "$WORK/r1.recv"
    d_start rs "${env[@]}" || return 1
    d_wait_log rs "restart: pid $p \(java\) was being profiled when the agent stopped: stopped JFR recording flameshot-[0-9]+-[0-9]+, removed /tmp/\.flameshot-$CT_UID/profile-$(ct_nspid rs)\.jfr" 30 ||
        { d_log rs | grep -i 'restart\|journal'; return 1; }
    ! recordings "$p" | grep -q 'name=flameshot-' || { echo "still recording:"; recordings "$p"; return 1; }
    [ -z "$(ls -A "$journal")" ] || { echo "journal left: $(ls -A "$journal")"; return 1; }
    # nothing of ours in the container: no work directory, JFR file or repository
    [ "$(ct_tmp "$p")" = "$before" ] ||
        { echo "container /tmp was: $before"; echo "now:"; ct_tmp "$p"; return 1; }
    # the finished profile arrives, once; the cut one never
    for i in $(seq 1 300); do
        [ "$(outbox_items rs)" = 0 ] && [ "$(ob_records "$WORK/r1")" -ge 1 ] && break
        sleep 0.1
    done
    [ "$(outbox_items rs)" = 0 ] || { jq .outbox "$D_BODY"; return 1; }
    [ "$(jq -s 'map(select(.kind == "profile")) | length' "$WORK/r1/records.jsonl")" = 1 ] ||
        { echo "not exactly one profile:"; cat "$WORK/r1/records.jsonl"; return 1; }
    [ -z "$(find "$(d_data rs)/outbox" -name '.tmp-*')" ] || { echo "a temp file survived the restart"; return 1; }
    d_log rs | grep -q "left by an interrupted write" || { echo "the cut profile's temp file not removed at open"; return 1; }
    # the JVM is profiled again as usual
    id=$(profile rs "$p" 2s) && job_is rs "$id" done || return 1
    for i in $(seq 1 300); do
        [ "$(ob_records "$WORK/r1")" -ge 2 ] && break
        sleep 0.1
    done
    [ "$(jq -s 'map(select(.kind == "profile")) | length' "$WORK/r1/records.jsonl")" = 2 ] ||
        { echo "the later profile did not arrive:"; cat "$WORK/r1/records.jsonl"; return 1; }
    [ "$(ct_tmp "$p")" = "$before" ] || { echo "left by the later profile:"; ct_tmp "$p"; return 1; }
    d_stop rs && ob_receiver_stop && ct_stop rs
}

case_container_removed_mid_profile() {
    caps
    ct_start gone -- /usr/bin/java -cp "$CLASSES" Burner 86702 || return 1
    ct_wait_output gone "Burner started" 10 || return 1
    local p mnt dpid id t0; p=$(ct_pid gone)
    mnt=$(readlink "/proc/$p/ns/mnt")
    d_start gone FLAMESHOT_PROCESSES='[{"service":"gone","command":"Burner 86702$"}]' || return 1
    dpid=$(d_pid gone)
    id=$(profile gone "$p" 60s) || return 1
    wait_recording "$p" || return 1
    t0=$SECONDS
    ct_stop gone
    job_is gone "$id" target_exited || return 1
    [ $((SECONDS - t0)) -lt 30 ] || { echo "the job waited for its duration"; return 1; }
    jq -e '.reason | test("exited")' "$D_BODY" >/dev/null || { echo "reason: $(cat "$D_BODY")"; return 1; }
    # the agent keeps nothing of the container: its mount namespace is released
    local f held=0
    for f in /proc/"$dpid"/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "$mnt" ] && held=$((held + 1))
    done
    [ "$held" = 0 ] || { echo "the agent still holds $mnt ($held fd)"; return 1; }
    [ -z "$(ls -A "$(d_data gone)/journal")" ] || { echo "journal left"; return 1; }
    [ -z "$(find "$(d_data gone)/outbox" -name '.tmp-*')" ] || { echo "a temp file left in the spool"; return 1; }
    d_expect gone 200 /healthz || return 1
    d_stop gone
}

# The JVM exits (SIGTERM) mid-profile, its container staying: the job ends
# target_exited well before its duration, with the partial recording kept
# (the JVM dumps it as it exits) in the local sink, the exit recorded, and
# nothing of ours left in the container's /tmp (seen through a process kept
# in its mount namespace, the JVM's init ending with it).
case_target_exits_mid_profile() {
    caps
    ct_start ex -- /usr/bin/java -cp "$CLASSES" Burner 86703 || return 1
    ct_wait_output ex "Burner started" 10 || return 1
    local p id t0 keeper jfr; p=$(ct_pid ex)
    nsenter -t "$p" -m sleep 600 &
    keeper=$!
    echo "$keeper" > "$WORK/ex.keeper"
    touch "/proc/$p/root/tmp/ct-marker"
    d_start ex FLAMESHOT_PROCESSES='[{"service":"ex","command":"Burner 86703$"}]' || return 1
    id=$(profile ex "$p" 60s) || return 1
    wait_recording "$p" || return 1
    t0=$SECONDS
    kill -TERM "$p"
    job_is ex "$id" target_exited || return 1
    [ $((SECONDS - t0)) -lt 30 ] || { echo "the job waited for its duration"; return 1; }
    jq -e '.artefacts | length == 1' "$D_BODY" >/dev/null || { echo "no partial artefact: $(cat "$D_BODY")"; return 1; }
    jfr=$(find "$(d_profiles ex)" -name '*.jfr' | head -n 1)
    [ -n "$jfr" ] && jfr summary "$jfr" >/dev/null || { echo "no readable partial JFR in the sink"; return 1; }
    d_wait_log ex "pid $p \\(java\\) exited" 10 || return 1
    [ -e "/proc/$keeper/root/tmp/ct-marker" ] || { echo "not the container's /tmp"; return 1; }
    [ ! -e "/proc/$keeper/root/tmp/.flameshot-$CT_UID" ] || { echo "our work directory is left"; return 1; }
    [ -z "$(ls -A "$(d_data ex)/journal")" ] || { echo "journal left"; return 1; }
    kill "$keeper"
    d_stop ex
}

t_case "SIGKILLed mid-profile: the restart stops the recording, cleans the container, delivers the finished profile once" \
    case_sigkill_mid_profile_restart_cleans_up_and_delivers
t_case "container removed mid-profile: target_exited with the reason, nothing of it held" \
    case_container_removed_mid_profile
t_case "the JVM exits mid-profile: target_exited early, the partial JFR kept, nothing left in its /tmp" \
    case_target_exits_mid_profile
t_done
