/* jfr_int: what the JFR reader's files share (src/flame/jfr*.c only): a
 * bounds-checked cursor over bytes, a block arena whose strings never move,
 * and an id -> index map. Errors are sticky: a read past the end sets
 * c->bad and returns zero, so a parser checks once per record. */
#ifndef FS_JFR_INT_H
#define FS_JFR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jcur {
    const uint8_t *p, *end;
    bool compressed; /* LEB128 integers (the chunk header's feature bit 0) */
    bool bad;        /* read past the end or a malformed value */
    const char *why; /* what was malformed (bad set) */
};

static inline size_t jc_left(const struct jcur *c)
{
    return (size_t)(c->end - c->p);
}

static inline void jc_fail(struct jcur *c, const char *why)
{
    if (!c->bad)
        c->why = why;
    c->bad = true;
    c->p = c->end;
}

static inline uint8_t jc_u8(struct jcur *c)
{
    if (c->p >= c->end) {
        jc_fail(c, "value past the end of its event");
        return 0;
    }
    return *c->p++;
}

static inline uint64_t jc_be(struct jcur *c, unsigned n)
{
    if (jc_left(c) < n) {
        jc_fail(c, "value past the end of its event");
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | c->p[i];
    c->p += n;
    return v;
}

/* JFR's compressed integer: 7 bits a byte, low first, at most 9 bytes,
 * the ninth contributing all 8 bits. */
static inline uint64_t jc_varlong(struct jcur *c)
{
    const uint8_t *p = c->p;
    uint64_t v = 0;
    if (c->end - p >= 9) { /* the common case: no bound to check per byte */
        for (unsigned shift = 0; shift < 56; shift += 7) {
            uint8_t b = *p++;
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80)) {
                c->p = p;
                return v;
            }
        }
        c->p = p + 1;
        return v | (uint64_t)*p << 56;
    }
    for (unsigned shift = 0; shift < 56; shift += 7) {
        if (p >= c->end) {
            jc_fail(c, "value past the end of its event");
            return 0;
        }
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            c->p = p;
            return v;
        }
    }
    if (p >= c->end) {
        jc_fail(c, "value past the end of its event");
        return 0;
    }
    v |= (uint64_t)*p++ << 56;
    c->p = p;
    return v;
}

/* An integer of width bytes when the chunk is not compressed. */
static inline uint64_t jc_int(struct jcur *c, unsigned width)
{
    return c->compressed ? jc_varlong(c) : jc_be(c, width);
}

/* A count of items each taking at least one byte: more than the bytes
 * left is malformed (nothing is allocated for it). */
static inline uint64_t jc_count(struct jcur *c)
{
    uint64_t n = jc_int(c, 4);
    if (n > jc_left(c))
        jc_fail(c, "count larger than the bytes left");
    return c->bad ? 0 : n;
}

/* Block arena: strings stay where they were put until it is reset. */
struct jarena {
    struct jblock *head, *spare; /* in use; emptied by ja_clear, reused */
};

char *ja_alloc(struct jarena *a, size_t n);
char *ja_strndup(struct jarena *a, const char *s, size_t n);
void ja_clear(struct jarena *a); /* everything handed out is gone; blocks kept */
void ja_reset(struct jarena *a); /* and freed */

/* Open-addressing map from a 64-bit id to a 32-bit index. */
struct jmap {
    uint64_t *keys;
    uint32_t *vals; /* UINT32_MAX: empty */
    size_t cap, n;
};

#define JMAP_NONE UINT32_MAX
uint32_t jmap_get(const struct jmap *m, uint64_t key);
int jmap_put(struct jmap *m, uint64_t key, uint32_t val); /* 0, -ENOMEM */
void jmap_clear(struct jmap *m);                          /* empty, memory kept */
void jmap_free(struct jmap *m);

/* Grows *p (of *cap elements of size sz) to hold n; 0 or -ENOMEM. */
int jvec_reserve(void **p, size_t *cap, size_t n, size_t sz);

#endif
