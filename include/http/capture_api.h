/* capture_api: the two capture endpoints of the HTTP API, GET /v1/profile
 * (Flameshot's manual trigger) and GET /v1/snapshot. Validates the
 * parameters, resolves them to targets and queues one job per target
 * through monitor_request(). Only a target (a process an opted-in rule
 * watches) can ever be captured: a pid or a regex is looked up in the
 * target table, never used to attach to an arbitrary process.
 *
 * Selection:
 *   pid       a target's host pid (in Kubernetes mode with `pod`: the pid as
 *             seen inside the Pod, as a Flameshot sidecar sees it). Takes
 *             precedence over command, which is then ignored (as Flameshot).
 *   command   a PCRE2 regex matched against every target's command line
 *             (argv joined by spaces, secrets masked as /v1/targets shows
 *             it, core/redact.h): one job per matching target.
 *   namespace, pod, container   Kubernetes mode only: keep the targets of
 *             that Pod / container; namespace+pod alone selects every target
 *             of the Pod.
 * Outcome (the HTTP status):
 *   202  at least one job queued; the body lists every matching target with
 *        its job id or its own error (e.g. already running)
 *   400  bad parameters (capture_api_parse), or a regex over PCRE2's match limit
 *   404  no target matches (the pid, the regex, the Pod). The answer depends
 *        on the targets only: a live process that is not one and no process
 *        at all get the same answer (the log says why a pid is not a target)
 *   409  every matching target already has a job of this kind queued or
 *        running (the body names those jobs); or a profile asked for under
 *        FLAMESHOT_PROFILING_ENABLED=false (error "profiling disabled")
 *   429  the job queue is full, or each matching target's container has its
 *        share of it (FLAMESHOT_MAX_QUEUED_PER_CONTAINER) waiting
 *   503  the agent is shutting down
 *
 * Thread-safe: runs in HTTP server threads; takes the target table lock
 * while it matches and queues. */
#ifndef FS_HTTP_CAPTURE_API_H
#define FS_HTTP_CAPTURE_API_H

#include "core/config.h"
#include "http/query.h"
#include "policy/trigger.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct monitor;
struct targets;

#define CAPTURE_API_DEFAULT_DURATION_MS 30000
#define CAPTURE_API_MIN_DURATION_MS     1000
#define CAPTURE_API_MAX_DURATION_MS     300000 /* Flameshot cuts a job at 5 min */
#define CAPTURE_API_MAX_REGEX           1024

struct capture_api_request {
    enum capture_kind capture;
    int pid;  /* 0: not by pid */
    void *re; /* rx_compile() of command (untrusted); NULL when by pid or Pod only */
    char command[CAPTURE_API_MAX_REGEX + 1];
    bool command_ignored; /* both pid and command were given */
    uint64_t duration_ms; /* profiles */
    unsigned events;      /* PROF_EV_* mask; 0: each target's rule events */
    int snapshot_type;    /* snapshots: enum snapshot_type, -1 both */
    char namespace_[64];
    char pod[254];
    char container[254];
};

/* The parameters each endpoint accepts, for query_parse (ends {NULL, 0}). */
const struct query_spec *capture_api_params(enum capture_kind capture);

/* Checks the parsed parameters of one endpoint and compiles the regex.
 * kubernetes: whether namespace/pod/container may be given. Returns 0 (free
 * req with capture_api_request_free) or -EINVAL with a one-line reason for a 400
 * in detail. */
int capture_api_parse(enum capture_kind capture, const struct httpq *q, bool kubernetes,
                      struct capture_api_request *req, char *detail, size_t cap);
void capture_api_request_free(struct capture_api_request *req);

struct capture_api_deps {
    const struct config *cfg;
    struct targets *targets;
    struct monitor *monitor;
};

/* Resolves req and queues its jobs. Returns the HTTP status (see above) and
 * *body: the JSON answer ({"error", "detail", ...} unless 202), owned by the
 * caller; *body is NULL only on ENOMEM (then the status is 500). Reads
 * /proc/<pid> (for the log) when a pid is not a target. */
int capture_api_run(const struct capture_api_deps *d, const struct capture_api_request *req,
                    struct cJSON **body);

#endif
