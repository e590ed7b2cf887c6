/* jfr_util: the JFR reader's arena, id map and vector growth. */
#include "jfr_int.h"

#include "core/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct jblock {
    struct jblock *next;
    size_t cap, used;
    char data[];
};

#define JA_BLOCK (64u * 1024u)

char *ja_alloc(struct jarena *a, size_t n)
{
    struct jblock *b = a->head;
    if (!b || b->cap - b->used < n) {
        if (a->spare && a->spare->cap >= n) {
            b = a->spare;
            a->spare = b->next;
        } else {
            size_t cap = n > JA_BLOCK ? n : JA_BLOCK;
            if (!(b = malloc(sizeof(*b) + cap)))
                return NULL;
            b->cap = cap;
        }
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

char *ja_strndup(struct jarena *a, const char *s, size_t n)
{
    char *p = ja_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void ja_clear(struct jarena *a)
{
    while (a->head) {
        struct jblock *n = a->head->next;
        a->head->next = a->spare;
        a->spare = a->head;
        a->head = n;
    }
}

void ja_reset(struct jarena *a)
{
    ja_clear(a);
    while (a->spare) {
        struct jblock *n = a->spare->next;
        free(a->spare);
        a->spare = n;
    }
}

static size_t jmap_slot(uint64_t key, size_t cap)
{
    return (size_t)hash_mix64(key) & (cap - 1);
}

uint32_t jmap_get(const struct jmap *m, uint64_t key)
{
    if (!m->cap)
        return JMAP_NONE;
    for (size_t i = jmap_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == JMAP_NONE)
            return JMAP_NONE;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

static void jmap_insert(uint64_t *keys, uint32_t *vals, size_t cap, uint64_t key, uint32_t val)
{
    size_t i = jmap_slot(key, cap);
    while (vals[i] != JMAP_NONE && keys[i] != key)
        i = (i + 1) & (cap - 1);
    keys[i] = key;
    vals[i] = val;
}

int jmap_put(struct jmap *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        uint64_t *keys = malloc(cap * sizeof(*keys));
        uint32_t *vals = malloc(cap * sizeof(*vals));
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -ENOMEM;
        }
        memset(vals, 0xff, cap * sizeof(*vals));
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i] != JMAP_NONE)
                jmap_insert(keys, vals, cap, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    if (jmap_get(m, key) == JMAP_NONE)
        m->n++;
    jmap_insert(m->keys, m->vals, m->cap, key, val);
    return 0;
}

void jmap_clear(struct jmap *m)
{
    if (m->cap)
        memset(m->vals, 0xff, m->cap * sizeof(*m->vals));
    m->n = 0;
}

void jmap_free(struct jmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

int jvec_reserve(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}
