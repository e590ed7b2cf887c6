#!/bin/bash
# Faults injected into the real agent (build/flameshotd, namespaced JVMs of
# tests/lib/container.sh, the DataKit stand-in of tests/lib/outbox.sh):
#   - a JVM stopped (SIGSTOP) before its first attach: /v1/snapshot and
#     /v1/profile fail at once naming the stopped state, twice, and the
#     JVM is never signalled while stopped (after SIGCONT it has printed
#     no thread dump: one SIGQUIT in all); and again with its attach
#     listener running: they fail within their bound
#     (FLAMESHOT_JCMD_TIMEOUT, inside the job deadline) with a reason
#     naming the timeout and the stopped state; /v1/status answers
#     within a second all along; after SIGCONT both succeed; nothing of
#     ours is left in the JVM's /tmp;
#   - the spool (FLAMESHOT_PROFILING_PATH, a small tmpfs of this test's)
#     full, then read-only (a read-only bind mount stacked on it: the
#     tmpfs itself cannot be remounted read-only while the agent holds
#     outbox/.lock open for writing): the agent stays up, each lost
#     artefact is counted in /v1/status and /metrics, the reason is logged
#     once and shown in outbox.spool_error; when space returns (the filler
#     removed, the read-only mount gone) new artefacts are kept again;
#     and a spool already read-only when the agent starts: it starts,
#     and keeps artefacts once the tmpfs is remounted read-write;
#   - DataKit down for 60 s with 7 artefacts produced meanwhile (3 profiles,
#     2 snapshots of 2 texts each): when it is back every one arrives
#     exactly once (profiles by the SHA-256 of their JFR, snapshot
#     summaries by the text's path) and the outbox is empty.
# Duration: about 5 minutes, most of it the DataKit case (the 60 s outage,
# then up to ~2 min for the outbox's doubling backoff to probe again) and
# the stopped JVMs (each job waits for its 10 s jcmd timeout).
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/outbox.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-faults-test.XXXXXX)
chmod 755 "$WORK"

# every mount of this test lies under $WORK (a stacked bind over a tmpfs
# takes two umounts); receivers are started in the cases' subshells and
# recorded in $WORK/receivers
cleanup() {
    local m i p
    d_cleanup
    for p in $(cat "$WORK/receivers" 2>/dev/null); do
        kill "$p" 2>/dev/null
    done
    ct_cleanup
    for m in "$WORK"/spool-*; do
        for i in $(seq 1 50); do
            mountpoint -q "$m" || break
            umount "$m" 2>/dev/null || sleep 0.1
        done
        mountpoint -q "$m" && umount -l "$m"
    done
    rm -rf "$WORK" "$D_DIR" # again: a daemon killed above may have written its exit status since
}
trap cleanup EXIT

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need d_can_run "needs curl, jq, ss and the test build (make test-build)"
    need "command -v java && command -v mountpoint && command -v sha256sum" \
        "needs a JDK, mountpoint and sha256sum"
    need "[ -x '$RECEIVER' ] && [ -f '$CLASSES/Burner.class' ]" "run make test-build first"
}

burner() { # name marker
    ct_start "$1" -- /usr/bin/java -cp "$CLASSES" Burner "$2" || return 1
    ct_wait_output "$1" "Burner started" 20
}

procs() { echo "FLAMESHOT_PROCESSES=[{\"service\":\"faults\",\"command\":\"Burner $1\$\"}]"; }

receiver_start() { # outdir [port]
    ob_receiver_start "$@" || return 1
    echo "$RECV_PID" >> "$WORK/receivers"
}

# jobs_done NAME ID...: each job ended done
jobs_done() {
    local name=$1 id st; shift
    for id; do
        st=$(d_wait_job "$name" "$id" 120) || { echo "$st"; return 1; }
        [ "$st" = "done" ] || { echo "job $id ended $st: $(cat "$D_BODY")"; return 1; }
    done
}

# submit NAME PID: a snapshot (both texts) and a 2 s profile of PID;
# prints their job ids
submit() {
    local ids
    d_expect "$1" 202 "/v1/snapshot?pid=$2" '.job_ids | length == 1' || return 1
    ids=$(jq '.job_ids[0]' "$D_BODY")
    d_expect "$1" 202 "/v1/profile?pid=$2&duration=2s" '.job_id > 0' || return 1
    echo "$ids $(jq .job_id "$D_BODY")"
}

# ended NAME ID...: waits for each job to end (any state)
ended() {
    local name=$1 id st; shift
    for id; do
        st=$(d_wait_job "$name" "$id" 120) || { echo "$st"; return 1; }
    done
}

# responsive NAME ID...: while any of the jobs is queued or running,
# GET /v1/status must answer 200 within a second, every time (at least
# 3 probes unless MIN_PROBES says otherwise: jobs that fail at once)
responsive() {
    local name=$1 id busy out probes=0; shift
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt 120 ]; do
        busy=0
        for id; do
            d_api "$name" "/v1/jobs/$id" > /dev/null
            jq -e '.state == "queued" or .state == "running"' "$D_BODY" > /dev/null && busy=1
        done
        [ $busy = 1 ] || break
        out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 \
            "http://127.0.0.1:$(d_port "$name")/v1/status")
        awk '{ exit !($1 == 200 && $2 < 1.0) }' <<< "$out" ||
            { echo "GET /v1/status while a job waits on the stopped JVM: '$out'"; return 1; }
        probes=$((probes + 1))
        sleep 0.2
    done
    [ $busy = 0 ] || { echo "the jobs are still running after 120 s"; return 1; }
    [ $probes -ge "${MIN_PROBES:-3}" ] || { echo "only $probes probes while the jobs waited"; return 1; }
}

# The jcmd timeout: the default, as short ones fail a JFR.start of a JVM
# resumed on a busy node (its first recording initialises JFR).
TMO=10

# failed_on_stopped NAME WANT-REGEX ID...: each job failed, its reason
# matches WANT-REGEX and names the stopped state, and it ran for at most
# 2 jcmd timeouts (a snapshot's two connections) and 2 s, inside its
# deadline (duration + 4 jcmd timeouts + 30 s)
failed_on_stopped() {
    local name=$1 want=$2 id; shift 2
    for id; do
        d_api "$name" "/v1/jobs/$id" > /dev/null
        jq -e --arg re "$want" '.state == "failed" and (.reason | test($re)) and
            (.reason | test("stopped \\(state [Tt]\\)"))' "$D_BODY" > /dev/null ||
            { echo "job $id: $(cat "$D_BODY")"; return 1; }
        local secs
        secs=$(jq '[.started, .finished] | map(sub("\\.[0-9]+"; "") | fromdateiso8601) |
            .[1] - .[0]' "$D_BODY")
        [ "$secs" -le $((2 * TMO + 2)) ] || { echo "job $id ran ${secs}s: $(cat "$D_BODY")"; return 1; }
    done
}

stop_jvm() { # pid
    local i
    kill -STOP "$1"
    for i in $(seq 1 50); do
        [ "$(awk '{print $3}' "/proc/$1/stat")" = T ] && return 0
        sleep 0.1
    done
    echo "pid $1 did not stop"; return 1
}

# what an attach or a capture of ours could leave in the container's /tmp
# (the JVM's own .java_pid socket and hsperfdata are its own)
nothing_left() { # container
    local left
    left=$(find "$(ct_root "$1")/tmp" -maxdepth 2 \( -name '.attach_pid*' -o -name '.flameshot*' \
        -o -name '*.jfr' -o -name '.tmp-*' \) 2>/dev/null)
    [ -z "$left" ] || { echo "left in the JVM's /tmp: $left"; return 1; }
}

# listener_idle NAME: the pre-warm started the JVM's attach listener, and the
# JVM accepted the pre-warm's connection. Its queue (HotSpot listens with a
# backlog of 5) holds 6 connections: the two triggers make 6, and with the
# pre-warm's still queued when the JVM stops, the last connect, not its
# reply, would time out.
listener_idle() {
    local q= i
    for i in $(seq 1 200); do
        if [ "$(d_metric "$1" flameshot_attach_prewarmed_total)" = 1 ]; then
            # the listener binds .java_pidN.tmp and renames it: ss shows the first
            q=$(nsenter -t "$(ct_pid "$1")" -n ss -xlH |
                awk -v p="/tmp/.java_pid$(ct_nspid "$1").tmp" '$5 == p { print $3 }')
            [ "$q" = 0 ] && return 0
        fi
        sleep 0.1
    done
    [ -n "$q" ] || { echo "the pre-warm did not start the attach listener"; return 1; }
    echo "the attach listener holds $q connections, want 0"
    return 1
}

# stopped_jvm NAME MARKER PREWARM REASON-REGEX
stopped_jvm() {
    local name=$1 marker=$2 prewarm=$3 want=$4
    caps
    burner "$name" "$marker" || return 1
    local pid ids; pid=$(ct_pid "$name")
    d_start "$name" FLAMESHOT_JCMD_TIMEOUT=${TMO}s FLAMESHOT_ATTACH_PREWARM="$prewarm" \
        "$(procs "$marker")" || return 1
    if [ "$prewarm" = true ]; then # the listener runs: the request, not the connect, waits
        listener_idle "$name" || return 1
    fi
    stop_jvm "$pid" || return 1
    ids=$(submit "$name" "$pid") || { echo "$ids"; return 1; }
    # no listener: the jobs fail at once (nothing is signalled); with
    # one, the requests wait for their timeout
    if [ "$prewarm" = true ]; then responsive "$name" $ids; else MIN_PROBES=0 responsive "$name" $ids; fi || return 1
    failed_on_stopped "$name" "$want" $ids || return 1
    ids=$(submit "$name" "$pid") || { echo "$ids"; return 1; } # a second trigger, still stopped
    ended "$name" $ids || return 1
    failed_on_stopped "$name" "$want" $ids || return 1
    kill -CONT "$pid"
    ids=$(submit "$name" "$pid") || { echo "$ids"; return 1; }
    jobs_done "$name" $ids || return 1
    nothing_left "$name" || return 1
    # one SIGQUIT in all: each more would have printed a thread dump
    ! ct_output "$name" | grep -q "Full thread dump" ||
        { echo "the JVM was signalled more than once:"; ct_output "$name" | grep "Full thread dump"; return 1; }
    d_expect "$name" 200 /healthz || return 1
    d_stop "$name" && ct_stop "$name"
}

case_stopped_before_attach() {
    stopped_jvm stop1 86601 false "no attach listener .* and the JVM process is stopped"
}

case_stopped_with_listener() {
    stopped_jvm stop2 86602 true "timed out waiting for the JVM's reply"
}

# ---- the spool --------------------------------------------------------------

# spool_agent NAME MARKER: a burner, and an agent whose spool is a 4 MiB
# tmpfs of this test's at $WORK/spool-NAME
spool_agent() {
    local m=$WORK/spool-$1
    burner "$1" "$2" || return 1
    mkdir -p "$m" && mount -t tmpfs -o size=4m,mode=0755 tmpfs "$m" || return 1
    d_start "$1" FLAMESHOT_PROFILING_PATH="$m" "$(procs "$2")"
}

# dropped_agrees NAME MIN REGEX: /v1/status counts at least MIN drops, as
# /metrics does, and names the spool's error
dropped_agrees() {
    local name=$1 min=$2 re=$3 n m
    d_expect "$name" 200 /v1/status ".outbox.dropped >= $min and
        (.outbox.spool_error // \"\" | test(\"$re\"))" || return 1
    n=$(jq .outbox.dropped "$D_BODY")
    m=$(d_metric "$name" flameshot_outbox_dropped_total)
    [ "$n" = "$m" ] || { echo "status says $n dropped, /metrics $m"; return 1; }
}

# snapshot_fails NAME PID REGEX: a snapshot job ends failed with REGEX in its reason
snapshot_fails() {
    local st
    d_expect "$1" 202 "/v1/snapshot?pid=$2" '.job_ids | length == 1' || return 1
    st=$(d_wait_job "$1" "$(jq '.job_ids[0]' "$D_BODY")" 60) || { echo "$st"; return 1; }
    jq -e --arg re "$3" '.state == "failed" and (.reason | test($re))' "$D_BODY" > /dev/null ||
        { echo "snapshot on a bad spool: $(cat "$D_BODY")"; return 1; }
}

# snapshot_kept NAME PID: a snapshot job ends done and its texts reach
# the local directory (the delivery thread moves them there)
snapshot_kept() {
    local f
    d_expect "$1" 202 "/v1/snapshot?pid=$2" '.job_ids | length == 1' || return 1
    jobs_done "$1" "$(jq '.job_ids[0]' "$D_BODY")" || return 1
    jq -e '.artefacts | length == 2' "$D_BODY" > /dev/null || { cat "$D_BODY"; return 1; }
    for f in $(jq -r '.artefacts[].name' "$D_BODY"); do
        d_wait_file "$f" 20 > /dev/null || { echo "the job says $f is kept, but it is not"; return 1; }
    done
}

once_logged() { # name
    local n
    n=$(grep -c 'every artefact is dropped until the spool can be written again' \
        "$D_DIR/$1/log")
    [ "$n" = 1 ] || { echo "the spool's failure logged $n times, want once"; grep outbox "$D_DIR/$1/log" | tail; return 1; }
}

case_spool_full_then_space_returns() {
    caps
    spool_agent full 86603 || return 1
    local pid=$(ct_pid full) spool=$WORK/spool-full
    # another writer takes every byte left: nothing of ours can be dropped
    # to make room
    dd if=/dev/zero of="$spool/filler" bs=64k 2> /dev/null
    dd if=/dev/zero of="$spool/filler2" bs=1 2> /dev/null
    snapshot_fails full "$pid" "No space left on device" || return 1
    snapshot_fails full "$pid" "No space left on device" || return 1
    d_expect full 202 "/v1/profile?pid=$pid&duration=1s" '.job_id > 0' || return 1
    local st; st=$(d_wait_job full "$(jq .job_id "$D_BODY")" 60) || { echo "$st"; return 1; }
    [ "$st" = failed ] || { echo "a profile on a full spool: $(cat "$D_BODY")"; return 1; }
    dropped_agrees full 3 "No space left on device" || return 1
    once_logged full || return 1
    d_expect full 200 /healthz || return 1
    # space returns
    rm -f "$spool/filler" "$spool/filler2"
    snapshot_kept full "$pid" || return 1
    d_expect full 200 /v1/status '.outbox.spool_error == null' || return 1
    d_wait_log full "spool .* can be written again" 5 || return 1
    d_stop full && ct_stop full
}

case_spool_read_only_then_writable() {
    caps
    spool_agent ro 86604 || return 1
    local pid=$(ct_pid ro) spool=$WORK/spool-ro
    snapshot_kept ro "$pid" || return 1
    local before; before=$(jq -r '.artefacts[].name' "$D_BODY")
    mount --bind "$spool" "$spool" && mount -o remount,bind,ro "$spool" || return 1
    snapshot_fails ro "$pid" "Read-only file system" || return 1
    d_expect ro 202 "/v1/profile?pid=$pid&duration=1s" '.job_id > 0' || return 1
    local st; st=$(d_wait_job ro "$(jq .job_id "$D_BODY")" 60) || { echo "$st"; return 1; }
    jq -e '.state == "failed" and (.reason | test("Read-only file system"))' "$D_BODY" > /dev/null ||
        { echo "a profile on a read-only spool: $(cat "$D_BODY")"; return 1; }
    dropped_agrees ro 2 "Read-only file system" || return 1
    once_logged ro || return 1
    d_expect ro 200 /healthz || return 1
    local f
    for f in $before; do
        [ -s "$f" ] || { echo "$f, kept before, is gone"; return 1; }
    done
    # writable again
    umount "$spool" || return 1
    snapshot_kept ro "$pid" || return 1
    d_expect ro 200 /v1/status '.outbox.spool_error == null' || return 1
    d_stop ro && ct_stop ro
}

# the spool read-only before the agent starts (remounted so while no agent
# runs): it starts all the same, says so from the start, counts the
# snapshot it cannot keep once, and keeps artefacts once remounted rw
case_spool_read_only_at_start() {
    caps
    spool_agent rostart 86605 || return 1
    local pid=$(ct_pid rostart) spool=$WORK/spool-rostart
    d_stop rostart || return 1
    mount -o remount,ro "$spool" || return 1
    d_start rostart FLAMESHOT_PROFILING_PATH="$spool" "$(procs 86605)" || return 1
    d_expect rostart 200 /v1/status '.outbox.dropped == 0 and
        (.outbox.spool_error // "" | test("Read-only file system"))' || return 1
    once_logged rostart || return 1
    snapshot_fails rostart "$pid" "Read-only file system" || return 1
    d_expect rostart 200 /v1/status '.outbox.dropped == 1' || return 1
    dropped_agrees rostart 1 "Read-only file system" || return 1
    once_logged rostart || return 1
    mount -o remount,rw "$spool" || return 1
    snapshot_kept rostart "$pid" || return 1
    d_expect rostart 200 /v1/status '.outbox.spool_error == null' || return 1
    d_stop rostart && ct_stop rostart
}

# ---- DataKit down for 60 s ----------------------------------------------------

# done_job NAME PATH: submits, waits done, appends the job's artefacts
# (kind name bytes) to $WORK/expected
done_job() {
    local id
    d_expect "$1" 202 "$2" '(.job_id // .job_ids[0]) > 0' || return 1
    id=$(jq '.job_id // .job_ids[0]' "$D_BODY")
    jobs_done "$1" "$id" || return 1
    jq -r '.artefacts[] | "\(.kind) \(.name) \(.bytes)"' "$D_BODY" >> "$WORK/expected"
}

# outbox_empty NAME SECS: waits until nothing is pending
outbox_empty() {
    d_wait_api "$1" /v1/status '.outbox.items == 0' true "$2" && return 0
    echo "still pending after $2 s: $(jq -c .outbox "$D_BODY")"
    return 1
}

# each_once DIR: the profiles and snapshot summaries in DIR/records.jsonl
# are exactly those of $WORK/expected, each once
each_once() {
    local rec=$1/records.jsonl want got
    [ ! -s "$1/rejects.jsonl" ] || { echo "rejected:"; cat "$1/rejects.jsonl"; return 1; }
    want=$(awk '$1 == "profile" { print $3 }' "$WORK/expected" | sort -n | tr '\n' ' ')
    got=$(jq -r 'select(.kind == "profile") | .jfr_size' "$rec" | sort -n | tr '\n' ' ')
    [ "$want" = "$got" ] || { echo "profile sizes: want [$want], got [$got]"; return 1; }
    local hashes
    hashes=$(jq -r 'select(.kind == "profile") | .jfr_path' "$rec" | xargs -r sha256sum | awk '{print $1}')
    [ "$(sort <<< "$hashes" | uniq -d)" = "" ] || { echo "a profile arrived twice"; return 1; }
    want=$(awk '$1 != "profile" { print $2 }' "$WORK/expected" | sort | tr '\n' ' ')
    got=$(jq -r 'select(.measurement == "flameshot_jcmd_snapshot") | .fields.output_path' "$rec" |
        sort | tr '\n' ' ')
    [ "$want" = "$got" ] || { echo "snapshot summaries: want [$want], got [$got]"; return 1; }
}

case_datakit_down_60s_nothing_lost_nothing_twice() {
    caps
    burner dk 86605 || return 1
    local pid; pid=$(ct_pid dk)
    receiver_start "$WORK/before" || return 1
    local port=$RECV_PORT addr
    addr="http://127.0.0.1:$port/profiling/v1/input"
    d_start dk FLAMESHOT_DATAKIT_ADDR="$addr" "$(procs 86605)" || return 1
    : > "$WORK/expected"
    done_job dk "/v1/profile?pid=$pid&duration=1s" || return 1
    outbox_empty dk 30 || return 1
    mv "$WORK/expected" "$WORK/expected.before"
    # DataKit goes down; 7 artefacts are produced during the outage
    ob_receiver_stop
    local down=$SECONDS i
    for i in 1 2 3; do
        done_job dk "/v1/profile?pid=$pid&duration=1s" || return 1
    done
    for i in 1 2; do
        done_job dk "/v1/snapshot?pid=$pid" || return 1
    done
    [ "$(wc -l < "$WORK/expected")" = 7 ] || { cat "$WORK/expected"; return 1; }
    d_expect dk 200 /v1/status '.outbox.items == 7 and
        (.outbox.sinks.datakit_profiling.healthy | not) and
        (.outbox.sinks.datakit_profiling.last_error | test("onnect|refused"))' || return 1
    [ $((SECONDS - down)) -lt 60 ] || { echo "the jobs took the whole outage"; return 1; }
    sleep $((60 - (SECONDS - down)))
    receiver_start "$WORK/after" "$port" || return 1
    # the backoff doubles to about a minute during the outage: the next
    # probe comes within two
    outbox_empty dk 180 || return 1
    each_once "$WORK/after" || return 1
    # the one delivered before the outage arrived once, before it
    [ "$(jq -s 'map(select(.kind == "profile")) | length' "$WORK/before/records.jsonl")" = 1 ] ||
        { echo "before the outage:"; cat "$WORK/before/records.jsonl"; return 1; }
    d_expect dk 200 /v1/status '.outbox.sinks.datakit_profiling.healthy and
        .outbox.sinks.datakit_logging.healthy and .outbox.dropped == 0' || return 1
    d_stop dk && ob_receiver_stop && ct_stop dk
}

t_case "a JVM stopped before its first attach: snapshot and profile fail at once naming it, twice, never signalled while stopped (no thread dump after), resumed they succeed, nothing left in its /tmp" case_stopped_before_attach
t_case "a JVM stopped with its attach listener running: the reply times out naming it, the API answers, resumed they succeed, nothing left in its /tmp" case_stopped_with_listener
t_case "spool full (tmpfs filled by another writer): the agent stays up, counts each lost artefact, logs it once, keeps new ones when space returns" case_spool_full_then_space_returns
t_case "spool read-only: the agent stays up, counts each lost artefact, logs it once, keeps what it had, keeps new ones once writable" case_spool_read_only_then_writable
t_case "spool read-only at start: the agent starts, shows the error at once, counts one drop per lost snapshot job, keeps artefacts once remounted read-write" case_spool_read_only_at_start
t_case "DataKit down 60 s with 7 artefacts produced meanwhile: back, each arrives exactly once and the outbox empties" case_datakit_down_60s_nothing_lost_nothing_twice
t_done
