/* stacks: the model (interning, deduplication, first-seen ids), the
 * collapsed reader and writer, the byte budget. */
#include "harness.h"

#include "flame/stacks.h"

#include <errno.h>

static char *collapsed(const struct stacks *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = stacks_write_collapsed(st, m);
    fclose(m);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int add_line(struct stacks *st, const char *l)
{
    return stacks_add_collapsed(st, l, strlen(l));
}

TEST(same_stacks_share_an_id_and_sum_their_weight)
{
    struct stacks *st = stacks_new(0);
    const char *a[] = {"main", "run", "burn"}, *b[] = {"main", "run"},
               *c[] = {"main", "run", "burn"};
    uint32_t ia = 9, ib = 9, ic = 9;
    CHECK_EQ(stacks_add(st, a, 3, 5, &ia), 0);
    CHECK_EQ(stacks_add(st, b, 2, 2, &ib), 0);
    CHECK_EQ(stacks_add(st, c, 3, 1, &ic), 0);
    CHECK_EQ(ia, 0);
    CHECK_EQ(ib, 1);
    CHECK_EQ(ic, 0);
    CHECK_EQ(stacks_count(st), 2);
    CHECK_EQ(stacks_names(st), 3);
    CHECK_EQ(stacks_total(st), 8);
    const uint32_t *fr;
    size_t n;
    uint64_t w;
    stacks_get(st, 0, &fr, &n, &w);
    CHECK_EQ(n, 3);
    CHECK_EQ(w, 6);
    CHECK_STREQ(stacks_name(st, fr[0]), "main");
    CHECK_STREQ(stacks_name(st, fr[2]), "burn");
    CHECK(stacks_name(st, 3) == NULL);
    CHECK_EQ(stacks_add(st, a, 0, 1, NULL), -EINVAL);
    stacks_free(st);
}

TEST(a_readers_sample_is_leaf_first)
{
    struct stacks *st = stacks_new(0);
    struct jfr_frame fr[] = {{"leaf", 1}, {"mid", 1}, {"root", 0}};
    struct jfr_sample s = {.ev = JFR_ALLOC, .weight = 4096, .nframes = 3, .frames = fr};
    uint32_t id = 9;
    CHECK_EQ(stacks_add_sample(st, &s, &id), 0);
    CHECK_EQ(id, 0);
    char *out = collapsed(st);
    CHECK_STREQ(out, "root;mid;leaf 4096\n");
    free(out);
    stacks_free(st);
}

/* Samples with one nonzero stack key have one stack (jfr.h): the second
 * goes by the key, not its names (here deliberately other names, so the
 * test sees which path it took); key 0 goes by the names. */
/* The stack id of s once added; UINT32_MAX when refused. */
static uint32_t add_id(struct stacks *st, const struct jfr_sample *s)
{
    uint32_t id = 99;
    return stacks_add_sample(st, s, &id) ? UINT32_MAX : id;
}

TEST(a_samples_stack_key_maps_straight_to_its_stack)
{
    struct stacks *st = stacks_new(0);
    struct jfr_frame a[] = {{"leaf", 1}, {"root", 0}}, b[] = {{"other", 1}, {"root", 0}};
    struct jfr_sample s = {.ev = JFR_CPU, .weight = 1, .nframes = 2, .frames = a, .stack_key = 77};
    CHECK_EQ(add_id(st, &s), 0);
    s.frames = b;
    s.weight = 2;
    CHECK_EQ(add_id(st, &s), 0); /* by the key */
    CHECK_EQ(stacks_count(st), 1);
    s.stack_key = 0;
    CHECK_EQ(add_id(st, &s), 1); /* by the names */
    s.frames = a;
    s.stack_key = 78; /* another key, the same frames: the same stack */
    CHECK_EQ(add_id(st, &s), 0);
    s.stack_key = 0;
    CHECK_EQ(add_id(st, &s), 0);
    CHECK_EQ(stacks_count(st), 2);
    CHECK_EQ(stacks_total(st), 9);
    char *out = collapsed(st);
    CHECK_STREQ(out, "root;leaf 7\nroot;other 2\n");
    free(out);
    stacks_free(st);
}

/* More keys than the cache holds (it is emptied when full): every sample
 * still lands on its stack. */
TEST(many_stack_keys_still_aggregate_right)
{
    struct stacks *st = stacks_new(0);
    const char *names[] = {"f0", "f1", "f2", "f3", "f4", "f5", "f6"};
    uint64_t wrong = 0;
    for (uint64_t k = 1; k <= 300000; k++) {
        struct jfr_frame fr[] = {{names[k % 7], 1}, {"root", 0}};
        struct jfr_sample s = {.ev = JFR_CPU, .weight = 1, .nframes = 2, .frames = fr};
        s.stack_key = k % 3 ? k : 0;
        /* ids in first-seen order: f1 is 0; the key seen again: the same */
        for (int twice = 0; twice < 2; twice++)
            wrong += add_id(st, &s) != (k - 1) % 7;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(stacks_count(st), 7);
    CHECK_EQ(stacks_total(st), 600000);
    stacks_free(st);
}

TEST(collapsed_lines_are_read_and_bad_ones_refused)
{
    struct stacks *st = stacks_new(0);
    CHECK_EQ(add_line(st, "a;b;c 3\n"), 0);
    CHECK_EQ(add_line(st, "a;b;c 4\r\n"), 0);
    CHECK_EQ(add_line(st, "a;b with space;c 1"), 0);
    CHECK_EQ(add_line(st, "a;;c 1"), 0); /* an empty frame name is a name */
    CHECK_EQ(add_line(st, "abc"), -EINVAL);
    CHECK_EQ(add_line(st, "a;b x"), -EINVAL);
    CHECK_EQ(add_line(st, "a;b "), -EINVAL);
    CHECK_EQ(add_line(st, " 5"), -EINVAL);
    CHECK_EQ(add_line(st, "a 99999999999999999999999"), -EINVAL);
    CHECK_EQ(stacks_count(st), 3);
    CHECK_EQ(stacks_total(st), 9);
    stacks_free(st);
}

/* Byte order of the whole line, as LC_ALL=C sort: "a/b" before "a;x"
 * ('/' < ';'), which a frame-by-frame order gets wrong. */
TEST(collapsed_output_is_sorted_by_its_text_and_exact)
{
    struct stacks *st = stacks_new(0);
    const char *in[] = {"main;z 1", "a;x 2", "a/b 3", "a;x;y 4", "main;a 5", "a 6", "a;x 7", "B 8"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        CHECK_EQ(add_line(st, in[i]), 0);
    char *out = collapsed(st);
    CHECK_STREQ(out, "B 8\na 6\na/b 3\na;x 9\na;x;y 4\nmain;a 5\nmain;z 1\n");
    free(out);
    stacks_free(st);
}

/* What would pass the budget is refused whole: the model stays as it was,
 * and weight for a stack it already holds (no bytes) is still taken. */
TEST(the_budget_refuses_whole_stacks)
{
    struct stacks *st = stacks_new(4096);
    char line[64];
    int rc = 0, i;
    for (i = 0; i < 1000 && !rc; i++) {
        snprintf(line, sizeof(line), "main;frame%d;leaf%d 1", i, i);
        rc = add_line(st, line);
    }
    CHECK_EQ(rc, -EFBIG);
    size_t n = stacks_count(st), names = stacks_names(st);
    uint64_t total = stacks_total(st);
    CHECK(n > 5 && n < 100);
    CHECK_EQ(total, n);
    CHECK_EQ(add_line(st, line), -EFBIG);
    CHECK_EQ(stacks_count(st), n);
    CHECK_EQ(stacks_names(st), names);
    CHECK_EQ(stacks_total(st), total);
    CHECK_EQ(add_line(st, "main;frame0;leaf0 10"), 0);
    CHECK_EQ(stacks_total(st), total + 10);
    CHECK_EQ(stacks_count(st), n);
    stacks_free(st);
}

/* Many samples over few stacks: the tables grow and ids stay dense. */
TEST(a_million_samples_over_a_thousand_stacks)
{
    struct stacks *st = stacks_new(0);
    char a[32], b[32];
    const char *f[] = {"main", a, b};
    for (int i = 0; i < 1000000; i++) {
        int k = (int)(((long)i * 7919) % 1000);
        snprintf(a, sizeof(a), "mid%d", k % 37);
        snprintf(b, sizeof(b), "leaf%d", k);
        uint32_t id;
        CHECK_EQ(stacks_add(st, f, 3, 1, &id), 0);
        CHECK(id < 1000);
    }
    CHECK_EQ(stacks_count(st), 1000);
    CHECK_EQ(stacks_names(st), 1 + 37 + 1000);
    CHECK_EQ(stacks_total(st), 1000000);
    stacks_free(st);
}

TEST_MAIN(same_stacks_share_an_id_and_sum_their_weight, a_readers_sample_is_leaf_first,
          a_samples_stack_key_maps_straight_to_its_stack, many_stack_keys_still_aggregate_right,
          collapsed_lines_are_read_and_bad_ones_refused,
          collapsed_output_is_sorted_by_its_text_and_exact, the_budget_refuses_whole_stacks,
          a_million_samples_over_a_thousand_stacks)
