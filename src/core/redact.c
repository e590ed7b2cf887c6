#include "core/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

static const char *const secret_words[] = {
    "token", "secret", "passwd", "password", "pwd", "credential", "apikey", "api_key",
};

/* A bounded, case-insensitive strstr. */
static bool has_word(const char *s, size_t len, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= len; i++)
        if (strncasecmp(s + i, w, wl) == 0)
            return true;
    return false;
}

bool redact_secret_key(const char *key, size_t len)
{
    for (size_t i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
        if (has_word(key, len, secret_words[i]))
            return true;
    return len >= 3 && strncasecmp(key + len - 3, "key", 3) == 0;
}

struct out {
    char *buf;
    size_t len;
    bool redacted;
};

static void put(struct out *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void mask(struct out *o)
{
    put(o, MASK, strlen(MASK));
    o->redacted = true;
}

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* Where a value found inside an argument ends. */
static size_t value_end(const char *a, size_t i, size_t n)
{
    while (i < n && !strchr("&;, \t", a[i]))
        i++;
    return i;
}

/* At a[i] == '=': the end of a secret value to hide, or 0 when the key
 * before it does not look secret (or the value is empty). */
static size_t secret_value(const char *a, size_t i, size_t n)
{
    size_t k = i;
    while (k > 0 && key_char(a[k - 1]))
        k--;
    if (k == i || !redact_secret_key(a + k, i - k))
        return 0;
    size_t end = k == 0 ? n : value_end(a, i + 1, n);
    return end > i + 1 ? end : 0;
}

/* At "://" in a[i]: the span [*from, return) of a user:password's
 * password in the authority, or 0 when there is none. */
static size_t url_password(const char *a, size_t i, size_t n, size_t *from)
{
    size_t s = i + 3, e = s, at = 0, colon = 0;
    while (e < n && !strchr("/?# \t", a[e]))
        e++;
    for (size_t p = s; p < e; p++)
        if (a[p] == '@')
            at = p;
    for (size_t p = s; at && p < at && !colon; p++)
        if (a[p] == ':')
            colon = p;
    if (!colon || colon + 1 == at)
        return 0;
    *from = colon + 1;
    return at;
}

static void redact_arg(struct out *o, const char *a, size_t n)
{
    size_t copied = 0;
    for (size_t i = 0; i < n; i++) {
        size_t from = i + 1, end = 0;
        if (a[i] == '=')
            end = secret_value(a, i, n);
        else if (a[i] == ':' && i + 3 <= n && a[i + 1] == '/' && a[i + 2] == '/')
            end = url_password(a, i, n, &from);
        if (!end)
            continue;
        put(o, a + copied, from - copied);
        mask(o);
        copied = end;
        i = end - 1;
    }
    put(o, a + copied, n - copied);
}

/* "--password" or "-token": a flag whose value is the next argument. JVM
 * options (-D, -X) carry their value after '=' or ':'. */
static bool secret_flag(const char *a, size_t n)
{
    return n > 1 && a[0] == '-' && a[1] != 'D' && a[1] != 'X' && !memchr(a, '=', n) &&
           redact_secret_key(a, n);
}

char *redact_argv(const char *argv, size_t len, bool *redacted)
{
    *redacted = false;
    while (len && argv[len - 1] == '\0')
        len--;
    /* each mask replaces at least one byte after an '=', ':' or a NUL */
    struct out o = {.buf = malloc(4 * len + 4)};
    if (!o.buf || !len) {
        free(o.buf);
        return NULL;
    }
    bool hide_next = false;
    for (size_t s = 0; s <= len;) {
        const char *a = argv + s;
        const char *nul = memchr(a, '\0', len - s);
        size_t n = nul ? (size_t)(nul - a) : len - s;
        if (s)
            put(&o, " ", 1);
        if (hide_next && n)
            mask(&o);
        else
            redact_arg(&o, a, n);
        hide_next = secret_flag(a, n);
        s += n + 1;
    }
    o.buf[o.len] = '\0';
    *redacted = o.redacted;
    return o.buf;
}
