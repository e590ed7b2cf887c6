/* recorder against the real HTTPS test server (tests/lib/kubeapi_server.py
 * with a CA made for this run), which creates and patches Events as the
 * API server does and logs each one it accepts (DIR/events-posted.jsonl,
 * DIR/events-patched.jsonl). Failures are forced with its control files
 * (events-fail: 500, events-forbidden: 403, events-hang: no answer,
 * events-expire: every Event forgotten). Every wait is on a condition (the
 * counters, the server's files), bounded; the windows and limits are made
 * small or large through recorder_config so that nothing waits on them. */
#include "harness.h"
#include "kube_server.h"
#include "kube/recorder.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <time.h>

#define REASON "FlameshotConfigError"
#define UID_A  "0a1b2c3d-0000-4000-8000-00000000000a"
#define UID_B  "0a1b2c3d-0000-4000-8000-00000000000b"

static struct server srv;
static struct recorder *rec;

static const struct recorder_object pod_a = {"shop", "web-1", UID_A, "Pod", "v1"};
static const struct recorder_object pod_b = {"shop", "web-2", UID_B, "Pod", "v1"};

static bool exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", srv.dir, name);
    return access(path, F_OK) == 0;
}

static void remove_file(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", srv.dir, name);
    unlink(path);
}

static struct recorder_config config(void)
{
    struct recorder_config c;
    recorder_config_defaults(&c);
    c.url = srv.url;
    c.sa_dir = srv.dir;
    c.node = "worker-2";
    c.component = "flameshotd";
    c.backoff_min_ms = 20;
    c.backoff_max_ms = 100;
    return c;
}

/* A recorder of c on the shared server, whose files a previous test (maybe
 * a failed one) left are cleared. */
static int start(const struct recorder_config *c)
{
    recorder_stop(rec);
    rec = NULL;
    if (!srv.pid && server_start(&srv) != 0)
        return -EIO;
    const char *files[] = {"requests.log", "events-posted.jsonl", "events-patched.jsonl",
                           "events-fail",  "events-forbidden",    "events-hang",
                           "events-held",  "events-expire"};
    for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++)
        remove_file(files[i]);
    write_file(srv.dir, "token", "token-1\n");
    write_file(srv.dir, "accepted-token", "token-1\n");
    char err[256];
    rec = recorder_start(c, err, sizeof(err));
    if (!rec)
        fprintf(stderr, "# recorder_start: %s\n", err);
    return rec ? 0 : -EINVAL;
}

static struct recorder_stats stats(void)
{
    struct recorder_stats s;
    recorder_stats(rec, &s);
    return s;
}

static int emit(const struct recorder_object *o, const char *message)
{
    return recorder_emit(rec, o, "Warning", REASON, message);
}

/* Line i (from 0) of one of the server's JSONL files, parsed; NULL when
 * there is none. */
static cJSON *line_of(const char *file, int i)
{
    char path[128], *buf = NULL;
    size_t n;
    snprintf(path, sizeof(path), "%s/%s", srv.dir, file);
    if (fsutil_read_all(path, 1 << 20, &buf, &n) != 0)
        return NULL;
    const char *p = buf;
    for (; i > 0 && p; i--)
        p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    cJSON *j = p && *p ? cJSON_Parse(p) : NULL; /* stops at the line's end */
    free(buf);
    return j;
}

static const char *str(const cJSON *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *at = j;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        at = cJSON_GetObjectItemCaseSensitive(at, k);
    return cJSON_IsString(at) ? at->valuestring : cJSON_IsNumber(at) ? "(number)" : "(none)";
}

static double num(const cJSON *j, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

static bool rfc3339_utc(const char *s)
{
    struct tm tm;
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return end && *end == '\0';
}

/* "<pod>.<16 lowercase hex>" */
static bool event_name_of(const char *name, const char *pod)
{
    size_t n = strlen(pod);
    return strncmp(name, pod, n) == 0 && name[n] == '.' && strlen(name + n + 1) == 16 &&
           strspn(name + n + 1, "0123456789abcdef") == 16;
}

#define NEED_SERVER() NEED(have("python3") && have("openssl"), "python3 and openssl")

TEST(post_once_with_the_fields)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "flameshot.io/processes: not JSON at byte 1"), 0);
    WAIT_FOR(stats().posted == 1);
    cJSON *e = line_of("events-posted.jsonl", 0);
    CHECK(e);
    const char *f[][2] = {{"kind", "Event"},
                          {"apiVersion", "v1"},
                          {"metadata.namespace", "shop"},
                          {"involvedObject.kind", "Pod"},
                          {"involvedObject.namespace", "shop"},
                          {"involvedObject.name", "web-1"},
                          {"involvedObject.uid", UID_A},
                          {"involvedObject.apiVersion", "v1"},
                          {"reason", REASON},
                          {"message", "flameshot.io/processes: not JSON at byte 1"},
                          {"type", "Warning"},
                          {"source.component", "flameshotd"},
                          {"source.host", "worker-2"},
                          {"reportingComponent", "flameshotd"},
                          {"reportingInstance", "worker-2"}};
    for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++)
        CHECK_MSG(strcmp(str(e, f[i][0]), f[i][1]) == 0, "%s: %s", f[i][0], str(e, f[i][0]));
    CHECK_MSG(event_name_of(str(e, "metadata.name"), "web-1"), "%s", str(e, "metadata.name"));
    CHECK(rfc3339_utc(str(e, "firstTimestamp")));
    CHECK_STREQ(str(e, "lastTimestamp"), str(e, "firstTimestamp"));
    CHECK(num(e, "count") == 1);
    cJSON_Delete(e);
    char *log = requests(&srv);
    CHECK_STREQ(log, "201 /api/v1/namespaces/shop/events\n");
    free(log);
    struct recorder_stats s = stats();
    CHECK(s.patched == 0 && s.errors == 0 && s.dropped == 0 && s.queued == 0);
    CHECK_STREQ(s.last_error, "");
}

/* With no patch interval every repeat PATCHes the first Event. */
TEST(repeat_patches_the_event_with_its_count)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.patch_interval_ms = 0;
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().patched == 1);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().patched == 2);
    CHECK_EQ(stats().posted, 1);
    cJSON *e = line_of("events-posted.jsonl", 0), *p1 = line_of("events-patched.jsonl", 0),
          *p2 = line_of("events-patched.jsonl", 1);
    CHECK(e && p1 && p2);
    CHECK_STREQ(str(p1, "name"), str(e, "metadata.name"));
    CHECK_STREQ(str(p2, "name"), str(e, "metadata.name"));
    const cJSON *patch = cJSON_GetObjectItemCaseSensitive(p1, "patch");
    CHECK(num(patch, "count") == 2);
    CHECK(rfc3339_utc(str(patch, "lastTimestamp")));
    CHECK_STREQ(str(patch, "message"), "bad annotation");
    CHECK(num(cJSON_GetObjectItemCaseSensitive(p2, "patch"), "count") == 3);
    cJSON_Delete(e);
    cJSON_Delete(p1);
    cJSON_Delete(p2);
    char *log = requests(&srv);
    CHECK_EQ(count_lines(log), 3);
    CHECK_CONTAINS(log, "200 /api/v1/namespaces/shop/events/web-1.");
    free(log);
}

/* Within the patch interval (the default 5 minutes) a repeat sends
 * nothing; with a dedup window of 0 every occurrence is an Event. */
TEST(repeat_within_the_interval_is_deduplicated)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 1);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 1);
    CHECK_EQ(stats().deduplicated, 2);
    WAIT_FOR(stats().posted == 1);
    struct recorder_stats s = stats();
    CHECK(s.queued == 0 && s.patched == 0);
    char *log = requests(&srv);
    CHECK_EQ(count_lines(log), 1);
    free(log);

    c.dedup_window_ms = 0;
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().posted == 2);
    cJSON *e1 = line_of("events-posted.jsonl", 0), *e2 = line_of("events-posted.jsonl", 1);
    CHECK(e1 && e2);
    CHECK(strcmp(str(e1, "metadata.name"), str(e2, "metadata.name")) != 0);
    CHECK(num(e2, "count") == 1);
    cJSON_Delete(e1);
    cJSON_Delete(e2);
    CHECK_EQ(stats().deduplicated, 0);
}

TEST(different_message_is_a_new_event)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "flameshot.io/tags: bad"), 0);
    CHECK_EQ(emit(&pod_a, "flameshot.io/jcmd-timeout: bad"), 0);
    CHECK_EQ(emit(&pod_b, "flameshot.io/tags: bad"), 0); /* another Pod, the same message */
    WAIT_FOR(stats().posted == 3);
    cJSON *e[3];
    for (int i = 0; i < 3; i++)
        e[i] = line_of("events-posted.jsonl", i);
    CHECK(e[0] && e[1] && e[2]);
    CHECK_STREQ(str(e[0], "message"), "flameshot.io/tags: bad");
    CHECK_STREQ(str(e[1], "message"), "flameshot.io/jcmd-timeout: bad");
    CHECK_STREQ(str(e[2], "involvedObject.name"), "web-2");
    CHECK(strcmp(str(e[0], "metadata.name"), str(e[1], "metadata.name")) != 0);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(e[i]);
    CHECK_EQ(stats().deduplicated, 0);
}

/* A Pod's burst spent: its next Event is not sent, other Pods' are, until
 * the global bucket is spent too. */
TEST(rate_limited_per_object_and_overall)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.object_burst = 2;
    c.global_burst = 4;
    c.object_refill_ms = c.global_refill_ms = 3600 * 1000;
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "m1"), 0);
    CHECK_EQ(emit(&pod_a, "m2"), 0);
    CHECK_EQ(emit(&pod_a, "m3"), -EAGAIN);
    CHECK_EQ(stats().rate_limited, 1);
    CHECK_EQ(emit(&pod_b, "m1"), 0);
    const struct recorder_object pod_c = {"shop", "web-3", "uid-c", "Pod", "v1"};
    const struct recorder_object pod_d = {"shop", "web-4", "uid-d", "Pod", "v1"};
    CHECK_EQ(emit(&pod_c, "m1"), 0);
    CHECK_EQ(emit(&pod_d, "m1"), -EAGAIN); /* 4 sent: the global bucket is empty */
    WAIT_FOR(stats().posted == 4);
    struct recorder_stats s = stats();
    CHECK_EQ(s.rate_limited, 2);
    CHECK_EQ(s.dropped, 0);
    char *log = requests(&srv);
    CHECK_EQ(count_lines(log), 4);
    free(log);
}

/* A spent bucket gives a token back after object_refill_ms, not before. */
TEST(rate_limit_refills)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.object_burst = 1;
    c.object_refill_ms = 300;
    CHECK_EQ(start(&c), 0);
    uint64_t t0 = units_now_mono_ms();
    CHECK_EQ(emit(&pod_a, "m1"), 0);
    CHECK_EQ(emit(&pod_a, "m2"), -EAGAIN);
    int rc;
    while ((rc = emit(&pod_a, "m2")) == -EAGAIN && units_now_mono_ms() < t0 + WAIT_MS)
        tick();
    uint64_t took = units_now_mono_ms() - t0;
    CHECK_EQ(rc, 0);
    CHECK_MSG(took >= 300, "a token came back after %llu ms", (unsigned long long)took);
    WAIT_FOR(stats().posted == 2);
}

/* 500s are retried with backoff; once the API server recovers the Event
 * is delivered, once. */
TEST(server_error_then_recovered_is_delivered)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.retries = 10000;
    CHECK_EQ(start(&c), 0);
    write_file(srv.dir, "events-fail", "");
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().errors >= 2);
    CHECK_CONTAINS(stats().last_error, "HTTP 500: etcdserver: request timed out");
    CHECK_CONTAINS(stats().last_error, "event " REASON " on shop/web-1");
    remove_file("events-fail");
    WAIT_FOR(stats().posted == 1);
    struct recorder_stats s = stats();
    CHECK_EQ(s.dropped, 0);
    char *log = requests(&srv);
    CHECK_MSG(strncmp(log, "500 /api/v1/namespaces/shop/events\n", 35) == 0, "%s", log);
    CHECK_EQ(count_lines(log), (int)s.errors + 1);
    free(log);
    cJSON *e = line_of("events-posted.jsonl", 0);
    CHECK(e && !line_of("events-posted.jsonl", 1));
    cJSON_Delete(e);
}

/* 403 (RBAC): each attempt counted, dropped after the retries, the
 * emitter never waits; the dropped Event is forgotten, so once RBAC is
 * granted the same error is POSTed (not deduplicated away). */
TEST(forbidden_is_counted_and_dropped)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.retries = 1;
    c.backoff_min_ms = c.backoff_max_ms = 1000;
    CHECK_EQ(start(&c), 0);
    write_file(srv.dir, "events-forbidden", "");
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().errors == 1);
    uint64_t t0 = units_now_mono_ms();
    CHECK_EQ(emit(&pod_b, "bad annotation"), 0); /* while a retries */
    CHECK_EQ(emit(&pod_b, "another"), 0);
    uint64_t took = units_now_mono_ms() - t0;
    CHECK_MSG(took < 500, "emitting took %llu ms", (unsigned long long)took);
    WAIT_FOR(stats().dropped == 3);
    struct recorder_stats s = stats();
    CHECK_EQ(s.errors, 6); /* 3 Events x (1 + 1 retry) */
    CHECK_EQ(s.posted, 0);
    CHECK_CONTAINS(s.last_error, "HTTP 403: events is forbidden");
    remove_file("events-forbidden");
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().posted == 1);
    cJSON *e = line_of("events-posted.jsonl", 0);
    CHECK(e);
    CHECK(num(e, "count") == 1); /* a new Event, not a repeat of one never made */
    cJSON_Delete(e);
}

/* The API dropped the Event (its TTL): the PATCH's 404 POSTs it again
 * under a new name with the count so far, and later repeats patch that. */
TEST(expired_event_is_created_again)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.patch_interval_ms = 0;
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().posted == 1);
    write_file(srv.dir, "events-expire", "");
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().posted == 2);
    CHECK_EQ(emit(&pod_a, "bad annotation"), 0);
    WAIT_FOR(stats().patched == 1);
    cJSON *e1 = line_of("events-posted.jsonl", 0), *e2 = line_of("events-posted.jsonl", 1),
          *p = line_of("events-patched.jsonl", 0);
    CHECK(e1 && e2 && p);
    CHECK(strcmp(str(e1, "metadata.name"), str(e2, "metadata.name")) != 0);
    CHECK(num(e2, "count") == 2);
    CHECK_STREQ(str(e2, "firstTimestamp"), str(e1, "firstTimestamp"));
    CHECK_STREQ(str(p, "name"), str(e2, "metadata.name"));
    CHECK(num(cJSON_GetObjectItemCaseSensitive(p, "patch"), "count") == 3);
    cJSON_Delete(e1);
    cJSON_Delete(e2);
    cJSON_Delete(p);
    char *log = requests(&srv);
    CHECK_EQ(count_lines(log), 4);
    CHECK_MSG(strstr(log, "201 ") == log && strstr(log, "\n404 /api/v1/namespaces/shop/events/"),
              "%s", log);
    free(log);
    CHECK_EQ(stats().errors, 0);
}

/* The server holds a request: the queue behind it fills and the next
 * emission is refused at once. */
TEST(queue_full_is_refused_at_once)
{
    NEED_SERVER();
    struct recorder_config c = config();
    c.queue_cap = 2;
    CHECK_EQ(start(&c), 0);
    write_file(srv.dir, "events-hang", "");
    CHECK_EQ(emit(&pod_a, "m1"), 0);
    WAIT_FOR(exists("events-held")); /* m1 is in flight, the queue empty */
    CHECK_EQ(emit(&pod_a, "m2"), 0);
    CHECK_EQ(emit(&pod_a, "m3"), 0);
    uint64_t t0 = units_now_mono_ms();
    CHECK_EQ(emit(&pod_a, "m4"), -ENOSPC);
    uint64_t took = units_now_mono_ms() - t0;
    CHECK_MSG(took < 500, "a refusal took %llu ms", (unsigned long long)took);
    struct recorder_stats s = stats();
    CHECK_EQ(s.dropped, 1);
    CHECK_EQ(s.queued, 2);
    remove_file("events-hang");
    WAIT_FOR(stats().posted == 3);
    CHECK_EQ(stats().queued, 0);
}

/* recorder_stop with a request the server never answers returns within
 * its bound; in a backoff, at once. */
TEST(stop_with_a_request_stuck_is_bounded)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    write_file(srv.dir, "events-hang", "");
    CHECK_EQ(emit(&pod_a, "m1"), 0);
    CHECK_EQ(emit(&pod_a, "m2"), 0);
    WAIT_FOR(exists("events-held"));
    uint64_t t0 = units_now_mono_ms();
    recorder_stop(rec);
    rec = NULL;
    uint64_t took = units_now_mono_ms() - t0;
    remove_file("events-hang");
    CHECK_MSG(took < RECORDER_STOP_BOUND_MS + 500, "stop took %llu ms", (unsigned long long)took);

    c.backoff_min_ms = c.backoff_max_ms = 60000;
    CHECK_EQ(start(&c), 0);
    write_file(srv.dir, "events-fail", "");
    CHECK_EQ(emit(&pod_a, "m1"), 0);
    WAIT_FOR(stats().errors == 1);
    t0 = units_now_mono_ms();
    recorder_stop(rec);
    rec = NULL;
    took = units_now_mono_ms() - t0;
    CHECK_MSG(took < 1000, "stop in a backoff took %llu ms", (unsigned long long)took);
}

/* The API accepts only a rotated token: the cached one gets a 401, the
 * file is re-read and the request retried (apiclient's policy). */
TEST(token_rotation_rereads_the_token)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(emit(&pod_a, "m1"), 0);
    WAIT_FOR(stats().posted == 1); /* token-1 read and cached */
    write_file(srv.dir, "accepted-token", "token-2\n");
    write_file(srv.dir, "token", "token-2\n");
    CHECK_EQ(emit(&pod_a, "m2"), 0);
    WAIT_FOR(stats().posted == 2);
    CHECK_EQ(stats().errors, 0);
    char *log = requests(&srv);
    CHECK_STREQ(log, "201 /api/v1/namespaces/shop/events\n"
                     "401 /api/v1/namespaces/shop/events\n"
                     "201 /api/v1/namespaces/shop/events\n");
    free(log);
}

/* Messages are cut to the API's 1024 bytes without splitting a UTF-8
 * character; a long Pod name still makes an Event name of 253 bytes. */
TEST(long_message_and_name_are_cut)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    char msg[2100];
    memset(msg, 'a', 1023);
    snprintf(msg + 1023, sizeof(msg) - 1023, "\xc3\xa9 and more");
    CHECK_EQ(emit(&pod_a, msg), 0);
    char name[254];
    memset(name, 'w', 253);
    name[253] = '\0';
    name[235] = '-'; /* the last byte kept: a label does not end with it */
    const struct recorder_object long_pod = {"shop", name, UID_B, "Pod", "v1"};
    char *p = msg;
    for (int i = 0; i < 1040; i++, p += 2)
        memcpy(p, "\xc3\xa9", 2);
    *p = '\0';
    CHECK_EQ(emit(&long_pod, msg), 0);
    WAIT_FOR(stats().posted == 2);
    cJSON *e1 = line_of("events-posted.jsonl", 0), *e2 = line_of("events-posted.jsonl", 1);
    CHECK(e1 && e2);
    CHECK_EQ(strlen(str(e1, "message")), 1023); /* the é would end at byte 1025 */
    CHECK_EQ(strlen(str(e2, "message")), 1024);
    CHECK(memcmp(str(e2, "message") + 1022, "\xc3\xa9", 2) == 0);
    const char *ev = str(e2, "metadata.name");
    CHECK_EQ(strlen(ev), 235 + 17);
    CHECK(ev[234] == 'w' && ev[235] == '.');
    cJSON_Delete(e1);
    cJSON_Delete(e2);
}

TEST(emit_refuses_what_is_not_an_event)
{
    NEED_SERVER();
    struct recorder_config c = config();
    CHECK_EQ(start(&c), 0);
    CHECK_EQ(recorder_emit(rec, &pod_a, "Error", REASON, "m"), -EINVAL);
    CHECK_EQ(recorder_emit(rec, &pod_a, "Warning", "", "m"), -EINVAL);
    CHECK_EQ(recorder_emit(rec, &pod_a, "Warning", REASON, NULL), -EINVAL);
    const struct recorder_object bad[] = {
        {"shop/../kube-system", "web-1", UID_A, "Pod", "v1"},
        {"shop", "web-1?x=1", UID_A, "Pod", "v1"},
        {"shop", "web-1", "", "Pod", "v1"},
        {"shop", "web-1", UID_A, NULL, "v1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        CHECK_MSG(recorder_emit(rec, &bad[i], "Warning", REASON, "m") == -EINVAL, "object %zu", i);
    CHECK_EQ(recorder_emit(rec, NULL, "Warning", REASON, "m"), -EINVAL);
    struct recorder_stats s = stats();
    CHECK(s.queued == 0 && s.dropped == 0 && s.rate_limited == 0);
}

TEST(start_refuses_a_bad_config)
{
    struct recorder_config c;
    recorder_config_defaults(&c);
    c.url = "http://10.0.0.1";
    c.sa_dir = "/tmp";
    c.node = "worker-2";
    c.component = "flameshotd";
    char err[256];
    CHECK(!recorder_start(&c, err, sizeof(err)));
    CHECK_CONTAINS(err, "is not https://");
    c.url = "https://10.0.0.1";
    c.node = "";
    CHECK(!recorder_start(&c, err, sizeof(err)));
    CHECK_CONTAINS(err, "no node name");
    c.node = "worker-2";
    c.queue_cap = 0;
    CHECK(!recorder_start(&c, err, sizeof(err)));
    CHECK_CONTAINS(err, "queue capacity");
    c.queue_cap = 1;
    c.global_refill_ms = 0;
    CHECK(!recorder_start(&c, err, sizeof(err)));
    CHECK_CONTAINS(err, "refill");
    recorder_stop(NULL);
}

/* last: what the others left; the server must still be up */
TEST(cleanup)
{
    NEED_SERVER();
    recorder_stop(rec);
    rec = NULL;
    bool had = srv.pid != 0;
    CHECK(!had || server_stop(&srv) == 0);
}

TEST_MAIN(post_once_with_the_fields, repeat_patches_the_event_with_its_count,
          repeat_within_the_interval_is_deduplicated, different_message_is_a_new_event,
          rate_limited_per_object_and_overall, rate_limit_refills,
          server_error_then_recovered_is_delivered, forbidden_is_counted_and_dropped,
          expired_event_is_created_again, queue_full_is_refused_at_once,
          stop_with_a_request_stuck_is_bounded, token_rotation_rereads_the_token,
          long_message_and_name_are_cut, emit_refuses_what_is_not_an_event,
          start_refuses_a_bad_config, cleanup)
