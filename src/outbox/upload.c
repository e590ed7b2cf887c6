#include "outbox/upload.h"

#include "core/config.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/units.h"
#include "outbox/objstore.h"
#include "outbox/outbox.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD          "upload"
#define TMP_PREFIX   ".tmp-"
#define RECORD_ROOM  65536u /* budget held for a dump's state file */
#define STATE_MAX    (4u << 20)
#define COPY_CHUNK   (1u << 20)
#define STATE_FORMAT 1

/* One dump in the queue. */
struct job {
    char id[40];
    char key[1024];
    char url[2048];
    char filename[256];
    uint64_t size, part_size;
    char upload_id[512]; /* "" before CreateMultipartUpload */
    struct objstore_part *parts;
    size_t nparts; /* parts done, numbered 1..nparts */
    unsigned attempts;
    char last_error[512];
    uint64_t created_ns;
    uint64_t next_ms; /* monotonic; not tried before */
    bool record_sent;
    struct artefact_meta summary;
    struct job *next;
};

struct upload {
    const struct config *cfg;
    struct outbox *outbox;
    char dir[PATH_MAX];
    uint64_t part_size, backoff_min_ms, backoff_max_ms;
    struct objstore *os;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    struct job *jobs;  /* oldest first */
    uint64_t rng;
    unsigned seq;
    atomic_bool abort;
    bool stopping, running;
    pthread_t thread;
};

/* ---- paths, state files ------------------------------------------------- */

static void path_of(const struct upload *u, const char *id, const char *ext, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s%s", u->dir, id, ext);
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    artefact_meta_free(&j->summary);
    free(j->parts);
    free(j);
}

static cJSON *job_to_json(const struct job *j)
{
    cJSON *o = cJSON_CreateObject(), *parts = cJSON_AddArrayToObject(o, "parts");
    cJSON_AddNumberToObject(o, "format", STATE_FORMAT);
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "key", j->key);
    cJSON_AddStringToObject(o, "download_url", j->url);
    cJSON_AddStringToObject(o, "filename", j->filename);
    cJSON_AddNumberToObject(o, "size", (double)j->size);
    cJSON_AddNumberToObject(o, "part_size", (double)j->part_size);
    cJSON_AddStringToObject(o, "upload_id", j->upload_id);
    for (size_t i = 0; parts && i < j->nparts; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "n", j->parts[i].number);
        cJSON_AddStringToObject(p, "etag", j->parts[i].etag);
        cJSON_AddItemToArray(parts, p);
    }
    cJSON_AddNumberToObject(o, "attempts", j->attempts);
    cJSON_AddStringToObject(o, "last_error", j->last_error);
    cJSON_AddNumberToObject(o, "created_us", (double)(j->created_ns / 1000));
    cJSON_AddBoolToObject(o, "record_sent", j->record_sent);
    cJSON_AddItemToObject(o, "summary", artefact_to_json(&j->summary));
    return o;
}

static void str_from(const cJSON *o, const char *name, char *buf, size_t cap)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));
    snprintf(buf, cap, "%s", s ? s : "");
}

static size_t parts_total(const struct job *j)
{
    return j->part_size ? (size_t)((j->size + j->part_size - 1) / j->part_size) : 0;
}

/* The parts done, in an array with room for every part of the dump. */
static int parts_from_json(struct job *j, const cJSON *arr)
{
    int n = cJSON_GetArraySize(arr);
    if ((size_t)n > parts_total(j))
        return -EINVAL;
    j->parts = calloc(parts_total(j) + 1, sizeof(*j->parts));
    if (!j->parts)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(arr, i);
        j->parts[i].number = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "n"));
        str_from(p, "etag", j->parts[i].etag, sizeof(j->parts[i].etag));
        if (j->parts[i].number != (unsigned)i + 1 || !j->parts[i].etag[0])
            return -EINVAL; /* parts are done in order */
    }
    j->nparts = (size_t)n;
    return 0;
}

/* A job from its state file. 0, -EINVAL with err, or -ENOMEM. */
static int job_from_json(const cJSON *o, struct job *j, char *err, size_t errcap)
{
    if (cJSON_GetNumberValue(cJSON_GetObjectItem(o, "format")) != STATE_FORMAT) {
        snprintf(err, errcap, "unknown state format");
        return -EINVAL;
    }
    str_from(o, "id", j->id, sizeof(j->id));
    str_from(o, "key", j->key, sizeof(j->key));
    str_from(o, "download_url", j->url, sizeof(j->url));
    str_from(o, "filename", j->filename, sizeof(j->filename));
    str_from(o, "upload_id", j->upload_id, sizeof(j->upload_id));
    str_from(o, "last_error", j->last_error, sizeof(j->last_error));
    j->size = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "size"));
    j->part_size = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "part_size"));
    j->attempts = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "attempts"));
    j->created_ns = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "created_us")) * 1000;
    j->record_sent = cJSON_IsTrue(cJSON_GetObjectItem(o, "record_sent"));
    int rc = parts_from_json(j, cJSON_GetObjectItem(o, "parts"));
    if (rc == -EINVAL)
        snprintf(err, errcap, "parts are not numbered 1..n with their ETags");
    if (rc == 0 && (!j->id[0] || !j->key[0] || !j->part_size)) {
        snprintf(err, errcap, "id, key or part_size missing");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = artefact_from_json(cJSON_GetObjectItem(o, "summary"), &j->summary, err, errcap);
    return rc;
}

/* int upload_state_save: atomically replaces the job's state file. */
static int save(struct upload *u, const struct job *j)
{
    char path[PATH_MAX];
    cJSON *o = job_to_json(j);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return -ENOMEM;
    path_of(u, j->id, ".json", path, sizeof(path));
    int rc = fsutil_write_atomic(path, text, strlen(text), 0600);
    free(text);
    if (rc < 0)
        log_warn(MOD, "%s: saving the upload state: %s", j->id, strerror(-rc));
    return rc;
}

/* ---- the summary record ------------------------------------------------- */

static int put_fields(struct artefact_meta *m, const char *provider, const char *key,
                      const char *url, const char *status, const char *error)
{
    int rc = artefact_field_str(m, "hprof_upload_provider", provider);
    rc = rc ?: artefact_field_str(m, "hprof_object_key", key);
    rc = rc ?: artefact_field_str(m, "hprof_download_url", url);
    rc = rc ?: artefact_field_str(m, "hprof_upload_status", status);
    return rc ?: artefact_field_str(m, "hprof_upload_error", error);
}

int upload_fill_failed(struct artefact_meta *m, const char *provider, const char *why)
{
    return put_fields(m, provider ? provider : "", "", "", "failed", why);
}

/* Sends j's record with status (once). */
static void send_record(struct upload *u, struct job *j, const char *status, const char *error)
{
    char err[256];
    if (j->record_sent)
        return;
    int rc = put_fields(&j->summary, u->cfg->hprof_upload.provider, j->key, j->url, status, error);
    if (rc == 0)
        rc = outbox_put_summary(u->outbox, &j->summary, NULL, err, sizeof(err));
    if (rc < 0)
        log_warn(MOD, "%s: the heap-dump record is lost: %s", j->id,
                 rc == -ENOMEM ? "out of memory" : err);
    j->record_sent = true;
}

/* ---- the key and the template values ------------------------------------ */

static void utc_stamp(uint64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y%m%dT%H%M%SZ", &tm);
}

/* Fills j->key and j->url from the summary, as Flameshot's template
 * context: the composed service and host, the Pod, the pid the JVM sees. */
static int name_object(struct upload *u, struct job *j, char *err, size_t errcap)
{
    const struct config_hprof_upload *c = &u->cfg->hprof_upload;
    const struct artefact_meta *m = &j->summary;
    struct tags t;
    char stamp[32];
    if (artefact_compose_tags(m, &t) < 0)
        return -ENOMEM;
    utc_stamp(m->end_ns ? m->end_ns : j->created_ns, stamp, sizeof(stamp));
    struct objstore_vars v = {.service = tags_get(&t, "service"),
                              .pod_name = m->k8s.pod_name,
                              .pod_namespace = m->k8s.pod_namespace,
                              .host = tags_get(&t, "host"),
                              .pid = m->nspid ? m->nspid : m->pid,
                              .timestamp = stamp,
                              .filename = j->filename,
                              .profiling_path = u->cfg->profiling_path};
    int rc = objstore_object_key(c->path_template, &v, j->key, sizeof(j->key));
    if (rc == 0)
        rc = objstore_download_url(u->os, c->download_url_template, &v, j->key, j->url,
                                   sizeof(j->url));
    tags_free(&t);
    if (rc < 0)
        snprintf(err, errcap, "FLAMESHOT_HPROF_UPLOAD_PATH_TEMPLATE renders %s",
                 rc == -EINVAL ? "an empty key" : "a key or URL too long");
    return rc;
}

/* ---- submission --------------------------------------------------------- */

static void new_id(struct upload *u, char *id, size_t cap)
{
    pthread_mutex_lock(&u->mu);
    uint64_t r = units_jitter_next(&u->rng);
    unsigned seq = u->seq++;
    pthread_mutex_unlock(&u->mu);
    snprintf(id, cap, "%020" PRIu64 "-%04x%04x", units_now_real_ns(), seq & 0xffffu,
             (unsigned)(r & 0xffffu));
}

static int claim(struct upload *u, uint64_t size, char *err, size_t errcap)
{
    int rc = outbox_claim(u->outbox, size + RECORD_ROOM);
    if (rc < 0)
        snprintf(err, errcap,
                 "the disk budget FLAMESHOT_SPOOL_MAX_MB (%llu MiB) cannot hold a %llu-byte dump%s",
                 (unsigned long long)u->cfg->spool_max_mb, (unsigned long long)size,
                 rc == -ENOSPC ? " now" : "");
    return rc;
}

int upload_begin(struct upload *u, uint64_t size, struct upload_tx *tx, char *err, size_t errcap)
{
    char id[40];
    tx->fd = -1;
    tx->size = size;
    new_id(u, id, sizeof(id));
    snprintf(tx->path, sizeof(tx->path), "%s/" TMP_PREFIX "%s.hprof", u->dir, id);
    int rc = claim(u, size, err, errcap);
    if (rc < 0)
        return rc;
    tx->fd = open(tx->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (tx->fd < 0) {
        rc = -errno;
        snprintf(err, errcap, "%s: %s", tx->path, strerror(-rc));
        outbox_unclaim(u->outbox, size + RECORD_ROOM);
    }
    return rc;
}

void upload_abort(struct upload *u, struct upload_tx *tx)
{
    if (tx->fd < 0)
        return;
    close(tx->fd);
    tx->fd = -1;
    unlink(tx->path);
    outbox_unclaim(u->outbox, tx->size + RECORD_ROOM);
}

static uint64_t part_size_for(const struct upload *u, uint64_t size)
{
    uint64_t ps = u->part_size;
    uint64_t least = (size + OBJSTORE_MAX_PARTS - 1) / OBJSTORE_MAX_PARTS;
    if (ps < least) /* rounded up to a MiB */
        ps = (least + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1);
    return ps;
}

/* Makes a job of the sealed temp file tmp: names it, writes its state,
 * then renames the dump into place (the state names it first: a dump
 * without a state is an orphan). The budget claimed for it is kept. */
static int enqueue(struct upload *u, const char *tmp, uint64_t size, const char *filename,
                   const struct artefact_meta *summary, struct upload_receipt *rcpt, char *err,
                   size_t errcap)
{
    char dump[PATH_MAX];
    struct job *j = calloc(1, sizeof(*j));
    if (!j || artefact_meta_copy(&j->summary, summary) < 0) {
        free(j);
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    const char *base = strrchr(tmp, '/') + 1 + strlen(TMP_PREFIX);
    snprintf(j->id, sizeof(j->id), "%.*s", (int)(strlen(base) - strlen(".hprof")), base);
    snprintf(j->filename, sizeof(j->filename), "%s", filename);
    j->size = size;
    j->part_size = part_size_for(u, size);
    j->created_ns = units_now_real_ns();
    int rc = name_object(u, j, err, errcap);
    if (rc == 0 && (rc = save(u, j)) < 0)
        snprintf(err, errcap, "saving the upload state: %s", strerror(-rc));
    path_of(u, j->id, ".hprof", dump, sizeof(dump));
    if (rc == 0 && rename(tmp, dump) < 0) {
        rc = -errno;
        snprintf(err, errcap, "%s: %s", dump, strerror(-rc));
    }
    if (rc < 0) {
        char st[PATH_MAX];
        path_of(u, j->id, ".json", st, sizeof(st));
        unlink(st);
        job_free(j);
        return rc;
    }
    fsutil_fsync_parent(dump);
    if (rcpt) {
        snprintf(rcpt->id, sizeof(rcpt->id), "%s", j->id);
        snprintf(rcpt->key, sizeof(rcpt->key), "%s", j->key);
        snprintf(rcpt->download_url, sizeof(rcpt->download_url), "%s", j->url);
    }
    log_info(MOD, "%s: %llu-byte heap dump queued for %s://%s/%s", j->id, (unsigned long long)size,
             u->cfg->hprof_upload.provider, u->cfg->hprof_upload.bucket, j->key);
    pthread_mutex_lock(&u->mu);
    struct job **pp = &u->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return 0;
}

int upload_commit(struct upload *u, struct upload_tx *tx, const char *filename,
                  const struct artefact_meta *summary, struct upload_receipt *rcpt, char *err,
                  size_t errcap)
{
    struct stat st;
    int rc = fstat(tx->fd, &st) < 0 || fsync(tx->fd) < 0 ? -errno : 0;
    if (rc < 0)
        snprintf(err, errcap, "%s: %s", tx->path, strerror(-rc));
    if (rc == 0)
        rc = enqueue(u, tx->path, (uint64_t)st.st_size, filename, summary, rcpt, err, errcap);
    if (rc < 0) {
        upload_abort(u, tx);
        return rc;
    }
    close(tx->fd);
    tx->fd = -1;
    return 0;
}

/* Copies size bytes of in to out; a file that is shorter fails. */
static int copy_bounded(int in, int out, uint64_t size)
{
    char *buf = malloc(COPY_CHUNK);
    int rc = buf ? 0 : -ENOMEM;
    for (uint64_t left = size; rc == 0 && left;) {
        ssize_t n = read(in, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
        if (n <= 0)
            rc = n < 0 ? -errno : -EIO;
        else if ((rc = fsutil_write_full(out, buf, (size_t)n)) == 0)
            left -= (uint64_t)n;
    }
    free(buf);
    return rc;
}

/* Puts path's content at tx->path: a hard link costs no copy; across
 * filesystems, the size bytes there now are copied. 0 or -errno. */
static int take_file(const char *path, int in, uint64_t size, struct upload_tx *tx, char *err,
                     size_t errcap)
{
    close(tx->fd);
    unlink(tx->path);
    int rc = 0;
    char self[64];
    /* links the very file opened and checked (never what the path names now) */
    snprintf(self, sizeof(self), "/proc/self/fd/%d", in);
    if (linkat(AT_FDCWD, self, AT_FDCWD, tx->path, AT_SYMLINK_FOLLOW) == 0)
        tx->fd = open(tx->path, O_RDONLY | O_CLOEXEC);
    else if ((tx->fd = open(tx->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0)
        rc = copy_bounded(in, tx->fd, size);
    if (tx->fd < 0)
        rc = -errno;
    if (rc < 0)
        snprintf(err, errcap, "taking %s into the spool: %s", path, strerror(-rc));
    return rc;
}

int upload_submit_file(struct upload *u, const char *path, const struct artefact_meta *summary,
                       struct upload_receipt *rcpt, char *err, size_t errcap)
{
    struct upload_tx tx;
    struct stat st;
    int in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc = in < 0 || fstat(in, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
    if (rc < 0)
        snprintf(err, errcap, "%s: %s", path, rc == -EINVAL ? "not a regular file" : strerror(-rc));
    if (rc == 0)
        rc = upload_begin(u, (uint64_t)st.st_size, &tx, err, errcap);
    if (rc == 0 && (rc = take_file(path, in, (uint64_t)st.st_size, &tx, err, errcap)) < 0) {
        if (tx.fd < 0) /* upload_abort gives the budget back only for an open tx */
            tx.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        upload_abort(u, &tx);
    }
    if (in >= 0)
        close(in);
    const char *slash = strrchr(path, '/');
    return rc ?: upload_commit(u, &tx, slash ? slash + 1 : path, summary, rcpt, err, errcap);
}

/* ---- the upload thread -------------------------------------------------- */

static uint64_t backoff_ms(struct upload *u, unsigned nth)
{
    return units_backoff_ms(u->backoff_min_ms, u->backoff_max_ms, nth, 50, 0, &u->rng);
}

static int open_dump(struct upload *u, const struct job *j, struct objstore_result *res)
{
    char path[PATH_MAX];
    path_of(u, j->id, ".hprof", path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        memset(res, 0, sizeof(*res));
        snprintf(res->error, sizeof(res->error), "the spooled dump %s: %s", path, strerror(errno));
    }
    return fd;
}

/* The next step of a multipart upload: create it, send a part, or
 * complete it. 1 when the object is complete, 0 when a step was done,
 * else the request's -errno (res says why). */
static int multipart_step(struct upload *u, struct job *j, int fd, struct objstore_result *res)
{
    size_t total = parts_total(j);
    if (!j->upload_id[0]) {
        int rc = objstore_initiate(u->os, j->key, j->upload_id, sizeof(j->upload_id), res);
        if (rc == 0)
            save(u, j);
        return rc;
    }
    if (j->nparts < total) {
        struct objstore_part *p = &j->parts[j->nparts];
        uint64_t off = j->nparts * j->part_size;
        uint64_t len = j->size - off < j->part_size ? j->size - off : j->part_size;
        p->number = (unsigned)j->nparts + 1;
        int rc = objstore_upload_part(u->os, j->key, j->upload_id, p, fd, off, len, res);
        if (rc == 0) {
            j->nparts++;
            save(u, j); /* a part is never sent twice across a restart */
        }
        return rc;
    }
    int rc = objstore_complete(u->os, j->key, j->upload_id, j->parts, j->nparts, res);
    return rc < 0 ? rc : 1;
}

/* Runs j until it completes or a request fails. 0 complete, else -errno
 * with res. */
static int run_job(struct upload *u, struct job *j, struct objstore_result *res)
{
    int fd = open_dump(u, j, res);
    if (fd < 0)
        return -ENOENT;
    int rc;
    if (j->size <= j->part_size) {
        rc = objstore_put(u->os, j->key, fd, 0, j->size, res);
    } else {
        if (!j->parts)
            j->parts = calloc(parts_total(j) + 1, sizeof(*j->parts));
        rc = j->parts ? 0 : -ENOMEM;
        while (rc == 0)
            rc = multipart_step(u, j, fd, res);
        rc = rc == 1 ? 0 : rc;
    }
    close(fd);
    return rc;
}

/* Removes j from the list and the disk, and gives its budget back. */
static void retire(struct upload *u, struct job *j)
{
    char path[PATH_MAX];
    path_of(u, j->id, ".hprof", path, sizeof(path));
    unlink(path);
    path_of(u, j->id, ".json", path, sizeof(path));
    unlink(path);
    fsutil_fsync_parent(path);
    outbox_unclaim(u->outbox, j->size + RECORD_ROOM);
    pthread_mutex_lock(&u->mu);
    for (struct job **pp = &u->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    pthread_mutex_unlock(&u->mu);
    job_free(j);
}

static void failed(struct upload *u, struct job *j, const struct objstore_result *res)
{
    struct objstore_result ar;
    if (j->upload_id[0]) /* the store would keep the parts (and bill them) */
        objstore_abort(u->os, j->key, j->upload_id, &ar);
    log_warn(MOD, "%s: uploading %s failed: %s", j->id, j->key, res->error);
    send_record(u, j, "failed", res->error);
    retire(u, j);
}

/* A failed attempt that is worth another. */
static void later(struct upload *u, struct job *j, const struct objstore_result *res)
{
    const struct config_hprof_upload *c = &u->cfg->hprof_upload;
    j->attempts++;
    snprintf(j->last_error, sizeof(j->last_error), "%s", res->error);
    pthread_mutex_lock(&u->mu);
    uint64_t wait = backoff_ms(u, j->attempts);
    j->next_ms = units_now_mono_ms() + wait;
    pthread_mutex_unlock(&u->mu);
    log_warn(MOD, "%s: uploading %s: %s; attempt %u failed, retrying in %llums", j->id, j->key,
             res->error, j->attempts, (unsigned long long)wait);
    /* the record does not wait past the timeout, as Flameshot's would not */
    if (units_now_real_ns() > j->created_ns + c->timeout_ms * 1000000ull)
        send_record(u, j, "retrying", res->error);
    save(u, j);
}

static void work(struct upload *u, struct job *j)
{
    struct objstore_result res;
    int rc = run_job(u, j, &res);
    if (rc == 0) {
        log_info(MOD, "%s: uploaded %llu bytes to %s (%s)", j->id, (unsigned long long)j->size,
                 j->key, j->url);
        send_record(u, j, "ok", "");
        retire(u, j);
    } else if (rc == -ECANCELED) {
        save(u, j);
    } else if (res.transient) {
        later(u, j, &res);
    } else if (!strcmp(res.code, "NoSuchUpload")) {
        /* the store forgot it (expired, aborted): start the upload again */
        log_warn(MOD, "%s: multipart upload %s is gone; starting again", j->id, j->upload_id);
        j->upload_id[0] = '\0';
        j->nparts = 0;
        later(u, j, &res);
    } else {
        failed(u, j, &res);
    }
}

/* The oldest job due now; NULL with *wake when none. mu held. */
static struct job *pick(struct upload *u, uint64_t now, uint64_t *wake)
{
    *wake = now + 60000;
    for (struct job *j = u->jobs; j; j = j->next) {
        if (j->next_ms <= now)
            return j;
        if (j->next_ms < *wake)
            *wake = j->next_ms;
    }
    return NULL;
}

static void *run(void *arg)
{
    struct upload *u = arg;
    pthread_mutex_lock(&u->mu);
    while (!u->stopping) {
        uint64_t wake;
        struct job *j = pick(u, units_now_mono_ms(), &wake);
        if (!j) {
            struct timespec ts;
            units_timespec_in(CLOCK_MONOTONIC, wake - units_now_mono_ms(), &ts);
            pthread_cond_timedwait(&u->cv, &u->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&u->mu);
        work(u, j); /* j may be freed; only this thread removes jobs */
        pthread_mutex_lock(&u->mu);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

/* ---- open, load, start, stop -------------------------------------------- */

static int load_job(struct upload *u, const char *id)
{
    char path[PATH_MAX], err[256];
    char *text = NULL;
    size_t len;
    struct job *j = calloc(1, sizeof(*j));
    path_of(u, id, ".json", path, sizeof(path));
    int rc = j ? fsutil_read_all(path, STATE_MAX, &text, &len) : -ENOMEM;
    cJSON *o = rc == 0 ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (rc == 0 && !o)
        snprintf(err, sizeof(err), "not JSON");
    rc = rc ?: o ? job_from_json(o, j, err, sizeof(err)) : -EINVAL;
    cJSON_Delete(o);
    if (rc < 0) {
        log_warn(MOD, "%s: dropping an unreadable upload state: %s", path,
                 rc == -EINVAL ? err : strerror(-rc));
        unlink(path);
        path_of(u, id, ".hprof", path, sizeof(path));
        unlink(path);
        job_free(j);
        return rc == -ENOMEM ? rc : 0;
    }
    char why[512] = "";
    path_of(u, id, ".hprof", path, sizeof(path));
    if (fsutil_file_size(path) != j->size)
        snprintf(why, sizeof(why), "the spooled dump %s is gone or changed", path);
    else if (claim(u, j->size, why, sizeof(why)) == 0)
        why[0] = '\0';
    if (why[0]) {
        log_warn(MOD, "%s: %s", id, why);
        send_record(u, j, "failed", why);
        unlink(path);
        path_of(u, id, ".json", path, sizeof(path));
        unlink(path);
        job_free(j);
        return 0;
    }
    if (j->upload_id[0])
        log_info(MOD, "%s: resuming the multipart upload of %s after part %zu", id, j->key,
                 j->nparts);
    struct job **pp = &u->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the ids of state files (oldest first) and removes temp files and
 * dumps without a state. */
static int load_dir(struct upload *u)
{
    DIR *d = opendir(u->dir);
    if (!d)
        return -errno;
    char **ids = NULL, path[PATH_MAX];
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (!strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) ||
            fsutil_is_atomic_temp(e->d_name)) {
            path_of(u, e->d_name, "", path, sizeof(path));
            unlink(path);
        } else if (len > 5 && !strcmp(e->d_name + len - 5, ".json")) {
            char **grown = realloc(ids, (n + 1) * sizeof(*ids));
            rc = grown ? 0 : -ENOMEM;
            if (grown && !(grown[n] = strndup(e->d_name, len - 5)))
                rc = -ENOMEM;
            ids = grown ? grown : ids;
            n += rc == 0;
        }
    }
    closedir(d);
    if (n)
        qsort(ids, n, sizeof(*ids), cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = load_job(u, ids[i]);
        free(ids[i]);
    }
    free(ids);
    return rc;
}

/* Dumps without a state: a crash between the copy and the state. */
static void sweep_orphans(struct upload *u)
{
    DIR *d = opendir(u->dir);
    struct dirent *e;
    char path[PATH_MAX], id[256];
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || strcmp(e->d_name + len - 6, ".hprof") || len - 6 >= sizeof(id))
            continue;
        snprintf(id, sizeof(id), "%.*s", (int)(len - 6), e->d_name);
        path_of(u, id, ".json", path, sizeof(path));
        if (access(path, F_OK) == 0)
            continue;
        path_of(u, e->d_name, "", path, sizeof(path));
        log_warn(MOD, "removing %s: a dump without its upload state (a crash)", path);
        unlink(path);
    }
    if (d)
        closedir(d);
}

static int open_store(struct upload *u, char *err, size_t errcap)
{
    const struct config_hprof_upload *c = &u->cfg->hprof_upload;
    struct objstore_opts o = {.provider = c->provider,
                              .endpoint = c->endpoint,
                              .region = c->region,
                              .bucket = c->bucket,
                              .access_key_id = c->access_key_id,
                              .access_key_secret = c->access_key_secret,
                              .security_token = c->security_token,
                              .path_style = c->s3_path_style,
                              .timeout_ms = c->timeout_ms,
                              .abort = &u->abort};
    return objstore_new(&o, &u->os, err, errcap);
}

int upload_open(const struct upload_opts *o, struct upload **out, char *err, size_t errcap)
{
    *out = NULL;
    struct upload *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&u->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&u->mu, NULL);
    u->cfg = o->cfg;
    u->outbox = o->outbox;
    u->part_size = o->part_size ? o->part_size : UPLOAD_PART_SIZE;
    u->part_size = u->part_size < OBJSTORE_MIN_PART ? OBJSTORE_MIN_PART : u->part_size;
    u->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 1000;
    u->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 300000;
    u->rng = units_jitter_seed();
    snprintf(u->dir, sizeof(u->dir), "%s/" UPLOAD_DIR, o->cfg->profiling_path);
    int rc = open_store(u, err, errcap);
    if (rc == 0 && (rc = fsutil_mkdirs(u->dir, 0700)) < 0)
        snprintf(err, errcap, "%s: %s", u->dir, strerror(-rc));
    if (rc == 0 && (rc = load_dir(u)) < 0)
        snprintf(err, errcap, "loading %s: %s", u->dir, strerror(-rc));
    if (rc < 0) {
        upload_close(u);
        return rc;
    }
    sweep_orphans(u);
    *out = u;
    return 0;
}

int upload_start(struct upload *u)
{
    pthread_mutex_lock(&u->mu);
    u->stopping = false;
    int rc = u->running ? 0 : -pthread_create(&u->thread, NULL, run, u);
    u->running = u->running || rc == 0;
    pthread_mutex_unlock(&u->mu);
    return rc;
}

void upload_stop(struct upload *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->mu);
    bool running = u->running;
    u->stopping = true;
    u->running = false;
    atomic_store(&u->abort, true);
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    if (running)
        pthread_join(u->thread, NULL);
    atomic_store(&u->abort, false);
}

void upload_close(struct upload *u)
{
    if (!u)
        return;
    upload_stop(u);
    while (u->jobs) {
        struct job *j = u->jobs;
        u->jobs = j->next;
        job_free(j);
    }
    objstore_free(u->os);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u);
}

size_t upload_pending(struct upload *u)
{
    size_t n = 0;
    pthread_mutex_lock(&u->mu);
    for (struct job *j = u->jobs; j; j = j->next)
        n++;
    pthread_mutex_unlock(&u->mu);
    return n;
}
