#include "outbox/artefact.h"
#include "harness.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <sys/utsname.h>
#include <unistd.h>

/* 2026-11-21T16:22:00.123456789Z */
#define T0 1795278120123456789ull

static void fill(struct artefact_meta *m, enum artefact_kind kind)
{
    artefact_meta_init(m, kind);
    artefact_set(&m->service, "orders");
    artefact_set(&m->host, "node-a");
    m->pid = 4242;
    m->nspid = 7;
    artefact_set(&m->process_name, "java");
    artefact_set(&m->library_type, "async_profiler");
    artefact_set(&m->library_version, "3.0");
    artefact_set(&m->jdk_version, "17.0.15");
    tags_set(&m->trigger_tags, "trigger", "cpu");
    tags_set(&m->trigger_tags, "cpu_avg", "91.20");
    tags_set(&m->global_tags, "env", "global-env");
    tags_set(&m->global_tags, "team", "pay, ments");
    tags_set(&m->global_tags, "pod_name", "flameshot-node-xyz");
    tags_set(&m->rule_tags, "env", "prod");
    tags_set(&m->rule_tags, "tier key", "gold");
    tags_set(&m->rule_tags, "empty", "");
    artefact_set(&m->k8s.pod_name, "orders-5d9f");
    artefact_set(&m->k8s.pod_namespace, "shop");
    artefact_set(&m->k8s.pod_uid, "0b6c-11");
    artefact_set(&m->k8s.container_name, "app");
    artefact_set(&m->k8s.container_id, "abc123");
    m->start_ns = T0;
    m->end_ns = T0 + 30000000000ull;
    m->created_ns = T0 + 31000000000ull;
}

static void expected_runtime(char *os, size_t oscap, char *arch, size_t archcap)
{
    struct utsname u;
    uname(&u);
    snprintf(os, oscap, "%s", u.sysname);
    for (char *p = os; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    snprintf(arch, archcap, "%s", u.machine);
}

TEST(tags_profiler_has_every_key_once_in_order)
{
    struct artefact_meta m;
    char *tp = NULL, os[64], arch[64], want[2048];
    fill(&m, ARTEFACT_PROFILE);
    CHECK_EQ(artefact_tags_profiler(&m, &tp), 0);
    expected_runtime(os, sizeof(os), arch, sizeof(arch));
    snprintf(want, sizeof(want),
             "service:orders,env:prod,version:unknown_version,host:node-a,process_id:7,"
             "host_pid:4242,process_name:java,language:java,runtime_os:%s,runtime_arch:%s,"
             "library_type:async_profiler,library_version:3.0,trigger:cpu,cpu_avg:91.20,"
             "jdk_version:17.0.15,team:pay_ ments,tier_key:gold,pod_name:orders-5d9f,"
             "pod_namespace:shop,pod_uid:0b6c-11,container_name:app,container_id:abc123,"
             "node:node-a",
             os, arch);
    CHECK_STREQ(tp, want);
    free(tp);
    artefact_meta_free(&m);
}

TEST(service_precedence_and_host_never_unknown)
{
    struct artefact_meta m;
    struct tags t;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    fill(&m, ARTEFACT_PROFILE);
    artefact_set(&m.service_override, "from-env");
    tags_set(&m.rule_tags, "service", "from-tag");
    artefact_set(&m.host, NULL);
    CHECK_EQ(artefact_compose_tags(&m, &t), 0);
    CHECK_STREQ(tags_get(&t, "service"), "from-env");
    CHECK_STREQ(tags_get(&t, "host"), host);
    CHECK_STREQ(tags_get(&t, "node"), host);
    tags_free(&t);
    artefact_set(&m.service_override, NULL);
    artefact_set(&m.service, NULL);
    CHECK_EQ(artefact_compose_tags(&m, &t), 0);
    CHECK_STREQ(tags_get(&t, "service"), "from-tag");
    tags_free(&t);
    tags_free(&m.rule_tags);
    CHECK_EQ(artefact_compose_tags(&m, &t), 0);
    CHECK_STREQ(tags_get(&t, "service"), "app"); /* the container's name */
    CHECK_STREQ(tags_get(&t, "env"), "global-env");
    tags_free(&t);
    artefact_set(&m.k8s.container_name, NULL);
    artefact_set(&m.k8s.pod_name, NULL);
    artefact_set(&m.env, "from-labels");
    tags_free(&m.global_tags);
    CHECK_EQ(artefact_compose_tags(&m, &t), 0);
    CHECK_STREQ(tags_get(&t, "service"), "java");
    CHECK_STREQ(tags_get(&t, "env"), "from-labels");
    CHECK(tags_get(&t, "pod_namespace") == NULL); /* no Kubernetes keys without a Pod */
    CHECK(tags_get(&t, "node") == NULL);
    tags_free(&t);
    artefact_meta_free(&m);
}

TEST(user_tags_cannot_replace_computed_keys)
{
    struct artefact_meta m;
    struct tags t;
    fill(&m, ARTEFACT_PROFILE);
    tags_set(&m.global_tags, "process_id", "1");
    tags_set(&m.rule_tags, "language", "go");
    tags_set(&m.rule_tags, "cpu_avg", "0");
    tags_set(&m.rule_tags, "host", "elsewhere");
    CHECK_EQ(artefact_compose_tags(&m, &t), 0);
    CHECK_STREQ(tags_get(&t, "pod_name"), "orders-5d9f");
    CHECK_STREQ(tags_get(&t, "process_id"), "7");
    CHECK_STREQ(tags_get(&t, "language"), "java");
    CHECK_STREQ(tags_get(&t, "cpu_avg"), "91.20");
    CHECK_STREQ(tags_get(&t, "host"), "node-a");
    CHECK(tags_get(&t, "empty") == NULL);
    tags_free(&t);
    artefact_meta_free(&m);
}

TEST(json_record_round_trips_exactly)
{
    struct artefact_meta m, back;
    char err[128];
    fill(&m, ARTEFACT_JCMD_SNAPSHOT);
    artefact_set(&m.id, "00000000000000000001-deadbeef");
    artefact_set(&m.local_relpath, "profiles/shop/orders-5d9f/app/x.txt");
    artefact_set(&m.last_error, "HTTP 503: busy");
    artefact_set(&m.file_name, "x.txt");
    m.routes = ARTEFACT_ROUTE_LOCAL | ARTEFACT_ROUTE_DATAKIT_LOGGING;
    m.done = ARTEFACT_ROUTE_LOCAL;
    m.attempts = 3;
    m.payload_size = 123456789012ull;
    artefact_field_str(&m, "preview", "\"main\"\nline2");
    artefact_field_int(&m, "neg", INT64_MIN);
    artefact_field_uint(&m, "big", UINT64_MAX);
    artefact_field_float(&m, "pct", 97.25);
    artefact_field_bool(&m, "flag", true);
    cJSON *j = artefact_to_json(&m);
    CHECK(j != NULL);
    char *a = cJSON_PrintUnformatted(j);
    int prc = artefact_from_json(j, &back, err, sizeof(err));
    CHECK_MSG(prc == 0, "%s", err);
    cJSON *j2 = artefact_to_json(&back);
    char *b = cJSON_PrintUnformatted(j2);
    CHECK_STREQ(a, b);
    CHECK_EQ(back.start_ns, T0);
    CHECK(artefact_field_get(&back, "big")->u == UINT64_MAX);
    CHECK(artefact_field_get(&back, "neg")->i == INT64_MIN);
    CHECK_EQ(back.done, ARTEFACT_ROUTE_LOCAL);
    CHECK_STREQ(back.k8s.container_id, "abc123");
    free(a);
    free(b);
    cJSON_Delete(j);
    cJSON_Delete(j2);
    artefact_meta_free(&back);
    artefact_meta_free(&m);
}

TEST(json_record_rejects_what_it_did_not_write)
{
    struct artefact_meta m;
    char err[128];
    const char *bad[] = {
        "{\"v\":2,\"kind\":\"profile\"}",
        "{\"v\":1,\"kind\":\"heapdump\"}",
        "{\"v\":1,\"kind\":\"profile\",\"start_ns\":5}",
        "{\"v\":1,\"kind\":\"profile\",\"routes\":[\"s3\"]}",
        "{\"v\":1,\"kind\":\"oom_hprof\",\"fields\":[{\"key\":\"a\",\"type\":\"int\",\"value\":"
        "\"x\"}]}",
        "{\"v\":1,\"kind\":\"oom_hprof\",\"fields\":[{\"key\":\"a\",\"type\":\"str\",\"value\":1}]"
        "}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        CHECK(j != NULL);
        int rc = artefact_from_json(j, &m, err, sizeof(err));
        cJSON_Delete(j);
        CHECK_MSG(rc == -EINVAL, "accepted %s", bad[i]);
    }
}

TEST(event_json_is_datakit_shape)
{
    struct artefact_meta m;
    char *ev = NULL, *tp = NULL;
    fill(&m, ARTEFACT_PROFILE);
    CHECK_EQ(artefact_event_json(&m, &ev), 0);
    CHECK_EQ(artefact_tags_profiler(&m, &tp), 0);
    cJSON *j = cJSON_Parse(ev);
    CHECK(j != NULL);
    CHECK_EQ(cJSON_GetArraySize(j), 5);
    CHECK_STREQ(cJSON_GetObjectItem(j, "tags_profiler")->valuestring, tp);
    CHECK_STREQ(cJSON_GetObjectItem(j, "start")->valuestring, "2026-11-21T16:22:00.123456789Z");
    CHECK_STREQ(cJSON_GetObjectItem(j, "end")->valuestring, "2026-11-21T16:22:30.123456789Z");
    CHECK_STREQ(cJSON_GetObjectItem(j, "family")->valuestring, "java");
    CHECK_STREQ(cJSON_GetObjectItem(j, "format")->valuestring, "jfr");
    cJSON_Delete(j);
    free(ev);
    free(tp);
    artefact_meta_free(&m);
}

TEST(summary_line_has_fields_status_and_no_tag_field_clash)
{
    struct artefact_meta m;
    struct lp_buf b;
    fill(&m, ARTEFACT_OOM_HPROF);
    artefact_set(&m.library_type, NULL);
    artefact_set(&m.library_version, NULL);
    artefact_field_str(&m, "message", "OOM detected via cgroup oom_kill, heap dump found");
    artefact_field_str(&m, "hprof_path", "/data/a b.hprof");
    artefact_field_int(&m, "hprof_size_bytes", 123);
    artefact_field_int(&m, "oom_kill_delta", 1);
    artefact_field_str(&m, "matched_by", "path+time_window");
    artefact_field_str(&m, "process_name", "java");
    lp_init(&b);
    CHECK_EQ(artefact_lineproto(&m, &b), 0);
    CHECK(strncmp(b.data, "flameshot_oom_hprof,service=orders,env=prod,", 44) == 0);
    CHECK_CONTAINS(b.data, ",pod_name=orders-5d9f,");
    CHECK_CONTAINS(b.data, ",team=pay_\\ ments,");
    CHECK_CONTAINS(b.data, " message=\"OOM detected via cgroup oom_kill, heap dump found\","
                           "hprof_path=\"/data/a b.hprof\",hprof_size_bytes=123i,"
                           "oom_kill_delta=1i,matched_by=\"path+time_window\","
                           "process_name=\"java\",status=\"error\" 1795278150123456789\n");
    CHECK(strstr(b.data, "process_name=java") == NULL); /* a field, so not also a tag */
    CHECK(strstr(b.data, "library_type") == NULL);
    lp_free(&b);
    lp_init(&b);
    m.kind = ARTEFACT_PROFILE;
    CHECK_EQ(artefact_lineproto(&m, &b), -EINVAL);
    lp_free(&b);
    artefact_meta_free(&m);
}

TEST(default_file_names_follow_flameshot)
{
    struct artefact_meta m;
    char buf[256];
    fill(&m, ARTEFACT_PROFILE);
    CHECK_STREQ(artefact_default_file_name(&m, buf, sizeof(buf)), "profile_7_20261121_162200.jfr");
    m.kind = ARTEFACT_JCMD_SNAPSHOT;
    artefact_field_str(&m, "snapshot_type", "thread_print");
    CHECK_STREQ(artefact_default_file_name(&m, buf, sizeof(buf)),
                "jcmd_thread_print_7_20261121_162200.txt");
    m.kind = ARTEFACT_PROCESS_EXIT;
    CHECK_STREQ(artefact_default_file_name(&m, buf, sizeof(buf)),
                "process_exit_7_20261121_162200.json");
    artefact_meta_free(&m);
    char c1[] = "../../etc/passwd", c2[2] = "", c3[] = "ok-Name_1.2";
    artefact_sanitize_component(c1);
    artefact_sanitize_component(c2);
    artefact_sanitize_component(c3);
    CHECK_STREQ(c1, "_._.._etc_passwd");
    CHECK_STREQ(c2, "_");
    CHECK_STREQ(c3, "ok-Name_1.2");
}

TEST_MAIN(tags_profiler_has_every_key_once_in_order, service_precedence_and_host_never_unknown,
          user_tags_cannot_replace_computed_keys, json_record_round_trips_exactly,
          json_record_rejects_what_it_did_not_write, event_json_is_datakit_shape,
          summary_line_has_fields_status_and_no_tag_field_clash,
          default_file_names_follow_flameshot)
