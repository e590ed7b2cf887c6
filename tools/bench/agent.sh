# shellcheck shell=bash
# tools/bench/agent.sh: what the footprint, execstorm and economy scenarios
# share (sourced after lib.sh and tests/lib/daemon.sh).
#
#   BENCH_KIDS                 pids the scenario started (JVMs, idlers,
#                              forkers); bench_kill_kids kills them
#   bench_spawn_jvms N TAG     N idle JVMs (build/tests/java Idle TAG, heaps
#                              kept small so that 20 fit); pids in BENCH_JVMS
#   bench_wait_jvms N TAG      waits until N JVMs of TAG have started
#   bench_start_jvms N TAG     both
#   bench_agent_sample NAME SECS
#                              samples daemon NAME each second for SECS s;
#                              prints "cpu_pct vmhwm_mb max_vmrss_mb" (CPU:
#                              utime+stime over the window, % of one core)
#   bench_wait_watching NAME N waits until daemon NAME logged N "watching
#                              pid" lines (60 s at most); prints the count
BENCH_JFLAGS=(-Xmx32m -Xms8m -Xss256k -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -XX:CICompilerCount=1 -XX:ReservedCodeCacheSize=16m -XX:MaxMetaspaceSize=64m)
BENCH_KIDS=()
BENCH_JVMS=()

bench_kill_kids() {
    [ ${#BENCH_KIDS[@]} -gt 0 ] || return 0
    kill "${BENCH_KIDS[@]}" 2>/dev/null
    wait "${BENCH_KIDS[@]}" 2>/dev/null
}

bench_spawn_jvms() {
    local i
    for i in $(seq 1 "$1"); do
        java "${BENCH_JFLAGS[@]}" -cp "$BUILD/tests/java" Idle "$2" \
            > "$BENCH_WORK/jvm-$2-$i.out" 2>&1 &
        BENCH_KIDS+=($!)
        BENCH_JVMS+=($!)
    done
}

bench_start_jvms() {
    bench_spawn_jvms "$1" "$2"
    bench_wait_jvms "$1" "$2"
}

bench_wait_jvms() {
    local n=$1 tag=$2 i
    for i in $(seq 1 600); do
        [ "$(cat "$BENCH_WORK"/jvm-"$tag"-*.out 2>/dev/null | grep -c 'Idle started')" -ge "$n" ] &&
            return 0
        sleep 0.2
    done
    echo "$BENCH_NAME: $n JVMs ($tag) did not start" >&2
    return 1
}

bench_wait_watching() {
    local i
    for i in $(seq 1 300); do
        [ "$(grep -c 'watching pid' "$D_DIR/$1/log")" -ge "$2" ] && break
        sleep 0.2
    done
    grep -c 'watching pid' "$D_DIR/$1/log"
}

bench_agent_sample() {
    local pid tck t0 c0 t1 c1 rss max=0 i
    pid=$(d_pid "$1")
    tck=$(getconf CLK_TCK)
    c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    t0=$(date +%s.%N)
    for i in $(seq 1 "$2"); do
        sleep 1
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        [ "${rss:-0}" -gt "$max" ] && max=$rss
    done
    c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    t1=$(date +%s.%N)
    awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tck="$tck" -v max="$max" \
        -v hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")" \
        'BEGIN { printf "%.3f %.1f %.1f\n", 100 * (c1 - c0) / tck / (t1 - t0), hwm / 1024, max / 1024 }'
}
