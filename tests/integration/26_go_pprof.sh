#!/bin/bash
# Go targets end to end: a real Go program serving net/http/pprof
# (tests/fixtures/go/pprofapp.go, built here with Debian's golang-go,
# offline) runs as uid 10001 in PID, mount and network namespaces of its
# own (tests/lib/container.sh --netns), listening on 127.0.0.1:6060 inside
# its network only. build/flameshotd profiles it on HTTP triggers the way
# Flameshot does: pprof pulled from inside the target's network
# namespace, one multipart upload to the DataKit stand-in with cpu.pprof
# and goroutines.pprof, and from the second pull on delta-heap.pprof,
# delta-mutex.pprof and delta-block.pprof whose values are what happened
# between the pulls (checked with `go tool pprof -raw`). Without DataKit
# the local sink keeps the same files.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/outbox.sh"
GO_OUT=$BUILD/tests/go
APP=$GO_OUT/pprofapp
OB_TMP=$(mktemp -d /var/tmp/flameshot-go-test.XXXXXX)
chmod 755 "$OB_TMP"
trap 'd_cleanup; ct_cleanup; ob_cleanup' EXIT
export GOCACHE=$GO_OUT/cache GOPATH=$GO_OUT/gopath GOFLAGS= GOPROXY=off GO111MODULE=on

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run && command -v ip && command -v nsenter" \
        "needs unshare, setpriv, nsenter, ip and cgroup v1 memory"
    need "command -v go" "needs golang-go (make deps)"
    need "d_can_run" "needs curl, jq, ss and build/flameshotd"
    need "[ -x '$RECEIVER' ]" "run make test-build first"
}

# The Go program, built once per source change, with no module download.
build_app() {
    [ -x "$APP" ] && [ "$APP" -nt "$ROOT/tests/fixtures/go/pprofapp.go" ] && return 0
    mkdir -p "$GO_OUT"
    (cd "$GO_OUT" && go build -o "$APP.tmp" "$ROOT/tests/fixtures/go/pprofapp.go") &&
        mv "$APP.tmp" "$APP" && chmod 755 "$APP"
}

start_app() {
    build_app || { echo "go build failed"; return 1; }
    ct_start "$1" --netns -- "$APP" -addr 127.0.0.1:6060 || return 1
    ct_wait_output "$1" "pprofapp listening on 127.0.0.1:6060" 20
}

# in_net NAME curl args...: curl from inside NAME's network namespace
in_net() {
    local name=$1
    shift
    nsenter --net="/proc/$(ct_pid "$name")/ns/net" curl -sf --max-time 30 "$@"
}

RULE='[{"service":"goapp","language":"go","command":"pprofapp -addr","pprof_url":"http://127.0.0.1:6060","pprof_types":["all"],"duration":"2s"}]'

# trigger NAME: one HTTP-triggered profile of the app; waits for the job
trigger() {
    local pid; pid=$(ct_pid app)
    d_expect "$1" 202 "/v1/profile?pid=$pid&duration=2s" '.queued == 1' || return 1
    local id; id=$(jq .job_id "$D_BODY")
    [ "$(d_wait_job "$1" "$id" 120)" = done ] || { echo "job: $(cat "$D_BODY")"; return 1; }
    cp "$D_BODY" "$OB_TMP/job.json"
}

# raw_sum FILE: alloc_objects of the samples whose stack has main.allocBurst
# and whose objects are 1 KiB, as `go tool pprof -raw` prints them
raw_sum() {
    go tool pprof -raw "$1" 2>/dev/null | awk '
        /^Samples:/ { sec = "s"; next }
        /^Locations/ { sec = "l"; next }
        /^Mappings/ { sec = "m"; next }
        sec == "s" && /bytes:\[1024\]/ { kib[n] = 1; next }
        sec == "s" && /^ *-?[0-9]+ .*:/ { split($0, a, ":"); split(a[1], v, " ");
                                          stack[++n] = a[2]; val[n] = v[1]; next }
        sec == "l" && /main\.allocBurst/ { id = $1; sub(":", "", id); burst[id] = 1 }
        END { for (i = 1; i <= n; i++) if (kib[i]) { split(stack[i], ids, " ");
                  for (j in ids) if (ids[j] in burst) { sum += val[i]; break } }
              print sum + 0 }'
}

case_datakit_gets_flameshots_go_upload_and_deltas() {
    caps
    start_app app || return 1
    local pid; pid=$(ct_pid app)
    # the app is not on the host's loopback: only its own network has it
    ! curl -s --max-time 2 http://127.0.0.1:6060/debug/pprof/cmdline | grep -q pprofapp ||
        { echo "the app answers on the host's 127.0.0.1:6060"; return 1; }
    in_net app http://127.0.0.1:6060/debug/pprof/cmdline | grep -q pprofapp ||
        { echo "the app does not answer inside its network"; return 1; }
    # the case runs in t_case's subshell: the script's EXIT trap never sees
    # this receiver's pid, this subshell's does
    trap ob_receiver_stop EXIT
    ob_receiver_start "$OB_TMP/r" || { echo "receiver did not start"; return 1; }
    d_start dk FLAMESHOT_DATAKIT_ADDR="http://127.0.0.1:$RECV_PORT/profiling/v1/input" \
        FLAMESHOT_PROCESSES="$RULE" || return 1
    d_wait_log dk "watching pid $pid" 20 || return 1
    trigger dk || return 1
    jq -e '.reason | contains("heap: first pull stored as the baseline")' "$OB_TMP/job.json" \
        >/dev/null || { echo "job: $(cat "$OB_TMP/job.json")"; return 1; }
    d_wait_json "$OB_TMP/r/records.jsonl" 'select(.kind == "profile")' 60 >/dev/null || return 1
    [ ! -s "$OB_TMP/r/rejects.jsonl" ] || { cat "$OB_TMP/r/rejects.jsonl"; return 1; }
    jq -e -s --arg nspid "$(ct_nspid app)" '.[0] | .event.family == "go" and
        .event.format == "pprof" and .event.profiler == "pprof" and
        .event.attachments == ["cpu.pprof", "goroutines.pprof"] and
        .tags.language == "golang" and .tags.library_type == "go_pprof" and
        .tags.profiler == "pprof" and .tags.service == "goapp" and .tags.trigger == "http" and
        .tags.process_id == $nspid' "$OB_TMP/r/records.jsonl" >/dev/null ||
        { head -c 2000 "$OB_TMP/r/records.jsonl"; echo "first upload wrong"; return 1; }
    local cpu; cpu=$(jq -r -s '.[0].attachments[0].path' "$OB_TMP/r/records.jsonl")
    go tool pprof -raw "$cpu" 2>/dev/null | grep -q 'main.spin' ||
        { echo "the CPU profile does not show main.spin"; return 1; }
    # 1000 more 1 KiB objects between the pulls
    in_net app "http://127.0.0.1:6060/alloc?n=1000" | grep -q "allocated 1000" ||
        { echo "no burst"; return 1; }
    trigger dk || return 1
    d_wait_json "$OB_TMP/r/records.jsonl" 'select(.kind == "profile" and
        (.attachments | length) == 5)' 60 >/dev/null || return 1
    local rec; rec=$(jq -c -s 'map(select(.kind == "profile"))[1]' "$OB_TMP/r/records.jsonl")
    echo "$rec" | jq -e '.event.attachments == ["cpu.pprof", "goroutines.pprof",
        "delta-heap.pprof", "delta-mutex.pprof", "delta-block.pprof"]' >/dev/null ||
        { echo "$rec"; echo "second upload wrong"; return 1; }
    local heap; heap=$(echo "$rec" | jq -r '.attachments[2].path')
    for f in $(echo "$rec" | jq -r '.attachments[3,4].path'); do
        go tool pprof -raw "$f" >/dev/null 2>&1 || { echo "go tool pprof rejects $f"; return 1; }
    done
    in_net app -o "$OB_TMP/cumulative.pb.gz" http://127.0.0.1:6060/debug/pprof/heap ||
        { echo "no cumulative heap"; return 1; }
    local delta cum
    delta=$(raw_sum "$heap") cum=$(raw_sum "$OB_TMP/cumulative.pb.gz")
    [ "$delta" = 1000 ] && [ "$cum" = 1500 ] ||
        { echo "allocBurst objects: delta $delta (want 1000), cumulative $cum (want 1500)"; return 1; }
    # a Go target gets no jcmd snapshot: it has no JVM to attach to
    d_expect dk 202 "/v1/snapshot?pid=$pid" '.queued == 1' || return 1
    [ "$(d_wait_job dk "$(jq .job_id "$D_BODY")" 30)" = failed ] &&
        jq -e '.reason | contains("jcmd snapshots are for Java targets")' "$D_BODY" >/dev/null ||
        { echo "snapshot job: $(cat "$D_BODY")"; return 1; }
    d_stop dk
}

case_local_sink_keeps_the_same_files() {
    caps
    [ -n "$(ct_pid app 2>/dev/null)" ] || start_app app || return 1
    d_start local FLAMESHOT_PROCESSES="$RULE" || return 1
    d_wait_log local "watching pid $(ct_pid app)" 20 || return 1
    trigger local || return 1
    trigger local || return 1
    local dir; dir=$(jq -r '.artefacts[0].name' "$OB_TMP/job.json")
    case $dir in */profiles/host/goapp/pprof_*) ;; *) echo "kept at $dir"; return 1 ;; esac
    local f
    for f in cpu.pprof goroutines.pprof delta-heap.pprof delta-mutex.pprof delta-block.pprof; do
        go tool pprof -raw "$dir/$f" >/dev/null 2>&1 || { ls -l "$dir"; echo "$f"; return 1; }
    done
    jq -e '.artefact.attachments | map(.name) | length == 5' "$dir.json" >/dev/null ||
        { cat "$dir.json"; return 1; }
    d_stop local
}

t_case "DataKit gets Flameshot's Go upload, heap/mutex/block as deltas between pulls" \
    case_datakit_gets_flameshots_go_upload_and_deltas
t_case "without DataKit the local sink keeps the same files" case_local_sink_keeps_the_same_files
t_done
