/* jvm: a Java process opened for capture. Decides whether a pid is a
 * HotSpot JVM at all (nothing is ever signalled otherwise), pins the
 * process against pid reuse with a pidfd, and holds the fds every later
 * step works through: its /proc directory, mount namespace, root and cwd.
 * Holding the namespace and root fds keeps the container's filesystem
 * reachable after the JVM exits, so files it leaves behind can still be
 * collected and removed.
 *
 * Once opened, a struct jvm is only read: several threads may use one at
 * the same time (capture_snapshots does); jvm_close once they are done.
 * Nothing here blocks beyond reading /proc. */
#ifndef FS_JVM_H
#define FS_JVM_H

#include "capture/nsexec.h"
#include "events/procfs.h"

#include <stdbool.h>
#include <stddef.h>

enum jvm_kind {
    JVM_KIND_NONE = 0, /* no JVM library mapped */
    JVM_KIND_HOTSPOT,  /* libjvm.so: the HotSpot attach protocol applies */
    JVM_KIND_OPENJ9,   /* libj9vm*.so: OpenJ9 attaches via .com_ibm_tools_attach */
};

struct jvm;

/* Opens the process ident names, after checking that it is still that
 * process (pid and start time, then pinned by a pidfd) and that it is a
 * HotSpot JVM. ident's uid/gid/nspid are refreshed from /proc. Returns 0
 * with *out set (jvm_close it); -ESRCH when the process is gone or the pid
 * now names another one; -ENOTSUP when it is not a HotSpot JVM (OpenJ9
 * included), err saying which; -EACCES/-EPERM without the privilege to
 * open its namespaces; -errno otherwise. */
int jvm_open(const struct proc_ident *ident, struct jvm **out, char *err, size_t errcap);

/* Opens by pid alone (the CLI): procfs_ident then jvm_open. */
int jvm_open_pid(int pid, struct jvm **out, char *err, size_t errcap);

void jvm_close(struct jvm *j);

/* Runs fn in a child inside the JVM's container: its mount namespace,
 * chrooted to its root, as its uid/gid (nsexec_run), keeping the nkeep fds
 * of keep (negative ones are skipped). res is always filled; the caller
 * owns res->fd. Returns nsexec_run's result. */
int jvm_run_child(const struct jvm *j, const int *keep, size_t nkeep, uint64_t timeout_ms,
                  nsexec_fn fn, void *arg, struct nsexec_result *res);

const struct proc_ident *jvm_ident(const struct jvm *j);
int jvm_pidfd(const struct jvm *j); /* -1 on kernels without pidfd_open */
int jvm_mntns_fd(const struct jvm *j);
int jvm_root_fd(const struct jvm *j); /* O_PATH directory */
int jvm_cwd_fd(const struct jvm *j);  /* O_PATH directory, or -1 */

/* 1 while the process runs, 0 once it has exited (pidfd readable). */
int jvm_alive(const struct jvm *j);

/* The process state letter from /proc/<pid>/stat ('T' when stopped), or
 * 0 once it is gone. */
char jvm_state(const struct jvm *j);

/* Sends sig to the pinned process (pidfd_send_signal; on kernels without
 * pidfds, kill after re-checking the start time). 0, -ESRCH or -errno.
 * Safe to call from an nsexec child that kept jvm_pidfd(). */
int jvm_signal(const struct jvm *j, int sig);

/* Whether SIGQUIT may be sent to start the attach listener: the JVM must
 * catch it (SigCgt) and not ignore it. A JVM still starting up, or run
 * with -Xrs, would take the default action and dump core. Nor while an
 * earlier SIGQUIT is not handled yet (jvm_status_quit_held): the JVM would
 * get two, the second printing a thread dump into its output. Returns 1,
 * or 0 with the reason in why. */
int jvm_sigquit_safe(const struct jvm *j, char *why, size_t whycap);

/* The JVM's options (jvmopts.h) from its command line and environment,
 * with the @argfiles and VMOptionsFiles they name read from its container
 * by a confined child (jvm_run_child; regular files only, at most 1 MiB
 * each, 16 in all; a file that cannot be read is recorded in out, not
 * fatal). Blocks for at most a few such children (2 s each). Returns
 * jvmopts_parse's result or -errno; jvmopts_free(out) in every case. */
struct jvmopts;
int jvm_options(const struct jvm *j, struct jvmopts *out);

/* 1 when -XX:+DisableAttachMechanism is in effect (jvm_options: the last
 * setting wins), else 0. */
int jvm_attach_disabled(const struct jvm *j);

/* 0 when the JVM's /proc/<pid>/environ can be opened (jvm_options sees
 * its JAVA_TOOL_OPTIONS and the like), else -errno: -EACCES for another
 * user's JVM without CAP_DAC_READ_SEARCH. */
int jvm_environ_access(const struct jvm *j);

/* Reads /proc/<pid>/mountinfo (malloc'd, caller frees). 0 or -errno. */
int jvm_read_mountinfo(const struct jvm *j, char **text);

/* Pure parsers, for tests and fixtures. */
enum jvm_kind jvm_kind_from_maps(const char *maps_text);
/* 1 if SigCgt has SIGQUIT and SigIgn does not, 0 if not, -EINVAL. */
int jvm_status_catches_sigquit(const char *status_text);
/* 1 with the reason in why when a SIGQUIT sent now would not be handled
 * at once: the process is stopped (State T or t; one sent before may wait
 * there), or SIGQUIT is pending (SigPnd, ShdPnd). 0 otherwise. */
int jvm_status_quit_held(const char *status_text, char *why, size_t whycap);

#endif
