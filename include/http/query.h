/* query: the pure parts of the HTTP API, kept apart from the server so that
 * they can be tested byte by byte: strict parsing of a raw query string,
 * the error body every endpoint answers with, and the bearer token check.
 *
 * Query strings are application/x-www-form-urlencoded as Go's
 * url.ParseQuery (which Flameshot uses) reads them: '&' separates
 * parameters, '+' is a space, %XX is a byte. Unlike Go, anything dubious is
 * an error rather than dropped or kept: a bad escape, a NUL or other control
 * byte, invalid UTF-8, an unknown or repeated parameter, a value over its
 * bound. A request the agent does not fully understand must not start a
 * capture. */
#ifndef FS_HTTP_QUERY_H
#define FS_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

#define QUERY_MAX_PARAMS 16

/* One accepted parameter: its name and the longest decoded value. */
struct query_spec {
    const char *name;
    size_t max_len;
};

struct query_param {
    const char *name; /* the spec's name (not owned) */
    char *value;      /* decoded, NUL-terminated, owned */
};

struct httpq {
    struct query_param items[QUERY_MAX_PARAMS];
    size_t n;
};

/* Parses raw (the bytes after '?', undecoded; NULL or "" is an empty
 * query) against spec, an array ended by a {NULL, 0} entry. Empty
 * segments ("a=1&&b=2", a trailing '&') are skipped; "pid" without '=' has
 * the value "". Returns 0 with q filled (free with query_free), -EINVAL with
 * a one-line reason in err (q left empty), or -ENOMEM. */
int query_parse(const char *raw, const struct query_spec *spec, struct httpq *q, char *err,
                size_t errcap);

/* The decoded value of name, or NULL when absent. */
const char *query_get(const struct httpq *q, const char *name);

void query_free(struct httpq *q);

/* Decodes len bytes of s (percent escapes, '+' as space) into out (room
 * for len + 1 bytes), NUL-terminated. Returns the decoded length, or -1
 * with a static reason in *why on a bad escape, a control byte (NUL
 * included) or invalid UTF-8. */
long query_unescape(const char *s, size_t len, char *out, const char **why);

/* {"error": error, "detail": detail}; detail may be NULL (then ""). NULL on
 * ENOMEM. Caller cJSON_Delete's it. */
struct cJSON *query_error(const char *error, const char *detail);

/* True when header is "Bearer <token>" (scheme case-insensitive, one or
 * more spaces) and the credential equals token. The credential is compared
 * through SHA-256 digests with a branch-free loop, so neither the position
 * of the first differing byte nor the token's length shows in the time
 * taken. header NULL is false. */
bool query_bearer_ok(const char *header, const char *token);

/* Copies s into buf for an error message: printable ASCII kept, anything
 * else as '?', cut at cap - 1 bytes with "..." when longer. Returns buf. */
char *query_printable(const char *s, char *buf, size_t cap);

#endif
