/* watcher: keeps a podcache current from the API server, in a thread of
 * its own.
 *
 * The loop is client-go's reflector: LIST every page, replace the cache
 * with it, then WATCH from the list's resourceVersion (with bookmarks).
 * Each ADDED/MODIFIED/DELETED event is applied to the cache, a BOOKMARK
 * moves the resourceVersion on. A stream the server ends (timeoutSeconds)
 * is watched again from the last resourceVersion, without a new list; 410
 * Gone (the status or an ERROR event) lists again. Any failure (connection,
 * TLS, 401/403, a status) backs off, 200 ms doubling to 30 s with +-20 %
 * jitter, reset by a successful list or a stream that delivered an event;
 * then the same step is retried (a watch that fails again with 410 lists).
 *
 * Threads: watcher_start starts the thread; watcher_stats may be called
 * from any thread (copies under a mutex, never waits for the network);
 * watcher_stop from the thread that started it. */
#ifndef FS_KUBE_WATCHER_H
#define FS_KUBE_WATCHER_H

#include "kube/pod.h"
#include "kube/podcache.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WATCHER_BACKOFF_MIN_MS  200
#define WATCHER_BACKOFF_MAX_MS  30000
#define WATCHER_WATCH_TIMEOUT_S 300  /* the server ends a watch after this */
#define WATCHER_STOP_BOUND_MS   1500 /* watcher_stop returns within about this */

struct watcher_config {
    const char *url;        /* https://host[:port] */
    const char *sa_dir;     /* holds token and ca.crt */
    const char *node;       /* this node's name */
    struct podcache *cache; /* the caller's; must outlive the watcher */
    /* 0: the defaults above (tests make them short) */
    int watch_timeout_s;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
};

/* Failures by kind (each also sets last_error). */
enum watcher_error {
    WATCHER_ERR_GONE = 0,  /* 410: a re-list follows */
    WATCHER_ERR_AUTH,      /* 401 with a fresh token, or no usable token */
    WATCHER_ERR_FORBIDDEN, /* 403: RBAC */
    WATCHER_ERR_IO,        /* connection, TLS, other statuses, bad bodies */
    WATCHER_ERR_POD,       /* a Pod pod_parse refused, an invalid line */
    WATCHER_ERR_MAX,
};

/* "gone", "auth", "forbidden", "io", "pod" (metric labels) */
const char *watcher_error_name(enum watcher_error e);

struct watcher_stats {
    /* the last request succeeded (a list, or a watch stream delivering)
     * and nothing failed since */
    bool connected;
    char resource_version[POD_RV_MAX]; /* the last one seen; "" before */
    uint64_t lists;                    /* successful lists */
    uint64_t relists;                  /* of them, after the first */
    uint64_t watches;                  /* watch requests */
    uint64_t watch_restarts;           /* watches from a resourceVersion not straight
                                        * from a list (a stream ended or failed) */
    uint64_t events;                   /* ADDED/MODIFIED/DELETED applied */
    uint64_t bookmarks;
    uint64_t backoffs; /* waits after a failure */
    uint64_t errors[WATCHER_ERR_MAX];
    size_t pods;          /* live Pods in the cache */
    char last_error[256]; /* "" before any */
};

struct watcher;

/* Starts the thread (it lists at once). NULL with the reason in err (a bad
 * URL, no node name, no memory, no thread). Does not block. */
struct watcher *watcher_start(const struct watcher_config *cfg, char *err, size_t errlen);

/* Stops the thread, waits for it (within about WATCHER_STOP_BOUND_MS: an
 * open stream notices within a second) and frees w. NULL-safe. */
void watcher_stop(struct watcher *w);

/* A copy of the counters into *out. */
void watcher_stats(struct watcher *w, struct watcher_stats *out);

#endif
