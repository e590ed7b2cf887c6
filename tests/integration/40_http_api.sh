#!/bin/bash
# The HTTP API of the real daemon (standalone mode, FLAMESHOT_BPF=auto),
# with curl: every endpoint; every status code of the capture endpoints
# (202 400 404 409 429 503) and of the others (200 400 404 405 413); answers
# that depend on the targets only (a live process that is not a target and
# no process at all look the same); command lines with secrets masked;
# a manual trigger of a JVM in its own PID and mount namespaces whose JFR
# then lands in the local sink (files, index, GET /v1/artefacts, `jfr
# summary`); snapshots; one job per target for a command regex; the full
# per-container share of the job queue; the 503s of a shutdown.
#
# Targets: two Burner JVMs in test containers (uid 10001, private /tmp)
# marked -Dflameshot.test=<mark> (the second with a password on its command
# line), and 70 "filler" processes (a copy of
# sleep named java: a JVM as far as the target table can tell) that a
# second rule watches, all in one cgroup: one tenant flooding the queue.
# Not targets: a shell, a fake jcmd, the daemon itself.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/40_http_lib.bash"
trap h_cleanup EXIT

MARK=http$$
N_FILLERS=70
RULES='[{"service":"http-burner","command":"^\\S*java\\s.*-Dflameshot\\.test='"$MARK"'(\\s|$)",
         "duration":"2s","events":"cpu"},
        {"service":"http-filler","command":"/filler-'"$MARK"'/java\\s"}]'
RE_JVMS="-Dflameshot%5C.test%3D$MARK" # the regex -Dflameshot\.test=<mark>, URL-encoded

caps() {
    need h_can_run "needs root, curl, jq, ss and the test build (make test-build)"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jfr" "needs a JDK (java, jfr)"
    need "[ -f '$CLASSES/Burner.class' ]" "run make test-build first"
    [ -f "$H_DIR/ready" ] || { cat "$H_DIR/setup.err"; echo "setup failed"; exit 1; }
}

SECRET=hunter2-$MARK

start_burner() { # name [java options...]
    local name=$1
    shift
    ct_start "$name" -- /usr/bin/java -Dflameshot.test="$MARK" "$@" -cp "$CLASSES" Burner ||
        return 1
    ct_wait_output "$name" "Burner started" 15
}

# Everything the cases share, started once by this shell (the cases run in
# subshells): pids are kept in files.
setup() {
    start_burner jvm1 && start_burner jvm2 -Ddb.password="$SECRET" || return 1
    mkdir -p "$H_DIR/filler-$MARK" && cp /bin/sleep "$H_DIR/filler-$MARK/java" &&
        cp /bin/sleep "$H_DIR/jcmd" || return 1
    local i
    for i in $(seq 1 $N_FILLERS); do
        "$H_DIR/filler-$MARK/java" 600 &
        echo $! >> "$H_DIR/fillers"
        disown
    done
    sh -c 'sleep 600; :' "nontarget-$MARK" &
    echo $! > "$H_DIR/nontarget"
    "$H_DIR/jcmd" 600 &
    echo $! > "$H_DIR/fakejcmd"
    disown -a # killed at the end: no job-control noise
    cat "$H_DIR/nontarget" "$H_DIR/fakejcmd" > "$H_DIR/others"
    d_start main FLAMESHOT_PROCESSES="$RULES" FLAMESHOT_NODE_NAME=http-test || return 1
    # the start-up scan, then exec events
    d_wait_api main /v1/targets .count $((N_FILLERS + 2)) && return 0
    echo "targets: $(jq -c '[.targets[].process_name]' "$D_BODY")"
    return 1
}

JVM1() { ct_pid jvm1; }
JVM2() { ct_pid jvm2; }
FILLER() { sed -n "${1}p" "$H_DIR/fillers"; }

case_probes_and_status() {
    caps
    SRC=127.0.0.11
    d_expect main 200 /healthz '.status == "alive" and .state == "ready"' || return 1
    d_expect main 200 /readyz '.status == "ready" and .config_loaded and
        (.event_source | test("^(bpf|poller)$"))' || return 1
    d_expect main 200 /v1/status '.version != "" and .git_rev != "" and .state == "ready" and
        .mode == "standalone" and .node == "http-test" and (.pid | type == "number") and
        (.event_source.name | test("^(bpf|poller)$")) and (.event_source.detail | length > 0) and
        (.event_source.lost | type == "number") and (.event_source.events > 0) and
        .jobs.queue_capacity == 64 and .jobs.workers == 2 and (.jobs.queued | type == "number") and
        (.outbox.items | type == "number") and (.outbox.oldest_pending_age_ms | type == "number") and
        (.outbox.sinks.local | type == "object") and .targets == 72 and
        .config.http_token == "(unset)" and .http.rate_limit.per_second == 20 and
        .http.limits.connections_per_client == 16 and (.uptime_seconds > 0)' || return 1
    [ "$(d_header Content-Type)" = application/json ] || { echo "content type"; return 1; }
    [ "$(d_header Cache-Control)" = no-store ] || { echo "cache control"; return 1; }
    # HEAD: the same headers, no body (curl -I writes the headers where the body would go)
    [ "$(d_api main /v1/status -I)" = 200 ] && ! grep -q '{' "$D_BODY" ||
        { echo "HEAD: $(cat "$D_BODY")"; return 1; }
    [ "$(d_header Content-Type)" = application/json ] || { echo "HEAD content type"; return 1; }
    d_expect main 200 /v1/jobs '(.jobs | type == "array") and .queued == 0' || return 1
    d_expect main 200 /v1/artefacts '.sink == "local" and (.artefacts | type == "array")'
}

case_targets() {
    caps
    SRC=127.0.0.12
    local p nspid cid f
    p=$(JVM1); nspid=$(ct_nspid jvm1); cid=$(ct_id jvm1); f=$(FILLER 1)
    local i
    for i in $(seq 1 100); do # until the 5-sample average has begun
        d_expect main 200 /v1/targets ".count == 72 and (.targets | length) == 72" || return 1
        jq -e --argjson p "$p" '.targets[] | select(.pid == $p) | .average != null' "$D_BODY" \
            > /dev/null && break
        sleep 0.1
    done
    jq -e --argjson p "$p" --argjson ns "$nspid" --arg cid "$cid" '.targets[] | select(.pid == $p) |
        .nspid == $ns and .service == "http-burner" and .rule == 0 and .container_id == $cid and
        .process_name == "java" and .uid == 10001 and (.cmdline | contains("-Dflameshot.test")) and
        .latest.rss_mb > 0 and (.average.cpu_percent | type == "number") and
        (.samples | length) >= 1 and .limits.memory_bytes > 0 and
        (.cooldown_left_ms | type == "number") and has("last_trigger")' "$D_BODY" > /dev/null ||
        { echo "JVM entry: $(jq -c --argjson p "$p" '.targets[] | select(.pid == $p)' "$D_BODY")"; return 1; }
    jq -e --argjson f "$f" '.targets[] | select(.pid == $f) | .service == "http-filler" and
        .rule == 1' "$D_BODY" > /dev/null || { echo "filler entry"; return 1; }
    # secrets on a command line are masked, and the answer says so
    jq -e --argjson p "$p" '.targets[] | select(.pid == $p) | .cmdline_redacted == false' \
        "$D_BODY" > /dev/null || { echo "jvm1 marked as redacted"; return 1; }
    jq -e --argjson p "$(JVM2)" '.targets[] | select(.pid == $p) | .cmdline_redacted and
        (.cmdline | contains("-Ddb.password=*** -cp"))' "$D_BODY" > /dev/null ||
        { echo "jvm2: $(jq -c --argjson p "$(JVM2)" '.targets[] | select(.pid == $p) | .cmdline' "$D_BODY")"; return 1; }
    ! grep -q "$SECRET" "$D_BODY" || { echo "the password is in /v1/targets"; return 1; }
}

case_profile_end_to_end() {
    caps
    SRC=127.0.0.13
    local p nspid cid id jfr root
    p=$(JVM1); nspid=$(ct_nspid jvm1); cid=$(ct_id jvm1); root=$(d_data main)
    d_expect main 202 "/v1/profile?pid=$p&duration=2s&events=cpu" ".queued == 1 and
        .capture == \"profile\" and .trigger == \"http\" and .selector.pid == $p and
        .duration == \"2s\" and .duration_ms == 2000 and .events == \"cpu\" and
        .job_ids == [.job_id] and .targets[0].pid == $p and .targets[0].nspid == $nspid and
        .targets[0].status == \"queued\" and .targets[0].job_id == .job_id and
        .targets[0].container_id == \"$cid\" and .targets[0].service == \"http-burner\"" || return 1
    id=$(jq .job_id "$D_BODY")
    [ "$(d_wait_job main "$id" 60)" = done ] || { echo "job: $(cat "$D_BODY")"; return 1; }
    jq -e --arg p "$p" '.capture == "profile" and .trigger == "http" and
        .trigger_tags.trigger == "http" and .trigger_tags.pid == $p and .duration_ms == 2000 and
        .events == "cpu" and (.created | test("Z$")) and (.started | test("Z$")) and
        (.finished | test("Z$")) and .artefacts[0].kind == "profile" and .artefacts[0].bytes > 0' \
        "$D_BODY" > /dev/null || { echo "job JSON: $(cat "$D_BODY")"; return 1; }
    jfr=$(jq -r '.artefacts[0].name' "$D_BODY")
    case $jfr in
        "$root/profiles/host/http-burner/profile_${nspid}_"*.jfr) ;;
        *) echo "JFR at $jfr, not in the local sink's layout"; return 1 ;;
    esac
    [ -s "$jfr" ] || { echo "no file $jfr"; return 1; }
    jfr summary "$jfr" > "$H_DIR/summary.txt" || { echo "jfr summary rejected $jfr"; return 1; }
    grep -q jdk.ExecutionSample "$H_DIR/summary.txt" || { echo "no execution samples"; return 1; }
    jfr print --events jdk.ExecutionSample "$jfr" | grep -q Burner.flameshotBurnCpu ||
        { echo "the burning method was not sampled"; return 1; }
    jq -e --arg p "$p" '.artefact.trigger_tags.trigger == "http" and
        .artefact.trigger_tags.pid == $p' "$jfr.json" > /dev/null ||
        { echo "sidecar: $(cat "$jfr.json")"; return 1; }
    d_expect main 200 /v1/artefacts "any(.artefacts[]; .path == \"$jfr\" and .kind == \"profile\")
        and .count >= 1" || return 1
    jq -e --arg j "$jfr" 'any(.[]; .path == $j)' "$root/profiles/index.json" > /dev/null ||
        { echo "not in profiles/index.json"; return 1; }
}

case_snapshots() {
    caps
    SRC=127.0.0.14
    local p id txt
    p=$(JVM1)
    d_expect main 202 "/v1/snapshot?pid=$p&type=thread_print" '.capture == "snapshot" and
        .type == "thread_print" and .queued == 1' || return 1
    id=$(jq .job_id "$D_BODY")
    [ "$(d_wait_job main "$id" 60)" = done ] || { echo "job: $(cat "$D_BODY")"; return 1; }
    jq -e '.artefacts | length == 1 and .[0].kind == "thread_print"' "$D_BODY" > /dev/null ||
        { echo "artefacts: $(cat "$D_BODY")"; return 1; }
    txt=$(jq -r '.artefacts[0].name' "$D_BODY")
    # (where the burner thread stops for the dump varies: look for the thread and a frame)
    grep -q '^"flameshot-burner"' "$txt" && grep -q 'at Burner\.' "$txt" ||
        { echo "no Burner thread in $txt"; return 1; }
    # by command: both JVMs, one job each
    d_expect main 202 "/v1/snapshot?command=$RE_JVMS&type=gc_class_histogram" '.queued == 2' ||
        return 1
    for id in $(jq '.job_ids[]' "$D_BODY"); do
        [ "$(d_wait_job main "$id" 60)" = done ] || { echo "job: $(cat "$D_BODY")"; return 1; }
        jq -e '.artefacts[0].kind == "gc_class_histogram"' "$D_BODY" > /dev/null || return 1
        grep -q '^Total ' "$(jq -r '.artefacts[0].name' "$D_BODY")" || { echo "no Total"; return 1; }
    done
    # a target that is not a JVM: accepted (it is a target), then failed with a reason
    d_expect main 202 "/v1/snapshot?pid=$(FILLER 1)&type=thread_print" '.queued == 1' || return 1
    id=$(jq .job_id "$D_BODY")
    [ "$(d_wait_job main "$id" 60)" = failed ] || { echo "job: $(cat "$D_BODY")"; return 1; }
    jq -e '(.reason | length > 0) and .artefacts == []' "$D_BODY" > /dev/null ||
        { echo "no failure reason: $(cat "$D_BODY")"; return 1; }
}

case_command_regex_one_job_per_target() {
    caps
    SRC=127.0.0.15
    local ids
    d_expect main 202 "/v1/profile?command=$RE_JVMS&duration=3s" ".queued == 2 and
        (.targets | length) == 2 and (.job_ids | length) == 2 and
        ([.targets[].pid] | sort) == ([$(JVM1), $(JVM2)] | sort) and
        .selector.command == \"-Dflameshot\\\\.test=$MARK\" and
        all(.targets[]; .status == \"queued\" and .events == \"cpu\")" || return 1
    ids=$(jq -c '.job_ids | sort' "$D_BODY")
    # again at once: every matching target is busy
    d_expect main 409 "/v1/profile?command=$RE_JVMS&duration=3s" ".error == \"already being profiled\"
        and .queued == 0 and .job_ids == [] and
        all(.targets[]; .status == \"already_running\") and
        ([.targets[].job_id] | sort) == $ids" || return 1
    # and by pid
    d_expect main 409 "/v1/profile?pid=$(JVM1)" '.targets[0].status == "already_running"' ||
        return 1
    for id in $(jq '.[]' <<< "$ids"); do
        [ "$(d_wait_job main "$id" 60)" = done ] || { echo "job: $(cat "$D_BODY")"; return 1; }
    done
}

case_error_codes() {
    caps
    SRC=127.0.0.16
    local p dead code
    p=$(JVM1)
    true & dead=$!; wait $dead
    d_expect main 400 /v1/profile '.error == "bad parameter" and
        .detail == "pid or command is required"' || return 1
    d_expect main 400 "/v1/profile?pid=abc" '.detail == "pid: \"abc\" is not a number"' || return 1
    d_expect main 400 "/v1/profile?pid=$p&duration=10m" '.detail | contains("out of range (1s..5m)")' ||
        return 1
    d_expect main 400 "/v1/profile?pid=$p&duration=30" '.detail | startswith("duration: \"30\"")' ||
        return 1
    d_expect main 400 "/v1/profile?command=(" '.detail ==
        "command: regex does not compile: missing closing parenthesis at offset 1"' || return 1
    d_expect main 400 "/v1/profile?pid=$p&events=cpu,bogus" '.detail | contains("\"bogus\"")' ||
        return 1
    d_expect main 400 "/v1/profile?pid=$p&namespace=default" '.detail | contains("Kubernetes mode")' ||
        return 1
    d_expect main 400 "/v1/snapshot?pid=$p&type=heap" '.detail | contains("not a snapshot type")' ||
        return 1
    # a pid that is not a target: the same answer whatever it is, or if it is
    # nothing at all; the reason goes to the agent's log only
    local np
    for np in "$(cat "$H_DIR/nontarget")" "$(cat "$H_DIR/fakejcmd")" "$(d_pid main)" "$dead"; do
        d_expect main 404 "/v1/profile?pid=$np" ".error == \"not a target\" and .detail ==
            \"no target has pid $np (GET /v1/targets lists them; the agent's log says why a process is not one)\"" ||
            return 1
        d_expect main 404 "/v1/snapshot?pid=$np" '.error == "not a target"' || return 1
    done
    d_log main | grep -q "pid $(cat "$H_DIR/nontarget") is not a target: .*no FLAMESHOT_PROCESSES rule matches" ||
        { echo "no reason in the log"; return 1; }
    # a regex is matched against targets only, as /v1/targets shows them: a
    # process that is not a target, or a masked secret, matches nothing
    local re
    for re in "nontarget-$MARK" "nothing-$MARK-zz" "$SECRET" "password%3Dhunter2"; do
        d_expect main 404 "/v1/profile?command=$re" '.error == "nothing matches" and
            (.detail | startswith("no target'"'"'s command line matches the regex"))' || return 1
    done
    d_expect main 404 /v1/jobs/999999 '.error == "no such job"' || return 1
    d_expect main 400 /v1/jobs/abc '.detail | contains("not a positive number")' || return 1
    d_expect main 404 /v1/nope '.error == "no such endpoint"' || return 1
    d_expect main 404 /v1/status/ '.error == "no such endpoint"' || return 1
    d_expect main 400 "/v1/status?verbose=1" '.detail | contains("takes no parameters")' || return 1
    code=$(d_api main "/v1/profile?pid=$p" -X POST)
    [ "$code" = 405 ] && [ "$(d_header Allow)" = "GET, HEAD" ] ||
        { echo "POST: $code, Allow: $(d_header Allow)"; return 1; }
    [ "$(d_api main /v1/jobs/1 -X DELETE)" = 405 ] || { echo "DELETE"; return 1; }
    # HEAD is safe: never a capture
    code=$(d_api main "/v1/profile?pid=$p" -I)
    [ "$code" = 405 ] && [ "$(d_header Allow)" = GET ] ||
        { echo "HEAD /v1/profile: $code, Allow: $(d_header Allow)"; return 1; }
    code=$(d_api main /v1/status --data-binary 'x=1' -X GET)
    [ "$code" = 413 ] && jq -e '.error == "payload too large"' "$D_BODY" > /dev/null ||
        { echo "body: $code $(cat "$D_BODY")"; return 1; }
}

# metric VALUE: the value of a sample line of the last /metrics body
metric() { awk -v k="$1" '$1 == k {print $2; exit}' "$D_BODY"; }

case_metrics() {
    caps
    SRC=127.0.0.19
    local code bad
    code=$(d_api main /metrics)
    [ "$code" = 200 ] || { echo "/metrics: $code"; return 1; }
    [ "$(d_header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ] ||
        { echo "content type $(d_header Content-Type)"; return 1; }
    # the text format: sample lines, HELP and TYPE once per family
    bad=$(grep -v '^#' "$D_BODY" | grep -Ev '^flameshot_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$')
    [ -z "$bad" ] || { echo "bad sample lines: $bad"; return 1; }
    [ -z "$(grep '^# TYPE' "$D_BODY" | awk '{print $3}' | sort | uniq -d)" ] || { echo "repeated"; return 1; }
    [ "$(grep -c '^# TYPE' "$D_BODY")" = "$(grep -c '^# HELP' "$D_BODY")" ] || return 1
    local checks=(
        "flameshot_targets == 72"
        "flameshot_triggers_total{kind=\"http\"} >= 6"
        "flameshot_triggers_total{kind=\"cpu\"} == 0"
        "flameshot_jobs_total{outcome=\"done\"} >= 5"
        "flameshot_jobs_total{outcome=\"failed\"} >= 1"
        "flameshot_jobs_total{outcome=\"rejected\"} >= 1"
        "flameshot_attach_duration_seconds_count > 0"
        "flameshot_attach_duration_seconds_bucket{le=\"+Inf\"} > 0"
        "flameshot_uploads_total{result=\"ok\"} >= 5"
        "flameshot_uploads_total{result=\"failed\"} == 0"
        "flameshot_outbox_items >= 0"
        "flameshot_outbox_dropped_total == 0"
        "flameshot_local_sink_items >= 5"
        "flameshot_events_total > 0"
        "flameshot_events_lost_total >= 0"
        "flameshot_http_requests_total{code=\"202\"} >= 5"
        "flameshot_http_requests_total{code=\"409\"} >= 1"
        "flameshot_http_requests_total{code=\"403\"} == 0"
        "flameshot_http_requests_total{code=\"404\"} >= 14"
        "flameshot_http_requests_total{code=\"405\"} >= 2"
        "flameshot_http_requests_total{code=\"413\"} >= 1"
        "flameshot_start_time_seconds > 1600000000"
    )
    local c name op want v
    for c in "${checks[@]}"; do
        read -r name op want <<< "$c"
        v=$(metric "$name")
        [ -n "$v" ] && awk -v v="$v" -v w="$want" -v op="$op" 'BEGIN {
            exit !((op == "==" && v == w) || (op == ">=" && v >= w) || (op == ">" && v > w)) }' ||
            { echo "$name = ${v:-missing}, want $op $want"; return 1; }
    done
    grep -q '^flameshot_event_source_info{source="\(bpf\|poller\)"} 1$' "$D_BODY" ||
        { echo "no event source"; return 1; }
}

# One container's flood takes its share, not the node: the fillers (all in
# this test's cgroup, one tenant) get FLAMESHOT_MAX_QUEUED_PER_CONTAINER (8)
# places in the queue, the rest are refused with a container-specific 429.
case_container_queue_full_429() {
    caps
    SRC=127.0.0.17
    local f tenant
    # both workers busy for a minute, one per container (1 running each)
    d_expect main 202 "/v1/profile?pid=$(JVM1)&duration=60s" || return 1
    d_expect main 202 "/v1/profile?pid=$(JVM2)&duration=60s" || return 1
    # d_expect below says what came instead
    d_wait_api main /v1/status .jobs.running 2 10
    d_expect main 200 /v1/status '.jobs.running == 2 and .jobs.running_per_container == 1 and
        .jobs.queued_per_container == 8 and .config.max_queued_per_container == 8' || return 1
    # 70 fillers match: 8 wait, 62 are refused as their container's share is full
    d_expect main 202 "/v1/profile?command=%2Ffiller-$MARK%2Fjava%5Cs&duration=1s" '.queued == 8 and
        ([.targets[] | select(.status == "container_queue_full")] | length) == 62 and
        (.targets | length) == 70 and ([.targets[].tenant] | unique | length) == 1' || return 1
    tenant=$(jq -r '.targets[0].tenant' "$D_BODY")
    f=$(jq '[.targets[] | select(.status == "container_queue_full")][0].pid' "$D_BODY")
    d_expect main 429 "/v1/profile?pid=$f&duration=1s" '.error == "container queue full" and
        (.detail | contains("already has 8 capture(s) waiting")) and
        (.detail | contains("FLAMESHOT_MAX_QUEUED_PER_CONTAINER")) and
        .targets[0].status == "container_queue_full"' || return 1
    jq -e --arg t "$tenant" '.detail | contains($t)' "$D_BODY" > /dev/null ||
        { echo "the 429 does not name the cgroup $tenant: $(cat "$D_BODY")"; return 1; }
    [ -n "$(d_header Retry-After)" ] || { echo "no Retry-After"; return 1; }
    d_expect main 429 "/v1/snapshot?pid=$f" '.error == "container queue full"' || return 1
    d_expect main 200 /v1/status '.jobs.queued == 8 and .jobs.running == 2' || return 1
    d_expect main 200 /v1/jobs "[.jobs[] | select(.state == \"queued\") | .tenant] ==
        [range(8) | \"$tenant\"]" || return 1
    d_api main /metrics > /dev/null
    [ "$(metric 'flameshot_jobs_rejected_total{reason="container_queue_full"}')" -ge 64 ] ||
        { echo "rejections: $(grep jobs_rejected "$D_BODY")"; return 1; }
}

# Last: stops the daemon. Six keep-alive connections ask for /healthz,
# /readyz and a capture without pause from before the SIGTERM until the
# server is gone: in between (jobs being stopped) captures and /readyz get
# 503 and /healthz still 200.
case_shutdown_503() {
    caps
    local fl
    timeout 60 "$FLOOD" flood --port "$(d_port main)" --clients 1 --first-source 18 --conns 6 \
        --requests 100000000 --until-refused /healthz /readyz "/v1/profile?pid=$(JVM1)" \
        > "$H_DIR/stop.json" &
    fl=$!
    sleep 0.5
    kill -TERM "$(d_pid main)"
    wait $fl || { echo "the load did not end with the server"; return 1; }
    jq -e '.paths[0].codes["200"] > 0 and .paths[0].codes["503"] == null and
        .paths[1].codes["200"] > 0 and .paths[1].codes["503"] > 0 and
        .paths[2].codes["503"] > 0 and
        ([.codes | keys[]] - ["200", "409", "429", "503"]) == [] and .errors >= 1' \
        "$H_DIR/stop.json" > /dev/null ||
        { echo "answers around the shutdown: $(jq -c '{errors, first_error, paths}' "$H_DIR/stop.json")"; return 1; }
    d_stop main 60 || { echo "exit status $?"; d_log main | tail -n 20; return 1; }
    d_log main | grep -q 'msg="stopped"' || { echo "no clean stop"; return 1; }
}

if h_can_run > /dev/null 2>&1 && ct_can_run && command -v java > /dev/null &&
    [ -f "$CLASSES/Burner.class" ]; then
    setup > "$H_DIR/setup.err" 2>&1 && touch "$H_DIR/ready"
fi

t_case "probes and status" case_probes_and_status
t_case "targets with samples, limits, rule, container" case_targets
t_case "profile of a namespaced JVM: 202, job done, JFR in the local sink" case_profile_end_to_end
t_case "snapshots: by pid, by command, failure reason" case_snapshots
t_case "command regex: one job per target, 409 when all busy" case_command_regex_one_job_per_target
t_case "status codes 400 404 405 413; the same 404 for any non-target" case_error_codes
t_case "metrics: Prometheus text with what happened above" case_metrics
t_case "one container's flood: 8 queued, then 429 container queue full" case_container_queue_full_429
t_case "shutdown: 503 for captures and readyz" case_shutdown_503
t_done
