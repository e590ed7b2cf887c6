#include "kube/watchparse.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* a buffer grown past this for one big line is released after it, so one
 * large Pod does not pin megabytes for the life of the watch */
#define KEEP_CAP (256u << 10)

struct watchparse {
    size_t max_line;
    watch_cb cb;
    void *arg;
    char *buf; /* the incomplete line so far */
    size_t len, cap;
    bool skipping; /* inside an over-long line: drop up to its newline */
    uint64_t line; /* lines completed so far */
    struct watchparse_stats st;
};

static const char *const type_names[] = {
    [WATCH_ADDED] = "ADDED",       [WATCH_MODIFIED] = "MODIFIED", [WATCH_DELETED] = "DELETED",
    [WATCH_BOOKMARK] = "BOOKMARK", [WATCH_ERROR] = "ERROR",       [WATCH_INVALID] = "INVALID",
};

const char *watch_type_name(enum watch_type t)
{
    return (unsigned)t <= WATCH_INVALID ? type_names[t] : "INVALID";
}

struct watchparse *watchparse_new(size_t max_line, watch_cb cb, void *arg)
{
    struct watchparse *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->max_line = max_line ? max_line : WATCH_MAX_LINE_DEFAULT;
    p->cb = cb;
    p->arg = arg;
    return p;
}

void watchparse_free(struct watchparse *p)
{
    if (!p)
        return;
    free(p->buf);
    free(p);
}

void watchparse_reset(struct watchparse *p)
{
    p->len = 0;
    p->skipping = false;
    if (p->cap > KEEP_CAP) {
        free(p->buf);
        p->buf = NULL;
        p->cap = 0;
    }
}

void watchparse_stats(const struct watchparse *p, struct watchparse_stats *out)
{
    *out = p->st;
    out->buffered = p->len;
}

static int invalid(struct watchparse *p, const char *why, uint64_t line)
{
    struct watch_event ev = {.type = WATCH_INVALID, .error = why, .line = line};
    p->st.invalid++;
    return p->cb(&ev, p->arg);
}

static const char *str_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int type_of(const char *s)
{
    for (int t = WATCH_ADDED; t < WATCH_INVALID; t++)
        if (strcmp(s, type_names[t]) == 0)
            return t;
    return -1;
}

/* Builds the event of a parsed line; returns the reason it is not one. */
static const char *to_event(const cJSON *root, struct watch_event *ev)
{
    if (!cJSON_IsObject(root))
        return "not a JSON object";
    const char *type = str_at(root, "type");
    if (!type)
        return "no \"type\"";
    int t = type_of(type);
    if (t < 0)
        return "unknown \"type\"";
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
    if (!cJSON_IsObject(obj))
        return "no \"object\"";
    ev->type = (enum watch_type)t;
    ev->object = obj;
    ev->resource_version =
        str_at(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
    if (t == WATCH_ERROR) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        ev->code = cJSON_IsNumber(code) ? code->valueint : 0;
        ev->reason = str_at(obj, "reason");
        ev->message = str_at(obj, "message");
    }
    return NULL;
}

/* One complete line (newline excluded). Blank lines are not events. */
static int handle_line(struct watchparse *p, const char *s, size_t n)
{
    uint64_t line = ++p->line;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    cJSON *root = cJSON_ParseWithLength(s, n);
    if (!root)
        return invalid(p, "not JSON", line);
    struct watch_event ev = {.line = line};
    const char *why = to_event(root, &ev);
    int rc;
    if (why) {
        rc = invalid(p, why, line);
    } else {
        p->st.events++;
        rc = p->cb(&ev, p->arg);
    }
    cJSON_Delete(root);
    return rc;
}

static int append(struct watchparse *p, const char *d, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n)
            cap *= 2;
        if (cap > p->max_line)
            cap = p->max_line;
        char *b = realloc(p->buf, cap);
        if (!b)
            return -ENOMEM;
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, d, n);
    p->len += n;
    return 0;
}

/* The line being read went past max_line: report it (once) and skip to its
 * newline. Its number is the one it will complete with. */
static int too_long(struct watchparse *p)
{
    p->st.too_long++;
    watchparse_reset(p);
    p->skipping = true;
    return invalid(p, "line too long", p->line + 1);
}

int watchparse_feed(struct watchparse *p, const void *data, size_t len)
{
    const char *d = data;
    int rc = 0;
    while (len > 0 && rc == 0) {
        const char *nl = memchr(d, '\n', len);
        size_t seg = nl ? (size_t)(nl - d) : len;
        size_t used = nl ? seg + 1 : len;
        if (p->skipping) {
            if (nl) {
                p->skipping = false;
                p->line++;
            }
        } else if (p->len + seg > p->max_line) {
            rc = too_long(p);
            if (nl) {
                p->skipping = false;
                p->line++;
            }
        } else if (!nl) {
            rc = append(p, d, seg);
        } else if (p->len == 0) {
            rc = handle_line(p, d, seg); /* the usual case: no copy */
        } else if ((rc = append(p, d, seg)) == 0) {
            rc = handle_line(p, p->buf, p->len);
            watchparse_reset(p);
        }
        d += used;
        len -= used;
    }
    /* a stopped caller abandons this stream: what followed is not kept */
    if (rc != 0)
        watchparse_reset(p);
    return rc;
}

int watchparse_finish(struct watchparse *p)
{
    int rc = 0;
    if (!p->skipping && p->len > 0)
        rc = handle_line(p, p->buf, p->len);
    watchparse_reset(p);
    return rc;
}
