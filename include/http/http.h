/* http: the node-local HTTP API (libmicrohttpd) on
 * FLAMESHOT_HTTP_LOCAL_IP:FLAMESHOT_HTTP_LOCAL_PORT. JSON out (except
 * /metrics and /ui), errors as {"error": "...", "detail": "..."}; GET and HEAD
 * only (405 with Allow otherwise), request bodies refused (413).
 *
 *   GET /healthz, /readyz        liveness; readiness (event loop running)
 *   GET /v1/profile              Flameshot's manual trigger (httpcap.h)
 *   GET /v1/snapshot             an on-demand jcmd snapshot (httpcap.h)
 *   GET /v1/jobs, /v1/jobs/<id>  jobs: state, trigger, timings, artefacts
 *   GET /v1/targets              the watched processes
 *   GET /v1/pods                 kubernetes mode: this node's Pods (pods_api.h)
 *   GET /v1/artefacts            the local sink's index
 *   GET /v1/status               version, mode, event source, queue, outbox
 *   GET /metrics                 Prometheus text (prom.h)
 *   GET /ui, /ui/...             the kept captures and their flame graphs (ui_api.h)
 *
 * Protection, in the order applied to a request: the URI is bounded
 * (HTTP_MAX_URI, else 414; MHD itself answers past
 * HTTP_MEMORY_LIMIT); the method and a body are checked; every endpoint
 * but /healthz and /readyz (the kubelet's probes) goes through a token
 * bucket per client address (HTTP_RATE_PER_S, burst HTTP_RATE_BURST, 429
 * with Retry-After) and then, when FLAMESHOT_HTTP_TOKEN is set, needs
 * `Authorization: Bearer <token>` (401). Connections are bounded in total,
 * per client address and in idle time. Captures never reach a process
 * that is not a target (httpcap.h).
 *
 * Threads: libmicrohttpd runs HTTP_THREADS threads of its own; handlers
 * read the modules through their thread-safe functions only. */
#ifndef FS_HTTP_H
#define FS_HTTP_H

#include "core/config.h"
#include "http/pods_api.h"

#include <stddef.h>

struct jobs;
struct metrics;
struct monitor;
struct outbox;
struct targets;
struct http;

#define HTTP_RATE_PER_S      20.0
#define HTTP_RATE_BURST      40.0
#define HTTP_RATE_CLIENTS    4096 /* token buckets kept (ratelimit.h) */
#define HTTP_MAX_CONNECTIONS 128
#define HTTP_MAX_PER_IP      16
#define HTTP_IDLE_TIMEOUT_S  10    /* a connection idle this long is closed */
#define HTTP_MEMORY_LIMIT    16384 /* per connection: request line + headers */
#define HTTP_MAX_URI         4096  /* request target, before decoding */
#define HTTP_THREADS         4

enum http_state {
    HTTP_STARTING = 0, /* listening; /readyz 503, captures 503 */
    HTTP_READY,        /* the daemon loop runs */
    HTTP_STOPPING,     /* shutting down: /readyz and captures 503 */
};

struct http_deps {
    const struct config *cfg;
    struct monitor *monitor;
    struct targets *targets;
    struct jobs *jobs;
    struct outbox *outbox;
    struct metrics *metrics;   /* may be NULL */
    const char *events_name;   /* copied: "bpf" or "poller" */
    const char *events_detail; /* copied */
    int job_queue_cap;         /* for /v1/status */
    struct pods_api kube;      /* kubernetes mode; zero standalone */
};

/* Binds FLAMESHOT_HTTP_LOCAL_IP:PORT and starts serving in state
 * HTTP_STARTING. deps' modules must outlive http_close(). Returns 0 and
 * *out, or -errno with a reason in err (e.g. the address in use). */
int http_open(const struct http_deps *deps, struct http **out, char *err, size_t errcap);

/* Thread-safe; NULL is a no-op. */
void http_set_state(struct http *h, enum http_state state);

/* Stops listening, waits for the requests in flight (each is short: no
 * handler blocks beyond a /proc scan) and frees. NULL is a no-op. */
void http_close(struct http *h);

#endif
