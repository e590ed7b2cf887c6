/* pods_api: the Kubernetes views of the HTTP API: GET /v1/pods (the Pods
 * of this node the agent knows, opted in or not, with their containers,
 * the configuration in force, their targets and any configuration error)
 * and the "kubernetes" part of /v1/status and /metrics (the Pod watch).
 *
 * Threads: any (HTTP handlers); reads copies through the modules'
 * thread-safe functions only. */
#ifndef FS_HTTP_PODS_API_H
#define FS_HTTP_PODS_API_H

#include "kube/podcache.h"
#include "kube/podtable.h"
#include "kube/watcher.h"
#include "policy/targets.h"

#include <stddef.h>

struct cJSON;

/* All NULL in standalone mode. */
struct pods_api {
    struct podcache *cache;
    struct podtable *pods;
    struct watcher *watcher;
};

/* {"count": n, "pods": [...]} or NULL on ENOMEM. */
struct cJSON *pods_api_list(const struct pods_api *k, struct targets *t);

/* {"api_server", "watch": {...}, "pods": {"<state>": n}, "processes_waiting"} */
struct cJSON *pods_api_status(const struct pods_api *k, const char *api_server, struct targets *t);

/* The Pods known by state (enum podconfig_state; a Pod whose configuration
 * is not read yet is not counted). */
void pods_api_counts(const struct pods_api *k, size_t by_state[PODCONFIG_STATES]);

#endif
