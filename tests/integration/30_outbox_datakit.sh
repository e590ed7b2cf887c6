#!/bin/bash
# The outbox against a strict DataKit stand-in: a real JFR from a real JVM
# reaches the profiling intake as DataKit expects it (every multipart part
# and event.json field, every tags_profiler key), summaries reach the
# logging intake as exact line protocol; a receiver that is down, answers
# 503 or 500 delays delivery but loses and duplicates nothing.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/lib/outbox.sh"

OB_TMP=$(mktemp -d /tmp/outbox_dk.XXXXXX)
trap ob_cleanup EXIT
JFR=$OB_TMP/burner.jfr
JDK=""

prereqs() {
    need "[ -x '$RECEIVER' ] && [ -x '$FEED' ]" "test helpers not built (make test-build)"
    need "command -v java && command -v jcmd && command -v jfr" "no JDK (java, jcmd, jfr)"
    need "command -v jq" "jq not installed (make deps)"
    need "[ -f '$BUILD/tests/java/Burner.class' ]" "Java fixtures not built"
}

feed() {
    "$FEED" --root "$OB_TMP/root" --datakit "http://127.0.0.1:$RECV_PORT/profiling/v1/input" \
        --backoff-min-ms 100 --backoff-max-ms 400 --k8s --library-version "$JDK" \
        --jdk-version "$JDK" "$@" 2>>"$OB_TMP/feed.log"
}

case_real_jfr_every_field() {
    prereqs
    ob_make_jfr "$JFR" || { echo "could not record a JFR with jcmd"; return 1; }
    JDK=$(ob_jdk_version)
    [ -n "$JDK" ] || { echo "no java.version"; return 1; }
    ob_receiver_start "$OB_TMP/r1" || { echo "receiver did not start"; return 1; }
    feed --seq-start 1 put-profile "$JFR" 1 put-summary oom_hprof 1 put-summary process_exit 1 \
        put-snapshot "$ROOT/tests/lib/outbox.sh" 1 run-until-empty 30 >"$OB_TMP/out1" ||
        { cat "$OB_TMP/out1" "$OB_TMP/feed.log"; echo "feed did not deliver everything"; return 1; }
    local rec=$OB_TMP/r1/records.jsonl
    [ "$(ob_records "$OB_TMP/r1")" = 4 ] || { cat "$rec"; echo "want 4 records"; return 1; }
    [ ! -s "$OB_TMP/r1/rejects.jsonl" ] || { cat "$OB_TMP/r1/rejects.jsonl"; return 1; }
    local p; p=$(jq -c 'select(.kind=="profile")' "$rec")
    echo "$p" | jq -e --arg jdk "$JDK" --arg arch "$(uname -m)" '
        .tags as $t | .event.family == "java" and .event.format == "jfr" and
        .duration_ms == 2000 and ($t | length) == 24 and
        $t.service == "feed-svc" and $t.env == "test" and $t.version == "1.2.3" and
        $t.host == "node-feed" and $t.process_id == "7" and $t.host_pid == "4001" and
        $t.process_name == "java" and $t.language == "java" and $t.runtime_os == "linux" and
        $t.runtime_arch == $arch and $t.library_type == "jfr" and $t.library_version == $jdk and
        $t.trigger == "memory_emergency" and $t.mem_used_emergency == "812.50" and
        $t.mem_perc_emergency == "96.10" and $t.jdk_version == $jdk and
        $t.cluster == "ci_ east" and $t.seq == "1" and $t.pod_name == "orders-7f9c" and
        $t.pod_namespace == "shop" and $t.pod_uid == "5c1e0b6c-1111-2222-3333-444455556666" and
        $t.container_name == "app" and $t.container_id == "containerd://abc123" and
        $t.node == "node-feed"' >/dev/null || { echo "$p"; echo "profile tags wrong"; return 1; }
    local saved; saved=$(echo "$p" | jq -r .jfr_path)
    cmp "$saved" "$JFR" || { echo "the JFR changed on the way"; return 1; }
    jfr summary "$saved" | grep -q jdk.ExecutionSample || { echo "no samples in the JFR"; return 1; }
    jfr print --events jdk.ExecutionSample "$saved" | grep -q flameshotBurnCpu ||
        { echo "the JFR does not show the burning method"; return 1; }
    local now; now=$(date +%s)
    jq -e -s --argjson now "$now" '
        map(select(.kind == "log")) | length == 3 and
        all(.[]; (.ts | length) == 19 and (((.ts | tonumber) / 1e9) - $now | fabs) < 120 and
                 .tags.service == "feed-svc" and .tags.pod_name == "orders-7f9c" and
                 .tags.process_name == null and .field_types.status == "string" and
                 .field_types.message == "string" and .fields.process_name == "java")' \
        "$rec" >/dev/null || { echo "summary records wrong"; return 1; }
    jq -e -s 'map(select(.measurement == "flameshot_oom_hprof"))[0] |
        .fields.status == "error" and .field_types.hprof_size_bytes == "int" and
        .fields.hprof_size_bytes == 123 and .fields.oom_kill_delta == 1 and
        .fields.hprof_path == "/data/dumps/app.hprof" and .fields.matched_by == "path+time_window"' \
        "$rec" >/dev/null || { echo "oom record wrong"; return 1; }
    jq -e -s 'map(select(.measurement == "flameshot_process_exit"))[0] |
        .fields.status == "warning" and .fields.exit_signal == "SIGKILL" and
        (.fields.last_samples | fromjson | .[0].rss_mb) == 812.5 and
        (.fields.last_artefacts | length) > 0' "$rec" >/dev/null ||
        { echo "process exit record wrong"; return 1; }
    local kept; kept=$(grep '^queued jcmd_snapshot' "$OB_TMP/out1" | sed 's/.*local=//')
    jq -e -s --arg kept "$kept" --argjson size "$(stat -c %s "$ROOT/tests/lib/outbox.sh")" '
        map(select(.measurement == "flameshot_jcmd_snapshot"))[0] |
        .fields.status == "info" and .fields.snapshot_type == "thread_print" and
        .fields.output_path == $kept and .fields.output_size_bytes == $size and
        .field_types.cgroup_mem_percent == "float" and
        (.fields.preview | contains("RUNNABLE\n\tat Burn.main")) and
        (.fields.preview | contains("\\ \"quoted\", a=b")) and
        (.fields.message | startswith("captured thread_print snapshot for pid=7 at "))' \
        "$rec" >/dev/null || { echo "jcmd record wrong"; return 1; }
    cmp "$kept" "$ROOT/tests/lib/outbox.sh" || { echo "jcmd text not kept locally"; return 1; }
    [ -z "$(find "$OB_TMP/root/outbox" -mindepth 1 ! -name .lock)" ] || { echo "outbox not empty"; return 1; }
    ob_receiver_stop
}

case_503_and_500_then_accepted_nothing_twice() {
    prereqs
    [ -s "$JFR" ] || ob_make_jfr "$JFR" || return 1
    JDK=${JDK:-$(ob_jdk_version)}
    rm -rf "$OB_TMP/root"
    ob_receiver_start "$OB_TMP/r2" 0 --fail-first 3 --fail-flag "$OB_TMP/flag" || return 1
    feed --seq-start 100 put-profile "$JFR" 2 put-summary oom_hprof 2 run-until-empty 30 \
        >"$OB_TMP/out2" || { cat "$OB_TMP/out2"; echo "not delivered after 503s"; return 1; }
    grep '^stats' "$OB_TMP/out2" | sed 's/^stats //' | jq -e '
        (.sinks.datakit_profiling.failed + .sinks.datakit_logging.failed) == 3 and
        (.sinks.datakit_profiling.ok + .sinks.datakit_logging.ok) == 4' >/dev/null ||
        { cat "$OB_TMP/out2"; echo "want 3 failures then 4 successes"; return 1; }
    touch "$OB_TMP/flag"
    feed --seq-start 200 put-profile "$JFR" 1 put-summary process_exit 1 run-for 2 \
        >"$OB_TMP/out3" || return 1
    [ "$(ob_records "$OB_TMP/r2")" = 4 ] || { echo "accepted while answering 500"; return 1; }
    grep '^stats' "$OB_TMP/out3" | sed 's/^stats //' | jq -e '.items == 2 and
        .sinks.datakit_profiling.healthy == false and
        (.sinks.datakit_profiling.last_error | startswith("HTTP 500"))' >/dev/null ||
        { cat "$OB_TMP/out3"; echo "stats do not show the 500s"; return 1; }
    rm -f "$OB_TMP/flag"
    feed run-until-empty 30 >"$OB_TMP/out4" || { echo "not delivered after 500s"; return 1; }
    jq -r '.tags.seq' "$OB_TMP/r2/records.jsonl" | sort | uniq -c | awk '$1 != 1 {exit 1}' ||
        { echo "an artefact arrived twice"; return 1; }
    [ "$(jq -r .tags.seq "$OB_TMP/r2/records.jsonl" | sort -n | tr '\n' ' ')" = \
      "100 101 102 103 200 201 " ] || { echo "missing artefacts"; return 1; }
    [ ! -s "$OB_TMP/r2/rejects.jsonl" ] || { cat "$OB_TMP/r2/rejects.jsonl"; return 1; }
    ob_receiver_stop
}

case_receiver_down_then_up_everything_arrives_once() {
    prereqs
    [ -s "$JFR" ] || ob_make_jfr "$JFR" || return 1
    JDK=${JDK:-$(ob_jdk_version)}
    rm -rf "$OB_TMP/root"
    ob_receiver_start "$OB_TMP/r3" || return 1
    local port=$RECV_PORT
    ob_receiver_stop # down: connection refused on a known port
    feed --seq-start 300 put-profile "$JFR" 3 put-summary oom_hprof 2 \
        put-snapshot "$JFR" 1 run-for 3 >"$OB_TMP/out5" || return 1
    grep '^stats' "$OB_TMP/out5" | sed 's/^stats //' | jq -e '.items == 6 and
        .sinks.datakit_profiling.failed >= 2 and .sinks.datakit_logging.failed >= 2 and
        .oldest_pending_age_ms >= 3000' >/dev/null ||
        { cat "$OB_TMP/out5"; echo "want 6 pending after failures"; return 1; }
    # while a sink is down only its oldest artefact probes it; the count of
    # failed attempts and the reason are in that artefact's record
    jq -e -s 'map(select(.attempts >= 2 and (.last_error | test("onnect")))) | length >= 1' \
        "$OB_TMP"/root/outbox/*.json >/dev/null || { echo "attempts not recorded"; return 1; }
    ob_receiver_start "$OB_TMP/r3" "$port" || { echo "cannot listen on $port again"; return 1; }
    feed run-until-empty 30 >"$OB_TMP/out6" || { cat "$OB_TMP/out6"; return 1; }
    [ "$(ob_records "$OB_TMP/r3")" = 6 ] || { echo "want 6 records"; return 1; }
    [ "$(jq -r .tags.seq "$OB_TMP/r3/records.jsonl" | sort -n | tr '\n' ' ')" = \
      "300 301 302 303 304 305 " ] || { echo "missing or repeated artefacts"; return 1; }
    jq -r 'select(.kind == "profile") | .jfr_path' "$OB_TMP/r3/records.jsonl" |
        while read -r f; do cmp -s "$f" "$JFR" || exit 1; done || { echo "JFR damaged"; return 1; }
    ob_receiver_stop
}

t_case "a real JFR and three summaries reach DataKit with every field" case_real_jfr_every_field
t_case "503s and 500s delay delivery; nothing lost or sent twice" \
    case_503_and_500_then_accepted_nothing_twice
t_case "receiver down, then up on the same port: everything arrives once" \
    case_receiver_down_then_up_everything_arrives_once
t_done
