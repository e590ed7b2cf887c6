/* multipart: a multipart/form-data body (RFC 7578) produced as a stream,
 * laid out as Go's mime/multipart writes it (Flameshot's uploads): each
 * part "--boundary", Content-Disposition with name and filename,
 * Content-Type, a blank line, the bytes; then "--boundary--". File parts
 * are read from an fd at an offset (a Go profile's attachments lie one
 * after another in one outbox payload), never held in memory whole. The
 * length is known before the first byte, so the body goes out with a
 * Content-Length. Not thread-safe; no allocation. */
#ifndef FS_MULTIPART_H
#define FS_MULTIPART_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct multipart_part {
    const char *name, *filename, *type; /* no '"', CR or LF */
    const char *data;                   /* the bytes in memory; NULL: read from fd */
    int fd;
    uint64_t offset, size; /* of fd; size is data's length when data is set */
};

#define MULTIPART_MAX_PARTS 8

struct multipart {
    const struct multipart_part *parts;
    size_t n;
    char boundary[72];
    size_t seg;   /* 2i: part i's head, 2i+1: its bytes, 2n: the close */
    uint64_t pos; /* within seg */
    char head[512];
};

/* Sets the body up over parts[0..n) (kept by reference: they must
 * outlive mp) with boundary (1..70 characters of [0-9A-Za-z'()+_,-./:=?],
 * RFC 2046). Returns 0 or -EINVAL (a bad boundary or name, n = 0 or more
 * than MULTIPART_MAX_PARTS). */
int multipart_init(struct multipart *mp, const struct multipart_part *parts, size_t n,
                   const char *boundary);

/* The whole body's length in bytes. */
uint64_t multipart_length(const struct multipart *mp);

/* The next bytes of the body, at most cap, into buf. Returns how many, 0
 * at the end, or -errno (a read error; -EIO when a file part ends before
 * its size). Blocks on the parts' fds. */
ssize_t multipart_read(struct multipart *mp, char *buf, size_t cap);

/* Back to the first byte (a retried upload). */
void multipart_rewind(struct multipart *mp);

/* "multipart/form-data; boundary=..." into buf. Returns buf. */
char *multipart_content_type(const struct multipart *mp, char *buf, size_t cap);

#endif
