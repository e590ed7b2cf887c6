#include "policy/lane.h"

#include "core/log.h"
#include "core/units.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct task {
    const char *what;
    lane_fn fn;
    void *arg;
    uint64_t budget_ms;
};

struct lane {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* queue, running task or stopping changed */
    const char *name;
    struct metrics *metrics;
    struct task *ring;
    int cap, head, len;
    struct task running; /* fn NULL: idle */
    uint64_t started_ms;
    bool reported; /* the running task's overrun was logged */
    bool stopping, exited;
    bool released; /* the thread was joined, detached or never started */
    pthread_t thread;
};

static void *worker(void *p)
{
    struct lane *l = p;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        if (!l->len) {
            pthread_cond_wait(&l->changed, &l->lock);
            continue;
        }
        l->running = l->ring[l->head];
        l->head = (l->head + 1) % l->cap;
        l->len--;
        l->started_ms = units_now_mono_ms();
        l->reported = false;
        pthread_mutex_unlock(&l->lock);
        l->running.fn(l->running.arg, true);
        pthread_mutex_lock(&l->lock);
        l->running.fn = NULL;
        pthread_cond_broadcast(&l->changed);
    }
    l->exited = true;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

struct lane *lane_new(const char *name, int cap, struct metrics *metrics)
{
    struct lane *l = calloc(1, sizeof(*l));
    if (!l || cap < 1 || !(l->ring = calloc((size_t)cap, sizeof(*l->ring)))) {
        free(l);
        return NULL;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&l->lock, NULL);
    l->name = name;
    l->cap = cap;
    l->metrics = metrics;
    if (pthread_create(&l->thread, NULL, worker, l) != 0) {
        l->exited = l->released = true;
        lane_free(l);
        return NULL;
    }
    return l;
}

int lane_post(struct lane *l, const char *what, lane_fn fn, void *arg, uint64_t budget_ms)
{
    pthread_mutex_lock(&l->lock);
    int rc = l->stopping ? -ESHUTDOWN : l->len == l->cap ? -ENOSPC : 0;
    if (rc == 0) {
        l->ring[(l->head + l->len++) % l->cap] =
            (struct task){.what = what, .fn = fn, .arg = arg, .budget_ms = budget_ms};
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->lock);
    if (rc < 0) {
        metrics_inc(l->metrics, background_dropped);
        log_warn(l->name, "%s dropped: %s", what,
                 rc == -ENOSPC ? "the background queue is full" : "stopping");
        fn(arg, false);
    }
    return rc;
}

int lane_check(struct lane *l, uint64_t now_ms)
{
    pthread_mutex_lock(&l->lock);
    struct task t = l->running;
    uint64_t took = now_ms > l->started_ms ? now_ms - l->started_ms : 0;
    bool report = t.fn && !l->reported && took > t.budget_ms;
    if (report)
        l->reported = true;
    int n = l->len + (t.fn != NULL);
    pthread_mutex_unlock(&l->lock);
    if (report) {
        metrics_inc(l->metrics, background_overruns);
        log_warn(l->name, "%s still running after %llums (budget %llums); %d task(s) waiting",
                 t.what, (unsigned long long)took, (unsigned long long)t.budget_ms, n - 1);
    }
    return n;
}

int lane_stop(struct lane *l, uint64_t grace_ms)
{
    struct timespec ts;
    units_timespec_in(CLOCK_MONOTONIC, grace_ms, &ts);
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->changed);
    while (l->len) {
        struct task t = l->ring[l->head];
        l->head = (l->head + 1) % l->cap;
        l->len--;
        pthread_mutex_unlock(&l->lock);
        t.fn(t.arg, false);
        pthread_mutex_lock(&l->lock);
    }
    while (!l->exited && pthread_cond_timedwait(&l->changed, &l->lock, &ts) != ETIMEDOUT)
        ;
    bool busy = !l->exited;
    const char *what = l->running.fn ? l->running.what : "a task";
    pthread_mutex_unlock(&l->lock);
    if (!l->released && busy) {
        log_warn(l->name, "%s still running %llums after the stop; leaving it", what,
                 (unsigned long long)grace_ms);
        pthread_detach(l->thread);
    } else if (!l->released) {
        pthread_join(l->thread, NULL);
    }
    l->released = true;
    return busy ? -ETIMEDOUT : 0;
}

void lane_free(struct lane *l)
{
    if (!l)
        return;
    if (!l->stopping)
        lane_stop(l, 0);
    pthread_mutex_lock(&l->lock);
    bool busy = !l->exited;
    pthread_mutex_unlock(&l->lock);
    if (busy)
        return; /* its worker may still touch it: leaked on purpose */
    free(l->ring);
    pthread_cond_destroy(&l->changed);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
