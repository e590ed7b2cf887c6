/* hash: the integer mix and byte-string hash the in-memory tables share
 * (flame's stacks model, the JFR reader's maps, its test tool). Not for
 * anything an attacker may collide on purpose where it matters: tables
 * using it are bounded by their callers. Header-only. */
#ifndef FS_HASH_H
#define FS_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* MurmurHash3's 64-bit finaliser (first half): spreads every input bit. */
static inline uint64_t hash_mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
}

/* Eight bytes a step: names and stacks are long, and a byte-wise hash
 * was half the time of aggregating a large profile. */
static inline uint64_t hash_bytes64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = n * 0x9e3779b97f4a7c15ull, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ hash_mix64(w)) * 0x100000001b3ull;
    }
    w = 0;
    memcpy(&w, s, n);
    return hash_mix64(h ^ w);
}

#endif
