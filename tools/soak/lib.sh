# shellcheck shell=bash
# tools/soak/lib.sh: the parts of tools/soak/run. State lives in files under
# $W: the exec churn runs in a background subshell.
#   $W/targets        "name kind pod-uid" per JVM (kind ctr or ns)
#   $W/jobs.ids       every job id a trigger got back, one a line
#   $W/jobs.final     "id state" of every job seen ended (one line each)
#   $W/jobs.arts      "id path" of every artefact of an ok job
#   $W/codes          the HTTP status of every trigger, one a line
#   $W/exec.count     execs of the churn so far

# --- the agent ----------------------------------------------------------

# the sanitizer's options: every report halts the agent and goes to a file;
# the quarantine (freed memory ASan keeps unreused to catch use-after-free,
# 256 MiB by default) is capped at 16 MiB so that it is full by the end of
# the warm-up: filling it would look like RSS growth in the flat check
agent_env() {
    JVM_OPTS=() AGENT_ENV=()
    case $AGENT in
    asan)
        FLAMESHOTD=$BUILD/asan/flameshotd
        AGENT_ENV=("ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:quarantine_size_mb=16:log_path=$W/san/asan"
            "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$W/san/ubsan") ;;
    valgrind)
        # build/flameshotd is the lean entry that execs the full program:
        # memcheck runs the full program itself (no --trace-children); the
        # agent's forked helpers (namespace entry) are left out: they exit
        # holding the parent's heap, which is no leak of theirs
        FLAMESHOTD=$BUILD/libexec/flameshot/flameshotd
        export D_WRAP="valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
            --error-exitcode=99 --child-silent-after-fork=yes --freelist-vol=4000000
            --log-file=$W/san/valgrind.%p"
        # --freelist-vol: memcheck's queue of freed blocks (ASan's
        # quarantine), 20 MB by default, filling it would look like growth
        # PCRE2's JIT code is opaque to memcheck (tools/soak/nojit.c)
        cc -shared -fPIC -O2 -o "$W/nojit.so" "$ROOT/tools/soak/nojit.c" || return 1
        AGENT_ENV=("LD_PRELOAD=$W/nojit.so")
        # memcheck 3.19 (Debian 12) does not know pidfd_open (syscall 434):
        # the agent then never signals a JVM to start its attach listener
        # (the signal could hit a reused pid); the JVMs start it themselves,
        # so the signalling path is the ASan run's alone
        JVM_OPTS=(-XX:+StartAttachListener) ;;
    release) FLAMESHOTD=$BUILD/flameshotd ;;
    *) echo "unknown agent $AGENT (asan, valgrind, release)" >&2; return 2 ;;
    esac
    [ -x "$FLAMESHOTD" ] || { echo "no $FLAMESHOTD: make test-build" >&2; return 1; }
}

agent_start() {
    local port
    port=$(ctr_api_server "$K" "$NODE") || { echo "$port"; return 1; }
    # memcheck's start-up takes longer than d_start's default 20 s
    D_READY_SECS=200 d_start s FLAMESHOT_MODE=kubernetes FLAMESHOT_KUBE_API="https://127.0.0.1:$port" \
        FLAMESHOT_KUBE_SA_DIR="$K" FLAMESHOT_NODE_NAME="$NODE" \
        FLAMESHOT_PROCESSES='[{"command":"java"}]' "${AGENT_ENV[@]}"
}

# "fds RSS-KiB anon-KiB" of the agent's process (memcheck runs in it, no
# child); RSS is anonymous memory plus the mapped pages of its files (the
# libraries' code, paged in as paths first run)
agent_usage() {
    local pid
    pid=$(d_pid s)
    # an fd closed while find lists them is only its warning: silenced
    echo "$(find "/proc/$pid/fd" -mindepth 1 2> /dev/null | wc -l)" \
        "$(awk '/^(VmRSS|RssAnon):/ {printf "%s ", $2}' "/proc/$pid/status")"
}

# --- the JVMs and their Pods ------------------------------------------

rv_next() {
    local rv
    rv=$(($(cat "$W/rv" 2>/dev/null || echo 100) + 1))
    echo "$rv" > "$W/rv"
    echo "$rv"
}

# pod_json NAME [--annotation ...]: the Pod of JVM NAME, opted in unless
# --off; its container "app" has the JVM's current container ID
pod_json() {
    local name=$1 kind uid cid on=(--annotation flameshot.io/enabled=true)
    shift
    read -r _ kind uid < <(grep "^$name " "$W/targets")
    if [ "$kind" = ctr ]; then cid=$(ctr_id "$name"); else cid=$(ct_id "$name"); fi
    [ "${1:-}" = --off ] && { on=(); shift; }
    ctr_pod_json "$NS" "$name" "$uid" "$NODE" --owner "StatefulSet/$name" \
        --container app="$cid" --rv "$(rv_next)" "${on[@]}" "$@"
}

# event TYPE: appends a watch event of the Pod JSON on stdin
event() {
    local f=$K/obj.$RANDOM.json
    cat > "$f"
    ctr_watch_event "$1" "$f" >> "$K/events.jsonl"
}

start_ctr_jvm() { # name pod-uid
    ctr_run "$1" --pod-uid "$2" --share-ro "$CLASSES" -- \
        /usr/bin/java -Xmx64m "${JVM_OPTS[@]}" -cp "$CLASSES" Idle || return 1
    ctr_wait_output "$1" "Idle started" 60
}

start_ns_jvm() { # name
    ct_start "$1" -- /usr/bin/java -Xmx64m "${JVM_OPTS[@]}" -cp "$CLASSES" Idle || return 1
    ct_wait_output "$1" "Idle started" 60
}

# jvms_start NCTR NNS: containerd and the JVMs; their Pods in pods.json
jvms_start() {
    local i n
    ctr_daemon_start || return 1
    for i in $(seq 1 "$1"); do
        n=ctr-$i
        echo "$n ctr $(ctr_uuid)" >> "$W/targets"
        start_ctr_jvm "$n" "$(awk -v n="$n" '$1 == n {print $3}' "$W/targets")" || return 1
    done
    for i in $(seq 1 "$2"); do
        n=ns-$i
        start_ns_jvm "$n" || return 1
        echo "$n ns $(ct_pod_uid "$n")" >> "$W/targets"
    done
    while read -r n _; do
        pod_json "$n"
    done < "$W/targets" | jq -s '{items: .}' > "$K/pods.json"
}

# wait_targets N: until the agent has N targets (60 s)
wait_targets() {
    SRC=127.0.0.3 d_wait_api s /v1/targets '.targets | length' "$1" 60 && return 0
    echo "the agent has not $1 targets: $(jq -c '[.targets[] | .pod_name]' "$D_BODY")"
    return 1
}

# --- exec churn ---------------------------------------------------------

# ns_exec NAME ARGV...: ARGV in JVM NAME's namespaces and cgroups, as the
# container's user: what the agent sees of an exec inside that container
ns_exec() {
    local pid rel d
    pid=$(ct_pid "$1") && rel=$(ct_rel "$1") || return 1
    shift
    (
        for d in "$CT_MEM_ROOT" "$CT_CPU_ROOT" "$CT_V2_ROOT"; do
            [ -d "$d/$rel" ] && echo "$BASHPID" > "$d/$rel/cgroup.procs"
        done
        exec nsenter -t "$pid" -p -m -- setpriv --reuid "$CT_UID" --regid "$CT_UID" --clear-groups \
            -- "$@"
    ) > /dev/null 2>&1
}

# one exec in JVM NAME's container: a short process, every 25th a short JVM
churn_one() { # name kind i
    local argv=(/bin/true)
    [ $(($3 % 25)) -eq 0 ] && argv=(/usr/bin/java -Xmx16m -version)
    if [ "$2" = ctr ]; then
        ctr_exec "$1" --uid "$CTR_UID" -- "${argv[@]}" > /dev/null 2>&1
    else
        ns_exec "$1" "${argv[@]}"
    fi
}

# at most ~20 exec/s (a ctr exec alone takes longer than 50 ms here)
churn_loop() {
    local i=0 names kinds n
    read -ra names <<< "$(awk '{print $1}' "$W/targets" | tr '\n' ' ')"
    read -ra kinds <<< "$(awk '{print $2}' "$W/targets" | tr '\n' ' ')"
    while [ ! -f "$W/churn.stop" ]; do
        n=$((i % ${#names[@]}))
        churn_one "${names[$n]}" "${kinds[$n]}" "$i"
        i=$((i + 1))
        echo "$i" > "$W/exec.count.new" && mv "$W/exec.count.new" "$W/exec.count"
        sleep 0.05
    done
}

# --- Pod churn ------------------------------------------------------------

# replace_ctr NAME: the containerd JVM ends and a new one (new container ID)
# takes its place in the same Pod, as after a restart
replace_ctr() {
    local old uid
    old=$(ctr_id "$1")
    uid=$(awk -v n="$1" '$1 == n {print $3}' "$W/targets")
    ctr_rm "$1" || return 1
    start_ctr_jvm "$1" "$uid" || return 1
    pod_json "$1" --restarted app="$old" | event MODIFIED
    echo "replaced $1's JVM (container $old) by pid $(ctr_pid "$1")" >> "$W/churn.log"
}

# pod_churn I: what happens to the Pods at trigger I, in a period of
# PERIOD triggers: a Pod opts out (its queued jobs are cancelled, its
# triggers are 404) and back in, one is relabelled, a Pod with no process
# yet is added, then deleted; once, a containerd JVM is replaced
pod_churn() {
    local i=$1 names pick p x
    p=$((i % PERIOD))
    read -ra names <<< "$(awk '{print $1}' "$W/targets" | tr '\n' ' ')"
    pick=${names[$((i / PERIOD % ${#names[@]}))]}
    case $((p * 10 / PERIOD)),$((p * 10 % PERIOD)) in
    3,0) pod_json "$pick" --off | event MODIFIED; echo "$i: $pick opted out" >> "$W/churn.log" ;;
    6,0) pod_json "$pick" | event MODIFIED; echo "$i: $pick opted in" >> "$W/churn.log" ;;
    8,0) pod_json "$pick" --label soak.io/round="$i" | event MODIFIED ;;
    9,0)
        x=$K/extra.json
        ctr_pod_json "$NS" "extra-$i" "$(ctr_uuid)" "$NODE" --rv "$(rv_next)" \
            --annotation flameshot.io/enabled=true --waiting app > "$x"
        event ADDED < "$x" ;;
    1,0) [ -f "$K/extra.json" ] && event DELETED < "$K/extra.json" ;;
    esac
    if [ "$i" -eq $((N / 2)) ] && grep -q ' ctr ' "$W/targets"; then
        replace_ctr "$(awk '$2 == "ctr" {print $1; exit}' "$W/targets")"
    fi
}

# --- triggers and jobs ------------------------------------------------------

# trigger I: the I-th HTTP trigger; round robin over the Pods, and over
# the kinds every round (a profile of the minimum 1 s, two snapshots)
trigger() {
    local i=$1 names n path code
    read -ra names <<< "$(awk '{print $1}' "$W/targets" | tr '\n' ' ')"
    n=${names[$((i % ${#names[@]}))]}
    path="/v1/snapshot?namespace=$NS&pod=$n&container=app&type="
    case $((i / ${#names[@]} % 3)) in
    0) path="/v1/profile?namespace=$NS&pod=$n&container=app&duration=1s" ;;
    1) path="${path}thread_print" ;;
    2) path="${path}gc_class_histogram" ;;
    esac
    code=$(SRC=127.0.0.2 d_api s "$path")
    echo "$code" >> "$W/codes"
    [ "$code" = 202 ] && jq -r '.job_ids[]? // .job_id' "$D_BODY" >> "$W/jobs.ids"
    return 0
}

# poll_jobs: records every ended job of /v1/jobs (it keeps the latest 256
# ended ones: polled every few triggers, none is missed) and the artefacts
# of the ok ones
poll_jobs() {
    SRC=127.0.0.3 d_api s /v1/jobs > /dev/null
    jq -r '.jobs[] | select(.state != "queued" and .state != "running") | "\(.id) \(.state)"' \
        "$D_BODY" >> "$W/jobs.final" 2>/dev/null
    jq -r '.jobs[] | select(.state == "done") | "\(.id) \(.artefacts[].name)"' \
        "$D_BODY" >> "$W/jobs.arts" 2>/dev/null
    sort -u -o "$W/jobs.final" "$W/jobs.final"
    sort -u -o "$W/jobs.arts" "$W/jobs.arts"
}

# job_counts: "done failed cancelled target_exited pending" of our jobs
job_counts() {
    awk 'NR == FNR { want[$1] = 1; n++; next }
         ($1 in want) && !seen[$1]++ { c[$2]++; ended++ }
         END { printf "%d %d %d %d %d\n", c["done"], c["failed"], c["cancelled"],
                   c["target_exited"], n - ended }' "$W/jobs.ids" "$W/jobs.final"
}

# row I: one line of the table (and of $OUT.tsv). "held": the jobs the
# agent keeps (queued, running and the latest 256 ended, as /v1/jobs lists
# them); the RSS is judged from the first row with that history full
row() {
    local acc ref counts fds rss anon held
    poll_jobs
    held=$(jq '.jobs | length' "$D_BODY")
    read -ra counts < <(job_counts)
    acc=$(grep -c '^202$' "$W/codes")
    ref=$(grep -vc '^202$' "$W/codes")
    read -r fds rss anon < <(agent_usage)
    printf '%-8s %5s %7s %5s %6s %9s %7s %7s %6s %4s %4s %8s %9s %s\n' "$1" "$acc" "$ref" \
        "${counts[@]}" "$(cat "$W/exec.count" 2>/dev/null || echo 0)" "$held" "$fds" \
        "$((rss / 1024))" "$((anon / 1024))" "$((SECONDS - T0))" | tee -a "$OUT.tsv"
    echo "$fds $rss $held $anon" > "$W/usage.last"
    cp "$W/usage.last" "$W/usage.$1"
    # warmed up: the history is full, the agent holds all it will hold
    [ ! -f "$W/usage.warm" ] && [ "$held" -ge "$HISTORY" ] && warm_mark "$1"
    return 0
}

header() {
    printf '%-8s %5s %7s %5s %6s %9s %7s %7s %6s %4s %4s %8s %9s %s\n' triggers acc refused \
        'done' failed cancelled exited pending execs held fds "RSS MiB" "anon MiB" secs |
        tee "$OUT.tsv"
}

# drain: until every job we got has ended (3 min)
drain() {
    local i
    for i in $(seq 1 360); do
        poll_jobs
        [ "$(job_counts | awk '{print $5}')" = 0 ] && return 0
        sleep 0.5
    done
    return 1
}

# outbox_empty: until the outbox has delivered everything (1 min)
outbox_empty() {
    SRC=127.0.0.3 d_wait_api s /v1/status .outbox.items 0 60 && return 0
    echo "outbox: $(jq -c .outbox "$D_BODY")"
    return 1
}

# --- verdicts ---------------------------------------------------------------

# check TEXT CMD...: a verdict line; a failed one fails the run
check() {
    local text=$1
    shift
    if "$@"; then
        echo "ok    $text" | tee -a "$OUT.txt"
    else
        echo "FAIL  $text" | tee -a "$OUT.txt"
        FAILED=1
    fi
}

missing_artefacts() {
    local id path n=0
    while read -r id path; do
        grep -qx "$id" "$W/jobs.ids" && [ ! -e "$path" ] && n=$((n + 1))
    done < "$W/jobs.arts"
    echo "$n"
}

# memcheck's summary of the agent's own process: "definite-bytes errors"
valgrind_summary() {
    local f
    f=$(grep -l "Command: $FLAMESHOTD" "$W"/san/valgrind.* 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "none none"; return; }
    echo "$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tr -d , | tail -n 1 |
        grep . || echo 0) $(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$f" | tail -n 1)"
}

# fds: the end (every job ended, the outbox empty) against the start (the
# JVMs watched, before the first trigger): an ended job holds none, so
# they are the same but for slack 4 (an HTTP connection of ours, the API
# server's watch being reopened); no eventfd more than at the start (each
# job's cancel eventfd is closed when it ends). Judged in the smoke too.
fd_verdicts() {
    local fd0 fd1 ev0 ev1 most
    fd0=$(wc -l < "$W/san/fds.start")
    fd1=$(wc -l < "$W/san/fds.end")
    ev0=$(grep -c 'anon_inode:\[eventfd\]' "$W/san/fds.start")
    ev1=$(grep -c 'anon_inode:\[eventfd\]' "$W/san/fds.end")
    most=$(awk '$1 ~ /^[0-9]/ && $11 > m {m = $11} END {print m + 0}' "$OUT.tsv")
    check "fds: $fd0 at the start, $fd1 at the end (<= +4), at most $most in a row" \
        [ "$fd1" -le $((fd0 + 4)) ]
    check "eventfds: $ev0 at the start, $ev1 at the end" [ "$ev1" -le "$ev0" ]
}

# RSS: the end against the warm-up row (the job history full). The release
# agent's is the figure of flatness: slack max(3 MiB, 10%), the rows' noise
# is a MiB either way (a local sink index of parsed JSON trees, now text,
# made it creep 4 MiB in 700 triggers). Under memcheck max(8 MiB, 10%):
# valgrind's own memory is in it (its freed-block queue is capped above).
# Under ASan max(16 MiB, 20%): its runtime keeps what a release build gives
# back (a stack-depot record of every distinct allocation stack, free lists
# per size class), so it levels off later; LeakSanitizer and memcheck are
# the leak checks there.
rss_verdict() {
    local rss0 rss1 a0 a1 slack judge=check
    read -r _ rss0 _ a0 < "$W/usage.warm"
    read -r _ rss1 _ a1 < "$W/usage.last"
    case $AGENT in
    release) slack=$((rss0 / 10 > 3072 ? rss0 / 10 : 3072)) ;;
    asan) slack=$((rss0 / 5 > 16384 ? rss0 / 5 : 16384)) ;;
    *) slack=$((rss0 / 10 > 8192 ? rss0 / 10 : 8192)) ;;
    esac
    # 20 triggers are no soak: the smoke only reports it
    [ "$SMOKE" = 1 ] && judge=report
    $judge "RSS: $((rss0 / 1024)) MiB after warm-up (row $(cat "$W/warm.row")), $((rss1 / 1024)) MiB at the end (<= +$((slack / 1024)) MiB); anonymous $((a0 / 1024)) -> $((a1 / 1024)) MiB" \
        [ "$rss1" -le $((rss0 + slack)) ]
}
all_zero() {
    local v
    for v; do [ "$v" = 0 ] || return 1; done
}
report() { echo "info  $1" | tee -a "$OUT.txt"; }

verdicts() {
    local pend miss st vg
    : > "$OUT.txt"
    read -r _ _ _ _ pend < <(job_counts)
    check "every job accounted for: $(wc -l < "$W/jobs.ids") jobs, $pend without a final state" \
        [ "$pend" = 0 ]
    miss=$(missing_artefacts)
    check "every ok job's artefacts kept: $(wc -l < "$W/jobs.arts") artefacts, $miss missing" \
        [ "$miss" = 0 ]
    fd_verdicts
    rss_verdict
    d_stop s 300
    st=$?
    check "agent stopped cleanly (exit status $st)" [ "$st" = 0 ]
    check "no sanitizer report ($(find "$W/san" -name 'asan*' -o -name 'ubsan*' | wc -l) files)" \
        [ -z "$(find "$W/san" -name 'asan*' -o -name 'ubsan*')" ]
    if [ "$AGENT" = valgrind ]; then
        read -r -a vg < <(valgrind_summary)
        check "memcheck: ${vg[0]} bytes definitely lost, ${vg[1]} errors" all_zero "${vg[@]}"
    fi
    rm -rf "$OUT.reports" && cp -r "$W/san" "$OUT.reports" && cp "$D_DIR/s/log" "$OUT.reports/agent.log"
}

# --- the run ------------------------------------------------------------------

caps() {
    [ "$(id -u)" = 0 ] || { echo "needs root" >&2; return 1; }
    ctr_can_run || { echo "needs containerd, ctr, runc, setpriv and python3" >&2; return 1; }
    ct_can_run || { echo "needs unshare, setpriv and cgroup v1 memory" >&2; return 1; }
    d_can_run > /dev/null || { echo "needs curl, jq and ss" >&2; return 1; }
    if ! command -v nsenter > /dev/null || ! command -v java > /dev/null ||
        [ ! -f "$CLASSES/Idle.class" ]; then
        echo "needs nsenter, java and make test-build" >&2
        return 1
    fi
    [ "$AGENT" != valgrind ] || command -v valgrind > /dev/null ||
        { echo "needs valgrind (tools/deps.sh)" >&2; return 1; }
}

# warm_mark ROW: the warm-up's usage and what its fds are (kept with the
# reports)
warm_mark() {
    cp "$W/usage.$1" "$W/usage.warm"
    echo "$1" > "$W/warm.row"
    [ "$1" = end ] || fd_list > "$W/san/fds.warm"
}

# a run too short to fill the history is judged from its first quarter:
# its RSS growth then includes the jobs the history keeps
warm_fallback() {
    local r=$((N / 4 / SAMPLE * SAMPLE))
    [ "$r" -ge "$SAMPLE" ] || r=$SAMPLE
    [ -f "$W/usage.$r" ] || r=end
    warm_mark "$r"
    echo "the job history ($HISTORY) never filled: warm-up row $r"
}
fd_list() { find "/proc/$(d_pid s)/fd" -mindepth 1 -printf '%f %l\n' 2> /dev/null | sort -n; }

# the trigger loop; the warm-up row is the reference of the usage verdicts
soak_loop() {
    local i
    header
    for i in $(seq 1 "$N"); do
        pod_churn "$i"
        trigger "$i"
        [ $((i % 4)) -eq 0 ] && poll_jobs
        [ $((i % SAMPLE)) -eq 0 ] && row "$i"
        sleep "$PACE"
    done
}

soak_main() {
    local nctr=2 nns=2
    # a row every 1/20 of the run (5..50 triggers); the agent's job history
    # (JOB_HISTORY_CAP, src/daemon.c) holds the latest 256 ended jobs
    SAMPLE=$((N / 20 < 5 ? 5 : N / 20 > 50 ? 50 : N / 20))
    HISTORY=256 PERIOD=100 FAILED=0 OUT=$OUTDIR/$AGENT
    [ "$SMOKE" = 1 ] && nctr=1 nns=1 PERIOD=20 OUT=$OUTDIR/smoke-$AGENT
    agent_env && caps || exit 1
    : > "$W/codes"; : > "$W/jobs.ids"; : > "$W/jobs.final"; : > "$W/jobs.arts"
    echo "soak: $AGENT agent ($FLAMESHOTD), $N triggers, $nctr containerd and $nns namespaced JVMs"
    jvms_start "$nctr" "$nns" && agent_start && wait_targets $((nctr + nns)) || exit 1
    fd_list > "$W/san/fds.start"
    T0=$SECONDS
    churn_loop &
    echo $! > "$W/churn.pid"
    soak_loop
    touch "$W/churn.stop"
    wait "$(cat "$W/churn.pid")"
    drain || echo "jobs still pending after 3 minutes"
    outbox_empty
    row end
    [ -f "$W/usage.warm" ] || warm_fallback
    fd_list > "$W/san/fds.end"
    echo "triggers by status: $(sort "$W/codes" | uniq -c | awk '{printf "%s %s, ", $2, $1}')"
    cat "$W/churn.log" 2>/dev/null
    verdicts
    exit "$FAILED"
}
