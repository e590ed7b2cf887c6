/* monitor: Flameshot's sidecar loop, driven by kernel events. Keeps the
 * target table current from exec/exit events, arms the per-process and
 * per-cgroup memory watermarks in the event source, samples every target
 * each FLAMESHOT_MONITOR_INTERVAL, asks policy whether to capture, and
 * turns every trigger (threshold, emergency, cgroup pressure, OOM, timer,
 * HTTP) into a job. It never captures itself: monitoring goes on while
 * jobs run.
 *
 * Nothing slow runs on the loop or under the targets lock: the maps of
 * candidates, heap-dump directories (oomwatch.h) and records with their
 * fsyncs are handled by a background lane (lane.h); /proc and cgroup
 * files of a new process are read without the lock.
 *
 * Threads: monitor_on_event and monitor_tick run on the daemon loop
 * thread only; monitor_request may be called from any thread (HTTP). */
#ifndef FS_MONITOR_H
#define FS_MONITOR_H

#include "core/config.h"
#include "events/events.h"
#include "policy/jobs.h"
#include "policy/targets.h"

#include <stdint.h>

struct outbox;
struct metrics;
struct monitor;
struct upload;

struct monitor_deps {
    const struct config *cfg;
    struct targets *targets;
    struct events_source *events;
    struct jobs *jobs;
    struct outbox *outbox;
    struct upload *upload; /* heap dumps to object storage; NULL: off */
    struct metrics *metrics;
    /* Kubernetes mode (NULL standalone): the Pods' configurations, kept in
     * step on every tick; on_pod_error (may be NULL) hears of each new
     * malformed annotation once */
    struct podtable *pods;
    podtable_error_fn on_pod_error;
    void *on_pod_error_arg;
};

/* NULL on allocation failure. deps must outlive the monitor. */
struct monitor *monitor_new(const struct monitor_deps *deps);

/* Stops the background lane: queued work is dropped, running work gets
 * a few seconds. Returns 0, or -ETIMEDOUT when a task is still running
 * (stuck in the kernel): then neither the monitor nor anything in deps
 * may be freed. */
int monitor_stop(struct monitor *m);

/* Frees it (stopping the lane first if needed), unless a background task
 * is still running: then it is leaked on purpose. */
void monitor_free(struct monitor *m);

/* The start-up /proc scan: every existing target is added and armed.
 * Returns the number of targets. */
int monitor_start(struct monitor *m);

void monitor_on_event(struct monitor *m, const struct fs_event *ev);

/* Samples every target, applies the thresholds and the auto-profiling
 * timer. In Kubernetes mode first brings the Pods' configurations in
 * step: targets of a replaced configuration are judged again, processes
 * waiting for their Pod retried, and after an opt-in or a change of rules
 * the running processes looked at again. now_ms is CLOCK_MONOTONIC. */
void monitor_tick(struct monitor *m, uint64_t now_ms);

/* After events_consume and each tick: when the event source lost records
 * since the last call (events_lost grew: a full BPF ring), execs and
 * exits may be missing, so the target table is brought back in step with
 * a /proc rescan (targets_resync): targets found are added and armed,
 * those gone go through the exit path. At most one rescan a second while
 * losses go on, and one more once they stop; each logged once with the
 * count and counted (events_resyncs, resync_found, resync_gone). Loop
 * thread only; reads /proc when it rescans. */
void monitor_resync(struct monitor *m, uint64_t now_ms);

/* A capture asked for from outside (HTTP): queues a job for the target with
 * host pid `pid`. snapshot_type < 0 means both snapshots. Returns 0 with
 * *job_id; -ENOENT when pid is not a target; -ESTALE when its Pod was
 * deleted or has ended (nothing new is triggered for it); -EPERM for a
 * profile under FLAMESHOT_PROFILING_ENABLED=false; or jobs_submit's -EEXIST
 * (*job_id = the running job), -ENOSPC, -ESHUTDOWN. Thread-safe. */
int monitor_request(struct monitor *m, int pid, struct trigger *trigger, int snapshot_type,
                    uint64_t *job_id);

#endif
