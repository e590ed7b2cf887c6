#!/bin/bash
# flameshotd's two files (issue 15): build/flameshotd is the lean entry,
# linked with libc only, running --help, --version and jcmd itself; it
# execs the full program (build/libexec/flameshot/flameshotd) with argv and
# environ unchanged for everything else: --check-config, flamegraph and the
# daemon (same PID, comm still flameshotd). Without the full program beside
# it, it says which path it wanted. And the jcmd path reaps its namespace
# helper the moment it exits (a pidfd), never in a sleep-and-retry loop.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# the release files are what this is about, whichever agent the suite runs
FLAMESHOTD=${BUILD:-$ROOT/build}/flameshotd
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
FULL=$BUILD/libexec/flameshot/flameshotd
W=$(mktemp -d /var/tmp/flameshot-lean-test.XXXXXX)
# t_case runs each case in a subshell: the JVM's PID is kept in a file
trap '[ -f "$W/jvm.pid" ] && kill "$(cat "$W/jvm.pid")" 2>/dev/null; d_cleanup; rm -rf "$W"' EXIT

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

build_caps() {
    need "[ -x '$FLAMESHOTD' ] && [ -x '$FULL' ] && command -v readelf" "run make first (needs readelf)"
}

jvm_caps() {
    build_caps
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "command -v java && [ -f '$CLASSES/Idle.class' ]" "needs java and make test-build"
}

# JVM: an idle JVM of our own (one for the whole script), its attach
# listener started by a first jcmd
start_jvm() {
    JVM=$(cat "$W/jvm.pid" 2>/dev/null)
    [ -n "$JVM" ] && kill -0 "$JVM" 2>/dev/null && return 0
    java -cp "$CLASSES" Idle > "$W/idle.log" 2>&1 &
    JVM=$!
    echo "$JVM" > "$W/jvm.pid"
    local i
    for i in $(seq 1 100); do
        "$FLAMESHOTD" jcmd "$JVM" VM.version > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "jcmd never reached the idle JVM $JVM"
    return 1
}

case_lean_needs_libc_only() {
    build_caps
    local libs full_libs
    libs=$(needed "$FLAMESHOTD" | tr '\n' ' ')
    [ "$libs" = "libc.so.6 " ] || { echo "build/flameshotd needs: $libs"; return 1; }
    full_libs=$(needed "$FULL" | tr '\n' ' ')
    for l in libcurl libmicrohttpd libbpf; do
        grep -q "$l" <<<"$full_libs" || { echo "the full program lacks $l: $full_libs"; return 1; }
    done
}

case_help_version_jcmd_in_the_lean_entry() {
    jvm_caps
    start_jvm || return 1
    "$FLAMESHOTD" --version | grep -Eq '^flameshotd [0-9]+\.[0-9]+\.[0-9]+ \(' || return 1
    cmp <("$FLAMESHOTD" --version) <("$FULL" --version) || { echo "--version differs"; return 1; }
    cmp <("$FLAMESHOTD" --help) <("$FULL" --help) || { echo "--help differs"; return 1; }
    "$FLAMESHOTD" jcmd "$JVM" Thread.print > "$W/tp.txt" || return 1
    [ "$(head -n1 "$W/tp.txt")" = "$JVM:" ] && grep -q '^"main" ' "$W/tp.txt" ||
        { head -n 5 "$W/tp.txt"; return 1; }
    # jcmd never goes through the full program: no execve past the first
    strace -f -e trace=execve -o "$W/exec.trace" "$FLAMESHOTD" jcmd "$JVM" VM.uptime > /dev/null || return 1
    [ "$(grep -c 'execve(' "$W/exec.trace")" = 1 ] || { cat "$W/exec.trace"; return 1; }
}

case_other_commands_exec_the_full_program() {
    build_caps
    local out rc
    out=$(env -i PATH="$PATH" FLAMESHOT_MONITOR_INTERVAL=2 "$FLAMESHOTD" --check-config) ||
        { echo "--check-config: exit $?"; return 1; }
    jq -e '.monitor_interval == "2s"' <<<"$out" > /dev/null || { echo "$out"; return 1; }
    # the environment reaches the full program unchanged: a bad value is its error
    out=$(env -i PATH="$PATH" FLAMESHOT_AUTO_PROFILING=30s "$FLAMESHOTD" --check-config 2>&1); rc=$?
    [ $rc = 2 ] && grep -q 'FLAMESHOT_AUTO_PROFILING: 30s is too short' <<<"$out" ||
        { echo "exit $rc: $out"; return 1; }
    "$FLAMESHOTD" --bogus > /dev/null 2>&1; rc=$?
    [ $rc = 2 ] || { echo "unknown argument: exit $rc"; return 1; }
    printf 'main;work;spin 7\nmain;idle 3\n' > "$W/in.collapsed"
    "$FLAMESHOTD" flamegraph "$W/in.collapsed" -o "$W/out.txt" --collapsed || return 1
    grep -qx 'main;work;spin 7' "$W/out.txt" || { cat "$W/out.txt"; return 1; }
    strace -f -s 4096 -e trace=execve -o "$W/fg.trace" "$FLAMESHOTD" flamegraph "$W/in.collapsed" \
        -o "$W/out.html" > /dev/null 2>&1 || return 1
    grep -q "execve(\"$(readlink -f "$FULL")\", \[\"$FLAMESHOTD\", \"flamegraph\"" "$W/fg.trace" ||
        { cat "$W/fg.trace"; return 1; }
}

case_daemon_through_the_lean_entry() {
    build_caps
    need d_can_run "needs root, curl, jq and ss"
    d_start lean FLAMESHOT_BPF=off || return 1
    local pid; pid=$(d_pid lean)
    [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$FULL")" ] ||
        { echo "PID $pid runs $(readlink "/proc/$pid/exe")"; return 1; }
    [ "$(cat "/proc/$pid/comm")" = flameshotd ] || { echo "comm $(cat "/proc/$pid/comm")"; return 1; }
    d_expect lean 200 /v1/status '.version != null' || return 1
    d_stop lean 20 || { echo "did not stop cleanly"; return 1; }
}

case_missing_full_program_is_named() {
    jvm_caps
    start_jvm || return 1
    mkdir -p "$W/alone/bin"
    cp "$FLAMESHOTD" "$W/alone/bin/flameshotd"
    local err rc
    err=$("$W/alone/bin/flameshotd" --check-config 2>&1 >/dev/null); rc=$?
    [ $rc = 127 ] && grep -qF "$W/alone/libexec/flameshot/flameshotd: No such file or directory" <<<"$err" ||
        { echo "exit $rc: $err"; return 1; }
    "$W/alone/bin/flameshotd" > /dev/null 2>&1; rc=$?
    [ $rc = 127 ] || { echo "the daemon: exit $rc"; return 1; }
    # what the lean entry runs itself still works alone
    "$W/alone/bin/flameshotd" --version > /dev/null || return 1
    "$W/alone/bin/flameshotd" jcmd "$JVM" VM.version | grep -q 'OpenJDK\|HotSpot' || return 1
}

# The helper's exit wakes the caller (pidfd): one wait4 per helper, and
# the caller never sleeps in between (it polled 1, 2, 4 ms... before).
case_jcmd_reaps_its_helper_without_sleeping() {
    jvm_caps
    need "command -v strace" "needs strace"
    start_jvm || return 1
    strace -f -e trace=clone,clone3,fork,vfork,wait4,nanosleep,clock_nanosleep -o "$W/jcmd.trace" \
        "$FLAMESHOTD" jcmd "$JVM" Thread.print > /dev/null || return 1
    local main forks waits sleeps
    main=$(awk 'NR == 1 { print $1 }' "$W/jcmd.trace")
    forks=$(awk -v p="$main" '$1 == p && /^[0-9]+ +(clone|clone3|fork|vfork)\(/' "$W/jcmd.trace" | grep -c .)
    waits=$(awk -v p="$main" '$1 == p && /wait4\(/' "$W/jcmd.trace" | grep -c .)
    sleeps=$(awk -v p="$main" '$1 == p && /nanosleep\(/' "$W/jcmd.trace" | grep -c .)
    [ "$forks" -ge 1 ] && [ "$waits" = "$forks" ] && [ "$sleeps" = 0 ] ||
        { cat "$W/jcmd.trace"; echo "forks $forks, wait4 $waits, sleeps $sleeps"; return 1; }
}

t_case "build/flameshotd needs libc only; the full program has libcurl, libmicrohttpd, libbpf" case_lean_needs_libc_only
t_case "--help, --version and jcmd run in the lean entry, as the full program prints them" case_help_version_jcmd_in_the_lean_entry
t_case "--check-config, flamegraph, unknown arguments: the full program, environment unchanged" case_other_commands_exec_the_full_program
t_case "the daemon started as build/flameshotd is the full program, same PID, comm flameshotd" case_daemon_through_the_lean_entry
t_case "without the full program beside it: exit 127 naming the path; jcmd still works" case_missing_full_program_is_named
t_case "jcmd reaps its namespace helper the moment it exits (no sleep-and-retry)" case_jcmd_reaps_its_helper_without_sleeping
t_done
