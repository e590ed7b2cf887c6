/* recorder: Kubernetes Events on objects (a Pod whose flameshot.io/
 * annotations are malformed), POSTed to /api/v1/namespaces/<ns>/events
 * from a thread of its own, as client-go's EventRecorder and
 * EventCorrelator do it:
 *
 * - dedup: the same (object uid, type, reason, message) again within
 *   dedup_window_ms of its last occurrence is not a new Event: the first
 *   one is PATCHed (strategic merge: count, lastTimestamp), at most once
 *   per patch_interval_ms; occurrences in between are counted in the next
 *   PATCH's count and in stats.deduplicated. A different message is a new
 *   Event. A PATCH answered 404 or 409 (the Event expired: the API keeps
 *   them an hour) POSTs a new Event (a new name) with the count so far;
 *   that is not an error.
 * - rate limit: a token bucket per object (client-go's spam filter: burst
 *   25, one more every 5 minutes) and one for the whole recorder; an Event
 *   (or PATCH) over either is not sent (stats.rate_limited).
 * - delivery: a failed request (connection, TLS, 401, 403, 429, 5xx) is
 *   retried with backoff up to retries times, then dropped (stats.dropped);
 *   400/404/409/415/422 to a POST are not retried. Requests go one at a
 *   time, in emission order; a retrying request delays those behind it.
 *   Each failure counts in stats.errors; a failure whose text differs from
 *   the last one is logged (module "kube").
 *
 * Threads: recorder_emit and recorder_stats may be called from any thread
 * and never wait for the network (a mutex held for a copy); recorder_start
 * and recorder_stop from one owner thread. */
#ifndef FS_KUBE_RECORDER_H
#define FS_KUBE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#define RECORDER_MESSAGE_MAX   1024 /* bytes: longer messages are cut (UTF-8 safe) */
#define RECORDER_REASON_MAX    128  /* the API's limit; longer reasons are refused */
#define RECORDER_STOP_BOUND_MS 1500 /* recorder_stop returns within about this */

/* recorder_config_defaults */
#define RECORDER_QUEUE_CAP         64
#define RECORDER_DEDUP_WINDOW_MS   (10 * 60 * 1000)
#define RECORDER_PATCH_INTERVAL_MS (5 * 60 * 1000)
#define RECORDER_OBJECT_BURST      25
#define RECORDER_OBJECT_REFILL_MS  (5 * 60 * 1000)
#define RECORDER_GLOBAL_BURST      100
#define RECORDER_GLOBAL_REFILL_MS  6000
#define RECORDER_RETRIES           4
#define RECORDER_BACKOFF_MIN_MS    1000
#define RECORDER_BACKOFF_MAX_MS    10000

struct recorder_config {
    const char *url;       /* https://host[:port] */
    const char *sa_dir;    /* holds token and ca.crt */
    const char *node;      /* this node: source.host and reportingInstance */
    const char *component; /* source.component and reportingComponent, e.g. "flameshotd" */
    /* recorder_config_defaults sets these; tests make them small. A window
     * or an interval of 0 is 0 (no dedup; a PATCH for every repeat). */
    size_t queue_cap;           /* requests waiting for the thread (>= 1) */
    uint64_t dedup_window_ms;   /* a repeat within it is the same Event */
    uint64_t patch_interval_ms; /* at most one PATCH per Event per interval */
    unsigned object_burst;      /* per object: tokens when full (>= 1) */
    uint64_t object_refill_ms;  /* per object: one token back every (>= 1) */
    unsigned global_burst;      /* all objects */
    uint64_t global_refill_ms;  /* all objects */
    unsigned retries;           /* after the first attempt */
    uint64_t backoff_min_ms;    /* doubling between retries, +-20 % jitter */
    uint64_t backoff_max_ms;
};

/* What the Event is about (involvedObject). Every field non-empty. */
struct recorder_object {
    const char *namespace;
    const char *name;
    const char *uid;
    const char *kind;        /* "Pod" */
    const char *api_version; /* "v1" */
};

struct recorder_stats {
    uint64_t posted;       /* Events created (2xx to a POST) */
    uint64_t patched;      /* Events updated (2xx to a PATCH) */
    uint64_t deduplicated; /* repeats folded into an Event without a request */
    uint64_t rate_limited; /* emissions over a token bucket, not sent */
    uint64_t dropped;      /* the queue was full, or a request failed for good
                            * (a POST's Event is then forgotten: its next
                            * occurrence POSTs again) */
    uint64_t errors;       /* failed requests (each retry counts) */
    size_t queued;         /* requests waiting now */
    char last_error[256];  /* "" before any */
};

struct recorder;

/* Fills c with the defaults above (url, sa_dir, node, component NULL). */
void recorder_config_defaults(struct recorder_config *c);

/* Starts the thread (idle until an emission). NULL with the reason in err:
 * a URL that is not https://, no node or component, a limit of 0 where
 * >= 1 is needed, no memory, no thread. Does not block. */
struct recorder *recorder_start(const struct recorder_config *c, char *err, size_t errlen);

/* Stops the thread and frees r, within about RECORDER_STOP_BOUND_MS even
 * with a request in flight to a server that does not answer (libcurl's
 * progress callback notices within a second); what is still queued is
 * not sent (logged). NULL-safe. */
void recorder_stop(struct recorder *r);

/* One occurrence of (obj, type "Warning"|"Normal", reason, message) on r
 * (not NULL). Copies everything (message cut to RECORDER_MESSAGE_MAX
 * bytes) and never waits for the network. Returns 0 (a POST or PATCH is
 * queued), 1 (a repeat folded into an Event sent lately: counted, nothing
 * sent now), -EAGAIN (over a rate limit: counted, not sent), -ENOSPC (the
 * queue is full: counted as dropped), -EINVAL (an empty or over-long
 * field, a namespace or name with characters other than [a-z0-9.-],
 * another type). */
int recorder_emit(struct recorder *r, const struct recorder_object *obj, const char *type,
                  const char *reason, const char *message);

/* A copy of the counters into *out. */
void recorder_stats(struct recorder *r, struct recorder_stats *out);

#endif
