# tests/lib/daemon.sh: run build/flameshotd for real in a test.
#
#   source tests/lib/daemon.sh
#   d_start NAME [VAR=value ...]   start with a fresh FLAMESHOT_PROFILING_PATH
#                                  ($D_DIR/NAME) and the given variables;
#                                  waits until the loop runs
#   d_log NAME                     its log so far
#   d_wait_log NAME REGEX [secs]   wait for a log line
#   d_stop NAME                    SIGTERM, wait, return its exit status
#   d_profiles NAME                the profiles directory
#   d_port NAME                    its HTTP port (D_PORT, else random)
#   d_cleanup                      stop every daemon of this test
D_DIR=${D_DIR:-$(mktemp -d /var/tmp/flameshot-daemon-test.XXXXXX)}
FLAMESHOTD=${FLAMESHOTD:-$BUILD/flameshotd}

d_start() {
    local name=$1; shift
    mkdir -p "$D_DIR/$name"
    local port=${D_PORT:-$((20000 + RANDOM % 20000))}
    echo "$port" > "$D_DIR/$name/port"
    env FLAMESHOT_PROFILING_PATH="$D_DIR/$name/data" FLAMESHOT_HTTP_LOCAL_PORT="$port" \
        FLAMESHOT_LOG_LEVEL="${D_LOG_LEVEL:-info}" "$@" \
        "$FLAMESHOTD" > "$D_DIR/$name/log" 2>&1 &
    echo $! > "$D_DIR/$name/pid"
    d_wait_log "$name" 'module=daemon msg="flameshotd .* running' 20 || {
        echo "flameshotd did not start:"; tail -n 30 "$D_DIR/$name/log"; return 1; }
}

d_pid() { cat "$D_DIR/$1/pid"; }
d_port() { cat "$D_DIR/$1/port"; }
d_log() { cat "$D_DIR/$1/log"; }
d_profiles() { echo "$D_DIR/$1/data/profiles"; }

d_wait_log() {
    local name=$1 re=$2 secs=${3:-30} i
    for i in $(seq 1 $((secs * 10))); do
        grep -Eq "$re" "$D_DIR/$name/log" 2>/dev/null && return 0
        kill -0 "$(d_pid "$name")" 2>/dev/null || { echo "flameshotd exited"; return 1; }
        sleep 0.1
    done
    echo "timed out waiting for /$re/ in the log of $name"
    return 1
}

d_stop() {
    local name=$1 pid rc
    pid=$(d_pid "$name" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null; rc=$?
    rm -f "$D_DIR/$name/pid"
    return $rc
}

d_cleanup() {
    local f
    for f in "$D_DIR"/*/pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$D_DIR"
}
