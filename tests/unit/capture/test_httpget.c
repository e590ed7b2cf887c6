/* httpget: the response parser fed what Go's net/http sends (Content-
 * Length, chunked, closed connections), one byte at a time as well as
 * whole, and what it must refuse. The exchange over a socket is in
 * test_pprof_fetch. */
#include "harness.h"

#include "capture/httpget.h"

#include <errno.h>

struct got {
    char buf[4096];
    size_t len;
};

static int collect(void *arg, const void *d, size_t n)
{
    struct got *g = arg;
    if (g->len + n >= sizeof(g->buf))
        return -ENOSPC;
    memcpy(g->buf + g->len, d, n);
    g->len += n;
    g->buf[g->len] = '\0';
    return 0;
}

/* Feeds text in pieces of step bytes (0: whole), then the close when
 * eof. Returns the last result. */
static int feed(struct httpresp *r, struct got *g, uint64_t cap, const char *text, size_t step,
                bool eof)
{
    memset(g, 0, sizeof(*g));
    httpresp_init(r, cap, collect, g);
    size_t n = strlen(text), at = 0;
    int rc = 0;
    while (at < n && rc == 0) {
        size_t k = step && step < n - at ? step : n - at;
        rc = httpresp_feed(r, text + at, k);
        at += k;
    }
    if (rc == 0 && eof)
        rc = httpresp_eof(r);
    return rc;
}

static const char *const length_resp =
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    "Content-Length: 11\r\n\r\nhello world";
static const char *const chunked_resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                        "5;name=x\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n"
                                        "0\r\nX-Trailer: 1\r\n\r\n";

TEST(bodies_by_length_chunks_or_close_in_any_pieces)
{
    struct httpresp r;
    struct got g;
    size_t steps[] = {0, 1, 2, 7};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        CHECK_EQ(feed(&r, &g, 1 << 20, length_resp, steps[i], false), 1);
        CHECK_EQ(r.status, 200);
        CHECK_STREQ(g.buf, "hello world");
        CHECK_EQ(feed(&r, &g, 1 << 20, chunked_resp, steps[i], false), 1);
        CHECK_STREQ(g.buf, "hello 0123456789");
        CHECK_EQ(r.body, 16);
        CHECK_EQ(feed(&r, &g, 1 << 20, "HTTP/1.0 200 OK\r\n\r\nuntil the end", steps[i], true), 1);
        CHECK_STREQ(g.buf, "until the end");
    }
    /* bytes after a complete response are not part of it */
    CHECK_EQ(feed(&r, &g, 1 << 20, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 0, false),
             1);
    CHECK_STREQ(g.buf, "ok");
}

TEST(an_interim_100_is_skipped_and_errors_keep_their_text)
{
    struct httpresp r;
    struct got g;
    CHECK_EQ(feed(&r, &g, 1 << 20,
                  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 3,
                  false),
             1);
    CHECK_EQ(r.status, 200);
    CHECK_STREQ(g.buf, "x");
    CHECK_EQ(feed(&r, &g, 1 << 20,
                  "HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\nUnknown profile\r\n\r\n", 0,
                  false),
             1);
    CHECK_EQ(r.status, 404);
    CHECK_EQ(g.len, 0); /* only a 200's body reaches the sink */
    CHECK_STREQ(r.errbody, "Unknown profile\r\n\r\n");
    CHECK_EQ(feed(&r, &g, 1 << 20, "HTTP/1.1 204 No Content\r\n\r\n", 0, false), 1);
}

TEST(a_body_past_the_cap_stops_the_response)
{
    struct httpresp r;
    struct got g;
    CHECK_EQ(feed(&r, &g, 10, length_resp, 0, false), -EFBIG);
    CHECK_CONTAINS(r.error, "larger than the cap of 10 bytes");
    CHECK_EQ(g.len, 0);
    CHECK_EQ(feed(&r, &g, 12, chunked_resp, 1, false), -EFBIG);
    CHECK(g.len <= 12);
    CHECK_EQ(feed(&r, &g, 11, length_resp, 0, false), 1);
}

TEST(malformed_responses_are_refused)
{
    struct httpresp r;
    struct got g;
    const struct {
        const char *text, *why;
        bool eof;
    } bad[] = {
        {"SSH-2.0-OpenSSH\r\n\r\n", "status line", false},
        {"HTTP/2.0 200 OK\r\n\r\n", "status line", false},
        {"HTTP/1.1 20 OK\r\n\r\n", "status line", false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer encoding", false},
        {"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n", "content encoding", false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "two different",
         false},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length", false},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "without a name", false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size", false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "longer than its",
         false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab", "CRLF", false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", "before the body ended", true},
        {"HTTP/1.1 200 OK\r\nContent-Le", "before the headers ended", true},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = feed(&r, &g, 1 << 20, bad[i].text, 0, bad[i].eof);
        CHECK_MSG(rc == -EPROTO, "case %zu: %d", i, rc);
        CHECK_CONTAINS(r.error, bad[i].why);
    }
    /* headers that never end */
    httpresp_init(&r, 1 << 20, collect, &g);
    CHECK_EQ(httpresp_feed(&r, "HTTP/1.1 200 OK\r\n", 17), 0);
    char junk[1024];
    memset(junk, 'a', sizeof(junk));
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = httpresp_feed(&r, junk, sizeof(junk));
    CHECK_EQ(rc, -EPROTO);
    CHECK_CONTAINS(r.error, "larger than 16 KiB");
}

TEST_MAIN(bodies_by_length_chunks_or_close_in_any_pieces,
          an_interim_100_is_skipped_and_errors_keep_their_text,
          a_body_past_the_cap_stops_the_response, malformed_responses_are_refused)
