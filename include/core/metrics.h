/* metrics: the counters every module bumps and the status/metrics code
 * reads. Plain atomics in one struct owned by the daemon context; modules
 * receive a pointer (may be NULL in unit tests: use the metrics_inc macro). */
#ifndef FS_METRICS_H
#define FS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

/* upper bounds (ms) of the attach latency histogram buckets; +Inf implied.
 * Fine below 25 ms: reaching a running listener takes a few ms, and a p50
 * inside one 0-5 ms bucket says nothing (tools/bench/attach). */
#define METRICS_ATTACH_BUCKETS 15
static const double metrics_attach_bounds_ms[METRICS_ATTACH_BUCKETS] = {
    1, 2, 3, 5, 7.5, 10, 15, 25, 50, 100, 250, 500, 1000, 2500, 10000};

/* HTTP API responses counted per status code; the last slot counts any
 * other code. */
#define METRICS_HTTP_CODES 16
static const int metrics_http_codes[METRICS_HTTP_CODES] = {200, 202, 400, 401, 403, 404, 405, 409,
                                                           413, 414, 429, 431, 500, 503, 504, 0};

static inline int metrics_http_code_index(int code)
{
    int i = 0;
    while (i < METRICS_HTTP_CODES - 1 && metrics_http_codes[i] != code)
        i++;
    return i;
}

/* mirrors enum trigger_kind (policy/trigger.h; checked there) */
enum metrics_trigger {
    MT_CPU = 0,
    MT_MEMORY,
    MT_MEMORY_EMERGENCY,
    MT_CGROUP_PRESSURE,
    MT_OOM,
    MT_AUTO,
    MT_HTTP,
    MT_MEMORY_LEAD,
    MT__COUNT
};

enum metrics_job_outcome {
    MJ_DONE = 0,
    MJ_FAILED,
    MJ_TARGET_EXITED,
    MJ_CANCELLED,
    MJ_REJECTED, /* refused by jobs_submit: see metrics_job_rejection */
    MJ__COUNT
};

/* Why jobs_submit refused a job. */
enum metrics_job_rejection {
    MR_DUPLICATE = 0,     /* the same capture of the process is queued or running */
    MR_QUEUE_FULL,        /* the node's queue is full */
    MR_TENANT_QUEUE_FULL, /* the container's share of the queue is full */
    MR_SHUTTING_DOWN,
    MR__COUNT
};

struct metrics {
    _Atomic uint64_t targets; /* gauge */
    _Atomic uint64_t triggers[MT__COUNT];
    _Atomic uint64_t jobs[MJ__COUNT];
    _Atomic uint64_t jobs_rejected[MR__COUNT];
    _Atomic uint64_t attach_bucket[METRICS_ATTACH_BUCKETS + 1];
    _Atomic uint64_t attach_count;
    _Atomic uint64_t attach_sum_us;
    _Atomic uint64_t prewarmed, prewarm_failed; /* attach listeners started ahead (prewarm.h) */
    _Atomic uint64_t uploads_ok, uploads_failed;
    _Atomic uint64_t outbox_bytes, outbox_items; /* gauges */
    _Atomic uint64_t outbox_dropped;
    _Atomic uint64_t too_large; /* captures failed too_large: an artefact over its cap */
    _Atomic uint64_t events_total, events_lost, ringbuf_full;
    /* /proc rescans after lost events, and the targets they added or
     * found gone (monitor_resync) */
    _Atomic uint64_t events_resyncs, resync_found, resync_gone;
    _Atomic uint64_t http_by_class[6]; /* index: status / 100 */
    _Atomic uint64_t http_429, http_rate_limited;
    _Atomic uint64_t http_by_code[METRICS_HTTP_CODES]; /* index: metrics_http_code_index */
    _Atomic uint64_t helpers_stuck; /* gauge: capture helpers SIGKILL did not end (nsexec) */
    _Atomic uint64_t background_overruns, background_dropped; /* lane.h */
    _Atomic uint64_t dump_dir_timeouts; /* heap-dump directories that did not answer in time */
};

#define metrics_inc(m, field)                                                                      \
    do {                                                                                           \
        if (m)                                                                                     \
            atomic_fetch_add(&(m)->field, 1);                                                      \
    } while (0)

#define metrics_add(m, field, v)                                                                   \
    do {                                                                                           \
        if (m)                                                                                     \
            atomic_fetch_add(&(m)->field, (v));                                                    \
    } while (0)

#define metrics_set(m, field, v)                                                                   \
    do {                                                                                           \
        if (m)                                                                                     \
            atomic_store(&(m)->field, (v));                                                        \
    } while (0)

/* Records one attach round trip of us microseconds. */
static inline void metrics_observe_attach(struct metrics *m, uint64_t us)
{
    if (!m)
        return;
    int i = 0;
    while (i < METRICS_ATTACH_BUCKETS && (double)us / 1000.0 > metrics_attach_bounds_ms[i])
        i++;
    atomic_fetch_add(&m->attach_bucket[i], 1);
    atomic_fetch_add(&m->attach_count, 1);
    atomic_fetch_add(&m->attach_sum_us, us);
}

#endif
