#include "http/http.h"

#include "http/capture_api.h"
#include "http/query.h"
#include "policy/jobs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "policy/monitor.h"
#include "outbox/outbox.h"
#include "http/prom.h"
#include "http/ratelimit.h"
#include "http/ui_api.h"
#include "policy/targets.h"
#include "core/units.h"
#include "core/version.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct http {
    struct http_deps d;
    char *events_name, *events_detail;
    struct MHD_Daemon *mhd;
    struct ratelimit *rl;
    struct ui_api *ui;
    _Atomic int state;
    uint64_t start_real_ns, start_mono_ms;
};

/* Per request: the raw request target as the client sent it, before
 * libmicrohttpd decodes it (we parse the query ourselves, strictly). */
struct req {
    char *uri; /* NULL when longer than HTTP_MAX_URI */
    bool checked, answered;
    bool body;          /* the request came with one: refused once it is read */
    size_t discarded;   /* body bytes read and thrown away */
    struct ui_wait *ui; /* a /ui render: the connection is suspended until it is done */
};

/* A /ui render in flight: its answer, filled on the render lane, and the
 * suspended connection to resume then. */
struct ui_wait {
    struct ui_reply rep;
    struct MHD_Connection *c;
};

/* A refused body is read to its end before the 413 so that closing the
 * connection does not reset it under the client's feet (a close with
 * unread data sends RST, which can discard the answer in flight); past
 * this much the answer goes at once. */
#define HTTP_MAX_DISCARD (64 * 1024)

/* What a handler answers. */
struct reply {
    int status;
    cJSON *json;
    char *text; /* instead of json (malloc'd) */
    size_t text_len;
    const char *content_type;
    const char *csp;        /* Content-Security-Policy (the /ui pages), NULL: none */
    unsigned retry_after_s; /* 0: no Retry-After */
    const char *allow;      /* Allow header of a 405, NULL: none */
    bool www_auth;
    bool close; /* Connection: close (a client that sent a body) */
};

typedef void (*handler_fn)(struct http *h, const char *query, const char *arg, struct reply *rep);

static void error_reply(struct reply *rep, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void error_reply(struct reply *rep, int status, const char *error, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    rep->status = status;
    rep->json = query_error(error, detail);
}

/* Endpoints without parameters refuse any: a typo must not pass silently. */
static bool no_params(const char *query, struct reply *rep)
{
    static const struct query_spec none[] = {{NULL, 0}};
    struct httpq q;
    char err[256];
    if (query_parse(query, none, &q, err, sizeof(err)) == 0)
        return true;
    error_reply(rep, 400, "bad parameter", "%s (this endpoint takes no parameters)", err);
    return false;
}

static const char *state_name(int s)
{
    return s == HTTP_READY ? "ready" : s == HTTP_STOPPING ? "stopping" : "starting";
}

/* ---- endpoints --------------------------------------------------------- */

static void on_healthz(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)query, (void)arg;
    rep->status = 200;
    rep->json = cJSON_CreateObject();
    cJSON_AddStringToObject(rep->json, "status", "alive");
    cJSON_AddStringToObject(rep->json, "state", state_name(atomic_load(&h->state)));
}

static void on_readyz(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)query, (void)arg;
    int s = atomic_load(&h->state);
    if (s != HTTP_READY) {
        error_reply(rep, 503, "not ready",
                    s == HTTP_STOPPING ? "the agent is shutting down"
                                       : "the agent is starting (configuration loaded, event "
                                         "loop not running yet)");
        rep->retry_after_s = 1;
        return;
    }
    rep->status = 200;
    rep->json = cJSON_CreateObject();
    cJSON_AddStringToObject(rep->json, "status", "ready");
    cJSON_AddStringToObject(rep->json, "event_source", h->events_name);
    cJSON_AddBoolToObject(rep->json, "config_loaded", true);
}

static void capture(struct http *h, enum capture_kind kind, const char *query, struct reply *rep)
{
    struct httpq q;
    struct capture_api_request req;
    char err[512];
    int s = atomic_load(&h->state);
    if (s != HTTP_READY) {
        error_reply(rep, 503, s == HTTP_STOPPING ? "shutting down" : "starting",
                    s == HTTP_STOPPING ? "the agent is stopping and accepts no new jobs"
                                       : "the agent is starting; retry in a second");
        rep->retry_after_s = s == HTTP_STOPPING ? 10 : 1;
        return;
    }
    if (query_parse(query, capture_api_params(kind), &q, err, sizeof(err)) < 0) {
        error_reply(rep, 400, "bad parameter", "%s", err);
        return;
    }
    int rc =
        capture_api_parse(kind, &q, h->d.cfg->mode == FS_MODE_KUBERNETES, &req, err, sizeof(err));
    query_free(&q);
    if (rc < 0) {
        error_reply(rep, 400, "bad parameter", "%s", err);
        return;
    }
    struct capture_api_deps cd = {
        .cfg = h->d.cfg, .targets = h->d.targets, .monitor = h->d.monitor};
    rep->status = capture_api_run(&cd, &req, &rep->json);
    capture_api_request_free(&req);
    if (rep->status == 429)
        rep->retry_after_s = 5;
    else if (rep->status == 503)
        rep->retry_after_s = 10;
}

static void on_profile(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    capture(h, CAPTURE_PROFILE, query, rep);
}

static void on_snapshot(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    capture(h, CAPTURE_SNAPSHOT, query, rep);
}

static void on_jobs(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    if (!no_params(query, rep))
        return;
    rep->status = 200;
    rep->json = cJSON_CreateObject();
    cJSON_AddNumberToObject(rep->json, "queued", jobs_queued(h->d.jobs));
    cJSON_AddNumberToObject(rep->json, "running", jobs_running(h->d.jobs));
    cJSON_AddItemToObject(rep->json, "jobs", jobs_list_json(h->d.jobs));
}

static void on_job(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    uint64_t id;
    char pv[40];
    if (!no_params(query, rep))
        return;
    if (units_parse_u64(arg, UINT64_MAX, &id) < 0 || id == 0) {
        error_reply(rep, 400, "bad parameter", "job id \"%s\" is not a positive number",
                    query_printable(arg, pv, sizeof(pv)));
        return;
    }
    rep->json = jobs_get_json(h->d.jobs, id);
    rep->status = 200;
    if (!rep->json)
        error_reply(rep, 404, "no such job",
                    "job %llu is unknown (finished jobs are kept for the latest 256)",
                    (unsigned long long)id);
}

static void on_targets(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    if (!no_params(query, rep))
        return;
    cJSON *arr = targets_json(h->d.targets, units_now_mono_ms());
    rep->status = 200;
    rep->json = cJSON_CreateObject();
    cJSON_AddNumberToObject(rep->json, "count", cJSON_GetArraySize(arr));
    cJSON_AddItemToObject(rep->json, "targets", arr);
}

static void on_pods(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    if (!no_params(query, rep))
        return;
    if (!h->d.kube.cache) {
        error_reply(rep, 404, "not found", "/v1/pods lists Pods in kubernetes mode only (mode %s)",
                    config_mode_name(h->d.cfg->mode));
        return;
    }
    rep->json = pods_api_list(&h->d.kube, h->d.targets);
    rep->status = rep->json ? 200 : 500;
    if (!rep->json)
        error_reply(rep, 500, "out of memory", "listing the Pods");
}

static void on_artefacts(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    if (!no_params(query, rep))
        return;
    cJSON *idx = outbox_local_index(h->d.outbox);
    rep->status = 200;
    rep->json = cJSON_CreateObject();
    cJSON_AddStringToObject(rep->json, "sink", "local");
    cJSON_AddStringToObject(rep->json, "root", h->d.cfg->profiling_path);
    cJSON_AddNumberToObject(rep->json, "count", idx ? cJSON_GetArraySize(idx) : 0);
    cJSON_AddItemToObject(rep->json, "artefacts", idx ? idx : cJSON_CreateArray());
}

static cJSON *event_source_json(struct http *h)
{
    struct metrics *m = h->d.metrics;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", h->events_name);
    cJSON_AddStringToObject(o, "detail", h->events_detail);
    cJSON_AddNumberToObject(o, "events", m ? (double)atomic_load(&m->events_total) : 0);
    cJSON_AddNumberToObject(o, "lost", m ? (double)atomic_load(&m->events_lost) : 0);
    cJSON_AddNumberToObject(o, "ringbuf_full", m ? (double)atomic_load(&m->ringbuf_full) : 0);
    cJSON_AddNumberToObject(o, "resyncs", m ? (double)atomic_load(&m->events_resyncs) : 0);
    cJSON_AddNumberToObject(o, "resync_found", m ? (double)atomic_load(&m->resync_found) : 0);
    cJSON_AddNumberToObject(o, "resync_gone", m ? (double)atomic_load(&m->resync_gone) : 0);
    return o;
}

static cJSON *background_json(const struct metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "helpers_stuck", m ? (double)atomic_load(&m->helpers_stuck) : 0);
    cJSON_AddNumberToObject(o, "overruns", m ? (double)atomic_load(&m->background_overruns) : 0);
    cJSON_AddNumberToObject(o, "dropped", m ? (double)atomic_load(&m->background_dropped) : 0);
    cJSON_AddNumberToObject(o, "dump_dir_timeouts",
                            m ? (double)atomic_load(&m->dump_dir_timeouts) : 0);
    return o;
}

static cJSON *http_json(struct http *h)
{
    char listen[96];
    const struct config *c = h->d.cfg;
    cJSON *o = cJSON_CreateObject();
    snprintf(listen, sizeof(listen), strchr(c->http_ip, ':') ? "[%s]:%u" : "%s:%u", c->http_ip,
             c->http_port);
    cJSON_AddStringToObject(o, "listen", listen);
    cJSON_AddBoolToObject(o, "token_required", c->http_token != NULL);
    cJSON *rl = cJSON_AddObjectToObject(o, "rate_limit");
    cJSON_AddNumberToObject(rl, "per_second", HTTP_RATE_PER_S);
    cJSON_AddNumberToObject(rl, "burst", HTTP_RATE_BURST);
    cJSON_AddNumberToObject(rl, "clients", (double)ratelimit_clients(h->rl));
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    cJSON_AddNumberToObject(lim, "connections", HTTP_MAX_CONNECTIONS);
    cJSON_AddNumberToObject(lim, "connections_per_client", HTTP_MAX_PER_IP);
    cJSON_AddNumberToObject(lim, "idle_timeout_seconds", HTTP_IDLE_TIMEOUT_S);
    cJSON_AddNumberToObject(lim, "max_uri_bytes", HTTP_MAX_URI);
    cJSON_AddNumberToObject(lim, "max_header_bytes", HTTP_MEMORY_LIMIT);
    return o;
}

static void on_status(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)arg;
    char ts[48];
    if (!no_params(query, rep))
        return;
    const struct config *c = h->d.cfg;
    cJSON *o = rep->json = cJSON_CreateObject();
    rep->status = 200;
    cJSON_AddStringToObject(o, "version", FS_VERSION);
    cJSON_AddStringToObject(o, "git_rev", FS_GIT_REV);
    cJSON_AddStringToObject(o, "state", state_name(atomic_load(&h->state)));
    cJSON_AddStringToObject(o, "mode", config_mode_name(c->mode));
    cJSON_AddStringToObject(o, "node", c->node_name);
    cJSON_AddNumberToObject(o, "pid", getpid());
    cJSON_AddStringToObject(o, "started_at", units_rfc3339nano(h->start_real_ns, ts, sizeof(ts)));
    cJSON_AddNumberToObject(o, "uptime_seconds",
                            (double)(units_now_mono_ms() - h->start_mono_ms) / 1000.0);
    cJSON_AddItemToObject(o, "event_source", event_source_json(h));
    targets_lock(h->d.targets);
    cJSON_AddNumberToObject(o, "targets", (double)targets_count(h->d.targets));
    targets_unlock(h->d.targets);
    cJSON *j = cJSON_AddObjectToObject(o, "jobs");
    cJSON_AddNumberToObject(j, "queued", jobs_queued(h->d.jobs));
    cJSON_AddNumberToObject(j, "running", jobs_running(h->d.jobs));
    cJSON_AddNumberToObject(j, "queue_capacity", h->d.job_queue_cap);
    cJSON_AddNumberToObject(j, "workers", c->max_concurrent_jobs);
    cJSON_AddNumberToObject(j, "running_per_container", c->max_jobs_per_container);
    cJSON_AddNumberToObject(j, "queued_per_container", c->max_queued_per_container);
    cJSON_AddItemToObject(o, "outbox", outbox_stats_json(h->d.outbox));
    cJSON_AddItemToObject(o, "background", background_json(h->d.metrics));
    cJSON_AddItemToObject(o, "http", http_json(h));
    if (h->d.kube.cache)
        cJSON_AddItemToObject(o, "kubernetes",
                              pods_api_status(&h->d.kube, c->kube_api, h->d.targets));
    cJSON_AddItemToObject(o, "config", config_to_json(c));
}

static void on_metrics(struct http *h, const char *query, const char *arg, struct reply *rep)
{
    (void)query, (void)arg; /* Prometheus may add params: ignored */
    static const struct metrics zero;
    struct outbox_stats st;
    outbox_stats(h->d.outbox, &st);
    struct prom_extra x = {
        .start_time_s = (double)h->start_real_ns / 1e9,
        .version = FS_VERSION,
        .git_rev = FS_GIT_REV,
        .event_source = h->events_name,
        .jobs_queued = jobs_queued(h->d.jobs),
        .jobs_running = jobs_running(h->d.jobs),
        .outbox_oldest_age_ms = st.oldest_age_ms,
        .local_items = st.local_items,
        .local_bytes = st.local_bytes,
        .spool_max_bytes = st.max_bytes,
    };
    struct watcher_stats ws;
    if (h->d.kube.watcher) {
        watcher_stats(h->d.kube.watcher, &ws);
        x.kube_watch = &ws;
        pods_api_counts(&h->d.kube, x.pods_by_state);
        targets_lock(h->d.targets);
        x.pods_pending = targets_pending(h->d.targets);
        targets_unlock(h->d.targets);
    }
    rep->text = prom_render(h->d.metrics ? h->d.metrics : &zero, &x, &rep->text_len);
    rep->content_type = PROM_CONTENT_TYPE;
    rep->status = 200;
}

/* ---- /ui ---------------------------------------------------------------- */

static void ui_to_reply(struct ui_reply *u, struct reply *rep)
{
    rep->retry_after_s = u->retry_after_s;
    if (!u->body) {
        error_reply(rep, u->status ? u->status : 500, u->error ? u->error : "internal error", "%s",
                    u->detail);
        return;
    }
    rep->status = u->status;
    rep->text = u->body;
    rep->text_len = u->len;
    rep->content_type = u->content_type;
    rep->csp = u->csp;
    u->body = NULL;
}

static void ui_done(void *arg)
{
    struct ui_wait *w = arg;
    MHD_resume_connection(w->c);
}

/* Answers at once, or suspends the connection while the page renders on
 * the ui lane (true): on_request answers it when it is resumed. */
static bool on_ui(struct http *h, struct MHD_Connection *c, struct req *r, const char *page,
                  const char *query, struct reply *rep)
{
    struct ui_render *job = NULL;
    struct ui_wait *w = calloc(1, sizeof(*w));
    if (!w) {
        error_reply(rep, 500, "internal error", "out of memory");
        return false;
    }
    if (ui_api_prepare(h->ui, page, query, &w->rep, &job) == 0) {
        ui_to_reply(&w->rep, rep);
        free(w);
        return false;
    }
    w->c = c;
    r->ui = w;
    /* before the render can finish: its resume must find it suspended */
    MHD_suspend_connection(c);
    ui_api_submit(h->ui, job, &w->rep, ui_done, w);
    return true;
}

/* ---- routing ------------------------------------------------------------ */

struct route {
    const char *path;
    bool prefix;  /* path + "<arg>" */
    bool probe;   /* the kubelet's: neither rate-limited nor authenticated */
    bool capture; /* queues jobs: 503 while stopping */
    handler_fn fn;
    bool ui; /* the /ui pages (ui_api.h): fn is NULL */
};

static const struct route routes[] = {
    {"/healthz", false, true, false, on_healthz},
    {"/readyz", false, true, false, on_readyz},
    {"/metrics", false, false, false, on_metrics},
    {"/v1/status", false, false, false, on_status},
    {"/v1/targets", false, false, false, on_targets},
    {"/v1/pods", false, false, false, on_pods},
    {"/v1/jobs", false, false, false, on_jobs},
    {"/v1/jobs/", true, false, false, on_job},
    {"/v1/profile", false, false, true, on_profile},
    {"/v1/snapshot", false, false, true, on_snapshot},
    {"/v1/artefacts", false, false, false, on_artefacts},
    {"/ui", false, false, false, NULL, true},
    {"/ui/", true, false, false, NULL, true},
};

/* The route for a raw path (not decoded: our paths are plain ASCII, and a
 * job id is digits), with *arg the part after a prefix route. */
static const struct route *find_route(const char *path, const char **arg)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? strncmp(path, routes[i].path, n) == 0 && path[n]
                             : strcmp(path, routes[i].path) == 0) {
            *arg = path + n;
            return &routes[i];
        }
    }
    return NULL;
}

/* The client's address as a rate-limit key: 4 bytes for IPv4 (also when
 * mapped into IPv6), else 16. */
static size_t client_key(struct MHD_Connection *c, uint8_t key[16])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            memcpy(key, &a->s6_addr[12], 4);
            return 4;
        }
        memcpy(key, a, 16);
        return 16;
    }
    memset(key, 0, 4);
    return 4;
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te || (cl && strspn(cl, "0") != strlen(cl));
}

/* Rate limit, then token. Returns false with rep filled when refused. */
static bool admit(struct http *h, struct MHD_Connection *c, struct reply *rep)
{
    uint8_t key[16];
    size_t n = client_key(c, key);
    uint64_t wait_ms = 0;
    if (!ratelimit_take(h->rl, key, n, units_now_mono_ms(), &wait_ms)) {
        metrics_inc(h->d.metrics, http_rate_limited);
        error_reply(rep, 429, "rate limit exceeded",
                    "at most %g requests per second per client (bursts of %g); retry after %llu ms",
                    HTTP_RATE_PER_S, HTTP_RATE_BURST, (unsigned long long)wait_ms);
        rep->retry_after_s = (unsigned)((wait_ms + 999) / 1000);
        return false;
    }
    const char *token = h->d.cfg->http_token;
    if (token && !query_bearer_ok(
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                     token)) {
        error_reply(rep, 401, "unauthorized",
                    "this agent requires Authorization: Bearer <FLAMESHOT_HTTP_TOKEN>");
        rep->www_auth = true;
        return false;
    }
    return true;
}

/* What can be refused before the request is complete: the early answer
 * closes the connection, so an unread body never becomes the next request.
 * Returns false with rep filled when refused. */
static bool precheck(struct MHD_Connection *c, const char *method, struct req *r, struct reply *rep)
{
    if (!r->uri) {
        error_reply(rep, 414, "uri too long", "the request target is longer than %d bytes",
                    HTTP_MAX_URI);
        return false;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        char pm[24];
        error_reply(rep, 405, "method not allowed", "%s: only GET and HEAD are served",
                    query_printable(method, pm, sizeof(pm)));
        rep->allow = "GET, HEAD";
        return false;
    }
    r->body = has_body(c);
    return true;
}

static void body_refused(struct reply *rep)
{
    error_reply(rep, 413, "payload too large", "request bodies are not accepted");
    rep->close = true; /* a client that sends bodies gets no second request */
}

/* Returns true when the connection was suspended for a /ui render. */
static bool route(struct http *h, struct MHD_Connection *c, const char *method, struct req *r,
                  struct reply *rep)
{
    char *q = strchr(r->uri, '?');
    if (q)
        *q++ = '\0';
    const char *arg = NULL;
    const struct route *rt = find_route(r->uri, &arg);
    /* a stopping agent says so before anything else: "shutting down" is
     * truer than "too many requests" and leaks nothing */
    bool stopping = atomic_load(&h->state) == HTTP_STOPPING;
    if (rt && rt->capture && stopping) {
        rt->fn(h, q, arg, rep);
        return false;
    }
    if ((!rt || !rt->probe) && !admit(h, c, rep))
        return false;
    if (!rt) {
        error_reply(rep, 404, "no such endpoint",
                    "endpoints: /v1/profile /v1/snapshot /v1/jobs[/<id>] /v1/targets "
                    "/v1/pods /v1/artefacts /v1/status /metrics /healthz /readyz /ui");
    } else if (rt->ui) {
        return on_ui(h, c, r, arg, q, rep);
    } else if (rt->capture && strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
        /* HEAD must be safe: it never queues a capture */
        error_reply(rep, 405, "method not allowed", "%s queues a capture: use GET", rt->path);
        rep->allow = "GET";
    } else {
        rt->fn(h, q, arg, rep);
    }
    return false;
}

/* ---- libmicrohttpd plumbing ---------------------------------------------- */

static void count(struct http *h, int status)
{
    struct metrics *m = h->d.metrics;
    if (!m)
        return;
    atomic_fetch_add(&m->http_by_code[metrics_http_code_index(status)], 1);
    if (status >= 100 && status < 600)
        atomic_fetch_add(&m->http_by_class[status / 100], 1);
    if (status == 429)
        atomic_fetch_add(&m->http_429, 1);
}

/* The body to send: the JSON printed with a final newline, or the text. */
static char *render(struct reply *rep, size_t *len)
{
    if (rep->text) {
        *len = rep->text_len;
        return rep->text;
    }
    char *s = rep->json ? cJSON_PrintUnformatted(rep->json) : NULL;
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (!out) {
        free(s);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    *len = n + 1;
    rep->content_type = "application/json";
    return out;
}

static enum MHD_Result send_reply(struct http *h, struct MHD_Connection *c, struct reply *rep)
{
    static const char oom[] = "{\"error\":\"internal error\",\"detail\":\"out of memory\"}\n";
    size_t len = 0;
    char *body = render(rep, &len);
    struct MHD_Response *resp =
        body
            ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    if (!body) {
        rep->status = 500;
        rep->content_type = "application/json";
    }
    cJSON_Delete(rep->json);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    char ra[24];
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (rep->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (rep->retry_after_s) {
        snprintf(ra, sizeof(ra), "%u", rep->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (rep->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
    if (rep->csp) {
        MHD_add_response_header(resp, "Content-Security-Policy", rep->csp);
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (rep->www_auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"flameshot\"");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    count(h, rep->status);
    return ret;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)c;
    struct req *r = calloc(1, sizeof(*r));
    if (r && strnlen(uri, HTTP_MAX_URI + 1) <= HTTP_MAX_URI)
        r->uri = strdup(uri);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct req *r = *req_cls;
    if (r) {
        free(r->uri);
        if (r->ui)
            ui_reply_free(&r->ui->rep);
        free(r->ui);
    }
    free(r);
    *req_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)url, (void)version, (void)upload_data;
    struct http *h = cls;
    struct req *r = *req_cls;
    struct reply rep = {.content_type = "application/json"};
    if (!r)
        return MHD_NO; /* on_uri could not allocate: drop the connection */
    bool too_much = false;
    if (r->answered || *upload_data_size) {
        r->discarded += *upload_data_size;
        *upload_data_size = 0; /* a body: discarded */
        too_much = !r->answered && r->discarded > HTTP_MAX_DISCARD;
        if (!too_much)
            return MHD_YES;
    }
    if (too_much) {
        body_refused(&rep);
    } else if (!r->checked) {
        /* headers are in: refuse early, or wait for the end of the request
         * (answering before it would cost the connection's keep-alive) */
        r->checked = true;
        if (precheck(c, method, r, &rep))
            return MHD_YES;
    } else if (r->body) {
        body_refused(&rep);
    } else if (r->ui) {
        ui_to_reply(&r->ui->rep, &rep); /* resumed: the render is done */
    } else if (route(h, c, method, r, &rep)) {
        return MHD_YES; /* suspended: answered when the render is done */
    }
    r->answered = true;
    log_debug("http", "%s %s -> %d", method, r->uri ? r->uri : "(too long)", rep.status);
    return send_reply(h, c, &rep);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    /* connection-level refusals (limits) would flood the log under load */
    log_debug("http", "libmicrohttpd: %s", msg);
}

/* Our own listening socket: bind errors are reported with their errno,
 * which MHD_start_daemon does not return. */
static int listen_socket(const struct config *c, char *err, size_t errcap)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, c->http_ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(c->http_port);
        len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, c->http_ip, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(c->http_port);
        len = sizeof(*s6);
    } else {
        snprintf(err, errcap, "%s is not an IP address", c->http_ip);
        return -EINVAL;
    }
    int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        snprintf(err, errcap, "cannot listen on %s port %u: %s", c->http_ip, c->http_port,
                 strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    return fd;
}

static int start(struct http *h, int fd, char *err, size_t errcap)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)HTTP_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, h, MHD_OPTION_END);
    if (!h->mhd) {
        int e = errno ? errno : EINVAL;
        snprintf(err, errcap, "libmicrohttpd failed to start: %s", strerror(e));
        close(fd);
        return -e;
    }
    return 0;
}

int http_open(const struct http_deps *deps, struct http **out, char *err, size_t errcap)
{
    struct http *h = calloc(1, sizeof(*h));
    int rc = -ENOMEM;
    snprintf(err, errcap, "out of memory");
    if (!h)
        return rc;
    h->d = *deps;
    h->events_name = strdup(deps->events_name ? deps->events_name : "");
    h->events_detail = strdup(deps->events_detail ? deps->events_detail : "");
    h->rl = ratelimit_new(HTTP_RATE_PER_S, HTTP_RATE_BURST, HTTP_RATE_CLIENTS);
    struct ui_api_deps ud = {.cfg = deps->cfg, .outbox = deps->outbox, .metrics = deps->metrics};
    h->ui = ui_api_new(&ud);
    h->start_real_ns = units_now_real_ns();
    h->start_mono_ms = units_now_mono_ms();
    atomic_store(&h->state, HTTP_STARTING);
    if (!h->events_name || !h->events_detail || !h->rl || !h->ui)
        goto out;
    int fd = listen_socket(deps->cfg, err, errcap);
    rc = fd < 0 ? fd : start(h, fd, err, errcap);
    if (rc == 0) {
        log_info("http", "API listening on %s port %u%s", deps->cfg->http_ip, deps->cfg->http_port,
                 deps->cfg->http_token ? " (bearer token required)" : " (no token)");
        *out = h;
        return 0;
    }
out:
    http_close(h);
    return rc;
}

void http_set_state(struct http *h, enum http_state state)
{
    if (h)
        atomic_store(&h->state, (int)state);
}

void http_close(struct http *h)
{
    if (!h)
        return;
    /* first: a render waiting or running resumes its connection */
    ui_api_free(h->ui);
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    ratelimit_free(h->rl);
    free(h->events_name);
    free(h->events_detail);
    free(h);
}
