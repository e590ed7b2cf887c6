#!/bin/bash
# The /proc and cgroup-file poller (FLAMESHOT_BPF=off) through the same
# scenarios as the BPF source, and the choice of source: auto falls back to
# the poller where BPF cannot load (an unprivileged process here), on fails
# hard. Scenarios: 10_events_lib.bash. As root the poller learns which
# processes changed from the kernel's process connector; in a network
# namespace of its own (which the connector does not serve) it lists /proc
# and re-reads every process, and sees the same execs and exits.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/integration/10_events_lib.bash"
EV_SOURCE=poller
EV_OPTS="--bpf off"

# runs the probe as nobody, without capabilities: BPF cannot load
as_nobody() {
    setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$PROBE" "$@"
}

sc_auto_falls_back() {
    ev_need
    need "command -v setpriv" "needs setpriv"
    local out err rc
    err=$(mktemp)
    out=$(as_nobody --bpf auto --duration-ms 200 </dev/null 2>"$err"); rc=$?
    cat "$err"
    [ $rc -eq 0 ] || ev_fail "probe exited $rc" || { rm -f "$err"; return 1; }
    grep -q '"kind":"ready","source":"poller"' <<<"$out" || ev_fail "not the poller: $out" ||
        { rm -f "$err"; return 1; }
    grep -q 'level=warn module=events msg="BPF unavailable (' "$err" &&
        grep -q 'event source: poller' "$err"
    rc=$?
    rm -f "$err"
    [ $rc -eq 0 ] || ev_fail "start-up log does not say why and which source"
}

sc_on_fails_hard() {
    ev_need
    need "command -v setpriv" "needs setpriv"
    local err rc
    err=$(as_nobody --bpf on --duration-ms 200 </dev/null 2>&1 >/dev/null); rc=$?
    echo "$err"
    [ $rc -eq 2 ] || ev_fail "FLAMESHOT_BPF=on without privileges exited $rc, expected 2" || return 1
    grep -q 'FLAMESHOT_BPF=on but the BPF programs cannot be used: ' <<<"$err" ||
        ev_fail "no reason given"
}

sc_feed_live() {
    ev_need
    trap probe_cleanup EXIT
    probe_start || return 1
    grep -q "event source: poller, .*changes from the kernel's process connector" "$P_DIR/err" ||
        ev_fail "the start-up log does not name the process connector: $(cat "$P_DIR/err")"
}

NO_FEED="unshare --net"

sc_no_feed_says_why() {
    ev_need
    need "command -v unshare" "needs unshare"
    trap probe_cleanup EXIT
    PROBE_WRAP=$NO_FEED probe_start || return 1
    grep -q 'every process re-read: no process connector: ' \
        "$P_DIR/err" || ev_fail "no reason given: $(cat "$P_DIR/err")"
}

t_case "poller: the kernel's process connector feeds it (root)" sc_feed_live
t_case "poller: in its own network namespace, no connector, and the log says why" sc_no_feed_says_why
PROBE_WRAP=$NO_FEED t_case "poller without the connector: exec seen in under 100 ms" sc_exec_latency
PROBE_WRAP=$NO_FEED t_case "poller without the connector: exits once per process" sc_exit
t_case "poller: FLAMESHOT_BPF=auto falls back to the poller and logs why" sc_auto_falls_back
t_case "poller: FLAMESHOT_BPF=on fails hard when BPF cannot load" sc_on_fails_hard
t_case "poller: exec of a process is seen in under 100 ms" sc_exec_latency
t_case "poller: exits are seen once per process (status unknown), not per thread" sc_exit
t_case "poller: OOM kill in a container memcg names the victim and the memcg inode" sc_oom_container
t_case "poller: OOM victim bigger than the trigger is named, not the trigger" sc_oom_other_victim
t_case "poller: process RSS watermark: exactly one record per upward crossing" sc_watermark_proc
t_case "poller: cgroup usage watermark: exactly one record per upward crossing" sc_watermark_cgroup
t_case "poller: cgroup step ladder: each step of a climb once, the fall followed down" sc_steps_cgroup
ct_cleanup # the state directory container.sh made when sourced
t_done
