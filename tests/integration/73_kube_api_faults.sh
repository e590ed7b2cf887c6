#!/bin/bash
# Kubernetes mode against a faulty API server: build/flameshotd in
# kubernetes mode, its Pods served by tests/lib/kubeapi_server.py (HTTPS,
# token checked, list/watch, faults driven by files in its directory), one
# real JVM placed in the kubelet's cgroupfs layout
# (/kubepods/burstable/pod<uid>/<container id> of the v1 memory, cpu and
# cpuacct hierarchies, made here and removed afterwards) that the Pod's
# containerStatuses name. No container runtime: the agent maps a process to
# its Pod container by its cgroup path alone. The agent must:
#   - start and stay ready with the API server down, say the watch fails
#     (status, metrics, log), and list and pick up the Pod once it is back;
#   - sync with a server that answers seconds late, its HTTP API answering
#     at once meanwhile;
#   - apply every change while the watch is cut every 2.5 s, re-watching
#     from the last resourceVersion (no re-list), with no fd or thread
#     growth;
#   - recover from a rotated token (401s, then the token file rewritten)
#     without a restart, and say so when its token file cannot be read.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
K=$D_DIR/kube
CG=/sys/fs/cgroup
NODE=worker-faults
NS=shop
trap 'd_cleanup_all' EXIT

caps() {
    need "[ \"\$(id -u)\" = 0 ] && d_can_run" "needs root, curl, jq and ss"
    need "command -v java && command -v python3 && command -v openssl" \
        "needs java, python3 and openssl"
    need "[ -f '$CG/memory/memory.limit_in_bytes' ] && [ -d '$CG/cpu' ]" \
        "needs the v1 memory and cpu cgroup hierarchies"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Idle.class' ]" "run make test-build first"
}

ids() {
    [ -f "$K/ids" ] || {
        echo "UID_A=$(cat /proc/sys/kernel/random/uuid) UID_B=$(cat /proc/sys/kernel/random/uuid)"
        echo "CID_A=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
        echo "CID_B=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    } > "$K/ids"
    # shellcheck disable=SC1091
    source "$K/ids"
}

# pod NAME UID CID RV ON TAGS: a running v1 Pod of one container "app"
# (ON: true or false, its flameshot.io/enabled), as the API server serves it
pod() {
    jq -cn --arg name "$1" --arg uid "$2" --arg cid "$3" --arg rv "$4" --arg on "$5" \
        --arg tags "$6" --arg ns "$NS" --arg node "$NODE" '{
        kind: "Pod", apiVersion: "v1",
        metadata: {name: $name, namespace: $ns, uid: $uid, resourceVersion: $rv,
            creationTimestamp: "2026-12-01T10:00:00Z", labels: {app: $name},
            annotations: {"flameshot.io/enabled": $on, "flameshot.io/tags": $tags}},
        spec: {nodeName: $node, containers: [{name: "app", image: "registry.example/app:1"}]},
        status: {phase: "Running", qosClass: "Burstable", containerStatuses: [{name: "app",
            image: "registry.example/app:1", imageID: "registry.example/app@sha256:ab",
            containerID: ("containerd://" + $cid), ready: true, started: true,
            restartCount: 0, state: {running: {startedAt: "2026-12-01T10:00:05Z"}}}]}}'
}
pod_a() { pod api-0 "$UID_A" "$CID_A" "$@"; }
pod_b() { pod cart-0 "$UID_B" "$CID_B" "$@"; }

# event TYPE [QUIET]: a watch event of the Pod JSON on stdin into events.jsonl
event() {
    local obj
    obj=$(cat)
    printf '%s%s\n' "${2:+QUIET }" "$(jq -c --arg t "$1" '{type: $t, object: .}' <<< "$obj")" \
        >> "$K/events.jsonl"
}

srv_start() {
    local port=$1 i pid
    : > "$K/server.out"
    python3 "$ROOT/tests/lib/kubeapi_server.py" "$K" --pods "$K/pods.json" --node "$NODE" \
        --port "$port" > "$K/server.out" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$K/server.pid"
    for i in $(seq 1 300); do
        grep -qx "PORT $port" "$K/server.out" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "API server: $(cat "$K/server.out")"
    return 1
}

srv_stop() {
    local pid i
    pid=$(cat "$K/server.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$K/server.pid"; return 0; }
        sleep 0.1
    done
    echo "the API server $pid did not stop"
    return 1
}

# the JVM's cgroup in each hierarchy; the directories made are recorded
jvm_cgroups() {
    local h
    for h in memory cpu cpuacct; do
        mkdir -pv "$CG/$h/kubepods/burstable/pod$UID_A/$CID_A" |
            sed -n "s/^mkdir: created directory '\(.*\)'$/\1/p" >> "$K/cgroups-made" || return 1
    done
}

d_cleanup_all() {
    local pid d
    d_cleanup_keep
    [ -f "$K/server.pid" ] && srv_stop > /dev/null
    if pid=$(cat "$K/jvm.pid" 2>/dev/null); then
        kill -KILL "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    [ -f "$K/cgroups-made" ] && tac "$K/cgroups-made" | while read -r d; do rmdir "$d"; done
    rm -rf "$D_DIR"
}

# d_cleanup without removing $D_DIR (the cgroups' record is there)
d_cleanup_keep() {
    local f
    for f in "$D_DIR"/*/pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
}

st() { # st JQ: the agent's /v1/status .kubernetes.watch through JQ
    d_api k /v1/status > /dev/null && jq -r ".kubernetes.watch | $1" "$D_BODY"
}

# until_ok SECS CMD...: runs CMD every 0.2 s until it succeeds; its last
# output is said on failure
until_ok() {
    local secs=$1 out t0=$SECONDS
    shift
    while :; do
        out=$("$@" 2>&1) && return 0
        [ $((SECONDS - t0)) -lt "$secs" ] || break
        sleep 0.2
    done
    echo "after ${secs}s: $* still fails: $out"
    return 1
}

watch_is() { # watch_is JQ-CONDITION: on .kubernetes.watch
    d_api k /v1/status > /dev/null
    jq -e ".kubernetes.watch | $1" "$D_BODY" > /dev/null || { jq -c .kubernetes.watch "$D_BODY"; return 1; }
}

targets_are() { # targets_are "PID..." (sorted)
    local got
    d_api k /v1/targets > /dev/null
    got=$(jq -r '.targets[].pid' "$D_BODY" | sort -n | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$1" ] || { echo "targets [$got], want [$1]"; return 1; }
}

jvm_pid() { cat "$K/jvm.pid"; }
list_requests() { grep -E '^[0-9]+ /api/v1/pods\?' "$K/requests.log" | grep -vc 'watch=' || true; }

case_setup_jvm_in_a_pod_cgroup_and_pki() {
    caps
    mkdir -p "$K" && ids
    jvm_cgroups || return 1
    # the JVM joins its container's cgroups before it runs, as runc's do
    sh -c 'for h in memory cpu cpuacct; do echo $$ > "$1/$h/$2/cgroup.procs" || exit 1; done
        exec /usr/bin/java -Xmx32m -cp "$3" Idle' sh "$CG" \
        "kubepods/burstable/pod$UID_A/$CID_A" "$CLASSES" > "$K/jvm.out" 2>&1 < /dev/null &
    echo $! > "$K/jvm.pid"
    until_ok 60 grep -q "Idle started" "$K/jvm.out" || { cat "$K/jvm.out"; return 1; }
    grep -q ":memory:/kubepods/burstable/pod$UID_A/$CID_A$" "/proc/$(jvm_pid)/cgroup" ||
        { cat "/proc/$(jvm_pid)/cgroup"; return 1; }
    { pod_a 100 true team:a; pod_b 101 false team:b; } | jq -s '{items: .}' > "$K/pods.json"
    # the PKI and the token are made by a first start; then the server is down
    local port
    port=$(d_free_port) && echo "$port" > "$K/port" || return 1
    srv_start "$port" && srv_stop || return 1
    [ -f "$K/ca.crt" ] && [ "$(cat "$K/token")" = token-1 ] || { ls "$K"; return 1; }
    rm -f "$K/requests.log"
}

# The API server is down when the agent starts and for several retries.
case_api_server_down_at_start_then_back() {
    caps && ids
    local port; port=$(cat "$K/port")
    # d_start waits until /readyz is 200: the agent is ready without the API
    d_start k FLAMESHOT_MODE=kubernetes FLAMESHOT_KUBE_API="https://127.0.0.1:$port" \
        FLAMESHOT_KUBE_SA_DIR="$K" FLAMESHOT_NODE_NAME="$NODE" FLAMESHOT_MONITOR_INTERVAL=500ms \
        FLAMESHOT_PROCESSES='[{"command":"java"}]' || return 1
    until_ok 30 watch_is '.errors.io >= 4 and .backoffs >= 4' || return 1
    watch_is '.connected == false and .lists == 0 and (.last_error | startswith("LIST: "))' ||
        return 1
    until_ok 20 d_wait_log k "kube.*LIST: " 1 || return 1
    # said once, not at every retry
    [ "$(grep -c "LIST: " "$D_DIR/k/log")" = 1 ] || { grep "LIST: " "$D_DIR/k/log"; return 1; }
    d_expect k 200 /healthz && d_expect k 200 /readyz || return 1
    [ "$(d_metric k flameshot_kube_watch_connected)" = 0 ] &&
        [ "$(d_metric k 'flameshot_kube_watch_errors_total{kind="io"}')" -ge 4 ] ||
        { grep flameshot_kube_watch "$D_BODY"; return 1; }
    # the JVM's Pod is unknown: it waits, unattached
    until_ok 20 d_expect k 200 /v1/status '.kubernetes.processes_waiting >= 1' || return 1
    targets_are "" || return 1
    srv_start "$port" || return 1
    until_ok 40 targets_are "$(jvm_pid)" || { d_log k | tail -n 20; return 1; }
    watch_is '.connected and .lists == 1 and .relists == 0' || return 1
    d_expect k 200 /v1/pods '.count == 2 and (.pods[] | select(.name == "api-0") |
        .state == "on" and .config.tags.team == "a" and .containers[0].targets == ['"$(jvm_pid)"'])
        and (.pods[] | select(.name == "cart-0") | .state == "off")' || return 1
    [ "$(d_metric k flameshot_kube_watch_connected)" = 1 ] || return 1
    grep -Eq '^200 /api/v1/pods\?.*watch=1.*resourceVersion=101' "$K/requests.log" ||
        { cat "$K/requests.log"; return 1; }
}

# Every LIST and WATCH answered 3 s late, the re-list held a while: the HTTP
# API answers at once meanwhile, and the agent syncs all the same.
case_slow_api_server_still_syncs() {
    caps && ids
    local t0 took
    echo 3000 > "$K/slow-ms"
    touch "$K/stall"
    # a change the watch misses, then 410 Gone: only a re-list finds it
    pod_a 200 false team:a | event MODIFIED QUIET
    echo GONE >> "$K/events.jsonl"
    until_ok 20 test -f "$K/stall-held" || return 1
    # the LIST is held until the stall ends: any answer shows the API does
    # not wait for it (2 s leaves room for a loaded machine)
    local p slow=""
    for p in /v1/status /v1/pods /v1/targets /healthz /metrics; do
        t0=$(date +%s%N)
        [ "$(d_api k "$p")" = 200 ] || { echo "GET $p: $(head -c 300 "$D_BODY")"; return 1; }
        took=$((($(date +%s%N) - t0) / 1000000))
        [ "$took" -lt 2000 ] || slow="$slow $p:${took}ms"
    done
    d_expect k 200 /v1/status '.kubernetes.watch.lists == 1' || return 1
    rm -f "$K/stall"
    [ -z "$slow" ] || { echo "slow answers while the LIST was held:$slow"; return 1; }
    # every request now waits 3 s: the two pages of the re-list, the watch
    until_ok 40 targets_are "" || return 1
    watch_is '.lists == 2 and .relists == 1 and .errors.gone >= 1' || return 1
    d_expect k 200 /v1/pods '.pods[] | select(.name == "api-0") | .state == "off"' || return 1
    pod_a 201 true team:slow | event MODIFIED
    until_ok 40 targets_are "$(jvm_pid)" || return 1
    watch_is '.connected and .resource_version == "201" and .lists == 2' || return 1
}

fds() { ls "/proc/$(d_pid k)/fd" | wc -l; }
threads() { ls "/proc/$(d_pid k)/task" | wc -l; }
# the least of 10 samples 0.1 s apart: a file open for a moment is not held
least() {
    local i n m=""
    for i in $(seq 1 10); do
        n=$("$@")
        [ -z "$m" ] || [ "$n" -lt "$m" ] && m=$n
        sleep 0.1
    done
    echo "$m"
}

# The watch is cut every 2.5 s for ~20 s while both Pods change.
case_watch_cut_every_few_seconds() {
    caps && ids
    local fd0 th0 ev0 lists0 listreq0 restarts0 i rv on last=0 w0
    fd0=$(least fds) th0=$(least threads)
    ev0=$(st .events) lists0=$(st .lists) restarts0=$(st .watch_restarts)
    listreq0=$(list_requests)
    echo 2500 > "$K/cut-watch-ms"
    echo CLOSE >> "$K/events.jsonl" # the open stream ends; the next ones are cut
    w0=$(wc -l < "$K/requests.log")
    for i in $(seq 1 28); do
        rv=$((300 + i))
        if [ $((i % 2)) = 0 ]; then on=true; else on=false; fi
        if [ $((i % 4)) = 3 ]; then
            pod_b "$rv" "$on" "team:b,step:$i" | event MODIFIED
        else
            pod_a "$rv" "$on" "team:a,step:$i" | event MODIFIED
        fi
        last=$rv
        sleep 0.7 # the pace of the changes, not a wait for one
    done
    # every change reached the agent, each once
    until_ok 30 watch_is '.resource_version == "'$last'"' || return 1
    watch_is '.events - '"$ev0"' == 28' || return 1
    until_ok 10 jq -e '.resourceVersion == "'$last'"' "$K/state.json" || return 1
    # the agent's Pods are the server's
    d_api k /v1/pods > /dev/null
    jq -e --slurpfile s "$K/state.json" '[.pods[] | {name, state,
        tags: (.config.tags // null)}] | sort_by(.name) == ($s[0].pods | map({name: .metadata.name,
        state: (if .metadata.annotations["flameshot.io/enabled"] == "true" then "on" else "off" end),
        tags: (if .metadata.annotations["flameshot.io/enabled"] == "true" then
            (.metadata.annotations["flameshot.io/tags"] | split(",") | map(split(":") |
            {(.[0]): .[1]}) | add) else null end)}) | sort_by(.name))' "$D_BODY" > /dev/null ||
        { echo "agent: $(jq -c '[.pods[] | {name, state, t: .config.tags}]' "$D_BODY")"
          echo "server: $(jq -c '[.pods[].metadata | {name, annotations}]' "$K/state.json")"
          return 1; }
    until_ok 10 targets_are "$(jvm_pid)" || return 1
    # one more cut: the re-watch is from the last version
    until_ok 10 grep -q "watch=1.*resourceVersion=$last&" "$K/requests.log" ||
        { tail -n 5 "$K/requests.log"; return 1; }
    # re-watched, never re-listed; each watch from the version reached
    watch_is '.lists == '"$lists0"' and .relists == 1 and
        .watch_restarts - '"$restarts0"' >= 7' || return 1
    [ "$(list_requests)" = "$listreq0" ] || { echo "LISTs: $listreq0 -> $(list_requests)"; return 1; }
    tail -n +"$((w0 + 1))" "$K/requests.log" | sed -n 's/.*watch=1.*resourceVersion=\([0-9]*\)&.*/\1/p' \
        > "$K/watch-rvs"
    [ "$(wc -l < "$K/watch-rvs")" -ge 7 ] && sort -n -c "$K/watch-rvs" &&
        ! grep -vxE '201|30[1-9]|31[0-9]|32[0-8]' "$K/watch-rvs" ||
        { echo "watch versions: $(tr '\n' ' ' < "$K/watch-rvs")"; return 1; }
    rm -f "$K/cut-watch-ms"
    until_ok 20 watch_is .connected || return 1
    local fd1 th1
    fd1=$(least fds) th1=$(least threads)
    [ "$fd1" -le "$fd0" ] && [ "$th1" -le "$th0" ] ||
        { echo "fds $fd0 -> $fd1, threads $th0 -> $th1"; ls -l "/proc/$(d_pid k)/fd"; return 1; }
    d_expect k 200 /healthz
}

rotate() { # rotate FILE VALUE: replaced whole, as the kubelet's atomic writer does
    printf '%s\n' "$2" > "$1.new" && mv -f "$1.new" "$1"
}

case_token_rotated_then_unreadable() {
    caps && ids
    local lists0 auth0
    lists0=$(st .lists) auth0=$(st .errors.auth)
    rotate "$K/accepted-token" token-2
    echo CLOSE >> "$K/events.jsonl" # the next request carries the old token
    until_ok 20 watch_is '.errors.auth - '"$auth0"' >= 2 and .connected == false and
        (.last_error | contains("401"))' || return 1
    [ "$(d_metric k 'flameshot_kube_watch_errors_total{kind="auth"}')" -ge 2 ] || return 1
    d_wait_log k "kube.*WATCH: .*401" 5 || return 1
    # meanwhile the target stays
    targets_are "$(jvm_pid)" && d_expect k 200 /healthz || return 1
    rotate "$K/token" token-2
    until_ok 40 watch_is .connected || return 1
    pod_a 401 false team:a | event MODIFIED
    until_ok 20 targets_are "" || return 1
    grep -q "^200 .*watch=1.*resourceVersion=328&" "$K/requests.log" ||
        { tail -n 8 "$K/requests.log"; return 1; }
    # a token it cannot read: said, then recovered once it is there
    rm -f "$K/token"
    rotate "$K/accepted-token" token-3
    echo CLOSE >> "$K/events.jsonl"
    until_ok 20 watch_is '.last_error | contains("'"$K"'/token: No such file")' || return 1
    d_wait_log k "kube.*$K/token: No such file" 5 || return 1
    rotate "$K/token" token-3
    pod_a 402 true team:a | event MODIFIED
    until_ok 40 targets_are "$(jvm_pid)" || return 1
    watch_is '.connected and .lists == '"$lists0"' and .resource_version == "402"' || return 1
}

# faulty CASE: runs CASE, then the API server's faults end whatever it did
faulty() {
    local rc=0
    "$@" || rc=$?
    rm -f "$K/stall" "$K/stall-held" "$K/slow-ms" "$K/cut-watch-ms"
    return "$rc"
}

case_agent_stops_cleanly() {
    caps
    d_stop k
}

t_case setup_jvm_in_a_pod_cgroup_and_pki case_setup_jvm_in_a_pod_cgroup_and_pki
t_case api_server_down_at_start_then_back case_api_server_down_at_start_then_back
t_case slow_api_server_still_syncs faulty case_slow_api_server_still_syncs
t_case watch_cut_every_few_seconds faulty case_watch_cut_every_few_seconds
t_case token_rotated_then_unreadable faulty case_token_rotated_then_unreadable
t_case agent_stops_cleanly case_agent_stops_cleanly
t_done
