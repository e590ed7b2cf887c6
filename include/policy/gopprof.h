/* gopprof: what one profile job of a Go target collects, as Flameshot's
 * runGoPProf: every pprof type of its rule pulled (pprof_fetch.h), cpu
 * and goroutine sent as they come (cpu.pprof, goroutines.pprof), heap,
 * mutex and block sent as the difference from the previous pull of the
 * same process (delta-heap.pprof, delta-mutex.pprof, delta-block.pprof;
 * pprofdelta.h). The first pull of a cumulative type is kept here as the
 * baseline and not sent. Baselines live in memory, per process (pid and
 * start time), pprof_url and type; those of processes that are gone are
 * dropped as new ones come, and at most GOPPROF_MAX_BASELINES are kept
 * (the oldest go first). A restart of the agent starts them over.
 *
 * The store is thread-safe (job workers share it); a collection blocks
 * for the pulls (pprof_fetch_budget_ms). */
#ifndef FS_GOPPROF_H
#define FS_GOPPROF_H

#include "core/rules.h"
#include "events/procfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOPPROF_MAX_BASELINES 1024

struct gopprof_store;

struct gopprof_store *gopprof_store_new(void); /* NULL on ENOMEM */
void gopprof_store_free(struct gopprof_store *st);

/* How many baselines are kept now. */
size_t gopprof_store_count(struct gopprof_store *st);

/* One file to upload. */
struct gopprof_file {
    const char *name; /* "cpu.pprof", "goroutines.pprof", "delta-heap.pprof", ... */
    void *data;       /* owned by the result */
    size_t len;
};

enum gopprof_outcome {
    GOPPROF_OK = 0,        /* files to send, or only baselines stored */
    GOPPROF_TARGET_EXITED, /* the process is gone */
    GOPPROF_CANCELLED,     /* cancel_fd fired; what was pulled is kept */
    GOPPROF_FAILED,        /* nothing pulled */
};

struct gopprof_result {
    enum gopprof_outcome outcome;
    struct gopprof_file files[RULE_PPROF_N]; /* in type order */
    size_t nfiles;
    uint64_t start_ns, end_ns; /* CLOCK_REALTIME: the first request's start, the last's end */
    char reason[768];          /* each type that failed and why; the baselines stored */
};

struct gopprof_req {
    const struct rule *rule; /* a go rule: pprof_url, pprof_types, pprof_timeout */
    uint64_t duration_ms;    /* the cpu profile's length */
    uint64_t max_bytes;      /* each response; 0: PPROF_FETCH_MAX_BYTES */
    int cancel_fd;           /* -1: none */
};

/* Collects for p as described above into res (always filled; release it
 * with gopprof_result_free). Returns 0 unless the outcome is failed or
 * target_exited (-errno). */
int gopprof_collect(struct gopprof_store *st, const struct proc_ident *p,
                    const struct gopprof_req *req, struct gopprof_result *res);

void gopprof_result_free(struct gopprof_result *res);

/* The file name Flameshot uploads type i (0..RULE_PPROF_N) as. */
const char *gopprof_file_name(int type);

#endif
