#include "kube/apiclient.h"

#include "core/fsutil.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* client-go re-reads a projected token every minute (its cachingTokenSource);
 * the kubelet rotates it well before it expires */
#define TOKEN_MAX_AGE_MS 60000
#define TOKEN_MAX        (16u << 10)
/* one LIST page of KUBEAPI_LIST_LIMIT Pods; a status body on an error */
#define LIST_BODY_MAX     (64u << 20)
#define ERROR_BODY_MAX    (64u << 10)
#define CONNECT_TIMEOUT_S 10
#define LIST_TIMEOUT_S    60
#define SEND_TIMEOUT_S    KUBEAPI_SEND_TIMEOUT_S

struct kubeapi {
    CURL *curl;
    char base[512];
    char token_path[PATH_MAX];
    char ca_path[PATH_MAX];
    char *node_q; /* the fieldSelector, URL-escaped */
    char token[TOKEN_MAX];
    uint64_t token_ms;             /* when it was read; 0: never */
    const atomic_bool *stop;       /* kubeapi_set_stop */
    void (*watch_open)(void *arg); /* kubeapi_set_watch_open */
    void *watch_open_arg;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

struct kubeapi *kubeapi_new(const char *url, const char *sa_dir, const char *node, char *err,
                            size_t errlen)
{
    if (!url || strncmp(url, "https://", 8) != 0 ||
        strlen(url) >= sizeof(((struct kubeapi *)0)->base)) {
        fail(err, errlen, -EINVAL, "API URL \"%s\" is not https://host[:port]", url ? url : "");
        return NULL;
    }
    if (!node || !*node) {
        fail(err, errlen, -EINVAL, "no node name");
        return NULL;
    }
    struct kubeapi *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    snprintf(a->base, sizeof(a->base), "%s", url);
    size_t bl = strlen(a->base);
    while (bl > 8 && a->base[bl - 1] == '/')
        a->base[--bl] = '\0';
    snprintf(a->token_path, sizeof(a->token_path), "%s/token", sa_dir);
    snprintf(a->ca_path, sizeof(a->ca_path), "%s/ca.crt", sa_dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    a->curl = curl_easy_init();
    char sel[POD_NAME_MAX + 32];
    snprintf(sel, sizeof(sel), "spec.nodeName=%s", node);
    a->node_q = a->curl ? curl_easy_escape(a->curl, sel, 0) : NULL;
    if (!a->node_q) {
        kubeapi_free(a);
        fail(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    return a;
}

void kubeapi_free(struct kubeapi *a)
{
    if (!a)
        return;
    curl_free(a->node_q);
    if (a->curl)
        curl_easy_cleanup(a->curl);
    free(a);
}

void kubeapi_set_stop(struct kubeapi *a, const atomic_bool *stop)
{
    a->stop = stop;
}

void kubeapi_set_watch_open(struct kubeapi *a, void (*fn)(void *arg), void *arg)
{
    a->watch_open = fn;
    a->watch_open_arg = arg;
}

/* libcurl calls it often while busy and about once a second while idle */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const atomic_bool *stop = ud;
    return atomic_load(stop) ? 1 : 0; /* non-zero aborts the transfer */
}

/* Reads the token when it is older than a minute, or when forced (401). */
static int load_token(struct kubeapi *a, bool force, char *err, size_t errlen)
{
    uint64_t now = mono_ms();
    if (!force && a->token_ms && now - a->token_ms < TOKEN_MAX_AGE_MS)
        return 0;
    ssize_t n = fsutil_read_small(a->token_path, a->token, sizeof(a->token));
    if (n < 0)
        return fail(err, errlen, -EACCES, "%s: %s", a->token_path, strerror((int)-n));
    while (n > 0 && (a->token[n - 1] == '\n' || a->token[n - 1] == ' '))
        a->token[--n] = '\0';
    if (n == 0)
        return fail(err, errlen, -EACCES, "%s is empty", a->token_path);
    /* it goes into a header line: nothing may end that line early */
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)a->token[i] < 0x21 || a->token[i] == 0x7f)
            return fail(err, errlen, -EACCES, "%s holds a control character", a->token_path);
    a->token_ms = now;
    return 0;
}

/* What one request is doing with the body. */
struct req {
    struct watchparse *wp; /* watch: 2xx bodies are fed to it */
    int stop;              /* what the parser (its callback) returned */
    char *body;            /* list, or any non-2xx answer */
    size_t len, cap, max;
    bool over;                  /* the body passed max */
    bool discard;               /* 2xx bodies are not kept (a write's echo) */
    void (*on_open)(void *arg); /* called when the headers of a 2xx end */
    void *open_arg;
    CURL *curl;
};

/* The blank line ending the headers of a 2xx answer: the stream is open. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct req *r = ud;
    size_t n = size * nmemb;
    long code = 0;
    if ((n == 2 && data[0] == '\r') || (n == 1 && data[0] == '\n')) {
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code / 100 == 2)
            r->on_open(r->open_arg);
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct req *r = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    if (r->wp && code / 100 == 2) {
        r->stop = watchparse_feed(r->wp, data, n);
        return r->stop ? 0 : n; /* 0 aborts the transfer */
    }
    if (r->discard && code / 100 == 2)
        return n;
    size_t max = code / 100 == 2 ? r->max : ERROR_BODY_MAX;
    if (r->len + n > max) {
        r->over = true;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* The Status' message of an error answer, for the log. */
static const char *status_message(const struct req *r, char *buf, size_t cap)
{
    cJSON *j = r->body ? cJSON_ParseWithLength(r->body, r->len) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    snprintf(buf, cap, "%s", cJSON_IsString(m) ? m->valuestring : "");
    cJSON_Delete(j);
    return buf;
}

static int status_error(long code, const struct req *r, char *err, size_t errlen)
{
    char msg[256];
    status_message(r, msg, sizeof(msg));
    int rc = code == 410 ? -ESTALE : code == 401 ? -EACCES : code == 403 ? -EPERM : -EIO;
    return fail(err, errlen, rc, "HTTP %ld%s%s", code, *msg ? ": " : "", msg);
}

/* What a request sends: a GET has no method named and no body. */
struct send {
    const char *method; /* NULL: GET */
    const char *content_type;
    const char *body;
};

static struct curl_slist *headers(const struct kubeapi *a, const struct send *s)
{
    char auth[TOKEN_MAX + 32], ctype[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->token);
    snprintf(ctype, sizeof(ctype), "Content-Type: %s", s->content_type ? s->content_type : "");
    /* "Expect:": no 100-continue round trip before a body */
    const char *lines[] = {auth, "Accept: application/json", ctype, "Expect:"};
    size_t n = s->body ? 4 : 2;
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *next = curl_slist_append(h, lines[i]);
        if (!next) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = next;
    }
    return h;
}

/* base+path once with the current token. *code: the HTTP status. */
static int perform_once(struct kubeapi *a, const struct send *s, const char *path, long timeout_s,
                        struct req *r, long *code, char *err, size_t errlen)
{
    const char *method = s->method ? s->method : "GET";
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", a->base, path);
    struct curl_slist *h = headers(a, s);
    if (!h)
        return fail(err, errlen, -ENOMEM, "out of memory");
    CURL *c = a->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    /* the API server is reached directly: an https_proxy or all_proxy in
     * the agent's environment (set for the uploads) must not carry the
     * token through a proxy nor break the Pod watch */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_path);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (s->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (a->stop) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)a->stop);
    }
    if (r->on_open) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    }
    r->curl = c;
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(h);
    *code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    if (r->stop)
        return 0; /* the caller stopped the stream */
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return fail(err, errlen, -EINTR, "%s %s: stopped", method, path);
    if (r->over)
        return fail(err, errlen, -EIO, "answer to %s over %zu bytes", path, r->max);
    if (cc != CURLE_OK)
        return fail(err, errlen, -EIO, "%s %s: %s", method, path, curl_easy_strerror(cc));
    return 0;
}

/* A request with the token policy: a 401 re-reads the token and retries
 * once. *code: the last HTTP status (0: no answer). */
static int request(struct kubeapi *a, const struct send *s, const char *path, long timeout_s,
                   struct req *r, long *code, char *err, size_t errlen)
{
    *code = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = load_token(a, attempt > 0, err, errlen);
        if (rc)
            return rc;
        r->len = 0;
        r->over = false;
        rc = perform_once(a, s, path, timeout_s, r, code, err, errlen);
        if (rc || r->stop || *code / 100 == 2)
            return rc;
        if (*code != 401 || attempt > 0)
            return status_error(*code, r, err, errlen);
    }
    return -EIO; /* not reached */
}

static int get(struct kubeapi *a, const char *path, long timeout_s, struct req *r, char *err,
               size_t errlen)
{
    static const struct send none = {0};
    long code;
    return request(a, &none, path, timeout_s, r, &code, err, errlen);
}

int kubeapi_send(struct kubeapi *a, const char *method, const char *path, const char *content_type,
                 const char *body, long *status, char *err, size_t errlen)
{
    long code = 0;
    if (status)
        *status = 0;
    if (!method || (strcmp(method, "POST") != 0 && strcmp(method, "PATCH") != 0) || !path ||
        path[0] != '/' || !body || !content_type || strlen(content_type) > 128 ||
        content_type[strcspn(content_type, "\r\n")])
        return fail(err, errlen, -EINVAL, "not a POST or PATCH with a path, a type and a body");
    struct send s = {method, content_type, body};
    struct req r = {.discard = true};
    int rc = request(a, &s, path, SEND_TIMEOUT_S, &r, &code, err, errlen);
    free(r.body);
    if (status)
        *status = code;
    return rc;
}

/* Moves the Pods of page into all. */
static int append_page(struct pod_list *all, struct pod_list *page)
{
    if (page->n) {
        struct pod *items = realloc(all->items, (all->n + page->n) * sizeof(*items));
        if (!items)
            return -ENOMEM;
        all->items = items;
        memcpy(all->items + all->n, page->items, page->n * sizeof(*items));
        all->n += page->n;
        page->n = 0;
    }
    all->rejected += page->rejected;
    memcpy(all->resource_version, page->resource_version, sizeof(all->resource_version));
    return 0;
}

/* One page into *page; the first rejected Pod's reason goes to first[256]. */
static int list_page(struct kubeapi *a, const char *cont, struct pod_list *page, char *first,
                     char *err, size_t errlen)
{
    char path[2048];
    char *c = cont ? curl_easy_escape(a->curl, cont, 0) : NULL;
    snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=%s&limit=%d%s%s", a->node_q,
             KUBEAPI_LIST_LIMIT, c ? "&continue=" : "", c ? c : "");
    curl_free(c);
    struct req r = {.max = LIST_BODY_MAX};
    int rc = get(a, path, LIST_TIMEOUT_S, &r, err, errlen);
    cJSON *j = rc ? NULL : cJSON_ParseWithLength(r.body ? r.body : "", r.len);
    free(r.body);
    if (rc)
        return rc;
    char why[256] = "";
    rc = pod_list_parse(j, page, why, sizeof(why));
    cJSON_Delete(j);
    if (rc)
        return fail(err, errlen, rc == -ENOMEM ? rc : -EIO, "LIST: %s", why);
    if (page->rejected && !*first)
        snprintf(first, 256, "%s", why);
    return 0;
}

int kubeapi_list(struct kubeapi *a, struct pod_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char first[256] = "";
    char *cont = NULL;
    int rc = 0;
    do {
        struct pod_list page;
        rc = list_page(a, cont, &page, first, err, errlen);
        free(cont);
        cont = NULL;
        if (rc)
            break;
        rc = append_page(out, &page);
        cont = page.cont;
        page.cont = NULL;
        pod_list_free(&page);
    } while (rc == 0 && cont);
    free(cont);
    if (rc) {
        pod_list_free(out);
        return rc;
    }
    if (err && errlen)
        snprintf(err, errlen, "%s", first);
    return 0;
}

/* Stands between the parser and the caller: a 410 ERROR event ends the
 * watch with -ESTALE whatever the caller does with it. */
struct watch_ctx {
    watch_cb cb;
    void *arg;
    bool gone;
};

static int on_event(const struct watch_event *ev, void *arg)
{
    struct watch_ctx *w = arg;
    int rc = w->cb(ev, w->arg);
    if (ev->type == WATCH_ERROR && ev->code == 410) {
        w->gone = true;
        return rc ? rc : 1;
    }
    return rc;
}

int kubeapi_watch(struct kubeapi *a, const char *resource_version, int timeout_s, watch_cb cb,
                  void *arg, char *err, size_t errlen)
{
    struct watch_ctx w = {cb, arg, false};
    struct req r = {.max = ERROR_BODY_MAX,
                    .wp = watchparse_new(0, on_event, &w),
                    .on_open = a->watch_open,
                    .open_arg = a->watch_open_arg};
    if (!r.wp)
        return fail(err, errlen, -ENOMEM, "out of memory");
    char path[1024];
    char *rv = curl_easy_escape(a->curl, resource_version ? resource_version : "", 0);
    snprintf(path, sizeof(path),
             "/api/v1/pods?fieldSelector=%s&watch=1&allowWatchBookmarks=true&resourceVersion=%s"
             "&timeoutSeconds=%d",
             a->node_q, rv ? rv : "", timeout_s);
    curl_free(rv);
    /* the server ends the stream after timeoutSeconds; the margin is ours */
    int rc = get(a, path, (long)timeout_s + 30, &r, err, errlen);
    if (rc == 0 && !r.stop)
        r.stop = watchparse_finish(r.wp);
    watchparse_free(r.wp);
    free(r.body);
    if (rc)
        return rc;
    if (w.gone)
        return fail(err, errlen, -ESTALE, "watch: 410 Gone (resourceVersion %s too old)",
                    resource_version);
    return r.stop;
}
