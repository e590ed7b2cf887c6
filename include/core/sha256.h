/* sha256: FIPS 180-4 SHA-256, used to give staged agent libraries a
 * content-derived name (a library a JVM has mapped is never rewritten: a
 * different content gets a different name). Pure computation, no I/O
 * except sha256_fd. */
#ifndef FS_SHA256_H
#define FS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN     32
#define SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */

struct sha256 {
    uint32_t h[8];
    uint64_t total;  /* bytes hashed so far */
    uint8_t buf[64]; /* pending partial block */
    size_t n;        /* bytes in buf */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Writes the digest; c must be re-initialised before reuse. */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);

/* One-shot digest of a buffer. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Lower-case hex of a digest into out (SHA256_HEX_LEN bytes). Returns out. */
char *sha256_hex(const uint8_t d[SHA256_LEN], char out[SHA256_HEX_LEN]);

/* Digest of everything readable from fd starting at offset 0 (pread: the
 * file offset is not moved). Blocks on the file's I/O. 0 or -errno. */
int sha256_fd(int fd, uint8_t out[SHA256_LEN]);

#endif
