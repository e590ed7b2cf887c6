/* containerid: which container and which Pod a cgroup path names.
 *
 * From the lines of /proc/<pid>/cgroup (v1 "N:ctrl:/path", v2 "0::/path")
 * derive the container runtime, the 64-hex container ID, the Pod UID and
 * the Pod's QoS class, for the layouts the kubelet and the runtimes make:
 *
 *   containerd, systemd driver  .../kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
 *   CRI-O, systemd driver       .../kubepods-pod<uid_>.slice/crio-<id>.scope (crio-conmon-<id> is
 *                               CRI-O's monitor, not the container: ignored)
 *   docker / cri-dockerd        .../kubepods-besteffort-pod<uid_>.slice/docker-<id>.scope
 *   cgroupfs driver             /kubepods[/burstable|/besteffort]/pod<uid>/<id> or .../crio-<id>
 *   systemd driver, v1 colon    .../kubepods-burstable-pod<uid_>.slice:cri-containerd:<id>
 *   through a cgroup namespace  /../../kubepods-besteffort-pod<uid_>.slice/docker-<id>.scope
 *   nested (kind) /system.slice/docker-<node>.scope/kubelet/kubepods/.../pod<uid>/<id> plain
 * Docker, no Pod        /docker/<id>, /system.slice/docker-<id>.scope
 *
 * <uid_> is the Pod UID with '_' for '-' (systemd reserves '-' for slice
 * nesting); the dashes are restored. A static Pod's cgroup carries the
 * kubelet's 32-hex config hash instead of a UID: it is kept as is and
 * flagged pod_static (its API mirror Pod has a different UID and carries
 * the hash in the kubernetes.io/config.hash annotation). When a path nests
 * several kubelets (kind), the innermost kubepods part wins. Container IDs
 * are exactly 64 lowercase hex digits, as every runtime writes them; Pod
 * UIDs are lowercase 8-4-4-4-12 (or 32-hex static) — anything else is not
 * taken for one.
 *
 * The runtime is known only where the path names it (cri-containerd-,
 * crio-, docker-); the cgroupfs driver's bare <id> is CONTAINER_RUNTIME_
 * UNKNOWN: the Pod's containerStatuses ("<runtime>://<id>") say it.
 *
 * Sandbox (pause) containers: the sandbox's cgroup has the same shape as
 * any other container's, so a path alone cannot tell it apart, and every
 * parse leaves role CONTAINER_ROLE_UNKNOWN. Once the Pod is known,
 * containerid_classify() decides from the Pod's container statuses: the
 * sandbox's ID never appears there, an app, init or ephemeral container's
 * does. Since an app container runs shortly before the kubelet reports its
 * ID (and a restart brings a new one), SANDBOX is a verdict for now, not a
 * final one: classify again on every Pod event, and never attach to
 * anything that is not CONTAINER_ROLE_APP.
 *
 * Pure string functions: no I/O, no allocation, nothing blocks. */
#ifndef FS_CONTAINERID_H
#define FS_CONTAINERID_H

#include <stdbool.h>
#include <stddef.h>

#define CONTAINERID_ID_LEN  65 /* 64 hex digits + NUL */
#define CONTAINERID_UID_LEN 37 /* 8-4-4-4-12 + NUL; a static Pod's 32-hex hash fits */

enum container_runtime {
    CONTAINER_RUNTIME_UNKNOWN = 0,
    CONTAINER_RUNTIME_CONTAINERD,
    CONTAINER_RUNTIME_CRIO,
    CONTAINER_RUNTIME_DOCKER,
};

enum pod_qos {
    POD_QOS_NONE = 0, /* no Pod in the path */
    POD_QOS_GUARANTEED,
    POD_QOS_BURSTABLE,
    POD_QOS_BESTEFFORT,
};

enum container_role {
    CONTAINER_ROLE_UNKNOWN = 0, /* not classified against the Pod yet */
    CONTAINER_ROLE_APP,         /* among the Pod's container statuses */
    CONTAINER_ROLE_SANDBOX,     /* not among them: the pause container (for now, see above) */
};

struct container_ident {
    enum container_runtime runtime;
    char id[CONTAINERID_ID_LEN];       /* "" when the path names no container */
    char pod_uid[CONTAINERID_UID_LEN]; /* "" when the path names no kubelet Pod */
    bool pod_static;                   /* pod_uid is a static Pod's config hash */
    enum pod_qos qos;                  /* POD_QOS_NONE when pod_uid is "" */
    enum container_role role;
};

/* Parses one cgroup path (the part after the second ':' of a line; it need
 * not be NUL-terminated: len bytes are read). Fills out (zeroed first).
 * Returns 1 when a container ID was found, 0 when not; the Pod fields are
 * filled whenever a Pod level was found, even without a container (a
 * process in the Pod's own cgroup). */
int containerid_parse_path(const char *path, size_t len, struct container_ident *out);

/* The container of a process from its cgroup paths, as
 * cgroup_parse_membership() splits /proc/<pid>/cgroup: the v1 memory
 * controller's path when there is one (memory_v1, NULL or "" when none),
 * else the v2 path (unified, NULL or "" when none); when the memory path
 * names no container the v2 path is tried. Returns as
 * containerid_parse_path. */
int containerid_from_paths(const char *memory_v1, const char *unified, struct container_ident *out);

/* Sets and returns ci->role from the Pod's container statuses: status_ids
 * are their containerID values ("containerd://<id>", or a bare <id>; NULL
 * or "" for a container still waiting), n of them, all of the Pod's
 * containerStatuses, initContainerStatuses and ephemeralContainerStatuses.
 * APP when ci->id is among them, SANDBOX when not, UNKNOWN when ci names no
 * container. When the status names a runtime and ci's is unknown, ci's
 * runtime is set from it. */
enum container_role containerid_classify(struct container_ident *ci, const char *const *status_ids,
                                         size_t n);

/* Whether s (n bytes) is a container ID as runtimes write them: 64
 * lowercase hex digits. */
bool containerid_is_id(const char *s, size_t n);

/* "containerd", "crio", "docker", "unknown" */
const char *containerid_runtime_name(enum container_runtime rt);

/* "Guaranteed", "Burstable", "BestEffort" (the API's status.qosClass
 * spelling), "" for POD_QOS_NONE */
const char *containerid_qos_name(enum pod_qos qos);

#endif
