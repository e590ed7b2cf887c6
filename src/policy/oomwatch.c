#include "policy/oomwatch.h"

#include "outbox/artefact.h"
#include "capture/hprof.h"
#include "capture/jvmopts.h"
#include "core/log.h"
#include "outbox/outbox.h"
#include "policy/runner.h"
#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_EVERY_TICKS 2

/* Who a record is about; copied so it outlives the target. */
struct who {
    struct proc_ident id;
    struct runner_target rt;
    const struct rule *rule;
};

/* A search due after an OOM kill. */
struct pending {
    struct who who;
    struct hprof_watch watch; /* its own dir_fd (a dup) */
    uint64_t oom_ns;
    uint64_t due_ms;
    struct pending *next;
};

struct oomwatch {
    const struct config *cfg;
    struct outbox *outbox;
    struct hprof_seen *seen;
    struct pending *pending;
    unsigned ticks;
};

struct oomwatch *oomwatch_new(const struct config *cfg, struct outbox *outbox)
{
    if (!cfg->oom_hprof_enabled)
        return NULL;
    struct oomwatch *ow = calloc(1, sizeof(*ow));
    char path[4096];
    snprintf(path, sizeof(path), "%s/hprof_seen.jsonl", cfg->profiling_path);
    if (!ow || !(ow->seen = hprof_seen_open(path))) {
        free(ow);
        return NULL;
    }
    ow->cfg = cfg;
    ow->outbox = outbox;
    return ow;
}

static void pending_free(struct pending *p)
{
    hprof_watch_close(&p->watch);
    free(p);
}

void oomwatch_free(struct oomwatch *ow)
{
    if (!ow)
        return;
    while (ow->pending) {
        struct pending *p = ow->pending;
        ow->pending = p->next;
        pending_free(p);
    }
    hprof_seen_close(ow->seen);
    free(ow);
}

void oomwatch_target_added(struct oomwatch *ow, struct target *tg)
{
    struct hprof_spec spec;
    struct jvmopts opts;
    if (!ow)
        return;
    /* /proc only: the loop thread never reads a container's files */
    int rc = jvmopts_of_pid(NULL, tg->id.pid, NULL, NULL, &opts);
    if (rc == 0)
        hprof_spec_from(&opts, &spec);
    jvmopts_free(&opts);
    if (rc < 0)
        return;
    hprof_watch_open(NULL, tg->id.pid, tg->id.nspid, tg->started_ns, &spec, &tg->hprof);
    if (tg->hprof.state == HPROF_OK)
        log_debug("oomwatch", "pid %d: heap dumps go to %s/%s", tg->id.pid, tg->hprof.dir,
                  tg->hprof.base);
    else
        log_info("oomwatch", "pid %d: no heap dump to recover after an OOM kill: %s", tg->id.pid,
                 tg->hprof.detail);
}

void oomwatch_target_removed(struct oomwatch *ow, struct target *tg)
{
    (void)ow;
    hprof_watch_close(&tg->hprof);
}

static void who_of(const struct target *tg, struct who *w)
{
    w->id = tg->id;
    runner_target_fill(&w->rt, tg);
    w->rule = tg->rule;
}

/* One flameshot_oom_hprof record: f is the dump, or NULL with why. */
static void report(struct oomwatch *ow, const struct who *w, const struct hprof_found *f,
                   enum hprof_why why, const char *detail, const char *matched_by, int delta)
{
    struct artefact_meta m;
    char msg[1024], err[256];
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
    if (rc == 0)
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

void oomwatch_on_oom(struct oomwatch *ow, struct target *tg, uint64_t oom_real_ns, uint64_t now_ms)
{
    if (!ow)
        return;
    struct who w;
    who_of(tg, &w);
    if (tg->hprof.state != HPROF_OK) {
        report(ow, &w, NULL, tg->hprof.state, tg->hprof.detail, "none", 1);
        return;
    }
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->who = w;
    p->watch = tg->hprof;
    p->watch.dir_fd = fcntl(tg->hprof.dir_fd, F_DUPFD_CLOEXEC, 0);
    p->oom_ns = oom_real_ns;
    p->due_ms = now_ms + OOMWATCH_DELAY_MS;
    p->next = ow->pending;
    ow->pending = p;
}

static void run_search(struct oomwatch *ow, struct pending *p)
{
    struct hprof_found f;
    uint64_t window = ow->cfg->oom_hprof_match_window_ms * 1000000ull;
    int rc = hprof_find(&p->watch, p->oom_ns, window, ow->seen, &f);
    char detail[600];
    if (rc == 1) {
        report(ow, &p->who, &f, HPROF_OK, "", "path+time_window", 1);
        return;
    }
    if (rc < 0) {
        snprintf(detail, sizeof(detail), "cannot list %s: %s", p->watch.dir, strerror(-rc));
        report(ow, &p->who, NULL, HPROF_UNREACHABLE, detail, "none", 1);
        return;
    }
    snprintf(detail, sizeof(detail), "no %s%s in %s modified within %llus of the kill",
             p->watch.dir_mode ? "*.hprof" : p->watch.base, p->watch.dir_mode ? " file" : "",
             p->watch.dir, (unsigned long long)(window / 1000000000ull));
    report(ow, &p->who, NULL, HPROF_NO_FILE, detail, "none", 1);
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
        pending_free(p);
    }
}

/* Java-level OutOfMemoryError: a dump appears while the JVM lives on. */
static void poll_live(struct oomwatch *ow, struct targets *targets)
{
    uint64_t now = units_now_real_ns();
    for (size_t i = 0; i < targets_count(targets); i++) {
        struct target *tg = targets_at(targets, i);
        struct hprof_found f;
        if (tg->hprof.state != HPROF_OK || !hprof_poll_new(&tg->hprof, ow->seen, now, &f))
            continue;
        struct who w;
        who_of(tg, &w);
        report(ow, &w, &f, HPROF_OK, "", "new_file", 0);
    }
}

void oomwatch_tick(struct oomwatch *ow, struct targets *targets, uint64_t now_ms)
{
    if (!ow)
        return;
    run_due(ow, now_ms);
    if (++ow->ticks % POLL_EVERY_TICKS == 0)
        poll_live(ow, targets);
}
