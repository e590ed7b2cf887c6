/* prewarm: when a watched JVM's attach listener is started ahead of need
 * (after the settle time, once), and the JVMs it never touches, against
 * tests/helpers/fake_jvm processes that are real targets. */
#include "fakejvm.h"
#include "harness.h"
#include "optin_fixture.h"
#include "policy/prewarm.h"
#include "core/units.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/stat.h>

static const char *env_get(const char *name, void *arg)
{
    const char *const *env = arg;
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* A watched fake JVM and the module around it. */
struct bench {
    struct config cfg;
    struct metrics metrics;
    struct targets *t;
    struct prewarm *pw;
    struct fakejvm f;
    struct target *tg;
};

/* Starts fake_jvm in mode as a java target; env: "NAME=value" or NULL. */
static int bench_start(struct bench *b, const char *mode, const char *env)
{
    struct config_error err;
    memset(b, 0, sizeof(*b));
    b->f.pid = -1;
    if (config_load(&b->cfg, env_get, NULL, &err) < 0)
        return -1;
    b->t = targets_new(&b->cfg, NULL, NULL);
    b->pw = prewarm_new(&b->cfg, NULL, NULL, &b->metrics);
    if (!b->t || !b->pw || fakejvm_start(&b->f, mode, "java", env) < 0)
        return -1;
    return targets_consider(b->t, b->f.pid, &b->tg) == 1 ? 0 : -1;
}

static void bench_stop(struct bench *b)
{
    prewarm_stop(b->pw, 10000);
    prewarm_free(b->pw);
    fakejvm_stop(&b->f);
    targets_free(b->t);
    config_free(&b->cfg);
}

/* Ticks until no attempt is queued or running (10 s at most). */
static int settle(struct bench *b, uint64_t now_ms)
{
    for (int i = 0; i < 1000; i++) {
        if (prewarm_busy(b->pw) == 0)
            return 0;
        prewarm_tick(b->pw, b->t, now_ms);
        usleep(10000);
    }
    return -1;
}

TEST(a_target_is_warmed_once_after_the_settle_time)
{
    NEED_FAKE_JVM();
    struct bench b;
    int early = -1, due = -1, later = -1, ok = bench_start(&b, "lazy", NULL);
    bool before = true, after = false;
    uint64_t added = ok == 0 ? b.tg->added_ms : 0;
    if (ok == 0) {
        early = prewarm_tick(b.pw, b.t, added + PREWARM_SETTLE_MS - 1);
        before = fakejvm_listening(&b.f);
        due = prewarm_tick(b.pw, b.t, added + PREWARM_SETTLE_MS);
        ok = settle(&b, added + PREWARM_SETTLE_MS);
        after = fakejvm_listening(&b.f);
        later = prewarm_tick(b.pw, b.t, added + 100 * PREWARM_SETTLE_MS);
    }
    uint64_t warmed = b.metrics.prewarmed, failed = b.metrics.prewarm_failed;
    bench_stop(&b);
    CHECK_EQ(ok, 0);
    CHECK_EQ(early, 0);
    CHECK(!before);
    CHECK_EQ(due, 1);
    CHECK(after);
    CHECK_EQ(warmed, 1);
    CHECK_EQ(failed, 0);
    CHECK_EQ(later, 0); /* once per process */
}

/* -XX:+DisableAttachMechanism (here in JAVA_TOOL_OPTIONS, which the VM
 * reads whatever its launcher): never signalled, never counted. */
TEST(a_jvm_with_attach_disabled_is_never_warmed)
{
    NEED_FAKE_JVM();
    struct bench b;
    int ok = bench_start(&b, "lazy", "JAVA_TOOL_OPTIONS=-XX:+DisableAttachMechanism");
    int due = -1, later = -1;
    if (ok == 0) {
        due = prewarm_tick(b.pw, b.t, b.tg->added_ms + PREWARM_SETTLE_MS);
        ok = settle(&b, b.tg->added_ms + PREWARM_SETTLE_MS);
        /* settled for good: not tried again as a JVM still starting would be */
        later = prewarm_tick(b.pw, b.t, b.tg->added_ms + 100 * PREWARM_SETTLE_MS);
    }
    bool sock = fakejvm_listening(&b.f);
    uint64_t warmed = b.metrics.prewarmed, failed = b.metrics.prewarm_failed;
    bench_stop(&b);
    CHECK_EQ(ok, 0);
    CHECK_EQ(due, 1);
    CHECK_EQ(later, 0);
    CHECK(!sock);
    CHECK_EQ(warmed + failed, 0);
}

/* A process named java that is no JVM (sleep: SIGQUIT would kill it):
 * left alone, alive. */
TEST(a_non_jvm_target_is_left_alone)
{
    NEED(geteuid() == 0, "needs root");
    struct config cfg;
    struct config_error err;
    struct metrics metrics = {0};
    struct fakejvm f = {.pid = -1};
    CHECK_EQ(config_load(&cfg, env_get, NULL, &err), 0);
    struct targets *t = targets_new(&cfg, NULL, NULL);
    struct prewarm *pw = prewarm_new(&cfg, NULL, NULL, &metrics);
    /* fakejvm_start with another program: a copy of sleep named java */
    snprintf(f.dir, sizeof(f.dir), "/tmp/fs-prewarm-XXXXXX");
    CHECK(mkdtemp(f.dir) != NULL);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "cp /bin/sleep %s/java && cd %s && (./java 60 & echo $! > pid)",
             f.dir, f.dir);
    CHECK_EQ(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/pid", f.dir);
    FILE *fp = fopen(cmd, "r");
    CHECK(fp != NULL);
    CHECK_EQ(fscanf(fp, "%d", &f.pid), 1);
    fclose(fp);
    struct target *tg = NULL;
    for (int i = 0; i < 100 && targets_consider(t, f.pid, &tg) != 1; i++)
        usleep(10000); /* until the shell's child has exec'd */
    CHECK(tg != NULL);
    int due = prewarm_tick(pw, t, tg->added_ms + PREWARM_SETTLE_MS);
    for (int i = 0; i < 1000 && prewarm_busy(pw); i++)
        usleep(10000);
    bool alive = !fakejvm_gone(&f);
    prewarm_stop(pw, 10000);
    prewarm_free(pw);
    fakejvm_stop(&f);
    targets_free(t);
    config_free(&cfg);
    CHECK_EQ(due, 1);
    CHECK(alive);
    CHECK_EQ(metrics.prewarmed + metrics.prewarm_failed, 0);
}

/* A capture executor that holds its job until released. */
static void exec_held(const struct job *job, struct job_result *res, void *arg)
{
    (void)job;
    while (!atomic_load((atomic_bool *)arg))
        usleep(1000);
    res->state = JOB_DONE;
}

/* A capture of the JVM queued or running starts the listener itself: the
 * pre-warm waits for it rather than race it with a second SIGQUIT. */
TEST(a_jvm_being_captured_is_not_warmed_meanwhile)
{
    NEED_FAKE_JVM();
    struct bench b;
    atomic_bool release = false;
    int ok = bench_start(&b, "lazy", NULL), held = -1, after = -1;
    struct jobs *jobs = jobs_new(1, 4, 8, exec_held, &release, NULL);
    prewarm_stop(b.pw, 5000); /* bench_start may have an attempt running */
    prewarm_free(b.pw);
    b.pw = prewarm_new(&b.cfg, jobs, NULL, &b.metrics);
    uint64_t id, due = ok == 0 ? b.tg->added_ms + PREWARM_SETTLE_MS : 0;
    struct job_request r = {.trigger = {.kind = TRIGGER_HTTP, .capture = CAPTURE_SNAPSHOT},
                            .budget_ms = 60000};
    if (ok == 0 && jobs && b.pw) {
        r.target = b.tg->id;
        ok = jobs_submit(jobs, &r, &id);
        held = prewarm_tick(b.pw, b.t, due);
        atomic_store(&release, true);
        for (int i = 0; i < 1000 && jobs_busy(jobs, &b.tg->id, CAPTURE_SNAPSHOT); i++)
            usleep(10000);
        after = prewarm_tick(b.pw, b.t, due);
        ok = ok ?: settle(&b, due);
    }
    bool sock = fakejvm_listening(&b.f);
    atomic_store(&release, true);
    jobs_stop(jobs, 5000);
    jobs_free(jobs);
    bench_stop(&b);
    CHECK_EQ(ok, 0);
    CHECK_EQ(held, 0);
    CHECK_EQ(after, 1);
    CHECK(sock);
}

/* Kubernetes: a JVM whose Pod opted out (the annotation removed) or was
 * deleted after it became a target, before the monitor dropped it, is
 * never signalled; one whose Pod is still opted in is. */
TEST(a_jvm_whose_pod_opted_out_is_never_warmed)
{
    NEED_FAKE_JVM();
    static const struct {
        const char *annotations;
        bool deleted, warmed;
    } cases[] = {{"", false, false}, {OPTIN_ON, true, false}, {OPTIN_ON, false, true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bench b;
        struct optin o = {0};
        int ok = bench_start(&b, "lazy", NULL), due = -1;
        ok = ok ?: optin_open(&o, &b.cfg);
        prewarm_stop(b.pw, 5000); /* never ticked: nothing runs */
        prewarm_free(b.pw);
        b.pw = ok == 0 ? prewarm_new(&b.cfg, NULL, o.pt, &b.metrics) : NULL;
        if (ok == 0 && b.pw) {
            b.tg->pod_ref = optin_ref(&o); /* as targets_consider found it: opted in */
            b.tg->has_cgroup = true;
            snprintf(b.tg->cg.container.id, sizeof(b.tg->cg.container.id), "%s", OPTIN_CID);
            ok = optin_set(&o, cases[i].annotations, cases[i].deleted);
            due = prewarm_tick(b.pw, b.t, b.tg->added_ms + PREWARM_SETTLE_MS);
            ok = ok ?: settle(&b, b.tg->added_ms + PREWARM_SETTLE_MS);
        }
        bool sock = fakejvm_listening(&b.f);
        bench_stop(&b);
        optin_close(&o);
        CHECK_EQ(ok, 0);
        CHECK_EQ(due, 1);
        CHECK_EQ(sock, cases[i].warmed);
    }
}

TEST(the_switch_turns_it_off)
{
    const char *env[] = {"FLAMESHOT_ATTACH_PREWARM=false", NULL};
    struct config cfg;
    struct config_error err;
    CHECK_EQ(config_load(&cfg, env_get, (void *)env, &err), 0);
    CHECK(prewarm_new(&cfg, NULL, NULL, NULL) == NULL);
    prewarm_tick(NULL, NULL, 0); /* the monitor calls it regardless */
    CHECK_EQ(prewarm_busy(NULL), 0);
    CHECK_EQ(prewarm_stop(NULL, 0), 0);
    config_free(&cfg);
}

TEST_MAIN(a_target_is_warmed_once_after_the_settle_time, a_jvm_with_attach_disabled_is_never_warmed,
          a_non_jvm_target_is_left_alone, a_jvm_being_captured_is_not_warmed_meanwhile,
          a_jvm_whose_pod_opted_out_is_never_warmed, the_switch_turns_it_off)
