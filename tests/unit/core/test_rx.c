/* rx: compile errors name PCRE2's message and offset; an untrusted pattern
 * cannot use \C and stops at its match limits instead of backtracking for
 * ever. */
#include "harness.h"
#include "core/rx.h"

TEST(compile_errors_say_where)
{
    char err[256];
    CHECK(rx_compile("java(", false, err, sizeof(err)) == NULL);
    CHECK_STREQ(err, "regex does not compile: missing closing parenthesis at offset 5");
}

TEST(matches_full_command_lines)
{
    char err[256];
    void *re = rx_compile("^java.*user-service\\.jar$", false, err, sizeof(err));
    CHECK(re != NULL);
    CHECK_EQ(rx_match(re, "java -jar /srv/user-service.jar", false), 1);
    CHECK_EQ(rx_match(re, "java -jar /srv/user-serviceXjar", false), 0);
    rx_free(re);
}

TEST(untrusted_patterns_are_bounded)
{
    char err[256];
    void *re = rx_compile("a\\Cb", false, err, sizeof(err));
    CHECK(re != NULL); /* \C is allowed in the configuration */
    rx_free(re);
    CHECK(rx_compile("a\\Cb", true, err, sizeof(err)) == NULL);
    re = rx_compile("^(a|aa)+$", true, err, sizeof(err));
    CHECK(re != NULL);
    char s[64];
    memset(s, 'a', 60);
    s[60] = 'b';
    s[61] = '\0';
    CHECK_EQ(rx_match(re, s, true), -1); /* exponential backtracking: cut off */
    CHECK_EQ(rx_match(re, "aaaa", true), 1);
    rx_free(re);
}

TEST_MAIN(compile_errors_say_where, matches_full_command_lines, untrusted_patterns_are_bounded)
