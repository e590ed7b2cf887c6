/* diff: a differential flame graph (Gregg's red/blue): the shape of the
 * newer capture, each frame coloured by how its share of the total changed
 * from the base (red grew, blue shrank, white the same), the two captures
 * normalised by their total weight so a longer capture is not "hotter". A
 * frame only the base had is shown as gone in the hover and the legend.
 * Same page and controls as flamegraph.h. */
#ifndef FS_DIFF_H
#define FS_DIFF_H

#include "flame/flamegraph.h"

/* Returns 0, -ENOMEM, -EIO. */
int diff_write_html(const struct stacks *base, const struct stacks *cur,
                    const struct flamegraph_opts *o, FILE *out);

#endif
