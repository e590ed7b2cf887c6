#!/bin/bash
# tools/deps.sh (what `make deps` and `make run` start with) as root on a
# fresh Debian 12 machine, which has no sudo, and as a user with sudo.
# dpkg-query, apt-get and sudo are stand-ins on a PATH of their own that
# record how they were called: nothing is installed.
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
WORK=$(mktemp -d /tmp/flameshot-deps-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

# fakebin DIR [sudo]: a PATH directory with the tools deps.sh uses, a
# dpkg-query that reports jq missing, an apt-get that logs, and sudo if asked
fakebin() {
    local d=$1 t
    mkdir -p "$d"
    for t in sh id grep env cat; do ln -s "$(command -v $t)" "$d/$t"; done
    cat >"$d/dpkg-query" <<'EOF'
#!/bin/sh
for a; do last=$a; done
[ "$last" = jq ] && exit 1
printf 'install ok installed'
EOF
    printf '#!/bin/sh\necho "apt-get uid=$(id -u) $*" >>"%s/log"\n' "$WORK" >"$d/apt-get"
    if [ "${2:-}" = sudo ]; then
        printf '#!/bin/sh\necho "sudo $*" >>"%s/log"\nexec "$@"\n' "$WORK" >"$d/sudo"
    fi
    chmod 755 "$d" "$d"/*
    : >"$WORK/log"
    chmod 666 "$WORK/log"
}

as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }

case_root_without_sudo() {
    need "[ \"\$(id -u)\" = 0 ]" "needs root"
    fakebin "$WORK/root"
    env -i PATH="$WORK/root" sh "$ROOT/tools/deps.sh" || { cat "$WORK/log"; return 1; }
    grep -q '^sudo' "$WORK/log" && { echo "sudo used as root"; return 1; }
    grep -q '^apt-get uid=0 update' "$WORK/log" &&
        grep -Eq '^apt-get uid=0 install .* jq$' "$WORK/log" || { cat "$WORK/log"; return 1; }
}

case_user_with_sudo() {
    need "[ \"\$(id -u)\" = 0 ] && command -v setpriv" "needs root and setpriv to act as nobody"
    fakebin "$WORK/user" sudo
    as_nobody env -i PATH="$WORK/user" sh "$ROOT/tools/deps.sh" || { cat "$WORK/log"; return 1; }
    grep -q '^sudo env DEBIAN_FRONTEND=noninteractive apt-get update' "$WORK/log" &&
        grep -Eq '^sudo env DEBIAN_FRONTEND=noninteractive apt-get install .* jq$' "$WORK/log" ||
        { cat "$WORK/log"; return 1; }
}

case_user_without_sudo_says_so() {
    need "[ \"\$(id -u)\" = 0 ] && command -v setpriv" "needs root and setpriv to act as nobody"
    fakebin "$WORK/nosudo"
    local err rc
    err=$(as_nobody env -i PATH="$WORK/nosudo" sh "$ROOT/tools/deps.sh" 2>&1); rc=$?
    [ $rc = 1 ] || { echo "exit $rc: $err"; return 1; }
    grep -q 'deps: missing: jq; installing them needs root: run this as root, or with sudo' <<<"$err" ||
        { echo "$err"; return 1; }
    [ ! -s "$WORK/log" ] || { cat "$WORK/log"; return 1; }
}

case_nothing_missing_needs_nothing() {
    fakebin "$WORK/none"
    rm "$WORK/none/dpkg-query"
    printf '#!/bin/sh\nprintf "install ok installed"\n' >"$WORK/none/dpkg-query"
    chmod 755 "$WORK/none/dpkg-query"
    env -i PATH="$WORK/none" sh "$ROOT/tools/deps.sh" | grep -q 'all build and test dependencies are installed' &&
        [ ! -s "$WORK/log" ] || { cat "$WORK/log"; return 1; }
}

t_case "deps.sh as root, no sudo on the machine: apt-get directly" case_root_without_sudo
t_case "deps.sh as a user with sudo: apt-get through sudo" case_user_with_sudo
t_case "deps.sh as a user without sudo: says to run it as root, or with sudo" case_user_without_sudo_says_so
t_case "deps.sh with everything installed: installs nothing" case_nothing_missing_needs_nothing
t_done
