#include "policy/gopprof.h"

#include "capture/pprof_fetch.h"
#include "flame/pprofdelta.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const file_names[RULE_PPROF_N] = {
    "cpu.pprof", "goroutines.pprof", "delta-heap.pprof", "delta-mutex.pprof", "delta-block.pprof",
};

/* The cumulative sample types each delta subtracts (Flameshot's
 * goPProfItems); cpu and goroutine have none: they are sent whole. */
static const struct pprofdelta_type heap_delta[] = {{"alloc_objects", "count"},
                                                    {"alloc_space", "bytes"}};
static const struct pprofdelta_type lock_delta[] = {{"contentions", "count"},
                                                    {"delay", "nanoseconds"}};

const char *gopprof_file_name(int type)
{
    return type >= 0 && type < RULE_PPROF_N ? file_names[type] : "";
}

static bool is_delta(int type)
{
    return type >= 2;
}

/* ---- baselines -------------------------------------------------------------- */

struct baseline {
    struct proc_ident id;
    char *url;
    int type;
    void *data;
    size_t len;
    uint64_t seq; /* age: lower is older */
};

struct gopprof_store {
    pthread_mutex_t mu;
    struct baseline *v;
    size_t n;
    uint64_t seq;
};

struct gopprof_store *gopprof_store_new(void)
{
    struct gopprof_store *st = calloc(1, sizeof(*st));
    if (st)
        pthread_mutex_init(&st->mu, NULL);
    return st;
}

static void drop_at(struct gopprof_store *st, size_t i)
{
    free(st->v[i].url);
    free(st->v[i].data);
    st->v[i] = st->v[--st->n];
}

void gopprof_store_free(struct gopprof_store *st)
{
    if (!st)
        return;
    while (st->n)
        drop_at(st, 0);
    free(st->v);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

size_t gopprof_store_count(struct gopprof_store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t n = st->n;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static bool same_key(const struct baseline *b, const struct proc_ident *p, const char *url,
                     int type)
{
    return b->id.pid == p->pid && b->id.start_time == p->start_time && b->type == type &&
           strcmp(b->url, url) == 0;
}

/* Makes room: the baselines of processes that are gone, then the oldest. */
static void prune(struct gopprof_store *st)
{
    for (size_t i = 0; i < st->n;)
        if (!procfs_same_process(NULL, &st->v[i].id))
            drop_at(st, i);
        else
            i++;
    while (st->n >= GOPPROF_MAX_BASELINES) {
        size_t old = 0;
        for (size_t i = 1; i < st->n; i++)
            if (st->v[i].seq < st->v[old].seq)
                old = i;
        drop_at(st, old);
    }
}

/* Keeps data (taken over) as the baseline of the key; hands the previous
 * one back in prev and prevlen (prev NULL when there was none). */
static int swap_baseline(struct gopprof_store *st, const struct proc_ident *p, const char *url,
                         int type, void *data, size_t len, void **prev, size_t *prevlen)
{
    int rc = 0;
    *prev = NULL;
    pthread_mutex_lock(&st->mu);
    size_t i = 0;
    while (i < st->n && !same_key(&st->v[i], p, url, type))
        i++;
    if (i == st->n) {
        prune(st);
        struct baseline *g = realloc(st->v, (st->n + 1) * sizeof(*g));
        char *u = g ? strdup(url) : NULL;
        if (g)
            st->v = g;
        if (!u) {
            rc = -ENOMEM;
            goto out;
        }
        i = st->n++;
        st->v[i] = (struct baseline){.id = *p, .url = u, .type = type};
    }
    *prev = st->v[i].data;
    *prevlen = st->v[i].len;
    st->v[i].data = data;
    st->v[i].len = len;
    st->v[i].seq = ++st->seq;
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- collection --------------------------------------------------------------- */

static void note(struct gopprof_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct gopprof_result *res, const char *fmt, ...)
{
    size_t at = strlen(res->reason);
    if (at && at + 2 < sizeof(res->reason))
        at += (size_t)snprintf(res->reason + at, sizeof(res->reason) - at, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason + at, sizeof(res->reason) - at, fmt, ap);
    va_end(ap);
}

static void add_file(struct gopprof_result *res, int type, void *data, size_t len)
{
    res->files[res->nfiles++] = (struct gopprof_file){file_names[type], data, len};
}

/* A cumulative type: its delta from the baseline (added to res), or the
 * new baseline. Returns 1 when only a baseline was stored. */
static int take_delta(struct gopprof_store *st, const struct proc_ident *p, const char *url,
                      int type, const struct pprof_pull *pull, struct gopprof_result *res)
{
    const char *name = rule_pprof_type_name(type);
    struct pprof_profile cur;
    char why[256] = "";
    int rc = pprof_parse(pull->data, pull->len, &cur, why, sizeof(why));
    pprof_free(&cur);
    if (rc < 0) {
        note(res, "%s: not a profile: %s", name, rc == -ENOMEM ? "out of memory" : why);
        return 0;
    }
    /* the store keeps its own copy: another job may replace it meanwhile */
    void *copy = malloc(pull->len ? pull->len : 1), *prev = NULL, *out = NULL;
    size_t prevlen = 0, outlen = 0;
    if (copy)
        memcpy(copy, pull->data, pull->len);
    if (!copy || swap_baseline(st, p, url, type, copy, pull->len, &prev, &prevlen) < 0) {
        free(copy);
        note(res, "%s: out of memory", name);
        return 0;
    }
    if (!prev) {
        note(res, "%s: first pull stored as the baseline; %s is sent from the next profile on",
             name, file_names[type]);
        return 1;
    }
    rc = pprofdelta(prev, prevlen, pull->data, pull->len, type == 2 ? heap_delta : lock_delta, 2,
                    &out, &outlen, why, sizeof(why));
    free(prev);
    if (rc < 0)
        note(res, "%s: no delta: %s", name, rc == -ENOMEM ? "out of memory" : why);
    else
        add_file(res, type, out, outlen);
    return 0;
}

static void span(struct gopprof_result *res, const struct pprof_pull *pull)
{
    if (!res->start_ns || pull->start_ns < res->start_ns)
        res->start_ns = pull->start_ns;
    if (pull->end_ns > res->end_ns)
        res->end_ns = pull->end_ns;
}

/* Turns the pulls into files and baselines. Returns how many baselines
 * alone were stored; *cancelled when a pull was cut by the cancel. */
static int take_pulls(struct gopprof_store *st, const struct proc_ident *p, const char *url,
                      struct pprof_pull pulls[RULE_PPROF_N], struct gopprof_result *res,
                      bool *cancelled)
{
    int baselines = 0;
    for (int i = 0; i < RULE_PPROF_N; i++) {
        struct pprof_pull *pull = &pulls[i];
        if (pull->rc == -ENODATA)
            continue;
        span(res, pull);
        if (pull->rc == -ECANCELED)
            *cancelled = true;
        if (pull->rc < 0) {
            note(res, "%s: %s", rule_pprof_type_name(i), pull->error);
        } else if (!is_delta(i)) {
            add_file(res, i, pull->data, pull->len);
            pull->data = NULL;
        } else {
            baselines += take_delta(st, p, url, i, pull, res);
        }
    }
    return baselines;
}

int gopprof_collect(struct gopprof_store *st, const struct proc_ident *p,
                    const struct gopprof_req *req, struct gopprof_result *res)
{
    const struct rule *r = req->rule;
    struct pprof_pull pulls[RULE_PPROF_N];
    struct pprof_fetch_req fq = {.url = r->pprof_url,
                                 .types = r->pprof_types,
                                 .duration_ms = req->duration_ms,
                                 .timeout_ms = rule_pprof_timeout(r, req->duration_ms),
                                 .max_bytes = req->max_bytes,
                                 .cancel_fd = req->cancel_fd};
    char err[512] = "";
    bool cancelled = false;
    memset(res, 0, sizeof(*res));
    int rc = pprof_fetch(p, &fq, pulls, err, sizeof(err));
    int baselines = take_pulls(st, p, r->pprof_url, pulls, res, &cancelled);
    pprof_pulls_free(pulls);
    if (rc < 0)
        note(res, "%s", err);
    if (!res->nfiles && !baselines && (rc == -ESRCH || !procfs_same_process(NULL, p))) {
        res->outcome = GOPPROF_TARGET_EXITED;
        return -ESRCH;
    }
    if (cancelled) {
        res->outcome = GOPPROF_CANCELLED;
        return 0;
    }
    if (!res->nfiles && !baselines) {
        res->outcome = GOPPROF_FAILED;
        return rc < 0 ? rc : -EIO;
    }
    return 0;
}

void gopprof_result_free(struct gopprof_result *res)
{
    for (size_t i = 0; i < res->nfiles; i++)
        free(res->files[i].data);
    res->nfiles = 0;
}
