/* pprofdelta: two hand-built pulls whose ids differ for the same stacks,
 * and two pulls of a real Go heap profile (tests/data/pprof). */
#include "harness.h"

#include "core/fsutil.h"
#include "flame/pprofdelta.h"

#include <errno.h>

static const struct pprofdelta_type heap_types[] = {{"alloc_objects", "count"},
                                                    {"alloc_space", "bytes"}};

struct fn {
    const char *name;
    int line;
};

/* A heap-like profile: 4 sample types; functions and locations numbered
 * from first_id (so two pulls disagree on ids); samples given as
 * {leaf function, caller function, bytes label, 4 values}. */
struct spec {
    int leaf, caller; /* indexes into fns */
    int64_t bytes;
    int64_t v[4];
};

static void *dup_mem(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    memcpy(d, p, n);
    return d;
}

static void make(struct pprof_profile *p, const struct fn *fns, size_t nfn, uint64_t first_id,
                 const struct spec *sp, size_t n, int64_t time_ns)
{
    memset(p, 0, sizeof(*p));
    pprof_add_string(p, "");
    const char *st[][2] = {{"alloc_objects", "count"},
                           {"alloc_space", "bytes"},
                           {"inuse_objects", "count"},
                           {"inuse_space", "bytes"}};
    p->sample_types = calloc(4, sizeof(*p->sample_types));
    p->nsample_type = 4;
    for (int i = 0; i < 4; i++)
        p->sample_types[i] =
            (struct pprof_value_type){pprof_add_string(p, st[i][0]), pprof_add_string(p, st[i][1])};
    int64_t file = pprof_add_string(p, "main.go"), bytes = pprof_add_string(p, "bytes");
    p->functions = calloc(nfn, sizeof(*p->functions));
    p->locations = calloc(nfn, sizeof(*p->locations));
    for (size_t i = 0; i < nfn; i++) {
        /* ids in reverse: a pull that numbered them otherwise */
        uint64_t id = first_id + (nfn - 1 - i);
        int64_t name = pprof_add_string(p, fns[i].name);
        p->functions[i] = (struct pprof_function){id, name, name, file, 1};
        struct pprof_line l = {id, fns[i].line, 0};
        p->locations[i] =
            (struct pprof_location){id + 100, 0, 0x1000 * id, dup_mem(&l, sizeof(l)), 1, false};
    }
    p->nfunction = p->nlocation = nfn;
    p->samples = calloc(n ? n : 1, sizeof(*p->samples));
    for (size_t i = 0; i < n; i++) {
        uint64_t locs[2] = {p->locations[sp[i].leaf].id, p->locations[sp[i].caller].id};
        struct pprof_label lab = {bytes, 0, sp[i].bytes, 0};
        p->samples[i] = (struct pprof_sample){dup_mem(locs, sizeof(locs)),       2,
                                              dup_mem(sp[i].v, sizeof(sp[i].v)), 4,
                                              dup_mem(&lab, sizeof(lab)),        1};
    }
    p->nsample = n;
    p->time_nanos = time_ns;
}

static const struct fn fns[] = {
    {"main.alloc", 10}, {"main.handler", 20}, {"main.main", 30}, {"main.gone", 40}};

/* The sample of d whose leaf is fn with label bytes, or NULL. */
static const struct pprof_sample *find(const struct pprof_profile *d, const char *fn, int64_t bytes)
{
    for (size_t i = 0; i < d->nsample; i++) {
        const struct pprof_location *l = pprof_location(d, d->samples[i].location_ids[0]);
        if (pprof_str_eq(d, pprof_function(d, l->lines[0].function_id)->name, fn) &&
            d->samples[i].labels[0].num == bytes)
            return &d->samples[i];
    }
    return NULL;
}

TEST(values_are_subtracted_per_stack_whatever_the_ids)
{
    const struct spec before[] = {
        {0, 1, 1024, {10, 10240, 4, 4096}},       /* alloc <- handler, 1 KiB */
        {0, 2, 1024, {500, 512000, 500, 512000}}, /* alloc <- main: unchanged later */
        {3, 2, 64, {7, 448, 0, 0}},               /* only in the older pull */
    };
    const struct spec after[] = {
        {0, 1, 1024, {15, 15360, 2, 2048}},
        {0, 1, 1024, {5, 5120, 1, 1024}}, /* the same key twice: summed */
        {0, 1, 64, {3, 192, 3, 192}},     /* same stack, other size: its own key */
        {0, 2, 1024, {500, 512000, 500, 512000}},
        {1, 2, 32, {2, 64, 0, 0}}, /* new stack */
    };
    struct pprof_profile a, b, d;
    void *out = NULL;
    size_t len = 0;
    char why[256] = "";
    make(&a, fns, 4, 1, before, 3, 1000000000);
    make(&b, fns, 4, 50, after, 5, 61000000000);
    CHECK_EQ(pprofdelta_profiles(&a, &b, heap_types, 2, &out, &len, why, sizeof(why)), 0);
    int rc = pprof_parse(out, len, &d, why, sizeof(why));
    free(out);
    CHECK_MSG(rc == 0, "the delta does not parse: %s", why);
    CHECK_EQ(d.nsample, 4);
    const struct pprof_sample *s = find(&d, "main.alloc", 1024);
    CHECK(s != NULL);
    CHECK_EQ(s->values[0], 20 - 10);
    CHECK_EQ(s->values[1], 20480 - 10240);
    CHECK_EQ(s->values[2], 3); /* in use: the newer pull's state */
    CHECK_EQ(s->values[3], 3072);
    const struct pprof_location *caller = pprof_location(&d, s->location_ids[1]);
    CHECK(pprof_str_eq(&d, pprof_function(&d, caller->lines[0].function_id)->name, "main.handler"));
    s = find(&d, "main.alloc", 64);
    CHECK(s && s->values[0] == 3 && s->values[1] == 192);
    s = find(&d, "main.handler", 32);
    CHECK(s && s->values[0] == 2 && s->values[3] == 0);
    /* alloc <- main gained nothing but still holds 500 objects */
    bool main_kept = false;
    for (size_t i = 0; i < d.nsample; i++)
        if (d.samples[i].values[2] == 500) {
            main_kept = true;
            CHECK_EQ(d.samples[i].values[0], 0);
            CHECK_EQ(d.samples[i].values[1], 0);
        }
    CHECK(main_kept);
    CHECK(find(&d, "main.gone", 64) == NULL);
    CHECK_EQ(d.time_nanos, 61000000000);
    CHECK_EQ(d.duration_nanos, 60000000000);
    pprof_free(&a);
    pprof_free(&b);
    pprof_free(&d);
}

TEST(a_sample_that_ends_at_zero_is_left_out)
{
    const struct spec same[] = {{0, 1, 8, {4, 32, 0, 0}}};
    struct pprof_profile a, b, d;
    void *out = NULL;
    size_t len = 0;
    char why[256];
    make(&a, fns, 3, 1, same, 1, 1);
    make(&b, fns, 3, 9, same, 1, 2);
    CHECK_EQ(pprofdelta_profiles(&a, &b, heap_types, 2, &out, &len, why, sizeof(why)), 0);
    CHECK_EQ(pprof_parse(out, len, &d, why, sizeof(why)), 0);
    free(out);
    CHECK_EQ(d.nsample, 0);
    CHECK_EQ(d.nlocation, 3); /* the tables stay: the profile remains valid */
    pprof_free(&a);
    pprof_free(&b);
    pprof_free(&d);
}

TEST(missing_or_different_sample_types_are_refused)
{
    const struct spec one[] = {{0, 1, 8, {4, 32, 0, 0}}};
    const struct pprofdelta_type mutex[] = {{"contentions", "count"}, {"delay", "nanoseconds"}};
    struct pprof_profile a, b;
    void *out = NULL;
    size_t len = 0;
    char why[256] = "";
    make(&a, fns, 3, 1, one, 1, 1);
    make(&b, fns, 3, 1, one, 1, 2);
    CHECK_EQ(pprofdelta_profiles(&a, &b, mutex, 2, &out, &len, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "contentions/count is not in the profile");
    b.sample_types[3].unit = b.sample_types[0].unit; /* inuse_space/count */
    CHECK_EQ(pprofdelta_profiles(&a, &b, heap_types, 2, &out, &len, why, sizeof(why)), -EINVAL);
    CHECK_CONTAINS(why, "different sample types");
    CHECK(out == NULL);
    pprof_free(&a);
    pprof_free(&b);
}

TEST(two_pulls_of_a_go_heap_profile_give_what_was_allocated_between)
{
    char *before = NULL, *after = NULL, why[256] = "";
    size_t blen = 0, alen = 0, len = 0;
    void *out = NULL;
    struct pprof_profile d;
    CHECK_EQ(fsutil_read_all("tests/data/pprof/go119_heap_before.pb.gz", 1u << 20, &before, &blen),
             0);
    CHECK_EQ(fsutil_read_all("tests/data/pprof/go119_heap_after_alloc1000.pb.gz", 1u << 20, &after,
                             &alen),
             0);
    int rc = pprofdelta(before, blen, after, alen, heap_types, 2, &out, &len, why, sizeof(why));
    free(before);
    free(after);
    CHECK_MSG(rc == 0, "delta: %s", why);
    CHECK_EQ(pprof_parse(out, len, &d, why, sizeof(why)), 0);
    free(out);
    int64_t burst = 0;
    for (size_t i = 0; i < d.nsample; i++) {
        const struct pprof_sample *s = &d.samples[i];
        const struct pprof_location *l = pprof_location(&d, s->location_ids[0]);
        bool leaf = l->nline && pprof_str_eq(&d, pprof_function(&d, l->lines[0].function_id)->name,
                                             "main.allocBurst");
        if (leaf && s->nlabel && s->labels[0].num == 1024)
            burst += s->values[0];
        CHECK_MSG(s->values[0] >= 0, "a negative allocation count");
    }
    /* 1500 in the newer pull, 500 in the older: 1000 between */
    CHECK_EQ(burst, 1000);
    CHECK(d.duration_nanos > 0);
    pprof_free(&d);
}

TEST(a_pull_that_is_not_a_profile_is_named)
{
    char why[256] = "";
    void *out = NULL;
    size_t len = 0;
    CHECK_EQ(pprofdelta("junk", 4, "junk", 4, heap_types, 2, &out, &len, why, sizeof(why)),
             -EINVAL);
    CHECK_CONTAINS(why, "the previous pull:");
}

TEST_MAIN(values_are_subtracted_per_stack_whatever_the_ids, a_sample_that_ends_at_zero_is_left_out,
          missing_or_different_sample_types_are_refused,
          two_pulls_of_a_go_heap_profile_give_what_was_allocated_between,
          a_pull_that_is_not_a_profile_is_named)
