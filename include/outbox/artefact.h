/* artefact: what one piece of evidence is (a JFR profile, a jcmd snapshot,
 * an OOM heap-dump summary, a process-exit summary) and everything needed
 * to describe it to a sink. The daemon fills a struct artefact_meta with the
 * raw inputs; this module owns how they become DataKit's tags_profiler,
 * event.json and line-protocol records, and the metadata record the outbox
 * keeps next to each artefact (JSON, versioned).
 *
 * Tag composition (artefact_compose_tags), in this order, each key once:
 *   service       FLAMESHOT_SERVICE (service_override) > rule service (service)
 *                 > rule tag service > FLAMESHOT_TAGS service > container_name
 *                 > process_name > "unknown_service"
 *   env, version  rule tag > FLAMESHOT_TAGS > meta env/version (e.g. from Pod
 *                 labels) > "unknown_env" / "unknown_version" (as Flameshot)
 *   host          meta host (FLAMESHOT_NODE_NAME or the hostname) > gethostname();
 *                 never "unknown"
 *   process_id    the pid the JVM sees (nspid), host_pid too when different
 *   process_name, language (java; golang and profiler:pprof for a Go
 *   profile, as Flameshot's), runtime_os, runtime_arch (uname, lowercase
 *   sysname / machine), library_type, library_version (when set),
 *   trigger       meta trigger > trigger_tags "trigger"; then every other
 *                 trigger_tags item (cpu_avg, mem_used, mem_perc_emergency...)
 *   jdk_version   meta jdk_version when known
 *   then FLAMESHOT_TAGS and rule tags (rule wins on a shared key) except keys
 *   computed above, then in Kubernetes (k8s.pod_name set) pod_name,
 *   pod_namespace, pod_uid, container_name, container_id, node (= host).
 * Computed keys always win over user tags: a DaemonSet-wide FLAMESHOT_TAGS
 * pod_name would name the agent's Pod, not the target's. Keys lose spaces,
 * ',' and ':'; values lose ',' (-> '_') and newlines (-> ' '); empty values
 * are left out.
 *
 * Summary fields the producer sets (research notes §1.8; "status" is always
 * added from the kind, last; the same composed tags go along, minus any key
 * that is also a field):
 *   jcmd_snapshot  snapshot_type ("gc_class_histogram" | "thread_print"),
 *                  preview, process_name, cgroup_mem_percent (float) when
 *                  known; the outbox adds output_path, output_size_bytes and,
 *                  when absent, message ("captured <type> snapshot for
 *                  pid=<pid> at <path>")
 *   oom_hprof      message, hprof_path, hprof_size_bytes (int),
 *                  oom_kill_delta (int), matched_by, process_name; without
 *                  a .hprof still one record whose message says why
 *   process_exit   message ("process exit detected for pid=%d service=%s
 *                  reason=%s"), process_name, exit_signal, suspected_reason,
 *                  last_samples and last_artefacts (JSON text), ...
 * Record time: end_ns, else created_ns (set it to the detection time). */
#ifndef FS_ARTEFACT_H
#define FS_ARTEFACT_H

#include "outbox/lineproto.h"
#include "core/tags.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum artefact_kind {
    ARTEFACT_PROFILE = 0,   /* payload: JFR */
    ARTEFACT_JCMD_SNAPSHOT, /* payload: jcmd output text; plus a summary record */
    ARTEFACT_OOM_HPROF,     /* summary only */
    ARTEFACT_PROCESS_EXIT,  /* summary only */
    ARTEFACT__COUNT
};

/* Where an artefact goes; an artefact has a set of routes, delivered in
 * this order (a jcmd snapshot's text reaches the local sink before its
 * summary, which names where the text is kept, goes to DataKit). */
enum artefact_route {
    ARTEFACT_ROUTE_LOCAL = 1u << 0,             /* FLAMESHOT_PROFILING_PATH/profiles */
    ARTEFACT_ROUTE_DATAKIT_PROFILING = 1u << 1, /* multipart to /profiling/v1/input */
    ARTEFACT_ROUTE_DATAKIT_LOGGING = 1u << 2,   /* line protocol to /v1/write/logging */
};
#define ARTEFACT_ROUTE_COUNT 3
/* "local", "datakit_profiling", "datakit_logging"; NULL for no single route */
const char *artefact_route_name(unsigned route);

enum artefact_ftype { AF_STR = 0, AF_INT, AF_UINT, AF_FLOAT, AF_BOOL };

/* One typed field of a summary record (line-protocol field). */
struct artefact_field {
    char *key;
    enum artefact_ftype type;
    char *s; /* AF_STR, owned */
    int64_t i;
    uint64_t u;
    double f;
    bool b;
};

/* The target's Kubernetes identity; every member NULL outside Kubernetes. */
struct artefact_k8s {
    char *pod_name;
    char *pod_namespace;
    char *pod_uid;
    char *container_name;
    char *container_id;
};

/* One file of a Go profile's payload: "cpu.pprof", "delta-heap.pprof"...
 * (at most one per pprof type) */
#define ARTEFACT_MAX_ATTACHMENTS 5
struct artefact_attachment {
    char name[64];
    uint64_t size;
};

/* Every char * and struct tags member is owned by the struct and released
 * by artefact_meta_free(); NULL means "not known". */
struct artefact_meta {
    enum artefact_kind kind;
    /* inputs of tag composition */
    char *service_override; /* FLAMESHOT_SERVICE */
    char *service;          /* the rule's service */
    char *env, *version;    /* optional defaults, e.g. from Pod labels */
    char *host;             /* node name */
    int pid;                /* host pid */
    int nspid;              /* pid inside the target's namespace; 0: same as pid */
    char *process_name;
    char *library_type;    /* "async_profiler" | "jfr" (profiles) */
    char *library_version; /* the profiler's real version */
    char *jdk_version;
    char *trigger;            /* trigger_kind_name(); NULL: trigger_tags' "trigger" */
    struct tags trigger_tags; /* trigger.why: "trigger:cpu", "cpu_avg:91.20", ... */
    struct tags global_tags;  /* FLAMESHOT_TAGS */
    struct tags rule_tags;
    struct artefact_k8s k8s;
    uint64_t start_ns, end_ns; /* capture window, wall clock */
    uint64_t created_ns;       /* 0: set at commit */
    /* summary fields (message, snapshot_type, preview, ...), in order */
    struct artefact_field *fields;
    size_t nfields;
    char *file_name; /* name in the local sink; NULL: artefact_default_file_name() */
    /* a Go profile: the payload is these files one after another, each
     * its own part of the upload and its own file in the local sink */
    char *language; /* "golang" for a Go profile; NULL: java */
    struct artefact_attachment *attachments;
    size_t nattachments;
    /* bookkeeping, maintained by the outbox */
    char *id;        /* unique, sortable by creation */
    unsigned routes; /* ARTEFACT_ROUTE_* to deliver (all, done or not) */
    unsigned done;   /* ARTEFACT_ROUTE_* delivered */
    uint64_t payload_size;
    char *local_relpath; /* path under FLAMESHOT_PROFILING_PATH in the local sink */
    unsigned attempts;
    char *last_error;
};

const char *artefact_kind_name(enum artefact_kind kind); /* "profile", "jcmd_snapshot", ... */
int artefact_kind_parse(const char *name);               /* kind or -EINVAL */
/* Line-protocol measurement and status of the kind's summary record:
 * flameshot_jcmd_snapshot/info, flameshot_oom_hprof/error,
 * flameshot_process_exit/warning; NULL for a profile. */
const char *artefact_kind_measurement(enum artefact_kind kind);
const char *artefact_kind_status(enum artefact_kind kind);
/* 1 if the kind carries a payload file, else 0. */
int artefact_kind_has_payload(enum artefact_kind kind);

void artefact_meta_init(struct artefact_meta *m, enum artefact_kind kind);
void artefact_meta_free(struct artefact_meta *m);
/* Deep copy into dst (initialised here). 0 or -ENOMEM. */
int artefact_meta_copy(struct artefact_meta *dst, const struct artefact_meta *src);

/* Replace-or-append a field, copying key and string. 0 or -ENOMEM. */
int artefact_field_str(struct artefact_meta *m, const char *key, const char *v);
int artefact_field_int(struct artefact_meta *m, const char *key, int64_t v);
int artefact_field_uint(struct artefact_meta *m, const char *key, uint64_t v);
int artefact_field_float(struct artefact_meta *m, const char *key, double v);
int artefact_field_bool(struct artefact_meta *m, const char *key, bool v);
const struct artefact_field *artefact_field_get(const struct artefact_meta *m, const char *key);

/* Appends an attachment (name copied, at most 63 bytes). 0, -E2BIG past
 * ARTEFACT_MAX_ATTACHMENTS, or -ENOMEM. */
int artefact_add_attachment(struct artefact_meta *m, const char *name, uint64_t size);

/* Small setter for the char * members: frees the old value, copies v (NULL
 * allowed). 0 or -ENOMEM. */
int artefact_set(char **member, const char *v);

/* The metadata record. artefact_to_json returns a new object (caller
 * cJSON_Delete's it) or NULL on ENOMEM. artefact_from_json fills m
 * (initialised here) and returns 0, or -EINVAL with a reason in err. */
struct cJSON *artefact_to_json(const struct artefact_meta *m);
int artefact_from_json(const struct cJSON *j, struct artefact_meta *m, char *err, size_t errcap);

/* The composed tag set described at the top of this header, sanitised.
 * out is initialised here; caller tags_free()s it. 0 or -ENOMEM. */
int artefact_compose_tags(const struct artefact_meta *m, struct tags *out);

/* tags_profiler ("k:v,k:v") into a malloc'd string. 0 or -ENOMEM. */
int artefact_tags_profiler(const struct artefact_meta *m, char **out);

/* DataKit's event.json for a profile:
 * {"tags_profiler":..,"start":RFC3339Nano,"end":RFC3339Nano,"family":"java","format":"jfr"}
 * and for a Go profile, as Flameshot sends it:
 * {"attachments":["cpu.pprof",..],"tags_profiler":..,"start":..,"end":..,"family":"go",
 *  "format":"pprof","profiler":"pprof"}
 * malloc'd into *out. A zero start/end is taken from created_ns. 0 or -ENOMEM. */
int artefact_event_json(const struct artefact_meta *m, char **out);

/* Appends the kind's summary record to b: measurement, composed tags
 * (minus keys that are also fields: DataKit forbids a key being both),
 * the fields in order, then status; timestamp = end_ns, else created_ns.
 * Returns 0, -EINVAL (a profile has no summary, or a non-finite float) or
 * -ENOMEM. */
int artefact_lineproto(const struct artefact_meta *m, struct lp_buf *b);

/* The summary as a JSON object (measurement, status, time, tags, fields)
 * for the local sink. NULL on ENOMEM or for a profile. */
struct cJSON *artefact_summary_json(const struct artefact_meta *m);

/* The local sink's file name when file_name is NULL, from the kind, the
 * pid the JVM sees and the capture start (UTC, Flameshot's layout):
 * profile_<pid>_<YYYYMMDD_HHMMSS>.jfr, pprof_<pid>_<ts> (a Go profile: a
 * directory of its attachments), jcmd_<snapshot_type>_<pid>_<ts>.txt,
 * oom_hprof_<pid>_<ts>.json, process_exit_<pid>_<ts>.json. Returns buf. */
char *artefact_default_file_name(const struct artefact_meta *m, char *buf, size_t cap);

/* Makes s safe as one path component: only [A-Za-z0-9._-] kept (others
 * -> '_'), no leading '.', at most 100 bytes, "_" when empty. In place;
 * s must have room for at least 2 bytes. */
void artefact_sanitize_component(char *s);

#endif
