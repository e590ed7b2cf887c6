# tests/lib.sh: TAP helpers for integration tests written in shell.
# Source it, report each case with `t_case name cmd...` (runs a function
# and reports it) or t_ok/t_fail/t_skip, and end the script with t_done: it
# prints the TAP plan "1..N" and is the script's exit status. A script that
# stops before t_done has no plan, and tests/run.sh counts it as failed.
# t_plan N (optional) announces the plan first; t_done then checks that N
# cases were reported.
# need <cond-cmd> <why>: skip the current case, or fail it under CI=true.
# t_skip is a skip only outside CI: under CI=true every skip is a failure.

T_N=0
T_FAILED=0
T_PLAN=
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
FLAMESHOTD=${FLAMESHOTD:-$BUILD/flameshotd}

t_ok()   { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
t_fail() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1 # ${2:-failed}"; }
t_skip() {
    if [ "${CI:-}" = "true" ]; then
        t_fail "$1" "skipped under CI=true: $2"
    else
        T_N=$((T_N + 1))
        echo "ok $T_N - $1 # SKIP $2"
    fi
}
t_plan() { T_PLAN=$1; echo "1..$1"; }

# t_case name fn [args...]: fn returns 0 (pass), 1 (fail, message on
# stderr is captured), or 77 (skip, reason on stdout's last line).
t_case() {
    local name=$1; shift
    local out rc
    # a case without a command would pass without testing anything
    [ $# -gt 0 ] || { t_fail "$name" "t_case: no command given"; return; }
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then
        t_ok "$name"
    elif [ $rc -eq 77 ]; then
        local why; why=$(printf '%s\n' "$out" | tail -n1)
        t_skip "$name" "$why"
    else
        printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 40
        t_fail "$name" "$(printf '%s\n' "$out" | grep -v '^$' | tail -n1)"
    fi
}

# need "<shell condition>" "why": use inside a case function.
need() {
    if ! eval "$1" >/dev/null 2>&1; then
        echo "$2"
        exit 77
    fi
}

t_done() {
    if [ -z "$T_PLAN" ]; then
        echo "1..$T_N"
    elif [ "$T_N" -ne "$T_PLAN" ]; then
        echo "# planned $T_PLAN cases, reported $T_N"
        return 1
    fi
    [ "$T_FAILED" -eq 0 ]
}
