#include "outbox/artefact.h"

#include "core/units.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define RECORD_VERSION 1

static const char *const kind_names[ARTEFACT__COUNT] = {"profile", "jcmd_snapshot", "oom_hprof",
                                                        "process_exit"};
static const char *const kind_measurements[ARTEFACT__COUNT] = {
    NULL, "flameshot_jcmd_snapshot", "flameshot_oom_hprof", "flameshot_process_exit"};
static const char *const kind_status[ARTEFACT__COUNT] = {NULL, "info", "error", "warning"};
static const char *const route_names[ARTEFACT_ROUTE_COUNT] = {"local", "datakit_profiling",
                                                              "datakit_logging"};
static const char *const ftype_names[] = {"str", "int", "uint", "float", "bool"};

const char *artefact_kind_name(enum artefact_kind kind)
{
    return (unsigned)kind < ARTEFACT__COUNT ? kind_names[kind] : "unknown";
}

int artefact_kind_parse(const char *name)
{
    for (int i = 0; name && i < ARTEFACT__COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -EINVAL;
}

const char *artefact_kind_measurement(enum artefact_kind kind)
{
    return (unsigned)kind < ARTEFACT__COUNT ? kind_measurements[kind] : NULL;
}

const char *artefact_kind_status(enum artefact_kind kind)
{
    return (unsigned)kind < ARTEFACT__COUNT ? kind_status[kind] : NULL;
}

int artefact_kind_has_payload(enum artefact_kind kind)
{
    return kind == ARTEFACT_PROFILE || kind == ARTEFACT_JCMD_SNAPSHOT;
}

const char *artefact_route_name(unsigned route)
{
    for (int i = 0; i < ARTEFACT_ROUTE_COUNT; i++)
        if (route == 1u << i)
            return route_names[i];
    return NULL;
}

static unsigned route_parse(const char *name)
{
    for (int i = 0; i < ARTEFACT_ROUTE_COUNT; i++)
        if (strcmp(name, route_names[i]) == 0)
            return 1u << i;
    return 0;
}

/* ---- lifetime ----------------------------------------------------------- */

void artefact_meta_init(struct artefact_meta *m, enum artefact_kind kind)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
}

#define STR_MEMBERS(X)                                                                             \
    X(service_override)                                                                            \
    X(service)                                                                                     \
    X(env)                                                                                         \
    X(version)                                                                                     \
    X(host)                                                                                        \
    X(process_name)                                                                                \
    X(library_type)                                                                                \
    X(library_version)                                                                             \
    X(jdk_version)                                                                                 \
    X(trigger)                                                                                     \
    X(file_name)                                                                                   \
    X(language)                                                                                    \
    X(id)                                                                                          \
    X(local_relpath)                                                                               \
    X(last_error)

#define K8S_MEMBERS(X)                                                                             \
    X(pod_name)                                                                                    \
    X(pod_namespace)                                                                               \
    X(pod_uid)                                                                                     \
    X(container_name)                                                                              \
    X(container_id)

static void field_clear(struct artefact_field *f)
{
    free(f->key);
    free(f->s);
    memset(f, 0, sizeof(*f));
}

void artefact_meta_free(struct artefact_meta *m)
{
#define FREE_MEMBER(name) free(m->name);
    STR_MEMBERS(FREE_MEMBER)
#undef FREE_MEMBER
#define FREE_K8S(name) free(m->k8s.name);
    K8S_MEMBERS(FREE_K8S)
#undef FREE_K8S
    tags_free(&m->trigger_tags);
    tags_free(&m->global_tags);
    tags_free(&m->rule_tags);
    for (size_t i = 0; i < m->nfields; i++)
        field_clear(&m->fields[i]);
    free(m->fields);
    free(m->attachments);
    artefact_meta_init(m, m->kind);
}

int artefact_set(char **member, const char *v)
{
    char *c = NULL;
    if (v && !(c = strdup(v)))
        return -ENOMEM;
    free(*member);
    *member = c;
    return 0;
}

int artefact_meta_copy(struct artefact_meta *dst, const struct artefact_meta *src)
{
    cJSON *j = artefact_to_json(src);
    char err[128];
    if (!j) {
        artefact_meta_init(dst, src->kind);
        return -ENOMEM;
    }
    int rc = artefact_from_json(j, dst, err, sizeof(err));
    cJSON_Delete(j);
    return rc == -EINVAL ? -ENOMEM : rc; /* our own output always parses */
}

int artefact_add_attachment(struct artefact_meta *m, const char *name, uint64_t size)
{
    if (m->nattachments >= ARTEFACT_MAX_ATTACHMENTS)
        return -E2BIG;
    struct artefact_attachment *n = realloc(m->attachments, (m->nattachments + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    m->attachments = n;
    snprintf(n[m->nattachments].name, sizeof(n->name), "%s", name);
    n[m->nattachments++].size = size;
    return 0;
}

/* ---- fields ------------------------------------------------------------- */

static struct artefact_field *field_slot(struct artefact_meta *m, const char *key)
{
    for (size_t i = 0; i < m->nfields; i++) {
        if (strcmp(m->fields[i].key, key) == 0) {
            free(m->fields[i].s);
            m->fields[i].s = NULL;
            return &m->fields[i];
        }
    }
    char *k = strdup(key);
    struct artefact_field *n = k ? realloc(m->fields, (m->nfields + 1) * sizeof(*n)) : NULL;
    if (!n) {
        free(k);
        return NULL;
    }
    m->fields = n;
    memset(&n[m->nfields], 0, sizeof(*n));
    n[m->nfields].key = k;
    return &n[m->nfields++];
}

int artefact_field_str(struct artefact_meta *m, const char *key, const char *v)
{
    char *c = strdup(v ? v : "");
    struct artefact_field *f = c ? field_slot(m, key) : NULL;
    if (!f) {
        free(c);
        return -ENOMEM;
    }
    f->type = AF_STR;
    f->s = c;
    return 0;
}

#define FIELD_SETTER(fn, ctype, tag, member)                                                       \
    int fn(struct artefact_meta *m, const char *key, ctype v)                                      \
    {                                                                                              \
        struct artefact_field *f = field_slot(m, key);                                             \
        if (!f)                                                                                    \
            return -ENOMEM;                                                                        \
        f->type = tag;                                                                             \
        f->member = v;                                                                             \
        return 0;                                                                                  \
    }
FIELD_SETTER(artefact_field_int, int64_t, AF_INT, i)
FIELD_SETTER(artefact_field_uint, uint64_t, AF_UINT, u)
FIELD_SETTER(artefact_field_float, double, AF_FLOAT, f)
FIELD_SETTER(artefact_field_bool, bool, AF_BOOL, b)
#undef FIELD_SETTER

const struct artefact_field *artefact_field_get(const struct artefact_meta *m, const char *key)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].key, key) == 0)
            return &m->fields[i];
    return NULL;
}

/* ---- JSON record -------------------------------------------------------- */

static cJSON *tags_json(const struct tags *t)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < t->n; i++)
        if (!cJSON_AddStringToObject(o, t->items[i].key, t->items[i].value)) {
            cJSON_Delete(o);
            return NULL;
        }
    return o;
}

static int add_u64(cJSON *o, const char *key, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    return cJSON_AddStringToObject(o, key, num) ? 0 : -ENOMEM;
}

static cJSON *field_json(const struct artefact_field *f)
{
    cJSON *o = cJSON_CreateObject();
    char num[32];
    cJSON *v = NULL;
    if (!o)
        return NULL;
    switch (f->type) {
    case AF_STR:
        v = cJSON_CreateString(f->s ? f->s : "");
        break;
    case AF_INT:
        snprintf(num, sizeof(num), "%" PRId64, f->i);
        v = cJSON_CreateString(num);
        break;
    case AF_UINT:
        snprintf(num, sizeof(num), "%" PRIu64, f->u);
        v = cJSON_CreateString(num);
        break;
    case AF_FLOAT:
        v = cJSON_CreateNumber(f->f);
        break;
    case AF_BOOL:
        v = cJSON_CreateBool(f->b);
        break;
    }
    if (!v || !cJSON_AddStringToObject(o, "key", f->key) ||
        !cJSON_AddStringToObject(o, "type", ftype_names[f->type])) {
        cJSON_Delete(v);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToObject(o, "value", v);
    return o;
}

static cJSON *routes_json(unsigned mask)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < ARTEFACT_ROUTE_COUNT; i++)
        if (mask & (1u << i))
            cJSON_AddItemToArray(a, cJSON_CreateString(route_names[i]));
    return a;
}

static int add_strings(cJSON *o, const struct artefact_meta *m)
{
#define ADD_MEMBER(name)                                                                           \
    if (m->name && !cJSON_AddStringToObject(o, #name, m->name))                                    \
        return -ENOMEM;
    STR_MEMBERS(ADD_MEMBER)
#undef ADD_MEMBER
    if (!m->k8s.pod_name && !m->k8s.container_id)
        return 0;
    cJSON *k = cJSON_AddObjectToObject(o, "k8s");
    if (!k)
        return -ENOMEM;
#define ADD_K8S(name)                                                                              \
    if (m->k8s.name && !cJSON_AddStringToObject(k, #name, m->k8s.name))                            \
        return -ENOMEM;
    K8S_MEMBERS(ADD_K8S)
#undef ADD_K8S
    return 0;
}

static int add_collections(cJSON *o, const struct artefact_meta *m)
{
    cJSON_AddItemToObject(o, "routes", routes_json(m->routes));
    cJSON_AddItemToObject(o, "done", routes_json(m->done));
    cJSON_AddItemToObject(o, "trigger_tags", tags_json(&m->trigger_tags));
    cJSON_AddItemToObject(o, "global_tags", tags_json(&m->global_tags));
    cJSON_AddItemToObject(o, "rule_tags", tags_json(&m->rule_tags));
    cJSON *fields = cJSON_AddArrayToObject(o, "fields");
    for (size_t i = 0; fields && i < m->nfields; i++) {
        cJSON *f = field_json(&m->fields[i]);
        if (!f)
            return -ENOMEM;
        cJSON_AddItemToArray(fields, f);
    }
    if (m->nattachments) {
        cJSON *a = cJSON_AddArrayToObject(o, "attachments");
        for (size_t i = 0; a && i < m->nattachments; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(a, e);
            if (!e || !cJSON_AddStringToObject(e, "name", m->attachments[i].name) ||
                add_u64(e, "size", m->attachments[i].size) < 0)
                return -ENOMEM;
        }
        if (!a)
            return -ENOMEM;
    }
    const char *need[] = {"routes", "done", "trigger_tags", "global_tags", "rule_tags", "fields"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!cJSON_GetObjectItemCaseSensitive(o, need[i]))
            return -ENOMEM;
    return 0;
}

cJSON *artefact_to_json(const struct artefact_meta *m)
{
    cJSON *o = cJSON_CreateObject();
    int rc = o ? 0 : -ENOMEM;
    if (rc == 0 && (!cJSON_AddNumberToObject(o, "v", RECORD_VERSION) ||
                    !cJSON_AddStringToObject(o, "kind", artefact_kind_name(m->kind)) ||
                    !cJSON_AddNumberToObject(o, "pid", m->pid) ||
                    !cJSON_AddNumberToObject(o, "nspid", m->nspid) ||
                    !cJSON_AddNumberToObject(o, "attempts", m->attempts)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = add_u64(o, "start_ns", m->start_ns);
    if (rc == 0)
        rc = add_u64(o, "end_ns", m->end_ns);
    if (rc == 0)
        rc = add_u64(o, "created_ns", m->created_ns);
    if (rc == 0)
        rc = add_u64(o, "payload_size", m->payload_size);
    if (rc == 0)
        rc = add_strings(o, m);
    if (rc == 0)
        rc = add_collections(o, m);
    if (rc < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- JSON record: parsing ----------------------------------------------- */

struct jerr {
    char *buf;
    size_t cap;
};

static int bad(struct jerr *e, const char *what, const char *key)
{
    snprintf(e->buf, e->cap, "%s: %s", key, what);
    return -EINVAL;
}

static int get_str(const cJSON *o, const char *key, char **out, struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return bad(e, "not a string", key);
    return artefact_set(out, v->valuestring);
}

static int get_u64(const cJSON *o, const char *key, uint64_t *out, struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || units_parse_u64(v->valuestring, UINT64_MAX, out) < 0)
        return bad(e, "not a decimal string", key);
    return 0;
}

static int get_int(const cJSON *o, const char *key, long long min, long long max, long long *out,
                   struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max)
        return bad(e, "not an integer in range", key);
    *out = (long long)v->valuedouble;
    return 0;
}

static int get_tags(const cJSON *o, const char *key, struct tags *t, struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    if (!v)
        return 0;
    if (!cJSON_IsObject(v))
        return bad(e, "not an object", key);
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it))
            return bad(e, "tag value not a string", key);
        if (tags_set(t, it->string, it->valuestring) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int get_routes(const cJSON *o, const char *key, unsigned *mask, struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    *mask = 0;
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return bad(e, "not an array", key);
    cJSON_ArrayForEach(it, v)
    {
        unsigned r = cJSON_IsString(it) ? route_parse(it->valuestring) : 0;
        if (!r)
            return bad(e, "unknown route", key);
        *mask |= r;
    }
    return 0;
}

static int parse_field(const cJSON *f, struct artefact_meta *m, struct jerr *e)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(f, "key");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "type");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "value");
    if (!cJSON_IsString(k) || !*k->valuestring || !cJSON_IsString(t) || !v)
        return bad(e, "needs key, type and value", "fields[]");
    const char *ty = t->valuestring, *key = k->valuestring;
    uint64_t u;
    if (strcmp(ty, "str") == 0 && cJSON_IsString(v))
        return artefact_field_str(m, key, v->valuestring);
    if (strcmp(ty, "float") == 0 && cJSON_IsNumber(v))
        return artefact_field_float(m, key, v->valuedouble);
    if (strcmp(ty, "bool") == 0 && cJSON_IsBool(v))
        return artefact_field_bool(m, key, cJSON_IsTrue(v));
    if (strcmp(ty, "uint") == 0 && cJSON_IsString(v) &&
        units_parse_u64(v->valuestring, UINT64_MAX, &u) == 0)
        return artefact_field_uint(m, key, u);
    if (strcmp(ty, "int") == 0 && cJSON_IsString(v)) {
        const char *s = v->valuestring;
        int neg = *s == '-';
        if (units_parse_u64(s + neg, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u) == 0)
            return artefact_field_int(m, key, neg ? (int64_t)(0 - u) : (int64_t)u);
    }
    return bad(e, "bad type or value", key);
}

static int get_fields(const cJSON *o, struct artefact_meta *m, struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "fields"), *it;
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return bad(e, "not an array", "fields");
    cJSON_ArrayForEach(it, v)
    {
        int rc = parse_field(it, m, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int get_attachments(const cJSON *o, struct artefact_meta *m, struct jerr *e)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "attachments"), *it;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a))
        return bad(e, "not an array", "attachments");
    cJSON_ArrayForEach(it, a)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        uint64_t size = 0;
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof(m->attachments->name) ||
            strchr(name->valuestring, '/') || get_u64(it, "size", &size, e) < 0)
            return bad(e, "an attachment needs a plain name and a size", "attachments");
        int rc = artefact_add_attachment(m, name->valuestring, size);
        if (rc == -E2BIG)
            return bad(e, "too many", "attachments");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int get_strings(const cJSON *o, struct artefact_meta *m, struct jerr *e)
{
    int rc = 0;
#define GET_MEMBER(name)                                                                           \
    if (rc == 0)                                                                                   \
        rc = get_str(o, #name, &m->name, e);
    STR_MEMBERS(GET_MEMBER)
#undef GET_MEMBER
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "k8s");
    if (rc == 0 && k && !cJSON_IsObject(k))
        rc = bad(e, "not an object", "k8s");
#define GET_K8S(name)                                                                              \
    if (rc == 0 && k)                                                                              \
        rc = get_str(k, #name, &m->k8s.name, e);
    K8S_MEMBERS(GET_K8S)
#undef GET_K8S
    return rc;
}

static int get_numbers(const cJSON *o, struct artefact_meta *m, struct jerr *e)
{
    long long pid = 0, nspid = 0, attempts = 0;
    int rc = get_int(o, "pid", 0, INT32_MAX, &pid, e);
    if (rc == 0)
        rc = get_int(o, "nspid", 0, INT32_MAX, &nspid, e);
    if (rc == 0)
        rc = get_int(o, "attempts", 0, UINT32_MAX, &attempts, e);
    if (rc == 0)
        rc = get_u64(o, "start_ns", &m->start_ns, e);
    if (rc == 0)
        rc = get_u64(o, "end_ns", &m->end_ns, e);
    if (rc == 0)
        rc = get_u64(o, "created_ns", &m->created_ns, e);
    if (rc == 0)
        rc = get_u64(o, "payload_size", &m->payload_size, e);
    m->pid = (int)pid;
    m->nspid = (int)nspid;
    m->attempts = (unsigned)attempts;
    return rc;
}

static int parse_kind(const cJSON *j, struct artefact_meta *m, struct jerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "v");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    if (!cJSON_IsObject(j))
        return bad(e, "not an object", "record");
    if (!cJSON_IsNumber(v) || v->valuedouble != RECORD_VERSION)
        return bad(e, "unsupported record version", "v");
    int k = cJSON_IsString(kind) ? artefact_kind_parse(kind->valuestring) : -EINVAL;
    if (k < 0)
        return bad(e, "unknown kind", "kind");
    m->kind = (enum artefact_kind)k;
    return 0;
}

int artefact_from_json(const cJSON *j, struct artefact_meta *m, char *err, size_t errcap)
{
    struct jerr e = {err, errcap};
    artefact_meta_init(m, ARTEFACT_PROFILE);
    int rc = parse_kind(j, m, &e);
    if (rc == 0)
        rc = get_numbers(j, m, &e);
    if (rc == 0)
        rc = get_strings(j, m, &e);
    if (rc == 0)
        rc = get_routes(j, "routes", &m->routes, &e);
    if (rc == 0)
        rc = get_routes(j, "done", &m->done, &e);
    if (rc == 0)
        rc = get_tags(j, "trigger_tags", &m->trigger_tags, &e);
    if (rc == 0)
        rc = get_tags(j, "global_tags", &m->global_tags, &e);
    if (rc == 0)
        rc = get_tags(j, "rule_tags", &m->rule_tags, &e);
    if (rc == 0)
        rc = get_fields(j, m, &e);
    if (rc == 0)
        rc = get_attachments(j, m, &e);
    if (rc == -ENOMEM)
        snprintf(err, errcap, "out of memory");
    if (rc < 0)
        artefact_meta_free(m);
    return rc;
}

/* ---- tag composition ---------------------------------------------------- */

/* Adds key:value sanitised, unless value is empty. replace=0 keeps an
 * existing key (computed keys win over user tags). */
static int put_tag(struct tags *out, const char *key, const char *value, int replace)
{
    if (!value || !*value || !key || !*key)
        return 0;
    char *k = strdup(key), *v = strdup(value);
    int rc = (k && v) ? 0 : -ENOMEM;
    if (rc == 0) {
        tags_sanitize_key(k);
        tags_sanitize_value(v);
        if (replace || !tags_get(out, k))
            rc = tags_set(out, k, v);
    }
    free(k);
    free(v);
    return rc;
}

static const char *pick(const char *a, const char *b, const char *c, const char *d)
{
    const char *v[] = {a, b, c, d};
    for (size_t i = 0; i < 4; i++)
        if (v[i] && *v[i])
            return v[i];
    return NULL;
}

static const char *tag_of(const struct artefact_meta *m, const char *key)
{
    return pick(tags_get(&m->rule_tags, key), tags_get(&m->global_tags, key), NULL, NULL);
}

static int put_identity(const struct artefact_meta *m, struct tags *out)
{
    const char *svc = pick(m->service_override, m->service, tag_of(m, "service"),
                           pick(m->k8s.container_name, m->process_name, "unknown_service", NULL));
    const char *env = pick(tag_of(m, "env"), m->env, "unknown_env", NULL);
    const char *ver = pick(tag_of(m, "version"), m->version, "unknown_version", NULL);
    char hostname[256] = "";
    if (!pick(m->host, NULL, NULL, NULL) && gethostname(hostname, sizeof(hostname) - 1) < 0)
        snprintf(hostname, sizeof(hostname), "localhost");
    const char *host = pick(m->host, hostname, NULL, NULL);
    int rc = put_tag(out, "service", svc, 1);
    if (rc == 0)
        rc = put_tag(out, "env", env, 1);
    if (rc == 0)
        rc = put_tag(out, "version", ver, 1);
    if (rc == 0)
        rc = put_tag(out, "host", host, 1);
    return rc;
}

static int put_process(const struct artefact_meta *m, struct tags *out)
{
    char pid[16] = "", hpid[16] = "";
    struct utsname u;
    if (m->pid > 0 || m->nspid > 0)
        snprintf(pid, sizeof(pid), "%d", m->nspid > 0 ? m->nspid : m->pid);
    if (m->nspid > 0 && m->pid > 0 && m->nspid != m->pid)
        snprintf(hpid, sizeof(hpid), "%d", m->pid);
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));
    for (char *p = u.sysname; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int rc = put_tag(out, "process_id", pid, 1);
    if (rc == 0)
        rc = put_tag(out, "host_pid", hpid, 1);
    if (rc == 0)
        rc = put_tag(out, "process_name", m->process_name, 1);
    bool go = m->language && !strcmp(m->language, "golang");
    if (rc == 0)
        rc = put_tag(out, "language", m->language ? m->language : "java", 1);
    if (rc == 0 && go)
        rc = put_tag(out, "profiler", "pprof", 1);
    if (rc == 0)
        rc = put_tag(out, "runtime_os", u.sysname, 1);
    if (rc == 0)
        rc = put_tag(out, "runtime_arch", u.machine, 1);
    if (rc == 0)
        rc = put_tag(out, "library_type", m->library_type, 1);
    if (rc == 0)
        rc = put_tag(out, "library_version", m->library_version, 1);
    return rc;
}

static int put_trigger(const struct artefact_meta *m, struct tags *out)
{
    int rc = put_tag(out, "trigger",
                     pick(m->trigger, tags_get(&m->trigger_tags, "trigger"), NULL, NULL), 1);
    for (size_t i = 0; rc == 0 && i < m->trigger_tags.n; i++)
        if (strcmp(m->trigger_tags.items[i].key, "trigger") != 0)
            rc = put_tag(out, m->trigger_tags.items[i].key, m->trigger_tags.items[i].value, 1);
    if (rc == 0)
        rc = put_tag(out, "jdk_version", m->jdk_version, 1);
    return rc;
}

static int put_k8s(const struct artefact_meta *m, const char *host, struct tags *out)
{
    if (!m->k8s.pod_name)
        return 0;
    int rc = put_tag(out, "pod_name", m->k8s.pod_name, 1);
    if (rc == 0)
        rc = put_tag(out, "pod_namespace", m->k8s.pod_namespace, 1);
    if (rc == 0)
        rc = put_tag(out, "pod_uid", m->k8s.pod_uid, 1);
    if (rc == 0)
        rc = put_tag(out, "container_name", m->k8s.container_name, 1);
    if (rc == 0)
        rc = put_tag(out, "container_id", m->k8s.container_id, 1);
    if (rc == 0)
        rc = put_tag(out, "node", host, 1);
    return rc;
}

/* User tags: FLAMESHOT_TAGS in their order with the rule's value on a
 * shared key, then the rule's own keys; none may replace a computed key. */
static int put_user(const struct artefact_meta *m, const struct tags *k8s, struct tags *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->global_tags.n; i++) {
        const char *k = m->global_tags.items[i].key;
        if (!tags_get(k8s, k))
            rc = put_tag(out, k, tag_of(m, k), 0);
    }
    for (size_t i = 0; rc == 0 && i < m->rule_tags.n; i++) {
        const char *k = m->rule_tags.items[i].key;
        if (!tags_get(k8s, k))
            rc = put_tag(out, k, m->rule_tags.items[i].value, 0);
    }
    return rc;
}

int artefact_compose_tags(const struct artefact_meta *m, struct tags *out)
{
    struct tags k8s = {0};
    memset(out, 0, sizeof(*out));
    int rc = put_identity(m, out);
    if (rc == 0)
        rc = put_process(m, out);
    if (rc == 0)
        rc = put_trigger(m, out);
    if (rc == 0)
        rc = put_k8s(m, tags_get(out, "host"), &k8s);
    if (rc == 0)
        rc = put_user(m, &k8s, out);
    if (rc == 0)
        rc = tags_merge(out, &k8s);
    tags_free(&k8s);
    if (rc < 0)
        tags_free(out);
    return rc;
}

int artefact_tags_profiler(const struct artefact_meta *m, char **out)
{
    struct tags t;
    int rc = artefact_compose_tags(m, &t);
    if (rc == 0)
        rc = tags_join_profiler(&t, out);
    tags_free(&t);
    return rc;
}

/* ---- DataKit renderings ------------------------------------------------- */

/* A Go profile's event.json members, as Flameshot's profileEvent. */
static bool add_go_event(cJSON *o, const struct artefact_meta *m)
{
    cJSON *a = cJSON_AddArrayToObject(o, "attachments");
    for (size_t i = 0; a && i < m->nattachments; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(m->attachments[i].name)))
            return false;
    return a != NULL;
}

int artefact_event_json(const struct artefact_meta *m, char **out)
{
    char start[48], end[48], *tp = NULL;
    int rc = artefact_tags_profiler(m, &tp);
    if (rc < 0)
        return rc;
    units_rfc3339nano(m->start_ns ? m->start_ns : m->created_ns, start, sizeof(start));
    units_rfc3339nano(m->end_ns ? m->end_ns : m->created_ns, end, sizeof(end));
    bool go = m->nattachments > 0;
    cJSON *o = cJSON_CreateObject();
    if (o && (!go || add_go_event(o, m)) && cJSON_AddStringToObject(o, "tags_profiler", tp) &&
        cJSON_AddStringToObject(o, "start", start) && cJSON_AddStringToObject(o, "end", end) &&
        cJSON_AddStringToObject(o, "family", go ? "go" : "java") &&
        cJSON_AddStringToObject(o, "format", go ? "pprof" : "jfr") &&
        (!go || cJSON_AddStringToObject(o, "profiler", "pprof")))
        *out = cJSON_PrintUnformatted(o);
    else
        *out = NULL;
    cJSON_Delete(o);
    free(tp);
    return *out ? 0 : -ENOMEM;
}

static void lp_put_field(struct lp_buf *b, const struct artefact_field *f)
{
    switch (f->type) {
    case AF_STR:
        lp_field_str(b, f->key, f->s);
        break;
    case AF_INT:
        lp_field_int(b, f->key, f->i);
        break;
    case AF_UINT:
        lp_field_uint(b, f->key, f->u);
        break;
    case AF_FLOAT:
        lp_field_float(b, f->key, f->f);
        break;
    case AF_BOOL:
        lp_field_bool(b, f->key, f->b);
        break;
    }
}

static uint64_t summary_time(const struct artefact_meta *m)
{
    return m->end_ns ? m->end_ns : m->created_ns ? m->created_ns : units_now_real_ns();
}

int artefact_lineproto(const struct artefact_meta *m, struct lp_buf *b)
{
    const char *meas = artefact_kind_measurement(m->kind);
    struct tags t;
    if (!meas)
        return -EINVAL;
    int rc = artefact_compose_tags(m, &t);
    if (rc < 0)
        return rc;
    lp_begin(b, meas);
    for (size_t i = 0; i < t.n; i++)
        if (!artefact_field_get(m, t.items[i].key) && strcmp(t.items[i].key, "status") != 0)
            lp_tag(b, t.items[i].key, t.items[i].value);
    for (size_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].key, "status") != 0)
            lp_put_field(b, &m->fields[i]);
    lp_field_str(b, "status", artefact_kind_status(m->kind));
    tags_free(&t);
    return lp_end(b, summary_time(m));
}

static cJSON *summary_fields_json(const struct artefact_meta *m)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < m->nfields; i++) {
        const struct artefact_field *f = &m->fields[i];
        switch (f->type) {
        case AF_STR:
            cJSON_AddStringToObject(o, f->key, f->s ? f->s : "");
            break;
        case AF_INT:
            cJSON_AddNumberToObject(o, f->key, (double)f->i);
            break;
        case AF_UINT:
            cJSON_AddNumberToObject(o, f->key, (double)f->u);
            break;
        case AF_FLOAT:
            cJSON_AddNumberToObject(o, f->key, f->f);
            break;
        case AF_BOOL:
            cJSON_AddBoolToObject(o, f->key, f->b);
            break;
        }
    }
    if (o)
        cJSON_AddStringToObject(o, "status", artefact_kind_status(m->kind));
    return o;
}

cJSON *artefact_summary_json(const struct artefact_meta *m)
{
    const char *meas = artefact_kind_measurement(m->kind);
    struct tags t;
    char ts[48];
    if (!meas || artefact_compose_tags(m, &t) < 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "measurement", meas);
        cJSON_AddStringToObject(o, "time", units_rfc3339nano(summary_time(m), ts, sizeof(ts)));
        cJSON_AddItemToObject(o, "tags", tags_json(&t));
        cJSON_AddItemToObject(o, "fields", summary_fields_json(m));
    }
    tags_free(&t);
    if (o && (!cJSON_GetObjectItem(o, "tags") || !cJSON_GetObjectItem(o, "fields") ||
              !cJSON_GetObjectItem(o, "time"))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- local file names --------------------------------------------------- */

void artefact_sanitize_component(char *s)
{
    size_t n = 0;
    for (char *p = s; *p && n < 100; p++, n++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    s[n] = '\0';
    if (s[0] == '.')
        s[0] = '_';
    if (!s[0])
        strcpy(s, "_");
}

char *artefact_default_file_name(const struct artefact_meta *m, char *buf, size_t cap)
{
    uint64_t ns = m->start_ns ? m->start_ns : m->created_ns ? m->created_ns : units_now_real_ns();
    time_t sec = (time_t)(ns / 1000000000ull);
    struct tm tm;
    char ts[32], type[64] = "snapshot";
    int pid = m->nspid > 0 ? m->nspid : m->pid;
    gmtime_r(&sec, &tm);
    strftime(ts, sizeof(ts), "%Y%m%d_%H%M%S", &tm);
    const struct artefact_field *st = artefact_field_get(m, "snapshot_type");
    if (st && st->type == AF_STR && st->s && *st->s)
        snprintf(type, sizeof(type), "%s", st->s);
    artefact_sanitize_component(type);
    switch (m->kind) {
    case ARTEFACT_PROFILE:
        snprintf(buf, cap, m->nattachments ? "pprof_%d_%s" : "profile_%d_%s.jfr", pid, ts);
        break;
    case ARTEFACT_JCMD_SNAPSHOT:
        snprintf(buf, cap, "jcmd_%s_%d_%s.txt", type, pid, ts);
        break;
    default:
        snprintf(buf, cap, "%s_%d_%s.json", artefact_kind_name(m->kind), pid, ts);
        break;
    }
    return buf;
}
