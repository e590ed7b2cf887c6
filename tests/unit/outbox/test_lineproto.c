#include "harness.h"
#include "outbox/lineproto.h"

#include <errno.h>
#include <math.h>

/* The example line of research notes §2.2 (Flameshot's OOM summary). */
TEST(flameshot_oom_line)
{
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "flameshot_oom_hprof");
    lp_tag(&b, "env", "prod");
    lp_tag(&b, "host", "node-a");
    lp_tag(&b, "service", "svc");
    lp_field_str(&b, "hprof_path", "/data/dumps/app.hprof");
    lp_field_int(&b, "hprof_size_bytes", 123);
    lp_field_str(&b, "matched_by", "path+time_window");
    lp_field_int(&b, "oom_kill_delta", 1);
    lp_field_str(&b, "status", "error");
    CHECK_EQ(lp_end(&b, 1715049419000000000ull), 0);
    CHECK_STREQ(b.data, "flameshot_oom_hprof,env=prod,host=node-a,service=svc "
                        "hprof_path=\"/data/dumps/app.hprof\",hprof_size_bytes=123i,"
                        "matched_by=\"path+time_window\",oom_kill_delta=1i,status=\"error\" "
                        "1715049419000000000\n");
    lp_free(&b);
}

TEST(escapes_measurement_tags_and_keys)
{
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "my meas,x=y");
    lp_tag(&b, "k ey,=", "v a,l=ue");
    lp_tag(&b, "multi", "line1\nline2\r\tend");
    lp_tag(&b, "win", "C:\\path\\");
    lp_field_str(&b, "f k=,", "v");
    CHECK_EQ(lp_end(&b, 1), 0);
    /* '=' is not special in a measurement; '\' in a tag becomes '/' */
    CHECK_STREQ(b.data, "my\\ meas\\,x=y,k\\ ey\\,\\==v\\ a\\,l\\=ue,multi=line1\\ line2\\ \\ end,"
                        "win=C:/path/ f\\ k\\=\\,=\"v\" 1\n");
    lp_free(&b);
}

TEST(string_fields_keep_newlines_escape_quotes_and_backslashes)
{
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "m");
    lp_field_str(&b, "preview", "\"main\" #1 prio=5\n\tat a.B(C:\\x)\n");
    CHECK_EQ(lp_end(&b, 42), 0);
    CHECK_STREQ(b.data, "m preview=\"\\\"main\\\" #1 prio=5\n\tat a.B(C:\\\\x)\n\" 42\n");
    lp_free(&b);
}

TEST(number_and_bool_formats)
{
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "m");
    lp_field_int(&b, "i", -9223372036854775807LL - 1);
    lp_field_uint(&b, "u", 18446744073709551615ULL);
    lp_field_float(&b, "f1", 0.1);
    lp_field_float(&b, "f2", 3.0);
    lp_field_float(&b, "f3", 70.23);
    lp_field_float(&b, "f4", 1e21);
    lp_field_bool(&b, "t", true);
    lp_field_bool(&b, "n", false);
    CHECK_EQ(lp_end(&b, 0), 0);
    CHECK_STREQ(b.data, "m i=-9223372036854775808i,u=18446744073709551615u,f1=0.1,f2=3,"
                        "f3=70.23,f4=1e+21,t=true,n=false 0\n");
    lp_free(&b);
}

TEST(errors_drop_the_partial_line_only)
{
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "ok");
    lp_field_int(&b, "a", 1);
    CHECK_EQ(lp_end(&b, 5), 0);
    lp_begin(&b, "bad");
    lp_field_float(&b, "nan", NAN);
    lp_field_int(&b, "b", 2);
    CHECK_EQ(lp_end(&b, 6), -EINVAL);
    lp_begin(&b, "nofields");
    lp_tag(&b, "t", "v");
    CHECK_EQ(lp_end(&b, 7), -EINVAL);
    lp_begin(&b, "tag_after_field");
    lp_field_int(&b, "a", 1);
    lp_tag(&b, "t", "v");
    CHECK_EQ(lp_end(&b, 8), -EINVAL);
    lp_begin(&b, "new\nline");
    CHECK_EQ(lp_end(&b, 9), -EINVAL);
    lp_begin(&b, "m2");
    lp_tag(&b, "empty", "");
    lp_tag(&b, "null", NULL);
    lp_field_int(&b, "c", 3);
    CHECK_EQ(lp_end(&b, 10), 0);
    CHECK_STREQ(b.data, "ok a=1i 5\nm2 c=3i 10\n");
    lp_free(&b);
}

TEST(tag_values_are_cut_at_1024_bytes_on_a_character_boundary)
{
    char v[1100];
    memset(v, 'a', 1023);
    memcpy(v + 1023, "\xc3\xa9tail", 7); /* 'é' straddles byte 1024 */
    struct lp_buf b;
    lp_init(&b);
    lp_begin(&b, "m");
    lp_tag(&b, "t", v);
    lp_field_int(&b, "x", 1);
    CHECK_EQ(lp_end(&b, 1), 0);
    const char *eq = strchr(b.data, '=');
    const char *sp = strchr(eq, ' ');
    CHECK_EQ(sp - eq - 1, 1023);
    lp_free(&b);
}

TEST_MAIN(flameshot_oom_line, escapes_measurement_tags_and_keys,
          string_fields_keep_newlines_escape_quotes_and_backslashes, number_and_bool_formats,
          errors_drop_the_partial_line_only,
          tag_values_are_cut_at_1024_bytes_on_a_character_boundary)
