/* jfr: the JFR reader (see include/flame/jfr.h). One chunk at a time: its
 * header, the metadata event it points at (types and their fields), the
 * checkpoint chain (constant pools), then its events streamed through a
 * window, each decoded by its type's field layout. Names of frames are
 * resolved once per stack trace and chunk, as async-profiler's converter
 * does (src/converter/one/convert/JfrConverter.java). */
#include "flame/jfr.h"

#include "jfr_chunk.h"
#include "jfr_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CHUNK (1ull << 31) /* JDK chunks are ~12 MiB, async-profiler's 100 MiB */
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

int jr_fail(struct reader *r, uint64_t at, const char *fmt, ...)
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
        free(ck->lazy);
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
    ck->cframes = k.cframes, ck->lazy = k.lazy, ck->clazy = k.clazy;
}

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
int jr_record_open(struct reader *r, uint64_t pos, struct jcur *c, uint64_t *size)
{
    struct chunk *ck = &r->ck;
    uint64_t left = ck->end - pos;
    const uint8_t *p;
    size_t head = left < 10 ? (size_t)left : 10;
    int rc = win_get(&r->w, pos, head, &p);
    if (rc)
        return rc == -ENODATA ? jr_fail(r, pos, "the file ends inside the chunk") : rc;
    struct jcur h = {p, p + head, ck->compressed, false, NULL};
    uint64_t n = jc_int(&h, 4);
    if (h.bad || n == 0 || n > left || n < (uint64_t)(h.p - p))
        return jr_fail(r, pos, "event size %" PRIu64 " outside the chunk's %" PRIu64 " bytes left",
                       n, left);
    size_t hl = (size_t)(h.p - p);
    rc = win_get(&r->w, pos, (size_t)n, &p);
    if (rc)
        return rc == -ENODATA ? jr_fail(r, pos, "the file ends inside the chunk") : rc;
    *c = (struct jcur){p + hl, p + n, ck->compressed, false, NULL};
    *size = n;
    return 0;
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
        const struct jtype *t = jr_type_named(ck, EV_TYPES[e].name);
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
    if (w == 0 || si == JMAP_NONE)
        return 0;
    struct jstack *s = &ck->stacks[si];
    int rc = s->n == STACK_LAZY ? jr_stack_decode(r, s) : 0;
    if (rc)
        return rc;
    if (s->n == 0 && !cls)
        return 0;
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
    if (si < (1u << 20) && cidx < (1u << 19))
        smp.stack_key = (uint64_t)ck->serial << 40 | (uint64_t)si << 20 | cidx << 1 | tlab;
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
            return rc == -ENODATA ? jr_fail(r, pos, "the file ends inside the chunk") : rc;
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
        return jr_fail(r, pos, "%s: %s", EV_TYPES[e].name, c.why);
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
            return rc == -ENODATA ? jr_fail(r, pos, "the file ends inside the chunk") : rc;
        struct jcur h = {p, p + head, ck->compressed, false, NULL};
        uint64_t size = jc_int(&h, 4), type = jc_int(&h, 8);
        if (h.bad || size == 0 || size > left || size < (uint64_t)(h.p - p))
            return jr_fail(r, pos,
                           "event size %" PRIu64 " outside the chunk's %" PRIu64 " bytes left",
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
        return rc == -ENODATA ? jr_fail(r, pos, "the file shrank while read") : rc;
    if (memcmp(h, "FLR", have < 4 ? have : 4) != 0)
        return jr_fail(r, pos, ck->no == 1 ? "not a JFR file (no FLR magic)" : "no chunk magic");
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
        return jr_fail(r, pos, "unsupported JFR version %" PRIu64, major);
    if (size > MAX_CHUNK) {
        jr_fail(r, pos, "chunk size %" PRIu64 " over the limit of %llu", size, MAX_CHUNK);
        return -EFBIG;
    }
    if (size > left || size == 0 || cp == 0 || meta == 0) {
        cut(r, pos, size > left ? "the chunk is cut short" : "the chunk was not finished");
        return 0;
    }
    if (size < HDR_SIZE || cp < HDR_SIZE || meta < HDR_SIZE || cp >= size || meta >= size)
        return jr_fail(r, pos,
                       "chunk size %" PRIu64 " or pool/metadata offsets %" PRIu64 "/%" PRIu64
                       " inconsistent",
                       size, cp, meta);
    if (ck->tps <= 0)
        return jr_fail(r, pos, "ticks per second %" PRId64, ck->tps);
    ck->start = pos;
    ck->end = pos + size;
    ck->compressed = features & 1;
    ck->flags = r->o ? r->o->flags : 0;
    /* stack keys unique in the process, not only in this read (jfr.h) */
    static _Atomic uint32_t serials;
    ck->serial = atomic_fetch_add(&serials, 1) % 0xffffffu + 1;
    if ((rc = jr_read_metadata(r, pos + meta)) || (rc = make_plans(r)))
        return rc;
    ck->work = (long long)size * 4 + 1024;
    if ((rc = jr_read_pools(r, pos + cp)) || (rc = read_events(r)))
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
        rc = jr_fail(&r, pos, "empty file");
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
