/* podtable: which Pod container a process is in and whether it may be a
 * target, as the cache changes under it: opt-in and opt-out, annotation
 * changes (a new configuration, the old one stale for its holders), a
 * status-only change (same configuration), a malformed annotation
 * reported once, an ID not reported yet (wait), a sandbox, a restart's
 * replaced ID, a deleted Pod (inactive, still attributed), the agent's
 * own Pod, and tombstones expiring. */
#include "harness.h"
#include "kube/podtable.h"
#include "kube_fixture.h"

#include <errno.h>

#define GRACE 1000
#define UID_A "0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b"
#define CID_A "aa00000000000000000000000000000000000000000000000000000000000001"
#define CID_B "aa00000000000000000000000000000000000000000000000000000000000002"
#define CID_X "aa00000000000000000000000000000000000000000000000000000000000009"

static const char *const env[] = {"FLAMESHOT_NODE_NAME=worker-2", "FLAMESHOT_MODE=kubernetes",
                                  "FLAMESHOT_KUBE_API=https://127.0.0.1:6443", NULL};

/* A Running Pod with annotations (a JSON object's members, may be "")
 * and containers "app" (cid_app; "" while waiting) and "side" (CID_B). */
static int mkpod(struct pod *p, const char *rv, const char *annotations, const char *cid_app)
{
    char js[2048];
    snprintf(js, sizeof(js),
             "{\"metadata\":{\"uid\":\"" UID_A "\",\"namespace\":\"shop\",\"name\":\"api-0\","
             "\"resourceVersion\":\"%s\",\"annotations\":{%s}},"
             "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
             "{\"name\":\"app\",\"restartCount\":0%s%s%s},"
             "{\"name\":\"side\",\"restartCount\":0,\"containerID\":\"containerd://" CID_B "\"}]}}",
             rv, annotations, *cid_app ? ",\"containerID\":\"containerd://" : "", cid_app,
             *cid_app ? "\"" : "");
    cJSON *j = cJSON_Parse(js);
    char err[256];
    int rc = j ? pod_parse(j, p, err, sizeof(err)) : -EINVAL;
    if (rc)
        fprintf(stderr, "# pod_parse: %s\n", j ? err : "bad JSON");
    cJSON_Delete(j);
    return rc;
}

static int put(struct podcache *c, const char *rv, const char *ann, const char *cid, uint64_t now)
{
    struct pod p;
    int rc = mkpod(&p, rv, ann, cid);
    return rc ? rc : podcache_put(c, &p, now);
}

static struct container_ident ident(const char *cid)
{
    struct container_ident ci = {0};
    snprintf(ci.id, sizeof(ci.id), "%s", cid);
    snprintf(ci.pod_uid, sizeof(ci.pod_uid), "%s", UID_A);
    return ci;
}

static int errors_seen;
static char last_error[512];

static void on_error(const struct podref *r, void *arg)
{
    (void)arg;
    errors_seen++;
    snprintf(last_error, sizeof(last_error), "%s%s: %s", r->pc.err.key, r->pc.err.path,
             r->pc.err.reason);
}

struct fixture {
    struct config cfg;
    struct podcache *cache;
    struct podtable *pt;
};

static int setup(struct fixture *f, const struct podconfig_self *self)
{
    struct config_error e;
    errors_seen = 0;
    if (config_load(&f->cfg, kf_env_get, (void *)env, &e) < 0) {
        fprintf(stderr, "# config: %s: %s\n", e.path, e.reason);
        return -1;
    }
    f->cache = podcache_new(GRACE);
    f->pt = podtable_new(&f->cfg, f->cache, self);
    return f->cache && f->pt ? 0 : -1;
}

static void teardown(struct fixture *f)
{
    podtable_free(f->pt);
    podcache_free(f->cache);
    config_free(&f->cfg);
}

static int tsync(struct fixture *f, uint64_t now)
{
    return podtable_sync(f->pt, now, on_error, NULL);
}

#define ON "\"flameshot.io/enabled\":\"true\""

TEST(opt_in_decides_and_names_the_container)
{
    struct fixture f;
    CHECK_EQ(setup(&f, NULL), 0);
    struct container_ident ci = ident(CID_A);
    struct podtable_match m;
    /* nothing known yet: wait, never attach */
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_WAIT);
    CHECK(m.ref == NULL);
    CHECK_EQ(put(f.cache, "1", "", CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_NO);
    CHECK(strstr(m.why, "not opted in") != NULL);
    CHECK_EQ(put(f.cache, "2", ON, CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK_EQ(tsync(&f, 0), 0); /* unchanged cache: nothing to do */
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_TARGET);
    CHECK_STREQ(m.container.name, "app");
    CHECK_STREQ(m.ref->pod.name, "api-0");
    CHECK(m.ref->pc.rules == &f.cfg.rules); /* no processes annotation: the DaemonSet's */
    CHECK(podref_active(m.ref));
    podref_put(m.ref);
    /* not a Pod's container at all */
    struct container_ident host = {0};
    CHECK_EQ(podtable_resolve(f.pt, &host, &m), PODTABLE_NO);
    teardown(&f);
}

TEST(annotation_change_replaces_the_configuration)
{
    struct fixture f;
    CHECK_EQ(setup(&f, NULL), 0);
    struct container_ident ci = ident(CID_A);
    struct podtable_match m;
    CHECK_EQ(put(f.cache, "1", ON, CID_A, 0), 0);
    CHECK(tsync(&f, 0) > 0);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_TARGET);
    struct podref *held = m.ref;
    uint64_t gen = podtable_generation(f.pt);
    /* a status change only (restartCount, resourceVersion): same config */
    CHECK_EQ(put(f.cache, "2", ON, CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS);
    CHECK(!atomic_load(&held->stale));
    CHECK_EQ(podtable_generation(f.pt), gen);
    /* new rules: the holder's reference turns stale, its rules stay valid */
    CHECK_EQ(put(f.cache, "3",
                 ON ",\"flameshot.io/processes\":"
                    "\"[{\\\"command\\\":\\\"java\\\",\\\"container\\\":\\\"side\\\"}]\"",
                 CID_A, 0),
             0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK(atomic_load(&held->stale));
    CHECK_EQ(held->pc.rules->n, f.cfg.rules.n);
    CHECK(podtable_generation(f.pt) > gen);
    podref_put(held);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_TARGET);
    CHECK_EQ(m.ref->pc.rules->n, 1);
    CHECK_STREQ(m.ref->pc.rules->items[0].container, "side");
    podref_put(m.ref);
    /* opted out: nothing of it is a target any more */
    CHECK_EQ(put(f.cache, "4", "\"flameshot.io/enabled\":\"false\"", CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_NO);
    teardown(&f);
}

TEST(malformed_annotation_reported_once)
{
    struct fixture f;
    CHECK_EQ(setup(&f, NULL), 0);
    struct container_ident ci = ident(CID_A);
    struct podtable_match m;
    const char *bad = ON ",\"flameshot.io/processes\":\"[{\\\"command\\\":5}]\"";
    CHECK_EQ(put(f.cache, "1", bad, CID_A, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(errors_seen, 1);
    CHECK(strstr(last_error, "flameshot.io/processes[0].command") != NULL);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_NO);
    CHECK(strstr(m.why, "malformed") != NULL);
    /* the status changes, the annotations do not: not reported again */
    CHECK_EQ(put(f.cache, "2", bad, CID_A, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(errors_seen, 1);
    /* another mistake is */
    CHECK_EQ(put(f.cache, "3", ON ",\"flameshot.io/jcmd-timeout\":\"soon\"", CID_A, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(errors_seen, 2);
    CHECK(strstr(last_error, "jcmd-timeout") != NULL);
    /* a misspelt key is reported (at each change of the annotations) */
    CHECK_EQ(put(f.cache, "4", ON ",\"flameshot.io/servce\":\"x\"", CID_A, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(errors_seen, 3);
    /* fixed: a target again */
    CHECK_EQ(put(f.cache, "5", ON, CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK_EQ(errors_seen, 3);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_TARGET);
    podref_put(m.ref);
    teardown(&f);
}

TEST(unreported_ids_wait_replaced_ones_do_not)
{
    struct fixture f;
    CHECK_EQ(setup(&f, NULL), 0);
    struct container_ident ci = ident(CID_A), other = ident(CID_X);
    struct podtable_match m;
    /* "app" is still waiting: its process may run before its ID is known */
    CHECK_EQ(put(f.cache, "1", ON, "", 0), 0);
    CHECK(tsync(&f, 0) > 0);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_WAIT);
    CHECK(m.ref != NULL); /* the Pod's rules, to drop what can never match */
    CHECK(strstr(m.why, "not reported") != NULL);
    podref_put(m.ref);
    CHECK_EQ(put(f.cache, "2", ON, CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_TARGET);
    podref_put(m.ref);
    /* restarted: the old ID resolves to a replaced container, never a target */
    CHECK_EQ(put(f.cache, "3", ON, CID_X, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_NO);
    CHECK(strstr(m.why, "replaced") != NULL);
    CHECK_EQ(podtable_resolve(f.pt, &other, &m), PODTABLE_TARGET);
    CHECK_STREQ(m.container.id, CID_X);
    podref_put(m.ref);
    teardown(&f);
}

TEST(deleted_pod_keeps_its_reference_inactive_then_expires)
{
    struct fixture f;
    CHECK_EQ(setup(&f, NULL), 0);
    struct container_ident ci = ident(CID_A);
    struct podtable_match m;
    CHECK_EQ(put(f.cache, "1", ON, CID_A, 0), 0);
    CHECK(tsync(&f, 0) > 0);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_TARGET);
    size_t by[PODCONFIG_STATES];
    podtable_count(f.pt, by);
    CHECK_EQ(by[PODCONFIG_ON], 1);
    struct podref *held = m.ref;
    struct pod p;
    CHECK_EQ(mkpod(&p, "2", ON, CID_A), 0);
    CHECK_EQ(podcache_delete(f.cache, &p, 10), 0);
    CHECK_EQ(tsync(&f, 10), PODTABLE_PODS);
    /* a tombstone is not a Pod on the node any more */
    podtable_count(f.pt, by);
    CHECK_EQ(by[PODCONFIG_ON] + by[PODCONFIG_OFF], 0);
    /* its processes keep their attribution, but get nothing new */
    CHECK(!atomic_load(&held->stale));
    CHECK(!podref_active(held));
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_NO);
    CHECK(strstr(m.why, "deleted") != NULL);
    /* the tombstone expires: the configuration goes */
    CHECK_EQ(tsync(&f, 10 + GRACE + 1), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK(atomic_load(&held->stale));
    struct podref *r = podtable_lookup(f.pt, UID_A);
    CHECK(r == NULL);
    podref_put(held);
    teardown(&f);
}

/* The question asked right before an attach: is the process's Pod opted
 * in now? A job or a pre-warm holds the reference it was queued with. */
TEST(may_attach_answers_for_the_pod_now)
{
    struct fixture f;
    char why[256] = "";
    CHECK_EQ(setup(&f, NULL), 0);
    CHECK_EQ(put(f.cache, "1", ON, CID_A, 0), 0);
    CHECK(tsync(&f, 0) > 0);
    struct podref *held = podtable_lookup(f.pt, UID_A); /* what a target got */
    CHECK(held != NULL);
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_A, why, sizeof(why)), 0);
    CHECK_EQ(podtable_may_attach(f.pt, NULL, CID_A, why, sizeof(why)), -EPERM);
    /* new rules, still opted in: the held reference is stale, the Pod allowed */
    CHECK_EQ(put(f.cache, "2", ON ",\"flameshot.io/service\":\"api\"", CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK(atomic_load(&held->stale));
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_A, why, sizeof(why)), 0);
    /* the annotation removed: opted out */
    CHECK_EQ(put(f.cache, "3", "", CID_A, 0), 0);
    CHECK_EQ(tsync(&f, 0), PODTABLE_PODS | PODTABLE_CONFIG);
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_A, why, sizeof(why)), -EPERM);
    CHECK_STREQ(why, "Pod shop/api-0 opted out (flameshot.io/enabled is not \"true\")");
    CHECK_EQ(put(f.cache, "4", ON, CID_A, 0), 0);
    CHECK(tsync(&f, 0) > 0);
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_A, why, sizeof(why)), 0);
    /* restarted: the old container's process is not the Pod's any more */
    CHECK_EQ(put(f.cache, "5", ON, CID_X, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_A, why, sizeof(why)), -ESRCH);
    CHECK_CONTAINS(why, "a restart replaced its container");
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_X, why, sizeof(why)), 0);
    /* deleted: known at once from the cache, before the table's sync */
    struct pod p;
    CHECK_EQ(mkpod(&p, "6", ON, CID_X), 0);
    CHECK_EQ(podcache_delete(f.cache, &p, 10), 0);
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_X, why, sizeof(why)), -ESRCH);
    CHECK_STREQ(why, "Pod shop/api-0 was deleted");
    CHECK(tsync(&f, 10 + GRACE + 1) > 0); /* the tombstone expires */
    CHECK_EQ(podtable_may_attach(f.pt, held, CID_X, why, sizeof(why)), -ESRCH);
    CHECK_CONTAINS(why, "no longer known");
    podref_put(held);
    teardown(&f);
}

TEST(own_pod_is_never_a_target)
{
    struct fixture f;
    struct podconfig_self self = {.uid = UID_A};
    CHECK_EQ(setup(&f, &self), 0);
    struct container_ident ci = ident(CID_A);
    struct podtable_match m;
    CHECK_EQ(put(f.cache, "1", ON, CID_A, 0), 0);
    CHECK(tsync(&f, 0) >= 0);
    CHECK_EQ(podtable_resolve(f.pt, &ci, &m), PODTABLE_NO);
    CHECK(strstr(m.why, "own Pod") != NULL);
    teardown(&f);
}

TEST_MAIN(opt_in_decides_and_names_the_container, annotation_change_replaces_the_configuration,
          malformed_annotation_reported_once, unreported_ids_wait_replaced_ones_do_not,
          deleted_pod_keeps_its_reference_inactive_then_expires, may_attach_answers_for_the_pod_now,
          own_pod_is_never_a_target)
