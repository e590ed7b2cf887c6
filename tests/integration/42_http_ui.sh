#!/bin/bash
# The /ui pages of the real daemon (standalone mode) with curl: a Burner JVM
# profiled twice and snapshotted through the API lands in the local sink;
# /ui lists them grouped per service (and, for a record kept from a
# Kubernetes target, per namespace/Pod/container) with trigger and time and
# the links to open them; the flame graph, heat map, range and diff pages
# are 200 text/html with a Content-Security-Policy that forbids the
# network; a snapshot is text/plain, nosniff and sandboxed; the bearer
# token is required; an unknown id is 404, traversal 400/404; a render
# over FLAMESHOT_UI_MAX_KB is refused with 413 saying so. With
# FLAMESHOT_LOCAL_KEEP=true and a DataKit stand-in
# (build/tests/helpers/datakit_receiver) a profile is both delivered and
# kept, byte for byte, and /ui renders the kept copy.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/daemon.sh"
source "$ROOT/tests/lib/outbox.sh"
CLASSES=$BUILD/tests/java
MARK=ui$$
TOKEN=ui-t0ken-$MARK
AUTH=(-H "Authorization: Bearer $TOKEN")
RULES='[{"service":"ui-burner","command":"^\\S*java\\s.*-Dflameshot\\.test='"$MARK"'(\\s|$)",
         "duration":"3s","events":"cpu"}]'
OB_TMP=$(mktemp -d /tmp/flameshot-ui-test.XXXXXX)
# the cases run in subshells (t_case): what they start is recorded in files
trap 'cat "$OB_TMP"/*.pid 2>/dev/null | xargs -r kill 2>/dev/null; ob_cleanup; d_cleanup' EXIT

caps() {
    need d_can_run "needs root, curl, jq, ss and build/flameshotd"
    need "command -v java && command -v jfr" "needs a JDK (java, jfr)"
    need "[ -f '$CLASSES/Burner.class' ] && [ -x '$RECEIVER' ]" "run make test-build first"
    [ -f "$OB_TMP/ready" ] || { cat "$OB_TMP/setup.err"; echo "setup failed"; exit 1; }
}

# ui NAME CODE PATH [curl args]: GET with the token; checks the status.
ui() {
    local name=$1 want=$2 path=$3 code
    shift 3
    code=$(d_api "$name" "$path" "${AUTH[@]}" "$@")
    [ "$code" = "$want" ] && return 0
    echo "GET $path: $code, want $want: $(head -c 600 "$D_BODY")"
    echo "the daemon's log ends:"
    tail -n 15 "$D_DIR/$name/log"
    return 1
}

is_page() { # the last answer: HTML with a CSP that allows no network
    d_header Content-Type | grep -q '^text/html; charset=utf-8$' || { echo "type $(d_header Content-Type)"; return 1; }
    local csp; csp=$(d_header Content-Security-Policy)
    [[ $csp == *"default-src 'none'"* && $csp != *http* && $csp != *"connect-src"* ]] ||
        { echo "CSP: $csp"; return 1; }
    [ "$(d_header X-Content-Type-Options)" = nosniff ] || { echo "no nosniff"; return 1; }
    grep -qi '<html' "$D_BODY" || { echo "not a page: $(head -c 300 "$D_BODY")"; return 1; }
}

wait_done() { # NAME: the job of the last 202 ends done (d_wait_job, with the token)
    local id st
    id=$(jq .job_id "$D_BODY")
    st=$(d_wait_job "$1" "$id" 120 "${AUTH[@]}")
    [ "$st" = done ] && return 0
    echo "job $id: $(cat "$D_BODY")"
    return 1
}

# The JVM, the daemon, two profiles and a snapshot, once for every case.
setup() {
    java -Dflameshot.test="$MARK" -cp "$CLASSES" Burner >"$OB_TMP/jvm.out" 2>&1 &
    echo $! >"$OB_TMP/jvm.pid"
    local i p
    for i in $(seq 1 300); do
        grep -q "Burner started" "$OB_TMP/jvm.out" && break
        sleep 0.1
    done
    p=$(cat "$OB_TMP/jvm.pid")
    d_start main FLAMESHOT_PROCESSES="$RULES" FLAMESHOT_HTTP_TOKEN="$TOKEN" || return 1
    d_wait_api main /v1/targets .count 1 30 "${AUTH[@]}" ||
        { echo "targets: $(cat "$D_BODY")"; return 1; }
    local k
    for k in 1 2; do
        ui main 202 "/v1/profile?pid=$p&duration=3s&events=cpu" && wait_done main || return 1
        jq -r '.artefacts[0].name' "$D_BODY" >"$OB_TMP/profile$k"
    done
    ui main 202 "/v1/snapshot?pid=$p&type=thread_print" && wait_done main || return 1
    jq -r '.artefacts[0].name' "$D_BODY" >"$OB_TMP/snapshot"
    # the records reach the local sink through the outbox, after the jobs
    # the cases judge what came (artefacts.json)
    d_wait_api main /v1/artefacts '[.artefacts[] | select(.service == "ui-burner")] | length' 3 \
        30 "${AUTH[@]}"
    cp "$D_BODY" "$OB_TMP/artefacts.json"
    touch "$OB_TMP/ready"
}

id_of() { # the index id of the file in $OB_TMP/<name>
    jq -r --arg p "$(cat "$OB_TMP/$1")" '.artefacts[] | select(.path == $p) | .id' "$OB_TMP/artefacts.json"
}

case_list() {
    caps
    SRC=127.0.0.21
    local p1 p2 s
    p1=$(id_of profile1); p2=$(id_of profile2); s=$(id_of snapshot)
    [ -n "$p1" ] && [ -n "$p2" ] && [ -n "$s" ] || { cat "$OB_TMP/artefacts.json"; return 1; }
    ui main 200 /ui && is_page || return 1
    local b=$D_BODY
    grep -q '<h2>host/ui-burner</h2>' "$b" || { echo "no service group"; return 1; }
    grep -q "href=\"/ui/flamegraph?id=$p1\"" "$b" && grep -q "href=\"/ui/heatmap?id=$p2\"" "$b" &&
        grep -q "href=\"/ui/snapshot?id=$s\"" "$b" ||
        { echo "links missing"; grep -o 'href="[^"]*"' "$b" | head; return 1; }
    grep -q "href=\"/ui/diff?base=$p1&amp;id=$p2\"" "$b" || { echo "no diff against the previous"; return 1; }
    grep -q "<td>http</td>" "$b" || { echo "no trigger"; return 1; }
    local created; created=$(jq -r --arg i "$p1" '.artefacts[] | select(.id == $i) | .created' "$OB_TMP/artefacts.json")
    grep -q "<td>$created</td>" "$b" || { echo "no time $created"; return 1; }
    ui main 400 "/ui?x=1" || return 1
}

case_token_required() {
    caps
    SRC=127.0.0.22
    local code
    code=$(d_api main /ui)
    [ "$code" = 401 ] || { echo "no token: $code"; return 1; }
    code=$(d_api main "/ui/flamegraph?id=$(id_of profile1)" -H "Authorization: Bearer wrong")
    [ "$code" = 401 ] || { echo "wrong token: $code"; return 1; }
}

case_flamegraph_range_heatmap_diff() {
    caps
    SRC=127.0.0.23
    local p1 p2
    p1=$(id_of profile1); p2=$(id_of profile2)
    ui main 200 "/ui/flamegraph?id=$p1" && is_page || return 1
    grep -q flameshotBurnCpu "$D_BODY" || { echo "the burning method is not drawn"; return 1; }
    grep -q "ui-burner" "$D_BODY" || { echo "no title naming the service"; return 1; }
    ui main 200 "/ui/flamegraph?id=$p1&event=cpu&icicle=1" && is_page || return 1
    ui main 200 "/ui/flamegraph?id=$p1&from=0&to=60" && is_page || return 1
    ui main 200 "/ui/flamegraph?id=$p1&from=&to=" && is_page || return 1 # the empty range form
    ui main 404 "/ui/flamegraph?id=$p1&from=3600" || return 1
    grep -q "no cpu samples in the range" "$D_BODY" || { cat "$D_BODY"; return 1; }
    ui main 404 "/ui/flamegraph?id=$p1&event=nativemem" || return 1
    ui main 200 "/ui/heatmap?id=$p2" && is_page || return 1
    ui main 200 "/ui/diff?base=$p1&id=$p2" && is_page || return 1
    ui main 400 "/ui/flamegraph?id=$p1&base=$p2" || return 1
    ui main 400 "/ui/flamegraph?id=$p1&event=bogus" || return 1
    ui main 400 "/ui/flamegraph?id=$p1&from=yesterday" || return 1
    ui main 400 "/ui/diff?id=$p2" || return 1
    local code; code=$(d_api main "/ui/flamegraph?id=$p1" "${AUTH[@]}" -X POST)
    [ "$code" = 405 ] || { echo "POST: $code"; return 1; }
}

case_snapshot_as_text() {
    caps
    SRC=127.0.0.24
    ui main 200 "/ui/snapshot?id=$(id_of snapshot)" || return 1
    [ "$(d_header Content-Type)" = "text/plain; charset=utf-8" ] || { echo "type $(d_header Content-Type)"; return 1; }
    [ "$(d_header X-Content-Type-Options)" = nosniff ] || { echo "no nosniff"; return 1; }
    d_header Content-Security-Policy | grep -q "sandbox" || { echo "not sandboxed"; return 1; }
    cmp -s "$D_BODY" "$(cat "$OB_TMP/snapshot")" || { echo "not the snapshot's text"; return 1; }
    grep -q '"flameshot-burner"' "$D_BODY" || { echo "no burner thread"; return 1; }
    ui main 404 "/ui/snapshot?id=$(id_of profile1)" || return 1 # a profile is not a snapshot
    ui main 404 "/ui/flamegraph?id=$(id_of snapshot)" || return 1
}

case_unknown_ids_and_traversal() {
    caps
    SRC=127.0.0.25
    ui main 404 "/ui/flamegraph?id=00000000000000000001-deadbeef" || return 1
    jq -e '.error == "no such artefact"' "$D_BODY" >/dev/null || { cat "$D_BODY"; return 1; }
    local bad
    for bad in ../../../../etc/passwd %2Fetc%2Fpasswd "$(id_of profile1)%2F.." "$(id_of profile1)x" ""; do
        ui main 400 "/ui/flamegraph?id=$bad" || return 1
        ui main 400 "/ui/snapshot?id=$bad" || return 1
    done
    ui main 404 "/ui/../v1/status" --path-as-is || return 1
    ui main 404 "/ui/flamegraph/../../etc/passwd" --path-as-is || return 1
    ui main 404 "/ui/nosuchpage" || return 1
}

# The same data seen by a daemon with a 1 KiB render budget, plus two
# records indexed at start like any kept file: a copy of a profile with the
# k8s fields a Pod's profile carries, and collapsed stacks (which /ui
# renders as the CLI does) with 5000 distinct stacks, over any 1 KiB.
seed() { # SRC-SIDECAR DIR FILE ID-SUFFIX JQ-EDIT
    mkdir -p "$2" && jq --arg id "$(jq -r .artefact.id "$1" | sed "s/-........\$/-$4/")" --arg f "$3" \
        ".artefact.id = \$id | .payload = \$f | $5" "$1" >"$2/$3.json" && jq -r .artefact.id "$2/$3.json"
}

case_kubernetes_groups_and_over_budget_413() {
    caps
    SRC=127.0.0.26
    d_stop main || return 1
    local data src pod big i
    data=$(d_data main); src=$(cat "$OB_TMP/profile1")
    pod=$(seed "$src.json" "$data/profiles/shop/orders-7f9c/app" profile_1_k8s.jfr 0000cafe \
        '.artefact.service = "orders" | .artefact.k8s = {pod_name: "orders-7f9c",
         pod_namespace: "shop", container_name: "app", pod_uid: "u-1", container_id: "containerd://c1"}') &&
        cp "$src" "$data/profiles/shop/orders-7f9c/app/profile_1_k8s.jfr" || return 1
    big=$(seed "$src.json" "$(dirname "$src")" profile_1_big.txt 0000b16b .) || return 1
    for i in $(seq 1 5000); do echo "java/lang/Thread.run;Main.work;Main.step$i 1"; done \
        >"$(dirname "$src")/profile_1_big.txt"
    d_start small FLAMESHOT_PROFILING_PATH="$data" FLAMESHOT_HTTP_TOKEN="$TOKEN" FLAMESHOT_UI_MAX_KB=1 ||
        return 1
    ui small 200 /ui && is_page || return 1
    grep -q '<h2>shop/orders-7f9c/app (orders)</h2>' "$D_BODY" || { echo "no Pod group"; return 1; }
    grep -q "href=\"/ui/flamegraph?id=$pod\"" "$D_BODY" || { echo "no link to the Pod's profile"; return 1; }
    ui small 413 "/ui/flamegraph?id=$big" || return 1
    jq -e '.error == "too large to render" and
        (.detail | contains("FLAMESHOT_UI_MAX_KB (1 KiB)"))' "$D_BODY" >/dev/null || { cat "$D_BODY"; return 1; }
    ui small 413 "/ui/diff?base=$big&id=$pod" || return 1
    d_stop small
}

case_local_keep_beside_datakit() {
    caps
    SRC=127.0.0.27
    ob_receiver_start "$OB_TMP/dk" || { echo "receiver did not start"; return 1; }
    echo "$RECV_PID" >"$OB_TMP/receiver.pid"
    d_start dk FLAMESHOT_PROCESSES="$RULES" FLAMESHOT_HTTP_TOKEN="$TOKEN" FLAMESHOT_LOCAL_KEEP=true \
        FLAMESHOT_DATAKIT_ADDR="http://127.0.0.1:$RECV_PORT/profiling/v1/input" || return 1
    local i p
    p=$(cat "$OB_TMP/jvm.pid")
    d_wait_api dk /v1/targets .count 1 30 "${AUTH[@]}" ||
        { echo "targets: $(cat "$D_BODY")"; return 1; }
    ui dk 202 "/v1/profile?pid=$p&duration=2s&events=cpu" && wait_done dk || return 1
    local kept; kept=$(jq -r '.artefacts[0].name' "$D_BODY")
    for i in $(seq 1 300); do
        [ "$(ob_records "$OB_TMP/dk")" -ge 1 ] && break
        sleep 0.1
    done
    local sent; sent=$(jq -r 'select(.kind == "profile") | .jfr_path' "$OB_TMP/dk/records.jsonl")
    [ -n "$sent" ] || { echo "nothing delivered to DataKit"; return 1; }
    d_wait_file "$kept" 30 >/dev/null || { echo "not kept at $kept"; return 1; }
    cmp "$sent" "$kept" || { echo "DataKit got other bytes than were kept"; return 1; }
    ui dk 200 /v1/artefacts && jq -e --arg k "$kept" 'any(.artefacts[]; .path == $k)' "$D_BODY" >/dev/null ||
        { echo "not in the index"; return 1; }
    local id; id=$(jq -r --arg k "$kept" '.artefacts[] | select(.path == $k) | .id' "$D_BODY")
    ui dk 200 "/ui/flamegraph?id=$id" && is_page || return 1
    ui dk 200 /v1/status && jq -e '.outbox.items == 0 and .outbox.local_items == 1' "$D_BODY" >/dev/null ||
        { echo "outbox: $(jq -c .outbox "$D_BODY")"; return 1; }
    d_stop dk
}

setup >"$OB_TMP/setup.err" 2>&1 || true
t_case "/ui lists profiles and snapshots per service with trigger, time and links" case_list
t_case "/ui needs the bearer token" case_token_required
t_case "flame graph, range, heat map, diff: 200 text/html with CSP; bad parameters 400" case_flamegraph_range_heatmap_diff
t_case "a snapshot is text/plain, nosniff, sandboxed" case_snapshot_as_text
t_case "unknown id 404, traversal 400/404" case_unknown_ids_and_traversal
t_case "a Pod's record grouped per namespace/Pod/container; over FLAMESHOT_UI_MAX_KB 413" case_kubernetes_groups_and_over_budget_413
t_case "FLAMESHOT_LOCAL_KEEP=true: delivered to DataKit and kept, /ui renders it" case_local_keep_beside_datakit
t_done
