/* multipart: the exact body Go's mime/multipart writes for Flameshot's Go
 * upload (file parts from one payload at offsets, then event.json), read
 * in pieces of every size, its announced length, a rewind, and a payload
 * shorter than its parts. */
#include "harness.h"

#include "outbox/multipart.h"

#include <errno.h>
#include <fcntl.h>

static int payload(const char *text)
{
    char path[] = "/tmp/test_multipart_XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    if (fd >= 0 && write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return -1;
    }
    return fd;
}

static size_t read_all(struct multipart *mp, char *buf, size_t cap, size_t step)
{
    size_t n = 0;
    ssize_t k;
    while (n < cap && (k = multipart_read(mp, buf + n, step < cap - n ? step : cap - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    return n;
}

static const char *const want =
    "--B0UND\r\n"
    "Content-Disposition: form-data; name=\"cpu.pprof\"; filename=\"cpu.pprof\"\r\n"
    "Content-Type: application/octet-stream\r\n\r\n"
    "CPU\r\n"
    "--B0UND\r\n"
    "Content-Disposition: form-data; name=\"delta-heap.pprof\"; filename=\"delta-heap.pprof\"\r\n"
    "Content-Type: application/octet-stream\r\n\r\n"
    "HEAPHEAP\r\n"
    "--B0UND\r\n"
    "Content-Disposition: form-data; name=\"event\"; filename=\"event.json\"\r\n"
    "Content-Type: application/json\r\n\r\n"
    "{\"family\":\"go\"}\r\n"
    "--B0UND--\r\n";

TEST(the_body_is_go_mime_multipart_layout_in_any_pieces)
{
    int fd = payload("CPUHEAPHEAP");
    CHECK(fd >= 0);
    struct multipart_part parts[] = {
        {"cpu.pprof", "cpu.pprof", "application/octet-stream", NULL, fd, 0, 3},
        {"delta-heap.pprof", "delta-heap.pprof", "application/octet-stream", NULL, fd, 3, 8},
        {"event", "event.json", "application/json", "{\"family\":\"go\"}", -1, 0, 15},
    };
    struct multipart mp;
    char buf[2048], ct[128];
    CHECK_EQ(multipart_init(&mp, parts, 3, "B0UND"), 0);
    CHECK_EQ(multipart_length(&mp), strlen(want));
    CHECK_STREQ(multipart_content_type(&mp, ct, sizeof(ct)), "multipart/form-data; boundary=B0UND");
    size_t steps[] = {1, 3, 64, 4096};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        multipart_rewind(&mp);
        CHECK_EQ(read_all(&mp, buf, sizeof(buf) - 1, steps[i]), strlen(want));
        CHECK_STREQ(buf, want);
        CHECK_EQ(multipart_read(&mp, buf, sizeof(buf)), 0);
    }
    close(fd);
}

TEST(a_payload_shorter_than_its_parts_is_an_error)
{
    int fd = payload("CPU");
    struct multipart_part parts[] = {
        {"cpu.pprof", "cpu.pprof", "application/octet-stream", NULL, fd, 0, 10}};
    struct multipart mp;
    char buf[4096];
    CHECK_EQ(multipart_init(&mp, parts, 1, "x"), 0);
    ssize_t k = 1;
    while (k > 0)
        k = multipart_read(&mp, buf, sizeof(buf));
    CHECK_EQ(k, -EIO);
    close(fd);
}

TEST(names_and_boundaries_that_would_break_the_body_are_refused)
{
    struct multipart_part ok = {"a", "a", "t", "x", -1, 0, 1};
    struct multipart_part quote = {"a\"b", "a", "t", "x", -1, 0, 1};
    struct multipart_part crlf = {"a", "a\r\nX-Evil: 1", "t", "x", -1, 0, 1};
    struct multipart mp;
    CHECK_EQ(multipart_init(&mp, &ok, 1, "abc"), 0);
    CHECK_EQ(multipart_init(&mp, &quote, 1, "abc"), -EINVAL);
    CHECK_EQ(multipart_init(&mp, &crlf, 1, "abc"), -EINVAL);
    CHECK_EQ(multipart_init(&mp, &ok, 1, "a b"), -EINVAL);
    CHECK_EQ(multipart_init(&mp, &ok, 1, ""), -EINVAL);
    CHECK_EQ(multipart_init(&mp, &ok, 0, "abc"), -EINVAL);
}

TEST_MAIN(the_body_is_go_mime_multipart_layout_in_any_pieces,
          a_payload_shorter_than_its_parts_is_an_error,
          names_and_boundaries_that_would_break_the_body_are_refused)
