#include "core/vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vec_grow(void *slot, size_t *cap, size_t n, size_t sz, size_t first)
{
    if (n < *cap)
        return 0;
    /* the pointer is copied, not cast: slot may be any struct x ** */
    void *old;
    memcpy(&old, slot, sizeof(old));
    size_t c = *cap ? *cap * 2 : first;
    if (c < n + 1 || c > SIZE_MAX / sz)
        return -ENOMEM;
    void *grown = realloc(old, c * sz);
    if (!grown)
        return -ENOMEM;
    memcpy(slot, &grown, sizeof(grown));
    *cap = c;
    // cppcheck-suppress memleak ; grown is owned through *slot (copied, not assigned)
    return 0;
}
