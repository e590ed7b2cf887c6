#!/bin/bash
# The local directory sink (no FLAMESHOT_DATAKIT_ADDR) and the disk budget:
# artefacts land under profiles/<ns>/<pod>/<container>/ or
# profiles/host/<service>/ with a sidecar .json each, listed in
# profiles/index.json; past FLAMESHOT_SPOOL_MAX_MB the oldest are dropped,
# logged and counted, pending or kept, and the index follows.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/lib/outbox.sh"

OB_TMP=$(mktemp -d /tmp/outbox_lo.XXXXXX)
trap ob_cleanup EXIT
JFR=$OB_TMP/burner.jfr

prereqs() {
    need "[ -x '$FEED' ]" "test helpers not built (make test-build)"
    need "command -v java && command -v jcmd && command -v jfr" "no JDK (java, jcmd, jfr)"
    need "command -v jq" "jq not installed (make deps)"
    need "[ -f '$BUILD/tests/java/Burner.class' ]" "Java fixtures not built"
}

feed() {
    "$FEED" --root "$OB_TMP/root" "$@" 2>>"$OB_TMP/feed.log"
}

case_layout_sidecars_and_index() {
    prereqs
    ob_make_jfr "$JFR" || { echo "could not record a JFR"; return 1; }
    feed put-profile "$JFR" 1 put-snapshot "$ROOT/tests/lib/outbox.sh" 1 \
        put-summary oom_hprof 1 put-summary process_exit 1 run-until-empty 20 >"$OB_TMP/o1" ||
        { cat "$OB_TMP/o1"; return 1; }
    feed --k8s put-profile "$JFR" 1 run-until-empty 20 >"$OB_TMP/o2" || return 1
    local host=$OB_TMP/root/profiles/host/feed-svc k8s=$OB_TMP/root/profiles/shop/orders-7f9c/app
    local jfr; jfr=$(ls "$host"/profile_7_*.jfr)
    cmp "$jfr" "$JFR" && jfr summary "$jfr" >/dev/null || { echo "JFR not kept intact"; return 1; }
    jq -e --arg p "$(basename "$jfr")" '.payload == $p and .artefact.kind == "profile" and
        (.tags_profiler | contains("service:feed-svc,env:test,version:1.2.3,host:node-feed")) and
        .artefact.trigger_tags.trigger == "memory_emergency"' "$jfr.json" >/dev/null ||
        { echo "profile sidecar wrong"; return 1; }
    local txt; txt=$(ls "$host"/jcmd_thread_print_7_*.txt)
    jq -e --arg p "$txt" '.summary.measurement == "flameshot_jcmd_snapshot" and
        .summary.fields.output_path == $p and .summary.fields.status == "info"' "$txt.json" \
        >/dev/null || { echo "jcmd sidecar wrong"; return 1; }
    jq -e '.payload == null and .summary.measurement == "flameshot_oom_hprof" and
        .summary.fields.hprof_size_bytes == 123 and .summary.tags.service == "feed-svc"' \
        "$host"/oom_hprof_7_*.json >/dev/null || { echo "oom summary wrong"; return 1; }
    jq -e '.summary.fields.status == "warning"' "$host"/process_exit_7_*.json >/dev/null ||
        { echo "process exit summary wrong"; return 1; }
    ls "$k8s"/profile_7_*.jfr "$k8s"/profile_7_*.jfr.json >/dev/null ||
        { echo "no Kubernetes layout"; return 1; }
    local idx=$OB_TMP/root/profiles/index.json
    jq -e 'length == 5 and all(.[]; (.path | length) > 0 and .size_bytes > 0)' "$idx" \
        >/dev/null || { cat "$idx"; echo "index wrong"; return 1; }
    jq -r '.[].path' "$idx" | while read -r f; do [ -f "$f" ] || exit 1; done ||
        { echo "the index names a missing file"; return 1; }
    jq -e 'map(select(.pod_name == "orders-7f9c" and .pod_namespace == "shop" and
        .container_name == "app")) | length == 1' "$idx" >/dev/null || { echo "no pod in index"; return 1; }
}

case_budget_drops_oldest_logged_and_counted() {
    prereqs
    [ -s "$JFR" ] || ob_make_jfr "$JFR" || return 1
    rm -rf "$OB_TMP/root"
    : >"$OB_TMP/feed.log"
    local size; size=$(stat -c %s "$JFR")
    local budget=$((size * 7 / 2 + 16384)) # room for 3 profiles, not 4
    feed --spool-max-bytes "$budget" put-profile "$JFR" 6 stats >"$OB_TMP/o3" || return 1
    grep '^stats' "$OB_TMP/o3" | tail -n1 | sed 's/^stats //' | jq -e '.items == 3 and
        .dropped == 3' >/dev/null || { cat "$OB_TMP/o3"; echo "want 3 kept, 3 dropped"; return 1; }
    [ "$(grep -c 'dropped pending profile .*disk budget FLAMESHOT_SPOOL_MAX_MB' "$OB_TMP/feed.log")" = 3 ] ||
        { cat "$OB_TMP/feed.log"; echo "want 3 drops logged"; return 1; }
    [ "$(jq -r '.rule_tags.seq' "$OB_TMP"/root/outbox/*.json | sort -n | tr '\n' ' ')" = "4 5 6 " ] ||
        { echo "not the oldest dropped"; return 1; }
    feed --spool-max-bytes "$budget" run-until-empty 20 >/dev/null || return 1
    # two more: the two oldest kept files go, the index follows
    feed --spool-max-bytes "$budget" --seq-start 7 put-profile "$JFR" 2 run-until-empty 20 \
        >"$OB_TMP/o4" || return 1
    grep '^stats' "$OB_TMP/o4" | sed 's/^stats //' | jq -e '.dropped == 2 and .local_items == 3
        and (.local_bytes + .bytes) <= .max_bytes' >/dev/null ||
        { cat "$OB_TMP/o4"; echo "want 2 more drops"; return 1; }
    local host=$OB_TMP/root/profiles/host/feed-svc
    [ "$(jq -r '.artefact.rule_tags.seq' "$host"/*.jfr.json | sort -n | tr '\n' ' ')" = "6 7 8 " ] ||
        { echo "the oldest kept files were not the ones dropped"; return 1; }
    [ "$(ls "$host"/*.jfr | wc -l)" = 3 ] || { echo "dropped files still on disk"; return 1; }
    jq -e 'length == 3' "$OB_TMP/root/profiles/index.json" >/dev/null ||
        { echo "index not updated after drops"; return 1; }
    [ "$(grep -c 'dropped profile profiles/host/feed-svc/' "$OB_TMP/feed.log")" = 2 ] ||
        { echo "local drops not logged"; return 1; }
}

t_case "local sink: layout, sidecars and index" case_layout_sidecars_and_index
t_case "disk budget: oldest dropped first, logged, counted" \
    case_budget_drops_oldest_logged_and_counted
t_done
