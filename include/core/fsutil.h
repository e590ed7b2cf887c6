/* fsutil: small file helpers shared by every module that touches the
 * node's own filesystem (never a container's: see rootfs.h for that). */
#ifndef FS_FSUTIL_H
#define FS_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads at most cap-1 bytes of path into buf and NUL-terminates it.
 * Returns the number of bytes read or -errno. */
ssize_t fsutil_read_small(const char *path, char *buf, size_t cap);

/* Reads the whole of an open fd into a malloc'd NUL-terminated buffer the
 * caller frees. Stops with -EFBIG past max bytes. Returns 0 or -errno. */
int fsutil_read_fd_all(int fd, size_t max, char **out, size_t *len);

/* Same for a path (opened O_RDONLY|O_CLOEXEC). */
int fsutil_read_all(const char *path, size_t max, char **out, size_t *len);

/* mkdir -p with mode for every created component. Returns 0 or -errno. */
int fsutil_mkdirs(const char *path, mode_t mode);

/* Writes data to path atomically: path.tmp.<pid> is written, fsync'd and
 * renamed over path, then the directory is fsync'd. Returns 0 or -errno;
 * on failure nothing is left at path.tmp.<pid>. */
int fsutil_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* write(2) until done, retrying EINTR. Returns 0 or -errno. */
int fsutil_write_full(int fd, const void *data, size_t len);

/* fsync the directory containing path. Returns 0 or -errno. */
int fsutil_fsync_parent(const char *path);

/* Size of the file at path, 0 when it cannot be stat'ed. */
uint64_t fsutil_file_size(const char *path);

/* 1 if name is a temp file fsutil_write_atomic() leaves when interrupted
 * ("<name>.tmp.<pid>"), else 0. */
int fsutil_is_atomic_temp(const char *name);

#endif
