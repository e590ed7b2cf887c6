#include "http/ui_api.h"

#include "core/fsutil.h"
#include "core/log.h"
#include "core/units.h"
#include "flame/diff.h"
#include "flame/flamegraph.h"
#include "flame/load.h"
#include "http/query.h"
#include "outbox/outbox.h"
#include "policy/lane.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MOD       "ui"
#define ID_LEN    29 /* "<20 digits>-<8 hex>" (outbox.h) */
#define HTML_TYPE "text/html; charset=utf-8"

struct ui_api {
    struct ui_api_deps d;
    struct lane *lane;
};

enum page { PAGE_FLAME, PAGE_HEAT, PAGE_DIFF };

struct ui_render {
    struct ui_api *u;
    enum page page;
    char path[PATH_MAX], base_path[PATH_MAX];
    char what[512]; /* "shop/orders-1/app (orders), trigger http, 2026-..." */
    bool icicle;
    struct load_opts lo;
    struct ui_reply *rep;
    void (*done)(void *arg);
    void *arg;
};

static void fail(struct ui_reply *rep, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct ui_reply *rep, int status, const char *error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->detail, sizeof(rep->detail), fmt, ap);
    va_end(ap);
    rep->status = status;
    rep->error = error;
}

void ui_reply_free(struct ui_reply *rep)
{
    free(rep->body);
    rep->body = NULL;
}

/* ---- the index ---------------------------------------------------------- */

static bool valid_id(const char *s)
{
    if (!s || strlen(s) != ID_LEN || s[20] != '-')
        return false;
    for (int i = 0; i < ID_LEN; i++)
        if (i != 20 && !(i < 20 ? isdigit((unsigned char)s[i]) : isxdigit((unsigned char)s[i])))
            return false;
    return true;
}

static const char *str_of(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const cJSON *find_entry(const cJSON *idx, const char *id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, idx)
    {
        if (strcmp(str_of(e, "id"), id) == 0)
            return e;
    }
    return NULL;
}

/* "shop/orders-1/app (orders)" or "host/orders" */
static void group_of(const cJSON *e, char *buf, size_t cap)
{
    if (*str_of(e, "pod_name"))
        snprintf(buf, cap, "%s/%s/%s (%s)", str_of(e, "pod_namespace"), str_of(e, "pod_name"),
                 str_of(e, "container_name"), str_of(e, "service"));
    else
        snprintf(buf, cap, "host/%s", str_of(e, "service"));
}

/* Looks up parameter name (a valid id) of kind in idx. Returns the entry
 * or NULL with rep filled. */
static const cJSON *resolve(const cJSON *idx, const struct httpq *q, const char *name,
                            const char *kind, struct ui_reply *rep)
{
    const char *id = query_get(q, name);
    if (!id) {
        fail(rep, 400, "bad parameter", "%s is required (an id from /ui or /v1/artefacts)", name);
        return NULL;
    }
    if (!valid_id(id)) {
        fail(rep, 400, "bad parameter", "%s is not an artefact id (<20 digits>-<8 hex>)", name);
        return NULL;
    }
    const cJSON *e = find_entry(idx, id);
    if (!e) {
        fail(rep, 404, "no such artefact", "%s is not kept on this node (the local sink's index)",
             id);
        return NULL;
    }
    if (strcmp(str_of(e, "kind"), kind) != 0) {
        fail(rep, 404, "no such artefact", "%s is a %s, not a %s", id, str_of(e, "kind"), kind);
        return NULL;
    }
    return e;
}

/* ---- HTML --------------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static int by_group_newest(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    char gx[1024], gy[1024];
    group_of(x, gx, sizeof(gx));
    group_of(y, gy, sizeof(gy));
    int c = strcmp(gx, gy);
    return c ? c : strcmp(str_of(y, "id"), str_of(x, "id")); /* ids sort by creation */
}

static bool listed(const cJSON *e)
{
    const char *k = str_of(e, "kind");
    return valid_id(str_of(e, "id")) &&
           (strcmp(k, "profile") == 0 || strcmp(k, "jcmd_snapshot") == 0);
}

/* The next older profile of the same group after row i, for a diff. */
static const cJSON *older_profile(const cJSON **rows, size_t n, size_t i)
{
    char g[1024], h[1024];
    group_of(rows[i], g, sizeof(g));
    for (size_t j = i + 1; j < n; j++) {
        group_of(rows[j], h, sizeof(h));
        if (strcmp(g, h))
            return NULL;
        if (strcmp(str_of(rows[j], "kind"), "profile") == 0)
            return rows[j];
    }
    return NULL;
}

static void profile_links(FILE *f, const char *id, const cJSON *older)
{
    fprintf(f, "<a href=\"/ui/flamegraph?id=%s\">flame graph</a> ", id);
    for (int ev = 0; ev < JFR_EVENT_N; ev++)
        fprintf(f, "<a class=ev href=\"/ui/flamegraph?id=%s&amp;event=%s\">%s</a> ", id,
                jfr_event_name(ev), jfr_event_name(ev));
    fprintf(f, "<a href=\"/ui/heatmap?id=%s\">heat map</a> ", id);
    if (older)
        fprintf(f, "<a href=\"/ui/diff?base=%s&amp;id=%s\">diff vs previous</a> ",
                str_of(older, "id"), id);
    fprintf(f,
            "<form action=\"/ui/flamegraph\" method=get><input type=hidden name=id value=\"%s\">"
            "<input name=from size=5 placeholder=from> <input name=to size=5 placeholder=to> "
            "<button>range</button></form>",
            id);
}

static void row(FILE *f, const cJSON **rows, size_t n, size_t i)
{
    const cJSON *e = rows[i];
    const char *id = str_of(e, "id"), *kind = str_of(e, "kind");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(e, "size_bytes");
    fputs("<tr><td>", f);
    esc(f, str_of(e, "created"));
    fputs("</td><td>", f);
    esc(f, kind);
    fputs("</td><td>", f);
    esc(f, str_of(e, "trigger"));
    fputs("</td><td>", f);
    esc(f, str_of(e, "process_id"));
    fprintf(f, "</td><td>%.0f</td><td>", cJSON_IsNumber(size) ? size->valuedouble : 0);
    if (strcmp(kind, "profile") == 0)
        profile_links(f, id, older_profile(rows, n, i));
    else
        fprintf(f, "<a href=\"/ui/snapshot?id=%s\">text</a>", id);
    fputs("</td></tr>\n", f);
}

static void list_rows(FILE *f, const cJSON **rows, size_t n)
{
    char group[1024], prev[1024] = "";
    for (size_t i = 0; i < n; i++) {
        group_of(rows[i], group, sizeof(group));
        if (strcmp(group, prev)) {
            fputs(i ? "</table>\n<h2>" : "<h2>", f);
            esc(f, group);
            fputs("</h2>\n<table><tr><th>time</th><th>kind</th><th>trigger</th><th>pid</th>"
                  "<th>bytes</th><th>open</th></tr>\n",
                  f);
            snprintf(prev, sizeof(prev), "%s", group);
        }
        row(f, rows, n, i);
    }
    fputs(n ? "</table>\n" : "<p>Nothing is kept on this node yet.</p>\n", f);
}

static int list_page(FILE *f, const cJSON *idx)
{
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(idx);
    const cJSON **rows = calloc(cap ? cap : 1, sizeof(*rows)), *e;
    if (!rows)
        return -ENOMEM;
    cJSON_ArrayForEach(e, idx)
    {
        if (listed(e) && n < cap)
            rows[n++] = e;
    }
    qsort(rows, n, sizeof(*rows), by_group_newest);
    fputs("<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>flameshot: captures on this "
          "node</title><style>body{font:14px sans-serif;margin:1em}table{border-collapse:"
          "collapse}td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}"
          "a.ev{font-size:11px}form{display:inline}</style></head><body>\n"
          "<h1>Captures kept on this node</h1>\n",
          f);
    fprintf(f,
            "<p>%zu profiles and snapshots, newest first. Ranges: seconds since the "
            "recording's start or RFC 3339.</p>\n",
            n);
    list_rows(f, rows, n);
    fputs("</body></html>\n", f);
    free(rows);
    return 0;
}

/* Runs write into a memory buffer and makes it rep's body. */
static int to_body(struct ui_reply *rep, int (*write)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    int rc = write(f, arg);
    if (fclose(f) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    rep->body = buf;
    rep->len = len;
    return 0;
}

static int write_list(FILE *f, const void *idx)
{
    return list_page(f, idx);
}

/* ---- pages answered at once --------------------------------------------- */

static void on_list(struct ui_api *u, const char *query, struct ui_reply *rep)
{
    static const struct query_spec none[] = {{NULL, 0}};
    struct httpq q;
    if (query_parse(query, none, &q, rep->detail, sizeof(rep->detail)) < 0) {
        fail(rep, 400, "bad parameter", "/ui takes no parameters");
        return;
    }
    cJSON *idx = outbox_local_index(u->d.outbox);
    if (!idx || to_body(rep, write_list, idx) < 0) {
        fail(rep, 500, "internal error", "out of memory");
    } else {
        rep->status = 200;
        rep->content_type = HTML_TYPE;
        rep->csp = UI_CSP_PAGE;
    }
    cJSON_Delete(idx);
}

static void snapshot_text(const cJSON *e, struct ui_reply *rep)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fsutil_read_all(str_of(e, "path"), UI_MAX_SNAPSHOT, &text, &len);
    if (rc == -EFBIG)
        fail(rep, 413, "too large", "the snapshot is over %u MiB", UI_MAX_SNAPSHOT >> 20);
    else if (rc < 0)
        fail(rep, 404, "no such artefact", "%s is indexed but its text is gone: %s",
             str_of(e, "id"), strerror(-rc));
    if (rc < 0)
        return;
    rep->status = 200;
    rep->body = text;
    rep->len = len;
    rep->content_type = "text/plain; charset=utf-8";
    rep->csp = UI_CSP_TEXT;
}

static void on_snapshot(struct ui_api *u, const char *query, struct ui_reply *rep)
{
    static const struct query_spec spec[] = {{"id", 64}, {NULL, 0}};
    struct httpq q;
    char err[256];
    if (query_parse(query, spec, &q, err, sizeof(err)) < 0) {
        fail(rep, 400, "bad parameter", "%s", err);
        return;
    }
    cJSON *idx = outbox_local_index(u->d.outbox);
    const cJSON *e = idx ? resolve(idx, &q, "id", "jcmd_snapshot", rep) : NULL;
    if (!idx)
        fail(rep, 500, "internal error", "out of memory");
    if (e)
        snapshot_text(e, rep);
    cJSON_Delete(idx);
    query_free(&q);
}

/* ---- renders: checked here, run on the lane ----------------------------- */

static const struct query_spec render_spec[] = {
    {"id", 64}, {"base", 64}, {"event", 16}, {"from", 64}, {"to", 64}, {"icicle", 1}, {NULL, 0}};

/* A kept JFR: a regular file (a Go profile is a directory of pprof files). */
static bool renderable(const cJSON *e, char *path, size_t cap, struct ui_reply *rep)
{
    struct stat st;
    snprintf(path, cap, "%s", str_of(e, "path"));
    if (lstat(path, &st) < 0) {
        fail(rep, 404, "no such artefact", "%s is indexed but its file is gone", str_of(e, "id"));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(rep, 415, "not a JFR",
             "%s is not a JFR (a Go profile's pprof files are not "
             "rendered here)",
             str_of(e, "id"));
        return false;
    }
    return true;
}

/* event, from, to, icicle. Returns false with rep filled. */
static bool render_opts(const struct httpq *q, struct ui_render *j, struct ui_reply *rep)
{
    const char *ev = query_get(q, "event"), *from = query_get(q, "from"), *to = query_get(q, "to"),
               *ic = query_get(q, "icicle");
    j->lo.event = ev && *ev ? jfr_event_parse(ev) : -1;
    if (ev && *ev && j->lo.event < 0) {
        fail(rep, 400, "bad parameter", "event must be cpu, wall, alloc, lock or nativemem");
        return false;
    }
    /* an empty field of the range form is no bound */
    if ((from && *from && load_parse_time(from, &j->lo.from) < 0) ||
        (to && *to && load_parse_time(to, &j->lo.to) < 0)) {
        fail(rep, 400, "bad parameter",
             "from and to are seconds since the recording's start or RFC 3339 times");
        return false;
    }
    if (ic && strcmp(ic, "0") && strcmp(ic, "1")) {
        fail(rep, 400, "bad parameter", "icicle is 0 or 1");
        return false;
    }
    j->icicle = ic && ic[0] == '1';
    return true;
}

static bool render_targets(const cJSON *idx, const struct httpq *q, struct ui_render *j,
                           struct ui_reply *rep)
{
    const cJSON *e = resolve(idx, q, "id", "profile", rep);
    if (!e || !renderable(e, j->path, sizeof(j->path), rep))
        return false;
    char group[1024];
    group_of(e, group, sizeof(group));
    snprintf(j->what, sizeof(j->what), "%s, trigger %s, %s", group,
             *str_of(e, "trigger") ? str_of(e, "trigger") : "-", str_of(e, "created"));
    if (j->page != PAGE_DIFF) {
        if (query_get(q, "base")) {
            fail(rep, 400, "bad parameter", "base is for /ui/diff only");
            return false;
        }
        return true;
    }
    const cJSON *b = resolve(idx, q, "base", "profile", rep);
    return b && renderable(b, j->base_path, sizeof(j->base_path), rep);
}

static struct ui_render *prepare_render(struct ui_api *u, enum page page, const char *query,
                                        struct ui_reply *rep)
{
    struct httpq q;
    char err[256];
    if (query_parse(query, render_spec, &q, err, sizeof(err)) < 0) {
        fail(rep, 400, "bad parameter", "%s", err);
        return NULL;
    }
    struct ui_render *j = calloc(1, sizeof(*j));
    cJSON *idx = outbox_local_index(u->d.outbox);
    bool ok = j && idx;
    if (!ok)
        fail(rep, 500, "internal error", "out of memory");
    if (ok) {
        j->u = u;
        j->page = page;
        j->lo.max_bytes = (size_t)(u->d.cfg->ui_max_kb << 10);
        j->lo.heatmap = page == PAGE_HEAT;
        ok = render_opts(&q, j, rep) && render_targets(idx, &q, j, rep);
    }
    cJSON_Delete(idx);
    query_free(&q);
    if (!ok) {
        free(j);
        return NULL;
    }
    return j;
}

int ui_api_prepare(struct ui_api *u, const char *page, const char *query, struct ui_reply *rep,
                   struct ui_render **job)
{
    *job = NULL;
    rep->content_type = "application/json";
    if (strcmp(page, "") == 0)
        on_list(u, query, rep);
    else if (strcmp(page, "snapshot") == 0)
        on_snapshot(u, query, rep);
    else if (strcmp(page, "flamegraph") == 0)
        *job = prepare_render(u, PAGE_FLAME, query, rep);
    else if (strcmp(page, "heatmap") == 0)
        *job = prepare_render(u, PAGE_HEAT, query, rep);
    else if (strcmp(page, "diff") == 0)
        *job = prepare_render(u, PAGE_DIFF, query, rep);
    else
        fail(rep, 404, "no such page",
             "pages: /ui /ui/flamegraph /ui/heatmap /ui/diff /ui/snapshot");
    return *job ? 1 : 0;
}

/* ---- the render itself (the lane's thread) ------------------------------ */

static void load_failed(struct ui_reply *rep, int rc, const char *err, uint64_t max_kb)
{
    if (rc == -EFBIG)
        fail(rep, 413, "too large to render",
             "the stacks exceed FLAMESHOT_UI_MAX_KB (%llu KiB): render a time range (from, to) "
             "or raise the budget",
             (unsigned long long)max_kb);
    else if (rc == -ETIMEDOUT)
        fail(rep, 503, "render timed out", "rendering took longer than %d s: try a time range",
             UI_RENDER_TIMEOUT_MS / 1000);
    else if (rc == -ENODATA)
        fail(rep, 404, "no samples", "%s", err);
    else if (rc == -EINVAL)
        fail(rep, 422, "unreadable profile", "%s", err);
    else
        fail(rep, 500, "internal error", "%s", err);
}

struct page_args {
    const struct ui_render *j;
    const struct load_result *r, *base;
};

static int write_page(FILE *f, const void *arg)
{
    const struct page_args *a = arg;
    const struct load_result *r = a->r;
    char title[768], sub[256] = "";
    snprintf(title, sizeof(title), "%s%s: %s", a->j->page == PAGE_DIFF ? "diff, " : "",
             jfr_event_name(r->event), a->j->what);
    if (r->from_ns || r->to_ns)
        snprintf(sub, sizeof(sub), "samples from %.3f s to %.3f s since the recording's start",
                 r->from_ns ? (double)(r->from_ns - r->start_ns) / 1e9 : 0.0,
                 r->to_ns ? (double)(r->to_ns - r->start_ns) / 1e9
                          : (double)(r->st.end_ns - r->start_ns) / 1e9);
    if (r->st.truncated)
        snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), "%struncated: %s",
                 sub[0] ? "; " : "", r->st.cut);
    struct flamegraph_opts fo = {.title = title,
                                 .subtitle = sub[0] ? sub : NULL,
                                 .unit = jfr_event_unit(r->event),
                                 .icicle = a->j->icicle};
    if (a->j->page == PAGE_HEAT)
        return heatmap_write_html(r->heatmap, &fo, f);
    if (a->j->page == PAGE_DIFF)
        return diff_write_html(a->base->stacks, r->stacks, &fo, f);
    return flamegraph_write_html(r->stacks, &fo, f);
}

static void render(struct ui_render *j)
{
    char err[512];
    struct load_result r, base = {0};
    struct ui_reply *rep = j->rep;
    int rc = load_file(j->path, &j->lo, &r, err, sizeof(err));
    if (rc == 0 && j->page == PAGE_DIFF) {
        struct load_opts blo = j->lo;
        blo.event = (int)r.event;
        rc = load_file(j->base_path, &blo, &base, err, sizeof(err));
    }
    struct page_args pa = {j, &r, &base};
    if (rc == 0 && (rc = to_body(rep, write_page, &pa)) < 0)
        snprintf(err, sizeof(err), "cannot write the page: %s", strerror(-rc));
    if (rc < 0) {
        load_failed(rep, rc, err, j->u->d.cfg->ui_max_kb);
    } else {
        rep->status = 200;
        rep->content_type = HTML_TYPE;
        rep->csp = UI_CSP_PAGE;
    }
    load_result_free(&r);
    load_result_free(&base);
}

static void run(void *arg, bool run)
{
    struct ui_render *j = arg;
    if (run) {
        render(j);
    } else {
        fail(j->rep, 503, "busy", "the agent is stopping or its render queue (%d) is full",
             UI_QUEUE);
        j->rep->retry_after_s = 2;
    }
    j->done(j->arg);
    free(j);
}

void ui_api_submit(struct ui_api *u, struct ui_render *job, struct ui_reply *rep,
                   void (*done)(void *arg), void *arg)
{
    job->rep = rep;
    job->done = done;
    job->arg = arg;
    job->lo.deadline_ms = units_now_mono_ms() + UI_RENDER_TIMEOUT_MS;
    lane_post(u->lane, "ui render", run, job, UI_RENDER_TIMEOUT_MS);
}

struct ui_api *ui_api_new(const struct ui_api_deps *d)
{
    struct ui_api *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->d = *d;
    u->lane = lane_new("ui", UI_QUEUE, d->metrics);
    if (!u->lane) {
        free(u);
        return NULL;
    }
    return u;
}

void ui_api_free(struct ui_api *u)
{
    if (!u)
        return;
    if (lane_stop(u->lane, UI_RENDER_TIMEOUT_MS + 5000) == 0)
        lane_free(u->lane);
    else
        log_warn(MOD, "a render outlived its deadline; its thread is left behind");
    free(u);
}
