/* vmlinux.h for arm64: a minimal, hand-written CO-RE header.
 *
 * A full header is generated from a running kernel's BTF and cannot be made
 * on an x86 build machine; see vmlinux/README.md for how to replace this
 * file with one dumped on an arm64 machine. Until then this file declares
 * only what bpf/events.bpf.c, bpf/compat.bpf.h and libbpf's bpf_helpers.h /
 * bpf_tracing.h / bpf_core_read.h use.
 *
 * Kernel structs carry preserve_access_index, so their layout here does not
 * matter: libbpf relocates every field access against the target kernel's
 * BTF at load time. Only the fields the programs read are declared. What is
 * NOT relocated and must match the kernel's UAPI exactly: the BPF map type
 * and flag numbers below (include/uapi/linux/bpf.h) and the basic type
 * sizes (LP64, as on every arm64 Linux). */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#define FS_CORE __attribute__((preserve_access_index))
#else
#define FS_CORE
#endif

/* ---- basic types (include/uapi/asm-generic/int-ll64.h) ---------------------- */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short int __s16;
typedef short unsigned int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef long long unsigned int __u64;
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __le16;
typedef __u32 __le32;
typedef __u64 __le64;
typedef __u32 __wsum;
typedef __u16 __sum16;
typedef _Bool bool;
enum {
    false = 0,
    true = 1,
};
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef long unsigned int size_t;
typedef long int ssize_t;

typedef struct {
    int counter;
} atomic_t;

typedef struct {
    s64 counter;
} atomic64_t;

typedef atomic64_t atomic_long_t;

/* ---- BPF UAPI constants (not relocated: values must match) ------------------- */
enum bpf_map_type {
    BPF_MAP_TYPE_UNSPEC = 0,
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PROG_ARRAY = 3,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
    BPF_MAP_TYPE_PERCPU_HASH = 5,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_STACK_TRACE = 7,
    BPF_MAP_TYPE_CGROUP_ARRAY = 8,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
    BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
    BPF_ANY = 0,
    BPF_NOEXIST = 1,
    BPF_EXIST = 2,
    BPF_F_LOCK = 4,
};

enum {
    BPF_RB_NO_WAKEUP = 1,
    BPF_RB_FORCE_WAKEUP = 2,
};

/* ---- bpf_tracing.h with __TARGET_ARCH_arm64 (arch/arm64/include/uapi/asm/ptrace.h) */
struct user_pt_regs {
    __u64 regs[31];
    __u64 sp;
    __u64 pc;
    __u64 pstate;
};

struct pt_regs {
    union {
        struct user_pt_regs user_regs;
        struct {
            u64 regs[31];
            u64 sp;
            u64 pc;
            u64 pstate;
        };
    };
    u64 orig_x0;
} FS_CORE;

/* ---- what the event programs read --------------------------------------------- */
enum cgroup_subsys_id {
    cpuset_cgrp_id = 0,
    cpu_cgrp_id = 1,
    cpuacct_cgrp_id = 2,
    io_cgrp_id = 3,
    memory_cgrp_id = 4,
    CGROUP_SUBSYS_COUNT = 14, /* config-dependent; relocated by name, never used */
};

enum {
    MM_FILEPAGES = 0,
    MM_ANONPAGES = 1,
    MM_SWAPENTS = 2,
    MM_SHMEMPAGES = 3,
    NR_MM_COUNTERS = 4,
};

struct kernfs_node {
    u64 id;
} FS_CORE;

struct cgroup {
    struct kernfs_node *kn;
} FS_CORE;

struct cgroup_subsys_state {
    struct cgroup *cgroup;
} FS_CORE;

struct css_set {
    struct cgroup_subsys_state *subsys[CGROUP_SUBSYS_COUNT];
} FS_CORE;

struct page_counter {
    atomic_long_t usage;
} FS_CORE;

struct mem_cgroup {
    struct cgroup_subsys_state css;
    struct page_counter memory;
} FS_CORE;

struct percpu_counter {
    s64 count;
} FS_CORE;

struct task_struct;

struct mm_struct {
    struct percpu_counter rss_stat[NR_MM_COUNTERS];
    struct task_struct *owner;
} FS_CORE;

struct signal_struct {
    atomic_t live;
} FS_CORE;

struct task_struct {
    unsigned int flags;
    struct mm_struct *mm;
    int exit_code;
    pid_t pid;
    pid_t tgid;
    struct task_struct *real_parent;
    struct task_struct *group_leader;
    char comm[16];
    struct signal_struct *signal;
    struct css_set *cgroups;
} FS_CORE;

struct linux_binprm;

struct trace_entry {
    short unsigned int type;
    unsigned char flags;
    unsigned char preempt_count;
    int pid;
} FS_CORE;

struct trace_event_raw_sched_process_exec {
    struct trace_entry ent;
    u32 __data_loc_filename;
    pid_t pid;
    pid_t old_pid;
    char __data[0];
} FS_CORE;

struct trace_event_raw_sched_process_template {
    struct trace_entry ent;
    char comm[16];
    pid_t pid;
    int prio;
    char __data[0];
} FS_CORE;

struct trace_event_raw_mark_victim {
    struct trace_entry ent;
    int pid;
    char __data[0];
} FS_CORE;

struct trace_event_raw_rss_stat {
    struct trace_entry ent;
    unsigned int mm_id;
    unsigned int curr;
    int member;
    long int size;
    char __data[0];
} FS_CORE;

#undef FS_CORE

#endif /* __VMLINUX_H__ */
