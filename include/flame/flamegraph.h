/* flamegraph: one self-contained interactive HTML file (no network, no
 * external script) drawing a stacks model as a flame graph: width is
 * weight; hover shows name, weight in its unit and percent; click zooms,
 * reset; search (regex) highlights matches and says their share of the
 * total; icicle (root on top) as an option and a toggle. Frames too thin
 * to see at full width are merged so 100k distinct stacks stay readable
 * and the file stays bounded. */
#ifndef FS_FLAMEGRAPH_H
#define FS_FLAMEGRAPH_H

#include "flame/stacks.h"

#include <stdbool.h>
#include <stdio.h>

struct flamegraph_opts {
    const char *title;    /* "CPU profile: checkout-7d9f (service checkout)" */
    const char *subtitle; /* NULL: none (e.g. the time range shown) */
    const char *unit;     /* "samples", "bytes", "ns" */
    bool icicle;          /* root on top */
    double min_share;     /* merge frames under this share of the total (0: 1e-4) */
};

/* Writes the page. Returns 0, -ENOMEM, -EIO (write). */
int flamegraph_write_html(const struct stacks *st, const struct flamegraph_opts *o, FILE *out);

#endif
