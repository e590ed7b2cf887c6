# tests/lib/daemon.sh: running build/flameshotd for real in a test, and
# talking to its HTTP API with curl.
#
#   d_start NAME [VAR=value ...]  a daemon with its own FLAMESHOT_PROFILING_PATH
#                                 ($D_DIR/NAME/data) on a free port of 127.0.0.1
#                                 (D_PORT to choose); waits until /readyz is 200
#   d_stop NAME [secs]            SIGTERM; waits; returns its exit status
#   d_kill NAME                   SIGKILL (a crash); waits
#   d_log NAME / d_wait_log NAME REGEX [secs]
#   d_data NAME / d_profiles NAME / d_port NAME / d_pid NAME
#   d_api NAME PATH [curl args]   prints the status code; the body is in
#                                 $D_BODY, the headers in $D_HDRS; SRC=127.0.0.N
#                                 picks the source address (the rate limiter's
#                                 client)
#   d_expect NAME CODE PATH [JQ-FILTER [curl args]]
#                                 d_api, then checks the code and that the body
#                                 satisfies the filter; says what came instead
#   d_header NAME                 a header of the last d_api answer
#   d_wait_api NAME PATH FILTER WANT [secs [curl args]]
#                                 polls PATH until jq -r FILTER of its body is
#                                 WANT (30 s); the last body stays in $D_BODY
#   d_wait_job NAME ID [secs]     waits until job ID has ended, prints its state
#   d_wait_file GLOB [secs]       waits until a file matching GLOB and its .json
#                                 sidecar exist, prints its path
#   d_wait_json GLOB FILTER [secs] waits until a file matching GLOB satisfies the
#                                 jq FILTER, prints its path
#   d_metric NAME METRIC          a counter's or gauge's value on /metrics
#   d_cleanup                     kill every daemon of this test, remove $D_DIR
# D_WRAP (words) runs the daemon through a command, e.g. a namespace's;
# D_READY_SECS (20) bounds d_start's wait for /readyz.
# State lives in files under $D_DIR: t_case runs each case in a subshell.
D_DIR=${D_DIR:-$(mktemp -d /var/tmp/flameshot-daemon-test.XXXXXX)}
chmod 755 "$D_DIR"
D_BODY=$D_DIR/body
D_HDRS=$D_DIR/headers
FLAMESHOTD=${FLAMESHOTD:-$BUILD/flameshotd}

# Below the kernel's ephemeral range: a port picked there can be taken
# between the check and the bind by any outgoing connection (a CI run lost a
# daemon to one). Any socket on the port counts, not only listeners.
d_free_port() {
    local p lo
    read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range
    for p in $(shuf -i 20000-$((lo - 1)) -n 100); do
        ss -tanH "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

d_port() { cat "$D_DIR/$1/port"; }
d_pid() { cat "$D_DIR/$1/pid"; }
d_data() { echo "$D_DIR/$1/data"; }
d_profiles() { echo "$D_DIR/$1/data/profiles"; }
d_log() { cat "$D_DIR/$1/log"; }

d_start() {
    local name=$1 port i
    shift
    mkdir -p "$D_DIR/$name"
    rm -f "$D_DIR/$name/exit"
    port=${D_PORT:-$(d_free_port)} || { echo "no free port"; return 1; }
    echo "$port" > "$D_DIR/$name/port"
    # the wrapper records the exit status (the stopping case is not our
    # parent); it must not hold t_case's output pipe open, or the case
    # never ends
    (
        env FLAMESHOT_PROFILING_PATH="$D_DIR/$name/data" FLAMESHOT_HTTP_LOCAL_IP=127.0.0.1 \
            FLAMESHOT_HTTP_LOCAL_PORT="$port" FLAMESHOT_LOG_LEVEL="${D_LOG_LEVEL:-info}" "$@" \
            ${D_WRAP:-} "$FLAMESHOTD" >> "$D_DIR/$name/log" 2>&1 &
        echo $! > "$D_DIR/$name/pid"
        wait $!
        echo $? > "$D_DIR/$name/exit"
    ) </dev/null >/dev/null 2>&1 &
    for i in $(seq 1 $((${D_READY_SECS:-20} * 10))); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] &&
            return 0
        [ -f "$D_DIR/$name/exit" ] && break
        sleep 0.1
    done
    echo "flameshotd $name did not become ready:"
    tail -n 20 "$D_DIR/$name/log"
    return 1
}

d_stop() {
    local name=$1 secs=${2:-40} i pid
    pid=$(d_pid "$name" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 $((secs * 10))); do
        [ -f "$D_DIR/$name/exit" ] && { rm -f "$D_DIR/$name/pid"; return "$(cat "$D_DIR/$name/exit")"; }
        sleep 0.1
    done
    echo "flameshotd $name did not stop within ${secs}s"
    return 124
}

d_kill() {
    local name=$1 i pid
    pid=$(d_pid "$name" 2>/dev/null) || return 0
    kill -KILL "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        [ -f "$D_DIR/$name/exit" ] && break
        sleep 0.1
    done
    rm -f "$D_DIR/$name/pid"
}

d_wait_log() {
    local name=$1 re=$2 secs=${3:-30} i
    for i in $(seq 1 $((secs * 10))); do
        grep -Eq "$re" "$D_DIR/$name/log" 2>/dev/null && return 0
        [ -f "$D_DIR/$name/exit" ] && { echo "flameshotd $name exited"; return 1; }
        sleep 0.1
    done
    echo "timed out waiting for /$re/ in the log of $name"
    return 1
}

d_api() {
    local name=$1 path=$2
    shift 2
    curl -s --interface "${SRC:-127.0.0.1}" --max-time 20 -D "$D_HDRS" -o "$D_BODY" \
        -w '%{http_code}' "$@" "http://127.0.0.1:$(d_port "$name")$path"
}

d_expect() {
    local name=$1 want=$2 path=$3 filter=${4:-.} code
    shift 3
    [ $# -gt 0 ] && shift
    code=$(d_api "$name" "$path" "$@")
    if [ "$code" != "$want" ]; then
        echo "GET $path: $code, want $want: $(head -c 600 "$D_BODY")"
        return 1
    fi
    if ! jq -e "$filter" "$D_BODY" > /dev/null 2>&1; then
        echo "GET $path: $code but the body fails $filter: $(head -c 800 "$D_BODY")"
        return 1
    fi
}

d_wait_api() {
    local name=$1 path=$2 filter=$3 want=$4 secs=${5:-30} i
    shift $(($# < 5 ? $# : 5))
    for i in $(seq 1 $((secs * 5))); do
        d_api "$name" "$path" "$@" > /dev/null
        [ "$(jq -r "$filter" "$D_BODY" 2> /dev/null)" = "$want" ] && return 0
        sleep 0.2
    done
    return 1
}

# A job ends on its own (its capture is bounded by the duration and the
# attach timeouts), so wait for that rather than for a time; secs (300) only
# keeps a hung daemon from hanging the test. The job's JSON stays in $D_BODY.
# Arguments after secs go to curl (e.g. a token).
d_wait_job() {
    local name=$1 id=$2 secs=${3:-300} st t0=$SECONDS
    shift $(($# < 3 ? $# : 3))
    while :; do
        d_api "$name" "/v1/jobs/$id" "$@" > /dev/null
        st=$(jq -r .state "$D_BODY" 2>/dev/null)
        case $st in
            queued | running) ;;
            *) echo "$st"; return 0 ;;
        esac
        [ $((SECONDS - t0)) -lt "$secs" ] || break
        sleep 0.2
    done
    echo "job $id still $st after ${secs}s"
    return 1
}

d_wait_file() {
    local glob=$1 secs=${2:-60} i f
    for i in $(seq 1 $((secs * 10))); do
        for f in $glob; do
            [ -f "$f" ] && [ -f "$f.json" ] && { echo "$f"; return 0; }
        done
        sleep 0.1
    done
    echo "no file matching $glob after ${secs}s" >&2
    return 1
}

d_wait_json() {
    local glob=$1 filter=$2 secs=${3:-60} i f
    for i in $(seq 1 $((secs * 10))); do
        for f in $glob; do
            [ -f "$f" ] && jq -e "$filter" "$f" >/dev/null 2>&1 && { echo "$f"; return 0; }
        done
        sleep 0.1
    done
    echo "no $glob matching $filter after ${secs}s" >&2
    return 1
}

# d_metric NAME METRIC: the value of a counter or gauge on /metrics
d_metric() {
    d_api "$1" /metrics >/dev/null
    awk -v n="$2" '$1 == n { print $2 }' "$D_BODY"
}

d_header() {
    tr -d '\r' < "$D_HDRS" | awk -v h="$1" \
        'BEGIN{h=tolower(h)} tolower($0) ~ "^"h": " {sub(/^[^:]*: /, ""); print; exit}'
}

d_cleanup() {
    local f
    for f in "$D_DIR"/*/pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$D_DIR"
}

d_can_run() {
    [ "$(id -u)" = 0 ] && [ -x "$FLAMESHOTD" ] && command -v curl && command -v jq && command -v ss
}
