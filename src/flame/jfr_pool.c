/* jfr_pool: the JFR reader's values (integers, strings, inline structs,
 * arrays, walked by their type's fields), its metadata event and its
 * constant pools (see jfr_chunk.h). */
#include "jfr_chunk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* --- values ------------------------------------------------------------ */

static const char *intern_utf16(struct chunk *ck, struct jcur *c, uint64_t n, bool keep)
{
    char *out = keep ? ja_alloc(&ck->ar, (size_t)n * 3 + 1) : NULL;
    size_t k = 0;
    if (keep && !out)
        return NULL;
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint32_t ch = (uint32_t)jc_int(c, 2) & 0xffff;
        if (!out)
            continue;
        if (ch < 0x80) {
            out[k++] = (char)ch;
        } else if (ch < 0x800) {
            out[k++] = (char)(0xc0 | ch >> 6);
            out[k++] = (char)(0x80 | (ch & 0x3f));
        } else {
            out[k++] = (char)(0xe0 | ch >> 12);
            out[k++] = (char)(0x80 | (ch >> 6 & 0x3f));
            out[k++] = (char)(0x80 | (ch & 0x3f));
        }
    }
    if (out)
        out[k] = 0;
    return out;
}

static const char *latin1(struct chunk *ck, const uint8_t *s, size_t n)
{
    char *out = ja_alloc(&ck->ar, n * 2 + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            out[k++] = (char)s[i];
        } else {
            out[k++] = (char)(0xc0 | s[i] >> 6);
            out[k++] = (char)(0x80 | (s[i] & 0x3f));
        }
    }
    out[k] = 0;
    return out;
}

/* A string value: NULL for JFR's null (and when not kept); "" when out of
 * memory is reported through c (the chunk cannot be read). */
static const char *read_string(struct chunk *ck, struct jcur *c, bool keep)
{
    uint8_t enc = jc_u8(c);
    const char *s = NULL;
    switch (enc) {
    case 0:
        return NULL;
    case 1:
        return "";
    case 2: {
        uint64_t id = jc_int(c, 8);
        uint32_t i = keep ? jmap_get(&ck->str_ids, id) : JMAP_NONE;
        return i == JMAP_NONE ? NULL : ck->strs[i];
    }
    case 3:
    case 5: {
        uint64_t n = jc_count(c);
        if (c->bad)
            return NULL;
        if (keep)
            s = enc == 3 ? ja_strndup(&ck->ar, (const char *)c->p, (size_t)n)
                         : latin1(ck, c->p, (size_t)n);
        c->p += n;
        break;
    }
    case 4: {
        uint64_t n = jc_count(c);
        s = intern_utf16(ck, c, n, keep);
        break;
    }
    default:
        jc_fail(c, "unknown string encoding");
        return NULL;
    }
    if (keep && !s && !c->bad)
        jc_fail(c, "out of memory");
    return s;
}

static void skip_struct(struct chunk *ck, struct jcur *c, const struct jtype *t, int depth);

static uint64_t read_scalar(struct chunk *ck, struct jcur *c, const struct jtype *t, int depth)
{
    switch (t->kind) {
    case K_BYTE:
        return jc_u8(c);
    case K_SHORT:
        return jc_int(c, 2);
    case K_INT:
        return jc_int(c, 4);
    case K_LONG:
        return jc_int(c, 8);
    case K_FLOAT:
        return jc_be(c, 4);
    case K_DOUBLE:
        return jc_be(c, 8);
    case K_STRING:
        read_string(ck, c, false);
        return 0;
    case K_STRUCT:
        skip_struct(ck, c, t, depth + 1);
        return 0;
    }
    return 0;
}

uint64_t jr_read_field_slow(struct chunk *ck, struct jcur *c, const struct jfield *f, int depth)
{
    /* what may take no bytes (an empty struct) counts against the budget */
    if (--ck->work < 0)
        jc_fail(c, "too many nested values");
    if (c->bad)
        return 0;
    const struct jtype *t = &ck->types[f->tidx];
    uint64_t n = 1;
    if (f->array)
        n = jc_count(c);
    uint64_t v = 0;
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        /* an element may take no byte: arrays of arrays of empty structs */
        if (i && --ck->work < 0)
            jc_fail(c, "too many nested values");
        v = f->cpool ? jc_int(c, 8) : read_scalar(ck, c, t, depth);
    }
    return v;
}

static void skip_struct(struct chunk *ck, struct jcur *c, const struct jtype *t, int depth)
{
    if (depth > MAX_DEPTH) {
        jc_fail(c, "values nested too deep");
        return;
    }
    for (size_t i = 0; i < t->nfields && !c->bad; i++)
        read_field(ck, c, &t->fields[i], depth);
}

/* Reads a struct's fields into r->vals: numbers, and the strings kept. */
static int read_struct(struct reader *r, struct jcur *c, const struct jtype *t)
{
    struct chunk *ck = &r->ck;
    if (t->nfields >= r->cvals &&
        jvec_reserve((void **)&r->vals, &r->cvals, t->nfields + 1, sizeof(*r->vals)))
        return -ENOMEM;
    for (size_t i = 0; i < t->nfields && !c->bad; i++) {
        const struct jfield *f = &t->fields[i];
        r->vals[i] = (struct jval){0, NULL};
        if (f->op == OP_SLOW && !f->array && !f->cpool && ck->types[f->tidx].kind == K_STRING)
            r->vals[i].s = read_string(ck, c, true);
        else
            r->vals[i].u = read_field(ck, c, f, 0);
    }
    return 0;
}

int jr_field_index(const struct jtype *t, const char *name)
{
    for (size_t i = 0; t && i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct jtype *jr_type_named(const struct chunk *ck, const char *name)
{
    for (size_t i = 0; i < ck->ntypes; i++)
        if (strcmp(ck->types[i].name, name) == 0)
            return &ck->types[i];
    return NULL;
}

/* --- metadata ---------------------------------------------------------- */

struct meta {
    const char **strs;
    uint64_t nstrs;
};

static enum kind kind_of(const char *name)
{
    static const struct {
        const char *n;
        enum kind k;
    } prim[] = {{"boolean", K_BYTE}, {"byte", K_BYTE},     {"char", K_SHORT},
                {"short", K_SHORT},  {"int", K_INT},       {"long", K_LONG},
                {"float", K_FLOAT},  {"double", K_DOUBLE}, {"java.lang.String", K_STRING}};
    for (size_t i = 0; i < sizeof(prim) / sizeof(prim[0]); i++)
        if (strcmp(name, prim[i].n) == 0)
            return prim[i].k;
    return K_STRUCT;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s)
        return false;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno || *e || *s == '-')
        return false;
    *v = x;
    return true;
}

static const char *meta_str(struct jcur *c, const struct meta *m)
{
    uint64_t i = jc_int(c, 4);
    if (!c->bad && i >= m->nstrs)
        jc_fail(c, "metadata string index out of range");
    return c->bad ? NULL : m->strs[i] ? m->strs[i] : "";
}

/* An element of the metadata tree; classes and their fields are kept.
 * parent: the class a field belongs to (SIZE_MAX: none). */
static int parse_element(struct reader *r, struct jcur *c, const struct meta *m, int depth,
                         size_t parent)
{
    struct chunk *ck = &r->ck;
    if (depth > MAX_DEPTH) {
        jc_fail(c, "metadata nested too deep");
        return 0;
    }
    const char *name = meta_str(c, m);
    uint64_t nattr = jc_count(c);
    const char *id = NULL, *tname = NULL, *cls = NULL, *cpool = NULL, *dim = NULL;
    for (uint64_t i = 0; i < nattr && !c->bad; i++) {
        const char *k = meta_str(c, m), *v = meta_str(c, m);
        if (c->bad)
            break;
        if (strcmp(k, "id") == 0)
            id = v;
        else if (strcmp(k, "name") == 0)
            tname = v;
        else if (strcmp(k, "class") == 0)
            cls = v;
        else if (strcmp(k, "constantPool") == 0)
            cpool = v;
        else if (strcmp(k, "dimension") == 0)
            dim = v;
    }
    if (c->bad)
        return 0;
    size_t self = SIZE_MAX;
    if (strcmp(name, "class") == 0) {
        struct jtype t = {0};
        if (!tname || !parse_u64(id, &t.id)) {
            jc_fail(c, "a class without a name or numeric id");
            return 0;
        }
        if (jmap_get(&ck->type_ids, t.id) != JMAP_NONE) {
            jc_fail(c, "two classes with one id");
            return 0;
        }
        t.name = tname;
        t.kind = kind_of(tname);
        if (jvec_reserve((void **)&ck->types, &ck->tcap, ck->ntypes + 1, sizeof(t)) ||
            jmap_put(&ck->type_ids, t.id, (uint32_t)ck->ntypes))
            return -ENOMEM;
        self = ck->ntypes;
        ck->types[ck->ntypes++] = t;
    } else if (strcmp(name, "field") == 0 && parent != SIZE_MAX) {
        struct jfield f = {tname, 0, 0, cpool && strcmp(cpool, "true") == 0, false};
        uint64_t d = 0;
        if (!tname || !parse_u64(cls, &f.type_id) || (dim && !parse_u64(dim, &d)) || d > 1) {
            jc_fail(c, "a field without a name, a numeric class or a dimension of 0 or 1");
            return 0;
        }
        f.array = d == 1;
        struct jtype *t = &ck->types[parent];
        if (jvec_reserve((void **)&t->fields, &t->cap, t->nfields + 1, sizeof(f)))
            return -ENOMEM;
        t->fields[t->nfields++] = f;
    }
    uint64_t nchild = jc_count(c);
    for (uint64_t i = 0; i < nchild && !c->bad; i++) {
        int rc = parse_element(r, c, m, depth + 1, self);
        if (rc)
            return rc;
    }
    return 0;
}

static int resolve_types(struct reader *r, uint64_t at)
{
    struct chunk *ck = &r->ck;
    for (size_t i = 0; i < ck->ntypes; i++) {
        struct jtype *t = &ck->types[i];
        for (size_t j = 0; j < t->nfields; j++) {
            uint32_t k = jmap_get(&ck->type_ids, t->fields[j].type_id);
            if (k == JMAP_NONE)
                return jr_fail(r, at, "metadata: field %s of %s has an undeclared class %" PRIu64,
                               t->fields[j].name, t->name, t->fields[j].type_id);
            struct jfield *f = &t->fields[j];
            f->tidx = k;
            static const uint8_t ops[] = {
                [K_BYTE] = OP_BYTE, [K_SHORT] = OP_SHORT, [K_INT] = OP_INT, [K_LONG] = OP_LONG};
            enum kind kd = ck->types[k].kind;
            f->op = f->array ? OP_SLOW : f->cpool ? OP_LONG : kd <= K_LONG ? ops[kd] : OP_SLOW;
        }
    }
    return 0;
}

/* Opens the metadata (type 0) or checkpoint (type 1) event at pos, past
 * its start and duration. */
static int special_open(struct reader *r, uint64_t pos, uint64_t type, struct jcur *c)
{
    uint64_t size;
    int rc = jr_record_open(r, pos, c, &size);
    if (rc)
        return rc;
    if (jc_int(c, 8) != type)
        return jr_fail(r, pos, "the %s offset does not point at a %s event",
                       type ? "constant pool" : "metadata", type ? "checkpoint" : "metadata");
    jc_int(c, 8);
    jc_int(c, 8);
    return 0;
}

int jr_read_metadata(struct reader *r, uint64_t pos)
{
    struct chunk *ck = &r->ck;
    struct jcur c;
    int rc = special_open(r, pos, 0, &c);
    if (rc)
        return rc;
    jc_int(&c, 8); /* metadata id */
    struct meta m = {NULL, jc_count(&c)};
    if (!c.bad && !(m.strs = calloc(m.nstrs + 1, sizeof(*m.strs))))
        return -ENOMEM;
    for (uint64_t i = 0; i < m.nstrs && !c.bad; i++)
        m.strs[i] = read_string(ck, &c, true);
    if (!c.bad)
        rc = parse_element(r, &c, &m, 0, SIZE_MAX);
    free(m.strs);
    if (rc)
        return rc;
    if (c.bad)
        return jr_fail(r, pos, "metadata: %s", c.why);
    return resolve_types(r, pos);
}

/* --- constant pools ---------------------------------------------------- */

#define PUSH(vec, n, cap, map, key, val)                                                           \
    (jvec_reserve((void **)&(vec), &(cap), (n) + 1, sizeof(*(vec))) ||                             \
             jmap_put(&(map), (key), (uint32_t)(n))                                                \
         ? -ENOMEM                                                                                 \
         : ((vec)[(n)++] = (val), 0))

static int pool_strings(struct reader *r, struct jcur *c, uint64_t n)
{
    struct chunk *ck = &r->ck;
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint64_t id = jc_int(c, 8);
        const char *s = read_string(ck, c, true);
        if (!c->bad && PUSH(ck->strs, ck->nstrs, ck->cstrs, ck->str_ids, id, s))
            return -ENOMEM;
    }
    return 0;
}

/* A field of the struct just read (r->vals): 0 / NULL when t has none. */
static uint64_t val_u(const struct reader *r, const struct jtype *t, const char *name)
{
    int i = jr_field_index(t, name);
    return i >= 0 ? r->vals[i].u : 0;
}

static const char *val_s(const struct reader *r, const struct jtype *t, const char *name)
{
    int i = jr_field_index(t, name);
    return i >= 0 ? r->vals[i].s : NULL;
}

static int keep_symbol(struct reader *r, const struct jtype *t, uint64_t id)
{
    struct chunk *ck = &r->ck;
    return PUSH(ck->syms, ck->nsyms, ck->csyms, ck->sym_ids, id, val_s(r, t, "string"));
}

static int keep_class(struct reader *r, const struct jtype *t, uint64_t id)
{
    struct chunk *ck = &r->ck;
    struct jclass k = {val_u(r, t, "name"), NULL, {NULL, NULL}};
    return PUSH(ck->classes, ck->nclasses, ck->cclasses, ck->class_ids, id, k);
}

static int keep_method(struct reader *r, const struct jtype *t, uint64_t id)
{
    struct chunk *ck = &r->ck;
    struct jmethod m = {val_u(r, t, "type"), val_u(r, t, "name"), {0}};
    return PUSH(ck->methods, ck->nmethods, ck->cmethods, ck->method_ids, id, m);
}

static int keep_thread(struct reader *r, const struct jtype *t, uint64_t id)
{
    struct chunk *ck = &r->ck;
    const char *name = val_s(r, t, "javaName");
    uint64_t tid = val_u(r, t, "osThreadId");
    struct jthread th = {tid ? tid : id, name ? name : val_s(r, t, "osName")};
    return PUSH(ck->threads, ck->nthreads, ck->cthreads, ck->thread_ids, id, th);
}

/* A pool of structs: each constant read into r->vals, then kept. */
static int pool_structs(struct reader *r, struct jcur *c, const struct jtype *t, uint64_t n,
                        int (*keep)(struct reader *, const struct jtype *, uint64_t))
{
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint64_t id = jc_int(c, 8);
        if (read_struct(r, c, t))
            return -ENOMEM;
        if (!c->bad && keep(r, t, id))
            return -ENOMEM;
    }
    return 0;
}

/* The frames array of a stack trace: each a StackFrame (method, line,
 * bytecodeIndex, type), kept as method and frame type. */
static int stack_frames(struct reader *r, struct jcur *c, const struct jfield *f)
{
    struct chunk *ck = &r->ck;
    const struct jtype *ft = &ck->types[f->tidx];
    int fm = jr_field_index(ft, "method"), fty = jr_field_index(ft, "type");
    uint64_t n = jc_count(c);
    if (jvec_reserve((void **)&ck->frames, &ck->cframes, ck->nframes + n, sizeof(*ck->frames)))
        return -ENOMEM;
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint64_t m = 0, ty = 0;
        for (size_t j = 0; j < ft->nfields; j++) {
            uint64_t v = read_field(ck, c, &ft->fields[j], 0);
            if ((int)j == fm)
                m = v;
            else if ((int)j == fty)
                ty = v;
        }
        ck->frames[ck->nframes++] = (struct jsframe){m, ty > 255 ? 255 : (uint8_t)ty};
    }
    return 0;
}

/* One stack trace's fields; its frames appended to ck->frames, *first
 * the index of its first. */
static int read_trace(struct reader *r, struct jcur *c, const struct jtype *t, int ff,
                      size_t *first)
{
    struct chunk *ck = &r->ck;
    *first = ck->nframes;
    for (size_t j = 0; j < t->nfields && !c->bad; j++) {
        const struct jfield *f = &t->fields[j];
        int rc = 0;
        if ((int)j == ff && f->array && !f->cpool && ck->types[f->tidx].kind == K_STRUCT)
            rc = stack_frames(r, c, f);
        else
            read_field(ck, c, f, 0);
        if (rc)
            return rc;
    }
    if (ck->nframes - *first > UINT32_MAX - 1 || ck->nframes > UINT32_MAX)
        jc_fail(c, "too many frames");
    return 0;
}

/* n compressed integers skipped, as jc_varlong reads them (at most 8
 * bytes with the high bit, then one more), without their values: eight
 * bytes at a time while a word holds only whole integers' ends. */
static void skip_varlongs(struct jcur *c, uint64_t n)
{
    const uint8_t *p = c->p, *end = c->end;
    unsigned run = 0; /* high-bit bytes of the integer being skipped */
    while (n) {
        if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t t = ~w & 0x8080808080808080ull; /* the ends: high bit clear */
            uint64_t k = (uint64_t)__builtin_popcountll(t);
            if (t && run + ((unsigned)__builtin_ctzll(t) >> 3) < 8 &&
                (k < n || (k == n && t >> 63))) {
                n -= k;
                p += 8;
                run = (unsigned)__builtin_clzll(t) >> 3;
                continue;
            }
        }
        if (p >= end) {
            jc_fail(c, "value past the end of its event");
            return;
        }
        if (!(*p++ & 0x80) || run == 8) {
            n--;
            run = 0;
        } else {
            run++;
        }
    }
    c->p = p;
}

/* Fields read as one compressed integer each (what can be skipped
 * without decoding): 1, else 0. */
static bool all_varlong(const struct chunk *ck, const struct jtype *t)
{
    for (size_t i = 0; i < t->nfields; i++) {
        uint8_t op = t->fields[i].op;
        if (t->fields[i].array || !(op == OP_LONG || op == OP_INT || op == OP_SHORT))
            return false;
    }
    return ck->compressed && t->nfields > 0;
}

/* Skips one stack trace whose fields are compressed integers, raw bytes
 * (truncated) and its frames (all compressed integers); what the skip
 * checks is all decoding them later can meet. false: not of that shape. */
static bool lazy_shape(const struct chunk *ck, const struct jtype *t, int ff)
{
    if (!ck->compressed || ff < 0)
        return false;
    for (size_t i = 0; i < t->nfields; i++) {
        const struct jfield *f = &t->fields[i];
        if ((int)i == ff) {
            if (!f->array || f->cpool || !all_varlong(ck, &ck->types[f->tidx]))
                return false;
        } else if (f->array || !(f->op == OP_LONG || f->op == OP_INT || f->op == OP_SHORT ||
                                 f->op == OP_BYTE)) {
            return false;
        }
    }
    return true;
}

static void skip_trace(const struct chunk *ck, struct jcur *c, const struct jtype *t, int ff)
{
    for (size_t i = 0; i < t->nfields && !c->bad; i++) {
        const struct jfield *f = &t->fields[i];
        if ((int)i == ff) {
            skip_varlongs(c, jc_count(c) * ck->types[f->tidx].nfields);
        } else if (f->op == OP_BYTE) {
            jc_u8(c);
        } else {
            skip_varlongs(c, 1);
        }
    }
}

/* Stack traces: most are never sampled by the events asked for, so when
 * their shape allows they are skipped and their bytes kept, decoded on
 * first use (jr_stack_decode). */
static int pool_stacks(struct reader *r, struct jcur *c, const struct jtype *t, uint64_t n)
{
    struct chunk *ck = &r->ck;
    int ff = jr_field_index(t, "frames");
    bool lazy = lazy_shape(ck, t, ff);
    const uint8_t *base = c->p;
    size_t at = ck->nlazy;
    ck->stack_tidx = (uint32_t)(t - ck->types);
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint64_t id = jc_int(c, 8);
        size_t first = 0;
        struct jstack s = {0, STACK_LAZY, NULL};
        if (lazy) {
            size_t off = at + (size_t)(c->p - base);
            skip_trace(ck, c, t, ff);
            if (off > UINT32_MAX - 1)
                jc_fail(c, "too many stack bytes");
            s.off = (uint32_t)off;
        } else {
            int rc = read_trace(r, c, t, ff, &first);
            if (rc)
                return rc;
            s = (struct jstack){(uint32_t)first, (uint32_t)(ck->nframes - first), NULL};
        }
        if (!c->bad && PUSH(ck->stacks, ck->nstacks, ck->cstacks, ck->stack_ids, id, s))
            return -ENOMEM;
    }
    /* len 0 (an empty pool) with no buffer yet: memcpy's NULL is undefined */
    if (lazy && !c->bad && c->p > base) {
        size_t len = (size_t)(c->p - base);
        if (jvec_reserve((void **)&ck->lazy, &ck->clazy, at + len, 1))
            return -ENOMEM;
        memcpy(ck->lazy + at, base, len);
        ck->nlazy = at + len;
    }
    return 0;
}

int jr_stack_decode(struct reader *r, struct jstack *s)
{
    struct chunk *ck = &r->ck;
    struct jcur c = {ck->lazy + s->off, ck->lazy + ck->nlazy, true, false, NULL};
    size_t first = 0;
    const struct jtype *t = &ck->types[ck->stack_tidx];
    int rc = read_trace(r, &c, t, jr_field_index(t, "frames"), &first);
    if (rc)
        return rc;
    if (c.bad) /* the skip checked these bytes: not reached */
        return jr_fail(r, ck->start, "stack trace: %s", c.why);
    *s = (struct jstack){(uint32_t)first, (uint32_t)(ck->nframes - first), NULL};
    return 0;
}

static int pool_skip(struct reader *r, struct jcur *c, const struct jtype *t, uint64_t n)
{
    struct chunk *ck = &r->ck;
    bool frame_types = strcmp(t->name, "jdk.types.FrameType") == 0;
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint64_t id = jc_int(c, 8);
        if (frame_types && id == 5)
            ck->kernel_frames = true;
        if (t->kind == K_STRUCT)
            skip_struct(ck, c, t, 0);
        else
            read_scalar(ck, c, t, 0);
    }
    return 0;
}

static int read_pool(struct reader *r, struct jcur *c, const struct jtype *t, uint64_t n)
{
    if (t->kind == K_STRING)
        return pool_strings(r, c, n);
    if (t->kind != K_STRUCT)
        return pool_skip(r, c, t, n);
    if (strcmp(t->name, "jdk.types.StackTrace") == 0)
        return pool_stacks(r, c, t, n);
    static const struct {
        const char *name;
        int (*keep)(struct reader *, const struct jtype *, uint64_t);
    } pools[] = {
        {"jdk.types.Symbol", keep_symbol},
        {"java.lang.Class", keep_class},
        {"jdk.types.Method", keep_method},
        {"java.lang.Thread", keep_thread},
    };
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++)
        if (strcmp(t->name, pools[i].name) == 0)
            return pool_structs(r, c, t, n, pools[i].keep);
    return pool_skip(r, c, t, n);
}

static int read_checkpoint(struct reader *r, uint64_t pos, int64_t *delta)
{
    struct chunk *ck = &r->ck;
    struct jcur c;
    int rc = special_open(r, pos, 1, &c);
    if (rc)
        return rc;
    *delta = (int64_t)jc_int(&c, 8);
    jc_u8(&c); /* checkpoint type: flush, chunk header, statics, thread */
    uint64_t npools = jc_count(&c);
    for (uint64_t i = 0; i < npools && !c.bad; i++) {
        uint64_t tid = jc_int(&c, 8);
        uint64_t n = jc_count(&c);
        uint32_t k = jmap_get(&ck->type_ids, tid);
        if (c.bad)
            break;
        if (k == JMAP_NONE)
            return jr_fail(r, pos, "checkpoint: a pool of undeclared class %" PRIu64, tid);
        if ((rc = read_pool(r, &c, &ck->types[k], n)))
            return rc;
    }
    if (c.bad)
        return jr_fail(r, pos, "checkpoint: %s", c.why);
    return 0;
}

/* The checkpoints chain backwards from the newest: each delta must step
 * back inside the chunk, so the walk ends. */
int jr_read_pools(struct reader *r, uint64_t pos)
{
    for (;;) {
        int64_t delta = 0;
        int rc = read_checkpoint(r, pos, &delta);
        if (rc)
            return rc;
        if (delta == 0)
            return 0;
        if (delta > 0 || (uint64_t)-delta > pos - r->ck.start - HDR_SIZE)
            return jr_fail(r, pos, "checkpoint delta %" PRId64 " leaves the chunk or goes forward",
                           delta);
        pos -= (uint64_t)-delta;
    }
}
