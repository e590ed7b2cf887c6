#include "outbox/bounded.h"

#include "core/fsutil.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF 65536

uint64_t bounded_room(const struct bounded *b)
{
    return b->cap > b->written ? b->cap - b->written : 0;
}

int bounded_put(struct bounded *b, const void *data, size_t len)
{
    if (len > bounded_room(b))
        return -EFBIG;
    int rc = len ? b->write(b->arg, data, len) : 0;
    if (rc == 0)
        b->written += len;
    return rc;
}

int bounded_sink(void *arg, const char *data, size_t len)
{
    return bounded_put(arg, data, len);
}

int bounded_copy_fd(struct bounded *b, int in_fd)
{
    struct stat st;
    if (fstat(in_fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > bounded_room(b))
        return -EFBIG;
    char buf[COPY_BUF];
    for (;;) {
        ssize_t n = read(in_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : 0;
        int rc = bounded_put(b, buf, (size_t)n);
        if (rc < 0)
            return rc;
    }
}

int bounded_fd_write(void *arg, const void *data, size_t len)
{
    return fsutil_write_full(*(int *)arg, data, len);
}
