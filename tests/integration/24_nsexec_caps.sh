#!/bin/bash
# The confined helper (src/capture/nsexec.c) where its confinement matters:
# a JVM running as uid 0 in its container (own PID and mount namespaces,
# private /tmp, every capability: it runs in the host's user namespace).
# setresuid(0) keeps a root process's capabilities, so only the helper's
# explicit drop stands between a container's files and the agent's
# privileges. Proven twice:
#   - tests/helpers/nsexec_probe runs tests/nsview.h's report through
#     jvm_run_child (the path of every capture step): no capability left
#     (capget and /proc/<pid>/status), no_new_privs, reading a mode-0000
#     file, chown and setuid fail; it is in the JVM's mount namespace and
#     sees the container's /tmp, not the host's;
#   - a real capture step: a staged agent library made mode 0000 is
#     rewritten, not reused, because the helper cannot read it to check
#     its digest (with CAP_DAC_OVERRIDE it would reuse it); a JFR profile
#     of the root JVM leaves nothing on the host.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
CLASSES=$BUILD/tests/java
PROBE=$BUILD/tests/helpers/capture_probe
NSPROBE=$BUILD/tests/helpers/nsexec_probe
AGENT=$BUILD/tests/agents/marker_agent.so
W=$(mktemp -d /var/tmp/flameshot-nsexec-test.XXXXXX)
export CAPTURE_PROBE_ATTACH_MS=60000 # a loaded machine slows a JVM's first JFR.start
HOSTONLY=/tmp/flameshot-hostonly-$$ # on the host's /tmp, hidden by the container's
trap 'ct_cleanup; rm -rf "$W" "$HOSTONLY"' EXIT
cd "$W" || exit 1

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need ct_can_run "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jfr && command -v jq" "needs a JDK (java, jfr) and jq"
    need "[ -x '$PROBE' ] && [ -x '$NSPROBE' ] && [ -f '$AGENT' ] && [ -f '$CLASSES/Burner.class' ]" \
        "run make test-build first"
    [ -f "$W/ready" ] || { cat "$W/setup.err"; echo "setup failed"; exit 1; }
}

setup() {
    echo host > "$HOSTONLY"
    ct_start root0 --uid 0 -- /usr/bin/java -cp "$CLASSES" Burner || return 1
    ct_wait_output root0 "Burner started" 20 || return 1
    local t; t=$(ct_root root0)/tmp
    echo inside > "$t/inside-$$" && echo locked > "$t/locked-$$" && chmod 0000 "$t/locked-$$"
}

field() { tr ' ' '\n' < "$2" | sed -n "s/^$1=//p"; }

case_jvm_is_privileged() {
    caps
    local st; st=/proc/$(ct_pid root0)/status
    grep -q '^Uid:\s*0\s' "$st" || { grep '^Uid' "$st"; return 1; }
    # full capabilities: what a helper would keep without its own drop
    [ "$(awk '/^CapEff:/ {print $2}' "$st")" = "$(awk '/^CapBnd:/ {print $2}' "$st")" ] &&
        [ "$(awk '/^CapEff:/ {print $2}' "$st")" != 0000000000000000 ] || { grep ^Cap "$st"; return 1; }
}

case_helper_has_no_capabilities() {
    caps
    "$NSPROBE" "$(ct_pid root0)" "/tmp/locked-$$" "/tmp/inside-$$" "$HOSTONLY" > view.txt ||
        { cat view.txt; return 1; }
    cat view.txt
    local k want
    for k in uid=0 gid=0 nnp=1 capeff=0 capprm=0 capinh=0 capamb=0 read=EACCES chown=EPERM setuid=EPERM; do
        want=${k#*=}
        [ "$(field "${k%%=*}" view.txt)" = "$want" ] || { echo "${k%%=*} is $(field "${k%%=*}" view.txt), want $want"; return 1; }
    done
    [ "$(stat -c %u:%a "$(ct_root root0)/tmp/locked-$$")" = 0:0 ] || { echo "the locked file changed"; return 1; }
}

case_helper_in_the_containers_mount_namespace() {
    caps
    [ -s view.txt ] || { echo "no report from the previous case"; return 1; }
    local jvm host
    jvm=$(stat -L -c %i "/proc/$(ct_pid root0)/ns/mnt"); host=$(stat -L -c %i /proc/self/ns/mnt)
    [ "$jvm" != "$host" ] || { echo "the JVM shares the host's mount namespace: nothing to prove"; return 1; }
    [ "$(field mntns view.txt)" = "$jvm" ] && [ "$(field jvm_mntns view.txt)" = "$jvm" ] ||
        { echo "helper in mount namespace $(field mntns view.txt), the JVM's is $jvm"; return 1; }
    [ "$(field inside view.txt)" = 1 ] && [ "$(field host view.txt)" = 0 ] ||
        { echo "the helper saw the host's /tmp"; return 1; }
}

# capture_load_agent stages the library; an identical copy already there is
# reused if the helper can read it to compare digests. Mode 0000 on a file
# of uid 0: only a helper with CAP_DAC_OVERRIDE can.
case_staging_helper_cannot_override_permissions() {
    caps
    local p sha staged ino; p=$(ct_pid root0); sha=$(sha256sum "$AGENT" | cut -c1-16)
    staged=/tmp/.flameshot-0/marker_agent-$sha.so
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker-$$.txt" > l1.json || { cat l1.json; return 1; }
    [ "$(jq -r .staged l1.json)" = "$staged" ] || { cat l1.json; return 1; }
    grep -q "marker_agent loaded pid=$(ct_nspid root0) uid=0" "$(ct_root root0)/tmp/marker-$$.txt" || return 1
    chmod 0000 "$(ct_root root0)$staged"; ino=$(stat -c %i "$(ct_root root0)$staged")
    "$PROBE" load "$p" "$AGENT" "file=/tmp/marker-$$.txt" > l2.json || { cat l2.json; return 1; }
    [ "$(stat -c %a "$(ct_root root0)$staged")" = 755 ] && [ "$(stat -c %i "$(ct_root root0)$staged")" != "$ino" ] ||
        { echo "the mode-0000 copy was read and reused: the helper had CAP_DAC_OVERRIDE"; return 1; }
}

case_profile_of_a_root_jvm() {
    caps
    local p before; p=$(ct_pid root0)
    before=$(ls -A /tmp/.flameshot-0 2>/dev/null)
    "$PROBE" profile "$p" root.jfr 1500 cpu > root.json || { cat root.json; return 1; }
    [ "$(jq -r .outcome root.json)" = ok ] && [ "$(jq -r .library_type root.json)" = jfr ] || { cat root.json; return 1; }
    jfr summary root.jfr > /dev/null || return 1
    [ "$(ls -A /tmp/.flameshot-0 2>/dev/null)" = "$before" ] || { echo "written on the host's /tmp"; return 1; }
    local t; t=$(ct_root root0)/tmp
    ! ls "$t/.flameshot-0" | grep -q -v '^marker_agent-' || { echo "left: $(ls "$t/.flameshot-0")"; return 1; }
    ! ls -d "$t"/20[0-9][0-9]_* 2>/dev/null || { echo "JFR repository left"; return 1; }
}

setup > "$W/setup.err" 2>&1 && touch "$W/ready"
disown -a # the container is killed at the end: no job-control noise

t_case "the uid-0 JVM holds every capability (what the helper must not keep)" case_jvm_is_privileged
t_case "helper for a uid-0 JVM: no capabilities, no_new_privs; read, chown, setuid refused" case_helper_has_no_capabilities
t_case "helper in the JVM's mount namespace: the container's /tmp, not the host's" case_helper_in_the_containers_mount_namespace
t_case "staging as uid 0: a mode-0000 copy cannot be read, so it is rewritten" case_staging_helper_cannot_override_permissions
t_case "JFR profile of a uid-0 JVM: ok, nothing on the host, nothing left" case_profile_of_a_root_jvm
t_done
