/* upload: the durable queue of heap dumps bound for object storage
 * (FLAMESHOT_HPROF_UPLOAD_ENABLED), beside the outbox and under its disk
 * budget. A dump is uploaded once and for all even across outages and
 * agent restarts; the summary record that names it (flameshot_oom_hprof)
 * goes to the outbox once the upload has settled, with Flameshot's fields:
 *   hprof_upload_provider  "s3" | "oss"
 *   hprof_object_key       the rendered FLAMESHOT_HPROF_UPLOAD_PATH_TEMPLATE
 *   hprof_download_url     FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE, else the
 *                          object's URL
 *   hprof_upload_status    "ok"; "failed" (an answer retrying cannot change:
 *                          wrong credentials, no such bucket..., or a dump
 *                          the budget cannot hold); "retrying" when the
 *                          upload is still being retried after
 *                          FLAMESHOT_HPROF_UPLOAD_TIMEOUT (it goes on; the
 *                          record does not wait longer for it)
 *   hprof_upload_error     why, "" when ok
 *
 * On disk, under FLAMESHOT_PROFILING_PATH/uploads:
 *   <id>.hprof   the dump (a hard link to the given file when it is on the
 *                same filesystem, else a copy)
 *   <id>.json    its state: object key, download URL, size, part size, the
 *                multipart upload id and every part done with its ETag,
 *                attempts, last error, the summary record (artefact JSON);
 *                replaced atomically (temp, fsync, rename) after each step
 *   .tmp-*       being written; removed at open
 * A restart resumes a multipart upload at the first part not done (an
 * upload id the store no longer knows, NoSuchUpload, starts it again).
 *
 * Requests: PutObject up to the part size (8 MiB, larger when a dump would
 * need more than 10000 parts), else multipart with parts of that size.
 * A transient failure (transport, 5xx, 408, 429) is retried with backoff,
 * 1 s doubling to 5 min with jitter, without limit: only the disk budget
 * ends a dump. Any other answer fails the dump at once (an unfinished
 * multipart upload is aborted) and the record says why.
 *
 * Disk budget: each dump holds its size (outbox_claim) from submission to
 * its end; a dump the budget cannot hold, after the outbox has dropped its
 * oldest artefacts, is refused (-EFBIG / -ENOSPC) and its record says so.
 *
 * Thread-safety: submit, begin, commit and abort may be called from any
 * thread; one thread of the queue does the requests. */
#ifndef FS_UPLOAD_H
#define FS_UPLOAD_H

#include "outbox/artefact.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct outbox;
struct upload;

#define UPLOAD_DIR       "uploads"
#define UPLOAD_PART_SIZE (8ull << 20)

struct upload_opts {
    const struct config *cfg; /* hprof_upload, profiling_path; outlives the queue */
    struct outbox *outbox;    /* budget and summary records */
    uint64_t part_size;       /* 0: UPLOAD_PART_SIZE; at least OBJSTORE_MIN_PART */
    uint64_t backoff_min_ms;  /* 0: 1000 */
    uint64_t backoff_max_ms;  /* 0: 300000 */
};

/* Opens (creating uploads/), removes temp files and orphans, loads every
 * pending dump and claims its budget. Does not start the thread. Returns
 * 0, -EINVAL (the settings, err says which) or -errno. */
int upload_open(const struct upload_opts *opts, struct upload **out, char *err, size_t errcap);
int upload_start(struct upload *u);
/* Stops the thread: a request in flight is aborted at once and the dump
 * stays pending (its parts done are kept). Idempotent. */
void upload_stop(struct upload *u);
/* upload_stop, then frees. NULL is fine. */
void upload_close(struct upload *u);

/* What a submission will produce. */
struct upload_receipt {
    char id[40];
    char key[1024];
    char download_url[2048];
};

/* THE ENTRY POINT for a heap dump already on the node (the active heap
 * dumps of a memory emergency): path is taken into the spool (hard link,
 * else a copy bounded by its size at the call; the caller may remove its
 * own file afterwards), its object key rendered from summary (service,
 * pod_name, pod_namespace, host, pid the JVM sees, timestamp = end_ns or
 * created_ns, filename = basename of path), and summary (kind oom_hprof,
 * fields message, hprof_path, matched_by... as artefact.h says; copied)
 * is sent with the upload fields once the upload settles. Blocks for the
 * copy and an fsync. Returns 0; -EFBIG / -ENOSPC (the disk budget),
 * -EINVAL or -errno with err: then nothing was queued, and the caller
 * sends summary itself after upload_fill_failed. */
int upload_submit_file(struct upload *u, const char *path, const struct artefact_meta *summary,
                       struct upload_receipt *rcpt, char *err, size_t errcap);

/* A dump being written into the spool by its producer (a copy out of a
 * container): at most size bytes through fd, then commit or abort. The
 * budget for size is held from begin. */
struct upload_tx {
    int fd; /* O_WRONLY | O_CLOEXEC, owned by the tx */
    uint64_t size;
    char path[PATH_MAX];
};
int upload_begin(struct upload *u, uint64_t size, struct upload_tx *tx, char *err, size_t errcap);
/* Same as upload_submit_file for the file of tx (its name in the key is
 * filename). The tx is consumed either way. */
int upload_commit(struct upload *u, struct upload_tx *tx, const char *filename,
                  const struct artefact_meta *summary, struct upload_receipt *rcpt, char *err,
                  size_t errcap);
void upload_abort(struct upload *u, struct upload_tx *tx);

/* Adds the upload fields of a dump that was not uploaded (status
 * "failed", error why) to m. 0 or -ENOMEM. */
int upload_fill_failed(struct artefact_meta *m, const char *provider, const char *why);

/* Pending dumps (tests, /v1/status). */
size_t upload_pending(struct upload *u);

#endif
