#include "events/poller.h"

#include "bpf/steps.h"
#include "events/cgroup.h"
#include "core/fsutil.h"
#include "events/proc_connector.h"
#include "events/procfs.h"
#include "core/units.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct pent {
    int pid, ppid;
    uint64_t start; /* clock ticks since boot: (pid, start) names a process */
    uint64_t memcg; /* memory cgroup id, 0 unknown */
    /* the largest RSS read: the OOM reaper empties a victim before it
     * exits, so a reading between the kill and the exit is near 0 */
    uint64_t rss_pages;
    uint64_t first_ms; /* when first seen */
    char comm[FS_COMM_LEN];
    bool dead;  /* a zombie already reported as exited */
    bool quiet; /* a kernel thread: tracked, never reported */
};

struct mark {
    uint64_t bytes, rearm;
    bool armed;
};

struct ladder {
    uint64_t from, step, next; /* step 0: none */
};

struct wcg {
    uint64_t id;
    char *dir;
    int version;
    uint64_t oom_kills;
    uint64_t limit; /* effective memory limit, read at watch and rescan */
    bool oom_known, has_mark;
    bool near; /* usage >= half the limit: an OOM kill may come soon */
    struct mark m;
    struct ladder l;
};

/* a process with a watermark, a ladder or both */
struct pmark {
    int tgid;
    bool has_mark;
    bool unnamed; /* not in the table at this scan's start: checked after the listing */
    struct mark m;
    struct ladder l;
};

struct pending_oom {
    uint64_t cgid, since_ms;
};

#define VEC(T)                                                                                     \
    struct {                                                                                       \
        T *v;                                                                                      \
        size_t n, cap;                                                                             \
    }

struct pvec {
    struct pent *v;
    size_t n, cap;
};

struct poller {
    char *proc_root, *cgroup_root;
    uint32_t period, young, rescan, oom_match;
    int tfd;
    int efd;       /* with the kernel's feed: the timer and the feed's socket */
    bool periodic; /* the timer fires every period (else once, when due) */
    uint64_t last_scan_ms;
    struct pvec tab;
    struct pvec next; /* the table being built by diff(), swapped in after */
    VEC(int) pids;
    VEC(struct pent) exits; /* exits seen in the current scan */
    VEC(struct wcg) cgs;
    VEC(struct pmark) pm;
    VEC(struct pending_oom) po;
    uint64_t last_rescan_ms;
    long long last_pid, nr_tasks; /* from loadavg; -1 unknown */
    /* the change feed (proc_connector): when live, the pids it named since
     * the last scan replace listing /proc and re-reading every process */
    struct pconn *pc;
    bool feed;   /* live: the kernel's, or the tests' through poller_feed() */
    bool resync; /* events were lost: list and re-read everything once */
    uint32_t resync_ms;
    uint64_t last_listing_ms;
    VEC(int) touched; /* tgids to re-read at the next scan (sorted there) */
    VEC(int) born;    /* new processes (forks of a process, not of a thread) */
    char feed_why[160];
    struct poller_counts counts;
    poller_emit_fn emit;
    void *arg;
    int emitted;
};

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *nv = realloc(*v, nc * elem);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}
#define VEC_PUSH(vec, item)                                                                        \
    (grow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)) == 0                       \
         ? ((vec).v[(vec).n++] = (item), 0)                                                        \
         : -ENOMEM)

static void emit(struct poller *p, struct fs_event *ev)
{
    ev->ts_ns = units_now_boot_ns();
    p->emitted++;
    p->counts.events++;
    if (p->emit)
        p->emit(ev, p->arg);
}

static void event_of(const struct pent *e, uint32_t kind, struct fs_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->pid = ev->tgid = e->pid;
    ev->ppid = e->ppid;
    ev->cgroup_id = e->memcg;
    memcpy(ev->comm, e->comm, sizeof(ev->comm));
}

static void emit_exec(struct poller *p, const struct pent *e)
{
    struct fs_event ev;
    if (e->quiet || e->dead)
        return;
    event_of(e, FS_EV_EXEC, &ev);
    emit(p, &ev);
}

/* Also remembered for OOM victim matching in this scan. */
static void emit_exit(struct poller *p, const struct pent *e)
{
    struct fs_event ev;
    if (e->quiet || e->dead)
        return;
    event_of(e, FS_EV_EXIT, &ev);
    ev.flags = FS_EVF_NO_EXIT_STATUS;
    ev.exit_code = ev.exit_signal = -1;
    emit(p, &ev);
    VEC_PUSH(p->exits, *e);
}

/* ---- /proc diff ------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int push_pid(int pid, void *arg)
{
    struct poller *p = arg;
    return VEC_PUSH(p->pids, pid) < 0 ? -ENOMEM : 0;
}

static int list_pids(struct poller *p)
{
    p->pids.n = 0;
    int rc = procfs_each_pid(p->proc_root, push_pid, p);
    if (rc == 0)
        qsort(p->pids.v, p->pids.n, sizeof(int), cmp_int);
    return rc;
}

/* A leader that called pthread_exit() shows as a zombie while its other
 * threads run: only a zombie with no live thread has exited. */
static bool really_dead(struct poller *p, int pid)
{
    struct proc_status ss;
    return procfs_read_status(p->proc_root, pid, &ss) < 0 || ss.threads <= 1;
}

/* Fills e from /proc/<pid>/stat; the memory cgroup only when with_cg. */
static int read_proc(struct poller *p, int pid, struct pent *e, uint64_t now, bool with_cg)
{
    struct proc_stat st;
    int rc = procfs_read_stat(p->proc_root, pid, &st);
    if (rc < 0)
        return rc;
    memset(e, 0, sizeof(*e));
    e->pid = pid;
    e->ppid = st.ppid;
    e->start = st.starttime;
    e->rss_pages = st.rss_pages;
    e->first_ms = now;
    e->dead = (st.state == 'Z' || st.state == 'X') && really_dead(p, pid);
    e->quiet = pid == 2 || st.ppid == 2; /* kthreadd and its children */
    snprintf(e->comm, sizeof(e->comm), "%s", st.comm);
    if (with_cg && !e->quiet &&
        cgroup_memory_id_of_pid(p->proc_root, p->cgroup_root, pid, &e->memcg) < 0)
        e->memcg = 0;
    return 0;
}

static bool has_int(const int *v, size_t n, int x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Whether memcg is a watched cgroup with a memory limit: a memcg OOM kill
 * can happen there, and its victim is guessed by the RSS last read. */
static bool in_limited_cgroup(const struct poller *p, uint64_t memcg)
{
    for (size_t i = 0; memcg && i < p->cgs.n; i++)
        if (p->cgs.v[i].id == memcg)
            return p->cgs.v[i].limit != CGROUP_UNLIMITED;
    return false;
}

/* Whether e's stat is re-read in this scan whatever its age: the feed
 * named it, or the rescan is due and, with a feed (which reports execs,
 * exits and new processes itself), it can be an OOM victim. */
static bool due(const struct poller *p, const struct pent *e, bool rescan)
{
    if (!p->feed || p->resync)
        return rescan;
    return has_int(p->touched.v, p->touched.n, e->pid) ||
           (rescan && in_limited_cgroup(p, e->memcg));
}

/* Whether memcg is a watched cgroup (OOM kills, watermarks) whose usage
 * is near its limit. */
static bool in_cgroup_near_limit(const struct poller *p, uint64_t memcg)
{
    for (size_t i = 0; memcg && i < p->cgs.n; i++)
        if (p->cgs.v[i].id == memcg)
            return p->cgs.v[i].near;
    return false;
}

/* A pid present in both listings: re-read when young, due for rescan, or
 * in a watched cgroup near its limit: an OOM kill there is matched to its
 * victim by the RSS last read (match_ooms), which must be from this scan's
 * period, not from the process's first seconds (a JVM grows long after its
 * start). Far from the limit the rescan's reading is recent enough, and
 * every process of a large cgroup (a host's root: every process on it) is
 * not read every period. */
static void recheck(struct poller *p, struct pent *e, uint64_t now, bool due)
{
    if (!due && now - e->first_ms >= p->young && !in_cgroup_near_limit(p, e->memcg))
        return;
    struct pent fresh;
    if (read_proc(p, e->pid, &fresh, now, false) < 0)
        return;                    /* vanished since the listing: the next scan reports it */
    if (fresh.start != e->start) { /* pid reused */
        struct pent n;
        emit_exit(p, e);
        if (read_proc(p, e->pid, &n, now, true) == 0) {
            *e = n;
            emit_exec(p, e);
        } else {
            e->dead = true;
        }
        return;
    }
    if (fresh.dead && !e->dead) {
        emit_exit(p, e);
        e->dead = true;
        return;
    }
    if (fresh.rss_pages > e->rss_pages)
        e->rss_pages = fresh.rss_pages;
    if (!e->quiet && !e->dead && strcmp(fresh.comm, e->comm) != 0) {
        /* an exec: runtimes move a container's first process into its
         * cgroup between fork and exec, so the cgroup is read again */
        memcpy(e->comm, fresh.comm, sizeof(e->comm));
        e->ppid = fresh.ppid;
        e->rss_pages = fresh.rss_pages; /* a new program image */
        if (cgroup_memory_id_of_pid(p->proc_root, p->cgroup_root, e->pid, &e->memcg) < 0)
            e->memcg = 0;
        emit_exec(p, e);
    }
}

static int diff(struct poller *p, uint64_t now, bool rescan, bool quiet)
{
    size_t i = 0, j = 0;
    p->next.n = 0;
    while (i < p->tab.n || j < p->pids.n) {
        struct pent *old = i < p->tab.n ? &p->tab.v[i] : NULL;
        int pid = j < p->pids.n ? p->pids.v[j] : INT_MAX;
        if (old && old->pid < pid) {
            emit_exit(p, old);
            i++;
            continue;
        }
        struct pent e;
        if (old && old->pid == pid) {
            e = *old;
            recheck(p, &e, now, due(p, &e, rescan));
            i++;
        } else if (read_proc(p, pid, &e, now, true) < 0) {
            j++; /* came and went between the listing and the read */
            continue;
        } else if (!quiet) {
            emit_exec(p, &e);
        }
        j++;
        if (VEC_PUSH(p->next, e) < 0)
            return -ENOMEM;
    }
    struct pvec tmp = p->tab;
    p->tab = p->next;
    p->next = tmp;
    p->counts.procs = p->tab.n;
    return 0;
}

/* ---- watermarks and OOM counters ------------------------------------------------ */

/* The rule of bpf/events.bpf.c check_mark(). Returns true to emit. */
static bool mark_crossed(struct mark *m, uint64_t value)
{
    if (value < m->bytes) {
        if (value < m->rearm)
            m->armed = true;
        return false;
    }
    if (!m->armed)
        return false;
    m->armed = false;
    return true;
}

/* The rule of bpf/steps.h, as bpf/events.bpf.c check_step() applies it.
 * Returns true to emit; *boundary is the step reached. */
static bool ladder_moved(struct ladder *l, uint64_t value, uint64_t *boundary)
{
    if (!l->step)
        return false;
    uint64_t next = fs_step_next(l->from, l->step, l->next, value);
    *boundary = l->next;
    bool reached = value >= l->next;
    l->next = next;
    return reached;
}

/* One reading against a watermark (kind: its record) and a ladder. */
static void check_value(struct poller *p, struct fs_event *ev, uint32_t kind, bool has_mark,
                        struct mark *m, struct ladder *l, uint64_t v)
{
    uint64_t boundary;
    ev->value_bytes = v;
    if (has_mark && mark_crossed(m, v)) {
        ev->kind = kind;
        ev->watermark_bytes = m->bytes;
        emit(p, ev);
    }
    if (ladder_moved(l, v, &boundary)) {
        ev->kind = kind == FS_EV_WATERMARK_CGROUP ? FS_EV_STEP_CGROUP : FS_EV_STEP_PROC;
        ev->watermark_bytes = boundary;
        emit(p, ev);
    }
}

/* The cgroup's effective limit (its own or an ancestor's). */
static void read_limit(const struct poller *p, struct wcg *c)
{
    struct cgroup_info cg = {.memory_version = c->version};
    snprintf(cg.memory_root, sizeof(cg.memory_root), "%s", p->cgroup_root);
    snprintf(cg.memory_dir, sizeof(cg.memory_dir), "%s", c->dir);
    if (cgroup_memory_limit(&cg, &c->limit) < 0)
        c->limit = CGROUP_UNLIMITED;
}

static void check_cgroup(struct poller *p, struct wcg *c, uint64_t now, bool rescan)
{
    uint64_t v, usage = 0;
    if (rescan)
        read_limit(p, c);
    bool limited = c->limit != CGROUP_UNLIMITED, marked = c->has_mark || c->l.step;
    /* one reading per period serves both the limit and the marks */
    bool have = (limited || marked) && cgroup_read_usage(c->dir, c->version, &usage) == 0;
    c->near = have && limited && usage >= c->limit / 2;
    if (cgroup_read_oom_kills(c->dir, c->version, &v) == 0) {
        for (uint64_t k = c->oom_known ? c->oom_kills : v; k < v; k++) {
            struct pending_oom po = {.cgid = c->id, .since_ms = now};
            VEC_PUSH(p->po, po);
        }
        c->oom_kills = v;
        c->oom_known = true;
    }
    if (marked && have) {
        struct fs_event ev = {.cgroup_id = c->id};
        check_value(p, &ev, FS_EV_WATERMARK_CGROUP, c->has_mark, &c->m, &c->l, usage);
    }
}

static const struct pent *find_proc(const struct poller *p, int pid)
{
    size_t lo = 0, hi = p->tab.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->tab.v[mid].pid == pid)
            return &p->tab.v[mid];
        if (p->tab.v[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void check_proc_mark(struct poller *p, struct pmark *pm)
{
    uint64_t v;
    if (procfs_read_rss(p->proc_root, pm->tgid, &v) < 0)
        return;
    struct fs_event ev = {.pid = pm->tgid, .tgid = pm->tgid};
    const struct pent *e = find_proc(p, pm->tgid);
    if (e)
        event_of(e, FS_EV_WATERMARK_PROC, &ev);
    check_value(p, &ev, FS_EV_WATERMARK_PROC, pm->has_mark, &pm->m, &pm->l, v);
}

/* The victim of a pending OOM kill: among this scan's exits from its
 * cgroup, the one with the largest RSS seen. */
static void match_ooms(struct poller *p, uint64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < p->po.n; i++) {
        struct pending_oom *po = &p->po.v[i];
        struct pent *best = NULL;
        for (size_t k = 0; k < p->exits.n; k++) {
            struct pent *x = &p->exits.v[k];
            if (x->memcg == po->cgid && !x->quiet && (!best || x->rss_pages > best->rss_pages))
                best = x;
        }
        struct fs_event ev = {.kind = FS_EV_OOM, .cgroup_id = po->cgid};
        if (best) {
            event_of(best, FS_EV_OOM, &ev);
            ev.flags = FS_EVF_PID_GUESSED;
            best->quiet = true; /* one victim per kill */
            emit(p, &ev);
        } else if (now - po->since_ms >= p->oom_match) {
            emit(p, &ev);
        } else {
            p->po.v[keep++] = *po;
        }
    }
    p->po.n = keep;
}

/* /proc/loadavg ends with "<running>/<tasks> <last pid>": when neither the
 * number of tasks nor the last pid allocated moved, no process was created
 * or reaped since the previous look, and listing /proc (the expensive part:
 * the kernel instantiates a dentry per pid) can be skipped. */
static bool procs_changed(struct poller *p)
{
    char path[PATH_MAX], buf[128];
    long long tasks, last;
    snprintf(path, sizeof(path), "%s/loadavg", p->proc_root);
    if (fsutil_read_small(path, buf, sizeof(buf)) < 0 ||
        sscanf(buf, "%*s %*s %*s %*d/%lld %lld", &tasks, &last) != 2) {
        p->last_pid = p->nr_tasks = -1;
        return true;
    }
    bool changed = tasks != p->nr_tasks || last != p->last_pid || p->last_pid < 0;
    p->nr_tasks = tasks;
    p->last_pid = last;
    return changed;
}

/* Without a listing: re-read the young (and, at rescan, all) entries. */
static void recheck_all(struct poller *p, uint64_t now, bool rescan)
{
    for (size_t i = 0; i < p->tab.n; i++)
        recheck(p, &p->tab.v[i], now, due(p, &p->tab.v[i], rescan));
}

/* ---- the change feed ------------------------------------------------------------ */

static void on_feed(const struct pconn_event *ev, void *arg)
{
    poller_feed(arg, ev);
}

int poller_feed(struct poller *p, const struct pconn_event *ev)
{
    p->counts.feed_events++;
    switch (ev->kind) {
    case PCONN_FORK:
        if (ev->pid != ev->tgid)
            return 0; /* a new thread */
        return VEC_PUSH(p->born, ev->tgid) < 0 || VEC_PUSH(p->touched, ev->tgid) < 0 ? -ENOMEM : 0;
    case PCONN_COMM:
        if (ev->pid != ev->tgid)
            return 0; /* a thread's name is not the process's */
        /* fall through */
    case PCONN_EXEC: /* a thread's exec makes it the leader: the tgid is the process */
        /* and one the table lacks (its fork was lost) is read as new */
        if (VEC_PUSH(p->born, ev->tgid) < 0)
            return -ENOMEM;
        /* fall through */
    case PCONN_EXIT: /* a thread's too: its leader may be a zombie waiting for it */
        return VEC_PUSH(p->touched, ev->tgid) < 0 ? -ENOMEM : 0;
    }
    return 0;
}

static bool pid_exists(const struct poller *p, int pid)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d", p->proc_root, pid);
    return access(path, F_OK) == 0;
}

static void sort_unique(int *v, size_t *n)
{
    size_t k = 0;
    if (*n == 0)
        return; /* v may be NULL, which qsort must not get */
    qsort(v, *n, sizeof(int), cmp_int);
    for (size_t i = 0; i < *n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    *n = k;
}

/* The listing the feed implies: the table's pids, less those it named
 * that are gone from /proc (and exits already reported), plus the new
 * processes it named. */
static int feed_pids(struct poller *p)
{
    p->pids.n = 0;
    for (size_t i = 0; i < p->tab.n; i++) {
        const struct pent *e = &p->tab.v[i];
        if ((e->dead || has_int(p->touched.v, p->touched.n, e->pid)) && !pid_exists(p, e->pid))
            continue;
        if (VEC_PUSH(p->pids, e->pid) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < p->born.n; i++)
        if (VEC_PUSH(p->pids, p->born.v[i]) < 0)
            return -ENOMEM;
    sort_unique(p->pids.v, &p->pids.n);
    return 0;
}

/* Drains the kernel's feed; true when /proc must be listed in full. */
static bool feed_wants_listing(struct poller *p, uint64_t now)
{
    if (p->pc && pconn_drain(p->pc, on_feed, p) == -ENOBUFS) {
        p->counts.feed_overflows++;
        p->resync = true;
    }
    sort_unique(p->touched.v, &p->touched.n);
    return p->resync || now - p->last_listing_ms >= p->resync_ms;
}

static int scan(struct poller *p, uint64_t now, bool quiet)
{
    bool rescan = now - p->last_rescan_ms >= p->rescan;
    int rc = 0;
    p->exits.n = 0;
    /* a target's RSS first, from the previous listing: an emergency must
     * not wait for /proc to be listed and every new process judged (the
     * consumer may read each one's command line), which can take longer
     * than the rest of the period on a busy node. One the table does not
     * know yet waits for the listing to name it: a record without its
     * comm, parent and cgroup is one a consumer cannot place */
    for (size_t i = 0; i < p->pm.n; i++) {
        struct pmark *pm = &p->pm.v[i];
        pm->unnamed = !find_proc(p, pm->tgid);
        if (!pm->unnamed)
            check_proc_mark(p, pm);
    }
    if (p->feed) {
        bool list = feed_wants_listing(p, now);
        if (list && p->resync)
            rescan = true;
        rc = list ? list_pids(p) : feed_pids(p);
        if (rc == 0 && (list || p->touched.n || p->born.n))
            rc = diff(p, now, rescan, quiet);
        else if (rc == 0)
            recheck_all(p, now, rescan);
        if (list) {
            p->counts.listings++;
            p->last_listing_ms = now;
            p->resync = false;
        }
        p->touched.n = p->born.n = 0;
    } else if (procs_changed(p) || rescan) {
        p->counts.listings++;
        rc = list_pids(p);
        if (rc == 0)
            rc = diff(p, now, rescan, quiet);
    } else {
        recheck_all(p, now, false);
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < p->pm.n; i++)
        if (p->pm.v[i].unnamed)
            check_proc_mark(p, &p->pm.v[i]);
    if (rescan)
        p->last_rescan_ms = now;
    for (size_t i = 0; i < p->cgs.n; i++)
        check_cgroup(p, &p->cgs.v[i], now, rescan);
    match_ooms(p, now);
    return 0;
}

int poller_scan(struct poller *p, uint64_t now_ms, poller_emit_fn fn, void *arg)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    p->emit = fn;
    p->arg = arg;
    p->emitted = 0;
    int rc = scan(p, now_ms, false);
    p->emit = NULL;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    p->counts.scans++;
    p->last_scan_ms = now_ms;
    p->counts.scan_ns += (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec));
    return rc < 0 ? rc : p->emitted;
}

/* ---- when to wake ---------------------------------------------------------------- */

/* Whether the next scan must come one period after the last: something is
 * watched at the period's resolution (a watermark or ladder, a cgroup
 * near its limit, an OOM kill waiting for its victim), or no kernel feed
 * says when processes change. Otherwise the poller sleeps until the feed
 * reports a change or the rescan is due: waking every 50 ms costs ~0.2 %
 * of a core in this VM by itself, for nothing on a quiet node. */
static bool needs_period(const struct poller *p)
{
    if (!p->pc || p->pm.n || p->po.n)
        return true;
    for (size_t i = 0; i < p->cgs.n; i++) {
        const struct wcg *c = &p->cgs.v[i];
        if (c->has_mark || c->l.step || c->near)
            return true;
    }
    return false;
}

static int set_timer(struct poller *p, uint64_t in_ms, bool periodic)
{
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(in_ms / 1000);
    its.it_value.tv_nsec = (long)(in_ms % 1000) * 1000000L;
    if (periodic)
        its.it_interval = its.it_value;
    if (timerfd_settime(p->tfd, 0, &its, NULL) < 0)
        return -errno;
    p->periodic = periodic;
    return 0;
}

/* The feed's socket wakes the poller once more (EPOLLONESHOT: a burst of
 * changes wakes it once; the scan a period later reads them all). */
static int arm_feed(struct poller *p)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = pconn_fd(p->pc)};
    return epoll_ctl(p->efd, EPOLL_CTL_MOD, pconn_fd(p->pc), &ev) < 0 ? -errno : 0;
}

/* After a scan: the period's timer, or one wake-up when the rescan or
 * the resync is due, with the feed armed. */
static int schedule(struct poller *p, uint64_t now)
{
    if (p->tfd < 0)
        return 0;
    if (needs_period(p))
        return p->periodic ? 0 : set_timer(p, p->period, true);
    uint64_t due = p->last_rescan_ms + p->rescan;
    if (p->last_listing_ms + p->resync_ms < due)
        due = p->last_listing_ms + p->resync_ms;
    int rc = set_timer(p, due > now + p->period ? due - now : p->period, false);
    return rc < 0 ? rc : arm_feed(p);
}

/* A mark or ladder set while asleep: back to the period at once. */
static int keep_period(struct poller *p)
{
    return needs_period(p) ? schedule(p, 0) : 0;
}

/* Whether the timer woke the poller (with the feed, its set says: an
 * epoll set reports a one-shot entry, and so disarms it, only when
 * waited on itself). */
static int woken_by_timer(struct poller *p, bool *timer)
{
    struct epoll_event evs[2];
    int n = p->efd >= 0 ? epoll_wait(p->efd, evs, 2, 0) : 1;
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    *timer = p->efd < 0;
    for (int i = 0; i < n && p->efd >= 0; i++)
        *timer |= evs[i].data.fd == p->tfd;
    return 0;
}

int poller_consume(struct poller *p, poller_emit_fn fn, void *arg)
{
    uint64_t expirations = 0;
    bool timer = false;
    if (p->tfd < 0)
        return -EBADF;
    int rc = woken_by_timer(p, &timer);
    if (rc < 0)
        return rc;
    if (timer && read(p->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return -errno;
    if (expirations > 1 && p->periodic)
        p->counts.missed_ticks += expirations - 1;
    uint64_t now = units_now_mono_ms();
    if (expirations == 0) { /* the feed woke it, or nothing did */
        if (!p->pc || p->periodic)
            return 0; /* the period's scan reads the feed */
        if (now - p->last_scan_ms < p->period)
            return set_timer(p, p->last_scan_ms + p->period - now, false);
    }
    p->counts.wakeups++;
    rc = poller_scan(p, now, fn, arg);
    int src = schedule(p, now);
    return rc < 0 ? rc : src < 0 ? src : rc;
}

/* ---- life cycle ----------------------------------------------------------------- */

/* The timer alone, or with the kernel's feed an epoll set of both. */
static int start_timer(struct poller *p, uint64_t now)
{
    p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (p->tfd < 0)
        return -errno;
    if (p->pc) {
        struct epoll_event t = {.events = EPOLLIN, .data.fd = p->tfd};
        struct epoll_event f = {.events = 0, .data.fd = pconn_fd(p->pc)};
        p->efd = epoll_create1(EPOLL_CLOEXEC);
        if (p->efd < 0 || epoll_ctl(p->efd, EPOLL_CTL_ADD, p->tfd, &t) < 0 ||
            epoll_ctl(p->efd, EPOLL_CTL_ADD, pconn_fd(p->pc), &f) < 0)
            return -errno;
    }
    return schedule(p, now);
}

/* Whether proc_root is this process's own /proc (the kernel's events name
 * its PIDs; a test's tree or another namespace's does not). */
static bool own_proc(const struct poller *p)
{
    char path[PATH_MAX], link[32];
    snprintf(path, sizeof(path), "%s/self", p->proc_root);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    return atoi(link) == (int)getpid();
}

/* Before the baseline listing, so that nothing falls between the two. */
static void open_feed(struct poller *p, enum poller_feed want, int rcvbuf)
{
    p->feed = want == POLLER_FEED_MANUAL;
    if (want == POLLER_FEED_NONE)
        snprintf(p->feed_why, sizeof(p->feed_why), "not asked for");
    else if (want == POLLER_FEED_KERNEL && !own_proc(p))
        snprintf(p->feed_why, sizeof(p->feed_why), "%s is not this PID namespace's /proc",
                 p->proc_root);
    else if (want == POLLER_FEED_KERNEL)
        p->feed = pconn_open(&p->pc, rcvbuf, p->feed_why, sizeof(p->feed_why)) == 0;
    p->counts.feed = p->feed;
}

int poller_new(const struct poller_options *o, struct poller **out)
{
    static const struct poller_options defaults = {0};
    const struct poller_options *opt = o ? o : &defaults;
    struct poller *p = calloc(1, sizeof(*p));
    int rc = -ENOMEM;
    if (!p)
        return rc;
    p->tfd = p->efd = -1;
    p->last_pid = p->nr_tasks = -1;
    p->proc_root = strdup(opt->proc_root ? opt->proc_root : "/proc");
    p->cgroup_root = strdup(opt->cgroup_root ? opt->cgroup_root : "/sys/fs/cgroup");
    p->period = opt->period_ms ? opt->period_ms : 50;
    p->young = opt->young_ms ? opt->young_ms : 1000;
    p->rescan = opt->rescan_ms ? opt->rescan_ms : 2000;
    p->oom_match = opt->oom_match_ms ? opt->oom_match_ms : 1000;
    p->resync_ms = opt->resync_ms ? opt->resync_ms : 30000;
    if (!p->proc_root || !p->cgroup_root)
        goto out;
    open_feed(p, opt->feed, opt->feed_rcvbuf);
    uint64_t now = opt->start_ms ? opt->start_ms : units_now_mono_ms();
    p->last_rescan_ms = p->last_scan_ms = now;
    rc = scan(p, now, true); /* baseline: what exists now is not news */
    for (size_t i = 0; rc == 0 && i < p->tab.n; i++)
        p->tab.v[i].first_ms = now - p->young; /* not young: they did not just fork */
    if (rc == 0 && !opt->no_timer)
        rc = start_timer(p, now);
    if (rc < 0)
        goto out;
    *out = p;
    return 0;
out:
    poller_free(p);
    return rc;
}

void poller_free(struct poller *p)
{
    if (!p)
        return;
    if (p->tfd >= 0)
        close(p->tfd);
    if (p->efd >= 0)
        close(p->efd);
    pconn_close(p->pc);
    free(p->touched.v);
    free(p->born.v);
    for (size_t i = 0; i < p->cgs.n; i++)
        free(p->cgs.v[i].dir);
    free(p->tab.v);
    free(p->next.v);
    free(p->pids.v);
    free(p->exits.v);
    free(p->cgs.v);
    free(p->pm.v);
    free(p->po.v);
    free(p->proc_root);
    free(p->cgroup_root);
    free(p);
}

int poller_fd(const struct poller *p)
{
    return p->efd >= 0 ? p->efd : p->tfd;
}

/* ---- registrations ------------------------------------------------------------------ */

static struct wcg *find_cg(struct poller *p, uint64_t id)
{
    for (size_t i = 0; i < p->cgs.n; i++)
        if (p->cgs.v[i].id == id)
            return &p->cgs.v[i];
    return NULL;
}

int poller_watch_cgroup(struct poller *p, uint64_t id, const char *dir)
{
    int version = cgroup_dir_memory_version(dir);
    if (version < 0)
        return version;
    char *copy = strdup(dir);
    if (!copy)
        return -ENOMEM;
    struct wcg *c = find_cg(p, id);
    if (c) {
        free(c->dir);
        c->dir = copy;
        c->version = version;
        read_limit(p, c);
        return 0;
    }
    struct wcg n = {.id = id, .dir = copy, .version = version};
    read_limit(p, &n);
    /* the counter's value now is the baseline: earlier kills are not news */
    n.oom_known = cgroup_read_oom_kills(dir, version, &n.oom_kills) == 0;
    if (VEC_PUSH(p->cgs, n) < 0) {
        free(copy);
        return -ENOMEM;
    }
    return 0;
}

int poller_unwatch_cgroup(struct poller *p, uint64_t id)
{
    struct wcg *c = find_cg(p, id);
    if (!c)
        return -ENOENT;
    free(c->dir);
    *c = p->cgs.v[--p->cgs.n];
    return 0;
}

int poller_set_cgroup_mark(struct poller *p, uint64_t id, uint64_t bytes, uint64_t rearm_bytes)
{
    struct wcg *c = find_cg(p, id);
    if (rearm_bytes > bytes || bytes == 0)
        return -EINVAL;
    if (!c)
        return -ENOENT;
    c->has_mark = true;
    c->m = (struct mark){.bytes = bytes, .rearm = rearm_bytes, .armed = true};
    return keep_period(p);
}

int poller_clear_cgroup_mark(struct poller *p, uint64_t id)
{
    struct wcg *c = find_cg(p, id);
    if (!c || !c->has_mark)
        return -ENOENT;
    c->has_mark = false;
    return 0;
}

static struct pmark *find_pm(struct poller *p, int tgid)
{
    for (size_t i = 0; i < p->pm.n; i++)
        if (p->pm.v[i].tgid == tgid)
            return &p->pm.v[i];
    return NULL;
}

/* The entry of tgid, made when missing; NULL: out of memory. */
static struct pmark *get_pm(struct poller *p, int tgid)
{
    struct pmark *pm = find_pm(p, tgid), n = {.tgid = tgid};
    if (pm || VEC_PUSH(p->pm, n) < 0)
        return pm;
    return &p->pm.v[p->pm.n - 1];
}

/* Drops the entry once it holds neither a watermark nor a ladder. */
static void put_pm(struct poller *p, struct pmark *pm)
{
    if (!pm->has_mark && !pm->l.step)
        *pm = p->pm.v[--p->pm.n];
}

int poller_set_proc_mark(struct poller *p, int tgid, uint64_t bytes, uint64_t rearm_bytes)
{
    if (rearm_bytes > bytes || bytes == 0 || tgid <= 0)
        return -EINVAL;
    struct pmark *pm = get_pm(p, tgid);
    if (!pm)
        return -ENOMEM;
    pm->has_mark = true;
    pm->m = (struct mark){.bytes = bytes, .rearm = rearm_bytes, .armed = true};
    return keep_period(p);
}

int poller_clear_proc_mark(struct poller *p, int tgid)
{
    struct pmark *pm = find_pm(p, tgid);
    if (!pm || !pm->has_mark)
        return -ENOENT;
    pm->has_mark = false;
    put_pm(p, pm);
    return 0;
}

static int set_ladder(struct ladder *l, uint64_t from, uint64_t step)
{
    if (!step && !l->step)
        return -ENOENT;
    *l = (struct ladder){.from = step ? from : 0, .step = step, .next = step ? from : 0};
    return 0;
}

int poller_set_cgroup_steps(struct poller *p, uint64_t id, uint64_t from_bytes, uint64_t step_bytes)
{
    struct wcg *c = find_cg(p, id);
    int rc = c ? set_ladder(&c->l, from_bytes, step_bytes) : -ENOENT;
    return rc < 0 ? rc : keep_period(p);
}

int poller_set_proc_steps(struct poller *p, int tgid, uint64_t from_bytes, uint64_t step_bytes)
{
    if (tgid <= 0)
        return -EINVAL;
    struct pmark *pm = step_bytes ? get_pm(p, tgid) : find_pm(p, tgid);
    if (!pm)
        return step_bytes ? -ENOMEM : -ENOENT;
    int rc = set_ladder(&pm->l, from_bytes, step_bytes);
    put_pm(p, pm);
    return rc < 0 ? rc : keep_period(p);
}

void poller_counts(const struct poller *p, struct poller_counts *out)
{
    *out = p->counts;
    out->periodic = p->tfd >= 0 && p->periodic;
}

const char *poller_feed_why(const struct poller *p)
{
    return p->feed ? NULL : p->feed_why;
}
