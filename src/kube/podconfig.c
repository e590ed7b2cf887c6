#include "kube/podconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The overridable settings: each annotation is read where config_override
 * reads its variable, so both are validated by the same code. */
static const struct {
    const char *key, *var;
} overrides[] = {
    {POD_ANNOTATION_PREFIX "auto-profiling", "FLAMESHOT_AUTO_PROFILING"},
    {POD_ANNOTATION_PREFIX "auto-profiling-duration", "FLAMESHOT_AUTO_PROFILING_DURATION"},
    {POD_ANNOTATION_PREFIX "oom-hprof-enabled", "FLAMESHOT_OOM_HPROF_ENABLED"},
    {POD_ANNOTATION_PREFIX "oom-hprof-match-window", "FLAMESHOT_OOM_HPROF_MATCH_WINDOW"},
    {POD_ANNOTATION_PREFIX "jcmd-snapshot-enabled", "FLAMESHOT_JCMD_SNAPSHOT_ENABLED"},
    {POD_ANNOTATION_PREFIX "jcmd-timeout", "FLAMESHOT_JCMD_TIMEOUT"},
};
#define N_OVERRIDES (sizeof(overrides) / sizeof(overrides[0]))

static const char *const known_keys[] = {
    PODCONFIG_ENABLED,
    PODCONFIG_PROCESSES,
    PODCONFIG_SERVICE,
    PODCONFIG_TAGS,
    POD_ANNOTATION_PREFIX "auto-profiling",
    POD_ANNOTATION_PREFIX "auto-profiling-duration",
    POD_ANNOTATION_PREFIX "oom-hprof-enabled",
    POD_ANNOTATION_PREFIX "oom-hprof-match-window",
    POD_ANNOTATION_PREFIX "jcmd-snapshot-enabled",
    POD_ANNOTATION_PREFIX "jcmd-timeout",
};
#define N_KNOWN (sizeof(known_keys) / sizeof(known_keys[0]))

const char *podconfig_state_name(enum podconfig_state s)
{
    static const char *const names[] = {"off", "namespace_not_selected", "self", "on", "error"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static int fail(struct podconfig *pc, const char *key, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct podconfig *pc, const char *key, const char *path, const char *fmt, ...)
{
    snprintf(pc->err.key, sizeof(pc->err.key), "%s", key);
    snprintf(pc->err.path, sizeof(pc->err.path), "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc->err.reason, sizeof(pc->err.reason), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int list_unknown(const struct pod *p, struct podconfig *pc)
{
    for (size_t i = 0; i < p->n_annotations; i++) {
        const char *k = p->annotations[i].key;
        bool known = false;
        for (size_t j = 0; j < N_KNOWN; j++)
            known = known || strcmp(k, known_keys[j]) == 0;
        if (known)
            continue;
        struct podconfig_unknown *grown =
            realloc(pc->unknown, (pc->n_unknown + 1) * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        pc->unknown = grown;
        grown[pc->n_unknown].near = rules_closest(k, known_keys, N_KNOWN);
        if (!(grown[pc->n_unknown].key = strdup(k)))
            return -ENOMEM;
        pc->n_unknown++;
    }
    return 0;
}

static bool is_self(const struct pod *p, const struct podconfig_self *self)
{
    if (!self)
        return false;
    if (self->uid && *self->uid && strcmp(self->uid, p->uid) == 0)
        return true;
    return self->ns && *self->ns && self->name && *self->name && strcmp(self->ns, p->ns) == 0 &&
           strcmp(self->name, p->name) == 0;
}

/* The value of key, NULL when absent or empty. */
static const char *value(const struct pod *p, const char *key)
{
    const char *v = pod_annotation(p, key);
    return v && *v ? v : NULL;
}

static const char *override_get(const char *name, void *arg)
{
    for (size_t i = 0; i < N_OVERRIDES; i++)
        if (strcmp(name, overrides[i].var) == 0)
            return value(arg, overrides[i].key);
    return NULL;
}

static int apply_overrides(const struct pod *p, const struct config *cfg, struct podconfig *pc)
{
    struct config c = {
        .short_intervals = cfg->short_intervals,
        .auto_profiling_ms = cfg->auto_profiling_ms,
        .auto_profiling_duration_ms = cfg->auto_profiling_duration_ms,
        .oom_hprof_enabled = cfg->oom_hprof_enabled,
        .oom_hprof_match_window_ms = cfg->oom_hprof_match_window_ms,
        .jcmd_snapshot_enabled = cfg->jcmd_snapshot_enabled,
        .jcmd_timeout_ms = cfg->jcmd_timeout_ms,
    };
    struct config_error e;
    if (config_override(&c, override_get, (void *)p, &e) < 0) {
        const char *key = e.path;
        for (size_t i = 0; i < N_OVERRIDES; i++)
            if (strcmp(e.path, overrides[i].var) == 0)
                key = overrides[i].key;
        return fail(pc, key, "", "%s", e.reason);
    }
    pc->auto_profiling_ms = c.auto_profiling_ms;
    pc->auto_profiling_duration_ms = c.auto_profiling_duration_ms;
    pc->oom_hprof_enabled = c.oom_hprof_enabled;
    pc->oom_hprof_match_window_ms = c.oom_hprof_match_window_ms;
    pc->jcmd_snapshot_enabled = c.jcmd_snapshot_enabled;
    pc->jcmd_timeout_ms = c.jcmd_timeout_ms;
    return 0;
}

/* flameshot.io/processes, validated by rules_parse; its errors' paths
 * start with "FLAMESHOT_PROCESSES", the part after it is the JSON path. */
static int parse_processes(const struct pod *p, const struct config *cfg, struct podconfig *pc)
{
    const char *v = pod_annotation(p, PODCONFIG_PROCESSES);
    pc->rules = &cfg->rules;
    if (!v)
        return 0;
    if (!*v)
        return fail(pc, PODCONFIG_PROCESSES, "",
                    "empty: give a JSON array of rules, or remove the annotation for the "
                    "DaemonSet's FLAMESHOT_PROCESSES");
    struct rule_limits lim = {.service_override = pc->service,
                              .short_intervals = cfg->short_intervals};
    struct rule_error e;
    int rc = rules_parse(v, &lim, &pc->own_rules, &e);
    if (rc == -EINVAL) {
        size_t pl = strlen("FLAMESHOT_PROCESSES");
        const char *path = strncmp(e.path, "FLAMESHOT_PROCESSES", pl) == 0 ? e.path + pl : e.path;
        return fail(pc, PODCONFIG_PROCESSES, path, "%s", e.reason);
    }
    if (rc == 0)
        pc->rules = &pc->own_rules;
    return rc;
}

static int parse_tags(const struct pod *p, struct podconfig *pc)
{
    const char *v = value(p, PODCONFIG_TAGS), *why;
    size_t bad;
    if (!v)
        return 0;
    int rc = tags_parse_list(v, &pc->tags, &bad, &why);
    if (rc == -EINVAL) {
        char path[32];
        snprintf(path, sizeof(path), "[%zu]", bad);
        return fail(pc, PODCONFIG_TAGS, path, "%s (the value is \"k:v,k:v\", as FLAMESHOT_TAGS)",
                    why);
    }
    return rc;
}

/* Opt-in: exactly "true" or "false", as Kubernetes writes booleans in
 * annotations; anything else is a mistake worth showing, not a "no". */
static enum podconfig_state opt_in(const struct pod *p, const struct config *cfg,
                                   const struct podconfig_self *self, struct podconfig *pc)
{
    const char *v = pod_annotation(p, PODCONFIG_ENABLED);
    if (is_self(p, self))
        return PODCONFIG_SELF;
    if (!v || strcmp(v, "false") == 0)
        return PODCONFIG_OFF;
    if (!config_namespace_selected(cfg, p->ns))
        return PODCONFIG_NAMESPACE;
    if (strcmp(v, "true") != 0) {
        fail(pc, PODCONFIG_ENABLED, "", "\"%s\" is not \"true\" or \"false\"", v);
        return PODCONFIG_ERROR;
    }
    return PODCONFIG_ON;
}

static int build_on(const struct pod *p, const struct config *cfg, struct podconfig *pc)
{
    const char *svc = value(p, PODCONFIG_SERVICE);
    if (svc && !(pc->service = strdup(svc)))
        return -ENOMEM;
    int rc = parse_tags(p, pc);
    if (rc == 0)
        rc = apply_overrides(p, cfg, pc);
    if (rc == 0)
        rc = parse_processes(p, cfg, pc);
    return rc;
}

/* What a skipped Pod keeps: its state, the error and the unknown keys. */
static void drop_settings(struct podconfig *pc)
{
    free(pc->service);
    pc->service = NULL;
    tags_free(&pc->tags);
    rules_free(&pc->own_rules);
    pc->rules = NULL;
}

int podconfig_build(const struct pod *p, const struct config *cfg,
                    const struct podconfig_self *self, struct podconfig *out)
{
    memset(out, 0, sizeof(*out));
    int rc = list_unknown(p, out);
    if (rc == 0)
        out->state = opt_in(p, cfg, self, out);
    if (rc == 0 && out->state == PODCONFIG_ON)
        rc = build_on(p, cfg, out);
    if (rc == -EINVAL) {
        out->state = PODCONFIG_ERROR;
        rc = 0;
    }
    if (out->state != PODCONFIG_ON)
        drop_settings(out);
    if (rc < 0)
        podconfig_free(out);
    return rc;
}

void podconfig_free(struct podconfig *pc)
{
    if (!pc)
        return;
    drop_settings(pc);
    for (size_t i = 0; i < pc->n_unknown; i++)
        free(pc->unknown[i].key);
    free(pc->unknown);
    memset(pc, 0, sizeof(*pc));
}

/* A Deployment's ReplicaSet is "<deployment>-<pod-template-hash>", the
 * hash rendered by rand.SafeEncodeString: 6 to 10 of [a-z0-9] in practice
 * (the alphabet is narrower; the bound is what we accept). */
static size_t strip_template_hash(const char *name)
{
    size_t n = strlen(name);
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name)
        return n;
    size_t h = n - (size_t)(dash + 1 - name);
    if (h < 6 || h > 10)
        return n;
    for (const char *c = dash + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
            return n;
    return (size_t)(dash - name);
}

const char *podconfig_workload(const struct pod *p, char *buf, size_t cap)
{
    const char *k = p->owner_kind;
    if (!p->owner_name[0] || cap == 0)
        return NULL;
    if (strcmp(k, "ReplicaSet") == 0) {
        snprintf(buf, cap, "%.*s", (int)strip_template_hash(p->owner_name), p->owner_name);
        return buf;
    }
    if (strcmp(k, "StatefulSet") == 0 || strcmp(k, "DaemonSet") == 0 || strcmp(k, "Job") == 0) {
        snprintf(buf, cap, "%s", p->owner_name);
        return buf;
    }
    return NULL;
}

const char *podconfig_service(const struct podconfig *pc, const struct pod *p, const struct rule *r,
                              const char *container, char *buf, size_t cap)
{
    if (pc->service)
        return pc->service;
    if (r && r->service && *r->service)
        return r->service;
    if (p->label_app_name[0])
        return p->label_app_name;
    if (p->label_app[0])
        return p->label_app;
    const char *w = podconfig_workload(p, buf, cap);
    return w ? w : container;
}

/* What identifies a container's artefacts: facts no user tag replaces. */
static const char *const identity_keys[] = {
    "host", "node", "pod_name", "pod_namespace", "pod_uid", "container_name", "container_id"};

/* src into dst (src wins on a shared key), but for identity keys. */
static int merge_user(struct tags *dst, const struct tags *src)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < src->n; i++) {
        bool identity = false;
        for (size_t j = 0; j < sizeof(identity_keys) / sizeof(identity_keys[0]); j++)
            identity = identity || strcmp(src->items[i].key, identity_keys[j]) == 0;
        if (!identity)
            rc = tags_set(dst, src->items[i].key, src->items[i].value);
    }
    return rc;
}

int podconfig_tags(const struct podconfig *pc, const struct config *cfg, const struct pod *p,
                   const struct pod_container *c, const struct rule *r, struct tags *out)
{
    const char *identity[] = {cfg->node_name, cfg->node_name, p->name, p->ns,
                              p->uid,         c->name,        c->id};
    memset(out, 0, sizeof(*out));
    int rc = merge_user(out, &cfg->tags);
    if (rc == 0 && p->label_version[0])
        rc = tags_set(out, "version", p->label_version);
    rc = rc ?: merge_user(out, &pc->tags);
    if (rc == 0 && r)
        rc = merge_user(out, &r->tags);
    for (size_t i = 0; rc == 0 && i < sizeof(identity) / sizeof(identity[0]); i++)
        if (identity[i] && identity[i][0])
            rc = tags_set(out, identity_keys[i], identity[i]);
    if (rc < 0)
        tags_free(out);
    return rc;
}
