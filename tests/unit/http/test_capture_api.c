/* capture_api: the parameters of GET /v1/profile and /v1/snapshot as the
 * server sees them (raw query -> httpq -> capture_api_parse): defaults,
 * bounds, pid precedence, regex compilation errors with PCRE2's message,
 * events, snapshot types and the Kubernetes-only Pod selectors. The
 * resolution against real processes is tested end to end in
 * tests/integration/40_http_api.sh. */
#include "harness.h"
#include "http/capture_api.h"
#include "core/rules.h"

#include <errno.h>

/* Returns capture_api_parse's rc (or -EINVAL from httpq) with the reason. */
static int parse(enum capture_kind k, const char *raw, bool k8s, struct capture_api_request *r,
                 char *why)
{
    struct httpq q;
    why[0] = '\0';
    int rc = query_parse(raw, capture_api_params(k), &q, why, 512);
    if (rc < 0)
        return rc;
    rc = capture_api_parse(k, &q, k8s, r, why, 512);
    query_free(&q);
    return rc;
}

#define P CAPTURE_PROFILE
#define S CAPTURE_SNAPSHOT

TEST(defaults)
{
    struct capture_api_request r;
    char why[512];
    CHECK_EQ(parse(P, "pid=1234", false, &r, why), 0);
    CHECK_EQ(r.pid, 1234);
    CHECK(r.re == NULL);
    CHECK_EQ(r.duration_ms, 30000);
    CHECK_EQ(r.events, 0); /* each target's rule events */
    CHECK(!r.command_ignored);
    capture_api_request_free(&r);
    CHECK_EQ(parse(S, "pid=7", false, &r, why), 0);
    CHECK_EQ(r.snapshot_type, -1); /* both */
    capture_api_request_free(&r);
}

TEST(pid_or_command_required)
{
    struct capture_api_request r;
    char why[512];
    CHECK_EQ(parse(P, "", false, &r, why), -EINVAL);
    CHECK_STREQ(why, "pid or command is required");
    CHECK_EQ(parse(P, "duration=5s", false, &r, why), -EINVAL);
    CHECK_STREQ(why, "pid or command is required");
    CHECK_EQ(parse(S, "type=thread_print", true, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "pid or command is required (or namespace and pod");
}

TEST(bad_pids)
{
    static const struct {
        const char *raw, *why;
    } cases[] = {
        {"pid=", "pid: empty"},
        {"pid=abc", "pid: \"abc\" is not a number"},
        {"pid=-1", "pid: \"-1\" is not a number"},
        {"pid=+5", "pid: \" 5\" is not a number"}, /* '+' is a space */
        {"pid=12ab", "pid: \"12ab\" is not a number"},
        {"pid=0", "pid: 0 is out of range (1..4194304)"},
        {"pid=4194305", "pid: 4194305 is out of range"},
        {"pid=999999999999", "pid: 999999999999 is out of range"},
        {"pid=99999999999999999999999", "pid: value longer than 16 bytes"},
        {"pid=1.5", "is not a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct capture_api_request r;
        char why[512];
        CHECK_MSG(parse(P, cases[i].raw, false, &r, why) == -EINVAL, "%s accepted", cases[i].raw);
        CHECK_CONTAINS(why, cases[i].why);
    }
}

TEST(pid_takes_precedence)
{
    struct capture_api_request r;
    char why[512];
    /* the regex is not even compiled: Flameshot ignores command then */
    CHECK_EQ(parse(P, "command=(&pid=42", false, &r, why), 0);
    CHECK_EQ(r.pid, 42);
    CHECK(r.re == NULL);
    CHECK(r.command_ignored);
    capture_api_request_free(&r);
}

TEST(regex_compiled_or_explained)
{
    struct capture_api_request r;
    char why[512];
    CHECK_EQ(parse(P, "command=%5Ejava.*Burner%24", false, &r, why), 0);
    CHECK(r.re != NULL);
    CHECK_STREQ(r.command, "^java.*Burner$");
    capture_api_request_free(&r);
    CHECK(r.re == NULL);
    CHECK_EQ(parse(P, "command=(", false, &r, why), -EINVAL);
    CHECK_STREQ(why, "command: regex does not compile: missing closing parenthesis at offset 1");
    CHECK_EQ(parse(P, "command=a%5Bb", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "missing terminating ] for character class at offset 3");
    CHECK_EQ(parse(P, "command=x%5CC", false, &r, why), -EINVAL); /* \C is refused */
    CHECK_CONTAINS(why, "regex does not compile");
    CHECK_EQ(parse(P, "command=", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "command: empty regex");
}

TEST(durations_bounded)
{
    static const struct {
        const char *raw;
        long long ms; /* -1: refused */
        const char *why;
    } cases[] = {
        {"pid=1&duration=1s", 1000, NULL},
        {"pid=1&duration=5m", 300000, NULL},
        {"pid=1&duration=1m30s", 90000, NULL},
        {"pid=1&duration=999ms", -1, "duration: 999ms is out of range (1s..5m)"},
        {"pid=1&duration=5m1s", -1, "out of range (1s..5m)"},
        {"pid=1&duration=1h", -1, "out of range"},
        {"pid=1&duration=30", -1, "duration: \"30\": "},
        {"pid=1&duration=", -1, "duration: \"\": "},
        {"pid=1&duration=-5s", -1, "duration: \"-5s\""},
        {"pid=1&duration=1.5s", -1, "duration: \"1.5s\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct capture_api_request r;
        char why[512];
        int rc = parse(P, cases[i].raw, false, &r, why);
        if (cases[i].ms >= 0) {
            CHECK_MSG(rc == 0, "%s: %s", cases[i].raw, why);
            CHECK_EQ(r.duration_ms, cases[i].ms);
            capture_api_request_free(&r);
        } else {
            CHECK_MSG(rc == -EINVAL, "%s accepted", cases[i].raw);
            CHECK_CONTAINS(why, cases[i].why);
        }
    }
}

TEST(events)
{
    struct capture_api_request r;
    char why[512];
    CHECK_EQ(parse(P, "pid=1&events=cpu,alloc", false, &r, why), 0);
    CHECK_EQ(r.events, PROF_EV_CPU | PROF_EV_ALLOC);
    capture_api_request_free(&r);
    CHECK_EQ(parse(P, "pid=1&events=cpu%2Cwall", false, &r, why), 0);
    CHECK_EQ(r.events, PROF_EV_CPU | PROF_EV_WALL);
    capture_api_request_free(&r);
    CHECK_EQ(parse(P, "pid=1&events=cpu,bogus", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "events: \"bogus\": unknown event (known: cpu, alloc");
    CHECK_EQ(parse(P, "pid=1&events=", false, &r, why), -EINVAL);
    CHECK_STREQ(why, "events: no event given");
}

TEST(snapshot_types)
{
    struct capture_api_request r;
    char why[512];
    CHECK_EQ(parse(S, "pid=1&type=thread_print", false, &r, why), 0);
    CHECK_EQ(r.snapshot_type, 1);
    capture_api_request_free(&r);
    CHECK_EQ(parse(S, "pid=1&type=gc_class_histogram", false, &r, why), 0);
    CHECK_EQ(r.snapshot_type, 0);
    capture_api_request_free(&r);
    CHECK_EQ(parse(S, "pid=1&type=heap_dump", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "type: \"heap_dump\" is not a snapshot type");
    /* each endpoint has its own parameters */
    CHECK_EQ(parse(S, "pid=1&duration=5s", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "unknown parameter \"duration\"");
    CHECK_EQ(parse(P, "pid=1&type=thread_print", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "unknown parameter \"type\"");
}

TEST(pod_selectors_kubernetes_only)
{
    struct capture_api_request r;
    char why[512];
    CHECK_EQ(parse(P, "pid=1&namespace=shop", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "need Kubernetes mode; this agent runs in standalone mode");
    CHECK_EQ(parse(P, "command=x&container=app", false, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "need Kubernetes mode");
    CHECK_EQ(parse(P, "pid=1&pod=orders", true, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "pod: needs namespace");
    CHECK_EQ(parse(P, "namespace=shop&pod=", true, &r, why), -EINVAL);
    CHECK_CONTAINS(why, "must not be empty");
    CHECK_EQ(parse(P, "namespace=shop&pod=orders-7f9c&container=app", true, &r, why), 0);
    CHECK_STREQ(r.namespace_, "shop");
    CHECK_STREQ(r.pod, "orders-7f9c");
    CHECK_STREQ(r.container, "app");
    CHECK_EQ(r.pid, 0);
    CHECK(r.re == NULL);
    capture_api_request_free(&r);
    CHECK_EQ(parse(S, "namespace=shop&pid=1", true, &r, why), 0);
    capture_api_request_free(&r);
}

TEST_MAIN(defaults, pid_or_command_required, bad_pids, pid_takes_precedence,
          regex_compiled_or_explained, durations_bounded, events, snapshot_types,
          pod_selectors_kubernetes_only)
