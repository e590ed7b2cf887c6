#include "kube/recorder.h"

#include "core/log.h"
#include "core/units.h"
#include "kube/apiclient.h"
#include "kube/pod.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The Events correlated and the objects rate-limited at once: a node runs
 * at most a few hundred Pods (the kubelet's max-pods is 110 by default);
 * past this the least recently seen entry makes room (client-go's LRU). */
#define SEEN_MAX    512
#define BUCKETS_MAX 512
#define TYPE_MAX    16
/* an Event's name is "<object name>.<16 hex>" and a DNS subdomain (253) */
#define NAME_SUFFIX 17

/* One request for the thread: the whole Event, so that a PATCH that finds
 * its Event expired can create it again. */
struct item {
    bool patch;
    uint64_t key;
    char ns[POD_LABEL_MAX];
    char obj_name[POD_NAME_MAX];
    char uid[POD_UID_MAX];
    char kind[POD_KIND_MAX];
    char api_version[POD_KIND_MAX];
    char type[TYPE_MAX];
    char reason[RECORDER_REASON_MAX + 1];
    char message[RECORDER_MESSAGE_MAX + 1];
    char name[POD_NAME_MAX]; /* the Event's */
    uint64_t count;
    time_t first, last;
};

/* An Event sent lately (client-go's eventLogger cache). */
struct seen {
    uint64_t key; /* 0: free */
    char name[POD_NAME_MAX];
    uint64_t count;
    time_t first;
    uint64_t seen_ms, sent_ms;
};

/* A token bucket (client-go's spam filter). */
struct bucket {
    char uid[POD_UID_MAX]; /* "": free; the recorder's own for the global one */
    unsigned tokens;
    uint64_t at_ms;   /* when tokens was last brought up to date */
    uint64_t used_ms; /* LRU */
};

struct recorder {
    struct recorder_config c;
    char node[POD_NAME_MAX];
    char component[POD_NAME_MAX];
    struct kubeapi *api;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu; /* everything below; never held across a request */
    pthread_cond_t cv;
    struct item *queue; /* a ring of c.queue_cap */
    size_t head, n;
    struct seen *seen;
    struct bucket *buckets;
    struct bucket global;
    uint64_t last_serial; /* the last Event name suffix */
    struct recorder_stats st;
    /* the thread's own */
    struct item cur; /* the request being delivered */
    uint64_t rng;    /* units_jitter_next */
};

void recorder_config_defaults(struct recorder_config *c)
{
    *c = (struct recorder_config){
        .queue_cap = RECORDER_QUEUE_CAP,
        .dedup_window_ms = RECORDER_DEDUP_WINDOW_MS,
        .patch_interval_ms = RECORDER_PATCH_INTERVAL_MS,
        .object_burst = RECORDER_OBJECT_BURST,
        .object_refill_ms = RECORDER_OBJECT_REFILL_MS,
        .global_burst = RECORDER_GLOBAL_BURST,
        .global_refill_ms = RECORDER_GLOBAL_REFILL_MS,
        .retries = RECORDER_RETRIES,
        .backoff_min_ms = RECORDER_BACKOFF_MIN_MS,
        .backoff_max_ms = RECORDER_BACKOFF_MAX_MS,
    };
}

/* ---- emission: copy, correlate, rate-limit (caller's thread) ---- */

/* Copies s into dst[cap]; false when s is empty or does not fit. */
static bool copy_field(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* Namespaces and names go into the request path: DNS characters only. */
static bool dns_chars(const char *s)
{
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.")] == '\0';
}

/* The first cap-1 bytes at most of s, not splitting a UTF-8 sequence. */
static void cut_utf8(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* s[n] continues a sequence: cut before its lead byte */
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* FNV-1a over the fields that make two occurrences the same Event. Two
 * different Events colliding in 64 bits among a few hundred is not a
 * concern; the uid, type, reason and message are what client-go keys on. */
static uint64_t event_key(const struct item *it)
{
    const char *parts[] = {it->uid, it->type, it->reason, it->message};
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++)
        for (const unsigned char *p = (const unsigned char *)parts[i];; p++) {
            h = (h ^ *p) * 1099511628211ull; /* the NUL separates the fields */
            if (!*p)
                break;
        }
    return h ? h : 1; /* 0 marks a free entry */
}

static int fill(struct item *it, const struct recorder_object *o, const char *type,
                const char *reason, const char *message)
{
    memset(it, 0, sizeof(*it));
    if (!o || !copy_field(it->ns, sizeof(it->ns), o->namespace) ||
        !copy_field(it->obj_name, sizeof(it->obj_name), o->name) ||
        !copy_field(it->uid, sizeof(it->uid), o->uid) ||
        !copy_field(it->kind, sizeof(it->kind), o->kind) ||
        !copy_field(it->api_version, sizeof(it->api_version), o->api_version) ||
        !copy_field(it->reason, sizeof(it->reason), reason) || !message || !dns_chars(it->ns) ||
        !dns_chars(it->obj_name))
        return -EINVAL;
    if (!type || (strcmp(type, "Warning") != 0 && strcmp(type, "Normal") != 0))
        return -EINVAL;
    snprintf(it->type, sizeof(it->type), "%s", type);
    cut_utf8(it->message, sizeof(it->message), message);
    it->key = event_key(it);
    return 0;
}

/* The entry of key, unless it was last seen dedup_window_ms ago or more. */
static struct seen *seen_find(struct recorder *r, uint64_t key, uint64_t now)
{
    for (size_t i = 0; i < SEEN_MAX; i++) {
        struct seen *s = &r->seen[i];
        if (s->key && now - s->seen_ms >= r->c.dedup_window_ms)
            s->key = 0; /* expired: a repeat now is a new Event */
        if (s->key == key)
            return s;
    }
    return NULL;
}

/* "<object name>.<16 hex>": client-go's form (its hex is the time in ns);
 * ours never repeats within a recorder, even within a nanosecond. */
static void event_name(struct recorder *r, const char *obj, char *out, size_t cap)
{
    uint64_t serial = units_now_real_ns();
    if (serial <= r->last_serial)
        serial = r->last_serial + 1;
    r->last_serial = serial;
    size_t n = strlen(obj);
    if (n > POD_NAME_MAX - 1 - NAME_SUFFIX)
        n = POD_NAME_MAX - 1 - NAME_SUFFIX;
    while (n > 1 && (obj[n - 1] == '-' || obj[n - 1] == '.'))
        n--; /* a cut name must still end a DNS label */
    snprintf(out, cap, "%.*s.%016llx", (int)n, obj, (unsigned long long)serial);
}

static struct seen *seen_add(struct recorder *r, const struct item *it, uint64_t now)
{
    struct seen *s = &r->seen[0];
    for (size_t i = 0; i < SEEN_MAX && s->key; i++)
        if (!r->seen[i].key || r->seen[i].seen_ms < s->seen_ms)
            s = &r->seen[i];
    *s = (struct seen){.key = it->key, .count = 1, .first = time(NULL), .seen_ms = now};
    event_name(r, it->obj_name, s->name, sizeof(s->name));
    return s;
}

/* Brings b up to date: one token back per refill_ms, up to burst. */
static void refill(struct bucket *b, unsigned burst, uint64_t refill_ms, uint64_t now)
{
    uint64_t add = (now - b->at_ms) / refill_ms;
    if (b->tokens >= burst || add >= burst - b->tokens) {
        b->tokens = burst;
        b->at_ms = now;
    } else {
        b->tokens += (unsigned)add;
        b->at_ms += add * refill_ms;
    }
    b->used_ms = now;
}

static struct bucket *bucket_of(struct recorder *r, const char *uid, uint64_t now)
{
    struct bucket *b = &r->buckets[0];
    for (size_t i = 0; i < BUCKETS_MAX; i++) {
        if (strcmp(r->buckets[i].uid, uid) == 0)
            return &r->buckets[i];
        if (!r->buckets[i].uid[0] || r->buckets[i].used_ms < b->used_ms)
            b = &r->buckets[i];
    }
    snprintf(b->uid, sizeof(b->uid), "%s", uid);
    b->tokens = r->c.object_burst;
    b->at_ms = now;
    return b;
}

/* A token from the object's bucket and the global one, or from neither. */
static bool take_tokens(struct recorder *r, const char *uid, uint64_t now)
{
    struct bucket *b = bucket_of(r, uid, now);
    refill(b, r->c.object_burst, r->c.object_refill_ms, now);
    refill(&r->global, r->c.global_burst, r->c.global_refill_ms, now);
    if (!b->tokens || !r->global.tokens)
        return false;
    b->tokens--;
    r->global.tokens--;
    return true;
}

/* Under mu: what to do with one occurrence (see recorder_emit). */
static int correlate(struct recorder *r, struct item *it, uint64_t now)
{
    struct seen *s = seen_find(r, it->key, now);
    if (s) {
        s->count++;
        s->seen_ms = now;
        if (now - s->sent_ms < r->c.patch_interval_ms) {
            r->st.deduplicated++;
            return 1;
        }
    }
    if (r->n == r->c.queue_cap) {
        r->st.dropped++;
        return -ENOSPC;
    }
    if (!take_tokens(r, it->uid, now)) {
        r->st.rate_limited++;
        return -EAGAIN;
    }
    it->patch = s != NULL;
    if (!s)
        s = seen_add(r, it, now);
    s->sent_ms = now;
    memcpy(it->name, s->name, sizeof(it->name));
    it->count = s->count;
    it->first = s->first;
    it->last = time(NULL);
    r->queue[(r->head + r->n) % r->c.queue_cap] = *it;
    r->n++;
    r->st.queued = r->n;
    return 0;
}

int recorder_emit(struct recorder *r, const struct recorder_object *obj, const char *type,
                  const char *reason, const char *message)
{
    struct item it;
    int rc = fill(&it, obj, type, reason, message);
    if (rc)
        return rc;
    uint64_t now = units_now_mono_ms();
    pthread_mutex_lock(&r->mu);
    rc = correlate(r, &it, now);
    if (rc == 0)
        pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- delivery (the recorder's thread) ---- */

static void rfc3339(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The core/v1 Event of it, as client-go's recorder makes it. */
static cJSON *event_json(const struct recorder *r, const struct item *it)
{
    char first[32], last[32];
    rfc3339(it->first, first, sizeof(first));
    rfc3339(it->last, last, sizeof(last));
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "kind", "Event");
    cJSON_AddStringToObject(e, "apiVersion", "v1");
    cJSON *m = cJSON_AddObjectToObject(e, "metadata");
    cJSON_AddStringToObject(m, "name", it->name);
    cJSON_AddStringToObject(m, "namespace", it->ns);
    cJSON *o = cJSON_AddObjectToObject(e, "involvedObject");
    cJSON_AddStringToObject(o, "kind", it->kind);
    cJSON_AddStringToObject(o, "namespace", it->ns);
    cJSON_AddStringToObject(o, "name", it->obj_name);
    cJSON_AddStringToObject(o, "uid", it->uid);
    cJSON_AddStringToObject(o, "apiVersion", it->api_version);
    cJSON_AddStringToObject(e, "reason", it->reason);
    cJSON_AddStringToObject(e, "message", it->message);
    cJSON_AddStringToObject(e, "type", it->type);
    cJSON *src = cJSON_AddObjectToObject(e, "source");
    cJSON_AddStringToObject(src, "component", r->component);
    cJSON_AddStringToObject(src, "host", r->node);
    cJSON_AddStringToObject(e, "firstTimestamp", first);
    cJSON_AddStringToObject(e, "lastTimestamp", last);
    cJSON_AddNumberToObject(e, "count", (double)it->count);
    cJSON_AddStringToObject(e, "reportingComponent", r->component);
    cJSON_AddStringToObject(e, "reportingInstance", r->node);
    return e;
}

/* What client-go's strategic merge patch of a repeat holds. */
static cJSON *patch_json(const struct item *it)
{
    char last[32];
    rfc3339(it->last, last, sizeof(last));
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "count", (double)it->count);
    cJSON_AddStringToObject(p, "lastTimestamp", last);
    cJSON_AddStringToObject(p, "message", it->message);
    return p;
}

static int send_once(struct recorder *r, const struct item *it, long *code, char *err,
                     size_t errlen)
{
    char path[POD_LABEL_MAX + POD_NAME_MAX + 64];
    int n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", it->ns);
    if (it->patch)
        snprintf(path + n, sizeof(path) - (size_t)n, "/%s", it->name);
    cJSON *j = it->patch ? patch_json(it) : event_json(r, it);
    char *body = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!body) {
        *code = 0;
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = kubeapi_send(r->api, it->patch ? "PATCH" : "POST", path,
                          it->patch ? "application/strategic-merge-patch+json" : "application/json",
                          body, code, err, errlen);
    free(body);
    return rc;
}

/* Counts a failed request; logs it when its text differs from the last
 * one (an API server down for an hour is one line, not one per retry). */
static void record_error(struct recorder *r, const struct item *it, const char *why)
{
    char text[sizeof(r->st.last_error)];
    snprintf(text, sizeof(text), "event %s on %s/%s: %s", it->reason, it->ns, it->obj_name, why);
    pthread_mutex_lock(&r->mu);
    r->st.errors++;
    bool fresh = strcmp(text, r->st.last_error) != 0;
    memcpy(r->st.last_error, text, sizeof(text));
    pthread_mutex_unlock(&r->mu);
    if (fresh)
        log_warn("kube", "%s", text);
}

static void bump(struct recorder *r, uint64_t *counter)
{
    pthread_mutex_lock(&r->mu);
    (*counter)++;
    pthread_mutex_unlock(&r->mu);
}

/* An Event that could not be created is not known: its next occurrence
 * POSTs again rather than waiting out the patch interval for a 404. */
static void forget(struct recorder *r, const struct item *it)
{
    pthread_mutex_lock(&r->mu);
    struct seen *s = seen_find(r, it->key, units_now_mono_ms());
    if (s && strcmp(s->name, it->name) == 0)
        s->key = 0;
    pthread_mutex_unlock(&r->mu);
}

/* The Event of a PATCH answered 404/409 expired: it is created again under
 * a new name, which later repeats PATCH. */
static void repost(struct recorder *r, struct item *it)
{
    char old[POD_NAME_MAX];
    memcpy(old, it->name, sizeof(old));
    pthread_mutex_lock(&r->mu);
    event_name(r, it->obj_name, it->name, sizeof(it->name));
    struct seen *s = seen_find(r, it->key, units_now_mono_ms());
    if (s && strcmp(s->name, old) == 0)
        memcpy(s->name, it->name, sizeof(s->name));
    pthread_mutex_unlock(&r->mu);
    it->patch = false;
}

/* Worth trying again: the API server or the network may come back, RBAC
 * may be granted; a request the API refuses as such will not change. */
static bool retryable(int rc, long code)
{
    if (rc == -EINVAL)
        return false;
    return code == 0 || code == 401 || code == 403 || code == 429 || code >= 500;
}

/* Waits the attempt's backoff (doubling from min, +-20 %). False when
 * recorder_stop came meanwhile. */
static bool back_off(struct recorder *r, unsigned attempt)
{
    uint64_t ms =
        units_backoff_ms(r->c.backoff_min_ms, r->c.backoff_max_ms, attempt, 20, 20, &r->rng);
    struct timespec until;
    units_timespec_in(CLOCK_MONOTONIC, ms, &until);
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stop) && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&r->mu);
    return !atomic_load(&r->stop);
}

static void deliver(struct recorder *r, struct item *it)
{
    for (unsigned attempt = 0;;) {
        long code = 0;
        char err[200] = "";
        int rc = send_once(r, it, &code, err, sizeof(err));
        if (rc == 0) {
            bump(r, it->patch ? &r->st.patched : &r->st.posted);
            return;
        }
        if (rc == -EINTR)
            break;
        if (it->patch && (code == 404 || code == 409)) {
            repost(r, it);
            continue;
        }
        record_error(r, it, err);
        if (!retryable(rc, code) || attempt++ >= r->c.retries || !back_off(r, attempt))
            break;
    }
    if (!it->patch)
        forget(r, it);
    bump(r, &r->st.dropped);
}

static void *run(void *arg)
{
    struct recorder *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stop)) {
        if (!r->n) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        r->cur = r->queue[r->head];
        r->head = (r->head + 1) % r->c.queue_cap;
        r->st.queued = --r->n;
        pthread_mutex_unlock(&r->mu);
        deliver(r, &r->cur);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- life ---- */

static int check_config(const struct recorder_config *c, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!c->node || !*c->node || strlen(c->node) >= POD_NAME_MAX)
        why = "no node name, or one over 253 bytes";
    else if (!c->component || !*c->component || strlen(c->component) >= POD_NAME_MAX)
        why = "no component, or one over 253 bytes";
    else if (!c->queue_cap || !c->object_burst || !c->global_burst)
        why = "a queue capacity or a burst of 0";
    else if (!c->object_refill_ms || !c->global_refill_ms)
        why = "a refill time of 0";
    if (why)
        snprintf(err, errlen, "%s", why);
    return why ? -EINVAL : 0;
}

static void free_recorder(struct recorder *r)
{
    kubeapi_free(r->api);
    free(r->queue);
    free(r->seen);
    free(r->buckets);
    free(r);
}

static int init_sync(struct recorder *r)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);
    int rc = pthread_create(&r->thread, NULL, run, r);
    if (rc) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
    }
    return rc;
}

struct recorder *recorder_start(const struct recorder_config *c, char *err, size_t errlen)
{
    if (check_config(c, err, errlen))
        return NULL;
    struct recorder *r = calloc(1, sizeof(*r));
    if (r) {
        r->queue = calloc(c->queue_cap, sizeof(*r->queue));
        r->seen = calloc(SEEN_MAX, sizeof(*r->seen));
        r->buckets = calloc(BUCKETS_MAX, sizeof(*r->buckets));
    }
    if (!r || !r->queue || !r->seen || !r->buckets) {
        snprintf(err, errlen, "out of memory");
        if (r)
            free_recorder(r);
        return NULL;
    }
    r->c = *c;
    if (r->c.backoff_max_ms < r->c.backoff_min_ms)
        r->c.backoff_max_ms = r->c.backoff_min_ms;
    snprintf(r->node, sizeof(r->node), "%s", c->node);
    snprintf(r->component, sizeof(r->component), "%s", c->component);
    r->global = (struct bucket){.tokens = c->global_burst, .at_ms = units_now_mono_ms()};
    r->rng = units_jitter_seed();
    atomic_init(&r->stop, false);
    r->api = kubeapi_new(c->url, c->sa_dir, c->node, err, errlen);
    if (!r->api) {
        free_recorder(r);
        return NULL;
    }
    kubeapi_set_stop(r->api, &r->stop);
    int rc = init_sync(r);
    if (rc) {
        snprintf(err, errlen, "thread: %s", strerror(rc));
        free_recorder(r);
        return NULL;
    }
    return r;
}

void recorder_stop(struct recorder *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    if (r->n)
        log_info("kube", "%zu Kubernetes Event(s) not sent: stopping", r->n);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free_recorder(r);
}

void recorder_stats(struct recorder *r, struct recorder_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}
