/* redact: what /v1/targets shows of a command line. Each case is an argv
 * written with spaces between arguments (t_argv) and the line expected. */
#include "harness.h"
#include "core/redact.h"

#include <stdlib.h>

static const struct {
    const char *argv, *shown;
} cases[] = {
    /* -D properties and --flags whose key looks secret: the whole value */
    {"java -Ddb.password=hunter2 -jar app.jar", "java -Ddb.password=*** -jar app.jar"},
    {"java -Djavax.net.ssl.keyStorePassword=a,b;c Main",
     "java -Djavax.net.ssl.keyStorePassword=*** Main"},
    {"java -DAPI_TOKEN=t0k -Dclient.Secret=s Main",
     "java -DAPI_TOKEN=*** -Dclient.Secret=*** Main"},
    {"app --db-passwd=x --aws.credentials=y --pwd=z",
     "app --db-passwd=*** --aws.credentials=*** --pwd=***"},
    {"app --apikey=1 --api_key=2 -Dstripe.key=3 --key=4 -Daccess-key=5",
     "app --apikey=*** --api_key=*** -Dstripe.key=*** --key=*** -Daccess-key=***"},
    /* a flag and its value as two arguments */
    {"app --password hunter2 --user bob", "app --password *** --user bob"},
    {"app -token abc run", "app -token *** run"},
    {"app --api-key k1", "app --api-key ***"},
    /* key=value inside another value: up to the next separator */
    {"java -Ddb.url=jdbc:mysql://h:3306/db?user=a&password=b&ssl=true Main",
     "java -Ddb.url=jdbc:mysql://h:3306/db?user=a&password=***&ssl=true Main"},
    {"app --opts=mode=fast;secret=s3;x=1", "app --opts=mode=fast;secret=***;x=1"},
    /* URLs with credentials */
    {"app --upstream=https://bob:pa55@example.com:8443/x",
     "app --upstream=https://bob:***@example.com:8443/x"},
    {"app postgres://u:p@db/app redis://cache:6379",
     "app postgres://u:***@db/app redis://cache:6379"},
    {"app https://user:p@ss@host/path", "app https://user:***@host/path"},
    /* left alone */
    {"java -Xmx512m -XX:HeapDumpPath=/dumps -Dspring.profiles.active=prod -jar /srv/app.jar",
     "java -Xmx512m -XX:HeapDumpPath=/dumps -Dspring.profiles.active=prod -jar /srv/app.jar"},
    {"app --keystore=/etc/ks.p12 --password= ssh://git@host/repo https://host:443/",
     "app --keystore=/etc/ks.p12 --password= ssh://git@host/repo https://host:443/"},
    {"java -Dpassword Main", "java -Dpassword Main"}, /* a -D without a value: no next argument */
};

TEST(secret_values_are_masked)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char argv[512];
        bool redacted;
        size_t n = t_argv(cases[i].argv, argv, sizeof(argv));
        char *shown = redact_argv(argv, n, &redacted);
        CHECK_MSG(shown && strcmp(shown, cases[i].shown) == 0, "case %zu: \"%s\", want \"%s\"", i,
                  shown ? shown : "(null)", cases[i].shown);
        CHECK_MSG(redacted == (strcmp(cases[i].argv, cases[i].shown) != 0), "case %zu: redacted %d",
                  i, redacted);
        free(shown);
    }
}

TEST(joined_as_procfs_joins)
{
    /* empty arguments keep their place; trailing NULs go */
    static const char raw[] = "java\0\0-Dtoken=x\0Main\0\0";
    bool redacted;
    char *shown = redact_argv(raw, sizeof(raw) - 1, &redacted);
    CHECK_STREQ(shown, "java  -Dtoken=*** Main");
    CHECK(redacted);
    free(shown);
    CHECK(redact_argv("\0\0", 2, &redacted) == NULL);
    CHECK(!redacted);
}

TEST(worst_case_growth_fits)
{
    /* one-byte values everywhere: the output is larger than the input */
    static const char raw[] = "--key\0a\0--key\0b\0key=c\0u://a:b@h";
    bool redacted;
    char *shown = redact_argv(raw, sizeof(raw), &redacted);
    CHECK_STREQ(shown, "--key *** --key *** key=*** u://a:***@h");
    free(shown);
}

TEST_MAIN(secret_values_are_masked, joined_as_procfs_joins, worst_case_growth_fits)
