/* pod: the Pod fixtures of tests/data/kube reduced to what the agent keeps:
 * a Deployment's Pod with an init container, a CRI-O Pod with an ephemeral
 * container, a Pending Pod whose containers wait without an ID, a restarted
 * container, a static Pod's mirror, a Pod with large unrelated fields; the
 * PodList pages; what makes a Pod invalid. */
#include "harness.h"
#include "kube_fixture.h"

#include <errno.h>

TEST(deployment_pod_with_init_container)
{
    struct pod p;
    CHECK_EQ(kf_pod("pod-deployment-init.json", &p), 0);
    CHECK_STREQ(p.uid, UID_SHOP);
    CHECK_STREQ(p.ns, "shop");
    CHECK_STREQ(p.name, "shop-api-7d9c8b6f5d-x2x8k");
    CHECK_STREQ(p.resource_version, "4410721");
    CHECK_STREQ(p.node_name, "worker-2");
    CHECK_EQ(p.phase, POD_PHASE_RUNNING);
    CHECK_STREQ(p.label_app_name, "shop-api");
    CHECK_STREQ(p.label_version, "2.14.1");
    CHECK_STREQ(p.label_app, "");
    CHECK_STREQ(p.owner_kind, "ReplicaSet");
    CHECK_STREQ(p.owner_name, "shop-api-7d9c8b6f5d");
    CHECK_STREQ(p.config_hash, "");
    /* only the flameshot.io/ annotations, in order */
    CHECK_EQ(p.n_annotations, 3);
    CHECK_STREQ(p.annotations[0].key, "flameshot.io/enabled");
    CHECK_STREQ(p.annotations[2].key, "flameshot.io/service");
    CHECK_STREQ(pod_annotation(&p, "flameshot.io/processes"),
                "[{\"name\":\"api\",\"container\":\"api\",\"cpu_threshold\":80}]");
    CHECK(!pod_annotation(&p, "prometheus.io/scrape"));
    CHECK_EQ(p.n_containers, 2);
    const struct pod_container *api = &p.containers[0], *init = &p.containers[1];
    CHECK_STREQ(api->name, "api");
    CHECK_EQ(api->kind, POD_CONTAINER);
    CHECK_STREQ(api->runtime, "containerd");
    CHECK_STREQ(api->id, CID_SHOP_API);
    CHECK_STREQ(api->prev_id, "");
    CHECK_STREQ(init->name, "migrate");
    CHECK_EQ(init->kind, POD_INIT_CONTAINER);
    CHECK_STREQ(init->id, CID_MIGRATE);
    CHECK_STREQ(pod_container_kind_name(init->kind), "init");
    CHECK(pod_container_by_id(&p, CID_MIGRATE, false) == init);
    pod_free(&p);
    CHECK_EQ(p.n_containers, 0);
    pod_free(&p); /* idempotent */
}

TEST(crio_pod_with_ephemeral_container)
{
    struct pod p;
    CHECK_EQ(kf_pod("pod-ephemeral-crio.json", &p), 0);
    CHECK_STREQ(p.label_app, "orders-db");
    CHECK_STREQ(p.label_app_name, "");
    CHECK_STREQ(p.owner_kind, "StatefulSet");
    CHECK_STREQ(p.owner_name, "orders-db");
    CHECK_EQ(p.n_annotations, 0); /* the Pod has no annotations at all */
    CHECK_EQ(p.n_containers, 2);
    CHECK_STREQ(p.containers[0].runtime, "cri-o");
    CHECK_STREQ(p.containers[0].id, CID_ORDERS_DB);
    CHECK_STREQ(p.containers[1].name, "debugger-9xk2p");
    CHECK_EQ(p.containers[1].kind, POD_EPHEMERAL_CONTAINER);
    CHECK_STREQ(p.containers[1].id, CID_DEBUGGER);
    pod_free(&p);
}

TEST(waiting_containers_have_no_id)
{
    struct pod p;
    CHECK_EQ(kf_pod("pod-waiting.json", &p), 0);
    CHECK_EQ(p.phase, POD_PHASE_PENDING);
    CHECK_STREQ(pod_phase_name(p.phase), "Pending");
    CHECK_STREQ(p.owner_kind, "Job");
    CHECK_EQ(p.n_containers, 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK_STREQ(p.containers[i].id, "");
        CHECK_STREQ(p.containers[i].runtime, "");
    }
    CHECK_STREQ(p.containers[1].name, "uploader");
    CHECK(!pod_container_by_id(&p, "", true));
    pod_free(&p);
}

TEST(restarted_container_new_id_and_the_previous_one)
{
    struct pod p;
    CHECK_EQ(kf_pod("pod-restarted.json", &p), 0);
    CHECK_EQ(p.n_containers, 2);
    const struct pod_container *api = &p.containers[0];
    CHECK_EQ(api->restart_count, 3);
    CHECK_STREQ(api->id, CID_SHOP_API_2);
    CHECK_STREQ(api->prev_id, CID_SHOP_API); /* lastState.terminated (OOMKilled) */
    CHECK(!pod_container_by_id(&p, CID_SHOP_API, false));
    CHECK(pod_container_by_id(&p, CID_SHOP_API, true) == api);
    pod_free(&p);
}

TEST(static_mirror_pod_keeps_its_config_hash)
{
    struct pod p;
    CHECK_EQ(kf_pod("pod-static-mirror.json", &p), 0);
    CHECK_STREQ(p.config_hash, HASH_STATIC);
    CHECK_STREQ(p.uid, UID_STATIC);
    CHECK_STREQ(p.owner_kind, "Node");
    CHECK_STREQ(p.owner_name, "worker-2");
    CHECK_EQ(p.n_annotations, 0);
    CHECK_STREQ(p.containers[0].id, CID_APISERVER);
    pod_free(&p);
}

/* what one Pod costs here, all its allocations included */
static size_t footprint(const struct pod *p)
{
    size_t n = sizeof(*p) + p->n_containers * sizeof(p->containers[0]) +
               POD_MAX_ANNOTATIONS * sizeof(p->annotations[0]);
    for (size_t i = 0; i < p->n_annotations; i++)
        n += strlen(p->annotations[i].key) + strlen(p->annotations[i].value) + 2;
    return n;
}

TEST(large_unrelated_fields_are_not_kept)
{
    size_t len;
    char *raw = kf_read("pod-large-fields.json", &len);
    CHECK(raw && len > 100000);
    free(raw);
    struct pod p;
    CHECK_EQ(kf_pod("pod-large-fields.json", &p), 0);
    CHECK_STREQ(p.name, "legacy-batch-5f7d8c9b4-qq7lz");
    CHECK_STREQ(p.containers[0].id, CID_LEGACY);
    /* last-applied-configuration (the env again) is not a flameshot.io/ key */
    CHECK_EQ(p.n_annotations, 1);
    CHECK_STREQ(p.annotations[0].key, "flameshot.io/enabled");
    CHECK_MSG(footprint(&p) < 4096, "kept %zu bytes of a %zu-byte Pod", footprint(&p), len);
    pod_free(&p);
}

/* owners that do not control the Pod (garbage collection only) are not
 * its workload */
TEST(owner_is_the_controller)
{
    cJSON *j = kf_json("pod-ephemeral-crio.json");
    cJSON *refs = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "ownerReferences");
    cJSON_InsertItemInArray(refs, 0,
                            cJSON_Parse("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Backup\","
                                        "\"name\":\"nightly\",\"uid\":\"1b2c3d4e-0000-4000-8000-"
                                        "000000000001\"}"));
    struct pod p;
    char err[256];
    CHECK_EQ(pod_parse(j, &p, err, sizeof(err)), 0);
    CHECK_STREQ(p.owner_kind, "StatefulSet");
    pod_free(&p);
    cJSON_DeleteItemFromArray(refs, 1);
    CHECK_EQ(pod_parse(j, &p, err, sizeof(err)), 0);
    CHECK_STREQ(p.owner_kind, "");
    pod_free(&p);
    cJSON_Delete(j);
}

TEST(copy_is_deep)
{
    struct pod a, b;
    CHECK_EQ(kf_pod("pod-deployment-init.json", &a), 0);
    CHECK_EQ(pod_copy(&b, &a), 0);
    pod_free(&a);
    CHECK_STREQ(pod_annotation(&b, "flameshot.io/service"), "shop-api");
    CHECK_STREQ(b.containers[1].id, CID_MIGRATE);
    pod_free(&b);
}

/* a mutation of the Deployment fixture and what pod_parse says of it */
struct bad_case {
    const char *what;
    const char *path[5]; /* keys down to the field ("#N": an array index), NULL-ended */
    const char *value;   /* a string value, NULL to delete the field */
    const char *err;     /* in the reason */
};

static cJSON *walk(cJSON *o, const char *const *path, const char **last)
{
    for (; path[1]; path++)
        o = path[0][0] == '#' ? cJSON_GetArrayItem(o, atoi(path[0] + 1))
                              : cJSON_GetObjectItem(o, path[0]);
    *last = path[0];
    return o;
}

TEST(invalid_pods_are_refused_with_the_reason)
{
    char long_name[300];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    const char *hex63 =
        "containerd://982d4486a936e2e63d7985287730247ad18514560524c8e0f7cc769dcea7dec";
    const char *upper =
        "containerd://982D4486A936E2E63D7985287730247AD18514560524C8E0F7CC769DCEA7DEC8";
    const struct bad_case cases[] = {
        {"no uid", {"metadata", "uid"}, NULL, "no uid"},
        {"no name", {"metadata", "name"}, NULL, "no name"},
        /* "" (or a value cut at a raw NUL byte) is no name either (fuzz_pod) */
        {"empty uid", {"metadata", "uid"}, "", "empty uid"},
        {"empty namespace", {"metadata", "namespace"}, "", "empty namespace"},
        {"empty name", {"metadata", "name"}, "", "empty name"},
        {"name too long", {"metadata", "name"}, long_name, "name is longer than 253"},
        {"label too long", {"metadata", "labels", "app"}, long_name, "app is longer than 63"},
        {"short id", {"status", "containerStatuses", "#0", "containerID"}, hex63, "64 hex"},
        {"upper-case id", {"status", "containerStatuses", "#0", "containerID"}, upper, "64 hex"},
        {"no runtime",
         {"status", "containerStatuses", "#0", "containerID"},
         "://982d4486a936e2e63d7985287730247ad18514560524c8e0f7cc769dcea7dec8",
         "64 hex"},
        {"container without name",
         {"status", "initContainerStatuses", "#0", "name"},
         NULL,
         "no name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *j = kf_json("pod-deployment-init.json");
        CHECK(j);
        const char *key;
        cJSON *parent = walk(j, cases[i].path, &key);
        CHECK_MSG(parent, "%s: no such path", cases[i].what);
        cJSON_DeleteItemFromObject(parent, key);
        if (cases[i].value)
            cJSON_AddStringToObject(parent, key, cases[i].value);
        struct pod p;
        char err[256];
        int rc = pod_parse(j, &p, err, sizeof(err));
        cJSON_Delete(j);
        CHECK_MSG(rc == -EINVAL, "%s: rc %d", cases[i].what, rc);
        CHECK_MSG(strstr(err, cases[i].err), "%s: \"%s\"", cases[i].what, err);
        CHECK_EQ(p.n_containers, 0);
    }
}

TEST(annotations_that_are_not_an_object_are_refused)
{
    /* an array's items have no key (fuzz_watch: UBSan, strncmp of NULL) */
    cJSON *j = kf_json("pod-deployment-init.json");
    CHECK(j);
    cJSON *md = cJSON_GetObjectItem(j, "metadata");
    cJSON_ReplaceItemInObject(md, "annotations", cJSON_Parse("[\"flameshot.io/enabled\", 1]"));
    struct pod p;
    char err[256];
    CHECK_EQ(pod_parse(j, &p, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "annotations is not an object");
    cJSON_ReplaceItemInObject(md, "annotations", cJSON_CreateNull());
    CHECK_EQ(pod_parse(j, &p, err, sizeof(err)), 0); /* null: none */
    CHECK_EQ(p.n_annotations, 0);
    pod_free(&p);
    cJSON_Delete(j);
}

TEST(reason_names_the_pod)
{
    cJSON *j = kf_json("pod-deployment-init.json");
    cJSON *st = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "status"), "containerStatuses"), 0);
    cJSON_ReplaceItemInObject(st, "containerID", cJSON_CreateNumber(7));
    struct pod p;
    char err[256];
    CHECK_EQ(pod_parse(j, &p, err, sizeof(err)), -EINVAL);
    cJSON_Delete(j);
    CHECK_STREQ(err, "pod shop/shop-api-7d9c8b6f5d-x2x8k: container api: containerID is not a "
                     "string");
    cJSON *arr = cJSON_CreateArray();
    CHECK_EQ(pod_parse(arr, &p, err, sizeof(err)), -EINVAL);
    cJSON_Delete(arr);
    CHECK_STREQ(err, "not a JSON object");
}

TEST(too_many_flameshot_annotations)
{
    cJSON *j = kf_json("pod-deployment-init.json");
    cJSON *ann = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "annotations");
    for (int i = 0; i < POD_MAX_ANNOTATIONS; i++) {
        char k[64];
        snprintf(k, sizeof(k), "flameshot.io/extra-%d", i);
        cJSON_AddStringToObject(ann, k, "x");
    }
    struct pod p;
    char err[256];
    CHECK_EQ(pod_parse(j, &p, err, sizeof(err)), -EINVAL);
    cJSON_Delete(j);
    CHECK_CONTAINS(err, "flameshot.io/ annotations");
    CHECK_EQ(p.n_annotations, 0);
}

TEST(podlist_page_with_a_rejected_item_and_continue)
{
    cJSON *j = kf_json("podlist-page1.json");
    CHECK(j);
    struct pod_list l;
    char err[256];
    CHECK_EQ(pod_list_parse(j, &l, err, sizeof(err)), 0);
    cJSON_Delete(j);
    CHECK_EQ(l.n, 2);
    CHECK_EQ(l.rejected, 1);
    CHECK_CONTAINS(err, "pod batch/broken-id: containerID");
    CHECK_STREQ(l.resource_version, "4413600");
    CHECK(l.cont && strncmp(l.cont, "eyJ2Ijoi", 8) == 0);
    CHECK_STREQ(l.items[0].config_hash, HASH_STATIC);
    CHECK_STREQ(l.items[1].uid, UID_SHOP);
    pod_list_free(&l);

    j = kf_json("podlist-page2.json");
    CHECK_EQ(pod_list_parse(j, &l, err, sizeof(err)), 0);
    cJSON_Delete(j);
    CHECK_EQ(l.n, 2);
    CHECK_EQ(l.rejected, 0);
    CHECK_STREQ(err, "");
    CHECK(!l.cont); /* the last page */
    pod_list_free(&l);
    pod_list_free(&l);
}

TEST(status_is_not_a_podlist)
{
    cJSON *j = cJSON_Parse("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                           "\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403}");
    struct pod_list l;
    char err[256];
    CHECK_EQ(pod_list_parse(j, &l, err, sizeof(err)), -EINVAL);
    CHECK_STREQ(err, "not a PodList: no items array");
    cJSON_Delete(j);
    j = cJSON_Parse("{\"kind\":\"PodList\",\"metadata\":{},\"items\":[]}");
    CHECK_EQ(pod_list_parse(j, &l, err, sizeof(err)), -EINVAL);
    CHECK_STREQ(err, "no resourceVersion");
    cJSON_Delete(j);
    j = cJSON_Parse("{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}");
    CHECK_EQ(pod_list_parse(j, &l, err, sizeof(err)), 0);
    CHECK_EQ(l.n, 0);
    pod_list_free(&l);
    cJSON_Delete(j);
}

TEST_MAIN(annotations_that_are_not_an_object_are_refused, deployment_pod_with_init_container,
          crio_pod_with_ephemeral_container, waiting_containers_have_no_id,
          restarted_container_new_id_and_the_previous_one, static_mirror_pod_keeps_its_config_hash,
          large_unrelated_fields_are_not_kept, owner_is_the_controller, copy_is_deep,
          invalid_pods_are_refused_with_the_reason, reason_names_the_pod,
          too_many_flameshot_annotations, podlist_page_with_a_rejected_item_and_continue,
          status_is_not_a_podlist)
