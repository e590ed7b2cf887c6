/* podconfig: a Pod's effective Flameshot configuration, from its
 * flameshot.io/ annotations over the DaemonSet's configuration. Pure: no
 * I/O, no logging (the caller logs a Pod's error once and shows it in
 * /v1/pods), no global state; safe from any thread.
 *
 * Opt-in is explicit: `flameshot.io/enabled: "true"` exactly. A malformed
 * annotation makes that Pod's result PODCONFIG_ERROR with the key, the JSON
 * path inside its value and the reason: that Pod is skipped, other Pods
 * are untouched. An empty annotation value counts as unset, as an empty
 * FLAMESHOT_* variable does (except enabled and processes, refused).
 * Unknown flameshot.io/ keys are warnings (with a did-you-mean), reported
 * for every Pod: a misspelt `flameshot.io/enable` is why a Pod is not
 * opted in. */
#ifndef FS_KUBE_PODCONFIG_H
#define FS_KUBE_PODCONFIG_H

#include "core/config.h"
#include "core/rules.h"
#include "core/tags.h"
#include "kube/pod.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PODCONFIG_ENABLED   POD_ANNOTATION_PREFIX "enabled"
#define PODCONFIG_PROCESSES POD_ANNOTATION_PREFIX "processes"
#define PODCONFIG_SERVICE   POD_ANNOTATION_PREFIX "service"
#define PODCONFIG_TAGS      POD_ANNOTATION_PREFIX "tags"

enum podconfig_state {
    PODCONFIG_OFF = 0,   /* no flameshot.io/enabled, or "false" */
    PODCONFIG_NAMESPACE, /* opts in from a namespace the DaemonSet does not select */
    PODCONFIG_SELF,      /* the agent's own Pod: never a target */
    PODCONFIG_ON,        /* opted in: its containers are targets */
    PODCONFIG_ERROR,     /* a malformed annotation: skipped, err says why */
};
#define PODCONFIG_STATES (PODCONFIG_ERROR + 1)

/* "off", "namespace_not_selected", "self", "on", "error" */
const char *podconfig_state_name(enum podconfig_state s);

struct podconfig_error {
    char key[POD_NAME_MAX]; /* the annotation: "flameshot.io/processes" */
    char path[192];         /* JSON path in its value: "[1].duration"; "" for all of it */
    char reason[512];
};

/* an unknown flameshot.io/ key and the known one it is closest to */
struct podconfig_unknown {
    char *key;        /* malloc'd copy */
    const char *near; /* static; NULL when none is close */
};

struct podconfig {
    enum podconfig_state state;
    struct podconfig_error err; /* set when state is PODCONFIG_ERROR */
    /* the rules in force: own_rules (flameshot.io/processes), else the
     * DaemonSet's (cfg->rules, borrowed: cfg must outlive this); NULL, as
     * the settings below, unless state is PODCONFIG_ON */
    const struct rule_set *rules;
    struct rule_set own_rules;
    char *service;    /* flameshot.io/service; NULL when unset */
    struct tags tags; /* flameshot.io/tags */
    /* the overridable settings: the annotation's value, else cfg's */
    uint64_t auto_profiling_ms; /* 0: off */
    uint64_t auto_profiling_duration_ms;
    bool oom_hprof_enabled;
    uint64_t oom_hprof_match_window_ms;
    bool jcmd_snapshot_enabled;
    uint64_t jcmd_timeout_ms;
    struct podconfig_unknown *unknown; /* malloc'd */
    size_t n_unknown;
};

/* The agent's own Pod: by uid, or by namespace and name (either may be
 * NULL or empty, e.g. when the downward API does not give the uid). */
struct podconfig_self {
    const char *uid;
    const char *ns;
    const char *name;
};

/* Builds p's effective configuration into *out (released with
 * podconfig_free, whatever the state). The checks, in order: the agent's
 * own Pod (SELF), not opted in (OFF), namespace not selected (NAMESPACE),
 * then every annotation (ERROR on the first malformed one, with err set
 * and nothing else kept), else ON. Unknown keys are listed in every state.
 * self may be NULL. Returns 0, or -ENOMEM (then *out holds nothing). */
int podconfig_build(const struct pod *p, const struct config *cfg,
                    const struct podconfig_self *self, struct podconfig *out);

/* Releases what *pc holds and zeroes it. NULL-safe, idempotent. */
void podconfig_free(struct podconfig *pc);

/* The workload that owns p, for naming: a ReplicaSet's name without its
 * pod-template-hash suffix (its Deployment's name), a StatefulSet's, a
 * DaemonSet's or a Job's name as is (a CronJob's Job keeps its own name:
 * the Pod names only the Job, and a trailing number cannot be told from
 * a Job named so by hand). Returns buf, or NULL for other owners (a mirror
 * Pod's Node, custom controllers) and for none. */
const char *podconfig_workload(const struct pod *p, char *buf, size_t cap);

/* The service of container (its name) when rule r (NULL: none) matched:
 * flameshot.io/service, else r's service (FLAMESHOT_SERVICE already
 * applied to the DaemonSet's rules), else the app.kubernetes.io/name or
 * app label, else the workload's name, else the container's name. Returns
 * a string owned by pc, p, r or buf (cap bytes; the workload's). */
const char *podconfig_service(const struct podconfig *pc, const struct pod *p, const struct rule *r,
                              const char *container, char *buf, size_t cap);

/* The tags of container c's artefacts when rule r (NULL: none) matched,
 * into *out (caller frees with tags_free), from weakest to strongest:
 * FLAMESHOT_TAGS, `version` from the app.kubernetes.io/version label,
 * flameshot.io/tags, r's tags, then what identifies the container, which
 * no user tag may set (a user's pod_name would be wrong on every Pod but
 * one): host and node (cfg->node_name), pod_name, pod_namespace, pod_uid,
 * container_name and container_id (when c has one). Returns 0 or -ENOMEM
 * (then *out holds nothing). */
int podconfig_tags(const struct podconfig *pc, const struct config *cfg, const struct pod *p,
                   const struct pod_container *c, const struct rule *r, struct tags *out);

#endif
