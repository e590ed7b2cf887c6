#include "capture/jvm.h"

#include "capture/jvmopts.h"
#include "capture/rootfs.h"
#include "core/caps.h"
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* Files a JVM's options name (@argfiles, VMOptionsFile), fetched from its
 * container in rounds: a parse notes the files it lacks, one confined
 * child reads them all, the parse runs again (an argfile may hold another
 * option that names a file). */
#define OPT_FILES_MAX   16
#define OPT_FILE_MAX    (1u << 20)
#define OPT_ROUNDS      3
#define OPT_TIMEOUT_MS  2000
#define OPT_NOT_FETCHED (-EAGAIN)

struct opt_files {
    struct {
        char *path;
        int err; /* 0, -errno, or OPT_NOT_FETCHED */
        char *text;
        size_t len;
    } f[OPT_FILES_MAX];
    size_t n;
    size_t missing; /* asked for by the last parse and not fetched yet */
};

static int opt_files_read(void *ctx, const char *path, char **text, size_t *len)
{
    struct opt_files *fs = ctx;
    size_t i = 0;
    while (i < fs->n && strcmp(fs->f[i].path, path) != 0)
        i++;
    if (i == fs->n) {
        if (fs->n == OPT_FILES_MAX)
            return -E2BIG;
        if (!(fs->f[i].path = strdup(path)))
            return -ENOMEM;
        fs->f[i].err = OPT_NOT_FETCHED;
        fs->n++;
    }
    if (fs->f[i].err == OPT_NOT_FETCHED)
        fs->missing++;
    if (fs->f[i].err)
        return fs->f[i].err;
    if (!(*text = malloc(fs->f[i].len + 1)))
        return -ENOMEM;
    memcpy(*text, fs->f[i].text, fs->f[i].len);
    *len = fs->f[i].len;
    return 0;
}

static void opt_files_free(struct opt_files *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->f[i].path);
        free(fs->f[i].text);
    }
}

/* One record of the child's reply: its error, its length, then the bytes. */
struct opt_record {
    int32_t err;
    uint32_t len;
};

/* In the child: copies one file, bounded, to out at *off. */
static int fetch_one(int base_fd, const char *path, int out, off_t *off)
{
    struct opt_record r = {0, 0};
    off_t at = *off;
    *off += (off_t)sizeof(r);
    /* O_NONBLOCK: a FIFO planted at the path must not hang the child */
    int fd = base_fd < 0 ? -ENOENT : rootfs_open(base_fd, path, O_RDONLY | O_NONBLOCK, 0);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
        r.err = -EINVAL;
    else if (fd < 0)
        r.err = fd;
    char buf[16384];
    ssize_t n;
    while (r.err == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 || r.len + (size_t)n > OPT_FILE_MAX) {
            r.err = n < 0 ? -errno : -EFBIG;
            break;
        }
        if (pwrite(out, buf, (size_t)n, *off) != n)
            return -errno;
        *off += n;
        r.len += (uint32_t)n;
    }
    if (fd >= 0)
        close(fd);
    if (r.err) {
        *off = at + (off_t)sizeof(r);
        r.len = 0;
    }
    return pwrite(out, &r, sizeof(r), at) == (ssize_t)sizeof(r) ? 0 : -errno;
}

struct fetch_arg {
    const struct opt_files *fs;
    int cwd_fd;
};

/* In the JVM's container, as its user: every file not fetched yet, in
 * order, into a memfd handed back. */
static int child_fetch(struct nsexec_child *c, void *arg)
{
    const struct fetch_arg *a = arg;
    int out = memfd_create("flameshot-jvmopts", MFD_CLOEXEC);
    if (out < 0) {
        nsexec_reply(c, "memfd_create: %s", strerror(errno));
        return -errno;
    }
    off_t off = 0;
    for (size_t i = 0; i < a->fs->n; i++) {
        if (a->fs->f[i].err != OPT_NOT_FETCHED)
            continue;
        const char *p = a->fs->f[i].path;
        int rc = fetch_one(p[0] == '/' ? nsexec_root_fd(c) : a->cwd_fd, p, out, &off);
        if (rc < 0) {
            nsexec_reply(c, "writing the reply: %s", strerror(-rc));
            return rc;
        }
    }
    nsexec_pass_fd(c, out);
    return 0;
}

/* Takes the child's reply into fs: each file not fetched gets its text or
 * its error (rc for all of them when the child failed). */
static void fetch_take(struct opt_files *fs, int rc, int fd)
{
    char *all = NULL;
    size_t len = 0, at = 0;
    if (rc == 0 &&
        (lseek(fd, 0, SEEK_SET) < 0 ||
         (rc = fsutil_read_fd_all(fd, OPT_FILES_MAX * (OPT_FILE_MAX + 8), &all, &len)) < 0))
        rc = rc < 0 ? rc : -errno;
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->f[i].err != OPT_NOT_FETCHED)
            continue;
        struct opt_record r = {rc < 0 ? rc : -EPROTO, 0};
        if (rc == 0 && at + sizeof(r) <= len)
            memcpy(&r, all + at, sizeof(r));
        if (rc == 0 && (r.err > 0 || r.len > len - at - sizeof(r)))
            r = (struct opt_record){-EPROTO, 0};
        at += sizeof(r) + r.len;
        fs->f[i].err = r.err;
        if (r.err == 0 && !(fs->f[i].text = malloc(r.len + 1)))
            fs->f[i].err = -ENOMEM;
        else if (r.err == 0)
            memcpy(fs->f[i].text, all + at - r.len, r.len);
        fs->f[i].len = r.len;
    }
    free(all);
}

static void fetch(const struct jvm *j, struct opt_files *fs)
{
    struct fetch_arg a = {.fs = fs, .cwd_fd = j->cwd_fd};
    struct nsexec_result res;
    int rc = jvm_run_child(j, &j->cwd_fd, 1, OPT_TIMEOUT_MS, child_fetch, &a, &res);
    fetch_take(fs, rc < 0 ? rc : (res.fd < 0 ? -EPROTO : 0), res.fd);
    if (res.fd >= 0)
        close(res.fd);
}

int jvm_options(const struct jvm *j, struct jvmopts *out)
{
    char *argv = NULL, *env = NULL;
    size_t alen = 0, elen = 0;
    struct opt_files fs = {.n = 0};
    memset(out, 0, sizeof(*out));
    int rc = read_at(j->proc_fd, "cmdline", 1 << 20, &argv, &alen);
    if (rc == 0 && read_at(j->proc_fd, "environ", 1 << 20, &env, &elen) < 0)
        elen = 0;
    struct jvmopts_input in = {.argv = argv,
                               .argv_len = alen,
                               .env = env,
                               .env_len = elen,
                               .read = opt_files_read,
                               .ctx = &fs};
    for (int round = 0; rc == 0; round++) {
        fs.missing = 0;
        rc = jvmopts_parse(&in, out);
        if (rc < 0 || !fs.missing || round == OPT_ROUNDS)
            break;
        jvmopts_free(out);
        fetch(j, &fs);
    }
    opt_files_free(&fs);
    free(argv);
    free(env);
    return rc;
}

int jvm_attach_disabled(const struct jvm *j)
{
    struct jvmopts o;
    int off = jvm_options(j, &o) == 0 && jvmopts_flag(&o, "DisableAttachMechanism") == 1;
    jvmopts_free(&o);
    return off;
}

int jvm_environ_access(const struct jvm *j)
{
    int fd = openat(j->proc_fd, "environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

/* Polled, not signalled: a signal 0 to another uid's process needs
 * CAP_KILL, and its EPERM would read as "gone". */
static int pidfd_alive(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
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
    char hint[128] = "";
    if (e == EACCES || e == EPERM)
        caps_hint(CAPS_PROC_OTHERS, hint, sizeof(hint));
    snprintf(err, errcap, "opening /proc/%d/%s: %s%s", j->id.pid, what, strerror(e), hint);
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

int jvm_status_quit_held(const char *status_text, char *why, size_t whycap)
{
    unsigned long long pnd = 0, shd = 0, bit = 1ull << (SIGQUIT - 1);
    const char *st = strstr(status_text, "State:");
    char state = st && (st == status_text || st[-1] == '\n') ? st[6 + strspn(st + 6, " \t")] : 0;
    if (state == 'T' || state == 't') {
        snprintf(why, whycap,
                 "the JVM process is stopped (state %c): it handles no signal until resumed, so "
                 "it is not signalled (a SIGQUIT sent earlier may be waiting there already)",
                 state);
        return 1;
    }
    if ((status_mask(status_text, "SigPnd:", &pnd) == 0 && (pnd & bit)) ||
        (status_mask(status_text, "ShdPnd:", &shd) == 0 && (shd & bit))) {
        snprintf(why, whycap,
                 "a SIGQUIT sent earlier is still pending in the JVM: not signalled again");
        return 1;
    }
    return 0;
}

int jvm_sigquit_safe(const struct jvm *j, char *why, size_t whycap)
{
    char *text = NULL;
    int rc = read_at(j->proc_fd, "status", 65536, &text, NULL);
    int safe = rc == 0 ? jvm_status_catches_sigquit(text) : rc;
    if (safe == 1 && jvm_status_quit_held(text, why, whycap))
        safe = 2;
    free(text);
    if (safe == 1)
        return 1;
    if (safe == 2)
        return 0;
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
