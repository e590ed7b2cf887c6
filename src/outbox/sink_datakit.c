#include "outbox/sink_datakit.h"

#include "core/version.h"
#include "outbox/multipart.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define LOGGING_PATH "/v1/write/logging?input=flameshot"
#define BODY_KEEP    200

struct sink_datakit {
    char *profiling_url;
    char *logging_url;
    struct sink_datakit_opts opts;
    CURL *prof; /* one handle per intake: each keeps its connection alive */
    CURL *log;
};

struct xfer {
    const atomic_bool *abort;
    char body[BODY_KEEP + 1];
    size_t body_len;
};

int sink_datakit_derive_logging_url(const char *profiling_url, char *buf, size_t cap)
{
    const char *sep = strstr(profiling_url, "://");
    if (!sep || sep == profiling_url)
        return -EINVAL;
    const char *host = sep + 3;
    size_t hostlen = strcspn(host, "/?#");
    if (hostlen == 0)
        return -EINVAL;
    int n = snprintf(buf, cap, "%.*s%s", (int)(host + hostlen - profiling_url), profiling_url,
                     LOGGING_PATH);
    return n > 0 && (size_t)n < cap ? 0 : -EINVAL;
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
    return v ? v : def;
}

int sink_datakit_new(const char *profiling_url, const struct sink_datakit_opts *opts,
                     struct sink_datakit **out, char *err, size_t errcap)
{
    char logging[2048];
    if (strncmp(profiling_url, "http://", 7) && strncmp(profiling_url, "https://", 8)) {
        snprintf(err, errcap, "\"%s\" is not an http(s) URL", profiling_url);
        return -EINVAL;
    }
    if (sink_datakit_derive_logging_url(profiling_url, logging, sizeof(logging)) < 0) {
        snprintf(err, errcap, "\"%s\" has no host", profiling_url);
        return -EINVAL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct sink_datakit *sk = calloc(1, sizeof(*sk));
    if (sk) {
        sk->profiling_url = strdup(profiling_url);
        sk->logging_url = strdup(logging);
        sk->prof = curl_easy_init();
        sk->log = curl_easy_init();
        if (opts)
            sk->opts = *opts;
    }
    if (!sk || !sk->profiling_url || !sk->logging_url || !sk->prof || !sk->log) {
        sink_datakit_free(sk);
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    sk->opts.connect_timeout_ms = or_default(sk->opts.connect_timeout_ms, 10000);
    sk->opts.profile_timeout_ms = or_default(sk->opts.profile_timeout_ms, 600000);
    sk->opts.logging_timeout_ms = or_default(sk->opts.logging_timeout_ms, 30000);
    sk->opts.stall_timeout_ms = or_default(sk->opts.stall_timeout_ms, 60000);
    *out = sk;
    return 0;
}

void sink_datakit_free(struct sink_datakit *sk)
{
    if (!sk)
        return;
    if (sk->prof)
        curl_easy_cleanup(sk->prof);
    if (sk->log)
        curl_easy_cleanup(sk->log);
    free(sk->profiling_url);
    free(sk->logging_url);
    free(sk);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb, room = BODY_KEEP - x->body_len;
    memcpy(x->body + x->body_len, data, n < room ? n : room);
    x->body_len += n < room ? n : room;
    x->body[x->body_len] = '\0';
    return n;
}

/* Lets outbox_stop end an upload at once instead of waiting for a timeout. */
static int on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    const struct xfer *x = arg;
    return x->abort && atomic_load(x->abort) ? 1 : 0;
}

static void common_opts(struct sink_datakit *sk, CURL *h, const char *url, uint64_t timeout_ms,
                        struct xfer *x)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "flameshot-node/" FS_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)sk->opts.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)((sk->opts.stall_timeout_ms + 999) / 1000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
}

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

/* Runs the request and classifies the outcome. */
static int perform(CURL *h, struct xfer *x, struct sink_result *res)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    memset(res, 0, sizeof(*res));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    if (cc == CURLE_ABORTED_BY_CALLBACK && x->abort && atomic_load(x->abort)) {
        res->verdict = SINK_ABORTED;
        snprintf(res->error, sizeof(res->error), "aborted by shutdown");
        return -ECANCELED;
    }
    if (cc != CURLE_OK) {
        res->verdict = SINK_SINK_DOWN;
        res->status = 0;
        snprintf(res->error, sizeof(res->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return -EAGAIN;
    }
    if (res->status >= 200 && res->status < 300)
        return 0;
    long s = res->status;
    res->verdict = (s >= 500 || s == 408 || s == 429) ? SINK_SINK_DOWN : SINK_REJECTED;
    snprintf(res->error, sizeof(res->error), "HTTP %ld: %s", s, x->body);
    one_line(res->error);
    return -EAGAIN;
}

static void fail_local(struct sink_result *res, const char *why)
{
    memset(res, 0, sizeof(*res));
    res->verdict = SINK_REJECTED;
    snprintf(res->error, sizeof(res->error), "%s", why);
}

struct body {
    struct multipart mp;
    int err; /* a read error of the payload */
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct body *b = arg;
    ssize_t n = multipart_read(&b->mp, buf, size * nitems);
    if (n < 0) {
        b->err = (int)-n;
        return CURL_READFUNC_ABORT;
    }
    return (size_t)n;
}

/* A redirect or an auth round trip sends the body again. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct body *b = arg;
    if (offset != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    multipart_rewind(&b->mp);
    return CURL_SEEKFUNC_OK;
}

/* Go's mime/multipart draws 30 random bytes for its boundary; so do we. */
static void new_boundary(char *buf, size_t cap)
{
    unsigned char r[30];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)(rand() & 0xff);
    for (size_t i = 0; i < sizeof(r) && 2 * i + 2 < cap; i++)
        snprintf(buf + 2 * i, 3, "%02x", r[i]);
}

/* Parts: the payload's files in order, then the event. */
static int build_body(struct body *b, struct multipart_part *parts, int fd,
                      const struct sink_file_part *files, size_t nfiles, const char *event_json)
{
    char boundary[64];
    if (nfiles + 1 > MULTIPART_MAX_PARTS)
        return -EINVAL;
    for (size_t i = 0; i < nfiles; i++)
        parts[i] = (struct multipart_part){.name = files[i].name,
                                           .filename = files[i].filename,
                                           .type = "application/octet-stream",
                                           .fd = fd,
                                           .offset = files[i].offset,
                                           .size = files[i].size};
    parts[nfiles] = (struct multipart_part){.name = "event",
                                            .filename = "event.json",
                                            .type = "application/json",
                                            .data = event_json,
                                            .size = strlen(event_json)};
    new_boundary(boundary, sizeof(boundary));
    return multipart_init(&b->mp, parts, nfiles + 1, boundary);
}

int sink_datakit_send_profile(struct sink_datakit *sk, const char *payload_path,
                              const struct sink_file_part *files, size_t nfiles,
                              const char *event_json, struct sink_result *res)
{
    struct xfer x = {.abort = sk->opts.abort};
    struct multipart_part parts[MULTIPART_MAX_PARTS];
    struct body b = {0};
    char ct[160];
    int fd = open(payload_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail_local(res, "cannot open the payload");
        return -EAGAIN;
    }
    if (build_body(&b, parts, fd, files, nfiles, event_json) < 0) {
        close(fd);
        fail_local(res, "the parts cannot form a multipart body");
        return -EAGAIN;
    }
    snprintf(ct, sizeof(ct), "Content-Type: %s", multipart_content_type(&b.mp, ct + 14, 140));
    /* "Expect: 100-continue" would cost a round trip (or a 1 s wait) per upload */
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    struct curl_slist *h2 = hdrs ? curl_slist_append(hdrs, ct) : NULL;
    int rc = -EAGAIN;
    if (h2) {
        common_opts(sk, sk->prof, sk->profiling_url, sk->opts.profile_timeout_ms, &x);
        curl_easy_setopt(sk->prof, CURLOPT_POST, 1L);
        curl_easy_setopt(sk->prof, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(sk->prof, CURLOPT_READDATA, &b);
        curl_easy_setopt(sk->prof, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(sk->prof, CURLOPT_SEEKDATA, &b);
        curl_easy_setopt(sk->prof, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)multipart_length(&b.mp));
        curl_easy_setopt(sk->prof, CURLOPT_HTTPHEADER, h2);
        rc = perform(sk->prof, &x, res);
        /* the handle must not keep pointers to what goes below */
        curl_easy_setopt(sk->prof, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(sk->prof, CURLOPT_READDATA, NULL);
        if (b.err) {
            fail_local(res, "reading the payload failed");
            rc = -EAGAIN;
        }
    } else {
        curl_slist_free_all(hdrs);
        fail_local(res, "out of memory");
    }
    curl_slist_free_all(h2);
    close(fd);
    return rc;
}

int sink_datakit_send_logging(struct sink_datakit *sk, const char *body, size_t len,
                              struct sink_result *res)
{
    struct xfer x = {.abort = sk->opts.abort};
    common_opts(sk, sk->log, sk->logging_url, sk->opts.logging_timeout_ms, &x);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    struct curl_slist *h2 = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
    if (!h2) {
        curl_slist_free_all(hdrs);
        fail_local(res, "out of memory");
        return -EAGAIN;
    }
    curl_easy_setopt(sk->log, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(sk->log, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(sk->log, CURLOPT_HTTPHEADER, h2);
    int rc = perform(sk->log, &x, res);
    curl_easy_setopt(sk->log, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h2);
    return rc;
}
