/* prewarm: the attach listener of every watched JVM is started before a
 * capture needs it. The first attach to a HotSpot JVM is the slow one:
 * the client creates .attach_pid<nspid>, sends SIGQUIT and waits for the
 * JVM to start its Attach Listener thread, which under memory pressure
 * can take longer than a leaking JVM has left. Once a JVM has been a
 * target for PREWARM_SETTLE_MS (never at its very start-up), its listener
 * is started through the captures' own client (attach_prewarm: the
 * confined child in its namespaces, as its uid/gid), so that an emergency
 * snapshot later only connects. It costs the JVM one thread, the Attach
 * Listener, as one `jcmd` does.
 *
 * At most once per process: a JVM whose listener runs already is only
 * connected to (no SIGQUIT), one with a capture queued or running waits
 * (that capture's attach starts the listener: two clients starting it at
 * once could send a second SIGQUIT, which HotSpot answers with a thread
 * dump on the application's stdout); a JVM with attach disabled
 * (-XX:+DisableAttachMechanism) or that is no HotSpot JVM is never
 * touched; one that does not handle SIGQUIT yet (still starting) is
 * tried again PREWARM_TRIES times, a settle time apart. Counted in
 * metrics (prewarmed, prewarm_failed); a failure is logged once, at debug
 * level. FLAMESHOT_ATTACH_PREWARM=false turns it off.
 *
 * Threads: prewarm_tick runs on the daemon loop with the targets lock
 * held and never blocks; the attaches run on the module's own lane
 * (lane.h), so that a JVM slow to answer delays neither the loop nor the
 * monitor's background work (heap-dump searches, exit records). */
#ifndef FS_PREWARM_H
#define FS_PREWARM_H

#include "core/config.h"
#include "core/metrics.h"
#include "policy/jobs.h"
#include "policy/targets.h"

#include <stdint.h>

#define PREWARM_SETTLE_MS  3000
#define PREWARM_TIMEOUT_MS 5000 /* one attempt at most, below the target's jcmd timeout */
#define PREWARM_TRIES      3

struct prewarm;

/* NULL when FLAMESHOT_ATTACH_PREWARM is off or out of memory (tell them
 * apart with cfg->attach_prewarm); every function below is a no-op on
 * NULL. jobs, pods and metrics may be NULL; what is given must outlive it.
 * pods (Kubernetes mode): each attempt first asks podtable_may_attach, so
 * that a JVM whose Pod opted out, was deleted or ended while its attempt
 * waited on the lane is never touched. */
struct prewarm *prewarm_new(const struct config *cfg, struct jobs *jobs, struct podtable *pods,
                            struct metrics *metrics);

/* Starts the attempts that are due: each target PREWARM_SETTLE_MS after
 * it was added, once. Forgets processes no longer in t. Loop thread,
 * targets lock held; never blocks. now_ms: CLOCK_MONOTONIC. Returns how
 * many attempts it queued. */
int prewarm_tick(struct prewarm *pw, struct targets *t, uint64_t now_ms);

/* How many attempts are queued or running. Any thread; never blocks. */
int prewarm_busy(struct prewarm *pw);

/* Drops the queued attempts and waits up to grace_ms for the running one.
 * 0, or -ETIMEDOUT when it still runs (then prewarm_free leaks it). */
int prewarm_stop(struct prewarm *pw, uint64_t grace_ms);

void prewarm_free(struct prewarm *pw);

#endif
