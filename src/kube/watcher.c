#include "kube/watcher.h"

#include "core/log.h"
#include "core/units.h"
#include "kube/apiclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* a stream that ends sooner than this without an event is a failure (a
 * proxy closing every watch at once must not make us spin) */
#define SHORT_WATCH_MS 1000

struct watcher {
    struct kubeapi *api;
    struct podcache *cache;
    int watch_timeout_s;
    uint64_t backoff_min_ms, backoff_max_ms;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu; /* st, and the stop wait */
    pthread_cond_t cv;
    struct watcher_stats st;
    /* the watch thread's own */
    char rv[POD_RV_MAX];
    unsigned failures;      /* in a row: the next backoff doubles */
    uint64_t stream_events; /* events of the current stream */
    uint64_t rng;           /* units_jitter_next */
};

static const char *const error_names[WATCHER_ERR_MAX] = {"gone", "auth", "forbidden", "io", "pod"};

const char *watcher_error_name(enum watcher_error e)
{
    return e < WATCHER_ERR_MAX ? error_names[e] : "?";
}

static enum watcher_error error_kind(int rc)
{
    switch (rc) {
    case -ESTALE:
        return WATCHER_ERR_GONE;
    case -EACCES:
        return WATCHER_ERR_AUTH;
    case -EPERM:
        return WATCHER_ERR_FORBIDDEN;
    default:
        return WATCHER_ERR_IO;
    }
}

/* Counts a failure; logs it when its text differs from the last one (a
 * server down for an hour is one line, not one per retry). */
static void record_error(struct watcher *w, enum watcher_error kind, bool disconnects,
                         const char *what, const char *why)
{
    char text[sizeof(w->st.last_error)];
    snprintf(text, sizeof(text), "%s: %s", what, why);
    pthread_mutex_lock(&w->mu);
    w->st.errors[kind]++;
    if (disconnects)
        w->st.connected = false;
    bool fresh = strcmp(text, w->st.last_error) != 0;
    memcpy(w->st.last_error, text, sizeof(text));
    pthread_mutex_unlock(&w->mu);
    if (fresh)
        log_warn("kube", "%s", text);
}

static void set_connected(struct watcher *w)
{
    pthread_mutex_lock(&w->mu);
    w->st.connected = true;
    memcpy(w->st.resource_version, w->rv, sizeof(w->rv));
    pthread_mutex_unlock(&w->mu);
}

/* The server answered the watch: connected, even before any event. */
static void on_watch_open(void *arg)
{
    set_connected(arg);
}

/* Waits the current backoff (+-20 %) unless stopped, then doubles it. */
static void back_off(struct watcher *w)
{
    uint64_t ms =
        units_backoff_ms(w->backoff_min_ms, w->backoff_max_ms, ++w->failures, 20, 20, &w->rng);
    struct timespec until;
    units_timespec_in(CLOCK_MONOTONIC, ms, &until);
    pthread_mutex_lock(&w->mu);
    w->st.backoffs++;
    while (!atomic_load(&w->stop) && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&w->mu);
}

static void note_pods(struct watcher *w)
{
    struct podcache_counts c;
    podcache_counts(w->cache, &c);
    pthread_mutex_lock(&w->mu);
    w->st.pods = c.pods;
    pthread_mutex_unlock(&w->mu);
}

/* LIST into the cache. Returns 0 or the apiclient's error (recorded). */
static int list(struct watcher *w)
{
    struct pod_list l;
    char err[256] = "";
    int rc = kubeapi_list(w->api, &l, err, sizeof(err));
    if (rc) {
        if (rc != -EINTR)
            record_error(w, error_kind(rc), true, "LIST", err);
        return rc;
    }
    if (l.rejected)
        record_error(w, WATCHER_ERR_POD, false, "LIST", err);
    memcpy(w->rv, l.resource_version, sizeof(w->rv));
    rc = podcache_replace_all(w->cache, &l, units_now_mono_ms());
    if (rc) {
        record_error(w, WATCHER_ERR_IO, true, "LIST", strerror(-rc));
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    w->st.relists += w->st.lists > 0;
    w->st.lists++;
    pthread_mutex_unlock(&w->mu);
    set_connected(w);
    note_pods(w);
    return 0;
}

/* One Pod event into the cache. */
static void apply(struct watcher *w, const struct watch_event *ev)
{
    struct pod p;
    char err[256];
    if (pod_parse(ev->object, &p, err, sizeof(err)) != 0) {
        record_error(w, WATCHER_ERR_POD, false, watch_type_name(ev->type), err);
        return;
    }
    int rc = ev->type == WATCH_DELETED ? podcache_delete(w->cache, &p, units_now_mono_ms())
                                       : podcache_put(w->cache, &p, units_now_mono_ms());
    if (rc) {
        record_error(w, WATCHER_ERR_POD, false, watch_type_name(ev->type), strerror(-rc));
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->st.events++;
    pthread_mutex_unlock(&w->mu);
}

static int on_event(const struct watch_event *ev, void *arg)
{
    struct watcher *w = arg;
    switch (ev->type) {
    case WATCH_ADDED:
    case WATCH_MODIFIED:
    case WATCH_DELETED:
        apply(w, ev);
        break;
    case WATCH_BOOKMARK:
        podcache_expire(w->cache, units_now_mono_ms()); /* a quiet watch still ages tombstones */
        pthread_mutex_lock(&w->mu);
        w->st.bookmarks++;
        pthread_mutex_unlock(&w->mu);
        break;
    case WATCH_ERROR:
        /* 410 ends the watch in the apiclient (-ESTALE); other errors end
         * the stream from the server's side */
        if (ev->code != 410)
            record_error(w, WATCHER_ERR_IO, false, "WATCH ERROR event",
                         ev->message ? ev->message : "(no message)");
        return 0;
    case WATCH_INVALID:
        record_error(w, WATCHER_ERR_POD, false, "WATCH", ev->error ? ev->error : "invalid line");
        return 0;
    }
    if (ev->resource_version && *ev->resource_version)
        snprintf(w->rv, sizeof(w->rv), "%s", ev->resource_version);
    w->stream_events++;
    w->failures = 0; /* the API answers: a later failure starts small again */
    set_connected(w);
    note_pods(w);
    return 0;
}

/* WATCH from w->rv until the stream ends. Returns 0 (re-watch at once),
 * -ESTALE (re-list), -EINTR (stopped) or another error (back off). */
static int watch(struct watcher *w, bool restart)
{
    pthread_mutex_lock(&w->mu);
    w->st.watches++;
    w->st.watch_restarts += restart;
    pthread_mutex_unlock(&w->mu);
    char err[256] = "";
    uint64_t t0 = units_now_mono_ms();
    w->stream_events = 0;
    int rc = kubeapi_watch(w->api, w->rv, w->watch_timeout_s, on_event, w, err, sizeof(err));
    if (rc == 0 && w->stream_events == 0 && units_now_mono_ms() - t0 < SHORT_WATCH_MS) {
        record_error(w, WATCHER_ERR_IO, true, "WATCH", "stream closed at once");
        return -EIO;
    }
    if (rc && rc != -EINTR)
        record_error(w, error_kind(rc), rc != -ESTALE, "WATCH", err);
    return rc;
}

static void *run(void *arg)
{
    struct watcher *w = arg;
    bool need_list = true, restart = false;
    while (!atomic_load(&w->stop)) {
        if (need_list) {
            int rc = list(w);
            if (rc) {
                back_off(w);
                continue;
            }
            w->failures = 0;
            need_list = false;
            restart = false;
        }
        int rc = watch(w, restart);
        restart = true;
        if (rc == -ESTALE)
            need_list = true; /* at once, as client-go does */
        else if (rc && rc != -EINTR)
            back_off(w);
    }
    return NULL;
}

struct watcher *watcher_start(const struct watcher_config *cfg, char *err, size_t errlen)
{
    if (!cfg->cache) {
        snprintf(err, errlen, "no cache");
        return NULL;
    }
    struct watcher *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->api = kubeapi_new(cfg->url, cfg->sa_dir, cfg->node, err, errlen);
    if (!w->api) {
        free(w);
        return NULL;
    }
    w->cache = cfg->cache;
    w->watch_timeout_s = cfg->watch_timeout_s > 0 ? cfg->watch_timeout_s : WATCHER_WATCH_TIMEOUT_S;
    w->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : WATCHER_BACKOFF_MIN_MS;
    w->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : WATCHER_BACKOFF_MAX_MS;
    if (w->backoff_max_ms < w->backoff_min_ms)
        w->backoff_max_ms = w->backoff_min_ms;
    w->rng = units_jitter_seed();
    atomic_init(&w->stop, false);
    kubeapi_set_stop(w->api, &w->stop);
    kubeapi_set_watch_open(w->api, on_watch_open, w);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    int rc = pthread_create(&w->thread, NULL, run, w);
    if (rc) {
        snprintf(err, errlen, "thread: %s", strerror(rc));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        kubeapi_free(w->api);
        free(w);
        return NULL;
    }
    return w;
}

void watcher_stop(struct watcher *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, true);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    kubeapi_free(w->api);
    free(w);
}

void watcher_stats(struct watcher *w, struct watcher_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}
