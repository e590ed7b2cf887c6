#include "capture/nsexec.h"

#include "core/caps.h"
#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 10000

struct nsexec_child {
    int root_fd;
    int self_fd_dir;
    int pass_fd;
    char text[1024];
};

struct wire {
    int32_t rc;
    char text[1024];
};

int nsexec_root_fd(const struct nsexec_child *c)
{
    return c->root_fd;
}

int nsexec_self_fd_dir(const struct nsexec_child *c)
{
    return c->self_fd_dir;
}

void nsexec_reply(struct nsexec_child *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof(c->text), fmt, ap);
    va_end(ap);
}

void nsexec_pass_fd(struct nsexec_child *c, int fd)
{
    c->pass_fd = fd;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Closes every fd above 2 that is not in keep (the child must not carry
 * the daemon's other sockets and files into a container's namespace). */
static void close_others(const int *keep, size_t n)
{
    int sorted[64] = {0};
    size_t k = 0;
    for (size_t i = 0; i < n && k < 64; i++)
        if (keep[i] > 2)
            sorted[k++] = keep[i];
    qsort(sorted, k, sizeof(int), cmp_int);
    unsigned lo = 3;
    for (size_t i = 0; i <= k; i++) {
        unsigned hi = i < k ? (unsigned)sorted[i] : ~0u;
        if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0) < 0)
            for (unsigned fd = lo; fd < hi && fd < 65536; fd++)
                close((int)fd);
        if (i < k)
            lo = (unsigned)sorted[i] + 1;
    }
}

/* " (CAP_X missing)" when a step of f failed for want of a capability;
 * errno is kept for the caller. */
static const char *why(enum caps_feature f, char *buf, size_t cap)
{
    int e = errno;
    buf[0] = '\0';
    if (e == EPERM || e == EACCES)
        caps_hint(f, buf, cap);
    errno = e;
    return buf;
}

/* Namespace and credential steps; a failure names its step in c->text,
 * and the capability it lacked. */
static int enter(const struct nsexec_spec *s, struct nsexec_child *c)
{
    char h[128];
    c->self_fd_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->self_fd_dir < 0)
        return nsexec_reply(c, "opening /proc/self/fd: %s", strerror(errno)), -errno;
    if (s->join_netns && setns(s->netns_fd, CLONE_NEWNET) < 0)
        return nsexec_reply(c, "entering the network namespace: %s", strerror(errno)), -errno;
    if (s->mntns_fd >= 0 && setns(s->mntns_fd, CLONE_NEWNS) < 0)
        return nsexec_reply(c, "entering the mount namespace: %s%s", strerror(errno),
                            why(CAPS_MOUNT_NS, h, sizeof(h))),
               -errno;
    if (s->root_fd >= 0 && (fchdir(s->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0))
        return nsexec_reply(c, "chroot to the target's root: %s%s", strerror(errno),
                            why(CAPS_MOUNT_NS, h, sizeof(h))),
               -errno;
    if (setgroups(0, NULL) < 0 || setresgid(s->gid, s->gid, s->gid) < 0)
        return nsexec_reply(c, "dropping to gid %u: %s%s", (unsigned)s->gid, strerror(errno),
                            why(CAPS_JVM_USER, h, sizeof(h))),
               -errno;
    if (setresuid(s->uid, s->uid, s->uid) < 0)
        return nsexec_reply(c, "dropping to uid %u: %s%s", (unsigned)s->uid, strerror(errno),
                            why(CAPS_JVM_USER, h, sizeof(h))),
               -errno;
    /* a JVM running as root must not get a helper holding the host's
     * capabilities: from here on the child needs none */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct none[2] = {{0}};
    if (syscall(SYS_capset, &hdr, none) < 0)
        return nsexec_reply(c, "dropping capabilities: %s", strerror(errno)), -errno;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    c->root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->root_fd < 0)
        return nsexec_reply(c, "opening the target's root: %s", strerror(errno)), -errno;
    return 0;
}

static void send_reply(int sock, int rc, const struct nsexec_child *c)
{
    struct wire w = {.rc = rc};
    snprintf(w.text, sizeof(w.text), "%s", c->text);
    struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (c->pass_fd >= 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &c->pass_fd, sizeof(int));
    }
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

static void __attribute__((noreturn))
child_main(int sock, pid_t parent, const struct nsexec_spec *s, nsexec_fn fn, void *arg)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(1); /* the forking thread is already gone */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_IGN);

    int keep[69];
    size_t n = 0;
    keep[n++] = sock;
    if (s->mntns_fd >= 0)
        keep[n++] = s->mntns_fd;
    if (s->root_fd >= 0)
        keep[n++] = s->root_fd;
    if (s->join_netns)
        keep[n++] = s->netns_fd;
    for (size_t i = 0; i < s->nkeep && n < 64; i++)
        keep[n++] = s->keep_fds[i];
    close_others(keep, n);

    struct nsexec_child c = {.root_fd = -1, .self_fd_dir = -1, .pass_fd = -1};
    int rc = enter(s, &c);
    if (rc == 0) {
        rc = fn(&c, arg);
        if (rc < 0 && c.text[0] == '\0')
            nsexec_reply(&c, "%s", strerror(-rc));
    }
    send_reply(sock, rc, &c);
    _exit(0);
}

/* Receives the child's reply within timeout_ms. 0, -ETIMEDOUT or -ECHILD. */
static int recv_reply(int sock, uint64_t timeout_ms, struct nsexec_result *res)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    if (units_poll_until(&p, 1, units_now_mono_ms() + timeout_ms) == 0)
        return -ETIMEDOUT;
    struct wire w;
    struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t got;
    while ((got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (got != (ssize_t)sizeof(w))
        return -ECHILD;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            memcpy(&res->fd, CMSG_DATA(cm), sizeof(int));
    w.text[sizeof(w.text) - 1] = '\0';
    res->rc = w.rc;
    snprintf(res->text, sizeof(res->text), "%s", w.text);
    return 0;
}

static void describe_death(int status, struct nsexec_result *res)
{
    if (WIFSIGNALED(status))
        snprintf(res->text, sizeof(res->text), "namespace helper killed by signal %d",
                 WTERMSIG(status));
    else
        snprintf(res->text, sizeof(res->text), "namespace helper exited with %d and no reply",
                 WEXITSTATUS(status));
}

/* Child processes are process-wide state (any thread may reap any child),
 * so the helpers given up on are kept in one process-wide list. */
#define STUCK_MAX 1024
#define STUCK_NOTE                                                                                 \
    "; it did not exit within " STR(NSEXEC_KILL_WAIT_MS) " ms of SIGKILL (stuck in the kernel): "  \
                                                         "left to be reaped later"
#define STR_(x) #x
#define STR(x)  STR_(x)

static pthread_mutex_t stuck_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t stuck_pids[STUCK_MAX];
static size_t n_stuck;

static void stuck_add(pid_t pid)
{
    pthread_mutex_lock(&stuck_lock);
    if (n_stuck < STUCK_MAX)
        stuck_pids[n_stuck++] = pid; /* beyond that it stays a zombie: no worse */
    pthread_mutex_unlock(&stuck_lock);
}

size_t nsexec_stuck_count(void)
{
    pthread_mutex_lock(&stuck_lock);
    size_t n = n_stuck;
    pthread_mutex_unlock(&stuck_lock);
    return n;
}

size_t nsexec_reap_stuck(void)
{
    pthread_mutex_lock(&stuck_lock);
    for (size_t i = 0; i < n_stuck;) {
        pid_t r = waitpid(stuck_pids[i], NULL, WNOHANG);
        if (r == stuck_pids[i] || (r < 0 && errno == ECHILD))
            stuck_pids[i] = stuck_pids[--n_stuck];
        else
            i++;
    }
    size_t n = n_stuck;
    pthread_mutex_unlock(&stuck_lock);
    return n;
}

/* Waits for pid's exit on a pidfd (Linux 5.3): woken the moment it
 * exits, not on the next tick of a polling loop. 0 when it has exited,
 * -ETIMEDOUT, or -ENOSYS (no pidfd_open: the caller polls). */
static int exit_within(pid_t pid, uint64_t deadline)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -ENOSYS;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = units_poll_until(&p, 1, deadline);
    close(fd);
    return n > 0 ? 0 : -ETIMEDOUT;
}

/* Reaps pid within ms. 0 with *status, or -ETIMEDOUT. */
static int reap_within(pid_t pid, int *status, uint64_t ms)
{
    uint64_t deadline = units_now_mono_ms() + ms;
    if (exit_within(pid, deadline) == -ETIMEDOUT)
        return -ETIMEDOUT;
    /* exited (or no pidfd): back off from 1 to 50 ms; a traced child is
     * reported to its tracer first, so it may still take a moment */
    for (useconds_t step = 1000;; step = step < 50000 ? step * 2 : step) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return 0;
        if (units_now_mono_ms() >= deadline)
            return -ETIMEDOUT;
        usleep(step);
    }
}

/* Collects the helper, SIGKILLing it first when kill_now (timed out), or
 * once it lingers past NSEXEC_KILL_WAIT_MS after its reply. A helper that
 * SIGKILL does not end in time is in uninterruptible sleep (a hung FUSE or
 * NFS mount) or held by a tracer: waiting on would pin the calling worker
 * for as long as the kernel keeps it, so it is accounted and left.
 * 0 with *status, or when left -ETIMEDOUT, or -EPERM when SIGKILL was
 * refused (no CAP_KILL). */
static int collect(pid_t pid, bool kill_now, int *status)
{
    if (!kill_now && reap_within(pid, status, NSEXEC_KILL_WAIT_MS) == 0)
        return 0;
    /* the helper has the JVM's uid by now: only CAP_KILL lets us signal it */
    int refused = kill(pid, SIGKILL) < 0 && errno == EPERM;
    if (!refused && reap_within(pid, status, NSEXEC_KILL_WAIT_MS) == 0)
        return 0;
    stuck_add(pid);
    return refused ? -EPERM : -ETIMEDOUT;
}

int nsexec_run(const struct nsexec_spec *spec, nsexec_fn fn, void *arg, struct nsexec_result *res)
{
    memset(res, 0, sizeof(*res));
    res->fd = -1;
    uint64_t t0 = units_now_mono_us();
    uint64_t timeout = spec->timeout_ms ? spec->timeout_ms : DEFAULT_TIMEOUT_MS;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        res->rc = -errno;
        snprintf(res->text, sizeof(res->text), "socketpair: %s", strerror(errno));
        return res->rc;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        child_main(sv[1], parent, spec, fn, arg);
    }
    int err = errno;
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        res->rc = -err;
        snprintf(res->text, sizeof(res->text), "fork: %s", strerror(err));
        return res->rc;
    }
    int rc = recv_reply(sv[0], timeout, res);
    close(sv[0]);
    int status = 0;
    int left = collect(pid, rc == -ETIMEDOUT, &status);
    char note[256] = "";
    char hint[128];
    if (left == -EPERM)
        snprintf(note, sizeof(note), "; SIGKILL was refused%s: left to end by itself",
                 caps_hint(CAPS_KILL_HELPER, hint, sizeof(hint)));
    else if (left < 0)
        snprintf(note, sizeof(note), "%s", STUCK_NOTE);
    res->elapsed_us = units_now_mono_us() - t0;
    if (rc == -ETIMEDOUT) {
        res->rc = rc;
        snprintf(res->text, sizeof(res->text), "namespace helper timed out after %llu ms%s",
                 (unsigned long long)timeout, note);
    } else if (rc < 0) {
        res->rc = rc;
        if (left < 0)
            snprintf(res->text, sizeof(res->text), "namespace helper gave no reply%s", note);
        else
            describe_death(status, res);
    }
    return res->rc;
}
