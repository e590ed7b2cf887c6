# tests/lib.sh: TAP helpers for integration tests written in shell.
# Source it, call t_plan N (optional), then t_ok/t_fail/t_skip per case,
# or `t_case name cmd...` which runs a function and reports it.
# need <cond-cmd> <why>: skip the current case, or fail it under CI=true.

T_N=0
T_FAILED=0
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
FLAMESHOTD=${FLAMESHOTD:-$BUILD/flameshotd}

t_ok()   { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
t_fail() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1 # ${2:-failed}"; }
t_skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

# t_case name fn [args...]: fn returns 0 (pass), 1 (fail, message on
# stderr is captured), or 77 (skip, reason on stdout's last line).
t_case() {
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then
        t_ok "$name"
    elif [ $rc -eq 77 ]; then
        local why; why=$(printf '%s\n' "$out" | tail -n1)
        if [ "${CI:-}" = "true" ]; then
            t_fail "$name" "missing capability under CI=true: $why"
        else
            t_skip "$name" "$why"
        fi
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

t_done() { [ "$T_FAILED" -eq 0 ]; }
