#include "policy/prewarm.h"

#include "core/vec.h"
#include "capture/attach.h"
#include "capture/jvm.h"
#include "capture/nsexec.h"
#include "core/log.h"
#include "core/units.h"
#include "policy/lane.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANE_CAP 256

enum { PW_WAITING = 0, PW_QUEUED, PW_DONE };

/* One watched process: pid and start time name it across pid reuse. */
struct entry {
    int pid;
    uint64_t start_time;
    int state;
    int tries;
    uint64_t due_ms;
    unsigned seen; /* the tick that last found it a target */
};

struct prewarm {
    struct lane *lane;
    struct jobs *jobs;
    struct podtable *pods;
    struct metrics *metrics;
    pthread_mutex_t mu; /* entries: the lane's attempts report back */
    struct entry *e;
    size_t n, cap;
    unsigned tick;
};

/* One attempt, owned by the lane. */
struct attempt {
    struct prewarm *pw;
    struct proc_ident id;
    uint64_t timeout_ms;
    int tries;
    struct podref *pod_ref; /* Kubernetes: the target's Pod (a reference) */
    char container_id[CONTAINERID_ID_LEN];
};

struct prewarm *prewarm_new(const struct config *cfg, struct jobs *jobs, struct podtable *pods,
                            struct metrics *metrics)
{
    if (!cfg->attach_prewarm)
        return NULL;
    struct prewarm *pw = calloc(1, sizeof(*pw));
    if (!pw)
        return NULL;
    pw->jobs = jobs;
    pw->pods = pods;
    pw->metrics = metrics;
    pthread_mutex_init(&pw->mu, NULL);
    pw->lane = lane_new("prewarm", LANE_CAP, metrics);
    if (!pw->lane) {
        pthread_mutex_destroy(&pw->mu);
        free(pw);
        return NULL;
    }
    return pw;
}

int prewarm_stop(struct prewarm *pw, uint64_t grace_ms)
{
    return pw ? lane_stop(pw->lane, grace_ms) : 0;
}

void prewarm_free(struct prewarm *pw)
{
    if (!pw || lane_stop(pw->lane, 0) < 0)
        return; /* an attempt still runs: leave what it uses */
    lane_free(pw->lane);
    pthread_mutex_destroy(&pw->mu);
    free(pw->e);
    free(pw);
}

static struct entry *find(struct prewarm *pw, const struct proc_ident *id)
{
    for (size_t i = 0; i < pw->n; i++)
        if (pw->e[i].pid == id->pid && pw->e[i].start_time == id->start_time)
            return &pw->e[i];
    return NULL;
}

/* Locked. NULL without memory (tried again on the next tick). */
static struct entry *add(struct prewarm *pw, const struct target *tg)
{
    if (vec_grow(&pw->e, &pw->cap, pw->n, sizeof(*pw->e), 16) < 0)
        return NULL;
    struct entry *e = &pw->e[pw->n++];
    *e = (struct entry){.pid = tg->id.pid,
                        .start_time = tg->id.start_time,
                        .due_ms = tg->added_ms + PREWARM_SETTLE_MS};
    return e;
}

/* The attempt's verdict, from the lane. */
static void settle(struct prewarm *pw, const struct proc_ident *id, int state)
{
    pthread_mutex_lock(&pw->mu);
    struct entry *e = find(pw, id);
    if (e) {
        e->state = state;
        e->due_ms = units_now_mono_ms() + PREWARM_SETTLE_MS;
    }
    pthread_mutex_unlock(&pw->mu);
}

/* What one attempt found: PW_DONE, or PW_WAITING to try again later. */
static int warm(const struct attempt *a)
{
    struct jvm *j = NULL;
    char err[768] = "";
    uint64_t t0 = units_now_mono_us();
    if (a->pw->pods &&
        podtable_may_attach(a->pw->pods, a->pod_ref, a->container_id, err, sizeof(err)) < 0) {
        log_info("prewarm", "pid %d: not attached: %s", a->id.pid, err);
        return PW_DONE;
    }
    int rc = jvm_open(&a->id, &j, err, sizeof(err));
    if (rc == -ESRCH || rc == -ENOTSUP) /* gone, or not HotSpot: nothing to warm */
        return PW_DONE;
    if (rc == 0 && jvm_attach_disabled(j)) {
        jvm_close(j);
        log_debug("prewarm", "pid %d: attach is disabled; its listener is left alone", a->id.pid);
        return PW_DONE;
    }
    if (rc == 0)
        rc = attach_prewarm(j, a->timeout_ms, err, sizeof(err));
    jvm_close(j);
    uint64_t ms = (units_now_mono_us() - t0) / 1000;
    if (rc == 1) {
        metrics_inc(a->pw->metrics, prewarmed);
        log_debug("prewarm", "pid %d: attach listener started in %llu ms", a->id.pid,
                  (unsigned long long)ms);
    } else if (rc == 0) {
        log_debug("prewarm", "pid %d: attach listener was running already", a->id.pid);
    } else if (rc == -ENOTSUP && a->tries < PREWARM_TRIES) {
        return PW_WAITING; /* no SIGQUIT handler yet: a JVM still starting */
    } else if (rc != -ESRCH) {
        metrics_inc(a->pw->metrics, prewarm_failed);
        log_debug("prewarm", "pid %d: attach listener not started: %s", a->id.pid, err);
    }
    return PW_DONE;
}

static void attempt_run(void *arg, bool run)
{
    struct attempt *a = arg;
    if (run)
        settle(a->pw, &a->id, warm(a));
    podref_put(a->pod_ref);
    free(a);
}

/* A capture of tg queued or running starts its listener itself. */
static bool capturing(const struct prewarm *pw, const struct target *tg)
{
    return pw->jobs && (jobs_busy(pw->jobs, &tg->id, CAPTURE_SNAPSHOT) ||
                        jobs_busy(pw->jobs, &tg->id, CAPTURE_PROFILE));
}

/* Locked. Queues e's attempt (1); on failure it stays due (0). */
static int post(struct prewarm *pw, struct entry *e, const struct target *tg)
{
    struct attempt *a = calloc(1, sizeof(*a));
    if (!a)
        return 0;
    uint64_t tmo = tg->settings.jcmd_timeout_ms;
    *a = (struct attempt){.pw = pw,
                          .id = tg->id,
                          .timeout_ms = tmo && tmo < PREWARM_TIMEOUT_MS ? tmo : PREWARM_TIMEOUT_MS,
                          .tries = e->tries + 1,
                          .pod_ref = podref_get(tg->pod_ref)};
    if (tg->has_cgroup)
        snprintf(a->container_id, sizeof(a->container_id), "%s", tg->cg.container.id);
    /* a refused post calls attempt_run(a, false) at once: it only frees */
    if (lane_post(pw->lane, "an attach listener pre-warm", attempt_run, a,
                  PREWARM_TIMEOUT_MS + 3 * NSEXEC_KILL_WAIT_MS) < 0)
        return 0;
    e->state = PW_QUEUED;
    e->tries++;
    return 1;
}

int prewarm_tick(struct prewarm *pw, struct targets *t, uint64_t now_ms)
{
    if (!pw)
        return 0;
    bool all = true;
    int queued = 0;
    pthread_mutex_lock(&pw->mu);
    pw->tick++;
    for (size_t i = 0; i < targets_count(t); i++) {
        const struct target *tg = targets_at(t, i);
        if (tg->rule && tg->rule->language != RULE_LANG_JAVA)
            continue; /* no attach listener to start in a Go process */
        struct entry *e = find(pw, &tg->id);
        if (!e && !(e = add(pw, tg))) {
            all = false; /* no memory: the next tick goes on */
            continue;
        }
        e->seen = pw->tick;
        if (e->state == PW_WAITING && now_ms >= e->due_ms && !capturing(pw, tg))
            queued += post(pw, e, tg);
    }
    for (size_t i = 0; all && i < pw->n;) /* processes gone */
        if (pw->e[i].seen != pw->tick)
            pw->e[i] = pw->e[--pw->n];
        else
            i++;
    lane_check(pw->lane, now_ms);
    pthread_mutex_unlock(&pw->mu);
    return queued;
}

int prewarm_busy(struct prewarm *pw)
{
    int n = 0;
    if (!pw)
        return 0;
    pthread_mutex_lock(&pw->mu);
    for (size_t i = 0; i < pw->n; i++)
        n += pw->e[i].state == PW_QUEUED;
    pthread_mutex_unlock(&pw->mu);
    return n;
}
