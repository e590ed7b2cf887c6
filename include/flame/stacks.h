/* stacks: distinct call stacks and their summed weight, the one model every
 * renderer reads (collapsed text, flame graph, diff, heat map). Frame names
 * are interned once; a stack is its frames root first. Memory is bounded by
 * the caller's budget: what would pass it is refused, never half-added.
 * Not thread-safe: one owner at a time. */
#ifndef FS_STACKS_H
#define FS_STACKS_H

#include "flame/jfr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct stacks;

/* max_bytes: the most the model may hold (0: 256 MiB). NULL when out of
 * memory. */
struct stacks *stacks_new(size_t max_bytes);
void stacks_free(struct stacks *st);

/* Adds weight under the stack names[0..n) (root first). *id (may be NULL)
 * gets the stack's id (dense, from 0, in first-seen order). Returns 0;
 * -EFBIG past the budget; -ENOMEM; -EINVAL when n is 0. */
int stacks_add(struct stacks *st, const char *const *names, size_t n, uint64_t weight,
               uint32_t *id);

/* The same for a reader's sample (its frames are leaf first). */
int stacks_add_sample(struct stacks *st, const struct jfr_sample *s, uint32_t *id);

/* Adds one collapsed line "a;b;c N" (no newline needed). Returns 0,
 * -EINVAL (not such a line), -EFBIG, -ENOMEM. */
int stacks_add_collapsed(struct stacks *st, const char *line, size_t len);

size_t stacks_count(const struct stacks *st);   /* distinct stacks */
uint64_t stacks_total(const struct stacks *st); /* summed weight */
size_t stacks_names(const struct stacks *st);   /* distinct frame names */
const char *stacks_name(const struct stacks *st, uint32_t name_id);

/* Stack id's frames as name ids (root first) and its weight. */
void stacks_get(const struct stacks *st, uint32_t id, const uint32_t **names, size_t *n,
                uint64_t *weight);

/* Writes "a;b;c N\n" per stack, sorted by stack text, as flamegraph.pl's
 * stackcollapse and async-profiler's collapsed output. -EIO on a write
 * error. */
int stacks_write_collapsed(const struct stacks *st, FILE *out);

#endif
