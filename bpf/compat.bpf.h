/* compat.bpf.h: every kernel difference the event programs meet, in one
 * place (libbpf-tools core_fixes.bpf.h style). Each entry names the kernel
 * version and commit that changed the layout; the programs in
 * events.bpf.c call only the compat_* helpers below and never touch a
 * drifting field directly.
 *
 * Tracepoint prototypes (what a tp_btf program may read from its context)
 * are not a struct layout CO-RE can relocate. bpf_events.c compares each
 * tp_btf program's expected arguments with the kernel's btf_trace_<name>
 * typedef before load and uses the classic tracepoint program instead when
 * they differ. The known case:
 *   oom/mark_victim: TP_PROTO(int pid) became TP_PROTO(struct task_struct
 *   *task, uid_t uid) in v6.9 ("mm: update mark_victim tracepoints
 *   fields", Carlos Galo; also backported to stable branches, so only BTF,
 *   never the version number, tells which one a kernel has).
 *   kmem/rss_stat: (mm, member, count) became (mm, member) in v6.2 with
 *   commit f1a7941243c1 below; the programs read only mm and member, which
 *   both prototypes have. */
#ifndef FS_COMPAT_BPF_H
#define FS_COMPAT_BPF_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* 1. kernfs_node->id is a u64 since v5.5, commit 67c0496e87d1 ("kernfs:
 * convert kernfs_node->id from union kernfs_node_id to u64"). Before, it was
 * a union whose ino half is the directory's inode number. */
union kernfs_node_id___old {
    struct {
        __u32 ino;
        __u32 generation;
    };
    __u64 id;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
    union kernfs_node_id___old id;
} __attribute__((preserve_access_index));

static __always_inline __u64 compat_kernfs_ino(struct kernfs_node *kn)
{
    if (bpf_core_type_exists(union kernfs_node_id___old)) {
        struct kernfs_node___old *old = (void *)kn;
        return BPF_CORE_READ(old, id.ino);
    }
    return BPF_CORE_READ(kn, id);
}

/* 2. The memory controller exists only with CONFIG_MEMCG; its subsystem
 * index is an enum value that differs between configurations. The cgroup
 * the memory controller is bound to is the v1 memory hierarchy's or the
 * unified one's, whichever the host mounts it on: its kernfs id is then
 * the inode of that directory, which is what userspace stat()s. */
static __always_inline struct cgroup_subsys_state *compat_task_memcg_css(struct task_struct *task)
{
    struct cgroup_subsys_state *css = NULL;
    struct css_set *cset;
    int id;

    if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
        return NULL;
    id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
    cset = BPF_CORE_READ(task, cgroups);
    if (!cset)
        return NULL;
    bpf_core_read(&css, sizeof(css), &cset->subsys[id]);
    return css;
}

static __always_inline __u64 compat_css_cgroup_ino(struct cgroup_subsys_state *css)
{
    if (!css)
        return 0;
    return compat_kernfs_ino(BPF_CORE_READ(css, cgroup, kn));
}

/* The memcg's page counter (v1 memory.usage_in_bytes, v2 memory.current),
 * in pages. struct mem_cgroup embeds its css; the offset is relocated. */
static __always_inline __u64 compat_memcg_usage_pages(struct cgroup_subsys_state *css)
{
    struct mem_cgroup *memcg;
    long pages;

    if (!css || !bpf_core_type_exists(struct mem_cgroup))
        return 0;
    memcg = (void *)css - bpf_core_field_offset(struct mem_cgroup, css);
    pages = BPF_CORE_READ(memcg, memory.usage.counter);
    return pages > 0 ? (__u64)pages : 0;
}

/* 3. mm->owner exists only with CONFIG_MEMCG (it is how the kernel charges
 * an mm to a memcg). Without it the per-cgroup watermark cannot work. */
static __always_inline struct task_struct *compat_mm_owner(struct mm_struct *mm)
{
    if (!bpf_core_field_exists(mm->owner))
        return NULL;
    return BPF_CORE_READ(mm, owner);
}

/* 4. mm->rss_stat is an array of struct percpu_counter since v6.2, commit
 * f1a7941243c1 ("mm: convert mm's rss stats into percpu_counter"); before,
 * struct mm_rss_stat { atomic_long_t count[NR_MM_COUNTERS]; }. Reading only
 * percpu_counter.count leaves out up to percpu_counter_batch pages per CPU
 * not yet folded in: good enough for a watermark, not for accounting. */
struct mm_rss_stat___old {
    atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
    struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

static __always_inline long compat_mm_counter(struct mm_struct *mm, int member)
{
    if (bpf_core_type_exists(struct mm_rss_stat___old)) {
        struct mm_struct___old *old = (void *)mm;
        long v = 0;
        bpf_core_read(&v, sizeof(v), &old->rss_stat.count[member & 3].counter);
        return v;
    }
    s64 c = 0;
    bpf_core_read(&c, sizeof(c), &mm->rss_stat[member & 3].count);
    return (long)c;
}

/* Resident pages as /proc/<pid>/statm counts them: file + anon + shmem.
 * The counter indexes come from an anonymous enum CO-RE cannot relocate;
 * they have not moved since MM_SHMEMPAGES was added in v4.5. */
static __always_inline __u64 compat_mm_rss_pages(struct mm_struct *mm)
{
    long sum = compat_mm_counter(mm, MM_FILEPAGES) + compat_mm_counter(mm, MM_ANONPAGES) +
               compat_mm_counter(mm, MM_SHMEMPAGES);
    return sum > 0 ? (__u64)sum : 0;
}

/* 5. The classic rss_stat record has told whether the mm is current's only
 * since commit e4dcad204d3a ("rss_stat: add support to detect RSS updates of
 * external mm"); before, every update was assumed to be current's. The
 * classic program cannot see the mm pointer (mm_id is a hash), so it acts
 * only on current's mm. */
static __always_inline int compat_rss_stat_is_current(struct trace_event_raw_rss_stat *ctx)
{
    if (!bpf_core_field_exists(ctx->curr))
        return 1;
    return ctx->curr;
}

/* 6. signal->live counts the live threads of a thread group; do_exit()
 * decrements it before trace_sched_process_exit on every kernel with BPF
 * ring buffers, so 0 there means "the last thread is exiting". */
static __always_inline int compat_group_dead(struct task_struct *task)
{
    return BPF_CORE_READ(task, signal, live.counter) == 0;
}

#endif
