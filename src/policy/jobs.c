#include "policy/jobs.h"

#include "core/json.h"
#include "core/log.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_PERIOD_MS 200
/* After the grace, how long jobs_stop still waits for workers to return:
 * enough for a capture step to give up its helper (nsexec: 2 x 2 s). */
#define STOP_JOIN_MS 5000

struct jobs {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* queue, running set or stopping changed */
    jobs_exec_fn exec;
    void *exec_arg;
    struct metrics *metrics;
    uint64_t next_id;
    bool stopping;

    struct job **queue; /* queued jobs, routine and urgent */
    int queue_cap, queue_len;
    /* one slot per worker: n_workers routine ones, then the urgent ones */
    struct job **running;
    int n_workers, n_slots;
    int tenant_running, tenant_queued; /* per-tenant limits */
    uint64_t clock;                    /* the turn of the latest job started */
    struct job **history;              /* ring of finished jobs, newest at hist_head-1 */
    int hist_cap, hist_len, hist_head;

    pthread_t *threads;
    pthread_t watchdog;
    int n_started;
    bool watchdog_started;
};

static const char *const state_names[] = {
    "queued", "running", "done", "failed", "target_exited", "cancelled",
};

const char *job_state_name(enum job_state state)
{
    return (unsigned)state <= JOB_CANCELLED ? state_names[state] : "unknown";
}

static void job_free(struct job *job)
{
    if (!job)
        return;
    if (job->payload_free)
        job->payload_free(job->payload);
    trigger_free(&job->trigger);
    if (job->cancel_fd >= 0)
        close(job->cancel_fd);
    free(job);
}

static void signal_cancel(struct job *job)
{
    uint64_t one = 1;
    ssize_t unused = write(job->cancel_fd, &one, sizeof(one));
    (void)unused;
}

static bool same_target(const struct job *a, const struct proc_ident *t)
{
    return a->target.pid == t->pid && a->target.start_time == t->start_time;
}

static bool urgent_slot(const struct jobs *j, int slot)
{
    return slot >= j->n_workers;
}

/* A queued or running job of that kind for the process (only urgent ones
 * when urgent_only: urgent evidence never waits on a routine duplicate).
 * Called with the lock held. */
static struct job *find_active(struct jobs *j, const struct proc_ident *t, enum capture_kind kind,
                               bool urgent_only)
{
    for (int i = 0; i < j->queue_len; i++) {
        const struct job *q = j->queue[i];
        if (same_target(q, t) && q->trigger.capture == kind && (q->urgent || !urgent_only))
            return j->queue[i];
    }
    for (int i = 0; i < j->n_slots; i++) {
        const struct job *r = j->running[i];
        if (r && same_target(r, t) && r->trigger.capture == kind && (r->urgent || !urgent_only))
            return j->running[i];
    }
    return NULL;
}

/* Queued jobs of one lane. Lock held. */
static int queued_in(const struct jobs *j, bool urgent)
{
    int n = 0;
    for (int i = 0; i < j->queue_len; i++)
        n += j->queue[i]->urgent == urgent;
    return n;
}

static void record_outcome(struct jobs *j, const struct job *job)
{
    switch (job->state) {
    case JOB_DONE:
        metrics_inc(j->metrics, jobs[MJ_DONE]);
        break;
    case JOB_TARGET_EXITED:
        metrics_inc(j->metrics, jobs[MJ_TARGET_EXITED]);
        break;
    case JOB_CANCELLED:
        metrics_inc(j->metrics, jobs[MJ_CANCELLED]);
        break;
    default:
        metrics_inc(j->metrics, jobs[MJ_FAILED]);
        break;
    }
}

/* Moves a finished job into the history ring, its cancel eventfd closed.
 * Lock held. */
static void retire(struct jobs *j, struct job *job)
{
    job->finished_ns = units_now_real_ns();
    /* nothing signals an ended job: the history would hold one fd per job */
    if (job->cancel_fd >= 0) {
        close(job->cancel_fd);
        job->cancel_fd = -1;
    }
    record_outcome(j, job);
    if (j->hist_len == j->hist_cap) {
        job_free(j->history[j->hist_head]);
        j->hist_len--;
    }
    j->history[j->hist_head] = job;
    j->hist_head = (j->hist_head + 1) % j->hist_cap;
    j->hist_len++;
}

/* A tenant's part of the queue and of the workers. */
struct share {
    int queued, running;
    bool any;           /* it has a job queued or running */
    uint64_t last_turn; /* the latest turn among them */
};

static void share_add(struct share *s, const struct job *job, const char *tenant, int *count)
{
    if (job->urgent || strcmp(job->tenant, tenant) != 0)
        return; /* the urgent lane is nobody's share */
    (*count)++;
    if (!s->any || job->turn > s->last_turn)
        s->last_turn = job->turn;
    s->any = true;
}

/* Lock held. */
static struct share tenant_share(struct jobs *j, const char *tenant)
{
    struct share s = {0};
    for (int i = 0; i < j->queue_len; i++)
        share_add(&s, j->queue[i], tenant, &s.queued);
    for (int i = 0; i < j->n_workers; i++)
        if (j->running[i])
            share_add(&s, j->running[i], tenant, &s.running);
    return s;
}

int jobs_set_tenant_limits(struct jobs *j, int running, int queued)
{
    if (running < 1 || running > j->n_workers || queued < 1 || queued > j->queue_cap)
        return -EINVAL;
    pthread_mutex_lock(&j->lock);
    j->tenant_running = running;
    j->tenant_queued = queued;
    pthread_cond_broadcast(&j->changed); /* a raised limit may free a queued job */
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* Why the request cannot be queued (as jobs_submit returns it), or 0.
 * Lock held. */
static int refusal(struct jobs *j, const struct job_request *req, const struct share *sh,
                   uint64_t *id)
{
    struct job *dup = find_active(j, &req->target, req->trigger.capture, req->urgent);
    if (j->stopping)
        return -ESHUTDOWN;
    if (dup) {
        *id = dup->id;
        return -EEXIST;
    }
    if (queued_in(j, req->urgent) >= (req->urgent ? JOBS_URGENT_QUEUE : j->queue_cap))
        return -ENOSPC;
    return !req->urgent && sh->queued >= j->tenant_queued ? -EDQUOT : 0;
}

static void count_refusal(struct jobs *j, int rc)
{
    enum metrics_job_rejection why = rc == -EEXIST   ? MR_DUPLICATE
                                     : rc == -EDQUOT ? MR_TENANT_QUEUE_FULL
                                     : rc == -ENOSPC ? MR_QUEUE_FULL
                                                     : MR_SHUTTING_DOWN;
    metrics_inc(j->metrics, jobs[MJ_REJECTED]);
    metrics_inc(j->metrics, jobs_rejected[why]);
}

int jobs_submit(struct jobs *j, struct job_request *req, uint64_t *id)
{
    struct job *job = calloc(1, sizeof(*job));
    if (!job)
        return -ENOMEM;
    job->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (job->cancel_fd < 0) {
        free(job);
        return -errno;
    }
    snprintf(job->tenant, sizeof(job->tenant), "%s",
             req->tenant && req->tenant[0] ? req->tenant : "host");
    pthread_mutex_lock(&j->lock);
    struct share sh = tenant_share(j, job->tenant);
    int rc = refusal(j, req, &sh, id);
    if (rc < 0) {
        pthread_mutex_unlock(&j->lock);
        count_refusal(j, rc);
        close(job->cancel_fd);
        free(job);
        return rc;
    }
    /* start-time fair queueing: a tenant's next job comes after its
     * previous one, a newcomer's at the current turn */
    job->turn = sh.any && sh.last_turn + 1 > j->clock ? sh.last_turn + 1 : j->clock;
    job->id = ++j->next_id;
    job->urgent = req->urgent;
    job->state = JOB_QUEUED;
    job->target = req->target;
    job->rule = req->rule;
    snprintf(job->service, sizeof(job->service), "%s", req->service ? req->service : "");
    job->trigger = req->trigger;
    job->deadline_ms = req->budget_ms; /* relative until started */
    job->payload = req->payload;
    job->payload_free = req->payload_free;
    job->created_ns = units_now_real_ns();
    job->created_mono_ns = units_now_mono_ns();
    memset(&req->trigger, 0, sizeof(req->trigger));
    req->payload = NULL;
    j->queue[j->queue_len++] = job;
    *id = job->id;
    pthread_cond_broadcast(&j->changed);
    pthread_mutex_unlock(&j->lock);
    return 0;
}

bool jobs_busy(struct jobs *j, const struct proc_ident *target, enum capture_kind kind)
{
    pthread_mutex_lock(&j->lock);
    bool busy = find_active(j, target, kind, false) != NULL;
    pthread_mutex_unlock(&j->lock);
    return busy;
}

/* Whether a job of the process runs: any job for a routine one (the
 * evidence goes first), an urgent one for an urgent one. */
static bool target_running(struct jobs *j, const struct proc_ident *t, bool urgent)
{
    for (int i = urgent ? j->n_workers : 0; i < j->n_slots; i++)
        if (j->running[i] && same_target(j->running[i], t))
            return true;
    return false;
}

static int tenant_running(struct jobs *j, const char *tenant)
{
    int n = 0;
    for (int i = 0; i < j->n_workers; i++)
        n += j->running[i] && strcmp(j->running[i]->tenant, tenant) == 0;
    return n;
}

/* Whether an urgent job of the process waits in the queue: a routine one
 * then waits too, so that an emergency's profile never slips in between
 * its snapshots and its heap dump. Lock held. */
static bool urgent_queued(const struct jobs *j, const struct proc_ident *t)
{
    for (int i = 0; i < j->queue_len; i++)
        if (j->queue[i]->urgent && same_target(j->queue[i], t))
            return true;
    return false;
}

/* The queued job of the lane with the lowest turn (the oldest among
 * equals; urgent jobs: the oldest) whose process has nothing running (nor,
 * routine jobs, an urgent job queued) and,
 * routine jobs, whose tenant is below its limit of running jobs. One
 * routine capture per JVM at a time, so two attaches never race to start
 * its listener (the loser's SIGQUIT would print a thread dump on the
 * app's stdout); an urgent one does not wait for that. */
static int runnable(struct jobs *j, bool urgent)
{
    int best = -1;
    for (int i = 0; i < j->queue_len; i++) {
        const struct job *q = j->queue[i];
        if (q->urgent != urgent || target_running(j, &q->target, urgent) ||
            (!urgent &&
             (urgent_queued(j, &q->target) || tenant_running(j, q->tenant) >= j->tenant_running)))
            continue;
        if (best < 0 || (!urgent && q->turn < j->queue[best]->turn))
            best = i;
    }
    return best;
}

/* Lock held; returns the next job of the lane or NULL when stopping. */
static struct job *take_next(struct jobs *j, bool urgent)
{
    int i = -1;
    while (!j->stopping && (i = runnable(j, urgent)) < 0)
        pthread_cond_wait(&j->changed, &j->lock);
    if (j->stopping)
        return NULL;
    struct job *job = j->queue[i];
    memmove(j->queue + i, j->queue + i + 1, (size_t)(--j->queue_len - i) * sizeof(*j->queue));
    if (!urgent && job->turn > j->clock)
        j->clock = job->turn;
    return job;
}

static void apply_result(struct job *job, const struct job_result *res)
{
    job->state = res->state;
    if (res->state == JOB_CANCELLED && job->cancel_why[0]) /* jobs_cancel_if said why */
        snprintf(job->reason, sizeof(job->reason), "%s%s%s", job->cancel_why,
                 res->reason[0] ? "; " : "", res->reason);
    else
        snprintf(job->reason, sizeof(job->reason), "%s", res->reason);
    if (res->detail[0])
        snprintf(job->detail, sizeof(job->detail), "%s", res->detail);
    job->n_artefacts = res->n_artefacts < JOB_MAX_ARTEFACTS ? res->n_artefacts : JOB_MAX_ARTEFACTS;
    memcpy(job->artefacts, res->artefacts, sizeof(job->artefacts));
    if (job->state == JOB_RUNNING || job->state == JOB_QUEUED) {
        job->state = JOB_FAILED;
        snprintf(job->reason, sizeof(job->reason), "executor returned without a result");
    }
}

static void run_one(struct jobs *j, int slot, struct job *job)
{
    job->state = JOB_RUNNING;
    job->started_ns = units_now_real_ns();
    job->deadline_ms = units_now_mono_ms() + job->deadline_ms;
    j->running[slot] = job;
    pthread_mutex_unlock(&j->lock);

    struct job_result res = {.state = JOB_RUNNING};
    j->exec(job, &res, j->exec_arg);

    pthread_mutex_lock(&j->lock);
    apply_result(job, &res);
    j->running[slot] = NULL;
    retire(j, job);
    pthread_cond_broadcast(&j->changed);
}

struct worker_arg {
    struct jobs *jobs;
    int slot;
};

static void *worker_main(void *p)
{
    struct worker_arg *wa = p;
    struct jobs *j = wa->jobs;
    int slot = wa->slot;
    free(wa);
    pthread_mutex_lock(&j->lock);
    for (;;) {
        struct job *job = take_next(j, urgent_slot(j, slot));
        if (!job)
            break;
        run_one(j, slot, job);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* A capture that overruns its deadline is told to stop, like on shutdown:
 * a hung JVM must not hold a worker forever. */
static void *watchdog_main(void *p)
{
    struct jobs *j = p;
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        uint64_t now = units_now_mono_ms();
        for (int i = 0; i < j->n_slots; i++) {
            struct job *job = j->running[i];
            if (job && job->deadline_ms && now > job->deadline_ms && !job->detail[0]) {
                snprintf(job->detail, sizeof(job->detail), "deadline exceeded");
                log_warn("jobs", "job %llu exceeded its deadline, cancelling",
                         (unsigned long long)job->id);
                signal_cancel(job);
            }
        }
        struct timespec ts;
        units_timespec_in(CLOCK_MONOTONIC, WATCHDOG_PERIOD_MS, &ts);
        pthread_cond_timedwait(&j->changed, &j->lock, &ts);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static int start_threads(struct jobs *j)
{
    for (int i = 0; i < j->n_slots; i++) {
        struct worker_arg *wa = malloc(sizeof(*wa));
        if (!wa)
            return -ENOMEM;
        wa->jobs = j;
        wa->slot = i;
        int rc = pthread_create(&j->threads[i], NULL, worker_main, wa);
        if (rc) {
            free(wa);
            return -rc;
        }
        j->n_started++;
    }
    int rc = pthread_create(&j->watchdog, NULL, watchdog_main, j);
    if (rc)
        return -rc;
    j->watchdog_started = true;
    return 0;
}

static int init_cond(struct jobs *j)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&j->changed, &attr);
    pthread_condattr_destroy(&attr);
    return -rc;
}

struct jobs *jobs_new(int workers, int queue_cap, int history_cap, jobs_exec_fn exec, void *arg,
                      struct metrics *metrics)
{
    struct jobs *j = calloc(1, sizeof(*j));
    if (!j || workers < 1 || queue_cap < 1 || history_cap < 1) {
        free(j);
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->exec = exec;
    j->exec_arg = arg;
    j->metrics = metrics;
    j->n_workers = workers;
    j->n_slots = workers + JOBS_URGENT_WORKERS;
    j->queue_cap = queue_cap;
    j->tenant_running = workers;
    j->tenant_queued = queue_cap;
    j->hist_cap = history_cap;
    j->queue = calloc((size_t)queue_cap + JOBS_URGENT_QUEUE, sizeof(*j->queue));
    j->running = calloc((size_t)j->n_slots, sizeof(*j->running));
    j->history = calloc((size_t)history_cap, sizeof(*j->history));
    j->threads = calloc((size_t)j->n_slots, sizeof(*j->threads));
    if (!j->queue || !j->running || !j->history || !j->threads || init_cond(j) < 0 ||
        start_threads(j) < 0) {
        jobs_stop(j, 0);
        jobs_free(j);
        return NULL;
    }
    return j;
}

int jobs_queued(struct jobs *j)
{
    pthread_mutex_lock(&j->lock);
    int n = j->queue_len;
    pthread_mutex_unlock(&j->lock);
    return n;
}

static int count_running(struct jobs *j)
{
    int n = 0;
    for (int i = 0; i < j->n_slots; i++)
        n += j->running[i] != NULL;
    return n;
}

int jobs_running(struct jobs *j)
{
    pthread_mutex_lock(&j->lock);
    int n = count_running(j);
    pthread_mutex_unlock(&j->lock);
    return n;
}

static void cancel_all(struct jobs *j)
{
    while (j->queue_len) {
        struct job *job = j->queue[--j->queue_len];
        job->state = JOB_CANCELLED;
        snprintf(job->reason, sizeof(job->reason), "agent shutting down before the job started");
        retire(j, job);
    }
    for (int i = 0; i < j->n_slots; i++)
        if (j->running[i]) {
            snprintf(j->running[i]->detail, sizeof(j->running[i]->detail), "agent shutting down");
            signal_cancel(j->running[i]);
        }
}

int jobs_cancel_if(struct jobs *j, jobs_cancel_fn fn, void *arg)
{
    char why[sizeof(((struct job *)0)->reason)];
    int n = 0;
    pthread_mutex_lock(&j->lock);
    for (int i = 0; i < j->queue_len;) {
        struct job *job = j->queue[i];
        if (!fn(job, arg, why, sizeof(why))) {
            i++;
            continue;
        }
        memmove(j->queue + i, j->queue + i + 1, (size_t)(--j->queue_len - i) * sizeof(*j->queue));
        job->state = JOB_CANCELLED;
        snprintf(job->reason, sizeof(job->reason), "%s", why);
        log_info("jobs", "job %llu cancelled before it started: %s", (unsigned long long)job->id,
                 why);
        retire(j, job);
        n++;
    }
    for (int i = 0; i < j->n_slots; i++) {
        struct job *job = j->running[i];
        if (!job || job->cancel_why[0] || !fn(job, arg, why, sizeof(why)))
            continue;
        snprintf(job->cancel_why, sizeof(job->cancel_why), "%s", why);
        log_info("jobs", "job %llu asked to stop: %s", (unsigned long long)job->id, why);
        signal_cancel(job);
        n++;
    }
    if (n)
        pthread_cond_broadcast(&j->changed); /* a slot in the queue, a turn */
    pthread_mutex_unlock(&j->lock);
    return n;
}

/* Joins the started workers until deadline_ms (monotonic); those still
 * busy are kept at the front of threads. Returns how many are left. */
static int join_until(struct jobs *j, uint64_t deadline_ms)
{
    int left = 0;
    for (int i = 0; i < j->n_started; i++) {
        uint64_t now = units_now_mono_ms();
        struct timespec ts; /* pthread_timedjoin_np's clock is CLOCK_REALTIME */
        units_timespec_in(CLOCK_REALTIME, deadline_ms > now ? deadline_ms - now : 0, &ts);
        if (pthread_timedjoin_np(j->threads[i], NULL, &ts) != 0)
            j->threads[left++] = j->threads[i];
    }
    j->n_started = left;
    return left;
}

int jobs_stop(struct jobs *j, uint64_t grace_ms)
{
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    cancel_all(j);
    pthread_cond_broadcast(&j->changed);
    struct timespec ts;
    units_timespec_in(CLOCK_MONOTONIC, grace_ms, &ts);
    while (count_running(j) > 0)
        if (pthread_cond_timedwait(&j->changed, &j->lock, &ts) == ETIMEDOUT)
            break;
    if (count_running(j) > 0)
        log_warn("jobs",
                 "%d job(s) still running after %llums; waiting up to %dms more for them to "
                 "honour cancellation",
                 count_running(j), (unsigned long long)grace_ms, STOP_JOIN_MS);
    pthread_mutex_unlock(&j->lock);
    if (j->watchdog_started)
        pthread_join(j->watchdog, NULL); /* it ends as soon as it sees stopping */
    j->watchdog_started = false;
    int left = join_until(j, units_now_mono_ms() + STOP_JOIN_MS);
    if (left)
        log_warn("jobs", "%d worker(s) stuck in a capture after %llums; leaving them", left,
                 (unsigned long long)grace_ms + STOP_JOIN_MS);
    return left ? -ETIMEDOUT : 0;
}

void jobs_free(struct jobs *j)
{
    if (!j || join_until(j, 0) > 0)
        return; /* a worker left by jobs_stop may still touch it: leaked */
    for (int i = 0; i < j->queue_len; i++)
        job_free(j->queue[i]);
    for (int i = 0; i < j->hist_len; i++)
        job_free(j->history[(j->hist_head + j->hist_cap - 1 - i) % j->hist_cap]);
    free(j->queue);
    free(j->running);
    free(j->history);
    free(j->threads);
    pthread_cond_destroy(&j->changed);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static cJSON *job_json(const struct job *job)
{
    cJSON *o = cJSON_CreateObject();
    char ev[128];
    cJSON_AddNumberToObject(o, "id", (double)job->id);
    cJSON_AddStringToObject(o, "state", job_state_name(job->state));
    cJSON_AddStringToObject(o, "capture", capture_kind_name(job->trigger.capture));
    cJSON_AddStringToObject(o, "trigger", trigger_kind_name(job->trigger.kind));
    cJSON *why = cJSON_AddObjectToObject(o, "trigger_tags");
    for (size_t i = 0; i < job->trigger.why.n; i++)
        cJSON_AddStringToObject(why, job->trigger.why.items[i].key,
                                job->trigger.why.items[i].value);
    cJSON *t = cJSON_AddObjectToObject(o, "target");
    cJSON_AddNumberToObject(t, "pid", job->target.pid);
    cJSON_AddNumberToObject(t, "nspid", job->target.nspid);
    cJSON_AddStringToObject(t, "process_name", job->target.comm);
    if (job->service[0])
        cJSON_AddStringToObject(o, "service", job->service);
    cJSON_AddStringToObject(o, "tenant", job->tenant);
    cJSON_AddBoolToObject(o, "urgent", job->urgent);
    if (job->trigger.capture == CAPTURE_PROFILE) {
        cJSON_AddNumberToObject(o, "duration_ms", (double)job->trigger.duration_ms);
        cJSON_AddStringToObject(o, "events",
                                prof_events_format(job->trigger.events, ev, sizeof(ev)));
    }
    json_add_time(o, "created", job->created_ns);
    /* the moment of queueing on the clock a detection bench compares with
     * (CLOCK_MONOTONIC, ns; exact to the ns, unlike "created") */
    cJSON_AddNumberToObject(o, "queued_mono_ns", (double)job->created_mono_ns);
    if (job->trigger.seen_mono_ns) /* the event source's moment: queued less it is the agent's */
        cJSON_AddNumberToObject(o, "detected_mono_ns", (double)job->trigger.seen_mono_ns);
    json_add_time(o, "started", job->started_ns);
    json_add_time(o, "finished", job->finished_ns);
    cJSON_AddStringToObject(o, "reason", job->reason);
    cJSON_AddStringToObject(o, "detail", job->detail);
    cJSON *arts = cJSON_AddArrayToObject(o, "artefacts");
    for (int i = 0; i < job->n_artefacts; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "kind", job->artefacts[i].kind);
        cJSON_AddStringToObject(a, "name", job->artefacts[i].name);
        cJSON_AddNumberToObject(a, "bytes", (double)job->artefacts[i].bytes);
        cJSON_AddBoolToObject(a, "complete", !job->artefacts[i].partial);
        cJSON_AddItemToArray(arts, a);
    }
    return o;
}

/* Visits every job newest first (running and queued before history). */
static void each_job(struct jobs *j, void (*fn)(const struct job *, void *), void *arg)
{
    for (int i = j->queue_len - 1; i >= 0; i--)
        fn(j->queue[i], arg);
    for (int i = 0; i < j->n_slots; i++)
        if (j->running[i])
            fn(j->running[i], arg);
    for (int i = 0; i < j->hist_len; i++)
        fn(j->history[(j->hist_head + j->hist_cap - 1 - i) % j->hist_cap], arg);
}

static void add_to_array(const struct job *job, void *arg)
{
    cJSON_AddItemToArray(arg, job_json(job));
}

cJSON *jobs_list_json(struct jobs *j)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&j->lock);
    each_job(j, add_to_array, arr);
    pthread_mutex_unlock(&j->lock);
    return arr;
}

struct find_arg {
    uint64_t id;
    cJSON *found;
};

static void match_id(const struct job *job, void *arg)
{
    struct find_arg *fa = arg;
    if (!fa->found && job->id == fa->id)
        fa->found = job_json(job);
}

cJSON *jobs_get_json(struct jobs *j, uint64_t id)
{
    struct find_arg fa = {.id = id};
    pthread_mutex_lock(&j->lock);
    each_job(j, match_id, &fa);
    pthread_mutex_unlock(&j->lock);
    return fa.found;
}

struct arts_arg {
    const struct proc_ident *target;
    char *buf;
    size_t cap, len;
    uint64_t since_ns; /* jobs_evidence_text: finished after this */
};

/* Appends ", " (unless first) and the formatted text; cut at the cap. */
static void arts_add(struct arts_arg *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void arts_add(struct arts_arg *a, const char *fmt, ...)
{
    char item[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof(item), fmt, ap);
    va_end(ap);
    if (a->len + 1 >= a->cap)
        return;
    int n = snprintf(a->buf + a->len, a->cap - a->len, "%s%s", a->len ? ", " : "", item);
    if (n > 0)
        a->len += (size_t)n < a->cap - a->len ? (size_t)n : a->cap - a->len - 1;
}

static void add_arts(const struct job *job, void *arg)
{
    struct arts_arg *a = arg;
    if (!same_target(job, a->target))
        return;
    for (int i = 0; i < job->n_artefacts; i++)
        arts_add(a, "%s:%s", job->artefacts[i].kind, job->artefacts[i].name);
}

void jobs_artefacts_text(struct jobs *j, const struct proc_ident *target, char *buf, size_t cap)
{
    struct arts_arg a = {.target = target, .buf = buf, .cap = cap};
    if (cap)
        buf[0] = '\0';
    pthread_mutex_lock(&j->lock);
    each_job(j, add_arts, &a);
    pthread_mutex_unlock(&j->lock);
}

static void add_evidence(const struct job *job, void *arg)
{
    struct arts_arg *a = arg;
    if (!same_target(job, a->target) || job->trigger.capture != CAPTURE_SNAPSHOT)
        return;
    if (job->state == JOB_QUEUED || job->state == JOB_RUNNING) {
        arts_add(a, "snapshot job %llu: in progress", (unsigned long long)job->id);
        return;
    }
    if (job->finished_ns < a->since_ns)
        return;
    for (int i = 0; i < job->n_artefacts; i++)
        arts_add(a, "%s:%s%s", job->artefacts[i].kind, job->artefacts[i].name,
                 job->artefacts[i].partial ? " (partial)" : "");
}

/* Whether an urgent job of the process is queued or running. Lock held. */
static bool urgent_pending(struct jobs *j, const struct proc_ident *t)
{
    for (int i = 0; i < j->queue_len; i++)
        if (j->queue[i]->urgent && same_target(j->queue[i], t))
            return true;
    return target_running(j, t, true);
}

int jobs_evidence_text(struct jobs *j, const struct proc_ident *target, uint64_t wait_ms, char *buf,
                       size_t cap)
{
    uint64_t now = units_now_real_ns(), window = (uint64_t)JOBS_EVIDENCE_WINDOW_MS * 1000000ull;
    struct arts_arg a = {
        .target = target, .buf = buf, .cap = cap, .since_ns = now > window ? now - window : 0};
    struct timespec ts;
    int rc = 0;
    if (cap)
        buf[0] = '\0';
    units_timespec_in(CLOCK_MONOTONIC, wait_ms, &ts);
    pthread_mutex_lock(&j->lock);
    while (urgent_pending(j, target))
        if (pthread_cond_timedwait(&j->changed, &j->lock, &ts) == ETIMEDOUT) {
            rc = urgent_pending(j, target) ? -ETIMEDOUT : 0;
            break;
        }
    each_job(j, add_evidence, &a);
    pthread_mutex_unlock(&j->lock);
    return rc;
}
