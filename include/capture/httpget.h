/* httpget: one plain HTTP/1.1 GET over a TCP socket, for pprof pulls made
 * from a child inside a target's network namespace (pprof_fetch.h).
 *
 * Why not libcurl: the request runs in a child forked from the threaded
 * daemon, where only what is safe after fork may run. libcurl takes
 * process-wide locks and may initialise TLS and resolver state (another
 * thread of the daemon, the outbox's uploader, holds libcurl's and
 * OpenSSL's locks whenever it uploads to DataKit, and a lock held at fork
 * time stays held forever in the child). A GET to an IP literal needs
 * none of that: socket, connect, poll, send, recv.
 *
 * The response parser is separate (httpresp_*) so that tests can feed it
 * any byte sequence: status line and headers (at most HTTPGET_MAX_HEAD
 * bytes), then a body delimited by Content-Length, chunked transfer
 * encoding (Go's net/http uses it for any body it has not buffered
 * whole), or the connection's close. Interim 1xx responses are skipped.
 * Content-Encoding is refused (none is asked for). Not thread-safe per
 * instance; no allocation. */
#ifndef FS_HTTPGET_H
#define FS_HTTPGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPGET_MAX_HEAD 16384
#define HTTPGET_ERRBODY  256 /* bytes of a non-200 body kept for the error */

/* Takes n body bytes. Returns 0 or -errno (stops the response). */
typedef int (*httpget_sink)(void *arg, const void *data, size_t n);

enum httpresp_state {
    HR_HEAD = 0,
    HR_LENGTH,     /* Content-Length bytes left */
    HR_CHUNK_SIZE, /* reading a chunk-size line */
    HR_CHUNK_DATA,
    HR_CHUNK_END, /* the CRLF after a chunk's data */
    HR_TRAILER,   /* trailer lines until an empty one */
    HR_UNTIL_EOF,
    HR_DONE,
};

struct httpresp {
    enum httpresp_state state;
    char head[HTTPGET_MAX_HEAD];
    size_t headlen;
    char line[128]; /* chunk-size and trailer lines */
    size_t linelen;
    int status;
    uint64_t left;     /* of the Content-Length or of the chunk */
    uint64_t body;     /* body bytes so far */
    uint64_t max_body; /* past this: -EFBIG */
    httpget_sink sink; /* receives the body of a 200 */
    void *arg;
    char errbody[HTTPGET_ERRBODY + 1]; /* the start of any other status's body */
    size_t errlen;
    char error[160]; /* why a feed failed */
};

void httpresp_init(struct httpresp *r, uint64_t max_body, httpget_sink sink, void *arg);

/* Feeds n bytes received. Returns 1 once the response is complete (bytes
 * after it are ignored), 0 for more, or -EPROTO (malformed: r->error says
 * how), -EFBIG (body past max_body) or the sink's -errno. */
int httpresp_feed(struct httpresp *r, const char *data, size_t n);

/* The peer closed. Returns 1 when that completes the response (a body
 * delimited by the close), else -EPROTO (cut short). */
int httpresp_eof(struct httpresp *r);

struct httpget_req {
    int family;          /* AF_INET or AF_INET6 */
    const uint8_t *addr; /* network order */
    uint16_t port;
    const char *authority; /* Host header */
    const char *target;    /* "/debug/pprof/heap?debug=0" */
    uint64_t deadline_ms;  /* monotonic (units_now_mono_ms): connect to the last byte */
    int cancel_fd;         /* readable: give up now; -1: none */
    uint64_t max_body;
    httpget_sink sink;
    void *arg;
};

/* Connects, sends the GET (Connection: close, no Accept-Encoding), reads
 * the response through r. Returns 0 with a whole response in r (any
 * status: r->status), -ETIMEDOUT past the deadline, -ECANCELED when
 * cancel_fd fired, a connect/send/recv -errno (-ECONNREFUSED: nothing
 * listens there), or httpresp_feed's errors. r->error says what happened
 * in every failure. */
int httpget(const struct httpget_req *q, struct httpresp *r);

#endif
