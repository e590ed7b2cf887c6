/* bounded: the one way the bytes of an artefact are written, under a cap
 * checked while they are written. What a container hands us (jcmd output
 * from its JVM, the JFR file in its /tmp) is under its control: it may
 * stream forever or plant a sparse file of terabytes, and neither may
 * reach the node's disk. A bounded writer passes bytes on to a write
 * function (an outbox payload: outbox.h; a plain fd: bounded_fd_write) and
 * refuses, whole, any write that would take it past its cap.
 * Not thread-safe: one writer per artefact, used by one thread at a time. */
#ifndef FS_BOUNDED_H
#define FS_BOUNDED_H

#include <stddef.h>
#include <stdint.h>

/* Writes all of data or fails. Returns 0 or -errno. */
typedef int (*bounded_write_fn)(void *arg, const void *data, size_t len);

struct bounded {
    bounded_write_fn write;
    void *arg;
    uint64_t cap;     /* at most this many bytes in all */
    uint64_t written; /* bytes passed on so far */
};

/* Passes data on. Returns 0; -EFBIG when written + len would exceed cap
 * (nothing of data is passed on); or the write function's -errno. */
int bounded_put(struct bounded *b, const void *data, size_t len);

/* bounded_put in the shape of an attach_sink_fn (arg: struct bounded *). */
int bounded_sink(void *arg, const char *data, size_t len);

/* Copies in_fd from its offset to its end through bounded_put. A regular
 * file larger (fstat) than the room left is refused with -EFBIG before a
 * byte is read, so a sparse file of any size costs nothing; anything else
 * (a pipe, a file growing meanwhile) is read at most one buffer past the
 * room before -EFBIG. Blocks on in_fd. Returns 0, -EFBIG or -errno. */
int bounded_copy_fd(struct bounded *b, int in_fd);

/* A bounded_write_fn writing to the fd at arg (int *), for callers that
 * keep an artefact in a plain file (tools, tests). */
int bounded_fd_write(void *arg, const void *data, size_t len);

/* The room left: cap - written. */
uint64_t bounded_room(const struct bounded *b);

#endif
