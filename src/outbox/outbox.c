#include "outbox/outbox.h"

#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "outbox/sink_datakit.h"
#include "outbox/sink_local.h"
#include "core/units.h"

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
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD         "outbox"
#define OUTBOX_DIR  "outbox"
#define TMP_PREFIX  ".tmp-"
#define MAX_RECORD  (64u << 20)
#define RECORD_ROOM 4096u      /* budget held for a payload's record */
#define GROW_STEP   (1u << 20) /* a payload's reservation grows by at least this */
#define ROUTES_DK   (ARTEFACT_ROUTE_DATAKIT_PROFILING | ARTEFACT_ROUTE_DATAKIT_LOGGING)

struct item {
    struct artefact_meta m;
    uint64_t bytes;   /* payload (while in outbox/) + record */
    uint64_t next_ms; /* monotonic; not retried before */
    bool busy;        /* being committed or delivered: never dropped */
};

struct sink_state {
    bool enabled;
    uint64_t ok, failed, last_ok_ns, last_fail_ns;
    unsigned consecutive;
    uint64_t backoff_ms, next_ms;
    char last_error[256];
};

struct outbox {
    char *root;
    char dir[PATH_MAX];
    uint64_t max_bytes, backoff_min_ms, backoff_max_ms;
    struct metrics *metrics;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC; broadcast on every change */
    struct item **items; /* oldest first */
    size_t n;
    uint64_t bytes;
    uint64_t reserved; /* budget held by open transactions */
    uint64_t dropped;
    /* the spool's filesystem refusing a write (full, read-only): the
     * first loss of a run is logged, and the first success after it */
    uint64_t spool_losses; /* artefacts lost since the last success */
    char spool_error[256]; /* "" while writes succeed */
    uint64_t rng;          /* units_jitter_next, under mu */
    struct sink_state sinks[ARTEFACT_ROUTE_COUNT];
    struct sink_local *local;
    struct sink_datakit *dk; /* NULL: local mode */
    bool local_keep;         /* profiles also to the local sink in DataKit mode */
    atomic_bool abort;
    int lock_fd; /* flock on outbox/.lock: one process per outbox */
    bool stopping, running;
    pthread_t thread;
};

/* Result of delivering one route. */
struct attempt {
    int rc;         /* 0 accepted */
    bool sink_down; /* the intake, not the artefact, failed */
    bool aborted;   /* shutdown: not an attempt */
    char error[256];
};

static int route_index(unsigned route)
{
    return __builtin_ctz(route);
}

/* Local first (a kept profile is uploaded from there), except for a Go
 * profile: the local sink splits its payload into files, which the upload
 * cannot send as one payload, so DataKit takes it first. */
static unsigned next_route(const struct artefact_meta *m)
{
    unsigned left = m->routes & ~m->done;
    if (m->nattachments && (left & ARTEFACT_ROUTE_DATAKIT_PROFILING))
        return ARTEFACT_ROUTE_DATAKIT_PROFILING;
    return left ? left & -left : 0;
}

static void path_of(const struct outbox *ob, const char *id, const char *ext, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s%s", ob->dir, id, ext);
}

/* Exponential backoff for the nth consecutive failure, with jitter drawn
 * uniformly in [b/2, b] so that retries of many agents do not align. */
static uint64_t backoff_ms(struct outbox *ob, unsigned nth)
{
    return units_backoff_ms(ob->backoff_min_ms, ob->backoff_max_ms, nth, 50, 0, &ob->rng);
}

static void update_gauges(struct outbox *ob)
{
    metrics_set(ob->metrics, outbox_bytes, ob->bytes);
    metrics_set(ob->metrics, outbox_items, (uint64_t)ob->n);
}

static void item_free(struct item *it)
{
    if (!it)
        return;
    artefact_meta_free(&it->m);
    free(it);
}

/* ---- the list ----------------------------------------------------------- */

static int list_insert(struct outbox *ob, struct item *it)
{
    struct item **n = realloc(ob->items, (ob->n + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    ob->items = n;
    size_t at = ob->n;
    while (at > 0 && strcmp(ob->items[at - 1]->m.id, it->m.id) > 0)
        at--;
    memmove(&ob->items[at + 1], &ob->items[at], (ob->n - at) * sizeof(*n));
    ob->items[at] = it;
    ob->n++;
    ob->bytes += it->bytes;
    return 0;
}

static void list_remove(struct outbox *ob, struct item *it)
{
    for (size_t i = 0; i < ob->n; i++) {
        if (ob->items[i] != it)
            continue;
        memmove(&ob->items[i], &ob->items[i + 1], (ob->n - i - 1) * sizeof(*ob->items));
        ob->n--;
        ob->bytes -= it->bytes;
        return;
    }
}

static void unlink_item(struct outbox *ob, const struct item *it)
{
    char path[PATH_MAX];
    path_of(ob, it->m.id, ".json", path, sizeof(path));
    unlink(path);
    path_of(ob, it->m.id, ".payload", path, sizeof(path));
    unlink(path);
}

/* ---- disk budget -------------------------------------------------------- */

static struct item *oldest_droppable(struct outbox *ob)
{
    for (size_t i = 0; i < ob->n; i++)
        if (!ob->items[i]->busy)
            return ob->items[i];
    return NULL;
}

static void count_drop(struct outbox *ob, const char *what, uint64_t bytes, const char *why)
{
    ob->dropped++;
    metrics_inc(ob->metrics, outbox_dropped);
    log_warn(MOD, "dropped %s (%" PRIu64 " bytes): %s", what, bytes, why);
}

/* A kept copy a pending upload reads from (FLAMESHOT_LOCAL_KEEP) was
 * dropped: the upload goes with it, the same artefact, counted once. An
 * upload in flight keeps reading the file it opened. mu held. */
static void drop_upload_of(struct outbox *ob, const char *kept)
{
    const char *rel = kept ? kept + 1 : NULL; /* what is "kind relpath" */
    for (size_t i = 0; rel && i < ob->n; i++) {
        struct item *it = ob->items[i];
        if (!it->busy && (it->m.done & ARTEFACT_ROUTE_LOCAL) && it->m.local_relpath &&
            strcmp(it->m.local_relpath, rel) == 0) {
            log_warn(MOD, "%s %s will not reach %s: its kept copy was dropped",
                     artefact_kind_name(it->m.kind), it->m.id,
                     artefact_route_name(next_route(&it->m)));
            unlink_item(ob, it);
            list_remove(ob, it);
            item_free(it);
            return;
        }
    }
}

/* Drops the oldest artefact, pending or kept locally. mu held. Returns
 * the bytes freed, 0 when nothing can be dropped. */
static uint64_t drop_oldest(struct outbox *ob, const char *why)
{
    char what[PATH_MAX + 64];
    struct item *it = oldest_droppable(ob);
    uint64_t local = sink_local_oldest(ob->local);
    if (local && (!it || local <= it->m.created_ns)) {
        uint64_t freed = sink_local_drop_oldest(ob->local, what, sizeof(what));
        count_drop(ob, what, freed, why);
        drop_upload_of(ob, strchr(what, ' '));
        return freed;
    }
    if (!it)
        return 0;
    snprintf(what, sizeof(what), "pending %s %s (%u failed attempts)",
             artefact_kind_name(it->m.kind), it->m.id, it->m.attempts);
    uint64_t freed = it->bytes ? it->bytes : 1;
    unlink_item(ob, it);
    list_remove(ob, it);
    count_drop(ob, what, freed, why);
    item_free(it);
    pthread_cond_broadcast(&ob->cv);
    return freed;
}

/* Makes room for need more bytes. mu held. 0 or -ENOSPC when everything
 * left is busy. */
static int make_room(struct outbox *ob, uint64_t need)
{
    char why[128];
    snprintf(why, sizeof(why), "disk budget FLAMESHOT_SPOOL_MAX_MB (%.1f MiB) exceeded",
             (double)ob->max_bytes / 1048576.0);
    while (ob->bytes + ob->reserved + sink_local_bytes(ob->local) + need > ob->max_bytes)
        if (!drop_oldest(ob, why))
            return -ENOSPC;
    update_gauges(ob);
    return 0;
}

/* A write to the spool failed (the filesystem is full or read-only) and
 * an artefact is lost: a drop. Every capture fails the same way until
 * the disk is fixed, so only the first loss of a run is a warning. */
static void spool_lost(struct outbox *ob, const char *why)
{
    pthread_mutex_lock(&ob->mu);
    bool first = !ob->spool_error[0];
    snprintf(ob->spool_error, sizeof(ob->spool_error), "%s", why);
    ob->spool_losses++;
    ob->dropped++;
    metrics_inc(ob->metrics, outbox_dropped);
    pthread_mutex_unlock(&ob->mu);
    if (first)
        log_warn(MOD,
                 "dropped an artefact: %s; every artefact is dropped until the spool can be "
                 "written again",
                 why);
    else
        log_debug(MOD, "dropped an artefact: %s", why);
}

/* A commit failed: lost to a spool write (io < 0), or refused. */
static void not_queued(struct outbox *ob, enum artefact_kind kind, int io, const char *err)
{
    if (io < 0 && io != -ENOMEM)
        spool_lost(ob, err);
    else
        log_warn(MOD, "%s not queued: %s", artefact_kind_name(kind), err);
}

/* An artefact was written: ends a run of spool_lost. */
static void spool_written(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    uint64_t lost = ob->spool_losses;
    bool was = ob->spool_error[0];
    ob->spool_error[0] = '\0';
    ob->spool_losses = 0;
    pthread_mutex_unlock(&ob->mu);
    if (was)
        log_info(MOD, "the spool %s can be written again (%" PRIu64 " artefacts dropped meanwhile)",
                 ob->dir, lost);
}

/* After ENOSPC from the filesystem itself: free one artefact. 1 if one
 * was dropped. */
static int drop_for_enospc(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    uint64_t freed = drop_oldest(ob, "the filesystem is full (ENOSPC)");
    update_gauges(ob);
    pthread_mutex_unlock(&ob->mu);
    return freed > 0;
}

/* ---- records ------------------------------------------------------------ */

/* Writes it's record atomically; on ENOSPC drops the oldest and retries
 * once. Sets *len to the record's size. Called without mu, it busy. */
static int write_record(struct outbox *ob, struct item *it, uint64_t *len, char *err, size_t errcap)
{
    char path[PATH_MAX];
    cJSON *j = artefact_to_json(&it->m);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    path_of(ob, it->m.id, ".json", path, sizeof(path));
    size_t n = strlen(text);
    int rc = fsutil_write_atomic(path, text, n, 0640);
    if (rc == -ENOSPC && drop_for_enospc(ob))
        rc = fsutil_write_atomic(path, text, n, 0640);
    free(text);
    if (rc < 0)
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(-rc));
    else if (len)
        *len = n;
    return rc;
}

static unsigned routes_for(const struct outbox *ob, enum artefact_kind kind)
{
    bool datakit = ob->dk != NULL;
    switch (kind) {
    case ARTEFACT_PROFILE:
        if (datakit && ob->local_keep)
            return ARTEFACT_ROUTE_LOCAL | ARTEFACT_ROUTE_DATAKIT_PROFILING;
        return datakit ? ARTEFACT_ROUTE_DATAKIT_PROFILING : ARTEFACT_ROUTE_LOCAL;
    case ARTEFACT_JCMD_SNAPSHOT:
        return ARTEFACT_ROUTE_LOCAL | (datakit ? ARTEFACT_ROUTE_DATAKIT_LOGGING : 0);
    default:
        return datakit ? ARTEFACT_ROUTE_DATAKIT_LOGGING : ARTEFACT_ROUTE_LOCAL;
    }
}

/* A unique local path: not on disk, not promised to a pending artefact.
 * mu held. */
static int assign_local_path(struct outbox *ob, struct artefact_meta *m)
{
    char rel[PATH_MAX];
    for (unsigned seq = 0; seq < 1000; seq++) {
        int rc = sink_local_relpath(m, seq, rel, sizeof(rel));
        if (rc < 0)
            return rc;
        bool taken = sink_local_taken(ob->local, rel);
        for (size_t i = 0; !taken && i < ob->n; i++)
            taken =
                ob->items[i]->m.local_relpath && strcmp(ob->items[i]->m.local_relpath, rel) == 0;
        if (!taken)
            return artefact_set(&m->local_relpath, rel);
    }
    return -EEXIST;
}

/* Copies meta into a new item with fresh bookkeeping. */
static int prepare(struct outbox *ob, const struct artefact_meta *meta, uint64_t payload_size,
                   struct item **out)
{
    char id[40];
    uint32_t r;
    struct item *it = calloc(1, sizeof(*it));
    if (!it || artefact_meta_copy(&it->m, meta) < 0) {
        free(it);
        return -ENOMEM;
    }
    if (!it->m.created_ns)
        it->m.created_ns = units_now_real_ns();
    pthread_mutex_lock(&ob->mu);
    r = (uint32_t)units_jitter_next(&ob->rng);
    pthread_mutex_unlock(&ob->mu);
    snprintf(id, sizeof(id), "%020" PRIu64 "-%08x", it->m.created_ns, r);
    it->m.routes = routes_for(ob, it->m.kind);
    it->m.done = 0;
    it->m.attempts = 0;
    it->m.payload_size = payload_size;
    int rc = artefact_set(&it->m.id, id);
    if (rc == 0)
        rc = artefact_set(&it->m.last_error, NULL);
    if (rc == 0)
        rc = artefact_set(&it->m.local_relpath, NULL);
    if (rc < 0) {
        item_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

/* The jcmd summary names where its text is kept (Flameshot's fields). */
static int add_snapshot_fields(struct outbox *ob, struct artefact_meta *m)
{
    char path[PATH_MAX], msg[PATH_MAX + 128], type[64] = "jcmd";
    const struct artefact_field *t = artefact_field_get(m, "snapshot_type");
    if (t && t->type == AF_STR && t->s) /* copied: adding fields moves the array */
        snprintf(type, sizeof(type), "%s", t->s);
    snprintf(path, sizeof(path), "%s/%s", ob->root, m->local_relpath);
    int rc = artefact_field_str(m, "output_path", path);
    if (rc == 0)
        rc = artefact_field_int(m, "output_size_bytes", (int64_t)m->payload_size);
    if (rc == 0 && !artefact_field_get(m, "message")) {
        snprintf(msg, sizeof(msg), "captured %s snapshot for pid=%d at %s", type,
                 m->nspid > 0 ? m->nspid : m->pid, path);
        rc = artefact_field_str(m, "message", msg);
    }
    return rc;
}

/* Inserts it (busy) after checking the budget and promising a local path.
 * held (may be NULL): the budget its transaction holds, given back first. */
static int reserve(struct outbox *ob, struct item *it, uint64_t need, uint64_t *held, char *err,
                   size_t errcap)
{
    int rc = 0;
    pthread_mutex_lock(&ob->mu);
    if (held) {
        ob->reserved -= *held;
        *held = 0;
    }
    if (need > ob->max_bytes) {
        rc = -EFBIG;
        snprintf(err, errcap, "%" PRIu64 " bytes exceed FLAMESHOT_SPOOL_MAX_MB (%.1f MiB)", need,
                 (double)ob->max_bytes / 1048576.0);
    }
    if (rc == 0 && (it->m.routes & ARTEFACT_ROUTE_LOCAL) && (rc = assign_local_path(ob, &it->m)))
        snprintf(err, errcap, "no local path for %s: %s", it->m.id, strerror(-rc));
    if (rc == 0 && (rc = make_room(ob, need)) < 0)
        snprintf(err, errcap, "disk budget exhausted by artefacts being delivered");
    if (rc == 0 && it->m.kind == ARTEFACT_JCMD_SNAPSHOT && (rc = add_snapshot_fields(ob, &it->m)))
        snprintf(err, errcap, "out of memory");
    if (rc == 0) {
        it->busy = true;
        it->bytes = need;
        if ((rc = list_insert(ob, it)) < 0)
            snprintf(err, errcap, "out of memory");
    }
    update_gauges(ob);
    pthread_mutex_unlock(&ob->mu);
    return rc;
}

/* Makes a reserved item deliverable, or takes it back out on failure. */
static void publish(struct outbox *ob, struct item *it, int rc, uint64_t record_len)
{
    pthread_mutex_lock(&ob->mu);
    if (rc == 0) {
        ob->bytes -= it->bytes;
        it->bytes = it->m.payload_size + record_len;
        ob->bytes += it->bytes;
        it->busy = false;
    } else {
        list_remove(ob, it);
    }
    update_gauges(ob);
    pthread_cond_broadcast(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
}

/* ---- producer API ------------------------------------------------------- */

/* Budget nobody uses or holds. mu held. */
static uint64_t free_room(struct outbox *ob)
{
    uint64_t used = ob->bytes + ob->reserved + sink_local_bytes(ob->local);
    return ob->max_bytes > used ? ob->max_bytes - used : 0;
}

/* Holds budget for tx: need bytes in all, dropping the oldest artefacts
 * to make room, and a step more (up to its cap) when that is free. The
 * cap is a bound, not a forecast: holding all of it would drop older
 * artefacts for bytes that mostly never come. 0, -EFBIG (more than the
 * whole budget) or -ENOSPC (everything left is being committed or
 * delivered). */
static int hold(struct outbox *ob, struct outbox_tx *tx, uint64_t need)
{
    if (need > ob->max_bytes)
        return -EFBIG;
    uint64_t most = tx->out.cap + RECORD_ROOM, want = tx->reserved + GROW_STEP;
    want = want > most ? most : want;
    want = want < need ? need : want;
    pthread_mutex_lock(&ob->mu);
    if (want > need && free_room(ob) < want - tx->reserved)
        want = need;
    int rc = make_room(ob, want - tx->reserved);
    if (rc == 0) {
        ob->reserved += want - tx->reserved;
        tx->reserved = want;
    }
    pthread_mutex_unlock(&ob->mu);
    return rc;
}

int outbox_claim(struct outbox *ob, uint64_t bytes)
{
    if (bytes > ob->max_bytes)
        return -EFBIG;
    pthread_mutex_lock(&ob->mu);
    int rc = make_room(ob, bytes);
    if (rc == 0)
        ob->reserved += bytes;
    update_gauges(ob);
    pthread_mutex_unlock(&ob->mu);
    return rc;
}

void outbox_unclaim(struct outbox *ob, uint64_t bytes)
{
    pthread_mutex_lock(&ob->mu);
    ob->reserved -= bytes < ob->reserved ? bytes : ob->reserved;
    update_gauges(ob);
    pthread_cond_broadcast(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
}

static void release(struct outbox *ob, struct outbox_tx *tx)
{
    pthread_mutex_lock(&ob->mu);
    ob->reserved -= tx->reserved;
    tx->reserved = 0;
    pthread_cond_broadcast(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
}

/* The bounded_write_fn of a payload: the budget is held before the bytes
 * reach the disk; a full filesystem (ENOSPC) drops the oldest artefact and
 * is retried once. */
static int tx_write(void *arg, const void *data, size_t len)
{
    struct outbox_tx *tx = arg;
    const char *p = data;
    uint64_t need = tx->out.written + len + RECORD_ROOM;
    int rc = need > tx->reserved ? hold(tx->ob, tx, need) : 0;
    bool retried = false;
    while (rc == 0 && len) {
        ssize_t n = write(tx->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOSPC && !retried) {
            retried = true;
            if (drop_for_enospc(tx->ob))
                continue;
        }
        if (n < 0) {
            tx->write_error = errno;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return rc;
}

int outbox_begin(struct outbox *ob, uint64_t cap, struct outbox_tx *tx)
{
    uint64_t token;
    memset(tx, 0, sizeof(*tx));
    tx->ob = ob;
    tx->out = (struct bounded){.write = tx_write, .arg = tx, .cap = cap};
    int rc = hold(ob, tx, RECORD_ROOM);
    if (rc < 0) {
        tx->fd = -1;
        return rc;
    }
    if (getrandom(&token, sizeof(token), 0) != sizeof(token))
        token = units_now_real_ns() ^ (uint64_t)pthread_self();
    snprintf(tx->path, sizeof(tx->path), "%s/" TMP_PREFIX "%016" PRIx64 ".payload", ob->dir, token);
    tx->fd = open(tx->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (tx->fd < 0) {
        char why[PATH_MAX + 64];
        rc = -errno;
        snprintf(why, sizeof(why), "cannot create %s: %s", tx->path, strerror(errno));
        spool_lost(ob, why);
        tx->path[0] = '\0';
        release(ob, tx);
        return rc;
    }
    return 0;
}

void outbox_abort(struct outbox *ob, struct outbox_tx *tx)
{
    if (tx->write_error) {
        char why[PATH_MAX + 64];
        snprintf(why, sizeof(why), "writing %s: %s", tx->path, strerror(tx->write_error));
        tx->write_error = 0;
        spool_lost(ob, why);
    }
    if (tx->fd >= 0)
        close(tx->fd);
    tx->fd = -1;
    if (tx->path[0])
        unlink(tx->path);
    tx->path[0] = '\0';
    if (tx->reserved)
        release(ob, tx);
}

static void fill_receipt(struct outbox *ob, const struct item *it, struct outbox_receipt *rcpt)
{
    if (!rcpt)
        return;
    snprintf(rcpt->id, sizeof(rcpt->id), "%s", it->m.id);
    rcpt->local_path[0] = '\0';
    if (it->m.local_relpath)
        snprintf(rcpt->local_path, sizeof(rcpt->local_path), "%s/%s", ob->root,
                 it->m.local_relpath);
}

/* fsync and close the payload; its size. */
static int seal(struct outbox_tx *tx, uint64_t *size, char *err, size_t errcap)
{
    struct stat st = {0};
    int rc = fstat(tx->fd, &st) < 0 || fsync(tx->fd) < 0 ? -errno : 0;
    if (close(tx->fd) < 0 && rc == 0)
        rc = -errno;
    tx->fd = -1;
    if (rc < 0)
        snprintf(err, errcap, "cannot sync %s: %s", tx->path, strerror(-rc));
    *size = (uint64_t)st.st_size;
    return rc;
}

int outbox_commit(struct outbox *ob, struct outbox_tx *tx, const struct artefact_meta *meta,
                  struct outbox_receipt *rcpt, char *err, size_t errcap)
{
    char dest[PATH_MAX];
    uint64_t size = 0, record_len = 0;
    struct item *it = NULL;
    int io = 0; /* a write to the spool failed */
    int rc = artefact_kind_has_payload(meta->kind) ? 0 : -EINVAL;
    if (rc < 0)
        snprintf(err, errcap, "a %s has no payload", artefact_kind_name(meta->kind));
    if (rc == 0)
        io = rc = seal(tx, &size, err, errcap);
    if (rc == 0 && (rc = prepare(ob, meta, size, &it)) < 0)
        snprintf(err, errcap, "out of memory");
    if (rc == 0 && (rc = reserve(ob, it, size + RECORD_ROOM, &tx->reserved, err, errcap)) < 0) {
        item_free(it);
        it = NULL;
    }
    if (rc == 0 && it) {
        path_of(ob, it->m.id, ".payload", dest, sizeof(dest));
        if (rename(tx->path, dest) < 0) {
            io = rc = -errno;
            snprintf(err, errcap, "cannot rename %s: %s", tx->path, strerror(errno));
        } else {
            tx->path[0] = '\0';
            fsutil_fsync_parent(dest);
            io = rc = write_record(ob, it, &record_len, err, errcap);
        }
        if (rc < 0)
            unlink(dest);
        else
            fill_receipt(ob, it, rcpt); /* before publish: then it belongs to the sender */
        publish(ob, it, rc, record_len);
    }
    if (rc == 0 || io < 0)
        tx->write_error = 0; /* kept, or counted once below */
    outbox_abort(ob, tx);
    if (rc < 0) {
        not_queued(ob, meta->kind, io, err);
        item_free(it);
        return rc;
    }
    spool_written(ob);
    log_debug(MOD, "queued %s (%" PRIu64 " bytes)", artefact_kind_name(meta->kind), size);
    return 0;
}

int outbox_put_summary(struct outbox *ob, const struct artefact_meta *meta,
                       struct outbox_receipt *rcpt, char *err, size_t errcap)
{
    uint64_t record_len = 0;
    struct item *it = NULL;
    if (!artefact_kind_measurement(meta->kind) || artefact_kind_has_payload(meta->kind)) {
        snprintf(err, errcap, "a %s is not a summary", artefact_kind_name(meta->kind));
        return -EINVAL;
    }
    int rc = prepare(ob, meta, 0, &it);
    if (rc < 0)
        snprintf(err, errcap, "out of memory");
    if (rc == 0 && (rc = reserve(ob, it, RECORD_ROOM, NULL, err, errcap)) < 0) {
        item_free(it);
        it = NULL;
    }
    int io = 0;
    if (rc == 0 && it) {
        io = rc = write_record(ob, it, &record_len, err, errcap);
        if (rc == 0)
            fill_receipt(ob, it, rcpt);
        publish(ob, it, rc, record_len);
    }
    if (rc < 0) {
        not_queued(ob, meta->kind, io, err);
        item_free(it);
        return rc;
    }
    spool_written(ob);
    return 0;
}

/* ---- delivery ----------------------------------------------------------- */

static void deliver_local(struct outbox *ob, struct item *it, struct attempt *a)
{
    char payload[PATH_MAX];
    const char *p = NULL;
    uint64_t added;
    path_of(ob, it->m.id, ".payload", payload, sizeof(payload));
    if (artefact_kind_has_payload(it->m.kind) && access(payload, F_OK) == 0)
        p = payload;
    a->rc = sink_local_deliver(ob->local, &it->m, p, &added, a->error, sizeof(a->error));
    if (a->rc == -ENOSPC && drop_for_enospc(ob))
        a->rc = sink_local_deliver(ob->local, &it->m, p, &added, a->error, sizeof(a->error));
}

/* The payload to upload: in outbox/, or already handed to the local sink. */
static int payload_source(struct outbox *ob, const struct item *it, char *buf, size_t cap)
{
    path_of(ob, it->m.id, ".payload", buf, cap);
    if (access(buf, R_OK) == 0)
        return 0;
    if ((it->m.done & ARTEFACT_ROUTE_LOCAL) && it->m.local_relpath) {
        snprintf(buf, cap, "%s/%s", ob->root, it->m.local_relpath);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    return -ENOENT;
}

static void from_result(struct attempt *a, int rc, const struct sink_result *res)
{
    a->rc = rc;
    a->aborted = res->verdict == SINK_ABORTED;
    a->sink_down = res->verdict == SINK_SINK_DOWN;
    snprintf(a->error, sizeof(a->error), "%s", res->error);
}

/* A JFR is one part; a Go profile one per attachment, in payload order. */
static size_t profile_parts(const struct item *it, const char *path,
                            struct sink_file_part files[ARTEFACT_MAX_ATTACHMENTS])
{
    uint64_t off = 0;
    size_t n = 0;
    if (!it->m.nattachments) {
        files[0] = (struct sink_file_part){"main", "main.jfr", 0, fsutil_file_size(path)};
        return 1;
    }
    for (; n < it->m.nattachments && n < ARTEFACT_MAX_ATTACHMENTS; n++) {
        const struct artefact_attachment *at = &it->m.attachments[n];
        files[n] = (struct sink_file_part){at->name, at->name, off, at->size};
        off += at->size;
    }
    return n;
}

static void deliver_profiling(struct outbox *ob, struct item *it, struct attempt *a)
{
    char path[PATH_MAX], *event = NULL;
    struct sink_result res;
    if (payload_source(ob, it, path, sizeof(path)) < 0) {
        a->rc = -ENOENT;
        snprintf(a->error, sizeof(a->error), "the payload of %s is missing", it->m.id);
        return;
    }
    if ((a->rc = artefact_event_json(&it->m, &event)) < 0) {
        snprintf(a->error, sizeof(a->error), "cannot build event.json: %s", strerror(-a->rc));
        return;
    }
    struct sink_file_part files[ARTEFACT_MAX_ATTACHMENTS];
    size_t n = profile_parts(it, path, files);
    int rc = sink_datakit_send_profile(ob->dk, path, files, n, event, &res);
    free(event);
    from_result(a, rc, &res);
}

static void deliver_logging(struct outbox *ob, struct item *it, struct attempt *a)
{
    struct lp_buf b;
    struct sink_result res;
    lp_init(&b);
    if ((a->rc = artefact_lineproto(&it->m, &b)) < 0) {
        snprintf(a->error, sizeof(a->error), "cannot encode the record: %s", strerror(-a->rc));
    } else {
        int rc = sink_datakit_send_logging(ob->dk, b.data, b.len, &res);
        from_result(a, rc, &res);
    }
    lp_free(&b);
}

static void record_sink(struct outbox *ob, unsigned route, const struct attempt *a)
{
    struct sink_state *s = &ob->sinks[route_index(route)];
    if (a->rc == 0) {
        if (s->consecutive)
            log_info(MOD, "%s accepts again after %u failures", artefact_route_name(route),
                     s->consecutive);
        s->ok++;
        s->last_ok_ns = units_now_real_ns();
        s->consecutive = 0;
        s->backoff_ms = 0;
        s->next_ms = 0;
        metrics_inc(ob->metrics, uploads_ok);
        return;
    }
    s->failed++;
    s->last_fail_ns = units_now_real_ns();
    snprintf(s->last_error, sizeof(s->last_error), "%s", a->error);
    metrics_inc(ob->metrics, uploads_failed);
    if (!a->sink_down)
        return;
    s->consecutive++;
    uint64_t wait = backoff_ms(ob, s->consecutive);
    s->next_ms = units_now_mono_ms() + wait;
    log_warn(MOD, "%s unavailable (%s); retrying in %" PRIu64 " ms (failure %u)",
             artefact_route_name(route), a->error, wait, s->consecutive);
}

/* Applies an attempt's outcome: persists the record while it is still
 * busy, then updates the list. */
static void finish(struct outbox *ob, struct item *it, unsigned route, struct attempt *a)
{
    uint64_t record_len = 0;
    char err[256];
    bool gone = false;
    if (a->rc == 0) {
        it->m.done |= route;
        gone = !(it->m.routes & ~it->m.done);
    } else {
        it->m.attempts++;
        artefact_set(&it->m.last_error, a->error);
    }
    if (gone)
        unlink_item(ob, it);
    else if (write_record(ob, it, &record_len, err, sizeof(err)) < 0)
        log_warn(MOD, "%s: %s (kept in memory)", it->m.id, err);
    pthread_mutex_lock(&ob->mu);
    record_sink(ob, route, a);
    if (a->rc != 0 && !a->sink_down) {
        uint64_t wait = backoff_ms(ob, it->m.attempts);
        it->next_ms = units_now_mono_ms() + wait;
        log_warn(MOD, "%s %s refused by %s (%s); retrying in %" PRIu64 " ms",
                 artefact_kind_name(it->m.kind), it->m.id, artefact_route_name(route), a->error,
                 wait);
    }
    if (gone) {
        log_info(MOD, "delivered %s %s to %s", artefact_kind_name(it->m.kind), it->m.id,
                 artefact_route_name(route));
        list_remove(ob, it);
        item_free(it);
    } else {
        char payload[PATH_MAX];
        path_of(ob, it->m.id, ".payload", payload, sizeof(payload));
        ob->bytes -= it->bytes;
        it->bytes = fsutil_file_size(payload) + record_len;
        ob->bytes += it->bytes;
        it->busy = false;
    }
    update_gauges(ob);
    pthread_cond_broadcast(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
}

/* Delivers one route of it (busy). Called without mu. Returns 1 if the
 * route was accepted. */
static int deliver(struct outbox *ob, struct item *it, unsigned route)
{
    struct attempt a = {0};
    if (route == ARTEFACT_ROUTE_LOCAL)
        deliver_local(ob, it, &a);
    else if (!ob->dk) {
        a.rc = -EINVAL;
        snprintf(a.error, sizeof(a.error), "no DataKit address");
    } else if (route == ARTEFACT_ROUTE_DATAKIT_PROFILING)
        deliver_profiling(ob, it, &a);
    else
        deliver_logging(ob, it, &a);
    if (a.aborted) {
        pthread_mutex_lock(&ob->mu);
        it->busy = false;
        pthread_cond_broadcast(&ob->cv);
        pthread_mutex_unlock(&ob->mu);
        return 0;
    }
    if (a.rc == -ENOENT) {
        pthread_mutex_lock(&ob->mu);
        count_drop(ob, it->m.id, it->bytes, a.error);
        unlink_item(ob, it);
        list_remove(ob, it);
        item_free(it);
        update_gauges(ob);
        pthread_cond_broadcast(&ob->cv);
        pthread_mutex_unlock(&ob->mu);
        return 0;
    }
    finish(ob, it, route, &a);
    return a.rc == 0;
}

/* The oldest artefact whose next route is due. mu held. *wake gets the
 * earliest time something becomes due (UINT64_MAX: nothing waits). */
static struct item *pick(struct outbox *ob, uint64_t now, unsigned *route, uint64_t *wake)
{
    *wake = UINT64_MAX;
    for (size_t i = 0; i < ob->n; i++) {
        struct item *it = ob->items[i];
        unsigned r = next_route(&it->m);
        if (it->busy || !r)
            continue;
        const struct sink_state *s = &ob->sinks[route_index(r)];
        uint64_t due = s->next_ms > it->next_ms ? s->next_ms : it->next_ms;
        if (due <= now) {
            *route = r;
            return it;
        }
        if (due < *wake)
            *wake = due;
    }
    return NULL;
}

static void wait_until(struct outbox *ob, uint64_t mono_ms)
{
    if (mono_ms == UINT64_MAX) {
        pthread_cond_wait(&ob->cv, &ob->mu);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(mono_ms / 1000),
                          .tv_nsec = (long)(mono_ms % 1000) * 1000000};
    pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
}

static void *run(void *arg)
{
    struct outbox *ob = arg;
    pthread_mutex_lock(&ob->mu);
    while (!ob->stopping) {
        unsigned route = 0;
        uint64_t wake;
        struct item *it = pick(ob, units_now_mono_ms(), &route, &wake);
        if (!it) {
            wait_until(ob, wake);
            continue;
        }
        it->busy = true;
        pthread_mutex_unlock(&ob->mu);
        deliver(ob, it, route);
        pthread_mutex_lock(&ob->mu);
    }
    pthread_mutex_unlock(&ob->mu);
    return NULL;
}

int outbox_run_once(struct outbox *ob)
{
    int delivered = 0;
    pthread_mutex_lock(&ob->mu);
    for (;;) {
        unsigned route = 0;
        uint64_t wake;
        struct item *it = pick(ob, units_now_mono_ms(), &route, &wake);
        if (!it)
            break;
        it->busy = true;
        pthread_mutex_unlock(&ob->mu);
        delivered += deliver(ob, it, route);
        pthread_mutex_lock(&ob->mu);
    }
    pthread_mutex_unlock(&ob->mu);
    return delivered;
}

int outbox_flush(struct outbox *ob, uint64_t timeout_ms)
{
    uint64_t deadline = units_now_mono_ms() + timeout_ms;
    pthread_mutex_lock(&ob->mu);
    while (ob->n > 0 && units_now_mono_ms() < deadline)
        wait_until(ob, deadline);
    int rc = ob->n ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&ob->mu);
    return rc;
}

int outbox_start(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    int rc = ob->running ? 0 : -pthread_create(&ob->thread, NULL, run, ob);
    if (rc == 0)
        ob->running = true;
    pthread_mutex_unlock(&ob->mu);
    return rc;
}

void outbox_stop(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    bool running = ob->running;
    ob->stopping = true;
    ob->running = false;
    atomic_store(&ob->abort, true);
    pthread_cond_broadcast(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
    if (running)
        pthread_join(ob->thread, NULL);
}

/* ---- open: recovery ----------------------------------------------------- */

static int is_temp_name(const char *name)
{
    return strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 || fsutil_is_atomic_temp(name);
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcmp(name + n - k, suffix) == 0;
}

/* Without DataKit (the address was removed since the artefact was queued)
 * its DataKit routes become the local sink. */
static int reroute(struct outbox *ob, struct artefact_meta *m)
{
    unsigned dk_left = m->routes & ~m->done & ROUTES_DK;
    if (ob->dk || !dk_left)
        return 0;
    m->routes = (m->routes & ~dk_left) | ARTEFACT_ROUTE_LOCAL;
    if (m->done & ARTEFACT_ROUTE_LOCAL || m->local_relpath)
        return 0;
    return assign_local_path(ob, m);
}

/* Whether the payload the remaining routes need is still somewhere. */
static bool payload_present(struct outbox *ob, const struct artefact_meta *m)
{
    char path[PATH_MAX];
    if (!artefact_kind_has_payload(m->kind) || (m->done & ARTEFACT_ROUTE_LOCAL))
        return true;
    path_of(ob, m->id, ".payload", path, sizeof(path));
    if (access(path, F_OK) == 0)
        return true;
    return (m->routes & ARTEFACT_ROUTE_LOCAL) && m->local_relpath &&
           sink_local_taken(ob->local, m->local_relpath);
}

static void drop_record(struct outbox *ob, const char *id, const char *why)
{
    char path[PATH_MAX];
    path_of(ob, id, ".json", path, sizeof(path));
    uint64_t bytes = fsutil_file_size(path);
    unlink(path);
    path_of(ob, id, ".payload", path, sizeof(path));
    bytes += fsutil_file_size(path);
    unlink(path);
    count_drop(ob, id, bytes, why);
}

static int parse_record(struct outbox *ob, const char *id, struct artefact_meta *m, char *err,
                        size_t errcap)
{
    char path[PATH_MAX], *text = NULL;
    path_of(ob, id, ".json", path, sizeof(path));
    int rc = fsutil_read_all(path, MAX_RECORD, &text, NULL);
    if (rc < 0) {
        snprintf(err, errcap, "unreadable: %s", strerror(-rc));
        return rc;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    rc = j ? artefact_from_json(j, m, err, errcap) : -EINVAL;
    if (!j)
        snprintf(err, errcap, "not JSON");
    cJSON_Delete(j);
    if (rc == 0 && (rc = artefact_set(&m->id, id)) < 0)
        artefact_meta_free(m);
    return rc;
}

static int load_record(struct outbox *ob, const char *id)
{
    char err[256], path[PATH_MAX];
    struct item *it = calloc(1, sizeof(*it));
    if (!it)
        return -ENOMEM;
    int rc = parse_record(ob, id, &it->m, err, sizeof(err));
    if (rc == 0 && (rc = reroute(ob, &it->m)) < 0)
        snprintf(err, sizeof(err), "cannot reroute: %s", strerror(-rc));
    if (rc == 0 && !payload_present(ob, &it->m)) {
        rc = -ENOENT;
        snprintf(err, sizeof(err), "its payload is missing");
    }
    if (rc < 0 || !(it->m.routes & ~it->m.done)) {
        if (rc < 0)
            drop_record(ob, id, err);
        else
            unlink_item(ob, it);
        item_free(it);
        return rc == -ENOMEM ? rc : 0;
    }
    path_of(ob, id, ".json", path, sizeof(path));
    it->bytes = fsutil_file_size(path);
    path_of(ob, id, ".payload", path, sizeof(path));
    it->bytes += fsutil_file_size(path);
    rc = list_insert(ob, it);
    if (rc < 0)
        item_free(it);
    return rc;
}

/* Removes temp files and payloads whose record never got written. */
static void sweep(struct outbox *ob, DIR *d)
{
    char path[PATH_MAX], id[256];
    struct dirent *de;
    rewinddir(d);
    while ((de = readdir(d))) {
        bool orphan = false;
        if (has_suffix(de->d_name, ".payload") && !is_temp_name(de->d_name)) {
            snprintf(id, sizeof(id), "%.*s", (int)(strlen(de->d_name) - 8), de->d_name);
            path_of(ob, id, ".json", path, sizeof(path));
            orphan = access(path, F_OK) != 0;
        }
        if (!orphan && !is_temp_name(de->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", ob->dir, de->d_name);
        log_info(MOD, "removing %s left by an interrupted write", path);
        unlink(path);
    }
}

static int load_dir(struct outbox *ob)
{
    char id[256];
    DIR *d = opendir(ob->dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (!has_suffix(de->d_name, ".json") || is_temp_name(de->d_name))
            continue;
        snprintf(id, sizeof(id), "%.*s", (int)(strlen(de->d_name) - 5), de->d_name);
        rc = load_record(ob, id);
    }
    if (rc == 0)
        sweep(ob, d);
    closedir(d);
    return rc;
}

/* ---- lifetime ----------------------------------------------------------- */

static int open_sinks(struct outbox *ob, const struct outbox_opts *o, char *err, size_t errcap)
{
    int rc = sink_local_open(ob->root, &ob->local, err, errcap);
    if (rc < 0)
        return rc;
    ob->sinks[route_index(ARTEFACT_ROUTE_LOCAL)].enabled = true;
    ob->local_keep = o->local_keep;
    if (!o->datakit_addr)
        return 0;
    struct sink_datakit_opts dko = {.profile_timeout_ms = o->http_timeout_ms, .abort = &ob->abort};
    rc = sink_datakit_new(o->datakit_addr, &dko, &ob->dk, err, errcap);
    if (rc == 0) {
        ob->sinks[route_index(ARTEFACT_ROUTE_DATAKIT_PROFILING)].enabled = true;
        ob->sinks[route_index(ARTEFACT_ROUTE_DATAKIT_LOGGING)].enabled = true;
    }
    return rc;
}

static struct outbox *alloc_outbox(const struct outbox_opts *o)
{
    struct outbox *ob = calloc(1, sizeof(*ob));
    if (!ob || !(ob->root = strdup(o->root))) {
        free(ob);
        return NULL;
    }
    snprintf(ob->dir, sizeof(ob->dir), "%s/" OUTBOX_DIR, o->root);
    ob->max_bytes = o->max_bytes ? o->max_bytes : 1024ull << 20;
    ob->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 1000;
    ob->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 300000;
    if (ob->backoff_max_ms < ob->backoff_min_ms)
        ob->backoff_max_ms = ob->backoff_min_ms;
    ob->metrics = o->metrics;
    ob->lock_fd = -1;
    ob->rng = units_jitter_seed();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ob->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&ob->mu, NULL);
    atomic_init(&ob->abort, false);
    return ob;
}

/* Two processes delivering one outbox would send everything twice (a
 * second agent on the node, or a restart racing an old instance). The
 * kernel drops the lock when the holder dies, even by SIGKILL. flock
 * needs no write access: on a spool gone read-only the .lock an earlier
 * run made is locked through a read-only fd, the agent starts, and the
 * spool's error is shown (spool_lost) until it can be written again.
 * Where no .lock was ever made there is nothing to lock: refused. */
static int lock_dir(struct outbox *ob, char *err, size_t errcap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.lock", ob->dir);
    ob->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int ro = ob->lock_fd < 0 && errno == EROFS;
    if (ro)
        ob->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ob->lock_fd < 0 || flock(ob->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int rc = ro && errno == ENOENT ? -EROFS : -errno;
        snprintf(err, errcap, "%s: %s", path,
                 rc == -EWOULDBLOCK ? "another process is using this outbox"
                 : ro ? "the spool is on a read-only filesystem and was never written (no lock "
                        "to take): make it writable"
                      : strerror(-rc));
        return rc;
    }
    if (ro)
        snprintf(ob->spool_error, sizeof(ob->spool_error), "%s: %s", ob->dir, strerror(EROFS));
    return 0;
}

int outbox_open(const struct outbox_opts *o, struct outbox **out, char *err, size_t errcap)
{
    struct outbox *ob = alloc_outbox(o);
    if (!ob) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    int rc = fsutil_mkdirs(ob->dir, 0750);
    if (rc < 0)
        snprintf(err, errcap, "cannot create %s: %s", ob->dir, strerror(-rc));
    if (rc == 0)
        rc = lock_dir(ob, err, errcap);
    if (rc == 0)
        rc = open_sinks(ob, o, err, errcap);
    if (rc == 0 && (rc = load_dir(ob)) < 0)
        snprintf(err, errcap, "cannot load %s: %s", ob->dir, strerror(-rc));
    if (rc < 0) {
        outbox_close(ob);
        return rc;
    }
    pthread_mutex_lock(&ob->mu);
    make_room(ob, 0);
    update_gauges(ob);
    pthread_mutex_unlock(&ob->mu);
    if (ob->spool_error[0])
        log_warn(MOD,
                 "the spool cannot be written (%s); every artefact is dropped until the spool can "
                 "be written again",
                 ob->spool_error);
    log_info(MOD, "%zu artefacts pending in %s (%" PRIu64 " bytes); %zu kept locally; sink %s",
             ob->n, ob->dir, ob->bytes, sink_local_items(ob->local),
             !ob->dk          ? "local"
             : ob->local_keep ? "datakit, profiles also kept locally"
                              : "datakit");
    *out = ob;
    return 0;
}

void outbox_close(struct outbox *ob)
{
    if (!ob)
        return;
    outbox_stop(ob);
    for (size_t i = 0; i < ob->n; i++)
        item_free(ob->items[i]);
    free(ob->items);
    sink_local_close(ob->local);
    sink_datakit_free(ob->dk);
    pthread_cond_destroy(&ob->cv);
    pthread_mutex_destroy(&ob->mu);
    if (ob->lock_fd >= 0)
        close(ob->lock_fd);
    free(ob->root);
    free(ob);
}

/* ---- status ------------------------------------------------------------- */

void outbox_stats(struct outbox *ob, struct outbox_stats *st)
{
    memset(st, 0, sizeof(*st));
    uint64_t now = units_now_mono_ms(), real = units_now_real_ns();
    pthread_mutex_lock(&ob->mu);
    st->items = ob->n;
    st->bytes = ob->bytes;
    st->reserved = ob->reserved;
    if (ob->n && real > ob->items[0]->m.created_ns)
        st->oldest_age_ms = (real - ob->items[0]->m.created_ns) / 1000000;
    st->local_items = sink_local_items(ob->local);
    st->local_bytes = sink_local_bytes(ob->local);
    st->max_bytes = ob->max_bytes;
    st->dropped = ob->dropped;
    snprintf(st->spool_error, sizeof(st->spool_error), "%s", ob->spool_error);
    for (int i = 0; i < ARTEFACT_ROUTE_COUNT; i++) {
        const struct sink_state *s = &ob->sinks[i];
        struct outbox_sink_stats *o = &st->sinks[i];
        o->name = artefact_route_name(1u << i);
        o->enabled = s->enabled;
        o->ok = s->ok;
        o->failed = s->failed;
        o->last_ok_ns = s->last_ok_ns;
        o->last_fail_ns = s->last_fail_ns;
        o->consecutive_failures = s->consecutive;
        o->retry_in_ms = s->next_ms > now ? s->next_ms - now : 0;
        snprintf(o->last_error, sizeof(o->last_error), "%s", s->last_error);
    }
    for (size_t i = 0; i < ob->n; i++) {
        unsigned r = next_route(&ob->items[i]->m);
        if (r)
            st->sinks[route_index(r)].pending++;
    }
    pthread_mutex_unlock(&ob->mu);
}

static cJSON *sink_json(const struct outbox_sink_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddBoolToObject(o, "healthy", s->consecutive_failures == 0);
    cJSON_AddNumberToObject(o, "pending", (double)s->pending);
    cJSON_AddNumberToObject(o, "ok", (double)s->ok);
    cJSON_AddNumberToObject(o, "failed", (double)s->failed);
    json_add_time(o, "last_success", s->last_ok_ns);
    json_add_time(o, "last_failure", s->last_fail_ns);
    if (s->last_error[0])
        cJSON_AddStringToObject(o, "last_error", s->last_error);
    else
        cJSON_AddNullToObject(o, "last_error");
    cJSON_AddNumberToObject(o, "consecutive_failures", s->consecutive_failures);
    cJSON_AddNumberToObject(o, "retry_in_ms", (double)s->retry_in_ms);
    return o;
}

cJSON *outbox_stats_json(struct outbox *ob)
{
    struct outbox_stats st;
    outbox_stats(ob, &st);
    cJSON *o = cJSON_CreateObject(), *sinks = o ? cJSON_AddObjectToObject(o, "sinks") : NULL;
    if (!sinks) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "items", (double)st.items);
    cJSON_AddNumberToObject(o, "bytes", (double)st.bytes);
    cJSON_AddNumberToObject(o, "reserved_bytes", (double)st.reserved);
    cJSON_AddNumberToObject(o, "oldest_pending_age_ms", (double)st.oldest_age_ms);
    cJSON_AddNumberToObject(o, "local_items", (double)st.local_items);
    cJSON_AddNumberToObject(o, "local_bytes", (double)st.local_bytes);
    cJSON_AddNumberToObject(o, "max_bytes", (double)st.max_bytes);
    cJSON_AddNumberToObject(o, "dropped", (double)st.dropped);
    if (st.spool_error[0])
        cJSON_AddStringToObject(o, "spool_error", st.spool_error);
    else
        cJSON_AddNullToObject(o, "spool_error");
    for (int i = 0; i < ARTEFACT_ROUTE_COUNT; i++)
        if (st.sinks[i].enabled)
            cJSON_AddItemToObject(sinks, st.sinks[i].name, sink_json(&st.sinks[i]));
    return o;
}

cJSON *outbox_local_index(struct outbox *ob)
{
    return sink_local_index(ob->local);
}
