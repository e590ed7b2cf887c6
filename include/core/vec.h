/* vec: room for one more element in a growable array, the step every
 * table of the agent (targets, Pods, watched cgroups, ...) repeats. */
#ifndef FS_CORE_VEC_H
#define FS_CORE_VEC_H

#include <stddef.h>

/* slot is the address of the array's pointer (struct x **), holding n
 * elements of size sz in room for *cap. When n == *cap, doubles the room
 * (first when there is none) with realloc and updates *slot and *cap.
 * 0, or -ENOMEM with the array unchanged. */
int vec_grow(void *slot, size_t *cap, size_t n, size_t sz, size_t first);

#endif
