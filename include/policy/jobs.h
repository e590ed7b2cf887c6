/* jobs: the bounded queue every capture goes through. Every trigger
 * (threshold, emergency, OOM, timer, HTTP) becomes a job; nothing captures
 * directly. Jobs are de-duplicated per target and capture kind, at most
 * `workers` run at once and one at a time per process, each has a
 * deadline after which it is cancelled,
 * and finished jobs stay listed for the status API. The executor runs in a
 * worker thread, so monitoring and event handling never wait for a
 * capture.
 *
 * Fairness: every job belongs to a tenant (the submitter names it: a
 * container, a cgroup). Per tenant, at most `running` jobs run at once and
 * at most `queued` wait (jobs_set_tenant_limits), so one container's slow
 * or fake JVMs cannot occupy every worker nor the whole queue; and tenants
 * take turns (start-time fair queueing): a tenant with one job waits behind
 * at most one job of each other tenant, however many they queued.
 *
 * Urgent jobs (evidence the kernel is about to destroy: the jcmd snapshots
 * of a memory emergency) have a lane of their own: JOBS_URGENT_WORKERS
 * workers and a queue of JOBS_URGENT_QUEUE, outside `workers`, the queue
 * cap and the tenant limits. One starts the moment it is submitted, even
 * while routine jobs of the same or other processes run; it only waits for
 * another urgent job of the same process, in the order they came. A
 * routine job does not start while an urgent job of its process is queued
 * or runs (the evidence goes first: a memory emergency's snapshots, then
 * its heap dump, then its profile). */
#ifndef FS_JOBS_H
#define FS_JOBS_H

#include "core/metrics.h"
#include "events/procfs.h"
#include "core/rules.h"
#include "policy/trigger.h"

#include <stdbool.h>
#include <stdint.h>

struct cJSON;

enum job_state {
    JOB_QUEUED = 0,
    JOB_RUNNING,
    JOB_DONE,
    JOB_FAILED,
    JOB_TARGET_EXITED,
    JOB_CANCELLED,
};

#define JOB_MAX_ARTEFACTS   4
#define JOB_TENANT_LEN      256 /* a container id, or a cgroup path (truncated) */
#define JOBS_URGENT_WORKERS 2
#define JOBS_URGENT_QUEUE   8
/* How far back jobs_evidence_text looks: the minutes before a death. */
#define JOBS_EVIDENCE_WINDOW_MS (10 * 60 * 1000)

struct job_artefact {
    char kind[32];  /* "profile", "gc_class_histogram", "thread_print" */
    char name[128]; /* file name or outbox id */
    uint64_t bytes;
    bool partial; /* cut short (the JVM died mid-reply): what arrived */
};

/* What the executor reports; copied into the job under the lock so that
 * readers (the HTTP API) never see a half-written job. */
struct job_result {
    enum job_state state; /* DONE, FAILED, TARGET_EXITED or CANCELLED */
    char reason[256];
    char detail[256]; /* e.g. "library_type=jfr: no async-profiler at ..." */
    struct job_artefact artefacts[JOB_MAX_ARTEFACTS];
    int n_artefacts;
};

/* A job. The executor gets it read-only while it runs; everything is
 * owned by the jobs module. */
struct job {
    uint64_t id;
    enum job_state state;
    struct proc_ident target;
    const struct rule *rule; /* may be NULL; owned by the config */
    char service[128];
    char tenant[JOB_TENANT_LEN]; /* "host" when the request named none */
    bool urgent;                 /* on the urgent lane */
    uint64_t turn;               /* fair-queueing start tag: lowest runs first */
    struct trigger trigger;
    uint64_t created_ns, started_ns, finished_ns; /* real time */
    uint64_t created_mono_ns; /* CLOCK_MONOTONIC when queued (latency benches) */
    uint64_t deadline_ms;     /* monotonic; 0 until started */
    /* eventfd, readable once the job must stop (shutdown, deadline, jobs_cancel_if);
     * -1 once the job has ended */
    int cancel_fd;
    char cancel_why[256]; /* jobs_cancel_if's reason for a running job ("" when none) */
    char reason[256];
    char detail[256];
    struct job_artefact artefacts[JOB_MAX_ARTEFACTS];
    int n_artefacts;
    void *payload; /* the submitter's context for the executor */
    void (*payload_free)(void *payload);
};

struct job_request {
    struct proc_ident target;
    const struct rule *rule;
    const char *service;    /* copied; may be NULL */
    const char *tenant;     /* copied (truncated); NULL or "": "host" */
    bool urgent;            /* the urgent lane (see above) */
    struct trigger trigger; /* moved into the job when jobs_submit succeeds */
    uint64_t budget_ms;     /* time from start to deadline */
    void *payload;          /* moved too; freed with payload_free */
    void (*payload_free)(void *payload);
};

/* Runs one job in a worker thread; must honour job->cancel_fd and fill
 * res. */
typedef void (*jobs_exec_fn)(const struct job *job, struct job_result *res, void *arg);

struct jobs;

/* Starts `workers` threads, and JOBS_URGENT_WORKERS for urgent jobs.
 * queue_cap bounds queued (not running) routine jobs;
 * history_cap bounds the finished jobs kept for listing. NULL on error. */
struct jobs *jobs_new(int workers, int queue_cap, int history_cap, jobs_exec_fn exec, void *arg,
                      struct metrics *metrics);

/* Per tenant: at most `running` jobs run at once (1..workers) and at most
 * `queued` wait (1..queue_cap). Until called, a tenant may use every
 * worker and the whole queue. Returns 0 or -EINVAL (out of range). */
int jobs_set_tenant_limits(struct jobs *jobs, int running, int queued);

/* Queues a job. Returns 0 and sets *id; -EEXIST when a job of the same
 * capture kind for the same process is queued or running (*id is that
 * job; an urgent request only counts urgent jobs); -EDQUOT when the
 * request's tenant already has its limit of queued jobs (never for an
 * urgent one); -ENOSPC when its queue (routine or urgent) is full;
 * -ESHUTDOWN once stopping. Every
 * refusal is counted in metrics jobs[MJ_REJECTED] and jobs_rejected[].
 * On error the request keeps ownership of its trigger and payload. */
int jobs_submit(struct jobs *jobs, struct job_request *req, uint64_t *id);

/* True when a job of that kind is queued or running for the process. */
bool jobs_busy(struct jobs *jobs, const struct proc_ident *target, enum capture_kind kind);

/* Picks the jobs jobs_cancel_if cancels: true with why filled. Called with
 * the queue's lock held: must neither block nor call into jobs. */
typedef bool (*jobs_cancel_fn)(const struct job *job, void *arg, char *why, size_t cap);

/* Cancels the queued jobs fn picks (they end cancelled with its reason,
 * never started) and asks the running ones it picks to stop (their
 * cancel_fd; one the executor reports cancelled ends with that reason).
 * Any thread; never blocks beyond the lock. Returns how many it picked. */
int jobs_cancel_if(struct jobs *jobs, jobs_cancel_fn fn, void *arg);

/* JSON of one job (NULL if unknown) or of every job (newest first). */
struct cJSON *jobs_get_json(struct jobs *jobs, uint64_t id);
struct cJSON *jobs_list_json(struct jobs *jobs);

/* The artefacts of the process's finished jobs, newest first, as
 * "kind:name" joined by ", " into buf ("" when none). */
void jobs_artefacts_text(struct jobs *jobs, const struct proc_ident *target, char *buf, size_t cap);

/* The story of a process's last minutes, for the record of its death:
 * first waits up to wait_ms for its urgent jobs (queued or running: a
 * snapshot cut by the kill ends right after it), then writes into buf the
 * snapshot artefacts of its jobs finished within JOBS_EVIDENCE_WINDOW_MS,
 * newest first, as "kind:name" (" (partial)" when cut short), and its
 * snapshot jobs still queued or running as "snapshot job <id>: in
 * progress", joined by ", " ("" when none). Blocks up to wait_ms; any
 * thread. Returns 0, or -ETIMEDOUT when an urgent job was still running. */
int jobs_evidence_text(struct jobs *jobs, const struct proc_ident *target, uint64_t wait_ms,
                       char *buf, size_t cap);

/* Jobs queued / running now, urgent ones included. */
int jobs_queued(struct jobs *jobs);
int jobs_running(struct jobs *jobs);

/* Stops accepting jobs, cancels queued ones, asks running ones to stop
 * (their cancel_fd becomes readable) and waits up to grace_ms for them,
 * then joins the workers for at most 5 s more: an executor stuck beyond
 * that (blocked in the kernel) is left running. Returns 0, or -ETIMEDOUT
 * when a worker was left: then nothing it may still use (the executor's
 * argument, the outbox...) may be freed. Blocks at most grace_ms + 5 s. */
int jobs_stop(struct jobs *jobs, uint64_t grace_ms);

/* Frees everything, unless a worker left by jobs_stop is still running:
 * then the module is leaked on purpose (the process is ending). */
void jobs_free(struct jobs *jobs);

const char *job_state_name(enum job_state state);

#endif
