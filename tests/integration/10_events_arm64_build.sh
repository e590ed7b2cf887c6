#!/bin/bash
# bpf/events.bpf.c builds for arm64 against the minimal hand-written
# vmlinux/arm64/vmlinux.h, exposes the same programs and maps as the x86
# build, and - BPF bytecode being architecture-neutral - the arm64 object
# loads on this kernel with every CO-RE relocation resolved (except the
# deliberate ___old flavours of bpf/compat.bpf.h).
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$ROOT/tests/lib.sh"
CLANG=${CLANG:-clang}
BPFTOOL=${BPFTOOL:-bpftool}
OBJCHECK=$BUILD/tests/helpers/bpf_objcheck
T=$(mktemp -d /tmp/fs-arm64.XXXXXX)
trap 'rm -rf "$T"' EXIT

build() { # build ARCH OUT
    "$CLANG" -g -O2 -target bpf -D__TARGET_ARCH_"$1" -I"$ROOT/vmlinux/$1" -I"$ROOT/bpf" -Wall -Werror \
        -c "$ROOT/bpf/events.bpf.c" -o "$2"
}

# "struct bpf_map *rb;" / "struct bpf_program *exec_btf;" lines of a skeleton
members() { grep -E '^\s+struct bpf_(map|program) \*' "$1" | tr -d ' \t' | sort; }

sc_compiles_for_arm64() {
    need "command -v $CLANG && command -v $BPFTOOL" "needs clang and bpftool"
    build arm64 "$T/arm64.bpf.o" || return 1
    build x86 "$T/x86.bpf.o" || return 1
    "$BPFTOOL" gen skeleton "$T/arm64.bpf.o" name events_bpf >"$T/arm64.skel.h" || return 1
    "$BPFTOOL" gen skeleton "$T/x86.bpf.o" name events_bpf >"$T/x86.skel.h" || return 1
    [ "$(members "$T/arm64.skel.h" | wc -l)" -eq 15 ] ||
        { members "$T/arm64.skel.h"; echo "expected 7 maps and 8 programs"; return 1; }
    diff <(members "$T/x86.skel.h") <(members "$T/arm64.skel.h") ||
        { echo "arm64 and x86 skeletons differ"; return 1; }
}

sc_arm64_object_relocates_on_a_real_kernel() {
    need "[ \"$(id -u)\" = 0 ] && [ -r /sys/kernel/btf/vmlinux ]" "needs root and kernel BTF"
    need "[ -x $OBJCHECK ] && command -v $CLANG" "needs clang and the test helpers"
    build arm64 "$T/arm64.bpf.o" || return 1
    "$OBJCHECK" "$T/arm64.bpf.o"
}

sc_x86_object_relocates_on_a_real_kernel() {
    need "[ \"$(id -u)\" = 0 ] && [ -r /sys/kernel/btf/vmlinux ]" "needs root and kernel BTF"
    need "[ -x $OBJCHECK ] && command -v $CLANG" "needs clang and the test helpers"
    build x86 "$T/x86.bpf.o" || return 1
    "$OBJCHECK" "$T/x86.bpf.o"
}

t_case "arm64: events.bpf.c compiles with the minimal vmlinux.h, same skeleton as x86" sc_compiles_for_arm64
t_case "arm64: the arm64 object loads here, every non-___old CO-RE relocation resolved" sc_arm64_object_relocates_on_a_real_kernel
t_case "x86: the x86 object loads here, every non-___old CO-RE relocation resolved" sc_x86_object_relocates_on_a_real_kernel
t_done
