/* events.bpf.c: process exec/exit, OOM victims and memory watermark
 * crossings, as struct fs_event records in one ring buffer.
 *
 * Every tracepoint has two programs: a tp_btf one (typed arguments, the
 * default) and a classic "tracepoint/" one that works from current and the
 * trace record. bpf_events.c autoloads exactly one of each pair (see
 * compat.bpf.h for why and when). Kernel layout drift is handled only in
 * compat.bpf.h.
 *
 * rss_stat fires on every change of an mm's RSS counters (each page fault
 * batch), so that path does nothing unless userspace has set a watermark
 * or a ladder (n_proc_marks / n_cg_marks) and then one hash lookup per kind
 * before returning; a record is emitted only when a watermark is crossed
 * upward while armed (it re-arms once the value is back under its
 * hysteresis band), or when the value reaches the next step of a ladder
 * (steps.h: one record per step of growth, the rate's raw material). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "compat.bpf.h"
#include "events.h"
#include "steps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* include/linux/sched.h; unchanged since v2.6 */
#define FS_PF_KTHREAD 0x00200000

/* Fixed for the life of the program: written by the loader before load. */
const volatile __u64 page_size = 4096;

/* Number of entries in proc_marks / cg_marks, maintained by userspace
 * (bpf_events.c) so that rss_stat returns at once when there are none. */
__u32 n_proc_marks = 0;
__u32 n_cg_marks = 0;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 512 * 1024); /* resized by the loader */
} rb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fs_bpf_stats);
} stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u64); /* memory cgroup id (directory inode) */
    __type(value, struct fs_watermark);
} cg_marks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32); /* tgid */
    __type(value, struct fs_watermark);
} proc_marks SEC(".maps");

/* Classic mark_victim records whose victim is not current: the record is
 * emitted from the victim's own exit, where its task_struct is current.
 * Key: victim pid (thread id); value: CLOCK_BOOTTIME of mark_victim. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} oom_pending SEC(".maps");

static __always_inline struct fs_bpf_stats *stats_slot(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline struct fs_event *reserve(__u32 kind, __u32 flags)
{
    struct fs_event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
    struct fs_bpf_stats *st = stats_slot();

    if (!e) {
        if (st)
            st->ringbuf_full++;
        return NULL;
    }
    if (st)
        st->emitted++;
    __builtin_memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->flags = flags;
    e->ts_ns = bpf_ktime_get_boot_ns();
    return e;
}

/* comm is the process's (its leader's): the task may be any thread, and a
 * JVM's threads are named "C2 CompilerThre", "GC Thread#0"... */
static __always_inline void fill_task(struct fs_event *e, struct task_struct *t)
{
    e->pid = BPF_CORE_READ(t, pid);
    e->tgid = BPF_CORE_READ(t, tgid);
    e->ppid = BPF_CORE_READ(t, real_parent, tgid);
    BPF_CORE_READ_STR_INTO(&e->comm, t, group_leader, comm);
    e->cgroup_id = compat_css_cgroup_ino(compat_task_memcg_css(t));
}

/* ---- exec ---------------------------------------------------------------- */

static __always_inline int on_exec(struct task_struct *t, __u32 flags)
{
    struct fs_event *e = reserve(FS_EV_EXEC, flags);
    if (!e)
        return 0;
    fill_task(e, t);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p)
{
    return on_exec(p, 0);
}

SEC("tracepoint/sched/sched_process_exec")
int exec_tp(void *ctx)
{
    return on_exec((struct task_struct *)bpf_get_current_task(), FS_EVF_CLASSIC);
}

/* ---- exit ---------------------------------------------------------------- */

/* A victim the classic OOM program could not describe is exiting. */
static __always_inline void oom_at_exit(struct task_struct *t)
{
    __u32 pid = BPF_CORE_READ(t, pid);
    __u64 *ts = bpf_map_lookup_elem(&oom_pending, &pid);
    if (!ts)
        return;
    __u64 when = *ts;
    bpf_map_delete_elem(&oom_pending, &pid);
    struct fs_event *e = reserve(FS_EV_OOM, FS_EVF_CLASSIC | FS_EVF_AT_EXIT);
    if (!e)
        return;
    fill_task(e, t);
    e->ts_ns = when;
    bpf_ringbuf_submit(e, 0);
}

/* One record per process: a thread's exit is not a process exit, and the
 * last thread out need not be the leader (pthread_exit() in main). */
static __always_inline int on_exit(struct task_struct *t, __u32 flags)
{
    oom_at_exit(t);
    if (!compat_group_dead(t) || (BPF_CORE_READ(t, flags) & FS_PF_KTHREAD))
        return 0;
    struct fs_event *e = reserve(FS_EV_EXIT, flags);
    if (!e)
        return 0;
    fill_task(e, t);
    int code = BPF_CORE_READ(t, exit_code);
    e->exit_code = (code >> 8) & 0xff;
    e->exit_signal = code & 0x7f;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p)
{
    return on_exit(p, 0);
}

SEC("tracepoint/sched/sched_process_exit")
int exit_tp(void *ctx)
{
    return on_exit((struct task_struct *)bpf_get_current_task(), FS_EVF_CLASSIC);
}

/* ---- OOM victim ------------------------------------------------------------ */

/* mark_victim runs in the context of the task that hit the limit, not the
 * victim's: everything must come from the victim's task_struct. */
SEC("tp_btf/mark_victim")
int BPF_PROG(oom_btf, struct task_struct *victim)
{
    struct fs_event *e = reserve(FS_EV_OOM, 0);
    if (!e)
        return 0;
    fill_task(e, victim);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

/* The classic record carries only the victim's pid (a thread id, usually
 * the leader's). When the task that hit the limit belongs to the victim's
 * process (a JVM thread filling its own heap: the common case) current
 * describes it; otherwise the record is emitted when the victim exits
 * (oom_at_exit), with the time of this event. */
SEC("tracepoint/oom/mark_victim")
int oom_tp(struct trace_event_raw_mark_victim *ctx)
{
    struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
    int pid = ctx->pid;
    if (BPF_CORE_READ(cur, tgid) != pid && BPF_CORE_READ(cur, pid) != pid) {
        __u32 key = (__u32)pid;
        __u64 now = bpf_ktime_get_boot_ns();
        bpf_map_update_elem(&oom_pending, &key, &now, BPF_ANY);
        return 0;
    }
    struct fs_event *e = reserve(FS_EV_OOM, FS_EVF_CLASSIC);
    if (!e)
        return 0;
    fill_task(e, cur);
    e->pid = pid;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

/* ---- RSS / memcg usage watermarks ------------------------------------------ */

static __always_inline void emit_mark(__u32 kind, struct task_struct *owner, __u64 cgid,
                                      __u32 flags, __u64 value, __u64 mark)
{
    struct fs_event *e = reserve(kind, flags);
    if (!e)
        return;
    fill_task(e, owner);
    if (cgid)
        e->cgroup_id = cgid;
    e->value_bytes = value;
    e->watermark_bytes = mark;
    bpf_ringbuf_submit(e, 0);
}

static __always_inline void check_watermark(struct fs_watermark *w, __u64 value, __u32 kind,
                                            struct task_struct *owner, __u64 cgid, __u32 flags)
{
    if (!w->watermark_bytes)
        return;
    if (value < w->watermark_bytes) {
        if (value < w->rearm_bytes && !w->armed)
            w->armed = 1;
        return;
    }
    /* two CPUs may see the crossing at once: only the one that disarms emits */
    if (!w->armed || __sync_val_compare_and_swap(&w->armed, 1, 0) != 1)
        return;
    __sync_fetch_and_add(&w->crossings, 1);
    emit_mark(kind, owner, cgid, flags, value, w->watermark_bytes);
}

static __always_inline void check_step(struct fs_watermark *w, __u64 value, __u32 kind,
                                       struct task_struct *owner, __u64 cgid, __u32 flags)
{
    __u64 step = w->step_bytes, next = w->step_next;
    if (!step)
        return;
    __u64 moved = fs_step_next(w->step_from, step, next, value);
    if (moved == next)
        return;
    /* two CPUs may move the ladder at once: only the one whose swap lands
     * acts, so each step is reported once */
    if (__sync_val_compare_and_swap(&w->step_next, next, moved) != next || value < next)
        return;
    emit_mark(kind, owner, cgid, flags, value, next);
}

static __always_inline void check_mark(struct fs_watermark *w, __u64 value, __u32 kind,
                                       __u32 step_kind, struct task_struct *owner, __u64 cgid,
                                       __u32 flags)
{
    check_watermark(w, value, kind, owner, cgid, flags);
    check_step(w, value, step_kind, owner, cgid, flags);
}

static __always_inline int on_rss(struct mm_struct *mm, __u32 flags)
{
    __u32 np = n_proc_marks, nc = n_cg_marks;
    if (!np && !nc)
        return 0;
    struct task_struct *owner = mm ? compat_mm_owner(mm) : NULL;
    if (!owner)
        return 0;
    struct fs_bpf_stats *st = stats_slot();
    if (st)
        st->rss_calls++;
    if (np) {
        __u32 tgid = BPF_CORE_READ(owner, tgid);
        struct fs_watermark *w = bpf_map_lookup_elem(&proc_marks, &tgid);
        if (w)
            check_mark(w, compat_mm_rss_pages(mm) * page_size, FS_EV_WATERMARK_PROC,
                       FS_EV_STEP_PROC, owner, 0, flags);
    }
    if (nc) {
        struct cgroup_subsys_state *css = compat_task_memcg_css(owner);
        __u64 cgid = compat_css_cgroup_ino(css);
        struct fs_watermark *w = bpf_map_lookup_elem(&cg_marks, &cgid);
        if (w)
            check_mark(w, compat_memcg_usage_pages(css) * page_size, FS_EV_WATERMARK_CGROUP,
                       FS_EV_STEP_CGROUP, owner, cgid, flags);
    }
    return 0;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(rss_btf, struct mm_struct *mm, int member)
{
    return on_rss(mm, 0);
}

SEC("tracepoint/kmem/rss_stat")
int rss_tp(struct trace_event_raw_rss_stat *ctx)
{
    if (!compat_rss_stat_is_current(ctx))
        return 0;
    struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
    return on_rss(BPF_CORE_READ(cur, mm), FS_EVF_CLASSIC);
}
