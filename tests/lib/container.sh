# tests/lib/container.sh: a "container" without a container engine.
#
# A container here is what the agent sees of one on a Kubernetes node: a
# process tree in its own PID and mount namespaces, a private tmpfs /tmp as
# its cwd, a non-root uid, inside a cgroup laid out as the kubelet lays it
# out (cgroupfs driver: .../kubepods/burstable/pod<uid>/<container-id>, or
# systemd driver: .../kubepods.slice/kubepods-burstable.slice/
# kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope). Every test
# cgroup lives under one directory per test run, removed by ct_cleanup.
#
#   source tests/lib/container.sh
#   ct_start NAME [--uid N] [--mem-limit BYTES] [--layout cgroupfs|systemd]
#            [--no-init] [--share DIR] [--netns] -- cmd args...
#   ct_pid NAME         host pid of the container's main process (cmd)
#   ct_nspid NAME       its pid inside the container
#   ct_cgroup NAME      memory cgroup dir (v1) of the container
#   ct_id NAME          container id (64 hex chars)
#   ct_pod_uid NAME     pod uid
#   ct_root NAME        /proc/<pid>/root of the main process
#   ct_wait_output NAME TEXT [secs]   wait until the container prints TEXT
#   ct_stop NAME        kill everything in it, remove its cgroups
#   ct_cleanup          stop every container of this run
#
# --share DIR bind-mounts a host directory at the same path inside (as a
# Kubernetes volume would be). --netns gives it a network namespace of its
# own, as a Pod has, with only its loopback up (127.0.0.1 inside is not
# the host's). Without --no-init, a shell is PID 1 and the
# command runs as its child, as under a pause/tini init.

CT_RUN_ID=${CT_RUN_ID:-flameshot-test-$$}
CT_MEM_ROOT=${CT_MEM_ROOT:-/sys/fs/cgroup/memory}
CT_CPU_ROOT=${CT_CPU_ROOT:-/sys/fs/cgroup/cpu}
CT_V2_ROOT=${CT_V2_ROOT:-/sys/fs/cgroup/unified}
CT_STATE=${CT_STATE:-/tmp/$CT_RUN_ID.ct}
CT_UID=${CT_UID:-10001}
mkdir -p "$CT_STATE"

ct_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ct_uuid() { local h; h=$(ct_hex 16); echo "${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"; }

# ct_relpath layout pod_uid cid: the cgroup path below the hierarchy root
ct_relpath() {
    local layout=$1 pod=$2 cid=$3
    if [ "$layout" = systemd ]; then
        local u=${pod//-/_}
        echo "$CT_RUN_ID/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$u.slice/cri-containerd-$cid.scope"
    else
        echo "$CT_RUN_ID/kubepods/burstable/pod$pod/$cid"
    fi
}

ct_start() {
    local name=$1; shift
    mkdir -p "$CT_STATE"
    local uid=$CT_UID layout=cgroupfs limit="" init=1 shares=() net=()
    while [ $# -gt 0 ]; do
        case $1 in
            --uid) uid=$2; shift 2 ;;
            --mem-limit) limit=$2; shift 2 ;;
            --layout) layout=$2; shift 2 ;;
            --no-init) init=0; shift ;;
            --share) shares+=("$2"); shift 2 ;;
            --netns) net=(--net); shift ;;
            --) shift; break ;;
            *) echo "ct_start: unknown option $1" >&2; return 2 ;;
        esac
    done
    local pod cid rel
    pod=$(ct_uuid); cid=$(ct_hex 32)
    rel=$(ct_relpath "$layout" "$pod" "$cid")
    local d
    for d in "$CT_MEM_ROOT" "$CT_CPU_ROOT" "$CT_V2_ROOT"; do
        [ -d "$d" ] && mkdir -p "$d/$rel"
    done
    if [ -n "$limit" ]; then
        echo 0 > "$CT_MEM_ROOT/$rel/memory.swappiness" 2>/dev/null
        echo "$limit" > "$CT_MEM_ROOT/$rel/memory.limit_in_bytes" || return 1
    fi
    printf '%s\n' "$pod" > "$CT_STATE/$name.pod"
    printf '%s\n' "$cid" > "$CT_STATE/$name.cid"
    printf '%s\n' "$rel" > "$CT_STATE/$name.rel"
    printf '%s\n' "$1" > "$CT_STATE/$name.argv0"

    # The private tmpfs hides whatever lies under the host's /tmp, the build
    # tree included when the checkout is there: such paths are opened
    # before the tmpfs is mounted and bound back in through /proc/self/fd.
    local pre="" post="" binds="" fd=3 s
    local keep=()
    case $BUILD in /tmp | /tmp/*) keep+=("$BUILD") ;; esac
    for s in "${shares[@]}"; do
        case $s in
            /tmp | /tmp/*) keep+=("$s") ;;
            *) binds="$binds mount --bind '$s' '$s' &&" ;;
        esac
    done
    for s in "${keep[@]}"; do
        pre="$pre exec $fd<'$s' &&"
        post="$post mkdir -p '$s' && mount --no-canonicalize --bind /proc/self/fd/$fd '$s' && exec $fd<&- &&"
        fd=$((fd + 1))
    done
    binds="$post$binds"
    [ ${#net[@]} -gt 0 ] && binds="ip link set lo up && $binds"
    local run="exec setpriv --reuid $uid --regid $uid --clear-groups --no-new-privs"
    local inner
    # the command line is passed as "$@" to the innermost shell
    if [ $init -eq 1 ]; then
        inner="$pre mount -t tmpfs -o mode=1777,size=256m tmpfs /tmp && $binds cd /tmp && { setpriv --reuid $uid --regid $uid --clear-groups --no-new-privs \"\$@\" & child=\$!; trap 'kill \$child 2>/dev/null' TERM; wait \$child; }"
    else
        inner="$pre mount -t tmpfs -o mode=1777,size=256m tmpfs /tmp && $binds cd /tmp && $run \"\$@\""
    fi
    (
        for d in "$CT_MEM_ROOT" "$CT_CPU_ROOT" "$CT_V2_ROOT"; do
            [ -d "$d/$rel" ] && echo $BASHPID > "$d/$rel/cgroup.procs"
        done
        exec unshare --pid --mount "${net[@]}" --fork --kill-child --propagation private --mount-proc \
            sh -c "$inner" ct-init "$@" </dev/null >"$CT_STATE/$name.out" 2>&1
    ) &
    printf '%s\n' $! > "$CT_STATE/$name.unshare"
    # wait for the command itself to appear (not unshare, not the init shell)
    local i pid
    for i in $(seq 1 200); do
        pid=$(ct__find_main "$name")
        if [ -n "$pid" ]; then
            printf '%s\n' "$pid" > "$CT_STATE/$name.pid"
            return 0
        fi
        sleep 0.05
    done
    echo "ct_start: $name did not start; output:" >&2
    cat "$CT_STATE/$name.out" >&2
    return 1
}

# the process of the container running argv0 as the target uid
ct__find_main() {
    local name=$1 rel argv0 p
    rel=$(cat "$CT_STATE/$name.rel"); argv0=$(cat "$CT_STATE/$name.argv0")
    for p in $(cat "$CT_MEM_ROOT/$rel/cgroup.procs" 2>/dev/null); do
        local exe
        exe=$(tr '\0' ' ' 2>/dev/null < /proc/$p/cmdline | cut -d' ' -f1)
        case $exe in
            unshare|sh|setpriv|*/unshare|*/sh|*/setpriv) continue ;;
        esac
        if [ "$exe" = "$argv0" ] || [ "$(basename "$exe")" = "$(basename "$argv0")" ]; then
            echo "$p"; return 0
        fi
    done
}

ct_pid() { cat "$CT_STATE/$1.pid"; }
ct_nspid() { awk '/^NSpid:/ {print $NF}' "/proc/$(ct_pid "$1")/status"; }
ct_rel() { cat "$CT_STATE/$1.rel"; }
ct_cgroup() { echo "$CT_MEM_ROOT/$(ct_rel "$1")"; }
ct_id() { cat "$CT_STATE/$1.cid"; }
ct_pod_uid() { cat "$CT_STATE/$1.pod"; }
ct_root() { echo "/proc/$(ct_pid "$1")/root"; }
ct_output() { cat "$CT_STATE/$1.out"; }

ct_wait_output() {
    local name=$1 text=$2 secs=${3:-15} i
    for i in $(seq 1 $((secs * 10))); do
        grep -qF "$text" "$CT_STATE/$name.out" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$name did not print \"$text\" within ${secs}s:"; ct_output "$name"; return 1
}

ct_stop() {
    local name=$1 rel d p
    [ -f "$CT_STATE/$name.rel" ] || return 0
    rel=$(cat "$CT_STATE/$name.rel")
    for p in $(cat "$CT_MEM_ROOT/$rel/cgroup.procs" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null
    done
    local u; u=$(cat "$CT_STATE/$name.unshare" 2>/dev/null)
    [ -n "$u" ] && wait "$u" 2>/dev/null
    for d in "$CT_MEM_ROOT" "$CT_CPU_ROOT" "$CT_V2_ROOT"; do
        [ -d "$d/$rel" ] || continue
        local i
        for i in $(seq 1 50); do
            [ -z "$(cat "$d/$rel/cgroup.procs" 2>/dev/null)" ] && break
            sleep 0.05
        done
        # remove the leaf and every now-empty parent up to the run directory
        local path=$rel
        while [ -n "$path" ] && [ "$path" != "." ]; do
            rmdir "$d/$path" 2>/dev/null || break
            path=$(dirname "$path")
        done
    done
    rm -f "$CT_STATE/$name".*
}

ct_cleanup() {
    local f
    for f in "$CT_STATE"/*.rel; do
        [ -f "$f" ] && ct_stop "$(basename "$f" .rel)"
    done
    # anything still in this run's cgroups (a container whose state was lost)
    local d p
    for p in $(find "$CT_MEM_ROOT/$CT_RUN_ID" -name cgroup.procs -exec cat {} + 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null
    done
    sleep 0.2
    for d in "$CT_MEM_ROOT" "$CT_CPU_ROOT" "$CT_V2_ROOT"; do
        [ -d "$d/$CT_RUN_ID" ] && find "$d/$CT_RUN_ID" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf "$CT_STATE"
}

# ct_watch_exit PID FILE &: writes to FILE the wall-clock time (seconds,
# microseconds) at which PID exits, seen through a pidfd (the kernel's OOM
# kill precedes it by milliseconds)
ct_watch_exit() {
    python3 - "$1" "$2" <<'EOF'
import os, select, sys, time
pid, out = int(sys.argv[1]), sys.argv[2]
try:
    fd = os.pidfd_open(pid)
    select.select([fd], [], [], 600)
except ProcessLookupError:
    pass
with open(out, "w") as f:
    f.write("%.6f\n" % time.time())
EOF
}

# Capability checks for `need`.
ct_can_run() {
    [ "$(id -u)" = 0 ] && [ -d "$CT_MEM_ROOT" ] && command -v unshare >/dev/null &&
        command -v setpriv >/dev/null
}
