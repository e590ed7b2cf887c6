#!/bin/bash
# The HTTP API under abuse, against the daemon built with ASan and UBSan
# (build/asan/flameshotd): malformed query strings (bad percent-encoding,
# NUL and control bytes, invalid UTF-8, repeated and unknown parameters,
# huge values and URLs, huge headers, raw bytes no client library would
# send); a flood of 5000 requests from five client addresses (bounded
# answers, 429s, the daemon responsive afterwards, probes never limited);
# the connection limits per client and in total and the idle timeout; the
# bearer token (constant-time compare is unit-tested) with Kubernetes-mode
# Pod selectors; a node address refused without a token unless
# FLAMESHOT_HTTP_INSECURE=true. Every answer must be a well-formed HTTP response and the
# sanitizers must stay silent.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
FLAMESHOTD=${FLAMESHOTD_ASAN:-${BUILD:-$ROOT/build}/asan/flameshotd}
source "$ROOT/tests/integration/40_http_lib.bash"
trap h_cleanup EXIT
# memory errors, leaks at exit and undefined behaviour stop the daemon and
# fail the test (tests/run.sh also sends the reports to files)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

TOKEN=tok-$$-$RANDOM-s3cr3t
RULES='[{"service":"abuse","command":"^\\S*java\\s.*-Dflameshot\\.test=abuse'"$$"'"}]'

caps() {
    need h_can_run "needs root, curl, jq, ss and the test build (make test-build)"
    [ -f "$H_DIR/ready" ] || { cat "$H_DIR/setup.err"; echo "setup failed"; exit 1; }
}

alive() {
    kill -0 "$(d_pid abuse)" 2> /dev/null || { echo "flameshotd died:"; d_log abuse | tail -n 30; return 1; }
    SRC=127.0.0.99 d_expect abuse 200 /v1/status '.state == "ready"'
}

# raw REQUEST-BYTES (printf format): sends them on a new connection, prints
# the status line of the answer ("" when the server just closed)
raw() {
    local port out
    port=$(d_port abuse)
    out=$(
        exec 3<> "/dev/tcp/127.0.0.1/$port" || exit 1
        printf "$1" >&3
        timeout 5 head -c 4096 <&3
    )
    printf '%s' "$out" | head -n 1 | tr -d '\r'
}

case_malformed_queries() {
    caps
    SRC=127.0.0.21
    local a1025 a5000 a20000
    a1025=$(head -c 1025 /dev/zero | tr '\0' a)
    a5000=$(head -c 5000 /dev/zero | tr '\0' a)
    a20000=$(head -c 20000 /dev/zero | tr '\0' a)
    local -a cases=(
        "400|/v1/profile?pid=1%ZZ|bad percent-encoding"
        "400|/v1/profile?pid=%|bad percent-encoding"
        "400|/v1/profile?pid=%4|bad percent-encoding"
        "400|/v1/profile?%zz=1|bad percent-encoding"
        "400|/v1/profile?pid=1%00|NUL byte"
        "400|/v1/profile?command=ab%00cd|NUL byte"
        "400|/v1/profile?pi%00d=1|NUL byte"
        "400|/v1/profile?command=%0Ajava|control character"
        "400|/v1/profile?command=%1B%5B31m|control character"
        "400|/v1/profile?command=%C3%28|not valid UTF-8"
        "400|/v1/profile?command=%FF%FE|not valid UTF-8"
        "400|/v1/profile?command=%ED%A0%80|not valid UTF-8"
        "400|/v1/profile?pid=1&pid=1|pid: given more than once"
        "400|/v1/profile?pid=1&duration=1s&duration=2s|duration: given more than once"
        "400|/v1/profile?command=a&command=b|command: given more than once"
        "400|/v1/profile?pid=1&pi%64=2|pid: given more than once"
        "400|/v1/snapshot?pid=1&type=thread_print&type=thread_print|type: given more than once"
        "400|/v1/profile?pidd=1|did you mean \"pid\""
        "400|/v1/profile?duraton=1s&pid=1|did you mean \"duration\""
        "400|/v1/profile?=1|empty parameter name"
        "400|/v1/profile?command=$a1025|command: value longer than 1024 bytes"
        "400|/v1/profile?pid=11111111111111111|pid: value longer than 16 bytes"
        "400|/v1/profile?pid=1&events=$a1025|events: value longer than 256 bytes"
        "400|/v1/profile?pid=${a1025:0:70}|pid: value longer than 16 bytes"
        "400|/v1/jobs?x=1|takes no parameters"
        "400|/v1/jobs/1%00|not a positive number"
        "400|/v1/jobs/18446744073709551616|not a positive number"
        "404|/v1/profil|no such endpoint"
        "404|/v1/%70rofile?pid=1|no such endpoint"
        "414|/v1/profile?command=$a5000|longer than 4096 bytes"
    )
    local c want path expect code
    for c in "${cases[@]}"; do
        IFS='|' read -r want path expect <<< "$c"
        code=$(d_api abuse "$path")
        [ "$code" = "$want" ] && jq -e --arg e "$expect" '.error + ": " + .detail | contains($e)' "$D_BODY" \
            > /dev/null || { echo "${path:0:100}: $code $(head -c 300 "$D_BODY"), want $want ($expect)"; return 1; }
    done
    # beyond HTTP_MEMORY_LIMIT libmicrohttpd answers by itself (not JSON)
    code=$(d_api abuse "/v1/profile?command=$a20000")
    [ "$code" = 414 ] || { echo "20 kB URL: $code"; return 1; }
    code=$(d_api abuse /v1/status -H "X-Big: $a20000")
    [ "$code" = 431 ] || { echo "20 kB header: $code"; return 1; }
    [ "$(d_api abuse /v1/status -X FOO)" = 405 ] || { echo "unknown method"; return 1; }
    alive
}

case_raw_bytes() {
    caps
    local -a reqs=(
        # a literal NUL ends the request target for libmicrohttpd: what follows is
        # never seen, so it cannot smuggle a parameter
        'GET /v1/profile?pid=abc\0&pid=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n|HTTP/1.1 400'
        'GET /v1/status?x=%%GG HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n|HTTP/1.1 400'
        'GET /v1/\xff\xfe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n|HTTP/1.1 404'
        'GET /v1/status HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\nConnection: close\r\n\r\n|HTTP/1.1 200'
        'GET /v1/status HTTP/1.1\nHost: a\nConnection: close\n\n|HTTP/1.1 200'
        'GET http://127.0.0.1/v1/status HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n|HTTP/1.1 404'
        'GET /v1/status HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n|HTTP/1.1 413'
        'GET /v1/status HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello|HTTP/1.1 413'
        'POST /v1/profile?pid=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nxx|HTTP/1.1 405'
        '\0\0\0GARBAGE\r\n\r\n|'
        'GET\r\n\r\n|'
        ' \r\n\r\n|'
    )
    local c req want got
    for c in "${reqs[@]}"; do
        req=${c%|*}; want=${c##*|}
        got=$(SRC=127.0.0.22 raw "$req")
        if [ -n "$want" ]; then
            [ "${got:0:12}" = "$want" ] || { echo "$req: \"$got\", want \"$want\""; return 1; }
        else # garbage: an HTTP error or a closed connection, nothing else
            case $got in "" | "HTTP/1.1 4"*) ;; *) echo "$req: \"$got\""; return 1 ;; esac
        fi
    done
    alive
}

# 5000 requests from 5 addresses, 8 keep-alive connections each, as fast as
# they go: only rate-limit refusals and the endpoints' own answers, no
# transport error (8 connections per address are within the limits)
case_flood() {
    caps
    local out=$H_DIR/flood.json allowed budget t0 t1
    "$FLOOD" flood --port "$(d_port abuse)" --clients 5 --first-source 30 --conns 8 \
        --requests 5000 /v1/status /metrics /v1/targets /v1/jobs "/v1/profile?pid=abc" \
        /v1/nope > "$out" || return 1
    jq -e '.requests == 5000 and .errors == 0 and
        ([.codes | keys[]] - ["200", "400", "404", "429"]) == [] and .codes["429"] > 4000 and
        all(.clients[]; .codes["200"] > 0 and .codes["429"] > 0 and .errors == 0) and
        .max_ms < 5000' "$out" > /dev/null || { echo "flood: $(jq -c . "$out")"; return 1; }
    # what passed is what the buckets allow: 5 x (40 + 20/s)
    allowed=$(jq '.requests - .codes["429"]' "$out")
    budget=$(jq '5 * (40 + 20 * (.elapsed_ms / 1000 + 1)) | floor' "$out")
    [ "$allowed" -le "$budget" ] || { echo "$allowed passed, more than $budget"; return 1; }
    # right after: the probes of a flooded client pass, its API calls soon wait
    SRC=127.0.0.30 d_expect abuse 200 /healthz || return 1
    # while a second flood from the same address keeps its bucket empty (far
    # faster than the 20/s refill, whatever the machine's load), its API
    # calls are refused; sequential curls alone need not outrun the refill
    local i fp
    "$FLOOD" flood --port "$(d_port abuse)" --clients 1 --first-source 30 --conns 4 \
        --requests 4000 /v1/status > "$H_DIR/drain.json" &
    fp=$!
    for i in $(seq 1 200); do
        [ "$(SRC=127.0.0.30 d_api abuse /v1/status)" = 429 ] && break
        kill -0 "$fp" 2> /dev/null || break
    done
    wait "$fp"
    jq -e '.error == "rate limit exceeded"' "$D_BODY" > /dev/null || { echo "no 429"; return 1; }
    [ "$(d_header Retry-After)" -ge 1 ] || { echo "Retry-After $(d_header Retry-After)"; return 1; }
    sleep "$(d_header Retry-After)"
    SRC=127.0.0.30 d_expect abuse 200 /v1/status || return 1
    # another client is served at once
    t0=$(date +%s%N)
    SRC=127.0.0.35 d_expect abuse 200 /v1/status || return 1
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -lt 1000 ] || { echo "/v1/status took $(((t1 - t0) / 1000000)) ms"; return 1; }
    SRC=127.0.0.35 d_api abuse /metrics > /dev/null
    local n429
    n429=$(awk '$1 == "flameshot_http_requests_total{code=\"429\"}" {print $2}' "$D_BODY")
    [ "${n429:-0}" -ge "$(jq '.codes["429"]' "$out")" ] || { echo "429s counted: $n429"; return 1; }
    alive
}

case_probes_never_limited() {
    caps
    local out=$H_DIR/probes.json
    "$FLOOD" flood --port "$(d_port abuse)" --clients 1 --first-source 36 --conns 8 \
        --requests 3000 /healthz /readyz > "$out" || return 1
    jq -e '.errors == 0 and .codes == {"200": 3000}' "$out" > /dev/null ||
        { echo "probes: $(jq -c . "$out")"; return 1; }
}

case_connection_limits() {
    caps
    local out=$H_DIR/hold.json code
    # 40 idle connections from one address: 16 kept, 24 closed at once; the
    # 16 closed by the idle timeout (10 s); other clients served meanwhile
    "$FLOOD" hold --port "$(d_port abuse)" --first-source 40 --sources 1 --conns 40 \
        --wait-ms 700 --late-ms 10800 > "$out" &
    local hp=$!
    sleep 1
    SRC=127.0.0.41 d_expect abuse 200 /v1/status || { kill $hp; return 1; }
    wait $hp
    jq -e '.opened == 40 and .closed_early == 24 and .open_early == 16 and .closed_late == 40' \
        "$out" > /dev/null || { echo "per client: $(cat "$out")"; return 1; }
    # 160 connections from 10 addresses: past 128 the server stops accepting,
    # so a new client waits; once they are gone it is served again
    "$FLOOD" hold --port "$(d_port abuse)" --first-source 50 --sources 10 --conns 16 \
        --wait-ms 3000 --late-ms 0 > "$out" &
    hp=$!
    sleep 1
    code=$(SRC=127.0.0.70 d_api abuse /healthz --max-time 1.5)
    wait $hp
    [ "$code" = 000 ] || { echo "a 161st connection was served ($code)"; return 1; }
    jq -e '.opened == 160 and .closed_early == 0' "$out" > /dev/null ||
        { echo "total: $(cat "$out")"; return 1; }
    local i
    for i in $(seq 1 50); do
        code=$(SRC=127.0.0.71 d_api abuse /healthz --max-time 1)
        [ "$code" = 200 ] && break
        sleep 0.2
    done
    [ "$code" = 200 ] || { echo "not served after the connections closed ($code)"; return 1; }
    alive
}

case_token_and_pod_selectors() {
    caps
    d_start tok FLAMESHOT_PROCESSES="$RULES" FLAMESHOT_HTTP_TOKEN="$TOKEN" \
        FLAMESHOT_MODE=kubernetes FLAMESHOT_KUBE_API=https://127.0.0.1:9 \
        FLAMESHOT_KUBE_SA_DIR="$H_DIR/no-sa" FLAMESHOT_BPF=off || return 1
    SRC=127.0.0.80
    local auth="Authorization: Bearer $TOKEN" p code
    d_expect tok 200 /healthz || return 1
    d_expect tok 200 /readyz || return 1
    for p in /v1/status /metrics /v1/targets /v1/jobs /v1/jobs/1 /v1/artefacts \
        "/v1/profile?pid=1" "/v1/snapshot?pid=1" /v1/nope; do
        d_expect tok 401 "$p" '.error == "unauthorized"' || return 1
        [ "$(d_header WWW-Authenticate)" = 'Bearer realm="flameshot"' ] ||
            { echo "$p: WWW-Authenticate $(d_header WWW-Authenticate)"; return 1; }
    done
    for p in "Bearer wrong" "Bearer ${TOKEN}x" "Bearer ${TOKEN:0:10}" "Basic $TOKEN" "$TOKEN" \
        "Bearer"; do
        d_expect tok 401 /v1/status '.error == "unauthorized"' -H "Authorization: $p" ||
            { echo "with \"$p\""; return 1; }
    done
    d_expect tok 200 /v1/status '.mode == "kubernetes" and .config.http_token == "(set)" and
        .http.token_required and .event_source.name == "poller"' -H "$auth" || return 1
    ! grep -q "$TOKEN" "$D_BODY" || { echo "the token is in /v1/status"; return 1; }
    d_expect tok 200 /v1/status . -H "authorization: bearer  $TOKEN" || return 1
    [ "$(d_api tok /metrics -H "$auth")" = 200 ] || { echo "/metrics with the token"; return 1; }
    # Pod selectors: accepted in Kubernetes mode; no API server answers, so no Pod is known
    d_expect tok 404 "/v1/profile?namespace=shop&pod=orders-7f9c" '.error == "nothing matches" and
        (.detail | contains("/v1/pods"))' -H "$auth" || return 1
    d_expect tok 404 "/v1/snapshot?namespace=shop&command=java&container=app" \
        '.error == "nothing matches"' -H "$auth" || return 1
    d_expect tok 400 "/v1/profile?pod=orders-7f9c" '.detail | contains("needs namespace")' \
        -H "$auth" || return 1
    d_expect tok 400 "/v1/profile?container=app" '.detail | contains("pid or command is required")' \
        -H "$auth" || return 1
    # guessing the token is rate-limited like anything else
    "$FLOOD" flood --port "$(d_port tok)" --clients 1 --first-source 81 --conns 4 --requests 300 \
        --token wrong /v1/status > "$H_DIR/guess.json" || return 1
    jq -e '.codes["401"] <= 60 and .codes["429"] >= 240 and
        ([.codes | keys[]] - ["401", "429"]) == []' "$H_DIR/guess.json" > /dev/null ||
        { echo "guessing: $(jq -c .codes "$H_DIR/guess.json")"; return 1; }
    ! grep -q "$TOKEN" "$H_DIR/tok/log" || { echo "the token is in the log"; return 1; }
    d_stop tok || { echo "exit status $?"; return 1; }
}

# Off the loopback without a token: a configuration error at start-up (exit
# 2, one line naming the variables), unless FLAMESHOT_HTTP_INSECURE=true.
case_node_address_needs_token_or_insecure() {
    caps
    local err rc
    err=$(env -i PATH="$PATH" HOME=/tmp ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        FLAMESHOT_PROFILING_PATH="$H_DIR/refused" FLAMESHOT_HTTP_LOCAL_IP=0.0.0.0 \
        timeout 30 "$FLAMESHOTD" 2>&1)
    rc=$?
    [ $rc = 2 ] && [ "$(grep -c . <<< "$err")" = 1 ] &&
        grep -q 'level=error module=config msg="FLAMESHOT_HTTP_LOCAL_IP: 0.0.0.0 is not a loopback address and FLAMESHOT_HTTP_TOKEN is unset: set FLAMESHOT_HTTP_TOKEN, or FLAMESHOT_HTTP_INSECURE=true' <<< "$err" ||
        { echo "exit $rc: $err"; return 1; }
    d_start insecure FLAMESHOT_PROCESSES="$RULES" FLAMESHOT_HTTP_LOCAL_IP=0.0.0.0 \
        FLAMESHOT_HTTP_INSECURE=true FLAMESHOT_BPF=off || return 1
    SRC=127.0.0.85 d_expect insecure 200 /v1/status ".config.http_insecure and
        .config.http_token == \"(unset)\" and .http.listen == \"0.0.0.0:$(d_port insecure)\"" ||
        return 1
    d_stop insecure || { echo "exit status $?"; return 1; }
}

case_clean_stop_no_sanitizer_report() {
    caps
    alive || return 1
    d_stop abuse || { echo "exit status $?"; d_log abuse | tail -n 30; return 1; }
    ! grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' "$H_DIR/abuse/log" "$H_DIR/tok/log" \
        "$H_DIR/insecure/log" \
        2> /dev/null || { grep -E -A20 'AddressSanitizer|runtime error' "$H_DIR"/*/log | head -60; return 1; }
}

if h_can_run > /dev/null 2>&1; then
    d_start abuse FLAMESHOT_PROCESSES="$RULES" > "$H_DIR/setup.err" 2>&1 && touch "$H_DIR/ready"
fi

t_case "malformed query strings: 400/404/414/431, never a crash" case_malformed_queries
t_case "raw bytes: NUL, bad lines, bodies, garbage" case_raw_bytes
t_case "flood: 5000 requests, 5 clients, bounded and responsive" case_flood
t_case "probes are never rate-limited" case_probes_never_limited
t_case "connection limits per client, in total, idle timeout" case_connection_limits
t_case "bearer token; Kubernetes-mode Pod selectors" case_token_and_pod_selectors
t_case "node address: refused without a token unless FLAMESHOT_HTTP_INSECURE=true" case_node_address_needs_token_or_insecure
t_case "clean stop, sanitizers silent" case_clean_stop_no_sanitizer_report
t_done
