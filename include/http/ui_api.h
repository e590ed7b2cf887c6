/* ui_api: the /ui pages of the HTTP API, for a browser on the node's
 * port. Everything shown comes from the local sink's index (outbox.h's
 * outbox_local_index); a page names an artefact by its id, which is looked
 * up there, never by a path from the client.
 *
 *   GET /ui                              the kept profiles and snapshots,
 *                                        grouped per namespace/Pod/container
 *                                        (host/service outside Kubernetes),
 *                                        newest first, with trigger and time
 *   GET /ui/flamegraph?id=&event=&from=&to=&icicle=1   a profile's flame graph
 *   GET /ui/heatmap?id=&event=           its FlameScope heat map
 *   GET /ui/diff?base=&id=&event=        base -> id, red grew, blue shrank
 *   GET /ui/snapshot?id=                 a jcmd snapshot as text/plain
 * event: cpu, wall, alloc, lock, nativemem (default: flame/load.h's pick);
 * from, to: seconds since the recording's start or RFC 3339.
 *
 * Statuses: 200; 400 a bad parameter (an id is "<20 digits>-<8 hex>");
 * 404 no such id in the index, or no samples of the event; 413 the stacks
 * exceed FLAMESHOT_UI_MAX_KB, or the snapshot is over UI_MAX_SNAPSHOT;
 * 415 not a JFR (a Go profile); 422 the file cannot be read as a capture;
 * 503 the render queue is full (Retry-After) or the render took longer
 * than UI_RENDER_TIMEOUT_MS.
 *
 * Rendering runs on the ui_api's own lane (policy/lane.h: one worker, a
 * queue of UI_QUEUE): the HTTP thread only validates, looks up and queues.
 * Pages carry a Content-Security-Policy that allows their inline script
 * and style and nothing from the network.
 *
 * Threads: ui_api_prepare and ui_api_submit from the HTTP threads. */
#ifndef FS_HTTP_UI_API_H
#define FS_HTTP_UI_API_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>

struct metrics;
struct outbox;
struct ui_api;
struct ui_render;

#define UI_QUEUE             4
#define UI_RENDER_TIMEOUT_MS 10000
#define UI_MAX_SNAPSHOT      (16u << 20)
/* the HTML pages: inline script and style, nothing else, no framing */
#define UI_CSP_PAGE                                                                                \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "   \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
/* snapshot text: nothing at all runs, even if a browser sniffed it */
#define UI_CSP_TEXT "default-src 'none'; sandbox; frame-ancestors 'none'"

struct ui_reply {
    int status;
    char *body; /* malloc'd page or text; NULL: an error (error, detail) */
    size_t len;
    const char *content_type;
    const char *csp; /* Content-Security-Policy, NULL: none */
    unsigned retry_after_s;
    const char *error;
    char detail[512];
};

struct ui_api_deps {
    const struct config *cfg;
    struct outbox *outbox;
    struct metrics *metrics; /* may be NULL */
};

/* NULL on ENOMEM (or when the lane's thread cannot start). */
struct ui_api *ui_api_new(const struct ui_api_deps *d);

/* Drops queued renders (their callers get a 503) and waits for the one
 * running (at most its deadline), then frees. NULL is a no-op. */
void ui_api_free(struct ui_api *u);

/* Answers the request for page ("" for /ui, else the part after "/ui/")
 * with query (raw, may be NULL). Returns 0 with rep filled, or 1 with
 * *job set: a render to hand to ui_api_submit. */
int ui_api_prepare(struct ui_api *u, const char *page, const char *query, struct ui_reply *rep,
                   struct ui_render **job);

/* Queues job; done(arg) is called exactly once, from the lane's thread or
 * (queue full, stopping) from this one before it returns, once rep is
 * filled. rep must stay valid until then. */
void ui_api_submit(struct ui_api *u, struct ui_render *job, struct ui_reply *rep,
                   void (*done)(void *arg), void *arg);

/* Frees what rep holds. */
void ui_reply_free(struct ui_reply *rep);

#endif
