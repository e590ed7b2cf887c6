#!/bin/bash
# A container whose heap-dump directory hangs must not stall the agent.
# A namespaced JVM with -XX:+HeapDumpOnOutOfMemoryError dumps into a
# directory whose opening blocks without end (tests/helpers/hang_dir: an
# unanswered fanotify permission event, as a stuck FUSE or NFS mount
# behaves). While the agent's scan of that directory is stuck in the
# kernel: /readyz and /v1/targets answer at once, and a new process is
# seen from its exec event. The stuck scan ends at its deadline (the
# confined helper is killed) and is reported: a warning and
# dump_dir_timeouts in /v1/status. The agent still stops cleanly.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
HANG=$BUILD/tests/helpers/hang_dir
WORK=$(mktemp -d /var/tmp/flameshot-hung-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq && command -v curl" "needs java, jq and curl"
    need "[ -x '$FLAMESHOTD' ] && [ -x '$HANG' ] && [ -f '$CLASSES/OomApp.class' ]" \
        "run make test-build first"
}

# prompt NAME PATH: the API answers PATH with 200 in under a second
prompt() {
    local out
    out=$(curl -s --max-time 5 -o "$WORK/body" -w '%{http_code} %{time_total}' \
        "http://127.0.0.1:$(d_port "$1")$2")
    awk '{ exit !($1 == 200 && $2 < 1.0) }' <<<"$out" && return 0
    echo "GET $2 while the scan is stuck: code and seconds $out"
    return 1
}

case_hung_dump_dir_stalls_nothing() {
    caps
    local dumps=$WORK/dumps
    mkdir -p "$dumps" "$WORK/bin"; chmod 1777 "$dumps"
    cp /bin/sleep "$WORK/bin/java" # a process the default way of telling JVMs takes for one
    D_LOG_LEVEL=debug d_start hung FLAMESHOT_OOM_HPROF_ENABLED=true FLAMESHOT_MONITOR_INTERVAL=500ms \
        FLAMESHOT_PROCESSES='[{"service":"oomapp","command":"OomApp hung$"},{"service":"late","command":"bin/java 1001$"}]' ||
        return 1
    ct_start hung --share "$dumps" -- /usr/bin/java -Xmx48m -Doomapp.delay=600000 \
        -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$dumps" -cp "$CLASSES" OomApp hung || return 1
    d_wait_log hung "watching pid $(ct_pid hung) " 20 || return 1
    d_wait_log hung "heap dumps go to $dumps/" 20 || return 1

    # from now on, opening the dump directory blocks
    coproc HANGER { exec "$HANG" "$dumps"; }
    HANG_PID=$HANGER_PID
    trap 'kill "$HANG_PID" 2>/dev/null' EXIT
    local line blocked=""
    read -r -t 10 line <&"${HANGER[0]}" && [ "$line" = ready ] || { echo "hang_dir: $line"; return 1; }
    # the agent's next live scan runs into it (every second tick)
    read -r -t 10 line <&"${HANGER[0]}" && blocked=${line#blocked } ||
        { echo "no scan of the dump directory within 10s"; d_log hung | tail -20; return 1; }
    local t0; t0=$(date +%s%N)

    # while it is stuck: the API answers, and exec events are handled
    prompt hung /readyz || return 1
    prompt hung /v1/targets || return 1
    jq -e --argjson p "$(ct_pid hung)" '.targets | any(.pid == $p)' "$WORK/body" >/dev/null ||
        { echo "the JVM is not in /v1/targets"; return 1; }
    prompt hung /v1/status || return 1
    "$WORK/bin/java" 1001 &
    local late=$!
    d_wait_log hung "watching pid $late " 2 || { kill $late; return 1; }
    kill $late
    # and all of that happened while the scan was still stuck
    kill -0 "$blocked" 2>/dev/null || { echo "the blocked scan ($blocked) ended too early to tell"; return 1; }
    ! d_log hung | grep -q "did not answer" || { echo "the scan timed out before the checks ended"; return 1; }

    # the stuck scan is bounded by its deadline, and reported
    d_wait_log hung "heap-dump directory $dumps did not answer within 5000ms" 15 || return 1
    local took=$((($(date +%s%N) - t0) / 1000000))
    [ "$took" -lt 10000 ] || { echo "the stuck scan was reported after ${took}ms"; return 1; }
    d_expect hung 200 /v1/status '.background.dump_dir_timeouts >= 1' || return 1
    curl -s "http://127.0.0.1:$(d_port hung)/metrics" | grep -q '^flameshot_dump_dir_timeouts_total [1-9]' ||
        { echo "no flameshot_dump_dir_timeouts_total in /metrics"; return 1; }
    # the helper was killed (fanotify waits are killable) or accounted as stuck
    local i
    for i in $(seq 1 50); do
        kill -0 "$blocked" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$blocked" 2>/dev/null && ! d_expect hung 200 /v1/status '.background.helpers_stuck >= 1' &&
        { echo "the helper $blocked still lives and is not accounted as stuck"; return 1; }

    # the directory stays hung: the agent still stops within its bound
    local s0; s0=$(date +%s)
    d_stop hung 30 || { echo "flameshotd did not stop cleanly"; return 1; }
    [ $(($(date +%s) - s0)) -lt 30 ] || return 1
}

t_case "a hung heap-dump directory stalls neither events nor the API; its scan times out and is reported" \
    case_hung_dump_dir_stalls_nothing
t_done
