#include "flame/pprof.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* protobuf wire types */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* profile.proto field numbers */
enum {
    P_SAMPLE_TYPE = 1,
    P_SAMPLE,
    P_MAPPING,
    P_LOCATION,
    P_FUNCTION,
    P_STRING,
    P_DROP,
    P_KEEP,
    P_TIME,
    P_DURATION,
    P_PERIOD_TYPE,
    P_PERIOD,
    P_COMMENT,
    P_DEFAULT_TYPE,
    P_DOC_URL,
    P_NFIELDS
};

struct rd {
    const uint8_t *p, *end;
};

static int varint(struct rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -EINVAL;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -EINVAL;
}

/* One field: its number, wire type, and either its scalar (val) or its
 * bytes (sub), the rest of r after it. */
struct field {
    unsigned num, wt;
    uint64_t val;
    struct rd sub;
};

static int next_field(struct rd *r, struct field *f)
{
    uint64_t key, len;
    if (varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -EINVAL;
    f->num = (unsigned)(key >> 3);
    f->wt = (unsigned)(key & 7);
    switch (f->wt) {
    case WT_VARINT:
        return varint(r, &f->val);
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return -EINVAL;
        f->val = 0;
        for (size_t i = 0; i < n; i++)
            f->val |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return 0;
    }
    case WT_LEN:
        if (varint(r, &len) < 0 || len > (uint64_t)(r->end - r->p))
            return -EINVAL;
        f->sub = (struct rd){r->p, r->p + len};
        r->p += len;
        return 0;
    default:
        return -EINVAL; /* groups are not used by profile.proto */
    }
}

/* How many values field num holds in msg: one per occurrence, or for a
 * packed scalar field one per varint of it. -EINVAL on a malformed
 * message. */
static long count_values(struct rd msg, unsigned num, bool packed)
{
    struct field f;
    long n = 0;
    while (msg.p < msg.end) {
        if (next_field(&msg, &f) < 0)
            return -EINVAL;
        if (f.num != num)
            continue;
        if (f.wt != WT_LEN || !packed) {
            n++;
            continue;
        }
        for (const uint8_t *q = f.sub.p; q < f.sub.end; q++)
            n += !(*q & 0x80);
    }
    return n;
}

/* Appends the value(s) of f (unpacked or packed varints) to v[*n..cap). */
static int take_values(const struct field *f, uint64_t *v, size_t *n, size_t cap)
{
    if (f->wt == WT_VARINT) {
        if (*n >= cap)
            return -EINVAL;
        v[(*n)++] = f->val;
        return 0;
    }
    if (f->wt != WT_LEN)
        return -EINVAL;
    struct rd r = f->sub;
    while (r.p < r.end) {
        if (*n >= cap || varint(&r, &v[*n]) < 0)
            return -EINVAL;
        (*n)++;
    }
    return 0;
}

static void *alloc_n(long n, size_t size)
{
    return calloc(n > 0 ? (size_t)n : 1, size);
}

/* ---- messages ------------------------------------------------------------ */

static int parse_value_type(struct rd r, struct pprof_value_type *vt)
{
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        if (f.num == 1)
            vt->type = (int64_t)f.val;
        else if (f.num == 2)
            vt->unit = (int64_t)f.val;
    }
    return 0;
}

static int parse_label(struct rd r, struct pprof_label *l)
{
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        int64_t *slot[] = {NULL, &l->key, &l->str, &l->num, &l->num_unit};
        if (f.num >= 1 && f.num <= 4)
            *slot[f.num] = (int64_t)f.val;
    }
    return 0;
}

static int parse_sample(struct rd r, struct pprof_sample *s)
{
    long nl = count_values(r, 1, true), nv = count_values(r, 2, true),
         nb = count_values(r, 3, false);
    if (nl < 0 || nv < 0 || nb < 0)
        return -EINVAL;
    s->location_ids = alloc_n(nl, sizeof(uint64_t));
    s->values = alloc_n(nv, sizeof(int64_t));
    s->labels = alloc_n(nb, sizeof(struct pprof_label));
    if (!s->location_ids || !s->values || !s->labels)
        return -ENOMEM;
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        int rc = 0;
        if (f.num == 1)
            rc = take_values(&f, s->location_ids, &s->nlocation, (size_t)nl);
        else if (f.num == 2)
            rc = take_values(&f, (uint64_t *)s->values, &s->nvalue, (size_t)nv);
        else if (f.num == 3 && f.wt == WT_LEN)
            rc = parse_label(f.sub, &s->labels[s->nlabel++]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_mapping(struct rd r, struct pprof_mapping *m)
{
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        uint64_t *u[] = {NULL, &m->id, &m->memory_start, &m->memory_limit, &m->file_offset};
        bool *b[] = {&m->has_functions, &m->has_filenames, &m->has_line_numbers,
                     &m->has_inline_frames};
        if (f.num >= 1 && f.num <= 4)
            *u[f.num] = f.val;
        else if (f.num == 5)
            m->filename = (int64_t)f.val;
        else if (f.num == 6)
            m->build_id = (int64_t)f.val;
        else if (f.num >= 7 && f.num <= 10)
            *b[f.num - 7] = f.val != 0;
    }
    return 0;
}

static int parse_line(struct rd r, struct pprof_line *l)
{
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        if (f.num == 1)
            l->function_id = f.val;
        else if (f.num == 2)
            l->line = (int64_t)f.val;
        else if (f.num == 3)
            l->column = (int64_t)f.val;
    }
    return 0;
}

static int parse_location(struct rd r, struct pprof_location *l)
{
    long n = count_values(r, 4, false);
    if (n < 0)
        return -EINVAL;
    if (!(l->lines = alloc_n(n, sizeof(*l->lines))))
        return -ENOMEM;
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        if (f.num == 1)
            l->id = f.val;
        else if (f.num == 2)
            l->mapping_id = f.val;
        else if (f.num == 3)
            l->address = f.val;
        else if (f.num == 4 && f.wt == WT_LEN && parse_line(f.sub, &l->lines[l->nline++]) < 0)
            return -EINVAL;
        else if (f.num == 5)
            l->is_folded = f.val != 0;
    }
    return 0;
}

static int parse_function(struct rd r, struct pprof_function *fn)
{
    struct field f;
    while (r.p < r.end) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        if (f.num == 1)
            fn->id = f.val;
        int64_t *slot[] = {NULL, NULL, &fn->name, &fn->system_name, &fn->filename, &fn->start_line};
        if (f.num >= 2 && f.num <= 5)
            *slot[f.num] = (int64_t)f.val;
    }
    return 0;
}

/* ---- the profile ----------------------------------------------------------- */

static int alloc_tables(struct pprof_profile *p, const long *n)
{
    p->sample_types = alloc_n(n[P_SAMPLE_TYPE], sizeof(*p->sample_types));
    p->samples = alloc_n(n[P_SAMPLE], sizeof(*p->samples));
    p->mappings = alloc_n(n[P_MAPPING], sizeof(*p->mappings));
    p->locations = alloc_n(n[P_LOCATION], sizeof(*p->locations));
    p->functions = alloc_n(n[P_FUNCTION], sizeof(*p->functions));
    p->strings = alloc_n(n[P_STRING], sizeof(*p->strings));
    p->comments = alloc_n(n[P_COMMENT], sizeof(*p->comments));
    return p->sample_types && p->samples && p->mappings && p->locations && p->functions &&
                   p->strings && p->comments
               ? 0
               : -ENOMEM;
}

static int top_message(struct pprof_profile *p, const struct field *f)
{
    if (f->wt != WT_LEN)
        return -EINVAL;
    switch (f->num) {
    case P_SAMPLE_TYPE:
        return parse_value_type(f->sub, &p->sample_types[p->nsample_type++]);
    case P_SAMPLE:
        return parse_sample(f->sub, &p->samples[p->nsample++]);
    case P_MAPPING:
        return parse_mapping(f->sub, &p->mappings[p->nmapping++]);
    case P_LOCATION:
        return parse_location(f->sub, &p->locations[p->nlocation++]);
    case P_FUNCTION:
        return parse_function(f->sub, &p->functions[p->nfunction++]);
    case P_STRING:
        p->strings[p->nstring++] =
            (struct pprof_string){(const char *)f->sub.p, (size_t)(f->sub.end - f->sub.p)};
        return 0;
    default:
        return parse_value_type(f->sub, &p->period_type);
    }
}

static int top_field(struct pprof_profile *p, const struct field *f, size_t ncomment_cap)
{
    int64_t v = (int64_t)f->val;
    switch (f->num) {
    case P_DROP:
        p->drop_frames = v;
        return 0;
    case P_KEEP:
        p->keep_frames = v;
        return 0;
    case P_TIME:
        p->time_nanos = v;
        return 0;
    case P_DURATION:
        p->duration_nanos = v;
        return 0;
    case P_PERIOD:
        p->period = v;
        return 0;
    case P_COMMENT:
        return take_values(f, (uint64_t *)p->comments, &p->ncomment, ncomment_cap);
    case P_DEFAULT_TYPE:
        p->default_sample_type = v;
        return 0;
    case P_DOC_URL:
        p->doc_url = v;
        return 0;
    default:
        return f->num < P_NFIELDS ? top_message(p, f) : 0;
    }
}

static int decode(struct rd msg, struct pprof_profile *p)
{
    long n[P_NFIELDS] = {0};
    struct field f;
    for (struct rd r = msg; r.p < r.end;) {
        if (next_field(&r, &f) < 0)
            return -EINVAL;
        if (f.num < P_NFIELDS && f.num != P_COMMENT)
            n[f.num]++;
    }
    if ((n[P_COMMENT] = count_values(msg, P_COMMENT, true)) < 0)
        return -EINVAL;
    int rc = alloc_tables(p, n);
    while (rc == 0 && msg.p < msg.end) {
        rc = next_field(&msg, &f);
        if (rc == 0)
            rc = top_field(p, &f, (size_t)n[P_COMMENT]);
    }
    return rc;
}

/* ---- validation ---------------------------------------------------------- */

static int why_fail(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int why_fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool str_ok(const struct pprof_profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->nstring;
}

static int check_strings(const struct pprof_profile *p, char *why, size_t cap)
{
    bool ok = str_ok(p, p->drop_frames) && str_ok(p, p->keep_frames) &&
              str_ok(p, p->period_type.type) && str_ok(p, p->period_type.unit) &&
              str_ok(p, p->default_sample_type) && str_ok(p, p->doc_url);
    for (size_t i = 0; ok && i < p->nsample_type; i++)
        ok = str_ok(p, p->sample_types[i].type) && str_ok(p, p->sample_types[i].unit);
    for (size_t i = 0; ok && i < p->nmapping; i++)
        ok = str_ok(p, p->mappings[i].filename) && str_ok(p, p->mappings[i].build_id);
    for (size_t i = 0; ok && i < p->nfunction; i++)
        ok = str_ok(p, p->functions[i].name) && str_ok(p, p->functions[i].system_name) &&
             str_ok(p, p->functions[i].filename);
    for (size_t i = 0; ok && i < p->ncomment; i++)
        ok = str_ok(p, p->comments[i]);
    for (size_t i = 0; ok && i < p->nsample; i++)
        for (size_t j = 0; ok && j < p->samples[i].nlabel; j++)
            ok = str_ok(p, p->samples[i].labels[j].key) && str_ok(p, p->samples[i].labels[j].str) &&
                 str_ok(p, p->samples[i].labels[j].num_unit);
    return ok ? 0 : why_fail(why, cap, "a string index is outside the string table");
}

static int check_refs(const struct pprof_profile *p, char *why, size_t cap)
{
    for (size_t i = 0; i < p->nlocation; i++) {
        const struct pprof_location *l = &p->locations[i];
        if (!l->id)
            return why_fail(why, cap, "location %zu has id 0", i);
        if (l->mapping_id && !pprof_mapping(p, l->mapping_id))
            return why_fail(why, cap, "location %llu names mapping %llu, which does not exist",
                            (unsigned long long)l->id, (unsigned long long)l->mapping_id);
        for (size_t j = 0; j < l->nline; j++)
            if (!pprof_function(p, l->lines[j].function_id))
                return why_fail(why, cap, "location %llu names function %llu, which does not exist",
                                (unsigned long long)l->id,
                                (unsigned long long)l->lines[j].function_id);
    }
    for (size_t i = 0; i < p->nsample; i++) {
        const struct pprof_sample *s = &p->samples[i];
        if (s->nvalue != p->nsample_type)
            return why_fail(why, cap, "sample %zu has %zu values for %zu sample types", i,
                            s->nvalue, p->nsample_type);
        for (size_t j = 0; j < s->nlocation; j++)
            if (!pprof_location(p, s->location_ids[j]))
                return why_fail(why, cap, "sample %zu names location %llu, which does not exist", i,
                                (unsigned long long)s->location_ids[j]);
    }
    return 0;
}

static int check(const struct pprof_profile *p, char *why, size_t cap)
{
    if (!p->nstring || p->strings[0].len)
        return why_fail(why, cap, "the string table does not start with \"\"");
    int rc = check_strings(p, why, cap);
    return rc ? rc : check_refs(p, why, cap);
}

/* ---- gzip ------------------------------------------------------------------ */

static int inflate_all(const void *data, size_t len, uint8_t **out, size_t *outlen, char *why,
                       size_t cap)
{
    z_stream z = {.next_in = (Bytef *)data, .avail_in = (uInt)len};
    size_t room = len < PPROF_MAX_DECODED / 4 ? len * 4 + 4096 : PPROF_MAX_DECODED, n = 0;
    uint8_t *buf = malloc(room);
    if (len > UINT32_MAX)
        return free(buf), why_fail(why, cap, "compressed profile too large");
    if (!buf || inflateInit2(&z, 15 + 32) != Z_OK)
        return free(buf), -ENOMEM;
    int zr = Z_OK, rc = 0;
    while (zr != Z_STREAM_END && rc == 0) {
        if (n == room) {
            size_t grow = room * 2 > PPROF_MAX_DECODED ? PPROF_MAX_DECODED : room * 2;
            if (grow <= room) {
                rc = -EFBIG;
                break;
            }
            uint8_t *g = realloc(buf, grow);
            if (!g) {
                rc = -ENOMEM;
                break;
            }
            buf = g;
            room = grow;
        }
        z.next_out = buf + n;
        z.avail_out = (uInt)(room - n);
        zr = inflate(&z, Z_NO_FLUSH);
        n = room - z.avail_out;
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && z.avail_out > 0)
            rc = why_fail(why, cap, "the gzip stream is cut short");
        else if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            rc = why_fail(why, cap, "not valid gzip data: %s", z.msg ? z.msg : "inflate failed");
    }
    inflateEnd(&z);
    if (rc == -EFBIG)
        why_fail(why, cap, "inflates past %u MiB", PPROF_MAX_DECODED >> 20);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int pprof_parse(const void *data, size_t len, struct pprof_profile *p, char *why, size_t whycap)
{
    memset(p, 0, sizeof(*p));
    uint8_t *raw = NULL;
    size_t rawlen = len;
    const uint8_t *d = data;
    int rc = 0;
    if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
        rc = inflate_all(data, len, &raw, &rawlen, why, whycap);
    } else if (len > PPROF_MAX_DECODED) {
        rc = why_fail(why, whycap, "larger than %u MiB", PPROF_MAX_DECODED >> 20);
    } else {
        raw = malloc(len ? len : 1);
        rc = raw ? 0 : -ENOMEM;
        if (raw)
            memcpy(raw, data, len);
    }
    if (rc < 0 || !raw)
        return rc < 0 ? rc : -ENOMEM;
    p->owned = raw;
    rc = decode((struct rd){raw, raw + rawlen}, p);
    if (rc == -EINVAL)
        why_fail(why, whycap, "not a protobuf profile message");
    if (rc == 0)
        rc = check(p, why, whycap);
    return rc;
}

void pprof_free(struct pprof_profile *p)
{
    for (size_t i = 0; p->samples && i < p->nsample; i++) {
        free(p->samples[i].location_ids);
        free(p->samples[i].values);
        free(p->samples[i].labels);
    }
    for (size_t i = 0; p->locations && i < p->nlocation; i++)
        free(p->locations[i].lines);
    free(p->sample_types);
    free(p->samples);
    free(p->mappings);
    free(p->locations);
    free(p->functions);
    free(p->strings);
    free(p->comments);
    free(p->owned);
    memset(p, 0, sizeof(*p));
}

/* ---- lookups ----------------------------------------------------------------- */

struct pprof_string pprof_str(const struct pprof_profile *p, int64_t i)
{
    return str_ok(p, i) ? p->strings[i] : (struct pprof_string){"", 0};
}

int pprof_str_eq(const struct pprof_profile *p, int64_t i, const char *s)
{
    struct pprof_string v = pprof_str(p, i);
    return v.len == strlen(s) && memcmp(v.s, s, v.len) == 0;
}

int pprof_sample_type_index(const struct pprof_profile *p, const char *type, const char *unit)
{
    for (size_t i = 0; i < p->nsample_type; i++)
        if (pprof_str_eq(p, p->sample_types[i].type, type) &&
            pprof_str_eq(p, p->sample_types[i].unit, unit))
            return (int)i;
    return -1;
}

/* Go numbers ids 1..n in table order: that slot first, else a scan. */
#define FIND_BY_ID(table, n, id)                                                                   \
    do {                                                                                           \
        if ((id) && (id) <= (n) && (table)[(id)-1].id == (id))                                     \
            return &(table)[(id)-1];                                                               \
        for (size_t i_ = 0; i_ < (n); i_++)                                                        \
            if ((table)[i_].id == (id))                                                            \
                return &(table)[i_];                                                               \
        return NULL;                                                                               \
    } while (0)

const struct pprof_location *pprof_location(const struct pprof_profile *p, uint64_t id)
{
    FIND_BY_ID(p->locations, p->nlocation, id);
}

const struct pprof_function *pprof_function(const struct pprof_profile *p, uint64_t id)
{
    FIND_BY_ID(p->functions, p->nfunction, id);
}

const struct pprof_mapping *pprof_mapping(const struct pprof_profile *p, uint64_t id)
{
    FIND_BY_ID(p->mappings, p->nmapping, id);
}

int64_t pprof_add_string(struct pprof_profile *p, const char *s)
{
    struct pprof_string *n = realloc(p->strings, (p->nstring + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    p->strings = n;
    n[p->nstring] = (struct pprof_string){s, strlen(s)};
    return (int64_t)p->nstring++;
}

/* ---- writer -------------------------------------------------------------------- */

struct wbuf {
    uint8_t *d;
    size_t len, cap;
    int err;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
    if (w->err)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *g = realloc(w->d, cap);
        if (!g) {
            w->err = -ENOMEM;
            return;
        }
        w->d = g;
        w->cap = cap;
    }
    memcpy(w->d + w->len, data, n);
    w->len += n;
}

static void put_varint(struct wbuf *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(w, b, n);
}

static void put_key(struct wbuf *w, unsigned num, unsigned wt)
{
    put_varint(w, (uint64_t)num << 3 | wt);
}

/* A scalar, left out when zero (proto3's default). */
static void put_u(struct wbuf *w, unsigned num, uint64_t v)
{
    if (!v)
        return;
    put_key(w, num, WT_VARINT);
    put_varint(w, v);
}

static void put_bytes(struct wbuf *w, unsigned num, const void *data, size_t n)
{
    put_key(w, num, WT_LEN);
    put_varint(w, n);
    put(w, data, n);
}

/* sub holds an encoded message: appended as field num, then emptied. */
static void put_sub(struct wbuf *w, unsigned num, struct wbuf *sub)
{
    if (sub->err)
        w->err = sub->err;
    put_bytes(w, num, sub->d ? sub->d : (const uint8_t *)"", sub->len);
    sub->len = 0;
}

static void put_packed(struct wbuf *w, unsigned num, const uint64_t *v, size_t n,
                       struct wbuf *scratch)
{
    if (!n)
        return;
    for (size_t i = 0; i < n; i++)
        put_varint(scratch, v[i]);
    put_sub(w, num, scratch);
}

static void put_value_type(struct wbuf *w, unsigned num, const struct pprof_value_type *vt,
                           struct wbuf *s)
{
    put_u(s, 1, (uint64_t)vt->type);
    put_u(s, 2, (uint64_t)vt->unit);
    put_sub(w, num, s);
}

static void put_sample(struct wbuf *w, const struct pprof_sample *s, struct wbuf *s1,
                       struct wbuf *s2)
{
    put_packed(s1, 1, s->location_ids, s->nlocation, s2);
    put_packed(s1, 2, (const uint64_t *)s->values, s->nvalue, s2);
    for (size_t i = 0; i < s->nlabel; i++) {
        const struct pprof_label *l = &s->labels[i];
        put_u(s2, 1, (uint64_t)l->key);
        put_u(s2, 2, (uint64_t)l->str);
        put_u(s2, 3, (uint64_t)l->num);
        put_u(s2, 4, (uint64_t)l->num_unit);
        put_sub(s1, 3, s2);
    }
    put_sub(w, P_SAMPLE, s1);
}

static void put_mapping(struct wbuf *w, const struct pprof_mapping *m, struct wbuf *s)
{
    put_u(s, 1, m->id);
    put_u(s, 2, m->memory_start);
    put_u(s, 3, m->memory_limit);
    put_u(s, 4, m->file_offset);
    put_u(s, 5, (uint64_t)m->filename);
    put_u(s, 6, (uint64_t)m->build_id);
    put_u(s, 7, m->has_functions);
    put_u(s, 8, m->has_filenames);
    put_u(s, 9, m->has_line_numbers);
    put_u(s, 10, m->has_inline_frames);
    put_sub(w, P_MAPPING, s);
}

static void put_location(struct wbuf *w, const struct pprof_location *l, struct wbuf *s1,
                         struct wbuf *s2)
{
    put_u(s1, 1, l->id);
    put_u(s1, 2, l->mapping_id);
    put_u(s1, 3, l->address);
    for (size_t i = 0; i < l->nline; i++) {
        put_u(s2, 1, l->lines[i].function_id);
        put_u(s2, 2, (uint64_t)l->lines[i].line);
        put_u(s2, 3, (uint64_t)l->lines[i].column);
        put_sub(s1, 4, s2);
    }
    put_u(s1, 5, l->is_folded);
    put_sub(w, P_LOCATION, s1);
}

static void put_function(struct wbuf *w, const struct pprof_function *f, struct wbuf *s)
{
    put_u(s, 1, f->id);
    put_u(s, 2, (uint64_t)f->name);
    put_u(s, 3, (uint64_t)f->system_name);
    put_u(s, 4, (uint64_t)f->filename);
    put_u(s, 5, (uint64_t)f->start_line);
    put_sub(w, P_FUNCTION, s);
}

static void encode(const struct pprof_profile *p, struct wbuf *w, struct wbuf *s1, struct wbuf *s2)
{
    for (size_t i = 0; i < p->nsample_type; i++)
        put_value_type(w, P_SAMPLE_TYPE, &p->sample_types[i], s1);
    for (size_t i = 0; i < p->nsample; i++)
        put_sample(w, &p->samples[i], s1, s2);
    for (size_t i = 0; i < p->nmapping; i++)
        put_mapping(w, &p->mappings[i], s1);
    for (size_t i = 0; i < p->nlocation; i++)
        put_location(w, &p->locations[i], s1, s2);
    for (size_t i = 0; i < p->nfunction; i++)
        put_function(w, &p->functions[i], s1);
    for (size_t i = 0; i < p->nstring; i++)
        put_bytes(w, P_STRING, p->strings[i].s, p->strings[i].len);
    put_u(w, P_DROP, (uint64_t)p->drop_frames);
    put_u(w, P_KEEP, (uint64_t)p->keep_frames);
    put_u(w, P_TIME, (uint64_t)p->time_nanos);
    put_u(w, P_DURATION, (uint64_t)p->duration_nanos);
    if (p->period_type.type || p->period_type.unit)
        put_value_type(w, P_PERIOD_TYPE, &p->period_type, s1);
    put_u(w, P_PERIOD, (uint64_t)p->period);
    put_packed(w, P_COMMENT, (const uint64_t *)p->comments, p->ncomment, s1);
    put_u(w, P_DEFAULT_TYPE, (uint64_t)p->default_sample_type);
    put_u(w, P_DOC_URL, (uint64_t)p->doc_url);
    if (s1->err || s2->err)
        w->err = -ENOMEM;
}

static int gzip_all(const uint8_t *data, size_t len, void **out, size_t *outlen)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t room = deflateBound(&z, (uLong)len) + 32;
    uint8_t *buf = malloc(room);
    if (!buf || len > UINT32_MAX || room > UINT32_MAX) {
        deflateEnd(&z);
        free(buf);
        return buf ? -EFBIG : -ENOMEM;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)room;
    int zr = deflate(&z, Z_FINISH);
    *outlen = room - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    return 0;
}

int pprof_write(const struct pprof_profile *p, void **out, size_t *outlen)
{
    struct wbuf w = {0}, s1 = {0}, s2 = {0};
    encode(p, &w, &s1, &s2);
    int rc = w.err ? w.err : gzip_all(w.d ? w.d : (const uint8_t *)"", w.len, out, outlen);
    free(w.d);
    free(s1.d);
    free(s2.d);
    return rc;
}
