#!/bin/bash
# The JFR reader (src/flame/jfr.c) on real recordings, through its test
# tool build/tests/helpers/jfr_collapse (collapsed stacks, root first):
#
#   jdk17, jdk25   JFR's own recorder (settings=profile) on
#                  tests/fixtures/java/JfrBusy.java: our cpu profile equals,
#                  stack for stack and count for count, the
#                  jdk.ExecutionSample and jdk.NativeMethodSample events
#                  `jfr print --json` of the same JDK lists (JDK 25 from
#                  /usr/lib/jvm/temurin-25-jdk-amd64 when it is there), and
#                  the file concatenated with itself (two chunks) counts
#                  twice.
#   asprof_*       async-profiler 4.5 (tests/lib/asprof.sh) as a JVM agent on
#                  tests/fixtures/java/Workload.java: one recording of itimer,
#                  alloc, lock and nativemem in chunks of 1 MiB (several
#                  chunks), one of wall; for each event our output equals
#                  async-profiler's converter, `jfrconv -o collapsed` with
#                  --alloc/--lock/--nativemem --total (weights: bytes, ns),
#                  plain for cpu and wall (samples), modulo documented
#                  naming: jfrconv's frame-type suffixes (_[j], _[i], _[k],
#                  _[0], _[1]) stripped and the stacks they told apart summed
#                  (README "JFR reader").
#   cut, flipped   the multi-chunk recording cut at every chunk boundary
#                  (whole chunks read, nothing said cut) and inside every
#                  chunk (the earlier chunks read, the cut said), and bytes
#                  flipped in headers, metadata, pools and events: a clear
#                  error or samples, never a crash, under the ASan build of
#                  the tool.
# (libFuzzer on the reader runs in 93_fuzz with the other parsers.)
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/asprof.sh"
TOOL=$BUILD/tests/helpers/jfr_collapse
ATOOL=$BUILD/asan/tests/helpers/jfr_collapse
CLASSES=$BUILD/tests/java
JDK25=/usr/lib/jvm/temurin-25-jdk-amd64
W=$(mktemp -d /var/tmp/flameshot-jfr-test.XXXXXX)
trap 'rm -rf "$W"' EXIT

caps() {
    need "command -v java && command -v jfr && command -v jq" "needs a JDK (java, jfr) and jq"
    need "[ -x '$TOOL' ] && [ -x '$ATOOL' ] && [ -f '$CLASSES/JfrBusy.class' ]" "run make test-build first"
}

# jfr print's samples as collapsed stacks: "a;b;c N", root first, sorted
jdk_collapsed() {
    local jfrbin=$1 file=$2
    "$jfrbin" print --json --stack-depth 4096 --events jdk.ExecutionSample,jdk.NativeMethodSample \
        "$file" > "$file.json" || return 1
    jq -r '.recording.events[] | [.values.stackTrace.frames | reverse | .[]
        | (.method.type.name // "") as $c
        | if $c == "" then .method.name else $c + "." + .method.name end] | join(";")' \
        "$file.json" | LC_ALL=C sort | uniq -c |
        awk '{ n = $1; sub(/^ *[0-9]+ /, ""); print $0 " " n }' | LC_ALL=C sort
}

# jfrconv's collapsed output modulo the frame-type suffixes, re-summed
strip_suffixes() {
    sed -E 's/_\[[0-9jik]\](;| )/\1/g' "$1" |
        awk '{ n = $NF; $NF = ""; sub(/ $/, ""); a[$0] += n }
             END { for (k in a) if (a[k]) printf "%s %.0f\n", k, a[k] }' | LC_ALL=C sort
}

# same_stacks want got what: equal, or the first differences
same_stacks() {
    local want=$1 got=$2
    [ -s "$want" ] || { echo "$3: the reference has no stack"; return 1; }
    if ! diff -q "$want" "$got" > /dev/null; then
        echo "$3: $(wc -l < "$want") stacks expected, $(wc -l < "$got") read; first differences:"
        diff "$want" "$got" | head -n 6 | cut -c1-300
        return 1
    fi
    echo "# $3: $(wc -l < "$got") stacks, $(awk '{ s += $NF } END { printf "%.0f", s }' "$got") equal"
}

ours() {
    local out=$1
    shift
    "$TOOL" "$@" 2> "$out.err" | LC_ALL=C sort > "$out" && ! grep -q '^truncated' "$out.err" ||
        { cat "$out.err"; return 1; }
}

record_jdk() {
    local java=$1 out=$2
    nice -n 10 "$java" -XX:StartFlightRecording=settings=profile,filename="$out" \
        -cp "$CLASSES" JfrBusy 6 > "$out.log" 2>&1 && [ -s "$out" ] ||
        { tail -5 "$out.log"; echo "the JVM did not record $out"; return 1; }
}

check_jdk() {
    local home=$1 name=$2
    record_jdk "$home/bin/java" "$W/$name.jfr" || return 1
    jdk_collapsed "$home/bin/jfr" "$W/$name.jfr" > "$W/$name.want" || return 1
    ours "$W/$name.got" --event cpu "$W/$name.jfr" || return 1
    same_stacks "$W/$name.want" "$W/$name.got" "$name" || return 1
    grep -q 'sun/nio/ch/Net.accept\|Net.poll\|accept0' "$W/$name.got" ||
        { echo "$name: no jdk.NativeMethodSample stack (the blocked accept)"; return 1; }
    # two chunks: every count doubles
    cat "$W/$name.jfr" "$W/$name.jfr" > "$W/$name.2.jfr"
    ours "$W/$name.2.got" --event cpu "$W/$name.2.jfr" || return 1
    grep -q '^chunks 2 ' "$W/$name.2.got.err" || { cat "$W/$name.2.got.err"; return 1; }
    awk '{ $NF = $NF * 2; print }' "$W/$name.got" > "$W/$name.2.want"
    same_stacks "$W/$name.2.want" "$W/$name.2.got" "$name twice"
}

case_jdk17() {
    caps
    check_jdk "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" jdk17
}

case_jdk25() {
    caps
    [ -x "$JDK25/bin/java" ] || { echo "# no JDK 25 at $JDK25: nothing to check"; return 0; }
    check_jdk "$JDK25" jdk25
}

# async-profiler's recordings, made once for every asprof case (each case
# runs in a subshell: what persists is in $W); sets ASPROF_HOME
asprof_record() {
    if ! asprof_ensure > "$W/asprof.why"; then
        cat "$W/asprof.why"
        return 77
    fi
    [ -f "$W/asprof.ok" ] && return 0
    [ -f "$W/asprof.failed" ] && { cat "$W/asprof.failed"; return 1; }
    local lib=$ASPROF_HOME/lib/libasyncProfiler.so spec name opts pid deadline
    for spec in "main:itimer,alloc,lock,nativemem,chunksize=1m" "wall:wall,interval=10ms"; do
        name=${spec%%:*} opts=${spec#*:}
        nice -n 10 java -agentpath:"$lib=start,event=$opts,jfr,file=$W/$name.jfr" \
            -cp "$CLASSES" Workload > "$W/$name.log" 2>&1 &
        pid=$!
        deadline=$((SECONDS + 60))
        until grep -q 'Workload started' "$W/$name.log"; do
            if [ $SECONDS -ge $deadline ] || ! kill -0 $pid 2> /dev/null; then
                kill -KILL $pid 2> /dev/null
                { echo "Workload with async-profiler did not start:"; tail -5 "$W/$name.log"; } |
                    tee "$W/asprof.failed"
                return 1
            fi
            sleep 0.2
        done
        # the recording's length: 10 s of the workload, then the JVM's exit
        # writes the file
        sleep 10
        kill -TERM $pid
        wait $pid
        [ -s "$W/$name.jfr" ] || { echo "async-profiler wrote no $name.jfr" | tee "$W/asprof.failed"; return 1; }
    done
    touch "$W/asprof.ok"
}

# check_asprof event file jfrconv-flags...
check_asprof() {
    local ev=$1 file=$2
    shift 2
    caps
    asprof_record || return $?
    "$ASPROF_HOME/bin/jfrconv" -o collapsed "$@" "$W/$file.jfr" "$W/$ev.conv" > /dev/null 2>&1 ||
        { echo "jfrconv failed"; return 1; }
    strip_suffixes "$W/$ev.conv" > "$W/$ev.want"
    ours "$W/$ev.got" --event "$ev" "$W/$file.jfr" || return 1
    same_stacks "$W/$ev.want" "$W/$ev.got" "$ev"
}

case_asprof_cpu() { check_asprof cpu main; }
case_asprof_wall() { check_asprof wall wall; }
case_asprof_alloc() { check_asprof alloc main --alloc --total; }
case_asprof_lock() { check_asprof lock main --lock --total; }
case_asprof_nativemem() {
    check_asprof nativemem main --nativemem --total || return 1
    grep -q '^chunks [2-9]\|^chunks [1-9][0-9]' "$W/nativemem.got.err" ||
        { echo "one chunk only: $(cat "$W/nativemem.got.err")"; return 1; }
}

# the chunks of a file: "offset size" lines
chunks_of() {
    local f=$1 pos=0 total size
    total=$(stat -c %s "$f")
    while [ "$pos" -lt "$total" ]; do
        size=$((16#$(od -An -tx1 -j $((pos + 8)) -N8 "$f" | tr -d ' \n')))
        echo "$pos $size"
        pos=$((pos + size))
    done
}

# asan_run file: the sanitized tool on file; its exit 0 or 1 with a clear
# error, never a sanitizer report or a signal
asan_run() {
    local rc
    "$ATOOL" "$1" > /dev/null 2> "$1.err"
    rc=$?
    if grep -q 'Sanitizer\|runtime error' "$1.err" || [ $rc -gt 1 ]; then
        echo "$1: exit $rc"
        head -20 "$1.err"
        return 1
    fi
    if [ $rc = 1 ] && ! grep -q '^error: chunk [0-9]* at byte [0-9]*: ' "$1.err"; then
        echo "$1: an error without where: $(cat "$1.err")"
        return 1
    fi
    return 0
}

case_cut() {
    caps
    asprof_record || return $?
    local f=$W/main.jfr n=0 off size
    while read -r off size; do
        n=$((n + 1))
        head -c "$off" "$f" > "$W/cut.jfr"
        if [ "$off" -gt 0 ]; then
            asan_run "$W/cut.jfr" || return 1
            grep -q "^chunks $((n - 1)) " "$W/cut.jfr.err" && ! grep -q truncated "$W/cut.jfr.err" ||
                { echo "cut before chunk $n: $(cat "$W/cut.jfr.err")"; return 1; }
        fi
        local at
        for at in 1 67 68 $((size / 2)) $((size - 1)); do
            head -c $((off + at)) "$f" > "$W/cut.jfr"
            asan_run "$W/cut.jfr" || return 1
            grep -q "^chunks $((n - 1)) " "$W/cut.jfr.err" &&
                grep -q "^truncated: chunk $n at byte $off: " "$W/cut.jfr.err" ||
                { echo "cut $at bytes into chunk $n: $(cat "$W/cut.jfr.err")"; return 1; }
        done
    done < <(chunks_of "$f")
    [ $n -ge 2 ] || { echo "$n chunk(s): want several"; return 1; }
    echo "# cut at and inside each of $n chunks"
}

flip_at() {
    cp "$1" "$W/flip.jfr"
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 0xff)))" |
        dd of="$W/flip.jfr" bs=1 seek="$2" conv=notrunc status=none
    asan_run "$W/flip.jfr" || { echo "flipped byte $2"; return 1; }
    grep -q '^error' "$W/flip.jfr.err" && errors=$((errors + 1))
    return 0
}

case_flipped() {
    caps
    local f=$W/busy.jfr errors=0 i off size meta cp
    record_jdk java "$f" || return 1
    read -r off size < <(chunks_of "$f")
    cp=$((16#$(od -An -tx1 -j 16 -N8 "$f" | tr -d ' \n')))
    meta=$((16#$(od -An -tx1 -j 24 -N8 "$f" | tr -d ' \n')))
    # the header, the metadata's and the newest checkpoint's first bytes,
    # and bytes spread over the whole file
    for i in $(seq 0 67) $(seq "$meta" $((meta + 200))) $(seq "$cp" $((cp + 200))) \
        $(seq 68 $((size / 150)) $((size - 1))); do
        flip_at "$f" "$i" || return 1
    done
    [ $errors -gt 50 ] || { echo "only $errors flips were errors"; return 1; }
    echo "# $errors clear errors, no crash"
}

cd "$W" || exit 1
t_case "jdk17: our cpu stacks equal jfr print's ExecutionSample+NativeMethodSample, twice in two chunks" case_jdk17
t_case "jdk25: the same with JDK 25's recorder and jfr, when it is installed" case_jdk25
t_case "asprof cpu (itimer, several chunks): equal to jfrconv -o collapsed" case_asprof_cpu
t_case "asprof wall: equal to jfrconv -o collapsed" case_asprof_wall
t_case "asprof alloc: equal to jfrconv -o collapsed --alloc --total (bytes)" case_asprof_alloc
t_case "asprof lock: equal to jfrconv -o collapsed --lock --total (ns)" case_asprof_lock
t_case "asprof nativemem: equal to jfrconv -o collapsed --nativemem --total, several chunks" case_asprof_nativemem
t_case "cut at and inside every chunk: whole chunks read, the cut said (ASan)" case_cut
t_case "flipped bytes in header, metadata, pools, events: an error or samples (ASan)" case_flipped
t_done
