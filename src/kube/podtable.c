#include "kube/podtable.h"
#include "core/vec.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char uid[POD_UID_MAX];
    struct podref *ref;
    bool seen;
    bool deleted; /* a tombstone of the cache: not counted */
};

struct podtable {
    pthread_mutex_t lock;
    const struct config *cfg;
    struct podcache *cache;
    char *self_uid, *self_ns, *self_name;
    bool synced;
    uint64_t cache_gen; /* of the last sync */
    uint64_t gen;
    struct entry *e;
    size_t n, cap;
};

struct podref *podref_get(struct podref *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void podref_put(struct podref *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    pod_free(&r->pod);
    podconfig_free(&r->pc);
    free(r);
}

bool podref_active(const struct podref *r)
{
    return r && !atomic_load(&r->inactive);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

struct podtable *podtable_new(const struct config *cfg, struct podcache *cache,
                              const struct podconfig_self *self)
{
    struct podtable *pt = calloc(1, sizeof(*pt));
    if (!pt)
        return NULL;
    pthread_mutex_init(&pt->lock, NULL);
    pt->cfg = cfg;
    pt->cache = cache;
    if (self) {
        pt->self_uid = dup_or_null(self->uid);
        pt->self_ns = dup_or_null(self->ns);
        pt->self_name = dup_or_null(self->name);
    }
    return pt;
}

void podtable_free(struct podtable *pt)
{
    if (!pt)
        return;
    for (size_t i = 0; i < pt->n; i++)
        podref_put(pt->e[i].ref);
    free(pt->e);
    free(pt->self_uid);
    free(pt->self_ns);
    free(pt->self_name);
    pthread_mutex_destroy(&pt->lock);
    free(pt);
}

static bool pod_ended(const struct pod *p)
{
    return p->phase == POD_PHASE_SUCCEEDED || p->phase == POD_PHASE_FAILED;
}

/* What a configuration is built from: a Pod whose status alone changed
 * (every few seconds on a busy node) keeps its configuration. */
static bool same_config(const struct pod *a, const struct pod *b)
{
    if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name) ||
        strcmp(a->label_app_name, b->label_app_name) || strcmp(a->label_app, b->label_app) ||
        strcmp(a->label_version, b->label_version) || strcmp(a->owner_kind, b->owner_kind) ||
        strcmp(a->owner_name, b->owner_name) || a->n_annotations != b->n_annotations)
        return false;
    for (size_t i = 0; i < a->n_annotations; i++)
        if (strcmp(a->annotations[i].key, b->annotations[i].key) ||
            strcmp(a->annotations[i].value, b->annotations[i].value))
            return false;
    return true;
}

static struct podref *ref_new(struct podtable *pt, const struct pod *p, bool deleted)
{
    struct podref *r = calloc(1, sizeof(*r));
    struct podconfig_self self = {pt->self_uid, pt->self_ns, pt->self_name};
    if (!r)
        return NULL;
    atomic_init(&r->refs, 1);
    atomic_init(&r->stale, false);
    atomic_init(&r->inactive, deleted || pod_ended(p));
    if (pod_copy(&r->pod, p) < 0) {
        free(r);
        return NULL;
    }
    /* containers change with every restart; the cache answers for them */
    free(r->pod.containers);
    r->pod.containers = NULL;
    r->pod.n_containers = 0;
    if (podconfig_build(&r->pod, pt->cfg, &self, &r->pc) < 0) {
        pod_free(&r->pod);
        free(r);
        return NULL;
    }
    return r;
}

static struct entry *find(struct podtable *pt, const char *uid)
{
    for (size_t i = 0; i < pt->n; i++)
        if (strcmp(pt->e[i].uid, uid) == 0)
            return &pt->e[i];
    return NULL;
}

static struct entry *add_entry(struct podtable *pt, const char *uid)
{
    if (vec_grow(&pt->e, &pt->cap, pt->n, sizeof(*pt->e), 16) < 0)
        return NULL;
    struct entry *e = &pt->e[pt->n++];
    memset(e, 0, sizeof(*e));
    memcpy(e->uid, uid, sizeof(e->uid));
    return e;
}

static bool same_error(const struct podconfig *a, const struct podconfig *b)
{
    return a->state == PODCONFIG_ERROR && b->state == PODCONFIG_ERROR &&
           strcmp(a->err.key, b->err.key) == 0 && strcmp(a->err.path, b->err.path) == 0 &&
           strcmp(a->err.reason, b->err.reason) == 0;
}

/* Replaces e's reference by r (the table's lock held). Returns whether a
 * configuration opting containers in came or went. */
static bool replace(struct entry *e, struct podref *r)
{
    struct podref *old = e->ref;
    bool on = (old && old->pc.state == PODCONFIG_ON) || (r && r->pc.state == PODCONFIG_ON);
    e->ref = r;
    if (old) {
        atomic_store(&old->stale, true);
        podref_put(old);
    }
    return on;
}

/* One Pod of the cache's snapshot into the table. Returns the flags of
 * podtable_sync, or -ENOMEM. */
static int sync_one(struct podtable *pt, const struct podcache_entry *ce,
                    podtable_error_fn on_error, void *arg)
{
    struct entry *e = find(pt, ce->pod.uid);
    if (e && same_config(&e->ref->pod, &ce->pod)) {
        pthread_mutex_lock(&pt->lock);
        e->seen = true;
        e->deleted = ce->deleted;
        pthread_mutex_unlock(&pt->lock);
        atomic_store(&e->ref->inactive, ce->deleted || pod_ended(&ce->pod));
        return 0;
    }
    struct podref *r = ref_new(pt, &ce->pod, ce->deleted);
    if (!r)
        return -ENOMEM;
    bool report = (r->pc.state == PODCONFIG_ERROR && !(e && same_error(&e->ref->pc, &r->pc))) ||
                  r->pc.n_unknown > 0;
    pthread_mutex_lock(&pt->lock);
    if (!e)
        e = add_entry(pt, ce->pod.uid);
    bool on = e && replace(e, r);
    if (e) {
        e->seen = true;
        e->deleted = ce->deleted;
    }
    pthread_mutex_unlock(&pt->lock);
    if (!e) {
        podref_put(r);
        return -ENOMEM;
    }
    if (report && on_error)
        on_error(r, arg);
    return on ? 1 : 0;
}

/* Pods the cache no longer has (their tombstones expired). */
static int drop_unseen(struct podtable *pt)
{
    int changed = 0;
    pthread_mutex_lock(&pt->lock);
    for (size_t i = 0; i < pt->n;) {
        if (pt->e[i].seen) {
            pt->e[i++].seen = false;
            continue;
        }
        changed |= replace(&pt->e[i], NULL);
        pt->e[i] = pt->e[--pt->n];
    }
    pthread_mutex_unlock(&pt->lock);
    return changed;
}

int podtable_sync(struct podtable *pt, uint64_t now_ms, podtable_error_fn on_error, void *arg)
{
    struct podcache_counts c;
    podcache_expire(pt->cache, now_ms);
    podcache_counts(pt->cache, &c);
    if (pt->synced && c.generation == pt->cache_gen)
        return 0;
    struct podcache_entry *ents;
    size_t n;
    if (podcache_snapshot(pt->cache, &ents, &n) < 0)
        return -ENOMEM;
    int changed = 0, rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        rc = sync_one(pt, &ents[i], on_error, arg);
        changed |= rc > 0;
    }
    podcache_entries_free(ents, n);
    if (rc < 0) {
        for (size_t i = 0; i < pt->n; i++)
            pt->e[i].seen = false;
        return rc; /* the next call tries again: cache_gen is not moved on */
    }
    changed |= drop_unseen(pt);
    pt->synced = true;
    pt->cache_gen = c.generation;
    if (changed) {
        pthread_mutex_lock(&pt->lock);
        pt->gen++;
        pthread_mutex_unlock(&pt->lock);
    }
    return PODTABLE_PODS | (changed ? PODTABLE_CONFIG : 0);
}

struct podref *podtable_lookup(struct podtable *pt, const char *uid)
{
    pthread_mutex_lock(&pt->lock);
    struct entry *e = find(pt, uid);
    struct podref *r = e ? podref_get(e->ref) : NULL;
    pthread_mutex_unlock(&pt->lock);
    return r;
}

uint64_t podtable_generation(struct podtable *pt)
{
    pthread_mutex_lock(&pt->lock);
    uint64_t g = pt->gen;
    pthread_mutex_unlock(&pt->lock);
    return g;
}

static const char *state_why(enum podconfig_state s)
{
    switch (s) {
    case PODCONFIG_OFF:
        return "its Pod is not opted in (flameshot.io/enabled)";
    case PODCONFIG_NAMESPACE:
        return "its namespace is not selected (FLAMESHOT_NAMESPACES, "
               "FLAMESHOT_EXCLUDE_NAMESPACES)";
    case PODCONFIG_SELF:
        return "the agent's own Pod";
    case PODCONFIG_ERROR:
        return "its Pod's flameshot.io/ annotations are malformed";
    default:
        return "";
    }
}

/* What the cache says now of ref's Pod, through the container's ID (or
 * the Pod's UID while its status does not report the ID): 0 when it
 * lives, else -ESRCH or -ENOMEM with *no the end of "Pod ns/name...". */
static int pod_gone(struct podtable *pt, const struct podref *ref, const char *cid, const char **no)
{
    struct podcache_hit h;
    struct pod p;
    bool deleted = false, ended = false, mine = true;
    int rc = cid && cid[0] ? podcache_by_container(pt->cache, cid, &h) : -ENOENT;
    if (rc == 0) {
        mine = !h.replaced && strcmp(h.pod.uid, ref->pod.uid) == 0;
        deleted = h.deleted;
        ended = pod_ended(&h.pod);
        podcache_hit_free(&h);
    } else if (rc == -ENOENT) {
        rc = podcache_by_pod_id(pt->cache, ref->pod.uid, &p, &deleted);
        ended = rc == 0 && pod_ended(&p);
        if (rc == 0)
            pod_free(&p);
    }
    *no = rc == -ENOENT ? " is no longer known (deleted)"
          : rc < 0      ? ": out of memory checking it"
          : !mine       ? ": a restart replaced its container"
          : deleted     ? " was deleted"
          : ended       ? " has ended"
                        : NULL;
    return rc == -ENOMEM ? rc : *no ? -ESRCH : 0;
}

/* Why the configuration st does not opt the Pod in, after "Pod ns/name". */
static const char *config_why(enum podconfig_state st)
{
    return st == PODCONFIG_OFF         ? " opted out (flameshot.io/enabled is not \"true\")"
           : st == PODCONFIG_ERROR     ? ": its flameshot.io/ annotations are malformed"
           : st == PODCONFIG_NAMESPACE ? ": its namespace is not selected (FLAMESHOT_NAMESPACES, "
                                         "FLAMESHOT_EXCLUDE_NAMESPACES)"
                                       : ": the agent's own Pod";
}

int podtable_may_attach(struct podtable *pt, const struct podref *ref, const char *container_id,
                        char *why, size_t cap)
{
    if (!ref) {
        snprintf(why, cap, "not in an opted-in Pod's container");
        return -EPERM;
    }
    const char *no = NULL;
    int rc = pod_gone(pt, ref, container_id, &no);
    struct podref *cur = rc ? NULL : podtable_lookup(pt, ref->pod.uid);
    if (rc == 0 && !cur)
        no = ": its configuration is not read";
    else if (cur && cur->pc.state != PODCONFIG_ON)
        no = config_why(cur->pc.state);
    podref_put(cur);
    if (no)
        snprintf(why, cap, "Pod %s/%s%s", ref->pod.ns, ref->pod.name, no);
    return rc ? rc : no ? -EPERM : 0;
}

/* The Pod's side of the verdict: m->ref is set when it is opted in. */
static enum podtable_verdict judge(struct podtable *pt, const struct pod *p, bool deleted,
                                   struct podtable_match *m)
{
    if (deleted || pod_ended(p)) {
        m->why = deleted ? "its Pod was deleted" : "its Pod has ended";
        return PODTABLE_NO;
    }
    struct podref *r = podtable_lookup(pt, p->uid);
    if (!r) {
        m->why = "its Pod's configuration is not read yet";
        return PODTABLE_WAIT;
    }
    if (r->pc.state != PODCONFIG_ON) {
        m->why = state_why(r->pc.state);
        podref_put(r);
        return PODTABLE_NO;
    }
    m->ref = r;
    return PODTABLE_TARGET;
}

/* An ID no container status names (yet): a container that started before
 * the kubelet reported it, a restart's new container, or the sandbox. */
static enum podtable_verdict unreported(struct podtable *pt, const struct container_ident *ci,
                                        struct podtable_match *m)
{
    struct pod p;
    bool deleted = false;
    int rc = podcache_by_pod_id(pt->cache, ci->pod_uid, &p, &deleted);
    if (rc < 0) {
        m->why = rc == -ENOENT ? "its Pod is not known yet" : "out of memory";
        return PODTABLE_WAIT;
    }
    enum podtable_verdict v = judge(pt, &p, deleted, m);
    pod_free(&p);
    if (v != PODTABLE_TARGET)
        return v;
    /* m->ref stays: the caller checks the Pod's rules before waiting (a
     * sandbox's /pause matches none and is dropped at once) */
    m->why = "its container ID is not reported in its Pod's status yet";
    return PODTABLE_WAIT;
}

enum podtable_verdict podtable_resolve(struct podtable *pt, const struct container_ident *ci,
                                       struct podtable_match *m)
{
    memset(m, 0, sizeof(*m));
    if (!ci->id[0] || !ci->pod_uid[0]) {
        m->why = "not in a Pod's container";
        return PODTABLE_NO;
    }
    struct podcache_hit h;
    int rc = podcache_by_container(pt->cache, ci->id, &h);
    if (rc == -ENOENT)
        return unreported(pt, ci, m);
    if (rc < 0) {
        m->why = "out of memory";
        return PODTABLE_WAIT;
    }
    enum podtable_verdict v = h.replaced ? PODTABLE_NO : judge(pt, &h.pod, h.deleted, m);
    if (h.replaced)
        m->why = "a container its restart replaced";
    m->container = h.container;
    podcache_hit_free(&h);
    return v;
}

void podtable_count(struct podtable *pt, size_t by_state[PODCONFIG_STATES])
{
    memset(by_state, 0, PODCONFIG_STATES * sizeof(*by_state));
    pthread_mutex_lock(&pt->lock);
    for (size_t i = 0; i < pt->n; i++)
        if (!pt->e[i].deleted && (unsigned)pt->e[i].ref->pc.state < PODCONFIG_STATES)
            by_state[pt->e[i].ref->pc.state]++;
    pthread_mutex_unlock(&pt->lock);
}
