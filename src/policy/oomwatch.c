#include "policy/oomwatch.h"

#include "outbox/artefact.h"
#include "capture/nsexec.h"
#include "capture/hprof.h"
#include "capture/jvm.h"
#include "capture/jvmopts.h"
#include "core/log.h"
#include "outbox/outbox.h"
#include "outbox/upload.h"
#include "policy/jobs.h"
#include "policy/runner.h"
#include "core/units.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_EVERY_TICKS 2
#define GONE_GRACE_MS    10000 /* a dead JVM's pin outlives it until its OOM event is in */
/* lane budgets: one helper (timeout and reaping), or a whole tick */
#define PIN_BUDGET_MS  (HPROF_HELPER_TIMEOUT_MS + 2 * NSEXEC_KILL_WAIT_MS + 1000)
#define TICK_BUDGET_MS 30000
/* a kill's record waits this long for the urgent snapshots it cut */
#define EVIDENCE_WAIT_MS 3000

/* Who a record is about; copied so it outlives the target. */
/* A target's identity, copied: rt holds a reference to its Pod's
 * configuration (rule points into it), so every copy is released. */
struct who {
    struct proc_ident id;
    struct runner_target rt;
    const struct rule *rule;
};

static void who_copy(struct who *dst, const struct who *src)
{
    *dst = *src;
    runner_target_copy(&dst->rt, &src->rt);
}

static void who_release(struct who *w)
{
    runner_target_release(&w->rt);
}

/* A pinned dump directory of a target (lane-owned). */
struct pin {
    struct who who;
    struct hprof_watch watch;
    uint64_t skip_until_ms; /* hung: not polled again before */
    uint64_t gone_since_ms; /* 0 while the process lives */
    struct pin *next;
};

/* A search due after an OOM kill (lane-owned). */
struct pending {
    struct who who;
    struct hprof_watch watch; /* its own fds (a dup) */
    uint64_t oom_ns;
    uint64_t due_ms;
    struct pending *next;
};

struct oomwatch {
    const struct config *cfg;
    struct outbox *outbox;
    struct jobs *jobs;
    struct lane *lane;
    struct metrics *metrics;
    struct upload *upload; /* NULL: dumps are not uploaded */
    struct podtable *pods; /* Kubernetes: asked before a container is entered */
    /* lane thread only */
    struct hprof_seen *seen;
    struct pin *pins;
    struct pending *pending;
    unsigned ticks;
    /* loop thread: a tick is queued or running */
    _Atomic bool tick_busy;
};

enum msg_kind { MSG_ADDED, MSG_OOM, MSG_TICK };

/* What the loop posts to the lane: copies, never pointers into the table. */
struct msg {
    struct oomwatch *ow;
    enum msg_kind kind;
    struct who who;
    uint64_t started_ns; /* MSG_ADDED */
    uint64_t oom_ns;     /* MSG_OOM */
    uint64_t now_ms;
};

struct oomwatch *oomwatch_new(const struct config *cfg, struct outbox *outbox, struct jobs *jobs,
                              struct lane *lane, struct metrics *metrics)
{
    /* in Kubernetes a Pod may turn it on for itself */
    if (!cfg->oom_hprof_enabled && cfg->mode != FS_MODE_KUBERNETES)
        return NULL;
    struct oomwatch *ow = calloc(1, sizeof(*ow));
    char path[4096];
    snprintf(path, sizeof(path), "%s/hprof_seen.jsonl", cfg->profiling_path);
    if (!ow || !lane || !(ow->seen = hprof_seen_open(path))) {
        free(ow);
        return NULL;
    }
    ow->cfg = cfg;
    ow->outbox = outbox;
    ow->jobs = jobs;
    ow->lane = lane;
    ow->metrics = metrics;
    return ow;
}

void oomwatch_free(struct oomwatch *ow)
{
    if (!ow)
        return;
    while (ow->pending) {
        struct pending *p = ow->pending;
        ow->pending = p->next;
        hprof_watch_close(&p->watch);
        who_release(&p->who);
        free(p);
    }
    while (ow->pins) {
        struct pin *p = ow->pins;
        ow->pins = p->next;
        hprof_watch_close(&p->watch);
        who_release(&p->who);
        free(p);
    }
    hprof_seen_close(ow->seen);
    free(ow);
}

void oomwatch_set_upload(struct oomwatch *ow, struct upload *upload)
{
    if (ow)
        ow->upload = upload;
}

/* Copies the dump out of the container into the upload queue, which sends
 * m once the upload has settled. 0, or -errno with why (then m carries
 * the failure and the caller sends it). */
static int upload_dump(struct oomwatch *ow, const struct hprof_watch *watch,
                       const struct hprof_found *f, struct artefact_meta *m)
{
    struct upload_tx tx;
    char why[512];
    int rc = upload_begin(ow->upload, f->size, &tx, why, sizeof(why));
    int64_t n = rc == 0 ? hprof_copy_out(watch, f, tx.fd, f->size, why, sizeof(why)) : rc;
    if (rc == 0 && n < 0)
        upload_abort(ow->upload, &tx);
    const char *base = strrchr(f->path, '/');
    rc = n < 0
             ? (int)n
             : upload_commit(ow->upload, &tx, base ? base + 1 : f->path, m, NULL, why, sizeof(why));
    if (rc == 0)
        return 0;
    if (rc == -ETIMEDOUT)
        metrics_inc(ow->metrics, dump_dir_timeouts);
    log_warn("oomwatch", "heap dump %s not uploaded: %s", f->path, why);
    upload_fill_failed(m, ow->cfg->hprof_upload.provider, why);
    return rc;
}

/* One flameshot_oom_hprof record: f is the dump (in watch's directory),
 * or NULL with why. With an upload queue the dump is uploaded first and
 * the record goes once that has settled. */
static void report(struct oomwatch *ow, const struct who *w, const struct hprof_watch *watch,
                   const struct hprof_found *f, enum hprof_why why, const char *detail,
                   const char *matched_by, int delta)
{
    struct artefact_meta m;
    char msg[1024], err[256], snaps[1024] = "";
    if (f)
        snprintf(msg, sizeof(msg), "%s, heap dump found at %s (%llu bytes)",
                 delta ? "OOM detected via cgroup oom_kill" : "Java OutOfMemoryError heap dump",
                 f->path, (unsigned long long)f->size);
    else
        snprintf(msg, sizeof(msg), "OOM detected via cgroup oom_kill, no heap dump found: %s",
                 detail);
    int rc = runner_meta_base(&m, ARTEFACT_OOM_HPROF, ow->cfg, &w->rt, &w->id, w->rule, "oom");
    m.end_ns = units_now_real_ns();
    rc = rc ?: artefact_field_str(&m, "message", msg);
    rc = rc ?: artefact_field_str(&m, "hprof_path", f ? f->path : "");
    rc = rc ?: artefact_field_int(&m, "hprof_size_bytes", f ? (int64_t)f->size : 0);
    rc = rc ?: artefact_field_int(&m, "oom_kill_delta", delta);
    rc = rc ?: artefact_field_str(&m, "matched_by", matched_by);
    rc = rc ?: artefact_field_str(&m, "process_name", w->id.comm);
    rc = rc ?: artefact_field_str(&m, "reason", hprof_why_name(why));
    /* after a kill, the snapshots it cut end right after it */
    if (ow->jobs)
        jobs_evidence_text(ow->jobs, &w->id, delta ? EVIDENCE_WAIT_MS : 0, snaps, sizeof(snaps));
    rc = rc ?: artefact_field_str(&m, "recent_snapshots", snaps);
    bool queued = rc == 0 && f && ow->upload && upload_dump(ow, watch, f, &m) == 0;
    if (rc == 0 && !queued)
        rc = outbox_put_summary(ow->outbox, &m, NULL, err, sizeof(err));
    if (rc < 0)
        log_warn("oomwatch", "pid %d: OOM summary lost: %s", w->id.pid,
                 rc == -ENOMEM ? "out of memory" : err);
    else
        log_info("oomwatch", "pid %d: %s", w->id.pid, msg);
    if (f && rc == 0)
        hprof_seen_add(ow->seen, f, delta > 0);
    artefact_meta_free(&m);
}

/* A helper that timed out in a dump directory: counted and said once. */
static void hung(struct oomwatch *ow, const struct who *w, const struct hprof_watch *watch)
{
    metrics_inc(ow->metrics, dump_dir_timeouts);
    log_warn("oomwatch",
             "pid %d: heap-dump directory %s did not answer within %llums (hung filesystem?); "
             "the helper was killed",
             w->id.pid, watch->dir, (unsigned long long)watch->timeout_ms);
}

static struct pin *find_pin(struct oomwatch *ow, const struct proc_ident *id)
{
    for (struct pin *p = ow->pins; p; p = p->next)
        if (p->who.id.pid == id->pid && p->who.id.start_time == id->start_time)
            return p;
    return NULL;
}

static void unpin(struct oomwatch *ow, const struct proc_ident *id)
{
    for (struct pin **pp = &ow->pins; *pp; pp = &(*pp)->next) {
        struct pin *p = *pp;
        if (p->who.id.pid != id->pid || p->who.id.start_time != id->start_time)
            continue;
        *pp = p->next;
        hprof_watch_close(&p->watch);
        who_release(&p->who);
        free(p);
        return;
    }
}

/* The heap-dump flags in effect, with the JVM's @argfiles read through a
 * confined child (they live in the container); /proc alone when the JVM
 * cannot be opened. Runs on the lane: the loop never reads these files. */
static int heap_dump_spec(const struct proc_ident *id, struct hprof_spec *spec)
{
    struct jvmopts opts;
    struct jvm *j = NULL;
    char err[128];
    int rc;
    if (jvm_open(id, &j, err, sizeof(err)) == 0) {
        rc = jvm_options(j, &opts);
        jvm_close(j);
    } else {
        rc = jvmopts_of_pid(NULL, id->pid, NULL, NULL, &opts);
    }
    if (rc == 0)
        hprof_spec_from(&opts, spec);
    jvmopts_free(&opts);
    return rc < 0 ? rc : 0;
}

/* A target was added (again, after an exec: the new program's flags). */
static void do_pin(struct oomwatch *ow, const struct msg *m)
{
    unpin(ow, &m->who.id);
    char why[256];
    /* its Pod may have opted out while this waited on the lane */
    if (ow->pods && podtable_may_attach(ow->pods, m->who.rt.pod_ref, m->who.rt.container_id, why,
                                        sizeof(why)) < 0) {
        log_info("oomwatch", "pid %d: heap-dump directory not pinned: %s", m->who.id.pid, why);
        return;
    }
    struct pin *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    struct hprof_spec spec;
    if (heap_dump_spec(&m->who.id, &spec) < 0) {
        free(p);
        return;
    }
    hprof_watch_open(NULL, &m->who.id, m->started_ns, &spec, &p->watch);
    if (!procfs_same_process(NULL, &m->who.id)) { /* the pid may name another process now */
        hprof_watch_close(&p->watch);
        free(p);
        return;
    }
    who_copy(&p->who, &m->who);
    if (p->watch.state == HPROF_OK)
        log_debug("oomwatch", "pid %d: heap dumps go to %s/%s", m->who.id.pid, p->watch.dir,
                  p->watch.base);
    else
        log_info("oomwatch", "pid %d: no heap dump to recover after an OOM kill: %s", m->who.id.pid,
                 p->watch.detail);
    p->next = ow->pins;
    ow->pins = p;
}

static void do_oom(struct oomwatch *ow, const struct msg *m)
{
    struct pin *pin = find_pin(ow, &m->who.id);
    if (!pin) {
        report(ow, &m->who, NULL, NULL, HPROF_UNREACHABLE,
               "the dump directory was never pinned (the JVM ended first)", "none", 1);
        return;
    }
    if (pin->watch.state != HPROF_OK) {
        report(ow, &m->who, NULL, NULL, pin->watch.state, pin->watch.detail, "none", 1);
        return;
    }
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    who_copy(&p->who, &m->who);
    hprof_watch_dup(&pin->watch, &p->watch);
    p->oom_ns = m->oom_ns;
    p->due_ms = m->now_ms + OOMWATCH_DELAY_MS;
    p->next = ow->pending;
    ow->pending = p;
}

static void run_search(struct oomwatch *ow, struct pending *p)
{
    struct hprof_found f;
    uint64_t window = p->who.rt.settings.oom_hprof_match_window_ms * 1000000ull;
    int rc = hprof_find(&p->watch, p->oom_ns, window, ow->seen, &f);
    char detail[600];
    if (rc == 1) {
        report(ow, &p->who, &p->watch, &f, HPROF_OK, "", "path+time_window", 1);
        return;
    }
    if (rc == -ETIMEDOUT)
        hung(ow, &p->who, &p->watch);
    if (rc < 0) {
        snprintf(detail, sizeof(detail), "cannot list %s: %s", p->watch.dir,
                 rc == -ETIMEDOUT ? "it did not answer in time (hung filesystem?)" : strerror(-rc));
        report(ow, &p->who, NULL, NULL, HPROF_UNREACHABLE, detail, "none", 1);
        return;
    }
    snprintf(detail, sizeof(detail), "no %s%s in %s modified within %llus of the kill",
             p->watch.dir_mode ? "*.hprof" : p->watch.base, p->watch.dir_mode ? " file" : "",
             p->watch.dir, (unsigned long long)(window / 1000000000ull));
    report(ow, &p->who, NULL, NULL, HPROF_NO_FILE, detail, "none", 1);
}

static void run_due(struct oomwatch *ow, uint64_t now_ms)
{
    for (struct pending **pp = &ow->pending; *pp;) {
        struct pending *p = *pp;
        if (now_ms < p->due_ms) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        run_search(ow, p);
        hprof_watch_close(&p->watch);
        who_release(&p->who);
        free(p);
    }
}

/* Java-level OutOfMemoryError: a dump appears while the JVM lives on. */
static void poll_one(struct oomwatch *ow, struct pin *p, uint64_t now_ms)
{
    struct hprof_found f;
    if (p->watch.state != HPROF_OK || now_ms < p->skip_until_ms)
        return;
    int rc = hprof_poll_new(&p->watch, ow->seen, units_now_real_ns(), &f);
    if (rc == 1)
        report(ow, &p->who, &p->watch, &f, HPROF_OK, "", "new_file", 0);
    if (rc == -ETIMEDOUT) {
        hung(ow, &p->who, &p->watch);
        p->skip_until_ms = now_ms + OOMWATCH_HUNG_BACKOFF_MS;
    }
}

/* Polls the live pins and releases those whose process is long gone. */
static void poll_live(struct oomwatch *ow, uint64_t now_ms)
{
    for (struct pin **pp = &ow->pins; *pp;) {
        struct pin *p = *pp;
        if (procfs_same_process(NULL, &p->who.id)) {
            poll_one(ow, p, now_ms);
            pp = &p->next;
            continue;
        }
        if (!p->gone_since_ms)
            p->gone_since_ms = now_ms;
        if (now_ms - p->gone_since_ms < GONE_GRACE_MS) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        hprof_watch_close(&p->watch);
        who_release(&p->who);
        free(p);
    }
}

static void do_tick(struct oomwatch *ow)
{
    uint64_t now = units_now_mono_ms();
    run_due(ow, now);
    if (++ow->ticks % POLL_EVERY_TICKS == 0)
        poll_live(ow, now);
}

static void on_msg(void *arg, bool run)
{
    struct msg *m = arg;
    if (run && m->kind == MSG_ADDED)
        do_pin(m->ow, m);
    else if (run && m->kind == MSG_OOM)
        do_oom(m->ow, m);
    else if (run)
        do_tick(m->ow);
    if (m->kind == MSG_TICK)
        atomic_store(&m->ow->tick_busy, false);
    who_release(&m->who);
    free(m);
}

static struct msg *msg_new(struct oomwatch *ow, enum msg_kind kind, const struct target *tg)
{
    struct msg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->ow = ow;
    m->kind = kind;
    m->now_ms = units_now_mono_ms();
    if (tg) {
        m->who.id = tg->id;
        runner_target_fill(&m->who.rt, tg);
        m->who.rule = tg->rule;
    }
    return m;
}

void oomwatch_set_pods(struct oomwatch *ow, struct podtable *pods)
{
    if (ow)
        ow->pods = pods;
}

void oomwatch_target_added(struct oomwatch *ow, const struct target *tg)
{
    struct msg *m;
    if (!ow || !tg->settings.oom_hprof_enabled || !(m = msg_new(ow, MSG_ADDED, tg)))
        return;
    m->started_ns = tg->started_ns;
    lane_post(ow->lane, "pinning a heap-dump directory", on_msg, m, PIN_BUDGET_MS);
}

void oomwatch_on_oom(struct oomwatch *ow, const struct target *tg, uint64_t oom_real_ns,
                     uint64_t now_ms)
{
    struct msg *m;
    if (!ow || !tg->settings.oom_hprof_enabled || !(m = msg_new(ow, MSG_OOM, tg)))
        return;
    m->oom_ns = oom_real_ns;
    m->now_ms = now_ms;
    lane_post(ow->lane, "an OOM heap-dump search", on_msg, m, PIN_BUDGET_MS);
}

void oomwatch_tick(struct oomwatch *ow, uint64_t now_ms)
{
    struct msg *m;
    if (!ow || atomic_exchange(&ow->tick_busy, true))
        return;
    if (!(m = msg_new(ow, MSG_TICK, NULL))) {
        atomic_store(&ow->tick_busy, false);
        return;
    }
    m->now_ms = now_ms;
    lane_post(ow->lane, "a heap-dump directory scan", on_msg, m, TICK_BUDGET_MS);
}
