#include "flame/stacks.h"

#include "core/hash.h"
#include "core/vec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* What one more name or stack costs against the budget: its bytes plus its
 * share of the arrays and hash slots (kept at most half full, doubled). */
#define NAME_COST  32u
#define STACK_COST 48u
/* The reader's stack keys -> stack ids: a cache, grown within the budget
 * up to KEY_SLOTS_MAX slots, emptied when full (keys of chunks read
 * before are not seen again). */
#define KEY_SLOTS_MIN 256u
#define KEY_SLOTS_MAX (1u << 17)

struct name {
    char *s;
    uint32_t len;
    uint32_t hash;
};

struct stk {
    size_t off; /* into frames */
    uint32_t n;
    uint32_t hash;
    uint64_t weight;
};

/* A frame being added: not NUL-terminated (collapsed lines). */
struct span {
    const char *s;
    size_t len;
};

struct stacks {
    size_t max_bytes, bytes;
    struct name *names;
    size_t nnames, names_cap;
    uint32_t *name_slots; /* open addressing: id + 1, 0 empty */
    size_t name_slots_n;
    struct stk *stks;
    size_t nstks, stks_cap;
    uint32_t *stk_slots;
    size_t stk_slots_n;
    uint32_t *frames;
    size_t nframes, frames_cap;
    uint64_t total;
    uint32_t *tmp; /* one stack's name ids while it is being added */
    size_t tmp_cap;
    struct span *spans; /* its frames */
    size_t spans_cap;
    uint64_t *key_keys; /* jfr_sample.stack_key, 0 empty */
    uint32_t *key_ids;  /* its stack id */
    size_t key_slots_n, nkeys;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = hash_bytes64(s, n);
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t hash_ids(const uint32_t *ids, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ ids[i]) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* Room for need elements (vec_grow doubles one step at a time). */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    while (*cap < need)
        if (vec_grow(p, cap, *cap, elem, 64))
            return -ENOMEM;
    return 0;
}

struct stacks *stacks_new(size_t max_bytes)
{
    struct stacks *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->max_bytes = max_bytes ? max_bytes : (size_t)256 << 20;
    return st;
}

void stacks_free(struct stacks *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nnames; i++)
        free(st->names[i].s);
    free(st->names);
    free(st->name_slots);
    free(st->stks);
    free(st->stk_slots);
    free(st->frames);
    free(st->tmp);
    free(st->spans);
    free(st->key_keys);
    free(st->key_ids);
    free(st);
}

/* The slot where name (s, len, h) is or would go. */
static size_t name_slot(const struct stacks *st, const char *s, size_t len, uint32_t h)
{
    size_t mask = st->name_slots_n - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = st->name_slots[i];
        if (!v)
            return i;
        const struct name *nm = &st->names[v - 1];
        if (nm->hash == h && nm->len == len && memcmp(nm->s, s, len) == 0)
            return i;
    }
}

static size_t stk_slot(const struct stacks *st, const uint32_t *ids, size_t n, uint32_t h)
{
    size_t mask = st->stk_slots_n - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = st->stk_slots[i];
        if (!v)
            return i;
        const struct stk *k = &st->stks[v - 1];
        if (k->hash == h && k->n == n && memcmp(st->frames + k->off, ids, n * sizeof(*ids)) == 0)
            return i;
    }
}

/* Rehashes into twice the slots when more than half full. */
static int rehash_names(struct stacks *st, size_t want)
{
    if (want * 2 <= st->name_slots_n)
        return 0;
    size_t n = st->name_slots_n ? st->name_slots_n * 2 : 256;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    free(st->name_slots);
    st->name_slots = slots;
    st->name_slots_n = n;
    for (size_t i = 0; i < st->nnames; i++) {
        const struct name *nm = &st->names[i];
        st->name_slots[name_slot(st, nm->s, nm->len, nm->hash)] = (uint32_t)i + 1;
    }
    return 0;
}

static int rehash_stks(struct stacks *st, size_t want)
{
    if (want * 2 <= st->stk_slots_n)
        return 0;
    size_t n = st->stk_slots_n ? st->stk_slots_n * 2 : 256;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    free(st->stk_slots);
    st->stk_slots = slots;
    st->stk_slots_n = n;
    for (size_t i = 0; i < st->nstks; i++) {
        const struct stk *k = &st->stks[i];
        st->stk_slots[stk_slot(st, st->frames + k->off, k->n, k->hash)] = (uint32_t)i + 1;
    }
    return 0;
}

/* Looks every frame up without adding: tmp gets the ids (UINT32_MAX for a
 * new name); *cost what the new names would take. */
static void lookup_names(struct stacks *st, const struct span *f, size_t n, size_t *cost,
                         size_t *fresh)
{
    *cost = 0;
    *fresh = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0;
        if (st->name_slots_n)
            v = st->name_slots[name_slot(st, f[i].s, f[i].len, hash_bytes(f[i].s, f[i].len))];
        st->tmp[i] = v ? v - 1 : UINT32_MAX;
        if (!v) {
            *cost += f[i].len + 1 + NAME_COST;
            (*fresh)++;
        }
    }
}

static int intern_new(struct stacks *st, const struct span *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st->tmp[i] != UINT32_MAX)
            continue;
        uint32_t h = hash_bytes(f[i].s, f[i].len);
        size_t slot = name_slot(st, f[i].s, f[i].len, h);
        if (st->name_slots[slot]) { /* the same new name twice in one stack */
            st->tmp[i] = st->name_slots[slot] - 1;
            continue;
        }
        char *s = malloc(f[i].len + 1);
        if (!s)
            return -ENOMEM;
        memcpy(s, f[i].s, f[i].len);
        s[f[i].len] = '\0';
        st->names[st->nnames] = (struct name){s, (uint32_t)f[i].len, h};
        st->tmp[i] = (uint32_t)st->nnames;
        st->name_slots[slot] = (uint32_t)++st->nnames;
        st->bytes += f[i].len + 1 + NAME_COST;
    }
    return 0;
}

/* Makes room for what may be added, before anything is: a failure then
 * leaves the model as it was. */
static int reserve(struct stacks *st, size_t fresh_names, size_t n)
{
    if (grow((void **)&st->names, &st->names_cap, st->nnames + fresh_names, sizeof(*st->names)) ||
        rehash_names(st, st->nnames + fresh_names) ||
        grow((void **)&st->stks, &st->stks_cap, st->nstks + 1, sizeof(*st->stks)) ||
        rehash_stks(st, st->nstks + 1) ||
        grow((void **)&st->frames, &st->frames_cap, st->nframes + n, sizeof(*st->frames)))
        return -ENOMEM;
    return 0;
}

static int add_spans(struct stacks *st, const struct span *f, size_t n, uint64_t weight,
                     uint32_t *id)
{
    if (n == 0 || n > UINT32_MAX)
        return -EINVAL;
    if (grow((void **)&st->tmp, &st->tmp_cap, n, sizeof(*st->tmp)))
        return -ENOMEM;
    size_t cost, fresh;
    lookup_names(st, f, n, &cost, &fresh);
    size_t slot = 0;
    uint32_t h = 0;
    if (!fresh) {
        h = hash_ids(st->tmp, n);
        slot = st->stk_slots_n ? stk_slot(st, st->tmp, n, h) : 0;
        if (st->stk_slots_n && st->stk_slots[slot]) {
            struct stk *k = &st->stks[st->stk_slots[slot] - 1];
            k->weight += weight;
            st->total += weight;
            if (id)
                *id = st->stk_slots[slot] - 1;
            return 0;
        }
    }
    cost += n * sizeof(uint32_t) + STACK_COST;
    if (st->bytes + cost > st->max_bytes)
        return -EFBIG;
    int rc = reserve(st, fresh, n);
    if (!rc)
        rc = intern_new(st, f, n);
    if (rc)
        return rc;
    h = hash_ids(st->tmp, n);
    slot = stk_slot(st, st->tmp, n, h);
    if (n) /* an empty stack may come before any frame array exists */
        memcpy(st->frames + st->nframes, st->tmp, n * sizeof(*st->tmp));
    st->stks[st->nstks] = (struct stk){st->nframes, (uint32_t)n, h, weight};
    st->nframes += n;
    st->stk_slots[slot] = (uint32_t)++st->nstks;
    st->bytes += n * sizeof(uint32_t) + STACK_COST;
    st->total += weight;
    if (id)
        *id = (uint32_t)st->nstks - 1;
    return 0;
}

/* The model's scratch spans for n frames (kept: no allocation per sample). */
static struct span *spans(struct stacks *st, size_t n)
{
    if (grow((void **)&st->spans, &st->spans_cap, n ? n : 1, sizeof(*st->spans)))
        return NULL;
    return st->spans;
}

int stacks_add(struct stacks *st, const char *const *names, size_t n, uint64_t weight, uint32_t *id)
{
    struct span *f = spans(st, n);
    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        f[i] = (struct span){names[i], strlen(names[i])};
    return add_spans(st, f, n, weight, id);
}

static size_t key_slot(const struct stacks *st, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    size_t mask = st->key_slots_n - 1, i = (size_t)(h >> 32) & mask;
    while (st->key_keys[i] && st->key_keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

/* Room for one more key: twice the slots while the budget allows and
 * below KEY_SLOTS_MAX, else the cache is emptied. Without memory the
 * cache stays off (the names path still works). */
static void key_room(struct stacks *st)
{
    if ((st->nkeys + 1) * 2 <= st->key_slots_n)
        return;
    size_t n = st->key_slots_n ? st->key_slots_n * 2 : KEY_SLOTS_MIN;
    size_t cost = n * (sizeof(uint64_t) + sizeof(uint32_t));
    if (n > KEY_SLOTS_MAX || st->bytes + cost > st->max_bytes) {
        if (st->key_slots_n)
            memset(st->key_keys, 0, st->key_slots_n * sizeof(*st->key_keys));
        st->nkeys = 0;
        return;
    }
    uint64_t *keys = calloc(n, sizeof(*keys));
    uint32_t *ids = malloc(n * sizeof(*ids));
    if (!keys || !ids) {
        free(keys);
        free(ids);
        return;
    }
    uint64_t *ok = st->key_keys;
    uint32_t *oi = st->key_ids;
    size_t on = st->key_slots_n;
    st->key_keys = keys, st->key_ids = ids, st->key_slots_n = n;
    st->bytes += cost - on * (sizeof(uint64_t) + sizeof(uint32_t));
    for (size_t i = 0; i < on; i++) {
        if (ok[i]) {
            size_t j = key_slot(st, ok[i]);
            keys[j] = ok[i];
            ids[j] = oi[i];
        }
    }
    free(ok);
    free(oi);
}

/* Samples with the same nonzero key have the same frames (jfr.h): the
 * first one goes through the names, the others straight to its stack. */
int stacks_add_sample(struct stacks *st, const struct jfr_sample *s, uint32_t *id)
{
    uint64_t key = s->stack_key;
    if (key && st->key_slots_n) {
        size_t i = key_slot(st, key);
        if (st->key_keys[i] == key) {
            uint32_t k = st->key_ids[i];
            st->stks[k].weight += s->weight;
            st->total += s->weight;
            if (id)
                *id = k;
            return 0;
        }
    }
    size_t n = s->nframes;
    struct span *f = spans(st, n);
    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *nm = s->frames[n - 1 - i].name;
        f[i] = (struct span){nm, strlen(nm)};
    }
    uint32_t k;
    int rc = add_spans(st, f, n, s->weight, &k);
    if (rc)
        return rc;
    if (id)
        *id = k;
    if (key) {
        key_room(st);
        if (st->key_slots_n) {
            size_t i = key_slot(st, key);
            st->key_keys[i] = key;
            st->key_ids[i] = k;
            st->nkeys++;
        }
    }
    return 0;
}

/* Splits "a;b;c N" into frames and the count. */
int stacks_add_collapsed(struct stacks *st, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t sp = len;
    while (sp && line[sp - 1] != ' ')
        sp--;
    if (sp < 2 || sp == len)
        return -EINVAL;
    uint64_t w = 0;
    for (size_t i = sp; i < len; i++) {
        if (line[i] < '0' || line[i] > '9' || w > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        w = w * 10 + (uint64_t)(line[i] - '0');
    }
    size_t end = sp - 1, n = 1;
    for (size_t i = 0; i < end; i++)
        n += line[i] == ';';
    struct span *f = spans(st, n);
    if (!f)
        return -ENOMEM;
    size_t k = 0, from = 0;
    for (size_t i = 0; i <= end; i++) {
        if (i == end || line[i] == ';') {
            f[k++] = (struct span){line + from, i - from};
            from = i + 1;
        }
    }
    return add_spans(st, f, n, w, NULL);
}

size_t stacks_count(const struct stacks *st)
{
    return st->nstks;
}

uint64_t stacks_total(const struct stacks *st)
{
    return st->total;
}

size_t stacks_names(const struct stacks *st)
{
    return st->nnames;
}

const char *stacks_name(const struct stacks *st, uint32_t name_id)
{
    return name_id < st->nnames ? st->names[name_id].s : NULL;
}

void stacks_get(const struct stacks *st, uint32_t id, const uint32_t **names, size_t *n,
                uint64_t *weight)
{
    const struct stk *k = &st->stks[id];
    *names = st->frames + k->off;
    *n = k->n;
    *weight = k->weight;
}

/* A reader of a stack's text "a;b;c" one byte at a time, 0 at its end. */
struct cursor {
    const struct stacks *st;
    const uint32_t *ids;
    size_t n, frame;
    const char *p;
};

static int cursor_next(struct cursor *c)
{
    if (*c->p)
        return (unsigned char)*c->p++;
    if (c->frame + 1 >= c->n)
        return 0;
    c->p = c->st->names[c->ids[++c->frame]].s;
    return ';';
}

/* Byte order of the whole text, as `LC_ALL=C sort` orders collapsed lines
 * (frame by frame would put "a;x" before "a/b", the text does not). */
static int by_text(const void *a, const void *b, void *arg)
{
    const struct stacks *st = arg;
    const struct stk *ka = &st->stks[*(const uint32_t *)a], *kb = &st->stks[*(const uint32_t *)b];
    struct cursor ca = {st, st->frames + ka->off, ka->n, 0, st->names[st->frames[ka->off]].s};
    struct cursor cb = {st, st->frames + kb->off, kb->n, 0, st->names[st->frames[kb->off]].s};
    for (;;) {
        int x = cursor_next(&ca), y = cursor_next(&cb);
        if (x != y)
            return x - y;
        if (!x)
            return 0;
    }
}

int stacks_write_collapsed(const struct stacks *st, FILE *out)
{
    uint32_t *order = malloc((st->nstks ? st->nstks : 1) * sizeof(*order));
    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < st->nstks; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, st->nstks, sizeof(*order), by_text, (void *)st);
    for (size_t i = 0; i < st->nstks; i++) {
        const struct stk *k = &st->stks[order[i]];
        for (uint32_t j = 0; j < k->n; j++) {
            if (j)
                fputc(';', out);
            fputs(st->names[st->frames[k->off + j]].s, out);
        }
        fprintf(out, " %llu\n", (unsigned long long)k->weight);
    }
    free(order);
    return ferror(out) ? -EIO : 0;
}
