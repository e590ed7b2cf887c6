#include "flame/flamegraph.h"

#include "flame/flamepage.h"

#include <errno.h>

int flamegraph_write_html(const struct stacks *st, const struct flamegraph_opts *o, FILE *out)
{
    struct fpage_tree *t = fpage_tree_new();
    if (!t)
        return -ENOMEM;
    int rc = fpage_tree_add(t, st, false);
    if (!rc) {
        fpage_begin(out, o, false);
        fpage_opts_json(out, o);
        fputs("\"kind\":\"flame\",", out);
        rc = fpage_tree_write(t, fpage_min_share(o), out);
    }
    if (!rc)
        rc = fpage_end(out, false, "FlameGraph.boot()");
    fpage_tree_free(t);
    return rc;
}
