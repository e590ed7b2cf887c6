/* lane: background work off the daemon loop. One worker thread runs the
 * posted tasks in order from a bounded queue, so that the loop (events,
 * sampling) and the HTTP handlers that wait for the targets lock never
 * wait for a slow disk, a hung container filesystem or a large /proc file.
 *
 * Every task has a budget. The work is expected to bound its own blocking
 * (a confined helper with a timeout: a thread cannot be interrupted); one
 * that still runs past its budget is reported once by lane_check (a
 * warning and the background_overruns counter) while the loop goes on.
 * A task that cannot be queued (queue full, or stopping) is dropped and
 * counted (background_dropped).
 *
 * Threads: lane_post and lane_check may be called from any thread. */
#ifndef FS_LANE_H
#define FS_LANE_H

#include "core/metrics.h"

#include <stdbool.h>
#include <stdint.h>

/* A task: run is true when it runs on the lane's thread, false when it is
 * dropped instead (then it only frees arg). Called exactly once. */
typedef void (*lane_fn)(void *arg, bool run);

struct lane;

/* Starts the worker. cap bounds the queued tasks; name is used in logs
 * (static string). metrics may be NULL. NULL on error. */
struct lane *lane_new(const char *name, int cap, struct metrics *metrics);

/* Queues fn(arg, true), to be reported if it runs longer than budget_ms.
 * what names it in the log (static string). Returns 0, or -ENOSPC (queue
 * full) / -ESHUTDOWN after having called fn(arg, false). Never blocks. */
int lane_post(struct lane *l, const char *what, lane_fn fn, void *arg, uint64_t budget_ms);

/* Reports (once) a task running past its budget. now_ms: monotonic.
 * Returns the number of tasks queued or running. Never blocks. */
int lane_check(struct lane *l, uint64_t now_ms);

/* Drops the queued tasks and waits up to grace_ms for the running one.
 * Returns 0, or -ETIMEDOUT when the worker is still busy: then it is left
 * running and lane_free leaks the lane (and the caller must keep what its
 * task uses). Idempotent. */
int lane_stop(struct lane *l, uint64_t grace_ms);

void lane_free(struct lane *l);

#endif
