/* ui_api on a real outbox and local sink in a temporary directory: the
 * list page, renders on the lane (collapsed stacks as kept profiles: the
 * JFR path is 42_http_ui.sh's), snapshot text, and every refusal: bad and
 * unknown ids, wrong kinds, a Go profile, a file gone, the byte budget. */
#include "harness.h"
#include "http/ui_api.h"
#include "outbox/outbox.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

struct scene {
    char root[64];
    struct config cfg;
    struct outbox *ob;
    struct ui_api *u;
    char a[40], b[40], snap[40], go[40], big[40]; /* ids */
    char a_path[PATH_MAX];
};

/* Commits text as an artefact of kind (a profile, or a snapshot) and
 * returns its id through the index afterwards. */
static int put(struct scene *s, enum artefact_kind kind, const char *service, bool k8s,
               const char *text, bool go, char *id, char *path)
{
    struct artefact_meta m;
    struct outbox_tx tx;
    struct outbox_receipt r;
    char err[256];
    size_t len = strlen(text);
    artefact_meta_init(&m, kind);
    artefact_set(&m.service, service);
    artefact_set(&m.process_name, "java");
    m.pid = 7;
    tags_set(&m.trigger_tags, "trigger", "http");
    if (kind == ARTEFACT_JCMD_SNAPSHOT)
        artefact_field_str(&m, "snapshot_type", "thread_print");
    if (k8s) {
        artefact_set(&m.k8s.pod_name, "orders-1");
        artefact_set(&m.k8s.pod_namespace, "shop");
        artefact_set(&m.k8s.container_name, "app");
    }
    if (go)
        artefact_add_attachment(&m, "cpu.pprof", len);
    int rc = outbox_begin(s->ob, len, &tx);
    if (rc == 0)
        rc = bounded_put(&tx.out, text, len);
    if (rc < 0)
        outbox_abort(s->ob, &tx);
    if (rc == 0)
        rc = outbox_commit(s->ob, &tx, &m, &r, err, sizeof(err));
    artefact_meta_free(&m);
    if (rc == 0 && outbox_run_once(s->ob) != 1)
        rc = -EIO;
    cJSON *idx = outbox_local_index(s->ob), *e;
    cJSON_ArrayForEach(e, idx)
    {
        if (rc == 0 && !strcmp(cJSON_GetObjectItem(e, "path")->valuestring, r.local_path))
            snprintf(id, 40, "%s", cJSON_GetObjectItem(e, "id")->valuestring);
    }
    cJSON_Delete(idx);
    if (path)
        snprintf(path, PATH_MAX, "%s", r.local_path);
    return rc;
}

static char *big_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (int i = 0; f && i < 20000; i++)
        fprintf(f, "java/lang/Thread.run;Main.work;Main.step%d 1\n", i);
    if (f)
        fclose(f);
    return buf;
}

static int setup(struct scene *s)
{
    char err[256];
    memset(s, 0, sizeof(*s));
    strcpy(s->root, "/tmp/test_ui_api.XXXXXX");
    if (!mkdtemp(s->root))
        return -errno;
    struct outbox_opts o = {.root = s->root};
    int rc = outbox_open(&o, &s->ob, err, sizeof(err));
    char *big = big_text();
    rc = rc ?: put(s, ARTEFACT_PROFILE, "orders", true, "a;b;c 3\na;b 2\n", false, s->a, s->a_path);
    rc = rc ?: put(s, ARTEFACT_PROFILE, "orders", true, "a;b;d 4\n", false, s->b, NULL);
    rc = rc
             ?: put(s, ARTEFACT_JCMD_SNAPSHOT, "orders", true,
                    "\"main\" #1 <script>alert(1)</script>\n", false, s->snap, NULL);
    rc = rc ?: put(s, ARTEFACT_PROFILE, "go<svc>", false, "pprof bytes", true, s->go, NULL);
    rc = rc ?: (big ? put(s, ARTEFACT_PROFILE, "big", false, big, false, s->big, NULL) : -ENOMEM);
    free(big);
    s->cfg.ui_max_kb = 64;
    struct ui_api_deps d = {.cfg = &s->cfg, .outbox = s->ob};
    if (rc == 0 && !(s->u = ui_api_new(&d)))
        rc = -ENOMEM;
    return rc;
}

static void teardown(struct scene *s)
{
    ui_api_free(s->u);
    outbox_close(s->ob);
    nftw(s->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void done(void *arg)
{
    struct wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* One request, as http.c makes it: answered at once or rendered on the
 * lane. Returns the status (rep filled; ui_reply_free it). */
static int get(struct scene *s, const char *page, const char *query, struct ui_reply *rep)
{
    struct ui_render *job;
    struct wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    memset(rep, 0, sizeof(*rep));
    if (ui_api_prepare(s->u, page, query, rep, &job) == 0)
        return rep->status;
    ui_api_submit(s->u, job, rep, done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return rep->status;
}

TEST(the_list_groups_escapes_and_links)
{
    struct scene s;
    struct ui_reply rep;
    char want[256];
    CHECK_EQ(setup(&s), 0);
    CHECK_EQ(get(&s, "", NULL, &rep), 200);
    CHECK_STREQ(rep.content_type, "text/html; charset=utf-8");
    CHECK_STREQ(rep.csp, UI_CSP_PAGE);
    CHECK_CONTAINS(rep.body, "<h2>shop/orders-1/app (orders)</h2>");
    CHECK_CONTAINS(rep.body, "<h2>host/go&lt;svc&gt;</h2>");
    snprintf(want, sizeof(want), "href=\"/ui/diff?base=%s&amp;id=%s\"", s.a, s.b);
    CHECK_CONTAINS(rep.body, want);
    snprintf(want, sizeof(want), "href=\"/ui/snapshot?id=%s\"", s.snap);
    CHECK_CONTAINS(rep.body, want);
    CHECK_CONTAINS(rep.body, "<td>http</td>");
    ui_reply_free(&rep);
    CHECK_EQ(get(&s, "", "id=1", &rep), 400);
    teardown(&s);
}

TEST(renders_on_the_lane_with_csp)
{
    struct scene s;
    struct ui_reply rep;
    char q[128];
    CHECK_EQ(setup(&s), 0);
    snprintf(q, sizeof(q), "id=%s", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 200);
    CHECK_STREQ(rep.content_type, "text/html; charset=utf-8");
    CHECK_STREQ(rep.csp, UI_CSP_PAGE);
    CHECK(rep.body && rep.len > 100 && strstr(rep.body, "<html"));
    CHECK_CONTAINS(rep.body, "shop/orders-1/app (orders), trigger http");
    ui_reply_free(&rep);
    snprintf(q, sizeof(q), "id=%s&icicle=1&from=&to=", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 200);
    ui_reply_free(&rep);
    snprintf(q, sizeof(q), "base=%s&id=%s", s.a, s.b);
    CHECK_EQ(get(&s, "diff", q, &rep), 200);
    CHECK(rep.body && strstr(rep.body, "<html"));
    ui_reply_free(&rep);
    /* collapsed stacks have no times: no heat map, no range */
    snprintf(q, sizeof(q), "id=%s", s.a);
    CHECK_EQ(get(&s, "heatmap", q, &rep), 422);
    CHECK_CONTAINS(rep.detail, "carry no times");
    snprintf(q, sizeof(q), "id=%s&from=1", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 422);
    teardown(&s);
}

TEST(a_snapshot_is_its_text_sandboxed)
{
    struct scene s;
    struct ui_reply rep;
    char q[128];
    CHECK_EQ(setup(&s), 0);
    snprintf(q, sizeof(q), "id=%s", s.snap);
    CHECK_EQ(get(&s, "snapshot", q, &rep), 200);
    CHECK_STREQ(rep.content_type, "text/plain; charset=utf-8");
    CHECK_STREQ(rep.csp, UI_CSP_TEXT);
    CHECK_EQ(rep.len, strlen("\"main\" #1 <script>alert(1)</script>\n"));
    CHECK(memcmp(rep.body, "\"main\" #1 <script>", 18) == 0);
    ui_reply_free(&rep);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 404); /* a snapshot is no profile */
    snprintf(q, sizeof(q), "id=%s", s.a);
    CHECK_EQ(get(&s, "snapshot", q, &rep), 404);
    teardown(&s);
}

TEST(refusals_name_the_reason)
{
    struct scene s;
    struct ui_reply rep;
    char q[256];
    CHECK_EQ(setup(&s), 0);
    const char *bad[] = {"id=../../etc/passwd",
                         "id=%2Fetc%2Fpasswd",
                         "id=",
                         "",
                         "id=0179619261869460591-0000cafe",
                         "id=01796192618694605911_0000cafe",
                         "id=01796192618694605911-0000cafg"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(get(&s, "flamegraph", bad[i], &rep) == 400, "%s: %d", bad[i], rep.status);
        CHECK_MSG(get(&s, "snapshot", bad[i], &rep) == 400, "%s: %d", bad[i], rep.status);
    }
    CHECK_EQ(get(&s, "flamegraph", "id=00000000000000000001-deadbeef", &rep), 404);
    CHECK_STREQ(rep.error, "no such artefact");
    CHECK_EQ(get(&s, "../v1/status", NULL, &rep), 404);
    snprintf(q, sizeof(q), "id=%s&event=bogus", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 400);
    snprintf(q, sizeof(q), "id=%s&icicle=2", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 400);
    snprintf(q, sizeof(q), "id=%s&from=yesterday", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 400);
    snprintf(q, sizeof(q), "id=%s&base=%s", s.a, s.b);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 400);
    snprintf(q, sizeof(q), "id=%s", s.b);
    CHECK_EQ(get(&s, "diff", q, &rep), 400);
    snprintf(q, sizeof(q), "id=%s&path=/etc/passwd", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 400);
    snprintf(q, sizeof(q), "id=%s", s.go);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 415);
    snprintf(q, sizeof(q), "id=%s", s.big);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 413);
    CHECK_CONTAINS(rep.detail, "FLAMESHOT_UI_MAX_KB (64 KiB)");
    CHECK(!rep.body);
    unlink(s.a_path); /* indexed, then gone */
    snprintf(q, sizeof(q), "id=%s", s.a);
    CHECK_EQ(get(&s, "flamegraph", q, &rep), 404);
    CHECK_CONTAINS(rep.detail, "gone");
    teardown(&s);
}

TEST_MAIN(the_list_groups_escapes_and_links, renders_on_the_lane_with_csp,
          a_snapshot_is_its_text_sandboxed, refusals_name_the_reason)
