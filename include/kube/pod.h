/* pod: what the agent keeps of a Pod object from the API server.
 *
 * A Pod's JSON can be hundreds of kilobytes (managedFields, env, volumes);
 * the agent keeps a few bounded fields of it, so its memory grows with the
 * number of Pods and containers on the node, never with the size of their
 * specs. Kept: identity (uid, namespace, name, resourceVersion), phase,
 * nodeName, the flameshot.io/ annotations, the static Pod's config hash,
 * three labels, the controlling owner, and one entry per container status
 * (containerStatuses, initContainerStatuses, ephemeralContainerStatuses).
 *
 * Every string field is NUL-terminated in a fixed array sized by the API's
 * own validation (a name is a DNS subdomain of at most 253 characters, a
 * label value at most 63...); a longer value, which the API server would
 * have refused, makes the Pod invalid rather than truncated. */
#ifndef FS_KUBE_POD_H
#define FS_KUBE_POD_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

#define POD_NAME_MAX    254 /* DNS subdomain: 253 + NUL */
#define POD_LABEL_MAX   64  /* label value: 63 + NUL */
#define POD_UID_MAX     40  /* a UUID: 36 + NUL */
#define POD_RV_MAX      64  /* opaque; etcd's int64 revision in practice */
#define POD_HASH_MAX    64  /* kubernetes.io/config.hash: an md5 in hex (32) */
#define POD_KIND_MAX    64
#define POD_RUNTIME_MAX 16 /* "containerd", "cri-o", "docker" */
#define POD_CID_LEN     64 /* container IDs are 64 lowercase hex digits */

/* Bounds of what one Pod may hold here. The annotation bytes bound the
 * flameshot.io/ keys and values together (the API caps all annotations of
 * an object at 256 KiB); a Pod past a bound is invalid (pod_parse says
 * which), never silently cut. */
#define POD_MAX_CONTAINERS   256
#define POD_MAX_ANNOTATIONS  32
#define POD_ANNOTATION_BYTES (64u << 10)

#define POD_ANNOTATION_PREFIX "flameshot.io/"
#define POD_CONFIG_HASH_KEY   "kubernetes.io/config.hash"

enum pod_phase {
    POD_PHASE_UNKNOWN = 0, /* absent, or "Unknown" */
    POD_PHASE_PENDING,
    POD_PHASE_RUNNING,
    POD_PHASE_SUCCEEDED,
    POD_PHASE_FAILED,
};

/* "Pending"...; "Unknown" for POD_PHASE_UNKNOWN */
const char *pod_phase_name(enum pod_phase ph);

/* which status list a container came from */
enum pod_container_kind {
    POD_CONTAINER = 0, /* containerStatuses */
    POD_INIT_CONTAINER,
    POD_EPHEMERAL_CONTAINER,
};

/* "container", "init", "ephemeral" */
const char *pod_container_kind_name(enum pod_container_kind k);

struct pod_container {
    char name[POD_LABEL_MAX]; /* a DNS label: 63 + NUL */
    enum pod_container_kind kind;
    int restart_count;
    /* from containerID "<runtime>://<id>"; both empty while the container
     * is still waiting (it has no ID yet) */
    char runtime[POD_RUNTIME_MAX];
    char id[POD_CID_LEN + 1];
    /* lastState.terminated.containerID: the container this one replaced
     * (after a restart), so late events of it are still attributed; empty
     * when none */
    char prev_id[POD_CID_LEN + 1];
};

struct pod_annotation {
    char *key; /* "flameshot.io/..." */
    char *value;
};

struct pod {
    char uid[POD_UID_MAX];
    char ns[POD_LABEL_MAX]; /* metadata.namespace: a DNS label */
    char name[POD_NAME_MAX];
    char resource_version[POD_RV_MAX];
    char node_name[POD_NAME_MAX];
    enum pod_phase phase;
    /* the kubelet's hash for a static Pod (its mirror Pod's annotation):
     * the "UID" in the Pod's cgroup path; empty for other Pods */
    char config_hash[POD_HASH_MAX];
    /* labels app.kubernetes.io/name, app, app.kubernetes.io/version */
    char label_app_name[POD_LABEL_MAX];
    char label_app[POD_LABEL_MAX];
    char label_version[POD_LABEL_MAX];
    /* the first ownerReference with controller: true (a ReplicaSet, a
     * StatefulSet, a DaemonSet, a Job, a Node for mirror Pods) */
    char owner_kind[POD_KIND_MAX];
    char owner_name[POD_NAME_MAX];
    /* the flameshot.io/ annotations, in the object's order (malloc'd) */
    struct pod_annotation *annotations;
    size_t n_annotations;
    /* malloc'd */
    struct pod_container *containers;
    size_t n_containers;
};

/* Reduces a Pod object (the "object" of a watch event or an item of a
 * list) to *out, which the caller later releases with pod_free. metadata.uid,
 * .namespace and .name are required. Returns 0, -EINVAL with the reason in
 * err (a field over its bound, a malformed containerID, a missing name...),
 * or -ENOMEM; on error *out holds nothing to free. */
int pod_parse(const struct cJSON *obj, struct pod *out, char *err, size_t errlen);

/* Deep copy of src into *dst (released with pod_free). Returns 0 or
 * -ENOMEM (then *dst holds nothing to free). */
int pod_copy(struct pod *dst, const struct pod *src);

/* Releases what *p holds and zeroes it. NULL-safe, idempotent. */
void pod_free(struct pod *p);

/* The value of the flameshot.io/ annotation key (the full key), or NULL. */
const char *pod_annotation(const struct pod *p, const char *key);

/* The container with this 64-hex ID (its current ID, or with prev too its
 * previous one), or NULL. */
const struct pod_container *pod_container_by_id(const struct pod *p, const char *id, bool prev);

/* One page of a LIST /api/v1/pods answer (a PodList). */
struct pod_list {
    struct pod *items; /* malloc'd; each released by pod_list_free */
    size_t n;
    /* items the page held that pod_parse refused (one bad Pod does not
     * stop the list); the first reason is in err of pod_list_parse */
    size_t rejected;
    char resource_version[POD_RV_MAX]; /* metadata.resourceVersion */
    char *cont;                        /* metadata.continue, NULL when last */
};

/* Parses a PodList. Returns 0 (with rejected items counted; err holds the
 * first rejection's reason, empty when none), -EINVAL when the answer is
 * not a PodList (no items array, no resourceVersion, a continue token
 * over 64 KiB) or -ENOMEM; on error *out holds nothing to free. */
int pod_list_parse(const struct cJSON *root, struct pod_list *out, char *err, size_t errlen);

/* Releases what *l holds (its Pods too) and zeroes it. NULL-safe. */
void pod_list_free(struct pod_list *l);

#endif
