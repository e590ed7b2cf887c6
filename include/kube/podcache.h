/* podcache: the Pods on this node, as the API server's list and watch
 * describe them, keyed by Pod UID.
 *
 * It answers the two questions the agent asks of a process: which Pod and
 * container a container ID belongs to, and which Pod a Pod ID from a cgroup
 * path is (its UID, or for a static Pod the kubelet's config hash, which
 * the mirror Pod in the API carries as kubernetes.io/config.hash).
 *
 * Events are attributed after the fact: an exit or OOM kill can be read
 * after the Pod is gone from the API, or after its container restarted
 * under a new ID. So a deleted Pod stays, as a tombstone, for grace_ms, and
 * a container ID a restart replaced keeps resolving (to the same Pod and
 * container name) for grace_ms after the change was seen.
 *
 * Time is the caller's monotonic clock in ms (now_ms), so tests control it.
 * Writers expire old tombstones and IDs as they go; podcache_expire does it
 * for a quiet watch.
 *
 * Threads: every function may be called from any thread (one mutex; the
 * watch thread writes, the loop and the HTTP handlers read copies). No
 * function blocks beyond that mutex. */
#ifndef FS_KUBE_PODCACHE_H
#define FS_KUBE_PODCACHE_H

#include "kube/pod.h"

#include <stdbool.h>
#include <stdint.h>

#define PODCACHE_GRACE_DEFAULT_MS (2 * 60 * 1000)

struct podcache;

/* grace_ms: how long tombstones and replaced container IDs keep resolving
 * (0 means PODCACHE_GRACE_DEFAULT_MS). NULL on allocation failure. */
struct podcache *podcache_new(uint64_t grace_ms);

void podcache_free(struct podcache *c);

/* ADDED or MODIFIED: *p replaces the Pod of its UID (a tombstone of that
 * UID comes back to life). The cache takes what *p holds and zeroes it.
 * Container IDs of the previous version the new one no longer has keep
 * resolving for grace_ms. Returns 0, -EINVAL (no uid) or -ENOMEM (then *p
 * is released). */
int podcache_put(struct podcache *c, struct pod *p, uint64_t now_ms);

/* DELETED: *p (the Pod's last state) replaces the stored one as a
 * tombstone until now_ms + grace_ms (a Pod already a tombstone keeps its
 * first time). Takes *p like podcache_put and returns like it. */
int podcache_delete(struct podcache *c, struct pod *p, uint64_t now_ms);

/* After a re-list: the list's Pods replace the cache's (as podcache_put
 * each); a Pod the cache had that the list lacks was deleted while the
 * watch was away and becomes a tombstone. Takes l's items and releases the
 * list. Returns 0 or -ENOMEM (the Pods not yet applied are released). */
int podcache_replace_all(struct podcache *c, struct pod_list *l, uint64_t now_ms);

/* Drops tombstones and replaced IDs older than grace_ms. Returns how many
 * of both were dropped. */
size_t podcache_expire(struct podcache *c, uint64_t now_ms);

/* What a container ID resolves to: copies the caller releases with
 * podcache_hit_free. */
struct podcache_hit {
    struct pod pod;
    struct pod_container container;
    bool deleted;  /* the Pod is a tombstone */
    bool replaced; /* the ID is one a restart replaced (container.id is
                    * the current one, possibly empty while waiting) */
};

/* Looks up a 64-hex container ID among the current IDs of the Pods (live
 * ones and tombstones), then among replaced IDs (the cache's, and each
 * container's lastState.terminated.containerID). Returns 0, -ENOENT, or
 * -ENOMEM. */
int podcache_by_container(struct podcache *c, const char *id, struct podcache_hit *out);

void podcache_hit_free(struct podcache_hit *h);

/* Looks up a Pod by the ID a cgroup path carries: its UID (with '-' or,
 * as the systemd cgroup driver writes it, '_'), or a static Pod's config
 * hash. *deleted (may be NULL) says whether it is a
 * tombstone. Copies into *out (release with pod_free). Returns 0, -ENOENT,
 * or -ENOMEM. */
int podcache_by_pod_id(struct podcache *c, const char *pod_id, struct pod *out, bool *deleted);

/* One Pod of a snapshot. */
struct podcache_entry {
    struct pod pod;
    bool deleted;
    uint64_t deleted_ms; /* when it became a tombstone (now_ms of the call) */
};

/* Copies every Pod (live ones and tombstones, in insertion order) into a
 * malloc'd array the caller releases with podcache_entries_free. Returns 0
 * or -ENOMEM. */
int podcache_snapshot(struct podcache *c, struct podcache_entry **out, size_t *n);

void podcache_entries_free(struct podcache_entry *e, size_t n);

struct podcache_counts {
    size_t pods; /* live */
    size_t tombstones;
    size_t containers; /* of live Pods, with an ID */
    size_t replaced;   /* replaced IDs still resolving */
    uint64_t relists;  /* podcache_replace_all calls */
    uint64_t expired;  /* tombstones dropped so far */
    /* bumped by every put, delete and replace_all, and by an expiry that
     * dropped something: a reader waiting for an unknown container ID
     * retries when it changed */
    uint64_t generation;
};

void podcache_counts(struct podcache *c, struct podcache_counts *out);

#endif
