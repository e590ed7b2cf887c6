#include "http/capture_api.h"

#include "core/vec.h"
#include "core/rx.h"

#include "core/log.h"
#include "core/redact.h"
#include "policy/jobs.h"
#include "policy/monitor.h"
#include "events/procfs.h"
#include "core/rules.h"
#include "capture/snapshot.h"
#include "policy/targets.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PID_MAX 4194304 /* PID_MAX_LIMIT on 64-bit kernels */

/* Bounds on decoded values: a pid has at most 7 digits, a Kubernetes
 * namespace 63 bytes, a Pod or container name 253. */
static const struct query_spec profile_params[] = {
    {"pid", 16},        {"command", CAPTURE_API_MAX_REGEX},
    {"duration", 32},   {"events", 256},
    {"namespace", 63},  {"pod", 253},
    {"container", 253}, {NULL, 0},
};

static const struct query_spec snapshot_params[] = {
    {"pid", 16},  {"command", CAPTURE_API_MAX_REGEX},
    {"type", 32}, {"namespace", 63},
    {"pod", 253}, {"container", 253},
    {NULL, 0},
};

const struct query_spec *capture_api_params(enum capture_kind capture)
{
    return capture == CAPTURE_SNAPSHOT ? snapshot_params : profile_params;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(detail, cap, __VA_ARGS__);                                                        \
        return -EINVAL;                                                                            \
    } while (0)

static int parse_pid(const char *v, int *pid, char *detail, size_t cap)
{
    uint64_t u;
    char pv[40];
    if (!v[0])
        BAD("pid: empty (want a process id, e.g. pid=1234)");
    int rc = units_parse_u64(v, PID_MAX, &u);
    if (rc == -EINVAL)
        BAD("pid: \"%s\" is not a number", query_printable(v, pv, sizeof(pv)));
    if (rc < 0 || u == 0)
        BAD("pid: %s is out of range (1..%d)", query_printable(v, pv, sizeof(pv)), PID_MAX);
    *pid = (int)u;
    return 0;
}

static int compile(const char *v, struct capture_api_request *req, char *detail, size_t cap)
{
    char why[400];
    if (!v[0])
        BAD("command: empty regex (want e.g. command=Burner)");
    void *re = rx_compile(v, true, why, sizeof(why));
    if (!re)
        BAD("command: %s", why);
    snprintf(req->command, sizeof(req->command), "%s", v);
    req->re = re;
    return 0;
}

static int parse_duration(const char *v, uint64_t *ms, char *detail, size_t cap)
{
    const char *why;
    char pv[40];
    *ms = CAPTURE_API_DEFAULT_DURATION_MS;
    if (!v)
        return 0;
    if (units_parse_duration(v, ms, &why) < 0)
        BAD("duration: \"%s\": %s", query_printable(v, pv, sizeof(pv)), why);
    if (*ms < CAPTURE_API_MIN_DURATION_MS || *ms > CAPTURE_API_MAX_DURATION_MS)
        BAD("duration: %s is out of range (1s..5m)", query_printable(v, pv, sizeof(pv)));
    return 0;
}

static int parse_events(const char *v, unsigned *mask, char *detail, size_t cap)
{
    const char *why;
    char bad[64], pv[72];
    *mask = 0; /* each target's rule */
    if (v && prof_events_parse(v, mask, &why, bad, sizeof(bad)) < 0)
        BAD("events: %s%s%s%s", bad[0] ? "\"" : "",
            bad[0] ? query_printable(bad, pv, sizeof(pv)) : "", bad[0] ? "\": " : "", why);
    return 0;
}

static int parse_type(const char *v, int *type, char *detail, size_t cap)
{
    char pv[40];
    *type = -1;
    if (!v)
        return 0;
    for (int t = 0; t < SNAPSHOT_TYPES; t++)
        if (strcmp(v, snapshot_type_name((enum snapshot_type)t)) == 0) {
            *type = t;
            return 0;
        }
    BAD("type: \"%s\" is not a snapshot type (thread_print or gc_class_histogram)",
        query_printable(v, pv, sizeof(pv)));
}

static int parse_pod(const struct httpq *q, bool kubernetes, struct capture_api_request *req,
                     char *detail, size_t cap)
{
    const char *ns = query_get(q, "namespace"), *pod = query_get(q, "pod"),
               *ct = query_get(q, "container");
    if (!ns && !pod && !ct)
        return 0;
    if (!kubernetes)
        BAD("namespace, pod and container select a Pod's containers and need Kubernetes mode; "
            "this agent runs in standalone mode (select by pid or command)");
    if (pod && !ns)
        BAD("pod: needs namespace too (namespace=...&pod=...)");
    if ((ns && !ns[0]) || (pod && !pod[0]) || (ct && !ct[0]))
        BAD("namespace, pod and container must not be empty when given");
    snprintf(req->namespace_, sizeof(req->namespace_), "%s", ns ? ns : "");
    snprintf(req->pod, sizeof(req->pod), "%s", pod ? pod : "");
    snprintf(req->container, sizeof(req->container), "%s", ct ? ct : "");
    return 0;
}

static int parse_all(enum capture_kind capture, const struct httpq *q, bool kubernetes,
                     struct capture_api_request *req, char *detail, size_t cap)
{
    const char *pid = query_get(q, "pid"), *command = query_get(q, "command");
    int rc = parse_pod(q, kubernetes, req, detail, cap);
    if (rc == 0 && capture == CAPTURE_PROFILE)
        rc = parse_duration(query_get(q, "duration"), &req->duration_ms, detail, cap);
    if (rc == 0 && capture == CAPTURE_PROFILE)
        rc = parse_events(query_get(q, "events"), &req->events, detail, cap);
    if (rc == 0 && capture == CAPTURE_SNAPSHOT)
        rc = parse_type(query_get(q, "type"), &req->snapshot_type, detail, cap);
    if (rc < 0)
        return rc;
    if (pid) {
        req->command_ignored = command != NULL;
        return parse_pid(pid, &req->pid, detail, cap);
    }
    if (command)
        return compile(command, req, detail, cap);
    if (req->pod[0])
        return 0;
    BAD("pid or command is required%s",
        kubernetes ? " (or namespace and pod: every target of the Pod)" : "");
}

int capture_api_parse(enum capture_kind capture, const struct httpq *q, bool kubernetes,
                      struct capture_api_request *req, char *detail, size_t cap)
{
    memset(req, 0, sizeof(*req));
    req->capture = capture;
    req->snapshot_type = -1;
    int rc = parse_all(capture, q, kubernetes, req, detail, cap);
    if (rc < 0)
        capture_api_request_free(req);
    return rc;
}

void capture_api_request_free(struct capture_api_request *req)
{
    rx_free(req->re);
    req->re = NULL;
}

/* ---- resolution ------------------------------------------------------- */

/* What became of one matching target. */
struct entry {
    struct proc_ident id;
    char service[128];
    char container_id[65];
    char tenant[JOB_TENANT_LEN];
    struct target_pod pod;
    int rule;
    unsigned events;
    int rc;
    uint64_t job_id;
};

struct result {
    struct entry *e;
    size_t n, cap;
    bool match_limit; /* the regex hit PCRE2's match limit on some target */
};

static bool pod_match(const struct capture_api_request *r, const struct target *tg)
{
    return (!r->namespace_[0] || strcmp(r->namespace_, tg->pod.namespace_) == 0) &&
           (!r->pod[0] || strcmp(r->pod, tg->pod.name) == 0) &&
           (!r->container[0] || strcmp(r->container, tg->pod.container) == 0);
}

/* The regex sees the command line as /v1/targets shows it, secrets
 * masked: matching the raw one would let a client guess a password one
 * character at a time. Sets *err on PCRE2's match limit. */
static bool command_matches(const struct capture_api_request *r, const struct target *tg, int *err)
{
    bool redacted;
    char *shown = redact_argv(tg->argv, tg->argv_len, &redacted);
    int m = shown ? rx_match(r->re, shown, true) : 0;
    free(shown);
    if (m < 0)
        *err = 1;
    return m == 1;
}

static bool selected(const struct capture_api_request *r, const struct target *tg, int *err)
{
    if (!pod_match(r, tg))
        return false;
    if (r->pid)
        return (r->pod[0] ? tg->id.nspid : tg->id.pid) == r->pid;
    return !r->re || command_matches(r, tg, err); /* no regex: the whole Pod */
}

static int add_entry(struct result *res, const struct capture_api_request *r,
                     const struct target *tg)
{
    if (vec_grow(&res->e, &res->cap, res->n, sizeof(*res->e), 4) < 0)
        return -ENOMEM;
    struct entry *e = &res->e[res->n++];
    memset(e, 0, sizeof(*e));
    e->id = tg->id;
    snprintf(e->service, sizeof(e->service), "%s", tg->service);
    snprintf(e->container_id, sizeof(e->container_id), "%s",
             tg->has_cgroup ? tg->cg.container.id : "");
    snprintf(e->tenant, sizeof(e->tenant), "%s", target_tenant(tg));
    e->pod = tg->pod;
    e->rule = tg->rule ? tg->rule->index : -1;
    e->events = r->events                      ? r->events
                : tg->rule && tg->rule->events ? tg->rule->events
                                               : PROF_EV_DEFAULT;
    return 0;
}

static int queue_one(const struct capture_api_deps *d, const struct capture_api_request *r,
                     struct entry *e)
{
    char v[32];
    struct trigger t = {.kind = TRIGGER_HTTP, .capture = r->capture};
    if (r->capture == CAPTURE_PROFILE) {
        t.duration_ms = r->duration_ms;
        t.events = e->events;
    }
    snprintf(v, sizeof(v), "%d", r->pid);
    /* Flameshot's manual tags: pid:<pid> or command:<re> */
    int rc = tags_set(&t.why, "trigger", trigger_kind_name(TRIGGER_HTTP));
    if (rc == 0 && r->pid)
        rc = tags_set(&t.why, "pid", v);
    else if (rc == 0 && r->re)
        rc = tags_set(&t.why, "command", r->command);
    if (rc < 0) {
        trigger_free(&t);
        return rc;
    }
    return monitor_request(d->monitor, e->id.pid, &t, r->snapshot_type, &e->job_id);
}

/* Matches and queues under one hold of the table lock, so that the set of
 * targets answered is the set queued. */
static int resolve(const struct capture_api_deps *d, const struct capture_api_request *r,
                   struct result *res)
{
    int rc = 0;
    targets_lock(d->targets);
    for (size_t i = 0; rc == 0 && i < targets_count(d->targets); i++) {
        struct target *tg = targets_at(d->targets, i);
        int err = 0;
        if (selected(r, tg, &err))
            rc = add_entry(res, r, tg);
        if (err)
            res->match_limit = true;
    }
    for (size_t i = 0; rc == 0 && !res->match_limit && i < res->n; i++)
        res->e[i].rc = queue_one(d, r, &res->e[i]);
    targets_unlock(d->targets);
    return rc;
}

/* ---- answers ---------------------------------------------------------- */

static bool has_pod(const struct capture_api_request *r)
{
    return r->namespace_[0] || r->pod[0] || r->container[0];
}

/* Why a live process is not a target. Returns 0 with the reason, or
 * -ESRCH/-ENOENT when there is no such process. */
static int why_not_target(const struct capture_api_deps *d, int pid, char *why, size_t cap)
{
    struct proc_ident id;
    char *line = NULL, *argv = NULL;
    size_t len = 0;
    int rc = procfs_ident(NULL, pid, &id);
    if (rc < 0)
        return rc;
    if (pid == getpid()) {
        snprintf(why, cap, "pid %d is the agent itself", pid);
        return 0;
    }
    rc = procfs_read_argv(NULL, pid, &argv, &len);
    if (rc == 0 && !(line = procfs_argv_join(argv, len)))
        rc = len ? -ENOMEM : -ENODATA;
    if (rc == -ENODATA)
        snprintf(why, cap, "pid %d (%s) is a kernel thread", pid, id.comm);
    else if (rc < 0 && rc != -ESRCH && rc != -ENOENT)
        snprintf(why, cap, "pid %d (%s): its command line cannot be read: %s", pid, id.comm,
                 strerror(-rc));
    else if (rc == 0 && targets_is_excluded(argv, len, id.comm, id.ppid))
        snprintf(why, cap,
                 "pid %d (%s) is a JDK tool or a capture helper of the agent: never a "
                 "target",
                 pid, id.comm);
    else if (rc == 0 && !rules_find(&d->cfg->rules, line, NULL))
        snprintf(why, cap, "pid %d (%s): no FLAMESHOT_PROCESSES rule matches its command line%s",
                 pid, id.comm, d->cfg->rules.is_default ? " (default rule: java processes)" : "");
    else if (rc == 0)
        snprintf(why, cap,
                 "pid %d (%s) matches a rule but is not watched yet (it may have just "
                 "started): retry",
                 pid, id.comm);
    free(line);
    free(argv);
    return rc == -ENODATA ? 0 : rc;
}

static const char *selection(const struct capture_api_request *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s%s", r->namespace_[0] ? "namespace " : "", r->namespace_,
             r->pod[0] ? " pod " : "", r->pod, r->container[0] ? " container " : "", r->container);
    return buf;
}

static int nothing_matched(const struct capture_api_deps *d, const struct capture_api_request *r,
                           const char **error, char *detail, size_t cap)
{
    char sel[600];
    if (has_pod(r)) {
        *error = "nothing matches";
        snprintf(detail, cap,
                 "no target in %s%s (only opted-in Pods' containers are targets: GET "
                 "/v1/pods shows each Pod's state and targets)",
                 selection(r, sel, sizeof(sel)),
                 r->pid  ? " has that pid"
                 : r->re ? " matches the regex"
                         : "");
        return 404;
    }
    /* The answer depends on the targets only: whether a process that is
     * not one exists, and what it is, stays on the node (in the log). */
    if (r->pid) {
        char why[512];
        if (why_not_target(d, r->pid, why, sizeof(why)) < 0)
            snprintf(why, sizeof(why), "no process with pid %d", r->pid);
        log_info("http", "pid %d is not a target: %s", r->pid, why);
        *error = "not a target";
        snprintf(detail, cap,
                 "no target has pid %d (GET /v1/targets lists them; the agent's log says why "
                 "a process is not one)",
                 r->pid);
        return 404;
    }
    *error = "nothing matches";
    snprintf(detail, cap,
             "no target's command line matches the regex (as GET /v1/targets shows them, "
             "secrets masked)");
    return 404;
}

static int count_rc(const struct result *res, int rc, const struct entry **first)
{
    int n = 0;
    for (size_t i = 0; i < res->n; i++)
        if (res->e[i].rc == rc && n++ == 0 && first)
            *first = &res->e[i];
    return n;
}

/* The status when targets matched: 202 if anything was queued, else the
 * most telling of the individual failures. */
static int decide(const struct capture_api_deps *d, const struct capture_api_request *r,
                  const struct result *res, const char **error, char *detail, size_t cap)
{
    const struct entry *e = NULL;
    if (count_rc(res, 0, NULL))
        return 202;
    if (count_rc(res, -ESHUTDOWN, NULL)) {
        *error = "shutting down";
        snprintf(detail, cap, "the agent is stopping and accepts no new jobs");
        return 503;
    }
    if (count_rc(res, -ENOSPC, NULL)) {
        *error = "job queue full";
        snprintf(detail, cap, "the job queue is full; retry later");
        return 429;
    }
    if (count_rc(res, -EDQUOT, &e)) {
        *error = "container queue full";
        snprintf(detail, cap,
                 "%s %s already has %d capture(s) waiting "
                 "(FLAMESHOT_MAX_QUEUED_PER_CONTAINER); retry later",
                 e->container_id[0] ? "container" : "cgroup", e->tenant,
                 d->cfg->max_queued_per_container);
        return 429;
    }
    if (count_rc(res, -EEXIST, &e)) {
        *error =
            r->capture == CAPTURE_PROFILE ? "already being profiled" : "already being snapshotted";
        snprintf(detail, cap, "pid %d: job %llu of this kind is queued or running%s", e->id.pid,
                 (unsigned long long)e->job_id,
                 res->n > 1 ? " (every matching target is busy: see targets)" : "");
        return 409;
    }
    if (count_rc(res, -ENOENT, NULL) == (int)res->n) {
        *error = "nothing matches";
        snprintf(detail, cap, "the matching target exited");
        return 404;
    }
    if (count_rc(res, -ESTALE, NULL) + count_rc(res, -ENOENT, NULL) == (int)res->n) {
        *error = "nothing matches";
        snprintf(detail, cap, "the matching target's Pod was deleted or has ended");
        return 404;
    }
    *error = "internal error";
    snprintf(detail, cap, "the job could not be queued: %s", strerror(-res->e[0].rc));
    return 500;
}

static const char *entry_status(int rc)
{
    switch (rc) {
    case 0:
        return "queued";
    case -EEXIST:
        return "already_running";
    case -ENOSPC:
        return "queue_full";
    case -EDQUOT:
        return "container_queue_full";
    case -ESHUTDOWN:
        return "shutting_down";
    case -ENOENT:
        return "exited";
    case -ESTALE:
        return "pod_ended";
    default:
        return "failed";
    }
}

static cJSON *entry_json(const struct capture_api_request *r, const struct entry *e)
{
    char ev[128];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pid", e->id.pid);
    cJSON_AddNumberToObject(o, "nspid", e->id.nspid);
    cJSON_AddStringToObject(o, "process_name", e->id.comm);
    cJSON_AddStringToObject(o, "service", e->service);
    cJSON_AddStringToObject(o, "container_id", e->container_id);
    cJSON_AddStringToObject(o, "tenant", e->tenant);
    if (e->pod.name[0]) {
        cJSON *p = cJSON_AddObjectToObject(o, "pod");
        cJSON_AddStringToObject(p, "namespace", e->pod.namespace_);
        cJSON_AddStringToObject(p, "name", e->pod.name);
        cJSON_AddStringToObject(p, "container", e->pod.container);
    }
    cJSON_AddNumberToObject(o, "rule", e->rule);
    if (r->capture == CAPTURE_PROFILE)
        cJSON_AddStringToObject(o, "events", prof_events_format(e->events, ev, sizeof(ev)));
    cJSON_AddStringToObject(o, "status", entry_status(e->rc));
    if (e->rc == 0 || e->rc == -EEXIST)
        cJSON_AddNumberToObject(o, "job_id", (double)e->job_id);
    if (e->rc == -EEXIST)
        cJSON_AddStringToObject(o, "error", "a job of this kind is already queued or running");
    else if (e->rc == -EDQUOT)
        cJSON_AddStringToObject(o, "error", "its container's share of the job queue is full");
    else if (e->rc < 0)
        cJSON_AddStringToObject(o, "error", strerror(-e->rc));
    return o;
}

static void add_request(cJSON *o, const struct capture_api_request *r)
{
    char b[64];
    cJSON_AddStringToObject(o, "capture", capture_kind_name(r->capture));
    cJSON_AddStringToObject(o, "trigger", trigger_kind_name(TRIGGER_HTTP));
    cJSON *s = cJSON_AddObjectToObject(o, "selector");
    if (r->pid)
        cJSON_AddNumberToObject(s, "pid", r->pid);
    if (r->re)
        cJSON_AddStringToObject(s, "command", r->command);
    if (r->namespace_[0])
        cJSON_AddStringToObject(s, "namespace", r->namespace_);
    if (r->pod[0])
        cJSON_AddStringToObject(s, "pod", r->pod);
    if (r->container[0])
        cJSON_AddStringToObject(s, "container", r->container);
    if (r->capture == CAPTURE_PROFILE) {
        cJSON_AddStringToObject(o, "duration", units_format_duration(r->duration_ms, b, sizeof(b)));
        cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
        cJSON_AddStringToObject(o, "events",
                                r->events ? prof_events_format(r->events, b, sizeof(b)) : "rule");
    } else {
        cJSON_AddStringToObject(
            o, "type", r->snapshot_type < 0 ? "all" : snapshot_type_name(r->snapshot_type));
    }
    if (r->command_ignored)
        cJSON_AddStringToObject(o, "note", "command ignored: pid takes precedence");
}

static cJSON *answer(const struct capture_api_request *r, const struct result *res, int status,
                     const char *error, const char *detail)
{
    cJSON *o = status == 202 ? cJSON_CreateObject() : query_error(error, detail);
    if (!o)
        return NULL;
    add_request(o, r);
    const struct entry *first = NULL;
    int queued = count_rc(res, 0, &first);
    cJSON_AddNumberToObject(o, "queued", queued);
    if (first)
        cJSON_AddNumberToObject(o, "job_id", (double)first->job_id);
    cJSON *ids = cJSON_AddArrayToObject(o, "job_ids");
    cJSON *arr = cJSON_AddArrayToObject(o, "targets");
    for (size_t i = 0; i < res->n; i++) {
        if (res->e[i].rc == 0)
            cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)res->e[i].job_id));
        cJSON_AddItemToArray(arr, entry_json(r, &res->e[i]));
    }
    return o;
}

int capture_api_run(const struct capture_api_deps *d, const struct capture_api_request *r,
                    cJSON **body)
{
    struct result res = {0};
    char detail[1024] = "";
    const char *error = "internal error";
    int status;
    if (r->capture == CAPTURE_PROFILE && !d->cfg->profiling_enabled) {
        status = 409; /* Flameshot's switch: nothing is resolved, nothing queued */
        error = "profiling disabled";
        snprintf(detail, sizeof(detail),
                 "FLAMESHOT_PROFILING_ENABLED=false: timed, threshold, cgroup high-water and HTTP "
                 "profiling are off on this node; OOM detection, jcmd snapshots, heap dumps and "
                 "uploads go on");
    } else if (resolve(d, r, &res) < 0) {
        status = 500;
        snprintf(detail, sizeof(detail), "out of memory");
    } else if (res.match_limit) {
        status = 400;
        error = "bad parameter";
        snprintf(detail, sizeof(detail),
                 "command: the regex exceeds PCRE2's match limit (%d "
                 "steps) on a target's command line; simplify it",
                 RX_UNTRUSTED_MATCH_LIMIT);
    } else if (res.n == 0) {
        status = nothing_matched(d, r, &error, detail, sizeof(detail));
    } else {
        status = decide(d, r, &res, &error, detail, sizeof(detail));
    }
    *body = answer(r, &res, status, error, detail);
    char who[CAPTURE_API_MAX_REGEX + 64];
    if (r->pid)
        snprintf(who, sizeof(who), "pid %d", r->pid);
    else if (r->re)
        snprintf(who, sizeof(who), "command %s", r->command);
    else
        snprintf(who, sizeof(who), "Pod %s/%s", r->namespace_, r->pod);
    if (status == 202)
        log_info("http", "%s request (%s): %d queued of %zu matching target(s)",
                 capture_kind_name(r->capture), who, count_rc(&res, 0, NULL), res.n);
    else
        log_info("http", "%s request (%s): %d %s: %s", capture_kind_name(r->capture), who, status,
                 error, detail);
    free(res.e);
    return *body ? status : 500;
}
