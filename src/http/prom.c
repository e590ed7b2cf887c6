#include "http/prom.h"

#include "kube/podconfig.h"
#include "policy/trigger.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->oom; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static uint64_t get(const _Atomic uint64_t *v)
{
    return atomic_load(v);
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct buf *b, const char *name, const char *type, const char *help, double v)
{
    family(b, name, type, help);
    put(b, "%s %.15g\n", name, v);
}

char *prom_escape_label(const char *value, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *s = value; *s && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return out;
}

static void triggers(struct buf *b, const struct metrics *m)
{
    family(b, "flameshot_triggers_total", "counter",
           "Captures asked for, by trigger kind (queued or not).");
    for (int i = 0; i < MT__COUNT; i++)
        put(b, "flameshot_triggers_total{kind=\"%s\"} %llu\n",
            trigger_kind_name((enum trigger_kind)i), (unsigned long long)get(&m->triggers[i]));
}

static void jobs(struct buf *b, const struct metrics *m, const struct prom_extra *x)
{
    static const char *const outcome[MJ__COUNT] = {"done", "failed", "target_exited", "cancelled",
                                                   "rejected"};
    family(b, "flameshot_jobs_total", "counter",
           "Capture jobs by outcome (rejected: refused when asked for).");
    static const char *const rejection[MR__COUNT] = {"duplicate", "queue_full",
                                                     "container_queue_full", "shutting_down"};
    for (int i = 0; i < MJ__COUNT; i++)
        put(b, "flameshot_jobs_total{outcome=\"%s\"} %llu\n", outcome[i],
            (unsigned long long)get(&m->jobs[i]));
    family(b, "flameshot_jobs_rejected_total", "counter",
           "Capture jobs refused, by reason (container_queue_full: "
           "FLAMESHOT_MAX_QUEUED_PER_CONTAINER).");
    for (int i = 0; i < MR__COUNT; i++)
        put(b, "flameshot_jobs_rejected_total{reason=\"%s\"} %llu\n", rejection[i],
            (unsigned long long)get(&m->jobs_rejected[i]));
    one(b, "flameshot_jobs_queued", "gauge", "Jobs waiting for a worker.", x->jobs_queued);
    one(b, "flameshot_jobs_running", "gauge", "Jobs running now.", x->jobs_running);
}

static void attach_histogram(struct buf *b, const struct metrics *m)
{
    const char *n = "flameshot_attach_duration_seconds";
    family(b, n, "histogram", "Time to reach a JVM's HotSpot attach socket.");
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_ATTACH_BUCKETS; i++) {
        cum += get(&m->attach_bucket[i]);
        put(b, "%s_bucket{le=\"%g\"} %llu\n", n, metrics_attach_bounds_ms[i] / 1000.0,
            (unsigned long long)cum);
    }
    cum += get(&m->attach_bucket[METRICS_ATTACH_BUCKETS]);
    put(b, "%s_bucket{le=\"+Inf\"} %llu\n", n, (unsigned long long)cum);
    put(b, "%s_sum %.6f\n", n, (double)get(&m->attach_sum_us) / 1e6);
    /* _count is the +Inf bucket by definition, even while another thread
     * is between its two increments */
    put(b, "%s_count %llu\n", n, (unsigned long long)cum);
}

static void prewarm(struct buf *b, const struct metrics *m)
{
    one(b, "flameshot_attach_prewarmed_total", "counter",
        "JVMs whose attach listener was started ahead of any capture.", (double)get(&m->prewarmed));
    one(b, "flameshot_attach_prewarm_failed_total", "counter",
        "Attach listener pre-warms that failed (each logged once at debug level).",
        (double)get(&m->prewarm_failed));
}

static void outbox(struct buf *b, const struct metrics *m, const struct prom_extra *x)
{
    family(b, "flameshot_uploads_total", "counter", "Deliveries to a sink by result.");
    put(b, "flameshot_uploads_total{result=\"ok\"} %llu\n",
        (unsigned long long)get(&m->uploads_ok));
    put(b, "flameshot_uploads_total{result=\"failed\"} %llu\n",
        (unsigned long long)get(&m->uploads_failed));
    one(b, "flameshot_outbox_bytes", "gauge", "Bytes of artefacts waiting in the outbox.",
        (double)get(&m->outbox_bytes));
    one(b, "flameshot_outbox_items", "gauge", "Artefacts waiting in the outbox.",
        (double)get(&m->outbox_items));
    one(b, "flameshot_outbox_oldest_age_seconds", "gauge",
        "Age of the oldest artefact waiting in the outbox (0: none).",
        (double)x->outbox_oldest_age_ms / 1000.0);
    one(b, "flameshot_outbox_dropped_total", "counter",
        "Artefacts dropped to keep FLAMESHOT_SPOOL_MAX_MB or lost to a spool that cannot be "
        "written.",
        (double)get(&m->outbox_dropped));
    one(b, "flameshot_captures_too_large_total", "counter",
        "Captures failed as too_large: an artefact past its cap, nothing kept.",
        (double)get(&m->too_large));
    one(b, "flameshot_local_sink_items", "gauge", "Artefacts kept by the local directory sink.",
        (double)x->local_items);
    one(b, "flameshot_local_sink_bytes", "gauge", "Bytes kept by the local directory sink.",
        (double)x->local_bytes);
    one(b, "flameshot_spool_max_bytes", "gauge", "The disk budget (FLAMESHOT_SPOOL_MAX_MB).",
        (double)x->spool_max_bytes);
}

static void events(struct buf *b, const struct metrics *m, const struct prom_extra *x)
{
    family(b, "flameshot_event_source_info", "gauge", "The live event source (bpf or poller).");
    put(b, "flameshot_event_source_info{source=\"%s\"} 1\n",
        x->event_source ? x->event_source : "");
    one(b, "flameshot_events_total", "counter", "Kernel or poller events consumed.",
        (double)get(&m->events_total));
    one(b, "flameshot_events_lost_total", "counter", "Events known lost.",
        (double)get(&m->events_lost));
    one(b, "flameshot_ringbuf_full_total", "counter",
        "BPF ring buffer reservations that failed in the kernel.", (double)get(&m->ringbuf_full));
    one(b, "flameshot_events_resyncs_total", "counter",
        "/proc rescans of the target table after lost events.", (double)get(&m->events_resyncs));
    one(b, "flameshot_events_resync_found_total", "counter",
        "Targets those rescans added (their exec was lost).", (double)get(&m->resync_found));
    one(b, "flameshot_events_resync_gone_total", "counter",
        "Targets those rescans found gone (their exit was lost).", (double)get(&m->resync_gone));
}

static void background(struct buf *b, const struct metrics *m)
{
    one(b, "flameshot_helpers_stuck", "gauge",
        "Capture helpers SIGKILL did not end in time (stuck in the kernel), not yet reaped.",
        (double)get(&m->helpers_stuck));
    one(b, "flameshot_background_overruns_total", "counter",
        "Background tasks (heap-dump scans, records) that ran past their budget.",
        (double)get(&m->background_overruns));
    one(b, "flameshot_background_dropped_total", "counter",
        "Background tasks dropped because the queue was full or the agent stopping.",
        (double)get(&m->background_dropped));
    one(b, "flameshot_dump_dir_timeouts_total", "counter",
        "Heap-dump directories that did not answer within the helper's timeout.",
        (double)get(&m->dump_dir_timeouts));
}

static void http(struct buf *b, const struct metrics *m)
{
    family(b, "flameshot_http_requests_total", "counter", "HTTP API responses by status code.");
    for (int i = 0; i < METRICS_HTTP_CODES; i++) {
        uint64_t v = get(&m->http_by_code[i]);
        int code = metrics_http_codes[i];
        if (code)
            put(b, "flameshot_http_requests_total{code=\"%d\"} %llu\n", code,
                (unsigned long long)v);
        else
            put(b, "flameshot_http_requests_total{code=\"other\"} %llu\n", (unsigned long long)v);
    }
    one(b, "flameshot_http_rate_limited_total", "counter",
        "HTTP requests refused by the per-client rate limit.", (double)get(&m->http_rate_limited));
}

static void kube(struct buf *b, const struct prom_extra *x)
{
    const struct watcher_stats *w = x->kube_watch;
    one(b, "flameshot_kube_watch_connected", "gauge",
        "1 while the Pod list/watch with the API server works.", w->connected);
    one(b, "flameshot_kube_lists_total", "counter", "Successful Pod lists.", (double)w->lists);
    one(b, "flameshot_kube_relists_total", "counter",
        "Pod lists after the first (410 Gone, failures).", (double)w->relists);
    one(b, "flameshot_kube_watch_events_total", "counter",
        "ADDED, MODIFIED and DELETED events applied.", (double)w->events);
    family(b, "flameshot_kube_watch_errors_total", "counter", "Pod watch failures by kind.");
    for (int i = 0; i < WATCHER_ERR_MAX; i++)
        put(b, "flameshot_kube_watch_errors_total{kind=\"%s\"} %llu\n",
            watcher_error_name((enum watcher_error)i), (unsigned long long)w->errors[i]);
    family(b, "flameshot_kube_pods", "gauge", "Pods of this node by Flameshot state.");
    for (int i = 0; i < PODCONFIG_STATES; i++)
        put(b, "flameshot_kube_pods{state=\"%s\"} %zu\n",
            podconfig_state_name((enum podconfig_state)i), x->pods_by_state[i]);
    one(b, "flameshot_kube_processes_waiting", "gauge",
        "Processes waiting for their Pod or container ID to be known.", (double)x->pods_pending);
}

char *prom_render(const struct metrics *m, const struct prom_extra *x, size_t *len)
{
    struct buf b = {.cap = 8192};
    char v[128], r[128];
    if (!(b.p = malloc(b.cap)))
        return NULL;
    b.p[0] = '\0';
    one(&b, "flameshot_start_time_seconds", "gauge", "Start time of the agent since the epoch.",
        x->start_time_s);
    family(&b, "flameshot_build_info", "gauge", "The agent's version.");
    put(&b, "flameshot_build_info{version=\"%s\",git_rev=\"%s\"} 1\n",
        prom_escape_label(x->version ? x->version : "", v, sizeof(v)),
        prom_escape_label(x->git_rev ? x->git_rev : "", r, sizeof(r)));
    one(&b, "flameshot_targets", "gauge", "Processes watched now.", (double)get(&m->targets));
    triggers(&b, m);
    jobs(&b, m, x);
    attach_histogram(&b, m);
    prewarm(&b, m);
    outbox(&b, m, x);
    events(&b, m, x);
    background(&b, m);
    http(&b, m);
    if (x->kube_watch)
        kube(&b, x);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
