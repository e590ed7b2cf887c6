#!/bin/bash
# The chart's privileges, proven: the capability set the rendered DaemonSet
# grants (`helm template helm/flameshot-node`, the real helm of
# tools/helm/fetch.sh) is the agent's whole need.
#
#   - flameshotd in kubernetes mode (what the chart runs) as uid 0 with
#     EXACTLY that set as its bounding, inheritable, ambient, permitted and
#     effective sets (setpriv): the BPF programs load; a namespaced non-root
#     JVM (tests/lib/container.sh) and one in a real containerd container
#     (tests/lib/ctr.sh, seccomp on) become targets; a real async-profiler
#     profile (tests/lib/asprof.sh) and the jcmd snapshots of both are
#     captured; a JVM whose JAVA_TOOL_OPTIONS disable attach is left alone;
#     no start-up line says a capability is missing;
#   - with each granted capability removed in turn, the agent says which
#     feature it lost: the start-up line of core/caps.c and, where a job
#     depends on it, the job's reason naming the capability. A capability
#     nothing needs while another one is held (CAP_BPF, CAP_PERFMON: CAP_
#     SYS_ADMIN covers them) or on this kernel (CAP_SYS_RESOURCE: BPF memory
#     is memcg-accounted from 5.11) must change nothing, and the case says
#     so. A capability the chart grants that this table does not know fails:
#     add what it is for, with the proof.
#
# One agent per set, the JVMs and the containerd shared. H81_HELM_ARGS adds
# arguments to helm template (e.g. --set to try another list).
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/ctr.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/asprof.sh"
CLASSES=$BUILD/tests/java
W=$CTR_DIR/work/caps81
K=$W/kube
NODE=worker-caps
NS=caps
UID_JVM=10001
trap 'd_cleanup; [ -f "$K/server.pid" ] && kill "$(cat "$K/server.pid")" 2>/dev/null; ct_cleanup; ctr_cleanup' EXIT
mkdir -p "$W" "$K"

# What each capability buys, as the agent must say it when it is missing:
# START: start-up lines (EREs, one a line, each must match); JOB: the JVM a
# thread dump is asked of (app: the containerd one, env: attach disabled in
# JAVA_TOOL_OPTIONS) and RE its outcome: "done", or a reason (ERE).
declare -A START JOB RE
START[SYS_ADMIN]=$'CAP_SYS_ADMIN missing: BPF events unavailable\nCAP_SYS_ADMIN missing: capture steps cannot enter\nevent source: poller'
JOB[SYS_ADMIN]=app RE[SYS_ADMIN]='entering the mount namespace: Operation not permitted \(CAP_SYS_ADMIN missing\)'
START[SYS_CHROOT]='CAP_SYS_CHROOT missing: capture steps cannot enter a JVM.s mount namespace'
JOB[SYS_CHROOT]=app RE[SYS_CHROOT]='entering the mount namespace: Operation not permitted \(CAP_SYS_CHROOT missing\)'
START[SYS_PTRACE]=$'CAP_SYS_PTRACE missing: /proc/<pid>/root, cwd and ns/mnt\nCAP_SYS_PTRACE missing: the environment of JVMs'
JOB[SYS_PTRACE]=app RE[SYS_PTRACE]='opening /proc/[0-9]+/ns/mnt: Permission denied \(CAP_SYS_PTRACE missing\)'
START[SETUID]='CAP_SETUID missing: capture steps cannot become the JVM.s user'
JOB[SETUID]=app RE[SETUID]="dropping to uid $UID_JVM: Operation not permitted \(CAP_SETUID missing\)"
START[SETGID]='CAP_SETGID missing: capture steps cannot become the JVM.s user'
JOB[SETGID]=app RE[SETGID]="dropping to gid $UID_JVM: Operation not permitted \(CAP_SETGID missing\)"
START[KILL]='CAP_KILL missing: a capture step that times out after becoming the JVM.s user cannot be killed'
JOB[KILL]=app RE[KILL]=done
START[DAC_READ_SEARCH]='CAP_DAC_READ_SEARCH missing: the environment of JVMs running as another user'
JOB[DAC_READ_SEARCH]=env RE[DAC_READ_SEARCH]='its environment is unreadable \(CAP_DAC_READ_SEARCH missing\), so -XX:\+DisableAttachMechanism cannot be ruled out'
START[BPF]='event source: bpf' JOB[BPF]=app RE[BPF]=done             # CAP_SYS_ADMIN covers it
START[PERFMON]='event source: bpf' JOB[PERFMON]=app RE[PERFMON]=done # CAP_SYS_ADMIN covers it
KERNEL=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
if [ "$KERNEL" -ge 5011 ]; then
    START[SYS_RESOURCE]='event source: bpf'
else
    START[SYS_RESOURCE]='CAP_SYS_RESOURCE missing: this kernel charges BPF maps to RLIMIT_MEMLOCK'
fi
JOB[SYS_RESOURCE]=app RE[SYS_RESOURCE]=done

caps() {
    need "ctr_can_run && ct_can_run && d_can_run" \
        "needs root, containerd, ctr, runc, setpriv, unshare, python3, curl, jq, ss"
    need "command -v java && command -v jfr && command -v openssl && command -v node" \
        "needs a JDK (java, jfr), openssl and node"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Idle.class' ]" "run make test-build first"
}

ready() {
    [ -f "$W/ready" ] || { cat "$W/setup.err"; echo "setup failed"; exit 1; }
}

# The DaemonSet container's securityContext, from the chart as rendered:
# "add CAP ...", "drop ...", "privileged B", "user N", one a line.
chart_security() {
    local helm nodepath
    helm=$("$ROOT/tools/helm/fetch.sh" 2>"$W/fetch.err") &&
        nodepath=$("$ROOT/tools/helm/fetch.sh" --node-path 2>>"$W/fetch.err") ||
        { cat "$W/fetch.err"; return 1; }
    # shellcheck disable=SC2086
    "$helm" template flameshot-node "$ROOT/helm/flameshot-node" ${H81_HELM_ARGS:-} \
        > "$W/rendered.yaml" || return 1
    NODE_PATH=$nodepath node -e '
        const yaml = require("yaml");
        const docs = yaml.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8"));
        const ds = docs.map((d) => d.toJS()).filter((o) => o && o.kind === "DaemonSet");
        if (ds.length !== 1) throw new Error(ds.length + " DaemonSets rendered");
        const c = ds[0].spec.template.spec.containers.find((x) => x.name === "flameshotd") ||
            ds[0].spec.template.spec.containers[0];
        const sc = c.securityContext || {}, caps = sc.capabilities || {};
        for (const a of caps.add || []) console.log("add " + a);
        console.log("drop " + (caps.drop || []).join(","));
        console.log("privileged " + !!sc.privileged);
        console.log("user " + sc.runAsUser);
        console.log("seccomp " + ((sc.seccompProfile || {}).type || ""));
    ' "$W/rendered.yaml"
}

# cap_bit NAME: its number, from the kernel's headers
cap_bit() {
    local n
    n=$(grep -o "#define CAP_$1[[:space:]]*[0-9]*" /usr/include/linux/capability.h | awk '{ print $3 }')
    [ -n "$n" ] && echo "$n"
}

case_chart_drops_all_and_adds_a_list() {
    caps
    chart_security > "$W/chart.txt" || return 1
    cat "$W/chart.txt"
    grep -qx 'drop ALL' "$W/chart.txt" || { echo "capabilities.drop is not [ALL]"; return 1; }
    grep -qx 'privileged false' "$W/chart.txt" && grep -qx 'user 0' "$W/chart.txt" ||
        { echo "not a uid-0, unprivileged container"; return 1; }
    grep -qx 'seccomp RuntimeDefault' "$W/chart.txt" || { echo "seccomp is not RuntimeDefault"; return 1; }
    local c bnd own unknown="" grant=()
    own=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
    for c in $(awk '$1 == "add" { sub(/^CAP_/, "", $2); print $2 }' "$W/chart.txt"); do
        [ -n "${START[$c]:-}" ] || unknown="$unknown CAP_$c"
        bnd=$(cap_bit "$c") || { echo "CAP_$c: no such capability"; return 1; }
        if ((own >> bnd & 1)); then
            grant+=("$c")
        elif [ "$c" = SYS_RESOURCE ] && [ "$KERNEL" -ge 5011 ]; then
            # not grantable in this sandbox; the kernel would not ask for it
            echo "CAP_SYS_RESOURCE is not in this machine's bounding set: the agent runs" \
                "without it, which kernel $(uname -r) allows (memcg-accounted BPF memory)" \
                >> "$W/notes"
        else
            echo "CAP_$c is not in this machine's bounding set: cannot grant it"
            return 77
        fi
    done
    [ -z "$unknown" ] || { echo "the chart grants$unknown: no expectation here for what it buys"; return 1; }
    printf '%s\n' "${grant[@]}" > "$W/grant"
}

# Once, in this shell: two namespaced JVMs (one with attach disabled in
# JAVA_TOOL_OPTIONS), a containerd JVM, the API server serving their Pods.
setup() {
    asprof_ensure > "$W/asprof.why" || { cat "$W/asprof.why"; return 1; }
    echo "$ASPROF_HOME" > "$W/asprof.home"
    local idle=(/usr/bin/java -cp "$CLASSES" Idle)
    ct_start wl -- "${idle[@]}" || return 1
    JAVA_TOOL_OPTIONS=-XX:+DisableAttachMechanism ct_start env -- "${idle[@]}" || return 1
    ctr_daemon_start || return 1
    local pod cid
    pod=$(ctr_uuid) cid=$(ctr_hex64)
    ctr_run app --pod-uid "$pod" --cid "$cid" --share-ro "$CLASSES" -- "${idle[@]}" || return 1
    ctr_wait_output app "Idle started" 60 && ct_wait_output wl "Idle started" 60 &&
        ct_wait_output env "Idle started" 60 || return 1
    local on=(--annotation flameshot.io/enabled=true)
    {
        ctr_pod_json "$NS" app-0 "$pod" "$NODE" --container app="$cid" "${on[@]}"
        ctr_pod_json "$NS" wl-0 "$(ct_pod_uid wl)" "$NODE" --container wl="$(ct_id wl)" "${on[@]}"
        ctr_pod_json "$NS" env-0 "$(ct_pod_uid env)" "$NODE" --container env="$(ct_id env)" "${on[@]}"
    } | jq -s '{items: .}' > "$K/pods.json" || return 1
    ctr_api_server "$K" "$NODE" > "$K/port" || { cat "$K/port"; return 1; }
}

pid_of() {
    case $1 in
        app) ctr_pid app ;;
        *) ct_pid "$1" ;;
    esac
}

# agent NAME CAP...: flameshotd in kubernetes mode as uid 0 with exactly
# those capabilities; waits until the three JVMs are its targets
agent() {
    local name=$1 c set="-all" mask=0
    shift
    for c in "$@"; do
        set="$set,+${c,,}"
        mask=$((mask | 1 << $(cap_bit "$c")))
    done
    printf '#!/bin/sh\nexec setpriv --bounding-set=%s --inh-caps=%s --ambient-caps=%s %s\n' \
        "$set" "$set" "$set" "$FLAMESHOTD" > "$W/$name.sh"
    chmod +x "$W/$name.sh"
    FLAMESHOTD=$W/$name.sh d_start "$name" FLAMESHOT_MODE=kubernetes \
        FLAMESHOT_KUBE_API="https://127.0.0.1:$(cat "$K/port")" FLAMESHOT_KUBE_SA_DIR="$K" \
        FLAMESHOT_NODE_NAME="$NODE" FLAMESHOT_PROCESSES='[{"command":"java"}]' \
        FLAMESHOT_JCMD_TIMEOUT=60s FLAMESHOT_ASYNC_PROFILER_PATH="$(cat "$W/asprof.home")" ||
        return 1
    local want k got
    want=$(printf '%016x' "$mask")
    for k in CapBnd CapInh CapAmb CapPrm CapEff; do
        got=$(awk -v k="$k:" '$1 == k { print $2 }' "/proc/$(d_pid "$name")/status")
        [ "$got" = "$want" ] || { echo "$k $got, want $want ($*)"; return 1; }
    done
    grep -q '^Uid:\s*0\s' "/proc/$(d_pid "$name")/status" || { echo "not uid 0"; return 1; }
    d_wait_api "$name" /v1/targets .count 3 30 && return 0
    echo "targets: $(jq -c '[.targets[] | [.pid, .pod_name]]' "$D_BODY"), want the 3 JVMs"
    d_log "$name" | tail -n 20
    return 1
}

# job NAME KIND JVM [query]: queues a capture, waits for it; the job's JSON
# is in $D_BODY, its state printed
job() {
    local name=$1 kind=$2 pid code id
    pid=$(pid_of "$3")
    code=$(d_api "$name" "/v1/$kind?pid=$pid${4:-}")
    [ "$code" = 202 ] || { echo "/v1/$kind for $3: $code $(cat "$D_BODY")" >&2; return 1; }
    id=$(jq .job_id "$D_BODY")
    d_wait_job "$name" "$id" 180
}

caps_warnings() { grep 'level=warn module=caps' "$D_DIR/$1/log"; }

case_exactly_the_charts_set_runs_the_whole_path() {
    caps && ready
    [ -s "$W/grant" ] || { echo "no set from the chart (first case)"; return 1; }
    # shellcheck disable=SC2046
    agent full $(cat "$W/grant") || return 1
    d_wait_log full 'event source: bpf \(' 5 || return 1
    ! caps_warnings full || { echo "the chart's set lacks something"; return 1; }
    local jvm st
    for jvm in app wl; do
        st=$(job full profile "$jvm" "&duration=2s&events=cpu") && [ "$st" = done ] ||
            { echo "profile of $jvm: $st $(cat "$D_BODY")"; return 1; }
        jq -e '.detail | contains("library_type=async_profiler")' "$D_BODY" > /dev/null ||
            { echo "profile of $jvm without async-profiler: $(cat "$D_BODY")"; return 1; }
        jfr summary "$(jq -r '.artefacts[0].name' "$D_BODY")" > /dev/null ||
            { echo "profile of $jvm: not a JFR"; return 1; }
        st=$(job full snapshot "$jvm") && [ "$st" = done ] &&
            jq -e '[.artefacts[].name | test("jcmd_(thread_print|gc_class_histogram)_")] |
                length == 2 and all' "$D_BODY" > /dev/null ||
            { echo "snapshots of $jvm: $st $(cat "$D_BODY")"; return 1; }
    done
    st=$(job full snapshot env "&type=thread_print")
    [ "$st" = failed ] && jq -e '.reason | test("attach is disabled")' "$D_BODY" > /dev/null ||
        { echo "the attach-disabled JVM: $st $(cat "$D_BODY")"; return 1; }
    d_stop full
}

# The agent itself in a containerd container as the chart makes it: uid 0,
# the runtime's default capabilities dropped and the chart's added, the
# runtime's default seccomp profile (what RuntimeDefault is on containerd),
# the host's PID namespace, /sys/fs/cgroup read-only, the spool a bind.
CTR_DEFAULT_CAPS="CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
    NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE"
case_under_runtime_default_seccomp() {
    caps && ready
    local s=$CTR_DIR/c/agent c opts=() m port mask=0 id
    id=$(ctr_hex64)
    ctr__rootfs "$s.rootfs" 0
    while read -r m; do opts+=(--mount "$m"); done < "$s.rootfs.mounts"
    for c in $CTR_DEFAULT_CAPS; do grep -qx "$c" "$W/grant" || opts+=(--cap-drop "CAP_$c"); done
    while read -r c; do
        opts+=(--cap-add "CAP_$c")
        mask=$((mask | 1 << $(cap_bit "$c")))
    done < "$W/grant"
    for m in "$BUILD" "$(cat "$W/asprof.home")" "$K"; do
        opts+=(--mount "type=bind,src=$m,dst=$m,options=rbind:ro")
    done
    mkdir -p "$D_DIR/ctr/data"
    port=$(d_free_port) && echo "$port" > "$D_DIR/ctr/port"
    ctr_cmd run -d --runtime io.containerd.runc.v2 --runc-binary "$(command -v runc)" \
        --runc-root "$CTR_DIR/runc" --seccomp --net-host --with-ns "pid:/proc/$$/ns/pid" \
        --mount "type=bind,src=/sys/fs/cgroup,dst=/sys/fs/cgroup,options=rbind:ro" \
        --mount "type=bind,src=$D_DIR/ctr/data,dst=/var/lib/flameshot,options=rbind:rw" \
        --log-uri "file://$D_DIR/ctr/log" --pid-file "$s.pid" --fifo-dir "$CTR_DIR/fifo" \
        --env FLAMESHOT_MODE=kubernetes --env FLAMESHOT_NODE_NAME="$NODE" \
        --env FLAMESHOT_KUBE_API="https://127.0.0.1:$(cat "$K/port")" --env FLAMESHOT_KUBE_SA_DIR="$K" \
        --env FLAMESHOT_HTTP_LOCAL_IP=127.0.0.1 --env FLAMESHOT_HTTP_LOCAL_PORT="$port" \
        --env FLAMESHOT_PROFILING_PATH=/var/lib/flameshot \
        --env FLAMESHOT_PROCESSES='[{"command":"java"}]' --env FLAMESHOT_JCMD_TIMEOUT=60s \
        --env FLAMESHOT_ASYNC_PROFILER_PATH="$(cat "$W/asprof.home")" \
        "${opts[@]}" --rootfs "$s.rootfs" "$id" "$FLAMESHOTD" \
        </dev/null > "$s.ctr" 2>&1 || { cat "$s.ctr"; return 1; }
    local pid i
    pid=$(cat "$s.pid")
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
        sleep 0.1
    done
    d_expect ctr 200 /readyz || { tail -n 20 "$D_DIR/ctr/log"; return 1; }
    local st=/proc/$pid/status want
    want=$(printf '%016x' "$mask")
    [ "$(awk '/^CapEff:/ { print $2 }' "$st")" = "$want" ] &&
        [ "$(awk '/^CapBnd:/ { print $2 }' "$st")" = "$want" ] && grep -q '^Seccomp:\s*2' "$st" &&
        grep -q '^Uid:\s*0\s' "$st" || { grep -E '^(Uid|Cap|Seccomp)' "$st"; return 1; }
    d_wait_log ctr 'event source: bpf \(' 5 || return 1
    ! caps_warnings ctr || return 1
    d_wait_api ctr /v1/targets .count 3 || { echo "targets: $(cat "$D_BODY")"; return 1; }
    local jvm
    for jvm in app wl; do
        st=$(job ctr profile "$jvm" "&duration=2s&events=cpu") && [ "$st" = done ] &&
            jq -e '.detail | contains("library_type=async_profiler")' "$D_BODY" > /dev/null ||
            { echo "profile of $jvm: $st $(cat "$D_BODY")"; return 1; }
        st=$(job ctr snapshot "$jvm" "&type=thread_print") && [ "$st" = done ] ||
            { echo "thread dump of $jvm: $st $(cat "$D_BODY")"; return 1; }
    done
    grep -qi 'seccomp\|operation not permitted' "$D_DIR/ctr/log" &&
        { grep -i 'seccomp\|operation not permitted' "$D_DIR/ctr/log"; return 1; }
    # a clean stop, as at a rollout: SIGTERM, exit 0
    ctr_cmd task kill --signal TERM "$id" || return 1
    for i in $(seq 1 400); do
        [ "$(ctr__status "$id")" = STOPPED ] && break
        sleep 0.1
    done
    local out
    out=$(ctr_cmd task delete "$id" 2>&1)
    ctr_cmd container delete "$id" > /dev/null 2>&1
    d_wait_log ctr 'module=daemon msg="stopped"' 1 && ! grep -q 'exit code' <<< "$out" ||
        { echo "stop: $out"; tail -n 5 "$D_DIR/ctr/log"; return 1; }
}

# without CAP: the agent with the chart's set less CAP
case_without() {
    local cap=$1 set=() c re st
    caps && ready
    while read -r c; do [ "$c" = "$cap" ] || set+=("$c"); done < "$W/grant"
    local name=no_${cap,,}
    agent "$name" "${set[@]}" || return 1
    while read -r re; do
        [ -n "$re" ] || continue
        d_wait_log "$name" "$re" 5 || { caps_warnings "$name"; return 1; }
    done <<< "${START[$cap]}"
    # nothing else is said to be missing: the loss is this capability's,
    # and a capability that buys nothing is not said to be missing
    if caps_warnings "$name" | grep -v "CAP_$cap missing"; then
        echo "other capabilities reported missing"
        return 1
    fi
    if ! grep -q missing <<< "${START[$cap]}" && caps_warnings "$name"; then
        echo "CAP_$cap is said to be missing, yet nothing needs it"
        return 1
    fi
    st=$(job "$name" snapshot "${JOB[$cap]}" "&type=thread_print")
    if [ "${RE[$cap]}" = done ]; then
        [ "$st" = done ] || { echo "the thread dump: $st $(cat "$D_BODY")"; return 1; }
    else
        [ "$st" = failed ] && jq -e --arg re "${RE[$cap]}" '.reason | test($re)' "$D_BODY" > /dev/null ||
            { echo "the thread dump: $st $(cat "$D_BODY"), want a reason matching ${RE[$cap]}"; return 1; }
    fi
    d_stop "$name"
}

t_case "the chart drops ALL and adds a list (uid 0, not privileged, RuntimeDefault)" \
    case_chart_drops_all_and_adds_a_list
[ -f "$W/notes" ] && sed 's/^/# /' "$W/notes"
setup > "$W/setup.err" 2>&1 && touch "$W/ready"
disown -a # the containers are killed at the end: no job-control noise
t_case "exactly the chart's set: BPF, both JVMs targets, profile and snapshots" \
    case_exactly_the_charts_set_runs_the_whole_path
t_case "the chart's set under containerd's default seccomp profile: the same path" \
    case_under_runtime_default_seccomp
for cap in $(cat "$W/grant" 2>/dev/null); do
    what="says what it lost"
    [ "${RE[$cap]}" = done ] && [ "${START[$cap]}" = 'event source: bpf' ] &&
        what="loses nothing (covered, or unused on this kernel)"
    t_case "without CAP_$cap: $what" case_without "$cap"
done
t_done
