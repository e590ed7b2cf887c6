/* watcher against the real HTTPS test server in its --live mode
 * (tests/lib/kubeapi_server.py): the server holds Pods as its state, lists
 * them in pages, and streams what the test appends to DIR/events.jsonl.
 * Every wait is on a condition (the cache, the counters, the server's
 * request log), bounded. */
#include "harness.h"
#include "kube_fixture.h"
#include "kube_server.h"
#include "kube/watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>

static struct server srv;
static struct podcache *cache;
static struct watcher *watcher;

/* Ends what a previous test (maybe a failed one) left running. */
static void teardown(void)
{
    watcher_stop(watcher);
    watcher = NULL;
    podcache_free(cache);
    cache = NULL;
    if (srv.dir[0])
        server_stop(&srv);
    memset(&srv, 0, sizeof(srv));
}

static int setup(uint64_t backoff_max_ms)
{
    teardown();
    srv.live = true;
    int rc = server_start(&srv);
    if (rc)
        return rc;
    cache = podcache_new(0);
    struct watcher_config cfg = {
        .url = srv.url,
        .sa_dir = srv.dir,
        .node = "worker-2",
        .cache = cache,
        .watch_timeout_s = 60,
        .backoff_max_ms = backoff_max_ms,
    };
    char err[256];
    watcher = watcher_start(&cfg, err, sizeof(err));
    return watcher ? 0 : -EINVAL;
}

static struct watcher_stats stats(void)
{
    struct watcher_stats s;
    watcher_stats(watcher, &s);
    return s;
}

static bool log_has(const char *s)
{
    char *log = requests(&srv);
    bool yes = strstr(log, s) != NULL;
    free(log);
    return yes;
}

static int log_count(const char *s)
{
    char *log = requests(&srv);
    int n = 0;
    for (const char *p = log; (p = strstr(p, s)); p++)
        n++;
    free(log);
    return n;
}

/* One line for the server to stream (or a QUIET/CLOSE/GONE command). */
static void push(const char *line)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/events.jsonl", srv.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return;
    char buf[2048];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    if (write(fd, buf, (size_t)n) != n)
        fprintf(stderr, "# short write to %s\n", path);
    close(fd);
}

/* A Pod event: one container "app" with the ID %064x of cid. */
static void push_pod(const char *prefix, const char *type, const char *uid, const char *name,
                     int rv, unsigned cid)
{
    char line[1536];
    snprintf(line, sizeof(line),
             "%s{\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
             "\"metadata\":{\"uid\":\"%s\",\"namespace\":\"shop\",\"name\":\"%s\","
             "\"resourceVersion\":\"%d\",\"annotations\":{\"flameshot.io/enabled\":\"true\"}},"
             "\"spec\":{\"nodeName\":\"worker-2\"},\"status\":{\"phase\":\"Running\","
             "\"containerStatuses\":[{\"name\":\"app\",\"restartCount\":0,"
             "\"containerID\":\"containerd://%064x\"}]}}}",
             prefix, type, uid, name, rv, cid);
    push(line);
}

static void push_bookmark(int rv)
{
    char line[256];
    snprintf(line, sizeof(line),
             "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
             "\"metadata\":{\"resourceVersion\":\"%d\"}}}",
             rv);
    push(line);
}

/* The Pod a container ID resolves to: its name in *name (""), whether it
 * is a tombstone. */
static bool by_cid(unsigned cid, char *name, size_t cap, bool *deleted)
{
    char id[65];
    snprintf(id, sizeof(id), "%064x", cid);
    struct podcache_hit h;
    if (podcache_by_container(cache, id, &h) != 0)
        return false;
    snprintf(name, cap, "%s", h.pod.name);
    if (deleted)
        *deleted = h.deleted;
    podcache_hit_free(&h);
    return true;
}

static bool known(unsigned cid)
{
    char name[POD_NAME_MAX];
    bool deleted = true;
    return by_cid(cid, name, sizeof(name), &deleted) && !deleted;
}

static bool pod_deleted(const char *uid)
{
    struct pod p;
    bool deleted = false;
    if (podcache_by_pod_id(cache, uid, &p, &deleted) != 0)
        return false;
    pod_free(&p);
    return deleted;
}

#define UID_NEW1 "0a1b2c3d-0000-4000-8000-000000000001"
#define UID_NEW2 "0a1b2c3d-0000-4000-8000-000000000002"

#define NEED_SERVER() NEED(have("python3") && have("openssl"), "python3 and openssl")

#define WATCHING "200 /api/v1/pods?fieldSelector=spec.nodeName%3Dworker-2&watch=1&"

TEST(list_in_pages_then_events_and_a_bookmark)
{
    NEED_SERVER();
    CHECK_EQ(setup(0), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    struct watcher_stats s = stats();
    CHECK_EQ(s.pods, 4); /* five listed, one with a malformed containerID refused */
    CHECK_EQ(s.errors[WATCHER_ERR_POD], 1);
    CHECK_CONTAINS(s.last_error, "broken-id");
    CHECK_STREQ(s.resource_version, "4413600");
    CHECK(s.connected);
    CHECK_EQ(log_count("&limit=500"), 3); /* three pages of one snapshot */
    CHECK(log_has("&limit=500&continue=live-2\n"));
    CHECK(log_has("&resourceVersion=4413600&timeoutSeconds=60\n"));
    char name[POD_NAME_MAX];
    CHECK(by_cid(0, name, sizeof(name), NULL) == false);
    struct podcache_hit h;
    CHECK_EQ(podcache_by_container(cache, CID_SHOP_API, &h), 0);
    podcache_hit_free(&h);

    push_pod("", "ADDED", UID_NEW1, "billing-0", 4413700, 1);
    WAIT_FOR(known(1));
    push_pod("", "MODIFIED", UID_NEW1, "billing-0", 4413701, 2); /* restarted: a new ID */
    WAIT_FOR(known(2));
    push_pod("", "DELETED", UID_NEW1, "billing-0", 4413702, 2);
    WAIT_FOR(pod_deleted(UID_NEW1));
    push_bookmark(4413900);
    WAIT_FOR(stats().bookmarks == 1);
    s = stats();
    CHECK_STREQ(s.resource_version, "4413900");
    CHECK_EQ(s.events, 3);
    CHECK_EQ(s.lists, 1);
    CHECK_EQ(s.watches, 1);
    CHECK_EQ(s.pods, 4);
    CHECK(s.connected);
    bool deleted = false;
    CHECK(by_cid(1, name, sizeof(name), &deleted)); /* the replaced ID still resolves */
    CHECK_STREQ(name, "billing-0");
    CHECK(deleted);
}

/* The watch misses changes, then 410: the re-list finds them. */
TEST(gone_mid_stream_relists_and_the_cache_is_right_after)
{
    NEED_SERVER();
    CHECK_EQ(setup(0), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    CHECK(!pod_deleted(UID_ORDERS));
    push_pod("", "ADDED", UID_NEW1, "billing-0", 4413700, 1);
    WAIT_FOR(known(1));
    push_pod("QUIET ", "DELETED", UID_ORDERS, "orders-db-0", 4413701, 3);
    push_pod("QUIET ", "ADDED", UID_NEW2, "billing-1", 4413702, 4);
    push("GONE");
    WAIT_FOR(stats().lists == 2);
    struct watcher_stats s = stats();
    CHECK_EQ(s.relists, 1);
    CHECK_EQ(s.errors[WATCHER_ERR_GONE], 1);
    CHECK_EQ(s.errors[WATCHER_ERR_IO], 0);
    CHECK_STREQ(s.resource_version, "4413702");
    CHECK(known(4));
    CHECK(known(1));
    CHECK(pod_deleted(UID_ORDERS)); /* gone from the list: a tombstone */
    CHECK_EQ(s.pods, 5);
    WAIT_FOR(log_has("&resourceVersion=4413702&timeoutSeconds=60\n"));
    push_pod("", "MODIFIED", UID_NEW2, "billing-1", 4413703, 5);
    WAIT_FOR(known(5));
    CHECK_EQ(stats().lists, 2);
}

/* The server ends the stream: watched again from the last
 * resourceVersion, no list. */
TEST(closed_stream_rewatches_from_the_last_version)
{
    NEED_SERVER();
    CHECK_EQ(setup(0), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    push_pod("", "ADDED", UID_NEW1, "billing-0", 4413700, 1);
    push("CLOSE");
    push_pod("", "ADDED", UID_NEW2, "billing-1", 4413701, 2);
    WAIT_FOR(known(2));
    CHECK(known(1));
    struct watcher_stats s = stats();
    CHECK_EQ(s.lists, 1);
    CHECK_EQ(s.watches, 2);
    CHECK_EQ(s.watch_restarts, 1);
    CHECK_EQ(s.backoffs, 0);
    CHECK_EQ(log_count(WATCHING), 2);
    CHECK(log_has("&resourceVersion=4413700&timeoutSeconds=60\n"));
}

/* The API server goes away: failures, backoff, then the watch resumes on
 * its own once it is back (from the last resourceVersion: no list). */
TEST(server_down_backs_off_then_reconnects)
{
    NEED_SERVER();
    CHECK_EQ(setup(1000), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    CHECK_EQ(server_kill(&srv), 0);
    WAIT_FOR(stats().backoffs >= 3);
    struct watcher_stats s = stats();
    CHECK(!s.connected);
    CHECK(s.errors[WATCHER_ERR_IO] >= 3);
    CHECK_CONTAINS(s.last_error, "WATCH");
    uint64_t t0 = units_now_mono_ms();
    WAIT_FOR(stats().backoffs >= 6);
    /* 200, 400, 800, then 1000 (the max) each, +-20 %: at least 2400 ms */
    CHECK_MSG(units_now_mono_ms() - t0 >= 1500, "backoffs 3..6 took %llu ms",
              (unsigned long long)(units_now_mono_ms() - t0));
    CHECK_EQ(server_start(&srv), 0); /* same port, same CA */
    push_pod("", "ADDED", UID_NEW1, "billing-0", 4413700, 1);
    WAIT_FOR(known(1));
    s = stats();
    CHECK(s.connected);
    CHECK_EQ(s.lists, 1);
    CHECK_EQ(log_count("&resourceVersion=4413600&timeoutSeconds=60\n"), 2);
}

/* A watch the server answers again after an outage is connected at once,
 * with no event yet (a quiet node has none for minutes). */
TEST(rewatch_answered_after_an_outage_is_connected)
{
    NEED_SERVER();
    CHECK_EQ(setup(1000), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    CHECK_EQ(server_kill(&srv), 0);
    WAIT_FOR(stats().errors[WATCHER_ERR_IO] >= 2);
    CHECK(!stats().connected);
    CHECK_EQ(server_start(&srv), 0);
    WAIT_FOR(log_count("&resourceVersion=4413600&timeoutSeconds=60\n") == 2);
    WAIT_FOR(stats().connected);
    struct watcher_stats s = stats();
    CHECK_EQ(s.lists, 1);
    CHECK_EQ(s.events, 0);
    CHECK_STREQ(s.resource_version, "4413600");
}

/* The API stops accepting our token (rotated, the file not yet): 401s are
 * counted as auth errors and backed off; the rotated file brings it back. */
TEST(rejected_token_backs_off_until_rotated)
{
    NEED_SERVER();
    CHECK_EQ(setup(1000), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    write_file(srv.dir, "accepted-token", "token-2\n");
    push("CLOSE");
    WAIT_FOR(stats().errors[WATCHER_ERR_AUTH] >= 2);
    struct watcher_stats s = stats();
    CHECK(!s.connected);
    CHECK(s.backoffs >= 1);
    CHECK_CONTAINS(s.last_error, "HTTP 401");
    write_file(srv.dir, "token", "token-2\n");
    push_pod("", "ADDED", UID_NEW1, "billing-0", 4413700, 1);
    WAIT_FOR(known(1));
    s = stats();
    CHECK(s.connected);
    CHECK_EQ(s.lists, 1);
}

/* watcher_stop with a watch open (the server sends nothing) returns within
 * the bound, and during a backoff at once. */
TEST(stop_is_prompt)
{
    NEED_SERVER();
    CHECK_EQ(setup(0), 0);
    WAIT_FOR(stats().lists == 1 && log_has(WATCHING));
    uint64_t t0 = units_now_mono_ms();
    watcher_stop(watcher);
    watcher = NULL;
    uint64_t took = units_now_mono_ms() - t0;
    CHECK_MSG(took < WATCHER_STOP_BOUND_MS + 1000, "stop took %llu ms", (unsigned long long)took);

    struct watcher_config cfg = {.url = srv.url,
                                 .sa_dir = srv.dir,
                                 .node = "worker-2",
                                 .cache = cache,
                                 .backoff_min_ms = 60000};
    CHECK_EQ(server_kill(&srv), 0);
    char err[256];
    watcher = watcher_start(&cfg, err, sizeof(err));
    CHECK(watcher);
    WAIT_FOR(stats().backoffs == 1);
    t0 = units_now_mono_ms();
    watcher_stop(watcher);
    watcher = NULL;
    took = units_now_mono_ms() - t0;
    CHECK_MSG(took < 1000, "stop in a backoff took %llu ms", (unsigned long long)took);
}

TEST(start_refuses_a_bad_config)
{
    struct podcache *c = podcache_new(0);
    struct watcher_config cfg = {
        .url = "http://10.0.0.1", .sa_dir = "/tmp", .node = "n", .cache = c};
    char err[256];
    CHECK(!watcher_start(&cfg, err, sizeof(err)));
    CHECK_CONTAINS(err, "is not https://");
    cfg.url = "https://10.0.0.1";
    cfg.cache = NULL;
    CHECK(!watcher_start(&cfg, err, sizeof(err)));
    podcache_free(c);
    CHECK_STREQ(watcher_error_name(WATCHER_ERR_FORBIDDEN), "forbidden");
}

/* last: what the others left */
TEST(cleanup)
{
    bool had = srv.dir[0] != '\0';
    teardown();
    CHECK(!had || !srv.dir[0]);
}

TEST_MAIN(list_in_pages_then_events_and_a_bookmark,
          gone_mid_stream_relists_and_the_cache_is_right_after,
          closed_stream_rewatches_from_the_last_version, server_down_backs_off_then_reconnects,
          rewatch_answered_after_an_outage_is_connected, rejected_token_backs_off_until_rotated,
          stop_is_prompt, start_refuses_a_bad_config, cleanup)
