#!/bin/bash
# The BPF event source with tp_btf programs (the default on this kernel):
# exec latency, exits, OOM victims, watermark crossings, and the lost-record
# counters of an overflowing ring buffer. Scenarios: 10_events_lib.bash.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/10_events_lib.bash"
EV_SOURCE=bpf
EV_OPTS="--bpf on"

# the programs chosen are the tp_btf ones
sc_tp_btf_chosen() {
    ev_need
    trap probe_cleanup EXIT
    probe_start || return 1
    grep -q '"detail":"exec=tp_btf exit=tp_btf oom=tp_btf rss=tp_btf"' "$P_DIR/out" ||
        ev_fail "not all tp_btf: $(head -n1 "$P_DIR/out")" || return 1
    grep -q 'event source: bpf' "$P_DIR/err" || ev_fail "no start-up line naming the source"
}

# a 4 KiB ring buffer left unread while 300 processes start and exit:
# records are lost, and the loss is counted in the stats and the metrics
sc_ringbuf_overflow() {
    ev_need
    trap probe_cleanup EXIT
    probe_start --ringbuf 4096 --stall-ms 2000 || return 1
    local i
    for i in $(seq 1 300); do /bin/true; done
    probe_stop
    local st
    st=$(grep '"kind":"stats"' "$P_DIR/out" | tail -n1)
    echo "$st"
    local full lost mfull mlost events
    full=$(jget "$st" ringbuf_full); lost=$(jget "$st" lost); events=$(jget "$st" events)
    mfull=$(jget "$st" metrics_ringbuf_full); mlost=$(jget "$st" metrics_lost)
    [ "$full" -gt 100 ] || ev_fail "ring buffer full counted $full times, expected > 100" || return 1
    [ "$lost" -ge "$full" ] || ev_fail "lost $lost < ringbuf_full $full" || return 1
    [ "$events" -gt 0 ] || ev_fail "nothing delivered at all" || return 1
    [ "$mfull" = "$full" ] && [ "$mlost" = "$lost" ] || ev_fail "metrics not updated: $st"
}

t_case "bpf: the tp_btf programs are chosen and the start-up log names the source" sc_tp_btf_chosen
t_case "bpf: exec of a process is seen in under 100 ms" sc_exec_latency
t_case "bpf: exits are seen once per process with status/signal, not per thread" sc_exit
t_case "bpf: OOM kill in a container memcg names the victim and the memcg inode" sc_oom_container
t_case "bpf: OOM victim bigger than the trigger is named, not the trigger" sc_oom_other_victim
t_case "bpf: process RSS watermark: exactly one record per upward crossing" sc_watermark_proc
t_case "bpf: cgroup usage watermark: exactly one record per upward crossing" sc_watermark_cgroup
t_case "bpf: cgroup step ladder: each step of a climb once, the fall followed down" sc_steps_cgroup
t_case "bpf: ring buffer overflow is counted as lost (stats and metrics)" sc_ringbuf_overflow
ct_cleanup # the state directory container.sh made when sourced
t_done
