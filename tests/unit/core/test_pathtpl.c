/* Flameshot's {name} templates for files on the node: the default heap
 * dump path, values that cannot escape their component, and templates
 * refused before they could name a wrong file. */
#include "core/pathtpl.h"
#include "harness.h"

#include <errno.h>

/* 2026-12-02 03:23:17 UTC */
#define WHEN_NS (1796181797ull * 1000000000ull)

static const struct pathtpl_vars vars = {.profiling_path = "/var/lib/flameshot",
                                         .service = "orders",
                                         .pod_name = "orders-7d9f-x2",
                                         .pod_namespace = "shop",
                                         .host = "node-1",
                                         .pid = 7,
                                         .when_ns = WHEN_NS,
                                         .filename = "orders_7_20261202T032317Z.hprof"};

TEST(default_heap_dump_template_renders_as_flameshot)
{
    char out[512];
    CHECK_EQ(pathtpl_render("{profiling_path}/dumps/{service}_{pod_name}_{pid}_{timestamp}.hprof",
                            &vars, out, sizeof(out)),
             0);
    CHECK_STREQ(out, "/var/lib/flameshot/dumps/orders_orders-7d9f-x2_7_20261202T032317Z.hprof");
    /* outside a Pod the name is empty, as Flameshot leaves it */
    struct pathtpl_vars host = vars;
    host.pod_name = NULL;
    CHECK_EQ(pathtpl_render("{profiling_path}/dumps/{service}_{pod_name}_{pid}_{timestamp}.hprof",
                            &host, out, sizeof(out)),
             0);
    CHECK_STREQ(out, "/var/lib/flameshot/dumps/orders__7_20261202T032317Z.hprof");
    CHECK_EQ(pathtpl_render("/d/{pod_namespace}/{host}/{filename}", &vars, out, sizeof(out)), 0);
    CHECK_STREQ(out, "/d/shop/node-1/orders_7_20261202T032317Z.hprof");
}

/* A service or Pod name comes from the workload: it never makes a
 * directory, and never climbs out of one. */
TEST(values_stay_one_component)
{
    char out[512];
    struct pathtpl_vars v = vars;
    v.service = "../../etc/cron.d/x";
    v.pod_name = "..";
    CHECK_EQ(pathtpl_render("/d/{pod_name}/{service}.hprof", &v, out, sizeof(out)), 0);
    CHECK_STREQ(out, "/d/_/.._.._etc_cron.d_x.hprof");
    v.service = "a b\n$(c)";
    v.pod_name = "";
    CHECK_EQ(pathtpl_render("/d//{pod_name}/{service}", &v, out, sizeof(out)), 0);
    CHECK_STREQ(out, "/d/a_b___c_"); /* empty components dropped */
    v.service = ".";
    CHECK_EQ(pathtpl_render("/d/{service}", &v, out, sizeof(out)), 0);
    CHECK_STREQ(out, "/d/_");
    /* a component made "." by the template's own text is refused */
    v.pod_name = "";
    CHECK_EQ(pathtpl_render("/d/{pod_name}./x", &v, out, sizeof(out)), -EINVAL);
    v.service = "orders-long-name";
    CHECK_EQ(pathtpl_render("/d/{service}", &v, out, 8), -ENAMETOOLONG);
}

TEST(bad_templates_are_refused_with_why)
{
    static const struct {
        const char *tpl, *why;
    } bad[] = {
        {"dumps/{pid}.hprof", "absolute"},
        {"{service}/x", "absolute"},
        {"/d/{pid.hprof", "never closed"},
        {"/d/{bucket}.hprof", "unknown name {bucket}"},
        {"/d/../x", "\"..\" component"},
        {"/d/./x", "\".\" or \"..\" component"},
        {"/d/", "ends in '/'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[256] = "";
        CHECK_MSG(pathtpl_check(bad[i].tpl, why, sizeof(why)) == -EINVAL, "%s accepted",
                  bad[i].tpl);
        CHECK_MSG(strstr(why, bad[i].why), "%s: %s", bad[i].tpl, why);
    }
    char why[256];
    CHECK_EQ(pathtpl_check("{profiling_path}/dumps/{service}_{pod_name}_{pid}_{timestamp}.hprof",
                           why, sizeof(why)),
             0);
    char ts[32];
    pathtpl_timestamp(WHEN_NS, ts, sizeof(ts));
    CHECK_STREQ(ts, "20261202T032317Z");
}

TEST_MAIN(default_heap_dump_template_renders_as_flameshot, values_stay_one_component,
          bad_templates_are_refused_with_why)
