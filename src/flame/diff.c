#include "flame/diff.h"

#include "flame/flamepage.h"

#include <errno.h>

/* The tree takes the newer capture's shape; the base only adds weight
 * beside it (a frame only the base had has no drawn weight: "gone"). */
int diff_write_html(const struct stacks *base, const struct stacks *cur,
                    const struct flamegraph_opts *o, FILE *out)
{
    struct fpage_tree *t = fpage_tree_new();
    if (!t)
        return -ENOMEM;
    int rc = fpage_tree_add(t, cur, false);
    if (!rc)
        rc = fpage_tree_add(t, base, true);
    if (!rc) {
        fpage_begin(out, o, false);
        fpage_opts_json(out, o);
        fputs("\"kind\":\"diff\",", out);
        rc = fpage_tree_write(t, fpage_min_share(o), out);
    }
    if (!rc)
        rc = fpage_end(out, false, "FlameGraph.boot()");
    fpage_tree_free(t);
    return rc;
}
