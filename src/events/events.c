#include "events/events.h"

#include "core/vec.h"
#include "events/bpf_events.h"
#include "events/cgroup.h"
#include "core/log.h"
#include "core/metrics.h"
#include "events/poller.h"
#include "core/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct events_source {
    struct bpf_events *bpf; /* exactly one of bpf / poller */
    struct poller *poller;
    struct metrics *metrics;
    char *proc_root, *cgroup_root;
    char detail[512];
    uint64_t *cgs; /* watched cgroup ids */
    size_t ncgs, cgcap;
    int *marked; /* tgids with a process watermark */
    size_t nmarked, markcap;
    uint64_t delivered;
    uint64_t lost; /* as of last_stats_ms */
    uint64_t last_stats_ms;
    events_cb cb;
    void *cb_arg;
};

const char *events_kind_name(uint32_t kind)
{
    switch (kind) {
    case FS_EV_EXEC:
        return "exec";
    case FS_EV_EXIT:
        return "exit";
    case FS_EV_OOM:
        return "oom";
    case FS_EV_WATERMARK_CGROUP:
        return "watermark_cgroup";
    case FS_EV_WATERMARK_PROC:
        return "watermark_proc";
    case FS_EV_STEP_CGROUP:
        return "step_cgroup";
    case FS_EV_STEP_PROC:
        return "step_proc";
    }
    return "unknown";
}

/* ---- small id sets ------------------------------------------------------------- */

static int set_add(void **v, size_t *n, size_t *cap, const void *item, size_t sz)
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp((char *)*v + i * sz, item, sz) == 0)
            return 0;
    if (vec_grow(v, cap, *n, sz, 16) < 0)
        return -ENOMEM;
    memcpy((char *)*v + (*n)++ * sz, item, sz);
    return 0;
}

/* Returns true if item was in the set. */
static bool set_del(void *v, size_t *n, const void *item, size_t sz)
{
    for (size_t i = 0; i < *n; i++) {
        if (memcmp((char *)v + i * sz, item, sz) == 0) {
            memmove((char *)v + i * sz, (char *)v + (*n - 1) * sz, sz);
            (*n)--;
            return true;
        }
    }
    return false;
}

static bool set_has(const void *v, size_t n, const void *item, size_t sz)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp((const char *)v + i * sz, item, sz) == 0)
            return true;
    return false;
}

/* ---- open ------------------------------------------------------------------------ */

static int open_poller(struct events_source *s, const struct events_options *o, const char *why)
{
    struct poller_options po = {.proc_root = o->proc_root,
                                .cgroup_root = o->cgroup_root,
                                .period_ms = o->poll_period_ms,
                                .feed = POLLER_FEED_KERNEL};
    int rc = poller_new(&po, &s->poller);
    if (rc < 0)
        return rc;
    const char *no_feed = poller_feed_why(s->poller);
    snprintf(s->detail, sizeof(s->detail), "/proc and cgroup files every %u ms%s, %s%s (%s)",
             o->poll_period_ms ? o->poll_period_ms : 50,
             no_feed ? "" : " while a watermark or a cgroup near its limit needs it",
             no_feed ? "every process re-read: no process connector: "
                     : "changes from the kernel's process connector",
             no_feed ? no_feed : "", why);
    return 0;
}

static int open_source(struct events_source *s, const struct events_options *o, char *err,
                       size_t errcap)
{
    char why[256] = "FLAMESHOT_BPF=off";
    if (o->mode != FS_BPF_OFF) {
        struct bpf_events_options bo = {.force_classic = o->force_classic,
                                        .ringbuf_bytes = o->ringbuf_bytes};
        int rc = bpf_events_open(&bo, &s->bpf, why, sizeof(why));
        if (rc == 0) {
            snprintf(s->detail, sizeof(s->detail), "%s", bpf_events_describe(s->bpf));
            log_info("events", "event source: bpf (%s)", s->detail);
            return 0;
        }
        if (o->mode == FS_BPF_ON) {
            snprintf(err, errcap, "FLAMESHOT_BPF=on but the BPF programs cannot be used: %s", why);
            return rc;
        }
        log_warn("events", "BPF unavailable (%s); falling back to the /proc poller", why);
    }
    int rc = open_poller(s, o, why);
    if (rc < 0) {
        snprintf(err, errcap, "starting the /proc poller: %s", strerror(-rc));
        return rc;
    }
    log_info("events", "event source: poller, %s", s->detail);
    return 0;
}

int events_open(const struct events_options *opts, struct events_source **out, char *err,
                size_t errcap)
{
    static const struct events_options defaults = {0};
    const struct events_options *o = opts ? opts : &defaults;
    struct events_source *s = calloc(1, sizeof(*s));
    int rc = -ENOMEM;
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return rc;
    }
    s->metrics = o->metrics;
    s->proc_root = o->proc_root ? strdup(o->proc_root) : NULL;
    s->cgroup_root = o->cgroup_root ? strdup(o->cgroup_root) : NULL;
    if ((o->proc_root && !s->proc_root) || (o->cgroup_root && !s->cgroup_root)) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    rc = open_source(s, o, err, errcap);
    if (rc < 0)
        goto out;
    *out = s;
    return 0;
out:
    events_close(s);
    return rc;
}

void events_close(struct events_source *s)
{
    if (!s)
        return;
    bpf_events_close(s->bpf);
    poller_free(s->poller);
    free(s->cgs);
    free(s->marked);
    free(s->proc_root);
    free(s->cgroup_root);
    free(s);
}

const char *events_name(const struct events_source *s)
{
    return s->bpf ? "bpf" : "poller";
}

const char *events_detail(const struct events_source *s)
{
    return s->detail;
}

int events_fd(const struct events_source *s)
{
    return s->bpf ? bpf_events_fd(s->bpf) : poller_fd(s->poller);
}

/* ---- consume ----------------------------------------------------------------------- */

static void deliver(const struct fs_event *in, void *arg)
{
    struct events_source *s = arg;
    struct fs_event ev = *in;
    ev.comm[sizeof(ev.comm) - 1] = '\0';
    if (ev.kind == FS_EV_EXIT && set_has(s->marked, s->nmarked, &ev.tgid, sizeof(int))) {
        events_clear_proc_watermark(s, ev.tgid);
        events_set_proc_steps(s, ev.tgid, 0, 0);
    }
    s->delivered++;
    metrics_inc(s->metrics, events_total);
    if (s->cb)
        s->cb(&ev, s->cb_arg);
}

int events_consume(struct events_source *s, events_cb cb, void *arg)
{
    s->cb = cb;
    s->cb_arg = arg;
    int n = s->bpf ? bpf_events_consume(s->bpf, deliver, s) : poller_consume(s->poller, deliver, s);
    s->cb = NULL;
    if (s->metrics)
        events_lost(s); /* refreshes the lost / ringbuf_full gauges */
    return n;
}

uint64_t events_lost(struct events_source *s)
{
    struct events_stats st;
    if (units_now_mono_ms() - s->last_stats_ms >= 1000)
        events_stats(s, &st);
    return s->lost;
}

/* ---- registrations ------------------------------------------------------------------- */

int events_watch_cgroup(struct events_source *s, uint64_t cgroup_id, const char *memory_dir)
{
    int rc = cgroup_dir_memory_version(memory_dir);
    if (rc < 0)
        return rc;
    if (s->poller && (rc = poller_watch_cgroup(s->poller, cgroup_id, memory_dir)) < 0)
        return rc;
    return set_add((void **)&s->cgs, &s->ncgs, &s->cgcap, &cgroup_id, sizeof(cgroup_id));
}

int events_unwatch_cgroup(struct events_source *s, uint64_t cgroup_id)
{
    if (!set_has(s->cgs, s->ncgs, &cgroup_id, sizeof(cgroup_id)))
        return -ENOENT;
    events_clear_cgroup_watermark(s, cgroup_id);
    events_set_cgroup_steps(s, cgroup_id, 0, 0);
    if (s->poller)
        poller_unwatch_cgroup(s->poller, cgroup_id);
    set_del(s->cgs, &s->ncgs, &cgroup_id, sizeof(cgroup_id));
    return 0;
}

int events_set_cgroup_watermark(struct events_source *s, uint64_t cgroup_id, uint64_t bytes,
                                uint64_t hysteresis_bytes)
{
    if (!bytes || hysteresis_bytes > bytes)
        return -EINVAL;
    if (!set_has(s->cgs, s->ncgs, &cgroup_id, sizeof(cgroup_id)))
        return -ENOENT;
    uint64_t rearm = bytes - hysteresis_bytes;
    return s->bpf ? bpf_events_set_cgroup_mark(s->bpf, cgroup_id, bytes, rearm)
                  : poller_set_cgroup_mark(s->poller, cgroup_id, bytes, rearm);
}

int events_clear_cgroup_watermark(struct events_source *s, uint64_t cgroup_id)
{
    return s->bpf ? bpf_events_clear_cgroup_mark(s->bpf, cgroup_id)
                  : poller_clear_cgroup_mark(s->poller, cgroup_id);
}

int events_set_proc_watermark(struct events_source *s, int tgid, uint64_t bytes,
                              uint64_t hysteresis_bytes)
{
    if (!bytes || hysteresis_bytes > bytes || tgid <= 0)
        return -EINVAL;
    uint64_t rearm = bytes - hysteresis_bytes;
    int rc = s->bpf ? bpf_events_set_proc_mark(s->bpf, tgid, bytes, rearm)
                    : poller_set_proc_mark(s->poller, tgid, bytes, rearm);
    if (rc == 0 &&
        set_add((void **)&s->marked, &s->nmarked, &s->markcap, &tgid, sizeof(tgid)) < 0) {
        events_clear_proc_watermark(s, tgid);
        rc = -ENOMEM;
    }
    return rc;
}

int events_clear_proc_watermark(struct events_source *s, int tgid)
{
    set_del(s->marked, &s->nmarked, &tgid, sizeof(tgid));
    return s->bpf ? bpf_events_clear_proc_mark(s->bpf, tgid)
                  : poller_clear_proc_mark(s->poller, tgid);
}

int events_set_cgroup_steps(struct events_source *s, uint64_t cgroup_id, uint64_t from_bytes,
                            uint64_t step_bytes)
{
    if (!set_has(s->cgs, s->ncgs, &cgroup_id, sizeof(cgroup_id)))
        return -ENOENT;
    return s->bpf ? bpf_events_set_cgroup_steps(s->bpf, cgroup_id, from_bytes, step_bytes)
                  : poller_set_cgroup_steps(s->poller, cgroup_id, from_bytes, step_bytes);
}

/* The tgid stays in `marked` while it has a watermark or a ladder: its exit
 * removes both. */
int events_set_proc_steps(struct events_source *s, int tgid, uint64_t from_bytes,
                          uint64_t step_bytes)
{
    if (tgid <= 0)
        return -EINVAL;
    int rc = s->bpf ? bpf_events_set_proc_steps(s->bpf, tgid, from_bytes, step_bytes)
                    : poller_set_proc_steps(s->poller, tgid, from_bytes, step_bytes);
    if (rc == 0 && step_bytes &&
        set_add((void **)&s->marked, &s->nmarked, &s->markcap, &tgid, sizeof(tgid)) < 0) {
        events_set_proc_steps(s, tgid, 0, 0);
        rc = -ENOMEM;
    }
    return rc;
}

void events_stats(struct events_source *s, struct events_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->events = s->delivered;
    if (s->bpf) {
        struct bpf_events_counts c;
        bpf_events_counts(s->bpf, &c);
        out->ringbuf_full = c.ringbuf_full;
        out->lost = c.ringbuf_full + c.malformed;
    }
    s->lost = out->lost;
    metrics_set(s->metrics, events_lost, out->lost);
    metrics_set(s->metrics, ringbuf_full, out->ringbuf_full);
    s->last_stats_ms = units_now_mono_ms();
}
