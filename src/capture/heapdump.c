#include "capture/heapdump.h"

#include "capture/asprof.h"
#include "capture/attach.h"
#include "capture/journal.h"
#include "capture/jvm.h"
#include "capture/jvmopts.h"
#include "capture/nsexec.h"
#include "capture/rootfs.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/units.h"
#include "outbox/bounded.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define DEFAULT_STEP_MS 10000

static const char *const outcome_names[] = {"ok",      "no_space",      "too_large",
                                            "timeout", "target_exited", "failed"};

const char *heapdump_outcome_name(enum heapdump_outcome o)
{
    return (unsigned)o <= HEAPDUMP_FAILED ? outcome_names[o] : "unknown";
}

/* ---- pure parts ------------------------------------------------------------ */

static uint64_t unit_bytes(char u)
{
    switch (u) {
    case 'K':
        return 1ull << 10;
    case 'M':
        return 1ull << 20;
    case 'G':
        return 1ull << 30;
    default:
        return 0;
    }
}

/* A word "<digits><K|M|G>[,]": its bytes, or 0 with *ok false. */
static uint64_t word_size(const char *w, bool *ok)
{
    char *end;
    *ok = isdigit((unsigned char)w[0]);
    unsigned long long n = *ok ? strtoull(w, &end, 10) : 0;
    uint64_t u = *ok ? unit_bytes(*end) : 0;
    *ok = *ok && u && (end[1] == '\0' || (end[1] == ',' && end[2] == '\0'));
    return *ok ? (uint64_t)n * u : 0;
}

/* The used figure of one line, "used 123K" (Serial, Parallel, G1, ZGC) or
 * "123K used" (Shenandoah), never "15% used" (a space's share). */
static bool line_used(char *line, uint64_t *bytes)
{
    char *words[64], *save = NULL;
    int n = 0;
    for (char *w = strtok_r(line, " \t[(", &save); w && n < 64; w = strtok_r(NULL, " \t[(", &save))
        words[n++] = w;
    for (int i = 0; i < n; i++) {
        bool ok = false;
        if (strcmp(words[i], "used") != 0 && strcmp(words[i], "used,") != 0)
            continue;
        if (i + 1 < n)
            *bytes = word_size(words[i + 1], &ok);
        if (!ok && i > 0)
            *bytes = word_size(words[i - 1], &ok);
        if (ok)
            return true;
    }
    return false;
}

int heapdump_parse_heap_used(const char *text, uint64_t *bytes)
{
    bool any = false;
    *bytes = 0;
    for (const char *l = text; l && *l;) {
        size_t len = strcspn(l, "\n");
        char line[512];
        uint64_t b;
        snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
        /* metadata is not in a heap dump */
        if (!strstr(line, "Metaspace") && !strstr(line, "class space") && line_used(line, &b)) {
            *bytes += b;
            any = true;
        }
        l += len + (l[len] == '\n');
    }
    return any ? 0 : -ENOENT;
}

int heapdump_jdk_major(const char *version)
{
    int major = version ? atoi(version) : 0;
    if (major == 1 && version[1] == '.')
        major = atoi(version + 2); /* 1.8.0_392 */
    return major > 0 ? major : 0;
}

uint64_t heapdump_space_needed(uint64_t estimate)
{
    return estimate + estimate / 4 + HEAPDUMP_CONTAINER_MARGIN;
}

int heapdump_space_check(uint64_t estimate, uint64_t avail, char *why, size_t cap)
{
    uint64_t need = heapdump_space_needed(estimate);
    if (avail >= need)
        return 0;
    snprintf(why, cap,
             "a heap of %llu MiB needs %llu MiB free beside it (the dump, a quarter more, %llu "
             "MiB margin); %llu MiB available",
             (unsigned long long)(estimate >> 20), (unsigned long long)(need >> 20),
             (unsigned long long)(HEAPDUMP_CONTAINER_MARGIN >> 20),
             (unsigned long long)(avail >> 20));
    return -ENOSPC;
}

/* ---- in the container ------------------------------------------------------- */

struct files {
    char dir[PATH_MAX];  /* where the JVM writes, as the container sees it */
    char path[PATH_MAX]; /* the dump */
    bool path_is_dir;    /* HeapDumpPath named a directory (resolved by the helper) */
    uint64_t room;       /* the largest dump that may be handed over */
};

/* Resolves the directory (HeapDumpPath may name a directory, or a file
 * whose directory is used), measures its free space (blocks available to
 * the JVM's uid: the helper runs as it) and makes sure nothing sits at the
 * dump's name. Replies "<avail bytes> <dir>". */
static int child_prepare(struct nsexec_child *c, void *arg)
{
    struct files *f = arg;
    int root = nsexec_root_fd(c);
    struct stat st;
    if (f->path_is_dir && rootfs_lstat(root, f->dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        char *slash = strrchr(f->dir, '/'); /* a file's path: its directory */
        if (slash == f->dir)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
    }
    int fd = rootfs_open(root, f->dir, O_RDONLY | O_DIRECTORY, 0);
    struct statfs sf;
    if (fd < 0)
        return nsexec_reply(c, "opening %s: %s", f->dir, rootfs_strerror(fd)), fd;
    int rc = fstatfs(fd, &sf) < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return nsexec_reply(c, "statfs %s: %s", f->dir, strerror(-rc)), rc;
    char name[PATH_MAX];
    snprintf(name, sizeof(name), "%s/%s", strcmp(f->dir, "/") ? f->dir : "", f->path);
    rc = rootfs_lstat(root, name, &st);
    if (rc == 0 && S_ISREG(st.st_mode))
        rc = rootfs_unlink(root, name, 0);
    else if (rc == 0)
        rc = S_ISLNK(st.st_mode) ? -ELOOP : -EEXIST;
    if (rc < 0 && rc != -ENOENT)
        return nsexec_reply(c, "refusing %s: %s", name, rootfs_strerror(rc)), rc;
    nsexec_reply(c, "%llu %s", (unsigned long long)sf.f_bavail * (unsigned long long)sf.f_bsize,
                 f->dir);
    return 0;
}

/* Opens the dump for the parent (a regular file no larger than room) and
 * removes it whatever it is: the fd stays readable after the unlink, and
 * the space is the container's again once the copy closes it. */
static int child_collect(struct nsexec_child *c, void *arg)
{
    const struct files *f = arg;
    int root = nsexec_root_fd(c);
    struct stat st;
    uint64_t size = 0;
    int fd = f->room ? rootfs_open_regular(root, f->path, f->room, &size) : -ENOENT;
    if (fd == -EFBIG)
        nsexec_reply(c, "the dump is %llu bytes, more than the %llu the node may take",
                     (unsigned long long)size, (unsigned long long)f->room);
    else if (fd < 0 && f->room)
        nsexec_reply(c, "collecting %s: %s", f->path,
                     fd == -EINVAL ? "not a regular file" : rootfs_strerror(fd));
    if (rootfs_lstat(root, f->path, &st) == 0 && S_ISREG(st.st_mode))
        rootfs_unlink(root, f->path, 0);
    if (fd >= 0)
        nsexec_pass_fd(c, fd);
    return fd < 0 ? fd : 0;
}

/* ---- the steps ----------------------------------------------------------------- */

struct dump {
    struct jvm *j;
    const struct heapdump_req *req;
    struct heapdump_result *res;
    uint64_t tmo;
    struct files f;
    bool asked; /* GC.heap_dump was sent: the file must go */
    struct journal_entry je;
};

static int fail(struct dump *D, enum heapdump_outcome o, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct dump *D, enum heapdump_outcome o, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(D->res->reason, sizeof(D->res->reason), fmt, ap);
    va_end(ap);
    D->res->outcome = o;
    return rc;
}

/* jcmd <cmd> into a buffer; 0 with the text when the JVM said 0. */
static int jcmd_text(struct dump *D, const char *cmd, uint64_t tmo, struct attach_buf *out,
                     char *err, size_t errcap)
{
    int code = 0;
    int rc = attach_jcmd(D->j, cmd, tmo, attach_buf_sink, out, &code, D->req->metrics, err, errcap);
    if (rc == 0 && code != 0) {
        snprintf(err, errcap, "%s failed in the JVM (status %d): %.400s", cmd, code,
                 out->data ? out->data : "");
        rc = -EIO;
    }
    return rc;
}

/* The JDK (for -gz) and the heap's used size (for the space check). */
static int inspect(struct dump *D)
{
    char err[512];
    struct attach_buf v = {.max = 4096}, h = {.max = 16384};
    int rc = jcmd_text(D, "VM.version", D->tmo, &v, err, sizeof(err));
    if (rc == 0 && attach_jdk_version(v.data ? v.data : "", D->res->jdk_version,
                                      sizeof(D->res->jdk_version)) < 0)
        snprintf(D->res->jdk_version, sizeof(D->res->jdk_version), "unknown");
    D->res->compressed = heapdump_jdk_major(D->res->jdk_version) >= HEAPDUMP_GZ_MIN_JDK;
    if (rc == 0 && (jcmd_text(D, "GC.heap_info", D->tmo, &h, err, sizeof(err)) < 0 ||
                    heapdump_parse_heap_used(h.data ? h.data : "", &D->res->heap_used_bytes) < 0))
        rc = procfs_read_rss(NULL, jvm_ident(D->j)->pid, &D->res->heap_used_bytes);
    attach_buf_free(&v);
    attach_buf_free(&h);
    if (rc < 0)
        return fail(D, rc == -ESRCH ? HEAPDUMP_TARGET_EXITED : HEAPDUMP_FAILED, rc, "%s", err);
    return 0;
}

/* Where the JVM writes: its HeapDumpPath's directory, else our work
 * directory in its container. */
static int choose_dir(struct dump *D)
{
    struct jvmopts o;
    char err[768];
    const char *hdp = jvm_options(D->j, &o) == 0 ? jvmopts_value(&o, "HeapDumpPath") : NULL;
    int rc = 0;
    if (hdp && hdp[0] == '/') {
        snprintf(D->f.dir, sizeof(D->f.dir), "%s", hdp);
        D->f.path_is_dir = true;
    } else {
        struct asprof_stage wd;
        rc = asprof_workdir(D->j, 0, D->tmo, &wd, err, sizeof(err));
        snprintf(D->f.dir, sizeof(D->f.dir), "%s", wd.dir);
    }
    jvmopts_free(&o);
    if (rc < 0)
        return fail(D, HEAPDUMP_FAILED, rc, "work directory in the container: %s", err);
    return 0;
}

/* Resolves and measures the directory, and refuses a dump that would not
 * fit there. */
static int prepare(struct dump *D)
{
    const struct proc_ident *id = jvm_ident(D->j);
    struct nsexec_result r;
    char base[96], why[256];
    snprintf(base, sizeof(base), "flameshot-heapdump-%d-%llu.hprof%s", id->nspid,
             (unsigned long long)(units_now_real_ns() / 1000000ull),
             D->res->compressed ? ".gz" : "");
    snprintf(D->f.path, sizeof(D->f.path), "%s", base);
    int rc = jvm_run_child(D->j, NULL, 0, D->tmo, child_prepare, &D->f, &r);
    if (r.fd >= 0)
        close(r.fd);
    unsigned long long avail = 0;
    int off = 0;
    if (rc == 0 && sscanf(r.text, "%llu %n", &avail, &off) != 1)
        rc = -EPROTO;
    if (rc < 0)
        return fail(D, HEAPDUMP_FAILED, rc, "preparing the dump in the container: %s", r.text);
    snprintf(D->f.dir, sizeof(D->f.dir), "%s", r.text + off);
    snprintf(D->f.path, sizeof(D->f.path), "%s/%s", strcmp(D->f.dir, "/") ? D->f.dir : "", base);
    snprintf(D->res->container_path, sizeof(D->res->container_path), "%s", D->f.path);
    D->res->container_avail_bytes = avail;
    if (heapdump_space_check(D->res->heap_used_bytes, avail, why, sizeof(why)) < 0)
        return fail(D, HEAPDUMP_NO_SPACE, -ENOSPC,
                    "not enough space in the container at %s: %s; not dumped", D->f.dir, why);
    return 0;
}

/* The most the node may take: the caller's cap, and the free space of
 * the node file's filesystem less HEAPDUMP_NODE_MARGIN. */
static uint64_t node_room(struct dump *D, const char *dir)
{
    struct statvfs sv;
    uint64_t room = D->req->node_cap;
    if (statvfs(dir, &sv) == 0) {
        uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        uint64_t usable = avail > HEAPDUMP_NODE_MARGIN ? avail - HEAPDUMP_NODE_MARGIN : 0;
        room = usable < room ? usable : room;
    }
    return room;
}

static int node_dir(struct dump *D, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", D->res->node_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    int rc = fsutil_mkdirs(dir, 0750);
    if (rc < 0)
        return fail(D, HEAPDUMP_FAILED, rc, "creating %s on the node: %s", dir, strerror(-rc));
    D->f.room = node_room(D, dir);
    /* uncompressed, the dump is about the heap: refused before the JVM
     * pauses to write what the node could not keep */
    if (!D->res->compressed && D->res->heap_used_bytes > D->f.room)
        return fail(D, HEAPDUMP_TOO_LARGE, -EFBIG,
                    "a heap of %llu MiB does not fit the %llu MiB the node may take (disk budget "
                    "and free space); not dumped",
                    (unsigned long long)(D->res->heap_used_bytes >> 20),
                    (unsigned long long)(D->f.room >> 20));
    return 0;
}

/* Before GC.heap_dump: what a restart must remove should we die while
 * the JVM writes (journal.h). A dump the journal cannot follow goes on. */
static void journal_dump(struct dump *D)
{
    if (!D->req->journal)
        return;
    D->je.proc = *jvm_ident(D->j);
    int n = snprintf(D->je.dump, sizeof(D->je.dump), "%s", D->f.path);
    int m = snprintf(D->je.node_part, sizeof(D->je.node_part), "%s.part", D->res->node_path);
    if (n >= (int)sizeof(D->je.dump) || m >= (int)sizeof(D->je.node_part))
        D->je.dump[0] = D->je.node_part[0] = '\0'; /* never a truncated path */
    int rc = journal_write(D->req->journal, &D->je);
    if (rc < 0)
        log_warn("heapdump", "pid %d: journal of captures in progress: %s", D->je.proc.pid,
                 strerror(-rc));
}

static int dump(struct dump *D)
{
    char cmd[ATTACH_ARG_MAX + 1], err[768];
    struct attach_buf out = {.max = 4096};
    journal_dump(D);
    snprintf(cmd, sizeof(cmd), "GC.heap_dump -all%s %s", D->res->compressed ? " -gz=1" : "",
             D->f.path);
    D->asked = true;
    D->res->start_ns = units_now_real_ns();
    int rc = jcmd_text(D, cmd, D->req->timeout_ms, &out, err, sizeof(err));
    D->res->end_ns = units_now_real_ns();
    if (rc == 0 && (!out.data || !strstr(out.data, "Heap dump file created"))) {
        snprintf(err, sizeof(err), "GC.heap_dump did not report a dump: %.600s",
                 out.data ? out.data : "");
        rc = -EIO;
    }
    attach_buf_free(&out);
    /* the step that timed out is named: a dump may never have started
     * (a stopped JVM whose listener queue is full refuses the connect) */
    if (rc == -ETIMEDOUT)
        return fail(D, HEAPDUMP_TIMEOUT, rc,
                    "GC.heap_dump timed out after %llu ms (FLAMESHOT_HEAP_DUMP_TIMEOUT): %s; any "
                    "file it began was removed",
                    (unsigned long long)D->req->timeout_ms, err);
    if (rc < 0)
        return fail(D, rc == -ESRCH || !jvm_alive(D->j) ? HEAPDUMP_TARGET_EXITED : HEAPDUMP_FAILED,
                    rc, "%s", err);
    return 0;
}

/* Copies the collected fd into a temporary file beside the node file,
 * then renames it into place. */
static int copy_to_node(struct dump *D, int in_fd)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.part", D->res->node_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* a crash's leftover */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return fail(D, HEAPDUMP_FAILED, -errno, "creating %s: %s", tmp, strerror(errno));
    struct bounded b = {.write = bounded_fd_write, .arg = &fd, .cap = D->f.room};
    int rc = bounded_copy_fd(&b, in_fd);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, D->res->node_path) < 0)
        rc = -errno;
    if (rc == 0)
        fsutil_fsync_parent(D->res->node_path);
    if (rc < 0)
        unlink(tmp);
    D->res->bytes = rc == 0 ? b.written : 0;
    if (rc == -EFBIG)
        return fail(D, HEAPDUMP_TOO_LARGE, rc,
                    "the dump grew past the %llu bytes the node may take while copied",
                    (unsigned long long)D->f.room);
    if (rc < 0)
        return fail(D, HEAPDUMP_FAILED, rc, "copying the dump to %s: %s", D->res->node_path,
                    strerror(-rc));
    return 0;
}

/* Hands the dump over and removes it from the container (room 0: only
 * removes it). */
static int collect(struct dump *D, bool keep)
{
    struct nsexec_result r;
    uint64_t room = D->f.room;
    D->f.room = keep ? room : 0;
    int rc = jvm_run_child(D->j, NULL, 0, D->tmo, child_collect, &D->f, &r);
    D->f.room = room;
    if (keep && rc == 0 && r.fd >= 0)
        rc = copy_to_node(D, r.fd);
    else if (keep && rc < 0)
        fail(D, rc == -EFBIG ? HEAPDUMP_TOO_LARGE : HEAPDUMP_FAILED, rc, "%s", r.text);
    if (r.fd >= 0)
        close(r.fd);
    return keep ? rc : 0;
}

int heapdump_capture(const struct proc_ident *p, const struct heapdump_req *req,
                     struct heapdump_result *res)
{
    struct dump D = {.req = req,
                     .res = res,
                     .tmo = req->attach_timeout_ms ? req->attach_timeout_ms : DEFAULT_STEP_MS};
    memset(res, 0, sizeof(*res));
    snprintf(res->jdk_version, sizeof(res->jdk_version), "unknown");
    int rc = jvm_open(p, &D.j, res->reason, sizeof(res->reason));
    if (rc < 0)
        res->outcome = rc == -ESRCH ? HEAPDUMP_TARGET_EXITED : HEAPDUMP_FAILED;
    rc = rc ?: inspect(&D);
    if (rc == 0)
        snprintf(res->node_path, sizeof(res->node_path), "%s%s", req->node_path,
                 res->compressed ? ".gz" : "");
    rc = rc ?: choose_dir(&D);
    rc = rc ?: prepare(&D);
    char dir[PATH_MAX];
    rc = rc ?: node_dir(&D, dir, sizeof(dir));
    rc = rc ?: dump(&D);
    if (D.asked) { /* whatever happened, the file leaves the container */
        int crc = collect(&D, rc == 0);
        if (rc == 0)
            rc = crc;
    }
    journal_remove(req->journal, &D.je);
    jvm_close(D.j);
    if (rc < 0)
        res->node_path[0] = '\0';
    return rc;
}

/* ---- after a restart ----------------------------------------------------------- */

/* Removes the dump if it is a regular file: 0, -ENOENT, or -errno with
 * the reason replied. */
static int child_discard(struct nsexec_child *c, void *arg)
{
    const struct files *f = arg;
    struct stat st;
    int root = nsexec_root_fd(c);
    int rc = rootfs_lstat(root, f->path, &st);
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -EINVAL;
    if (rc == 0)
        rc = rootfs_unlink(root, f->path, 0);
    if (rc < 0 && rc != -ENOENT)
        nsexec_reply(c, "%s: %s", f->path,
                     rc == -EINVAL ? "not a regular file" : rootfs_strerror(rc));
    return rc;
}

int heapdump_recover(const struct journal_entry *e, uint64_t timeout_ms, char *done, size_t cap)
{
    struct dump D = {.tmo = timeout_ms ? timeout_ms : DEFAULT_STEP_MS};
    char why[512];
    size_t n = 0;
    done[0] = '\0';
    if (e->node_part[0] && unlink(e->node_part) == 0)
        n += (size_t)snprintf(done, cap, "removed %s on the node", e->node_part);
    int rc = jvm_open(&e->proc, &D.j, why, sizeof(why));
    if (rc < 0) {
        if (rc != -ESRCH && n < cap)
            snprintf(done + n, cap - n, "%s%s", n ? "; " : "", why);
        return rc;
    }
    struct nsexec_result r = {.fd = -1};
    snprintf(D.f.path, sizeof(D.f.path), "%s", e->dump);
    rc = e->dump[0] ? jvm_run_child(D.j, NULL, 0, D.tmo, child_discard, &D.f, &r) : -ENOENT;
    if (r.fd >= 0)
        close(r.fd);
    jvm_close(D.j);
    if (n < cap && rc == 0)
        snprintf(done + n, cap - n, "%sremoved %s", n ? ", " : "", e->dump);
    else if (n < cap && rc != -ENOENT)
        snprintf(done + n, cap - n, "%scannot remove the dump: %s", n ? "; " : "", r.text);
    if (!done[0])
        snprintf(done, cap, "nothing left to clean");
    return 0;
}
