/* nsexec: run a function inside a target's mount namespace, chrooted to
 * its root, as its uid/gid — in a forked child, never in the threaded
 * daemon (setns(CLONE_NEWNS) and setuid are per-process state; doing them
 * in a worker thread would change every thread's view).
 *
 * The child: sets PR_SET_PDEATHSIG (it dies with the thread that forked
 * it), closes every fd except stdio and those listed in keep_fds, opens the
 * host's /proc/self/fd (needed to connect to a socket by fd after the
 * chroot), enters the network namespace when asked, the mount namespace, chroots to root_fd, drops
 * all supplementary groups, then gid, then uid (setres*id: no way back), runs fn, sends its return
 * value, a text and at most one fd back over a SOCK_SEQPACKET pair, and exits. The child never logs
 * (the logger's lock may have been held by another thread at fork time): it reports through the
 * reply text, and the caller logs.
 *
 * The result text of a failed run always says which step failed. */
#ifndef FS_NSEXEC_H
#define FS_NSEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nsexec_spec {
    int mntns_fd; /* /proc/<pid>/ns/mnt of the target; -1: stay in ours */
    int root_fd;  /* directory to chroot into (O_PATH ok); -1: none */
    uid_t uid;    /* credentials to drop to */
    gid_t gid;
    const int *keep_fds; /* fds fn uses; every other fd above 2 is closed */
    size_t nkeep;
    uint64_t timeout_ms; /* the child is SIGKILLed past this; 0 means 10 s */
    /* the target's network namespace (/proc/<pid>/ns/net), entered first
     * when join_netns is set: a socket the child opens then is in the
     * target's network (pprof_fetch.h). A flag, not fd -1, so that specs
     * written before it (fd 0 by default) enter nothing. */
    bool join_netns;
    int netns_fd;
};

/* The child's side; only valid inside fn. */
struct nsexec_child;
typedef int (*nsexec_fn)(struct nsexec_child *c, void *arg);

/* O_PATH fd of "/" after the chroot: the container's root, for rootfs_*. */
int nsexec_root_fd(const struct nsexec_child *c);

/* O_PATH fd of the host's /proc/self/fd of the child, opened before the
 * namespace switch: connect(2) to "<fd>" relative to it reaches a socket
 * opened O_PATH without resolving its path again (see attach.c). */
int nsexec_self_fd_dir(const struct nsexec_child *c);

/* Sets the reply text (an error reason, or a result payload). */
void nsexec_reply(struct nsexec_child *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hands fd to the parent with the reply (the last call wins). The child
 * keeps its copy until it exits. */
void nsexec_pass_fd(struct nsexec_child *c, int fd);

struct nsexec_result {
    int rc;              /* fn's return, or nsexec's own -errno (see below) */
    char text[1024];     /* fn's reply text, or why the child failed */
    int fd;              /* the fd fn passed (caller closes it), or -1 */
    uint64_t elapsed_us; /* fork to reply */
};

/* How long a helper may take to exit once it has replied, and again once
 * it has been sent SIGKILL. */
#define NSEXEC_KILL_WAIT_MS 2000

/* Runs fn(child, arg) as described above and waits for it. Blocks for at
 * most spec->timeout_ms + 2 * NSEXEC_KILL_WAIT_MS, whatever the child
 * does. Returns res->rc: fn's return value when the child got that far;
 * -ETIMEDOUT when it was killed on timeout; -ECHILD when it died without
 * replying (text says how); a setup step's -errno (text names the step:
 * "entering the mount namespace", "chroot", "dropping to uid 10001"...).
 *
 * A helper that SIGKILL does not end within NSEXEC_KILL_WAIT_MS is stuck
 * in the kernel (uninterruptible sleep on a hung FUSE or NFS mount, or
 * held by a tracer): it is not waited for but accounted, as stuck, in a
 * process-wide list (children are process-wide state), and the text says
 * so. Thread-safe; the caller must not reap children with waitpid(-1)
 * concurrently. */
int nsexec_run(const struct nsexec_spec *spec, nsexec_fn fn, void *arg, struct nsexec_result *res);

/* How many helpers are accounted as stuck now. Never blocks. */
size_t nsexec_stuck_count(void);

/* Reaps the accounted helpers that have exited since (waitpid WNOHANG;
 * call it periodically) and returns how many are left. Never blocks. */
size_t nsexec_reap_stuck(void);

#endif
