#include "flame/pprofdelta.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key: the bytes that say what a sample means (see the header). */
struct key {
    uint8_t *d;
    size_t len, cap;
    bool oom;
};

static void key_put(struct key *k, const void *data, size_t n)
{
    if (k->oom)
        return;
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        while (cap < k->len + n)
            cap *= 2;
        uint8_t *g = realloc(k->d, cap);
        if (!g) {
            k->oom = true;
            return;
        }
        k->d = g;
        k->cap = cap;
    }
    memcpy(k->d + k->len, data, n);
    k->len += n;
}

/* Length-prefixed, so that no two different sequences give the same key. */
static void key_str(struct key *k, const struct pprof_profile *p, int64_t i)
{
    struct pprof_string s = pprof_str(p, i);
    uint64_t n = s.len;
    key_put(k, &n, sizeof(n));
    key_put(k, s.s, s.len);
}

static void key_num(struct key *k, int64_t v)
{
    key_put(k, &v, sizeof(v));
}

static void key_location(struct key *k, const struct pprof_profile *p,
                         const struct pprof_location *l)
{
    key_num(k, (int64_t)l->nline);
    for (size_t i = 0; i < l->nline; i++) {
        const struct pprof_function *f = pprof_function(p, l->lines[i].function_id);
        key_str(k, p, f->name);
        key_str(k, p, f->system_name);
        key_str(k, p, f->filename);
        key_num(k, l->lines[i].line);
    }
    if (l->nline)
        return;
    /* unsymbolised: the address within its file is what stays put */
    const struct pprof_mapping *m = pprof_mapping(p, l->mapping_id);
    key_str(k, p, m ? m->filename : 0);
    key_num(k, (int64_t)(m ? l->address - m->memory_start + m->file_offset : l->address));
}

static void sample_key(struct key *k, const struct pprof_profile *p, const struct pprof_sample *s)
{
    k->len = 0;
    key_num(k, (int64_t)s->nlocation);
    for (size_t i = 0; i < s->nlocation; i++)
        key_location(k, p, pprof_location(p, s->location_ids[i]));
    for (size_t i = 0; i < s->nlabel; i++) {
        key_str(k, p, s->labels[i].key);
        key_str(k, p, s->labels[i].str);
        key_num(k, s->labels[i].num);
        key_str(k, p, s->labels[i].num_unit);
    }
}

static uint64_t fnv1a(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

/* ---- the table of the newer pull's stacks ---------------------------------- */

struct slot {
    uint8_t *key; /* NULL: empty */
    size_t keylen;
    uint64_t hash;
    size_t first; /* index of the first sample of cur with this key */
    int64_t *sums;
};

struct table {
    struct slot *slots;
    size_t cap, n;
    size_t *order; /* slot of the i-th key, in cur's sample order */
    size_t nvalue;
};

static struct slot *lookup(const struct table *t, const struct key *k, uint64_t h)
{
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        struct slot *s = &t->slots[i];
        if (!s->key || (s->hash == h && s->keylen == k->len && !memcmp(s->key, k->d, k->len)))
            return s;
    }
}

static int table_init(struct table *t, size_t nsample, size_t nvalue)
{
    t->cap = 16;
    while (t->cap < nsample * 2)
        t->cap *= 2;
    t->n = 0;
    t->nvalue = nvalue;
    t->slots = calloc(t->cap, sizeof(*t->slots));
    t->order = calloc(nsample ? nsample : 1, sizeof(*t->order));
    return t->slots && t->order ? 0 : -ENOMEM;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; t->slots && i < t->cap; i++) {
        free(t->slots[i].key);
        free(t->slots[i].sums);
    }
    free(t->slots);
    free(t->order);
}

/* Adds cur's sample i under key k. */
static int table_add(struct table *t, const struct key *k, size_t i, const int64_t *values)
{
    uint64_t h = fnv1a(k->d, k->len);
    struct slot *s = lookup(t, k, h);
    if (!s->key) {
        s->key = malloc(k->len ? k->len : 1);
        s->sums = calloc(t->nvalue ? t->nvalue : 1, sizeof(int64_t));
        if (!s->key || !s->sums)
            return -ENOMEM;
        memcpy(s->key, k->d, k->len);
        s->keylen = k->len;
        s->hash = h;
        s->first = i;
        t->order[t->n++] = (size_t)(s - t->slots);
    }
    for (size_t v = 0; v < t->nvalue; v++)
        s->sums[v] += values[v];
    return 0;
}

/* ---- the computation --------------------------------------------------- */

static bool str_same(const struct pprof_profile *a, int64_t ia, const struct pprof_profile *b,
                     int64_t ib)
{
    struct pprof_string x = pprof_str(a, ia), y = pprof_str(b, ib);
    return x.len == y.len && !memcmp(x.s, y.s, x.len);
}

static int same_types(const struct pprof_profile *a, const struct pprof_profile *b, char *why,
                      size_t cap)
{
    bool same = a->nsample_type == b->nsample_type;
    for (size_t i = 0; same && i < a->nsample_type; i++)
        same = str_same(a, a->sample_types[i].type, b, b->sample_types[i].type) &&
               str_same(a, a->sample_types[i].unit, b, b->sample_types[i].unit);
    if (same)
        return 0;
    snprintf(why, cap, "the two pulls have different sample types");
    return -EINVAL;
}

/* Which of cur's values are subtracted. */
static int delta_mask(const struct pprof_profile *cur, const struct pprofdelta_type *types,
                      size_t ntypes, bool *mask, char *why, size_t cap)
{
    for (size_t i = 0; i < ntypes; i++) {
        int at = pprof_sample_type_index(cur, types[i].type, types[i].unit);
        if (at < 0) {
            snprintf(why, cap, "sample type %s/%s is not in the profile", types[i].type,
                     types[i].unit);
            return -EINVAL;
        }
        mask[at] = true;
    }
    return 0;
}

static int subtract_prev(struct table *t, const struct pprof_profile *prev, const bool *mask,
                         struct key *k)
{
    for (size_t i = 0; i < prev->nsample; i++) {
        sample_key(k, prev, &prev->samples[i]);
        if (k->oom)
            return -ENOMEM;
        struct slot *s = lookup(t, k, fnv1a(k->d, k->len));
        for (size_t v = 0; s->key && v < t->nvalue; v++)
            if (mask[v])
                s->sums[v] -= prev->samples[i].values[v];
    }
    return 0;
}

static bool all_zero(const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return false;
    return true;
}

/* The delta's samples: cur's first sample of each kept key, with the
 * table's sums as values (pointing into t: valid while t lives). */
static struct pprof_sample *delta_samples(const struct table *t, const struct pprof_profile *cur,
                                          size_t *n)
{
    struct pprof_sample *out = calloc(t->n ? t->n : 1, sizeof(*out));
    *n = 0;
    for (size_t i = 0; out && i < t->n; i++) {
        const struct slot *s = &t->slots[t->order[i]];
        if (all_zero(s->sums, t->nvalue))
            continue;
        out[*n] = cur->samples[s->first];
        out[(*n)++].values = s->sums;
    }
    return out;
}

int pprofdelta_profiles(const struct pprof_profile *prev, const struct pprof_profile *cur,
                        const struct pprofdelta_type *types, size_t ntypes, void **out,
                        size_t *outlen, char *why, size_t whycap)
{
    struct table t = {0};
    struct key k = {0};
    bool *mask = calloc(cur->nsample_type ? cur->nsample_type : 1, sizeof(bool));
    int rc = mask ? same_types(prev, cur, why, whycap) : -ENOMEM;
    if (rc == 0)
        rc = delta_mask(cur, types, ntypes, mask, why, whycap);
    if (rc == 0)
        rc = table_init(&t, cur->nsample, cur->nsample_type);
    for (size_t i = 0; rc == 0 && i < cur->nsample; i++) {
        sample_key(&k, cur, &cur->samples[i]);
        rc = k.oom ? -ENOMEM : table_add(&t, &k, i, cur->samples[i].values);
    }
    if (rc == 0)
        rc = subtract_prev(&t, prev, mask, &k);
    struct pprof_profile d = *cur;
    d.samples = rc == 0 ? delta_samples(&t, cur, &d.nsample) : NULL;
    if (rc == 0 && !d.samples)
        rc = -ENOMEM;
    d.time_nanos = cur->time_nanos;
    d.duration_nanos = cur->time_nanos - prev->time_nanos;
    if (rc == 0)
        rc = pprof_write(&d, out, outlen);
    free(d.samples);
    table_free(&t);
    free(k.d);
    free(mask);
    return rc;
}

int pprofdelta(const void *prev, size_t prevlen, const void *cur, size_t curlen,
               const struct pprofdelta_type *types, size_t ntypes, void **out, size_t *outlen,
               char *why, size_t whycap)
{
    struct pprof_profile a, b = {0};
    char w[256];
    int rc = pprof_parse(prev, prevlen, &a, w, sizeof(w));
    if (rc < 0)
        snprintf(why, whycap, "the previous pull: %s", rc == -ENOMEM ? "out of memory" : w);
    if (rc == 0 && (rc = pprof_parse(cur, curlen, &b, w, sizeof(w))) < 0)
        snprintf(why, whycap, "this pull: %s", rc == -ENOMEM ? "out of memory" : w);
    if (rc == 0)
        rc = pprofdelta_profiles(&a, &b, types, ntypes, out, outlen, why, whycap);
    pprof_free(&a);
    pprof_free(&b);
    return rc;
}
