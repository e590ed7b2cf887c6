/* fuzz_query: the HTTP query string (http/query.h) with /v1/profile's
 * parameters: 0 with every value decoded, NUL-terminated, within its
 * bound, free of control bytes and found by query_get, or -EINVAL with a
 * reason and nothing to free; the unescaper, the bearer check and the
 * printable copy stay in their buffers. */
#include "http/query.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

static const struct query_spec spec[] = {
    {"pid", 16},       {"command", 256}, {"duration", 32},   {"events", 256},
    {"namespace", 63}, {"pod", 253},     {"container", 253}, {NULL, 0},
};

static size_t bound(const char *name)
{
    for (const struct query_spec *p = spec; p->name; p++)
        if (!strcmp(p->name, name))
            return p->max_len;
    FUZZ_CHECK(!"a parameter outside the spec");
    return 0;
}

static void parse(const char *s)
{
    struct httpq q;
    char err[128] = "";
    int rc = query_parse(s, spec, &q, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    FUZZ_TERMINATED(err);
    if (rc) {
        FUZZ_CHECK(q.n == 0 && (rc != -EINVAL || err[0]));
        return;
    }
    FUZZ_CHECK(q.n <= QUERY_MAX_PARAMS);
    for (size_t i = 0; i < q.n; i++) {
        const char *v = q.items[i].value;
        FUZZ_CHECK(strlen(v) <= bound(q.items[i].name));
        for (const char *c = v; *c; c++)
            FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        FUZZ_CHECK(query_get(&q, q.items[i].name) == v); /* never repeated */
    }
    query_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    parse(s);

    char *out = malloc(size + 1);
    FUZZ_CHECK(out);
    const char *why = NULL;
    long n = query_unescape((const char *)data, size, out, &why);
    FUZZ_CHECK(n == -1 ? why != NULL : (n >= 0 && (size_t)n <= size && strlen(out) == (size_t)n));
    free(out);

    (void)query_bearer_ok(s, "fuzz-token");
    char pr[24];
    query_printable(s, pr, sizeof(pr));
    FUZZ_TERMINATED(pr);
    for (const char *c = pr; *c; c++)
        FUZZ_CHECK(*c >= 0x20 && *c < 0x7f);
    free(s);
    return 0;
}
