/* httpurl: the pprof_url forms Flameshot's users write, and the ones a
 * request made inside a network namespace cannot honour. */
#include "harness.h"

#include "core/httpurl.h"

#include <arpa/inet.h>
#include <errno.h>

TEST(addresses_ports_paths_and_queries)
{
    struct httpurl u;
    const char *why = NULL;
    CHECK_EQ(httpurl_parse("http://127.0.0.1:6060", &u, &why), 0);
    CHECK_EQ(u.family, AF_INET);
    CHECK_EQ(u.port, 6060);
    CHECK_STREQ(u.path, "");
    CHECK_STREQ(u.query, "");
    CHECK_STREQ(u.authority, "127.0.0.1:6060");
    CHECK_EQ(httpurl_parse("HTTP://localhost/base/?token=abc&x=1", &u, &why), 0);
    CHECK_EQ(u.port, 80);
    CHECK(u.addr[0] == 127 && u.addr[3] == 1);
    CHECK_STREQ(u.path, "/base/");
    CHECK_STREQ(u.query, "token=abc&x=1");
    CHECK_EQ(httpurl_parse("http://[::1]:6061/debug", &u, &why), 0);
    CHECK_EQ(u.family, AF_INET6);
    CHECK_STREQ(u.host, "::1");
    CHECK_EQ(u.port, 6061);
    CHECK_STREQ(u.authority, "[::1]:6061");
    CHECK_STREQ(u.path, "/debug");
    CHECK_EQ(httpurl_parse("http://[fd00::5]", &u, &why), 0);
    CHECK_EQ(u.port, 80);
    CHECK_EQ(httpurl_parse("http://10.0.0.7:8080?a=b", &u, &why), 0);
    CHECK_STREQ(u.path, "");
    CHECK_STREQ(u.query, "a=b");
}

TEST(what_cannot_be_pulled_is_refused_with_why)
{
    struct httpurl u;
    const char *why = NULL;
    const struct {
        const char *url, *why;
    } bad[] = {
        {"https://127.0.0.1:6060", "https is not supported"},
        {"ftp://127.0.0.1", "must start with http://"},
        {"127.0.0.1:6060", "must start with http://"},
        {"http://pprof.svc:6060", "IP address or localhost"},
        {"http://127.0.0.1:0", "between 1 and 65535"},
        {"http://127.0.0.1:65536", "between 1 and 65535"},
        {"http://127.0.0.1:60a", "between 1 and 65535"},
        {"http://127.0.0.1:", "between 1 and 65535"},
        {"http://:6060", "no host"},
        {"http://u:p@127.0.0.1", "user info"},
        {"http://127.0.0.1/#x", "fragment"},
        {"http://[::1", "lacks its ]"},
        {"http://[::1]x:80", "junk after the ]"},
        {"http://127.0.0.1/a b", "spaces"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK_MSG(httpurl_parse(bad[i].url, &u, &why) == -EINVAL, "%s accepted", bad[i].url);
        CHECK_CONTAINS(why, bad[i].why);
    }
}

TEST_MAIN(addresses_ports_paths_and_queries, what_cannot_be_pulled_is_refused_with_why)
