#!/bin/bash
# Attach readiness (issue 11): build/flameshotd starts the attach listener
# of a namespaced JVM running as uid 10001 (tests/lib/container.sh) a
# settle time after it became a target, with no HTTP call; the snapshot
# that follows sends no SIGQUIT. FLAMESHOT_ATTACH_PREWARM=false leaves the
# listener alone, and a JVM with -XX:+DisableAttachMechanism is never
# touched.
#
# How "no SIGQUIT" is proven: strace follows the daemon and every helper it
# forks and records each signal sent (kill, tgkill, pidfd_send_signal...);
# and HotSpot answers a SIGQUIT that arrives while its listener runs with a
# "Full thread dump" on the JVM's stdout. The case without pre-warm shows
# that the same strace does see the first attach's SIGQUIT.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-prewarm-test.XXXXXX)
STRACE_PID=
trap 'strace_stop; d_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq && command -v strace" "needs a JDK, jq and strace"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Climber.class' ]" "run make test-build first"
}

# an idle JVM (one 1 MiB step, then it sleeps); marker keeps command lines apart
start_jvm() { # name marker [java options...]
    local name=$1 marker=$2; shift 2
    ct_start "$name" -- /usr/bin/java -XX:+UseSerialGC -Xmx64m "$@" -cp "$CLASSES" \
        Climber 1 "$marker" 1 || return 1
    ct_wait_output "$name" "Climber started" 20
}

sock_of() { echo "$(ct_root "$1")/tmp/.java_pid$(ct_nspid "$1")"; }

# waits until the JVM's listener socket exists; prints the epoch time seen
wait_socket() { # name secs
    local s i; s=$(sock_of "$1")
    for i in $(seq 1 $(($2 * 20))); do
        [ -S "$s" ] && { date +%s.%N; return 0; }
        sleep 0.05
    done
    echo "no $s after $2 s" >&2
    return 1
}

log_time() {
    local t
    t=$(grep -Em1 "$2" "$D_DIR/$1/log" | sed -E 's/^ts=([^ ]+) .*/\1/') || return 1
    [ -n "$t" ] && date -d "$t" +%s.%N
}

# strace on the daemon and all it forks, recording only signals sent
strace_start() { # daemon
    strace -f -e trace=kill,tkill,tgkill,pidfd_send_signal,rt_sigqueueinfo,rt_tgsigqueueinfo \
        -e signal=none -o "$WORK/signals" -p "$(d_pid "$1")" 2>"$WORK/strace.err" &
    STRACE_PID=$!
    local i
    for i in $(seq 1 100); do
        grep -q "attached" "$WORK/strace.err" && return 0
        sleep 0.1
    done
    echo "strace did not attach: $(cat "$WORK/strace.err")"
    return 1
}

strace_stop() {
    [ -n "$STRACE_PID" ] || return 0
    kill -INT "$STRACE_PID" 2>/dev/null
    wait "$STRACE_PID" 2>/dev/null
    STRACE_PID=
}

snapshot() { # daemon pid: a snapshot through the HTTP API, waits until done
    d_expect "$1" 202 "/v1/snapshot?pid=$2" '.queued == 1' || return 1
    local id; id=$(jq .job_id "$D_BODY")
    local st; st=$(d_wait_job "$1" "$id" 60)
    [ "$st" = done ] || { echo "snapshot job $id: $st"; d_api "$1" "/v1/jobs/$id" >/dev/null; cat "$D_BODY"; return 1; }
}

case_prewarmed_listener_and_a_snapshot_without_sigquit() {
    caps
    start_jvm warm 58001 || return 1
    local pid; pid=$(ct_pid warm)
    D_LOG_LEVEL=debug d_start warm FLAMESHOT_PROCESSES='[{"service":"warm","command":"Climber 1 58001 1$"}]' ||
        return 1
    d_wait_log warm "watching pid $pid " 10 || return 1
    # no capture asked for: the listener comes up by itself, after the settle time
    local seen t0; seen=$(wait_socket warm 20) || { d_log warm | tail; return 1; }
    t0=$(log_time warm "watching pid $pid ") || return 1
    awk -v a="$t0" -v b="$seen" 'BEGIN { exit !(b - a >= 2.5) }' ||
        { echo "listener up $(awk -v a="$t0" -v b="$seen" 'BEGIN{print b-a}')s after the JVM was watched"; return 1; }
    [ "$(stat -c %u "$(sock_of warm)")" = "$CT_UID" ] || { echo "socket not the JVM's"; return 1; }
    [ ! -e "$(ct_root warm)/tmp/.attach_pid$(ct_nspid warm)" ] || { echo ".attach_pid left"; return 1; }
    d_wait_log warm "pid $pid: attach listener started in [0-9]+ ms" 10 || return 1
    [ "$(d_metric warm flameshot_attach_prewarmed_total)" = 1 ] || { echo "prewarmed_total"; return 1; }
    [ "$(d_metric warm flameshot_attach_prewarm_failed_total)" = 0 ] || return 1
    # it leaves no trace in the JVM's output (HotSpot drops the empty request silently)
    [ "$(ct_output warm)" = "Climber started" ] || { echo "JVM output: $(ct_output warm)"; return 1; }
    # the snapshot only connects
    strace_start warm || return 1
    snapshot warm "$pid" || return 1
    strace_stop
    ! grep -q SIGQUIT "$WORK/signals" || { echo "SIGQUIT sent:"; grep SIGQUIT "$WORK/signals"; return 1; }
    ! ct_output warm | grep -q "Full thread dump" || { echo "a SIGQUIT reached the JVM"; return 1; }
    grep -q 'Climber' "$(ls "$(d_profiles warm)"/host/warm/jcmd_thread_print_*.txt)" || return 1
    # once per process: nothing more on later ticks
    d_stop warm || return 1
    [ "$(grep -c "pid $pid: attach listener" "$D_DIR/warm/log")" = 1 ] || return 1
    ct_stop warm
}

# Without pre-warm the first attach is the one that signals: what strace
# sees there shows it would see one above.
case_switched_off_no_listener_until_a_capture() {
    caps
    start_jvm off 58002 || return 1
    start_jvm on 58003 || return 1
    start_jvm dis 58004 -XX:+DisableAttachMechanism || return 1
    local off on dis; off=$(ct_pid off); on=$(ct_pid on); dis=$(ct_pid dis)
    local iv=FLAMESHOT_MONITOR_INTERVAL=200ms
    # "off" first: it has had at least as long as "on" once "on" is warm
    d_start off $iv FLAMESHOT_ATTACH_PREWARM=false \
        FLAMESHOT_PROCESSES='[{"service":"off","command":"Climber 1 58002 1$"}]' || return 1
    D_LOG_LEVEL=debug d_start on $iv \
        FLAMESHOT_PROCESSES='[{"service":"on","command":"Climber 1 5800[34] 1$"}]' || return 1
    d_wait_log off "watching pid $off " 10 && d_wait_log on "watching pid $dis " 10 || return 1
    wait_socket on 20 >/dev/null || return 1
    d_wait_log on "pid $dis: attach is disabled; its listener is left alone" 10 || return 1
    sleep 1 # five ticks of "off" past the moment "on" warmed its JVM
    [ ! -e "$(sock_of off)" ] || { echo "a listener with FLAMESHOT_ATTACH_PREWARM=false"; return 1; }
    [ ! -e "$(sock_of dis)" ] && [ ! -e "$(ct_root dis)/tmp/.attach_pid$(ct_nspid dis)" ] ||
        { echo "the attach-disabled JVM was touched"; return 1; }
    ! ct_output dis | grep -q "Full thread dump" || { echo "SIGQUIT to the attach-disabled JVM"; return 1; }
    [ "$(d_metric on flameshot_attach_prewarmed_total)" = 1 ] || return 1
    [ "$(d_metric on flameshot_attach_prewarm_failed_total)" = 0 ] || return 1
    d_api off /v1/status >/dev/null
    jq -e '.config.attach_prewarm == false' "$D_BODY" >/dev/null || { echo "status: $(jq -c .config "$D_BODY")"; return 1; }
    # the first capture of "off" starts the listener: one SIGQUIT, seen by strace
    strace_start off || return 1
    snapshot off "$off" || return 1
    strace_stop
    grep -q 'SIGQUIT' "$WORK/signals" || { echo "strace saw no SIGQUIT: $(cat "$WORK/signals")"; return 1; }
    [ -S "$(sock_of off)" ] || return 1
    d_stop off && d_stop on
}

t_case "a JVM's listener is started after the settle time; the snapshot sends no SIGQUIT" \
    case_prewarmed_listener_and_a_snapshot_without_sigquit
t_case "FLAMESHOT_ATTACH_PREWARM=false and -XX:+DisableAttachMechanism: no listener by itself" \
    case_switched_off_no_listener_until_a_capture
t_done
