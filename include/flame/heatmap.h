/* heatmap: FlameScope's sub-second offset heat map. Columns are whole
 * seconds since the recording's start, rows the offset within the second
 * in equal buckets (50 rows: 20 ms each), a cell's colour the weight of the
 * samples that fell in it. The page is self-contained: it carries the
 * stacks and, per cell, which stacks and how much, so selecting a start
 * cell and an end cell draws the flame graph of exactly the samples in
 * that range (start of the first cell to end of the last, inclusive)
 * without asking anyone. Bounded by the stacks budget and the cells. */
#ifndef FS_HEATMAP_H
#define FS_HEATMAP_H

#include "flame/flamegraph.h"

#include <stdint.h>

struct heatmap;

/* start_ns: the recording's start (column 0); rows: buckets per second
 * (0: 50); max_bytes: the budget for stacks and cells (0: 256 MiB). */
struct heatmap *heatmap_new(int64_t start_ns, unsigned rows, size_t max_bytes);
void heatmap_free(struct heatmap *h);

/* Adds a sample at its time (before the start: refused with -ERANGE).
 * Returns 0, -ERANGE, -EFBIG (budget), -ENOMEM. */
int heatmap_add(struct heatmap *h, const struct jfr_sample *s);

/* Writes the page; o's title and unit label it. Returns 0, -ENOMEM, -EIO. */
int heatmap_write_html(const struct heatmap *h, const struct flamegraph_opts *o, FILE *out);

#endif
