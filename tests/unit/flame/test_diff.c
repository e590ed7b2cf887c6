/* diff: the newer capture's shape with the base's weight beside each
 * frame, and the frames only the base had listed as gone. */
#include "harness.h"

#include "flame/diff.h"

static struct stacks *model(const char *const *lines, size_t n)
{
    struct stacks *st = stacks_new(0);
    for (size_t i = 0; i < n; i++)
        stacks_add_collapsed(st, lines[i], strlen(lines[i]));
    return st;
}

/* the page diff_write_html writes (malloc'd), NULL when it fails */
static char *page(const struct stacks *base, const struct stacks *cur)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    int rc = diff_write_html(base, cur, NULL, m);
    fclose(m);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

TEST(base_weights_sit_beside_the_newer_shape)
{
    const char *b[] = {"main;a;burn 40", "main;c 40", "main;old;deep 10", "main;s 10"};
    const char *c[] = {"main;a;burn 140", "main;c 40", "main;s 20"};
    struct stacks *base = model(b, 4), *cur = model(c, 3);
    char *buf = page(base, cur);
    CHECK(buf);
    CHECK_CONTAINS(buf, "\"kind\":\"diff\"");
    CHECK_CONTAINS(buf, "\"stride\":5");
    /* name, depth, weight, base, gone below: main has 10 gone (old) */
    CHECK_CONTAINS(buf, "\"nodes\":[1,0,200,100,0,2,1,200,100,10,3,2,140,40,0,4,3,140,40,0,"
                        "5,2,40,40,0,6,2,20,10,0]");
    CHECK_CONTAINS(buf, "\"gone\":[[\"main;old\",10]],\"goneCount\":1,\"baseTotal\":100");
    CHECK(!strstr(buf, "\"deep\""));
    free(buf);
    stacks_free(base);
    stacks_free(cur);
}

/* two captures of the same stacks: nothing gone (UBSan caught the sort of
 * an empty list, which killed the ASan daemon in 42_http_ui) */
TEST(same_stacks_nothing_gone)
{
    const char *b[] = {"main;a;burn 40", "main;c 40"};
    struct stacks *base = model(b, 2), *cur = model(b, 2);
    char *buf = page(base, cur);
    CHECK(buf);
    CHECK_CONTAINS(buf, "\"gone\":[],\"goneCount\":0");
    free(buf);
    stacks_free(base);
    stacks_free(cur);
}

TEST_MAIN(base_weights_sit_beside_the_newer_shape, same_stacks_nothing_gone)
