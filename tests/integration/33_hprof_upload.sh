#!/bin/bash
# .hprof upload to object storage (FLAMESHOT_HPROF_UPLOAD_*) end to end,
# against tests/helpers/s3_server.py: a local S3 that recomputes every
# request's SigV4 signature with Debian's python3-botocore and refuses any
# that does not match. Namespaced JVMs (tests/fixtures/java/OomApp) write
# a heap dump on an OutOfMemoryError; the agent finds it (oomwatch), copies
# it out of the container and uploads it (multipart: the dumps are above
# the 8 MiB part size); the flameshot_oom_hprof record carries the object
# key, the download URL and the upload status. An outage in the middle of
# a multipart upload and an agent restart: the upload resumes at the first
# part not sent, with the same upload id. Wrong credentials: the record
# says why. AssumeRole: refused at start. An active heap dump (a memory
# emergency, FLAMESHOT_HEAP_DUMP_ENABLED) goes up the same way.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"
source "$ROOT/tests/lib/daemon.sh"
CLASSES=$BUILD/tests/java
PY=/usr/bin/python3 # Debian's: python3-botocore is installed for it
WORK=$(mktemp -d /var/tmp/flameshot-upload-test.XXXXXX)
trap 's3_stop_all; d_cleanup; ct_cleanup; rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"
AK=AKIDTEST
SK='secret/test+key'
TOKEN='session/token+1='

caps() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    need "ct_can_run" "needs unshare, setpriv and cgroup v1 memory"
    need "command -v java && command -v jq" "needs java and jq"
    need "$PY -c 'import botocore.auth'" "needs python3-botocore (tools/deps.sh)"
    need "[ -x '$FLAMESHOTD' ] && [ -f '$CLASSES/OomApp.class' ] && [ -f '$CLASSES/Leaker.class' ]" \
        "run make test-build first"
}

# s3_start NAME [server args...]: the server, its state in $WORK/s3-NAME
s3_start() {
    local name=$1 i; shift
    local dir=$WORK/s3-$name
    mkdir -p "$dir"
    "$PY" "$ROOT/tests/helpers/s3_server.py" "$dir" --access-key "$AK" --secret-key "$SK" \
        --token "$TOKEN" "$@" >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    for i in $(seq 1 100); do
        [ -s "$dir/port" ] && return 0
        sleep 0.1
    done
    echo "s3_server did not start:"; cat "$dir/log"
    return 1
}
s3_port() { cat "$WORK/s3-$1/port"; }
s3_requests() { cat "$WORK/s3-$1/requests.jsonl"; }
s3_stop_all() {
    local p
    for p in "$WORK"/s3-*/pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
}

# the upload settings for server NAME (extra VAR=value follow)
upload_env() {
    echo FLAMESHOT_HPROF_UPLOAD_ENABLED=true FLAMESHOT_HPROF_UPLOAD_PROVIDER=s3 \
        FLAMESHOT_HPROF_UPLOAD_ENDPOINT="http://127.0.0.1:$(s3_port "$1")" \
        FLAMESHOT_HPROF_UPLOAD_BUCKET=dumps FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID=$AK \
        FLAMESHOT_HPROF_UPLOAD_SECURITY_TOKEN="$TOKEN"
}

# every request the server saw was signed right (none refused)
all_signed() {
    local bad
    bad=$(s3_requests "$1" | jq -c 'select(.method and .sig != "ok" and .sig != "not checked")')
    [ -z "$bad" ] || { echo "requests not signed right: $bad"; return 1; }
    s3_requests "$1" | jq -e -s '[.[] | select(.sig == "ok")] | length > 0' >/dev/null ||
        { echo "the server saw no signed request"; return 1; }
}

# a JVM that fills its heap and stays (a Java-level OutOfMemoryError)
start_stay() {
    local name=$1
    mkdir -p "$WORK/$name"; chmod 1777 "$WORK/$name"
    ct_start "$name" --share "$WORK/$name" -- /usr/bin/java -Xmx48m -XX:+UseSerialGC \
        -Doomapp.delay=3000 -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$WORK/$name" \
        -cp "$CLASSES" OomApp stay "$name"
}
stay_rules() { echo 'FLAMESHOT_PROCESSES=[{"service":"oomapp","command":"OomApp stay '"$1"'$"}]'; }

case_oom_kill_dump_uploaded() {
    caps
    s3_start kill || return 1
    mkdir -p "$WORK/kill"; chmod 1777 "$WORK/kill"
    # shellcheck disable=SC2046
    d_start kill FLAMESHOT_OOM_HPROF_ENABLED=true $(upload_env kill) \
        FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET="$SK" \
        FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE='https://dl.example/{bucket}/{object_key}?pod={pod_name}' \
        FLAMESHOT_PROCESSES='[{"service":"oomapp","command":"OomApp 33001$"}]' || return 1
    ct_start kill --mem-limit 268435456 --share "$WORK/kill" -- \
        /usr/bin/java -Xmx48m -XX:+UseSerialGC -XX:MaxDirectMemorySize=2g -Doomapp.delay=4000 \
        -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$WORK/kill" -cp "$CLASSES" OomApp 33001 ||
        return 1
    local ns; ns=$(ct_nspid kill)
    d_wait_log kill "OOM kill: victim pid [0-9]+ \\(java\\)" 60 || { ct_output kill; return 1; }
    local dump="$WORK/kill/java_pid$ns.hprof" rec
    [ -s "$dump" ] || { echo "the JVM wrote no dump"; return 1; }
    rec=$(d_wait_json "$(d_profiles kill)/host/oomapp/oom_hprof_*.json" \
        '.summary.fields.matched_by == "path+time_window"' 60) || { d_log kill | tail -20; return 1; }
    local key
    key=$(jq -r .summary.fields.hprof_object_key "$rec")
    jq -e --arg p "$dump" '.summary.fields | .hprof_upload_status == "ok" and
        .hprof_upload_error == "" and .hprof_upload_provider == "s3" and .hprof_path == $p and
        (.hprof_object_key | test("^oomapp/[0-9]{8}T[0-9]{6}Z/java_pid[0-9]+\\.hprof$")) and
        .hprof_download_url == "https://dl.example/dumps/\(.hprof_object_key)?pod="' "$rec" \
        >/dev/null || { jq .summary.fields "$rec"; return 1; }
    # the object is the dump, byte for byte, sent in parts with a valid signature
    cmp "$dump" "$WORK/s3-kill/objects/$key" || return 1
    s3_requests kill | jq -e -s '[.[] | select(.op == "UploadPart" and .status == 200)] | length >= 2' \
        >/dev/null || { echo "no multipart upload"; s3_requests kill; return 1; }
    all_signed kill || return 1
    # the spool holds nothing once it is done; the secrets are never logged
    [ -z "$(ls "$(d_data kill)/uploads")" ] || { ls -la "$(d_data kill)/uploads"; return 1; }
    ! grep -qF -e "$SK" -e "$TOKEN" "$D_DIR/kill/log" || { echo "a secret is in the log"; return 1; }
    d_api kill /v1/status >/dev/null
    ! grep -qF -e "$SK" -e "$TOKEN" "$D_BODY" || { echo "a secret is in /v1/status"; return 1; }
    jq -e '.. | objects | select(has("access_key_secret")) |
        .access_key_secret == "***" and .security_token == "***"' "$D_BODY" >/dev/null ||
        { echo "/v1/status does not show the upload settings redacted"; return 1; }
}

case_outage_and_restart_resume() {
    caps
    # the server stops listening once two parts are in (connection refused)
    s3_start outage --outage-after-parts 2 --outage refuse || return 1
    local env_up; env_up="$(upload_env outage) FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET=$SK"
    # shellcheck disable=SC2086
    d_start outage FLAMESHOT_OOM_HPROF_ENABLED=true $env_up "$(stay_rules outage)" || return 1
    start_stay outage || return 1
    local ns; ns=$(ct_nspid outage)
    d_wait_log outage "uploading .*: .*attempt 1 failed" 60 || { d_log outage | tail; return 1; }
    local state
    state=$(ls "$(d_data outage)"/uploads/*.json) || return 1
    jq -e '(.parts | length) == 2 and .upload_id != ""' "$state" >/dev/null || { cat "$state"; return 1; }
    # the agent stops during the outage; the server comes back; a new start resumes
    d_stop outage || return 1
    kill -USR1 "$(cat "$WORK/s3-outage/pid")"
    D_PORT='' d_start outage FLAMESHOT_OOM_HPROF_ENABLED=true $env_up "$(stay_rules outage)" || return 1
    d_wait_log outage "resuming the multipart upload of .* after part 2" 10 || return 1
    local rec
    rec=$(d_wait_json "$(d_profiles outage)/host/oomapp/oom_hprof_*.json" \
        '.summary.fields.hprof_upload_status == "ok"' 60) ||
        { d_log outage | tail -20; find "$(d_data outage)" -type f; return 1; }
    local key; key=$(jq -r .summary.fields.hprof_object_key "$rec")
    cmp "$WORK/outage/java_pid$ns.hprof" "$WORK/s3-outage/objects/$key" || return 1
    # one upload id; parts 1 and 2 sent once (before the restart), then the rest
    s3_requests outage | jq -e -s '
        ([.[] | select(.op == "CreateMultipartUpload")] | length) == 1 and
        ([.[] | select(.op == "UploadPart" and .status == 200) | .part] | (. == (. | unique))
            and .[0] == 1 and .[1] == 2 and length >= 3) and
        ([.[] | select(.op == "CompleteMultipartUpload" and .status == 200)] | length) == 1' \
        >/dev/null || { s3_requests outage | jq -c 'del(.key)'; return 1; }
    # the record was not sent twice, and it does not say "retrying"
    [ "$(ls "$(d_profiles outage)"/host/oomapp/oom_hprof_*.json | wc -l)" = 1 ] || return 1
    all_signed outage
    ct_stop outage
}

case_wrong_credentials_say_why() {
    caps
    s3_start creds || return 1
    # shellcheck disable=SC2046
    d_start creds FLAMESHOT_OOM_HPROF_ENABLED=true $(upload_env creds) \
        FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET=not-the-secret "$(stay_rules creds)" || return 1
    start_stay creds || return 1
    local rec
    rec=$(d_wait_json "$(d_profiles creds)/host/oomapp/oom_hprof_*.json" \
        '.summary.fields.matched_by == "new_file"' 60) || { d_log creds | tail -20; return 1; }
    jq -e '.summary.fields | .hprof_upload_status == "failed" and
        (.hprof_upload_error | test("HTTP 403 SignatureDoesNotMatch"))' "$rec" >/dev/null ||
        { jq .summary.fields "$rec"; return 1; }
    # refused by the independent check, and given up at once (not retried)
    s3_requests creds | jq -e -s '[.[] | select(.sig == "SignatureDoesNotMatch")] | length == 1' \
        >/dev/null || { s3_requests creds; return 1; }
    ! grep -qF "not-the-secret" "$D_DIR/creds/log" || { echo "the secret is in the log"; return 1; }
    ct_stop creds
}

case_active_heap_dump_uploaded() {
    caps
    s3_start active || return 1
    # shellcheck disable=SC2046
    d_start active FLAMESHOT_HEAP_DUMP_ENABLED=true $(upload_env active) \
        FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET="$SK" \
        FLAMESHOT_PROCESSES='[{"service":"leaker","command":"Leaker 40 go 80$","mem_usage_mb_emergency":100,"emergency_duration":"2s"}]' ||
        return 1
    ct_start active -- /usr/bin/java -Xmx256m -XX:+UseSerialGC -cp "$CLASSES" Leaker 40 go 80 &&
        ct_wait_output active "Leaker started" 30 || return 1
    local pid; pid=$(ct_pid active)
    d_wait_log active "watching pid $pid " 20 || return 1
    touch "/proc/$pid/root/tmp/go"
    local rec
    rec=$(d_wait_json "$(d_profiles active)/host/leaker/oom_hprof_*.json" \
        '.summary.fields.matched_by == "memory_emergency"' 90) || { d_log active | tail -20; return 1; }
    jq -e '.summary.fields | .heap_dump_status == "ok" and .hprof_upload_status == "ok" and
        (.hprof_object_key | test("^leaker/[0-9]{8}T[0-9]{6}Z/leaker_.*\\.hprof\\.gz$"))' "$rec" \
        >/dev/null || { jq .summary.fields "$rec"; return 1; }
    # the object is the dump the node keeps
    cmp "$(jq -r .summary.fields.hprof_path "$rec")" \
        "$WORK/s3-active/objects/$(jq -r .summary.fields.hprof_object_key "$rec")" || return 1
    all_signed active || return 1
    d_stop active && ct_stop active
}

case_assume_role_refused() {
    local err
    err=$(env -i PATH="$PATH" FLAMESHOT_PROFILING_PATH="$WORK/ar" \
        FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE=assume_role "$FLAMESHOTD" --check-config 2>&1 >/dev/null)
    [ $? = 2 ] && [[ $err == *"FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE"*"not supported"* ]] ||
        { echo "$err"; return 1; }
    err=$(env -i PATH="$PATH" FLAMESHOT_PROFILING_PATH="$WORK/ar" \
        FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_ARN=acs:ram::1:role/r "$FLAMESHOTD" --check-config 2>&1 >/dev/null)
    [ $? = 2 ] && [[ $err == *"FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_ARN: AssumeRole is not supported"* ]] ||
        { echo "$err"; return 1; }
}

t_case "OOM kill: the dump is uploaded in parts, signed, and the record names key and URL" case_oom_kill_dump_uploaded
t_case "an outage mid-upload and an agent restart: the multipart upload resumes and completes" case_outage_and_restart_resume
t_case "wrong credentials: the record says failed and why" case_wrong_credentials_say_why
t_case "AssumeRole settings are refused at start" case_assume_role_refused
t_case "an active heap dump on a memory emergency is uploaded too" case_active_heap_dump_uploaded
t_done
