#include "outbox/multipart.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool plain(const char *s)
{
    return s && *s && !strpbrk(s, "\"\r\n");
}

int multipart_init(struct multipart *mp, const struct multipart_part *parts, size_t n,
                   const char *boundary)
{
    size_t bl = boundary ? strlen(boundary) : 0;
    memset(mp, 0, sizeof(*mp));
    if (!n || n > MULTIPART_MAX_PARTS || !bl || bl > 70 ||
        strspn(boundary,
               "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?") != bl)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!plain(parts[i].name) || !plain(parts[i].filename) || !plain(parts[i].type) ||
            strlen(parts[i].name) + strlen(parts[i].filename) + strlen(parts[i].type) > 300)
            return -EINVAL;
    mp->parts = parts;
    mp->n = n;
    memcpy(mp->boundary, boundary, bl + 1);
    return 0;
}

/* The text of segment seg (a head or the close) into buf; its length. */
static size_t seg_text(const struct multipart *mp, size_t seg, char *buf, size_t cap)
{
    if (seg == 2 * mp->n)
        return (size_t)snprintf(buf, cap, "\r\n--%s--\r\n", mp->boundary);
    const struct multipart_part *p = &mp->parts[seg / 2];
    return (size_t)snprintf(buf, cap,
                            "%s--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                            "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
                            seg ? "\r\n" : "", mp->boundary, p->name, p->filename, p->type);
}

uint64_t multipart_length(const struct multipart *mp)
{
    char buf[sizeof(mp->head)];
    uint64_t len = 0;
    for (size_t s = 0; s <= 2 * mp->n; s++)
        len += (s % 2 && s < 2 * mp->n) ? mp->parts[s / 2].size : seg_text(mp, s, buf, sizeof(buf));
    return len;
}

static ssize_t read_data(const struct multipart_part *p, uint64_t pos, char *buf, size_t cap)
{
    uint64_t left = p->size - pos;
    size_t want = left < cap ? (size_t)left : cap;
    if (p->data) {
        memcpy(buf, p->data + pos, want);
        return (ssize_t)want;
    }
    ssize_t n;
    while ((n = pread(p->fd, buf, want, (off_t)(p->offset + pos))) < 0 && errno == EINTR)
        ;
    return n < 0 ? -errno : n == 0 ? -EIO : n;
}

ssize_t multipart_read(struct multipart *mp, char *buf, size_t cap)
{
    while (mp->seg <= 2 * mp->n) {
        bool data = mp->seg % 2 && mp->seg < 2 * mp->n;
        uint64_t len =
            data ? mp->parts[mp->seg / 2].size : seg_text(mp, mp->seg, mp->head, sizeof(mp->head));
        if (mp->pos == len) {
            mp->seg++;
            mp->pos = 0;
            continue;
        }
        if (!cap)
            return 0;
        ssize_t n;
        if (data) {
            n = read_data(&mp->parts[mp->seg / 2], mp->pos, buf, cap);
        } else {
            n = (ssize_t)(len - mp->pos < cap ? len - mp->pos : cap);
            memcpy(buf, mp->head + mp->pos, (size_t)n);
        }
        if (n > 0)
            mp->pos += (uint64_t)n;
        return n;
    }
    return 0;
}

void multipart_rewind(struct multipart *mp)
{
    mp->seg = 0;
    mp->pos = 0;
}

char *multipart_content_type(const struct multipart *mp, char *buf, size_t cap)
{
    snprintf(buf, cap, "multipart/form-data; boundary=%s", mp->boundary);
    return buf;
}
