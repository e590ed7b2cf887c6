/* fuzz_pod: a Pod or a PodList as the API server sends it (kube/pod.h),
 * then the Pod's flameshot.io/ annotations into its effective
 * configuration (kube/podconfig.h), as the watcher chains them: 0,
 * -EINVAL with a reason or -ENOMEM; every field NUL-terminated and within
 * its documented count; a copy equal to the original; the configuration
 * built in one of its states, with a service and tags for every
 * container. */
#include "core/config.h"
#include "kube/pod.h"
#include "kube/podconfig.h"
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>
#include <errno.h>

static const char *no_env(const char *name, void *arg)
{
    (void)arg;
    return !strcmp(name, "FLAMESHOT_MODE")       ? "kubernetes"
           : !strcmp(name, "FLAMESHOT_KUBE_API") ? "https://10.96.0.1:443"
                                                 : NULL;
}

static const struct config *config(void)
{
    static struct config cfg;
    static int loaded;
    if (!loaded) {
        struct config_error err;
        FUZZ_CHECK(config_load(&cfg, no_env, NULL, &err) == 0);
        loaded = 1;
    }
    return &cfg;
}

static void check_pod(const struct pod *p)
{
    FUZZ_TERMINATED(p->uid);
    FUZZ_TERMINATED(p->ns);
    FUZZ_TERMINATED(p->name);
    FUZZ_TERMINATED(p->resource_version);
    FUZZ_TERMINATED(p->node_name);
    FUZZ_TERMINATED(p->config_hash);
    FUZZ_TERMINATED(p->owner_kind);
    FUZZ_TERMINATED(p->owner_name);
    FUZZ_CHECK(p->uid[0] && p->ns[0] && p->name[0]);
    FUZZ_CHECK(p->n_containers <= POD_MAX_CONTAINERS);
    FUZZ_CHECK(p->n_annotations <= POD_MAX_ANNOTATIONS);
    for (size_t i = 0; i < p->n_containers; i++) {
        FUZZ_TERMINATED(p->containers[i].name);
        FUZZ_TERMINATED(p->containers[i].runtime);
        FUZZ_TERMINATED(p->containers[i].id);
        FUZZ_TERMINATED(p->containers[i].prev_id);
    }
}

static void configure(const struct pod *p)
{
    struct podconfig pc;
    if (podconfig_build(p, config(), NULL, &pc) < 0)
        return;
    FUZZ_CHECK((int)pc.state >= 0 && (int)pc.state < PODCONFIG_STATES);
    char buf[256];
    const struct rule *r = pc.rules && pc.rules->n ? &pc.rules->items[0] : NULL;
    for (size_t i = 0; i < p->n_containers; i++) {
        const char *svc = podconfig_service(&pc, p, r, p->containers[i].name, buf, sizeof(buf));
        FUZZ_CHECK(svc != NULL);
        (void)strlen(svc);
        struct tags t;
        if (podconfig_tags(&pc, config(), p, &p->containers[i], r, &t) == 0) {
            FUZZ_CHECK(tags_get(&t, "pod_uid") && !strcmp(tags_get(&t, "pod_uid"), p->uid));
            tags_free(&t);
        }
    }
    podconfig_free(&pc);
}

static void one(const cJSON *obj)
{
    struct pod p, c;
    char err[256] = "";
    int rc = pod_parse(obj, &p, err, sizeof(err));
    FUZZ_TERMINATED(err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc) {
        FUZZ_CHECK(rc != -EINVAL || err[0]);
        return;
    }
    check_pod(&p);
    if (pod_copy(&c, &p) == 0) {
        FUZZ_CHECK(!strcmp(c.uid, p.uid) && c.n_containers == p.n_containers &&
                   c.n_annotations == p.n_annotations);
        pod_free(&c);
    }
    configure(&p);
    pod_free(&p);
    pod_free(&p); /* idempotent */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root)
        return 0;
    one(root);
    struct pod_list l;
    char err[256] = "";
    int rc = pod_list_parse(root, &l, err, sizeof(err));
    FUZZ_TERMINATED(err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_TERMINATED(l.resource_version);
        for (size_t i = 0; i < l.n; i++)
            check_pod(&l.items[i]);
        pod_list_free(&l);
    }
    cJSON_Delete(root);
    return 0;
}
