#include "policy/runner.h"

#include "outbox/artefact.h"
#include "capture/capture.h"
#include "core/log.h"
#include "outbox/outbox.h"
#include "policy/gopprof.h"
#include "capture/pprof_fetch.h"
#include "policy/heapjob.h"
#include "core/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void runner_target_fill(struct runner_target *rt, const struct target *tg)
{
    memset(rt, 0, sizeof(*rt));
    snprintf(rt->service, sizeof(rt->service), "%s", tg->service);
    if (tg->has_cgroup)
        snprintf(rt->container_id, sizeof(rt->container_id), "%s", tg->cg.container.id);
    rt->pod = tg->pod;
    rt->pod_ref = podref_get(tg->pod_ref);
    rt->settings = tg->settings;
}

void runner_target_copy(struct runner_target *dst, const struct runner_target *src)
{
    *dst = *src;
    podref_get(dst->pod_ref);
}

void runner_target_release(struct runner_target *rt)
{
    if (!rt)
        return;
    podref_put(rt->pod_ref);
    rt->pod_ref = NULL;
}

struct runner_target *runner_target_new(const struct target *tg)
{
    struct runner_target *rt = malloc(sizeof(*rt));
    if (rt)
        runner_target_fill(rt, tg);
    return rt;
}

void runner_target_free(void *payload)
{
    runner_target_release(payload);
    free(payload);
}

static int set_k8s(struct artefact_meta *m, const struct runner_target *rt)
{
    if (!rt->pod.name[0])
        return 0;
    int rc = artefact_set(&m->k8s.pod_name, rt->pod.name);
    rc = rc ?: artefact_set(&m->k8s.pod_namespace, rt->pod.namespace_);
    rc = rc ?: artefact_set(&m->k8s.pod_uid, rt->pod.uid);
    rc = rc ?: artefact_set(&m->k8s.container_name, rt->pod.container);
    rc = rc ?: artefact_set(&m->k8s.container_id, rt->container_id);
    return rc;
}

/* The tags of a Pod's container: one list, in podconfig_tags' order. */
static int pod_tags(struct artefact_meta *m, const struct config *cfg,
                    const struct runner_target *rt, const struct rule *rule)
{
    struct pod_container c = {0};
    struct tags t;
    snprintf(c.name, sizeof(c.name), "%s", rt->pod.container);
    snprintf(c.id, sizeof(c.id), "%s", rt->container_id);
    int rc = podconfig_tags(&rt->pod_ref->pc, cfg, &rt->pod_ref->pod, &c, rule, &t);
    if (rc == 0)
        rc = tags_merge(&m->global_tags, &t);
    tags_free(&t);
    return rc;
}

int runner_meta_base(struct artefact_meta *m, enum artefact_kind kind, const struct config *cfg,
                     const struct runner_target *rt, const struct proc_ident *id,
                     const struct rule *rule, const char *trigger)
{
    artefact_meta_init(m, kind);
    int rc = rt->pod_ref ? 0 : artefact_set(&m->service_override, cfg->service);
    rc = rc ?: artefact_set(&m->service, rt->service);
    rc = rc ?: artefact_set(&m->host, cfg->node_name);
    rc = rc ?: artefact_set(&m->process_name, id->comm);
    rc = rc ?: artefact_set(&m->trigger, trigger);
    if (rt->pod_ref) {
        rc = rc ?: pod_tags(m, cfg, rt, rule);
    } else {
        rc = rc ?: tags_merge(&m->global_tags, &cfg->tags);
        if (rule)
            rc = rc ?: tags_merge(&m->rule_tags, &rule->tags);
    }
    rc = rc ?: set_k8s(m, rt);
    m->pid = id->pid;
    m->nspid = id->nspid;
    return rc;
}

/* Everything every artefact of this job carries. */
static int base_meta(const struct runner *r, const struct job *job, enum artefact_kind kind,
                     struct artefact_meta *m)
{
    int rc = runner_meta_base(m, kind, r->cfg, job->payload, &job->target, job->rule,
                              trigger_kind_name(job->trigger.kind));
    rc = rc ?: tags_merge(&m->trigger_tags, &job->trigger.why);
    if (job->rule)
        rc = rc ?: artefact_set(&m->jdk_version, job->rule->jdk_version);
    return rc;
}

static void add_artefact(struct job_result *res, const char *kind, const char *name, uint64_t bytes)
{
    if (res->n_artefacts >= JOB_MAX_ARTEFACTS)
        return;
    struct job_artefact *a = &res->artefacts[res->n_artefacts++];
    snprintf(a->kind, sizeof(a->kind), "%s", kind);
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->bytes = bytes;
}

static enum job_state state_of(enum capture_outcome o)
{
    switch (o) {
    case CAPTURE_OUTCOME_OK:
        return JOB_DONE;
    case CAPTURE_OUTCOME_TARGET_EXITED:
        return JOB_TARGET_EXITED;
    case CAPTURE_OUTCOME_CANCELLED:
        return JOB_CANCELLED;
    default:
        return JOB_FAILED;
    }
}

/* Commits tx with m (when building m succeeded: rc 0) and records the
 * artefact; frees m. Returns 0 or -errno with res->reason set. */
static int commit(const struct runner *r, struct outbox_tx *tx, struct artefact_meta *m, int rc,
                  const char *kind, uint64_t bytes, struct job_result *res)
{
    struct outbox_receipt rcpt;
    char err[256] = "out of memory";
    if (rc == 0)
        rc = outbox_commit(r->outbox, tx, m, &rcpt, err, sizeof(err));
    else
        outbox_abort(r->outbox, tx);
    if (rc == 0)
        add_artefact(res, kind, rcpt.local_path[0] ? rcpt.local_path : rcpt.id, bytes);
    else
        snprintf(res->reason, sizeof(res->reason), "outbox: %s", err);
    artefact_meta_free(m);
    return rc;
}

/* Commits the JFR in tx; returns 0 or -errno with res->reason set. */
static int commit_profile(const struct runner *r, const struct job *job,
                          const struct profile_result *pr, struct outbox_tx *tx,
                          struct job_result *res)
{
    struct artefact_meta m;
    int rc = base_meta(r, job, ARTEFACT_PROFILE, &m);
    rc = rc ?: artefact_set(&m.library_type, pr->library_type);
    rc = rc ?: artefact_set(&m.library_version, pr->library_version);
    if (rc == 0 && !m.jdk_version && pr->jdk_version[0])
        rc = artefact_set(&m.jdk_version, pr->jdk_version);
    m.start_ns = pr->start_ns;
    m.end_ns = pr->end_ns;
    return commit(r, tx, &m, rc, "profile", pr->bytes, res);
}

/* An artefact past its cap (or the whole budget): refused or cut, nothing
 * kept. The job fails with a reason that starts "too_large". */
static void too_large(const struct runner *r, struct job_result *res, const char *why)
{
    char text[sizeof(res->reason)];
    snprintf(text, sizeof(text), "%s", why);
    res->state = JOB_FAILED;
    snprintf(res->reason, sizeof(res->reason), "too_large: %s", text);
    metrics_inc(r->metrics, too_large);
}

static void run_profile(const struct runner *r, const struct job *job, struct job_result *res)
{
    struct outbox_tx tx;
    int rc = outbox_begin(r->outbox, r->cfg->max_profile_mb << 20, &tx);
    if (rc < 0) {
        outbox_abort(r->outbox, &tx);
        res->state = JOB_FAILED;
        snprintf(res->reason, sizeof(res->reason), "outbox: %s", strerror(-rc));
        return;
    }
    struct profile_req req = {
        .events = job->trigger.events,
        .duration_ms = job->trigger.duration_ms,
        .async_profiler_path = r->cfg->async_profiler_path,
        .out = &tx.out,
        .cancel_fd = job->cancel_fd,
        .attach_timeout_ms = ((const struct runner_target *)job->payload)->settings.jcmd_timeout_ms,
        .metrics = r->metrics,
        .journal = r->journal,
    };
    struct profile_result pr;
    capture_profile(&job->target, &req, &pr);
    res->state = state_of(pr.outcome);
    snprintf(res->reason, sizeof(res->reason), "%s", pr.reason);
    snprintf(res->detail, sizeof(res->detail), "library_type=%s%s%s", pr.library_type,
             pr.asprof_skipped[0] ? ": " : "", pr.asprof_skipped);
    if (pr.outcome == CAPTURE_OUTCOME_TOO_LARGE) {
        char why[sizeof(pr.reason) + 64];
        snprintf(why, sizeof(why), "%s (FLAMESHOT_MAX_PROFILE_MB=%llu)", pr.reason,
                 (unsigned long long)r->cfg->max_profile_mb);
        too_large(r, res, why);
    }
    if (pr.bytes == 0 || pr.outcome == CAPTURE_OUTCOME_FAILED ||
        pr.outcome == CAPTURE_OUTCOME_TOO_LARGE) {
        outbox_abort(r->outbox, &tx);
        if (pr.bytes == 0 && res->state == JOB_DONE) {
            res->state = JOB_FAILED;
            snprintf(res->reason, sizeof(res->reason), "the profiler produced no data");
        }
        return;
    }
    if (commit_profile(r, job, &pr, &tx, res) < 0)
        res->state = JOB_FAILED;
}

static int commit_snapshot(const struct runner *r, const struct job *job,
                           const struct snapshot_summary *s, struct outbox_tx *tx,
                           struct job_result *res)
{
    struct artefact_meta m;
    int rc = base_meta(r, job, ARTEFACT_JCMD_SNAPSHOT, &m);
    rc = rc ?: artefact_set(&m.file_name, s->file_name);
    rc = rc ?: artefact_field_str(&m, "snapshot_type", snapshot_type_name(s->type));
    rc = rc ?: artefact_field_str(&m, "preview", s->preview);
    rc = rc ?: artefact_field_str(&m, "process_name", s->process_name);
    rc = rc ?: artefact_field_int(&m, "pid", s->pid);
    rc = rc ?: artefact_field_bool(&m, "complete", s->complete);
    const char *pct = tags_get(&job->trigger.why, "cgroup_mem_percent");
    if (rc == 0 && pct)
        rc = artefact_field_float(&m, "cgroup_mem_percent", strtod(pct, NULL));
    m.start_ns = s->taken_at_ns;
    m.end_ns = s->ended_ns ? s->ended_ns : units_now_real_ns();
    rc = commit(r, tx, &m, rc, snapshot_type_name(s->type), s->output_size_bytes, res);
    if (rc == 0 && !s->complete && res->n_artefacts > 0)
        res->artefacts[res->n_artefacts - 1].partial = true;
    return rc;
}

/* How the job ends: done when something was kept, unless a reply was cut
 * by the JVM's death (target_exited, with what arrived). */
static void snapshot_state(const struct job *job, int kept, bool cut, struct job_result *res)
{
    bool gone = (!kept || cut) && !procfs_same_process(NULL, &job->target);
    res->state = gone ? JOB_TARGET_EXITED : kept ? JOB_DONE : JOB_FAILED;
}

/* Both snapshots run together (one attach); an HTTP request for one type
 * sends only that command (a thread dump costs no full GC). Urgent (emergency) ones skip the
 * histogram's full GC: see CAPTURE_SNAP_HISTOGRAM_ALL. */
static void run_snapshot(const struct runner *r, const struct job *job, struct job_result *res)
{
    const struct runner_target *rt = job->payload;
    struct outbox_tx tx[SNAPSHOT_TYPES];
    struct snapshot_summary sum[SNAPSHOT_TYPES];
    /* only the wanted ones, and none after a refusal: a spool that cannot
     * take the job's first artefact (read-only) loses the job once, one
     * drop, not one per file it was not asked to try */
    int rc = 0;
    for (int i = 0; i < SNAPSHOT_TYPES; i++) {
        bool wanted = !rt->snapshot_only_types || rt->snapshot_type == i;
        if (rc == 0 && wanted)
            rc = outbox_begin(r->outbox, CAPTURE_JCMD_MAX_BYTES, &tx[i]);
        else
            tx[i] = (struct outbox_tx){.fd = -1};
    }
    if (rc < 0) {
        outbox_abort(r->outbox, &tx[0]);
        outbox_abort(r->outbox, &tx[1]);
        res->state = JOB_FAILED;
        snprintf(res->reason, sizeof(res->reason), "outbox: %s", strerror(-rc));
        return;
    }
    unsigned flags = job->urgent ? CAPTURE_SNAP_HISTOGRAM_ALL : 0;
    if (rt->snapshot_only_types)
        flags |= rt->snapshot_type == SNAPSHOT_THREAD_PRINT ? CAPTURE_SNAP_NO_HISTOGRAM
                                                            : CAPTURE_SNAP_NO_THREADS;
    capture_snapshots(&job->target, rt->settings.jcmd_timeout_ms, flags, &tx[0].out, &tx[1].out,
                      r->metrics, sum);
    int ok = 0, big = 0, spool = 0;
    bool cut = false;
    for (int i = 0; i < SNAPSHOT_TYPES; i++) {
        bool wanted = !rt->snapshot_only_types || rt->snapshot_type == i;
        if (!wanted || sum[i].rc < 0 || sum[i].output_size_bytes == 0) {
            /* the spool, not the JVM, failed: the capture's own error
             * would blame the reply */
            if (wanted && tx[i].write_error && !spool++)
                snprintf(res->reason, sizeof(res->reason), "outbox: writing the %s output: %s",
                         snapshot_command((enum snapshot_type)i), strerror(tx[i].write_error));
            else if (wanted && sum[i].rc == -EFBIG && !big++)
                snprintf(res->reason, sizeof(res->reason), "%s", sum[i].error);
            else if (wanted && !res->reason[0])
                snprintf(res->reason, sizeof(res->reason), "%s: %s",
                         snapshot_command((enum snapshot_type)i), sum[i].error);
            outbox_abort(r->outbox, &tx[i]);
            continue;
        }
        if (!sum[i].complete && !cut) {
            char prev[sizeof(res->reason)];
            snprintf(prev, sizeof(prev), "%s", res->reason);
            snprintf(res->reason, sizeof(res->reason), "%s%s%s (kept, complete: false)", prev,
                     prev[0] ? "; " : "", sum[i].error);
            cut = true;
        }
        if (commit_snapshot(r, job, &sum[i], &tx[i], res) == 0)
            ok++;
    }
    snapshot_state(job, ok, cut, res);
    if (big && !ok)
        too_large(r, res, res->reason);
}

/* ---- Go targets ----------------------------------------------------------- */

/* The attachments of a Go profile, one after another, as one artefact. */
static int commit_gopprof(const struct runner *r, const struct job *job,
                          const struct gopprof_result *g, struct job_result *res)
{
    struct outbox_tx tx;
    struct artefact_meta m;
    uint64_t total = 0;
    for (size_t i = 0; i < g->nfiles; i++)
        total += g->files[i].len;
    int rc = outbox_begin(r->outbox, r->cfg->max_profile_mb << 20, &tx);
    for (size_t i = 0; rc == 0 && i < g->nfiles; i++)
        rc = bounded_put(&tx.out, g->files[i].data, g->files[i].len);
    if (rc < 0) {
        outbox_abort(r->outbox, &tx);
        if (rc == -EFBIG)
            too_large(r, res,
                      "the Go profile's attachments are larger than "
                      "FLAMESHOT_MAX_PROFILE_MB");
        else
            snprintf(res->reason, sizeof(res->reason), "outbox: %s", strerror(-rc));
        return rc;
    }
    rc = base_meta(r, job, ARTEFACT_PROFILE, &m);
    rc = rc ?: artefact_set(&m.library_type, "go_pprof");
    rc = rc ?: artefact_set(&m.language, "golang");
    rc = rc ?: artefact_set(&m.jdk_version, NULL);
    for (size_t i = 0; rc == 0 && i < g->nfiles; i++)
        rc = artefact_add_attachment(&m, g->files[i].name, g->files[i].len);
    m.start_ns = g->start_ns;
    m.end_ns = g->end_ns;
    return commit(r, &tx, &m, rc, "profile", total, res);
}

static void run_gopprof(const struct runner *r, const struct job *job, struct job_result *res)
{
    struct gopprof_result g;
    uint64_t cap = r->cfg->max_profile_mb << 20;
    struct gopprof_req req = {.rule = job->rule,
                              .duration_ms = job->trigger.duration_ms,
                              .max_bytes = cap < PPROF_FETCH_MAX_BYTES ? cap : 0,
                              .cancel_fd = job->cancel_fd};
    struct gopprof_store *st = r->gopprof;
    struct gopprof_store *own = st ? NULL : gopprof_store_new(); /* no baseline survives */
    gopprof_collect(st ? st : own, &job->target, &req, &g);
    static const enum job_state states[] = {JOB_DONE, JOB_TARGET_EXITED, JOB_CANCELLED, JOB_FAILED};
    res->state = states[g.outcome];
    snprintf(res->reason, sizeof(res->reason), "%s", g.reason);
    snprintf(res->detail, sizeof(res->detail), "library_type=go_pprof");
    if (g.nfiles && commit_gopprof(r, job, &g, res) < 0)
        res->state = JOB_FAILED;
    gopprof_result_free(&g);
    gopprof_store_free(own);
}

/* 0, or why with -EPERM / -ESRCH / -ENOMEM (podtable_may_attach) when the
 * job's process may not be attached to now; 0 outside Kubernetes. */
static int may_attach(const struct job *job, void *pods, char *why, size_t cap)
{
    const struct runner_target *rt = job->payload;
    return pods ? podtable_may_attach(pods, rt ? rt->pod_ref : NULL, rt ? rt->container_id : NULL,
                                      why, cap)
                : 0;
}

bool runner_job_forbidden(const struct job *job, void *pods, char *why, size_t cap)
{
    int rc = may_attach(job, pods, why, cap);
    /* a running capture of a deleted or ended Pod finishes: the evidence of
     * its end, from an attach made while it was opted in (and a job the
     * lack of memory could not judge is judged again when it starts) */
    return rc == -EPERM || (rc == -ESRCH && job->state != JOB_RUNNING);
}

/* A request that timed out on a stopped JVM (SIGSTOP, a debugger): a
 * connect's error says so (attach.h), a snapshot's reply read does not,
 * and a stopped JVM is not a slow one to whoever reads the job. */
static void name_a_stopped_jvm(const struct job *job, struct job_result *res)
{
    struct proc_stat st;
    size_t n = strlen(res->reason);
    if (res->state != JOB_FAILED || !strstr(res->reason, "timed out") ||
        strstr(res->reason, "is stopped (state"))
        return;
    if (procfs_read_stat(NULL, job->target.pid, &st) < 0 || (st.state != 'T' && st.state != 't') ||
        !procfs_same_process(NULL, &job->target))
        return;
    snprintf(res->reason + n, sizeof(res->reason) - n,
             "; the JVM process is stopped (state %c) and cannot answer until resumed", st.state);
}

void runner_exec(const struct job *job, struct job_result *res, void *arg)
{
    const struct runner *r = arg;
    /* the Pod may have opted out since the job was queued: asked again
     * right before the attach (the SIGQUIT, the namespaces, the load) */
    if (may_attach(job, r->pods, res->reason, sizeof(res->reason)) < 0) {
        res->state = JOB_CANCELLED;
        log_info("runner", "job %llu: cancelled, pid %d not attached: %s",
                 (unsigned long long)job->id, job->target.pid, res->reason);
        return;
    }
    log_info("runner", "job %llu: %s of pid %d (%s) for %s", (unsigned long long)job->id,
             capture_kind_name(job->trigger.capture), job->target.pid, job->target.comm,
             trigger_kind_name(job->trigger.kind));
    bool go = job->rule && job->rule->language == RULE_LANG_GO;
    if (go && job->trigger.capture == CAPTURE_SNAPSHOT) {
        res->state = JOB_FAILED;
        snprintf(res->reason, sizeof(res->reason),
                 "jcmd snapshots are for Java targets: pid %d is a Go target", job->target.pid);
    } else if (go) {
        run_gopprof(r, job, res);
    } else if (job->trigger.capture == CAPTURE_SNAPSHOT) {
        run_snapshot(r, job, res);
    } else if (job->trigger.capture == CAPTURE_HEAP_DUMP) {
        heapjob_exec(r, job, res);
    } else {
        run_profile(r, job, res);
    }
    if (!go)
        name_a_stopped_jvm(job, res);
    log_info("runner", "job %llu: %s%s%s", (unsigned long long)job->id, job_state_name(res->state),
             res->reason[0] ? ": " : "", res->reason);
}
