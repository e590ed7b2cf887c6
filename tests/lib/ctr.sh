# shellcheck shell=bash
# tests/lib/ctr.sh: real containers for the Kubernetes tests, run by a
# private containerd and runc, as the kubelet's cgroupfs driver lays them
# out: /kubepods/<qos>/pod<uid>/<container-id> (a guaranteed Pod has no QoS
# level: /kubepods/pod<uid>/<container-id>), the containerd ID being the
# 64-hex container ID the Pod's status names ("containerd://<id>").
#
#   source tests/lib/ctr.sh
#   ctr_daemon_start        a containerd of this test only (own root, state,
#                           socket $CTR_SOCK, runc root); waits until it
#                           answers; first tears down what crashed runs left
#                           (ctr_reap_stale); chains ctr_cleanup onto the
#                           EXIT trap when called outside a subshell
#   ctr_run NAME [--pod-uid UID] [--cid 64HEX] [--qos burstable|besteffort|guaranteed]
#           [--memory-limit BYTES] [--cpus N] [--uid N] [--cwd DIR] [--env K=V]...
#           [--share DIR]... [--share-ro DIR]... -- argv...
#                           a container running argv as uid N (10001) through
#                           setpriv, with the default seccomp profile and
#                           no_new_privs, a private /tmp (tmpfs), the host's
#                           /usr and /etc read-only, DIRs bound at the same
#                           path; stdout+stderr in $(ctr_out NAME). Returns
#                           once argv runs (setpriv has exec'd it). UID and
#                           CID default to random ones.
#   ctr_pid NAME            host pid of argv (the container's init process)
#   ctr_id NAME             its 64-hex container ID; ctr_pod_uid NAME
#   ctr_cgroup_rel NAME     /kubepods/.../pod<uid>/<cid>
#   ctr_cgroup NAME [CTRL]  its cgroup dir in hierarchy CTRL (memory): v1
#                           /sys/fs/cgroup/CTRL/..., v2 /sys/fs/cgroup/...
#   ctr_out NAME / ctr_wait_output NAME TEXT [secs]
#   ctr_exec NAME [--uid N] -- argv...   run argv inside it (as root, or N);
#                           prints its output, returns its status
#   ctr_kill NAME [SIGNAL]  signal its init process (KILL)
#   ctr_wait_exit NAME [secs]   waits until its task has stopped; prints
#                           the exit status
#   ctr_rm NAME             kill it, delete task and container, remove its
#                           cgroups (the Pod's too once it holds no container)
#   ctr_cmd ARGS...         ctr against the private containerd, namespace k8s.io
#   ctr_cleanup             every container, containerd, its shims, cgroups,
#                           mounts and files of this run; idempotent
#   ctr_reap_stale          the same for runs whose owner process is gone
#   ctr_shim_socket SOCK CID    the socket of container CID's shim
#   ctr_hex64 / ctr_uuid    a random container ID / Pod UID
#   ctr_pod_json NS NAME UID NODE [--annotation K=V]... [--label K=V]...
#           [--container NAME=CID]... [--init NAME=CID]... [--ephemeral NAME=CID]...
#           [--waiting NAME]... [--restarted NAME=PREVCID]... [--owner Kind/Name]
#           [--phase Running] [--rv N] [--qos-class Burstable]
#                           a v1 Pod as the API server returns it (metadata,
#                           spec.containers, status.*ContainerStatuses)
#   ctr_watch_event TYPE FILE   {"type":TYPE,"object":<FILE>} on one line
#   ctr_api_server DIR NODE     tests/lib/kubeapi_server.py serving the Pods of
#                           DIR/pods.json to node NODE (events from
#                           DIR/events.jsonl, emptied); its pid in
#                           DIR/server.pid; prints its port once it listens
#   ctr_can_run             capability check for `need`
#
# The rootfs is the host's own (no image, no snapshotter): an empty
# directory per container holding mount points, the host's /usr (the JDK
# under /usr/lib/jvm with it) and /etc bound read-only, the merged-/usr
# symlinks (bin, lib, lib64, sbin) copied, and /etc/passwd and /etc/group
# replaced by copies naming the container's uid (so the JVM has a user
# name: /tmp/hsperfdata_app). A JDK outside /usr is bound too. Everything
# lives under $CTR_DIR (/var/tmp/flameshot-ctr/run.XXXXXX, mode 0700); a
# run that crashed is torn down by the next ctr_daemon_start. A test's own
# files belong there too ($CTR_DIR/work, say), to go with it; containers
# see a directory shared with --share/--share-ro whatever the modes above.
# State lives in files under $CTR_DIR: t_case runs each case in a subshell.

CTR_BASE=${CTR_BASE:-/var/tmp/flameshot-ctr}
CTR_NS=k8s.io
CTR_UID=${CTR_UID:-10001}
CTR_CGROUP_ROOT=${CTR_CGROUP_ROOT:-/sys/fs/cgroup}
CTR_SHIM_SOCKETS=/run/containerd/s # containerd 1.6 puts every shim's socket there
mkdir -p "$CTR_BASE"
CTR_DIR=${CTR_DIR:-$(mktemp -d "$CTR_BASE/run.XXXXXX")}
CTR_SOCK=$CTR_DIR/containerd.sock

ctr_hex64() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; echo; }
ctr_uuid() { cat /proc/sys/kernel/random/uuid; }

ctr_cmd() { ctr --address "$CTR_SOCK" --namespace "$CTR_NS" "$@"; }

ctr_can_run() {
    [ "$(id -u)" = 0 ] && command -v containerd && command -v ctr && command -v runc &&
        command -v setpriv && command -v python3 && [ -d "$CTR_CGROUP_ROOT" ]
} >/dev/null 2>&1

ctr__config() {
    # CRI is off: ctr needs none of it and it would start its own servers.
    # ctr passes the runc options itself (ctr_run): the v2 shim
    # io.containerd.runc.v2, runc's root, and the cgroupfs driver
    # (SystemdCgroup false: no --runc-systemd-cgroup); the CRI sections
    # say the same for whoever turns CRI on. No snapshotter is used (the
    # rootfs is a directory); native, should an image be pulled, works on
    # any filesystem (overlayfs does not on overlayfs or some CI disks).
    cat <<EOF
version = 2
root = "$CTR_DIR/root"
state = "$CTR_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTR_DIR/opt"
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = "$CTR_DIR/runc-v1"
[plugins."io.containerd.service.v1.diff-service"]
  default = ["walking"]
[plugins."io.containerd.snapshotter.v1.native"]
  root_path = "$CTR_DIR/root/native"
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
EOF
}

ctr_daemon_start() {
    ctr_reap_stale
    if [ -f "$CTR_DIR/containerd.pid" ] && ctr_cmd version >/dev/null 2>&1; then
        return 0 # already running
    fi
    rm -f "$CTR_SOCK" "$CTR_SOCK.ttrpc"
    mkdir -p "$CTR_DIR/root" "$CTR_DIR/state" "$CTR_DIR/runc" "$CTR_DIR/c"
    ctr__config > "$CTR_DIR/config.toml"
    # not our child's pipes: t_case's output would never end
    containerd --config "$CTR_DIR/config.toml" </dev/null >>"$CTR_DIR/containerd.log" 2>&1 &
    echo $! > "$CTR_DIR/containerd.pid"
    if [ "${BASH_SUBSHELL:-0}" -eq 0 ]; then
        ctr__chain_trap
    fi
    local end=$((SECONDS + 30))
    while [ $SECONDS -lt $end ]; do
        ctr_cmd version >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$CTR_DIR/containerd.pid")" 2>/dev/null || break
        sleep 0.05
    done
    echo "containerd did not answer on $CTR_SOCK:"
    tail -n 20 "$CTR_DIR/containerd.log"
    return 1
}

# ctr_cleanup runs before whatever the EXIT trap already ran; a killed
# script (TERM, INT) still runs it
ctr__chain_trap() {
    local cur
    cur=$(trap -p EXIT)
    case $cur in *ctr_cleanup*) return 0 ;; esac
    if [ -n "$cur" ]; then
        # trap -p prints: trap -- 'command' EXIT
        cur=$(eval "set -- $cur"'; printf %s "$3"')
        # shellcheck disable=SC2064
        trap "ctr_cleanup; $cur" EXIT
    else
        trap ctr_cleanup EXIT
    fi
    [ -z "$(trap -p TERM)" ] && trap 'exit 143' TERM
    [ -z "$(trap -p INT)" ] && trap 'exit 130' INT
    return 0
}

# ctr__rootfs DIR UID: the container's root directory and its mounts (one
# --mount argument a line, in $DIR.mounts)
ctr__rootfs() {
    local dir=$1 uid=$2 d l
    mkdir -p "$dir"
    for d in usr etc proc dev sys run tmp; do mkdir -p "$dir/$d"; done
    # runc gives a tmpfs the mode of its mount point
    chmod 1777 "$dir/tmp"
    {
        echo "type=bind,src=/usr,dst=/usr,options=rbind:ro"
        echo "type=bind,src=/etc,dst=/etc,options=rbind:ro"
        for l in bin lib lib32 lib64 libx32 sbin; do
            if [ -L "/$l" ]; then
                ln -sfn "$(readlink "/$l")" "$dir/$l"
            elif [ -d "/$l" ]; then
                mkdir -p "$dir/$l"
                echo "type=bind,src=/$l,dst=/$l,options=rbind:ro"
            fi
        done
        local jhome
        jhome=$(readlink -f "$(command -v java 2>/dev/null)" 2>/dev/null)
        jhome=${jhome%/bin/java}
        case $jhome in
            "" | /usr/*) ;;
            *) echo "type=bind,src=$jhome,dst=$jhome,options=rbind:ro" ;;
        esac
        # a user name for the uid, as an image's /etc/passwd would hold
        grep -v "^[^:]*:[^:]*:$uid:" /etc/passwd > "$dir.passwd"
        [ "$uid" = 0 ] || echo "app:x:$uid:$uid:app:/tmp:/usr/sbin/nologin" >> "$dir.passwd"
        grep -v "^[^:]*:[^:]*:$uid:" /etc/group > "$dir.group"
        [ "$uid" = 0 ] || echo "app:x:$uid:" >> "$dir.group"
        echo "type=bind,src=$dir.passwd,dst=/etc/passwd,options=bind:ro"
        echo "type=bind,src=$dir.group,dst=/etc/group,options=bind:ro"
        echo "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev:mode=1777"
    } > "$dir.mounts"
}

# ctr__cg_roots: the mount point of every cgroup hierarchy (v1 and v2)
ctr__cg_roots() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
           if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5 }' /proc/self/mountinfo
}

ctr_run() {
    local name=$1
    shift
    local pod="" cid="" qos=burstable limit="" cpus="" uid=$CTR_UID cwd="" extra=()
    while [ $# -gt 0 ]; do
        case $1 in
            --pod-uid) pod=$2; shift 2 ;;
            --cid) cid=$2; shift 2 ;;
            --qos) qos=$2; shift 2 ;;
            --memory-limit) limit=$2; shift 2 ;;
            --cpus) cpus=$2; shift 2 ;;
            --uid) uid=$2; shift 2 ;;
            --cwd) cwd=$2; shift 2 ;;
            --env) extra+=(--env "$2"); shift 2 ;;
            --share) extra+=(--mount "type=bind,src=$2,dst=$2,options=rbind:rw"); shift 2 ;;
            --share-ro) extra+=(--mount "type=bind,src=$2,dst=$2,options=rbind:ro"); shift 2 ;;
            --) shift; break ;;
            *) echo "ctr_run: unknown option $1" >&2; return 2 ;;
        esac
    done
    [ $# -gt 0 ] || { echo "ctr_run: no command" >&2; return 2; }
    [ -n "$pod" ] || pod=$(ctr_uuid)
    [ -n "$cid" ] || cid=$(ctr_hex64)
    local podrel
    case $qos in
        burstable | besteffort) podrel=kubepods/$qos/pod$pod ;;
        guaranteed) podrel=kubepods/pod$pod ;;
        *) echo "ctr_run: --qos burstable|besteffort|guaranteed, not $qos" >&2; return 2 ;;
    esac
    local s=$CTR_DIR/c/$name
    [ ! -e "$s.cid" ] || { echo "ctr_run: $name exists" >&2; return 2; }
    mkdir -p "$CTR_DIR/c"
    # recorded before anything exists, so a crash anywhere is cleaned up
    echo "$pod" > "$s.pod"
    echo "$cid" > "$s.cid"
    echo "/$podrel/$cid" > "$s.rel"
    grep -qx "$podrel" "$CTR_DIR/cgroups" 2>/dev/null || echo "$podrel" >> "$CTR_DIR/cgroups"
    echo "$cid" >> "$CTR_DIR/cids"
    ctr__rootfs "$s.rootfs" "$uid"
    local m opts=()
    while read -r m; do opts+=(--mount "$m"); done < "$s.rootfs.mounts"
    [ -n "$limit" ] && opts+=(--memory-limit "$limit")
    [ -n "$cpus" ] && opts+=(--cpus "$cpus")
    [ -n "$cwd" ] && opts+=(--cwd "$cwd")
    : > "$s.out"
    ctr_cmd run -d --runtime io.containerd.runc.v2 --runc-binary "$(command -v runc)" \
        --runc-root "$CTR_DIR/runc" --cgroup "/$podrel/$cid" --seccomp \
        --log-uri "file://$s.out" --pid-file "$s.pid" --fifo-dir "$CTR_DIR/fifo" \
        "${opts[@]}" "${extra[@]}" \
        --rootfs "$s.rootfs" "$cid" \
        /usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@" \
        </dev/null >"$s.ctr" 2>&1 || { echo "ctr run $name failed:"; cat "$s.ctr"; return 1; }
    # the task's pid is runc's init, then setpriv, then argv (exec each time)
    local pid comm
    pid=$(cat "$s.pid" 2>/dev/null)
    echo "$pid" > "$s.pid" # ctr writes no newline
    local end=$((SECONDS + 30))
    while [ $SECONDS -lt $end ]; do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
        case $comm in
            runc:* | setpriv) ;;
            *) return 0 ;;
        esac
        sleep 0.05
    done
    echo "ctr_run: $name did not start (pid ${pid:-none}, ${comm:-gone}); output:"
    cat "$s.out"
    return 1
}

ctr_pid() { cat "$CTR_DIR/c/$1.pid"; }
ctr_id() { cat "$CTR_DIR/c/$1.cid"; }
ctr_pod_uid() { cat "$CTR_DIR/c/$1.pod"; }
ctr_cgroup_rel() { cat "$CTR_DIR/c/$1.rel"; }
ctr_out() { echo "$CTR_DIR/c/$1.out"; }

ctr_cgroup() {
    local ctl=${2:-memory}
    if [ -f "$CTR_CGROUP_ROOT/cgroup.controllers" ]; then
        echo "$CTR_CGROUP_ROOT$(ctr_cgroup_rel "$1")" # unified only
    else
        echo "$CTR_CGROUP_ROOT/$ctl$(ctr_cgroup_rel "$1")"
    fi
}

ctr_wait_output() {
    local name=$1 text=$2 secs=${3:-30}
    for _ in $(seq 1 $((secs * 10))); do
        grep -qF -- "$text" "$(ctr_out "$name")" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$name did not print \"$text\" within ${secs}s:"
    cat "$(ctr_out "$name")"
    return 1
}

ctr_exec() {
    local name=$1 uid="" run=()
    shift
    while [ $# -gt 0 ]; do
        case $1 in
            --uid) uid=$2; shift 2 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    [ -n "$uid" ] && run=(/usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups --)
    ctr_cmd task exec --exec-id "x$$-$RANDOM" --fifo-dir "$CTR_DIR/fifo" "$(ctr_id "$name")" \
        "${run[@]}" "$@"
}

ctr_kill() { ctr_cmd task kill --signal "${2:-KILL}" "$(ctr_id "$1")"; }

ctr__status() { ctr_cmd task ls 2>/dev/null | awk -v c="$1" '$1 == c { print $3 }'; }

ctr_wait_exit() {
    local name=$1 secs=${2:-30} cid
    cid=$(ctr_id "$name")
    for _ in $(seq 1 $((secs * 10))); do
        if [ "$(ctr__status "$cid")" = STOPPED ]; then
            # ctr says the status only as a warning, and only when not 0
            local code
            code=$(ctr_cmd task delete "$cid" 2>&1 | grep -o 'exit code [0-9]*' | awk '{ print $3 }')
            echo "${code:-0}"
            return 0
        fi
        sleep 0.1
    done
    echo "$name still $(ctr__status "$cid") after ${secs}s"
    return 1
}

ctr_rm() {
    local name=$1 s=$CTR_DIR/c/$1 cid rel
    [ -f "$s.cid" ] || return 0
    cid=$(cat "$s.cid"); rel=$(cat "$s.rel")
    ctr_cmd task delete --force "$cid" >/dev/null 2>&1
    ctr_cmd container delete "$cid" >/dev/null 2>&1
    # runc removed the container's cgroup; the Pod's goes with its last
    # container, as the kubelet removes it
    local root pod=${rel%/*} bad=""
    for root in $(ctr__cg_roots); do
        [ -d "$root$pod" ] || continue
        rmdir "$root$rel" "$root$pod" 2>/dev/null
        [ -d "$root$rel" ] && bad="$bad $root$rel"
    done
    if ctr_cmd container info "$cid" >/dev/null 2>&1 || [ -n "$bad" ]; then
        echo "ctr_rm: container $name ($cid) or its cgroups remain:$bad"
        return 1
    fi
    rm -rf "$s.rootfs"
    rm -f "$s".{pod,cid,rel,pid,out,ctr} "$s.rootfs".{passwd,group,mounts}
}

# ctr__rm_cgroup DIR: kill what is left in a Pod's cgroup DIR and its
# containers' (one level below), remove them
ctr__rm_cgroup() {
    local dir=$1 p i
    [ -d "$dir" ] || return 0
    for ((i = 0; i < 50; i++)); do
        p=$(cat "$dir/cgroup.procs" "$dir"/*/cgroup.procs 2>/dev/null)
        [ -z "$p" ] && break
        # shellcheck disable=SC2086
        kill -KILL $p 2>/dev/null
        sleep 0.1
    done
    rmdir "$dir"/*/ "$dir" 2>/dev/null
    [ ! -d "$dir" ]
}

# ctr_shim_socket SOCKET CID: where containerd 1.6 has the shim of
# container CID listen: sha256 of "<containerd's address>/<ns>/<id>"
ctr_shim_socket() {
    echo "$CTR_SHIM_SOCKETS/$(printf '%s' "$1/$CTR_NS/$2" | sha256sum | cut -d' ' -f1)"
}

# ctr__shims SOCKET: the shims serving the containerd of SOCKET
ctr__shims() {
    pgrep -f -- "^[^ ]*containerd-shim[^ ]* .*-address $(printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g')( |\$)"
}

# ctr__teardown DIR: everything the run of DIR made, whether its containerd
# still runs or not. Prints what it could not remove; returns 1 then.
ctr__teardown() {
    local dir=$1 sock=$1/containerd.sock cid p rel root bad=0
    [ -d "$dir" ] || return 0
    if [ -S "$sock" ] && timeout 5 ctr --address "$sock" version >/dev/null 2>&1; then
        for cid in $(timeout 10 ctr --address "$sock" -n "$CTR_NS" container ls -q 2>/dev/null); do
            timeout 20 ctr --address "$sock" -n "$CTR_NS" task delete --force "$cid" >/dev/null 2>&1
            timeout 10 ctr --address "$sock" -n "$CTR_NS" container delete "$cid" >/dev/null 2>&1
        done
    fi
    # what containerd lost or could not reach: runc's own state
    for cid in $(runc --root "$dir/runc/$CTR_NS" list -q 2>/dev/null); do
        timeout 20 runc --root "$dir/runc/$CTR_NS" delete --force "$cid" >/dev/null 2>&1
    done
    for p in $(ctr__shims "$sock"); do kill -KILL "$p" 2>/dev/null; done
    p=$(cat "$dir/containerd.pid" 2>/dev/null)
    if [ -n "$p" ] && tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF "$dir/config.toml"; then
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$p" 2>/dev/null
        # our child: reap it, so no zombie stays behind
        wait "$p" 2>/dev/null
    fi
    local roots
    roots=$(ctr__cg_roots)
    while read -r rel; do
        [ -n "$rel" ] || continue
        for root in $roots; do
            [ -d "$root/$rel" ] || continue
            ctr__rm_cgroup "$root/$rel" || { echo "cgroup $root/$rel remains"; bad=1; }
            # the QoS level and /kubepods go when no other Pod is left
            rmdir "$root/${rel%/*}" "$root/kubepods" 2>/dev/null
        done
    done < <(cat "$dir/cgroups" 2>/dev/null)
    # a shim killed above leaves its socket
    while read -r cid; do
        rm -f "$(ctr_shim_socket "$sock" "$cid")"
    done < <(cat "$dir/cids" 2>/dev/null)
    # the shims' socket directory, and ctr's default FIFO one (in case a
    # test called ctr without --fifo-dir), unless a containerd may use them
    local live=""
    for p in $(pgrep -x containerd); do
        grep -q '^State:\s*Z' "/proc/$p/status" 2>/dev/null || live=1 # a killed one lingers
    done
    if [ -z "$live" ]; then
        rmdir "$CTR_SHIM_SOCKETS" /run/containerd/fifo /run/containerd 2>/dev/null
    fi
    # containers' mounts live in their own namespaces; anything on the
    # host under DIR is a leftover
    awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r p; do umount -l "$p" 2>/dev/null; done
    rm -rf "$dir" 2>/dev/null || { echo "$dir remains"; bad=1; }
    return $bad
}

ctr_cleanup() {
    ctr__teardown "$CTR_DIR"
}

# ctr__alive DIR: the run owning DIR is still going
ctr__alive() {
    local pid start
    read -r pid start < "$1/owner" 2>/dev/null || return 1
    [ -n "$pid" ] && [ "$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)" = "$start" ]
}

ctr_reap_stale() {
    local d
    (
        flock 9
        for d in "$CTR_BASE"/run.*; do
            if [ ! -d "$d" ] || [ "$d" = "$CTR_DIR" ]; then continue; fi
            ctr__alive "$d" || ctr__teardown "$d"
        done
    ) 9>"$CTR_BASE/.lock"
}

# A CTR_DIR given by the caller may hold what a crashed run left there;
# then this run owns it: its pid and start time (a reused pid is not it).
if [ -d "$CTR_DIR" ] && [ -f "$CTR_DIR/owner" ] && ! ctr__alive "$CTR_DIR"; then
    ctr__teardown "$CTR_DIR" >&2
fi
mkdir -p "$CTR_DIR"
[ -f "$CTR_DIR/owner" ] || echo "$$ $(cut -d' ' -f22 "/proc/$$/stat")" > "$CTR_DIR/owner"

ctr_api_server() {
    local dir=$1 i port=""
    : > "$dir/events.jsonl"
    python3 "$(dirname "${BASH_SOURCE[0]}")/kubeapi_server.py" "$dir" --pods "$dir/pods.json" \
        --node "$2" > "$dir/server.out" 2>&1 &
    echo $! > "$dir/server.pid"
    for i in $(seq 1 300); do
        port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$dir/server.out")
        [ -n "$port" ] && { echo "$port"; return 0; }
        sleep 0.1
    done
    echo "API server: $(cat "$dir/server.out")"
    return 1
}

ctr_watch_event() {
    jq -c --arg t "$1" '{type: $t, object: .}' "$2"
}

ctr_pod_json() {
    python3 - "$@" <<'EOF'
import json
import sys

ns, name, uid, node = sys.argv[1:5]
opts = {k: [] for k in ("annotation", "label", "container", "init", "ephemeral",
                        "waiting", "restarted")}
single = {"owner": None, "phase": "Running", "rv": "1", "qos-class": "Burstable"}
args = sys.argv[5:]
for flag, val in zip(args[::2], args[1::2] + [None]):
    key = flag[2:]
    if not flag.startswith("--") or val is None or (key not in opts and key not in single):
        sys.exit("ctr_pod_json: bad option " + flag)
    if key in opts:
        opts[key].append(val)
    else:
        single[key] = val


def pairs(lst):
    return [tuple(x.split("=", 1)) for x in lst]


T0, T1 = "2026-12-01T10:00:00Z", "2026-12-01T10:00:05Z"
image = lambda c: "registry.example.com/%s/%s:1.0" % (ns, c)
restarted = dict(pairs(opts["restarted"]))


def status(cname, cid, kind):
    st = {"name": cname, "image": image(cname), "imageID": "", "lastState": {},
          "ready": False, "restartCount": 0, "started": False}
    if cid is None:
        st["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return st
    st["imageID"] = image(cname).rsplit(":", 1)[0] + "@sha256:" + "ab" * 32
    st["containerID"] = "containerd://" + cid
    if kind == "init":
        st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": T0,
                                      "finishedAt": T1, "containerID": st["containerID"]}}
        st["ready"] = True
        return st
    st["state"] = {"running": {"startedAt": T1}}
    st["started"] = True
    st["ready"] = kind != "ephemeral"  # never ready: they have no probes
    if cname in restarted:
        st["restartCount"] = 1
        st["lastState"] = {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": T0,
                                          "finishedAt": T1,
                                          "containerID": "containerd://" + restarted[cname]}}
    return st


md = {"name": name, "namespace": ns, "uid": uid, "resourceVersion": single["rv"],
      "creationTimestamp": T0, "labels": dict(pairs(opts["label"])),
      "annotations": dict(pairs(opts["annotation"]))}
if single["owner"]:
    kind, oname = single["owner"].split("/", 1)
    md["generateName"] = name.rsplit("-", 1)[0] + "-"
    md["ownerReferences"] = [{"apiVersion": "v1" if kind == "Node" else "apps/v1",
                              "kind": kind, "name": oname, "uid": "0f3e4a51-8f0b-4c55-a3a2-2b8e2f7d1c11",
                              "controller": True, "blockOwnerDeletion": True}]
md["managedFields"] = [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                        "time": T1, "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]
mains = pairs(opts["container"]) + [(w, None) for w in opts["waiting"]]
spec_c = lambda c: {"name": c, "image": image(c), "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
spec = {"nodeName": node, "containers": [spec_c(c) for c, _ in mains],
        "restartPolicy": "Always", "serviceAccountName": "default",
        "schedulerName": "default-scheduler", "priority": 0}
st = {"phase": single["phase"], "hostIP": "10.0.3.12", "podIP": "10.244.2.37",
      "startTime": T0, "qosClass": single["qos-class"],
      "conditions": [{"type": "Ready", "status": "True" if not opts["waiting"] else "False",
                      "lastProbeTime": None, "lastTransitionTime": T1}],
      "containerStatuses": [status(c, i, "main") for c, i in mains]}
if opts["init"]:
    spec["initContainers"] = [spec_c(c) for c, _ in pairs(opts["init"])]
    st["initContainerStatuses"] = [status(c, i, "init") for c, i in pairs(opts["init"])]
if opts["ephemeral"]:
    spec["ephemeralContainers"] = [dict(spec_c(c), targetContainerName=mains[0][0] if mains else c)
                                   for c, _ in pairs(opts["ephemeral"])]
    st["ephemeralContainerStatuses"] = [status(c, i, "ephemeral")
                                        for c, i in pairs(opts["ephemeral"])]
json.dump({"kind": "Pod", "apiVersion": "v1", "metadata": md, "spec": spec, "status": st},
          sys.stdout, indent=2)
print()
EOF
}
