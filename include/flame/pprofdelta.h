/* pprofdelta: what a cumulative Go profile gained between two pulls.
 * Go's heap (alloc_*), mutex and block profiles count from the process's
 * start; Flameshot uploads them as the difference between consecutive
 * pulls of the same process (delta-heap.pprof, ...), and so do we.
 *
 * The delta is the newer profile with, on each stack, the older pull's
 * values subtracted for the listed sample types; the other sample types
 * (heap's inuse_*: a state, not a count) keep the newer values. Samples
 * are matched by what they mean, not by ids (a location id may differ
 * between pulls): the stack resolved to function name, system name, file
 * and line of every frame (mapping file and address for an unsymbolised
 * one), plus the sample's labels. Samples with the same key are summed,
 * as pprof's merge does. A stack only the older pull has (a cumulative
 * count never loses one) is left out instead of sent negative; a sample
 * whose values all end at zero is left out, as pprof's merge does.
 * time_nanos is the newer pull's, duration_nanos the time between them.
 * Pure computation; thread-safe. */
#ifndef FS_PPROFDELTA_H
#define FS_PPROFDELTA_H

#include "flame/pprof.h"

#include <stddef.h>

struct pprofdelta_type {
    const char *type, *unit; /* "alloc_space", "bytes" */
};

/* prev and cur: the encoded pulls (gzip'd or not). Writes the delta,
 * gzip'd, into *out (malloc'd, caller frees). Returns 0; -EINVAL when
 * either is not a profile, a listed sample type is missing, or the two
 * have different sample types (why says which); -EFBIG (pprof_parse);
 * -ENOMEM. */
int pprofdelta(const void *prev, size_t prevlen, const void *cur, size_t curlen,
               const struct pprofdelta_type *types, size_t ntypes, void **out, size_t *outlen,
               char *why, size_t whycap);

/* The same on parsed profiles; the delta is written as above. */
int pprofdelta_profiles(const struct pprof_profile *prev, const struct pprof_profile *cur,
                        const struct pprofdelta_type *types, size_t ntypes, void **out,
                        size_t *outlen, char *why, size_t whycap);

#endif
