#include "kube/podcache.h"
#include "core/vec.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A container crash-looping restarts at most every 10 s (the kubelet's
 * back-off starts there), so a node sees far fewer replaced IDs within a
 * grace than this; past it the one expiring first goes. */
#define MAX_REPLACED 1024

/* A kubelet runs at most 110 Pods by default (--max-pods), a few hundred
 * when raised: linear scans over them are cheaper than keeping indexes. */
struct entry {
    struct pod pod;
    bool deleted;
    uint64_t deleted_ms;
};

struct replaced {
    char id[POD_CID_LEN + 1];
    char uid[POD_UID_MAX];
    char container[POD_LABEL_MAX];
    uint64_t until_ms;
};

struct podcache {
    pthread_mutex_t mu;
    uint64_t grace_ms;
    struct entry *e;
    size_t n, cap;
    struct replaced r[MAX_REPLACED];
    size_t nr;
    uint64_t relists, expired, generation;
};

struct podcache *podcache_new(uint64_t grace_ms)
{
    struct podcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->grace_ms = grace_ms ? grace_ms : PODCACHE_GRACE_DEFAULT_MS;
    return c;
}

void podcache_free(struct podcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        pod_free(&c->e[i].pod);
    free(c->e);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct entry *find_uid(struct podcache *c, const char *uid)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].pod.uid, uid) == 0)
            return &c->e[i];
    return NULL;
}

static void remember_replaced(struct podcache *c, const struct pod *old,
                              const struct pod_container *oc, uint64_t now_ms)
{
    /* one slot per ID (a Pod flapping between versions refreshes it);
     * when full, the slot that expires first goes */
    struct replaced *r = NULL;
    for (size_t i = 0; i < c->nr && !r; i++)
        if (strcmp(c->r[i].id, oc->id) == 0)
            r = &c->r[i];
    if (!r && c->nr < MAX_REPLACED)
        r = &c->r[c->nr++];
    for (size_t i = 0; !r && i < c->nr; i++)
        if (i == 0 || c->r[i].until_ms < r->until_ms)
            r = &c->r[i];
    memcpy(r->id, oc->id, sizeof(r->id));
    memcpy(r->uid, old->uid, sizeof(r->uid));
    memcpy(r->container, oc->name, sizeof(r->container));
    r->until_ms = now_ms + c->grace_ms;
}

/* IDs the old version had and the new one does not keep resolving. */
static void retire_ids(struct podcache *c, const struct pod *old, const struct pod *nw,
                       uint64_t now_ms)
{
    for (size_t i = 0; i < old->n_containers; i++) {
        const struct pod_container *oc = &old->containers[i];
        if (oc->id[0] && !pod_container_by_id(nw, oc->id, false))
            remember_replaced(c, old, oc, now_ms);
    }
}

/* Stores *p (taken) in place of its UID's entry, or appends it. */
static int store(struct podcache *c, struct pod *p, bool deleted, uint64_t now_ms)
{
    struct entry *e = find_uid(c, p->uid);
    if (!e) {
        if (vec_grow(&c->e, &c->cap, c->n, sizeof(*c->e), 64) < 0) {
            pod_free(p);
            return -ENOMEM;
        }
        e = &c->e[c->n++];
        memset(e, 0, sizeof(*e));
    } else {
        retire_ids(c, &e->pod, p, now_ms);
        pod_free(&e->pod);
    }
    e->pod = *p;
    memset(p, 0, sizeof(*p));
    /* a Pod already a tombstone keeps its time of death */
    if (deleted && !e->deleted)
        e->deleted_ms = now_ms;
    e->deleted = deleted;
    c->generation++;
    return 0;
}

static size_t expire_locked(struct podcache *c, uint64_t now_ms)
{
    size_t dropped = 0, w = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].deleted && now_ms >= c->e[i].deleted_ms &&
            now_ms - c->e[i].deleted_ms >= c->grace_ms) {
            pod_free(&c->e[i].pod);
            c->expired++;
            dropped++;
            continue;
        }
        c->e[w++] = c->e[i];
    }
    c->n = w;
    w = 0;
    for (size_t i = 0; i < c->nr; i++) {
        if (now_ms >= c->r[i].until_ms || !find_uid(c, c->r[i].uid)) {
            dropped++;
            continue;
        }
        c->r[w++] = c->r[i];
    }
    c->nr = w;
    if (dropped)
        c->generation++; /* readers in step with the cache see Pods go */
    return dropped;
}

size_t podcache_expire(struct podcache *c, uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    size_t n = expire_locked(c, now_ms);
    pthread_mutex_unlock(&c->mu);
    return n;
}

static int write_one(struct podcache *c, struct pod *p, bool deleted, uint64_t now_ms)
{
    if (!p->uid[0]) {
        pod_free(p);
        return -EINVAL;
    }
    pthread_mutex_lock(&c->mu);
    expire_locked(c, now_ms);
    int rc = store(c, p, deleted, now_ms);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int podcache_put(struct podcache *c, struct pod *p, uint64_t now_ms)
{
    return write_one(c, p, false, now_ms);
}

int podcache_delete(struct podcache *c, struct pod *p, uint64_t now_ms)
{
    return write_one(c, p, true, now_ms);
}

static bool in_list(const struct pod_list *l, const char *uid)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].uid, uid) == 0)
            return true;
    return false;
}

int podcache_replace_all(struct podcache *c, struct pod_list *l, uint64_t now_ms)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    expire_locked(c, now_ms);
    for (size_t i = 0; i < c->n; i++) {
        struct entry *e = &c->e[i];
        if (!e->deleted && !in_list(l, e->pod.uid)) {
            e->deleted = true;
            e->deleted_ms = now_ms;
        }
    }
    for (size_t i = 0; i < l->n && rc == 0; i++)
        rc = store(c, &l->items[i], false, now_ms);
    c->relists++;
    c->generation++;
    pthread_mutex_unlock(&c->mu);
    pod_list_free(l); /* what store did not take */
    return rc;
}

static const struct pod_container *container_named(const struct pod *p, const char *name)
{
    for (size_t i = 0; i < p->n_containers; i++)
        if (strcmp(p->containers[i].name, name) == 0)
            return &p->containers[i];
    return NULL;
}

static int hit(struct podcache_hit *out, const struct entry *e, const struct pod_container *pc,
               const char *name, bool replaced)
{
    memset(out, 0, sizeof(*out));
    if (pc)
        out->container = *pc;
    else /* the container is gone from the Pod's statuses: its name is left */
        memcpy(out->container.name, name, sizeof(out->container.name));
    out->deleted = e->deleted;
    out->replaced = replaced;
    return pod_copy(&out->pod, &e->pod);
}

static int by_container_locked(struct podcache *c, const char *id, struct podcache_hit *out)
{
    /* a runtime never reuses an ID: at most one Pod has it as current */
    for (size_t i = 0; i < c->n; i++) {
        const struct pod_container *pc = pod_container_by_id(&c->e[i].pod, id, false);
        if (pc)
            return hit(out, &c->e[i], pc, NULL, false);
    }
    for (size_t i = 0; i < c->nr; i++) {
        struct entry *e = strcmp(c->r[i].id, id) == 0 ? find_uid(c, c->r[i].uid) : NULL;
        if (e)
            return hit(out, e, container_named(&e->pod, c->r[i].container), c->r[i].container,
                       true);
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct pod_container *pc = pod_container_by_id(&c->e[i].pod, id, true);
        if (pc)
            return hit(out, &c->e[i], pc, NULL, true);
    }
    return -ENOENT;
}

int podcache_by_container(struct podcache *c, const char *id, struct podcache_hit *out)
{
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return -ENOENT;
    pthread_mutex_lock(&c->mu);
    int rc = by_container_locked(c, id, out);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void podcache_hit_free(struct podcache_hit *h)
{
    if (h)
        pod_free(&h->pod);
}

/* The systemd cgroup driver writes a Pod UID with '_' for '-' in its slice
 * name (kubepods-burstable-pod471203d1_984f_...slice); a UID never holds
 * '_', so both spellings name the same Pod. */
static bool uid_eq(const char *uid, const char *id)
{
    for (; *uid && *id; uid++, id++)
        if (*uid != *id && !(*uid == '-' && *id == '_'))
            return false;
    return *uid == *id;
}

int podcache_by_pod_id(struct podcache *c, const char *pod_id, struct pod *out, bool *deleted)
{
    memset(out, 0, sizeof(*out));
    if (!pod_id || !*pod_id)
        return -ENOENT;
    int rc = -ENOENT;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n && rc == -ENOENT; i++) {
        const struct pod *p = &c->e[i].pod;
        if (!uid_eq(p->uid, pod_id) && strcmp(p->config_hash, pod_id) != 0)
            continue;
        if (deleted)
            *deleted = c->e[i].deleted;
        rc = pod_copy(out, p);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int podcache_snapshot(struct podcache *c, struct podcache_entry **out, size_t *n)
{
    int rc = 0;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&c->mu);
    struct podcache_entry *a = c->n ? calloc(c->n, sizeof(*a)) : NULL;
    if (c->n && !a)
        rc = -ENOMEM;
    for (size_t i = 0; a && i < c->n && rc == 0; i++) {
        a[i].deleted = c->e[i].deleted;
        a[i].deleted_ms = c->e[i].deleted_ms;
        rc = pod_copy(&a[i].pod, &c->e[i].pod);
        if (rc == 0)
            (*n)++;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        podcache_entries_free(a, *n);
        *n = 0;
        return rc;
    }
    *out = a;
    return 0;
}

void podcache_entries_free(struct podcache_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        pod_free(&e[i].pod);
    free(e);
}

void podcache_counts(struct podcache *c, struct podcache_counts *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].deleted) {
            out->tombstones++;
            continue;
        }
        out->pods++;
        for (size_t k = 0; k < c->e[i].pod.n_containers; k++)
            out->containers += c->e[i].pod.containers[k].id[0] != '\0';
    }
    out->replaced = c->nr;
    out->relists = c->relists;
    out->expired = c->expired;
    out->generation = c->generation;
    pthread_mutex_unlock(&c->mu);
}
