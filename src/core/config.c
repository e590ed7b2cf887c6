#include "core/config.h"

#include "core/json.h"
#include "core/log.h"
#include "core/pathtpl.h"
#include "core/redact.h"
#include "core/units.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MIN_AUTO_PROFILING_MS   60000
#define MIN_MONITOR_INTERVAL_MS 100
#define MAX_MONITOR_INTERVAL_MS 3600000
#define MAX_JOBS                64 /* also the job queue's capacity */
#define MAX_BPF_RING_KB         65536

/* Every variable we read, for the unknown-variable check. */
static const char *const known_vars[] = {
    "FLAMESHOT_MODE",
    "FLAMESHOT_DATAKIT_ADDR",
    "FLAMESHOT_PROFILING_PATH",
    "FLAMESHOT_MONITOR_INTERVAL",
    "FLAMESHOT_LOG_LEVEL",
    "FLAMESHOT_AUTO_PROFILING",
    "FLAMESHOT_AUTO_PROFILING_DURATION",
    "FLAMESHOT_OOM_HPROF_ENABLED",
    "FLAMESHOT_OOM_HPROF_MATCH_WINDOW",
    "FLAMESHOT_JCMD_SNAPSHOT_ENABLED",
    "FLAMESHOT_JCMD_TIMEOUT",
    "FLAMESHOT_ATTACH_PREWARM",
    "FLAMESHOT_POD_MEM_LIMIT",
    "FLAMESHOT_POD_CPU_LIMIT",
    "FLAMESHOT_HTTP_LOCAL_IP",
    "FLAMESHOT_HTTP_LOCAL_PORT",
    "FLAMESHOT_SERVICE",
    "FLAMESHOT_TAGS",
    "FLAMESHOT_PROCESSES",
    "FLAMESHOT_NODE_NAME",
    "FLAMESHOT_KUBE_API",
    "FLAMESHOT_KUBE_SA_DIR",
    "FLAMESHOT_NAMESPACES",
    "FLAMESHOT_EXCLUDE_NAMESPACES",
    "FLAMESHOT_ASYNC_PROFILER_PATH",
    "FLAMESHOT_BPF",
    "FLAMESHOT_BPF_RING_KB",
    "FLAMESHOT_EVIDENCE_LEAD",
    "FLAMESHOT_MAX_CONCURRENT_JOBS",
    "FLAMESHOT_MAX_JOBS_PER_CONTAINER",
    "FLAMESHOT_MAX_QUEUED_PER_CONTAINER",
    "FLAMESHOT_HTTP_INSECURE",
    "FLAMESHOT_SPOOL_MAX_MB",
    "FLAMESHOT_LOCAL_KEEP",
    "FLAMESHOT_UI_MAX_KB",
    "FLAMESHOT_MAX_PROFILE_MB",
    "FLAMESHOT_HTTP_TOKEN",
    "FLAMESHOT_TEST_SHORT_INTERVALS",
    "FLAMESHOT_TEST_HOST_PID",
    "FLAMESHOT_PROFILING_ENABLED",
    "FLAMESHOT_HEAP_DUMP_ENABLED",
    "FLAMESHOT_HEAP_DUMP_TIMEOUT",
    "FLAMESHOT_HEAP_DUMP_COOLDOWN",
    "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE",
    /* heap dumps to object storage (load_hprof_upload) */
    "FLAMESHOT_HPROF_UPLOAD_ENABLED",
    "FLAMESHOT_HPROF_UPLOAD_PROVIDER",
    "FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE",
    "FLAMESHOT_HPROF_UPLOAD_ENDPOINT",
    "FLAMESHOT_HPROF_UPLOAD_REGION",
    "FLAMESHOT_HPROF_UPLOAD_BUCKET",
    "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID",
    "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET",
    "FLAMESHOT_HPROF_UPLOAD_SECURITY_TOKEN",
    "FLAMESHOT_HPROF_UPLOAD_PATH_TEMPLATE",
    "FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE",
    "FLAMESHOT_HPROF_UPLOAD_TIMEOUT",
    "FLAMESHOT_HPROF_UPLOAD_S3_PATH_STYLE",
};

/* Flameshot's AssumeRole upload settings: known, and refused at start
 * (refuse_assume_role: it calls Alibaba Cloud STS, not done here). */
static const char *const assume_role_vars[] = {
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_ARN",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_SESSION_NAME",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_DURATION_SECONDS",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_POLICY",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_EXTERNAL_ID",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_STS_ENDPOINT",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_SOURCE_ACCESS_KEY_ID",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_SOURCE_ACCESS_KEY_SECRET",
    "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_SOURCE_SECURITY_TOKEN",
};

/* Flameshot sidecar variables that have no meaning for a node agent, and
 * why (the warning says it). */
static const struct {
    const char *name, *why;
} ignored_vars[] = {
    {"FLAMESHOT_LOG_PATH", "(a Flameshot sidecar variable the node agent ignores)"},
    {"FLAMESHOT_HEAP_DUMP_JMAP_PATH",
     "(no jmap is needed: heap dumps are taken with GC.heap_dump through the JVM's own attach "
     "mechanism, with no JDK in the agent)"},
};

struct loader {
    config_getenv_fn get;
    void *arg;
    struct config_error *err;
};

static const char *env_get(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static int fail(struct loader *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct loader *l, const char *path, const char *fmt, ...)
{
    snprintf(l->err->path, sizeof(l->err->path), "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err->reason, sizeof(l->err->reason), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* NULL for unset; an empty value counts as unset, as in Flameshot. */
static const char *var(struct loader *l, const char *name)
{
    const char *v = l->get(name, l->arg);
    return v && *v ? v : NULL;
}

static int dup_into(char **dst, const char *v)
{
    *dst = strdup(v);
    return *dst ? 0 : -ENOMEM;
}

static int load_string(struct loader *l, const char *name, const char *def, char **out)
{
    const char *v = var(l, name);
    if (!v && !def)
        return 0;
    return dup_into(out, v ? v : def);
}

static int load_duration(struct loader *l, const char *name, uint64_t def, uint64_t min,
                         uint64_t *out)
{
    const char *v = var(l, name), *why;
    *out = def;
    if (!v)
        return 0;
    if (units_parse_duration(v, out, &why) < 0)
        return fail(l, name, "\"%s\" is not a duration: %s", v, why);
    if (*out < min) {
        char b[32];
        return fail(l, name, "%s is too short (minimum %s)", v,
                    units_format_duration(min, b, sizeof(b)));
    }
    return 0;
}

static int load_bool(struct loader *l, const char *name, bool def, bool *out)
{
    const char *v = var(l, name);
    *out = def;
    if (v && units_parse_bool(v, out) < 0)
        return fail(l, name, "\"%s\" is not a boolean (true/false, 1/0, yes/no, on/off)", v);
    return 0;
}

/* An integer with an optional unit suffix ("512" or "512Mi"). */
static int load_uint(struct loader *l, const char *name, const char *suffix, uint64_t def,
                     uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = var(l, name);
    *out = def;
    if (!v)
        return 0;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", v);
    size_t bl = strlen(buf), sl = suffix ? strlen(suffix) : 0;
    if (sl && bl > sl && strcmp(buf + bl - sl, suffix) == 0)
        buf[bl - sl] = '\0';
    if (buf[0] == '-')
        return fail(l, name, "\"%s\" must not be negative", v);
    int rc = units_parse_u64(buf, UINT64_MAX, out);
    if (rc < 0)
        return fail(l, name, "\"%s\" is not a whole number%s%s", v, sl ? " (optionally with " : "",
                    sl ? (strcmp(suffix, "Mi") == 0 ? "the suffix Mi)" : "the suffix m)") : "");
    if (*out < min || *out > max)
        return fail(l, name, "%s is out of range [%llu, %llu]", v, (unsigned long long)min,
                    (unsigned long long)max);
    return 0;
}

static int load_mode(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_MODE");
    if (!v || strcmp(v, "auto") == 0)
        c->mode_requested = FS_MODE_AUTO;
    else if (strcmp(v, "kubernetes") == 0)
        c->mode_requested = FS_MODE_KUBERNETES;
    else if (strcmp(v, "standalone") == 0)
        c->mode_requested = FS_MODE_STANDALONE;
    else
        return fail(l, "FLAMESHOT_MODE", "\"%s\" is not one of auto, kubernetes, standalone", v);
    c->mode = c->mode_requested;
    if (c->mode == FS_MODE_AUTO)
        c->mode = var(l, "KUBERNETES_SERVICE_HOST") ? FS_MODE_KUBERNETES : FS_MODE_STANDALONE;
    return 0;
}

/* FLAMESHOT_EVIDENCE_LEAD: the growth-rate trigger (policy/leadtime.h),
 * read with the event source it depends on; "0" turns it off. */
static int load_evidence_lead(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_EVIDENCE_LEAD");
    if (v && strcmp(v, "0") == 0) {
        c->evidence_lead_ms = 0;
        return 0;
    }
    return load_duration(l, "FLAMESHOT_EVIDENCE_LEAD", 3000, 0, &c->evidence_lead_ms);
}

/* FLAMESHOT_BPF_RING_KB: the kernel takes a power-of-two number of pages
 * for a ring buffer; a smaller ring overflows sooner under an exec storm
 * (then the target table is recovered by a /proc rescan, monitor.h). */
static int load_bpf_ring(struct loader *l, struct config *c)
{
    uint64_t page_kb = (uint64_t)sysconf(_SC_PAGESIZE) >> 10, kb;
    if (page_kb < 4)
        page_kb = 4;
    int rc = load_uint(l, "FLAMESHOT_BPF_RING_KB", NULL, 256, page_kb, MAX_BPF_RING_KB, &kb);
    if (rc == 0 && (kb & (kb - 1)))
        return fail(l, "FLAMESHOT_BPF_RING_KB", "%llu is not a power of two (e.g. 64, 256, 1024)",
                    (unsigned long long)kb);
    c->bpf_ring_kb = (uint32_t)kb;
    return rc;
}

static int load_bpf(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_BPF");
    if (!v || strcmp(v, "auto") == 0)
        c->bpf = FS_BPF_AUTO;
    else if (strcmp(v, "on") == 0)
        c->bpf = FS_BPF_ON;
    else if (strcmp(v, "off") == 0)
        c->bpf = FS_BPF_OFF;
    else
        return fail(l, "FLAMESHOT_BPF", "\"%s\" is not one of auto, on, off", v);
    return load_bpf_ring(l, c) ?: load_evidence_lead(l, c);
}

static int load_log_level(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_LOG_LEVEL");
    c->log_level = LOG_INFO;
    if (v && (c->log_level = log_level_parse(v)) < 0)
        return fail(l, "FLAMESHOT_LOG_LEVEL", "\"%s\" is not one of debug, info, warn, error", v);
    return 0;
}

/* http(s)://host[:port]/path: anything else cannot be a DataKit intake. */
static int load_datakit(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_DATAKIT_ADDR");
    if (!v)
        return 0;
    const char *rest = NULL;
    if (strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    else if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    if (!rest)
        return fail(l, "FLAMESHOT_DATAKIT_ADDR",
                    "\"%s\" must start with http:// or https:// "
                    "(e.g. http://datakit:9529/profiling/v1/input)",
                    v);
    if (!*rest || *rest == '/' || *rest == ':')
        return fail(l, "FLAMESHOT_DATAKIT_ADDR", "\"%s\" has no host", v);
    if (strpbrk(v, " \t\r\n"))
        return fail(l, "FLAMESHOT_DATAKIT_ADDR", "\"%s\" contains whitespace", v);
    return dup_into(&c->datakit_addr, v);
}

static int load_paths(struct loader *l, struct config *c)
{
    int rc = load_string(l, "FLAMESHOT_PROFILING_PATH", "/var/lib/flameshot", &c->profiling_path);
    if (rc < 0)
        return rc;
    if (c->profiling_path[0] != '/')
        return fail(l, "FLAMESHOT_PROFILING_PATH", "\"%s\" must be an absolute path",
                    c->profiling_path);
    rc = load_string(l, "FLAMESHOT_ASYNC_PROFILER_PATH", "/opt/async-profiler",
                     &c->async_profiler_path);
    if (rc < 0)
        return rc;
    if (c->async_profiler_path[0] != '/')
        return fail(l, "FLAMESHOT_ASYNC_PROFILER_PATH", "\"%s\" must be an absolute path",
                    c->async_profiler_path);
    return 0;
}

/* Flameshot documents a bare "1" (seconds); its code parses durations.
 * Accept both so existing sidecar configurations keep working. */
static int load_monitor_interval(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_MONITOR_INTERVAL");
    uint64_t secs;
    c->monitor_interval_ms = 1000;
    if (v && units_parse_u64(v, 3600, &secs) == 0) {
        if (secs == 0)
            return fail(l, "FLAMESHOT_MONITOR_INTERVAL", "must be at least 100ms");
        c->monitor_interval_ms = secs * 1000;
        return 0;
    }
    int rc = load_duration(l, "FLAMESHOT_MONITOR_INTERVAL", 1000, MIN_MONITOR_INTERVAL_MS,
                           &c->monitor_interval_ms);
    if (rc == 0 && c->monitor_interval_ms > MAX_MONITOR_INTERVAL_MS)
        return fail(l, "FLAMESHOT_MONITOR_INTERVAL", "%s is too long (maximum 1h)", v);
    return rc;
}

/* Off when unset or zero: Flameshot parses "0" (a bare zero, as Go's
 * time.ParseDuration allows) and "0s" alike and profiles only when > 0. */
static int load_auto_profiling(struct loader *l, struct config *c)
{
    uint64_t min = c->short_intervals ? 1000 : MIN_AUTO_PROFILING_MS;
    const char *v = var(l, "FLAMESHOT_AUTO_PROFILING");
    uint64_t ms = 0;
    int rc = 0;
    if (v && (strcmp(v, "0") == 0 || (units_parse_duration(v, &ms, NULL) == 0 && ms == 0)))
        c->auto_profiling_ms = 0;
    else
        rc = load_duration(l, "FLAMESHOT_AUTO_PROFILING", c->auto_profiling_ms, min,
                           &c->auto_profiling_ms);
    if (rc < 0)
        return rc;
    rc = load_duration(l, "FLAMESHOT_AUTO_PROFILING_DURATION", c->auto_profiling_duration_ms, 1000,
                       &c->auto_profiling_duration_ms);
    if (rc < 0)
        return rc;
    if (c->auto_profiling_duration_ms > 10 * 60000)
        return fail(l, "FLAMESHOT_AUTO_PROFILING_DURATION", "too long (maximum 10m)");
    char b[32];
    if (c->auto_profiling_ms && c->auto_profiling_duration_ms >= c->auto_profiling_ms)
        return fail(l, "FLAMESHOT_AUTO_PROFILING_DURATION",
                    "must be shorter than the auto-profiling interval (%s), or profiles would "
                    "overlap",
                    units_format_duration(c->auto_profiling_ms, b, sizeof(b)));
    return 0;
}

/* 127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6. */
static bool is_loopback(const char *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct in6_addr a6;
    unsigned char a4[4];
    if (inet_pton(AF_INET, ip, a4) == 1)
        return a4[0] == 127;
    return inet_pton(AF_INET6, ip, &a6) == 1 &&
           (IN6_IS_ADDR_LOOPBACK(&a6) ||
            (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0 && a6.s6_addr[12] == 127));
}

/* Without a token, the API is served off the loopback only when asked
 * explicitly: on a node address every Pod of the cluster can reach it. */
static int check_http_exposure(struct loader *l, struct config *c)
{
    int rc = load_bool(l, "FLAMESHOT_HTTP_INSECURE", false, &c->http_insecure);
    if (rc < 0 || c->http_token || c->http_insecure || is_loopback(c->http_ip))
        return rc;
    return fail(l, "FLAMESHOT_HTTP_LOCAL_IP",
                "%s is not a loopback address and FLAMESHOT_HTTP_TOKEN is unset: set "
                "FLAMESHOT_HTTP_TOKEN, or FLAMESHOT_HTTP_INSECURE=true to serve the API "
                "unauthenticated there",
                c->http_ip);
}

static int load_http(struct loader *l, struct config *c)
{
    int rc = load_string(l, "FLAMESHOT_HTTP_LOCAL_IP", "127.0.0.1", &c->http_ip);
    if (rc < 0)
        return rc;
    unsigned char addr[16];
    if (inet_pton(AF_INET, c->http_ip, addr) != 1 && inet_pton(AF_INET6, c->http_ip, addr) != 1)
        return fail(l, "FLAMESHOT_HTTP_LOCAL_IP", "\"%s\" is not an IPv4 or IPv6 address",
                    c->http_ip);
    uint64_t port;
    rc = load_uint(l, "FLAMESHOT_HTTP_LOCAL_PORT", NULL, 8089, 1, 65535, &port);
    if (rc < 0)
        return rc;
    c->http_port = (uint16_t)port;
    rc = load_string(l, "FLAMESHOT_HTTP_TOKEN", NULL, &c->http_token);
    if (rc == 0 && c->http_token && strpbrk(c->http_token, " \t\r\n"))
        return fail(l, "FLAMESHOT_HTTP_TOKEN", "must not contain whitespace");
    return rc ?: check_http_exposure(l, c);
}

static int load_tags(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_TAGS"), *why;
    size_t bad;
    if (!v)
        return 0;
    int rc = tags_parse_list(v, &c->tags, &bad, &why);
    if (rc == -EINVAL) {
        char path[64];
        snprintf(path, sizeof(path), "FLAMESHOT_TAGS[%zu]", bad);
        return fail(l, path, "%s (FLAMESHOT_TAGS is \"k:v,k:v\")", why);
    }
    return rc;
}

/* FLAMESHOT_PROCESSES, or Flameshot's indexed variables, or the default.
 * Flameshot would concatenate the two forms; one list is clearer. */
static int load_rules(struct loader *l, struct config *c)
{
    struct rule_limits lim = {.service_override = c->service,
                              .short_intervals = c->short_intervals};
    const char *v = l->get("FLAMESHOT_PROCESSES", l->arg);
    struct rule_error rerr;
    int rc = rules_parse_indexed(l->get, l->arg, &lim, &c->rules, &rerr);
    if (v && (rc == -EINVAL || c->rules.n)) {
        rules_free(&c->rules);
        return fail(l, "FLAMESHOT_PROCESSES",
                    "set together with the indexed FLAMESHOT_PROCESSES_<i>_<FIELD> variables: "
                    "give the rules in one form only");
    }
    if (rc == -EINVAL)
        return fail(l, rerr.path, "%s", rerr.reason);
    if (rc < 0 || c->rules.n)
        return rc;
    if (!v)
        return rules_default(&lim, &c->rules);
    if (!*v)
        return fail(l, "FLAMESHOT_PROCESSES",
                    "set but empty: give a JSON array of rules, or unset it for the default rule");
    rc = rules_parse(v, &lim, &c->rules, &rerr);
    if (rc == -EINVAL)
        return fail(l, rerr.path, "%s", rerr.reason);
    return rc;
}

/* A threshold this host can never reach is a warning, not an error: one
 * DaemonSet configuration serves nodes of every size. Without
 * FLAMESHOT_POD_CPU_LIMIT a target reads at most cores x 100 (a quota only
 * lowers that: it reads at most 100 of it); with it, cores x 100 of the
 * override's base. Memory percentages over 100 the parser refuses. */
static void warn_unreachable(const struct config *c)
{
    long ncpus = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES);
    long psz = sysconf(_SC_PAGESIZE);
    double cpu_max = rule_cpu_ceiling((int)ncpus, 0, c->pod_cpu_limit_millis);
    double mem_mb = pages > 0 && psz > 0 ? (double)pages * (double)psz / (1024.0 * 1024.0) : 0;
    for (size_t i = 0; i < c->rules.n; i++) {
        const struct rule *r = &c->rules.items[i];
        char field[64], why[256], path[192];
        int next = 0;
        while (
            rule_unreachable(r, cpu_max, mem_mb, &next, field, sizeof(field), why, sizeof(why))) {
            rule_field_path(r, c->rules.is_indexed, field, path, sizeof(path));
            if (field[0] == 'c')
                log_warn("config", "%s: %s on this host (%ld cores; %s)", path, why, ncpus,
                         c->pod_cpu_limit_millis ? "CPU in percent of FLAMESHOT_POD_CPU_LIMIT"
                                                 : "CPU in percent of one core");
            else
                log_warn("config", "%s: %s on this host (%.0f MB of memory)", path, why, mem_mb);
        }
    }
}

static int load_node(struct loader *l, struct config *c)
{
    const char *v = var(l, "FLAMESHOT_NODE_NAME");
    if (v)
        return dup_into(&c->node_name, v);
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        return fail(l, "FLAMESHOT_NODE_NAME", "unset and the hostname is unavailable");
    return dup_into(&c->node_name, host);
}

/* kubernetes mode's API server: FLAMESHOT_KUBE_API (https://host[:port],
 * nothing after), else the in-cluster address (an IPv6 host in brackets).
 * Without either kubernetes mode cannot work (only Pods it knows are ever
 * targets): an error. Unused, so not loaded, in standalone. */
static int load_kube(struct loader *l, struct config *c)
{
    if (c->mode != FS_MODE_KUBERNETES)
        return 0;
    int rc = load_string(l, "FLAMESHOT_KUBE_SA_DIR", KUBE_SA_DIR_DEFAULT, &c->kube_sa_dir);
    const char *v = var(l, "FLAMESHOT_KUBE_API");
    const char *host = var(l, "KUBERNETES_SERVICE_HOST"), *port = var(l, "KUBERNETES_SERVICE_PORT");
    if (rc)
        return rc;
    if (!v && !host)
        return fail(
            l, "FLAMESHOT_KUBE_API",
            "kubernetes mode needs the API server: unset, and so is "
            "KUBERNETES_SERVICE_HOST (not in a Pod?); set it, or FLAMESHOT_MODE=standalone");
    if (!v) {
        char url[320];
        bool v6 = strchr(host, ':') != NULL;
        snprintf(url, sizeof(url), "https://%s%.*s%s:%s", v6 ? "[" : "", (int)(sizeof(url) / 2),
                 host, v6 ? "]" : "", port ? port : "443");
        return dup_into(&c->kube_api, url);
    }
    const char *hp = v + 8; /* host[:port] */
    size_t n = strlen(v);
    if (strncmp(v, "https://", 8) != 0 || !*hp || *hp == '/' || n > 300 ||
        strcspn(hp, "/?# \t@") < strlen(hp) - (hp[strlen(hp) - 1] == '/'))
        return fail(l, "FLAMESHOT_KUBE_API", "\"%s\" is not https://host[:port]", v);
    return dup_into(&c->kube_api, v);
}

/* One container's share of the workers and of the queue: below the whole
 * by default, so that one tenant cannot starve the node. */
static int load_container_share(struct loader *l, struct config *c)
{
    uint64_t running = 1, queued = 8; /* the defaults */
    int rc = load_uint(l, "FLAMESHOT_MAX_JOBS_PER_CONTAINER", NULL, running, 1, MAX_JOBS, &running);
    if (rc == 0)
        rc = load_uint(l, "FLAMESHOT_MAX_QUEUED_PER_CONTAINER", NULL, queued, 1, MAX_JOBS, &queued);
    if (rc == 0 && running > (uint64_t)c->max_concurrent_jobs)
        return fail(l, "FLAMESHOT_MAX_JOBS_PER_CONTAINER",
                    "%llu is more than FLAMESHOT_MAX_CONCURRENT_JOBS (%d): it could never be "
                    "reached",
                    (unsigned long long)running, c->max_concurrent_jobs);
    c->max_jobs_per_container = (int)running;
    c->max_queued_per_container = (int)queued;
    return rc;
}

/* A sidecar's variables: one Pod's limits. On a DaemonSet they would give
 * every Pod of the node that one Pod's limit. */
static int refuse_pod_limits(struct loader *l, const struct config *c)
{
    static const char *const names[] = {"FLAMESHOT_POD_MEM_LIMIT", "FLAMESHOT_POD_CPU_LIMIT"};
    for (size_t i = 0; c->mode == FS_MODE_KUBERNETES && i < 2; i++) {
        const char *v = var(l, names[i]);
        if (v && *v)
            return fail(l, names[i],
                        "not used in kubernetes mode: each container's limits are read from its "
                        "own cgroup (memory limit, CPU quota); unset it");
    }
    return 0;
}

static int load_limits(struct loader *l, struct config *c)
{
    uint64_t jobs = 2;
    int rc = refuse_pod_limits(l, c);
    rc =
        rc ?: load_uint(l, "FLAMESHOT_POD_MEM_LIMIT", "Mi", 0, 1, UINT32_MAX, &c->pod_mem_limit_mb);
    if (rc == 0)
        rc = load_uint(l, "FLAMESHOT_POD_CPU_LIMIT", "m", 0, 1, 1u << 24, &c->pod_cpu_limit_millis);
    if (rc == 0)
        rc = load_uint(l, "FLAMESHOT_MAX_CONCURRENT_JOBS", NULL, 2, 1, MAX_JOBS, &jobs);
    if (rc == 0)
        rc = load_uint(l, "FLAMESHOT_SPOOL_MAX_MB", NULL, 1024, 1, 1u << 30, &c->spool_max_mb);
    /* a JFR over the cap is refused unread; a larger cap than the budget
     * could never be kept */
    if (rc == 0)
        rc = load_uint(l, "FLAMESHOT_MAX_PROFILE_MB", NULL,
                       c->spool_max_mb < 256 ? c->spool_max_mb : 256, 1, 1u << 30,
                       &c->max_profile_mb);
    if (rc == 0 && c->max_profile_mb > c->spool_max_mb)
        rc = fail(l, "FLAMESHOT_MAX_PROFILE_MB",
                  "%llu is more than FLAMESHOT_SPOOL_MAX_MB (%llu): no profile that large could "
                  "be kept",
                  (unsigned long long)c->max_profile_mb, (unsigned long long)c->spool_max_mb);
    c->max_concurrent_jobs = (int)jobs;
    return rc ?: load_container_share(l, c);
}

static int load_features(struct loader *l, struct config *c)
{
    int rc =
        load_bool(l, "FLAMESHOT_OOM_HPROF_ENABLED", c->oom_hprof_enabled, &c->oom_hprof_enabled);
    if (rc == 0)
        rc = load_duration(l, "FLAMESHOT_OOM_HPROF_MATCH_WINDOW", c->oom_hprof_match_window_ms,
                           1000, &c->oom_hprof_match_window_ms);
    if (rc == 0)
        rc = load_bool(l, "FLAMESHOT_JCMD_SNAPSHOT_ENABLED", c->jcmd_snapshot_enabled,
                       &c->jcmd_snapshot_enabled);
    if (rc == 0)
        rc = load_duration(l, "FLAMESHOT_JCMD_TIMEOUT", c->jcmd_timeout_ms, 100,
                           &c->jcmd_timeout_ms);
    return rc;
}

/* Flameshot's profiling switch and active heap dumps. */
#define HEAP_DUMP_TEMPLATE_DEFAULT                                                                 \
    "{profiling_path}/dumps/{service}_{pod_name}_{pid}_{timestamp}.hprof"
static int load_heap_dump(struct loader *l, struct config *c)
{
    char why[256];
    uint64_t min = c->short_intervals ? 1 : 1000;
    int rc = load_bool(l, "FLAMESHOT_PROFILING_ENABLED", true, &c->profiling_enabled);
    rc = rc ?: load_bool(l, "FLAMESHOT_HEAP_DUMP_ENABLED", false, &c->heap_dump_enabled);
    rc = rc
             ?: load_duration(l, "FLAMESHOT_HEAP_DUMP_TIMEOUT", 120000, 1000,
                              &c->heap_dump_timeout_ms);
    rc = rc
             ?: load_duration(l, "FLAMESHOT_HEAP_DUMP_COOLDOWN", 600000, min,
                              &c->heap_dump_cooldown_ms);
    rc = rc
             ?: load_string(l, "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE", HEAP_DUMP_TEMPLATE_DEFAULT,
                            &c->heap_dump_path_template);
    if (rc == 0 && pathtpl_check(c->heap_dump_path_template, why, sizeof(why)) < 0)
        return fail(l, "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE", "\"%s\": %s",
                    c->heap_dump_path_template, why);
    return rc;
}

/* ---- heap dumps to object storage (FLAMESHOT_HPROF_UPLOAD_*) ------------ */

static int refuse_assume_role(struct loader *l)
{
    const char *t = var(l, "FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE");
    if (t && strcasecmp(t, "static"))
        return fail(l, "FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE",
                    "\"%s\" is not supported: only \"static\" keys are (AssumeRole is not "
                    "supported in this version; pass STS credentials through "
                    "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID, _ACCESS_KEY_SECRET and _SECURITY_TOKEN)",
                    t);
    for (size_t i = 0; i < sizeof(assume_role_vars) / sizeof(assume_role_vars[0]); i++)
        if (var(l, assume_role_vars[i]))
            return fail(l, assume_role_vars[i],
                        "AssumeRole is not supported in this version; pass STS credentials "
                        "through FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID, _ACCESS_KEY_SECRET and "
                        "_SECURITY_TOKEN");
    return 0;
}

static int require_upload(struct loader *l, const char *name, char *v)
{
    return v ? 0 : fail(l, name, "is required when FLAMESHOT_HPROF_UPLOAD_ENABLED is true");
}

static int load_hprof_upload(struct loader *l, struct config *c)
{
    struct config_hprof_upload *u = &c->hprof_upload;
    int rc = refuse_assume_role(l);
    rc = rc ?: load_bool(l, "FLAMESHOT_HPROF_UPLOAD_ENABLED", false, &u->enabled);
    rc = rc ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_PROVIDER", NULL, &u->provider);
    rc = rc ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_ENDPOINT", NULL, &u->endpoint);
    rc = rc ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_REGION", NULL, &u->region);
    rc = rc ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_BUCKET", NULL, &u->bucket);
    rc = rc ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID", NULL, &u->access_key_id);
    rc = rc
             ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET", NULL,
                            &u->access_key_secret);
    rc = rc ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_SECURITY_TOKEN", NULL, &u->security_token);
    rc = rc
             ?: load_string(l, "FLAMESHOT_HPROF_UPLOAD_PATH_TEMPLATE",
                            "{service}/{pod_name}/{timestamp}/{filename}", &u->path_template);
    rc = rc
             ?: load_string(l, "FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE", NULL,
                            &u->download_url_template);
    rc = rc ?: load_duration(l, "FLAMESHOT_HPROF_UPLOAD_TIMEOUT", 300000, 1000, &u->timeout_ms);
    rc = rc ?: load_bool(l, "FLAMESHOT_HPROF_UPLOAD_S3_PATH_STYLE", true, &u->s3_path_style);
    if (rc || !u->enabled)
        return rc;
    rc = require_upload(l, "FLAMESHOT_HPROF_UPLOAD_PROVIDER", u->provider);
    for (char *p = u->provider; rc == 0 && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (rc == 0 && strcmp(u->provider, "s3") && strcmp(u->provider, "oss"))
        rc = fail(l, "FLAMESHOT_HPROF_UPLOAD_PROVIDER", "\"%s\" is not supported (s3 or oss)",
                  u->provider);
    rc = rc ?: require_upload(l, "FLAMESHOT_HPROF_UPLOAD_ENDPOINT", u->endpoint);
    rc = rc ?: require_upload(l, "FLAMESHOT_HPROF_UPLOAD_BUCKET", u->bucket);
    rc = rc ?: require_upload(l, "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID", u->access_key_id);
    rc = rc ?: require_upload(l, "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET", u->access_key_secret);
    if (rc == 0 && !strcmp(u->provider, "s3") && !u->region)
        rc = dup_into(&u->region, "us-east-1");
    return rc;
}

static void free_hprof_upload(struct config_hprof_upload *u)
{
    char **secrets[] = {&u->access_key_secret, &u->security_token};
    for (size_t i = 0; i < 2; i++)
        if (*secrets[i])
            explicit_bzero(*secrets[i], strlen(*secrets[i]));
    free(u->provider);
    free(u->endpoint);
    free(u->region);
    free(u->bucket);
    free(u->access_key_id);
    free(u->access_key_secret);
    free(u->security_token);
    free(u->path_template);
    free(u->download_url_template);
}

/* The settings for /v1/status: what core/redact takes for a secret shows
 * as "***" (access_key_secret, security_token), never its value. */
static void add_hprof_upload_json(cJSON *o, const struct config *c)
{
    const struct config_hprof_upload *u = &c->hprof_upload;
    cJSON *j = cJSON_AddObjectToObject(o, "hprof_upload");
    const struct {
        const char *name, *value;
    } s[] = {{"provider", u->provider},
             {"endpoint", u->endpoint},
             {"region", u->region},
             {"bucket", u->bucket},
             {"access_key_id", u->access_key_id},
             {"access_key_secret", u->access_key_secret},
             {"security_token", u->security_token},
             {"path_template", u->path_template},
             {"download_url_template", u->download_url_template}};
    cJSON_AddBoolToObject(j, "enabled", u->enabled);
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        if (!s[i].value)
            cJSON_AddNullToObject(j, s[i].name);
        else
            cJSON_AddStringToObject(
                j, s[i].name, redact_secret_key(s[i].name, strlen(s[i].name)) ? "***" : s[i].value);
    }
    json_add_duration(j, "timeout", u->timeout_ms);
    cJSON_AddBoolToObject(j, "s3_path_style", u->s3_path_style);
}

/* The defaults of the settings a Pod may override: loading reads each over
 * the value already there, so config_override applies only what is set. */
static void set_override_defaults(struct config *c)
{
    c->auto_profiling_ms = 0; /* off */
    c->auto_profiling_duration_ms = 30000;
    c->oom_hprof_enabled = false;
    c->oom_hprof_match_window_ms = 120000;
    c->jcmd_snapshot_enabled = true;
    c->jcmd_timeout_ms = 10000;
}

int config_override(struct config *cfg, config_getenv_fn get, void *arg, struct config_error *err)
{
    struct loader l = {.get = get, .arg = arg, .err = err};
    memset(err, 0, sizeof(*err));
    int rc = load_auto_profiling(&l, cfg);
    return rc ?: load_features(&l, cfg);
}

/* A namespace name is a DNS label: [a-z0-9-], at most 63, alphanumeric at
 * both ends (the API server refuses anything else). */
static bool is_dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* A comma list of namespaces (spaces around items tolerated) into *out. */
static int load_namespaces(struct loader *l, const char *name, struct config_list *out)
{
    const char *v = var(l, name);
    for (size_t i = 0; v; i++) { /* "a," has an empty second item: refused */
        const char *comma = strchr(v, ',');
        size_t n = comma ? (size_t)(comma - v) : strlen(v);
        while (n && (*v == ' ' || *v == '\t'))
            v++, n--;
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        char path[64];
        snprintf(path, sizeof(path), "%s[%zu]", name, i);
        if (!is_dns_label(v, n))
            return fail(l, path, "\"%.*s\" is not a namespace name (a DNS label: a-z, 0-9, '-')",
                        (int)n, v);
        char **grown = realloc(out->items, (out->n + 1) * sizeof(*grown));
        if (!grown || !(grown[out->n] = strndup(v, n))) {
            out->items = grown ? grown : out->items;
            return -ENOMEM;
        }
        out->items = grown;
        out->n++;
        v = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int load_selection(struct loader *l, struct config *c)
{
    int rc = load_namespaces(l, "FLAMESHOT_NAMESPACES", &c->namespaces);
    return rc ?: load_namespaces(l, "FLAMESHOT_EXCLUDE_NAMESPACES", &c->exclude_namespaces);
}

bool config_namespace_selected(const struct config *cfg, const char *ns)
{
    bool in = cfg->namespaces.n == 0;
    for (size_t i = 0; i < cfg->namespaces.n; i++)
        in = in || strcmp(cfg->namespaces.items[i], ns) == 0;
    for (size_t i = 0; i < cfg->exclude_namespaces.n; i++)
        in = in && strcmp(cfg->exclude_namespaces.items[i], ns) != 0;
    return in;
}

int config_load(struct config *cfg, config_getenv_fn get, void *arg, struct config_error *err)
{
    struct loader l = {.get = get ? get : env_get, .arg = arg, .err = err};
    memset(cfg, 0, sizeof(*cfg));
    memset(err, 0, sizeof(*err));
    set_override_defaults(cfg);

    int rc = load_bool(&l, "FLAMESHOT_TEST_SHORT_INTERVALS", false, &cfg->short_intervals);
    uint64_t host_pid = 1;
    if (rc == 0)
        rc = load_uint(&l, "FLAMESHOT_TEST_HOST_PID", NULL, 1, 1, INT32_MAX, &host_pid);
    cfg->host_pid = (int)host_pid;
    if (rc == 0)
        rc = load_mode(&l, cfg);
    if (rc == 0)
        rc = load_log_level(&l, cfg);
    if (rc == 0)
        rc = load_datakit(&l, cfg);
    /* without DataKit everything is kept locally anyway */
    if (rc == 0)
        rc = load_bool(&l, "FLAMESHOT_LOCAL_KEEP", false, &cfg->local_keep);
    if (rc == 0)
        rc = load_uint(&l, "FLAMESHOT_UI_MAX_KB", NULL, 65536, 1, 1u << 22, &cfg->ui_max_kb);
    if (rc == 0)
        rc = load_paths(&l, cfg);
    if (rc == 0)
        rc = load_monitor_interval(&l, cfg);
    if (rc == 0)
        rc = load_auto_profiling(&l, cfg);
    if (rc == 0)
        rc = load_features(&l, cfg);
    if (rc == 0)
        rc = load_bool(&l, "FLAMESHOT_ATTACH_PREWARM", true, &cfg->attach_prewarm);
    if (rc == 0)
        rc = load_limits(&l, cfg);
    if (rc == 0)
        rc = load_heap_dump(&l, cfg);
    if (rc == 0)
        rc = load_http(&l, cfg);
    if (rc == 0)
        rc = load_string(&l, "FLAMESHOT_SERVICE", NULL, &cfg->service);
    if (rc == 0)
        rc = load_tags(&l, cfg);
    if (rc == 0)
        rc = load_rules(&l, cfg);
    if (rc == 0) {
        warn_unreachable(cfg);
        rc = load_node(&l, cfg);
    }
    if (rc == 0)
        rc = load_bpf(&l, cfg);
    if (rc == 0)
        rc = load_kube(&l, cfg);
    if (rc == 0)
        rc = load_selection(&l, cfg);
    if (rc == 0)
        rc = load_hprof_upload(&l, cfg);
    if (rc == -ENOMEM)
        fail(&l, "config", "out of memory");
    if (rc < 0)
        config_free(cfg);
    return rc;
}

static const char *envp_get(const char *name, void *arg)
{
    size_t n = strlen(name);
    for (char *const *e = arg; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* FLAMESHOT_PROCESSES_<i>_<FIELD>: an unknown FIELD gets a did-you-mean; a
 * rule after the end of the list (config_load refuses one at the end
 * itself) would be dropped, so it is named. Returns false for other names. */
static bool check_indexed(char *const *envp, const char *name,
                          void (*report)(const char *name, const char *near, void *arg), void *arg)
{
    int index, n = 0;
    const char *suffix, *near = NULL;
    char why[160];
    if (!rules_indexed_split(name, &index, &suffix))
        return false;
    if (!rules_indexed_field(suffix, &near)) {
        snprintf(why, sizeof(why), "FLAMESHOT_PROCESSES_%d_%s", index, near ? near : "");
        report(name, near ? why : NULL, arg);
        return true;
    }
    for (;; n++) {
        char service[64];
        snprintf(service, sizeof(service), "FLAMESHOT_PROCESSES_%d_SERVICE", n);
        const char *v = envp_get(service, (void *)envp);
        if (!v || !*v)
            break;
    }
    if (index > n) {
        snprintf(why, sizeof(why),
                 "(FLAMESHOT_PROCESSES_%d_SERVICE is unset: the indexed list ends there, as in "
                 "Flameshot)",
                 n);
        report(name, why, arg);
    }
    return true;
}

void config_check_unknown(char *const *envp,
                          void (*report)(const char *name, const char *near, void *arg), void *arg)
{
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, "FLAMESHOT_", 10) != 0)
            continue;
        char name[128];
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        snprintf(name, sizeof(name), "%.*s", (int)len, *e);
        if (check_indexed(envp, name, report, arg))
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof(known_vars) / sizeof(known_vars[0]); i++)
            known = known || strcmp(name, known_vars[i]) == 0;
        for (size_t i = 0; i < sizeof(assume_role_vars) / sizeof(assume_role_vars[0]); i++)
            known = known || strcmp(name, assume_role_vars[i]) == 0;
        for (size_t i = 0; i < sizeof(ignored_vars) / sizeof(ignored_vars[0]); i++)
            if (strcmp(name, ignored_vars[i].name) == 0) {
                report(name, ignored_vars[i].why, arg);
                known = true;
            }
        if (known)
            continue;
        report(name, rules_closest(name, known_vars, sizeof(known_vars) / sizeof(known_vars[0])),
               arg);
    }
}

static void list_free(struct config_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
}

void config_free(struct config *cfg)
{
    free(cfg->datakit_addr);
    free(cfg->profiling_path);
    free(cfg->http_ip);
    free(cfg->service);
    free(cfg->node_name);
    free(cfg->kube_api);
    free(cfg->kube_sa_dir);
    free(cfg->async_profiler_path);
    free(cfg->http_token);
    free(cfg->heap_dump_path_template);
    tags_free(&cfg->tags);
    rules_free(&cfg->rules);
    list_free(&cfg->namespaces);
    list_free(&cfg->exclude_namespaces);
    free_hprof_upload(&cfg->hprof_upload);
    memset(cfg, 0, sizeof(*cfg));
}

const char *config_mode_name(enum fs_mode mode)
{
    switch (mode) {
    case FS_MODE_KUBERNETES:
        return "kubernetes";
    case FS_MODE_STANDALONE:
        return "standalone";
    default:
        return "auto";
    }
}

const char *config_bpf_name(enum fs_bpf_mode bpf)
{
    return bpf == FS_BPF_ON ? "on" : bpf == FS_BPF_OFF ? "off" : "auto";
}

static void add_list_json(cJSON *o, const char *name, const struct config_list *list)
{
    if (!list->n) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    cJSON *a = cJSON_AddArrayToObject(o, name);
    for (size_t i = 0; a && i < list->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(list->items[i]));
}

static void add_limits_json(cJSON *o, const struct config *c)
{
    if (c->pod_mem_limit_mb)
        cJSON_AddNumberToObject(o, "pod_mem_limit_mb", (double)c->pod_mem_limit_mb);
    else
        cJSON_AddNullToObject(o, "pod_mem_limit_mb");
    if (c->pod_cpu_limit_millis)
        cJSON_AddNumberToObject(o, "pod_cpu_limit_millicores", (double)c->pod_cpu_limit_millis);
    else
        cJSON_AddNullToObject(o, "pod_cpu_limit_millicores");
}

cJSON *config_to_json(const struct config *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "mode", config_mode_name(c->mode));
    cJSON_AddStringToObject(o, "mode_requested", config_mode_name(c->mode_requested));
    json_add_str_or_null(o, "datakit_addr", c->datakit_addr);
    cJSON_AddStringToObject(o, "sink", c->datakit_addr ? "datakit" : "local");
    cJSON_AddBoolToObject(o, "local_keep", c->local_keep || !c->datakit_addr);
    cJSON_AddNumberToObject(o, "ui_max_kb", (double)c->ui_max_kb);
    cJSON_AddStringToObject(o, "profiling_path", c->profiling_path);
    json_add_duration(o, "monitor_interval", c->monitor_interval_ms);
    cJSON_AddStringToObject(o, "log_level", log_level_name((enum log_level)c->log_level));
    if (c->auto_profiling_ms)
        json_add_duration(o, "auto_profiling", c->auto_profiling_ms);
    else
        cJSON_AddNullToObject(o, "auto_profiling");
    json_add_duration(o, "auto_profiling_duration", c->auto_profiling_duration_ms);
    cJSON_AddBoolToObject(o, "oom_hprof_enabled", c->oom_hprof_enabled);
    json_add_duration(o, "oom_hprof_match_window", c->oom_hprof_match_window_ms);
    cJSON_AddBoolToObject(o, "jcmd_snapshot_enabled", c->jcmd_snapshot_enabled);
    json_add_duration(o, "jcmd_timeout", c->jcmd_timeout_ms);
    cJSON_AddBoolToObject(o, "attach_prewarm", c->attach_prewarm);
    add_limits_json(o, c);
    cJSON_AddStringToObject(o, "http_local_ip", c->http_ip);
    cJSON_AddNumberToObject(o, "http_local_port", c->http_port);
    cJSON_AddStringToObject(o, "http_token", c->http_token ? "(set)" : "(unset)");
    cJSON_AddBoolToObject(o, "http_insecure", c->http_insecure);
    json_add_str_or_null(o, "service", c->service);
    cJSON *tags = cJSON_AddObjectToObject(o, "tags");
    for (size_t i = 0; tags && i < c->tags.n; i++)
        cJSON_AddStringToObject(tags, c->tags.items[i].key, c->tags.items[i].value);
    cJSON_AddStringToObject(o, "node_name", c->node_name);
    if (c->mode == FS_MODE_KUBERNETES) {
        json_add_str_or_null(o, "kube_api", c->kube_api);
        cJSON_AddStringToObject(o, "kube_sa_dir", c->kube_sa_dir);
    }
    add_list_json(o, "namespaces", &c->namespaces);
    add_list_json(o, "exclude_namespaces", &c->exclude_namespaces);
    cJSON_AddStringToObject(o, "async_profiler_path", c->async_profiler_path);
    cJSON_AddStringToObject(o, "bpf", config_bpf_name(c->bpf));
    cJSON_AddNumberToObject(o, "bpf_ring_kb", c->bpf_ring_kb);
    json_add_duration(o, "evidence_lead", c->evidence_lead_ms);
    cJSON_AddNumberToObject(o, "max_concurrent_jobs", c->max_concurrent_jobs);
    cJSON_AddNumberToObject(o, "max_jobs_per_container", c->max_jobs_per_container);
    cJSON_AddNumberToObject(o, "max_queued_per_container", c->max_queued_per_container);
    cJSON_AddNumberToObject(o, "spool_max_mb", (double)c->spool_max_mb);
    cJSON_AddNumberToObject(o, "max_profile_mb", (double)c->max_profile_mb);
    cJSON_AddBoolToObject(o, "profiling_enabled", c->profiling_enabled);
    cJSON_AddBoolToObject(o, "heap_dump_enabled", c->heap_dump_enabled);
    json_add_duration(o, "heap_dump_timeout", c->heap_dump_timeout_ms);
    json_add_duration(o, "heap_dump_cooldown", c->heap_dump_cooldown_ms);
    cJSON_AddStringToObject(o, "heap_dump_path_template", c->heap_dump_path_template);
    cJSON_AddBoolToObject(o, "processes_default", c->rules.is_default);
    cJSON_AddBoolToObject(o, "processes_indexed", c->rules.is_indexed);
    cJSON *rules = cJSON_AddArrayToObject(o, "processes");
    for (size_t i = 0; rules && i < c->rules.n; i++)
        cJSON_AddItemToArray(rules, rule_to_json(&c->rules.items[i]));
    add_hprof_upload_json(o, c);
    if (c->short_intervals)
        cJSON_AddBoolToObject(o, "test_short_intervals", true);
    return o;
}
