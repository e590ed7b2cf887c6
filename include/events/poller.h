/* poller: the event source used when BPF cannot load. Produces the same
 * struct fs_event records as bpf/events.bpf.c from /proc and cgroup files,
 * on a timer:
 *
 *  - exec/exit: every period (50 ms) /proc is listed and diffed against
 *    the previous listing (one getdents pass; stat is read only for new
 *    pids), unless /proc/loadavg shows that no task was created or reaped
 *    since the last look. A pid seen for less than young_ms (1 s) has its stat re-read
 *    every period, so a fork followed by execve shows as a second exec
 *    with the new comm; every rescan_ms (2 s) all processes are re-read
 *    to catch later execs (comm change), pid reuse (start time change) and
 *    zombies. A process that lives less than one period is never seen.
 *    Exits carry no status (FS_EVF_NO_EXIT_STATUS): it is gone by then.
 *  - oom: the oom_kill counter of each watched cgroup (v2 memory.events, v1
 *    memory.oom_control) every period. The counter names no victim: the
 *    poller takes the process of that cgroup that it sees exit in the same
 *    or a following period, within oom_match_ms (1 s) of the counter moving
 *    (the one with the largest last-known RSS if several; the kernel kills
 *    the largest), and marks the record FS_EVF_PID_GUESSED. With no such
 *    exit it reports pid 0. The processes of a watched cgroup whose usage
 *    is at least half its limit have their stat re-read every period, so
 *    that RSS is fresh; elsewhere (an unlimited cgroup, such as a host's
 *    root holding every process) the rescan's reading serves.
 *  - watermarks: memory.current / memory.usage_in_bytes of watched cgroups
 *    with a mark, and /proc/<pid>/statm of processes with one, every period;
 *    same armed/re-arm rule as the BPF program. A cgroup record has pid 0
 *    (no task triggered it).
 *
 * With a change feed (the kernel's process connector, events/proc_connector.h,
 * when the daemon has CAP_NET_ADMIN in the initial namespaces), the feed
 * says which processes forked, exec'd, renamed or exited: each period only
 * those are read (stat, and the cgroup of new ones), /proc is not listed
 * and the 2 s rescan re-reads only processes in watched cgroups with a
 * limit (an OOM victim's RSS). /proc is still listed every resync_ms
 * (30 s), and, with a full rescan, after the feed lost events. The cost
 * then follows the rate of changes, not the number of processes.
 *
 * Why 50 ms: a new process must be seen within 100 ms, and an exec after
 * fork within the same bound. Cost measured on the 2-CPU test host with
 * 20 idle target JVMs (tools/bench/footprint): with the feed, 0.23 % of
 * one CPU at 500 processes and 0.29 % at 2,000; without it 1.3 % and
 * 2.8 % (one /proc listing is ~0.8 ms there; it is skipped while loadavg
 * is unchanged). Timestamps are CLOCK_BOOTTIME at observation. Not
 * thread-safe. */
#ifndef FS_POLLER_H
#define FS_POLLER_H

#include "bpf/events.h"

#include <stdbool.h>
#include <stdint.h>

struct poller;
struct pconn_event;

/* Where the poller learns which processes changed (see the top). */
enum poller_feed {
    POLLER_FEED_NONE,   /* list /proc and re-read every process */
    POLLER_FEED_KERNEL, /* the process connector when it opens and proc_root is
                           this process's own /proc, else NONE */
    POLLER_FEED_MANUAL, /* tests: only what poller_feed() is given */
};

struct poller_options {
    const char *proc_root;   /* NULL: "/proc" */
    const char *cgroup_root; /* NULL: "/sys/fs/cgroup" */
    uint32_t period_ms;      /* 0: 50 */
    uint32_t young_ms;       /* 0: 1000 */
    uint32_t rescan_ms;      /* 0: 2000 */
    uint32_t oom_match_ms;   /* 0: 1000 */
    uint32_t resync_ms;      /* with a feed, a full listing this often; 0: 30000 */
    enum poller_feed feed;
    int feed_rcvbuf;   /* tests: the connector's socket buffer (0: its default) */
    bool no_timer;     /* tests drive poller_scan() by hand; poller_fd() is -1 */
    uint64_t start_ms; /* tests: CLOCK_MONOTONIC ms of the baseline (0: now) */
};

struct poller_counts {
    uint64_t scans;
    uint64_t listings; /* scans that listed /proc (the others found loadavg unchanged) */
    uint64_t scan_ns;  /* CPU time spent scanning, summed (CLOCK_THREAD_CPUTIME_ID) */
    uint64_t procs;    /* processes in the table now */
    uint64_t events;
    uint64_t missed_ticks;   /* timer expirations that found a scan still pending */
    uint64_t wakeups;        /* scans poller_consume ran (the timer's or the feed's) */
    bool periodic;           /* the timer fires every period now (see poller_fd) */
    bool feed;               /* a change feed is live */
    uint64_t feed_events;    /* events it gave */
    uint64_t feed_overflows; /* times it lost events (each followed by a full re-read) */
};

typedef void (*poller_emit_fn)(const struct fs_event *ev, void *arg);

/* Takes the first /proc listing (silently: existing processes are not
 * reported) and starts the timer. Returns 0 and *out, or -errno. */
int poller_new(const struct poller_options *opts, struct poller **out);
void poller_free(struct poller *p);

/* Readable when a scan is due: the timerfd, once per period; with the
 * kernel's feed, an epoll set of the timer and the feed, where the timer
 * keeps the period only while something needs it (a watermark or ladder,
 * a watched cgroup at half its limit or more, an OOM kill waiting for its
 * victim) and otherwise fires when the rescan or resync is due, the feed
 * waking it for a change (scanned at most once per period). -1 with
 * no_timer. Owned by p. */
int poller_fd(const struct poller *p);

/* When a scan is due (see poller_fd), runs it and emits its records; never blocks.
 * Returns the number of records emitted or -errno. */
int poller_consume(struct poller *p, poller_emit_fn emit, void *arg);

/* One scan at now_ms (CLOCK_MONOTONIC ms), for tests and poller_consume. */
int poller_scan(struct poller *p, uint64_t now_ms, poller_emit_fn emit, void *arg);

/* Watched cgroups: dir is the memory cgroup directory (copied), id its
 * inode. Watching again updates dir. 0, -ENOENT (no usage file in dir:
 * not a memory cgroup) or -ENOMEM. */
int poller_watch_cgroup(struct poller *p, uint64_t id, const char *dir);
int poller_unwatch_cgroup(struct poller *p, uint64_t id); /* 0 or -ENOENT */

/* Watermarks as in bpf_events.h; a cgroup mark needs the cgroup watched
 * (-ENOENT otherwise). 0, -EINVAL, -ENOENT or -ENOMEM. */
int poller_set_cgroup_mark(struct poller *p, uint64_t id, uint64_t bytes, uint64_t rearm_bytes);
int poller_clear_cgroup_mark(struct poller *p, uint64_t id);
int poller_set_proc_mark(struct poller *p, int tgid, uint64_t bytes, uint64_t rearm_bytes);
int poller_clear_proc_mark(struct poller *p, int tgid);

/* Step ladders as in bpf_events.h, at the poller's resolution: a period
 * that climbed several steps is one record. 0, -EINVAL, -ENOENT (cgroup not
 * watched, or removing an absent ladder) or -ENOMEM. */
int poller_set_cgroup_steps(struct poller *p, uint64_t id, uint64_t from_bytes,
                            uint64_t step_bytes);
int poller_set_proc_steps(struct poller *p, int tgid, uint64_t from_bytes, uint64_t step_bytes);

void poller_counts(const struct poller *p, struct poller_counts *out);

/* Why no change feed is live (a sentence), or NULL when one is. */
const char *poller_feed_why(const struct poller *p);

/* One event of a change feed (the process connector's, drained by each
 * scan; tests give them by hand with POLLER_FEED_MANUAL): the process it
 * names is re-read at the next scan. 0 or -ENOMEM. */
int poller_feed(struct poller *p, const struct pconn_event *ev);

#endif
