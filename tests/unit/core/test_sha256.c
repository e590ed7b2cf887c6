/* SHA-256 against the FIPS 180-4 / NIST CAVP example vectors. */
#include "harness.h"
#include "core/sha256.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static const char *hex_of(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
    uint8_t d[SHA256_LEN];
    sha256(data, len, d);
    return sha256_hex(d, out);
}

TEST(empty_string)
{
    char h[SHA256_HEX_LEN];
    CHECK_STREQ(hex_of("", 0, h),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(abc)
{
    char h[SHA256_HEX_LEN];
    CHECK_STREQ(hex_of("abc", 3, h),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(two_blocks_448_bits)
{
    char h[SHA256_HEX_LEN];
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_STREQ(hex_of(m, strlen(m), h),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(two_blocks_896_bits)
{
    char h[SHA256_HEX_LEN];
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                    "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK_STREQ(hex_of(m, strlen(m), h),
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* A million 'a' fed in odd-sized pieces exercises the partial-block path. */
TEST(million_a_incremental)
{
    char chunk[997];
    memset(chunk, 'a', sizeof(chunk));
    struct sha256 c;
    sha256_init(&c);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        sha256_update(&c, chunk, n);
        left -= n;
    }
    uint8_t d[SHA256_LEN];
    char h[SHA256_HEX_LEN];
    sha256_final(&c, d);
    CHECK_STREQ(sha256_hex(d, h),
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 55/56/64-byte padding boundaries agree between the
 * one-shot and the byte-at-a-time paths. */
TEST(padding_boundaries)
{
    char m[130];
    memset(m, 'x', sizeof(m));
    for (size_t len = 50; len < sizeof(m); len++) {
        uint8_t a[SHA256_LEN], b[SHA256_LEN];
        sha256(m, len, a);
        struct sha256 c;
        sha256_init(&c);
        for (size_t i = 0; i < len; i++)
            sha256_update(&c, m + i, 1);
        sha256_final(&c, b);
        CHECK_MSG(memcmp(a, b, SHA256_LEN) == 0, "length %zu differs", len);
    }
}

TEST(digest_of_fd)
{
    char path[] = "/tmp/test_sha256_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK(write(fd, "abc", 3) == 3);
    uint8_t d[SHA256_LEN];
    char h[SHA256_HEX_LEN];
    int rc = sha256_fd(fd, d);
    close(fd);
    CHECK_EQ(rc, 0);
    CHECK_STREQ(sha256_hex(d, h),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_MAIN(empty_string, abc, two_blocks_448_bits, two_blocks_896_bits, million_a_incremental,
          padding_boundaries, digest_of_fd)
