/* jfr: the reader on JFR files built byte by byte (jfr_build.h): compressed
 * integers, every sample kind and its weight and frame names, unknown
 * event types and fields skipped by their layout, a pool split over two
 * checkpoints, two chunks, uncompressed integers; truncation at every byte
 * and flipped bytes (run under ASan: a clear error or a cut, never a
 * crash); hostile sizes, counts, deltas and nesting. */
#include "harness.h"

#include "flame/jfr.h"
#include "jfr_build.h"
#include "src/flame/jfr_int.h"

#include <errno.h>
#include <sys/mman.h>

struct got {
    int n;
    struct {
        enum jfr_event ev;
        char type[48], stack[512], thread_name[32];
        uint8_t types[8];
        uint64_t weight, thread, key;
        int64_t ts;
    } s[64];
    int stop_after;
};

static int collect(void *arg, const struct jfr_sample *s)
{
    struct got *g = arg;
    if (g->n < 64) {
        __typeof__(g->s[0]) *o = &g->s[g->n];
        o->ev = s->ev;
        snprintf(o->type, sizeof(o->type), "%s", s->type_name);
        snprintf(o->thread_name, sizeof(o->thread_name), "%s",
                 s->thread_name ? s->thread_name : "");
        o->stack[0] = 0;
        for (size_t i = s->nframes; i-- > 0;) {
            size_t k = strlen(o->stack);
            snprintf(o->stack + k, sizeof(o->stack) - k, "%s%s", s->frames[i].name, i ? ";" : "");
            if (i < 8)
                o->types[i] = s->frames[i].type;
        }
        o->weight = s->weight;
        o->thread = s->thread;
        o->ts = s->ts_ns;
        o->key = s->stack_key;
    }
    g->n++;
    return g->stop_after && g->n >= g->stop_after ? 7 : 0;
}

static int mem_fd(const struct jb *b, size_t n)
{
    int fd = memfd_create("jfr", 0);
    if (fd >= 0 && (write(fd, b->p, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_buf(const struct jb *b, size_t n, const struct jfr_opts *o, struct got *g,
                    struct jfr_stats *st, char *err, size_t errcap)
{
    int fd = mem_fd(b, n);
    if (fd < 0)
        return -999;
    int rc = jfr_read_fd(fd, o, collect, g, st, err, errcap);
    close(fd);
    return rc;
}

static struct jb file_of(int chunks, const struct jb_opts *o, bool compressed)
{
    struct jb b = {NULL, 0, 0, compressed};
    struct jb_opts d = {0};
    for (int i = 0; i < chunks; i++)
        jb_chunk(&b, o ? o : &d);
    return b;
}

#define STACK1 "pkg/Main.main;pkg/Worker.run"
#define STACK2 "pkg/Main.main;pkg/Worker.run;memcpy;do_syscall_64"

TEST(compressed_integers)
{
    static const struct {
        uint8_t b[10];
        size_t n;
        uint64_t v;
    } cases[] = {
        {{0x00}, 1, 0},
        {{0x7f}, 1, 127},
        {{0x80, 0x01}, 2, 128},
        {{0xff, 0x80, 0x80, 0x00}, 4, 127}, /* padded, as the JDK writes sizes */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, UINT64_MAX},
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 9, 1ull << 56},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jcur c = {cases[i].b, cases[i].b + cases[i].n, true, false, NULL};
        CHECK_EQ(jc_varlong(&c), cases[i].v);
        CHECK(!c.bad);
        CHECK(c.p == c.end); /* the ninth byte is the last */
        struct jcur cut = {cases[i].b, cases[i].b + cases[i].n - 1, true, false, NULL};
        jc_varlong(&cut);
        CHECK(cases[i].n == 1 ? cut.bad : cut.bad);
    }
    struct jb b = {NULL, 0, 0, true};
    for (uint64_t v = 1; v; v <<= 1) {
        b.n = 0;
        jb_var(&b, v - 1);
        struct jcur c = {b.p, b.p + b.n, true, false, NULL};
        CHECK_EQ(jc_varlong(&c), v - 1);
        CHECK(!c.bad && c.p == c.end);
    }
    uint8_t big[] = {0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    struct jcur c = {big, big + sizeof(big), true, false, NULL};
    CHECK_EQ(jc_count(&c), 0); /* a count larger than the bytes left */
    CHECK(c.bad);
    free(b.p);
}

/* Every sample kind, from one chunk: names, weights, threads, times. */
static void check_one_chunk(struct t_state *t_, const struct got *g, uint64_t tps)
{
    CHECK_EQ(g->n, 7);
    CHECK_STREQ(g->s[0].type, "jdk.ExecutionSample");
    CHECK_EQ(g->s[0].ev, JFR_CPU);
    CHECK_STREQ(g->s[0].stack, STACK1);
    CHECK_EQ(g->s[0].weight, 1);
    CHECK_EQ(g->s[0].thread, 4242);
    CHECK_STREQ(g->s[0].thread_name, "worker");
    CHECK_EQ(g->s[0].ts, 1000000000000000000ll + 1000000000ll / (int64_t)tps);
    CHECK_EQ(g->s[0].types[0], 1);
    CHECK_EQ(g->s[0].types[1], 0);
    CHECK_STREQ(g->s[1].stack, STACK2); /* the unknown event in between was skipped */
    CHECK_EQ(g->s[1].types[0], 5);
    CHECK_EQ(g->s[1].types[1], 3);
    CHECK_EQ(g->s[1].ts, 1000000000000000000ll);
    CHECK_EQ(g->s[2].ev, JFR_WALL);
    CHECK_EQ(g->s[2].weight, 5);
    CHECK_EQ(g->s[3].ev, JFR_ALLOC);
    CHECK_STREQ(g->s[3].stack, STACK1 ";byte[]");
    CHECK_EQ(g->s[3].types[0], 2);
    CHECK_EQ(g->s[3].weight, 4096);
    CHECK_STREQ(g->s[4].stack, STACK1 ";java.lang.String[]");
    CHECK_EQ(g->s[4].types[0], 5);
    CHECK_EQ(g->s[4].weight, 300);
    CHECK_EQ(g->s[5].ev, JFR_LOCK);
    CHECK_STREQ(g->s[5].stack, STACK1 ";java.util.concurrent.locks.ReentrantLock$NonfairSync");
    CHECK_EQ(g->s[5].weight, 4000 * 1000000000ull / tps);
    CHECK_EQ(g->s[6].ev, JFR_NATIVEMEM); /* profiler.Free adds no bytes: not handed */
    CHECK_STREQ(g->s[6].stack, STACK2);
    CHECK_EQ(g->s[6].weight, 64);
    CHECK(g->s[0].key && g->s[0].key != g->s[1].key && g->s[0].key != g->s[3].key);
    CHECK(g->s[3].key != g->s[4].key && g->s[1].key == g->s[6].key);
}

TEST(every_sample_kind)
{
    struct jb_opts o = {.start_ns = 1000000000000000000ll};
    struct jb b = file_of(1, &o, true);
    struct got g = {0};
    struct jfr_stats st;
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, &st, err, sizeof(err)), 0);
    check_one_chunk(t_, &g, 1000000000ull);
    CHECK_EQ(st.chunks, 1);
    CHECK_EQ(st.events, 9);
    CHECK_EQ(st.samples, 7);
    CHECK(!st.truncated);
    CHECK_EQ(st.start_ns, o.start_ns);
    CHECK_EQ(st.end_ns, o.start_ns + 5000000000ll);
    free(b.p);
}

TEST(ticks_not_nanoseconds_and_uncompressed)
{
    struct jb_opts o = {.start_ns = 1000000000000000000ll, .tps = 2000000000ull};
    for (int comp = 0; comp < 2; comp++) {
        struct jb b = file_of(1, &o, comp);
        struct got g = {0};
        char err[200];
        int rc = read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err));
        CHECK_MSG(rc == 0, "%d %s", rc, err);
        check_one_chunk(t_, &g, o.tps);
        if (t_->failed)
            return;
        free(b.p);
    }
}

/* A one-chunk file with the pools over two checkpoints reads as usual. */
static void check_split(struct t_state *t_, bool empty_stacks)
{
    struct jb_opts o = {
        .split = true, .empty_stacks = empty_stacks, .start_ns = 1000000000000000000ll};
    struct jb b = file_of(1, &o, true);
    struct got g = {0};
    char err[200];
    int rc = read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err));
    CHECK_MSG(rc == 0, "%d %s", rc, err);
    check_one_chunk(t_, &g, 1000000000ull);
    free(b.p);
}

TEST(pool_split_over_two_checkpoints)
{
    check_split(t_, false);
}

/* An empty pool before the real one: nothing to keep, and no pointer
 * arithmetic on a buffer not yet allocated (UBSan found it by fuzzing). */
TEST(empty_stack_pool_first)
{
    check_split(t_, true);
}

TEST(two_chunks)
{
    struct jb_opts o = {.split = true, .start_ns = 1000000000000000000ll};
    struct jb b = file_of(2, &o, true);
    struct got g = {0};
    struct jfr_stats st;
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.chunks, 2);
    CHECK_EQ(g.n, 14);
    CHECK_STREQ(g.s[7].stack, STACK1);
    CHECK_STREQ(g.s[13].stack, STACK2);
    CHECK(g.s[7].key != g.s[0].key); /* ids are per chunk */
    free(b.p);
}

/* One model may be fed several reads (stacks.c maps keys to stacks): the
 * same stack of the same file read twice has two keys. */
TEST(stack_keys_differ_across_reads)
{
    struct jb_opts o = {.start_ns = 1};
    struct jb b = file_of(1, &o, true);
    struct got g1 = {0}, g2 = {0};
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, NULL, &g1, NULL, err, sizeof(err)), 0);
    CHECK_EQ(read_buf(&b, b.n, NULL, &g2, NULL, err, sizeof(err)), 0);
    CHECK(g1.n > 0 && g1.n == g2.n);
    CHECK_STREQ(g1.s[0].stack, g2.s[0].stack);
    CHECK(g1.s[0].key && g2.s[0].key && g1.s[0].key != g2.s[0].key);
    free(b.p);
}

TEST(options_events_names_stop_and_limit)
{
    struct jb_opts o = {.start_ns = 1};
    struct jb b = file_of(2, &o, true);
    struct got g = {0};
    struct jfr_opts opt = {.events = 1u << JFR_ALLOC | 1u << JFR_LOCK,
                           .flags = JFR_OPT_DOTTED | JFR_OPT_ANNOTATE};
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, &opt, &g, NULL, err, sizeof(err)), 0);
    CHECK_EQ(g.n, 6);
    CHECK_STREQ(g.s[0].stack, "pkg.Main.main_[0];pkg.Worker.run_[j];byte[]_[i]");
    CHECK_STREQ(g.s[1].stack, "pkg.Main.main_[0];pkg.Worker.run_[j];java.lang.String[]_[k]");
    opt = (struct jfr_opts){.events = 1u << JFR_CPU, .flags = JFR_OPT_ANNOTATE};
    g = (struct got){0};
    CHECK_EQ(read_buf(&b, b.n, &opt, &g, NULL, err, sizeof(err)), 0);
    CHECK_EQ(g.n, 4);
    CHECK_STREQ(g.s[1].stack, "pkg/Main.main_[j];pkg/Worker.run_[i];memcpy;do_syscall_64_[k]");
    g = (struct got){.stop_after = 3};
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), 7);
    CHECK_EQ(g.n, 3);
    g = (struct got){0};
    struct jfr_stats st;
    opt = (struct jfr_opts){.max_bytes = b.n / 2 + 10};
    CHECK_EQ(read_buf(&b, b.n, &opt, &g, &st, err, sizeof(err)), 0);
    CHECK_EQ(g.n, 7);
    CHECK(st.truncated);
    free(b.p);
}

TEST(truncated_at_every_byte)
{
    struct jb_opts o = {.split = true, .start_ns = 1};
    struct jb b = file_of(2, &o, true);
    size_t one = b.n / 2;
    for (size_t n = 0; n <= b.n; n++) {
        struct got g = {0};
        struct jfr_stats st;
        char err[200] = "";
        int rc = read_buf(&b, n, NULL, &g, &st, err, sizeof(err));
        if (n == 0) {
            CHECK_EQ(rc, -EINVAL);
            CHECK_CONTAINS(err, "empty");
            continue;
        }
        CHECK_MSG(rc == 0, "cut at %zu: %d %s", n, rc, err);
        size_t whole = n < one ? 0 : n < b.n ? 1 : 2;
        CHECK_EQ(st.chunks, whole);
        CHECK_EQ(g.n, 7 * (int)whole);
        CHECK_MSG(st.truncated == (n != one && n != b.n), "cut at %zu", n);
        if (st.truncated)
            CHECK_CONTAINS(st.cut, n < one ? "chunk 1 at byte 0" : "chunk 2 at byte");
    }
    free(b.p);
}

/* Flipping any byte (three ways) gives samples, a cut or a clear error. */
TEST(flipped_bytes)
{
    struct jb_opts o = {.split = true, .start_ns = 1};
    struct jb b = file_of(2, &o, true);
    static const uint8_t masks[] = {0xff, 0x01, 0x80};
    int errors = 0;
    for (size_t i = 0; i < b.n; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            b.p[i] ^= masks[m];
            struct got g = {0};
            struct jfr_stats st;
            char err[200] = "";
            int rc = read_buf(&b, b.n, NULL, &g, &st, err, sizeof(err));
            b.p[i] ^= masks[m];
            CHECK_MSG(rc == 0 || rc == -EINVAL || rc == -EFBIG, "byte %zu: %d", i, rc);
            if (rc) {
                errors++;
                CHECK_MSG(strncmp(err, "chunk ", 6) == 0 && strstr(err, " at byte "),
                          "byte %zu: \"%s\"", i, err);
            }
        }
    }
    CHECK(errors > 100);
    free(b.p);
}

static void put_be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

TEST(hostile_headers)
{
    struct jb b = file_of(1, NULL, true);
    struct got g = {0};
    char err[200];
    uint8_t save[8];
    memcpy(save, b.p + 8, 8);
    put_be(b.p + 8, 1ull << 40); /* a chunk far over the limit */
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EFBIG);
    CHECK_CONTAINS(err, "over the limit");
    put_be(b.p + 8, 30); /* smaller than its header */
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    memcpy(b.p + 8, save, 8);
    put_be(b.p + 56, 0); /* no ticks per second */
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "ticks per second");
    memcpy(b.p, "XLR", 3);
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    CHECK_STREQ(err, "chunk 1 at byte 0: not a JFR file (no FLR magic)");
    free(b.p);
    CHECK_EQ(jfr_read_path("/nonexistent/x.jfr", NULL, collect, &g, NULL, err, sizeof(err)),
             -ENOENT);
}

/* A chunk header with zero sizes and offsets (raw_end fills them in),
 * for hand-made metadata, and the start of a checkpoint of one pool (*at:
 * for jb_end); returns the checkpoint's offset. */
static size_t raw_begin(struct jb *b, size_t *at)
{
    jb_put(b, "FLR\0\0\2\0\0", 8);
    for (int i = 0; i < 7; i++) /* size, offsets, start, duration, ticks, ticks/s */
        jb_be(b, i == 6 ? 1000000000 : 0, 8);
    jb_be(b, 1, 4);
    size_t cp = b->n;
    *at = jb_begin(b, 1);
    jb_var(b, 0);
    jb_var(b, 0);
    jb_var(b, 0);
    jb_u8(b, 0);
    jb_var(b, 1);
    return cp;
}

static void raw_end(struct jb *b, size_t cp, size_t meta)
{
    uint64_t v[3] = {b->n, cp, meta};
    for (int k = 0; k < 3; k++)
        put_be(b->p + 8 + 8 * (size_t)k, v[k]);
}

/* A checkpoint whose delta points forward, at itself. */
TEST(checkpoint_loop)
{
    struct jb b = {NULL, 0, 0, true};
    struct jb_opts o = {0};
    jb_chunk(&b, &o);
    uint64_t cp = 0;
    for (int i = 0; i < 8; i++)
        cp = cp << 8 | b.p[16 + i];
    /* size (4), type 1, start 0, duration 0, then the delta (0): make it
     * -(cp - 60), pointing inside the header */
    size_t d = (size_t)cp + 4 + 3;
    CHECK_EQ(b.p[d], 0);
    b.p[d] = 0x7f; /* 127 forward */
    struct got g = {0};
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "delta");
    free(b.p);
}

/* A type holding itself inline, and metadata nested deeper than any real
 * file: bounded recursion, an error. */
TEST(hostile_nesting)
{
    struct jb b = {NULL, 0, 0, true};
    size_t at, cp = raw_begin(&b, &at);
    jb_var(&b, 50); /* type 50: itself inline */
    jb_var(&b, 1);
    jb_var(&b, 1);
    jb_end(&b, at);
    size_t meta = b.n;
    at = jb_begin(&b, 0);
    jb_var(&b, 0);
    jb_var(&b, 0);
    jb_var(&b, 0);
    static const char *const s[] = {"root", "class", "id",    "50",  "name",
                                    "Loop", "field", "class", "self"};
    jb_var(&b, 9);
    for (int i = 0; i < 9; i++)
        jb_str(&b, s[i]);
    jb_var(&b, 0); /* root, 0 attributes, 1 child */
    jb_var(&b, 0);
    jb_var(&b, 1);
    jb_var(&b, 1); /* class id=50 name=Loop, one field */
    jb_var(&b, 2);
    jb_var(&b, 2);
    jb_var(&b, 3);
    jb_var(&b, 4);
    jb_var(&b, 5);
    jb_var(&b, 1);
    jb_var(&b, 6); /* field name=self class=50 */
    jb_var(&b, 2);
    jb_var(&b, 4);
    jb_var(&b, 8);
    jb_var(&b, 7);
    jb_var(&b, 3);
    jb_var(&b, 0);
    jb_end(&b, at);
    raw_end(&b, cp, meta);
    struct got g = {0};
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "nested");

    /* metadata 40 elements deep */
    struct jb m = {NULL, 0, 0, true};
    jb_put(&m, b.p, meta);
    at = jb_begin(&m, 0);
    jb_var(&m, 0);
    jb_var(&m, 0);
    jb_var(&m, 0);
    jb_var(&m, 1);
    jb_str(&m, "x");
    for (int i = 0; i < 40; i++) {
        jb_var(&m, 0);
        jb_var(&m, 0);
        jb_var(&m, 1);
    }
    jb_var(&m, 0);
    jb_var(&m, 0);
    jb_var(&m, 0);
    jb_end(&m, at);
    raw_end(&m, cp, meta);
    CHECK_EQ(read_buf(&m, m.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "nested too deep");
    free(m.p);
    free(b.p);
}

/* Arrays of arrays of empty structs take almost no bytes and could take
 * quadratic time: the walk has a budget per chunk. */
TEST(hostile_empty_arrays)
{
    struct jb b = {NULL, 0, 0, true};
    size_t at, cp = raw_begin(&b, &at);
    jb_var(&b, 62); /* one Outer: 2000 Inners of 120 Empty each */
    jb_var(&b, 1);
    jb_var(&b, 1);
    jb_var(&b, 2000);
    for (int i = 0; i < 2000; i++)
        jb_var(&b, 120);
    jb_end(&b, at);
    size_t meta = b.n;
    at = jb_begin(&b, 0);
    jb_var(&b, 0);
    jb_var(&b, 0);
    jb_var(&b, 0);
    static const char *const s[] = {"root",  "class",     "id",    "60", "name",
                                    "Empty", "61",        "Inner", "62", "Outer",
                                    "field", "dimension", "1",     "e",  "i"};
    jb_var(&b, 15);
    for (int i = 0; i < 15; i++)
        jb_str(&b, s[i]);
    static const uint8_t tree[] = {
        0, 0, 3,                                            /* root */
        1, 2, 2, 3, 4, 5, 0,                                /* class 60 Empty */
        1, 2, 2, 6, 4, 7, 1, 10, 3, 4, 13, 1, 3, 11, 12, 0, /* 61 Inner { Empty[] e } */
        1, 2, 2, 8, 4, 9, 1, 10, 3, 4, 14, 1, 6, 11, 12, 0, /* 62 Outer { Inner[] i } */
    };
    jb_put(&b, tree, sizeof(tree));
    jb_end(&b, at);
    raw_end(&b, cp, meta);
    struct got g = {0};
    char err[200];
    CHECK_EQ(read_buf(&b, b.n, NULL, &g, NULL, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "too many nested values");
    free(b.p);
}

TEST(event_names)
{
    CHECK_EQ(jfr_event_parse("nativemem"), JFR_NATIVEMEM);
    CHECK_EQ(jfr_event_parse("heap"), -1);
    CHECK_STREQ(jfr_event_name(JFR_LOCK), "lock");
    CHECK_STREQ(jfr_event_unit(JFR_LOCK), "ns");
    CHECK_STREQ(jfr_event_unit(JFR_ALLOC), "bytes");
    CHECK_STREQ(jfr_event_unit(JFR_WALL), "samples");
}

TEST_MAIN(compressed_integers, empty_stack_pool_first, stack_keys_differ_across_reads,
          every_sample_kind, ticks_not_nanoseconds_and_uncompressed,
          pool_split_over_two_checkpoints, two_chunks, options_events_names_stop_and_limit,
          truncated_at_every_byte, flipped_bytes, hostile_headers, checkpoint_loop, hostile_nesting,
          hostile_empty_arrays, event_names)
