/* nsexec: the forked helper really is confined — chrooted, dropped to the
 * given uid/gid with no capabilities, other fds closed — it hands an fd
 * back, and it is killed on timeout. Needs root (it changes credentials);
 * no JVM and no namespace switch (mntns_fd = -1). */
#include "harness.h"
#include "capture/nsexec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

struct traced {
    int to_tracer, from_tracer;
};

/* Hands its pid to the tracer, waits until it is traced, then blocks. */
static int traced_sleeper(struct nsexec_child *c, void *arg)
{
    const struct traced *a = arg;
    pid_t me = getpid();
    char ok = 0;
    if (write(a->to_tracer, &me, sizeof(me)) != sizeof(me) || read(a->from_tracer, &ok, 1) != 1 ||
        ok != 'y')
        return nsexec_reply(c, "not traced"), -EPERM;
    for (;;)
        pause();
}

/* A separate process that PTRACE_SEIZEs the helper. Once SIGKILLed, a
 * traced process is a zombie only its tracer can see (kernel/exit.c,
 * wait_consider_task: "A zombie ptracee is only visible to its ptracer"):
 * its real parent cannot reap it until the tracer goes away. That is a
 * helper SIGKILL does not end in time, as one in uninterruptible sleep on
 * a hung mount is, made with nothing but the kernel. */
static pid_t start_tracer(int from_child, int to_child)
{
    pid_t t = fork();
    if (t != 0)
        return t;
    pid_t pid;
    char ok = 'n';
    if (read(from_child, &pid, sizeof(pid)) == sizeof(pid) &&
        ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0)
        ok = 'y';
    if (write(to_child, &ok, 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

struct run {
    struct nsexec_spec spec;
    struct traced a;
    struct nsexec_result res;
    int rc;
};

static void *run_thread(void *p)
{
    struct run *r = p;
    r->rc = nsexec_run(&r->spec, traced_sleeper, &r->a, &r->res);
    return NULL;
}

TEST(a_helper_sigkill_cannot_end_is_left_and_reaped_later)
{
    NEED(getuid() == 0, "needs root to change credentials and trace");
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t tracer = start_tracer(up[0], down[1]);
    CHECK(tracer > 0);
    int keep[2] = {up[1], down[0]};
    struct run r = {.spec = {.mntns_fd = -1,
                             .root_fd = -1,
                             .uid = NOBODY,
                             .gid = NOBODY,
                             .keep_fds = keep,
                             .nkeep = 2,
                             .timeout_ms = 300},
                    .a = {up[1], down[0]}};
    size_t before = nsexec_stuck_count();
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, run_thread, &r), 0);
    /* the bound is 300 ms + 2 s */
    bool joined = t_joined_within(th, 10);
    size_t stuck = nsexec_stuck_count();
    size_t left_while_traced = nsexec_reap_stuck();
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
    if (!joined) /* the tracer's end releases the zombie to its parent */
        pthread_join(th, NULL);
    for (int i = 0; i < 2; i++)
        close(up[i]), close(down[i]);
    CHECK_MSG(joined, "nsexec_run still waited 10 s after a 300 ms timeout");
    CHECK_EQ(r.rc, -ETIMEDOUT);
    CHECK_CONTAINS(r.res.text, "stuck in the kernel");
    CHECK_EQ(stuck, before + 1);
    CHECK_EQ(left_while_traced, before + 1);
    /* the tracer is gone: the zombie is its parent's again, and reaped */
    size_t left = before + 1;
    for (int i = 0; i < 500 && (left = nsexec_reap_stuck()) > before; i++)
        usleep(10000);
    CHECK_EQ(left, before);
}

TEST_MAIN(child_is_chrooted_unprivileged_and_clean, child_killed_on_timeout,
          a_helper_sigkill_cannot_end_is_left_and_reaped_later, child_dying_without_reply,
          setup_failure_names_the_step)
