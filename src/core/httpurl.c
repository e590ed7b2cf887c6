#include "core/httpurl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(const char **why, const char *text)
{
    *why = text;
    return -EINVAL;
}

static int parse_port(const char *p, size_t n, uint16_t *out, const char **why)
{
    long v = 0;
    if (n == 0 || n > 5)
        return fail(why, "the port is not a number between 1 and 65535");
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return fail(why, "the port is not a number between 1 and 65535");
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return fail(why, "the port is not a number between 1 and 65535");
    *out = (uint16_t)v;
    return 0;
}

/* host[:port] or [v6][:port]: the n bytes at a. */
static int parse_authority(const char *a, size_t n, struct httpurl *u, const char **why)
{
    const char *host = a, *port = NULL;
    size_t hl, portlen = 0;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return fail(why, "an IPv6 address in [] lacks its ]");
        host = a + 1;
        hl = (size_t)(close - host);
        size_t left = (size_t)(a + n - (close + 1));
        if (left && close[1] != ':')
            return fail(why, "junk after the ] of the IPv6 address");
        if (left) {
            port = close + 2;
            portlen = left - 1;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        hl = colon ? (size_t)(colon - a) : n;
        if (colon) {
            port = colon + 1;
            portlen = (size_t)(a + n - port);
        }
    }
    if (hl == 0 || hl >= sizeof(u->host))
        return fail(why, "no host, or a host too long");
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    u->port = 80;
    return port ? parse_port(port, portlen, &u->port, why) : 0;
}

static int resolve_literal(struct httpurl *u, const char **why)
{
    if (strcasecmp(u->host, "localhost") == 0) {
        u->family = AF_INET;
        return inet_pton(AF_INET, "127.0.0.1", u->addr) == 1 ? 0 : -EINVAL;
    }
    if (inet_pton(AF_INET, u->host, u->addr) == 1)
        u->family = AF_INET;
    else if (inet_pton(AF_INET6, u->host, u->addr) == 1)
        u->family = AF_INET6;
    else
        return fail(why, "the host must be an IP address or localhost: the request is made in "
                         "the target's network namespace, where the agent has no DNS");
    return 0;
}

int httpurl_parse(const char *url, struct httpurl *u, const char **why)
{
    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "https://", 8) == 0)
        return fail(why, "https is not supported: pprof is pulled over plain HTTP inside the "
                         "target's network namespace");
    if (strncasecmp(url, "http://", 7) != 0)
        return fail(why, "must start with http:// (e.g. http://127.0.0.1:6060)");
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    if (memchr(a, '@', n))
        return fail(why, "user info (user@host) is not supported");
    if (strchr(url, '#'))
        return fail(why, "a fragment (#...) has no meaning here");
    if (strpbrk(url, " \t\r\n"))
        return fail(why, "must not contain spaces or line breaks");
    int rc = parse_authority(a, n, u, why);
    if (rc == 0)
        rc = resolve_literal(u, why);
    if (rc < 0)
        return rc;
    const char *rest = a + n, *q = strchr(rest, '?');
    size_t pl = q ? (size_t)(q - rest) : strlen(rest);
    if (pl >= sizeof(u->path) || (q && strlen(q + 1) >= sizeof(u->query)))
        return fail(why, "the path or query is too long");
    memcpy(u->path, rest, pl);
    u->path[pl] = '\0';
    snprintf(u->query, sizeof(u->query), "%s", q ? q + 1 : "");
    snprintf(u->authority, sizeof(u->authority), u->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
             u->host, (unsigned)u->port);
    return 0;
}
