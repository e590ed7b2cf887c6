#include "outbox/objstore.h"

#include "core/sha256.h"
#include "core/version.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS (5 * 60 * 1000)
#define CONNECT_TIMEOUT_MS 10000
#define BODY_KEEP          4096
#define URL_MAX            8192
#define IO_CHUNK           (1u << 20)

struct objstore {
    char *provider, *endpoint, *region, *bucket, *ak, *sk, *token;
    char *scheme_host; /* "https://host[:port]" of the endpoint */
    char *base_path;   /* the endpoint's path, "" or "/p" */
    bool path_style;
    uint64_t timeout_ms;
    const atomic_bool *abort;
    CURL *curl;
};

/* ---- templates and URLs ------------------------------------------------- */

int objstore_normalize_endpoint(const char *endpoint, char *buf, size_t cap)
{
    while (*endpoint == ' ' || *endpoint == '\t')
        endpoint++;
    size_t n = strlen(endpoint);
    while (n && (endpoint[n - 1] == '/' || endpoint[n - 1] == ' ' || endpoint[n - 1] == '\t'))
        n--;
    if (!n) {
        buf[0] = '\0';
        return 0;
    }
    bool has_scheme = !strncmp(endpoint, "http://", 7) || !strncmp(endpoint, "https://", 8);
    int w = snprintf(buf, cap, "%s%.*s", has_scheme ? "" : "https://", (int)n, endpoint);
    return w >= 0 && (size_t)w < cap ? 0 : -ENAMETOOLONG;
}

int objstore_oss_region(const char *endpoint, char *buf, size_t cap)
{
    const char *h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    size_t label = strcspn(h, ".:/");
    if (strncmp(h, "oss-", 4) || label <= 4 || h[label] != '.' ||
        strncmp(h + label, ".aliyuncs.com", 13))
        return -ENOENT;
    if (label >= cap)
        return -ENAMETOOLONG;
    /* oss-cn-hangzhou-internal.aliyuncs.com is the same region */
    size_t keep = label;
    if (keep > 9 && !strncmp(h + keep - 9, "-internal", 9))
        keep -= 9;
    snprintf(buf, cap, "%.*s", (int)keep, h);
    return 0;
}

static const char *var_value(const struct objstore_vars *v, const char *name, size_t len, char *pid)
{
    static const struct {
        const char *name;
        size_t off;
    } map[] = {
        {"service", offsetof(struct objstore_vars, service)},
        {"pod_name", offsetof(struct objstore_vars, pod_name)},
        {"pod_namespace", offsetof(struct objstore_vars, pod_namespace)},
        {"host", offsetof(struct objstore_vars, host)},
        {"timestamp", offsetof(struct objstore_vars, timestamp)},
        {"filename", offsetof(struct objstore_vars, filename)},
        {"profiling_path", offsetof(struct objstore_vars, profiling_path)},
        {"bucket", offsetof(struct objstore_vars, bucket)},
        {"endpoint", offsetof(struct objstore_vars, endpoint)},
        {"object_key", offsetof(struct objstore_vars, object_key)},
    };
    if (len == 3 && !strncmp(name, "pid", 3)) {
        snprintf(pid, 16, "%d", v->pid);
        return pid;
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].name) == len && !strncmp(map[i].name, name, len)) {
            const char *s = *(const char *const *)((const char *)v + map[i].off);
            return s ? s : "";
        }
    return NULL;
}

int objstore_render(const char *tmpl, const struct objstore_vars *v, char *buf, size_t cap)
{
    size_t o = 0;
    char pid[16];
    for (const char *p = tmpl; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        const char *val = close ? var_value(v, p + 1, (size_t)(close - p - 1), pid) : NULL;
        size_t n = val ? strlen(val) : 1;
        if (o + n >= cap)
            return -ENAMETOOLONG;
        memcpy(buf + o, val ? val : p, n);
        o += n;
        p = val ? close + 1 : p + 1;
    }
    buf[o] = '\0';
    return 0;
}

/* path.Clean("/" + s) without the leading '/', in place. */
static void clean_path(char *s)
{
    char *out = s;
    size_t o = 0;
    for (char *p = s; *p;) {
        size_t len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || len == 0) {
            /* nothing */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (o && out[o - 1] != '/')
                o--;
            if (o)
                o--; /* the '/' before the dropped segment */
        } else {
            if (o)
                out[o++] = '/';
            memmove(out + o, p, len);
            o += len;
        }
        p += len;
        if (*p == '/')
            p++;
    }
    out[o] = '\0';
}

int objstore_object_key(const char *tmpl, const struct objstore_vars *v, char *buf, size_t cap)
{
    int rc = objstore_render(tmpl, v, buf, cap);
    if (rc < 0)
        return rc;
    clean_path(buf);
    if (!buf[0] && v->filename) {
        snprintf(buf, cap, "%s", v->filename);
        clean_path(buf);
    }
    return buf[0] ? 0 : -EINVAL;
}

int objstore_encode(const char *s, bool keep_slash, char *buf, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) || (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= cap)
            return -ENAMETOOLONG;
        if (plain) {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    buf[o] = '\0';
    return 0;
}

int objstore_url(const struct objstore *os, const char *key, const char *query, char *buf,
                 size_t cap)
{
    char enc[URL_MAX];
    int rc = objstore_encode(key, true, enc, sizeof(enc));
    if (rc < 0)
        return rc;
    const char *sep = strstr(os->scheme_host, "://") + 3;
    int n;
    if (os->path_style)
        n = snprintf(buf, cap, "%s%s/%s/%s%s%s", os->scheme_host, os->base_path, os->bucket, enc,
                     query ? "?" : "", query ? query : "");
    else
        n = snprintf(buf, cap, "%.*s%s.%s%s/%s%s%s", (int)(sep - os->scheme_host), os->scheme_host,
                     os->bucket, sep, os->base_path, enc, query ? "?" : "", query ? query : "");
    return n >= 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

int objstore_download_url(const struct objstore *os, const char *dl_tmpl,
                          const struct objstore_vars *v, const char *key, char *buf, size_t cap)
{
    if (!dl_tmpl || !*dl_tmpl)
        return objstore_url(os, key, NULL, buf, cap);
    struct objstore_vars full = *v;
    full.bucket = os->bucket;
    full.endpoint = os->endpoint;
    full.object_key = key;
    return objstore_render(dl_tmpl, &full, buf, cap);
}

int objstore_part_query(unsigned number, const char *upload_id, char *buf, size_t cap)
{
    char enc[1024];
    int rc = objstore_encode(upload_id, false, enc, sizeof(enc));
    if (rc < 0)
        return rc;
    int n = snprintf(buf, cap, "partNumber=%u&uploadId=%s", number, enc);
    return n >= 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

char *objstore_complete_xml(const struct objstore_part *parts, size_t n)
{
    size_t cap = 128 + n * 160, o = 0;
    char *x = malloc(cap);
    if (!x)
        return NULL;
    o += (size_t)snprintf(x, cap, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(x + o, cap - o,
                              "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
                              parts[i].number, parts[i].etag);
    snprintf(x + o, cap - o, "</CompleteMultipartUpload>");
    return x;
}

/* ---- construction ------------------------------------------------------- */

static int bad(char *err, size_t errcap, const char *fmt, const char *v)
{
    snprintf(err, errcap, fmt, v);
    return -EINVAL;
}

/* Splits the normalized endpoint into scheme://host[:port] and a path. */
static int split_endpoint(struct objstore *os, char *err, size_t errcap)
{
    const char *h = strstr(os->endpoint, "://");
    if (!h || !h[3] || h[3] == '/')
        return bad(err, errcap, "endpoint \"%s\" has no host", os->endpoint);
    size_t hl = strcspn(h + 3, "/?#");
    if (h[3 + hl] == '?' || h[3 + hl] == '#')
        return bad(err, errcap, "endpoint \"%s\" must not have a query", os->endpoint);
    os->scheme_host = strndup(os->endpoint, (size_t)(h + 3 + hl - os->endpoint));
    os->base_path = strdup(h + 3 + hl);
    return os->scheme_host && os->base_path ? 0 : -ENOMEM;
}

static int copy_opts(struct objstore *os, const struct objstore_opts *o, char *err, size_t errcap)
{
    char ep[2048], region[128] = "us-east-1";
    if (!o->provider || (strcmp(o->provider, "s3") && strcmp(o->provider, "oss")))
        return bad(err, errcap, "provider \"%s\" is not supported (s3 or oss)",
                   o->provider ? o->provider : "");
    if (!o->endpoint || objstore_normalize_endpoint(o->endpoint, ep, sizeof(ep)) < 0 || !ep[0])
        return bad(err, errcap, "%sthe endpoint is required", "");
    if (!o->bucket || !*o->bucket || strchr(o->bucket, '/'))
        return bad(err, errcap, "bucket \"%s\" is empty or has a '/'", o->bucket ? o->bucket : "");
    if (!o->access_key_id || !*o->access_key_id || !o->access_key_secret || !*o->access_key_secret)
        return bad(err, errcap, "%sthe access key id and secret are required", "");
    bool oss = !strcmp(o->provider, "oss");
    if (o->region && *o->region)
        snprintf(region, sizeof(region), "%s", o->region);
    else if (oss && objstore_oss_region(ep, region, sizeof(region)) < 0)
        return bad(err, errcap,
                   "the region is required for oss: endpoint \"%s\" is not "
                   "oss-<region>.aliyuncs.com",
                   ep);
    os->provider = strdup(o->provider);
    os->endpoint = strdup(ep);
    os->region = strdup(region);
    os->bucket = strdup(o->bucket);
    os->ak = strdup(o->access_key_id);
    os->sk = strdup(o->access_key_secret);
    os->token = o->security_token && *o->security_token ? strdup(o->security_token) : NULL;
    if (!os->provider || !os->endpoint || !os->region || !os->bucket || !os->ak || !os->sk ||
        (o->security_token && *o->security_token && !os->token))
        return -ENOMEM;
    os->path_style = oss ? false : o->path_style; /* OSS refuses path-style */
    os->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    os->abort = o->abort;
    return split_endpoint(os, err, errcap);
}

int objstore_new(const struct objstore_opts *opts, struct objstore **out, char *err, size_t errcap)
{
    *out = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct objstore *os = calloc(1, sizeof(*os));
    if (!os)
        return -ENOMEM;
    int rc = copy_opts(os, opts, err, errcap);
    if (rc == 0 && !(os->curl = curl_easy_init()))
        rc = -ENOMEM;
    if (rc == -ENOMEM)
        snprintf(err, errcap, "out of memory");
    if (rc < 0) {
        objstore_free(os);
        return rc;
    }
    *out = os;
    return 0;
}

void objstore_free(struct objstore *os)
{
    if (!os)
        return;
    if (os->curl)
        curl_easy_cleanup(os->curl);
    free(os->provider);
    free(os->endpoint);
    free(os->region);
    free(os->bucket);
    free(os->ak);
    if (os->sk)
        explicit_bzero(os->sk, strlen(os->sk));
    free(os->sk);
    if (os->token)
        explicit_bzero(os->token, strlen(os->token));
    free(os->token);
    free(os->scheme_host);
    free(os->base_path);
    free(os);
}

/* ---- requests ----------------------------------------------------------- */

/* One request's body source and response. */
struct xfer {
    const atomic_bool *abort;
    int fd; /* -1: mem */
    uint64_t off, left;
    const char *mem;
    int read_errno;
    char body[BODY_KEEP + 1];
    size_t body_len;
    char etag[80];
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    size_t want = size * nitems;
    if (want > x->left)
        want = (size_t)x->left;
    if (!want)
        return 0;
    if (x->fd < 0) {
        memcpy(buf, x->mem, want);
        x->mem += want;
    } else {
        ssize_t n = pread(x->fd, buf, want, (off_t)x->off);
        if (n <= 0) {
            x->read_errno = n < 0 ? errno : EIO; /* the file shrank under us */
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)n;
    }
    x->off += want;
    x->left -= want;
    return want;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb, room = BODY_KEEP - x->body_len;
    memcpy(x->body + x->body_len, data, n < room ? n : room);
    x->body_len += n < room ? n : room;
    x->body[x->body_len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nitems;
    if (n > 5 && !strncasecmp(data, "etag:", 5)) {
        const char *v = data + 5;
        while (*v == ' ')
            v++;
        size_t len = strcspn(v, "\r\n");
        if (len < sizeof(x->etag))
            snprintf(x->etag, sizeof(x->etag), "%.*s", (int)len, v);
    }
    return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const struct xfer *x = arg;
    return x->abort && atomic_load(x->abort) ? 1 : 0;
}

/* The text of <tag>...</tag> in xml, into buf ("" when absent). */
static void xml_text(const char *xml, const char *tag, char *buf, size_t cap)
{
    char open[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    const char *s = strstr(xml, open);
    const char *e = s ? strstr(s, "</") : NULL;
    buf[0] = '\0';
    if (s && e) {
        s += strlen(open);
        snprintf(buf, cap, "%.*s", (int)(e - s), s);
    }
}

static int body_sha256(struct xfer *x, char hex[SHA256_HEX_LEN])
{
    struct sha256 c;
    uint8_t d[SHA256_LEN];
    sha256_init(&c);
    if (x->fd < 0) {
        sha256_update(&c, x->mem, (size_t)x->left);
    } else {
        char *buf = malloc(IO_CHUNK);
        if (!buf)
            return -ENOMEM;
        for (uint64_t off = x->off, left = x->left; left;) {
            ssize_t n = pread(x->fd, buf, left < IO_CHUNK ? (size_t)left : IO_CHUNK, (off_t)off);
            if (n <= 0) {
                free(buf);
                return n < 0 ? -errno : -EIO;
            }
            sha256_update(&c, buf, (size_t)n);
            off += (uint64_t)n;
            left -= (uint64_t)n;
        }
        free(buf);
    }
    sha256_final(&c, d);
    sha256_hex(d, hex);
    return 0;
}

static struct curl_slist *headers(const struct objstore *os, const char *sha, const char *ctype)
{
    char h[4096];
    struct curl_slist *l = NULL, *t;
    snprintf(h, sizeof(h), "x-amz-content-sha256: %s", sha);
    l = curl_slist_append(l, h);
    if (l && os->token) {
        snprintf(h, sizeof(h), "x-amz-security-token: %s", os->token);
        l = (t = curl_slist_append(l, h)) ? t : (curl_slist_free_all(l), NULL);
    }
    if (l && ctype) {
        snprintf(h, sizeof(h), "Content-Type: %s", ctype);
        l = (t = curl_slist_append(l, h)) ? t : (curl_slist_free_all(l), NULL);
    }
    /* "Expect:" (no 100-continue) is not set: libcurl 7.88 would sign
     * the emptied header it then does not send */
    return l;
}

static void setup(struct objstore *os, const char *method, const char *url, struct xfer *x,
                  struct curl_slist *hdrs)
{
    CURL *c = os->curl;
    char sigv4[192];
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", os->region);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, os->ak);
    curl_easy_setopt(c, CURLOPT_PASSWORD, os->sk);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "flameshot-node/" FS_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)os->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->left);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->mem ? x->mem : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->left);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
}

static int classify(struct objstore *os, CURLcode cc, const struct xfer *x,
                    struct objstore_result *res)
{
    char msg[256];
    if (cc == CURLE_ABORTED_BY_CALLBACK && x->abort && atomic_load(x->abort)) {
        snprintf(res->error, sizeof(res->error), "aborted: the agent is stopping");
        return -ECANCELED;
    }
    if (cc == CURLE_ABORTED_BY_CALLBACK && x->read_errno) {
        snprintf(res->error, sizeof(res->error), "reading the dump: %s", strerror(x->read_errno));
        return -x->read_errno;
    }
    if (cc != CURLE_OK) {
        res->transient = true;
        snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(cc));
        return -EAGAIN;
    }
    curl_easy_getinfo(os->curl, CURLINFO_RESPONSE_CODE, &res->status);
    if (res->status >= 200 && res->status < 300)
        return 0;
    xml_text(x->body, "Code", res->code, sizeof(res->code));
    xml_text(x->body, "Message", msg, sizeof(msg));
    res->transient = res->status >= 500 || res->status == 408 || res->status == 429;
    snprintf(res->error, sizeof(res->error), "HTTP %ld%s%s%s%s", res->status,
             res->code[0] ? " " : "", res->code, msg[0] ? ": " : "", msg);
    return res->transient ? -EAGAIN : -EIO;
}

/* One signed request. body: len bytes of fd at off, or of mem (fd < 0). */
static int request(struct objstore *os, const char *method, const char *key, const char *query,
                   int fd, uint64_t off, uint64_t len, const char *mem, const char *ctype,
                   struct xfer *x, struct objstore_result *res)
{
    char url[URL_MAX], sha[SHA256_HEX_LEN];
    memset(res, 0, sizeof(*res));
    *x = (struct xfer){.abort = os->abort, .fd = fd, .off = off, .left = len, .mem = mem};
    int rc = objstore_url(os, key, query, url, sizeof(url));
    if (rc == 0 && (rc = body_sha256(x, sha)) < 0)
        snprintf(res->error, sizeof(res->error), "reading the dump: %s", strerror(-rc));
    else if (rc < 0)
        snprintf(res->error, sizeof(res->error), "the object key is too long");
    if (rc < 0)
        return rc;
    struct curl_slist *h = headers(os, sha, ctype);
    if (!h) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -ENOMEM;
    }
    setup(os, method, url, x, h);
    CURLcode cc = curl_easy_perform(os->curl);
    curl_slist_free_all(h);
    return classify(os, cc, x, res);
}

int objstore_put(struct objstore *os, const char *key, int fd, uint64_t off, uint64_t len,
                 struct objstore_result *res)
{
    struct xfer x;
    return request(os, "PUT", key, NULL, fd, off, len, NULL, "application/octet-stream", &x, res);
}

int objstore_initiate(struct objstore *os, const char *key, char *upload_id, size_t idcap,
                      struct objstore_result *res)
{
    struct xfer x;
    int rc =
        request(os, "POST", key, "uploads=", -1, 0, 0, "", "application/octet-stream", &x, res);
    if (rc < 0)
        return rc;
    xml_text(x.body, "UploadId", upload_id, idcap);
    if (upload_id[0])
        return 0;
    snprintf(res->error, sizeof(res->error), "CreateMultipartUpload answered no UploadId");
    return -EIO;
}

int objstore_upload_part(struct objstore *os, const char *key, const char *upload_id,
                         struct objstore_part *part, int fd, uint64_t off, uint64_t len,
                         struct objstore_result *res)
{
    char q[1200];
    struct xfer x;
    if (objstore_part_query(part->number, upload_id, q, sizeof(q)) < 0) {
        memset(res, 0, sizeof(*res));
        snprintf(res->error, sizeof(res->error), "the upload id is too long");
        return -ENAMETOOLONG;
    }
    int rc = request(os, "PUT", key, q, fd, off, len, NULL, NULL, &x, res);
    if (rc < 0)
        return rc;
    if (!x.etag[0]) {
        snprintf(res->error, sizeof(res->error), "UploadPart %u answered no ETag", part->number);
        return -EIO;
    }
    snprintf(part->etag, sizeof(part->etag), "%s", x.etag);
    return 0;
}

static int upload_id_query(const char *upload_id, char *q, size_t cap)
{
    char enc[1024];
    int rc = objstore_encode(upload_id, false, enc, sizeof(enc));
    return rc ?: (snprintf(q, cap, "uploadId=%s", enc) < (int)cap ? 0 : -ENAMETOOLONG);
}

int objstore_complete(struct objstore *os, const char *key, const char *upload_id,
                      const struct objstore_part *parts, size_t n, struct objstore_result *res)
{
    char q[1100];
    struct xfer x;
    char *xml = objstore_complete_xml(parts, n);
    memset(res, 0, sizeof(*res));
    if (!xml || upload_id_query(upload_id, q, sizeof(q)) < 0) {
        free(xml);
        snprintf(res->error, sizeof(res->error), "out of memory or upload id too long");
        return -ENOMEM;
    }
    int rc = request(os, "POST", key, q, -1, 0, strlen(xml), xml, "application/xml", &x, res);
    free(xml);
    /* S3 may answer 200 with an <Error> body once the request was accepted */
    if (rc == 0 && strstr(x.body, "<Error>")) {
        xml_text(x.body, "Code", res->code, sizeof(res->code));
        res->transient = true;
        snprintf(res->error, sizeof(res->error), "CompleteMultipartUpload failed: %s", res->code);
        return -EAGAIN;
    }
    return rc;
}

int objstore_abort(struct objstore *os, const char *key, const char *upload_id,
                   struct objstore_result *res)
{
    char q[1100];
    struct xfer x;
    memset(res, 0, sizeof(*res));
    if (upload_id_query(upload_id, q, sizeof(q)) < 0)
        return -ENAMETOOLONG;
    return request(os, "DELETE", key, q, -1, 0, 0, "", NULL, &x, res);
}
