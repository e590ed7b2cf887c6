/* jfr: the JFR reader (see include/flame/jfr.h). One chunk at a time: its
 * header, the metadata event it points at (types and their fields), the
 * checkpoint chain (constant pools), then its events streamed through a
 * window, each decoded by its type's field layout. Names of frames are
 * resolved once per stack trace and chunk, as async-profiler's converter
 * does (src/converter/one/convert/JfrConverter.java). */
#include "flame/jfr.h"

#include "jfr_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_SIZE  68
#define MAX_CHUNK (1ull << 31) /* JDK chunks are ~12 MiB, async-profiler's 100 MiB */
#define MAX_DEPTH 32           /* metadata elements and nested inline values */
#define WIN_SIZE  (1u << 20)

static const char *const EV_NAMES[JFR_EVENT_N] = {"cpu", "wall", "alloc", "lock", "nativemem"};
static const char *const EV_UNITS[JFR_EVENT_N] = {"samples", "samples", "bytes", "ns", "bytes"};

const char *jfr_event_name(enum jfr_event ev)
{
    return (unsigned)ev < JFR_EVENT_N ? EV_NAMES[ev] : "?";
}

const char *jfr_event_unit(enum jfr_event ev)
{
    return (unsigned)ev < JFR_EVENT_N ? EV_UNITS[ev] : "?";
}

int jfr_event_parse(const char *s)
{
    for (int i = 0; s && i < JFR_EVENT_N; i++)
        if (strcmp(s, EV_NAMES[i]) == 0)
            return i;
    return -1;
}

/* --- the chunk's model ------------------------------------------------- */

enum kind { K_STRUCT, K_BYTE, K_SHORT, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_STRING };

/* How a field is read: the common scalars directly, the rest (arrays,
 * strings, inline structs, floats) by its type. */
enum op { OP_SLOW, OP_LONG, OP_INT, OP_SHORT, OP_BYTE };

struct jfield {
    const char *name;
    uint64_t type_id;
    uint32_t tidx;
    bool cpool, array;
    uint8_t op;
};

struct jtype {
    uint64_t id;
    const char *name;
    enum kind kind;
    struct jfield *fields;
    size_t nfields, cap;
};

/* The sample events read, and what each counts as. */
enum ev_type {
    T_EXEC,
    T_NATIVE,
    T_WALL,
    T_TLAB_IN,
    T_TLAB_OUT,
    T_ALLOC_SAMPLE,
    T_MONITOR,
    T_PARK,
    T_MALLOC,
    T_FREE,
    T_N
};
static const struct {
    const char *name;
    enum jfr_event ev;
} EV_TYPES[T_N] = {
    {"jdk.ExecutionSample", JFR_CPU},
    {"jdk.NativeMethodSample", JFR_CPU},
    {"profiler.WallClockSample", JFR_WALL},
    {"jdk.ObjectAllocationInNewTLAB", JFR_ALLOC},
    {"jdk.ObjectAllocationOutsideTLAB", JFR_ALLOC},
    {"jdk.ObjectAllocationSample", JFR_ALLOC},
    {"jdk.JavaMonitorEnter", JFR_LOCK},
    {"jdk.ThreadPark", JFR_LOCK},
    {"profiler.Malloc", JFR_NATIVEMEM},
    {"profiler.Free", JFR_NATIVEMEM},
};

/* Where an event's field goes. */
enum slot {
    S_NONE,
    S_TIME,
    S_DUR,
    S_THREAD,
    S_STACK,
    S_CLASS,
    S_SIZE,
    S_TLAB,
    S_WEIGHT,
    S_SAMPLES,
    S_N
};

struct plan {
    uint32_t tidx;
    uint8_t *slots; /* per field */
};

struct jclass {
    uint64_t name;              /* symbol */
    const char *cname, *sfx[2]; /* resolved: dotted, and with _[i] / _[k] */
};
struct jmethod {
    uint64_t cls, name;
    const char *resolved[2]; /* [native] */
};
struct jthread {
    uint64_t tid;
    const char *name;
};
struct jstack {
    uint32_t off, n;
    struct jfr_frame *res; /* resolved, one spare slot before the leaf */
};
struct jsframe {
    uint64_t method;
    uint8_t type;
};

struct chunk {
    int no;
    uint64_t start, end;
    int64_t start_ns, dur_ns, start_ticks, tps;
    bool compressed;
    unsigned flags;
    long long work; /* values left to walk: bounds hostile nesting */
    struct jarena ar;
    struct jtype *types;
    size_t ntypes, tcap;
    struct jmap type_ids;
    struct plan plans[T_N];
    bool has[T_N];
    struct jmap ev_of_type; /* type id -> enum ev_type */
    uint8_t ev_small[1024]; /* the same for small ids (1 + enum ev_type; 0: none) */
    /* pools */
    const char **syms, **strs;
    struct jclass *classes;
    struct jmethod *methods;
    struct jthread *threads;
    struct jstack *stacks;
    struct jsframe *frames;
    size_t nsyms, nstrs, nclasses, nmethods, nthreads, nstacks, nframes;
    size_t csyms, cstrs, cclasses, cmethods, cthreads, cstacks, cframes;
    struct jmap sym_ids, str_ids, class_ids, method_ids, thread_ids, stack_ids;
    bool kernel_frames; /* async-profiler's FrameType: 3 is a C frame */
};

struct win {
    int fd;
    uint8_t *buf;
    size_t cap, len;
    uint64_t off;
};

struct reader {
    struct win w;
    struct chunk ck;
    const struct jfr_opts *o;
    jfr_sample_fn fn;
    void *arg;
    struct jfr_stats *st;
    char *err;
    size_t errcap;
    struct jval *vals; /* scratch per struct read */
    size_t cvals;
};

struct jval {
    uint64_t u;
    const char *s;
};

static int fail(struct reader *r, uint64_t at, const char *fmt, ...)
{
    if (r->err && r->errcap) {
        int n = snprintf(r->err, r->errcap, "chunk %d at byte %" PRIu64 ": ", r->ck.no, at);
        if (n >= 0 && (size_t)n < r->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->err + n, r->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* Forgets the chunk; keep: its pools' memory stays for the next one (the
 * bound is one chunk either way), else it is freed. */
static void chunk_reset(struct chunk *ck, bool keep)
{
    for (size_t i = 0; i < ck->ntypes; i++)
        free(ck->types[i].fields);
    free(ck->types);
    for (int i = 0; i < T_N; i++)
        free(ck->plans[i].slots);
    jmap_free(&ck->type_ids);
    jmap_free(&ck->ev_of_type);
    struct jmap *maps[] = {&ck->sym_ids,    &ck->str_ids,    &ck->class_ids,
                           &ck->method_ids, &ck->thread_ids, &ck->stack_ids};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        (keep ? jmap_clear : jmap_free)(maps[i]);
    (keep ? ja_clear : ja_reset)(&ck->ar);
    struct chunk k = *ck;
    if (!keep) {
        free(ck->syms);
        free(ck->strs);
        free(ck->classes);
        free(ck->methods);
        free(ck->threads);
        free(ck->stacks);
        free(ck->frames);
    }
    memset(ck, 0, sizeof(*ck));
    ck->no = k.no;
    if (!keep)
        return;
    ck->ar = k.ar;
    ck->sym_ids = k.sym_ids, ck->str_ids = k.str_ids, ck->class_ids = k.class_ids;
    ck->method_ids = k.method_ids, ck->thread_ids = k.thread_ids, ck->stack_ids = k.stack_ids;
    ck->syms = k.syms, ck->csyms = k.csyms, ck->strs = k.strs, ck->cstrs = k.cstrs;
    ck->classes = k.classes, ck->cclasses = k.cclasses, ck->methods = k.methods;
    ck->cmethods = k.cmethods, ck->threads = k.threads, ck->cthreads = k.cthreads;
    ck->stacks = k.stacks, ck->cstacks = k.cstacks, ck->frames = k.frames;
    ck->cframes = k.cframes;
}

/* --- reading the file -------------------------------------------------- */

/* Points *out at the n bytes at pos (absolute), reading them if needed.
 * The caller checked pos+n against the chunk. 0, -ENOMEM, -EIO, -ENODATA
 * (the file ends before). */
static int win_get(struct win *w, uint64_t pos, size_t n, const uint8_t **out)
{
    if (pos >= w->off && pos + n <= w->off + w->len) {
        *out = w->buf + (pos - w->off);
        return 0;
    }
    if (n > w->cap) {
        uint8_t *b = realloc(w->buf, n);
        if (!b)
            return -ENOMEM;
        w->buf = b;
        w->cap = n;
    }
    size_t want = w->cap, got = 0;
    while (got < want) {
        ssize_t k = pread(w->fd, w->buf + got, want - got, (off_t)(pos + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->len = 0;
            return -EIO;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    w->off = pos;
    w->len = got;
    if (got < n)
        return -ENODATA;
    *out = w->buf;
    return 0;
}

/* Opens the record (event) at pos: its size, checked against the chunk,
 * and a cursor over the rest of it. */
static int record_open(struct reader *r, uint64_t pos, struct jcur *c, uint64_t *size)
{
    struct chunk *ck = &r->ck;
    uint64_t left = ck->end - pos;
    const uint8_t *p;
    size_t head = left < 10 ? (size_t)left : 10;
    int rc = win_get(&r->w, pos, head, &p);
    if (rc)
        return rc == -ENODATA ? fail(r, pos, "the file ends inside the chunk") : rc;
    struct jcur h = {p, p + head, ck->compressed, false, NULL};
    uint64_t n = jc_int(&h, 4);
    if (h.bad || n == 0 || n > left || n < (uint64_t)(h.p - p))
        return fail(r, pos, "event size %" PRIu64 " outside the chunk's %" PRIu64 " bytes left", n,
                    left);
    size_t hl = (size_t)(h.p - p);
    rc = win_get(&r->w, pos, (size_t)n, &p);
    if (rc)
        return rc == -ENODATA ? fail(r, pos, "the file ends inside the chunk") : rc;
    *c = (struct jcur){p + hl, p + n, ck->compressed, false, NULL};
    *size = n;
    return 0;
}

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

static uint64_t read_field_slow(struct chunk *ck, struct jcur *c, const struct jfield *f,
                                int depth);

/* One field's value (an array: all its elements); numbers returned. The
 * common scalars here, inlined into the loops over fields. */
static inline uint64_t read_field(struct chunk *ck, struct jcur *c, const struct jfield *f,
                                  int depth)
{
    switch (f->op) {
    case OP_LONG:
        return jc_int(c, 8);
    case OP_INT:
        return jc_int(c, 4);
    case OP_SHORT:
        return jc_int(c, 2);
    case OP_BYTE:
        return jc_u8(c);
    default:
        return read_field_slow(ck, c, f, depth);
    }
}

static uint64_t read_field_slow(struct chunk *ck, struct jcur *c, const struct jfield *f, int depth)
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

static int field_index(const struct jtype *t, const char *name)
{
    for (size_t i = 0; t && i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const struct jtype *type_named(const struct chunk *ck, const char *name)
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
                return fail(r, at, "metadata: field %s of %s has an undeclared class %" PRIu64,
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
    int rc = record_open(r, pos, c, &size);
    if (rc)
        return rc;
    if (jc_int(c, 8) != type)
        return fail(r, pos, "the %s offset does not point at a %s event",
                    type ? "constant pool" : "metadata", type ? "checkpoint" : "metadata");
    jc_int(c, 8);
    jc_int(c, 8);
    return 0;
}

static int read_metadata(struct reader *r, uint64_t pos)
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
        return fail(r, pos, "metadata: %s", c.why);
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
    int i = field_index(t, name);
    return i >= 0 ? r->vals[i].u : 0;
}

static const char *val_s(const struct reader *r, const struct jtype *t, const char *name)
{
    int i = field_index(t, name);
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
    int fm = field_index(ft, "method"), fty = field_index(ft, "type");
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

static int pool_stacks(struct reader *r, struct jcur *c, const struct jtype *t, uint64_t n)
{
    struct chunk *ck = &r->ck;
    int ff = field_index(t, "frames");
    for (uint64_t i = 0; i < n && !c->bad; i++) {
        uint64_t id = jc_int(c, 8);
        size_t first = ck->nframes;
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
        if (ck->nframes - first > UINT32_MAX || ck->nframes > UINT32_MAX) {
            jc_fail(c, "too many frames");
            break;
        }
        struct jstack s = {(uint32_t)first, (uint32_t)(ck->nframes - first), NULL};
        if (!c->bad && PUSH(ck->stacks, ck->nstacks, ck->cstacks, ck->stack_ids, id, s))
            return -ENOMEM;
    }
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
            return fail(r, pos, "checkpoint: a pool of undeclared class %" PRIu64, tid);
        if ((rc = read_pool(r, &c, &ck->types[k], n)))
            return rc;
    }
    if (c.bad)
        return fail(r, pos, "checkpoint: %s", c.why);
    return 0;
}

/* The checkpoints chain backwards from the newest: each delta must step
 * back inside the chunk, so the walk ends. */
static int read_pools(struct reader *r, uint64_t pos)
{
    for (;;) {
        int64_t delta = 0;
        int rc = read_checkpoint(r, pos, &delta);
        if (rc)
            return rc;
        if (delta == 0)
            return 0;
        if (delta > 0 || (uint64_t)-delta > pos - r->ck.start - HDR_SIZE)
            return fail(r, pos, "checkpoint delta %" PRId64 " leaves the chunk or goes forward",
                        delta);
        pos -= (uint64_t)-delta;
    }
}

/* --- names --------------------------------------------------------------- */

static const char *sym(const struct chunk *ck, uint64_t id)
{
    uint32_t i = jmap_get(&ck->sym_ids, id);
    return i == JMAP_NONE ? NULL : ck->syms[i];
}

static const char *concat(struct chunk *ck, const char *a, size_t an, const char *sep,
                          const char *b, bool dotted)
{
    size_t sn = strlen(sep), bn = b ? strlen(b) : 0;
    char *out = ja_alloc(&ck->ar, an + sn + bn + 1);
    if (!out)
        return NULL;
    memcpy(out, a, an);
    if (dotted)
        for (size_t i = 0; i < an; i++)
            if (out[i] == '/')
                out[i] = '.';
    memcpy(out + an, sep, sn);
    if (bn)
        memcpy(out + an + sn, b, bn);
    out[an + sn + bn] = 0;
    return out;
}

/* As JfrConverter.resolveMethodName. */
static const char *method_name(struct chunk *ck, uint64_t mid, uint8_t type)
{
    uint32_t i = jmap_get(&ck->method_ids, mid);
    if (i == JMAP_NONE)
        return "unknown";
    bool native = (type == 3 && ck->kernel_frames) || type == 4 || type == 5;
    struct jmethod *m = &ck->methods[i];
    if (m->resolved[native])
        return m->resolved[native];
    uint32_t k = jmap_get(&ck->class_ids, m->cls);
    const char *cname = k == JMAP_NONE ? NULL : sym(ck, ck->classes[k].name);
    const char *mname = sym(ck, m->name);
    const char *s;
    if (!cname || !*cname || native)
        s = mname ? mname : "unknown";
    else if (!mname || !*mname)
        s = concat(ck, cname, strlen(cname), "", NULL, ck->flags & JFR_OPT_DOTTED);
    else
        s = concat(ck, cname, strlen(cname), ".", mname, ck->flags & JFR_OPT_DOTTED);
    return m->resolved[native] = s;
}

/* As JfrConverter.getClassName: dotted, arrays as "int[]", "java.lang.String[][]". */
static const char *class_name(struct chunk *ck, uint64_t cid)
{
    uint32_t i = jmap_get(&ck->class_ids, cid);
    if (i == JMAP_NONE)
        return "null";
    struct jclass *k = &ck->classes[i];
    if (k->cname)
        return k->cname;
    const char *s = sym(ck, k->name);
    if (!s)
        return "null";
    size_t len = strlen(s), depth = 0, start, end = len;
    while (depth < len && s[depth] == '[')
        depth++;
    start = depth;
    static const char prim[] = "BCSIJZFD";
    static const char *const pnames[] = {"byte", "char",    "short", "int",
                                         "long", "boolean", "float", "double"};
    const char *base = NULL;
    if (depth > 0 && depth < len) {
        const char *p = strchr(prim, s[depth]);
        if (p && *p)
            base = pnames[p - prim];
        else if (s[depth] == 'L' && len - depth >= 2) {
            start++;
            end--;
        }
    }
    if (!base)
        base = concat(ck, s + start, end - start, "", NULL, true);
    size_t bn = base ? strlen(base) : 0;
    char *out = base ? ja_alloc(&ck->ar, bn + 2 * depth + 1) : NULL;
    if (!out)
        return "null";
    memcpy(out, base, bn);
    for (size_t d = 0; d < depth; d++)
        memcpy(out + bn + 2 * d, "[]", 2);
    out[bn + 2 * depth] = 0;
    return k->cname = out;
}

static const char *const SUFFIX[] = {"_[0]", "_[j]", "_[i]", "", "", "_[k]", "_[1]"};

static const char *annotate(struct chunk *ck, const char *name, uint8_t type)
{
    if (!(ck->flags & JFR_OPT_ANNOTATE) || type > 6 || !*SUFFIX[type])
        return name;
    const char *s = concat(ck, name, strlen(name), SUFFIX[type], NULL, false);
    return s ? s : name;
}

/* The stack's frames, leaf first, resolved once per chunk; NULL without
 * memory. */
static struct jfr_frame *stack_frames_of(struct chunk *ck, struct jstack *s)
{
    if (s->res)
        return s->res;
    struct jfr_frame *f = (struct jfr_frame *)ja_alloc(
        &ck->ar, ((size_t)s->n + 1) * sizeof(struct jfr_frame) + _Alignof(struct jfr_frame));
    if (!f)
        return NULL;
    uintptr_t a = (uintptr_t)f, al = _Alignof(struct jfr_frame);
    f = (struct jfr_frame *)((a + al - 1) / al * al);
    for (uint32_t i = 0; i < s->n; i++) {
        const struct jsframe *fr = &ck->frames[s->off + i];
        f[i + 1].type = fr->type;
        f[i + 1].name = annotate(ck, method_name(ck, fr->method, fr->type), fr->type);
        if (!f[i + 1].name)
            return NULL;
    }
    return s->res = f;
}

/* --- events -------------------------------------------------------------- */

static int make_plans(struct reader *r)
{
    struct chunk *ck = &r->ck;
    static const struct {
        const char *field;
        enum slot s;
    } slots[] = {
        {"startTime", S_TIME},      {"duration", S_DUR},
        {"eventThread", S_THREAD},  {"sampledThread", S_THREAD},
        {"stackTrace", S_STACK},    {"objectClass", S_CLASS},
        {"monitorClass", S_CLASS},  {"parkedClass", S_CLASS},
        {"allocationSize", S_SIZE}, {"size", S_SIZE},
        {"tlabSize", S_TLAB},       {"weight", S_WEIGHT},
        {"samples", S_SAMPLES},
    };
    unsigned want = r->o && r->o->events ? r->o->events : ~0u;
    for (int e = 0; e < T_N; e++) {
        const struct jtype *t = type_named(ck, EV_TYPES[e].name);
        if (!t || !(want & 1u << EV_TYPES[e].ev) || t->kind != K_STRUCT)
            continue;
        struct plan *p = &ck->plans[e];
        p->tidx = (uint32_t)(t - ck->types);
        p->slots = calloc(t->nfields + 1, 1);
        if (!p->slots || jmap_put(&ck->ev_of_type, t->id, (uint32_t)e))
            return -ENOMEM;
        if (t->id < sizeof(ck->ev_small))
            ck->ev_small[t->id] = (uint8_t)(e + 1);
        for (size_t i = 0; i < t->nfields; i++) {
            const struct jfield *f = &t->fields[i];
            enum kind k = ck->types[f->tidx].kind;
            if (f->array || (!f->cpool && (k == K_STRUCT || k == K_STRING)))
                continue;
            for (size_t j = 0; j < sizeof(slots) / sizeof(slots[0]); j++)
                if (strcmp(f->name, slots[j].field) == 0)
                    p->slots[i] = (uint8_t)slots[j].s;
        }
        ck->has[e] = true;
    }
    return 0;
}

/* ticks * 1e9 / ticks per second, clamped (hostile values stay defined). */
static double ticks_to_ns(const struct chunk *ck, double ticks)
{
    double ns = ticks * 1e9 / (double)ck->tps;
    return ns > 9e18 ? 9e18 : ns < -9e18 ? -9e18 : ns;
}

static int64_t ticks_ns(const struct chunk *ck, uint64_t ticks)
{
    int64_t rel = (int64_t)(ticks - (uint64_t)ck->start_ticks);
    return (int64_t)((uint64_t)ck->start_ns + (uint64_t)(int64_t)ticks_to_ns(ck, (double)rel));
}

/* Builds and hands one sample; 0 when skipped (no stack, no weight). */
static int deliver(struct reader *r, enum ev_type e, const uint64_t *v, bool has_samples)
{
    struct chunk *ck = &r->ck;
    uint64_t w = 1;
    bool cls = false, tlab = false;
    switch (e) {
    case T_WALL:
        w = has_samples ? v[S_SAMPLES] : 1;
        break;
    case T_TLAB_IN:
    case T_TLAB_OUT:
    case T_ALLOC_SAMPLE:
        /* AllocationSample.value(): the TLAB's size when there is one */
        w = e == T_ALLOC_SAMPLE ? v[S_WEIGHT] : v[S_TLAB] ? v[S_TLAB] : v[S_SIZE];
        cls = true;
        tlab = v[S_TLAB] != 0;
        break;
    case T_MONITOR:
    case T_PARK:
        w = (uint64_t)ticks_to_ns(ck, (double)v[S_DUR]);
        cls = tlab = true;
        break;
    case T_MALLOC:
        w = v[S_SIZE];
        break;
    case T_FREE:
        w = 0; /* no size: jfrconv --total adds nothing for it */
        break;
    default:
        break;
    }
    uint32_t si = jmap_get(&ck->stack_ids, v[S_STACK]);
    if (w == 0 || si == JMAP_NONE || (ck->stacks[si].n == 0 && !cls))
        return 0;
    struct jstack *s = &ck->stacks[si];
    struct jfr_frame *f = stack_frames_of(ck, s);
    if (!f)
        return -ENOMEM;
    struct jfr_sample smp = {
        EV_TYPES[e].ev, EV_TYPES[e].name, ticks_ns(ck, v[S_TIME]), 0, NULL, w, s->n, f + 1, 0};
    uint32_t ti = jmap_get(&ck->thread_ids, v[S_THREAD]);
    smp.thread = ti == JMAP_NONE ? v[S_THREAD] : ck->threads[ti].tid;
    smp.thread_name = ti == JMAP_NONE ? NULL : ck->threads[ti].name;
    uint64_t cidx = 0;
    if (cls) {
        uint32_t ki = jmap_get(&ck->class_ids, v[S_CLASS]);
        const char *cn = class_name(ck, v[S_CLASS]);
        uint8_t ty = tlab ? 2 : 5; /* JfrToFlame: _[i] in a TLAB or a lock, _[k] outside */
        if (ki != JMAP_NONE && (ck->flags & JFR_OPT_ANNOTATE)) {
            const char **sf = &ck->classes[ki].sfx[tlab];
            cn = *sf ? *sf : (*sf = annotate(ck, cn, ty));
        }
        f[0] = (struct jfr_frame){cn, ty};
        smp.frames = f;
        smp.nframes++;
        cidx = ki == JMAP_NONE ? 0 : (uint64_t)ki + 1;
    }
    if (ck->no < (1 << 16) && si < (1u << 24) && cidx < (1u << 23))
        smp.stack_key = (uint64_t)(ck->no + 1) << 48 | (uint64_t)si << 24 | cidx << 1 | tlab;
    r->st->samples++;
    return r->fn ? r->fn(r->arg, &smp) : 0;
}

/* The event at pos, of size bytes, its fields from body on. */
static int read_event(struct reader *r, uint64_t pos, uint64_t size, size_t body, enum ev_type e)
{
    struct chunk *ck = &r->ck;
    const uint8_t *p0;
    if (pos >= r->w.off && pos + size <= r->w.off + r->w.len) {
        p0 = r->w.buf + (pos - r->w.off);
    } else {
        int rc = win_get(&r->w, pos, (size_t)size, &p0);
        if (rc)
            return rc == -ENODATA ? fail(r, pos, "the file ends inside the chunk") : rc;
    }
    struct jcur c = {p0 + body, p0 + size, ck->compressed, false, NULL};
    const struct plan *p = &ck->plans[e];
    const struct jtype *t = &ck->types[p->tidx];
    uint64_t v[S_N] = {0};
    bool has_samples = false;
    ck->work = (long long)size * 4 + 64;
    for (size_t i = 0; i < t->nfields && !c.bad; i++) {
        const struct jfield *f = &t->fields[i];
        uint8_t s = p->slots[i];
        if (s) {
            v[s] = read_field(ck, &c, f, 0);
            has_samples |= s == S_SAMPLES;
        } else {
            read_field(ck, &c, f, 0);
        }
    }
    if (c.bad)
        return fail(r, pos, "%s: %s", EV_TYPES[e].name, c.why);
    return deliver(r, e, v, has_samples);
}

static uint32_t event_of(const struct chunk *ck, uint64_t type)
{
    if (type < sizeof(ck->ev_small))
        return ck->ev_small[type] ? ck->ev_small[type] - 1u : JMAP_NONE;
    return jmap_get(&ck->ev_of_type, type);
}

static int read_events(struct reader *r)
{
    struct chunk *ck = &r->ck;
    uint64_t pos = ck->start + HDR_SIZE;
    while (pos < ck->end) {
        uint64_t left = ck->end - pos;
        const uint8_t *p;
        size_t head = left < 20 ? (size_t)left : 20;
        int rc = 0;
        if (pos >= r->w.off && pos + head <= r->w.off + r->w.len)
            p = r->w.buf + (pos - r->w.off); /* win_get's common case, inline */
        else if ((rc = win_get(&r->w, pos, head, &p)))
            return rc == -ENODATA ? fail(r, pos, "the file ends inside the chunk") : rc;
        struct jcur h = {p, p + head, ck->compressed, false, NULL};
        uint64_t size = jc_int(&h, 4), type = jc_int(&h, 8);
        if (h.bad || size == 0 || size > left || size < (uint64_t)(h.p - p))
            return fail(r, pos, "event size %" PRIu64 " outside the chunk's %" PRIu64 " bytes left",
                        size, left);
        r->st->events += type > 1;
        uint32_t e = type > 1 ? event_of(ck, type) : JMAP_NONE;
        if (e != JMAP_NONE && (rc = read_event(r, pos, size, (size_t)(h.p - p), (enum ev_type)e)))
            return rc;
        pos += size;
    }
    return 0;
}

/* --- chunks -------------------------------------------------------------- */

static void cut(struct reader *r, uint64_t at, const char *why)
{
    r->st->truncated = true;
    snprintf(r->st->cut, sizeof(r->st->cut), "chunk %d at byte %" PRIu64 ": %s", r->ck.no, at, why);
}

/* Reads the chunk at pos; *next is the one after (left at the end when
 * this one is cut). */
static int read_chunk(struct reader *r, uint64_t pos, uint64_t file_end, uint64_t *next)
{
    struct chunk *ck = &r->ck;
    uint64_t left = file_end - pos;
    const uint8_t *h;
    size_t have = left < HDR_SIZE ? (size_t)left : HDR_SIZE;
    int rc = win_get(&r->w, pos, have, &h);
    if (rc)
        return rc == -ENODATA ? fail(r, pos, "the file shrank while read") : rc;
    if (memcmp(h, "FLR", have < 4 ? have : 4) != 0)
        return fail(r, pos, ck->no == 1 ? "not a JFR file (no FLR magic)" : "no chunk magic");
    if (have < HDR_SIZE) {
        cut(r, pos, "the chunk header is incomplete");
        return 0;
    }
    struct jcur c = {h + 4, h + HDR_SIZE, false, false, NULL};
    uint64_t major = jc_be(&c, 2);
    jc_be(&c, 2);
    uint64_t size = jc_be(&c, 8), cp = jc_be(&c, 8), meta = jc_be(&c, 8);
    ck->start_ns = (int64_t)jc_be(&c, 8);
    ck->dur_ns = (int64_t)jc_be(&c, 8);
    ck->start_ticks = (int64_t)jc_be(&c, 8);
    ck->tps = (int64_t)jc_be(&c, 8);
    uint64_t features = jc_be(&c, 4);
    if (major != 1 && major != 2)
        return fail(r, pos, "unsupported JFR version %" PRIu64, major);
    if (size > MAX_CHUNK) {
        fail(r, pos, "chunk size %" PRIu64 " over the limit of %llu", size, MAX_CHUNK);
        return -EFBIG;
    }
    if (size > left || size == 0 || cp == 0 || meta == 0) {
        cut(r, pos, size > left ? "the chunk is cut short" : "the chunk was not finished");
        return 0;
    }
    if (size < HDR_SIZE || cp < HDR_SIZE || meta < HDR_SIZE || cp >= size || meta >= size)
        return fail(r, pos,
                    "chunk size %" PRIu64 " or pool/metadata offsets %" PRIu64 "/%" PRIu64
                    " inconsistent",
                    size, cp, meta);
    if (ck->tps <= 0)
        return fail(r, pos, "ticks per second %" PRId64, ck->tps);
    ck->start = pos;
    ck->end = pos + size;
    ck->compressed = features & 1;
    ck->flags = r->o ? r->o->flags : 0;
    if ((rc = read_metadata(r, pos + meta)) || (rc = make_plans(r)))
        return rc;
    ck->work = (long long)size * 4 + 1024;
    if ((rc = read_pools(r, pos + cp)) || (rc = read_events(r)))
        return rc;
    if (r->st->chunks++ == 0)
        r->st->start_ns = ck->start_ns;
    r->st->end_ns = (int64_t)((uint64_t)ck->start_ns + (uint64_t)ck->dur_ns);
    *next = ck->end;
    return 0;
}

int jfr_read_fd(int fd, const struct jfr_opts *o, jfr_sample_fn fn, void *arg, struct jfr_stats *st,
                char *err, size_t errcap)
{
    struct jfr_stats dummy = {0};
    struct reader r = {.w = {.fd = fd}, .o = o, .fn = fn, .arg = arg, .err = err, .errcap = errcap};
    r.st = st ? st : &dummy;
    memset(r.st, 0, sizeof(*r.st));
    if (err && errcap)
        err[0] = 0;
    struct stat sb;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &sb) || at < 0) {
        snprintf(err ? err : (char[1]){0}, err ? errcap : 1, "not a seekable file");
        return -EIO;
    }
    uint64_t pos = (uint64_t)at, end = (uint64_t)sb.st_size;
    if (end < pos)
        end = pos;
    if (o && o->max_bytes && end - pos > o->max_bytes)
        end = pos + o->max_bytes;
    r.w.cap = end - pos < WIN_SIZE ? (size_t)(end - pos) + 1 : WIN_SIZE;
    if (!(r.w.buf = malloc(r.w.cap)))
        return -ENOMEM;
    int rc = 0;
    if (pos == end) {
        r.ck.no = 1;
        rc = fail(&r, pos, "empty file");
    }
    while (!rc && pos < end) {
        r.ck.no++;
        uint64_t next = end;
        rc = read_chunk(&r, pos, end, &next);
        chunk_reset(&r.ck, true);
        pos = next;
    }
    chunk_reset(&r.ck, false);
    free(r.w.buf);
    free(r.vals);
    return rc;
}

int jfr_read_path(const char *path, const struct jfr_opts *o, jfr_sample_fn fn, void *arg,
                  struct jfr_stats *st, char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (err && errcap)
            snprintf(err, errcap, "%s: %s", path, strerror(e));
        if (st)
            memset(st, 0, sizeof(*st));
        return -e;
    }
    int rc = jfr_read_fd(fd, o, fn, arg, st, err, errcap);
    close(fd);
    return rc;
}
