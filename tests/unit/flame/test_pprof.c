/* pprof: the protobuf reader and writer on hand-built profiles (every
 * field written, read back equal), on profiles Go 1.19's runtime wrote
 * (tests/data/pprof: two pulls of tests/fixtures/go/pprofapp.go's heap,
 * before and after GET /alloc?n=1000), and on broken input. */
#include "harness.h"

#include "core/fsutil.h"
#include "flame/pprof.h"

#include <errno.h>
#include <zlib.h>

#define DATA "tests/data/pprof/"

static void *dup_mem(const void *p, size_t n)
{
    void *d = malloc(n);
    memcpy(d, p, n);
    return d;
}

/* Two functions, three locations (one with an inlined frame, one
 * unsymbolised), a mapping, labels, a negative value, comments. */
static void build(struct pprof_profile *p)
{
    memset(p, 0, sizeof(*p));
    pprof_add_string(p, "");
    int64_t alloc = pprof_add_string(p, "alloc_space"), bytes = pprof_add_string(p, "bytes");
    int64_t count = pprof_add_string(p, "alloc_objects"), cnt = pprof_add_string(p, "count");
    int64_t fa = pprof_add_string(p, "main.a"), fb = pprof_add_string(p, "main.b");
    int64_t file = pprof_add_string(p, "/src/main.go"), bin = pprof_add_string(p, "/bin/app");
    int64_t lk = pprof_add_string(p, "span"), lv = pprof_add_string(p, "db");
    int64_t note = pprof_add_string(p, "a comment");
    struct pprof_value_type st[] = {{count, cnt}, {alloc, bytes}};
    p->sample_types = dup_mem(st, sizeof(st));
    p->nsample_type = 2;
    struct pprof_function fn[] = {{1, fa, fa, file, 10}, {2, fb, fb, file, 20}};
    p->functions = dup_mem(fn, sizeof(fn));
    p->nfunction = 2;
    struct pprof_mapping m = {1, 0x400000, 0x800000, 0, bin, 0, true, true, true, false};
    p->mappings = dup_mem(&m, sizeof(m));
    p->nmapping = 1;
    struct pprof_line l1[] = {{1, 12, 0}, {2, 22, 3}}, l2[] = {{2, 25, 0}};
    struct pprof_location loc[] = {{1, 1, 0x401000, dup_mem(l1, sizeof(l1)), 2, false},
                                   {2, 1, 0x402000, dup_mem(l2, sizeof(l2)), 1, false},
                                   {3, 1, 0x403000, NULL, 0, true}};
    p->locations = dup_mem(loc, sizeof(loc));
    p->nlocation = 3;
    uint64_t s1l[] = {1, 2}, s2l[] = {3, 2};
    int64_t s1v[] = {5, 5120}, s2v[] = {-1, 300000000000};
    struct pprof_label lab[] = {{lk, lv, 0, 0}, {bytes, 0, 1024, bytes}};
    struct pprof_sample s[] = {
        {dup_mem(s1l, sizeof(s1l)), 2, dup_mem(s1v, sizeof(s1v)), 2, dup_mem(lab, sizeof(lab)), 2},
        {dup_mem(s2l, sizeof(s2l)), 2, dup_mem(s2v, sizeof(s2v)), 2,
         calloc(1, sizeof(struct pprof_label)), 0}};
    p->samples = dup_mem(s, sizeof(s));
    p->nsample = 2;
    p->period_type = (struct pprof_value_type){alloc, bytes};
    p->period = 524288;
    p->time_nanos = 1700000000123456789;
    p->duration_nanos = 15000000000;
    int64_t c[] = {note, file};
    p->comments = dup_mem(c, sizeof(c));
    p->ncomment = 2;
    p->default_sample_type = alloc;
    p->drop_frames = fa;
    p->keep_frames = fb;
    p->doc_url = note;
}

static bool same_str(const struct pprof_profile *a, int64_t ia, const struct pprof_profile *b,
                     int64_t ib)
{
    struct pprof_string x = pprof_str(a, ia), y = pprof_str(b, ib);
    return x.len == y.len && !memcmp(x.s, y.s, x.len);
}

TEST(a_hand_built_profile_reads_back_field_for_field)
{
    struct pprof_profile a, b;
    void *out = NULL;
    size_t len = 0;
    char why[256] = "";
    build(&a);
    CHECK_EQ(pprof_write(&a, &out, &len), 0);
    CHECK(len > 20 && ((uint8_t *)out)[0] == 0x1f && ((uint8_t *)out)[1] == 0x8b);
    int rc = pprof_parse(out, len, &b, why, sizeof(why));
    free(out);
    CHECK_MSG(rc == 0, "parse: %d %s", rc, why);
    CHECK_EQ(b.nstring, a.nstring);
    for (size_t i = 0; i < a.nstring; i++)
        CHECK(same_str(&a, (int64_t)i, &b, (int64_t)i));
    CHECK_EQ(b.nsample_type, 2);
    CHECK_EQ(pprof_sample_type_index(&b, "alloc_space", "bytes"), 1);
    CHECK_EQ(b.nsample, 2);
    CHECK_EQ(b.samples[0].nlocation, 2);
    CHECK_EQ(b.samples[0].location_ids[1], 2);
    CHECK_EQ(b.samples[0].values[1], 5120);
    CHECK_EQ(b.samples[0].nlabel, 2);
    CHECK(pprof_str_eq(&b, b.samples[0].labels[0].str, "db"));
    CHECK_EQ(b.samples[0].labels[1].num, 1024);
    CHECK(pprof_str_eq(&b, b.samples[0].labels[1].num_unit, "bytes"));
    CHECK_EQ(b.samples[1].values[0], -1);
    CHECK_EQ(b.samples[1].values[1], 300000000000);
    CHECK_EQ(b.samples[1].nlabel, 0);
    CHECK_EQ(b.nmapping, 1);
    CHECK_EQ(b.mappings[0].memory_limit, 0x800000);
    CHECK(b.mappings[0].has_line_numbers && !b.mappings[0].has_inline_frames);
    CHECK(pprof_str_eq(&b, b.mappings[0].filename, "/bin/app"));
    CHECK_EQ(b.nlocation, 3);
    const struct pprof_location *l = pprof_location(&b, 1);
    CHECK(l && l->nline == 2 && l->lines[1].function_id == 2 && l->lines[1].line == 22);
    CHECK_EQ(l->lines[1].column, 3);
    CHECK(pprof_location(&b, 3)->is_folded && pprof_location(&b, 3)->nline == 0);
    CHECK(pprof_location(&b, 4) == NULL);
    const struct pprof_function *f = pprof_function(&b, 2);
    CHECK(f && pprof_str_eq(&b, f->name, "main.b") && f->start_line == 20);
    CHECK(pprof_str_eq(&b, b.period_type.type, "alloc_space") && b.period == 524288);
    CHECK_EQ(b.time_nanos, 1700000000123456789);
    CHECK_EQ(b.duration_nanos, 15000000000);
    CHECK(b.ncomment == 2 && pprof_str_eq(&b, b.comments[0], "a comment"));
    CHECK(pprof_str_eq(&b, b.default_sample_type, "alloc_space"));
    CHECK(pprof_str_eq(&b, b.drop_frames, "main.a") && pprof_str_eq(&b, b.keep_frames, "main.b"));
    CHECK(pprof_str_eq(&b, b.doc_url, "a comment"));
    pprof_free(&a);
    pprof_free(&b);
}

static int load(const char *name, char **data, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), DATA "%s", name);
    return fsutil_read_all(path, 1u << 20, data, len);
}

/* Sums value vi over the samples whose stack has a frame of fn and whose
 * label "bytes" is bytes (0: any). */
static int64_t sum_where(const struct pprof_profile *p, const char *fn, int64_t bytes, int vi)
{
    int64_t sum = 0;
    for (size_t i = 0; i < p->nsample; i++) {
        const struct pprof_sample *s = &p->samples[i];
        bool hit = false, size_ok = bytes == 0;
        for (size_t j = 0; j < s->nlocation; j++) {
            const struct pprof_location *l = pprof_location(p, s->location_ids[j]);
            for (size_t k = 0; l && k < l->nline; k++)
                hit = hit || pprof_str_eq(p, pprof_function(p, l->lines[k].function_id)->name, fn);
        }
        for (size_t j = 0; j < s->nlabel; j++)
            size_ok = size_ok ||
                      (pprof_str_eq(p, s->labels[j].key, "bytes") && s->labels[j].num == bytes);
        if (hit && size_ok)
            sum += s->values[vi];
    }
    return sum;
}

TEST(a_heap_profile_from_go_reads_and_writes_back_the_same)
{
    char *data = NULL, why[256] = "";
    size_t len = 0, olen = 0;
    void *out = NULL;
    struct pprof_profile a, b;
    CHECK_EQ(load("go119_heap_after_alloc1000.pb.gz", &data, &len), 0);
    int rc = pprof_parse(data, len, &a, why, sizeof(why));
    free(data);
    CHECK_MSG(rc == 0, "parse: %d %s", rc, why);
    CHECK_EQ(a.nsample_type, 4);
    CHECK_EQ(pprof_sample_type_index(&a, "alloc_objects", "count"), 0);
    CHECK_EQ(pprof_sample_type_index(&a, "inuse_space", "bytes"), 3);
    CHECK(pprof_str_eq(&a, a.period_type.type, "space") && a.period == 1);
    CHECK(a.nsample > 10 && a.nlocation > 10 && a.nfunction > 10 && a.nmapping >= 1);
    /* the start-up burst of 500 and the requested 1000, 1 KiB each */
    CHECK_EQ(sum_where(&a, "main.allocBurst", 1024, 0), 1500);
    CHECK_EQ(pprof_write(&a, &out, &olen), 0);
    rc = pprof_parse(out, olen, &b, why, sizeof(why));
    free(out);
    CHECK_MSG(rc == 0, "re-parse: %s", why);
    CHECK_EQ(b.nsample, a.nsample);
    CHECK_EQ(b.nlocation, a.nlocation);
    CHECK_EQ(b.nstring, a.nstring);
    CHECK_EQ(b.time_nanos, a.time_nanos);
    for (size_t i = 0; i < a.nsample; i++)
        for (size_t v = 0; v < 4; v++)
            CHECK_EQ(b.samples[i].values[v], a.samples[i].values[v]);
    CHECK_EQ(sum_where(&b, "main.allocBurst", 1024, 0), 1500);
    pprof_free(&a);
    pprof_free(&b);
}

TEST(a_plain_protobuf_message_is_read_too)
{
    struct pprof_profile a, b;
    char why[256] = "";
    build(&a);
    void *gz = NULL;
    size_t gzlen = 0;
    CHECK_EQ(pprof_write(&a, &gz, &gzlen), 0);
    uint8_t raw[4096];
    uLongf rawlen = sizeof(raw);
    z_stream z = {.next_in = gz, .avail_in = (uInt)gzlen, .next_out = raw, .avail_out = 4096};
    CHECK_EQ(inflateInit2(&z, 15 + 16), Z_OK);
    CHECK_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    rawlen = z.total_out;
    inflateEnd(&z);
    free(gz);
    CHECK_EQ(pprof_parse(raw, rawlen, &b, why, sizeof(why)), 0);
    CHECK_EQ(b.nsample, 2);
    pprof_free(&a);
    pprof_free(&b);
}

static int parse_built(void (*spoil)(struct pprof_profile *), char *why, size_t cap)
{
    struct pprof_profile a, b = {0};
    void *out = NULL;
    size_t len = 0;
    build(&a);
    spoil(&a);
    int rc = pprof_write(&a, &out, &len);
    pprof_free(&a);
    if (rc == 0)
        rc = pprof_parse(out, len, &b, why, cap);
    free(out);
    pprof_free(&b);
    return rc;
}

static void bad_string_index(struct pprof_profile *p)
{
    p->functions[0].name = 99;
}
static void missing_location(struct pprof_profile *p)
{
    p->samples[1].location_ids[0] = 42;
}
static void missing_function(struct pprof_profile *p)
{
    p->locations[0].lines[0].function_id = 7;
}
static void one_value_short(struct pprof_profile *p)
{
    p->samples[0].nvalue = 1;
}
static void first_string_not_empty(struct pprof_profile *p)
{
    p->strings[0] = (struct pprof_string){"x", 1};
}

TEST(broken_profiles_are_refused_with_the_reason)
{
    char why[256];
    CHECK_EQ(parse_built(bad_string_index, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "string index");
    CHECK_EQ(parse_built(missing_location, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "location 42");
    CHECK_EQ(parse_built(missing_function, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "function 7");
    CHECK_EQ(parse_built(one_value_short, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "1 values for 2 sample types");
    CHECK_EQ(parse_built(first_string_not_empty, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "string table");
}

TEST(garbage_and_cut_gzip_are_refused)
{
    struct pprof_profile p;
    char why[256];
    CHECK_EQ(pprof_parse("not a profile at all", 20, &p, why, sizeof(why)), -EINVAL);
    pprof_free(&p);
    char *data = NULL;
    size_t len = 0;
    CHECK_EQ(load("go119_heap_before.pb.gz", &data, &len), 0);
    CHECK_EQ(pprof_parse(data, len / 2, &p, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "cut short");
    pprof_free(&p);
    data[len / 2] ^= 0x55; /* a flipped byte in the deflate stream */
    int rc = pprof_parse(data, len, &p, why, sizeof(why));
    CHECK(rc == -EINVAL);
    pprof_free(&p);
    free(data);
    CHECK_EQ(pprof_parse("", 0, &p, why, sizeof(why)), -EINVAL);
    pprof_free(&p);
}

TEST(a_gzip_bomb_stops_at_the_cap)
{
    /* PPROF_MAX_DECODED + 1 MiB of zeros, deflated in pieces */
    z_stream z = {0};
    CHECK_EQ(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    static uint8_t zeros[1 << 20];
    size_t cap = 2u << 20, len = 0;
    uint8_t *gz = malloc(cap);
    for (unsigned i = 0; i <= (PPROF_MAX_DECODED >> 20); i++) {
        z.next_in = zeros;
        z.avail_in = sizeof(zeros);
        do {
            z.next_out = gz + len;
            z.avail_out = (uInt)(cap - len);
            deflate(&z, i == (PPROF_MAX_DECODED >> 20) ? Z_FINISH : Z_NO_FLUSH);
            len = cap - z.avail_out;
        } while (z.avail_in);
    }
    deflateEnd(&z);
    struct pprof_profile p;
    char why[256] = "";
    CHECK_EQ(pprof_parse(gz, len, &p, why, sizeof(why)), -EFBIG);
    CHECK_CONTAINS(why, "inflates past");
    pprof_free(&p);
    free(gz);
}

TEST_MAIN(a_hand_built_profile_reads_back_field_for_field,
          a_heap_profile_from_go_reads_and_writes_back_the_same,
          a_plain_protobuf_message_is_read_too, broken_profiles_are_refused_with_the_reason,
          garbage_and_cut_gzip_are_refused, a_gzip_bomb_stops_at_the_cap)
