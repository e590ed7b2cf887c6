/* apiclient against a real HTTPS server (tests/lib/kubeapi_server.py:
 * python3's http.server and ssl, a CA made by openssl for this run) that
 * speaks list/watch as the API server does: pagination with continue, an
 * expired continue token, a watch stream cut into uneven TCP writes ending
 * with a 410 ERROR event, 410 on a too-old resourceVersion, a rotated
 * token (old token -> 401), a CA that did not sign the server. */
#include "harness.h"
#include "kube_fixture.h"
#include "kube_server.h"
#include "kube/apiclient.h"

#include <errno.h>

static struct server srv;
static struct kubeapi *api;

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        NEED(have("python3") && have("openssl"), "python3 and openssl");                           \
        if (!srv.pid) {                                                                            \
            CHECK_EQ(server_start(&srv), 0);                                                       \
            char e_[256];                                                                          \
            api = kubeapi_new(srv.url, srv.dir, "worker-2", e_, sizeof(e_));                       \
            CHECK_MSG(api, "%s", e_);                                                              \
        }                                                                                          \
        write_file(srv.dir, "requests.log", "");                                                   \
    } while (0)

TEST(list_follows_continue_across_pages)
{
    NEED_SERVER();
    struct pod_list l;
    char err[256];
    CHECK_EQ(kubeapi_list(api, &l, err, sizeof(err)), 0);
    CHECK_EQ(l.n, 4);
    CHECK_EQ(l.rejected, 1); /* the Pod with a malformed containerID */
    CHECK_CONTAINS(err, "broken-id");
    CHECK_STREQ(l.resource_version, "4413600");
    CHECK(!l.cont);
    CHECK_STREQ(l.items[0].config_hash, HASH_STATIC);
    CHECK_STREQ(l.items[3].uid, UID_REPORT);
    pod_list_free(&l);
    char *log = requests(&srv);
    CHECK_EQ(count_lines(log), 2);
    CHECK_CONTAINS(log, "200 /api/v1/pods?fieldSelector=spec.nodeName%3Dworker-2&limit=500\n");
    CHECK_CONTAINS(log, "&limit=500&continue=eyJ2Ijoi");
    free(log);
}

TEST(expired_continue_is_stale)
{
    NEED_SERVER();
    write_file(srv.dir, "expire-continue", "");
    struct pod_list l;
    char err[256];
    int rc = kubeapi_list(api, &l, err, sizeof(err));
    char path[128];
    snprintf(path, sizeof(path), "%s/expire-continue", srv.dir);
    unlink(path);
    CHECK_EQ(rc, -ESTALE);
    CHECK_CONTAINS(err, "HTTP 410: The provided continue parameter is too old");
    CHECK_EQ(l.n, 0);
}

struct seen {
    char log[1024];
    int n;
};

static int collect(const struct watch_event *ev, void *arg)
{
    struct seen *s = arg;
    size_t at = strlen(s->log);
    snprintf(s->log + at, sizeof(s->log) - at, "%s %s;", watch_type_name(ev->type),
             ev->resource_version ? ev->resource_version : "-");
    s->n++;
    return 0;
}

TEST(watch_stream_in_uneven_writes_ends_with_gone)
{
    NEED_SERVER();
    struct seen s = {0};
    char err[256];
    CHECK_EQ(kubeapi_watch(api, "4413600", 30, collect, &s, err, sizeof(err)), -ESTALE);
    CHECK_STREQ(s.log, "ADDED 4410721;ADDED 4410990;MODIFIED 4412310;BOOKMARK 4413800;"
                       "MODIFIED 4413700;DELETED 4413810;ERROR -;");
    char *log = requests(&srv);
    CHECK_CONTAINS(log, "200 /api/v1/pods?fieldSelector=spec.nodeName%3Dworker-2&watch=1&"
                        "allowWatchBookmarks=true&resourceVersion=4413600&timeoutSeconds=30\n");
    free(log);
}

static int stop_at_bookmark(const struct watch_event *ev, void *arg)
{
    collect(ev, arg);
    return ev->type == WATCH_BOOKMARK ? 7 : 0;
}

TEST(watch_stopped_by_the_caller)
{
    NEED_SERVER();
    struct seen s = {0};
    char err[256];
    CHECK_EQ(kubeapi_watch(api, "4413600", 30, stop_at_bookmark, &s, err, sizeof(err)), 7);
    CHECK_EQ(s.n, 4);
}

TEST(watch_from_too_old_version_is_stale)
{
    NEED_SERVER();
    struct seen s = {0};
    char err[256];
    CHECK_EQ(kubeapi_watch(api, "1", 30, collect, &s, err, sizeof(err)), -ESTALE);
    CHECK_EQ(s.n, 0);
    CHECK_CONTAINS(err, "HTTP 410: too old resource version");
}

/* The API starts accepting only the rotated token: until the kubelet
 * writes it, 401 (re-read, retried once); once written, the next request
 * gets a 401, re-reads it and succeeds, without waiting for the minute. */
TEST(token_rotation_reread_after_401)
{
    NEED_SERVER();
    struct pod_list l;
    char err[256];
    CHECK_EQ(kubeapi_list(api, &l, err, sizeof(err)), 0); /* token-1 read and cached */
    pod_list_free(&l);
    write_file(srv.dir, "accepted-token", "token-2\n");
    write_file(srv.dir, "requests.log", "");
    CHECK_EQ(kubeapi_list(api, &l, err, sizeof(err)), -EACCES);
    CHECK_CONTAINS(err, "HTTP 401");
    char *log = requests(&srv);
    CHECK_EQ(count_lines(log), 2); /* the request and its one retry */
    free(log);
    write_file(srv.dir, "token", "token-2\n");
    write_file(srv.dir, "requests.log", "");
    CHECK_EQ(kubeapi_list(api, &l, err, sizeof(err)), 0);
    CHECK_EQ(l.n, 4);
    pod_list_free(&l);
    log = requests(&srv);
    CHECK_MSG(strncmp(log, "401 ", 4) == 0 && count_lines(log) == 3, "%s", log);
    free(log);
    write_file(srv.dir, "accepted-token", "token-1\n");
    write_file(srv.dir, "token", "token-1\n");
}

TEST(server_not_signed_by_the_ca_is_refused)
{
    NEED_SERVER();
    char dir[128], path[160], *ca = NULL;
    size_t n;
    snprintf(path, sizeof(path), "%s/other-ca.crt", srv.dir);
    CHECK_EQ(fsutil_read_all(path, 1 << 20, &ca, &n), 0);
    snprintf(dir, sizeof(dir), "%s/other", srv.dir);
    CHECK_EQ(fsutil_mkdirs(dir, 0700), 0);
    write_file(dir, "ca.crt", ca);
    write_file(dir, "token", "token-1\n");
    free(ca);
    char err[256];
    struct kubeapi *other = kubeapi_new(srv.url, dir, "worker-2", err, sizeof(err));
    CHECK(other);
    struct pod_list l;
    int rc = kubeapi_list(other, &l, err, sizeof(err));
    kubeapi_free(other);
    CHECK_EQ(rc, -EIO);
    CHECK_CONTAINS(err, "SSL");
    char *log = requests(&srv);
    CHECK_STREQ(log, ""); /* no request was sent, so no token either */
    free(log);
}

TEST(unusable_token_is_refused_before_connecting)
{
    NEED_SERVER();
    char err[256];
    struct kubeapi *a = kubeapi_new(srv.url, "/nonexistent", "worker-2", err, sizeof(err));
    CHECK(a);
    struct pod_list l;
    CHECK_EQ(kubeapi_list(a, &l, err, sizeof(err)), -EACCES);
    CHECK_CONTAINS(err, "/nonexistent/token");
    kubeapi_free(a);
    /* a token that would add a header line is never sent */
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/crlf", srv.dir);
    CHECK_EQ(fsutil_mkdirs(dir, 0700), 0);
    write_file(dir, "token", "token-1\r\nX-Injected: 1\n");
    a = kubeapi_new(srv.url, dir, "worker-2", err, sizeof(err));
    CHECK_EQ(kubeapi_list(a, &l, err, sizeof(err)), -EACCES);
    CHECK_CONTAINS(err, "control character");
    kubeapi_free(a);
    char *log = requests(&srv);
    CHECK_STREQ(log, "");
    free(log);
}

static char *read_text(const char *dir, const char *name)
{
    char path[160], *buf = NULL;
    size_t n;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (fsutil_read_all(path, 1 << 20, &buf, &n) != 0)
        return strdup("");
    return buf;
}

#define EVENT_BODY(name, ns)                                                                       \
    "{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","               \
    "\"namespace\":\"" ns "\"},\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"" ns "\","     \
    "\"name\":\"web-1\",\"uid\":\"u-1\",\"apiVersion\":\"v1\"},\"reason\":\"R\","                  \
    "\"message\":\"m\",\"type\":\"Warning\",\"count\":1}"

/* The writes: a POST creates (201), the same name again is a conflict, a
 * PATCH merges (200) or finds nothing (404); a 403 is -EPERM; a 401 is
 * retried with the re-read token as for a GET. */
TEST(send_posts_and_patches)
{
    NEED_SERVER();
    const char *json = "application/json", *smp = "application/strategic-merge-patch+json";
    char err[256];
    long code = -1;
    kubeapi_free(api); /* a client that has not cached a token of an earlier test */
    api = kubeapi_new(srv.url, srv.dir, "worker-2", err, sizeof(err));
    CHECK(api);
    const char *ev = EVENT_BODY("web-1.0001", "shop");
    CHECK_EQ(kubeapi_send(api, "POST", "/api/v1/namespaces/shop/events", json, ev, &code, err,
                          sizeof(err)),
             0);
    CHECK_EQ(code, 201);
    char *posted = read_text(srv.dir, "events-posted.jsonl");
    CHECK_CONTAINS(posted, "\"name\": \"web-1.0001\"");
    free(posted);
    CHECK_EQ(kubeapi_send(api, "POST", "/api/v1/namespaces/shop/events", json, ev, &code, err,
                          sizeof(err)),
             -EIO);
    CHECK_EQ(code, 409);
    CHECK_CONTAINS(err, "HTTP 409: events \"web-1.0001\" already exists");
    CHECK_EQ(kubeapi_send(api, "PATCH", "/api/v1/namespaces/shop/events/web-1.0001", smp,
                          "{\"count\":2}", &code, err, sizeof(err)),
             0);
    CHECK_EQ(code, 200);
    char *patched = read_text(srv.dir, "events-patched.jsonl");
    CHECK_CONTAINS(patched, "\"name\": \"web-1.0001\", \"patch\": {\"count\": 2}");
    free(patched);
    CHECK_EQ(kubeapi_send(api, "PATCH", "/api/v1/namespaces/shop/events/web-1.0002", smp, "{}",
                          &code, err, sizeof(err)),
             -EIO);
    CHECK_EQ(code, 404);
    write_file(srv.dir, "events-forbidden", "");
    int rc = kubeapi_send(api, "POST", "/api/v1/namespaces/shop/events", json,
                          EVENT_BODY("web-1.0003", "shop"), &code, err, sizeof(err));
    char path[128];
    snprintf(path, sizeof(path), "%s/events-forbidden", srv.dir);
    unlink(path);
    CHECK_EQ(rc, -EPERM);
    CHECK_EQ(code, 403);
    CHECK_CONTAINS(err, "cannot create resource \"events\"");
    write_file(srv.dir, "accepted-token", "token-2\n");
    write_file(srv.dir, "token", "token-2\n");
    CHECK_EQ(kubeapi_send(api, "POST", "/api/v1/namespaces/shop/events", json,
                          EVENT_BODY("web-1.0004", "shop"), &code, err, sizeof(err)),
             0);
    write_file(srv.dir, "accepted-token", "token-1\n");
    write_file(srv.dir, "token", "token-1\n");
    char *log = requests(&srv);
    CHECK_STREQ(log, "201 /api/v1/namespaces/shop/events\n"
                     "409 /api/v1/namespaces/shop/events\n"
                     "200 /api/v1/namespaces/shop/events/web-1.0001\n"
                     "404 /api/v1/namespaces/shop/events/web-1.0002\n"
                     "403 /api/v1/namespaces/shop/events\n"
                     "401 /api/v1/namespaces/shop/events\n"
                     "201 /api/v1/namespaces/shop/events\n");
    free(log);
}

TEST(send_refuses_what_it_does_not_send)
{
    NEED_SERVER();
    char err[256];
    long code = -1;
    CHECK_EQ(kubeapi_send(api, "DELETE", "/api/v1/namespaces/shop/events/x", "application/json",
                          "{}", &code, err, sizeof(err)),
             -EINVAL);
    CHECK_EQ(code, 0);
    CHECK_EQ(kubeapi_send(api, "POST", "/api/v1/namespaces/shop/events", "application/json", NULL,
                          &code, err, sizeof(err)),
             -EINVAL);
    CHECK_EQ(kubeapi_send(api, "POST", "/api/v1/namespaces/shop/events",
                          "application/json\r\nX-Injected: 1", "{}", &code, err, sizeof(err)),
             -EINVAL);
    char *log = requests(&srv);
    CHECK_STREQ(log, "");
    free(log);
}

/* --pods and --node: the state comes from a file, the node is another */
TEST(server_serves_a_pods_file_for_another_node)
{
    NEED(have("python3") && have("openssl"), "python3 and openssl");
    struct server other = {.node = "worker-9"};
    snprintf(other.dir, sizeof(other.dir), "/tmp/fs-kubeapi-XXXXXX");
    CHECK(mkdtemp(other.dir));
    char pods[96];
    snprintf(pods, sizeof(pods), "%s/pods.json", other.dir);
    other.pods = pods;
    write_file(other.dir, "pods.json",
               "[{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"uid\":\"" UID_REPORT
               "\",\"namespace\":\"shop\",\"name\":\"web-1\",\"resourceVersion\":\"77\"},"
               "\"spec\":{\"nodeName\":\"worker-9\"},\"status\":{\"phase\":\"Running\"}}]");
    CHECK_EQ(server_start(&other), 0);
    char err[256];
    struct kubeapi *a = kubeapi_new(other.url, other.dir, "worker-9", err, sizeof(err));
    struct kubeapi *b = kubeapi_new(other.url, other.dir, "worker-2", err, sizeof(err));
    struct pod_list l = {0}, l2 = {0};
    int rc = a && b ? kubeapi_list(a, &l, err, sizeof(err)) : -ENOMEM;
    int rc2 = a && b ? kubeapi_list(b, &l2, err, sizeof(err)) : -ENOMEM;
    kubeapi_free(a);
    kubeapi_free(b);
    int stopped = server_stop(&other);
    CHECK_EQ(rc, 0);
    CHECK_EQ(l.n, 1);
    CHECK_STREQ(l.items[0].name, "web-1");
    CHECK_STREQ(l.resource_version, "77");
    pod_list_free(&l);
    CHECK_EQ(rc2, -EIO); /* the fieldSelector names another node: 400 */
    CHECK_CONTAINS(err, "HTTP 400");
    CHECK_EQ(stopped, 0);
}

TEST(urls)
{
    char err[256];
    CHECK(!kubeapi_new("http://10.96.0.1:80", "/tmp", "worker-2", err, sizeof(err)));
    CHECK_CONTAINS(err, "is not https://");
    CHECK(!kubeapi_new("https://10.96.0.1", "/tmp", "", err, sizeof(err)));
    CHECK_STREQ(err, "no node name");
}

/* The proxy variables libcurl honours by default (set on a node for the
 * uploads) never apply to the API server: here they name a closed port. */
TEST(proxy_variables_do_not_reach_the_api_server)
{
    NEED_SERVER();
    static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        setenv(vars[i], "http://127.0.0.1:9", 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    struct pod_list l = {0};
    char err[256] = "";
    int rc = kubeapi_list(api, &l, err, sizeof(err));
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    CHECK_MSG(rc == 0, "through the proxy: %d: %s", rc, err);
    CHECK_EQ(l.n, 4);
    pod_list_free(&l);
}

/* last: stops the server the others shared, which must still be up */
TEST(server_served_to_the_end)
{
    NEED(have("python3") && have("openssl"), "python3 and openssl");
    kubeapi_free(api);
    CHECK_EQ(server_stop(&srv), 0);
}

TEST_MAIN(list_follows_continue_across_pages, proxy_variables_do_not_reach_the_api_server,
          expired_continue_is_stale, watch_stream_in_uneven_writes_ends_with_gone,
          watch_stopped_by_the_caller, watch_from_too_old_version_is_stale,
          token_rotation_reread_after_401, server_not_signed_by_the_ca_is_refused,
          unusable_token_is_refused_before_connecting, send_posts_and_patches,
          send_refuses_what_it_does_not_send, server_serves_a_pods_file_for_another_node, urls,
          server_served_to_the_end)
