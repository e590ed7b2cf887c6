/* query: the strict query parser byte by byte (escapes, NUL and control
 * bytes, UTF-8, repeated and unknown parameters, bounds), the error body
 * and the bearer token check. */
#include "harness.h"
#include "http/query.h"

#include <cjson/cJSON.h>
#include <errno.h>

static const struct query_spec spec[] = {
    {"pid", 16}, {"command", 32}, {"duration", 8}, {"events", 64}, {NULL, 0}};

/* Parses raw; returns rc, the error in err. */
static int parse(const char *raw, struct httpq *q, char *err)
{
    err[0] = '\0';
    return query_parse(raw, spec, q, err, 256);
}

TEST(parses_and_decodes)
{
    struct httpq q;
    char err[256];
    CHECK_EQ(parse("pid=123&command=a+b%2Bc%41%6a&duration=30s", &q, err), 0);
    CHECK_EQ(q.n, 3);
    CHECK_STREQ(query_get(&q, "pid"), "123");
    CHECK_STREQ(query_get(&q, "command"), "a b+cAj");
    CHECK_STREQ(query_get(&q, "duration"), "30s");
    CHECK(query_get(&q, "events") == NULL);
    query_free(&q);
    CHECK_EQ(q.n, 0);
}

TEST(empty_and_tolerated_segments)
{
    struct httpq q;
    char err[256];
    CHECK_EQ(parse(NULL, &q, err), 0);
    CHECK_EQ(q.n, 0);
    CHECK_EQ(parse("", &q, err), 0);
    CHECK_EQ(q.n, 0);
    CHECK_EQ(parse("&&pid=1&&", &q, err), 0);
    CHECK_STREQ(query_get(&q, "pid"), "1");
    query_free(&q);
    CHECK_EQ(parse("pid", &q, err), 0); /* no '=': empty value */
    CHECK_STREQ(query_get(&q, "pid"), "");
    query_free(&q);
    CHECK_EQ(parse("command=a=b", &q, err), 0); /* split at the first '=' */
    CHECK_STREQ(query_get(&q, "command"), "a=b");
    query_free(&q);
}

TEST(bad_percent_encoding)
{
    static const char *bad[] = {"pid=%",   "pid=%4", "pid=1%zz", "pid=%4g",
                                "pid=%g4", "pid=1%", "p%id=1",   "command=%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct httpq q;
        char err[256];
        CHECK_MSG(parse(bad[i], &q, err) == -EINVAL, "%s accepted", bad[i]);
        CHECK_CONTAINS(err, "bad percent-encoding");
        CHECK_EQ(q.n, 0);
    }
}

TEST(nul_and_control_bytes)
{
    struct httpq q;
    char err[256];
    CHECK_EQ(parse("pid=1%00", &q, err), -EINVAL);
    CHECK_CONTAINS(err, "pid: NUL byte");
    CHECK_EQ(parse("command=%00abc", &q, err), -EINVAL);
    CHECK_CONTAINS(err, "NUL");
    CHECK_EQ(parse("pi%00d=1", &q, err), -EINVAL); /* in a name too */
    CHECK_CONTAINS(err, "parameter name: NUL");
    static const char *ctl[] = {"command=a%0Ab", "command=a%0db", "command=%1b[31m",
                                "command=a%7Fb", "command=a\tb"};
    for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
        CHECK_MSG(parse(ctl[i], &q, err) == -EINVAL, "%s accepted", ctl[i]);
        CHECK_CONTAINS(err, "control character");
    }
}

TEST(utf8_validated)
{
    struct httpq q;
    char err[256];
    CHECK_EQ(parse("command=%E2%82%AC%F0%9F%94%A5%C3%A9", &q, err), 0); /* € 🔥 é */
    CHECK_STREQ(query_get(&q, "command"), "\xE2\x82\xAC\xF0\x9F\x94\xA5\xC3\xA9");
    query_free(&q);
    static const char *bad[] = {
        "command=%C3%28",       /* bad continuation */
        "command=%C0%AF",       /* overlong '/' */
        "command=%E0%80%AF",    /* overlong, 3 bytes */
        "command=%ED%A0%80",    /* UTF-16 surrogate */
        "command=%F4%90%80%80", /* past U+10FFFF */
        "command=%E2%82",       /* truncated */
        "command=%FF",          /* never valid */
        "command=%80abc",       /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(parse(bad[i], &q, err) == -EINVAL, "%s accepted", bad[i]);
        CHECK_CONTAINS(err, "not valid UTF-8");
    }
}

TEST(repeated_parameters)
{
    struct httpq q;
    char err[256];
    CHECK_EQ(parse("pid=1&pid=2", &q, err), -EINVAL);
    CHECK_STREQ(err, "pid: given more than once");
    CHECK_EQ(parse("pid=1&pi%64=1", &q, err), -EINVAL); /* the same name, encoded */
    CHECK_STREQ(err, "pid: given more than once");
    CHECK_EQ(parse("pid=1&command=x&pid", &q, err), -EINVAL);
    CHECK_EQ(q.n, 0); /* nothing leaks out of a failed parse */
}

TEST(unknown_parameters_with_hint)
{
    struct httpq q;
    char err[256];
    CHECK_EQ(parse("pid=1&durration=1s", &q, err), -EINVAL);
    CHECK_STREQ(err, "unknown parameter \"durration\" (did you mean \"duration\"?)");
    CHECK_EQ(parse("xyzzy=1", &q, err), -EINVAL);
    CHECK_STREQ(err, "unknown parameter \"xyzzy\"");
    CHECK_EQ(parse("=1", &q, err), -EINVAL);
    CHECK_STREQ(err, "empty parameter name");
    CHECK_EQ(parse("%E2%82%AC=1", &q, err), -EINVAL); /* shown without its raw bytes */
    CHECK_STREQ(err, "unknown parameter \"???\"");
}

TEST(values_bounded)
{
    struct httpq q;
    char err[256], raw[256];
    snprintf(raw, sizeof(raw), "duration=%s", "12345678"); /* exactly the bound */
    CHECK_EQ(parse(raw, &q, err), 0);
    query_free(&q);
    CHECK_EQ(parse("duration=123456789", &q, err), -EINVAL);
    CHECK_STREQ(err, "duration: value longer than 8 bytes");
    /* the bound is on the decoded value: 8 escaped bytes are fine */
    CHECK_EQ(parse("duration=%31%32%33%34%35%36%37%38", &q, err), 0);
    query_free(&q);
    /* a huge value is refused before any decoding */
    size_t n = 1 << 20;
    char *huge = malloc(n + 16);
    CHECK(huge != NULL);
    memcpy(huge, "command=", 8);
    memset(huge + 8, 'a', n);
    huge[8 + n] = '\0';
    CHECK_EQ(parse(huge, &q, err), -EINVAL);
    CHECK_STREQ(err, "command: value longer than 32 bytes");
    memcpy(huge, "aaaaaaaa", 8); /* a huge name */
    CHECK_EQ(parse(huge, &q, err), -EINVAL);
    CHECK_CONTAINS(err, "parameter name longer than");
    free(huge);
}

TEST(parameter_count_bounded)
{
    struct query_spec many[QUERY_MAX_PARAMS + 2];
    char names[QUERY_MAX_PARAMS + 1][8], raw[512] = "", err[256];
    size_t o = 0;
    for (int i = 0; i <= QUERY_MAX_PARAMS; i++) {
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        many[i] = (struct query_spec){names[i], 4};
        o += (size_t)snprintf(raw + o, sizeof(raw) - o, "%sp%d=1", i ? "&" : "", i);
    }
    many[QUERY_MAX_PARAMS + 1] = (struct query_spec){NULL, 0};
    struct httpq q;
    CHECK_EQ(query_parse(raw, many, &q, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "more than 16 parameters");
    raw[strlen(raw) - 6] = '\0'; /* drop "&p16=1" */
    CHECK_EQ(query_parse(raw, many, &q, err, sizeof(err)), 0);
    CHECK_EQ(q.n, QUERY_MAX_PARAMS);
    query_free(&q);
}

TEST(unescape_direct)
{
    char out[64];
    const char *why = NULL;
    CHECK_EQ(query_unescape("a%20b+c", 7, out, &why), 5);
    CHECK_STREQ(out, "a b c");
    CHECK_EQ(query_unescape("abc%4", 3, out, &why), 3); /* len cuts before the escape */
    CHECK_STREQ(out, "abc");
    CHECK_EQ(query_unescape("abc%4", 5, out, &why), -1);
}

TEST(printable)
{
    char buf[8];
    CHECK_STREQ(query_printable("abc", buf, sizeof(buf)), "abc");
    CHECK_STREQ(query_printable("a\x01\xC3\xA9", buf, sizeof(buf)), "a???");
    CHECK_STREQ(query_printable("abcdefghij", buf, sizeof(buf)), "abcd...");
    CHECK_STREQ(query_printable("abcdefgh", buf, sizeof(buf)), "abcd...");
    CHECK_STREQ(query_printable("abcdefg", buf, sizeof(buf)), "abcdefg");
    CHECK_STREQ(query_printable("abcdef", buf, sizeof(buf)), "abcdef");
}

TEST(error_body)
{
    cJSON *o = query_error("bad parameter", "pid: \"x\" is not a number");
    CHECK(o != NULL);
    char *s = cJSON_PrintUnformatted(o);
    CHECK_STREQ(s, "{\"error\":\"bad parameter\",\"detail\":\"pid: \\\"x\\\" is not a number\"}");
    free(s);
    cJSON_Delete(o);
    o = query_error("e", NULL);
    CHECK_STREQ(cJSON_GetObjectItem(o, "detail")->valuestring, "");
    cJSON_Delete(o);
}

TEST(bearer_token)
{
    const char *tok = "s3cr3t-token";
    CHECK(query_bearer_ok("Bearer s3cr3t-token", tok));
    CHECK(query_bearer_ok("bearer s3cr3t-token", tok)); /* scheme is case-insensitive */
    CHECK(query_bearer_ok("BEARER   s3cr3t-token", tok));
    CHECK(!query_bearer_ok("Bearer s3cr3t-tokeN", tok));  /* the token is not */
    CHECK(!query_bearer_ok("Bearer s3cr3t-toke", tok));   /* a prefix */
    CHECK(!query_bearer_ok("Bearer s3cr3t-token2", tok)); /* longer */
    CHECK(!query_bearer_ok("Bearer ", tok));
    CHECK(!query_bearer_ok("Bearer", tok));
    CHECK(!query_bearer_ok("Basic czNjcjN0LXRva2Vu", tok));
    CHECK(!query_bearer_ok("s3cr3t-token", tok));
    CHECK(!query_bearer_ok(NULL, tok));
    CHECK(!query_bearer_ok("Bearer x", NULL));
    CHECK(!query_bearer_ok("Bearer ", "")); /* an empty credential never passes */
    /* a long token, mismatching only in its last byte */
    char a[4096 + 8], b[4096 + 1];
    memset(b, 'k', 4096);
    b[4096] = '\0';
    snprintf(a, sizeof(a), "Bearer %s", b);
    CHECK(query_bearer_ok(a, b));
    a[sizeof(a) - 2] = 'j';
    CHECK(!query_bearer_ok(a, b));
}

TEST_MAIN(parses_and_decodes, empty_and_tolerated_segments, bad_percent_encoding,
          nul_and_control_bytes, utf8_validated, repeated_parameters, unknown_parameters_with_hint,
          values_bounded, parameter_count_bounded, unescape_direct, printable, error_body,
          bearer_token)
