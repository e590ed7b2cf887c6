/* fuzz_lineproto: the line protocol encoder (outbox/lineproto.h) fed
 * untrusted names: the input's NUL-separated parts are the measurement, a
 * tag key and value, a field key and a string value. A line is written
 * whole or not at all, and read back as influx 1.x reads it (the escapes
 * "\," "\=" "\ " in names, "\\" "\"" in strings), it gives back what was
 * written, after the documented replacements. */
#include "outbox/lineproto.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

/* influx 1.x: a name up to an unescaped stop character */
static const char *read_name(const char *p, const char *stops, char *out, size_t cap)
{
    size_t n = 0;
    while (*p && !strchr(stops, *p)) {
        if (*p == '\\' && p[1] && strchr(",= ", p[1]))
            p++;
        FUZZ_CHECK(n + 1 < cap);
        out[n++] = *p++;
    }
    out[n] = '\0';
    return p;
}

/* a tag value or key as lp_put_key/lp_put_tag_value promise to write it */
static void sanitized(const char *s, size_t max, char *out)
{
    size_t n = strlen(s) < max ? strlen(s) : max;
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] == '\\' ? '/' : strchr("\n\r\t", s[i]) ? ' ' : s[i];
    out[n] = '\0';
}

/* got is s as written: sanitized, and when longer than max cut (on a
 * character boundary) to a prefix of it */
static void same(const char *got, const char *s, size_t max, char *want)
{
    sanitized(s, max, want);
    FUZZ_CHECK(strlen(s) > max ? !strncmp(got, want, strlen(got)) : !strcmp(got, want));
}

static void check(const char *line, const char *parts[5])
{
    size_t cap = strlen(line) + 1;
    size_t most = 0; /* the longest part: what sanitized() may write */
    for (int i = 0; i < 5; i++)
        most = strlen(parts[i]) > most ? strlen(parts[i]) : most;
    char *got = malloc(cap), *want = malloc(most + 1);
    FUZZ_CHECK(got && want);
    const char *p = read_name(line, ", ", got, cap);
    same(got, parts[0], SIZE_MAX, want);
    if (parts[2][0]) { /* the tag: an empty value is dropped */
        FUZZ_CHECK(*p == ',');
        p = read_name(p + 1, "=", got, cap);
        same(got, parts[1], LP_MAX_KEY, want);
        p = read_name(p + 1, ", ", got, cap);
        same(got, parts[2], LP_MAX_TAG_VALUE, want);
    }
    FUZZ_CHECK(*p == ' ');
    p = read_name(p + 1, "=", got, cap);
    same(got, parts[3], LP_MAX_KEY, want);
    FUZZ_CHECK(*p == '=' && p[1] == '"');
    size_t n = 0;
    for (p += 2; *p != '"'; p++) {
        FUZZ_CHECK(*p);
        if (*p == '\\') {
            FUZZ_CHECK(p[1] == '\\' || p[1] == '"');
            p++;
        }
        got[n++] = *p;
    }
    got[n] = '\0';
    FUZZ_CHECK(!strcmp(got, parts[4]));
    FUZZ_CHECK(!strcmp(p, "\" 1\n"));
    free(got);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    const char *parts[5] = {s, "", "", "", ""};
    const char *end = s + size;
    for (int i = 1; i < 5; i++) {
        const char *nul = memchr(parts[i - 1], '\0', (size_t)(end - parts[i - 1]) + 1);
        if (nul >= end)
            break;
        parts[i] = nul + 1;
    }
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "before");
    lp_field_int(&b, "n", 1);
    FUZZ_CHECK(lp_end(&b, 0) == 0);
    size_t first = b.len;

    lp_begin(&b, parts[0]);
    lp_tag(&b, parts[1], parts[2]);
    lp_field_str(&b, parts[3], parts[4]);
    int rc = lp_end(&b, 1);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    FUZZ_CHECK(b.data && b.data[b.len] == '\0' && strlen(b.data) == b.len);
    if (rc)
        FUZZ_CHECK(b.len == first); /* the partial line is gone */
    else
        check(b.data + first, parts);
    lp_free(&b);
    free(s);
    return 0;
}
