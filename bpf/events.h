/* events.h: the record bpf/events.bpf.c puts in the ring buffer and the
 * map values userspace writes, shared with src/ (bpf_events.c, poller.c,
 * events.c). Fixed-width types and fixed arrays only: the layout must be the
 * same for clang -target bpf and for gcc on x86_64 and aarch64.
 *
 * The poller (src/poller.c) fills the same record, so a consumer never
 * knows which source produced it; fields a source cannot know are marked
 * by a flag, never left looking valid. */
#ifndef FS_BPF_EVENTS_H
#define FS_BPF_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define FS_COMM_LEN 16

enum fs_event_kind {
    FS_EV_EXEC = 1,             /* a process called execve (poller: appeared or changed comm) */
    FS_EV_EXIT = 2,             /* the last thread of a process exited */
    FS_EV_OOM = 3,              /* the OOM killer chose pid as its victim */
    FS_EV_WATERMARK_CGROUP = 4, /* a memory cgroup's usage crossed its watermark upward */
    FS_EV_WATERMARK_PROC = 5,   /* a process's RSS crossed its watermark upward */
    FS_EV_STEP_CGROUP = 6,      /* a memory cgroup's usage reached the next step of its ladder */
    FS_EV_STEP_PROC = 7,        /* a process's RSS reached the next step of its ladder */
};

/* fs_event.flags */
#define FS_EVF_NO_EXIT_STATUS (1u << 0) /* exit: status/signal unknown (poller) */
#define FS_EVF_PID_GUESSED    (1u << 1) /* oom: victim inferred from exits (poller) */
#define FS_EVF_AT_EXIT        (1u << 2) /* oom: reported at the victim's exit (classic) */
#define FS_EVF_CLASSIC        (1u << 3) /* produced by a classic tracepoint program */

struct fs_event {
    __u32 kind;  /* enum fs_event_kind */
    __u32 flags; /* FS_EVF_* */
    __s32 pid;   /* thread id in the host pid namespace (oom: the victim thread) */
    __s32 tgid;  /* process id in the host pid namespace; 0 when unknown */
    __s32 ppid;  /* tgid of the real parent; 0 when unknown */
    /* exit only: exit(2) status 0..255 and the terminating signal (0: none);
     * both -1 with FS_EVF_NO_EXIT_STATUS */
    __s32 exit_code;
    __s32 exit_signal;
    __u32 _pad0;
    __u64 cgroup_id;       /* memory cgroup: inode of its directory (v1 or v2); 0 unknown */
    __u64 ts_ns;           /* CLOCK_BOOTTIME of the kernel event (poller: when it saw it) */
    __u64 value_bytes;     /* watermark: the usage/RSS that crossed */
    __u64 watermark_bytes; /* watermark: the watermark it crossed */
    char comm[FS_COMM_LEN];
};

/* Value of the cg_marks (key: __u64 memory cgroup id) and proc_marks (key:
 * __u32 tgid) hash maps. An entry holds a watermark, a step ladder, or both.
 *
 * Watermark (watermark_bytes 0: none): userspace writes watermark/rearm and
 * armed = 1; the program clears armed when it emits and sets it again once
 * the value has fallen below rearm_bytes.
 *
 * Ladder (step_bytes 0: none): boundaries at step_from + k * step_bytes;
 * userspace writes step_next = step_from, the program moves it (steps.h)
 * and emits FS_EV_STEP_* each time the value reaches it. */
struct fs_watermark {
    __u64 watermark_bytes;
    __u64 rearm_bytes; /* < watermark_bytes: the hysteresis band */
    __u64 armed;       /* 64-bit: BPF atomics on 32-bit words need -mcpu=v3 */
    __u64 crossings;   /* events emitted for this watermark */
    __u64 step_from;
    __u64 step_bytes;
    __u64 step_next; /* the next boundary to report */
};

/* One slot of the per-CPU "stats" array; userspace sums the CPUs. */
struct fs_bpf_stats {
    __u64 emitted;      /* records submitted to the ring buffer */
    __u64 ringbuf_full; /* bpf_ringbuf_reserve() failed: the record is lost */
    __u64 rss_calls;    /* rss_stat invocations that reached a watermark lookup */
};

#endif
