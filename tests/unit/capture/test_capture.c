/* capture_snapshots against tests/helpers/fake_jvm when the caller's
 * writer fails (a full or read-only spool): the summary blames the write,
 * not the JVM's reply, and claims no bytes. Needs root and make test-build. */
#include "capture/capture.h"
#include "core/metrics.h"
#include "fakejvm.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* /dev/full fails every write with ENOSPC, the first one too: the
 * "<pid>:" line that heads each output. */
TEST(a_writer_failing_its_first_write_fails_the_snapshot_naming_it)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    struct proc_ident id;
    struct metrics m = {0};
    struct snapshot_summary out[SNAPSHOT_TYPES];
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    NEED(fd >= 0, "needs /dev/full");
    struct bounded h = {.write = bounded_fd_write, .arg = &fd, .cap = 1 << 20};
    struct bounded t = {.write = bounded_fd_write, .arg = &fd, .cap = 1 << 20};
    int rc = -99;
    if (fakejvm_start(&f, "whole", "java", NULL) == 0 && procfs_ident(NULL, f.pid, &id) == 0)
        rc = capture_snapshots(&id, 5000, 0, &h, &t, &m, out);
    fakejvm_stop(&f);
    close(fd);
    CHECK_EQ(rc, -ENOSPC);
    for (int i = 0; i < SNAPSHOT_TYPES; i++) {
        const struct snapshot_summary *s = &out[i];
        CHECK_MSG(s->rc == -ENOSPC, "%s: rc %d: %s", snapshot_command(s->type), s->rc, s->error);
        CHECK_EQ(s->output_size_bytes, 0);
        CHECK(!s->complete);
        CHECK_CONTAINS(s->error, "writing the output: No space left on device");
        CHECK_MSG(!strstr(s->error, "cut after"), "%s", s->error);
    }
}

TEST_MAIN(a_writer_failing_its_first_write_fails_the_snapshot_naming_it)
