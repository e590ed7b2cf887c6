#!/bin/bash
# The capture API (through tests/helpers/capture_probe) against JVMs in
# their own PID and mount namespaces, private /tmp, uid 10001: jcmd
# snapshots, the JDK Flight Recorder profile, early exit and cancellation,
# staging and `load` of a JVMTI agent (tests/agents/marker_agent.c) with
# the content-hashed name, ownership and noexec checks, and symbolic links
# planted in the "container" pointing at host files.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/dump.sh"
CLASSES=$BUILD/tests/java
PROBE=$BUILD/tests/helpers/capture_probe
AGENT=$BUILD/tests/agents/marker_agent.so
WORK=$(mktemp -d /var/tmp/flameshot-capture-test.XXXXXX)
trap 'ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jfr" "needs a JDK (java, jfr)"
    need "command -v jq" "needs jq"
    need "[ -x '$PROBE' ] && [ -f '$AGENT' ] && [ -f '$CLASSES/Burner.class' ]" "run make test-build first"
}

start_burner() { # name [args for Burner...]
    local name=$1; shift
    ct_start "$name" -- /usr/bin/java -cp "$CLASSES" Burner "$@" || return 1
    ct_wait_output "$name" "Burner started" 10
}

# mounts inside a container's mount namespace never reach the host
ct_mount() { local name=$1; shift; nsenter -t "$(ct_pid "$name")" -m mount "$@"; }
# a private /dev/shm, so that staging never writes into the host's
private_shm() { ct_mount "$1" -t tmpfs -o mode=1777,size=64m tmpfs /dev/shm; }

j() { jq -r "$1" "$2"; }

# planted links point at these host files and directories
HOSTFILE=$WORK/host-secret
HOSTDIR=$WORK/host-dir
echo "host secret" > "$HOSTFILE"; chmod 0644 "$HOSTFILE"
mkdir -p "$HOSTDIR"; echo keep > "$HOSTDIR/keep"; chmod 0755 "$HOSTDIR" "$WORK"
host_intact() {
    [ "$(cat "$HOSTFILE")" = "host secret" ] && [ "$(stat -c %u:%a "$HOSTFILE")" = "0:644" ] &&
        [ "$(ls -A "$HOSTDIR")" = "keep" ] && [ "$(stat -c %u:%a "$HOSTDIR")" = "0:755" ]
}

case_snapshots() {
    caps
    start_burner snap || return 1
    local p ns; p=$(ct_pid snap); ns=$(ct_nspid snap)
    "$PROBE" snapshot "$p" h.txt t.txt 10000 > snap.json || { cat snap.json; return 1; }
    [ "$(j .rc snap.json)" = 0 ] || return 1
    j .histogram.file_name snap.json | grep -Eq "^jcmd_gc_class_histogram_${ns}_[0-9]{8}_[0-9]{6}\.txt$" ||
        { echo "bad name $(j .histogram.file_name snap.json)"; return 1; }
    j .threads.file_name snap.json | grep -Eq "^jcmd_thread_print_${ns}_[0-9]{8}_[0-9]{6}\.txt$" ||
        { echo "bad name $(j .threads.file_name snap.json)"; return 1; }
    [ "$(head -n1 h.txt)" = "$ns:" ] && [ "$(head -n1 t.txt)" = "$ns:" ] || { echo "no pid line"; return 1; }
    [ "$(j .histogram.output_size_bytes snap.json)" = "$(stat -c %s h.txt)" ] || { echo "size"; return 1; }
    [ "$(j .threads.output_size_bytes snap.json)" = "$(stat -c %s t.txt)" ] || { echo "size"; return 1; }
    j .histogram.preview snap.json > hp.txt
    [ "$(wc -l < hp.txt)" = 7 ] && head -n1 hp.txt | grep -q '^num .*#instances' &&
        tail -n1 hp.txt | grep -q '^6:' || { cat hp.txt; return 1; }
    j .threads.preview snap.json > tp.txt
    [ "$(wc -l < tp.txt)" = 12 ] && head -n1 tp.txt | grep -q '^"main"' &&
        grep -q '^java.lang.Thread.State: ' tp.txt || { cat tp.txt; return 1; }
    dump_has_burner t.txt || { echo "the burner thread's stack is not in the dump"; return 1; }
    [ "$(j .threads.pid snap.json)" = "$ns" ] && [ "$(j .threads.process_name snap.json)" = java ] ||
        { echo "pid/process_name"; return 1; }
    ! grep -q 'Full thread dump' "$CT_STATE/snap.out" || { echo "JVM got a second SIGQUIT"; return 1; }
}

# One type alone sends only its command: a thread dump costs the JVM no
# full GC (the histogram's), as the JVM's own GC log says.
case_one_snapshot_type_alone() {
    caps
    ct_start one -- /usr/bin/java -Xlog:gc:file=/tmp/gc.log -cp "$CLASSES" Burner || return 1
    ct_wait_output one "Burner started" 10 || return 1
    local p log; p=$(ct_pid one); log=/proc/$p/root/tmp/gc.log
    full_gcs() { grep -c 'Pause Full (Heap Inspection Initiated GC)' "$log"; }
    [ -f "$log" ] && [ "$(full_gcs)" = 0 ] || { echo "no GC log at $log, or a full GC already"; return 1; }
    "$PROBE" snapshot "$p" h1.txt t1.txt 10000 threads > one.json || { cat one.json; return 1; }
    [ "$(j .threads.rc one.json)" = 0 ] && dump_has_burner t1.txt || { cat one.json; return 1; }
    [ "$(j .histogram.error one.json)" = "not requested" ] && [ ! -s h1.txt ] ||
        { echo "the histogram ran: $(cat one.json)"; return 1; }
    [ "$(full_gcs)" = 0 ] || { echo "a full GC ran: $(cat "$log")"; return 1; }
    "$PROBE" snapshot "$p" h2.txt t2.txt 10000 histogram > two.json || { cat two.json; return 1; }
    grep -q '^Total ' h2.txt && [ ! -s t2.txt ] && [ "$(j .threads.error two.json)" = "not requested" ] ||
        { cat two.json; return 1; }
    [ "$(full_gcs)" = 1 ] || { echo "the histogram's full GC is not in the log: $(cat "$log")"; return 1; }
    ct_stop one
}

case_jfr_profile() {
    caps
    local p ns; p=$(ct_pid snap); ns=$(ct_nspid snap)
    "$PROBE" profile "$p" prof.jfr 4000 cpu > prof.json || { cat prof.json; return 1; }
    [ "$(j .outcome prof.json)" = ok ] && [ "$(j .library_type prof.json)" = jfr ] || { cat prof.json; return 1; }
    [ "$(j .library_version prof.json)" = "$(j .jdk_version prof.json)" ] || { cat prof.json; return 1; }
    j .jdk_version prof.json | grep -q '^17\.' || { cat prof.json; return 1; }
    [ "$(j .bytes prof.json)" = "$(stat -c %s prof.jfr)" ] || { echo "bytes"; return 1; }
    [ "$(j .attach_count prof.json)" -ge 3 ] || { echo "attach latency not recorded"; return 1; }
    jfr summary prof.jfr > sum.txt || { echo "jfr summary rejected the file"; return 1; }
    grep -q 'jdk.ExecutionSample' sum.txt || return 1
    jfr print --events jdk.ExecutionSample prof.jfr | grep -q 'Burner.flameshotBurnCpu' ||
        { echo "burning method not sampled"; return 1; }
    # nothing of ours is left in the container
    [ ! -e "/proc/$p/root/tmp/.flameshot-$CT_UID" ] || { ls -la "/proc/$p/root/tmp/.flameshot-$CT_UID"; return 1; }
    ct_stop snap
}

# The JVM exits (SIGTERM: its shutdown hooks run, as on System.exit) once
# the recording runs, and not at a time fixed in advance: a JVM that exits
# on a timer may be gone before a loaded machine has started the recording.
case_target_exits_early() {
    caps
    start_burner early || return 1
    local p t0 t1 keeper probe; p=$(ct_pid early)
    # the container's init ends with the JVM: a process kept in its mount
    # namespace lets the test look at its /tmp afterwards
    nsenter -t "$p" -m sleep 600 & keeper=$!
    touch "/proc/$p/root/tmp/ct-marker"
    t0=$(date +%s)
    "$PROBE" profile "$p" early.jfr 60000 > early.json &
    probe=$!
    while kill -0 "$probe" 2>/dev/null && [ $(($(date +%s) - t0)) -lt 50 ]; do
        setpriv --reuid "$CT_UID" --regid "$CT_UID" --clear-groups jcmd "$p" JFR.check 2>/dev/null |
            grep -q 'name=flameshot-' && break
        sleep 0.1
    done
    kill -TERM "$p"
    wait "$probe"; t1=$(date +%s)
    [ "$(j .outcome early.json)" = target_exited ] || { cat early.json; kill $keeper; return 1; }
    # ended with the JVM: the full duration cannot have passed
    [ $((t1 - t0)) -lt 60 ] || { echo "waited the full duration"; kill $keeper; return 1; }
    [ "$(j .bytes early.json)" -gt 0 ] && jfr summary early.jfr > /dev/null ||
        { echo "no partial recording"; cat early.json; kill $keeper; return 1; }
    # the JFR file and our directory are gone from the container
    [ -d "/proc/$keeper/root/tmp" ] || { echo "keeper gone, cannot check"; return 1; }
    [ -e "/proc/$keeper/root/tmp/ct-marker" ] || { echo "not the JVM's /tmp"; kill $keeper; return 1; }
    [ ! -e "/proc/$keeper/root/tmp/.flameshot-$CT_UID" ] || { echo "left behind"; kill $keeper; return 1; }
    kill $keeper; wait $keeper 2>/dev/null
    ct_stop early
}

case_cancel() {
    caps
    start_burner cancel || return 1
    local p t0 t1; p=$(ct_pid cancel)
    t0=$(date +%s)
    "$PROBE" profile "$p" cancel.jfr 30000 cpu "" 1500 > cancel.json; t1=$(date +%s)
    [ "$(j .outcome cancel.json)" = cancelled ] || { cat cancel.json; return 1; }
    [ $((t1 - t0)) -lt 15 ] || { echo "cancel ignored"; return 1; }
    [ "$(j .bytes cancel.json)" -gt 0 ] && jfr summary cancel.jfr > /dev/null || return 1
    [ ! -e "/proc/$p/root/tmp/.flameshot-$CT_UID" ] || { echo "left behind"; return 1; }
}

case_agent_staged_and_loaded() {
    caps
    local p sha; p=$(ct_pid cancel)
    sha=$(sha256sum "$AGENT" | cut -c1-16)
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker.txt,rc=0" > load.json || { cat load.json; return 1; }
    local staged; staged=$(j .staged load.json)
    [ "$staged" = "/tmp/.flameshot-$CT_UID/marker_agent-$sha.so" ] || { echo "staged at $staged"; return 1; }
    [ "$(stat -c %u:%g:%a "/proc/$p/root$staged")" = "$CT_UID:$CT_UID:755" ] || { echo "ownership"; return 1; }
    [ "$(stat -c %u:%a "/proc/$p/root/tmp/.flameshot-$CT_UID")" = "$CT_UID:700" ] || { echo "dir"; return 1; }
    cmp "$AGENT" "/proc/$p/root$staged" || return 1
    grep -q "marker_agent loaded pid=$(ct_nspid cancel) uid=$CT_UID options=file=/tmp/marker.txt,rc=0" \
        "/proc/$p/root/tmp/marker.txt" || { cat "/proc/$p/root/tmp/marker.txt"; return 1; }
    # loading again reuses the same file (the JVM has it mapped: never rewritten)
    local ino; ino=$(stat -c %i "/proc/$p/root$staged")
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker.txt,rc=7" > load7.json
    [ "$(j .rc load7.json)" = -5 ] && [ "$(j .agent_rc load7.json)" = 7 ] || { cat load7.json; return 1; }
    j .reason load7.json | grep -q 'Agent_OnAttach returned 7' || return 1
    [ "$(stat -c %i "/proc/$p/root$staged")" = "$ino" ] || { echo "rewritten"; return 1; }
    [ "$(grep -c marker_agent "/proc/$p/root/tmp/marker.txt")" = 2 ] || return 1
    # a file the JVM cannot load: the JVM's reason, and the staged copy removed
    printf 'not an ELF file\n' > "$WORK/libbogus.so"
    "$PROBE" load "$p" "$WORK/libbogus.so" "x" > bogus.json
    [ "$(j .rc bogus.json)" = -8 ] || { cat bogus.json; return 1; }
    j .reason bogus.json | grep -q 'libbogus-[0-9a-f]*.so was not loaded' || { cat bogus.json; return 1; }
    ! ls "/proc/$p/root/tmp/.flameshot-$CT_UID/" | grep -q libbogus || { echo "bogus left"; return 1; }
}

case_noexec_fallback() {
    caps
    start_burner noexec || return 1
    local p; p=$(ct_pid noexec)
    private_shm noexec && ct_mount noexec -o remount,noexec /tmp || return 1
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker.txt" > nx.json || { cat nx.json; return 1; }
    [ "$(j .dir nx.json)" = "/dev/shm/.flameshot-$CT_UID" ] || { cat nx.json; return 1; }
    j .rejected nx.json | grep -q '/tmp: mounted noexec (tmpfs at /tmp)' || { cat nx.json; return 1; }
    grep -q 'marker_agent loaded' "/proc/$p/root/tmp/marker.txt" || return 1
    # no exec-capable, writable place at all: the job fails saying why
    ct_mount noexec -o remount,noexec /dev/shm && ct_mount noexec -t tmpfs -o ro tmpfs /var/tmp || return 1
    rm -f "$WORK/other.so"; cp "$AGENT" "$WORK/other.so"; echo >> "$WORK/other.so"
    "$PROBE" load "$p" "$WORK/other.so" "file=/tmp/marker2.txt" > nx2.json && { cat nx2.json; return 1; }
    j .reason nx2.json | grep -q '/tmp: mounted noexec' && j .reason nx2.json | grep -q '/dev/shm: mounted noexec' &&
        j .reason nx2.json | grep -q '/var/tmp: read-only mount' || { cat nx2.json; return 1; }
    [ ! -e "/proc/$p/root/tmp/marker2.txt" ] || return 1
    ct_stop noexec
}

case_symlink_staging_dir() {
    caps
    start_burner symd || return 1
    local p; p=$(ct_pid symd)
    private_shm symd || return 1
    ln -s "$HOSTDIR" "/proc/$p/root/tmp/.flameshot-$CT_UID"
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker.txt" > sd.json && { cat sd.json; return 1; }
    j .reason sd.json | grep -q "refusing /tmp/.flameshot-$CT_UID: it is or passes through a symbolic link" ||
        { cat sd.json; return 1; }
    host_intact || { echo "host directory changed"; ls -la "$HOSTDIR"; return 1; }
    [ ! -e "/proc/$p/root/tmp/marker.txt" ] || { echo "loaded anyway"; return 1; }
    # a JFR profile needs the same directory: it fails too, nothing written
    "$PROBE" profile "$p" sd.jfr 2000 > sdp.json && { cat sdp.json; return 1; }
    [ "$(j .outcome sdp.json)" = failed ] && j .reason sdp.json | grep -q 'symbolic link' ||
        { cat sdp.json; return 1; }
    host_intact || return 1
    ct_stop symd
}

case_symlink_staged_library() {
    caps
    start_burner syml || return 1
    local p sha d; p=$(ct_pid syml); sha=$(sha256sum "$AGENT" | cut -c1-16)
    d=/proc/$p/root/tmp/.flameshot-$CT_UID
    setpriv --reuid "$CT_UID" --regid "$CT_UID" --clear-groups mkdir -m 700 "$d" || return 1
    ln -s "$HOSTFILE" "$d/marker_agent-$sha.so"
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker.txt" > sl.json && { cat sl.json; return 1; }
    j .reason sl.json | grep -q "refusing /tmp/.flameshot-$CT_UID/marker_agent-$sha.so: it is a symbolic link" ||
        { cat sl.json; return 1; }
    host_intact || { echo "host file changed"; return 1; }
}

case_symlink_jfr_output() {
    caps
    local p ns d; p=$(ct_pid syml); ns=$(ct_nspid syml)
    d=/proc/$p/root/tmp/.flameshot-$CT_UID
    rm -f "$d"/*
    ln -s "$HOSTFILE" "$d/profile-$ns.jfr"
    "$PROBE" profile "$p" sj.jfr 2000 > sj.json && { cat sj.json; return 1; }
    [ "$(j .outcome sj.json)" = failed ] || { cat sj.json; return 1; }
    j .reason sj.json | grep -q "refusing /tmp/.flameshot-$CT_UID/profile-$ns.jfr: it is a symbolic link" ||
        { cat sj.json; return 1; }
    host_intact || { echo "host file changed"; return 1; }
    [ -L "$d/profile-$ns.jfr" ] || { echo "planted link removed or replaced"; return 1; }
    # the JVM was never asked to record
    setpriv --reuid "$CT_UID" --regid "$CT_UID" --clear-groups jcmd "$p" JFR.check | grep -q 'No available recordings' ||
        { echo "a recording was started"; return 1; }
    ct_stop syml
}

# FLAMESHOT_ASYNC_PROFILER_PATH set, but the library cannot be used: the
# profile is still produced, by JDK Flight Recorder, saying why
case_asprof_unusable_falls_back_to_jfr() {
    caps
    start_burner fallback || return 1
    local p; p=$(ct_pid fallback)
    mkdir -p "$WORK/ap-empty" "$WORK/ap-bogus/lib"
    "$PROBE" profile "$p" fb1.jfr 2000 cpu "$WORK/ap-empty" > fb1.json || { cat fb1.json; return 1; }
    [ "$(j .library_type fb1.json)" = jfr ] && j .asprof_skipped fb1.json | grep -q 'no lib/libasyncProfiler.so under' ||
        { cat fb1.json; return 1; }
    printf 'not an ELF file\n' > "$WORK/ap-bogus/lib/libasyncProfiler.so"
    "$PROBE" profile "$p" fb2.jfr 2000 cpu "$WORK/ap-bogus" > fb2.json || { cat fb2.json; return 1; }
    [ "$(j .library_type fb2.json)" = jfr ] && [ "$(j .outcome fb2.json)" = ok ] || { cat fb2.json; return 1; }
    j .asprof_skipped fb2.json | grep -q 'libasyncProfiler-[0-9a-f]*.so was not loaded' || { cat fb2.json; return 1; }
    jfr summary fb2.jfr > /dev/null || return 1
    [ ! -e "/proc/$p/root/tmp/.flameshot-$CT_UID" ] || { ls -la "/proc/$p/root/tmp/.flameshot-$CT_UID"; return 1; }
}

# The async-profiler path end to end with the marker agent standing in for
# libasyncProfiler.so in an install layout: it appends each `load`'s options
# to its file= option, which is where async-profiler writes its JFR. So the
# collected "profile" holds exactly the start and stop options we sent.
case_asprof_plumbing_with_marker() {
    caps
    local p ns; p=$(ct_pid fallback); ns=$(ct_nspid fallback)
    mkdir -p "$WORK/ap-marker/lib" && cp "$AGENT" "$WORK/ap-marker/lib/libasyncProfiler.so"
    "$PROBE" profile "$p" mk.jfr 1500 cpu,alloc,cs "$WORK/ap-marker" > mk.json || { cat mk.json; return 1; }
    [ "$(j .library_type mk.json)" = async_profiler ] && [ "$(j .outcome mk.json)" = ok ] &&
        [ "$(j .asprof_skipped mk.json)" = "" ] || { cat mk.json; return 1; }
    [ "$(j .library_version mk.json)" = unknown ] || { cat mk.json; return 1; }
    [ "$(j .events mk.json)" = "event=cpu,alloc=512k" ] || { cat mk.json; return 1; }
    j .reason mk.json | grep -q 'dropped cs' || { cat mk.json; return 1; }
    local d="/tmp/.flameshot-$CT_UID"
    grep -q "options=start,event=cpu,alloc=512k,jfr,file=$d/profile-$ns.jfr,log=$d/asprof-$ns.log,timeout=32\$" mk.jfr &&
        grep -q "options=stop,jfr,file=$d/profile-$ns.jfr,log=$d/asprof-$ns.log\$" mk.jfr &&
        [ "$(wc -l < mk.jfr)" = 2 ] || { cat mk.jfr; return 1; }
    # the library stays staged (the JVM has it mapped); the recording is gone
    local staged; staged=$(ls "/proc/$p/root$d")
    echo "$staged" | grep -Eq '^libasyncProfiler-[0-9a-f]{16}\.so$' || { echo "staged: $staged"; return 1; }
    ct_stop fallback
}

t_case "jcmd snapshots: both files, Flameshot names, previews, one SIGQUIT" case_snapshots
t_case "one snapshot type alone: only its command is sent, a thread dump runs no full GC" case_one_snapshot_type_alone
t_case "JFR profile: jfr accepts it, burning method sampled, nothing left" case_jfr_profile
t_case "JVM exiting mid-profile: target_exited with the partial JFR, nothing left" case_target_exits_early
t_case "cancel_fd: cancelled with what exists, nothing left" case_cancel
t_case "marker agent: content-hashed name, JVM's uid, reuse, agent rc, load failure" case_agent_staged_and_loaded
t_case "noexec /tmp: staged elsewhere, and a clear reason when nowhere works" case_noexec_fallback
t_case "symlink at the staging directory to a host directory is refused" case_symlink_staging_dir
t_case "symlink at the staged library name to a host file is refused" case_symlink_staged_library
t_case "symlink at the JFR output path to a host file is refused" case_symlink_jfr_output
t_case "async-profiler unusable: JFR fallback saying why" case_asprof_unusable_falls_back_to_jfr
t_case "async-profiler path end to end (marker agent as the library)" case_asprof_plumbing_with_marker
t_done
