/* nsexec: the forked helper really is confined — chrooted, dropped to the
 * given uid/gid with no capabilities, other fds closed — it hands an fd
 * back, and it is killed on timeout. Needs root (it changes credentials).
 * No JVM; one test enters a mount namespace the test makes, as uid 0,
 * where only an explicit drop takes the capabilities away. */
#include "harness.h"
#include "capture/nsexec.h"
#include "nsview.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

/* A mount namespace held by a waiting child: a tmpfs over dir holds
 * "inside" and the mode-0000 "locked" (root's); "host", written before,
 * lies under the tmpfs, so only the host sees it. */
struct ns_holder {
    pid_t pid;
    int mntns, root, release;
    char dir[64];
};

static void ns_child(const char *dir, int ready, int release)
{
    char p[128], c = 'x';
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "mode=0755") < 0)
        _exit(1);
    snprintf(p, sizeof(p), "%s/inside", dir);
    close(open(p, O_WRONLY | O_CREAT, 0644));
    snprintf(p, sizeof(p), "%s/locked", dir);
    close(open(p, O_WRONLY | O_CREAT, 0000));
    if (write(ready, &c, 1) != 1)
        _exit(1);
    while (read(release, &c, 1) < 0 && errno == EINTR)
        ;
    _exit(0);
}

static int ns_make(struct ns_holder *h)
{
    char p[128], c;
    int ready[2], release[2];
    snprintf(h->dir, sizeof(h->dir), "/tmp/test_nsexec_ns_XXXXXX");
    if (!mkdtemp(h->dir) || pipe(ready) < 0 || pipe(release) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s/host", h->dir);
    close(open(p, O_WRONLY | O_CREAT, 0644));
    h->pid = fork();
    if (h->pid == 0) {
        close(ready[0]);
        close(release[1]);
        ns_child(h->dir, ready[1], release[0]);
    }
    close(ready[1]);
    close(release[0]);
    h->release = release[1];
    int ok = h->pid > 0 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)h->pid);
    h->mntns = ok ? open(p, O_RDONLY | O_CLOEXEC) : -1;
    snprintf(p, sizeof(p), "/proc/%d/root", (int)h->pid);
    h->root = ok ? open(p, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    return h->mntns >= 0 && h->root >= 0 ? 0 : -1;
}

static void ns_drop(struct ns_holder *h)
{
    char cmd[128];
    close(h->release);
    if (h->pid > 0)
        waitpid(h->pid, NULL, 0);
    if (h->mntns >= 0)
        close(h->mntns);
    if (h->root >= 0)
        close(h->root);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", h->dir);
}

static unsigned long long own_capbnd(void)
{
    char buf[4096] = "";
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    return nsview_status(buf, "\nCapBnd:");
}

/* uid 0 keeps every capability through setresuid(0): the helper must drop
 * them itself. In the target's mount namespace it sees the target's files,
 * not the host's, and no privileged step works. */
TEST(uid0_in_a_real_mount_namespace_has_no_capabilities)
{
    NEED(getuid() == 0, "needs root to make a mount namespace");
    struct ns_holder h = {.mntns = -1, .root = -1, .release = -1};
    CHECK_EQ(ns_make(&h), 0);
    char locked[96], inside[96], host[96], want[512];
    snprintf(locked, sizeof(locked), "%s/locked", h.dir);
    snprintf(inside, sizeof(inside), "%s/inside", h.dir);
    snprintf(host, sizeof(host), "%s/host", h.dir);
    struct nsview_paths paths = {.locked = locked, .inside = inside, .host = host};
    struct nsexec_spec spec = {
        .mntns_fd = h.mntns, .root_fd = h.root, .uid = 0, .gid = 0, .timeout_ms = 5000};
    struct nsexec_result res;
    int rc = nsexec_run(&spec, nsview_fn, &paths, &res);
    struct stat ns;
    CHECK_EQ(fstat(h.mntns, &ns), 0);
    CHECK(access(host, F_OK) == 0 && access(inside, F_OK) < 0); /* the host's view */
    ns_drop(&h);
    CHECK_EQ(rc, 0);
    snprintf(want, sizeof(want),
             "uid=0 gid=0 nnp=1 capeff=0 capprm=0 capinh=0 capamb=0 capbnd=%llx mntns=%llu "
             "read=EACCES chown=EPERM setuid=EPERM inside=1 host=0",
             own_capbnd(), (unsigned long long)ns.st_ino);
    CHECK_STREQ(res.text, want);
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

/* Runs nsexec_run(spec, fn) in a forked test process whose effective set
 * lacks cap; the result's text goes to text. Returns its rc, or 1. */
static int run_without(int cap, const struct nsexec_spec *spec, nsexec_fn fn, char *text,
                       size_t textcap)
{
    int p[2];
    if (pipe(p) < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        struct nsexec_result res = {.rc = 1};
        if (syscall(SYS_capget, &hdr, d) == 0) {
            d[cap / 32].effective &= ~(1u << (cap % 32));
            if (syscall(SYS_capset, &hdr, d) == 0)
                nsexec_run(spec, fn, NULL, &res);
        }
        if (write(p[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
            _exit(1);
        _exit(0); /* the helper left behind dies with us (PR_SET_PDEATHSIG) */
    }
    close(p[1]);
    struct nsexec_result res = {.rc = 1};
    ssize_t n = read(p[0], &res, sizeof(res));
    close(p[0]);
    waitpid(pid, NULL, 0);
    snprintf(text, textcap, "%s", n == (ssize_t)sizeof(res) ? res.text : "no result");
    return res.rc;
}

TEST(a_step_refused_for_a_capability_names_it)
{
    NEED(getuid() == 0, "needs root to change credentials");
    int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    struct nsexec_spec spec = {
        .mntns_fd = own, .root_fd = -1, .uid = NOBODY, .gid = NOBODY, .timeout_ms = 5000};
    char text[1024];
    int rc = run_without(CAP_SYS_CHROOT, &spec, sleeper, text, sizeof(text));
    CHECK_MSG(rc == -EPERM, "rc %d: %s", rc, text);
    CHECK_CONTAINS(text, "entering the mount namespace: Operation not permitted "
                         "(CAP_SYS_CHROOT missing)");
    spec.mntns_fd = -1;
    rc = run_without(CAP_SETUID, &spec, sleeper, text, sizeof(text));
    close(own);
    CHECK_MSG(rc == -EPERM, "rc %d: %s", rc, text);
    CHECK_CONTAINS(text, "Operation not permitted (CAP_SETUID missing)");
}

/* The helper has dropped to another uid: without CAP_KILL it cannot be
 * killed on timeout, and the reason says so instead of "stuck". */
TEST(a_helper_without_cap_kill_is_named_not_stuck)
{
    NEED(getuid() == 0, "needs root to change credentials");
    struct nsexec_spec spec = {
        .mntns_fd = -1, .root_fd = -1, .uid = NOBODY, .gid = NOBODY, .timeout_ms = 300};
    char text[1024];
    int rc = run_without(CAP_KILL, &spec, sleeper, text, sizeof(text));
    CHECK_MSG(rc == -ETIMEDOUT, "rc %d: %s", rc, text);
    CHECK_CONTAINS(text, "SIGKILL was refused (CAP_KILL missing)");
}

TEST_MAIN(child_is_chrooted_unprivileged_and_clean,
          uid0_in_a_real_mount_namespace_has_no_capabilities, child_killed_on_timeout,
          a_helper_sigkill_cannot_end_is_left_and_reaped_later, child_dying_without_reply,
          setup_failure_names_the_step, a_step_refused_for_a_capability_names_it,
          a_helper_without_cap_kill_is_named_not_stuck)
