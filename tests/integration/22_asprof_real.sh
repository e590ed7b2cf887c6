#!/bin/bash
# A real async-profiler (4.5, built once from ../shared/third_party by
# tests/lib/asprof.sh) through the agent: flameshotd with
# FLAMESHOT_ASYNC_PROFILER_PATH at that build profiles a JVM in its own PID
# and mount namespaces, uid 10001, private /tmp (tests/fixtures/java/
# Workload.java), once per event of the mapping (POST /v1/profile), and the
# JFR holds the event types async-profiler writes for that event, with the
# workload's method in their stacks:
#
#   cpu, itimer  jdk.ExecutionSample          (engine: see below)
#   wall         profiler.WallClockSample
#   alloc        jdk.ObjectAllocationInNewTLAB / ...OutsideTLAB
#   lock         jdk.JavaMonitorEnter, jdk.ThreadPark
#   nativemem    profiler.Malloc, profiler.Free
#   cs           jdk.ExecutionSample (engine perf_events), see below
#   all          all of the above, and profiler.LiveObject
#
# perf_event_paranoid (2 on Debian and most distributions) decides what a
# JVM without CAP_PERFMON gets: async-profiler's cpu probes a kernel-
# inclusive perf event, is refused, and samples with ctimer instead (the
# JFR's jdk.ActiveSetting engine says which); cs opens a user-space-only
# perf event (it sets alluser itself) and context switches, which happen
# in the kernel, are never sampled: the profile is empty and the agent says
# so. A uid-0 JVM (CAP_PERFMON) gets perf_events for cpu and samples for cs.
# Both are checked against this machine's setting.
#
# Also: library_version is the library's ("4.5"), from a stripped library
# too (its bin/asprof); nothing but the staged library stays in the
# container; a JFR capture (no async-profiler) leaves no JFR repository
# directory behind, and keeps one that the application's own recording uses.
#
# Outside CI, without the tarball, the async-profiler cases skip saying why;
# with CI=true they fail.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/asprof.sh"
CLASSES=$BUILD/tests/java
PROBE=$BUILD/tests/helpers/capture_probe
MARK=asprof$$
W=$(mktemp -d /var/tmp/flameshot-asprof-test.XXXXXX)
trap 'd_stop main > /dev/null 2>&1; ct_cleanup; d_cleanup; rm -rf "$W"' EXIT
cd "$W" || exit 1
PARANOID=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
# a JVM's first JFR.start or agent load can take tens of seconds on a
# loaded 2-core machine: each attach step may take up to a minute here
export CAPTURE_PROBE_ATTACH_MS=60000

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jfr && command -v jq" "needs a JDK (java, jfr) and jq"
    need d_can_run "needs curl, jq, ss and build/flameshotd (make test-build)"
    need "[ -x '$PROBE' ] && [ -f '$CLASSES/Workload.class' ]" "run make test-build first"
    [ -f "$W/ready" ] || { cat "$W/setup.err"; echo "setup failed"; exit 1; }
}

need_asprof() {
    [ -f "$W/asprof.home" ] || { cat "$W/asprof.why"; exit 77; }
    ASPROF_HOME=$(cat "$W/asprof.home")
}

# Once, in this shell: the async-profiler build, the workload, the daemon.
setup() {
    if asprof_ensure > "$W/asprof.why"; then
        echo "$ASPROF_HOME" > "$W/asprof.home"
    elif [ ! -s "$W/asprof.why" ]; then
        echo "building async-profiler failed" > "$W/asprof.why"
    fi
    ct_start wl -- /usr/bin/java -Dflameshot.test="$MARK" -cp "$CLASSES" Workload || return 1
    ct_wait_output wl "Workload started" 20 || return 1
    local rules='[{"service":"asprof-workload","command":"-Dflameshot\\.test='"$MARK"'(\\s|$)",
                   "duration":"2s","events":"cpu"}]'
    if [ -f "$W/asprof.home" ]; then
        d_start main FLAMESHOT_PROCESSES="$rules" FLAMESHOT_JCMD_TIMEOUT=60s \
            FLAMESHOT_ASYNC_PROFILER_PATH="$(cat "$W/asprof.home")" || return 1
        d_wait_api main /v1/targets .count 1 && return 0
        echo "the workload never became a target: $(cat "$D_BODY")"
        return 1
    fi
}

j() { jq -r "$1" "$2"; }

# profile_via_agent EVENTS NAME: POST /v1/profile for the workload, waits
# for the job; the JFR is copied to NAME.jfr, the job to NAME.job.json,
# the sidecar (the artefact's tags) to NAME.meta.json.
profile_via_agent() {
    local ev=$1 name=$2 p id st
    p=$(ct_pid wl)
    d_expect main 202 "/v1/profile?pid=$p&duration=2s&events=$ev" '.queued == 1' || return 1
    id=$(jq .job_id "$D_BODY")
    st=$(d_wait_job main "$id" 60)
    cp "$D_BODY" "$name.job.json"
    [ "$st" = done ] || { echo "job $id: $(cat "$name.job.json")"; return 1; }
    local jfr; jfr=$(j '.artefacts[0].name' "$name.job.json")
    [ -s "$jfr" ] && cp "$jfr" "$name.jfr" && cp "$jfr.json" "$name.meta.json" ||
        { echo "no JFR for job $id: $(cat "$name.job.json")"; return 1; }
    jfr summary "$name.jfr" > "$name.summary" || { echo "jfr summary rejected $jfr"; return 1; }
}

# count FILE TYPE [METHOD]: events of TYPE (whose stack has METHOD)
count() {
    if [ -n "${3:-}" ]; then
        jfr print --stack-depth 64 --events "$2" "$1" | grep -c "\.$3("
    else
        jfr print --events "$2" "$1" | grep -c "^$2 {"
    fi
}

# expect FILE TYPE [METHOD]: at least one such event
expect() {
    local n; n=$(count "$@")
    [ "$n" -gt 0 ] || { echo "$1: no $2${3:+ with $3 in its stack}; summary:"; cat "${1%.jfr}.summary"; return 1; }
}

# setting FILE NAME: async-profiler's jdk.ActiveSetting NAME (engine, event...)
setting() {
    jfr print --events jdk.ActiveSetting "$1" |
        awk -v n="$2" '$0 ~ "name = \"" n "\"" {f=1; next} f && /value = / {sub(/.*value = "?/, ""); sub(/"$/, ""); print; exit}'
}

# what every async-profiler capture through the agent must show
common() {
    local name=$1
    [ "$(j .artefact.library_type "$name.meta.json")" = async_profiler ] ||
        { echo "not async-profiler: $(cat "$name.job.json") $(cat "$name.meta.json")"; return 1; }
    [ "$(j .artefact.library_version "$name.meta.json")" = 4.5 ] ||
        { echo "library_version: $(j .artefact "$name.meta.json")"; return 1; }
    [ "$(setting "$name.jfr" version)" = 4.5 ] || { echo "not written by async-profiler 4.5"; return 1; }
    # only the staged library stays in the container (the JVM has it mapped)
    local d; d=/proc/$(ct_pid wl)/root/tmp
    [ "$(ls -A "$d/.flameshot-$CT_UID" | grep -cv '^libasyncProfiler-[0-9a-f]\{16\}\.so$')" = 0 ] ||
        { echo "left in the container: $(ls -A "$d/.flameshot-$CT_UID")"; return 1; }
    ! ls -d "$d"/20[0-9][0-9]_* 2>/dev/null || { echo "a JFR repository in the container"; return 1; }
}

case_cpu() {
    caps; need_asprof
    profile_via_agent cpu cpu && common cpu || return 1
    local want=ctimer
    [ "$PARANOID" -le 1 ] && want=perf_events
    [ "$(setting cpu.jfr engine)" = "$want" ] ||
        { echo "engine $(setting cpu.jfr engine), want $want (perf_event_paranoid=$PARANOID)"; return 1; }
    expect cpu.jfr jdk.ExecutionSample flameshotBurnCpu
}

case_itimer() {
    caps; need_asprof
    profile_via_agent itimer itimer && common itimer || return 1
    [ "$(setting itimer.jfr engine)" = itimer ] || { echo "engine $(setting itimer.jfr engine)"; return 1; }
    expect itimer.jfr jdk.ExecutionSample flameshotBurnCpu
}

case_wall() {
    caps; need_asprof
    profile_via_agent wall wall && common wall || return 1
    [ "$(setting wall.jfr engine)" = wall ] || { echo "engine $(setting wall.jfr engine)"; return 1; }
    expect wall.jfr profiler.WallClockSample flameshotSleep
}

case_alloc() {
    caps; need_asprof
    profile_via_agent alloc alloc && common alloc || return 1
    local n
    n=$(($(count alloc.jfr jdk.ObjectAllocationInNewTLAB flameshotAllocate) +
        $(count alloc.jfr jdk.ObjectAllocationOutsideTLAB flameshotAllocate)))
    [ "$n" -gt 0 ] || { echo "no allocation sample in flameshotAllocate"; cat alloc.summary; return 1; }
}

case_lock() {
    caps; need_asprof
    profile_via_agent lock lock && common lock || return 1
    expect lock.jfr jdk.JavaMonitorEnter flameshotContend && expect lock.jfr jdk.ThreadPark flameshotPark
}

case_nativemem() {
    caps; need_asprof
    profile_via_agent nativemem nativemem && common nativemem || return 1
    expect nativemem.jfr profiler.Malloc flameshotMalloc && expect nativemem.jfr profiler.Free
}

case_cs() {
    caps; need_asprof
    profile_via_agent cs cs && common cs || return 1
    [ "$(setting cs.jfr event)" = context-switches ] && [ "$(setting cs.jfr engine)" = perf_events ] ||
        { echo "event $(setting cs.jfr event), engine $(setting cs.jfr engine)"; return 1; }
    local n; n=$(count cs.jfr jdk.ExecutionSample)
    if [ "$PARANOID" -ge 2 ]; then
        # documented, and said: user-space perf events never see a switch
        [ "$n" = 0 ] || { echo "$n samples with perf_event_paranoid=$PARANOID: the note is wrong"; return 1; }
        j .reason cs.job.json | grep -q "cs: kernel.perf_event_paranoid=$PARANOID .*expect no samples" ||
            { echo "no note: $(cat cs.job.json)"; return 1; }
    else
        [ "$n" -gt 0 ] || { echo "no samples with perf_event_paranoid=$PARANOID"; return 1; }
    fi
}

case_all() {
    caps; need_asprof
    profile_via_agent all all && common all || return 1
    [ "$(j .events all.job.json)" = all ] || { echo "events: $(j .events all.job.json)"; return 1; }
    expect all.jfr jdk.ExecutionSample flameshotBurnCpu &&
        expect all.jfr profiler.WallClockSample &&
        expect all.jfr jdk.ObjectAllocationInNewTLAB flameshotAllocate &&
        expect all.jfr profiler.LiveObject flameshotAllocate &&
        expect all.jfr jdk.JavaMonitorEnter flameshotContend &&
        expect all.jfr jdk.ThreadPark flameshotPark &&
        expect all.jfr profiler.Malloc flameshotMalloc
}

# A JVM with CAP_PERFMON (uid 0 in the host's user namespace): cpu runs on
# perf_events and cs samples, whatever perf_event_paranoid says.
case_privileged_jvm() {
    caps; need_asprof
    ct_start wl0 --uid 0 -- /usr/bin/java -cp "$CLASSES" Workload || return 1
    ct_wait_output wl0 "Workload started" 20 || return 1
    local p; p=$(ct_pid wl0)
    "$PROBE" profile "$p" r-cpu.jfr 2000 cpu "$ASPROF_HOME" > r-cpu.json || { cat r-cpu.json; return 1; }
    [ "$(setting r-cpu.jfr engine)" = perf_events ] || { echo "root cpu engine $(setting r-cpu.jfr engine)"; return 1; }
    expect r-cpu.jfr jdk.ExecutionSample flameshotBurnCpu || return 1
    "$PROBE" profile "$p" r-cs.jfr 2000 cs "$ASPROF_HOME" > r-cs.json || { cat r-cs.json; return 1; }
    [ "$(j .reason r-cs.json)" = "" ] || { echo "a note for a privileged JVM: $(cat r-cs.json)"; return 1; }
    expect r-cs.jfr jdk.ExecutionSample || return 1
    ct_stop wl0
}

# Upstream's release strips the library, and the compiler assembles
# "async-profiler 4.5" from pieces: the version comes from bin/asprof.
case_stripped_library_version() {
    caps; need_asprof
    need "command -v strip" "needs strip (binutils)"
    mkdir -p st/lib st/bin && strip -g "$ASPROF_HOME/lib/libasyncProfiler.so" -o st/lib/libasyncProfiler.so &&
        cp "$ASPROF_HOME/bin/asprof" st/bin/ || return 1
    ! grep -qa 'async-profiler 4\.5' st/lib/libasyncProfiler.so || { echo "the stripped library has the string"; return 1; }
    grep -qa 'async-profiler 4\.5' "$ASPROF_HOME/lib/libasyncProfiler.so" || { echo "the build has no string"; return 1; }
    "$PROBE" profile "$(ct_pid wl)" st.jfr 1000 itimer "$W/st" > st.json || { cat st.json; return 1; }
    [ "$(j .library_type st.json)" = async_profiler ] && [ "$(j .library_version st.json)" = 4.5 ] ||
        { cat st.json; return 1; }
}

# JDK Flight Recorder (no async-profiler): the repository directory the
# JVM creates in its /tmp on JFR.start goes with the capture; one that an
# application's own recording uses stays, and so does that recording.
# Last: it leaves the application's recording running in the workload.
case_jfr_repository() {
    caps
    local p t; p=$(ct_pid wl); t=/proc/$p/root/tmp
    local i
    for i in 1 2; do # the second JFR.start makes a new repository: it goes too
        "$PROBE" profile "$p" jf$i.jfr 1000 cpu > jf$i.json || { cat jf$i.json; return 1; }
        [ "$(j .library_type jf$i.json)" = jfr ] && [ "$(j .reason jf$i.json)" = "" ] ||
            { cat jf$i.json; return 1; }
        jfr summary jf$i.jfr > /dev/null || return 1
        ! ls -d "$t"/20[0-9][0-9]_* 2>/dev/null || { echo "a JFR repository left after capture $i"; return 1; }
    done
    jc() { setpriv --reuid "$CT_UID" --regid "$CT_UID" --clear-groups jcmd "$p" "$@"; }
    jc JFR.start name=app > /dev/null || return 1
    local repo; repo=$(ls -d "$t"/20[0-9][0-9]_*) || { echo "no repository for the app's recording"; return 1; }
    "$PROBE" profile "$p" jf3.jfr 1000 cpu > jf3.json || { cat jf3.json; return 1; }
    [ -d "$repo" ] || { echo "the application's repository was removed"; return 1; }
    jc JFR.check | grep -q 'name=app .*(running)' || { echo "the app's recording stopped"; return 1; }
    # still the application's once its recording stopped (empty, the JVM keeps it)
    jc JFR.stop name=app > /dev/null && "$PROBE" profile "$p" jf4.jfr 1000 cpu > jf4.json ||
        { cat jf4.json; return 1; }
    [ -d "$repo" ] || { echo "the application's (empty) repository was removed"; return 1; }
}

setup > "$W/setup.err" 2>&1 && touch "$W/ready"
disown -a # the containers are killed at the end: no job-control noise

t_case "cpu: jdk.ExecutionSample in flameshotBurnCpu; ctimer unless perf_event_paranoid <= 1" case_cpu
t_case "itimer: jdk.ExecutionSample in flameshotBurnCpu, engine itimer" case_itimer
t_case "wall: profiler.WallClockSample in flameshotSleep" case_wall
t_case "alloc: escaping allocations sampled in flameshotAllocate" case_alloc
t_case "lock: jdk.JavaMonitorEnter and jdk.ThreadPark in the contending methods" case_lock
t_case "nativemem: profiler.Malloc in flameshotMalloc, profiler.Free" case_nativemem
t_case "cs: context-switches on perf_events; no samples and a note under perf_event_paranoid >= 2" case_cs
t_case "all: every event type above, and profiler.LiveObject" case_all
t_case "uid-0 JVM (CAP_PERFMON): cpu on perf_events, cs samples, no note" case_privileged_jvm
t_case "library_version 4.5 from a stripped library (bin/asprof)" case_stripped_library_version
t_case "JFR capture: its repository directory removed, the application's kept" case_jfr_repository
t_done
