/* prom: the agent's counters in the Prometheus text exposition format
 * 0.0.4 (GET /metrics): one HELP and one TYPE line per family, families
 * never repeated, label values escaped (\\, \", \n), histogram buckets
 * cumulative and ending with le="+Inf" equal to _count. Every name starts
 * with flameshot_. Pure: renders what it is given. */
#ifndef FS_PROM_H
#define FS_PROM_H

#include "core/metrics.h"
#include "kube/podconfig.h"
#include "kube/watcher.h"

#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What /metrics shows besides struct metrics. */
struct prom_extra {
    double start_time_s; /* flameshot_start_time_seconds (Flameshot's own) */
    const char *version; /* flameshot_build_info labels */
    const char *git_rev;
    const char *event_source; /* "bpf" or "poller" */
    int jobs_queued, jobs_running;
    uint64_t outbox_oldest_age_ms;
    uint64_t local_items, local_bytes;
    uint64_t spool_max_bytes;
    /* kubernetes mode (NULL standalone): the Pod watch and the Pods'
     * states, pods_by_state[enum podconfig_state] */
    const struct watcher_stats *kube_watch;
    size_t pods_by_state[PODCONFIG_STATES];
    size_t pods_pending; /* processes waiting for their Pod */
};

/* Renders the exposition. Returns a malloc'd NUL-terminated text (length
 * in *len when len is non-NULL) or NULL on ENOMEM. */
char *prom_render(const struct metrics *m, const struct prom_extra *x, size_t *len);

/* Appends value to buf (room for cap bytes) escaped for a label value.
 * Returns buf; cut to fit. */
char *prom_escape_label(const char *value, char *buf, size_t cap);

#endif
