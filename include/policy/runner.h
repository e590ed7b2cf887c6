/* runner: the job executor. Turns a job into a capture (capture.h) and
 * commits what the capture produced to the outbox with the metadata the
 * sinks need (artefact.h). Runs in job worker threads; thread-safe. */
#ifndef FS_RUNNER_H
#define FS_RUNNER_H

#include "outbox/artefact.h"
#include "core/config.h"
#include "policy/jobs.h"
#include "policy/targets.h"

struct outbox;
struct metrics;
struct gopprof_store;

struct upload;
struct journal;

struct runner {
    const struct config *cfg;
    struct outbox *outbox;
    struct metrics *metrics;
    struct gopprof_store *gopprof; /* Go targets' baselines (gopprof.h); NULL: none kept */
    struct upload *upload;         /* heap dumps to object storage (outbox/upload.h); NULL: off */
    struct podtable *pods;         /* Kubernetes mode: asked before every attach; NULL outside */
    struct journal *journal;       /* profiles in progress (capture/journal.h); NULL: none kept */
};

/* What the runner needs to know about a target beyond its identity,
 * copied when the job is submitted (the target may be gone by the time
 * the job runs). */
struct runner_target {
    char service[128];
    char container_id[65];
    struct target_pod pod;
    /* Kubernetes: the Pod's configuration (a reference: it keeps the job's
     * rule valid and gives the artefacts their Pod's tags); NULL outside */
    struct podref *pod_ref;
    struct target_settings settings;
    bool snapshot_only_types; /* HTTP asked for one snapshot type */
    int snapshot_type;        /* enum snapshot_type when snapshot_only_types */
};

/* A payload for jobs_submit (free with runner_target_free). NULL on ENOMEM. */
struct runner_target *runner_target_new(const struct target *tg);
void runner_target_free(void *payload);

/* The same, filled in place (for records made at once, not by a job);
 * release it with runner_target_release. */
void runner_target_fill(struct runner_target *rt, const struct target *tg);

/* A copy of src into dst that holds its own reference. */
void runner_target_copy(struct runner_target *dst, const struct runner_target *src);

/* Drops the Pod reference a filled runner_target holds. NULL-safe. */
void runner_target_release(struct runner_target *rt);

/* Starts the metadata every artefact and record about a process carries:
 * FLAMESHOT_SERVICE and the target's service, the node as host, the
 * process's pid/nspid/name, FLAMESHOT_TAGS, the rule's tags (rule may be
 * NULL), its Kubernetes identity, and trigger (may be NULL). In a Pod the
 * service is its Pod's (podconfig_service, no FLAMESHOT_SERVICE over it)
 * and the tags podconfig_tags': FLAMESHOT_TAGS, version, flameshot.io/tags,
 * the rule's, then the Pod's and container's identity. m is
 * initialised here; the caller frees it with artefact_meta_free() whatever
 * this returns. 0 or -ENOMEM. */
int runner_meta_base(struct artefact_meta *m, enum artefact_kind kind, const struct config *cfg,
                     const struct runner_target *rt, const struct proc_ident *id,
                     const struct rule *rule, const char *trigger);

/* A jobs_cancel_fn (arg: the struct podtable *, NULL outside Kubernetes):
 * true, with why, for a queued job whose process may not be attached to
 * now (podtable_may_attach: its Pod opted out, was deleted or ended, its
 * container replaced), and for a running one whose Pod opted out (a
 * running capture of a deleted or ended Pod finishes). The monitor
 * cancels such jobs when the Pods change. */
bool runner_job_forbidden(const struct job *job, void *pods, char *why, size_t cap);

/* The jobs_exec_fn: arg is a struct runner *. In Kubernetes mode a job of
 * a process that may not be attached to now (podtable_may_attach) ends
 * cancelled, with the reason, without touching the process. Profiles write one JFR
 * artefact; snapshots one text artefact per jcmd command (each with its
 * summary record). A Go target's profile (a go rule) is pulled over HTTP
 * (gopprof.h) into one artefact of its attachments; a snapshot of one
 * fails (jcmd is for Java). Blocks for the capture. */
void runner_exec(const struct job *job, struct job_result *res, void *arg);

#endif
