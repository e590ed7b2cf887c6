#include "kube/pod.h"

#include "events/containerid.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* continue tokens are base64 of a small JSON (a key and a revision) */
#define CONTINUE_MAX (64u << 10)

struct perr {
    char *buf;
    size_t len;
};

static int fail(struct perr *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct perr *e, int rc, const char *fmt, ...)
{
    if (e->buf && e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Copies the string o[key] into dst[cap]. Absent (or null) leaves dst
 * empty and is an error only when required. */
static int copy_field(char *dst, size_t cap, const cJSON *o, const char *key, int required,
                      struct perr *e)
{
    const cJSON *v = item(o, key);
    dst[0] = '\0';
    if (!v || cJSON_IsNull(v))
        return required ? fail(e, -EINVAL, "no %s", key) : 0;
    if (!cJSON_IsString(v))
        return fail(e, -EINVAL, "%s is not a string", key);
    size_t n = strlen(v->valuestring);
    if (n == 0 && required) /* "", or a value starting with a raw NUL byte */
        return fail(e, -EINVAL, "empty %s", key);
    if (n >= cap)
        return fail(e, -EINVAL, "%s is longer than %zu bytes", key, cap - 1);
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

static const char *const phase_names[] = {
    [POD_PHASE_UNKNOWN] = "Unknown", [POD_PHASE_PENDING] = "Pending",
    [POD_PHASE_RUNNING] = "Running", [POD_PHASE_SUCCEEDED] = "Succeeded",
    [POD_PHASE_FAILED] = "Failed",
};

const char *pod_phase_name(enum pod_phase ph)
{
    return (unsigned)ph <= POD_PHASE_FAILED ? phase_names[ph] : "Unknown";
}

static enum pod_phase phase_of(const char *s)
{
    for (int i = POD_PHASE_PENDING; s && i <= POD_PHASE_FAILED; i++)
        if (strcmp(s, phase_names[i]) == 0)
            return (enum pod_phase)i;
    return POD_PHASE_UNKNOWN;
}

const char *pod_container_kind_name(enum pod_container_kind k)
{
    switch (k) {
    case POD_INIT_CONTAINER:
        return "init";
    case POD_EPHEMERAL_CONTAINER:
        return "ephemeral";
    default:
        return "container";
    }
}

static const char *const status_lists[] = {
    [POD_CONTAINER] = "containerStatuses",
    [POD_INIT_CONTAINER] = "initContainerStatuses",
    [POD_EPHEMERAL_CONTAINER] = "ephemeralContainerStatuses",
};

/* "<runtime>://<64 hex>" (the kubelet's kubecontainer.ContainerID.String);
 * "" means not started yet. runtime may be NULL (then not kept). */
static int split_cid(const char *s, char *runtime, char id[POD_CID_LEN + 1], const char *what,
                     struct perr *e)
{
    id[0] = '\0';
    if (runtime)
        runtime[0] = '\0';
    if (!s || !*s)
        return 0;
    const char *sep = strstr(s, "://");
    size_t rlen = sep ? (size_t)(sep - s) : 0;
    if (!sep || rlen == 0 || rlen >= POD_RUNTIME_MAX ||
        !containerid_is_id(sep + 3, strlen(sep + 3)))
        return fail(e, -EINVAL, "%s \"%.80s\" is not <runtime>://<64 hex digits>", what, s);
    if (runtime) {
        memcpy(runtime, s, rlen);
        runtime[rlen] = '\0';
    }
    memcpy(id, sep + 3, POD_CID_LEN + 1);
    return 0;
}

static const char *str_or_null(const cJSON *o, const char *key)
{
    const cJSON *v = item(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_container(const cJSON *st, enum pod_container_kind kind, struct pod_container *c,
                           struct perr *e)
{
    int rc = copy_field(c->name, sizeof(c->name), st, "name", 1, e);
    if (rc)
        return rc;
    c->kind = kind;
    const cJSON *rs = item(st, "restartCount");
    c->restart_count = cJSON_IsNumber(rs) ? rs->valueint : 0;
    const cJSON *v = item(st, "containerID");
    if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
        return fail(e, -EINVAL, "container %s: containerID is not a string", c->name);
    rc = split_cid(str_or_null(st, "containerID"), c->runtime, c->id, "containerID", e);
    if (rc)
        return rc;
    const cJSON *last = item(item(st, "lastState"), "terminated");
    return split_cid(str_or_null(last, "containerID"), NULL, c->prev_id,
                     "lastState.terminated.containerID", e);
}

static int parse_containers(const cJSON *status, struct pod *p, struct perr *e)
{
    size_t total = 0;
    for (int k = 0; k < 3; k++) {
        const cJSON *arr = item(status, status_lists[k]);
        if (arr && !cJSON_IsNull(arr) && !cJSON_IsArray(arr))
            return fail(e, -EINVAL, "status.%s is not an array", status_lists[k]);
        total += (size_t)cJSON_GetArraySize(arr);
    }
    if (total > POD_MAX_CONTAINERS)
        return fail(e, -EINVAL, "%zu container statuses (at most %d)", total, POD_MAX_CONTAINERS);
    if (total == 0)
        return 0;
    p->containers = calloc(total, sizeof(*p->containers));
    if (!p->containers)
        return -ENOMEM;
    for (int k = 0; k < 3; k++) {
        const cJSON *st;
        cJSON_ArrayForEach(st, item(status, status_lists[k]))
        {
            int rc =
                parse_container(st, (enum pod_container_kind)k, &p->containers[p->n_containers], e);
            if (rc)
                return rc;
            p->n_containers++;
        }
    }
    return 0;
}

static int add_annotation(struct pod *p, const cJSON *a, size_t *bytes, struct perr *e)
{
    if (!cJSON_IsString(a))
        return fail(e, -EINVAL, "annotation %s is not a string", a->string);
    size_t kl = strlen(a->string), vl = strlen(a->valuestring);
    *bytes += kl + vl;
    if (p->n_annotations >= POD_MAX_ANNOTATIONS || *bytes > POD_ANNOTATION_BYTES)
        return fail(e, -EINVAL, "more than %d %s annotations or %u bytes of them",
                    POD_MAX_ANNOTATIONS, POD_ANNOTATION_PREFIX, POD_ANNOTATION_BYTES);
    if (!p->annotations) {
        p->annotations = calloc(POD_MAX_ANNOTATIONS, sizeof(*p->annotations));
        if (!p->annotations)
            return -ENOMEM;
    }
    struct pod_annotation *pa = &p->annotations[p->n_annotations];
    pa->key = strdup(a->string);
    pa->value = strdup(a->valuestring);
    p->n_annotations++; /* counted even half-made, so pod_free frees it */
    return pa->key && pa->value ? 0 : -ENOMEM;
}

static int parse_annotations(const cJSON *ann, struct pod *p, struct perr *e)
{
    size_t bytes = 0, plen = strlen(POD_ANNOTATION_PREFIX);
    if (ann && !cJSON_IsNull(ann) && !cJSON_IsObject(ann)) /* an array's items have no key */
        return fail(e, -EINVAL, "annotations is not an object");
    const cJSON *a;
    cJSON_ArrayForEach(a, ann)
    {
        int rc = 0;
        if (strncmp(a->string, POD_ANNOTATION_PREFIX, plen) == 0)
            rc = add_annotation(p, a, &bytes, e);
        else if (strcmp(a->string, POD_CONFIG_HASH_KEY) == 0)
            rc = copy_field(p->config_hash, sizeof(p->config_hash), ann, POD_CONFIG_HASH_KEY, 0, e);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_owner(const cJSON *refs, struct pod *p, struct perr *e)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, refs)
    {
        if (!cJSON_IsTrue(item(r, "controller")))
            continue;
        int rc = copy_field(p->owner_kind, sizeof(p->owner_kind), r, "kind", 1, e);
        return rc ? rc : copy_field(p->owner_name, sizeof(p->owner_name), r, "name", 1, e);
    }
    return 0;
}

static int parse_labels(const cJSON *labels, struct pod *p, struct perr *e)
{
    int rc = copy_field(p->label_app_name, sizeof(p->label_app_name), labels,
                        "app.kubernetes.io/name", 0, e);
    if (!rc)
        rc = copy_field(p->label_app, sizeof(p->label_app), labels, "app", 0, e);
    if (!rc)
        rc = copy_field(p->label_version, sizeof(p->label_version), labels,
                        "app.kubernetes.io/version", 0, e);
    return rc;
}

static int parse_metadata(const cJSON *md, struct pod *p, struct perr *e)
{
    if (!cJSON_IsObject(md))
        return fail(e, -EINVAL, "no metadata");
    int rc = copy_field(p->uid, sizeof(p->uid), md, "uid", 1, e);
    if (!rc)
        rc = copy_field(p->ns, sizeof(p->ns), md, "namespace", 1, e);
    if (!rc)
        rc = copy_field(p->name, sizeof(p->name), md, "name", 1, e);
    if (!rc)
        rc = copy_field(p->resource_version, sizeof(p->resource_version), md, "resourceVersion", 0,
                        e);
    if (!rc)
        rc = parse_labels(item(md, "labels"), p, e);
    if (!rc)
        rc = parse_annotations(item(md, "annotations"), p, e);
    if (!rc)
        rc = parse_owner(item(md, "ownerReferences"), p, e);
    return rc;
}

int pod_parse(const cJSON *obj, struct pod *out, char *err, size_t errlen)
{
    struct perr e = {err, errlen};
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!cJSON_IsObject(obj))
        return fail(&e, -EINVAL, "not a JSON object");
    int rc = parse_metadata(item(obj, "metadata"), out, &e);
    if (!rc)
        rc = copy_field(out->node_name, sizeof(out->node_name), item(obj, "spec"), "nodeName", 0,
                        &e);
    const cJSON *status = item(obj, "status");
    if (!rc) {
        out->phase = phase_of(str_or_null(status, "phase"));
        rc = parse_containers(status, out, &e);
    }
    if (rc == -ENOMEM)
        fail(&e, rc, "out of memory");
    if (rc && out->name[0] && err && errlen) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "pod %s/%s: %s", out->ns, out->name, why);
    }
    if (rc)
        pod_free(out);
    return rc;
}

void pod_free(struct pod *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_annotations; i++) {
        free(p->annotations[i].key);
        free(p->annotations[i].value);
    }
    free(p->annotations);
    free(p->containers);
    memset(p, 0, sizeof(*p));
}

int pod_copy(struct pod *dst, const struct pod *src)
{
    *dst = *src;
    dst->annotations = NULL;
    dst->n_annotations = 0;
    dst->containers = NULL;
    if (src->n_containers) {
        dst->containers = malloc(src->n_containers * sizeof(*dst->containers));
        if (!dst->containers)
            goto nomem;
        memcpy(dst->containers, src->containers, src->n_containers * sizeof(*dst->containers));
    }
    if (src->n_annotations) {
        dst->annotations = calloc(src->n_annotations, sizeof(*dst->annotations));
        if (!dst->annotations)
            goto nomem;
    }
    for (size_t i = 0; i < src->n_annotations; i++) {
        struct pod_annotation *a = &dst->annotations[dst->n_annotations++];
        a->key = strdup(src->annotations[i].key);
        a->value = strdup(src->annotations[i].value);
        if (!a->key || !a->value)
            goto nomem;
    }
    return 0;
nomem:
    pod_free(dst);
    return -ENOMEM;
}

const char *pod_annotation(const struct pod *p, const char *key)
{
    for (size_t i = 0; i < p->n_annotations; i++)
        if (strcmp(p->annotations[i].key, key) == 0)
            return p->annotations[i].value;
    return NULL;
}

const struct pod_container *pod_container_by_id(const struct pod *p, const char *id, bool prev)
{
    if (!id || !*id)
        return NULL;
    for (size_t i = 0; i < p->n_containers; i++)
        if (strcmp(p->containers[i].id, id) == 0)
            return &p->containers[i];
    for (size_t i = 0; prev && i < p->n_containers; i++)
        if (strcmp(p->containers[i].prev_id, id) == 0)
            return &p->containers[i];
    return NULL;
}

static int list_meta(const cJSON *md, struct pod_list *out, struct perr *e)
{
    int rc = copy_field(out->resource_version, sizeof(out->resource_version), md, "resourceVersion",
                        1, e);
    if (rc)
        return rc;
    const char *c = str_or_null(md, "continue");
    if (!c || !*c)
        return 0;
    if (strlen(c) > CONTINUE_MAX)
        return fail(e, -EINVAL, "metadata.continue is longer than %u bytes", CONTINUE_MAX);
    out->cont = strdup(c);
    return out->cont ? 0 : -ENOMEM;
}

int pod_list_parse(const cJSON *root, struct pod_list *out, char *err, size_t errlen)
{
    struct perr e = {err, errlen};
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    const cJSON *items = item(root, "items");
    if (!cJSON_IsArray(items))
        return fail(&e, -EINVAL, "not a PodList: no items array");
    int rc = list_meta(item(root, "metadata"), out, &e);
    size_t n = (size_t)cJSON_GetArraySize(items);
    if (!rc && n) {
        out->items = calloc(n, sizeof(*out->items));
        rc = out->items ? 0 : -ENOMEM;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        if (rc)
            break;
        /* a rejected Pod keeps the first reason and does not stop the list */
        char why[256];
        rc = pod_parse(it, &out->items[out->n], why, sizeof(why));
        if (rc == -EINVAL) {
            if (out->rejected++ == 0 && err && errlen)
                snprintf(err, errlen, "%s", why);
            rc = 0;
        } else if (rc == 0) {
            out->n++;
        }
    }
    if (rc)
        pod_list_free(out);
    return rc;
}

void pod_list_free(struct pod_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        pod_free(&l->items[i]);
    free(l->items);
    free(l->cont);
    memset(l, 0, sizeof(*l));
}
