/* outbox: the durable spool every artefact passes through on its way to a
 * sink. Nothing is lost to an outage, a restart or a SIGKILL, and nothing
 * fills the node's disk.
 *
 * On disk, under FLAMESHOT_PROFILING_PATH/outbox:
 *   <id>.payload   the JFR or jcmd text (absent for a summary)
 *   <id>.json      the metadata record (artefact_to_json): an artefact
 *                  exists once, and only once, this file does
 *   .tmp-*         a payload being written, or a record being replaced;
 *                  removed at open (a crash left it half-written)
 * <id> is "<created_ns, 20 digits>-<8 hex>": the name order is the age order.
 * Commit: fsync the payload, rename it to <id>.payload, write <id>.json
 * atomically (temp, fsync, rename, fsync the directory). A payload without
 * a record is an orphan of a crash and is removed at open.
 *
 * Routing (decided at commit, re-decided at open if FLAMESHOT_DATAKIT_ADDR
 * changed since):
 *   profile        DataKit profiling intake, else the local sink. In DataKit
 *                  mode a local copy is kept only with FLAMESHOT_LOCAL_KEEP
 *                  (local_keep): the payload goes to the local sink first
 *                  and is uploaded from there, so /ui can show it at once
 *                  and a DataKit outage keeps it visible; the kept copy
 *                  counts against the budget like any local artefact, and
 *                  when the budget drops it before DataKit took it, the
 *                  upload goes with it (one artefact, one drop).
 *   jcmd_snapshot  the text always to the local sink (DataKit has no intake
 *                  for it); its summary (output_path = where the text is
 *                  kept) to DataKit logging, else inside the local sidecar.
 *   oom_hprof, process_exit   DataKit logging, else the local sink as JSON.
 * An artefact's routes are delivered in order (local first) and the record
 * remembers which are done, so a restart never repeats an accepted route.
 * The artefact leaves the outbox once every route is done (any 2xx, or the
 * local sink's write).
 *
 * Delivery: one thread, oldest first. A failure that says the intake is
 * unavailable (transport error, 5xx, 408, 429) puts that sink in backoff:
 * 1 s doubling to 5 min, with jitter (a uniform draw in [b/2, b]); its
 * artefacts wait, the other sinks' artefacts go on. After the backoff one
 * artefact probes; its success drains the queue at once. Any other status
 * is about that artefact: it alone backs off on the same schedule. Every
 * failed attempt is counted in the record (attempts, last_error). An
 * artefact is never given up for failing; only the disk budget removes it.
 *
 * Disk budget (FLAMESHOT_SPOOL_MAX_MB): the bytes of the outbox (payloads
 * and records), the budget held by payloads being written, and the local
 * sink (payloads and sidecars; not index.json) stay under it. When a
 * payload being written or a commit would exceed it, the oldest artefacts go
 * first, by creation time, whichever side they are on (a pending upload or
 * a kept local file); the artefact being uploaded is never dropped. Each
 * drop is logged (warn) and counted (outbox_dropped). An artefact larger
 * than the whole budget is refused. A write failing with ENOSPC drops the
 * oldest artefact and is retried once; a second failure fails that one
 * artefact with a reason. The agent never stops for a full disk.
 *
 * A spool that cannot be written (full even after the drops, read-only,
 * not writable): each artefact lost to it (a payload not created; a write,
 * sync, rename or record failing) counts as a drop; the first loss of a
 * run is logged (warn) with the reason, which the stats show (spool_error)
 * until an artefact is written again, which is logged too. Artefacts
 * already pending stay and are retried.
 *
 * Thread-safety: every function may be called from any thread; producers
 * commit concurrently while the delivery thread sends. */
#ifndef FS_OUTBOX_H
#define FS_OUTBOX_H

#include "outbox/artefact.h"
#include "outbox/bounded.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cJSON;
struct metrics;
struct outbox;

struct outbox_opts {
    const char *root;         /* FLAMESHOT_PROFILING_PATH (must exist or be creatable) */
    const char *datakit_addr; /* FLAMESHOT_DATAKIT_ADDR; NULL: local sink only */
    bool local_keep;          /* FLAMESHOT_LOCAL_KEEP: profiles to DataKit and the local sink */
    uint64_t max_bytes;       /* FLAMESHOT_SPOOL_MAX_MB << 20; 0: 1 GiB */
    uint64_t backoff_min_ms;  /* 0: 1000 */
    uint64_t backoff_max_ms;  /* 0: 300000 */
    uint64_t http_timeout_ms; /* whole profile upload; 0: 10 min */
    struct metrics *metrics;  /* may be NULL */
};

/* A payload being written: write it through out (bounded_put,
 * bounded_sink, bounded_copy_fd), then commit or abort. The budget is
 * held while the payload grows, before its bytes reach the disk; a write
 * past the cap, or that the budget can never hold, fails with -EFBIG; one
 * that cannot be made room for (everything else is being committed or
 * delivered) with -ENOSPC; a full filesystem (ENOSPC) drops the oldest
 * artefact and is retried once. The fd is O_CLOEXEC and owned by the tx. */
struct outbox_tx {
    struct bounded out;
    int fd;
    uint64_t reserved; /* budget held for it (payload so far, its record, a step ahead) */
    int write_error;   /* errno of a failed write: outbox_abort counts the loss */
    struct outbox *ob;
    char path[PATH_MAX]; /* the temp file, inside the outbox directory */
};

/* What a commit produced. */
struct outbox_receipt {
    char id[40];
    char local_path[PATH_MAX]; /* where the local sink keeps it, "" if not kept */
};

/* Opens (creating outbox/ and profiles/), removes temp files and orphans,
 * loads every pending artefact and applies the budget. Does not start the
 * delivery thread. Returns 0 or -errno with a reason in err. */
int outbox_open(const struct outbox_opts *opts, struct outbox **out, char *err, size_t errcap);

/* Starts the delivery thread. 0 or -errno. */
int outbox_start(struct outbox *ob);

/* Stops the delivery thread: an upload in flight is aborted at once (curl
 * progress callback) and stays pending, not counted as an attempt.
 * Idempotent; blocks until the thread has exited (well under a second). */
void outbox_stop(struct outbox *ob);

/* outbox_stop, then frees everything. NULL is fine. */
void outbox_close(struct outbox *ob);

/* Begins a payload of at most cap bytes and holds budget for its record
 * and its first MiB (dropping the oldest artefacts as needed). Returns 0
 * with tx->fd open; -EFBIG when the budget cannot hold even that; -ENOSPC
 * when nothing can be dropped; or -errno. The tx is always initialised:
 * outbox_abort is safe after a failure. */
int outbox_begin(struct outbox *ob, uint64_t cap, struct outbox_tx *tx);

/* Commits tx with meta (copied; the caller keeps ownership of meta, whose
 * bookkeeping members are ignored). meta->kind must carry a payload.
 * For a jcmd_snapshot the summary fields output_path, output_size_bytes and
 * (when absent) message are added here. On success the tx is consumed and
 * rcpt (may be NULL) filled; on failure the tx is aborted (nothing left on
 * disk) and err says why. Returns 0, -EFBIG (larger than the budget),
 * -ENOSPC, -EINVAL or -errno. Blocks for the fsyncs. */
int outbox_commit(struct outbox *ob, struct outbox_tx *tx, const struct artefact_meta *meta,
                  struct outbox_receipt *rcpt, char *err, size_t errcap);

/* Discards tx and gives its budget back. Safe on a tx already committed
 * or aborted. */
void outbox_abort(struct outbox *ob, struct outbox_tx *tx);

/* Queues a summary without payload (oom_hprof, process_exit). Same
 * contract as outbox_commit. */
int outbox_put_summary(struct outbox *ob, const struct artefact_meta *meta,
                       struct outbox_receipt *rcpt, char *err, size_t errcap);

/* Budget for files kept beside the outbox (upload.h's heap dumps):
 * outbox_claim holds bytes of FLAMESHOT_SPOOL_MAX_MB (counted as
 * reserved), dropping the oldest artefacts to make room as a payload
 * does; outbox_unclaim gives them back. 0, -EFBIG (more than the whole
 * budget) or -ENOSPC (everything left is being committed or delivered). */
int outbox_claim(struct outbox *ob, uint64_t bytes);
void outbox_unclaim(struct outbox *ob, uint64_t bytes);

/* Delivers, in the calling thread, every artefact that is due now (tests;
 * the daemon uses outbox_start). Not while the delivery thread runs: both
 * would use the same HTTP handles. Returns how many routes were delivered. */
int outbox_run_once(struct outbox *ob);

/* Waits until nothing is pending or timeout_ms passed. Returns 0 when
 * empty, -ETIMEDOUT otherwise. */
int outbox_flush(struct outbox *ob, uint64_t timeout_ms);

struct outbox_sink_stats {
    const char *name; /* artefact_route_name() */
    bool enabled;
    uint64_t ok, failed;
    uint64_t last_ok_ns, last_fail_ns; /* wall clock, 0: never */
    unsigned consecutive_failures;
    uint64_t retry_in_ms; /* remaining backoff, 0: available */
    size_t pending;       /* artefacts whose next route is this sink */
    char last_error[256];
};

struct outbox_stats {
    size_t items;           /* pending artefacts */
    uint64_t bytes;         /* their bytes in outbox/ */
    uint64_t reserved;      /* budget held by payloads being written */
    uint64_t oldest_age_ms; /* age of the oldest pending artefact, 0: none */
    size_t local_items;     /* artefacts kept by the local sink */
    uint64_t local_bytes;
    uint64_t max_bytes;    /* the budget */
    uint64_t dropped;      /* since open */
    char spool_error[256]; /* why the spool refused the last write; "" once one succeeds */
    struct outbox_sink_stats sinks[ARTEFACT_ROUTE_COUNT]; /* indexed by route bit */
};

void outbox_stats(struct outbox *ob, struct outbox_stats *st);

/* The stats as JSON for GET /v1/status. Caller cJSON_Delete's it. */
struct cJSON *outbox_stats_json(struct outbox *ob);

/* The local sink's index (array, oldest first) for the HTTP API. Caller
 * cJSON_Delete's it. NULL on ENOMEM. */
struct cJSON *outbox_local_index(struct outbox *ob);

#endif
