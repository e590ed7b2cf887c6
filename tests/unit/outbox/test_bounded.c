/* The bounded writer: the cap holds for every byte, a sparse file of any
 * size is refused before a byte is read, a stream that does not stop is
 * cut. Real files and pipes. */
#include "harness.h"
#include "outbox/bounded.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A write function keeping what it got in memory. */
struct mem {
    char data[8192];
    size_t len;
    int fail; /* -errno to return instead */
};

static int mem_write(void *arg, const void *data, size_t len)
{
    struct mem *m = arg;
    if (m->fail)
        return m->fail;
    if (m->len + len > sizeof(m->data))
        return -ENOBUFS;
    memcpy(m->data + m->len, data, len);
    m->len += len;
    return 0;
}

static int tmpfile_fd(char *path)
{
    strcpy(path, "/tmp/test_bounded.XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

TEST(puts_up_to_the_cap_and_refuses_the_write_that_passes_it_whole)
{
    struct mem m = {0};
    struct bounded b = {.write = mem_write, .arg = &m, .cap = 10};
    CHECK_EQ(bounded_put(&b, "hello", 5), 0);
    CHECK_EQ(bounded_sink(&b, "world", 5), 0); /* exactly the cap */
    CHECK_EQ(bounded_room(&b), 0);
    CHECK_EQ(bounded_put(&b, "!", 1), -EFBIG);
    CHECK_EQ(bounded_put(&b, "", 0), 0);
    CHECK_EQ(m.len, 10);
    CHECK_EQ(b.written, 10);
    struct bounded c = {.write = mem_write, .arg = &m, .cap = 4};
    CHECK_EQ(bounded_put(&c, "12345", 5), -EFBIG); /* nothing of it passed */
    CHECK_EQ(c.written, 0);
    CHECK_EQ(m.len, 10);
    m.fail = -ENOSPC; /* the write function's error comes back, nothing counted */
    CHECK_EQ(bounded_put(&c, "1", 1), -ENOSPC);
    CHECK_EQ(c.written, 0);
}

TEST(copies_a_regular_file_within_the_cap)
{
    char path[64];
    int in = tmpfile_fd(path), out = tmpfile_fd(path);
    CHECK(in >= 0 && out >= 0);
    static char buf[200000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)(i * 7);
    CHECK_EQ(write(in, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    lseek(in, 0, SEEK_SET);
    struct bounded b = {.write = bounded_fd_write, .arg = &out, .cap = sizeof(buf)};
    CHECK_EQ(bounded_copy_fd(&b, in), 0);
    CHECK_EQ(b.written, sizeof(buf));
    static char back[sizeof(buf)];
    CHECK_EQ(pread(out, back, sizeof(back), 0), (ssize_t)sizeof(back));
    CHECK(memcmp(buf, back, sizeof(buf)) == 0);
    close(in);
    close(out);
}

TEST(a_sparse_file_over_the_cap_is_refused_before_a_byte_is_read)
{
    char path[64];
    struct mem m = {0};
    int in = tmpfile_fd(path);
    CHECK(in >= 0);
    CHECK_EQ(ftruncate(in, 4ll << 40), 0); /* 4 TiB, no blocks */
    struct bounded b = {.write = mem_write, .arg = &m, .cap = 256u << 20};
    CHECK_EQ(bounded_copy_fd(&b, in), -EFBIG);
    CHECK_EQ(lseek(in, 0, SEEK_CUR), 0); /* never read */
    CHECK_EQ(m.len, 0);
    /* one byte over is as much over */
    CHECK_EQ(ftruncate(in, 100), 0);
    struct bounded c = {.write = mem_write, .arg = &m, .cap = 99};
    CHECK_EQ(bounded_copy_fd(&c, in), -EFBIG);
    CHECK_EQ(lseek(in, 0, SEEK_CUR), 0);
    close(in);
}

static void *stream_forever(void *arg)
{
    int fd = *(int *)arg;
    static char chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    while (write(fd, chunk, sizeof(chunk)) > 0)
        ;
    close(fd);
    return NULL;
}

TEST(a_stream_that_does_not_stop_is_cut_at_the_cap)
{
    int p[2];
    signal(SIGPIPE, SIG_IGN); /* the streamer ends on EPIPE */
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, stream_forever, &p[1]), 0);
    struct mem m = {0};
    struct bounded b = {.write = mem_write, .arg = &m, .cap = 5000};
    CHECK_EQ(bounded_copy_fd(&b, p[0]), -EFBIG);
    CHECK(b.written <= 5000);
    CHECK_EQ(m.len, b.written);
    close(p[0]); /* the writer gets EPIPE and ends */
    pthread_join(t, NULL);
}

TEST_MAIN(puts_up_to_the_cap_and_refuses_the_write_that_passes_it_whole,
          copies_a_regular_file_within_the_cap,
          a_sparse_file_over_the_cap_is_refused_before_a_byte_is_read,
          a_stream_that_does_not_stop_is_cut_at_the_cap)
