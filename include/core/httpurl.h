/* httpurl: an http:// URL split into what a plain HTTP/1.1 client needs,
 * for Go's pprof_url (rules.h): the address a target's pprof handlers
 * listen on inside its own network namespace. There is no DNS in there
 * for us (the request is made from the target's network namespace but not
 * its mount namespace, so its /etc/hosts and resolv.conf are not read), so
 * the host is an IP literal or "localhost". Pure parsing; thread-safe. */
#ifndef FS_HTTPURL_H
#define FS_HTTPURL_H

#include <stdint.h>

struct httpurl {
    char host[64];      /* as written: "127.0.0.1", "::1" (no brackets), "localhost" */
    int family;         /* AF_INET or AF_INET6 ("localhost" is AF_INET, 127.0.0.1) */
    uint8_t addr[16];   /* the address, network order (4 bytes for AF_INET) */
    uint16_t port;      /* 80 when not written */
    char path[512];     /* "" or "/base" as written, without the query */
    char query[512];    /* after '?', "" when none */
    char authority[80]; /* for the Host header: "127.0.0.1:6060", "[::1]:6060" */
};

/* Parses "http://host[:port][/path][?query]". Returns 0, or -EINVAL with
 * *why (static text) saying what is wrong: another scheme (https included:
 * no TLS is spoken), user info, a fragment, a host name other than
 * localhost, a bad port, or a part too long. */
int httpurl_parse(const char *url, struct httpurl *u, const char **why);

#endif
