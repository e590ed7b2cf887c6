#!/bin/bash
# The daemon's command line: --help, --version, --check-config (exit 0 with
# the normalized configuration as JSON, exit 2 naming variable, path and
# reason), unknown arguments, and a start-up refused for bad configuration.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"

clean_env() { env -i PATH="$PATH" HOME=/tmp "$@"; }

case_help_and_version() {
    "$FLAMESHOTD" --help | grep -q 'usage: flameshotd' || return 1
    "$FLAMESHOTD" --version | grep -Eq '^flameshotd [0-9]+\.[0-9]+\.[0-9]+ \(' || return 1
    "$FLAMESHOTD" --bogus >/dev/null 2>&1; [ $? = 2 ] || { echo "unknown argument not exit 2"; return 1; }
}

case_check_config_prints_normalized_json() {
    local out
    out=$(clean_env FLAMESHOT_MONITOR_INTERVAL=2 FLAMESHOT_TAGS='host: node_a, pod_name:p' \
        FLAMESHOT_PROCESSES='[{"command":"java","duration":"90s","events":["alloc","cpu"]}]' \
        "$FLAMESHOTD" --check-config) || { echo "exit $?"; return 1; }
    echo "$out" | jq -e '.monitor_interval == "2s" and .tags.host == "node_a" and
        .processes[0].duration == "1m30s" and .processes[0].events == "cpu,alloc" and
        .mode == "standalone" and .sink == "local" and .processes_default == false' >/dev/null ||
        { echo "$out"; return 1; }
}

case_check_config_rejects_with_path_and_reason() {
    local err rc
    err=$(clean_env FLAMESHOT_PROCESSES='[{"command":"java"},{"command":"x","duration":"30"}]' \
        "$FLAMESHOTD" --check-config 2>&1 >/dev/null); rc=$?
    [ $rc = 2 ] || { echo "exit $rc"; return 1; }
    echo "$err" | grep -q 'level=error module=config msg="FLAMESHOT_PROCESSES\[1\].duration: \\"30\\" is not a duration' ||
        { echo "$err"; return 1; }
    err=$(clean_env FLAMESHOT_AUTO_PROFILING=30s "$FLAMESHOTD" 2>&1); rc=$?
    [ $rc = 2 ] && echo "$err" | grep -q 'FLAMESHOT_AUTO_PROFILING: 30s is too short (minimum 1m)' ||
        { echo "daemon start: exit $rc: $err"; return 1; }
}

case_unknown_variables_warn_with_suggestion() {
    local err
    err=$(clean_env FLAMESHOT_MONITOR_INTERVALL=5s FLAMESHOT_LOG_PATH=/x "$FLAMESHOTD" --check-config 2>&1 >/dev/null)
    echo "$err" | grep -q 'unknown variable FLAMESHOT_MONITOR_INTERVALL ignored (did you mean FLAMESHOT_MONITOR_INTERVAL?)' &&
        echo "$err" | grep -q 'FLAMESHOT_LOG_PATH is ignored' || { echo "$err"; return 1; }
}

case_flameshot_indexed_processes() {
    local out err rc
    out=$(clean_env FLAMESHOT_PROCESSES_0_SERVICE=tmall FLAMESHOT_PROCESSES_0_COMMAND='java -jar tmall\.jar' \
        FLAMESHOT_PROCESSES_0_EVENTS=cpu,alloc FLAMESHOT_PROCESSES_0_TAGS='["env:prod"]' \
        FLAMESHOT_PROCESSES_0_CPU_USAGE_PERCENT=80 FLAMESHOT_PROCESSES_1_SERVICE=server \
        FLAMESHOT_PROCESSES_1_COMMAND=server FLAMESHOT_AUTO_PROFILING=0 \
        "$FLAMESHOTD" --check-config) || { echo "exit $?"; return 1; }
    echo "$out" | jq -e '.processes_indexed and (.processes | length) == 2 and
        .processes[0].service == "tmall" and .processes[0].events == "cpu,alloc" and
        .processes[0].tags == ["env:prod"] and .processes[0].cpu_usage_percent == 80 and
        .processes[1].service == "server" and .auto_profiling == null' >/dev/null ||
        { echo "$out"; return 1; }
    err=$(clean_env FLAMESHOT_PROCESSES_0_SERVICE=a FLAMESHOT_PROCESSES_0_COMMAND=java \
        FLAMESHOT_PROCESSES_1_SERVICE=b FLAMESHOT_PROCESSES_1_COMMAND=x FLAMESHOT_PROCESSES_1_DURATION=30 \
        "$FLAMESHOTD" --check-config 2>&1 >/dev/null); rc=$?
    [ $rc = 2 ] && echo "$err" | grep -qF 'msg="FLAMESHOT_PROCESSES_1_DURATION (FLAMESHOT_PROCESSES[1].duration): \"30\" is not a duration' ||
        { echo "bad duration: exit $rc: $err"; return 1; }
    err=$(clean_env FLAMESHOT_PROCESSES='[{"command":"java"}]' FLAMESHOT_PROCESSES_0_SERVICE=a \
        FLAMESHOT_PROCESSES_0_COMMAND=java "$FLAMESHOTD" --check-config 2>&1 >/dev/null); rc=$?
    [ $rc = 2 ] && echo "$err" | grep -q 'FLAMESHOT_PROCESSES: set together with the indexed' ||
        { echo "both forms: exit $rc: $err"; return 1; }
    err=$(clean_env FLAMESHOT_PROCESSES_0_SERVICE=a FLAMESHOT_PROCESSES_0_COMMAND=java \
        FLAMESHOT_PROCESSES_2_SERVICE=c "$FLAMESHOTD" --check-config 2>&1 >/dev/null); rc=$?
    [ $rc = 0 ] && echo "$err" | grep -q 'level=warn .*FLAMESHOT_PROCESSES_2_SERVICE is ignored (FLAMESHOT_PROCESSES_1_SERVICE is unset' ||
        { echo "past the end: exit $rc: $err"; return 1; }
}

case_unreachable_threshold_warns() {
    local err rc
    err=$(clean_env FLAMESHOT_PROCESSES='[{"command":"java","cpu_usage_percent":100000}]' \
        "$FLAMESHOTD" --check-config 2>&1 >/dev/null); rc=$?
    [ $rc = 0 ] && echo "$err" | grep -q 'level=warn module=config msg="FLAMESHOT_PROCESSES\[0\].cpu_usage_percent: 100000 is above [0-9]*, the most CPU can read: it can never fire on this host' ||
        { echo "exit $rc: $err"; return 1; }
}

t_case "--help, --version, unknown arguments" case_help_and_version
t_case "--check-config prints the normalized configuration" case_check_config_prints_normalized_json
t_case "bad configuration: exit 2 naming variable, JSON path and reason" case_check_config_rejects_with_path_and_reason
t_case "unknown FLAMESHOT_ variables are reported with a did-you-mean" case_unknown_variables_warn_with_suggestion
t_case "Flameshot's FLAMESHOT_PROCESSES_<i>_<FIELD> variables: read, validated, one form only" case_flameshot_indexed_processes
t_case "a threshold this host can never reach is a warning" case_unreachable_threshold_warns
t_done
