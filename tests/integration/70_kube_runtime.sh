#!/bin/bash
# The real container runtime the Kubernetes end-to-end tests stand on
# (tests/lib/ctr.sh): a private containerd and runc run JVMs in the
# kubelet's cgroupfs layout, as a non-root uid, under the default seccomp
# profile, with a memory limit on the container's memcg; the host's jcmd
# attaches to them; the Pod JSON written for them names the same UID and
# containerd://<id>. Nothing stays behind: no container, task, cgroup,
# mount or process, even after a run that crashed (its containerd and the
# test killed with SIGKILL), which the next run tears down.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/ctr.sh"
# under the run's directory: a crashed run's files are reaped with it
W=$CTR_DIR/work
mkdir -p "$W"
trap ctr_cleanup EXIT
LIMIT=$((256 << 20))
UID_A=$(ctr_uuid) CID_A=$(ctr_hex64)
UID_B=$(ctr_uuid) CID_B=$(ctr_hex64)
UID_G=$(ctr_uuid) CID_G=$(ctr_hex64)

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ctr_can_run "needs containerd, ctr, runc, setpriv and python3 (tools/deps.sh)"
    need "command -v javac && command -v jcmd && command -v jq" "needs a JDK (javac, jcmd) and jq"
}

# a JVM that holds some heap and sleeps, as a service would
setup_app() {
    caps
    cat > "$W/Idle.java" <<'EOF'
public class Idle {
    public static void main(String[] args) throws Exception {
        byte[][] keep = new byte[16][];
        for (int i = 0; i < keep.length; i++) keep[i] = new byte[1 << 20];
        System.out.println("Idle started as " + System.getProperty("user.name"));
        while (true) Thread.sleep(1000);
    }
}
EOF
    javac -d "$W" "$W/Idle.java"
}

case_containerd_starts() {
    caps
    ctr_daemon_start || return 1
    [ -S "$CTR_SOCK" ] || { echo "no socket $CTR_SOCK"; return 1; }
    case $CTR_SOCK in /run/containerd/*) echo "not private: $CTR_SOCK"; return 1 ;; esac
    ctr_cmd plugins ls | grep -q 'io.containerd.runtime.v2 *task .* ok' ||
        { ctr_cmd plugins ls; return 1; }
    # CRI off: nothing but our socket is served
    if ctr_cmd plugins ls | grep -q 'io.containerd.grpc.v1 *cri .* ok'; then
        echo "the CRI plugin runs"; return 1
    fi
}

case_jvms_start() {
    caps
    ctr_run a --pod-uid "$UID_A" --cid "$CID_A" --qos burstable --memory-limit "$LIMIT" \
        --share-ro "$W" -- /usr/bin/java -cp "$W" Idle || return 1
    ctr_run b --pod-uid "$UID_B" --cid "$CID_B" --qos besteffort \
        --share-ro "$W" -- /usr/bin/java -cp "$W" Idle || return 1
    ctr_run g --pod-uid "$UID_G" --cid "$CID_G" --qos guaranteed --memory-limit "$LIMIT" \
        -- /usr/bin/sleep 1000 || return 1
    ctr_wait_output a "Idle started as app" 60 && ctr_wait_output b "Idle started as app" 60
}

# in_cgroup NAME REL: the main process's memory cgroup is REL, and it is
# listed in that directory's cgroup.procs
in_cgroup() {
    local pid got dir
    pid=$(ctr_pid "$1")
    [ "$(cat "/proc/$pid/comm")" = "$3" ] || { echo "$1: pid $pid is $(cat "/proc/$pid/comm"), not $3"; return 1; }
    got=$(awk -F: '$2 == "memory" || ($1 == 0 && !m) { p = $3 } $2 == "memory" { m = 1 } END { print p }' \
        "/proc/$pid/cgroup")
    [ "$got" = "$2" ] || { echo "$1: cgroup $got, want $2"; return 1; }
    dir=$(ctr_cgroup "$1")
    [ "$dir" = "$CTR_CGROUP_ROOT/memory$2" ] || [ "$dir" = "$CTR_CGROUP_ROOT$2" ] ||
        { echo "ctr_cgroup $1: $dir"; return 1; }
    grep -qx "$pid" "$dir/cgroup.procs" || { echo "$pid not in $dir/cgroup.procs"; return 1; }
}

case_kubelet_cgroupfs_layout() {
    caps
    in_cgroup a "/kubepods/burstable/pod$UID_A/$CID_A" java &&
        in_cgroup b "/kubepods/besteffort/pod$UID_B/$CID_B" java &&
        in_cgroup g "/kubepods/pod$UID_G/$CID_G" sleep
}

# confined NAME UID: the uid, seccomp filter and no_new_privs of a
# container's main process, and its own PID namespace (pid 1 there)
confined() {
    local st
    st=/proc/$(ctr_pid "$1")/status
    grep -Eq "^Uid:\s+$2\s+$2\s+$2\s+$2$" "$st" || { grep ^Uid "$st"; return 1; }
    grep -Eq "^Gid:\s+$2\s+$2\s+$2\s+$2$" "$st" || { grep ^Gid "$st"; return 1; }
    grep -Eq '^Seccomp:\s+2$' "$st" || { grep ^Seccomp "$st"; return 1; }
    grep -Eq '^NoNewPrivs:\s+1$' "$st" || { grep ^NoNewPrivs "$st"; return 1; }
    grep -Eq '^NSpid:\s+[0-9]+\s+1$' "$st" || { grep ^NSpid "$st"; return 1; }
}

case_non_root_seccomp() {
    caps
    confined a "$CTR_UID" && confined b "$CTR_UID" && confined g "$CTR_UID"
}

case_memory_limit_on_memcg() {
    caps
    local f=memory.limit_in_bytes got
    [ -f "$(ctr_cgroup a)/$f" ] || f=memory.max
    got=$(cat "$(ctr_cgroup a)/$f")
    [ "$got" = "$LIMIT" ] || { echo "a: $f $got, want $LIMIT"; return 1; }
    got=$(cat "$(ctr_cgroup b)/$f")
    [ "$got" != "$LIMIT" ] || { echo "b has a's limit"; return 1; }
    got=$(cat "$(ctr_cgroup g)/$f")
    [ "$got" = "$LIMIT" ] || { echo "g: $f $got, want $LIMIT"; return 1; }
}

# the host's jcmd, as root, through /proc/<pid>/root/tmp and the JVM's
# own pid in its namespace (1)
case_host_jcmd_attaches() {
    caps
    local out
    out=$(timeout 60 jcmd "$(ctr_pid a)" VM.version 2>&1) || { echo "$out"; return 1; }
    echo "$out" | grep -q 'JDK [0-9]' || { echo "$out"; return 1; }
    [ -S "/proc/$(ctr_pid a)/root/tmp/.java_pid1" ] || { echo "no attach socket in its /tmp"; return 1; }
    # the container's /tmp is its own: b's JVM has another
    [ ! -e "/proc/$(ctr_pid b)/root/tmp/.java_pid1" ] || { echo "b sees a's /tmp"; return 1; }
}

case_exec_inside() {
    caps
    local out
    out=$(ctr_exec a --uid "$CTR_UID" -- /usr/bin/id -u) || { echo "$out"; return 1; }
    [ "$out" = "$CTR_UID" ] || { echo "id -u: $out"; return 1; }
    out=$(ctr_exec a -- /usr/bin/cat /proc/1/comm) || { echo "$out"; return 1; }
    [ "$out" = java ] || { echo "pid 1 inside: $out"; return 1; }
}

case_pod_json() {
    caps
    local init; init=$(ctr_hex64)
    ctr_pod_json shop api-7d9c8b6f5d-x2x8k "$UID_A" worker-2 \
        --annotation flameshot.io/enabled=true --annotation 'flameshot.io/processes=[{"container":"app"}]' \
        --label app.kubernetes.io/name=api --owner ReplicaSet/api-7d9c8b6f5d \
        --container app="$CID_A" --init migrate="$init" --waiting sidecar > "$W/pod-a.json" || return 1
    python3 - "$W/pod-a.json" "$UID_A" "$CID_A" "$init" <<'EOF' || return 1
import json, sys
path, uid, cid, init = sys.argv[1:]
pod = json.load(open(path))
md, st = pod["metadata"], pod["status"]
assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1", pod["kind"]
assert md["uid"] == uid and md["namespace"] == "shop" and md["name"] == "api-7d9c8b6f5d-x2x8k", md
assert md["annotations"]["flameshot.io/enabled"] == "true"
assert json.loads(md["annotations"]["flameshot.io/processes"]) == [{"container": "app"}]
assert md["ownerReferences"][0]["kind"] == "ReplicaSet" and md["ownerReferences"][0]["controller"] is True
assert pod["spec"]["nodeName"] == "worker-2"
assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "sidecar"]
app, side = st["containerStatuses"]
assert app["containerID"] == "containerd://" + cid and "running" in app["state"], app
assert "containerID" not in side and "waiting" in side["state"], side
assert st["initContainerStatuses"][0]["containerID"] == "containerd://" + init
assert st["phase"] == "Running"
EOF
    # one line, for a watch stream
    ctr_watch_event ADDED "$W/pod-a.json" > "$W/event.jsonl" || return 1
    if [ "$(wc -l < "$W/event.jsonl")" != 1 ] ||
        ! jq -e --arg u "$UID_A" '.type == "ADDED" and .object.metadata.uid == $u' \
            "$W/event.jsonl" >/dev/null; then
        cat "$W/event.jsonl"
        return 1
    fi
}

case_rm_one_container() {
    caps
    local pid; pid=$(ctr_pid b)
    ctr_rm b || return 1
    [ ! -d "/proc/$pid" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" = Z ] ||
        { echo "b's JVM $pid still runs"; return 1; }
    ctr_cmd container ls -q | grep -q "$CID_B" && { echo "container b remains"; return 1; }
    ctr_cmd task ls | grep -q "$CID_B" && { echo "task b remains"; return 1; }
    local left
    left=$(find "$CTR_CGROUP_ROOT" -maxdepth 4 -name "pod$UID_B" 2>/dev/null)
    [ -z "$left" ] || { echo "cgroups remain: $left"; return 1; }
    # the others keep running
    kill -0 "$(ctr_pid a)" && kill -0 "$(ctr_pid g)"
}

# no_trace DIR SOCK UID:CID...: nothing of a run is left on the host
no_trace() {
    local dir=$1 sock=$2 u left
    shift 2
    [ ! -e "$dir" ] || { echo "$dir remains"; ls -la "$dir"; return 1; }
    left=$(pgrep -af -- "$sock" | grep -v '^[0-9]* \[.*\] <defunct>$')
    [ -z "$left" ] || { echo "processes remain: $left"; return 1; }
    for u in "$@"; do
        left=$(find "$CTR_CGROUP_ROOT" -maxdepth 5 -name "pod${u%:*}*" 2>/dev/null)
        [ -z "$left" ] || { echo "cgroups remain: $left"; return 1; }
        [ ! -e "$(ctr_shim_socket "$sock" "${u#*:}")" ] || { echo "the shim socket of ${u#*:} remains"; return 1; }
    done
    left=$(awk -v d="$dir" 'index($5, d) == 1' /proc/self/mountinfo)
    [ -z "$left" ] || { echo "mounts remain: $left"; return 1; }
}

case_cleanup_leaves_nothing() {
    caps
    local pids; pids="$(ctr_pid a) $(ctr_pid g)"
    local dir=$CTR_DIR sock=$CTR_SOCK
    ctr_cleanup || return 1
    no_trace "$dir" "$sock" "$UID_A:$CID_A" "$UID_B:$CID_B" "$UID_G:$CID_G" || return 1
    local p
    for p in $pids; do
        [ ! -d "/proc/$p" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$p/status")" = Z ] ||
            { echo "pid $p still runs"; return 1; }
    done
}

# A run killed with its containerd (SIGKILL: no trap ran) leaves a JVM-less
# container, its shim, runc state and cgroups; the next ctr_daemon_start
# (here ctr_reap_stale) removes all of it.
case_crashed_run_is_reaped() {
    caps
    local out
    out=$(mktemp /var/tmp/flameshot-crash.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -f '$out' '$out.err'" EXIT
    # shellcheck disable=SC2016 # the child's own variables
    env -u CTR_DIR bash -c '
        source "$1/tests/lib/ctr.sh"
        ctr_daemon_start >&2 || exit 1
        ctr_run z --qos besteffort -- /usr/bin/sleep 1000 >&2 || exit 1
        echo "$CTR_DIR $CTR_SOCK $(ctr_pod_uid z) $(ctr_pid z) $(ctr_id z)"
        kill -KILL "$(cat "$CTR_DIR/containerd.pid")" $$' crash "$ROOT" > "$out" 2> "$out.err"
    local dir sock uid pid cid
    read -r dir sock uid pid cid < "$out"
    [ -n "$pid" ] || { cat "$out.err"; echo "the crashing run did not start"; return 1; }
    kill -0 "$pid" 2>/dev/null || { echo "its container did not outlive it: nothing to reap"; return 1; }
    [ -d "$CTR_CGROUP_ROOT/memory/kubepods/besteffort/pod$uid" ] ||
        [ -d "$CTR_CGROUP_ROOT/kubepods/besteffort/pod$uid" ] || { echo "no cgroup left to reap"; return 1; }
    [ -S "$(ctr_shim_socket "$sock" "$cid")" ] || { echo "no shim socket left to reap"; return 1; }
    ctr_reap_stale
    no_trace "$dir" "$sock" "$uid:$cid" || return 1
    [ ! -d "/proc/$pid" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" = Z ] ||
        { echo "its sleep $pid still runs"; return 1; }
}

t_case "a tiny JVM app compiled by the host's javac" setup_app
t_case "a private containerd starts (own socket, no CRI, runc v2 shim)" case_containerd_starts
t_case "JVMs start in containers of two Pods, and a guaranteed Pod's" case_jvms_start
t_case "main processes sit in the kubelet's cgroupfs layout" case_kubelet_cgroupfs_layout
t_case "they run as a non-root uid with seccomp and no_new_privs" case_non_root_seccomp
t_case "the memory limit is on the container's memcg" case_memory_limit_on_memcg
t_case "the host's jcmd attaches to a containerized JVM" case_host_jcmd_attaches
t_case "ctr_exec runs inside the container, as root or the app uid" case_exec_inside
t_case "the Pod JSON names the container's UID and containerd://ID" case_pod_json
t_case "ctr_rm removes one container, its task and Pod cgroup" case_rm_one_container
t_case "cleanup leaves no container, cgroup, mount or process" case_cleanup_leaves_nothing
t_case "a crashed run's containerd, shim and cgroups are reaped" case_crashed_run_is_reaped
t_done
