#include "capture/jvm.h"

#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct jvm {
    struct proc_ident id;
    int pidfd;
    int proc_fd;
    int mntns_fd;
    int root_fd;
    int cwd_fd;
};

/* A file of the process's /proc directory; len may be NULL. */
static int read_at(int dirfd, const char *name, size_t max, char **text, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsutil_read_fd_all(fd, max, text, len);
    close(fd);
    return rc;
}

enum jvm_kind jvm_kind_from_maps(const char *maps)
{
    /* OpenJ9 also ships a libjvm.so (a forwarder), so look for it first */
    for (const char *p = maps; p && (p = strstr(p, "/libj9vm")); p++) {
        const char *e = p + 8;
        while (*e >= '0' && *e <= '9')
            e++;
        if (strncmp(e, ".so", 3) == 0)
            return JVM_KIND_OPENJ9;
    }
    return procfs_maps_text_has_lib(maps, "libjvm.so") == 1 ? JVM_KIND_HOTSPOT : JVM_KIND_NONE;
}

static int status_mask(const char *text, const char *key, unsigned long long *mask)
{
    const char *p = strstr(text, key);
    if (!p || (p != text && p[-1] != '\n'))
        return -EINVAL;
    char *end;
    *mask = strtoull(p + strlen(key), &end, 16);
    return end == p + strlen(key) ? -EINVAL : 0;
}

int jvm_status_catches_sigquit(const char *status_text)
{
    unsigned long long cgt, ign;
    if (status_mask(status_text, "SigCgt:", &cgt) < 0 ||
        status_mask(status_text, "SigIgn:", &ign) < 0)
        return -EINVAL;
    unsigned long long bit = 1ull << (SIGQUIT - 1);
    return (cgt & bit) && !(ign & bit);
}

int jvm_options_disable_attach(const char *opts, size_t len, int state)
{
    static const char on[] = "-XX:+DisableAttachMechanism";
    static const char off[] = "-XX:-DisableAttachMechanism";
    size_t i = 0;
    while (i < len) {
        while (i < len && (opts[i] == '\0' || opts[i] == ' ' || opts[i] == '\t' || opts[i] == '\n'))
            i++;
        size_t s = i;
        while (i < len && opts[i] != '\0' && opts[i] != ' ' && opts[i] != '\t' && opts[i] != '\n')
            i++;
        size_t n = i - s;
        if (n == sizeof(on) - 1 && memcmp(opts + s, on, n) == 0)
            state = 1;
        else if (n == sizeof(off) - 1 && memcmp(opts + s, off, n) == 0)
            state = 0;
    }
    return state;
}

/* The value of NAME= in a NUL-separated environment block, or NULL. */
static const char *env_value(const char *env, size_t len, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t e = strnlen(env + i, len - i);
        if (e > n && memcmp(env + i, name, n) == 0 && env[i + n] == '=') {
            *vlen = e - n - 1;
            return env + i + n + 1;
        }
        i += e + 1;
    }
    return NULL;
}

int jvm_attach_disabled(const struct jvm *j)
{
    char *argv = NULL, *env = NULL;
    size_t alen = 0, elen = 0, vlen;
    read_at(j->proc_fd, "cmdline", 1 << 20, &argv, &alen);
    read_at(j->proc_fd, "environ", 1 << 20, &env, &elen);
    /* HotSpot reads JAVA_TOOL_OPTIONS first, then the launcher's arguments
     * (JDK_JAVA_OPTIONS are prepended to them), then _JAVA_OPTIONS. */
    int state = 0;
    const char *v;
    if (env && (v = env_value(env, elen, "JAVA_TOOL_OPTIONS", &vlen)))
        state = jvm_options_disable_attach(v, vlen, state);
    if (env && (v = env_value(env, elen, "JDK_JAVA_OPTIONS", &vlen)))
        state = jvm_options_disable_attach(v, vlen, state);
    if (argv)
        state = jvm_options_disable_attach(argv, alen, state);
    if (env && (v = env_value(env, elen, "_JAVA_OPTIONS", &vlen)))
        state = jvm_options_disable_attach(v, vlen, state);
    free(argv);
    free(env);
    return state;
}

static int pidfd_alive(int pidfd)
{
    return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

/* Checks that proc_fd still shows the process ident names. */
static int verify(struct jvm *j, char *err, size_t errcap)
{
    char *text = NULL;
    struct proc_stat st = {0};
    struct proc_status ss = {0};
    int rc = read_at(j->proc_fd, "stat", 4096, &text, NULL);
    if (rc == 0)
        rc = procfs_parse_stat(text, &st);
    free(text);
    text = NULL;
    if (rc == 0)
        rc = read_at(j->proc_fd, "status", 65536, &text, NULL);
    if (rc == 0)
        rc = procfs_parse_status(text, &ss);
    free(text);
    if (rc < 0 || st.starttime != j->id.start_time || st.state == 'Z' || st.state == 'X' ||
        (j->pidfd >= 0 && !pidfd_alive(j->pidfd))) {
        snprintf(err, errcap, "process %d is gone or its pid now names another process", j->id.pid);
        return -ESRCH;
    }
    j->id.nspid = ss.nstgid > 0 ? ss.nstgid : ss.nspid;
    j->id.uid = ss.euid;
    j->id.gid = ss.egid;
    return 0;
}

static int check_kind(struct jvm *j, char *err, size_t errcap)
{
    char *maps = NULL;
    int rc = read_at(j->proc_fd, "maps", 64u << 20, &maps, NULL);
    if (rc < 0) {
        snprintf(err, errcap, "reading /proc/%d/maps: %s", j->id.pid, strerror(-rc));
        return rc;
    }
    enum jvm_kind kind = jvm_kind_from_maps(maps);
    free(maps);
    if (kind == JVM_KIND_OPENJ9) {
        snprintf(err, errcap,
                 "pid %d (%s) is an OpenJ9 JVM: it attaches through .com_ibm_tools_attach, "
                 "which is not supported (only HotSpot JVMs are)",
                 j->id.pid, j->id.comm);
        return -ENOTSUP;
    }
    if (kind == JVM_KIND_NONE) {
        snprintf(err, errcap, "pid %d (%s) is not a HotSpot JVM: libjvm.so is not mapped",
                 j->id.pid, j->id.comm);
        return -ENOTSUP;
    }
    return 0;
}

static int open_failed(const struct jvm *j, const char *what, char *err, size_t errcap)
{
    int e = errno;
    snprintf(err, errcap, "opening /proc/%d/%s: %s%s", j->id.pid, what, strerror(e),
             e == EACCES || e == EPERM ? " (capturing from a JVM needs root: CAP_SYS_ADMIN, "
                                         "CAP_SYS_PTRACE, CAP_SETUID/CAP_SETGID)"
                                       : "");
    return -e;
}

static int open_fds(struct jvm *j, char *err, size_t errcap)
{
    j->mntns_fd = openat(j->proc_fd, "ns/mnt", O_RDONLY | O_CLOEXEC);
    if (j->mntns_fd < 0)
        return open_failed(j, "ns/mnt", err, errcap);
    j->root_fd = openat(j->proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (j->root_fd < 0)
        return open_failed(j, "root", err, errcap);
    /* the cwd is only a preferred place for the attach trigger file */
    j->cwd_fd = openat(j->proc_fd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    return 0;
}

int jvm_open(const struct proc_ident *ident, struct jvm **out, char *err, size_t errcap)
{
    struct jvm *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->id = *ident;
    j->pidfd = j->proc_fd = j->mntns_fd = j->root_fd = j->cwd_fd = -1;
    int rc;
    /* pidfd first: if the process checked below is the one it pins, a
     * later signal cannot reach a successor that reused the pid */
    j->pidfd = (int)syscall(SYS_pidfd_open, ident->pid, 0);
    if (j->pidfd < 0 && errno != ENOSYS) {
        rc = -ESRCH;
        snprintf(err, errcap, "process %d is gone", ident->pid);
        goto out;
    }
    char path[32];
    snprintf(path, sizeof(path), "/proc/%d", ident->pid);
    j->proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (j->proc_fd < 0) {
        rc = -ESRCH;
        snprintf(err, errcap, "process %d is gone", ident->pid);
        goto out;
    }
    if ((rc = verify(j, err, errcap)) < 0 || (rc = check_kind(j, err, errcap)) < 0 ||
        (rc = open_fds(j, err, errcap)) < 0 || (rc = verify(j, err, errcap)) < 0)
        goto out;
    *out = j;
    return 0;
out:
    jvm_close(j);
    return rc;
}

int jvm_open_pid(int pid, struct jvm **out, char *err, size_t errcap)
{
    struct proc_ident id;
    int rc = procfs_ident(NULL, pid, &id);
    if (rc < 0) {
        snprintf(err, errcap, "no process %d", pid);
        return rc == -ENOENT ? -ESRCH : rc;
    }
    return jvm_open(&id, out, err, errcap);
}

void jvm_close(struct jvm *j)
{
    if (!j)
        return;
    int fds[] = {j->pidfd, j->proc_fd, j->mntns_fd, j->root_fd, j->cwd_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(j);
}

const struct proc_ident *jvm_ident(const struct jvm *j)
{
    return &j->id;
}

int jvm_pidfd(const struct jvm *j)
{
    return j->pidfd;
}

int jvm_mntns_fd(const struct jvm *j)
{
    return j->mntns_fd;
}

int jvm_root_fd(const struct jvm *j)
{
    return j->root_fd;
}

int jvm_cwd_fd(const struct jvm *j)
{
    return j->cwd_fd;
}

int jvm_alive(const struct jvm *j)
{
    if (j->pidfd >= 0) {
        struct pollfd p = {.fd = j->pidfd, .events = POLLIN};
        return poll(&p, 1, 0) == 0;
    }
    return procfs_same_process(NULL, &j->id);
}

char jvm_state(const struct jvm *j)
{
    char *text = NULL;
    struct proc_stat st;
    int rc = read_at(j->proc_fd, "stat", 4096, &text, NULL);
    if (rc == 0)
        rc = procfs_parse_stat(text, &st);
    free(text);
    if (rc < 0 || !jvm_alive(j))
        return 0;
    return st.state;
}

int jvm_signal(const struct jvm *j, int sig)
{
    if (j->pidfd >= 0)
        return syscall(SYS_pidfd_send_signal, j->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
    if (!procfs_same_process(NULL, &j->id))
        return -ESRCH;
    return kill(j->id.pid, sig) < 0 ? -errno : 0;
}

int jvm_sigquit_safe(const struct jvm *j, char *why, size_t whycap)
{
    char *text = NULL;
    int rc = read_at(j->proc_fd, "status", 65536, &text, NULL);
    int safe = rc == 0 ? jvm_status_catches_sigquit(text) : rc;
    free(text);
    if (safe == 1)
        return 1;
    if (safe == 0)
        snprintf(why, whycap,
                 "the JVM does not handle SIGQUIT (still starting, or run with -Xrs), so its "
                 "attach listener cannot be started without killing it");
    else
        snprintf(why, whycap, "cannot read the signal masks of pid %d", j->id.pid);
    return 0;
}

int jvm_read_mountinfo(const struct jvm *j, char **text)
{
    return read_at(j->proc_fd, "mountinfo", 4u << 20, text, NULL);
}

int jvm_run_child(const struct jvm *j, const int *keep, size_t nkeep, uint64_t timeout_ms,
                  nsexec_fn fn, void *arg, struct nsexec_result *res)
{
    int kept[8];
    size_t n = 0;
    for (size_t i = 0; i < nkeep && n < sizeof(kept) / sizeof(kept[0]); i++)
        if (keep[i] >= 0)
            kept[n++] = keep[i];
    struct nsexec_spec spec = {.mntns_fd = j->mntns_fd,
                               .root_fd = j->root_fd,
                               .uid = j->id.uid,
                               .gid = j->id.gid,
                               .keep_fds = kept,
                               .nkeep = n,
                               .timeout_ms = timeout_ms};
    return nsexec_run(&spec, fn, arg, res);
}
