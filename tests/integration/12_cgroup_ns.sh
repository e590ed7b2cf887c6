#!/bin/bash
# The agent in a cgroup namespace of its own, as containerd and CRI-O give
# every non-privileged container on a cgroup v2 node (Kubernetes has no
# field for the host's): there other containers' cgroups lie outside the
# agent's ("/.." paths in /proc/<pid>/cgroup). With hostPID and
# CAP_SYS_ADMIN it joins the host's cgroup namespace (pid 1's) before any
# thread starts, and a JVM in another container's memory cgroup is watched
# with that cgroup. Proven on this machine's v1 hierarchies, which cgroup
# namespaces virtualise the same way. This sandbox's pid 1 keeps its
# namespaces from root, so the test names its own shell, a process in the
# host's namespace, as the one to join (FLAMESHOT_TEST_HOST_PID).
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
WORK=$(mktemp -d /var/tmp/flameshot-cgroupns-test.XXXXXX)
trap 'd_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq" "needs java and jq"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Idle.class' ]" "run make test-build first"
}

# wrap.sh CMD...: CMD in a cgroup of this run's (every hierarchy) and
# there in a new cgroup namespace, as a container's agent
make_wrapper() {
    local d dirs=""
    for d in "$CT_MEM_ROOT" "$CT_CPU_ROOT" "$CT_V2_ROOT"; do
        [ -d "$d" ] || continue
        mkdir -p "$d/$CT_RUN_ID/agent" && dirs="$dirs $d/$CT_RUN_ID/agent"
    done
    cat > "$WORK/wrap.sh" <<WRAP
#!/bin/sh
for d in $dirs; do echo \$\$ > "\$d/cgroup.procs" || exit 1; done
exec unshare --cgroup "\$@"
WRAP
    chmod +x "$WORK/wrap.sh"
}

case_joins_the_hosts_cgroup_namespace() {
    caps
    ct_start app --mem-limit 536870912 -- /usr/bin/java -cp "$CLASSES" Idle 31337 || return 1
    ct_wait_output app "Idle started" 20 || return 1
    local pid; pid=$(ct_pid app)
    make_wrapper
    # the premise: from such a namespace the JVM's cgroup is out of sight
    "$WORK/wrap.sh" cat "/proc/$pid/cgroup" | grep -q ':/\.\./' ||
        { "$WORK/wrap.sh" cat "/proc/$pid/cgroup"; echo "no /.. path seen from the namespace"; return 1; }
    D_WRAP=$WORK/wrap.sh d_start ns FLAMESHOT_TEST_HOST_PID=$$ \
        FLAMESHOT_PROCESSES='[{"service":"app","command":"Idle 31337$"}]' || return 1
    d_wait_log ns "joined the host's cgroup namespace" 5 || return 1
    [ "$(stat -L -c %i "/proc/$(d_pid ns)/ns/cgroup")" = "$(stat -L -c %i /proc/$$/ns/cgroup)" ] ||
        { echo "the daemon is not in the host's cgroup namespace"; return 1; }
    d_wait_log ns "watching pid $pid " 20 || { d_log ns | tail; return 1; }
    d_expect ns 200 /v1/targets \
        "[.targets[] | select(.pid == $pid)][0].cgroup == \"/$(ct_rel app)\"" || return 1
    ! d_log ns | grep -q "outside" || { d_log ns | grep outside; return 1; }
    d_stop ns && ct_stop app
}

t_case "in a cgroup namespace of its own, the agent joins the host's and watches other containers" \
    case_joins_the_hosts_cgroup_namespace
t_done
