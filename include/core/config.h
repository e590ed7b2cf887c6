/* config: every FLAMESHOT_* variable, parsed and validated once at start-up.
 * A bad value is an error naming the variable, the JSON path and the
 * reason; nothing falls back silently. The struct is read-only after
 * config_load() and may be shared by every thread. */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include "core/rules.h"
#include "core/tags.h"

#include <stdbool.h>
#include <stdint.h>

struct cJSON;

#define KUBE_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

enum fs_mode { FS_MODE_AUTO = 0, FS_MODE_KUBERNETES, FS_MODE_STANDALONE };
enum fs_bpf_mode { FS_BPF_AUTO = 0, FS_BPF_ON, FS_BPF_OFF };

/* a list of malloc'd strings */
struct config_list {
    char **items;
    size_t n;
};

/* FLAMESHOT_HPROF_UPLOAD_*: heap dumps to object storage (outbox/upload.h).
 * Unset strings are NULL; provider is lower case; region is us-east-1 for
 * s3 when unset. The secret and the token are never logged or shown. */
struct config_hprof_upload {
    bool enabled;
    char *provider; /* "s3" | "oss" */
    char *endpoint, *region, *bucket;
    char *access_key_id, *access_key_secret, *security_token;
    char *path_template;         /* {service}/{pod_name}/{timestamp}/{filename} */
    char *download_url_template; /* NULL: the object's URL */
    uint64_t timeout_ms;         /* each request to the store; 5 min */
    bool s3_path_style;          /* true */
};

struct config {
    enum fs_mode mode_requested;
    enum fs_mode mode;  /* resolved: kubernetes or standalone */
    char *datakit_addr; /* NULL: local directory sink */
    /* FLAMESHOT_LOCAL_KEEP: profiles also kept in the local sink beside DataKit */
    bool local_keep;
    /* FLAMESHOT_UI_MAX_KB: the memory one /ui render may use (stacks, heat map) */
    uint64_t ui_max_kb;
    char *profiling_path; /* spool and working directory */
    uint64_t monitor_interval_ms;
    int log_level;              /* enum log_level */
    uint64_t auto_profiling_ms; /* 0: disabled */
    uint64_t auto_profiling_duration_ms;
    bool oom_hprof_enabled;
    uint64_t oom_hprof_match_window_ms;
    bool jcmd_snapshot_enabled;
    uint64_t jcmd_timeout_ms;
    /* FLAMESHOT_ATTACH_PREWARM: attach listeners started ahead (prewarm.h) */
    bool attach_prewarm;
    uint64_t pod_mem_limit_mb;     /* 0: from the target's cgroup */
    uint64_t pod_cpu_limit_millis; /* 0: from the target's cgroup */
    char *http_ip;
    uint16_t http_port;
    char *service;         /* FLAMESHOT_SERVICE or NULL */
    struct tags tags;      /* FLAMESHOT_TAGS */
    struct rule_set rules; /* FLAMESHOT_PROCESSES or the default rule */
    char *node_name;       /* FLAMESHOT_NODE_NAME, else the hostname */
    /* kubernetes mode only (NULL otherwise): FLAMESHOT_KUBE_API, else
     * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, else NULL
     * (no API server known); FLAMESHOT_KUBE_SA_DIR (token, ca.crt) */
    char *kube_api;
    char *kube_sa_dir;
    /* FLAMESHOT_NAMESPACES / FLAMESHOT_EXCLUDE_NAMESPACES: which namespaces'
     * Pods may opt in (kubernetes mode); empty lists: every namespace */
    struct config_list namespaces;
    struct config_list exclude_namespaces;
    char *async_profiler_path;
    enum fs_bpf_mode bpf;
    uint32_t bpf_ring_kb;      /* FLAMESHOT_BPF_RING_KB: a power of two, >= a page */
    uint64_t evidence_lead_ms; /* FLAMESHOT_EVIDENCE_LEAD; 0: off */
    int max_concurrent_jobs;
    int max_jobs_per_container;   /* running at once per container (cgroup) */
    int max_queued_per_container; /* waiting per container (cgroup) */
    uint64_t spool_max_mb;
    /* FLAMESHOT_MAX_PROFILE_MB: the cap of one JFR, at most spool_max_mb */
    uint64_t max_profile_mb;
    /* FLAMESHOT_PROFILING_ENABLED=false: no timed, threshold, cgroup
     * high-water or HTTP profile; OOM detection, snapshots, heap dumps and
     * uploads go on (Flameshot's switch) */
    bool profiling_enabled;
    /* FLAMESHOT_HEAP_DUMP_*: a heap dump on a memory emergency
     * (capture/heapdump.h); the template is pathtpl.h's */
    bool heap_dump_enabled;
    uint64_t heap_dump_timeout_ms;
    uint64_t heap_dump_cooldown_ms; /* per process */
    char *heap_dump_path_template;
    char *http_token;     /* NULL: no authentication */
    bool http_insecure;   /* FLAMESHOT_HTTP_INSECURE: no token off the loopback */
    bool short_intervals; /* FLAMESHOT_TEST_SHORT_INTERVALS: tests only */
    /* FLAMESHOT_TEST_HOST_PID (tests only; 1): a process in the host's
     * cgroup namespace, whose namespace the agent joins when its own is
     * another (a sandbox's pid 1 may be unreadable even to root) */
    int host_pid;
    struct config_hprof_upload hprof_upload;
};

/* A configuration error: "<path>: <reason>", path starting with the
 * variable's name (e.g. "FLAMESHOT_PROCESSES[1].duration"). */
struct config_error {
    char path[192];
    char reason[512];
};

/* Looks a variable up; returns NULL when unset. */
typedef const char *(*config_getenv_fn)(const char *name, void *arg);

/* Loads the configuration through get (NULL: the process environment).
 * Returns 0, -EINVAL with err filled, or -ENOMEM. On success the caller
 * owns cfg and frees it with config_free(). A rule threshold this host can
 * never reach (cpu_usage_percent above its cores x 100, mem_usage_mb above
 * its memory) is logged as a warning naming the path; unknown variables
 * are config_check_unknown's. */
int config_load(struct config *cfg, config_getenv_fn get, void *arg, struct config_error *err);

/* Names of FLAMESHOT_* variables in envp that config does not know, with a
 * did-you-mean. Calls report(name, suggestion-or-NULL, arg) for each. */
void config_check_unknown(char *const *envp,
                          void (*report)(const char *name, const char *near, void *arg), void *arg);

void config_free(struct config *cfg);

/* Reads again, through get, the settings a Kubernetes Pod may override
 * (FLAMESHOT_AUTO_PROFILING, _AUTO_PROFILING_DURATION, _OOM_HPROF_ENABLED,
 * _OOM_HPROF_MATCH_WINDOW, _JCMD_SNAPSHOT_ENABLED, _JCMD_TIMEOUT) over the
 * values in cfg, validated as config_load validates them; a name get does
 * not set (or sets empty) keeps cfg's value. Touches those fields only
 * (and reads short_intervals). Returns 0 or -EINVAL with err filled. */
int config_override(struct config *cfg, config_getenv_fn get, void *arg, struct config_error *err);

/* Whether Pods of namespace ns may opt in: in FLAMESHOT_NAMESPACES (when
 * set) and not in FLAMESHOT_EXCLUDE_NAMESPACES. */
bool config_namespace_selected(const struct config *cfg, const char *ns);

/* The normalized effective configuration (token masked) for
 * --check-config and GET /v1/status. Caller frees with cJSON_Delete. */
struct cJSON *config_to_json(const struct config *cfg);

const char *config_mode_name(enum fs_mode mode);
const char *config_bpf_name(enum fs_bpf_mode bpf);

#endif
