#include "outbox/sink_local.h"

#include "core/fsutil.h"
#include "core/log.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD         "sink_local"
#define PROFILES    "profiles"
#define INDEX_NAME  "index.json"
#define MAX_DEPTH   6
#define MAX_SIDECAR (16u << 20)

struct entry {
    char *relpath; /* payload, or the summary .json itself */
    char *sidecar; /* relpath of the .json; equals relpath for a summary */
    uint64_t created_ns;
    uint64_t bytes;
    const char *kind; /* artefact_kind_name's */
    /* this entry's line of index.json, as text: a parsed tree costs several
     * times that, and the index holds every kept artefact */
    char *line;
};

struct sink_local {
    char *root;
    pthread_mutex_t mu;
    struct entry *v; /* sorted by created_ns */
    size_t n;
    uint64_t bytes;
};

/* A kept payload's bytes: a file, or a Go profile's directory of files. */
static uint64_t kept_bytes(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_size;
    uint64_t sum = 0;
    DIR *d = opendir(path);
    for (struct dirent *de; d && (de = readdir(d));)
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_size;
    if (d)
        closedir(d);
    return sum;
}

/* Removes a kept payload: a file, or a directory and the files in it. */
static void remove_kept(const char *path)
{
    DIR *d = unlink(path) < 0 && errno == EISDIR ? opendir(path) : NULL;
    for (struct dirent *de; d && (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlinkat(dirfd(d), de->d_name, 0);
    if (d) {
        closedir(d);
        rmdir(path);
    }
}

static void entry_free(struct entry *e)
{
    free(e->relpath);
    free(e->sidecar);
    free(e->line);
}

static void abs_path(const struct sink_local *s, const char *rel, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", s->root, rel);
}

/* ---- entries ------------------------------------------------------------ */

static int find(const struct sink_local *s, const char *relpath)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].relpath, relpath) == 0 || strcmp(s->v[i].sidecar, relpath) == 0)
            return (int)i;
    return -1;
}

static void remove_at(struct sink_local *s, size_t i)
{
    s->bytes -= s->v[i].bytes;
    entry_free(&s->v[i]);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

/* Inserts e in created order (after equal keys); takes ownership. */
static int insert(struct sink_local *s, struct entry *e)
{
    struct entry *n = realloc(s->v, (s->n + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->v = n;
    size_t at = s->n;
    while (at > 0 && s->v[at - 1].created_ns > e->created_ns)
        at--;
    memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
    s->v[at] = *e;
    s->n++;
    s->bytes += e->bytes;
    return 0;
}

/* Fills e's kind and index line from m; e's paths and bytes are set. */
static int describe(const struct sink_local *s, const struct artefact_meta *m, struct entry *e)
{
    char path[PATH_MAX], side[PATH_MAX], ts[48];
    struct tags t = {0};
    cJSON *o = cJSON_CreateObject();
    if (!o || artefact_compose_tags(m, &t) < 0) {
        cJSON_Delete(o);
        return -ENOMEM;
    }
    e->kind = artefact_kind_name(m->kind);
    abs_path(s, e->relpath, path, sizeof(path));
    abs_path(s, e->sidecar, side, sizeof(side));
    cJSON_AddStringToObject(o, "id", m->id ? m->id : "");
    cJSON_AddStringToObject(o, "kind", e->kind);
    cJSON_AddStringToObject(o, "created", units_rfc3339nano(m->created_ns, ts, sizeof(ts)));
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "metadata", side);
    cJSON_AddNumberToObject(o, "size_bytes", (double)e->bytes);
    const char *keys[] = {"service",       "process_id", "trigger",
                          "pod_namespace", "pod_name",   "container_name"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (tags_get(&t, keys[i]))
            cJSON_AddStringToObject(o, keys[i], tags_get(&t, keys[i]));
    tags_free(&t);
    e->line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return e->line ? 0 : -ENOMEM;
}

/* Rewrites profiles/index.json from the entries; called with mu held. A
 * failure only leaves a stale index until the next change or restart. */
static void write_index(struct sink_local *s)
{
    char path[PATH_MAX];
    size_t len = 4;
    for (size_t i = 0; i < s->n; i++)
        len += strlen(s->v[i].line) + 4;
    char *text = malloc(len), *at = text;
    for (size_t i = 0; text && i < s->n; i++)
        at += sprintf(at, "%s\n  %s", i ? "," : "[", s->v[i].line);
    if (text)
        strcpy(at, s->n ? "\n]\n" : "[]\n");
    snprintf(path, sizeof(path), "%s/%s/%s", s->root, PROFILES, INDEX_NAME);
    int rc = text ? fsutil_write_atomic(path, text, strlen(text), 0644) : -ENOMEM;
    if (rc < 0)
        log_warn(MOD, "cannot rewrite %s: %s", path, strerror(-rc));
    free(text);
}

/* ---- the scan at open --------------------------------------------------- */

/* Indexes one sidecar: parses it, finds its payload. */
static int scan_sidecar(struct sink_local *s, const char *rel)
{
    char path[PATH_MAX], err[128], *text = NULL;
    struct artefact_meta m;
    abs_path(s, rel, path, sizeof(path));
    if (fsutil_read_all(path, MAX_SIDECAR, &text, NULL) < 0)
        return 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(j, "payload");
    if (!j || artefact_from_json(cJSON_GetObjectItemCaseSensitive(j, "artefact"), &m, err,
                                 sizeof(err)) < 0) {
        log_warn(MOD, "%s is not an artefact record; left alone and not indexed", path);
        cJSON_Delete(j);
        return 0;
    }
    struct entry e = {.sidecar = strdup(rel), .created_ns = m.created_ns};
    if (cJSON_IsString(pl)) {
        const char *slash = strrchr(rel, '/');
        int dir = slash ? (int)(slash - rel + 1) : 0;
        if (asprintf(&e.relpath, "%.*s%s", dir, rel, pl->valuestring) < 0)
            e.relpath = NULL;
    } else {
        e.relpath = strdup(rel);
    }
    int rc = (e.sidecar && e.relpath) ? 0 : -ENOMEM;
    if (rc == 0) {
        char p2[PATH_MAX];
        abs_path(s, e.relpath, p2, sizeof(p2));
        e.bytes = fsutil_file_size(path) + (strcmp(e.relpath, rel) ? kept_bytes(p2) : 0);
        rc = describe(s, &m, &e);
        rc = rc < 0 ? rc : insert(s, &e);
    }
    if (rc < 0)
        entry_free(&e);
    artefact_meta_free(&m);
    cJSON_Delete(j);
    return rc;
}

static int scan_dir(struct sink_local *s, const char *rel, int depth);

static int scan_one(struct sink_local *s, const char *rel, const char *name, int depth)
{
    char path[PATH_MAX], child[PATH_MAX];
    struct stat st;
    if (snprintf(child, sizeof(child), "%s/%s", rel, name) >= (int)sizeof(child))
        return 0;
    abs_path(s, child, path, sizeof(path));
    if (lstat(path, &st) < 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        return depth < MAX_DEPTH ? scan_dir(s, child, depth + 1) : 0;
    if (!S_ISREG(st.st_mode))
        return 0;
    if (fsutil_is_atomic_temp(name)) {
        unlink(path);
        return 0;
    }
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".json") == 0 && !(depth == 0 && !strcmp(name, INDEX_NAME)))
        return scan_sidecar(s, child);
    return 0;
}

static int scan_dir(struct sink_local *s, const char *rel, int depth)
{
    char path[PATH_MAX];
    abs_path(s, rel, path, sizeof(path));
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = scan_one(s, rel, de->d_name, depth);
    closedir(d);
    return rc;
}

int sink_local_open(const char *root, struct sink_local **out, char *err, size_t errcap)
{
    char dir[PATH_MAX];
    struct sink_local *s = calloc(1, sizeof(*s));
    if (!s || !(s->root = strdup(root))) {
        free(s);
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    snprintf(dir, sizeof(dir), "%s/%s", root, PROFILES);
    int rc = fsutil_mkdirs(dir, 0750);
    if (rc < 0)
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(-rc));
    if (rc == 0 && (rc = scan_dir(s, PROFILES, 0)) < 0)
        snprintf(err, errcap, "cannot index %s: %s", dir, strerror(-rc));
    if (rc < 0) {
        sink_local_close(s);
        return rc;
    }
    write_index(s);
    *out = s;
    return 0;
}

void sink_local_close(struct sink_local *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_free(&s->v[i]);
    free(s->v);
    free(s->root);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- paths -------------------------------------------------------------- */

static void component(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v && *v ? v : "_");
    artefact_sanitize_component(dst);
}

/* profiles/<ns>/<pod>/<container> or profiles/host/<service> */
static int rel_dir(const struct artefact_meta *m, char *buf, size_t cap)
{
    char a[128], b[128], c[128];
    struct tags t;
    if (m->k8s.pod_name) {
        component(a, sizeof(a), m->k8s.pod_namespace);
        component(b, sizeof(b), m->k8s.pod_name);
        component(c, sizeof(c), m->k8s.container_name);
        return snprintf(buf, cap, PROFILES "/%s/%s/%s", a, b, c) < (int)cap ? 0 : -ENAMETOOLONG;
    }
    if (artefact_compose_tags(m, &t) < 0)
        return -ENOMEM;
    component(a, sizeof(a), tags_get(&t, "service"));
    tags_free(&t);
    return snprintf(buf, cap, PROFILES "/host/%s", a) < (int)cap ? 0 : -ENAMETOOLONG;
}

int sink_local_relpath(const struct artefact_meta *m, unsigned seq, char *buf, size_t cap)
{
    char dir[PATH_MAX], name[256];
    int rc = rel_dir(m, dir, sizeof(dir));
    if (rc < 0)
        return rc;
    if (m->file_name)
        snprintf(name, sizeof(name), "%s", m->file_name);
    else
        artefact_default_file_name(m, name, sizeof(name));
    artefact_sanitize_component(name);
    char *dot = strrchr(name, '.');
    int stem = dot && dot != name ? (int)(dot - name) : (int)strlen(name);
    if (seq == 0)
        rc = snprintf(buf, cap, "%s/%s", dir, name);
    else
        rc = snprintf(buf, cap, "%s/%.*s_%u%s", dir, stem, name, seq, name + stem);
    return rc < (int)cap ? 0 : -ENAMETOOLONG;
}

static void sidecar_of(const struct artefact_meta *m, const char *rel, char *buf, size_t cap)
{
    if (artefact_kind_has_payload(m->kind))
        snprintf(buf, cap, "%s.json", rel);
    else
        snprintf(buf, cap, "%s", rel);
}

int sink_local_taken(struct sink_local *s, const char *relpath)
{
    char path[PATH_MAX], side[PATH_MAX];
    abs_path(s, relpath, path, sizeof(path));
    snprintf(side, sizeof(side), "%s.json", path);
    pthread_mutex_lock(&s->mu);
    int taken = find(s, relpath) >= 0;
    pthread_mutex_unlock(&s->mu);
    return taken || access(path, F_OK) == 0 || access(side, F_OK) == 0;
}

/* ---- delivery ----------------------------------------------------------- */

static char *sidecar_text(const struct artefact_meta *m, const char *rel)
{
    cJSON *o = cJSON_CreateObject();
    char *tp = NULL, *text = NULL;
    const char *slash = strrchr(rel, '/');
    if (!o || artefact_tags_profiler(m, &tp) < 0)
        goto out;
    cJSON_AddItemToObject(o, "artefact", artefact_to_json(m));
    if (artefact_kind_has_payload(m->kind))
        cJSON_AddStringToObject(o, "payload", slash ? slash + 1 : rel);
    else
        cJSON_AddNullToObject(o, "payload");
    cJSON_AddStringToObject(o, "tags_profiler", tp);
    if (artefact_kind_measurement(m->kind))
        cJSON_AddItemToObject(o, "summary", artefact_summary_json(m));
    if (!cJSON_GetObjectItem(o, "artefact") || !cJSON_GetObjectItem(o, "tags_profiler") ||
        (artefact_kind_measurement(m->kind) && !cJSON_GetObjectItem(o, "summary")))
        goto out;
    text = cJSON_Print(o);
out:
    free(tp);
    cJSON_Delete(o);
    return text;
}

/* Moves the payload into place. A previous attempt may have moved it
 * already (crash or failure after the rename): then dest exists. */
static int move_payload(const char *payload, const char *dest, char *err, size_t errcap)
{
    if (payload && rename(payload, dest) == 0) {
        fsutil_fsync_parent(dest); /* the sidecar write fsyncs the same directory again */
        return 0;
    }
    int e = payload ? errno : ENOENT;
    if (e == ENOENT && access(dest, F_OK) == 0)
        return 0;
    snprintf(err, errcap, "cannot move %s to %s: %s", payload ? payload : "(moved)", dest,
             strerror(e));
    return -e;
}

/* Copies len bytes at off of in to a new file name in dir, synced. */
static int copy_out(int in, uint64_t off, uint64_t len, int dir, const char *name)
{
    char buf[65536];
    int out = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    int rc = out < 0 ? -errno : 0;
    while (rc == 0 && len) {
        ssize_t n = pread(in, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf), (off_t)off);
        rc = n < 0 ? -errno : n == 0 ? -EIO : fsutil_write_full(out, buf, (size_t)n);
        off += n > 0 ? (uint64_t)n : 0;
        len -= n > 0 ? (uint64_t)n : 0;
    }
    if (rc == 0 && fsync(out) < 0)
        rc = -errno;
    if (out >= 0)
        close(out);
    return rc;
}

/* A Go profile: its payload split into dest/, one file per attachment
 * (the names Flameshot uploads), then the payload removed. A previous
 * attempt may have finished already (no payload, dest there) or stopped
 * half-way (both there: done again). */
static int split_payload(const struct artefact_meta *m, const char *payload, const char *dest,
                         char *err, size_t errcap)
{
    if (!payload && access(dest, F_OK) == 0)
        return 0;
    int in = payload ? open(payload, O_RDONLY | O_CLOEXEC) : -1;
    int rc = in < 0 ? -(payload ? errno : ENOENT) : 0;
    if (rc == 0 && mkdir(dest, 0750) < 0 && errno != EEXIST)
        rc = -errno;
    int dir = rc == 0 ? open(dest, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (rc == 0 && dir < 0)
        rc = -errno;
    uint64_t off = 0;
    for (size_t i = 0; rc == 0 && i < m->nattachments; i++) {
        rc = copy_out(in, off, m->attachments[i].size, dir, m->attachments[i].name);
        off += m->attachments[i].size;
    }
    if (rc == 0 && fsync(dir) < 0)
        rc = -errno;
    if (rc == 0 && unlink(payload) == 0)
        fsutil_fsync_parent(dest);
    if (dir >= 0)
        close(dir);
    if (in >= 0)
        close(in);
    if (rc < 0)
        snprintf(err, errcap, "cannot split %s into %s: %s", payload ? payload : "(moved)", dest,
                 strerror(-rc));
    return rc;
}

static int record(struct sink_local *s, const struct artefact_meta *m, const char *rel,
                  const char *side, uint64_t bytes)
{
    struct entry e = {.relpath = strdup(rel),
                      .sidecar = strdup(side),
                      .created_ns = m->created_ns,
                      .bytes = bytes};
    if (!e.relpath || !e.sidecar || describe(s, m, &e) < 0) {
        entry_free(&e);
        return -ENOMEM;
    }
    pthread_mutex_lock(&s->mu);
    int at = find(s, rel);
    if (at >= 0)
        remove_at(s, (size_t)at);
    int rc = insert(s, &e);
    if (rc == 0)
        write_index(s);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        entry_free(&e);
    return rc;
}

int sink_local_deliver(struct sink_local *s, const struct artefact_meta *m, const char *payload,
                       uint64_t *added_bytes, char *err, size_t errcap)
{
    char dest[PATH_MAX], side_rel[PATH_MAX], side[PATH_MAX], *text = NULL;
    int rc = -EINVAL;
    *added_bytes = 0;
    if (!m->local_relpath) {
        snprintf(err, errcap, "no local path assigned");
        return -EINVAL;
    }
    abs_path(s, m->local_relpath, dest, sizeof(dest));
    sidecar_of(m, m->local_relpath, side_rel, sizeof(side_rel));
    abs_path(s, side_rel, side, sizeof(side));
    char *slash = strrchr(dest, '/');
    *slash = '\0';
    rc = fsutil_mkdirs(dest, 0750);
    *slash = '/';
    if (rc < 0) {
        snprintf(err, errcap, "cannot create the directory of %s: %s", dest, strerror(-rc));
        return rc;
    }
    if (artefact_kind_has_payload(m->kind) &&
        (rc = m->nattachments ? split_payload(m, payload, dest, err, errcap)
                              : move_payload(payload, dest, err, errcap)) < 0)
        return rc;
    if (!(text = sidecar_text(m, m->local_relpath))) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    rc = fsutil_write_atomic(side, text, strlen(text), 0644);
    free(text);
    if (rc < 0) {
        snprintf(err, errcap, "cannot write %s: %s", side, strerror(-rc));
        return rc;
    }
    uint64_t bytes = fsutil_file_size(side) + (strcmp(side, dest) ? kept_bytes(dest) : 0);
    rc = record(s, m, m->local_relpath, side_rel, bytes);
    if (rc < 0)
        snprintf(err, errcap, "out of memory");
    *added_bytes = rc == 0 ? bytes : 0;
    return rc;
}

/* ---- budget and listing ------------------------------------------------- */

uint64_t sink_local_bytes(struct sink_local *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t b = s->bytes;
    pthread_mutex_unlock(&s->mu);
    return b;
}

size_t sink_local_items(struct sink_local *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t sink_local_oldest(struct sink_local *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t t = s->n ? s->v[0].created_ns : 0;
    if (s->n && t == 0)
        t = 1; /* a record without a creation time is the oldest of all */
    pthread_mutex_unlock(&s->mu);
    return t;
}

/* Removes now-empty directories between path and profiles/. */
static void prune_dirs(const struct sink_local *s, const char *rel)
{
    char path[PATH_MAX], stop[PATH_MAX];
    abs_path(s, rel, path, sizeof(path));
    snprintf(stop, sizeof(stop), "%s/%s", s->root, PROFILES);
    for (char *slash = strrchr(path, '/'); slash; slash = strrchr(path, '/')) {
        *slash = '\0';
        if (strlen(path) <= strlen(stop) || rmdir(path) < 0)
            break;
    }
}

uint64_t sink_local_drop_oldest(struct sink_local *s, char *what, size_t cap)
{
    char path[PATH_MAX];
    pthread_mutex_lock(&s->mu);
    if (!s->n) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    struct entry *e = &s->v[0];
    uint64_t freed = e->bytes;
    snprintf(what, cap, "%s %s", e->kind, e->relpath);
    abs_path(s, e->relpath, path, sizeof(path));
    remove_kept(path);
    abs_path(s, e->sidecar, path, sizeof(path));
    unlink(path);
    prune_dirs(s, e->relpath);
    remove_at(s, 0);
    write_index(s);
    pthread_mutex_unlock(&s->mu);
    return freed ? freed : 1;
}

cJSON *sink_local_index(struct sink_local *s)
{
    pthread_mutex_lock(&s->mu);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < s->n; i++)
        cJSON_AddItemToArray(a, cJSON_Parse(s->v[i].line));
    pthread_mutex_unlock(&s->mu);
    return a;
}
