#include "capture/hprof.h"

#include "capture/jvmopts.h"
#include "capture/nsexec.h"
#include "capture/rootfs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEEN_MAX 4096

struct seen_entry {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    uint64_t mtime_ns;
    bool oom; /* named by an OOM-kill record */
};

struct hprof_seen {
    char *path;
    struct seen_entry *items;
    size_t n;
};

static const char *const why_names[] = {"ok", "not_enabled", "path_unreachable",
                                        "no_file_in_window"};

const char *hprof_why_name(enum hprof_why why)
{
    return (unsigned)why <= HPROF_NO_FILE ? why_names[why] : "unknown";
}

void hprof_spec_from(const struct jvmopts *opts, struct hprof_spec *out)
{
    memset(out, 0, sizeof(*out));
    out->on_oom = jvmopts_flag(opts, "HeapDumpOnOutOfMemoryError") == 1;
    const char *path = jvmopts_value(opts, "HeapDumpPath");
    out->has_path = path && *path; /* HotSpot takes an empty value as unset */
    snprintf(out->path, sizeof(out->path), "%s", out->has_path ? path : "");
    const char *gz = jvmopts_value(opts, "HeapDumpGzipLevel");
    out->gz = gz && atoi(gz) > 0;
    if (opts->n_unread) /* -ENOSYS: read without a way into the container (oomwatch) */
        snprintf(out->unread, sizeof(out->unread), "; options in %s were not read (%s)",
                 opts->unread,
                 opts->unread_err == -ENOSYS ? "files in the container are not read when a JVM "
                                               "is first seen"
                                             : strerror(-opts->unread_err));
    else if (opts->incomplete)
        snprintf(out->unread, sizeof(out->unread), "; its options were not all read");
}

static int open_proc(const char *proc_root, int pid, const char *what, int flags)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%d/%s", proc_root ? proc_root : "/proc", pid, what);
    int fd = open(p, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void unreachable(struct hprof_watch *w, const char *what, int rc)
{
    w->state = HPROF_UNREACHABLE;
    snprintf(w->detail, sizeof(w->detail), "%s: %s", what,
             rc == -ETIMEDOUT ? "did not answer in time (hung filesystem?)" : rootfs_strerror(rc));
}

/* Runs fn in a confined helper inside the watched container (its mount
 * namespace, chrooted to its root, as the JVM's uid/gid), keeping the
 * nkeep fds of keep. The caller owns res->fd. Returns nsexec_run's rc. */
static int in_container(const struct hprof_watch *w, const int *keep, size_t nkeep, nsexec_fn fn,
                        void *arg, struct nsexec_result *res)
{
    struct nsexec_spec spec = {.mntns_fd = w->mntns_fd,
                               .root_fd = w->root_fd,
                               .uid = w->uid,
                               .gid = w->gid,
                               .keep_fds = keep,
                               .nkeep = nkeep,
                               .timeout_ms = w->timeout_ms};
    return nsexec_run(&spec, fn, arg, res);
}

struct pin_arg {
    const char *path; /* HeapDumpPath */
    int cwd_fd;
};

/* In the helper: the dump directory, symlink-free, from the container's
 * root (absolute path) or the JVM's cwd. Replies "dir" when the path
 * itself is a directory, "file" when its parent is opened instead. */
static int child_pin(struct nsexec_child *c, void *arg)
{
    const struct pin_arg *a = arg;
    int base_fd = a->path[0] == '/' ? nsexec_root_fd(c) : a->cwd_fd;
    int fd = rootfs_open(base_fd, a->path, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0) {
        nsexec_pass_fd(c, fd);
        return nsexec_reply(c, "dir"), 0;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", a->path);
    fd = rootfs_open(base_fd, dirname(tmp), O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return nsexec_reply(c, "%s", rootfs_strerror(fd)), fd;
    nsexec_pass_fd(c, fd);
    return nsexec_reply(c, "file"), 0;
}

/* Pins the directory the JVM writes its dump into. */
static void pin(struct hprof_watch *w, int cwd_fd, const struct hprof_spec *spec, int nspid)
{
    char def[64];
    snprintf(def, sizeof(def), "java_pid%d.hprof%s", nspid, spec->gz ? ".gz" : "");
    if (!spec->has_path) {
        snprintf(w->dir, sizeof(w->dir), "(cwd)");
        snprintf(w->base, sizeof(w->base), "%s", def);
        w->dir_fd = cwd_fd >= 0 ? fcntl(cwd_fd, F_DUPFD_CLOEXEC, 0) : -ENOENT;
        if (w->dir_fd < 0)
            unreachable(w, "the JVM's working directory", w->dir_fd == -ENOENT ? -ENOENT : -errno);
        return;
    }
    struct pin_arg a = {.path = spec->path, .cwd_fd = cwd_fd};
    struct nsexec_result res;
    int rc = in_container(w, &cwd_fd, cwd_fd >= 0, child_pin, &a, &res);
    if (rc == 0 && res.fd >= 0) {
        w->dir_fd = res.fd;
        w->dir_mode = strcmp(res.text, "dir") == 0;
    } else if (res.fd >= 0) {
        close(res.fd);
    }
    char tmp[PATH_MAX], tmp2[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", spec->path);
    snprintf(tmp2, sizeof(tmp2), "%s", spec->path);
    snprintf(w->dir, sizeof(w->dir), "%s", w->dir_mode ? spec->path : dirname(tmp));
    snprintf(w->base, sizeof(w->base), "%s", w->dir_mode ? def : basename(tmp2));
    if (w->dir_fd < 0) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof(what), "HeapDumpPath directory %s", w->dir);
        unreachable(w, what, rc < 0 ? rc : -EIO);
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void hprof_watch_open(const char *proc_root, const struct proc_ident *id, uint64_t started_ns,
                      const struct hprof_spec *spec, struct hprof_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->dir_fd = -1;
    w->since_ns = started_ns;
    w->uid = id->uid;
    w->gid = id->gid;
    w->timeout_ms = HPROF_HELPER_TIMEOUT_MS;
    if (!spec->on_oom) {
        w->mntns_fd = w->root_fd = -1;
        w->state = HPROF_NOT_ENABLED;
        snprintf(w->detail, sizeof(w->detail),
                 "the JVM was started without -XX:+HeapDumpOnOutOfMemoryError%s", spec->unread);
        return;
    }
    /* /proc's own links: no path inside the container is resolved here */
    w->mntns_fd = open_proc(proc_root, id->pid, "ns/mnt", O_RDONLY);
    w->root_fd = open_proc(proc_root, id->pid, "root", O_PATH | O_DIRECTORY);
    int cwd_fd = open_proc(proc_root, id->pid, "cwd", O_PATH | O_DIRECTORY);
    if (w->mntns_fd < 0 || w->root_fd < 0)
        unreachable(w, "the JVM's mount namespace or root directory",
                    w->mntns_fd < 0 ? w->mntns_fd : w->root_fd);
    else
        pin(w, cwd_fd, spec, id->nspid);
    close_fd(&cwd_fd);
    if (w->state != HPROF_OK)
        hprof_watch_close(w);
}

static int dup_fd(int fd)
{
    return fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
}

void hprof_watch_dup(const struct hprof_watch *w, struct hprof_watch *copy)
{
    *copy = *w;
    copy->dir_fd = dup_fd(w->dir_fd);
    copy->mntns_fd = dup_fd(w->mntns_fd);
    copy->root_fd = dup_fd(w->root_fd);
}

void hprof_watch_close(struct hprof_watch *w)
{
    close_fd(&w->dir_fd);
    close_fd(&w->mntns_fd);
    close_fd(&w->root_fd);
}

/* HotSpot's names for this JVM: base, base.N; in a dump directory any
 * *.hprof[.N][.gz] (another JVM of the same container may share it). */
static bool name_matches(const struct hprof_watch *w, const char *name)
{
    if (w->dir_mode && strstr(name, ".hprof") && name[0] != '.')
        return true;
    size_t bl = strlen(w->base);
    if (strncmp(name, w->base, bl) != 0)
        return false;
    const char *rest = name + bl;
    if (!*rest)
        return true;
    if (*rest++ != '.' || !*rest)
        return false;
    for (; *rest; rest++)
        if (*rest < '0' || *rest > '9')
            return false;
    return true;
}

static void fill(const struct hprof_watch *w, const char *name, struct hprof_found *f)
{
    if (strcmp(w->dir, "(cwd)") == 0)
        snprintf(f->path, sizeof(f->path), "%s", name);
    else
        snprintf(f->path, sizeof(f->path), "%s%s%s", w->dir,
                 w->dir[strlen(w->dir) - 1] == '/' ? "" : "/", name);
}

/* Which dump a scan picks: the newest matching regular file not older
 * than the JVM, within window_ns of around_ns when window_ns > 0, and not
 * in seen (by an OOM-kill record only, when oom_only). */
struct pick {
    const struct hprof_watch *w;
    uint64_t around, window;
    const struct hprof_seen *seen;
    bool oom_only;
};

static bool picked(const struct pick *p, const struct hprof_found *f)
{
    uint64_t d = f->mtime_ns > p->around ? f->mtime_ns - p->around : p->around - f->mtime_ns;
    if (f->mtime_ns + 1000000000ull < p->w->since_ns)
        return false; /* an older JVM's dump */
    if (p->window && d > p->window)
        return false;
    return !(p->seen && hprof_seen_has(p->seen, f, p->oom_only));
}

/* In the helper: lists the pinned directory (stat never follows a link)
 * and replies "<dev> <ino> <size> <mtime_ns> <name>" for the pick, or ""
 * when there is none. */
static int child_scan(struct nsexec_child *c, void *arg)
{
    const struct pick *p = arg;
    int fd = openat(p->w->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return nsexec_reply(c, "listing %s: %s", p->w->dir, strerror(-rc)), rc;
    }
    struct hprof_found best = {0};
    char name[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        struct hprof_found f = {0};
        if (!name_matches(p->w, e->d_name) ||
            fstatat(p->w->dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        f = (struct hprof_found){.size = (uint64_t)st.st_size,
                                 .mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
                                             (uint64_t)st.st_mtim.tv_nsec,
                                 .dev = st.st_dev,
                                 .ino = st.st_ino};
        if (picked(p, &f) && (!name[0] || f.mtime_ns > best.mtime_ns)) {
            best = f;
            snprintf(name, sizeof(name), "%s", e->d_name);
        }
    }
    closedir(d);
    if (name[0])
        nsexec_reply(c, "%llu %llu %llu %llu %s", (unsigned long long)best.dev,
                     (unsigned long long)best.ino, (unsigned long long)best.size,
                     (unsigned long long)best.mtime_ns, name);
    return 0;
}

/* Runs the scan in a helper. 1 found (out), 0 none, -errno. */
static int scan(const struct pick *p, struct hprof_found *out)
{
    if (p->w->dir_fd < 0)
        return -EBADF;
    struct nsexec_result res;
    int rc = in_container(p->w, &p->w->dir_fd, 1, child_scan, (void *)p, &res);
    if (res.fd >= 0)
        close(res.fd);
    if (rc < 0)
        return rc;
    unsigned long long dev, ino, size, mtime;
    int off = 0;
    if (sscanf(res.text, "%llu %llu %llu %llu %n", &dev, &ino, &size, &mtime, &off) != 4 || !off)
        return 0;
    *out =
        (struct hprof_found){.size = size, .mtime_ns = mtime, .dev = (dev_t)dev, .ino = (ino_t)ino};
    fill(p->w, res.text + off, out);
    return 1;
}

int hprof_find(const struct hprof_watch *w, uint64_t around_ns, uint64_t window_ns,
               const struct hprof_seen *seen, struct hprof_found *out)
{
    struct pick p = {.w = w,
                     .around = around_ns,
                     .window = window_ns ? window_ns : 1,
                     .seen = seen,
                     .oom_only = true};
    return scan(&p, out);
}

int hprof_poll_new(struct hprof_watch *w, const struct hprof_seen *seen, uint64_t now_ns,
                   struct hprof_found *out)
{
    struct pick p = {.w = w, .seen = seen};
    int rc = w->state == HPROF_OK ? scan(&p, out) : 0;
    if (rc <= 0) {
        w->pending[0] = '\0';
        return rc;
    }
    /* HotSpot writes the dump in place: report it once it stops growing */
    if (strcmp(w->pending, out->path) != 0 || w->pending_size != out->size) {
        snprintf(w->pending, sizeof(w->pending), "%s", out->path);
        w->pending_size = out->size;
        w->pending_seen_ns = now_ns;
        return 0;
    }
    return now_ns >= w->pending_seen_ns + HPROF_SETTLE_NS;
}

struct copy_arg {
    const struct hprof_watch *w;
    const char *name;
    const struct hprof_found *f;
    int out_fd;
    uint64_t cap;
};

static int copy_fd(struct nsexec_child *c, int in, const struct copy_arg *a)
{
    static char buf[1 << 20]; /* the helper's own copy of the agent's memory */
    uint64_t done = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0)
            return nsexec_reply(c, "reading %s: %s", a->f->path, strerror(errno)), -errno;
        if (n == 0)
            break;
        if (done + (uint64_t)n > a->cap)
            return nsexec_reply(c, "%s grew past %llu bytes", a->f->path,
                                (unsigned long long)a->cap),
                   -EFBIG;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(a->out_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                return nsexec_reply(c, "writing the copy: %s", strerror(errno)), -errno;
            off += w > 0 ? w : 0;
        }
        done += (uint64_t)n;
    }
    nsexec_reply(c, "%llu", (unsigned long long)done);
    return 0;
}

/* In the helper: the dump by its name in the pinned directory, never
 * through a link, and only the file that was found. */
static int child_copy(struct nsexec_child *c, void *arg)
{
    const struct copy_arg *a = arg;
    struct stat st;
    int in = openat(a->w->dir_fd, a->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (in < 0)
        return nsexec_reply(c, "opening %s: %s", a->f->path, strerror(errno)), -errno;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != a->f->dev ||
        st.st_ino != a->f->ino) {
        close(in);
        return nsexec_reply(c, "%s is no longer the dump that was found", a->f->path), -ESTALE;
    }
    int rc = copy_fd(c, in, a);
    close(in);
    return rc;
}

int64_t hprof_copy_out(const struct hprof_watch *w, const struct hprof_found *f, int out_fd,
                       uint64_t cap, char *why, size_t whycap)
{
    const char *slash = strrchr(f->path, '/');
    struct copy_arg a = {
        .w = w, .name = slash ? slash + 1 : f->path, .f = f, .out_fd = out_fd, .cap = cap};
    struct hprof_watch bounded = *w;
    bounded.timeout_ms += f->size / ((uint64_t)HPROF_COPY_MIB_PER_S << 20) * 1000;
    int keep[2] = {w->dir_fd, out_fd};
    struct nsexec_result res;
    if (w->dir_fd < 0) {
        snprintf(why, whycap, "the dump directory is not pinned");
        return -EBADF;
    }
    int rc = in_container(&bounded, keep, 2, child_copy, &a, &res);
    if (res.fd >= 0)
        close(res.fd);
    if (rc < 0) {
        snprintf(why, whycap, "%s",
                 rc == -ETIMEDOUT ? "copying the dump did not end in time (hung filesystem?)"
                                  : res.text);
        return rc;
    }
    return (int64_t)strtoull(res.text, NULL, 10);
}

static int seen_push(struct hprof_seen *s, const struct seen_entry *e)
{
    if (s->n == SEEN_MAX) {
        memmove(s->items, s->items + 1, (SEEN_MAX - 1) * sizeof(*e));
        s->n--;
    }
    s->items[s->n++] = *e;
    return 0;
}

static void seen_load_line(struct hprof_seen *s, const char *line)
{
    cJSON *j = cJSON_Parse(line);
    if (!j)
        return;
    struct seen_entry e = {
        .dev = (dev_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "dev")),
        .ino = (ino_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "ino")),
        .size = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "size")),
        .mtime_ns = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "mtime_us")) * 1000,
        .oom = cJSON_IsTrue(cJSON_GetObjectItem(j, "oom")),
    };
    cJSON_Delete(j);
    seen_push(s, &e);
}

struct hprof_seen *hprof_seen_open(const char *path)
{
    struct hprof_seen *s = calloc(1, sizeof(*s));
    if (!s || !(s->items = calloc(SEEN_MAX, sizeof(*s->items))) || !(s->path = strdup(path))) {
        hprof_seen_close(s);
        return NULL;
    }
    FILE *f = fopen(path, "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        seen_load_line(s, line);
    if (f)
        fclose(f);
    return s;
}

void hprof_seen_close(struct hprof_seen *s)
{
    if (!s)
        return;
    free(s->items);
    free(s->path);
    free(s);
}

bool hprof_seen_has(const struct hprof_seen *s, const struct hprof_found *f, bool oom_only)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const struct seen_entry *e = &s->items[i];
        if (e->dev == f->dev && e->ino == f->ino && e->size == f->size &&
            e->mtime_ns / 1000 == f->mtime_ns / 1000 && (e->oom || !oom_only))
            return true;
    }
    return false;
}

int hprof_seen_add(struct hprof_seen *s, const struct hprof_found *f, bool by_oom)
{
    struct seen_entry e = {
        .dev = f->dev, .ino = f->ino, .size = f->size, .mtime_ns = f->mtime_ns, .oom = by_oom};
    seen_push(s, &e);
    /* JSON numbers are doubles, exact up to 2^53: mtime is kept in us */
    FILE *out = fopen(s->path, "ae");
    if (!out)
        return -errno;
    fprintf(out, "{\"dev\":%llu,\"ino\":%llu,\"size\":%llu,\"mtime_us\":%llu,\"oom\":%s}\n",
            (unsigned long long)f->dev, (unsigned long long)f->ino, (unsigned long long)f->size,
            (unsigned long long)(f->mtime_ns / 1000), by_oom ? "true" : "false");
    int rc = fflush(out) == 0 && fsync(fileno(out)) == 0 ? 0 : -errno;
    fclose(out);
    return rc;
}
