/* flamegraph: the page's data (frames in preorder, children by name,
 * thin frames merged and said so), options, and names that stay inert. */
#include "harness.h"

#include "flame/flamegraph.h"

static struct stacks *model(const char *const *lines, size_t n)
{
    struct stacks *st = stacks_new(0);
    for (size_t i = 0; i < n; i++)
        if (stacks_add_collapsed(st, lines[i], strlen(lines[i]))) {
            stacks_free(st);
            return NULL;
        }
    return st;
}

static char *page(const struct stacks *st, const struct flamegraph_opts *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = flamegraph_write_html(st, o, m);
    fclose(m);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

TEST(frames_are_written_in_preorder_with_children_by_name)
{
    const char *in[] = {"main;c 30", "main;a;burn 50", "main;a;b;burn 10"};
    struct stacks *st = model(in, 3);
    struct flamegraph_opts o = {.title = "CPU", .unit = "samples"};
    char *html = page(st, &o);
    CHECK(html);
    /* all, main, a, b, burn, burn, c: name ids in the order first written */
    CHECK_CONTAINS(html, "\"nodes\":[1,0,90,2,1,90,3,2,60,4,3,10,5,4,10,5,3,50,6,2,30]");
    CHECK_CONTAINS(html, "\"names\":[\"[merged]\",\"all\",\"main\",\"a\",\"b\",\"burn\",\"c\"]");
    CHECK_CONTAINS(html, "\"total\":90");
    CHECK_CONTAINS(html, "\"merged\":{\"frames\":0,");
    CHECK_CONTAINS(html, "\"icicle\":false");
    CHECK_CONTAINS(html, "<title>CPU</title>");
    CHECK_CONTAINS(html, "FlameGraph.boot()");
    CHECK(!strstr(html, "http://") && !strstr(html, "https://"));
    free(html);
    stacks_free(st);
}

/* Under min_share of the total, a parent's children become one [merged]
 * frame, counted (with their subtrees) in the page's note. */
TEST(thin_frames_are_merged_and_counted)
{
    const char *in[] = {"main;hot 9000", "main;thin1;x 1", "main;thin2 2", "main;thin3;y;z 3",
                        "main;hot;thin4 4"};
    struct stacks *st = model(in, 5);
    struct flamegraph_opts o = {.min_share = 0.001, .icicle = true}; /* threshold 9 */
    char *html = page(st, &o);
    CHECK(html);
    CHECK_CONTAINS(html, "\"nodes\":[1,0,9010,2,1,9010,3,2,9004,0,3,4,0,2,6]");
    CHECK_CONTAINS(html, "\"merged\":{\"frames\":7,\"blocks\":2,\"weight\":10,");
    CHECK_CONTAINS(html, "\"icicle\":true");
    CHECK_CONTAINS(html, "\"minShare\":0.001");
    free(html);
    stacks_free(st);
}

TEST(hostile_names_and_titles_are_escaped)
{
    const char *in[] = {"main;</script><img src=x onerror=alert(1)>;\"q\\\" 5",
                        "main;a&b\xe2\x80\xa8"
                        "c 1"};
    struct stacks *st = model(in, 2);
    struct flamegraph_opts o = {.title = "t</title><script>alert(2)</script>"};
    char *html = page(st, &o);
    CHECK(html);
    CHECK(!strstr(html, "<img"));
    CHECK(!strstr(html, "alert(2)</script>"));
    CHECK_CONTAINS(html, "\"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e\"");
    CHECK_CONTAINS(html, "\"\\\"q\\\\\\\"\"");
    CHECK_CONTAINS(html, "\"a\\u0026b\\u2028c\"");
    CHECK_CONTAINS(html, "<title>t&lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;</title>");
    /* the page's own script elements only: data, flame.js, boot */
    int scripts = 0;
    for (const char *p = html; (p = strstr(p, "<script")); p++)
        scripts++;
    CHECK_EQ(scripts, 3);
    free(html);
    stacks_free(st);
}

TEST(an_empty_model_gives_an_empty_graph)
{
    struct stacks *st = stacks_new(0);
    char *html = page(st, NULL);
    CHECK(html);
    CHECK_CONTAINS(html, "\"nodes\":[]");
    CHECK_CONTAINS(html, "\"total\":0");
    CHECK_CONTAINS(html, "</html>");
    free(html);
    stacks_free(st);
}

TEST_MAIN(frames_are_written_in_preorder_with_children_by_name, thin_frames_are_merged_and_counted,
          hostile_names_and_titles_are_escaped, an_empty_model_gives_an_empty_graph)
