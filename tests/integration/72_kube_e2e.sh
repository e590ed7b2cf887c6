#!/bin/bash
# Kubernetes mode end to end, with a real container runtime: a private
# containerd and runc run JVMs as a non-root uid under seccomp in the
# kubelet's cgroupfs layout (tests/lib/ctr.sh), and the test's own API
# server (tests/lib/kubeapi_server.py, HTTPS, token checked, list/watch)
# serves their Pods. build/flameshotd in kubernetes mode must:
#   - watch only the annotated Pod's JVM, and of it only the container its
#     rule names (a second container of the same Pod runs the same JVM);
#   - profile it on a CPU threshold and on an HTTP trigger selected by
#     namespace/pod/container, the artefacts carrying the Pod's tags;
#   - take its memory limit from the container's memcg;
#   - record a FlameshotConfigError Event for a Pod with malformed JSON,
#     and go on serving the others;
#   - stop watching when the annotation is removed, and watch again when
#     it is back (MODIFIED events, no restart);
#   - on that removal, cancel the Pod's queued capture, which never attaches,
#     and stop its running profile, both saying why;
#   - finish a profile whose Pod is deleted meanwhile, with its tags.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/ctr.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
K=$CTR_DIR/work/kube
NODE=worker-e2e
NS=shop
POD_A=api-7d9c8b6f5d-x2x8k
# roomy: a JVM's heap, JFR's buffers and its repository in the container's
# tmpfs /tmp all count in its memcg, and several profiles run here
LIMIT=$((1024 << 20))
trap 'd_cleanup; [ -f "$K/server.pid" ] && kill "$(cat "$K/server.pid")" 2>/dev/null; ctr_cleanup' EXIT

caps() {
    need "ctr_can_run" "needs root, containerd, ctr, runc, setpriv and python3"
    need "command -v java && command -v jfr && command -v jq && command -v openssl" \
        "needs a JDK (java, jfr), jq and openssl"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/Burner.class' ] && [ -f '$CLASSES/Idle.class' ]" "run make test-build first"
}

ids() {
    [ -f "$K/ids" ] || {
        echo "UID_A=$(ctr_uuid) UID_B=$(ctr_uuid) UID_C=$(ctr_uuid)"
        echo "CID_APP=$(ctr_hex64) CID_SIDE=$(ctr_hex64) CID_B=$(ctr_hex64) CID_C=$(ctr_hex64)"
        echo "UID_D=$(ctr_uuid) CID_D=$(ctr_hex64)"
    } > "$K/ids"
    # shellcheck disable=SC1091
    source "$K/ids"
}

# every JVM matches the command; only the container "app" is in scope
RULES_A='[{"command":"java","container":"app","cpu_usage_percent":40,"duration":"2s"}]'

# pod_a [--annotation K=V]...: Pod A's JSON, opted in unless told otherwise
pod_a() {
    ctr_pod_json "$NS" "$POD_A" "$UID_A" "$NODE" --owner ReplicaSet/api-7d9c8b6f5d \
        --label app.kubernetes.io/version=1.4.2 --container app="$CID_APP" \
        --container side="$CID_SIDE" "$@"
}
pod_a_on() {
    pod_a --annotation flameshot.io/enabled=true --annotation flameshot.io/processes="$RULES_A" \
        --annotation flameshot.io/tags=team:payments "$@"
}

# event TYPE: appends a watch event of the Pod JSON on stdin
event() {
    local f=$K/obj.$RANDOM.json
    cat > "$f"
    ctr_watch_event "$1" "$f" >> "$K/events.jsonl"
}

target_pids() {
    d_api k /v1/targets > /dev/null
    jq -r '.targets[].pid' "$D_BODY"
}

wait_targets() { # wait_targets EXPECTED-PIDS (sorted, space-separated) [secs]
    local want=$1 secs=${2:-30} got i
    for i in $(seq 1 $((secs * 5))); do
        got=$(target_pids | sort -n | tr '\n' ' ' | sed 's/ $//')
        [ "$got" = "$want" ] && return 0
        sleep 0.2
    done
    echo "targets: [$got], want [$want]"
    return 1
}


# queue_profile PATH: asks until the agent queues it (2xx); prints the job id
queue_profile() {
    local code i
    for i in $(seq 1 120); do
        code=$(d_api k "$1")
        case $code in
            2*) jq -r .job_id "$D_BODY"; return 0 ;;
            409) sleep 0.5 ;;
            *) echo "$1: $code $(cat "$D_BODY")" >&2; return 1 ;;
        esac
    done
    echo "$1: still busy: $(cat "$D_BODY")" >&2
    return 1
}

# wait_running ID: until job ID runs (10 s); fails saying its state
wait_running() {
    d_wait_api k "/v1/jobs/$1" .state running 10 && return 0
    echo "job $1: $(cat "$D_BODY")"
    return 1
}

case_setup_runtime_api_server_and_agent() {
    caps
    mkdir -p "$K" && ids
    ctr_daemon_start || return 1
    # one JVM burns a core (the threshold's); the others idle: a small machine
    local idle=(/usr/bin/java -cp "$CLASSES" Idle)
    ctr_run app --pod-uid "$UID_A" --cid "$CID_APP" --memory-limit "$LIMIT" \
        --share-ro "$CLASSES" -- /usr/bin/java -cp "$CLASSES" Burner || return 1
    ctr_run side --pod-uid "$UID_A" --cid "$CID_SIDE" --share-ro "$CLASSES" -- "${idle[@]}" ||
        return 1
    ctr_run b --pod-uid "$UID_B" --cid "$CID_B" --share-ro "$CLASSES" -- "${idle[@]}" || return 1
    ctr_run c --pod-uid "$UID_C" --cid "$CID_C" --share-ro "$CLASSES" -- "${idle[@]}" || return 1
    ctr_wait_output app "Burner started" 60 || return 1
    local n
    for n in side b c; do
        ctr_wait_output "$n" "Idle started" 60 || return 1
    done
    {
        pod_a_on --rv 100
        ctr_pod_json "$NS" cart-0 "$UID_B" "$NODE" --owner StatefulSet/cart --container app="$CID_B" \
            --rv 101
        ctr_pod_json "$NS" broken-0 "$UID_C" "$NODE" --rv 102 --annotation flameshot.io/enabled=true \
            --annotation 'flameshot.io/processes=[{"command":' --container app="$CID_C"
    } | jq -s '{items: .}' > "$K/pods.json" || return 1
    local port
    port=$(ctr_api_server "$K" "$NODE") || { echo "$port"; return 1; }
    d_start k FLAMESHOT_MODE=kubernetes FLAMESHOT_KUBE_API="https://127.0.0.1:$port" \
        FLAMESHOT_KUBE_SA_DIR="$K" FLAMESHOT_NODE_NAME="$NODE" FLAMESHOT_MONITOR_INTERVAL=500ms \
        FLAMESHOT_PROCESSES='[{"command":"java"}]' || return 1
}

case_only_the_annotated_container_is_a_target() {
    caps && ids
    wait_targets "$(ctr_pid app)" 30 || { d_log k | tail -20; return 1; }
    # and it stays alone: the other container, Pod and the broken Pod never join
    sleep 2
    wait_targets "$(ctr_pid app)" 1 || return 1
    d_expect k 200 /v1/targets '.targets[0] | .pod_namespace == "'$NS'" and
        .pod_name == "'$POD_A'" and .pod_uid == "'$UID_A'" and .container_name == "app" and
        .container_id == "'$CID_APP'" and .service == "api" and .uid == 10001' || return 1
}

case_limits_come_from_the_containers_memcg() {
    caps && ids
    d_expect k 200 /v1/targets '.targets[0].limits | .memory_source == "cgroup" and
        .memory_bytes == '$LIMIT || return 1
}

case_pods_endpoint_and_watch_status() {
    caps && ids
    d_expect k 200 /v1/pods '.count == 3 and
        (.pods[] | select(.name == "'$POD_A'") | .state == "on" and
            .config.rules_from == "flameshot.io/processes" and
            ([.containers[] | select(.name == "app") | .targets[0]] == ['"$(ctr_pid app)"']) and
            ([.containers[] | select(.name == "side") | .targets | length] == [0])) and
        (.pods[] | select(.name == "cart-0") | .state == "off") and
        (.pods[] | select(.name == "broken-0") | .state == "error" and
            .error.annotation == "flameshot.io/processes")' || return 1
    d_expect k 200 /v1/status '.kubernetes.watch.connected and .kubernetes.pods.on == 1 and
        .kubernetes.pods.error == 1 and .kubernetes.watch.lists >= 1' || return 1
    d_api k /metrics > /dev/null
    grep -q '^flameshot_kube_watch_connected 1$' "$D_BODY" &&
        grep -q '^flameshot_kube_pods{state="on"} 1$' "$D_BODY" ||
        { grep flameshot_kube "$D_BODY"; return 1; }
}

case_malformed_annotation_becomes_an_event() {
    caps && ids
    local i
    for i in $(seq 1 100); do
        [ -s "$K/events-posted.jsonl" ] && break
        sleep 0.2
    done
    jq -se 'length == 1 and (.[0] | .reason == "FlameshotConfigError" and .type == "Warning" and
        .involvedObject.name == "broken-0" and .involvedObject.uid == "'$UID_C'" and
        .involvedObject.kind == "Pod" and .metadata.namespace == "'$NS'" and
        (.message | contains("flameshot.io/processes")))' "$K/events-posted.jsonl" ||
        { cat "$K/events-posted.jsonl"; return 1; }
    grep -Eq '^201 /api/v1/namespaces/shop/events$' "$K/requests.log" ||
        { tail "$K/requests.log"; return 1; }
    d_expect k 200 /healthz || return 1
}

case_cpu_threshold_profiles_it_with_the_pods_tags() {
    caps && ids
    local pid; pid=$(ctr_pid app)
    d_wait_log k "job [0-9]+ queued: profile of pid $pid, trigger cpu" 30 ||
        { d_api k /v1/targets > /dev/null; jq -c '.targets[] | [.pid, .latest, .average]' "$D_BODY"
          return 1; }
    local f; f=$(d_wait_file "$(d_profiles k)/$NS/$POD_A/app/profile_*.jfr" 60) || return 1
    jfr print --events jdk.ExecutionSample "$f" | grep -q flameshotBurnCpu ||
        { echo "no flameshotBurnCpu sample in $f"; return 1; }
    local tags; tags=$(jq -r .tags_profiler "$f.json")
    local want
    for want in "pod_name:$POD_A" "pod_namespace:$NS" "pod_uid:$UID_A" "container_name:app" \
        "container_id:$CID_APP" "node:$NODE" "host:$NODE" "version:1.4.2" "team:payments" \
        "service:api" "trigger:cpu"; do
        case ",$tags," in *",$want,"*) ;; *) echo "no $want in $tags"; return 1 ;; esac
    done
    ! grep -Eq "queued: profile of pid $(ctr_pid side)|queued: profile of pid $(ctr_pid b)" \
        "$D_DIR/k/log" || { echo "another container was profiled"; return 1; }
}

case_http_trigger_selects_by_namespace_pod_container() {
    caps && ids
    local id st i
    # the threshold's profile may still hold the container's job slot (409)
    id=$(queue_profile "/v1/profile?namespace=$NS&pod=$POD_A&container=app&duration=2s") ||
        return 1
    st=$(d_wait_job k "$id" 60) && [ "$st" = done ] ||
        { echo "job $id: $st: $(jq -c . "$D_BODY")"; return 1; }
    d_expect k 404 "/v1/profile?namespace=$NS&pod=cart-0" '.error == "nothing matches"' || return 1
    d_expect k 404 "/v1/profile?namespace=$NS&pod=$POD_A&container=side" \
        '.error == "nothing matches"' || return 1
}

# A container runs before the kubelet reports its ID: it waits, unattached,
# and becomes a target with the Pod's next MODIFIED event.
case_unreported_container_waits_for_its_id() {
    caps && ids
    ctr_pod_json "$NS" batch-0 "$UID_D" "$NODE" --rv 8001 --annotation flameshot.io/enabled=true \
        --waiting worker | event ADDED
    ctr_run d --pod-uid "$UID_D" --cid "$CID_D" --share-ro "$CLASSES" -- \
        /usr/bin/java -cp "$CLASSES" Idle || return 1
    ctr_wait_output d "Idle started" 60 || return 1
    d_wait_api k /v1/status '.kubernetes.processes_waiting >= 1' true 20 ||
        { echo "status: $(jq -c .kubernetes "$D_BODY")"; return 1; }
    wait_targets "$(ctr_pid app)" 1 || return 1
    ctr_pod_json "$NS" batch-0 "$UID_D" "$NODE" --rv 8002 --annotation flameshot.io/enabled=true \
        --container worker="$CID_D" | event MODIFIED
    wait_targets "$(printf '%s\n' "$(ctr_pid app)" "$(ctr_pid d)" | sort -n | tr '\n' ' ' |
        sed 's/ $//')" 30 || return 1
    d_expect k 200 /v1/targets '[.targets[] | select(.pod_name == "batch-0")][0] |
        .container_name == "worker" and .service == "worker"' || return 1
    ctr_rm d
    wait_targets "$(ctr_pid app)" 30
}

case_annotation_removed_then_back_applies_live() {
    caps && ids
    local pid; pid=$(ctr_pid app)
    pod_a --rv 9001 | event MODIFIED
    wait_targets "" 30 || return 1
    d_expect k 200 /v1/pods '.pods[] | select(.name == "'$POD_A'") | .state == "off"' || return 1
    pod_a_on --rv 9002 | event MODIFIED
    wait_targets "$pid" 30 || return 1
}

# The Pod opts out (its annotation removed) while a profile of its JVM runs
# and a snapshot waits behind it (one capture per JVM at a time): the
# snapshot is cancelled and never attaches, the profile is stopped; both
# say why. Then it opts in again.
case_opted_out_pods_queued_job_never_attaches() {
    caps && ids
    local pid prof snap st
    pid=$(ctr_pid app)
    prof=$(queue_profile "/v1/profile?namespace=$NS&pod=$POD_A&container=app&duration=20s") ||
        return 1
    wait_running "$prof" || return 1
    d_expect k 202 "/v1/snapshot?namespace=$NS&pod=$POD_A&container=app&type=thread_print" ||
        return 1
    snap=$(jq -r .job_id "$D_BODY")
    d_expect k 200 "/v1/jobs/$snap" '.state == "queued"' || return 1
    pod_a --rv 9003 | event MODIFIED
    st=$(d_wait_job k "$snap" 30) && [ "$st" = cancelled ] || { echo "snapshot $snap: $st"; return 1; }
    d_expect k 200 "/v1/jobs/$snap" '(.reason | test("^Pod '$NS/$POD_A' opted out")) and
        (.artefacts | length == 0)' || return 1
    st=$(d_wait_job k "$prof" 30) && [ "$st" = cancelled ] ||
        { echo "profile $prof: $st: $(cat "$D_BODY")"; return 1; }
    d_expect k 200 "/v1/jobs/$prof" '.reason | test("^Pod '$NS/$POD_A' opted out")' || return 1
    d_wait_log k "job $snap cancelled before it started: Pod $NS/$POD_A opted out" 5 || return 1
    ! grep -Eq "job $snap: (snapshot|profile) of pid" "$D_DIR/k/log" ||
        { echo "job $snap ran"; grep "job $snap" "$D_DIR/k/log"; return 1; }
    wait_targets "" 30 || return 1
    pod_a_on --rv 9004 | event MODIFIED
    wait_targets "$pid" 30 || return 1
}

case_pod_deleted_while_profiled_keeps_its_tags() {
    caps && ids
    local id
    id=$(queue_profile "/v1/profile?namespace=$NS&pod=$POD_A&container=app&duration=6s") ||
        return 1
    wait_running "$id"
    pod_a_on --rv 9005 | event DELETED
    d_wait_api k /v1/targets '.targets[0].pod_active' false 10 ||
        { echo "the deletion was not seen: $(cat "$D_BODY")"; return 1; }
    # a deleted Pod's process gets nothing new (asked at once: once the Pod's
    # tombstone expires, 2 minutes on, its process is no target at all)
    d_expect k 404 "/v1/profile?namespace=$NS&pod=$POD_A&container=app" \
        '.detail | contains("deleted")' ||
        { d_log k | grep -E "pid $(ctr_pid app)|kube|Pod" | tail -n 15; return 1; }
    local st; st=$(d_wait_job k "$id" 60) && [ "$st" = done ] ||
        { echo "job $id: $st: $(jq -c . "$D_BODY")"; d_log k | tail -n 25; return 1; }
    local f
    f=$(jq -r '.artefacts[0].name // empty' "$D_BODY")
    [ -f "$f.json" ] || { echo "artefact: $(cat "$D_BODY")"; return 1; }
    jq -r .tags_profiler "$f.json" | grep -q "pod_name:$POD_A" ||
        { echo "tags: $(jq -r .tags_profiler "$f.json")"; return 1; }
    d_expect k 200 /healthz || return 1
}

t_case setup_runtime_api_server_and_agent case_setup_runtime_api_server_and_agent
t_case only_the_annotated_container_is_a_target case_only_the_annotated_container_is_a_target
t_case limits_come_from_the_containers_memcg case_limits_come_from_the_containers_memcg
t_case pods_endpoint_and_watch_status case_pods_endpoint_and_watch_status
t_case malformed_annotation_becomes_an_event case_malformed_annotation_becomes_an_event
t_case cpu_threshold_profiles_it_with_the_pods_tags case_cpu_threshold_profiles_it_with_the_pods_tags
t_case http_trigger_selects_by_namespace_pod_container case_http_trigger_selects_by_namespace_pod_container
t_case unreported_container_waits_for_its_id case_unreported_container_waits_for_its_id
t_case annotation_removed_then_back_applies_live case_annotation_removed_then_back_applies_live
t_case opted_out_pods_queued_job_never_attaches case_opted_out_pods_queued_job_never_attaches
t_case pod_deleted_while_profiled_keeps_its_tags case_pod_deleted_while_profiled_keeps_its_tags
t_case agent_stops_cleanly d_stop k
t_done
