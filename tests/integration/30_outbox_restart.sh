#!/bin/bash
# The outbox survives SIGKILL: killed mid-delivery and restarted, it
# delivers everything still pending (only the upload in flight at the kill
# may arrive twice, in two different runs); killed mid-write, it leaves no
# half-written artefact behind.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/lib/outbox.sh"

OB_TMP=$(mktemp -d /tmp/outbox_rs.XXXXXX)
trap ob_cleanup EXIT
JFR=$OB_TMP/burner.jfr

prereqs() {
    need "[ -x '$RECEIVER' ] && [ -x '$FEED' ]" "test helpers not built (make test-build)"
    need "command -v java && command -v jcmd && command -v jfr" "no JDK (java, jcmd, jfr)"
    need "command -v jq" "jq not installed (make deps)"
    need "[ -f '$BUILD/tests/java/Burner.class' ]" "Java fixtures not built"
}

feed() {
    "$FEED" --root "$OB_TMP/root" --datakit "http://127.0.0.1:$RECV_PORT/profiling/v1/input" \
        --backoff-min-ms 100 --backoff-max-ms 400 "$@" 2>>"$OB_TMP/feed.log"
}

# feed_bg ARGS...: the driver itself in the background (not a subshell
# around it: kill -9 must hit the process that holds the outbox); FP = pid
feed_bg() {
    "$FEED" --root "$OB_TMP/root" --datakit "http://127.0.0.1:$RECV_PORT/profiling/v1/input" \
        --backoff-min-ms 100 --backoff-max-ms 400 "$@" >/dev/null 2>>"$OB_TMP/feed.log" &
    FP=$!
    OB_PIDS+=("$FP")
}

case_sigkill_mid_delivery_then_restart() {
    prereqs
    ob_make_jfr "$JFR" || { echo "could not record a JFR"; return 1; }
    ob_receiver_start "$OB_TMP/r" 0 --delay-ms 400 || return 1
    feed put-profile "$JFR" 6 put-summary oom_hprof 2 >/dev/null || return 1
    feed_bg run-for 60
    local fp=$FP i
    for i in $(seq 1 100); do
        [ "$(ob_records "$OB_TMP/r")" -ge 2 ] && break
        sleep 0.1
    done
    kill -9 "$fp"
    wait "$fp" 2>/dev/null
    local before; before=$(ob_records "$OB_TMP/r")
    [ "$before" -ge 2 ] && [ "$before" -lt 8 ] ||
        { echo "the kill did not land mid-delivery ($before records)"; return 1; }
    local pending; pending=$(ls "$OB_TMP"/root/outbox/*.json | wc -l)
    [ "$pending" -ge $((8 - before)) ] || { echo "$pending pending for $before delivered"; return 1; }
    feed run-until-empty 60 >"$OB_TMP/out" || { cat "$OB_TMP/out"; return 1; }
    sleep 0.5 # the receiver answers late; let its last record land
    [ "$(jq -r .tags.seq "$OB_TMP/r/records.jsonl" | sort -un | tr '\n' ' ')" = \
      "1 2 3 4 5 6 7 8 " ] || { echo "not everything arrived"; return 1; }
    local total; total=$(ob_records "$OB_TMP/r")
    [ "$total" -le 9 ] || { echo "$total records for 8 artefacts"; return 1; }
    [ ! -s "$OB_TMP/r/rejects.jsonl" ] || { cat "$OB_TMP/r/rejects.jsonl"; return 1; }
    [ -z "$(find "$OB_TMP/root/outbox" -mindepth 1 ! -name .lock)" ] || { echo "outbox not empty"; return 1; }
    ob_receiver_stop
}

case_sigkill_mid_write_leaves_nothing() {
    prereqs
    ob_receiver_start "$OB_TMP/r2" || return 1
    rm -rf "$OB_TMP/root"
    mkfifo "$OB_TMP/fifo"
    feed_bg put-profile "$OB_TMP/fifo" 1
    local fp=$FP i
    exec 3>"$OB_TMP/fifo"
    printf 'FLR\0partial' >&3
    for i in $(seq 1 100); do
        ls "$OB_TMP"/root/outbox/.tmp-* >/dev/null 2>&1 && break
        sleep 0.05
    done
    ls "$OB_TMP"/root/outbox/.tmp-* >/dev/null 2>&1 || { exec 3>&-; echo "no temp file"; return 1; }
    kill -9 "$fp"
    wait "$fp" 2>/dev/null
    exec 3>&-
    feed stats >"$OB_TMP/out2" || return 1
    grep '^stats' "$OB_TMP/out2" | sed 's/^stats //' | jq -e '.items == 0' >/dev/null ||
        { cat "$OB_TMP/out2"; return 1; }
    [ -z "$(find "$OB_TMP/root/outbox" -mindepth 1 ! -name .lock)" ] || { ls -la "$OB_TMP/root/outbox"; return 1; }
    grep -q "left by an interrupted write" "$OB_TMP/feed.log" || { echo "not logged"; return 1; }
    ob_receiver_stop
}

t_case "SIGKILL mid-delivery, restart: everything arrives" case_sigkill_mid_delivery_then_restart
t_case "SIGKILL mid-write: the half-written artefact is removed" \
    case_sigkill_mid_write_leaves_nothing
t_done
