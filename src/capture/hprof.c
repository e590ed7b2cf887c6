#include "capture/hprof.h"

#include "capture/jvmopts.h"
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

static int open_proc_dir(const char *proc_root, int pid, const char *what)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%d/%s", proc_root ? proc_root : "/proc", pid, what);
    int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void unreachable(struct hprof_watch *w, const char *what, int rc)
{
    w->state = HPROF_UNREACHABLE;
    snprintf(w->detail, sizeof(w->detail), "%s: %s", what, rootfs_strerror(rc));
}

/* Pins the directory the JVM writes its dump into. */
static void pin(struct hprof_watch *w, int root_fd, int cwd_fd, const struct hprof_spec *spec,
                int nspid)
{
    char def[64];
    snprintf(def, sizeof(def), "java_pid%d.hprof%s", nspid, spec->gz ? ".gz" : "");
    if (!spec->has_path) {
        snprintf(w->dir, sizeof(w->dir), "(cwd)");
        snprintf(w->base, sizeof(w->base), "%s", def);
        w->dir_fd = cwd_fd >= 0 ? fcntl(cwd_fd, F_DUPFD_CLOEXEC, 0) : -ENOENT;
        if (w->dir_fd < 0)
            unreachable(w, "the JVM's working directory", -errno);
        return;
    }
    int base_fd = spec->path[0] == '/' ? root_fd : cwd_fd;
    int fd = rootfs_open(base_fd, spec->path, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0) {
        w->dir_mode = true;
        w->dir_fd = fd;
        snprintf(w->dir, sizeof(w->dir), "%s", spec->path);
        snprintf(w->base, sizeof(w->base), "%s", def);
        return;
    }
    char tmp[PATH_MAX], tmp2[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", spec->path);
    snprintf(tmp2, sizeof(tmp2), "%s", spec->path);
    snprintf(w->dir, sizeof(w->dir), "%s", dirname(tmp));
    snprintf(w->base, sizeof(w->base), "%s", basename(tmp2));
    fd = rootfs_open(base_fd, w->dir, O_PATH | O_DIRECTORY, 0);
    if (fd < 0) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof(what), "HeapDumpPath directory %s", w->dir);
        unreachable(w, what, fd);
        return;
    }
    w->dir_fd = fd;
}

void hprof_watch_open(const char *proc_root, int pid, int nspid, uint64_t started_ns,
                      const struct hprof_spec *spec, struct hprof_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->dir_fd = -1;
    w->since_ns = started_ns;
    if (!spec->on_oom) {
        w->state = HPROF_NOT_ENABLED;
        snprintf(w->detail, sizeof(w->detail),
                 "the JVM was started without -XX:+HeapDumpOnOutOfMemoryError%s", spec->unread);
        return;
    }
    int root_fd = open_proc_dir(proc_root, pid, "root");
    int cwd_fd = open_proc_dir(proc_root, pid, "cwd");
    if (root_fd < 0)
        unreachable(w, "the JVM's root directory", root_fd);
    else
        pin(w, root_fd, cwd_fd, spec, nspid);
    if (root_fd >= 0)
        close(root_fd);
    if (cwd_fd >= 0)
        close(cwd_fd);
}

void hprof_watch_close(struct hprof_watch *w)
{
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    w->dir_fd = -1;
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

static uint64_t ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static void fill(const struct hprof_watch *w, const char *name, const struct stat *st,
                 struct hprof_found *f)
{
    if (strcmp(w->dir, "(cwd)") == 0)
        snprintf(f->path, sizeof(f->path), "%s", name);
    else
        snprintf(f->path, sizeof(f->path), "%s%s%s", w->dir,
                 w->dir[strlen(w->dir) - 1] == '/' ? "" : "/", name);
    f->size = (uint64_t)st->st_size;
    f->mtime_ns = ts_ns(&st->st_mtim);
    f->dev = st->st_dev;
    f->ino = st->st_ino;
}

typedef bool (*candidate_fn)(const struct hprof_found *f, void *arg);

/* Visits every regular file of the pinned directory matching the names. */
static int each_candidate(const struct hprof_watch *w, candidate_fn fn, void *arg)
{
    if (w->dir_fd < 0)
        return -EBADF;
    int fd = openat(w->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        struct hprof_found f;
        if (!name_matches(w, e->d_name) ||
            fstatat(w->dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        fill(w, e->d_name, &st, &f);
        if (f.mtime_ns + 1000000000ull < w->since_ns)
            continue; /* an older JVM's dump */
        if (!fn(&f, arg))
            break;
    }
    closedir(d);
    return 0;
}

struct find_arg {
    uint64_t around, window;
    const struct hprof_seen *seen;
    struct hprof_found *best;
    bool found;
};

static bool consider_in_window(const struct hprof_found *f, void *arg)
{
    struct find_arg *a = arg;
    uint64_t d = f->mtime_ns > a->around ? f->mtime_ns - a->around : a->around - f->mtime_ns;
    if (d > a->window || (a->seen && hprof_seen_has(a->seen, f, true)))
        return true;
    if (!a->found || f->mtime_ns > a->best->mtime_ns) {
        *a->best = *f;
        a->found = true;
    }
    return true;
}

int hprof_find(const struct hprof_watch *w, uint64_t around_ns, uint64_t window_ns,
               const struct hprof_seen *seen, struct hprof_found *out)
{
    struct find_arg a = {.around = around_ns, .window = window_ns, .seen = seen, .best = out};
    int rc = each_candidate(w, consider_in_window, &a);
    return rc < 0 ? rc : a.found;
}

struct newest_arg {
    const struct hprof_seen *seen;
    struct hprof_found *best;
    bool found;
};

static bool consider_unseen(const struct hprof_found *f, void *arg)
{
    struct newest_arg *a = arg;
    if (a->seen && hprof_seen_has(a->seen, f, false))
        return true;
    if (!a->found || f->mtime_ns > a->best->mtime_ns) {
        *a->best = *f;
        a->found = true;
    }
    return true;
}

int hprof_poll_new(struct hprof_watch *w, const struct hprof_seen *seen, uint64_t now_ns,
                   struct hprof_found *out)
{
    struct newest_arg a = {.seen = seen, .best = out};
    if (w->state != HPROF_OK || each_candidate(w, consider_unseen, &a) < 0 || !a.found) {
        w->pending[0] = '\0';
        return 0;
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
