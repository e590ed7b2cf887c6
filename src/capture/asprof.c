#include "capture/asprof.h"

#include "capture/nsexec.h"
#include "capture/rootfs.h"
#include "core/rules.h"
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define ALLOC_OPT "alloc=512k" /* async-profiler DEFAULT_ALLOC_INTERVAL 524287 */
#define LOCK_OPT  "lock=10us"  /* async-profiler DEFAULT_LOCK_INTERVAL 10000 ns */
#define NBASES    3
#define EV_KNOWN  ((PROF_EV_ALL << 1) - 1)

static const char *const bases[NBASES] = {"/tmp", "/dev/shm", "/var/tmp"};

/* ---- options --------------------------------------------------------------- */

static void add(char *buf, size_t cap, size_t *pos, const char *s)
{
    int n = snprintf(buf + *pos, *pos < cap ? cap - *pos : 0, "%s%s", *pos ? "," : "", s);
    *pos += n > 0 ? (size_t)n : 0;
}

static void notef(char *note, size_t cap, const char *fmt, ...)
{
    if (!note || !cap)
        return;
    size_t n = strlen(note);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + n, cap > n ? cap - n : 0, fmt, ap);
    va_end(ap);
}

/* The one event that drives sampling, by precedence; the rest dropped. */
static const char *primary_event(unsigned mask, char *note, size_t notecap)
{
    static const struct {
        unsigned bit;
        const char *opt;
        const char *name;
    } engines[] = {{PROF_EV_CPU, "cpu", "cpu"},
                   {PROF_EV_ITIMER, "itimer", "itimer"},
                   {PROF_EV_CACHE_MISSES, "cache-misses", "cache-misses"},
                   {PROF_EV_CS, "context-switches", "cs"}};
    const char *chosen = NULL;
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        if (!(mask & engines[i].bit))
            continue;
        if (!chosen)
            chosen = engines[i].opt;
        else
            notef(note, notecap, "%sdropped %s (only %s can drive sampling)", note[0] ? "; " : "",
                  engines[i].name, chosen);
    }
    return chosen;
}

int asprof_event_options(unsigned mask, int major, char *buf, size_t cap, char *note,
                         size_t notecap)
{
    char dummy[1] = "";
    if (!note) {
        note = dummy;
        notecap = sizeof(dummy);
    }
    note[0] = '\0';
    size_t pos = 0;
    buf[0] = '\0';
    if ((mask & EV_KNOWN) == 0)
        mask = PROF_EV_DEFAULT;
    if ((mask & PROF_EV_ALL) && major > 0 && major < 4) {
        mask = (mask & ~PROF_EV_ALL) | PROF_EV_CPU | PROF_EV_ALLOC | PROF_EV_LOCK | PROF_EV_WALL;
        notef(note, notecap, "async-profiler %d has no 'all': using cpu,alloc,lock,wall", major);
    }
    const char *engine = primary_event(mask, note, notecap);
    char ev[64];
    if (mask & PROF_EV_ALL) {
        add(buf, cap, &pos, "all");
        if (engine && strcmp(engine, "cpu") != 0) { /* all,event=X swaps the CPU engine */
            snprintf(ev, sizeof(ev), "event=%s", engine);
            add(buf, cap, &pos, ev);
        }
        return pos < cap ? 0 : -ENOSPC;
    }
    if (engine) {
        snprintf(ev, sizeof(ev), "event=%s", engine);
        add(buf, cap, &pos, ev);
    }
    if (mask & PROF_EV_WALL)
        add(buf, cap, &pos, engine ? "wall" : "event=wall");
    if (mask & PROF_EV_ALLOC)
        add(buf, cap, &pos, ALLOC_OPT);
    if (mask & PROF_EV_LOCK)
        add(buf, cap, &pos, LOCK_OPT);
    if (mask & PROF_EV_NATIVEMEM)
        add(buf, cap, &pos, "nativemem");
    return pos < cap ? 0 : -ENOSPC;
}

int asprof_start_options(unsigned mask, int major, const char *jfr_path, const char *log_path,
                         uint64_t safety_s, char *buf, size_t cap, char *note, size_t notecap)
{
    char ev[256];
    int rc = asprof_event_options(mask, major, ev, sizeof(ev), note, notecap);
    if (rc < 0)
        return rc;
    int n = snprintf(buf, cap, "start,%s,jfr,file=%s,log=%s,timeout=%llu", ev, jfr_path, log_path,
                     (unsigned long long)safety_s);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

int asprof_stop_options(const char *jfr_path, const char *log_path, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "stop,jfr,file=%s,log=%s", jfr_path, log_path);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *digits(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    return q > p ? q : NULL;
}

/* Length of "X.Y[.Z...][-suffix]" at v, ended by a character that cannot
 * continue it; 0 if there is none (or it runs into the end of the data). */
static size_t version_len(const char *v, const char *end)
{
    const char *e = digits(v, end);
    if (!e || e >= end || *e != '.' || !(e = digits(e + 1, end)))
        return 0;
    while (e && e < end && *e == '.')
        e = digits(e + 1, end);
    if (e && e < end && (*e == '-' || *e == '+')) {
        const char *s = ++e;
        while (e < end && (is_alnum(*e) || *e == '.'))
            e++;
        if (e == s)
            return 0;
    }
    if (!e || e >= end || is_alnum(*e))
        return 0;
    return (size_t)(e - v);
}

int asprof_version_from_bytes(const void *data, size_t len, char *ver, size_t cap, int *major)
{
    static const char tag[] = "sync-profiler "; /* after "A" or "a" */
    const char *p = data, *end = p + len;
    while (p < end && (p = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1))) {
        const char *v = p + sizeof(tag) - 1;
        size_t n =
            p > (const char *)data && (p[-1] == 'a' || p[-1] == 'A') ? version_len(v, end) : 0;
        if (n) {
            snprintf(ver, cap, "%.*s", (int)n, v);
            if (major)
                *major = atoi(ver);
            return 0;
        }
        p = v;
    }
    return -ENOENT;
}

/* Scans at most VERSION_SCAN_MAX bytes of path in chunks that overlap by
 * more than a version string is long. */
#define VERSION_SCAN_MAX (64u << 20)
#define VERSION_OVERLAP  128
static int scan_file(const char *path, char *ver, size_t cap, int *major)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    static const size_t chunk = 256u << 10;
    char *buf = malloc(chunk + VERSION_OVERLAP);
    int rc = buf ? -ENOENT : -ENOMEM;
    size_t keep = 0, total = 0;
    while (buf && rc == -ENOENT && total < VERSION_SCAN_MAX) {
        ssize_t n = read(fd, buf + keep, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (size_t)n;
        rc = asprof_version_from_bytes(buf, keep + (size_t)n, ver, cap, major);
        size_t have = keep + (size_t)n;
        keep = have < VERSION_OVERLAP ? have : VERSION_OVERLAP;
        memmove(buf, buf + have - keep, keep);
    }
    free(buf);
    close(fd);
    return rc;
}

int asprof_library_version(const char *lib, char *ver, size_t cap, int *major)
{
    *major = 0;
    if (scan_file(lib, ver, cap, major) == 0)
        return 0;
    /* a stripped library (upstream's release) builds the string from
     * pieces at run time; its launcher, bin/asprof beside lib/, has it */
    char launcher[PATH_MAX];
    const char *slash = strrchr(lib, '/');
    int dirlen = slash ? (int)(slash - lib) : 1;
    if (snprintf(launcher, sizeof(launcher), "%.*s/../bin/asprof", dirlen, slash ? lib : ".") <
            (int)sizeof(launcher) &&
        scan_file(launcher, ver, cap, major) == 0)
        return 0;
    *major = 0;
    snprintf(ver, cap, "unknown");
    return -ENOENT;
}

void asprof_kernel_note(unsigned mask, int paranoid, uint64_t cap_eff, char *note, size_t cap)
{
    const uint64_t privileged = (1ull << 21) | (1ull << 38); /* CAP_SYS_ADMIN, CAP_PERFMON */
    if (!(mask & PROF_EV_CS) || paranoid < 2 || (cap_eff & privileged))
        return;
    if (mask & (PROF_EV_CPU | PROF_EV_ITIMER | PROF_EV_CACHE_MISSES))
        return; /* cs was dropped: another event drives sampling */
    notef(note, cap,
          "%scs: kernel.perf_event_paranoid=%d gives this JVM user-space perf events only, and "
          "context switches happen in the kernel: expect no samples",
          note[0] ? "; " : "", paranoid);
}

int asprof_perf_limits(int pid, int *paranoid, uint64_t *cap_eff)
{
    char buf[4096], path[64];
    *paranoid = 2; /* the kernel's default when it cannot be read */
    *cap_eff = 0;
    int fd = open("/proc/sys/kernel/perf_event_paranoid", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n > 0) {
        buf[n] = '\0';
        *paranoid = atoi(buf);
    }
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -ESRCH;
    buf[n] = '\0';
    const char *c = strstr(buf, "\nCapEff:");
    if (!c)
        return -EPROTO;
    *cap_eff = strtoull(c + 8, NULL, 16);
    return 0;
}

int asprof_library_path(const char *install, char *buf, size_t cap)
{
    struct stat st;
    size_t n = strlen(install);
    if (n > 3 && strcmp(install + n - 3, ".so") == 0)
        snprintf(buf, cap, "%s", install);
    else
        snprintf(buf, cap, "%s/lib/libasyncProfiler.so", install);
    if (stat(buf, &st) < 0)
        return -errno;
    return S_ISREG(st.st_mode) ? 0 : -EINVAL;
}

/* ---- work directory and staging (run in an nsexec child) ----------------- */

struct stage_ctx {
    uid_t uid;
    int need_exec;
    char dir[NBASES][64];
    char why[NBASES][192]; /* non-empty: rejected before trying */
    int lib_fd;            /* -1: only the work directory */
    char name[128];
    uint8_t sha[SHA256_LEN];
};

static int same_digest(int fd, const uint8_t *want)
{
    uint8_t got[SHA256_LEN];
    return sha256_fd(fd, got) == 0 && memcmp(got, want, SHA256_LEN) == 0;
}

static int copy_lib(int from, int to)
{
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(from, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(to, buf + w, (size_t)(n - w));
            if (k < 0 && errno != EINTR)
                return -errno;
            w += k > 0 ? k : 0;
        }
        off += n;
    }
}

/* Writes the library under a temporary name and renames it into place:
 * a file a JVM has mapped is replaced, never modified. */
static int write_lib(struct nsexec_child *c, const struct stage_ctx *a, int dirfd)
{
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", a->name, (int)getpid());
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return nsexec_reply(c, "creating %s: %s", tmp, strerror(errno)), -errno;
    int rc = copy_lib(a->lib_fd, fd);
    if (rc == 0 && (fchmod(fd, 0755) < 0 || fsync(fd) < 0))
        rc = -errno;
    close(fd);
    if (rc == 0 && renameat(dirfd, tmp, dirfd, a->name) < 0)
        rc = -errno;
    if (rc < 0) {
        unlinkat(dirfd, tmp, 0);
        nsexec_reply(c, "writing %s: %s", a->name, strerror(-rc));
    }
    return rc;
}

/* 0 staged (or already there), < 0 failed (reply says why). */
static int stage_into(struct nsexec_child *c, const struct stage_ctx *a, int dirfd, const char *dir)
{
    struct stat st;
    int fd;
    if (fstatat(dirfd, a->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return nsexec_reply(c, "refusing %s/%s: it is a symbolic link", dir, a->name), -ELOOP;
        if (!S_ISREG(st.st_mode) || st.st_uid != a->uid)
            return nsexec_reply(c, "refusing %s/%s: not a regular file of uid %u", dir, a->name,
                                (unsigned)a->uid),
                   -EPERM;
        fd = openat(dirfd, a->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int same = fd >= 0 && same_digest(fd, a->sha);
        if (fd >= 0)
            close(fd);
        if (same)
            return 0;
    }
    int rc = write_lib(c, a, dirfd);
    if (rc < 0)
        return rc;
    fd = openat(dirfd, a->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int same = fd >= 0 && same_digest(fd, a->sha);
    if (fd >= 0)
        close(fd);
    if (!same)
        return nsexec_reply(c, "%s/%s changed after it was written", dir, a->name), -EIO;
    return 0;
}

/* 1 usable, 0 skip (reason appended to notes), < 0 refuse outright. */
static int try_dir(struct nsexec_child *c, const struct stage_ctx *a, int i, char *notes,
                   size_t cap)
{
    const char *dir = a->dir[i];
    int rc = rootfs_ensure_dir(nsexec_root_fd(c), dir, a->uid, 0700);
    if (rc == -ELOOP || rc == -EPERM || rc == -ENOTDIR) {
        nsexec_reply(c, "refusing %s: %s", dir,
                     rc == -ELOOP   ? "it is or passes through a symbolic link"
                     : rc == -EPERM ? "not a private directory of the JVM's uid"
                                    : "not a directory");
        return rc;
    }
    if (rc < 0) {
        notef(notes, cap, "%s%s: %s", notes[0] ? "; " : "", dir, strerror(-rc));
        return 0;
    }
    int fd = rootfs_open(nsexec_root_fd(c), dir, O_RDONLY | O_DIRECTORY, 0);
    struct statvfs vfs;
    if (fd < 0 || fstatvfs(fd, &vfs) < 0) {
        notef(notes, cap, "%s%s: %s", notes[0] ? "; " : "", dir, rootfs_strerror(fd));
        if (fd >= 0)
            close(fd);
        return 0;
    }
    const char *bad = (vfs.f_flag & ST_RDONLY)                   ? "read-only (statvfs)"
                      : a->need_exec && (vfs.f_flag & ST_NOEXEC) ? "noexec (statvfs)"
                                                                 : NULL;
    if (bad) {
        notef(notes, cap, "%s%s: %s", notes[0] ? "; " : "", dir, bad);
        close(fd);
        return 0;
    }
    rc = a->lib_fd >= 0 ? stage_into(c, a, fd, dir) : 0;
    close(fd);
    return rc < 0 ? rc : 1;
}

static int child_stage(struct nsexec_child *c, void *arg)
{
    const struct stage_ctx *a = arg;
    char notes[768] = "";
    for (int i = 0; i < NBASES; i++) {
        if (a->why[i][0]) {
            notef(notes, sizeof(notes), "%s%s", notes[0] ? "; " : "", a->why[i]);
            continue;
        }
        int rc = try_dir(c, a, i, notes, sizeof(notes));
        if (rc < 0)
            return rc;
        if (rc == 1) {
            nsexec_reply(c, "%s\n%s", a->dir[i], notes);
            return 0;
        }
    }
    nsexec_reply(c, "no usable directory: %s", notes);
    return -EACCES;
}

/* Rejects bases whose mount, as the JVM's mountinfo shows it, cannot do. */
static void precheck(struct jvm *j, struct stage_ctx *a)
{
    char *mi = NULL;
    if (jvm_read_mountinfo(j, &mi) < 0)
        return; /* the child's statvfs still checks */
    for (int i = 0; i < NBASES; i++) {
        struct rootfs_mount m;
        if (rootfs_mount_find(mi, bases[i], &m) < 0)
            continue;
        if (m.read_only)
            snprintf(a->why[i], sizeof(a->why[i]), "%s: read-only mount (%s at %s)", bases[i],
                     m.fstype, m.mount_point);
        else if (a->need_exec && m.noexec)
            snprintf(a->why[i], sizeof(a->why[i]), "%s: mounted noexec (%s at %s)", bases[i],
                     m.fstype, m.mount_point);
    }
    free(mi);
}

static int run_stage(struct jvm *j, struct stage_ctx *a, uint64_t timeout_ms,
                     struct asprof_stage *st, char *err, size_t errcap)
{
    const struct proc_ident *id = jvm_ident(j);
    a->uid = id->uid;
    for (int i = 0; i < NBASES; i++)
        snprintf(a->dir[i], sizeof(a->dir[i]), "%s/.flameshot-%u", bases[i], (unsigned)id->uid);
    precheck(j, a);
    struct nsexec_result res;
    int rc = jvm_run_child(j, &a->lib_fd, 1, timeout_ms, child_stage, a, &res);
    if (res.fd >= 0)
        close(res.fd);
    if (rc < 0) {
        snprintf(err, errcap, "%s", res.text);
        return rc;
    }
    char *nl = strchr(res.text, '\n');
    if (!nl) {
        snprintf(err, errcap, "malformed reply from the staging helper");
        return -EPROTO;
    }
    *nl = '\0';
    snprintf(st->dir, sizeof(st->dir), "%s", res.text);
    snprintf(st->rejected, sizeof(st->rejected), "%s", nl + 1);
    return 0;
}

int asprof_workdir(struct jvm *j, int need_exec, uint64_t timeout_ms, struct asprof_stage *st,
                   char *err, size_t errcap)
{
    struct stage_ctx a = {.need_exec = need_exec, .lib_fd = -1};
    memset(st, 0, sizeof(*st));
    return run_stage(j, &a, timeout_ms, st, err, errcap);
}

int asprof_stage_library(struct jvm *j, const char *host_path, uint64_t timeout_ms,
                         struct asprof_stage *st, char *err, size_t errcap)
{
    struct stage_ctx a = {.need_exec = 1};
    struct stat sb;
    memset(st, 0, sizeof(*st));
    a.lib_fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (a.lib_fd < 0 || fstat(a.lib_fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errcap, "cannot use %s: %s", host_path,
                 a.lib_fd < 0 ? strerror(errno) : "not a regular file");
        if (a.lib_fd >= 0)
            close(a.lib_fd);
        return -ENOENT;
    }
    int rc = sha256_fd(a.lib_fd, a.sha);
    if (rc == 0) {
        sha256_hex(a.sha, st->sha256);
        const char *base = strrchr(host_path, '/');
        base = base ? base + 1 : host_path;
        size_t n = strlen(base);
        if (n > 3 && strcmp(base + n - 3, ".so") == 0)
            n -= 3;
        snprintf(a.name, sizeof(a.name), "%.*s-%.16s.so", (int)(n > 96 ? 96 : n), base, st->sha256);
        rc = run_stage(j, &a, timeout_ms, st, err, errcap);
    } else {
        snprintf(err, errcap, "reading %s: %s", host_path, strerror(-rc));
    }
    close(a.lib_fd);
    if (rc == 0)
        snprintf(st->path, sizeof(st->path), "%s/%s", st->dir, a.name);
    return rc;
}

struct unstage {
    const struct asprof_stage *st;
    int remove_dir;
};

static int child_unstage(struct nsexec_child *c, void *arg)
{
    const struct unstage *u = arg;
    struct stat sb;
    int root = nsexec_root_fd(c);
    if (rootfs_lstat(root, u->st->path, &sb) == 0 && S_ISREG(sb.st_mode))
        rootfs_unlink(root, u->st->path, 0);
    if (u->remove_dir)
        rootfs_unlink(root, u->st->dir, AT_REMOVEDIR); /* only when empty */
    return 0;
}

int asprof_unstage(struct jvm *j, const struct asprof_stage *st, int remove_dir,
                   uint64_t timeout_ms)
{
    struct unstage u = {.st = st, .remove_dir = remove_dir};
    struct nsexec_result res;
    int rc = jvm_run_child(j, NULL, 0, timeout_ms, child_unstage, &u, &res);
    if (res.fd >= 0)
        close(res.fd);
    return rc;
}
