# tests/integration/40_http_lib.bash: running build/flameshotd for the HTTP
# API tests (40_http_api.sh, 40_http_abuse.sh) and talking to it with curl.
# Not a test by itself (run.sh runs *.sh only).
#
#   h_start NAME [VAR=value...]  a daemon with its own FLAMESHOT_PROFILING_PATH
#                                ($H_DIR/NAME/root) on a free port of 127.0.0.1;
#                                waits until /readyz answers 200
#   h_stop NAME [secs]           SIGTERM; waits; returns its exit status
#   h_api NAME PATH [curl args]  prints the status code; the body is in $H_BODY,
#                                the headers in $H_HDRS. SRC=127.0.0.N picks the
#                                source address (the rate limiter's client)
#   h_expect NAME CODE PATH [JQ-FILTER [curl args]]
#                                h_api, then checks the code and that the body
#                                satisfies the filter; says what came instead
# Every case runs in a subshell (t_case): state lives in files under $H_DIR.

source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"

CLASSES=$BUILD/tests/java
FLOOD=$BUILD/tests/helpers/http_flood
H_DIR=$(mktemp -d /var/tmp/flameshot-http-test.XXXXXX)
chmod 755 "$H_DIR"
H_BODY=$H_DIR/body
H_HDRS=$H_DIR/headers

h_free_port() {
    local p
    for p in $(shuf -i 20000-60000 -n 100); do
        ss -ltnH "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

h_port() { cat "$H_DIR/$1/port"; }
h_pid() { cat "$H_DIR/$1/pid"; }
h_root() { echo "$H_DIR/$1/root"; }
h_log() { cat "$H_DIR/$1/log"; }

h_start() {
    local name=$1 port i
    shift
    mkdir -p "$H_DIR/$name"
    port=$(h_free_port) || { echo "no free port"; return 1; }
    echo "$port" > "$H_DIR/$name/port"
    # the wrapper records the exit status: the stopping case is not our parent
    (
        env FLAMESHOT_PROFILING_PATH="$H_DIR/$name/root" FLAMESHOT_HTTP_LOCAL_IP=127.0.0.1 \
            FLAMESHOT_HTTP_LOCAL_PORT="$port" FLAMESHOT_BPF=auto "$@" \
            "$FLAMESHOTD" > "$H_DIR/$name/log" 2>&1 &
        echo $! > "$H_DIR/$name/pid"
        wait $!
        echo $? > "$H_DIR/$name/exit"
    ) &
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] &&
            return 0
        [ -f "$H_DIR/$name/exit" ] && break
        sleep 0.1
    done
    echo "flameshotd $name did not become ready:"
    tail -n 20 "$H_DIR/$name/log"
    return 1
}

h_stop() {
    local name=$1 secs=${2:-40} i pid
    pid=$(h_pid "$name" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 $((secs * 10))); do
        [ -f "$H_DIR/$name/exit" ] && { rm -f "$H_DIR/$name/pid"; return "$(cat "$H_DIR/$name/exit")"; }
        sleep 0.1
    done
    echo "flameshotd $name did not stop within ${secs}s"
    return 124
}

h_api() {
    local name=$1 path=$2
    shift 2
    curl -s --interface "${SRC:-127.0.0.1}" --max-time 20 -D "$H_HDRS" -o "$H_BODY" \
        -w '%{http_code}' "$@" "http://127.0.0.1:$(h_port "$name")$path"
}

h_expect() {
    local name=$1 want=$2 path=$3 filter=${4:-.} code
    shift 3
    [ $# -gt 0 ] && shift
    code=$(h_api "$name" "$path" "$@")
    if [ "$code" != "$want" ]; then
        echo "GET $path: $code, want $want: $(head -c 600 "$H_BODY")"
        return 1
    fi
    if ! jq -e "$filter" "$H_BODY" > /dev/null 2>&1; then
        echo "GET $path: $code but the body fails $filter: $(head -c 800 "$H_BODY")"
        return 1
    fi
}

# h_header NAME: the value of a response header of the last h_api
h_header() {
    tr -d '\r' < "$H_HDRS" | awk -v h="$1" \
        'BEGIN{h=tolower(h)} tolower($0) ~ "^"h": " {sub(/^[^:]*: /, ""); print; exit}'
}

h_cleanup() {
    local f
    for f in "$H_DIR"/*/pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    [ -f "$H_DIR/fillers" ] && kill -KILL $(cat "$H_DIR/fillers") 2>/dev/null
    [ -f "$H_DIR/others" ] && kill -KILL $(cat "$H_DIR/others") 2>/dev/null
    ct_cleanup
    rm -rf "$H_DIR"
}

h_can_run() {
    [ "$(id -u)" = 0 ] && [ -x "$FLAMESHOTD" ] && [ -x "$FLOOD" ] &&
        command -v curl && command -v jq && command -v ss
}
