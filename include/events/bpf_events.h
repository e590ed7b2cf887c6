/* bpf_events: loads bpf/events.bpf.c (CO-RE, libbpf skeleton), attaches
 * one program per tracepoint, reads its ring buffer and writes its
 * watermark maps. The fast path of events.h; nothing above events.c uses
 * this header.
 *
 * For each tracepoint the tp_btf program is used when the kernel's
 * btf_trace_<name> prototype has the arguments it reads, else the classic
 * "tracepoint/" program (see bpf/compat.bpf.h). Classic attachment needs
 * tracefs for the event ids: when /sys/kernel/tracing holds no events the
 * loader mounts tracefs there for the duration of the attach and unmounts
 * it again, leaving the host's mounts as they were.
 *
 * Not thread-safe: one thread (the daemon loop) calls everything.
 * bpf_events_open() forks a child that loads the programs with libbpf
 * (malloc, the logger): call it before the process starts other threads,
 * or a lock one of them holds at the fork stays held in the child. */
#ifndef FS_BPF_EVENTS_H_USER
#define FS_BPF_EVENTS_H_USER

#include "bpf/events.h" /* struct fs_event; include/events.h is another file */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_events;

struct bpf_events_options {
    bool force_classic;     /* tests: use every classic tracepoint program */
    uint32_t ringbuf_bytes; /* 0: 256 KiB (bpf_events.c says why); rounded up to a power of two >=
                               page size */
};

struct bpf_events_counts {
    uint64_t emitted;       /* records the programs submitted */
    uint64_t ringbuf_full;  /* records lost because the ring buffer was full */
    uint64_t malformed;     /* records the consumer dropped (short or unknown kind) */
    uint64_t consumed;      /* records handed to a callback */
    uint64_t rss_calls;     /* rss_stat invocations that looked a watermark up */
    uint32_t ringbuf_bytes; /* the ring buffer's size */
};

typedef void (*bpf_events_cb)(const struct fs_event *ev, void *arg);

/* Loads, attaches and opens the ring buffer. Returns 0 and *out, or -errno
 * with a human reason in err (e.g. "kernel has no BTF", "bpf(): Operation
 * not permitted (needs CAP_BPF and CAP_PERFMON, or root)"). Blocks for the
 * verifier (tens of ms). The caller frees *out with bpf_events_close().
 * Routes libbpf's messages (process-wide) through core/log.h first. */
int bpf_events_open(const struct bpf_events_options *opts, struct bpf_events **out, char *err,
                    size_t errcap);

/* Detaches every program and frees everything. NULL is a no-op. */
void bpf_events_close(struct bpf_events *b);

/* An epoll/poll-able fd, readable when records are waiting. Owned by b. */
int bpf_events_fd(const struct bpf_events *b);

/* Hands every waiting record to cb, in order, without blocking. Returns
 * the number handed over, or -errno. */
int bpf_events_consume(struct bpf_events *b, bpf_events_cb cb, void *arg);

/* Watermarks, in bytes. The mark is armed: the next value >= bytes emits
 * one record, and it re-arms once the value is < rearm_bytes (which must
 * be <= bytes). Setting an existing mark replaces and re-arms it. Return 0,
 * -EINVAL (bytes 0, rearm > bytes), -ENOENT (clear of an absent mark), -ENOSPC
 * (map full) or -errno. */
int bpf_events_set_cgroup_mark(struct bpf_events *b, uint64_t cgroup_id, uint64_t bytes,
                               uint64_t rearm_bytes);
int bpf_events_clear_cgroup_mark(struct bpf_events *b, uint64_t cgroup_id);
int bpf_events_set_proc_mark(struct bpf_events *b, int tgid, uint64_t bytes, uint64_t rearm_bytes);
int bpf_events_clear_proc_mark(struct bpf_events *b, int tgid);

/* Step ladders (bpf/steps.h): boundaries at from_bytes + k * step_bytes;
 * the program emits FS_EV_STEP_CGROUP / FS_EV_STEP_PROC each time the value
 * reaches the next boundary (value_bytes: the value, watermark_bytes: the
 * boundary). Setting restarts the ladder at from_bytes (the next change of
 * the value at or above it is reported); step_bytes 0 removes it. A ladder
 * and a watermark of the same key are independent. Return 0, -ENOENT
 * (removal of an absent ladder), -EINVAL (tgid <= 0), -ENOSPC or -errno. */
int bpf_events_set_cgroup_steps(struct bpf_events *b, uint64_t cgroup_id, uint64_t from_bytes,
                                uint64_t step_bytes);
int bpf_events_set_proc_steps(struct bpf_events *b, int tgid, uint64_t from_bytes,
                              uint64_t step_bytes);

/* Reads the per-CPU counters (one map lookup syscall). */
void bpf_events_counts(struct bpf_events *b, struct bpf_events_counts *out);

/* Which program flavour each tracepoint uses, e.g.
 * "exec=tp_btf exit=tp_btf oom=tp_btf rss=tp_btf". Owned by b. */
const char *bpf_events_describe(const struct bpf_events *b);

/* Which program a tracepoint gets on a kernel with this BTF: "tp_btf" when
 * btf_trace_<tracepoint> exists and its arguments start with those the
 * tp_btf program reads, else "tracepoint" (also for vmlinux NULL). NULL for
 * a tracepoint the programs do not use. Exposed so that tests can check
 * the choice against the BTF of older kernels. */
struct btf;
const char *bpf_events_flavour(const struct btf *vmlinux, const char *tracepoint);

#endif
