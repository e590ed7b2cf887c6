/* flamepage: what the flame graph, diff and heat map pages share. A call
 * tree merged from one or two stacks models (the newer one's shape, the
 * base's weight beside it), written as the JSON the page's script draws
 * (frames too thin to see merged), and the page around it: head, inline
 * CSS and scripts (embedded at build time from src/flame/page/), escaping
 * that keeps any frame name inert inside HTML and <script>. Not
 * thread-safe: one owner at a time. */
#ifndef FS_FLAMEPAGE_H
#define FS_FLAMEPAGE_H

#include "flame/flamegraph.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct fpage_tree;

/* NULL when out of memory. */
struct fpage_tree *fpage_tree_new(void);
void fpage_tree_free(struct fpage_tree *t);

/* Adds every stack of st under the root: to the drawn weight, or (base)
 * to the base weight beside it. The names are borrowed: st must outlive
 * the tree. Returns 0 or -ENOMEM. */
int fpage_tree_add(struct fpage_tree *t, const struct stacks *st, bool base);

/* Writes the tree as JSON members (no braces): "names", "nodes" (preorder
 * name, depth, weight[, base, gone base] with "stride"), "total",
 * "merged" (frames under min_share of the total folded per parent into one
 * frame), and with a base "baseTotal" and "gone" (the largest frames only
 * the base had). Returns 0, -ENOMEM, -EIO. */
int fpage_tree_write(const struct fpage_tree *t, double min_share, FILE *out);

/* A JSON string of s, safe inside a <script> element: <, >, &, U+2028 and
 * U+2029 escaped besides JSON's own. */
void fpage_json_str(FILE *out, const char *s);

/* The page up to the start of its data (<script type="application/json">
 * opened) and, after the caller's data, the rest: the scripts (the heat
 * map's too when heatmap) and a call of boot, e.g. "FlameGraph.boot()". */
void fpage_begin(FILE *out, const struct flamegraph_opts *o, bool heatmap);
int fpage_end(FILE *out, bool heatmap, const char *boot);

/* The options' common members as JSON ("title", "subtitle", "unit",
 * "icicle", "minShare", each followed by a comma). */
void fpage_opts_json(FILE *out, const struct flamegraph_opts *o);

double fpage_min_share(const struct flamegraph_opts *o);

#endif
