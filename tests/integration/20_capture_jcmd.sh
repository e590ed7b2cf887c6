#!/bin/bash
# flameshotd jcmd against JVMs in their own PID and mount namespaces, with a
# private /tmp, running as uid 10001 (tests/lib/container.sh), compared with
# the JDK's own jcmd; and the cases where nothing may be signalled or
# followed: a non-JVM process, attach disabled, a stopped JVM, symbolic
# links planted at .java_pid / .attach_pid.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/dump.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-jcmd-test.XXXXXX)
trap 'ct_cleanup; rm -rf "$WORK"' EXIT
AS_JVM_USER="setpriv --reuid $CT_UID --regid $CT_UID --clear-groups"

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jcmd" "needs a JDK (java, jcmd)"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Burner.class' ]" "run make test-build first"
}

start_burner() { # name [java options...]
    local name=$1; shift
    ct_start "$name" -- /usr/bin/java "$@" -cp "$CLASSES" Burner || return 1
    ct_wait_output "$name" "Burner started" 10
}

# a planted link points here: a host file outside every container /tmp
HOSTFILE=$WORK/host-secret
echo "host secret" > "$HOSTFILE"; chmod 0644 "$HOSTFILE"
host_intact() {
    [ "$(cat "$HOSTFILE")" = "host secret" ] && [ "$(stat -c %u:%a "$HOSTFILE")" = "0:644" ]
}

case_thread_print() {
    caps
    start_burner jvm1 || return 1
    local p; p=$(ct_pid jvm1)
    "$FLAMESHOTD" jcmd "$p" Thread.print > "$WORK/ours.txt" 2>"$WORK/ours.err" || {
        cat "$WORK/ours.err"; return 1; }
    [ "$(head -n1 "$WORK/ours.txt")" = "$p:" ] || { echo "first line is not '$p:'"; return 1; }
    dump_has_burner "$WORK/ours.txt" || { echo "the burner thread's stack is missing"; return 1; }
    grep -q '"flameshot-holder-3"' "$WORK/ours.txt" || { echo "holder thread missing"; return 1; }
    $AS_JVM_USER jcmd "$p" Thread.print > "$WORK/jdk.txt" || { echo "JDK jcmd failed"; return 1; }
    diff <(dump_java_threads < "$WORK/ours.txt") <(dump_java_threads < "$WORK/jdk.txt") || {
        echo "thread names differ from the JDK's jcmd"; return 1; }
    # the trigger file is gone, the socket is the JVM's
    local ns; ns=$(ct_nspid jvm1)
    [ ! -e "/proc/$p/root/tmp/.attach_pid$ns" ] || { echo ".attach_pid left behind"; return 1; }
    [ "$(stat -c %u "/proc/$p/root/tmp/.java_pid$ns")" = "$CT_UID" ] || { echo "socket owner"; return 1; }
}

case_vm_version_identical() {
    caps
    local p; p=$(ct_pid jvm1)
    "$FLAMESHOTD" jcmd "$p" VM.version > "$WORK/v-ours.txt" || return 1
    $AS_JVM_USER jcmd "$p" VM.version > "$WORK/v-jdk.txt" || return 1
    cmp <(tail -n +2 "$WORK/v-ours.txt") <(tail -n +2 "$WORK/v-jdk.txt") || {
        diff "$WORK/v-ours.txt" "$WORK/v-jdk.txt"; return 1; }
    grep -q '^JDK ' "$WORK/v-ours.txt" || { echo "no JDK line"; return 1; }
}

case_args_joined_and_empty_output() {
    caps
    local p; p=$(ct_pid jvm1)
    "$FLAMESHOTD" jcmd "$p" help VM.version > "$WORK/h-ours.txt" || return 1
    $AS_JVM_USER jcmd "$p" help VM.version > "$WORK/h-jdk.txt" || return 1
    cmp "$WORK/h-ours.txt" "$WORK/h-jdk.txt" || return 1
    "$FLAMESHOTD" jcmd "$p" GC.run > "$WORK/g-ours.txt" || return 1
    $AS_JVM_USER jcmd "$p" GC.run > "$WORK/g-jdk.txt" || return 1
    cmp "$WORK/g-ours.txt" "$WORK/g-jdk.txt" || return 1
    grep -qx 'Command executed successfully' "$WORK/g-ours.txt"
}

case_jvm_error_like_jcmd() {
    caps
    local p rc1 rc2; p=$(ct_pid jvm1)
    "$FLAMESHOTD" jcmd "$p" No.such_command > "$WORK/e-ours.out" 2> "$WORK/e-ours.err"; rc1=$?
    $AS_JVM_USER jcmd "$p" No.such_command > "$WORK/e-jdk.out" 2> "$WORK/e-jdk.err"; rc2=$?
    [ $rc1 = 1 ] && [ $rc2 = 1 ] || { echo "exit $rc1 vs jcmd $rc2"; return 1; }
    cmp "$WORK/e-ours.out" "$WORK/e-jdk.out" && cmp "$WORK/e-ours.err" "$WORK/e-jdk.err" || {
        cat "$WORK/e-ours.err" "$WORK/e-jdk.err"; return 1; }
}

case_not_a_jvm_never_signalled() {
    caps
    # perl named "java", recording every SIGQUIT it receives (a shell cannot:
    # a background job of a non-interactive shell starts with SIGQUIT ignored)
    need "command -v perl" "needs perl for the SIGQUIT recorder"
    mkdir -p "$WORK/fake" && cp "$(command -v perl)" "$WORK/fake/java" && chmod 755 "$WORK/fake" "$WORK"
    ct_start fake -- "$WORK/fake/java" -e \
        '$SIG{QUIT} = sub { open(my $f, ">>", "/tmp/quit.log"); print $f "QUIT\n"; close $f };
         open(my $r, ">", "/tmp/ready"); close $r; sleep 1 while 1;' || return 1
    local p rc; p=$(ct_pid fake)
    for i in $(seq 1 50); do [ -e "/proc/$p/root/tmp/ready" ] && break; sleep 0.1; done
    "$FLAMESHOTD" jcmd "$p" Thread.print > "$WORK/f.out" 2> "$WORK/f.err"; rc=$?
    sleep 0.5
    [ $rc = 3 ] || { echo "exit $rc, want 3"; cat "$WORK/f.err"; return 1; }
    grep -q 'not a HotSpot JVM' "$WORK/f.err" || { cat "$WORK/f.err"; return 1; }
    [ ! -e "/proc/$p/root/tmp/quit.log" ] || { echo "the process received SIGQUIT"; return 1; }
    ls -a "/proc/$p/root/tmp" | grep -q attach_pid && { echo "trigger file created"; return 1; }
    # and the recorder does work: a SIGQUIT we send ourselves is recorded
    kill -QUIT "$p"; sleep 0.5
    [ -e "/proc/$p/root/tmp/quit.log" ] || { echo "recorder broken"; return 1; }
    ct_stop fake
}

case_attach_disabled() {
    caps
    start_burner noattach -XX:+DisableAttachMechanism || return 1
    local p rc; p=$(ct_pid noattach)
    "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null 2> "$WORK/d.err"; rc=$?
    sleep 0.5
    [ $rc = 4 ] || { echo "exit $rc, want 4"; return 1; }
    grep -q 'DisableAttachMechanism' "$WORK/d.err" || { cat "$WORK/d.err"; return 1; }
    # SIGQUIT would have printed a thread dump on the JVM's stdout
    ! grep -q 'Full thread dump' "$CT_STATE/noattach.out" || { echo "JVM was signalled"; return 1; }
    ct_stop noattach
}

# issue 9: the flag read from an @argfile in the container (by a confined
# child) counts; the same flag as an application argument does not
case_attach_disabled_by_argfile_not_by_app_argument() {
    caps
    printf -- '-XX:+DisableAttachMechanism\n' > "$WORK/jvm.args"; chmod 0755 "$WORK"; chmod 0644 "$WORK/jvm.args"
    start_burner argfile "@$WORK/jvm.args" || return 1
    local p rc; p=$(ct_pid argfile)
    "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null 2> "$WORK/a.err"; rc=$?
    [ $rc = 4 ] && grep -q 'DisableAttachMechanism' "$WORK/a.err" || {
        echo "argfile: exit $rc, want 4"; cat "$WORK/a.err"; return 1; }
    ! grep -q 'Full thread dump' "$CT_STATE/argfile.out" || { echo "JVM was signalled"; return 1; }
    ct_stop argfile
    ct_start appArg -- /usr/bin/java -cp "$CLASSES" Burner 3600 -XX:+DisableAttachMechanism || return 1
    ct_wait_output appArg "Burner started" 10 || return 1
    "$FLAMESHOTD" jcmd "$(ct_pid appArg)" VM.version > "$WORK/b.out" 2> "$WORK/b.err" || {
        echo "an application argument disabled capture"; cat "$WORK/b.err"; return 1; }
    grep -q '^JDK ' "$WORK/b.out" || { cat "$WORK/b.out"; return 1; }
    ct_stop appArg
}

case_stopped_jvm_times_out() {
    caps
    start_burner stopped || return 1
    local p rc t0 t1; p=$(ct_pid stopped)
    kill -STOP "$p"
    t0=$(date +%s%N)
    FLAMESHOT_JCMD_TIMEOUT=2s "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null 2> "$WORK/s.err"; rc=$?
    t1=$(date +%s%N)
    [ $rc = 4 ] || { echo "exit $rc, want 4"; cat "$WORK/s.err"; return 1; }
    grep -q 'stopped (state T)' "$WORK/s.err" || { cat "$WORK/s.err"; return 1; }
    [ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || { echo "took $(( (t1 - t0) / 1000000 )) ms"; return 1; }
    # with a listener already running: the read times out instead
    kill -CONT "$p"; sleep 0.5
    "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null || { echo "no attach after SIGCONT"; return 1; }
    kill -STOP "$p"
    FLAMESHOT_JCMD_TIMEOUT=1500ms "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null 2> "$WORK/s2.err"; rc=$?
    kill -CONT "$p"
    [ $rc = 4 ] && grep -q "timed out waiting for the JVM's reply" "$WORK/s2.err" &&
        grep -q 'stopped' "$WORK/s2.err" || { echo "exit $rc"; cat "$WORK/s2.err"; return 1; }
    ct_stop stopped
}

case_symlink_java_pid_refused() {
    caps
    start_burner symj || return 1
    local p ns rc; p=$(ct_pid symj); ns=$(ct_nspid symj)
    ln -s "$HOSTFILE" "/proc/$p/root/tmp/.java_pid$ns"
    "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null 2> "$WORK/sj.err"; rc=$?
    [ $rc = 4 ] || { echo "exit $rc, want 4"; cat "$WORK/sj.err"; return 1; }
    grep -q "symbolic link" "$WORK/sj.err" || { cat "$WORK/sj.err"; return 1; }
    host_intact || { echo "host file changed"; return 1; }
    ! grep -q 'Full thread dump' "$CT_STATE/symj.out" || { echo "JVM was signalled"; return 1; }
    ct_stop symj
}

case_symlink_attach_pid_refused() {
    caps
    start_burner syma || return 1
    local p ns rc; p=$(ct_pid syma); ns=$(ct_nspid syma)
    ln -s "$HOSTFILE" "/proc/$p/root/tmp/.attach_pid$ns"
    "$FLAMESHOTD" jcmd "$p" VM.version > /dev/null 2> "$WORK/sa.err"; rc=$?
    [ $rc = 4 ] || { echo "exit $rc, want 4"; cat "$WORK/sa.err"; return 1; }
    grep -q "symbolic link" "$WORK/sa.err" || { cat "$WORK/sa.err"; return 1; }
    host_intact || { echo "host file changed"; return 1; }
    [ -L "/proc/$p/root/tmp/.attach_pid$ns" ] || { echo "planted link removed"; return 1; }
    [ ! -e "/proc/$p/root/tmp/.java_pid$ns" ] || { echo "listener started anyway"; return 1; }
    ct_stop syma
}

# a socket file left by an earlier JVM that had the same pid in a shared
# /tmp: connecting is refused, so the listener is started and replaces it
case_stale_socket_replaced() {
    caps
    need "command -v perl" "needs perl to leave a stale socket behind"
    start_burner stale || return 1
    local p ns ino; p=$(ct_pid stale); ns=$(ct_nspid stale)
    $AS_JVM_USER perl -MIO::Socket::UNIX -e \
        'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die $!' \
        "/proc/$p/root/tmp/.java_pid$ns" || return 1
    [ -S "/proc/$p/root/tmp/.java_pid$ns" ] || { echo "no stale socket"; return 1; }
    ino=$(stat -c %i "/proc/$p/root/tmp/.java_pid$ns")
    "$FLAMESHOTD" jcmd "$p" VM.version > "$WORK/stale.txt" 2>&1 || { cat "$WORK/stale.txt"; return 1; }
    grep -q '^JDK ' "$WORK/stale.txt" || return 1
    [ "$(stat -c %i "/proc/$p/root/tmp/.java_pid$ns")" != "$ino" ] || { echo "not replaced"; return 1; }
    ct_stop stale
}

case_usage_and_gone() {
    caps
    local rc
    "$FLAMESHOTD" jcmd 2> /dev/null; rc=$?
    [ $rc = 2 ] || { echo "no args: exit $rc"; return 1; }
    "$FLAMESHOTD" jcmd 1234x VM.version 2> /dev/null; rc=$?
    [ $rc = 2 ] || { echo "bad pid: exit $rc"; return 1; }
    FLAMESHOT_JCMD_TIMEOUT=soon "$FLAMESHOTD" jcmd 1 VM.version 2> /dev/null; rc=$?
    [ $rc = 2 ] || { echo "bad timeout: exit $rc"; return 1; }
    "$FLAMESHOTD" jcmd 999999999 VM.version 2> "$WORK/u.err"; rc=$?
    [ $rc = 3 ] || { echo "no such pid: exit $rc"; return 1; }
    $AS_JVM_USER "$FLAMESHOTD" jcmd 1 VM.version 2> "$WORK/u.err"; rc=$?
    [ $rc = 4 ] && grep -q 'permission denied' "$WORK/u.err" || { echo "non-root: exit $rc"; return 1; }
}

t_case "Thread.print: the burner's stack, same Java thread names as the JDK's jcmd" case_thread_print
t_case "VM.version byte-identical to the JDK's jcmd after the first line" case_vm_version_identical
t_case "arguments joined; empty output prints like jcmd" case_args_joined_and_empty_output
t_case "a JVM-reported failure: same stdout, stderr and exit 1 as jcmd" case_jvm_error_like_jcmd
t_case "a non-JVM process named java is refused and never signalled" case_not_a_jvm_never_signalled
t_case "-XX:+DisableAttachMechanism: clear error, JVM not signalled" case_attach_disabled
t_case "DisableAttachMechanism in an @argfile counts, as an application argument it does not" case_attach_disabled_by_argfile_not_by_app_argument
t_case "a stopped JVM: timeout error naming the stopped state" case_stopped_jvm_times_out
t_case "symlink at .java_pid<nspid> to a host file is refused" case_symlink_java_pid_refused
t_case "symlink at .attach_pid<nspid> to a host file is refused" case_symlink_attach_pid_refused
t_case "a stale .java_pid socket from an earlier JVM is replaced" case_stale_socket_replaced
t_case "usage errors and vanished pids" case_usage_and_gone
t_done
