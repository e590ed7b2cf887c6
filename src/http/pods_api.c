#include "http/pods_api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void add_error(cJSON *o, const struct podconfig *pc)
{
    if (pc->state != PODCONFIG_ERROR) {
        cJSON_AddNullToObject(o, "error");
        return;
    }
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "annotation", pc->err.key);
    cJSON_AddStringToObject(e, "path", pc->err.path);
    cJSON_AddStringToObject(e, "reason", pc->err.reason);
}

static void add_unknown(cJSON *o, const struct podconfig *pc)
{
    cJSON *a = cJSON_AddArrayToObject(o, "unknown_annotations");
    for (size_t i = 0; a && i < pc->n_unknown; i++) {
        cJSON *u = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "annotation", pc->unknown[i].key);
        if (pc->unknown[i].near)
            cJSON_AddStringToObject(u, "did_you_mean", pc->unknown[i].near);
        cJSON_AddItemToArray(a, u);
    }
}

/* The configuration in force of an opted-in Pod. */
static void add_config(cJSON *o, const struct podref *r)
{
    const struct podconfig *pc = &r->pc;
    if (pc->state != PODCONFIG_ON)
        return;
    cJSON *c = cJSON_AddObjectToObject(o, "config");
    cJSON_AddStringToObject(c, "rules_from",
                            pc->rules == &pc->own_rules ? "flameshot.io/processes"
                                                        : "FLAMESHOT_PROCESSES");
    cJSON *rules = cJSON_AddArrayToObject(c, "processes");
    for (size_t i = 0; rules && i < pc->rules->n; i++)
        cJSON_AddItemToArray(rules, rule_to_json(&pc->rules->items[i]));
    if (pc->service)
        cJSON_AddStringToObject(c, "service", pc->service);
    cJSON *tags = cJSON_AddObjectToObject(c, "tags");
    for (size_t i = 0; tags && i < pc->tags.n; i++)
        cJSON_AddStringToObject(tags, pc->tags.items[i].key, pc->tags.items[i].value);
    cJSON_AddNumberToObject(c, "auto_profiling_seconds", (double)pc->auto_profiling_ms / 1000.0);
    cJSON_AddNumberToObject(c, "auto_profiling_duration_seconds",
                            (double)pc->auto_profiling_duration_ms / 1000.0);
    cJSON_AddBoolToObject(c, "oom_hprof_enabled", pc->oom_hprof_enabled);
    cJSON_AddNumberToObject(c, "oom_hprof_match_window_seconds",
                            (double)pc->oom_hprof_match_window_ms / 1000.0);
    cJSON_AddBoolToObject(c, "jcmd_snapshot_enabled", pc->jcmd_snapshot_enabled);
    cJSON_AddNumberToObject(c, "jcmd_timeout_seconds", (double)pc->jcmd_timeout_ms / 1000.0);
}

/* The pids of t watched in container name of the Pod uid. Lock held. */
static cJSON *targets_of(struct targets *t, const char *uid, const char *name)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < targets_count(t); i++) {
        const struct target *tg = targets_at(t, i);
        if (strcmp(tg->pod.uid, uid) == 0 && strcmp(tg->pod.container, name) == 0)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(tg->id.pid));
    }
    return a;
}

static cJSON *containers_json(const struct pod *p, struct targets *t)
{
    cJSON *a = cJSON_CreateArray();
    targets_lock(t);
    for (size_t i = 0; a && i < p->n_containers; i++) {
        const struct pod_container *c = &p->containers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", c->name);
        cJSON_AddStringToObject(o, "kind", pod_container_kind_name(c->kind));
        cJSON_AddStringToObject(o, "container_id", c->id);
        cJSON_AddStringToObject(o, "runtime", c->runtime);
        cJSON_AddNumberToObject(o, "restart_count", c->restart_count);
        cJSON_AddItemToObject(o, "targets", targets_of(t, p->uid, c->name));
        cJSON_AddItemToArray(a, o);
    }
    targets_unlock(t);
    return a;
}

static cJSON *pod_json(const struct pods_api *k, const struct podcache_entry *e, struct targets *t)
{
    const struct pod *p = &e->pod;
    struct podref *r = podtable_lookup(k->pods, p->uid);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "namespace", p->ns);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "uid", p->uid);
    cJSON_AddStringToObject(o, "phase", pod_phase_name(p->phase));
    cJSON_AddBoolToObject(o, "deleted", e->deleted);
    /* a Pod the loop has not judged yet (it does on its next tick) */
    cJSON_AddStringToObject(o, "state", r ? podconfig_state_name(r->pc.state) : "unread");
    if (r) {
        add_error(o, &r->pc);
        add_unknown(o, &r->pc);
        add_config(o, r);
    }
    cJSON_AddItemToObject(o, "containers", containers_json(p, t));
    podref_put(r);
    return o;
}

cJSON *pods_api_list(const struct pods_api *k, struct targets *t)
{
    struct podcache_entry *e = NULL;
    size_t n = 0;
    if (podcache_snapshot(k->cache, &e, &n) < 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)n);
    cJSON *a = cJSON_AddArrayToObject(o, "pods");
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, pod_json(k, &e[i], t));
    podcache_entries_free(e, n);
    return o;
}

void pods_api_counts(const struct pods_api *k, size_t by_state[PODCONFIG_STATES])
{
    podtable_count(k->pods, by_state);
}

static cJSON *watch_json(struct watcher *w)
{
    struct watcher_stats s;
    watcher_stats(w, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "connected", s.connected);
    cJSON_AddStringToObject(o, "resource_version", s.resource_version);
    cJSON_AddNumberToObject(o, "lists", (double)s.lists);
    cJSON_AddNumberToObject(o, "relists", (double)s.relists);
    cJSON_AddNumberToObject(o, "watches", (double)s.watches);
    cJSON_AddNumberToObject(o, "watch_restarts", (double)s.watch_restarts);
    cJSON_AddNumberToObject(o, "events", (double)s.events);
    cJSON_AddNumberToObject(o, "bookmarks", (double)s.bookmarks);
    cJSON_AddNumberToObject(o, "backoffs", (double)s.backoffs);
    cJSON *e = cJSON_AddObjectToObject(o, "errors");
    for (int i = 0; e && i < WATCHER_ERR_MAX; i++)
        cJSON_AddNumberToObject(e, watcher_error_name((enum watcher_error)i), (double)s.errors[i]);
    cJSON_AddStringToObject(o, "last_error", s.last_error);
    cJSON_AddNumberToObject(o, "pods_known", (double)s.pods);
    return o;
}

cJSON *pods_api_status(const struct pods_api *k, const char *api_server, struct targets *t)
{
    size_t by[PODCONFIG_STATES];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "api_server", api_server ? api_server : "");
    cJSON_AddItemToObject(o, "watch", watch_json(k->watcher));
    pods_api_counts(k, by);
    cJSON *p = cJSON_AddObjectToObject(o, "pods");
    for (int i = 0; p && i < PODCONFIG_STATES; i++)
        cJSON_AddNumberToObject(p, podconfig_state_name((enum podconfig_state)i), (double)by[i]);
    targets_lock(t);
    cJSON_AddNumberToObject(o, "processes_waiting", (double)targets_pending(t));
    targets_unlock(t);
    return o;
}
