#include "outbox/lineproto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_IDLE = 0, ST_TAGS, ST_FIELDS };

void lp_init(struct lp_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void lp_free(struct lp_buf *b)
{
    free(b->data);
    lp_init(b);
}

static int reserve(struct lp_buf *b, size_t more)
{
    if (b->err)
        return b->err;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *n = realloc(b->data, cap);
    if (!n)
        return b->err = -ENOMEM;
    b->data = n;
    b->cap = cap;
    return 0;
}

static void put_mem(struct lp_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void put_ch(struct lp_buf *b, char c)
{
    put_mem(b, &c, 1);
}

/* Length of s cut to at most max bytes without splitting a UTF-8
 * sequence (continuation bytes are 10xxxxxx). */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* specials: the characters escaped with a backslash in this position. */
static void put_escaped(struct lp_buf *b, const char *s, size_t n, const char *specials)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        else if (c == '\\')
            c = '/';
        if (strchr(specials, c))
            put_ch(b, '\\');
        put_ch(b, c);
    }
}

void lp_put_measurement(struct lp_buf *b, const char *s)
{
    put_escaped(b, s, strlen(s), ", ");
}

void lp_put_key(struct lp_buf *b, const char *s)
{
    put_escaped(b, s, utf8_cut(s, LP_MAX_KEY), ",= ");
}

void lp_put_tag_value(struct lp_buf *b, const char *s)
{
    put_escaped(b, s, utf8_cut(s, LP_MAX_TAG_VALUE), ",= ");
}

void lp_put_string(struct lp_buf *b, const char *s)
{
    put_ch(b, '"');
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            put_ch(b, '\\');
        put_ch(b, *s);
    }
    put_ch(b, '"');
}

void lp_begin(struct lp_buf *b, const char *measurement)
{
    if (b->err)
        return;
    b->line_start = b->len;
    b->state = ST_TAGS;
    if (!measurement || !*measurement || strpbrk(measurement, "\r\n")) {
        b->err = -EINVAL;
        return;
    }
    lp_put_measurement(b, measurement);
}

void lp_tag(struct lp_buf *b, const char *key, const char *value)
{
    if (b->err)
        return;
    if (b->state != ST_TAGS || !key || !*key) {
        b->err = -EINVAL;
        return;
    }
    if (!value || !*value)
        return;
    put_ch(b, ',');
    lp_put_key(b, key);
    put_ch(b, '=');
    lp_put_tag_value(b, value);
}

/* Writes the separator and "key=" of a field. Returns 0 or the error. */
static int field_key(struct lp_buf *b, const char *key)
{
    if (b->err)
        return b->err;
    if (b->state == ST_IDLE || !key || !*key)
        return b->err = -EINVAL;
    put_ch(b, b->state == ST_TAGS ? ' ' : ',');
    b->state = ST_FIELDS;
    lp_put_key(b, key);
    put_ch(b, '=');
    return b->err;
}

void lp_field_str(struct lp_buf *b, const char *key, const char *value)
{
    if (field_key(b, key) == 0)
        lp_put_string(b, value ? value : "");
}

void lp_field_int(struct lp_buf *b, const char *key, int64_t v)
{
    char num[32];
    if (field_key(b, key) == 0) {
        int n = snprintf(num, sizeof(num), "%lldi", (long long)v);
        put_mem(b, num, (size_t)n);
    }
}

void lp_field_uint(struct lp_buf *b, const char *key, uint64_t v)
{
    char num[32];
    if (field_key(b, key) == 0) {
        int n = snprintf(num, sizeof(num), "%lluu", (unsigned long long)v);
        put_mem(b, num, (size_t)n);
    }
}

/* The shortest %g text that reads back to v, so 0.1 is "0.1" and not
 * "0.10000000000000001". A bare integer ("3") is a float in line
 * protocol, so no ".0" is needed. */
static int format_double(double v, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return (int)strlen(buf);
}

void lp_field_float(struct lp_buf *b, const char *key, double v)
{
    char num[40];
    if (!isfinite(v)) {
        if (!b->err)
            b->err = -EINVAL;
        return;
    }
    if (field_key(b, key) == 0) {
        int n = format_double(v, num, sizeof(num));
        put_mem(b, num, (size_t)n);
    }
}

void lp_field_bool(struct lp_buf *b, const char *key, bool v)
{
    if (field_key(b, key) == 0)
        put_mem(b, v ? "true" : "false", v ? 4 : 5);
}

int lp_end(struct lp_buf *b, uint64_t ts_ns)
{
    char num[32];
    if (!b->err && b->state != ST_FIELDS)
        b->err = -EINVAL;
    if (!b->err) {
        int n = snprintf(num, sizeof(num), " %llu\n", (unsigned long long)ts_ns);
        put_mem(b, num, (size_t)n);
    }
    b->state = ST_IDLE;
    int rc = b->err;
    b->err = 0;
    if (rc && b->data) {
        b->len = b->line_start;
        b->data[b->len] = '\0';
    }
    return rc;
}
