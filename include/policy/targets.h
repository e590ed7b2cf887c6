/* targets: the table of live processes worth watching. A process is a
 * target when a rule's `command` regex matches its full command line (in
 * Kubernetes: of an opted-in container, and the rule's container scope).
 * JDK tools (jcmd, jps, jstack, jmap, jinfo, jstat, jhsdb) and the agent's
 * own children never are. Filled by one /proc scan at start-up, then kept
 * current by exec/exit events, and by a rescan when some were lost
 * (targets_resync).
 *
 * Ownership: the daemon loop is the only writer and holds the table lock
 * while it mutates; other threads (HTTP) read under targets_lock(). The
 * lock is recursive: functions below that take it may be called with it
 * held. A
 * `struct target *` is valid until the loop removes it: readers must not
 * keep one past targets_unlock(). */
#ifndef FS_TARGETS_H
#define FS_TARGETS_H

#include "events/cgroup.h"
#include "core/config.h"
#include "kube/podtable.h"
#include "policy/policy.h"
#include "events/procfs.h"
#include "policy/sampler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* Who the target belongs to in Kubernetes; all "" outside it. */
struct target_pod {
    char name[254];
    char namespace_[64];
    char uid[40];
    char container[254];
};

/* The settings a Pod may override (flameshot.io/ annotations): the
 * DaemonSet's (or standalone's) FLAMESHOT_* values, else its Pod's. */
struct target_settings {
    uint64_t auto_profiling_ms; /* 0: off */
    uint64_t auto_profiling_duration_ms;
    bool oom_hprof_enabled;
    uint64_t oom_hprof_match_window_ms;
    bool jcmd_snapshot_enabled;
    uint64_t jcmd_timeout_ms;
};

struct target {
    struct proc_ident id;
    char *cmdline; /* argv joined by spaces */
    char *argv;    /* raw, NUL-separated (flags with spaces survive) */
    size_t argv_len;
    /* owned by the config, or in Kubernetes by pod_ref's configuration */
    const struct rule *rule;
    /* Kubernetes: the configuration of its Pod (a counted reference: the
     * rule stays valid while the target or a job of it lives) */
    struct podref *pod_ref;
    struct target_settings settings;
    uint64_t next_auto_ms; /* monotonic; 0 until armed */
    char service[128];     /* rule/FLAMESHOT_SERVICE, else the jar or main class */
    bool has_cgroup;
    struct cgroup_info cg;
    struct target_pod pod;
    struct limits limits;
    uint64_t cgroup_mem_limit; /* the memory cgroup's own limit; CGROUP_UNLIMITED: none */
    struct sampler_state samples;
    struct policy_state policy;
    uint64_t added_ms;       /* monotonic */
    uint64_t proc_watermark; /* bytes armed in the event source; 0 none */
    bool oom_killed;         /* chosen by the OOM killer (its exit follows) */
    uint64_t started_ns;     /* wall clock */
    int verdict;             /* candidates: TARGETS_UNKNOWN, _JVM or _GONE (targets_probe) */
    bool unreachable_warned; /* a rule threshold above its limits was logged */
};

enum { TARGETS_UNKNOWN = 0, TARGETS_JVM, TARGETS_GONE };

struct targets;

/* proc_root / cgroup_root: NULL for the real ones; tests point them at
 * file trees. cfg must outlive the table. NULL on allocation failure. */
struct targets *targets_new(const struct config *cfg, const char *proc_root,
                            const char *cgroup_root);
void targets_free(struct targets *t);

void targets_lock(struct targets *t);
void targets_unlock(struct targets *t);

/* Kubernetes mode: whose containers may be targets (podtable.h). Without
 * it (standalone) every process the rules match is one. Set before the
 * first targets_consider; pt must outlive t. */
void targets_set_pods(struct targets *t, struct podtable *pt);

/* Looks at pid and adds it when it is a target. Returns 1 (added; *out set
 * when out is non-NULL), 0 (not a target, or already in the table), or
 * -errno (gone, unreadable). Takes the lock itself, never across the
 * reading of /proc and cgroup files: call it without the lock held.
 *
 * In Kubernetes mode only an opted-in Pod's container is looked at: the
 * cgroup first, then its Pod's rules with the container's name. A process
 * whose Pod or container ID is not known yet (a container runs before the
 * kubelet reports it) and that its Pod's rules may match waits, unattached,
 * in a pending list (targets_take_pending) for up to TARGETS_PENDING_MS.
 *
 * A java rule wants a JVM: a process whose command line matches but whose
 * executable is not `java` (a wrapper shell, or a custom launcher that has
 * not loaded libjvm.so yet) waits as a candidate for up to
 * TARGETS_CANDIDATE_MS: targets_probe() looks for libjvm.so in its maps,
 * and targets_recheck() adds it once found. */
int targets_consider(struct targets *t, int pid, struct target **out);

#define TARGETS_CANDIDATE_MS 10000
#define TARGETS_PENDING_MS   600000
#define TARGETS_PENDING_MAX  4096

/* The pids waiting for their Pod (to be considered again now: the list is
 * emptied; those still unknown come back), without those past
 * TARGETS_PENDING_MS. Returns how many are in *pids (malloc'd; NULL when
 * none). Takes the lock. */
size_t targets_take_pending(struct targets *t, uint64_t now_ms, int **pids);

/* How many wait (targets_take_pending). Lock held. */
size_t targets_pending(struct targets *t);

/* The pids of targets whose Pod's configuration was replaced (a stale
 * podref): to be removed and considered again. Returns the count, *pids
 * malloc'd. Lock held. */
size_t targets_stale(struct targets *t, int **pids);

/* Reads the maps of every candidate (up to 64 MiB each) without the lock
 * held, and records the verdict for targets_recheck. Any thread; the
 * background lane runs it. Blocks for the reads. */
void targets_probe(struct targets *t);

/* Applies the verdicts (loop thread, each tick; no file I/O): calls
 * added(tg, arg) for each candidate found to be a JVM, drops those gone
 * or past their time. Takes the lock. */
void targets_recheck(struct targets *t, uint64_t now_ms, void (*added)(struct target *, void *),
                     void *arg);

/* The one start-up scan of /proc (then a probe, so that JVMs started by a
 * custom launcher are added too). Returns the number of targets added. */
int targets_scan(struct targets *t);

/* After lost events (a full BPF ring): the table brought back in step
 * with /proc. First each target whose pid no longer names its process
 * (exited, the pid reused, or another program exec'd: its command line
 * changed) goes to gone(pid, arg), which must remove it (the caller's exit
 * path); then every pid not in the table is looked at as by
 * targets_consider, and added(tg, arg) called, lock held, for each new
 * target (a custom launcher waits as a candidate, for targets_probe).
 * Only the pid list and the command lines of processes not known are
 * read; /proc without the lock. Loop thread only. Returns 0 with the
 * counts in *out, or -errno when /proc cannot be listed (the gone are
 * handled all the same). */
struct targets_resync {
    int found, gone;
};
int targets_resync(struct targets *t, void (*added)(struct target *, void *),
                   void (*gone)(int pid, void *), void *arg, struct targets_resync *out);

/* Removes pid (no-op if absent). Takes the lock itself. Returns 1 if a
 * target was removed. */
int targets_remove(struct targets *t, int pid);

/* Lookups; call with the lock held (or from the loop thread). */
struct target *targets_find(struct targets *t, int pid);
size_t targets_count(struct targets *t);
size_t targets_candidates(struct targets *t); /* matched, not yet known to be JVMs */
struct target *targets_at(struct targets *t, size_t i);

/* Re-reads the limits of a target: FLAMESHOT_POD_MEM_LIMIT /
 * FLAMESHOT_POD_CPU_LIMIT, else the cgroup's, else the host's memory; and
 * the cgroup's own memory limit whatever the override. A threshold of the
 * target's rule that these limits make unreachable (cpu_usage_percent above
 * limits.cpu_max_pct, mem_usage_mb above the cgroup's or host's memory) is
 * logged as a warning, once until it becomes reachable again. Loop thread
 * only. */
void targets_refresh_limits(struct targets *t, struct target *tg);

/* Returns 1 if the process is a JDK tool or one of our own children: never
 * a target, whatever the rules say. */
int targets_is_excluded(const char *argv, size_t argv_len, const char *comm, int ppid);

/* A service name from a Java command line: the jar's base name without
 * ".jar" (-jar /srv/user-service.jar -> user-service), else the main class's
 * simple name, else comm. Writes into buf. */
char *targets_guess_service(const char *argv, size_t argv_len, const char *comm, char *buf,
                            size_t cap);

/* Whom the target belongs to, for the per-container job limits: its
 * container id; outside a container its memory cgroup's path (a systemd
 * service, a user session: one tenant each); "host" without a cgroup. */
const char *target_tenant(const struct target *tg);

/* The watched processes as JSON for the HTTP API (takes the lock). */
struct cJSON *targets_json(struct targets *t, uint64_t now_ms);
struct cJSON *target_json(const struct target *tg, uint64_t now_ms);

/* The kept samples, oldest first: [{cpu_percent, rss_mb, mem_percent}]. */
struct cJSON *target_samples_json(const struct target *tg);

#endif
