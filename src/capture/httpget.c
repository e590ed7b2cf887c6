#include "capture/httpget.h"

#include "core/units.h"
#include "core/version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int proto(struct httpresp *r, const char *why)
{
    snprintf(r->error, sizeof(r->error), "malformed HTTP response: %s", why);
    return -EPROTO;
}

void httpresp_init(struct httpresp *r, uint64_t max_body, httpget_sink sink, void *arg)
{
    memset(r, 0, sizeof(*r));
    r->max_body = max_body;
    r->sink = sink;
    r->arg = arg;
}

/* ---- head ------------------------------------------------------------------- */

struct head_info {
    bool chunked, has_length;
    uint64_t length;
};

static int header_line(struct httpresp *r, const char *line, size_t len, struct head_info *h)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return proto(r, "a header line without a name");
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (nl == 14 && !strncasecmp(line, "Content-Length", 14)) {
        uint64_t n = 0;
        if (vl == 0 || vl > 19)
            return proto(r, "a bad Content-Length");
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return proto(r, "a bad Content-Length");
            n = n * 10 + (uint64_t)(v[i] - '0');
        }
        if (h->has_length && n != h->length)
            return proto(r, "two different Content-Lengths");
        h->has_length = true;
        h->length = n;
    } else if (nl == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
        if (vl != 7 || strncasecmp(v, "chunked", 7))
            return proto(r, "a transfer encoding other than chunked");
        h->chunked = true;
    } else if (nl == 16 && !strncasecmp(line, "Content-Encoding", 16)) {
        if (vl != 8 || strncasecmp(v, "identity", 8))
            return proto(r, "a content encoding that was not asked for");
    }
    return 0;
}

/* Parses the head in r->head[0..len) (ending with CRLF CRLF). */
static int parse_head(struct httpresp *r, size_t len)
{
    struct head_info h = {0};
    const char *p = r->head, *end = r->head + len - 2;
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    int major, minor, status, n = 0;
    if (!eol || sscanf(p, "HTTP/%d.%d %3d%n", &major, &minor, &status, &n) != 3 || major != 1 ||
        n != 12 || (p[12] != ' ' && p + 12 != eol) || status < 100 || status > 999)
        return proto(r, "not an HTTP/1.x status line");
    r->status = status;
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        int rc = header_line(r, p, (size_t)(eol - p), &h);
        if (rc < 0)
            return rc;
    }
    if (status == 204 || status == 304)
        r->state = HR_DONE;
    else if (h.chunked)
        r->state = HR_CHUNK_SIZE;
    else if (h.has_length)
        r->state = h.length ? HR_LENGTH : HR_DONE;
    else
        r->state = HR_UNTIL_EOF;
    r->left = h.length;
    return 0;
}

/* Takes head bytes; *used says how many of data belonged to the head. */
static int feed_head(struct httpresp *r, const char *data, size_t n, size_t *used)
{
    size_t from = r->headlen > 3 ? r->headlen - 3 : 0;
    size_t take = n < sizeof(r->head) - r->headlen ? n : sizeof(r->head) - r->headlen;
    memcpy(r->head + r->headlen, data, take);
    const char *end = memmem(r->head + from, r->headlen + take - from, "\r\n\r\n", 4);
    if (!end) {
        r->headlen += take;
        *used = take;
        return r->headlen == sizeof(r->head) ? proto(r, "headers larger than 16 KiB") : 0;
    }
    size_t headlen = (size_t)(end + 4 - r->head);
    *used = headlen - r->headlen;
    int rc = parse_head(r, headlen);
    r->headlen = 0;
    /* an interim 1xx answer (100 Continue): the real one follows */
    if (rc == 0 && r->status >= 100 && r->status < 200 && r->status != 101)
        r->state = HR_HEAD;
    return rc;
}

/* ---- body ------------------------------------------------------------------- */

static int deliver(struct httpresp *r, const char *d, size_t n)
{
    if (n > r->max_body - r->body) {
        snprintf(r->error, sizeof(r->error), "the response is larger than the cap of %llu bytes",
                 (unsigned long long)r->max_body);
        return -EFBIG;
    }
    r->body += n;
    if (r->status == 200)
        return r->sink ? r->sink(r->arg, d, n) : 0;
    size_t room = HTTPGET_ERRBODY - r->errlen, k = n < room ? n : room;
    memcpy(r->errbody + r->errlen, d, k);
    r->errlen += k;
    r->errbody[r->errlen] = '\0';
    return 0;
}

/* Collects a CRLF-terminated line into r->line; 1 when whole. */
static int take_line(struct httpresp *r, const char *d, size_t n, size_t *used)
{
    const char *nl = memchr(d, '\n', n);
    size_t k = nl ? (size_t)(nl - d) + 1 : n;
    if (r->linelen + k >= sizeof(r->line))
        return proto(r, "a chunk-size or trailer line too long");
    memcpy(r->line + r->linelen, d, k);
    r->linelen += k;
    *used = k;
    if (!nl)
        return 0;
    if (r->linelen < 2 || r->line[r->linelen - 2] != '\r')
        return proto(r, "a line not ended by CRLF");
    r->linelen -= 2;
    r->line[r->linelen] = '\0';
    return 1;
}

static int chunk_size(struct httpresp *r)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < r->linelen && i < 16; i++) {
        char c = r->line[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            break;
        v = v * 16 + (uint64_t)d;
    }
    if (i == 0 || (i < r->linelen && r->line[i] != ';' && r->line[i] != ' '))
        return proto(r, "a bad chunk size");
    r->linelen = 0;
    r->left = v;
    r->state = v ? HR_CHUNK_DATA : HR_TRAILER;
    return 0;
}

static int feed_body(struct httpresp *r, const char *d, size_t n, size_t *used)
{
    int rc;
    size_t k;
    switch (r->state) {
    case HR_LENGTH:
    case HR_CHUNK_DATA:
        k = n < r->left ? n : (size_t)r->left;
        *used = k;
        r->left -= k;
        rc = deliver(r, d, k);
        if (rc == 0 && r->left == 0)
            r->state = r->state == HR_LENGTH ? HR_DONE : HR_CHUNK_END;
        return rc;
    case HR_UNTIL_EOF:
        *used = n;
        return deliver(r, d, n);
    case HR_CHUNK_END:
        rc = take_line(r, d, n, used);
        if (rc == 1 && r->linelen)
            return proto(r, "chunk data longer than its size");
        if (rc == 1) {
            r->linelen = 0;
            r->state = HR_CHUNK_SIZE;
        }
        return rc < 0 ? rc : 0;
    case HR_CHUNK_SIZE:
        rc = take_line(r, d, n, used);
        return rc == 1 ? chunk_size(r) : rc;
    case HR_TRAILER:
        rc = take_line(r, d, n, used);
        if (rc == 1 && r->linelen == 0)
            r->state = HR_DONE;
        r->linelen = rc == 1 ? 0 : r->linelen;
        return rc < 0 ? rc : 0;
    default:
        *used = n;
        return 0;
    }
}

int httpresp_feed(struct httpresp *r, const char *data, size_t n)
{
    while (n && r->state != HR_DONE) {
        size_t used = 0;
        int rc = r->state == HR_HEAD ? feed_head(r, data, n, &used) : feed_body(r, data, n, &used);
        if (rc < 0)
            return rc;
        data += used;
        n -= used;
    }
    return r->state == HR_DONE ? 1 : 0;
}

int httpresp_eof(struct httpresp *r)
{
    if (r->state == HR_DONE || r->state == HR_UNTIL_EOF) {
        r->state = HR_DONE;
        return 1;
    }
    return proto(r, r->state == HR_HEAD ? "the connection closed before the headers ended"
                                        : "the connection closed before the body ended");
}

/* ---- the exchange ----------------------------------------------------------- */

static int sys_fail(struct httpresp *r, const char *what, int err)
{
    snprintf(r->error, sizeof(r->error), "%s: %s", what, strerror(err));
    return -err;
}

/* Waits for events on fd, or the deadline, or cancel_fd. */
static int wait_fd(const struct httpget_req *q, int fd, short events, struct httpresp *r)
{
    struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = q->cancel_fd, .events = POLLIN}};
    int n = units_poll_until(p, q->cancel_fd >= 0 ? 2 : 1, q->deadline_ms);
    if (n > 0 && q->cancel_fd >= 0 && (p[1].revents & POLLIN)) {
        snprintf(r->error, sizeof(r->error), "cancelled");
        return -ECANCELED;
    }
    if (n == 0) {
        snprintf(r->error, sizeof(r->error), "no complete answer before the timeout");
        return -ETIMEDOUT;
    }
    return n < 0 ? sys_fail(r, "poll", -n) : 0;
}

static int connect_to(const struct httpget_req *q, struct httpresp *r, int *out)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (q->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(q->port);
        memcpy(&a->sin6_addr, q->addr, 16);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(q->port);
        memcpy(&a->sin_addr, q->addr, 4);
        len = sizeof(*a);
    }
    int fd = socket(q->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sys_fail(r, "socket", errno);
    int rc = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    if (rc == EINPROGRESS) {
        socklen_t el = sizeof(rc);
        rc = wait_fd(q, fd, POLLOUT, r);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &el) < 0)
            rc = errno;
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    if (rc) {
        close(fd);
        return sys_fail(r, "connect", rc);
    }
    *out = fd;
    return 0;
}

static int send_all(const struct httpget_req *q, int fd, const char *d, size_t n,
                    struct httpresp *r)
{
    while (n) {
        ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            int rc = wait_fd(q, fd, POLLOUT, r);
            if (rc < 0)
                return rc;
            continue;
        }
        if (w < 0 && errno != EINTR)
            return sys_fail(r, "send", errno);
        if (w > 0) {
            d += w;
            n -= (size_t)w;
        }
    }
    return 0;
}

static int receive(const struct httpget_req *q, int fd, struct httpresp *r)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int rc = wait_fd(q, fd, POLLIN, r);
            if (rc < 0)
                return rc;
            continue;
        }
        if (n < 0)
            return sys_fail(r, "recv", errno);
        int rc = n == 0 ? httpresp_eof(r) : httpresp_feed(r, buf, (size_t)n);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
}

int httpget(const struct httpget_req *q, struct httpresp *r)
{
    char req[1024];
    httpresp_init(r, q->max_body, q->sink, q->arg);
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flameshot-node/" FS_VERSION
                     "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                     q->target, q->authority);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        snprintf(r->error, sizeof(r->error), "the request line is too long");
        return -ENAMETOOLONG;
    }
    int fd = -1;
    int rc = connect_to(q, r, &fd);
    if (rc == 0)
        rc = send_all(q, fd, req, (size_t)n, r);
    if (rc == 0)
        rc = receive(q, fd, r);
    if (fd >= 0)
        close(fd);
    return rc;
}
