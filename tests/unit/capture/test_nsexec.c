/* nsexec: the forked helper really is confined — chrooted, dropped to the
 * given uid/gid with no capabilities, other fds closed — it hands an fd
 * back, and it is killed on timeout. Needs root (it changes credentials);
 * no JVM and no namespace switch (mntns_fd = -1). */
#include "harness.h"
#include "capture/nsexec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NOBODY 65534

static int probe(struct nsexec_child *c, void *arg)
{
    const int *fds = arg; /* {leaked, kept} */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct caps[2];
    if (syscall(SYS_capget, &hdr, caps) < 0)
        return -errno;
    gid_t groups[4];
    int ngroups = getgroups(4, groups);
    int root_has_marker = access("/marker", F_OK) == 0;
    int fd = open("/made-by-child", O_WRONLY | O_CREAT | O_EXCL, 0600);
    struct stat st;
    int owned = fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == NOBODY && st.st_gid == NOBODY;
    nsexec_reply(c, "uid=%d gid=%d caps=%x groups=%d marker=%d owned=%d leaked=%d kept=%d",
                 (int)getuid(), (int)getgid(), caps[0].effective | caps[0].permitted, ngroups,
                 root_has_marker, owned, fcntl(fds[0], F_GETFD) >= 0, fcntl(fds[1], F_GETFD) >= 0);
    if (fd >= 0)
        nsexec_pass_fd(c, fd);
    return 7;
}

TEST(child_is_chrooted_unprivileged_and_clean)
{
    NEED(getuid() == 0, "needs root to change credentials");
    char dir[] = "/tmp/test_nsexec_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    chmod(dir, 0777);
    char p[128];
    snprintf(p, sizeof(p), "%s/marker", dir);
    close(open(p, O_WRONLY | O_CREAT, 0644));
    int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* not in keep_fds: must be closed (a high number, so that no fd the
     * child opens itself can take its place) */
    int null = open("/dev/null", O_RDONLY);
    int fds[2] = {dup2(null, 200), dup2(null, 201)};
    close(null);
    struct nsexec_spec spec = {.mntns_fd = -1,
                               .root_fd = root,
                               .uid = NOBODY,
                               .gid = NOBODY,
                               .keep_fds = &fds[1],
                               .nkeep = 1,
                               .timeout_ms = 5000};
    struct nsexec_result res;
    int rc = nsexec_run(&spec, probe, fds, &res);
    struct stat st;
    int passed = res.fd >= 0 && fstat(res.fd, &st) == 0 && st.st_uid == NOBODY;
    if (res.fd >= 0)
        close(res.fd);
    close(fds[0]);
    close(fds[1]);
    close(root);
    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    CHECK(system(p) == 0);
    CHECK_EQ(rc, 7);
    CHECK_STREQ(res.text, "uid=65534 gid=65534 caps=0 groups=0 marker=1 owned=1 leaked=0 kept=1");
    CHECK(passed);
}

static int sleeper(struct nsexec_child *c, void *arg)
{
    (void)c;
    (void)arg;
    sleep(30);
    return 0;
}

TEST(child_killed_on_timeout)
{
    NEED(getuid() == 0, "needs root to change credentials");
    struct nsexec_spec spec = {
        .mntns_fd = -1, .root_fd = -1, .uid = NOBODY, .gid = NOBODY, .timeout_ms = 300};
    struct nsexec_result res;
    time_t t0 = time(NULL);
    int rc = nsexec_run(&spec, sleeper, NULL, &res);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(time(NULL) - t0 < 5);
    CHECK_CONTAINS(res.text, "timed out");
}

static int crasher(struct nsexec_child *c, void *arg)
{
    (void)c;
    (void)arg;
    _exit(3);
}

TEST(child_dying_without_reply)
{
    NEED(getuid() == 0, "needs root to change credentials");
    struct nsexec_spec spec = {
        .mntns_fd = -1, .root_fd = -1, .uid = NOBODY, .gid = NOBODY, .timeout_ms = 5000};
    struct nsexec_result res;
    CHECK_EQ(nsexec_run(&spec, crasher, NULL, &res), -ECHILD);
    CHECK_CONTAINS(res.text, "exited with 3");
}

TEST(setup_failure_names_the_step)
{
    NEED(getuid() == 0, "needs root to change credentials");
    int not_ns = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct nsexec_spec spec = {
        .mntns_fd = not_ns, .root_fd = -1, .uid = NOBODY, .gid = NOBODY, .timeout_ms = 5000};
    struct nsexec_result res;
    int rc = nsexec_run(&spec, sleeper, NULL, &res);
    close(not_ns);
    CHECK_EQ(rc, -EINVAL);
    CHECK_CONTAINS(res.text, "entering the mount namespace");
}

TEST_MAIN(child_is_chrooted_unprivileged_and_clean, child_killed_on_timeout,
          child_dying_without_reply, setup_failure_names_the_step)
