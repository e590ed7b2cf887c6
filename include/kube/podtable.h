/* podtable: the Pods of this node with the Flameshot configuration in
 * force for each (podconfig over the DaemonSet's), kept in step with the
 * podcache the watcher fills, and the one place that says whether a
 * process's container may be a target.
 *
 * A configuration is handed out as a counted reference (podref): a target
 * and every job of it hold one, so the rules they point into stay valid
 * while a MODIFIED event replaces them. A replaced reference is marked
 * stale: its holders are judged again against the new one. A Pod that is
 * deleted or has ended (Succeeded/Failed) keeps its reference, marked
 * inactive: exits and OOM kills of its processes are still attributed,
 * but nothing new is triggered for it.
 *
 * Threads: podtable_sync runs on the daemon loop; podtable_resolve,
 * podtable_lookup and the podref functions from any thread (one mutex,
 * never held across I/O). */
#ifndef FS_KUBE_PODTABLE_H
#define FS_KUBE_PODTABLE_H

#include "core/config.h"
#include "events/containerid.h"
#include "kube/pod.h"
#include "kube/podcache.h"
#include "kube/podconfig.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct podref {
    atomic_int refs;
    atomic_bool stale;    /* a newer configuration replaced this one */
    atomic_bool inactive; /* the Pod is deleted or has ended */
    struct pod pod;       /* identity, labels, owner, annotations; no containers */
    struct podconfig pc;
};

struct podref *podref_get(struct podref *r);
/* NULL-safe; frees on the last reference */
void podref_put(struct podref *r);

/* May this reference's Pod get new triggers? */
bool podref_active(const struct podref *r);

struct podtable;

/* self: the agent's own Pod (may be NULL; its strings are copied). cfg and
 * cache must outlive the table. NULL on allocation failure. */
struct podtable *podtable_new(const struct config *cfg, struct podcache *cache,
                              const struct podconfig_self *self);
void podtable_free(struct podtable *pt);

/* Called for a Pod's new configuration that has something to say: a
 * configuration error (once: the same error again is not reported), or
 * unknown flameshot.io/ keys (at each change of the annotations). A Pod
 * whose annotations are unchanged is not reported again. */
typedef void (*podtable_error_fn)(const struct podref *r, void *arg);

/* What podtable_sync saw: flags. */
#define PODTABLE_PODS 1 /* the cache changed: waiting processes may resolve */
#define PODTABLE_CONFIG                                                                            \
    2 /* a configuration opting containers in appeared, changed                                    \
       * or went away: holders are judged again and running                                        \
       * processes looked at */

/* Brings the table in step with the cache when the cache changed since
 * the last call (cheap otherwise). Pods whose flameshot.io/ annotations,
 * labels or owner changed get a new configuration (the old reference
 * turns stale). Returns PODTABLE_* flags (0: nothing changed) or
 * -ENOMEM (the next call tries again). */
int podtable_sync(struct podtable *pt, uint64_t now_ms, podtable_error_fn on_error, void *arg);

enum podtable_verdict {
    PODTABLE_NO = 0, /* never a target: not a Pod's container, not opted in, ... */
    PODTABLE_WAIT,   /* its Pod or its container ID is not known yet: ask again */
    PODTABLE_TARGET, /* an opted-in container: m is filled */
};

struct podtable_match {
    struct podref *ref; /* a reference the caller puts */
    struct pod_container container;
    const char *why; /* static: the reason of NO or WAIT, for logs */
};

/* Which Pod container ci is, and whether it may be a target. Never blocks
 * beyond the mutexes. */
enum podtable_verdict podtable_resolve(struct podtable *pt, const struct container_ident *ci,
                                       struct podtable_match *m);

/* Whether a process of container container_id in ref's Pod may be
 * attached to NOW: the question asked right before every attach (signal,
 * namespace entry, library load), since a capture queued while its Pod was
 * opted in may start after the Pod opted out, was deleted or ended.
 * Returns 0 when the cache still has the Pod, neither deleted nor ended,
 * the container ID still its (not one a restart replaced; an ID the status
 * does not report yet passes), and the Pod's configuration in force (the
 * last podtable_sync's) opts it in. Otherwise why ("Pod shop/api-0 opted
 * out (flameshot.io/enabled is not \"true\")", "Pod shop/api-0 was
 * deleted", ...) and -EPERM (its configuration no longer opts it in, or
 * ref is NULL: a process in no Pod), -ESRCH (the Pod was deleted, has
 * ended or is unknown, or its container was replaced: the process is on
 * its way out) or -ENOMEM. Any thread; never blocks beyond the mutexes. */
int podtable_may_attach(struct podtable *pt, const struct podref *ref, const char *container_id,
                        char *why, size_t cap);

/* The current configuration of a Pod by UID (a reference), or NULL. */
struct podref *podtable_lookup(struct podtable *pt, const char *uid);

/* Counts the Pods of the last podtable_sync that are not deleted, by the
 * state of their configuration (ended Pods included, as the cache keeps
 * them). Any thread. */
void podtable_count(struct podtable *pt, size_t by_state[PODCONFIG_STATES]);

/* Bumped by every podtable_sync that saw PODTABLE_CONFIG. */
uint64_t podtable_generation(struct podtable *pt);

#endif
