/* oomwatch in Kubernetes mode: pinning a JVM's heap-dump directory enters
 * its container, so it happens only while the JVM's Pod is opted in: a pin
 * queued before the Pod opted out or was deleted leaves the JVM alone.
 * Against tests/helpers/fake_jvm processes that are real targets. */
#include "fakejvm.h"
#include "harness.h"
#include "optin_fixture.h"
#include "policy/lane.h"
#include "policy/oomwatch.h"

#include <stdatomic.h>
#include <stdlib.h>

static const char *from_env(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static void mark(void *arg, bool run)
{
    (void)run;
    atomic_store((atomic_bool *)arg, true);
}

/* A fake JVM, a target of the opted-in Pod; the Pod then changes as the
 * case says before the pin runs. The log of the pin in log; 0 or -1. */
static int pin_after_change(const struct config *cfg, const char *annotations, bool deleted,
                            char *log, size_t cap)
{
    struct fakejvm f = {.pid = -1};
    struct optin o = {0};
    struct target *tg = NULL;
    atomic_bool done = false;
    struct targets *t = targets_new(cfg, NULL, NULL);
    struct lane *lane = lane_new("test", 16, NULL);
    struct oomwatch *ow = lane ? oomwatch_new(cfg, NULL, NULL, lane, NULL) : NULL;
    int ok = t && ow && fakejvm_start(&f, "lazy", "java", NULL) == 0 &&
                     targets_consider(t, f.pid, &tg) == 1 && optin_open(&o, cfg) == 0
                 ? 0
                 : -1;
    if (ok == 0) {
        oomwatch_set_pods(ow, o.pt);
        tg->pod_ref = optin_ref(&o); /* as targets_consider found it: opted in */
        tg->has_cgroup = true;
        snprintf(tg->cg.container.id, sizeof(tg->cg.container.id), "%s", OPTIN_CID);
        ok = optin_set(&o, annotations, deleted);
        t_stderr_begin();
        oomwatch_target_added(ow, tg);
        lane_post(lane, "the end of the test", mark, &done, 10000);
        for (int i = 0; i < 1000 && !atomic_load(&done); i++)
            usleep(10000);
        snprintf(log, cap, "%s", t_stderr_end());
        ok = ok ?: atomic_load(&done) ? 0 : -1;
    }
    lane_stop(lane, 10000);
    oomwatch_free(ow);
    lane_free(lane);
    fakejvm_stop(&f);
    targets_free(t);
    optin_close(&o);
    return ok;
}

TEST(a_jvm_whose_pod_opted_out_is_never_entered)
{
    NEED_FAKE_JVM();
    static const struct {
        const char *annotations;
        bool deleted;
        const char *why; /* NULL: pinned */
    } cases[] = {{"", false, "not pinned: Pod shop/api-0 opted out"},
                 {OPTIN_ON, true, "not pinned: Pod shop/api-0 was deleted"},
                 {OPTIN_ON, false, NULL}};
    char dir[] = "/tmp/fs-test-oomwatch-XXXXXX", log[8192];
    struct config cfg;
    struct config_error err;
    CHECK(mkdtemp(dir) != NULL);
    setenv("FLAMESHOT_OOM_HPROF_ENABLED", "true", 1);
    setenv("FLAMESHOT_PROFILING_PATH", dir, 1);
    CHECK_EQ(config_load(&cfg, from_env, NULL, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ(pin_after_change(&cfg, cases[i].annotations, cases[i].deleted, log, sizeof(log)),
                 0);
        if (cases[i].why)
            CHECK_CONTAINS(log, cases[i].why);
        else
            CHECK_CONTAINS(log, "no heap dump to recover"); /* looked at: no dump flags */
        CHECK_MSG(!cases[i].why == !strstr(log, "not pinned"), "case %zu: %s", i, log);
    }
    config_free(&cfg);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
}

TEST_MAIN(a_jvm_whose_pod_opted_out_is_never_entered)
