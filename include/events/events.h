/* events: the one stream of exec / exit / oom / watermark records the
 * daemon consumes, from BPF (bpf_events.h) or, where BPF cannot load, from
 * the /proc and cgroup-file poller (poller.h). Nothing above this module
 * knows which source runs; events_name() says, for logs and status.
 *
 * The record is struct fs_event (bpf/events.h):
 *   kind        FS_EV_EXEC | FS_EV_EXIT | FS_EV_OOM | FS_EV_WATERMARK_CGROUP |
 *               FS_EV_WATERMARK_PROC | FS_EV_STEP_CGROUP | FS_EV_STEP_PROC
 *   pid, tgid   host pid namespace; tgid is the process. OOM: the VICTIM.
 *               Watermark: the process whose RSS crossed (proc), or the
 *               owner of the mm whose fault pushed the cgroup over (cgroup;
 *               0 from the poller).
 *   ppid        tgid of the parent (exec/exit), 0 unknown. Exit: pid is the
 *               last thread out (usually the leader), tgid the process.
 *   comm        the process's (leader's) name, 16 bytes, NUL-terminated
 *   cgroup_id   memory cgroup id = inode of its directory (cgroup.h
 *               cgroup_info.memory_id); 0 unknown
 *   ts_ns       CLOCK_BOOTTIME nanoseconds: of the kernel event (bpf) or of
 *               the observation (poller)
 *   exit_code / exit_signal   exit only: status 0..255 and the killing
 *               signal (0 none); -1/-1 with FS_EVF_NO_EXIT_STATUS (poller)
 *   value_bytes / watermark_bytes   watermark and step only (step: the
 *               boundary reached)
 *   flags       FS_EVF_*: what a source could not know or had to infer
 *
 * Watermarks are armed when set: the first observation >= bytes emits one
 * record and disarms; once the value is below bytes - hysteresis it re-arms.
 * So a process already above its watermark when it is set is reported
 * once, and a value hovering around the watermark is reported once per
 * real excursion. A process's mark is cleared automatically when its exit
 * is consumed.
 *
 * Differences between the sources a consumer may see (all documented in
 * poller.h): the poller reports a fork that has not exec'd yet as an exec
 * and its exec again when the comm changes; reports only OOM kills of
 * watched cgroups (BPF: every OOM kill on the node); never sees a process
 * that lives less than one period; guesses the OOM victim
 * (FS_EVF_PID_GUESSED, or pid 0).
 *
 * Not thread-safe: call everything from one thread (the daemon loop). */
#ifndef FS_EVENTS_H
#define FS_EVENTS_H

#include "bpf/events.h"
#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics;
struct events_source;

struct events_options {
    enum fs_bpf_mode mode;   /* FLAMESHOT_BPF: auto (BPF, else poller), on (BPF or fail), off */
    struct metrics *metrics; /* events_total, events_lost, ringbuf_full; may be NULL */
    const char *proc_root;   /* NULL: "/proc" */
    const char *cgroup_root; /* NULL: "/sys/fs/cgroup" */
    uint32_t poll_period_ms; /* poller period, 0: 50 ms */
    uint32_t ringbuf_bytes;  /* 0: 256 KiB */
    bool force_classic;      /* tests: classic tracepoint programs only */
};

struct events_stats {
    uint64_t events;       /* records delivered to callbacks */
    uint64_t lost;         /* records known lost (ring buffer full, malformed) */
    uint64_t ringbuf_full; /* bpf_ringbuf_reserve() failures in the kernel */
};

typedef void (*events_cb)(const struct fs_event *ev, void *arg);

/* Opens the source FLAMESHOT_BPF asks for and logs which one is live and
 * why. auto falls back to the poller (with a warning naming the reason);
 * on returns the BPF error instead. Returns 0 and *out (free with
 * events_close), or -errno with a reason in err. Blocks for the BPF
 * verifier or the first /proc listing (tens of ms). */
int events_open(const struct events_options *opts, struct events_source **out, char *err,
                size_t errcap);
void events_close(struct events_source *s); /* NULL is a no-op */

/* "bpf" or "poller". */
const char *events_name(const struct events_source *s);

/* One line for the status page: which programs, or the poller's period and
 * why BPF is not used. Owned by s. */
const char *events_detail(const struct events_source *s);

/* Readable when events_consume() has work: add it to the loop's poll set.
 * Owned by s. */
int events_fd(const struct events_source *s);

/* Delivers every waiting record to cb (for the poller: runs the due scan).
 * Never blocks. Returns the number delivered or -errno. */
int events_consume(struct events_source *s, events_cb cb, void *arg);

/* Registers a memory cgroup (id = cgroup_info.memory_id, dir =
 * cgroup_info.memory_dir) for OOM counting and cgroup watermarks. Needed by
 * the poller; the BPF source sees every cgroup but the same calls are
 * required so that code above does not depend on the source. Unwatching
 * clears the cgroup's watermark. 0, -ENOENT (dir is not a memory cgroup),
 * -ENOMEM. */
int events_watch_cgroup(struct events_source *s, uint64_t cgroup_id, const char *memory_dir);
int events_unwatch_cgroup(struct events_source *s, uint64_t cgroup_id);

/* Watermarks in bytes with a hysteresis band (<= bytes). A cgroup must be
 * watched first. 0, -EINVAL (bytes 0 or hysteresis > bytes), -ENOENT
 * (cgroup not watched / no such mark), -ENOSPC (BPF map full), -errno. */
int events_set_cgroup_watermark(struct events_source *s, uint64_t cgroup_id, uint64_t bytes,
                                uint64_t hysteresis_bytes);
int events_clear_cgroup_watermark(struct events_source *s, uint64_t cgroup_id);
int events_set_proc_watermark(struct events_source *s, int tgid, uint64_t bytes,
                              uint64_t hysteresis_bytes);
int events_clear_proc_watermark(struct events_source *s, int tgid);

/* Step ladders (bpf/steps.h), for growth rates without a record per page:
 * one FS_EV_STEP_CGROUP / FS_EV_STEP_PROC record each time the value
 * reaches the next boundary from_bytes + k * step_bytes (value_bytes: the
 * value, watermark_bytes: the boundary; ts_ns: when). A fall of two steps
 * moves the ladder down silently, so the next record may name a lower
 * value than the last. BPF reports the kernel's every change; the poller
 * what it reads each period. Setting restarts the ladder at from_bytes;
 * step_bytes 0 removes it. Independent of the watermark; both go with
 * events_unwatch_cgroup / the process's exit. 0, -ENOENT (cgroup not
 * watched, or removing an absent ladder), -EINVAL (tgid <= 0), -ENOSPC,
 * -errno. */
int events_set_cgroup_steps(struct events_source *s, uint64_t cgroup_id, uint64_t from_bytes,
                            uint64_t step_bytes);
int events_set_proc_steps(struct events_source *s, int tgid, uint64_t from_bytes,
                          uint64_t step_bytes);

/* Counters since open (reads the BPF per-CPU map: one syscall). Also
 * stores them in the metrics given at open. */
void events_stats(struct events_source *s, struct events_stats *out);

/* Records known lost since open (events_stats' lost), re-read at most
 * once a second (otherwise the last count read): cheap enough to ask
 * after every events_consume. A count that grows means exec and exit
 * records may be missing: the caller brings what it keeps from them back
 * in step (monitor_resync). Always 0 for the poller, which re-lists /proc
 * itself when its feed overflows. */
uint64_t events_lost(struct events_source *s);

/* "exec", "exit", "oom", "watermark_cgroup", "watermark_proc", "step_cgroup",
 * "step_proc", "unknown". */
const char *events_kind_name(uint32_t kind);

#endif
