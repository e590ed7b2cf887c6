#!/bin/bash
# The BPF event source with the classic tracepoint programs forced: the
# path older kernels take where a tp_btf prototype differs (mark_victim
# before v6.9). tracefs is not mounted here: the loader mounts it for the
# attach and unmounts it again. Scenarios: 10_events_lib.bash.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/10_events_lib.bash"
EV_SOURCE=classic
EV_OPTS="--bpf on --classic"

sc_classic_chosen() {
    ev_need
    local before after
    before=$(grep -c ' /sys/kernel/tracing ' /proc/self/mounts)
    trap probe_cleanup EXIT
    probe_start || return 1
    grep -q '"detail":"exec=tracepoint exit=tracepoint oom=tracepoint rss=tracepoint"' \
        "$P_DIR/out" || ev_fail "not all classic: $(head -n1 "$P_DIR/out")" || return 1
    after=$(grep -c ' /sys/kernel/tracing ' /proc/self/mounts)
    [ "$before" = "$after" ] || ev_fail "tracefs mounts changed: $before -> $after"
}

t_case "classic: every tracepoint uses its classic program, host mounts unchanged" sc_classic_chosen
t_case "classic: exec of a process is seen in under 100 ms" sc_exec_latency
t_case "classic: exits are seen once per process with status/signal, not per thread" sc_exit
t_case "classic: OOM kill in a container memcg names the victim and the memcg inode" sc_oom_container
t_case "classic: OOM victim other than the trigger is reported at its exit" sc_oom_other_victim
t_case "classic: process RSS watermark: exactly one record per upward crossing" sc_watermark_proc
t_case "classic: cgroup usage watermark: exactly one record per upward crossing" sc_watermark_cgroup
t_case "classic: cgroup step ladder: each step of a climb once, the fall followed down" sc_steps_cgroup
ct_cleanup # the state directory container.sh made when sourced
t_done
