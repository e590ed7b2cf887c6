/* Where the lean entry finds the full program: the parent of its own
 * directory + libexec/flameshot/flameshotd, the same rule for the image
 * (/usr/bin) and the build tree (build/bin), and never a relative path. */
#include "core/entry.h"
#include "harness.h"

#include <errno.h>

TEST(full_program_is_beside_the_entry_s_directory)
{
    char out[256];
    CHECK_EQ(entry_full_path("/usr/bin/flameshotd", out, sizeof(out)), 0);
    CHECK_STREQ(out, "/usr/libexec/flameshot/flameshotd");
    CHECK_EQ(entry_full_path("/work/tree/build/bin/flameshotd", out, sizeof(out)), 0);
    CHECK_STREQ(out, "/work/tree/build/libexec/flameshot/flameshotd");
    CHECK_EQ(entry_full_path("/usr//bin/flameshotd", out, sizeof(out)), 0);
    CHECK_STREQ(out, "/usr/libexec/flameshot/flameshotd");
    /* at the top, the parent of / is / */
    CHECK_EQ(entry_full_path("/bin/flameshotd", out, sizeof(out)), 0);
    CHECK_STREQ(out, "/libexec/flameshot/flameshotd");
    CHECK_EQ(entry_full_path("/flameshotd", out, sizeof(out)), 0);
    CHECK_STREQ(out, "/libexec/flameshot/flameshotd");
}

TEST(relative_or_too_long_is_refused)
{
    char out[32];
    CHECK_EQ(entry_full_path("bin/flameshotd", out, sizeof(out)), -EINVAL);
    CHECK_EQ(entry_full_path(NULL, out, sizeof(out)), -EINVAL);
    CHECK_EQ(entry_full_path("/usr/bin/flameshotd", out, sizeof(out)), -ENAMETOOLONG);
}

TEST_MAIN(full_program_is_beside_the_entry_s_directory, relative_or_too_long_is_refused)
