# Shell helpers of tests/integration/30_outbox_*.sh and 60_datakit_e2e.sh: the DataKit
# stand-in (build/tests/helpers/datakit_receiver), the outbox driver
# (build/tests/helpers/outbox_feed) and a real JFR from a real JVM.
# Source after tests/lib.sh. Every process started here is recorded and
# stopped by ob_cleanup (call it from an EXIT trap).

RECEIVER=$BUILD/tests/helpers/datakit_receiver
FEED=$BUILD/tests/helpers/outbox_feed
OB_PIDS=()

ob_cleanup() {
    local p
    for p in "${OB_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${OB_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    OB_PIDS=()
    [ -n "${OB_TMP:-}" ] && rm -rf "$OB_TMP"
}

# ob_receiver_start OUTDIR [PORT] [extra receiver args...]: starts the
# receiver, sets RECV_PID and RECV_PORT.
ob_receiver_start() {
    local out=$1 port=${2:-0}
    shift 2 2>/dev/null || shift $#
    rm -f "$out.port"
    "$RECEIVER" --out "$out" --port "$port" --port-file "$out.port" "$@" \
        >>"$out.log" 2>&1 &
    RECV_PID=$!
    OB_PIDS+=("$RECV_PID")
    local i
    for i in $(seq 1 100); do
        [ -s "$out.port" ] && break
        sleep 0.05
    done
    RECV_PORT=$(cat "$out.port" 2>/dev/null)
    [ -n "$RECV_PORT" ]
}

ob_receiver_stop() {
    kill "$RECV_PID" 2>/dev/null
    wait "$RECV_PID" 2>/dev/null
}

# Lines of records.jsonl (0 when absent).
ob_records() {
    if [ -f "$1/records.jsonl" ]; then wc -l <"$1/records.jsonl" | tr -d ' '; else echo 0; fi
}

# ob_make_jfr OUT.jfr: a 2 s JFR of the Burner fixture (burns CPU in
# flameshotBurnCpu), recorded with jcmd JFR.start ... filename=.
ob_make_jfr() {
    local out=$1 jp i
    java -cp "$BUILD/tests/java" Burner 30 >/dev/null 2>&1 &
    jp=$!
    for i in $(seq 1 100); do
        jcmd "$jp" VM.version >/dev/null 2>&1 && break
        sleep 0.1
    done
    jcmd "$jp" JFR.start name=outbox duration=2s settings=profile filename="$out" >/dev/null ||
        { kill "$jp"; return 1; }
    for i in $(seq 1 100); do
        [ -s "$out" ] && jfr summary "$out" >/dev/null 2>&1 && break
        sleep 0.1
    done
    kill "$jp" 2>/dev/null
    wait "$jp" 2>/dev/null
    jfr summary "$out" >/dev/null 2>&1
}

# The JDK's version as the JVM reports it (java.version), e.g. 17.0.15.
ob_jdk_version() {
    java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p'
}
