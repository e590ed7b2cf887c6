#include "policy/monitor.h"

#include "core/vec.h"
#include "outbox/artefact.h"
#include "capture/hprof.h"
#include "capture/nsexec.h"
#include "core/log.h"
#include "core/metrics.h"
#include "policy/lane.h"
#include "policy/oomwatch.h"
#include "policy/prewarm.h"
#include "capture/pprof_fetch.h"
#include "outbox/outbox.h"
#include "policy/runner.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMITS_REFRESH_TICKS 30
#define HYSTERESIS_PCT       5 /* a watermark re-arms 5% below itself */
#define LANE_CAP             1024
#define LANE_STOP_MS         (HPROF_HELPER_TIMEOUT_MS + 2 * NSEXEC_KILL_WAIT_MS)
#define PROBE_BUDGET_MS      5000  /* the maps of every candidate */
#define RECORD_BUDGET_MS     10000 /* one record into the spool, fsyncs included */
/* a death's record waits this long for the urgent snapshots it cut */
#define EVIDENCE_WAIT_MS 3000
/* rescans of /proc after lost events: at most one this often */
#define RESYNC_MIN_MS 1000

/* A watched memory cgroup: how many targets live in it, its mark, and its
 * climb (the step ladder armed for limit, leadtime.h). */
struct watched_cg {
    uint64_t id;
    int refs;
    uint64_t watermark;
    uint64_t limit, step; /* step 0: no ladder */
    struct lead_est lead;
};

struct monitor {
    struct monitor_deps d;
    struct lane *lane;    /* background file work: nothing slow runs on the loop */
    struct oomwatch *oom; /* NULL unless FLAMESHOT_OOM_HPROF_ENABLED */
    struct prewarm *pw;   /* NULL when FLAMESHOT_ATTACH_PREWARM=false */
    _Atomic bool probing; /* a targets_probe is queued or running */
    struct watched_cg *cgs;
    size_t n_cgs, cap_cgs;
    unsigned ticks;
    uint64_t lost_seen;      /* events_lost at the last /proc (re)scan */
    uint64_t last_resync_ms; /* monotonic */
};

struct monitor *monitor_new(const struct monitor_deps *deps)
{
    struct monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->d = *deps;
    m->lane = lane_new("background", LANE_CAP, deps->metrics);
    m->oom = oomwatch_new(deps->cfg, deps->outbox, deps->jobs, m->lane, deps->metrics);
    oomwatch_set_upload(m->oom, deps->upload);
    oomwatch_set_pods(m->oom, deps->pods);
    m->pw = prewarm_new(deps->cfg, deps->jobs, deps->pods, deps->metrics);
    bool oom = deps->cfg->oom_hprof_enabled || deps->cfg->mode == FS_MODE_KUBERNETES;
    if (!m->lane || (oom && !m->oom) || (deps->cfg->attach_prewarm && !m->pw)) {
        prewarm_free(m->pw);
        lane_free(m->lane);
        oomwatch_free(m->oom);
        free(m);
        return NULL;
    }
    return m;
}

int monitor_stop(struct monitor *m)
{
    int rc = prewarm_stop(m->pw, LANE_STOP_MS);
    return lane_stop(m->lane, LANE_STOP_MS) ?: rc;
}

void monitor_free(struct monitor *m)
{
    if (!m || lane_stop(m->lane, 0) < 0 || prewarm_stop(m->pw, 0) < 0)
        return; /* a task still runs: leave everything it may use */
    prewarm_free(m->pw);
    lane_free(m->lane);
    oomwatch_free(m->oom);
    free(m->cgs);
    free(m);
}

static struct watched_cg *find_cg(struct monitor *m, uint64_t id)
{
    for (size_t i = 0; i < m->n_cgs; i++)
        if (m->cgs[i].id == id)
            return &m->cgs[i];
    return NULL;
}

static struct watched_cg *watch_cg(struct monitor *m, const struct target *tg)
{
    struct watched_cg *w = find_cg(m, tg->cg.memory_id);
    if (w) {
        w->refs++;
        return w;
    }
    if (events_watch_cgroup(m->d.events, tg->cg.memory_id, tg->cg.memory_dir) < 0)
        return NULL;
    if (vec_grow(&m->cgs, &m->cap_cgs, m->n_cgs, sizeof(*m->cgs), 8) < 0)
        return NULL;
    w = &m->cgs[m->n_cgs++];
    *w = (struct watched_cg){.id = tg->cg.memory_id, .refs = 1};
    return w;
}

static void unwatch_cg(struct monitor *m, uint64_t id)
{
    struct watched_cg *w = find_cg(m, id);
    if (!w || --w->refs > 0)
        return;
    events_unwatch_cgroup(m->d.events, id);
    log_debug("monitor", "memory cgroup %llu: no target left, unwatched", (unsigned long long)id);
    *w = m->cgs[--m->n_cgs];
}

/* The cgroup's step ladder for its lead time, of the kernel's limit; none
 * without a limit or with FLAMESHOT_EVIDENCE_LEAD=0. Re-armed (and the
 * climb forgotten) only when the limit changes. */
static void arm_cgroup_steps(struct monitor *m, struct watched_cg *w, const struct target *tg,
                             uint64_t limit)
{
    uint64_t from, step;
    bool on = m->d.cfg->evidence_lead_ms && limit != CGROUP_UNLIMITED;
    lead_ladder(on ? limit : 0, &from, &step);
    if (step == w->step && w->limit == (on ? limit : 0))
        return;
    int rc = events_set_cgroup_steps(m->d.events, w->id, from, step);
    if (rc < 0 && rc != -ENOENT) {
        log_warn("monitor", "cgroup %s: cannot set its step ladder: %s", tg->cg.path,
                 strerror(-rc));
        return;
    }
    w->step = step;
    w->limit = on ? limit : 0;
    memset(&w->lead, 0, sizeof(w->lead));
}

/* The cgroup's high-water mark: the lowest any of its targets' rules asks
 * for, of the cgroup's own limit (not FLAMESHOT_POD_MEM_LIMIT: this is
 * about the kernel's limit, the one the OOM killer enforces). */
static void arm_cgroup(struct monitor *m, const struct target *tg)
{
    struct watched_cg *w = find_cg(m, tg->cg.memory_id);
    uint64_t limit = tg->cgroup_mem_limit;
    if (w)
        arm_cgroup_steps(m, w, tg, limit);
    if (!w || limit == CGROUP_UNLIMITED)
        return;
    uint64_t mark = policy_cgroup_watermark(tg->rule, limit);
    if (!mark || (w->watermark && w->watermark <= mark))
        return;
    int rc = events_set_cgroup_watermark(m->d.events, w->id, mark, mark / 100 * HYSTERESIS_PCT);
    if (rc < 0) {
        log_warn("monitor", "cgroup %s: cannot set watermark: %s", tg->cg.path, strerror(-rc));
        return;
    }
    w->watermark = mark;
    log_debug("monitor", "cgroup %s: high-water mark %llu of limit %llu bytes", tg->cg.path,
              (unsigned long long)mark, (unsigned long long)limit);
}

/* What a process's own climb is measured against: FLAMESHOT_POD_MEM_LIMIT
 * when set. Otherwise its cgroup's ladder watches the limit the kernel
 * enforces, on the usage it enforces it on (never below the RSS), and a
 * second ladder would only cost the poller a read per target per period;
 * without any limit there is no lead time. */
static uint64_t proc_lead_limit(const struct target *tg)
{
    return tg->limits.mem_source == LIMIT_OVERRIDE ? tg->limits.mem_bytes : 0;
}

static void arm_process_steps(struct monitor *m, struct target *tg)
{
    uint64_t from, step;
    lead_ladder(m->d.cfg->evidence_lead_ms ? proc_lead_limit(tg) : 0, &from, &step);
    if (step == tg->policy.lead_step_bytes)
        return;
    int rc = events_set_proc_steps(m->d.events, tg->id.pid, from, step);
    if (rc < 0 && rc != -ENOENT) {
        log_warn("monitor", "pid %d: cannot set its step ladder: %s", tg->id.pid, strerror(-rc));
        return;
    }
    tg->policy.lead_step_bytes = step;
    memset(&tg->policy.lead, 0, sizeof(tg->policy.lead));
}

static void arm_process(struct monitor *m, struct target *tg)
{
    arm_process_steps(m, tg);
    uint64_t mark = policy_proc_watermark(tg->rule, tg->limits.mem_bytes);
    if (mark == tg->proc_watermark)
        return;
    int rc =
        mark ? events_set_proc_watermark(m->d.events, tg->id.pid, mark, mark / 100 * HYSTERESIS_PCT)
             : events_clear_proc_watermark(m->d.events, tg->id.pid);
    if (rc < 0 && rc != -ENOENT)
        log_warn("monitor", "pid %d: cannot set watermark: %s", tg->id.pid, strerror(-rc));
    else
        tg->proc_watermark = mark;
}

static void arm(struct monitor *m, struct target *tg)
{
    if (tg->has_cgroup)
        arm_cgroup(m, tg);
    arm_process(m, tg);
}

/* A new target: its cgroup is watched once per target (the refresh every
 * LIMITS_REFRESH_TICKS only re-arms), and unwatched at its exit. */
static void added(struct monitor *m, struct target *tg)
{
    if (tg->settings.auto_profiling_ms)
        tg->next_auto_ms = units_now_mono_ms() + tg->settings.auto_profiling_ms;
    if (tg->has_cgroup)
        watch_cg(m, tg);
    arm(m, tg);
    oomwatch_target_added(m->oom, tg);
    metrics_set(m->d.metrics, targets, targets_count(m->d.targets));
    if (tg->pod.name[0])
        log_info("monitor", "watching pid %d (%s, service %s, rule %d) in Pod %s/%s container %s",
                 tg->id.pid, tg->id.comm, tg->service, tg->rule->index, tg->pod.namespace_,
                 tg->pod.name, tg->pod.container);
    else
        log_info("monitor", "watching pid %d (%s, service %s, rule %d)%s%s", tg->id.pid,
                 tg->id.comm, tg->service, tg->rule->index,
                 tg->cg.container.id[0] ? " container " : "", tg->cg.container.id);
}

static uint64_t budget_ms(const struct target *tg, const struct trigger *t)
{
    if (tg->rule->language == RULE_LANG_GO) /* pulled over HTTP, type after type */
        return pprof_fetch_budget_ms(tg->rule, t->duration_ms) + 10000;
    uint64_t attach = tg->settings.jcmd_timeout_ms;
    if (t->capture == CAPTURE_SNAPSHOT)
        return 3 * attach + 10000;
    if (t->capture == CAPTURE_HEAP_DUMP) /* the dump, then its copy to the node */
        return 2 * t->duration_ms + 6 * attach + 60000;
    return t->duration_ms + 4 * attach + 30000;
}

/* Evidence the kernel may be about to destroy goes on the urgent lane
 * (jobs.h); HTTP and routine snapshots wait their turn. */
static bool urgent(const struct trigger *t)
{
    if (t->capture != CAPTURE_SNAPSHOT)
        return false;
    switch (t->kind) {
    case TRIGGER_MEMORY_EMERGENCY:
    case TRIGGER_CGROUP_PRESSURE:
    case TRIGGER_MEMORY_LEAD:
        return true;
    default:
        return false;
    }
}

/* Queues the capture a trigger asks for. Consumes t. Lock held. */
static int submit(struct monitor *m, struct target *tg, struct trigger *t, int snapshot_type,
                  uint64_t *job_id)
{
    struct job_request req = {.target = tg->id,
                              .rule = tg->rule,
                              .service = tg->service,
                              .tenant = target_tenant(tg),
                              .urgent = urgent(t),
                              .trigger = *t,
                              .budget_ms = budget_ms(tg, t),
                              .payload_free = runner_target_free};
    uint64_t id = 0;
    if (t->capture == CAPTURE_PROFILE && !m->d.cfg->profiling_enabled) {
        log_debug("monitor", "pid %d: %s profile not queued: FLAMESHOT_PROFILING_ENABLED=false",
                  tg->id.pid, trigger_kind_name(t->kind));
        trigger_free(t);
        return -EPERM;
    }
    if (tg->pod_ref && !podref_active(tg->pod_ref)) {
        log_info("monitor", "pid %d: %s trigger ignored: its Pod %s/%s was deleted or has ended",
                 tg->id.pid, trigger_kind_name(t->kind), tg->pod.namespace_, tg->pod.name);
        trigger_free(t);
        return -ESTALE;
    }
    struct runner_target *rt = runner_target_new(tg);
    if (!rt) {
        trigger_free(t);
        return -ENOMEM;
    }
    rt->snapshot_only_types = snapshot_type >= 0;
    rt->snapshot_type = snapshot_type;
    req.payload = rt;
    metrics_inc(m->d.metrics, triggers[t->kind]);
    int rc = jobs_submit(m->d.jobs, &req, &id);
    if (job_id)
        *job_id = id;
    if (rc == 0)
        log_info("monitor", "job %llu queued: %s of pid %d, trigger %s%s", (unsigned long long)id,
                 capture_kind_name(t->capture), tg->id.pid, trigger_kind_name(t->kind),
                 req.urgent ? " (urgent)" : "");
    else
        log_info("monitor", "pid %d: %s trigger not queued: %s", tg->id.pid,
                 trigger_kind_name(t->kind),
                 rc == -EEXIST   ? "the same capture is already queued or running"
                 : rc == -ENOSPC ? "job queue full"
                 : rc == -EDQUOT ? "its container's share of the job queue is full "
                                   "(FLAMESHOT_MAX_QUEUED_PER_CONTAINER)"
                                 : strerror(-rc));
    if (rc < 0) {
        trigger_free(&req.trigger);
        runner_target_free(rt);
    }
    memset(t, 0, sizeof(*t));
    return rc;
}

/* Looks at pid and, when it becomes a target, watches it. Takes the lock
 * in turns: /proc and cgroup files are read without it. */
static void consider(struct monitor *m, int pid)
{
    struct target *tg = NULL;
    if (targets_consider(m->d.targets, pid, &tg) != 1)
        return;
    targets_lock(m->d.targets);
    if (targets_find(m->d.targets, pid) == tg) /* only the loop removes: still there */
        added(m, tg);
    targets_unlock(m->d.targets);
}

/* Drops pid (a target or candidate) to judge it afresh. */
static void forget(struct monitor *m, int pid)
{
    targets_lock(m->d.targets);
    struct target *tg = targets_find(m->d.targets, pid);
    if (tg && tg->has_cgroup)
        unwatch_cg(m, tg->cg.memory_id);
    targets_remove(m->d.targets, pid);
    targets_unlock(m->d.targets);
}

static void on_exec_event(struct monitor *m, const struct fs_event *ev)
{
    /* a target or candidate replaced its program: judge the new one afresh */
    forget(m, ev->tgid);
    consider(m, ev->tgid);
}

static bool fatal_signal(int sig)
{
    return sig == SIGKILL || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
           sig == SIGABRT || sig == SIGSYS || sig == SIGXCPU || sig == SIGXFSZ;
}

struct exit_record {
    struct outbox *outbox;
    struct jobs *jobs;
    struct artefact_meta meta;
    struct proc_ident id;
    int pid;
};

/* The artefacts, and the snapshots of its last minutes: after the urgent
 * ones the death cut have ended (right after it), so that one record
 * tells the story. */
static int add_evidence(struct exit_record *r)
{
    char arts[1024], snaps[1024];
    jobs_evidence_text(r->jobs, &r->id, EVIDENCE_WAIT_MS, snaps, sizeof(snaps));
    jobs_artefacts_text(r->jobs, &r->id, arts, sizeof(arts));
    int rc = artefact_field_str(&r->meta, "last_artefacts", arts);
    return rc ?: artefact_field_str(&r->meta, "recent_snapshots", snaps);
}

/* On the lane: the record goes to the spool (fsyncs) off the loop. */
static void put_exit_record(void *arg, bool run)
{
    struct exit_record *r = arg;
    char err[256] = "out of memory";
    int rc = run ? add_evidence(r) : 0;
    if (run && rc == 0)
        rc = outbox_put_summary(r->outbox, &r->meta, NULL, err, sizeof(err));
    if (rc < 0)
        log_warn("monitor", "pid %d: process exit record lost: %s", r->pid, err);
    artefact_meta_free(&r->meta);
    free(r);
}

/* Flameshot's flameshot_process_exit record, for a target the OOM killer
 * or a fatal signal ended: built here, written by the lane. */
static void report_exit(struct monitor *m, const struct target *tg, const struct fs_event *ev,
                        bool oom)
{
    struct runner_target rt;
    char msg[512];
    struct exit_record *r = calloc(1, sizeof(*r));
    if (!r) {
        log_warn("monitor", "pid %d: process exit record lost: out of memory", tg->id.pid);
        return;
    }
    const char *reason = oom ? "oom_kill" : "fatal_signal";
    snprintf(msg, sizeof(msg), "process exit detected for pid=%d service=%s reason=%s signal=%d",
             tg->id.nspid, tg->service, reason, ev->exit_signal);
    cJSON *recent = target_samples_json(tg);
    char *samples = recent ? cJSON_PrintUnformatted(recent) : NULL;
    cJSON_Delete(recent);
    runner_target_fill(&rt, tg);
    struct artefact_meta *meta = &r->meta;
    int rc = runner_meta_base(meta, ARTEFACT_PROCESS_EXIT, m->d.cfg, &rt, &tg->id, tg->rule, NULL);
    runner_target_release(&rt);
    rc = rc ?: artefact_field_str(meta, "message", msg);
    rc = rc ?: artefact_field_str(meta, "process_name", tg->id.comm);
    rc = rc ?: artefact_field_str(meta, "suspected_reason", reason);
    rc = rc ?: artefact_field_int(meta, "exit_signal", ev->exit_signal);
    rc = rc ?: artefact_field_int(meta, "exit_code", ev->exit_code);
    rc = rc ?: artefact_field_str(meta, "recent_samples", samples ? samples : "[]");
    meta->end_ns = units_now_real_ns();
    free(samples);
    r->outbox = m->d.outbox;
    r->jobs = m->d.jobs;
    r->id = tg->id;
    r->pid = tg->id.pid;
    if (rc < 0) {
        log_warn("monitor", "pid %d: process exit record lost: out of memory", tg->id.pid);
        put_exit_record(r, false);
        return;
    }
    lane_post(m->lane, "a process exit record", put_exit_record, r, RECORD_BUDGET_MS);
}

static void on_exit_event(struct monitor *m, const struct fs_event *ev)
{
    struct target *tg = targets_find(m->d.targets, ev->tgid);
    if (!tg)
        return;
    bool oom = tg->oom_killed;
    log_info("monitor", "pid %d (%s) exited: code %d signal %d%s", tg->id.pid, tg->id.comm,
             ev->exit_code, ev->exit_signal, oom ? " (OOM kill)" : "");
    if (oom || (!(ev->flags & FS_EVF_NO_EXIT_STATUS) && fatal_signal(ev->exit_signal)))
        report_exit(m, tg, ev, oom);
    if (tg->has_cgroup)
        unwatch_cg(m, tg->cg.memory_id);
    targets_remove(m->d.targets, ev->tgid);
    metrics_set(m->d.metrics, targets, targets_count(m->d.targets));
}

/* Gone without an exit event (a source that missed it, lost events): the
 * same path, without a status. Lock held. */
static void exited_unseen(struct monitor *m, int pid)
{
    struct fs_event ev = {.kind = FS_EV_EXIT,
                          .tgid = pid,
                          .exit_code = -1,
                          .exit_signal = -1,
                          .flags = FS_EVF_NO_EXIT_STATUS};
    on_exit_event(m, &ev);
}

/* Event times are CLOCK_BOOTTIME; records carry wall-clock times, jobs
 * the monotonic moment of detection: boot_ns on the clock now() reads
 * (now when unknown or in the future). */
static uint64_t boottime_to(uint64_t boot_ns, uint64_t (*now)(void))
{
    uint64_t now_boot = units_now_boot_ns(), other = now();
    return boot_ns && boot_ns <= now_boot ? other - (now_boot - boot_ns) : other;
}

static void on_oom(struct monitor *m, const struct fs_event *ev)
{
    struct target *victim = ev->tgid ? targets_find(m->d.targets, ev->tgid) : NULL;
    bool ours = victim != NULL || find_cg(m, ev->cgroup_id) != NULL;
    log_info("monitor", "OOM kill: victim pid %d (%s) in memory cgroup %llu%s%s", ev->tgid,
             ev->comm, (unsigned long long)ev->cgroup_id,
             ev->flags & FS_EVF_PID_GUESSED ? " (victim inferred)" : "",
             ours ? ": a watched container" : "");
    if (!ours)
        return;
    metrics_inc(m->d.metrics, triggers[MT_OOM]);
    uint64_t when = boottime_to(ev->ts_ns, units_now_real_ns), now = units_now_mono_ms();
    if (victim) {
        victim->oom_killed = true;
        oomwatch_on_oom(m->oom, victim, when, now);
        return;
    }
    /* another process of a watched container died: its JVMs may have dumped */
    for (size_t i = 0; i < targets_count(m->d.targets); i++) {
        struct target *tg = targets_at(m->d.targets, i);
        if (tg->has_cgroup && tg->cg.memory_id == ev->cgroup_id)
            oomwatch_on_oom(m->oom, tg, when, now);
    }
}

/* A memory emergency's evidence in order: its jcmd snapshots, then a heap
 * dump when one is due (FLAMESHOT_HEAP_DUMP_ENABLED, the rule, the
 * per-process cooldown; preceded by snapshots of its own when the policy
 * asked for none), then the profile. The snapshots take the urgent lane;
 * the dump and the profile, routine, wait for them (jobs.h), and the
 * profile, queued after the dump, waits for it too (one routine capture
 * per JVM, in turn). A dump that may take minutes never holds the urgent
 * lane. Consumes t[0..n). Lock held. */
static void submit_evidence(struct monitor *m, struct target *tg, struct trigger *t, int n)
{
    struct trigger dump, snap;
    uint64_t now = units_now_mono_ms();
    const struct config *c = m->d.cfg;
    bool snapped = false;
    for (int i = 0; i < n; i++)
        snapped = snapped || t[i].capture == CAPTURE_SNAPSHOT;
    bool due = n && policy_heap_dump(tg->rule, t[0].kind, &t[0], c->heap_dump_enabled,
                                     c->heap_dump_cooldown_ms, &tg->policy, now, &dump);
    if (due) /* its length: the dump's timeout, for the job's budget */
        dump.duration_ms = c->heap_dump_timeout_ms;
    if (due && !snapped &&
        policy_snapshot(tg->rule, t[0].kind, tg->settings.jcmd_snapshot_enabled, &tg->policy, now,
                        &snap))
        submit(m, tg, &snap, -1, NULL);
    /* submit() consumes (zeroes) a trigger: which were snapshots is
     * decided before the first is sent */
    unsigned snaps = 0;
    for (int i = 0; i < n && i < 32; i++)
        if (t[i].capture == CAPTURE_SNAPSHOT)
            snaps |= 1u << i;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n && i < 32; i++)
            if (((snaps >> i) & 1u) == (pass == 0))
                submit(m, tg, &t[i], -1, NULL);
        if (pass == 0 && due)
            submit(m, tg, &dump, -1, NULL);
    }
}

/* A trigger of the policy: an emergency brings its whole evidence. */
static void submit_trigger(struct monitor *m, struct target *tg, struct trigger *t)
{
    if (t->kind == TRIGGER_MEMORY_EMERGENCY)
        submit_evidence(m, tg, t, 1);
    else
        submit(m, tg, t, -1, NULL);
}

static void on_proc_watermark(struct monitor *m, const struct fs_event *ev)
{
    struct target *tg = targets_find(m->d.targets, ev->tgid);
    struct trigger t;
    if (!tg)
        return;
    log_info("monitor", "pid %d: RSS %llu crossed its watermark %llu", tg->id.pid,
             (unsigned long long)ev->value_bytes, (unsigned long long)ev->watermark_bytes);
    if (policy_on_proc_watermark(tg->rule, ev->value_bytes, tg->limits.mem_bytes, &tg->policy,
                                 units_now_mono_ms(), &t)) {
        t.seen_mono_ns = boottime_to(ev->ts_ns, units_now_mono_ns);
        submit_trigger(m, tg, &t);
    }
}

/* The target of a cgroup with the largest RSS right now. */
static struct target *largest_in_cgroup(struct monitor *m, uint64_t id)
{
    struct target *best = NULL;
    uint64_t best_rss = 0;
    for (size_t i = 0; i < targets_count(m->d.targets); i++) {
        struct target *tg = targets_at(m->d.targets, i);
        uint64_t rss;
        if (!tg->has_cgroup || tg->cg.memory_id != id ||
            procfs_read_rss(NULL, tg->id.pid, &rss) < 0)
            continue;
        if (!best || rss > best_rss) {
            best = tg;
            best_rss = rss;
        }
    }
    return best;
}

static void on_cgroup_watermark(struct monitor *m, const struct fs_event *ev)
{
    struct target *tg = largest_in_cgroup(m, ev->cgroup_id);
    uint64_t limit;
    struct trigger t[2];
    if (!tg || cgroup_memory_limit(&tg->cg, &limit) < 0 || limit == CGROUP_UNLIMITED)
        return;
    log_info("monitor",
             "cgroup %s: usage %llu crossed its high-water mark %llu; evidence from "
             "pid %d",
             tg->cg.path, (unsigned long long)ev->value_bytes,
             (unsigned long long)ev->watermark_bytes, tg->id.pid);
    int n = policy_on_cgroup_pressure(tg->rule, ev->value_bytes, limit,
                                      tg->settings.jcmd_snapshot_enabled, &tg->policy,
                                      units_now_mono_ms(), t);
    uint64_t seen = n > 0 ? boottime_to(ev->ts_ns, units_now_mono_ns) : 0;
    for (int i = 0; i < n; i++)
        t[i].seen_mono_ns = seen;
    submit_evidence(m, tg, t, n);
}

/* The limit is projected within FLAMESHOT_EVIDENCE_LEAD: the evidence of
 * cgroup pressure for tg, as trigger memory_lead. */
static void fire_lead(struct monitor *m, struct target *tg, const struct lead_est *e,
                      const struct fs_event *ev, uint64_t limit, double secs)
{
    struct trigger t[2];
    double mib_s = lead_rate(e) / (1024.0 * 1024.0);
    int n = policy_on_memory_lead(tg->rule, secs, mib_s, tg->settings.jcmd_snapshot_enabled,
                                  &tg->policy, units_now_mono_ms(), t);
    if (!n)
        return; /* cooling down: said when it fired */
    log_info("monitor",
             "%s %llu: %llu of %llu bytes, growing %.1f MiB/s: the limit in %.2f s "
             "(FLAMESHOT_EVIDENCE_LEAD %llu ms); evidence from pid %d",
             ev->kind == FS_EV_STEP_CGROUP ? "memory cgroup" : "pid",
             ev->kind == FS_EV_STEP_CGROUP ? (unsigned long long)ev->cgroup_id
                                           : (unsigned long long)ev->tgid,
             (unsigned long long)ev->value_bytes, (unsigned long long)limit, mib_s, secs,
             (unsigned long long)m->d.cfg->evidence_lead_ms, tg->id.pid);
    submit_evidence(m, tg, t, n);
}

/* A step of a cgroup's climb (its ladder, armed by arm_cgroup_steps). */
static void on_cgroup_step(struct monitor *m, const struct fs_event *ev)
{
    struct watched_cg *w = find_cg(m, ev->cgroup_id);
    double secs;
    if (!w || !w->step)
        return;
    lead_observe(&w->lead, ev->ts_ns, ev->value_bytes, w->step / 2);
    if (!lead_due(&w->lead, w->limit, m->d.cfg->evidence_lead_ms, units_now_boot_ns(), &secs))
        return;
    struct target *tg = largest_in_cgroup(m, ev->cgroup_id);
    if (tg)
        fire_lead(m, tg, &w->lead, ev, w->limit, secs);
}

/* A step of a target's RSS climb (arm_process_steps). */
static void on_proc_step(struct monitor *m, const struct fs_event *ev)
{
    struct target *tg = targets_find(m->d.targets, ev->tgid);
    double secs;
    if (!tg || !tg->policy.lead_step_bytes)
        return;
    struct lead_est *e = &tg->policy.lead;
    lead_observe(e, ev->ts_ns, ev->value_bytes, tg->policy.lead_step_bytes / 2);
    uint64_t limit = proc_lead_limit(tg);
    if (lead_due(e, limit, m->d.cfg->evidence_lead_ms, units_now_boot_ns(), &secs))
        fire_lead(m, tg, e, ev, limit, secs);
}

void monitor_on_event(struct monitor *m, const struct fs_event *ev)
{
    if (ev->kind == FS_EV_EXEC) {
        on_exec_event(m, ev);
        return;
    }
    targets_lock(m->d.targets);
    switch (ev->kind) {
    case FS_EV_EXIT:
        on_exit_event(m, ev);
        break;
    case FS_EV_OOM:
        on_oom(m, ev);
        break;
    case FS_EV_WATERMARK_PROC:
        on_proc_watermark(m, ev);
        break;
    case FS_EV_WATERMARK_CGROUP:
        on_cgroup_watermark(m, ev);
        break;
    case FS_EV_STEP_PROC:
        on_proc_step(m, ev);
        break;
    case FS_EV_STEP_CGROUP:
        on_cgroup_step(m, ev);
        break;
    default:
        break;
    }
    targets_unlock(m->d.targets);
}

int monitor_start(struct monitor *m)
{
    /* what is lost from now on, the scan may miss */
    m->lost_seen = events_lost(m->d.events);
    int n = targets_scan(m->d.targets);
    targets_lock(m->d.targets);
    for (size_t i = 0; i < targets_count(m->d.targets); i++)
        added(m, targets_at(m->d.targets, i));
    targets_unlock(m->d.targets);
    return n;
}

/* Flameshot's timer, per target: each Pod may set its own interval. */
static void auto_profile(struct monitor *m, uint64_t now_ms)
{
    for (size_t i = 0; i < targets_count(m->d.targets); i++) {
        struct target *tg = targets_at(m->d.targets, i);
        if (!tg->settings.auto_profiling_ms || now_ms < tg->next_auto_ms)
            continue;
        tg->next_auto_ms = now_ms + tg->settings.auto_profiling_ms;
        struct trigger t = {.kind = TRIGGER_AUTO,
                            .capture = CAPTURE_PROFILE,
                            .duration_ms = tg->settings.auto_profiling_duration_ms,
                            .events = tg->rule->events};
        tags_set(&t.why, "trigger", trigger_kind_name(TRIGGER_AUTO));
        submit(m, tg, &t, -1, NULL);
    }
}

/* Samples one target; returns false when it is gone. */
static bool sample_one(struct monitor *m, struct target *tg, uint64_t now_ms, bool refresh)
{
    if (refresh) {
        targets_refresh_limits(m->d.targets, tg);
        arm(m, tg);
    }
    int rc = sampler_take(NULL, &tg->id, &tg->limits, &tg->samples, now_ms);
    if (rc == -ESRCH)
        return false;
    struct trigger t;
    if (rc == 1 && policy_on_sample(tg->rule, &tg->samples, &tg->policy, now_ms, &t))
        submit_trigger(m, tg, &t);
    return true;
}

static void added_cb(struct target *tg, void *arg)
{
    added(arg, tg);
}

static void probe_task(void *arg, bool run)
{
    struct monitor *m = arg;
    if (run)
        targets_probe(m->d.targets);
    atomic_store(&m->probing, false);
}

/* Background work: the candidates' maps are read on the lane (the verdicts
 * are applied on the next tick); overruns are reported; helpers that
 * outlived SIGKILL are reaped once they can be. */
static void background(struct monitor *m, uint64_t now_ms)
{
    targets_lock(m->d.targets);
    bool cands = targets_candidates(m->d.targets) > 0;
    targets_unlock(m->d.targets);
    if (cands && !atomic_exchange(&m->probing, true))
        lane_post(m->lane, "reading candidates' maps", probe_task, m, PROBE_BUDGET_MS);
    lane_check(m->lane, now_ms);
    metrics_set(m->d.metrics, helpers_stuck, nsexec_reap_stuck());
    oomwatch_tick(m->oom, now_ms);
}

static int rescan_one(int pid, void *arg)
{
    consider(arg, pid);
    return 0;
}

/* Targets whose Pod's configuration was replaced: judged again by the new
 * one (a rule scoped elsewhere, an opt-out, new settings). */
static void rejudge_stale(struct monitor *m)
{
    int *pids;
    targets_lock(m->d.targets);
    size_t n = targets_stale(m->d.targets, &pids);
    targets_unlock(m->d.targets);
    for (size_t i = 0; i < n; i++) {
        log_info("monitor", "pid %d: its Pod's configuration changed; judging it again", pids[i]);
        forget(m, pids[i]);
        consider(m, pids[i]);
    }
    free(pids);
    metrics_set(m->d.metrics, targets, targets_count(m->d.targets));
}

/* Kubernetes: the Pods' configurations in step with the watch. */
static void sync_pods(struct monitor *m, uint64_t now_ms)
{
    int f =
        m->d.pods ? podtable_sync(m->d.pods, now_ms, m->d.on_pod_error, m->d.on_pod_error_arg) : 0;
    if (f <= 0)
        return; /* nothing new, or no memory: the next tick tries again */
    /* jobs of a Pod that opted out, was deleted or ended: never attached */
    jobs_cancel_if(m->d.jobs, runner_job_forbidden, m->d.pods);
    if (f & PODTABLE_CONFIG) {
        rejudge_stale(m);
        /* an opt-in or new rules: processes already running may match */
        procfs_each_pid(NULL, rescan_one, m);
    }
    int *pids;
    size_t n = targets_take_pending(m->d.targets, now_ms, &pids);
    for (size_t i = 0; i < n; i++)
        consider(m, pids[i]);
    free(pids);
}

void monitor_tick(struct monitor *m, uint64_t now_ms)
{
    bool refresh = ++m->ticks % LIMITS_REFRESH_TICKS == 0;
    sync_pods(m, now_ms);
    background(m, now_ms);
    targets_lock(m->d.targets);
    targets_recheck(m->d.targets, now_ms, added_cb, m);
    for (size_t i = 0; i < targets_count(m->d.targets);) {
        struct target *tg = targets_at(m->d.targets, i);
        if (sample_one(m, tg, now_ms, refresh)) {
            i++;
            continue;
        }
        exited_unseen(m, tg->id.pid);
    }
    auto_profile(m, now_ms);
    prewarm_tick(m->pw, m->d.targets, now_ms);
    targets_unlock(m->d.targets);
}

static void gone_cb(int pid, void *arg)
{
    struct monitor *m = arg;
    targets_lock(m->d.targets);
    exited_unseen(m, pid);
    targets_unlock(m->d.targets);
}

void monitor_resync(struct monitor *m, uint64_t now_ms)
{
    uint64_t lost = events_lost(m->d.events);
    if (lost <= m->lost_seen || now_ms < m->last_resync_ms + RESYNC_MIN_MS)
        return;
    struct targets_resync r;
    int rc = targets_resync(m->d.targets, added_cb, gone_cb, m, &r);
    metrics_inc(m->d.metrics, events_resyncs);
    metrics_add(m->d.metrics, resync_found, (uint64_t)r.found);
    metrics_add(m->d.metrics, resync_gone, (uint64_t)r.gone);
    metrics_set(m->d.metrics, targets, targets_count(m->d.targets));
    char failed[96] = "";
    if (rc < 0)
        snprintf(failed, sizeof(failed), " (listing it failed: %s)", strerror(-rc));
    log_warn("monitor", "%llu events lost: /proc rescanned%s, %d targets found, %d gone",
             (unsigned long long)(lost - m->lost_seen), failed, r.found, r.gone);
    m->lost_seen = lost;
    m->last_resync_ms = now_ms;
}

int monitor_request(struct monitor *m, int pid, struct trigger *trigger, int snapshot_type,
                    uint64_t *job_id)
{
    targets_lock(m->d.targets);
    struct target *tg = targets_find(m->d.targets, pid);
    if (tg) {
        /* shown as the last trigger; manual requests never touch cooldowns */
        tg->policy.last_kind = trigger->kind;
        tg->policy.last_trigger_ms = units_now_mono_ms();
    }
    int rc = tg ? submit(m, tg, trigger, snapshot_type, job_id) : -ENOENT;
    targets_unlock(m->d.targets);
    if (!tg)
        trigger_free(trigger);
    return rc;
}
