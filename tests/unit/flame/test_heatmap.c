/* heatmap: which cell a sample lands in (bucket and second edges), the
 * per-cell lists the page carries, refusals. */
#include "harness.h"

#include "flame/heatmap.h"

#include <errno.h>

#define S0 1700000000000000000ll

static int add(struct heatmap *h, int64_t ts, const char *leaf, uint64_t w)
{
    struct jfr_frame fr[] = {{leaf, 1}, {"main", 0}};
    struct jfr_sample s = {.ev = JFR_CPU, .ts_ns = ts, .weight = w, .nframes = 2, .frames = fr};
    return heatmap_add(h, &s);
}

static char *page(const struct heatmap *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = heatmap_write_html(h, NULL, m);
    fclose(m);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* cells: index (column * rows + row), entries, then (stack, weight, samples) */
TEST(samples_land_in_their_bucket_at_the_edges)
{
    struct heatmap *h = heatmap_new(S0, 0, 0);
    CHECK_EQ(add(h, S0, "a", 1), 0);              /* cell 0 */
    CHECK_EQ(add(h, S0 + 19999999, "a", 2), 0);   /* still row 0 */
    CHECK_EQ(add(h, S0 + 20000000, "b", 1), 0);   /* row 1 */
    CHECK_EQ(add(h, S0 + 999999999, "c", 1), 0);  /* row 49 */
    CHECK_EQ(add(h, S0 + 1000000000, "a", 5), 0); /* column 1, row 0: cell 50 */
    CHECK_EQ(add(h, S0 + 3999999999, "b", 1), 0); /* column 3, row 49: cell 199 */
    CHECK_EQ(add(h, S0 - 1, "a", 1), -ERANGE);
    char *html = page(h);
    CHECK(html);
    CHECK_CONTAINS(html, "\"rows\":50,\"cols\":4,");
    CHECK_CONTAINS(html, "\"startNs\":\"1700000000000000000\"");
    CHECK_CONTAINS(html, "\"stacks\":[[0,1],[0,2],[0,3]]");
    CHECK_CONTAINS(html, "\"cells\":[0,1,0,3,2,1,1,1,1,1,49,1,2,1,1,50,1,0,5,1,199,1,1,1,1]");
    CHECK_CONTAINS(html, "HeatMap.boot()");
    free(html);
    heatmap_free(h);
}

TEST(rows_set_the_bucket_width)
{
    struct heatmap *h = heatmap_new(0, 10, 0); /* 100 ms buckets */
    CHECK_EQ(add(h, 99999999, "a", 1), 0);
    CHECK_EQ(add(h, 100000000, "a", 1), 0);
    CHECK_EQ(add(h, 2950000000, "a", 1), 0);
    char *html = page(h);
    CHECK(html);
    CHECK_CONTAINS(html, "\"rows\":10,\"cols\":3,");
    CHECK_CONTAINS(html, "\"cells\":[0,1,0,1,1,1,1,0,1,1,29,1,0,1,1]");
    free(html);
    heatmap_free(h);
}

TEST(the_budget_refuses_new_cells)
{
    struct heatmap *h = heatmap_new(0, 50, 8192);
    int rc = 0;
    long i;
    for (i = 0; i < 100000 && !rc; i++)
        rc = add(h, i * 20000000, "a", 1);
    CHECK_EQ(rc, -EFBIG);
    CHECK(i > 10);
    CHECK_EQ(add(h, 0, "a", 1), 0); /* a cell it holds still adds */
    heatmap_free(h);
}

TEST_MAIN(samples_land_in_their_bucket_at_the_edges, rows_set_the_bucket_width,
          the_budget_refuses_new_cells)
