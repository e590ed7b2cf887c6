#include "http/query.h"

#include "core/rules.h"
#include "core/sha256.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of the UTF-8 sequence starting at s (n bytes left), or 0 when it
 * is not well formed (overlong forms, surrogates and values past U+10FFFF
 * included, as RFC 3629 requires). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

static const char *check_bytes(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (s[i] == 0)
            return "NUL byte (%00) in a value";
        if (s[i] < 0x20 || s[i] == 0x7F)
            return "control character in a value";
        size_t l = utf8_seq(s + i, n - i);
        if (!l)
            return "value is not valid UTF-8";
        i += l;
    }
    return NULL;
}

long query_unescape(const char *s, size_t len, char *out, const char **why)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "bad percent-encoding (want %XX with two hex digits)";
                return -1;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    const char *bad = check_bytes((const unsigned char *)out, o);
    if (bad) {
        *why = bad;
        return -1;
    }
    return (long)o;
}

char *query_printable(const char *s, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    size_t n = strlen(s);
    bool cut = n >= cap;
    size_t keep = !cut ? n : cap > 4 ? cap - 4 : cap - 1;
    for (size_t i = 0; i < keep; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?';
    if (cut && cap > 4)
        memcpy(buf + keep, "...", 4);
    else
        buf[keep] = '\0';
    return buf;
}

static const struct query_spec *find_spec(const struct query_spec *spec, const char *name)
{
    for (; spec->name; spec++)
        if (strcmp(spec->name, name) == 0)
            return spec;
    return NULL;
}

static void unknown(const struct query_spec *spec, const char *name, char *err, size_t errcap)
{
    const char *near = NULL;
    int best = 3;
    char pn[48];
    for (; spec->name; spec++) {
        int d = rules_edit_distance(name, spec->name);
        if (d < best) {
            best = d;
            near = spec->name;
        }
    }
    query_printable(name, pn, sizeof(pn));
    if (near)
        snprintf(err, errcap, "unknown parameter \"%s\" (did you mean \"%s\"?)", pn, near);
    else
        snprintf(err, errcap, "unknown parameter \"%s\"", pn);
}

/* Parses one "name=value" segment [s, s+len) into q. */
static int parse_one(const char *s, size_t len, const struct query_spec *spec, struct httpq *q,
                     char *err, size_t errcap)
{
    const char *eq = memchr(s, '=', len), *why;
    size_t klen = eq ? (size_t)(eq - s) : len;
    char key[64];
    if (klen >= sizeof(key)) {
        snprintf(err, errcap, "parameter name longer than %zu bytes", sizeof(key) - 1);
        return -EINVAL;
    }
    if (query_unescape(s, klen, key, &why) < 0) {
        snprintf(err, errcap, "parameter name: %s", why);
        return -EINVAL;
    }
    if (!key[0]) {
        snprintf(err, errcap, "empty parameter name");
        return -EINVAL;
    }
    const struct query_spec *sp = find_spec(spec, key);
    if (!sp) {
        unknown(spec, key, err, errcap);
        return -EINVAL;
    }
    if (query_get(q, sp->name)) {
        snprintf(err, errcap, "%s: given more than once", sp->name);
        return -EINVAL;
    }
    if (q->n == QUERY_MAX_PARAMS) {
        snprintf(err, errcap, "more than %d parameters", QUERY_MAX_PARAMS);
        return -EINVAL;
    }
    const char *v = eq ? eq + 1 : s + len;
    size_t vlen = (size_t)(s + len - v);
    /* a decoded value is never longer than its encoding: bound before decoding */
    if (vlen > 3 * sp->max_len) {
        snprintf(err, errcap, "%s: value longer than %zu bytes", sp->name, sp->max_len);
        return -EINVAL;
    }
    char *val = malloc(vlen + 1);
    if (!val)
        return -ENOMEM;
    long n = query_unescape(v, vlen, val, &why);
    if (n < 0 || (size_t)n > sp->max_len) {
        if (n < 0)
            snprintf(err, errcap, "%s: %s", sp->name, why);
        else
            snprintf(err, errcap, "%s: value longer than %zu bytes", sp->name, sp->max_len);
        free(val);
        return -EINVAL;
    }
    q->items[q->n++] = (struct query_param){.name = sp->name, .value = val};
    return 0;
}

int query_parse(const char *raw, const struct query_spec *spec, struct httpq *q, char *err,
                size_t errcap)
{
    memset(q, 0, sizeof(*q));
    const char *p = raw ? raw : "";
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        int rc = len ? parse_one(p, len, spec, q, err, errcap) : 0;
        if (rc < 0) {
            query_free(q);
            return rc;
        }
        p += len + (amp ? 1 : 0);
    }
    return 0;
}

const char *query_get(const struct httpq *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return q->items[i].value;
    return NULL;
}

void query_free(struct httpq *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->items[i].value);
    memset(q, 0, sizeof(*q));
}

cJSON *query_error(const char *error, const char *detail)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", error) ||
        !cJSON_AddStringToObject(o, "detail", detail ? detail : "")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

bool query_bearer_ok(const char *header, const char *token)
{
    if (!header || !token || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    const char *cred = header + 7;
    while (*cred == ' ')
        cred++;
    /* Digests of equal length: the comparison time depends on neither the
     * token's length nor where the first difference is. */
    uint8_t a[SHA256_LEN], b[SHA256_LEN];
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, cred, strlen(cred));
    sha256_final(&c, a);
    sha256_init(&c);
    sha256_update(&c, token, strlen(token));
    sha256_final(&c, b);
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < SHA256_LEN; i++)
        diff |= a[i] ^ b[i];
    return diff == 0 && *cred != '\0';
}
