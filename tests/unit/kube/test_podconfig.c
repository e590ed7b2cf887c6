/* podconfig: a Pod's effective configuration from its flameshot.io/
 * annotations over the DaemonSet's: opt-in, namespace selection, the
 * agent's own Pod, annotation rules against the DaemonSet's, every
 * override valid and malformed (the error names the key, the JSON path and
 * the reason), unknown keys with a did-you-mean, service naming for every
 * owner kind, and the tags of a container's artefacts. */
#include "harness.h"
#include "kube/podconfig.h"
#include "kube_fixture.h"

#include <errno.h>

/* ---- fixtures ----------------------------------------------------------- */

static int load(struct config *cfg, const char *const *env)
{
    struct config_error e;
    int rc = config_load(cfg, kf_env_get, (void *)env, &e);
    if (rc < 0)
        fprintf(stderr, "# config: %s: %s\n", e.path, e.reason);
    return rc;
}

static const char *const base_env[] = {"FLAMESHOT_NODE_NAME=worker-2",
                                       "FLAMESHOT_TAGS=env:prod,team:core", NULL};

/* A Pod in namespace ns with the annotations kv ("key", "value", ...,
 * NULL; keys without their "flameshot.io/" prefix) and one container. */
static void mkpod(struct pod *p, const char *ns, const char *const *kv)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->uid, sizeof(p->uid), "%s", UID_SHOP);
    snprintf(p->ns, sizeof(p->ns), "%s", ns);
    snprintf(p->name, sizeof(p->name), "shop-api-7d9c8b6f5d-x2x8k");
    p->phase = POD_PHASE_RUNNING;
    size_t n = 0;
    while (kv && kv[2 * n])
        n++;
    p->annotations = calloc(n ? n : 1, sizeof(*p->annotations));
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof(key), POD_ANNOTATION_PREFIX "%s", kv[2 * i]);
        p->annotations[i].key = strdup(key);
        p->annotations[i].value = strdup(kv[2 * i + 1]);
    }
    p->n_annotations = n;
    p->containers = calloc(1, sizeof(*p->containers));
    snprintf(p->containers[0].name, sizeof(p->containers[0].name), "api");
    snprintf(p->containers[0].runtime, sizeof(p->containers[0].runtime), "containerd");
    snprintf(p->containers[0].id, sizeof(p->containers[0].id), "%s", CID_SHOP_API);
    p->n_containers = 1;
}

/* mkpod, then podconfig_build of it: the build's result */
static int build(struct pod *p, struct podconfig *pc, const struct config *cfg, const char *ns,
                 const char *const *kv)
{
    mkpod(p, ns, kv);
    return podconfig_build(p, cfg, NULL, pc);
}

static void release(struct pod *p, struct podconfig *pc)
{
    podconfig_free(pc);
    pod_free(p);
}

/* ---- opt-in ------------------------------------------------------------- */

TEST(opt_in_is_exactly_true)
{
    static const struct {
        const char *enabled; /* NULL: no annotation */
        enum podconfig_state want;
    } cases[] = {
        {NULL, PODCONFIG_OFF},     {"false", PODCONFIG_OFF}, {"true", PODCONFIG_ON},
        {"True", PODCONFIG_ERROR}, {"yes", PODCONFIG_ERROR}, {"1", PODCONFIG_ERROR},
        {"", PODCONFIG_ERROR},
    };
    struct config cfg;
    CHECK_EQ(load(&cfg, base_env), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *kv[] = {"enabled", cases[i].enabled, NULL};
        struct pod p;
        struct podconfig pc;
        CHECK_EQ(build(&p, &pc, &cfg, "shop", cases[i].enabled ? kv : NULL), 0);
        CHECK_MSG(pc.state == cases[i].want, "enabled=%s: %s", cases[i].enabled,
                  podconfig_state_name(pc.state));
        if (pc.state == PODCONFIG_ERROR) {
            CHECK_STREQ(pc.err.key, "flameshot.io/enabled");
            CHECK_CONTAINS(pc.err.reason, "is not \"true\" or \"false\"");
        }
        CHECK(pc.state == PODCONFIG_ON ? pc.rules == &cfg.rules : pc.rules == NULL);
        release(&p, &pc);
    }
    config_free(&cfg);
}

TEST(namespace_selection)
{
    static const struct {
        const char *include, *exclude, *ns;
        enum podconfig_state want;
    } cases[] = {
        {NULL, NULL, "kube-system", PODCONFIG_ON},
        {"shop, orders", NULL, "shop", PODCONFIG_ON},
        {"shop, orders", NULL, "orders", PODCONFIG_ON},
        {"shop, orders", NULL, "kube-system", PODCONFIG_NAMESPACE},
        {NULL, "kube-system", "kube-system", PODCONFIG_NAMESPACE},
        {NULL, "kube-system", "shop", PODCONFIG_ON},
        {"shop,orders", "orders", "orders", PODCONFIG_NAMESPACE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char inc[128], exc[128];
        snprintf(inc, sizeof(inc), "FLAMESHOT_NAMESPACES=%s", cases[i].include);
        snprintf(exc, sizeof(exc), "FLAMESHOT_EXCLUDE_NAMESPACES=%s", cases[i].exclude);
        const char *env[] = {"FLAMESHOT_NODE_NAME=worker-2",
                             cases[i].include ? inc : "X=", cases[i].exclude ? exc : "X=", NULL};
        const char *kv[] = {"enabled", "true", NULL};
        struct config cfg;
        struct pod p;
        struct podconfig pc;
        CHECK_EQ(load(&cfg, env), 0);
        CHECK_EQ(build(&p, &pc, &cfg, cases[i].ns, kv), 0);
        CHECK_MSG(pc.state == cases[i].want, "case %zu: %s", i, podconfig_state_name(pc.state));
        release(&p, &pc);
        config_free(&cfg);
    }
    /* a Pod not opted in stays off, whatever its namespace */
    const char *env[] = {"FLAMESHOT_NODE_NAME=n", "FLAMESHOT_NAMESPACES=shop", NULL};
    struct config cfg;
    struct pod p;
    struct podconfig pc;
    CHECK_EQ(load(&cfg, env), 0);
    CHECK_EQ(build(&p, &pc, &cfg, "other", NULL), 0);
    CHECK_EQ(pc.state, PODCONFIG_OFF);
    release(&p, &pc);
    config_free(&cfg);
}

TEST(namespace_lists_are_validated)
{
    static const struct {
        const char *var, *path, *reason;
    } cases[] = {
        {"FLAMESHOT_NAMESPACES=shop,Kube_System", "FLAMESHOT_NAMESPACES[1]",
         "\"Kube_System\" is not a namespace name"},
        {"FLAMESHOT_NAMESPACES=shop,,orders", "FLAMESHOT_NAMESPACES[1]", "\"\" is not"},
        {"FLAMESHOT_NAMESPACES=shop,", "FLAMESHOT_NAMESPACES[1]", "\"\" is not"},
        {"FLAMESHOT_EXCLUDE_NAMESPACES=-x", "FLAMESHOT_EXCLUDE_NAMESPACES[0]", "\"-x\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {"FLAMESHOT_NODE_NAME=n", cases[i].var, NULL};
        struct config cfg;
        struct config_error e;
        CHECK_EQ(config_load(&cfg, kf_env_get, env, &e), -EINVAL);
        CHECK_STREQ(e.path, cases[i].path);
        CHECK_CONTAINS(e.reason, cases[i].reason);
    }
    const char *env[] = {"FLAMESHOT_NODE_NAME=n", "FLAMESHOT_NAMESPACES= shop , orders", NULL};
    struct config cfg;
    CHECK_EQ(load(&cfg, env), 0);
    CHECK_EQ(cfg.namespaces.n, 2);
    CHECK_STREQ(cfg.namespaces.items[1], "orders");
    CHECK(config_namespace_selected(&cfg, "shop"));
    CHECK(!config_namespace_selected(&cfg, "shopping"));
    cJSON *j = config_to_json(&cfg); /* --check-config and /v1/status */
    bool shown = cJSON_GetArraySize(cJSON_GetObjectItem(j, "namespaces")) == 2 &&
                 cJSON_IsNull(cJSON_GetObjectItem(j, "exclude_namespaces"));
    cJSON_Delete(j);
    CHECK(shown);
    config_free(&cfg);
}

TEST(own_pod_is_never_a_target)
{
    struct config cfg;
    CHECK_EQ(load(&cfg, base_env), 0);
    const char *kv[] = {"enabled", "true", NULL};
    struct pod p;
    struct podconfig pc;
    mkpod(&p, "shop", kv);
    const struct podconfig_self by_uid = {.uid = UID_SHOP};
    const struct podconfig_self by_name = {.ns = "shop", .name = "shop-api-7d9c8b6f5d-x2x8k"};
    const struct podconfig_self other = {.uid = UID_ORDERS, .ns = "shop", .name = "flameshot-x"};
    const struct podconfig_self name_only = {.name = "shop-api-7d9c8b6f5d-x2x8k"};
    CHECK_EQ(podconfig_build(&p, &cfg, &by_uid, &pc), 0);
    CHECK_EQ(pc.state, PODCONFIG_SELF);
    podconfig_free(&pc);
    CHECK_EQ(podconfig_build(&p, &cfg, &by_name, &pc), 0);
    CHECK_EQ(pc.state, PODCONFIG_SELF);
    podconfig_free(&pc);
    CHECK_EQ(podconfig_build(&p, &cfg, &other, &pc), 0);
    CHECK_EQ(pc.state, PODCONFIG_ON);
    podconfig_free(&pc);
    /* a name without its namespace identifies nothing */
    CHECK_EQ(podconfig_build(&p, &cfg, &name_only, &pc), 0);
    CHECK_EQ(pc.state, PODCONFIG_ON);
    release(&p, &pc);
    config_free(&cfg);
}

/* ---- rules -------------------------------------------------------------- */

TEST(annotation_rules_replace_the_daemonsets)
{
    const char *env[] = {"FLAMESHOT_NODE_NAME=n", "FLAMESHOT_SERVICE=fleet",
                         "FLAMESHOT_PROCESSES=[{\"command\":\"java\"}]", NULL};
    struct config cfg;
    CHECK_EQ(load(&cfg, env), 0);
    /* absent: the DaemonSet's rules, FLAMESHOT_SERVICE applied */
    const char *dflt[] = {"enabled", "true", NULL};
    struct pod p;
    struct podconfig pc;
    CHECK_EQ(build(&p, &pc, &cfg, "shop", dflt), 0);
    CHECK(pc.rules == &cfg.rules);
    CHECK_STREQ(pc.rules->items[0].service, "fleet");
    release(&p, &pc);
    /* present: its own, scoped by container; FLAMESHOT_SERVICE does not
     * apply to them, flameshot.io/service does */
    const char *own[] = {"enabled", "true", "processes",
                         "[{\"service\":\"api\",\"command\":\"app\\\\.jar\",\"container\":\"api\"},"
                         "{\"command\":\"worker\",\"duration\":\"10s\"}]",
                         NULL};
    CHECK_EQ(build(&p, &pc, &cfg, "shop", own), 0);
    CHECK_EQ(pc.state, PODCONFIG_ON);
    CHECK(pc.rules == &pc.own_rules);
    CHECK_EQ(pc.rules->n, 2);
    CHECK_STREQ(pc.rules->items[0].service, "api");
    CHECK(!pc.rules->items[1].service);
    CHECK_EQ(pc.rules->items[1].duration_ms, 10000);
    CHECK(rules_find(pc.rules, "java -jar app.jar", "api") == &pc.rules->items[0]);
    CHECK(rules_find(pc.rules, "java -jar app.jar", "sidecar") == NULL);
    CHECK(rules_find(pc.rules, "java worker", "sidecar") == &pc.rules->items[1]);
    release(&p, &pc);
    const char *with_svc[] = {"enabled",   "true",
                              "service",   "checkout",
                              "processes", "[{\"service\":\"api\",\"command\":\"java\"}]",
                              NULL};
    CHECK_EQ(build(&p, &pc, &cfg, "shop", with_svc), 0);
    CHECK_STREQ(pc.rules->items[0].service, "checkout");
    release(&p, &pc);
    config_free(&cfg);
}

TEST(malformed_processes_name_the_path)
{
    static const struct {
        const char *json, *path, *reason;
    } cases[] = {
        {"[{\"command\":\"java\"", "", "malformed JSON"},
        {"{}", "", "must be a JSON array"},
        {"[]", "", "empty array"},
        {"", "", "empty: give a JSON array"},
        {"[{\"command\":\"java\"},{\"command\":\"x\",\"duration\":\"30\"}]", "[1].duration",
         "not a duration"},
        {"[{\"comand\":\"java\"}]", "[0].comand", "did you mean \"command\""},
        {"[{\"command\":\"java\",\"container\":\"\"}]", "[0].container", "must not be empty"},
        {"[{\"command\":\"(\"}]", "[0].command", ""},
    };
    struct config cfg;
    CHECK_EQ(load(&cfg, base_env), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *kv[] = {"enabled", "true", "processes", cases[i].json, NULL};
        struct pod p;
        struct podconfig pc;
        CHECK_EQ(build(&p, &pc, &cfg, "shop", kv), 0);
        CHECK_MSG(pc.state == PODCONFIG_ERROR, "%s: %s", cases[i].json,
                  podconfig_state_name(pc.state));
        CHECK_STREQ(pc.err.key, "flameshot.io/processes");
        CHECK_STREQ(pc.err.path, cases[i].path);
        CHECK_CONTAINS(pc.err.reason, cases[i].reason);
        CHECK(pc.rules == NULL && pc.own_rules.n == 0);
        release(&p, &pc);
    }
    config_free(&cfg);
}

/* The fixture's annotation uses fields FLAMESHOT_PROCESSES does not have:
 * that Pod is an error, the other (no annotations) is simply off. */
TEST(fixture_pods_are_judged_each_on_its_own)
{
    struct config cfg;
    struct pod shop, orders;
    struct podconfig a, b;
    CHECK_EQ(load(&cfg, base_env), 0);
    CHECK_EQ(kf_pod("pod-deployment-init.json", &shop), 0);
    CHECK_EQ(kf_pod("pod-ephemeral-crio.json", &orders), 0);
    CHECK_EQ(podconfig_build(&shop, &cfg, NULL, &a), 0);
    CHECK_EQ(podconfig_build(&orders, &cfg, NULL, &b), 0);
    CHECK_EQ(a.state, PODCONFIG_ERROR);
    CHECK_STREQ(a.err.key, "flameshot.io/processes");
    CHECK_STREQ(a.err.path, "[0].name");
    CHECK_CONTAINS(a.err.reason, "unknown field \"name\"");
    CHECK_EQ(b.state, PODCONFIG_OFF);
    podconfig_free(&a);
    podconfig_free(&b);
    pod_free(&shop);
    pod_free(&orders);
    config_free(&cfg);
}

/* ---- overrides ---------------------------------------------------------- */

TEST(overrides_valid)
{
    const char *env[] = {"FLAMESHOT_NODE_NAME=n",
                         "FLAMESHOT_AUTO_PROFILING=10m",
                         "FLAMESHOT_OOM_HPROF_ENABLED=true",
                         "FLAMESHOT_JCMD_TIMEOUT=5s",
                         "FLAMESHOT_JCMD_SNAPSHOT_ENABLED=false",
                         NULL};
    struct config cfg;
    CHECK_EQ(load(&cfg, env), 0);
    /* none set: the DaemonSet's values */
    const char *none[] = {"enabled", "true", NULL};
    struct pod p;
    struct podconfig pc;
    CHECK_EQ(build(&p, &pc, &cfg, "shop", none), 0);
    CHECK_EQ(pc.auto_profiling_ms, 600000);
    CHECK_EQ(pc.auto_profiling_duration_ms, 30000);
    CHECK(pc.oom_hprof_enabled);
    CHECK_EQ(pc.oom_hprof_match_window_ms, 120000);
    CHECK(!pc.jcmd_snapshot_enabled);
    CHECK_EQ(pc.jcmd_timeout_ms, 5000);
    CHECK(!pc.service);
    CHECK_EQ(pc.tags.n, 0);
    release(&p, &pc);
    /* every one set */
    const char *all[] = {"enabled",
                         "true",
                         "service",
                         "checkout",
                         "tags",
                         "team: pay, tier:gold",
                         "auto-profiling",
                         "5m",
                         "auto-profiling-duration",
                         "1m",
                         "oom-hprof-enabled",
                         "false",
                         "oom-hprof-match-window",
                         "30s",
                         "jcmd-snapshot-enabled",
                         "on",
                         "jcmd-timeout",
                         "2s",
                         NULL};
    CHECK_EQ(build(&p, &pc, &cfg, "shop", all), 0);
    CHECK_EQ(pc.state, PODCONFIG_ON);
    CHECK_STREQ(pc.service, "checkout");
    CHECK_STREQ(tags_get(&pc.tags, "team"), "pay");
    CHECK_STREQ(tags_get(&pc.tags, "tier"), "gold");
    CHECK_EQ(pc.auto_profiling_ms, 300000);
    CHECK_EQ(pc.auto_profiling_duration_ms, 60000);
    CHECK(!pc.oom_hprof_enabled);
    CHECK_EQ(pc.oom_hprof_match_window_ms, 30000);
    CHECK(pc.jcmd_snapshot_enabled);
    CHECK_EQ(pc.jcmd_timeout_ms, 2000);
    CHECK_EQ(pc.n_unknown, 0);
    release(&p, &pc);
    /* "0" turns the DaemonSet's auto-profiling off for this Pod; an
     * empty value keeps the DaemonSet's, as an empty variable does */
    const char *off[] = {"enabled", "true", "auto-profiling", "0", "jcmd-timeout", "", NULL};
    CHECK_EQ(build(&p, &pc, &cfg, "shop", off), 0);
    CHECK_EQ(pc.state, PODCONFIG_ON);
    CHECK_EQ(pc.auto_profiling_ms, 0);
    CHECK_EQ(pc.jcmd_timeout_ms, 5000);
    release(&p, &pc);
    config_free(&cfg);
}

TEST(overrides_malformed)
{
    static const struct {
        const char *key, *value, *path, *reason;
    } cases[] = {
        {"auto-profiling", "often", "", "\"often\" is not a duration"},
        {"auto-profiling", "10s", "", "too short (minimum 1m)"},
        {"auto-profiling-duration", "20m", "", "too long (maximum 10m)"},
        /* shorter than the DaemonSet's interval (2m) */
        {"auto-profiling-duration", "3m", "", "shorter than the auto-profiling interval (2m)"},
        {"auto-profiling-duration", "500ms", "", "too short"},
        {"oom-hprof-enabled", "maybe", "", "\"maybe\" is not a boolean"},
        {"oom-hprof-match-window", "2", "", "is not a duration"},
        {"jcmd-snapshot-enabled", "enabled", "", "is not a boolean"},
        {"jcmd-timeout", "10ms", "", "too short (minimum 100ms)"},
        {"tags", "team:pay,nocolon", "[1]", "FLAMESHOT_TAGS"},
    };
    const char *env[] = {"FLAMESHOT_NODE_NAME=n", "FLAMESHOT_AUTO_PROFILING=2m", NULL};
    struct config cfg;
    CHECK_EQ(load(&cfg, env), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *kv[] = {"enabled", "true", "service", "s", cases[i].key, cases[i].value, NULL};
        char key[96];
        snprintf(key, sizeof(key), "flameshot.io/%s", cases[i].key);
        struct pod p;
        struct podconfig pc;
        CHECK_EQ(build(&p, &pc, &cfg, "shop", kv), 0);
        CHECK_MSG(pc.state == PODCONFIG_ERROR, "%s=%s: %s", key, cases[i].value,
                  podconfig_state_name(pc.state));
        CHECK_STREQ(pc.err.key, key);
        CHECK_STREQ(pc.err.path, cases[i].path);
        CHECK_CONTAINS(pc.err.reason, cases[i].reason);
        /* a skipped Pod keeps none of its settings */
        CHECK(!pc.service && pc.tags.n == 0 && !pc.rules);
        release(&p, &pc);
    }
    config_free(&cfg);
}

/* The DaemonSet reads the same variables through the same code. */
TEST(config_override_reads_over_the_values)
{
    struct config cfg;
    CHECK_EQ(load(&cfg, base_env), 0);
    CHECK_EQ(cfg.auto_profiling_ms, 0);
    CHECK_EQ(cfg.auto_profiling_duration_ms, 30000);
    CHECK(cfg.jcmd_snapshot_enabled);
    CHECK_EQ(cfg.jcmd_timeout_ms, 10000);
    const char *env[] = {"FLAMESHOT_JCMD_TIMEOUT=3s", NULL};
    struct config_error e;
    CHECK_EQ(config_override(&cfg, kf_env_get, env, &e), 0);
    CHECK_EQ(cfg.jcmd_timeout_ms, 3000);
    CHECK_EQ(cfg.auto_profiling_duration_ms, 30000);
    const char *bad[] = {"FLAMESHOT_OOM_HPROF_ENABLED=si", NULL};
    CHECK_EQ(config_override(&cfg, kf_env_get, bad, &e), -EINVAL);
    CHECK_STREQ(e.path, "FLAMESHOT_OOM_HPROF_ENABLED");
    config_free(&cfg);
}

TEST(unknown_keys_get_a_did_you_mean)
{
    struct config cfg;
    CHECK_EQ(load(&cfg, base_env), 0);
    /* the typo is why this Pod is off: listed even then */
    const char *kv[] = {"enable", "true", "jcmd-timout", "5s", "owner", "team-a", NULL};
    struct pod p;
    struct podconfig pc;
    CHECK_EQ(build(&p, &pc, &cfg, "shop", kv), 0);
    CHECK_EQ(pc.state, PODCONFIG_OFF);
    CHECK_EQ(pc.n_unknown, 3);
    CHECK_STREQ(pc.unknown[0].key, "flameshot.io/enable");
    CHECK_STREQ(pc.unknown[0].near, "flameshot.io/enabled");
    CHECK_STREQ(pc.unknown[1].near, "flameshot.io/jcmd-timeout");
    CHECK(pc.unknown[2].near == NULL);
    release(&p, &pc);
    /* a warning, not an error: the Pod is on */
    const char *on[] = {"enabled", "true", "servce", "x", NULL};
    CHECK_EQ(build(&p, &pc, &cfg, "shop", on), 0);
    CHECK_EQ(pc.state, PODCONFIG_ON);
    CHECK_EQ(pc.n_unknown, 1);
    CHECK_STREQ(pc.unknown[0].near, "flameshot.io/service");
    release(&p, &pc);
    config_free(&cfg);
}

/* ---- service naming ----------------------------------------------------- */

TEST(workload_names_by_owner_kind)
{
    static const struct {
        const char *kind, *name, *want; /* want NULL: no workload */
    } cases[] = {
        {"ReplicaSet", "shop-api-7d9c8b6f5d", "shop-api"},
        {"ReplicaSet", "web-5c4f9", "web-5c4f9"},                       /* 5: too short */
        {"ReplicaSet", "web-5c4f9bd7f8x", "web-5c4f9bd7f8x"},           /* 11: too long */
        {"ReplicaSet", "web-Abcdef", "web-Abcdef"},                     /* not [a-z0-9] */
        {"ReplicaSet", "payments-api-v2-66b9f4c8d", "payments-api-v2"}, /* 9 */
        {"ReplicaSet", "frontend", "frontend"},
        {"StatefulSet", "orders-db", "orders-db"},
        {"DaemonSet", "node-exporter", "node-exporter"},
        {"Job", "nightly-report-28910520", "nightly-report-28910520"}, /* a CronJob's */
        {"Node", "worker-2", NULL},                                    /* a mirror Pod */
        {"Rollout", "canary", NULL},
        {"", "", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pod p;
        char buf[POD_NAME_MAX];
        mkpod(&p, "shop", NULL);
        snprintf(p.owner_kind, sizeof(p.owner_kind), "%s", cases[i].kind);
        snprintf(p.owner_name, sizeof(p.owner_name), "%s", cases[i].name);
        const char *w = podconfig_workload(&p, buf, sizeof(buf));
        pod_free(&p);
        if (cases[i].want)
            CHECK_STREQ(w, cases[i].want);
        else
            CHECK_MSG(!w, "%s/%s: %s", cases[i].kind, cases[i].name, w);
    }
}

TEST(service_naming_precedence)
{
    const char *env[] = {"FLAMESHOT_NODE_NAME=n",
                         "FLAMESHOT_PROCESSES=[{\"service\":\"from-rule\",\"command\":\"java\"},"
                         "{\"command\":\"java\"}]",
                         NULL};
    struct config cfg;
    CHECK_EQ(load(&cfg, env), 0);
    static const struct {
        const char *annotation, *label_name, *label_app, *kind, *owner;
        int rule; /* index into cfg.rules, -1: none */
        const char *want;
    } cases[] = {
        {"ann", "lbl-name", "lbl-app", "ReplicaSet", "web-7d9c8b6f5d", 0, "ann"},
        {NULL, "lbl-name", "lbl-app", "ReplicaSet", "web-7d9c8b6f5d", 0, "from-rule"},
        {NULL, "lbl-name", "lbl-app", "ReplicaSet", "web-7d9c8b6f5d", 1, "lbl-name"},
        {NULL, "lbl-name", "lbl-app", "ReplicaSet", "web-7d9c8b6f5d", -1, "lbl-name"},
        {NULL, NULL, "lbl-app", "ReplicaSet", "web-7d9c8b6f5d", 1, "lbl-app"},
        {NULL, NULL, NULL, "ReplicaSet", "web-7d9c8b6f5d", 1, "web"},
        {NULL, NULL, NULL, "StatefulSet", "orders-db", 1, "orders-db"},
        {NULL, NULL, NULL, "DaemonSet", "log-agent", 1, "log-agent"},
        {NULL, NULL, NULL, "Job", "report-28910520", 1, "report-28910520"},
        {NULL, NULL, NULL, "Node", "worker-2", 1, "api"},
        {NULL, NULL, NULL, "", "", -1, "api"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *with[] = {"enabled", "true", "service", cases[i].annotation, NULL};
        const char *without[] = {"enabled", "true", NULL};
        struct pod p;
        struct podconfig pc;
        char buf[POD_NAME_MAX];
        mkpod(&p, "shop", cases[i].annotation ? with : without);
        snprintf(p.label_app_name, sizeof(p.label_app_name), "%s",
                 cases[i].label_name ? cases[i].label_name : "");
        snprintf(p.label_app, sizeof(p.label_app), "%s",
                 cases[i].label_app ? cases[i].label_app : "");
        snprintf(p.owner_kind, sizeof(p.owner_kind), "%s", cases[i].kind);
        snprintf(p.owner_name, sizeof(p.owner_name), "%s", cases[i].owner);
        CHECK_EQ(podconfig_build(&p, &cfg, NULL, &pc), 0);
        CHECK_EQ(pc.state, PODCONFIG_ON);
        const struct rule *r = cases[i].rule >= 0 ? &pc.rules->items[cases[i].rule] : NULL;
        const char *svc = podconfig_service(&pc, &p, r, p.containers[0].name, buf, sizeof(buf));
        CHECK_MSG(svc && strcmp(svc, cases[i].want) == 0, "case %zu: %s, want %s", i, svc,
                  cases[i].want);
        release(&p, &pc);
    }
    config_free(&cfg);
}

/* ---- tags --------------------------------------------------------------- */

TEST(tags_of_a_container)
{
    const char *env[] = {"FLAMESHOT_NODE_NAME=worker-2",
                         "FLAMESHOT_TAGS=env:prod,team:core,version:fleet",
                         "FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"tags\":[\"tier:gold\","
                         "\"pod_name:spoof\"]}]",
                         NULL};
    struct config cfg;
    CHECK_EQ(load(&cfg, env), 0);
    const char *kv[] = {"enabled", "true", "tags", "team:pay,container_id:spoof", NULL};
    struct pod p;
    struct podconfig pc;
    struct tags t;
    mkpod(&p, "shop", kv);
    snprintf(p.label_version, sizeof(p.label_version), "2.14.1");
    CHECK_EQ(podconfig_build(&p, &cfg, NULL, &pc), 0);
    CHECK_EQ(podconfig_tags(&pc, &cfg, &p, &p.containers[0], &pc.rules->items[0], &t), 0);
    CHECK_STREQ(tags_get(&t, "host"), "worker-2");
    CHECK_STREQ(tags_get(&t, "node"), "worker-2");
    CHECK_STREQ(tags_get(&t, "pod_name"), "shop-api-7d9c8b6f5d-x2x8k");
    CHECK_STREQ(tags_get(&t, "pod_namespace"), "shop");
    CHECK_STREQ(tags_get(&t, "pod_uid"), UID_SHOP);
    CHECK_STREQ(tags_get(&t, "container_name"), "api");
    CHECK_STREQ(tags_get(&t, "container_id"), CID_SHOP_API);
    CHECK_STREQ(tags_get(&t, "version"), "2.14.1"); /* the label over FLAMESHOT_TAGS */
    CHECK_STREQ(tags_get(&t, "env"), "prod");       /* FLAMESHOT_TAGS */
    CHECK_STREQ(tags_get(&t, "team"), "pay");       /* the annotation over FLAMESHOT_TAGS */
    CHECK_STREQ(tags_get(&t, "tier"), "gold");      /* the rule's */
    CHECK_EQ(t.n, 11);
    tags_free(&t);
    /* without a rule, a label or a container ID */
    p.label_version[0] = '\0';
    p.containers[0].id[0] = '\0';
    CHECK_EQ(podconfig_tags(&pc, &cfg, &p, &p.containers[0], NULL, &t), 0);
    CHECK(!tags_get(&t, "container_id"));
    CHECK(!tags_get(&t, "tier"));
    CHECK_STREQ(tags_get(&t, "version"), "fleet");
    tags_free(&t);
    /* an annotation's version replaces the label's */
    release(&p, &pc);
    const char *ver[] = {"enabled", "true", "tags", "version:canary", NULL};
    mkpod(&p, "shop", ver);
    snprintf(p.label_version, sizeof(p.label_version), "2.14.1");
    CHECK_EQ(podconfig_build(&p, &cfg, NULL, &pc), 0);
    CHECK_EQ(podconfig_tags(&pc, &cfg, &p, &p.containers[0], NULL, &t), 0);
    CHECK_STREQ(tags_get(&t, "version"), "canary");
    tags_free(&t);
    release(&p, &pc);
    config_free(&cfg);
}

TEST_MAIN(opt_in_is_exactly_true, namespace_selection, namespace_lists_are_validated,
          own_pod_is_never_a_target, annotation_rules_replace_the_daemonsets,
          malformed_processes_name_the_path, fixture_pods_are_judged_each_on_its_own,
          overrides_valid, overrides_malformed, config_override_reads_over_the_values,
          unknown_keys_get_a_did_you_mean, workload_names_by_owner_kind, service_naming_precedence,
          tags_of_a_container)
