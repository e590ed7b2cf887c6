/* podcache: the node's Pods from the fixtures of tests/data/kube through
 * ADDED/MODIFIED (a restart's new container ID, the old one resolving for
 * the grace), DELETED (tombstones and their expiry), a re-list, and
 * readers racing the writer. Time is passed in, so expiry is exact. */
#include "harness.h"
#include "kube_fixture.h"
#include "kube/podcache.h"

#include <errno.h>

#define GRACE 120000

static int put_fixture(struct podcache *c, const char *name, uint64_t now)
{
    struct pod p;
    int rc = kf_pod(name, &p);
    return rc ? rc : podcache_put(c, &p, now);
}

static int delete_fixture(struct podcache *c, const char *name, uint64_t now)
{
    struct pod p;
    int rc = kf_pod(name, &p);
    return rc ? rc : podcache_delete(c, &p, now);
}

TEST(lookup_by_container_and_pod_id)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-deployment-init.json", 0), 0);
    CHECK_EQ(put_fixture(c, "pod-ephemeral-crio.json", 0), 0);
    struct podcache_hit h;
    CHECK_EQ(podcache_by_container(c, CID_SHOP_API, &h), 0);
    CHECK_STREQ(h.pod.name, "shop-api-7d9c8b6f5d-x2x8k");
    CHECK_STREQ(h.container.name, "api");
    CHECK(!h.deleted && !h.replaced);
    podcache_hit_free(&h);
    CHECK_EQ(podcache_by_container(c, CID_DEBUGGER, &h), 0);
    CHECK_STREQ(h.pod.ns, "orders");
    CHECK_EQ(h.container.kind, POD_EPHEMERAL_CONTAINER);
    podcache_hit_free(&h);
    CHECK_EQ(podcache_by_container(c, CID_APISERVER, &h), -ENOENT);
    CHECK_EQ(podcache_by_container(c, "", &h), -ENOENT);
    struct pod p;
    bool deleted = true;
    CHECK_EQ(podcache_by_pod_id(c, UID_ORDERS, &p, &deleted), 0);
    CHECK(!deleted);
    CHECK_STREQ(p.name, "orders-db-0");
    pod_free(&p);
    CHECK_EQ(podcache_by_pod_id(c, UID_REPORT, &p, NULL), -ENOENT);
    /* the systemd driver's spelling, from kubepods-besteffort-pod<uid>.slice */
    CHECK_EQ(podcache_by_pod_id(c, "897277d4_5e6f_4999_a976_b8340e8d075e", &p, NULL), 0);
    CHECK_STREQ(p.name, "orders-db-0");
    pod_free(&p);
    CHECK_EQ(podcache_by_pod_id(c, "897277d4_5e6f_4999_a976_b8340e8d075", &p, NULL), -ENOENT);
    CHECK_EQ(podcache_by_pod_id(c, "897277d4-5e6f-4999-a976-b8340e8d075ee", &p, NULL), -ENOENT);
    struct podcache_counts n;
    podcache_counts(c, &n);
    CHECK_EQ(n.pods, 2);
    CHECK_EQ(n.containers, 4);
    CHECK_EQ(n.tombstones, 0);
    CHECK_EQ(n.generation, 2);
    podcache_free(c);
}

/* the cgroup path of a static Pod carries the kubelet's hash, not the UID */
TEST(static_pod_found_by_config_hash)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-static-mirror.json", 0), 0);
    struct pod p;
    CHECK_EQ(podcache_by_pod_id(c, HASH_STATIC, &p, NULL), 0);
    CHECK_STREQ(p.name, "kube-apiserver-worker-2");
    pod_free(&p);
    CHECK_EQ(podcache_by_pod_id(c, UID_STATIC, &p, NULL), 0);
    pod_free(&p);
    podcache_free(c);
}

/* a waiting container has no ID; its Pod's next MODIFIED brings one */
TEST(modified_replaces_and_brings_a_started_id)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-waiting.json", 0), 0);
    struct podcache_counts n;
    podcache_counts(c, &n);
    CHECK_EQ(n.containers, 0);
    uint64_t gen = n.generation;
    struct pod p;
    CHECK_EQ(kf_pod("pod-waiting.json", &p), 0);
    snprintf(p.containers[0].runtime, sizeof(p.containers[0].runtime), "containerd");
    snprintf(p.containers[0].id, sizeof(p.containers[0].id), "%s", CID_LEGACY);
    snprintf(p.resource_version, sizeof(p.resource_version), "4411100");
    p.phase = POD_PHASE_RUNNING;
    CHECK_EQ(podcache_put(c, &p, 5), 0);
    CHECK_EQ(p.n_containers, 0); /* taken */
    podcache_counts(c, &n);
    CHECK_EQ(n.pods, 1);
    CHECK_EQ(n.containers, 1);
    CHECK(n.generation > gen);
    struct podcache_hit h;
    CHECK_EQ(podcache_by_container(c, CID_LEGACY, &h), 0);
    CHECK_STREQ(h.container.name, "report");
    CHECK_STREQ(h.pod.resource_version, "4411100");
    CHECK_EQ(h.pod.phase, POD_PHASE_RUNNING);
    podcache_hit_free(&h);
    podcache_free(c);
}

TEST(annotation_change_seen_by_readers)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-deployment-init.json", 0), 0);
    struct pod p;
    CHECK_EQ(kf_pod("pod-deployment-init.json", &p), 0);
    free(p.annotations[0].value);
    p.annotations[0].value = strdup("false");
    CHECK_EQ(podcache_put(c, &p, 1), 0);
    struct podcache_hit h;
    CHECK_EQ(podcache_by_container(c, CID_SHOP_API, &h), 0);
    CHECK_STREQ(pod_annotation(&h.pod, "flameshot.io/enabled"), "false");
    podcache_hit_free(&h);
    podcache_free(c);
}

/* v1 runs A; v2 (restart) runs B with lastState A; v3 runs C with
 * lastState B. A now resolves only through the cache's memory of it, for
 * the grace after v2 was seen. */
static void set_ids(struct pod *p, const char *id, const char *prev)
{
    snprintf(p->containers[0].id, sizeof(p->containers[0].id), "%s", id);
    snprintf(p->containers[0].prev_id, sizeof(p->containers[0].prev_id), "%s", prev);
}

TEST(restart_old_id_resolves_for_the_grace)
{
    const char *A = CID_SHOP_API, *B = CID_SHOP_API_2, *C = CID_LEGACY;
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-deployment-init.json", 0), 0);
    CHECK_EQ(put_fixture(c, "pod-restarted.json", 1000), 0);
    struct pod v3;
    CHECK_EQ(kf_pod("pod-restarted.json", &v3), 0);
    set_ids(&v3, C, B);
    CHECK_EQ(podcache_put(c, &v3, 2000), 0);

    struct podcache_hit h;
    CHECK_EQ(podcache_by_container(c, A, &h), 0);
    CHECK(h.replaced && !h.deleted);
    CHECK_STREQ(h.container.name, "api");
    CHECK_STREQ(h.container.id, C); /* the container as it is now */
    podcache_hit_free(&h);
    CHECK_EQ(podcache_by_container(c, C, &h), 0);
    CHECK(!h.replaced);
    podcache_hit_free(&h);
    struct podcache_counts n;
    podcache_counts(c, &n);
    CHECK_EQ(n.replaced, 2);

    CHECK_EQ(podcache_expire(c, 1000 + GRACE - 1), 0);
    CHECK_EQ(podcache_by_container(c, A, &h), 0);
    podcache_hit_free(&h);
    CHECK_EQ(podcache_expire(c, 1000 + GRACE), 1);
    CHECK_EQ(podcache_by_container(c, A, &h), -ENOENT);
    /* B: still v3's lastState, and remembered until 2000 + GRACE */
    CHECK_EQ(podcache_expire(c, 2000 + GRACE), 1);
    CHECK_EQ(podcache_by_container(c, B, &h), 0);
    CHECK(h.replaced);
    podcache_hit_free(&h);
    podcache_free(c);
}

TEST(deleted_pod_is_a_tombstone_until_the_grace)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-deployment-init.json", 0), 0);
    CHECK_EQ(delete_fixture(c, "pod-deployment-init.json", 10), 0);
    struct podcache_counts n;
    podcache_counts(c, &n);
    CHECK_EQ(n.pods, 0);
    CHECK_EQ(n.tombstones, 1);
    /* a late OOM kill of its container is still attributed */
    struct podcache_hit h;
    CHECK_EQ(podcache_by_container(c, CID_SHOP_API, &h), 0);
    CHECK(h.deleted);
    CHECK_STREQ(h.container.name, "api");
    podcache_hit_free(&h);
    struct pod p;
    bool deleted = false;
    CHECK_EQ(podcache_by_pod_id(c, UID_SHOP, &p, &deleted), 0);
    CHECK(deleted);
    pod_free(&p);

    CHECK_EQ(podcache_expire(c, 10 + GRACE - 1), 0);
    CHECK_EQ(podcache_by_container(c, CID_SHOP_API, &h), 0);
    podcache_hit_free(&h);
    CHECK_EQ(podcache_expire(c, 10 + GRACE), 1);
    CHECK_EQ(podcache_by_container(c, CID_SHOP_API, &h), -ENOENT);
    podcache_counts(c, &n);
    CHECK_EQ(n.tombstones, 0);
    CHECK_EQ(n.expired, 1);
    podcache_free(c);
}

/* a second DELETED (a re-list after a watch gap can repeat one) keeps
 * the first time of death; a writer expires as it goes */
TEST(tombstone_keeps_its_time_and_writers_expire)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(delete_fixture(c, "pod-waiting.json", 100), 0);
    CHECK_EQ(delete_fixture(c, "pod-waiting.json", 100 + GRACE / 2), 0);
    CHECK_EQ(put_fixture(c, "pod-static-mirror.json", 100 + GRACE), 0);
    struct pod p;
    CHECK_EQ(podcache_by_pod_id(c, UID_REPORT, &p, NULL), -ENOENT);
    struct podcache_counts n;
    podcache_counts(c, &n);
    CHECK_EQ(n.pods, 1);
    CHECK_EQ(n.tombstones, 0);
    podcache_free(c);
}

TEST(relist_replaces_all_and_missing_pods_become_tombstones)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-deployment-init.json", 0), 0);
    CHECK_EQ(put_fixture(c, "pod-waiting.json", 0), 0);
    CHECK_EQ(put_fixture(c, "pod-large-fields.json", 0), 0);
    /* page 1: the static Pod, the Deployment's Pod (and a rejected one) */
    cJSON *j = kf_json("podlist-page1.json");
    struct pod_list l;
    char err[256];
    CHECK_EQ(pod_list_parse(j, &l, err, sizeof(err)), 0);
    cJSON_Delete(j);
    CHECK_EQ(podcache_replace_all(c, &l, 500), 0);
    CHECK_EQ(l.n, 0);
    struct podcache_counts n;
    podcache_counts(c, &n);
    CHECK_EQ(n.pods, 2);
    CHECK_EQ(n.tombstones, 2);
    CHECK_EQ(n.relists, 1);
    struct pod p;
    bool deleted = false;
    CHECK_EQ(podcache_by_pod_id(c, UID_REPORT, &p, &deleted), 0);
    CHECK(deleted);
    pod_free(&p);
    CHECK_EQ(podcache_by_pod_id(c, UID_SHOP, &p, &deleted), 0);
    CHECK(!deleted);
    CHECK_STREQ(p.resource_version, "4410721");
    pod_free(&p);
    CHECK_EQ(podcache_expire(c, 500 + GRACE), 2);
    podcache_counts(c, &n);
    CHECK_EQ(n.pods, 2);
    CHECK_EQ(n.tombstones, 0);
    podcache_free(c);
}

TEST(snapshot_copies_live_pods_and_tombstones)
{
    struct podcache *c = podcache_new(GRACE);
    CHECK_EQ(put_fixture(c, "pod-deployment-init.json", 0), 0);
    CHECK_EQ(put_fixture(c, "pod-ephemeral-crio.json", 0), 0);
    CHECK_EQ(delete_fixture(c, "pod-ephemeral-crio.json", 42), 0);
    struct podcache_entry *e;
    size_t n;
    CHECK_EQ(podcache_snapshot(c, &e, &n), 0);
    podcache_free(c); /* the copies outlive the cache */
    CHECK_EQ(n, 2);
    CHECK(!e[0].deleted);
    CHECK_STREQ(e[0].pod.annotations[1].key, "flameshot.io/processes");
    CHECK(e[1].deleted);
    CHECK_EQ(e[1].deleted_ms, 42);
    CHECK_STREQ(e[1].pod.containers[1].id, CID_DEBUGGER);
    podcache_entries_free(e, n);
    c = podcache_new(GRACE);
    CHECK_EQ(podcache_snapshot(c, &e, &n), 0);
    CHECK_EQ(n, 0);
    podcache_entries_free(e, n);
    podcache_free(c);
}

/* the watch thread writes while the loop and HTTP read: under ASan, any
 * read of a Pod being replaced would be a use-after-free */
struct race {
    struct podcache *c;
    struct pod a, b;
    int lookups_ok;
};

static void *writer(void *arg)
{
    struct race *r = arg;
    for (uint64_t i = 0; i < 2000; i++) {
        struct pod p;
        if (pod_copy(&p, i % 2 ? &r->b : &r->a) == 0)
            podcache_put(r->c, &p, i);
        if (i % 100 == 99 && pod_copy(&p, &r->b) == 0)
            podcache_delete(r->c, &p, i);
    }
    return NULL;
}

static void *reader(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 2000; i++) {
        struct podcache_hit h;
        if (podcache_by_container(r->c, CID_SHOP_API, &h) == 0 &&
            strcmp(h.container.name, "api") == 0)
            __atomic_add_fetch(&r->lookups_ok, 1, __ATOMIC_RELAXED);
        podcache_hit_free(&h);
        struct podcache_entry *e;
        size_t n;
        if (podcache_snapshot(r->c, &e, &n) == 0)
            podcache_entries_free(e, n);
    }
    return NULL;
}

TEST(readers_and_the_writer_race_safely)
{
    struct race r = {.c = podcache_new(GRACE)};
    CHECK_EQ(kf_pod("pod-deployment-init.json", &r.a), 0);
    CHECK_EQ(kf_pod("pod-restarted.json", &r.b), 0);
    struct pod none = {0};
    CHECK_EQ(podcache_put(r.c, &none, 0), -EINVAL); /* no uid: refused */
    struct pod first;
    CHECK_EQ(pod_copy(&first, &r.a), 0);
    CHECK_EQ(podcache_put(r.c, &first, 0), 0);
    pthread_t w, rd[2];
    pthread_create(&w, NULL, writer, &r);
    for (int i = 0; i < 2; i++)
        pthread_create(&rd[i], NULL, reader, &r);
    CHECK(t_joined_within(w, 120));
    for (int i = 0; i < 2; i++)
        CHECK(t_joined_within(rd[i], 120));
    /* A is the current ID in v1, the replaced or lastState one in v2:
     * it resolves, to container "api", at every moment */
    CHECK_EQ(r.lookups_ok, 4000);
    pod_free(&r.a);
    pod_free(&r.b);
    podcache_free(r.c);
}

TEST_MAIN(lookup_by_container_and_pod_id, static_pod_found_by_config_hash,
          modified_replaces_and_brings_a_started_id, annotation_change_seen_by_readers,
          restart_old_id_resolves_for_the_grace, deleted_pod_is_a_tombstone_until_the_grace,
          tombstone_keeps_its_time_and_writers_expire,
          relist_replaces_all_and_missing_pods_become_tombstones,
          snapshot_copies_live_pods_and_tombstones, readers_and_the_writer_race_safely)
