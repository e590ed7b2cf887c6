#!/bin/bash
# 96_soak_smoke: `make soak` still runs. Its short version
# (tools/soak/run --smoke: the agent of this suite in Kubernetes mode, one
# containerd and one namespaced JVM, 20 HTTP triggers with exec and Pod
# churn, a containerd JVM replaced) must run to the end with every job a
# trigger returned in a final state, every ok job's artefact kept, as many
# fds and eventfds at the end as at the start (an ended job holds none), no
# sanitizer report and a clean stop. RSS is printed, not judged: 20
# triggers are no soak.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/ctr.sh"
W=$(mktemp -d /tmp/fs-soak-smoke.XXXXXX)
trap 'rm -rf "$W"; ctr_cleanup' EXIT

agent() {
    case $FLAMESHOTD in
    */asan/flameshotd) echo asan ;;
    *) echo release ;;
    esac
}

case_smoke() {
    need "[ \$(id -u) = 0 ]" "needs root"
    need ctr_can_run "needs containerd, ctr, runc, setpriv and python3"
    need "command -v java && command -v jq && command -v nsenter" "needs java, jq and nsenter"
    need "[ -d /sys/fs/cgroup/memory ]" "needs cgroup v1 memory"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$BUILD/tests/java/Idle.class' ]" "needs make test-build"
    local a out
    a=$(agent)
    out=$W/out/smoke-$a
    BUILD=$BUILD SOAK_OUT=$W/out SOAK_TRIGGERS=20 nice -n 5 "$ROOT/tools/soak/run" --smoke \
        --agent "$a" > "$W/run.log" 2>&1 || { tail -40 "$W/run.log"; return 1; }
    if ! grep -q '^ok    every job accounted for: [1-9][0-9]* jobs, 0 without' "$out.txt" ||
        ! grep -q '^ok    agent stopped cleanly' "$out.txt" || ! grep -q '^end ' "$out.tsv" ||
        ! grep -q '^ok    fds: ' "$out.txt" || ! grep -q '^ok    eventfds: ' "$out.txt"; then
        cat "$W/run.log"
        return 1
    fi
    grep -q "^replaced ctr-1's JVM" "$W/run.log" || { echo "no JVM replaced"; return 1; }
    grep -q "opted out" "$W/run.log" || { echo "no Pod opted out"; return 1; }
    sed -n '/^triggers /,$p' "$W/run.log" | sed 's/^/# /'
}

t_case "the soak's short run accounts for every job" case_smoke
t_done
