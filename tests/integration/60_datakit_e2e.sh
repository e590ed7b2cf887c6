#!/bin/bash
# The agent and DataKit end to end: build/flameshotd profiles and
# snapshots a namespaced JVM and delivers to the strict DataKit stand-in
# (tests/helpers/datakit_receiver): the multipart profile with every
# tags_profiler key the intake needs, jcmd snapshot summaries as line
# protocol; then DataKit down, the agent SIGKILLed with the artefact still
# pending, DataKit up and the agent restarted: it arrives, once.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/dump.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/outbox.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-dk-test.XXXXXX)
# receivers are started inside the cases' subshells: find them by their
# output directory, which only this run uses
trap 'd_cleanup; ct_cleanup; pkill -f "datakit_receiver --out $WORK/" ; rm -rf "$WORK"' EXIT

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need d_can_run "needs curl, jq, ss and the test build (make test-build)"
    need "command -v java && command -v jfr" "needs a JDK (java, jfr)"
    need "[ -x '$RECEIVER' ] && [ -f '$CLASSES/Burner.class' ]" "run make test-build first"
}

wait_records() { # dir count secs
    local i
    for i in $(seq 1 $(($3 * 10))); do
        [ "$(ob_records "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "$(ob_records "$1") records in $1 after $3 s, want $2"
    return 1
}

# jobs_done NAME ID...: each job has ended, done (its artefacts are in the
# outbox then)
jobs_done() {
    local name=$1 id st; shift
    for id; do
        st=$(d_wait_job "$name" "$id") || { echo "$st"; return 1; }
        [ "$st" = done ] || { echo "job $id ended $st: $(cat "$D_BODY")"; return 1; }
    done
}

case_profile_and_snapshots_reach_datakit() {
    caps
    ct_start dk -- /usr/bin/java -cp "$CLASSES" Burner 86501 || return 1
    ct_wait_output dk "Burner started" 10 || return 1
    local pid ns; pid=$(ct_pid dk); ns=$(ct_nspid dk)
    ob_receiver_start "$WORK/r1" || return 1
    d_start dk FLAMESHOT_DATAKIT_ADDR="http://127.0.0.1:$RECV_PORT/profiling/v1/input" \
        FLAMESHOT_NODE_NAME=node-e2e FLAMESHOT_TAGS='env: e2e, team:perf' FLAMESHOT_SERVICE=checkout \
        FLAMESHOT_PROCESSES='[{"service":"ignored","command":"Burner 86501$","tags":["version:v9","rule:r1"],"jdk_version":"17"}]' || return 1
    d_expect dk 202 "/v1/profile?pid=$pid&duration=2s" '.job_id > 0' || return 1
    local ids; ids=$(jq .job_id "$D_BODY")
    d_expect dk 202 "/v1/snapshot?pid=$pid" '.job_ids | length > 0' || return 1
    ids="$ids $(jq '.job_ids[]' "$D_BODY")"
    jobs_done dk $ids || return 1
    wait_records "$WORK/r1" 3 60 || { d_log dk | tail -20; cat "$WORK/r1"/rejects.jsonl 2>/dev/null; return 1; }
    local rec=$WORK/r1/records.jsonl
    [ ! -s "$WORK/r1/rejects.jsonl" ] || { echo "rejected:"; cat "$WORK/r1/rejects.jsonl"; return 1; }
    local p; p=$(jq -c 'select(.kind == "profile")' "$rec")
    echo "$p" | jq -e --arg ns "$ns" --arg pid "$pid" --arg arch "$(uname -m)" '
        .tags.service == "checkout" and .tags.host == "node-e2e" and .tags.env == "e2e" and
        .tags.team == "perf" and .tags.version == "v9" and .tags.rule == "r1" and
        .tags.process_id == $ns and .tags.host_pid == $pid and .tags.process_name == "java" and
        .tags.language == "java" and .tags.runtime_os == "linux" and .tags.runtime_arch == $arch and
        .tags.library_type == "jfr" and (.tags.library_version | test("^17")) and
        .tags.jdk_version == "17" and .tags.trigger == "http" and
        .event.family == "java" and .event.format == "jfr"' >/dev/null || { echo "$p" | jq .; return 1; }
    jfr print --events jdk.ExecutionSample "$(echo "$p" | jq -r .jfr_path)" | grep -q flameshotBurnCpu ||
        { echo "the JFR DataKit got lacks the burning method"; return 1; }
    jq -e -s 'map(select(.measurement == "flameshot_jcmd_snapshot")) | length == 2 and
        all(.fields.status == "info" and (.fields.preview | length > 0) and .fields.output_size_bytes > 0)' \
        "$rec" >/dev/null || { jq -c 'select(.kind == "log")' "$rec"; return 1; }
    # the raw text stays on the node, where output_path says
    local out; out=$(jq -r -s 'map(select(.fields.snapshot_type == "thread_print"))[0].fields.output_path' "$rec")
    dump_has_burner "$out" || { echo "no thread dump with the burner's stack at $out"; return 1; }
    d_stop dk && ob_receiver_stop
}

case_outage_and_sigkill_lose_nothing() {
    caps
    ct_start dk2 -- /usr/bin/java -cp "$CLASSES" Burner 86502 || return 1
    ct_wait_output dk2 "Burner started" 10 || return 1
    local pid; pid=$(ct_pid dk2)
    local port; port=$(d_free_port)
    # DataKit is down: the profile waits in the spool
    d_start dk2 FLAMESHOT_DATAKIT_ADDR="http://127.0.0.1:$port/profiling/v1/input" \
        FLAMESHOT_PROCESSES='[{"service":"dk2","command":"Burner 86502$"}]' || return 1
    d_expect dk2 202 "/v1/profile?pid=$pid&duration=2s" '.job_id > 0' || return 1
    jobs_done dk2 "$(jq .job_id "$D_BODY")" || return 1
    # the check below judges what came
    d_wait_api dk2 /v1/status \
        '.outbox.items >= 1 and (.outbox.sinks | tostring | test("onnect|refused|ouldn"))' true 30
    jq -e '.outbox.items >= 1' "$D_BODY" >/dev/null || { jq .outbox "$D_BODY"; return 1; }
    d_kill dk2
    [ "$(find "$(d_data dk2)/outbox" -name '*.payload' | wc -l)" -ge 1 ] || { echo "nothing pending on disk"; return 1; }
    # DataKit comes up, the agent restarts: the profile arrives, once
    ob_receiver_start "$WORK/r2" "$port" || return 1
    d_start dk2 FLAMESHOT_DATAKIT_ADDR="http://127.0.0.1:$port/profiling/v1/input" \
        FLAMESHOT_PROCESSES='[{"service":"dk2","command":"Burner 86502$"}]' || return 1
    wait_records "$WORK/r2" 1 30 || return 1
    sleep 3
    [ "$(jq -s 'map(select(.kind == "profile")) | length' "$WORK/r2/records.jsonl")" = 1 ] ||
        { echo "not exactly one profile"; cat "$WORK/r2/records.jsonl"; return 1; }
    [ -z "$(find "$(d_data dk2)/outbox" -name '*.payload')" ] || { echo "still pending after delivery"; return 1; }
    d_stop dk2 && ob_receiver_stop
}

t_case "a profile and jcmd snapshots reach DataKit with every tag and field" case_profile_and_snapshots_reach_datakit
t_case "DataKit down, agent SIGKILLed with the profile pending, restarted: it arrives once" case_outage_and_sigkill_lose_nothing
t_done
