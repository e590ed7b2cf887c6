#include "events/containerid.h"

#include <stdint.h>
#include <string.h>

#define HEX_ID_LEN 64
#define UID_LEN    36
#define HASH_LEN   32 /* a static Pod's config hash */

/* A piece of a path: not NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

static bool span_is(struct span s, const char *word)
{
    return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

static bool span_starts(struct span s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

static bool span_ends(struct span s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.n >= n && memcmp(s.p + s.n - n, suffix, n) == 0;
}

static struct span span_skip(struct span s, size_t k)
{
    return (struct span){s.p + k, s.n - k};
}

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Runtimes write IDs as 64 lowercase hex digits: 63, 65 or uppercase is
 * some other name that happens to look close. */
bool containerid_is_id(const char *s, size_t n)
{
    return n == HEX_ID_LEN && lower_hex(s, n);
}

static bool is_hex_id(struct span s)
{
    return containerid_is_id(s.p, s.n);
}

/* ---- the Pod level ---------------------------------------------------------------- */

/* <uid> with sep ('-' for cgroupfs, '_' for systemd) between the groups, or
 * a static Pod's 32-hex config hash. Writes the UID with dashes. */
static bool take_uid(struct span s, char sep, struct container_ident *out)
{
    if (s.n == HASH_LEN && lower_hex(s.p, s.n)) {
        memcpy(out->pod_uid, s.p, s.n);
        out->pod_uid[s.n] = '\0';
        out->pod_static = true;
        return true;
    }
    if (s.n != UID_LEN)
        return false;
    char uid[CONTAINERID_UID_LEN];
    for (size_t i = 0; i < s.n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s.p[i] != sep : !lower_hex(s.p + i, 1))
            return false;
        uid[i] = dash ? '-' : s.p[i];
    }
    uid[s.n] = '\0';
    memcpy(out->pod_uid, uid, sizeof(uid));
    out->pod_static = false;
    return true;
}

static enum pod_qos qos_of(struct span s)
{
    if (span_is(s, "burstable"))
        return POD_QOS_BURSTABLE;
    if (span_is(s, "besteffort"))
        return POD_QOS_BESTEFFORT;
    return POD_QOS_NONE;
}

/* Everything learnt so far belongs to an outer kubepods part (a kind node
 * runs a kubelet inside a container): the innermost one wins. */
static void restart_at_kubepods(struct container_ident *out)
{
    memset(out, 0, sizeof(*out));
}

/* A systemd slice: "[<root>-]kubepods[-<qos>][-pod<uid_>].slice", systemd's
 * '-' being the nesting separator (hence the UID's '_'). Returns false
 * when s is not a kubepods slice. */
static bool kube_slice(struct span s, struct container_ident *out)
{
    if (!span_ends(s, ".slice"))
        return false;
    s.n -= strlen(".slice");
    const char *kp = NULL;
    for (size_t i = 0; i + 8 <= s.n; i++)
        if (memcmp(s.p + i, "kubepods", 8) == 0 && (i == 0 || s.p[i - 1] == '-') &&
            (i + 8 == s.n || s.p[i + 8] == '-'))
            kp = s.p + i;
    if (!kp)
        return false;
    restart_at_kubepods(out);
    struct span rest = {kp + 8, s.n - (size_t)(kp + 8 - s.p)};
    enum pod_qos qos = POD_QOS_GUARANTEED; /* the kubelet names no level for it */
    const char *dash = rest.n > 1 ? memchr(rest.p + 1, '-', rest.n - 1) : NULL;
    if (rest.n && dash) { /* "-<qos>-pod..." */
        qos = qos_of((struct span){rest.p + 1, (size_t)(dash - rest.p - 1)});
        rest = (struct span){dash, rest.n - (size_t)(dash - rest.p)};
    } else if (span_is(rest, "-burstable") || span_is(rest, "-besteffort")) {
        return true; /* the QoS level's own slice */
    }
    if (qos != POD_QOS_NONE && span_starts(rest, "-pod") && take_uid(span_skip(rest, 4), '_', out))
        out->qos = qos;
    return true;
}

/* cgroupfs driver: "kubepods", then "burstable" / "besteffort" (none for
 * Guaranteed), then "pod<uid>". in_kube tells whether a kubepods
 * directory came before. */
static bool kube_dir(struct span s, bool in_kube, struct container_ident *out)
{
    if (span_is(s, "kubepods")) {
        restart_at_kubepods(out);
        out->qos = POD_QOS_GUARANTEED;
        return true;
    }
    if (!in_kube || out->pod_uid[0])
        return false;
    if (qos_of(s) != POD_QOS_NONE && out->qos == POD_QOS_GUARANTEED) {
        out->qos = qos_of(s);
        return true;
    }
    if (span_starts(s, "pod") && take_uid(span_skip(s, 3), '-', out))
        return true;
    return false;
}

/* ---- the container level ---------------------------------------------------------- */

struct prefix {
    const char *name;
    enum container_runtime rt;
};

/* crio-conmon-<id> (CRI-O's per-container monitor) never matches: what
 * follows "crio-" is not 64 hex digits. libpod- (Podman) and a bare
 * containerd- are not the kubelet's but name a container all the same. */
static const struct prefix prefixes[] = {
    {"cri-containerd", CONTAINER_RUNTIME_CONTAINERD},
    {"crio", CONTAINER_RUNTIME_CRIO},
    {"docker", CONTAINER_RUNTIME_DOCKER},
    {"containerd", CONTAINER_RUNTIME_CONTAINERD},
    {"libpod", CONTAINER_RUNTIME_UNKNOWN},
};

static const struct prefix *prefix_of(struct span s)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (span_is(s, prefixes[i].name))
            return &prefixes[i];
    return NULL;
}

static bool take_id(struct span id, enum container_runtime rt, struct container_ident *out)
{
    if (!is_hex_id(id))
        return false;
    memcpy(out->id, id.p, HEX_ID_LEN);
    out->id[HEX_ID_LEN] = '\0';
    out->runtime = rt;
    return true;
}

/* "<prefix>-<id>.scope" (systemd driver) or "<prefix>-<id>" (CRI-O on
 * cgroupfs). */
static bool dashed_id(struct span s, struct container_ident *out)
{
    if (span_ends(s, ".scope"))
        s.n -= strlen(".scope");
    if (s.n <= HEX_ID_LEN + 1 || s.p[s.n - HEX_ID_LEN - 1] != '-')
        return false;
    const struct prefix *pf = prefix_of((struct span){s.p, s.n - HEX_ID_LEN - 1});
    return pf && take_id((struct span){s.p + s.n - HEX_ID_LEN, HEX_ID_LEN}, pf->rt, out);
}

/* "<pod slice>:<prefix>:<id>": runc's systemd driver on cgroup v1 when the
 * runtime runs as a service (containerd.service) rather than in a scope. */
static bool colon_id(struct span s, struct container_ident *out)
{
    const char *c1 = memchr(s.p, ':', s.n);
    const char *c2 = c1 ? memchr(c1 + 1, ':', s.n - (size_t)(c1 + 1 - s.p)) : NULL;
    if (!c2)
        return false;
    kube_slice((struct span){s.p, (size_t)(c1 - s.p)}, out);
    const struct prefix *pf = prefix_of((struct span){c1 + 1, (size_t)(c2 - c1 - 1)});
    return take_id((struct span){c2 + 1, s.n - (size_t)(c2 + 1 - s.p)},
                   pf ? pf->rt : CONTAINER_RUNTIME_UNKNOWN, out);
}

/* The bare <id> of the cgroupfs driver: the runtime is not in the path,
 * except for plain Docker's "/docker/<id>". */
static bool bare_id(struct span s, struct span parent, struct container_ident *out)
{
    return take_id(
        s, span_is(parent, "docker") ? CONTAINER_RUNTIME_DOCKER : CONTAINER_RUNTIME_UNKNOWN, out);
}

/* ---- the walk ------------------------------------------------------------------------ */

static void component(struct span s, struct span parent, bool *in_kube, struct container_ident *out)
{
    if (memchr(s.p, ':', s.n)) {
        colon_id(s, out);
        return;
    }
    if (kube_slice(s, out) || kube_dir(s, *in_kube, out)) {
        *in_kube = true;
        return;
    }
    /* The deepest container wins: below a container's own cgroup there may
     * be more levels (systemd or an init inside it) that name none. */
    if (!dashed_id(s, out))
        bare_id(s, parent, out);
}

int containerid_parse_path(const char *path, size_t len, struct container_ident *out)
{
    memset(out, 0, sizeof(*out));
    bool in_kube = false;
    struct span parent = {"", 0};
    const char *end = path + len;
    for (const char *p = path; p < end;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        struct span s = {p, slash ? (size_t)(slash - p) : (size_t)(end - p)};
        if (s.n)
            component(s, parent, &in_kube, out);
        parent = s;
        p = slash ? slash + 1 : end;
    }
    /* a Pod level without a Pod (a bare QoS directory or slice) names no Pod */
    if (!out->pod_uid[0])
        out->qos = POD_QOS_NONE;
    return out->id[0] ? 1 : 0;
}

/* The memory controller's v1 line first: it is the cgroup whose limits and
 * OOM kills the agent reads and whose id the BPF events carry, and on
 * hybrid hosts runtimes that predate cgroup v2 (docker, old containerd)
 * place the container on the v1 controllers only, leaving the v2 line at
 * the runtime's service. The v2 line when there is no v1 memory line (a
 * pure v2 host), or when the memory line names no container. */
int containerid_from_paths(const char *memory_v1, const char *unified, struct container_ident *out)
{
    memset(out, 0, sizeof(*out));
    if (memory_v1 && memory_v1[0] && containerid_parse_path(memory_v1, strlen(memory_v1), out))
        return 1;
    if (unified && unified[0] && containerid_parse_path(unified, strlen(unified), out))
        return 1;
    if (memory_v1 && memory_v1[0]) /* keep what the memory line says of the Pod */
        containerid_parse_path(memory_v1, strlen(memory_v1), out);
    return 0;
}

/* "containerd://<id>" -> the runtime and the id; a bare id has no runtime. */
static struct span status_id(const char *status, enum container_runtime *rt)
{
    static const struct prefix schemes[] = {
        {"containerd://", CONTAINER_RUNTIME_CONTAINERD},
        {"cri-o://", CONTAINER_RUNTIME_CRIO},
        {"docker://", CONTAINER_RUNTIME_DOCKER},
    };
    struct span s = {status, strlen(status)};
    *rt = CONTAINER_RUNTIME_UNKNOWN;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (span_starts(s, schemes[i].name)) {
            *rt = schemes[i].rt;
            return span_skip(s, strlen(schemes[i].name));
        }
    const char *sep = strstr(status, "://");
    return sep ? span_skip(s, (size_t)(sep + 3 - status)) : s;
}

enum container_role containerid_classify(struct container_ident *ci, const char *const *status_ids,
                                         size_t n)
{
    if (!ci->id[0])
        return ci->role = CONTAINER_ROLE_UNKNOWN;
    for (size_t i = 0; i < n; i++) {
        enum container_runtime rt;
        if (!status_ids[i] || !status_ids[i][0])
            continue; /* still waiting: no ID yet */
        struct span id = status_id(status_ids[i], &rt);
        if (!span_is(id, ci->id))
            continue;
        if (ci->runtime == CONTAINER_RUNTIME_UNKNOWN)
            ci->runtime = rt;
        return ci->role = CONTAINER_ROLE_APP;
    }
    return ci->role = CONTAINER_ROLE_SANDBOX;
}

const char *containerid_runtime_name(enum container_runtime rt)
{
    switch (rt) {
    case CONTAINER_RUNTIME_CONTAINERD:
        return "containerd";
    case CONTAINER_RUNTIME_CRIO:
        return "crio";
    case CONTAINER_RUNTIME_DOCKER:
        return "docker";
    default:
        return "unknown";
    }
}

const char *containerid_qos_name(enum pod_qos qos)
{
    switch (qos) {
    case POD_QOS_GUARANTEED:
        return "Guaranteed";
    case POD_QOS_BURSTABLE:
        return "Burstable";
    case POD_QOS_BESTEFFORT:
        return "BestEffort";
    default:
        return "";
    }
}
