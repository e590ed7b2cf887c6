#include "policy/targets.h"

#include "core/vec.h"
#include "capture/jvmopts.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pending {
    int pid;
    uint64_t since_ms;
};

struct targets {
    pthread_mutex_t lock;
    const struct config *cfg;
    const char *proc_root;
    const char *cgroup_root;
    struct target **items;
    size_t n, cap;
    struct target **cands; /* matched, not yet known to be JVMs */
    size_t n_cands, cap_cands;
    struct podtable *pods;   /* Kubernetes mode; NULL standalone */
    struct pending *pending; /* waiting for their Pod */
    size_t n_pending, cap_pending;
    uint64_t host_mem;
    int ncpus;
    pid_t self;
};

/* JDK tools attach to JVMs themselves; profiling them would be noise, and
 * a jcmd started by an operator must never be taken for the application. */
static const char *const jdk_tools[] = {"jcmd", "jps", "jstack", "jmap", "jinfo", "jstat", "jhsdb"};

/* The same tools when started as `java -m <module>/...` or by main class. */
static const char *const jdk_tool_mains[] = {
    "jdk.jcmd/",        "jdk.hotspot.agent/", "jdk.jstatd/",     "sun.tools.jcmd.",
    "sun.tools.jps.",   "sun.tools.jstack.",  "sun.tools.jmap.", "sun.tools.jinfo.",
    "sun.tools.jstat.", "sun.jvm.hotspot.",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

#define IN_LIST(s, l) in_list(s, l, sizeof(l) / sizeof(l[0]))

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The main entry of a java command line (jvmopts.h: the launcher's rules;
 * no @argfile is read here, on the loop thread), copied into buf; NULL
 * when there is none. */
static const char *java_main(const char *argv, size_t len, enum jvmopts_mode *mode, char *buf,
                             size_t cap)
{
    struct jvmopts o;
    struct jvmopts_input in = {.argv = argv, .argv_len = len};
    const char *m = NULL;
    if (argv && len && jvmopts_parse(&in, &o) == 0 && o.main) {
        snprintf(buf, cap, "%s", o.main);
        *mode = o.mode;
        m = buf;
    }
    jvmopts_free(&o);
    return m;
}

int targets_is_excluded(const char *argv, size_t argv_len, const char *comm, int ppid)
{
    if (ppid == getpid())
        return 1; /* a capture child of ours: it runs our code, not the app */
    if (comm && IN_LIST(comm, jdk_tools))
        return 1;
    if (!argv || !argv_len)
        return 0;
    if (IN_LIST(base_name(argv), jdk_tools))
        return 1;
    enum jvmopts_mode mode;
    char buf[256];
    const char *m = java_main(argv, argv_len, &mode, buf, sizeof(buf));
    for (size_t i = 0;
         m && mode != JVMOPTS_JAR && i < sizeof(jdk_tool_mains) / sizeof(jdk_tool_mains[0]); i++)
        if (strncmp(m, jdk_tool_mains[i], strlen(jdk_tool_mains[i])) == 0)
            return 1;
    return 0;
}

char *targets_guess_service(const char *argv, size_t argv_len, const char *comm, char *buf,
                            size_t cap)
{
    enum jvmopts_mode mode;
    char main[256];
    const char *m = java_main(argv, argv_len, &mode, main, sizeof(main));
    if (m && (mode == JVMOPTS_JAR || mode == JVMOPTS_SOURCE)) {
        const char *b = base_name(m);
        const char *ext = mode == JVMOPTS_JAR ? ".jar" : ".java";
        size_t l = strlen(b), el = strlen(ext);
        if (l > el && strcmp(b + l - el, ext) == 0)
            l -= el;
        snprintf(buf, cap, "%.*s", (int)l, b);
    } else if (m) {
        const char *slash = strrchr(m, '/'); /* module/class */
        const char *cls = slash ? slash + 1 : m;
        const char *dot = strrchr(cls, '.');
        snprintf(buf, cap, "%s", dot && dot[1] ? dot + 1 : cls);
    } else {
        snprintf(buf, cap, "%s", comm && *comm ? comm : "unknown_service");
    }
    return buf;
}

struct targets *targets_new(const struct config *cfg, const char *proc_root,
                            const char *cgroup_root)
{
    struct targets *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&t->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    t->cfg = cfg;
    t->proc_root = proc_root;
    t->cgroup_root = cgroup_root;
    t->host_mem = procfs_mem_total(proc_root);
    t->ncpus = procfs_ncpus();
    t->self = getpid();
    return t;
}

static void target_free(struct target *tg)
{
    if (!tg)
        return;
    free(tg->cmdline);
    free(tg->argv);
    podref_put(tg->pod_ref);
    free(tg);
}

void targets_free(struct targets *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        target_free(t->items[i]);
    for (size_t i = 0; i < t->n_cands; i++)
        target_free(t->cands[i]);
    free(t->items);
    free(t->cands);
    free(t->pending);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void targets_set_pods(struct targets *t, struct podtable *pt)
{
    t->pods = pt;
}

void targets_lock(struct targets *t)
{
    pthread_mutex_lock(&t->lock);
}

void targets_unlock(struct targets *t)
{
    pthread_mutex_unlock(&t->lock);
}

struct target *targets_find(struct targets *t, int pid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i]->id.pid == pid)
            return t->items[i];
    return NULL;
}

size_t targets_count(struct targets *t)
{
    return t->n;
}

size_t targets_candidates(struct targets *t)
{
    return t->n_cands;
}

struct target *targets_at(struct targets *t, size_t i)
{
    return i < t->n ? t->items[i] : NULL;
}

/* A rule the target's limits make silent: cpu_usage_percent 320 against a
 * 1-core quota reads at most 100. Said once, not every refresh. */
static void warn_unreachable(struct targets *t, struct target *tg)
{
    double mem = tg->cgroup_mem_limit != CGROUP_UNLIMITED ? (double)tg->cgroup_mem_limit : 0;
    if (t->host_mem && (!mem || (double)t->host_mem < mem))
        mem = (double)t->host_mem;
    char field[64], why[256], path[192];
    int next = 0, found = 0;
    while (tg->rule && rule_unreachable(tg->rule, tg->limits.cpu_max_pct, mem / (1024.0 * 1024.0),
                                        &next, field, sizeof(field), why, sizeof(why))) {
        found = 1;
        if (tg->unreachable_warned)
            continue;
        rule_field_path(tg->rule, t->cfg->rules.is_indexed, field, path, sizeof(path));
        if (field[0] == 'c')
            log_warn("targets", "pid %d (%s): %s: %s (CPU in percent of %s)", tg->id.pid,
                     tg->service, path, why,
                     tg->limits.cpu_millis ? "its CPU quota" : "one core, no CPU quota");
        else
            log_warn("targets", "pid %d (%s): %s: %s (its cgroup's or the host's memory)",
                     tg->id.pid, tg->service, path, why);
    }
    tg->unreachable_warned = found;
}

void targets_refresh_limits(struct targets *t, struct target *tg)
{
    const struct config *c = t->cfg;
    uint64_t v, cg = CGROUP_UNLIMITED;
    struct limits *l = &tg->limits;
    if (tg->has_cgroup && cgroup_memory_limit(&tg->cg, &cg) < 0)
        cg = CGROUP_UNLIMITED;
    tg->cgroup_mem_limit = cg;
    if (c->pod_mem_limit_mb) {
        l->mem_bytes = c->pod_mem_limit_mb << 20;
        l->mem_source = LIMIT_OVERRIDE;
    } else if (cg != CGROUP_UNLIMITED && (!t->host_mem || cg < t->host_mem)) {
        l->mem_bytes = cg;
        l->mem_source = LIMIT_CGROUP;
    } else {
        l->mem_bytes = t->host_mem ? t->host_mem : 1;
        l->mem_source = LIMIT_HOST;
    }
    uint64_t quota = 0; /* read under an override too: it bounds what CPU can read */
    if (tg->has_cgroup && cgroup_cpu_limit_millis(&tg->cg, &v) == 0 && v != CGROUP_UNLIMITED)
        quota = v;
    if (c->pod_cpu_limit_millis) {
        l->cpu_millis = c->pod_cpu_limit_millis;
        l->cpu_source = LIMIT_OVERRIDE;
    } else {
        l->cpu_millis = quota;
        l->cpu_source = quota ? LIMIT_CGROUP : LIMIT_NONE;
    }
    l->cpu_max_pct = rule_cpu_ceiling(t->ncpus, quota, l->cpu_millis);
    warn_unreachable(t, tg);
}

static int push(struct target ***v, size_t *n, size_t *cap, struct target *tg)
{
    if (vec_grow(v, cap, *n, sizeof(**v), 16) < 0)
        return -ENOMEM;
    (*v)[(*n)++] = tg;
    return 0;
}

static int append(struct targets *t, struct target *tg)
{
    return push(&t->items, &t->n, &t->cap, tg);
}

/* Started by a `java` launcher. Custom launchers load libjvm.so after
 * exec: they wait as candidates until targets_probe finds it mapped. */
static bool exe_is_java(struct targets *t, const struct target *tg)
{
    char path[PATH_MAX], exe[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d/exe", t->proc_root ? t->proc_root : "/proc", tg->id.pid);
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *sp = strstr(exe, " (deleted)");
    if (sp)
        *sp = '\0';
    return strcmp(base_name(exe), "java") == 0;
}

static bool known_pid(struct targets *t, int pid)
{
    if (targets_find(t, pid))
        return true;
    for (size_t i = 0; i < t->n_cands; i++)
        if (t->cands[i]->id.pid == pid)
            return true;
    return false;
}

/* Kubernetes: the process's container and its Pod's verdict, before
 * anything else is read (most execs on a node are in no opted-in Pod).
 * Returns 1 to go on (tg->pod_ref set for a target; *wait for a process
 * whose Pod or ID is not known yet), 0 (never a target), or -errno. */
static int resolve_pod(struct targets *t, int pid, struct target *tg, bool *wait)
{
    int rc = cgroup_of_pid(t->proc_root, t->cgroup_root, pid, &tg->cg);
    if (rc < 0)
        return rc == -ESRCH ? rc : 0;
    tg->has_cgroup = true;
    struct podtable_match m;
    enum podtable_verdict v = podtable_resolve(t->pods, &tg->cg.container, &m);
    if (v == PODTABLE_NO)
        return 0;
    tg->pod_ref = m.ref;
    *wait = v == PODTABLE_WAIT;
    if (m.ref) {
        const struct pod *p = &m.ref->pod;
        snprintf(tg->pod.name, sizeof(tg->pod.name), "%s", p->name);
        snprintf(tg->pod.namespace_, sizeof(tg->pod.namespace_), "%s", p->ns);
        snprintf(tg->pod.uid, sizeof(tg->pod.uid), "%s", p->uid);
        snprintf(tg->pod.container, sizeof(tg->pod.container), "%s", m.container.name);
    }
    return 1;
}

/* The rules that apply to tg: its Pod's in Kubernetes (none while the Pod
 * is unknown), else the configuration's. */
static const struct rule_set *rules_for(const struct targets *t, const struct target *tg)
{
    if (!t->pods)
        return &t->cfg->rules;
    return tg->pod_ref ? tg->pod_ref->pc.rules : NULL;
}

static void add_pending(struct targets *t, int pid, uint64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_pending; i++)
        if (t->pending[i].pid == pid) {
            pthread_mutex_unlock(&t->lock);
            return;
        }
    if (t->n_pending == TARGETS_PENDING_MAX) /* the oldest goes */
        memmove(t->pending, t->pending + 1, --t->n_pending * sizeof(*t->pending));
    if (vec_grow(&t->pending, &t->cap_pending, t->n_pending, sizeof(*t->pending), 16) < 0) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    t->pending[t->n_pending++] = (struct pending){.pid = pid, .since_ms = now_ms};
    pthread_mutex_unlock(&t->lock);
}

/* Reads what is needed to decide; fills a new target or returns 0. Every
 * exec on the node comes here and most match no rule: the command line is
 * read once and matched before anything else about the process is. */
static int build(struct targets *t, int pid, struct target **out)
{
    struct target *tg = calloc(1, sizeof(*tg));
    bool wait = false;
    if (!tg)
        return -ENOMEM;
    int rc = t->pods ? resolve_pod(t, pid, tg, &wait) : 1;
    if (rc == 1)
        rc = procfs_read_argv(t->proc_root, pid, &tg->argv, &tg->argv_len);
    if (rc == 0 && tg->argv_len) /* none: a kernel thread, never a target */
        rc = (tg->cmdline = procfs_argv_join(tg->argv, tg->argv_len)) ? 0 : -ENOMEM;
    const struct rule_set *rules = rules_for(t, tg);
    if (rc == 0 && tg->cmdline && rules)
        tg->rule = rules_find(rules, tg->cmdline, wait ? NULL : tg->pod.container);
    if (rc == 0 && wait && (tg->rule || !rules)) /* its Pod's rules may match it */
        add_pending(t, pid, units_now_mono_ms());
    if (rc == 0 && tg->rule && !wait)
        rc = procfs_ident(t->proc_root, pid, &tg->id);
    if (rc < 0 || !tg->rule || wait ||
        targets_is_excluded(tg->argv, tg->argv_len, tg->id.comm, tg->id.ppid)) {
        target_free(tg);
        return rc == -ENOENT ? -ESRCH : (rc < 0 ? rc : 0);
    }
    *out = tg;
    return 1;
}

/* Kubernetes: flameshot.io/service, the rule's, the app labels, the
 * workload, the container. Else the rule's service, else the jar or main
 * class. */
static void name_service(struct target *tg)
{
    char buf[POD_NAME_MAX];
    if (tg->pod_ref)
        snprintf(tg->service, sizeof(tg->service), "%s",
                 podconfig_service(&tg->pod_ref->pc, &tg->pod_ref->pod, tg->rule, tg->pod.container,
                                   buf, sizeof(buf)));
    else if (tg->rule->service)
        snprintf(tg->service, sizeof(tg->service), "%s", tg->rule->service);
    else
        targets_guess_service(tg->argv, tg->argv_len, tg->id.comm, tg->service,
                              sizeof(tg->service));
}

static void fill_settings(const struct targets *t, struct target *tg)
{
    const struct config *c = t->cfg;
    const struct podconfig *pc = tg->pod_ref ? &tg->pod_ref->pc : NULL;
    tg->settings = (struct target_settings){
        .auto_profiling_ms = pc ? pc->auto_profiling_ms : c->auto_profiling_ms,
        .auto_profiling_duration_ms =
            pc ? pc->auto_profiling_duration_ms : c->auto_profiling_duration_ms,
        .oom_hprof_enabled = pc ? pc->oom_hprof_enabled : c->oom_hprof_enabled,
        .oom_hprof_match_window_ms =
            pc ? pc->oom_hprof_match_window_ms : c->oom_hprof_match_window_ms,
        .jcmd_snapshot_enabled = pc ? pc->jcmd_snapshot_enabled : c->jcmd_snapshot_enabled,
        .jcmd_timeout_ms = pc ? pc->jcmd_timeout_ms : c->jcmd_timeout_ms,
    };
    /* jcmd and .hprof are a JVM's: a Go target gets pprof profiles only */
    if (tg->rule->language != RULE_LANG_JAVA) {
        tg->settings.jcmd_snapshot_enabled = false;
        tg->settings.oom_hprof_enabled = false;
    }
}

/* Resolution that may fail without disqualifying the process. */
static void enrich(struct targets *t, struct target *tg)
{
    int rc = tg->has_cgroup ? 0 : cgroup_of_pid(t->proc_root, t->cgroup_root, tg->id.pid, &tg->cg);
    tg->has_cgroup = rc == 0;
    if (rc < 0 && rc != -ESRCH)
        log_debug("targets", "pid %d: no memory cgroup (%s); limits fall back to the host",
                  tg->id.pid, strerror(-rc));
    name_service(tg);
    fill_settings(t, tg);
    targets_refresh_limits(t, tg);
    tg->added_ms = units_now_mono_ms();
    double up = procfs_uptime(t->proc_root);
    double age_s = up - (double)tg->id.start_time / (double)procfs_clk_tck();
    tg->started_ns = units_now_real_ns() - (age_s > 0 ? (uint64_t)(age_s * 1e9) : 0);
}

int targets_consider(struct targets *t, int pid, struct target **out)
{
    if (pid == t->self)
        return 0;
    pthread_mutex_lock(&t->lock);
    bool known = known_pid(t, pid);
    pthread_mutex_unlock(&t->lock);
    if (known)
        return 0;
    struct target *tg = NULL;
    int rc = build(t, pid, &tg);
    if (rc <= 0)
        return rc;
    enrich(t, tg);
    bool jvm = tg->rule->language != RULE_LANG_JAVA || exe_is_java(t, tg);
    pthread_mutex_lock(&t->lock);
    bool dup = known_pid(t, pid);
    rc = dup ? 0 : jvm ? append(t, tg) : push(&t->cands, &t->n_cands, &t->cap_cands, tg);
    pthread_mutex_unlock(&t->lock);
    if (dup || rc < 0) {
        target_free(tg);
        return rc;
    }
    if (!jvm)
        return 0;
    if (out)
        *out = tg;
    return 1;
}

struct scan {
    struct targets *t;
    int added;
};

static int scan_one(int pid, void *arg)
{
    struct scan *sc = arg;
    if (targets_consider(sc->t, pid, NULL) == 1)
        sc->added++;
    return 0;
}

static void count_added(struct target *tg, void *arg)
{
    (void)tg;
    (*(int *)arg)++;
}

int targets_scan(struct targets *t)
{
    struct scan sc = {.t = t};
    int rc = procfs_each_pid(t->proc_root, scan_one, &sc);
    if (rc < 0)
        return rc;
    targets_probe(t);
    targets_recheck(t, units_now_mono_ms(), count_added, &sc.added);
    return sc.added;
}

/* pid still runs the program it was added with: same process (start
 * time), same command line. An unreadable one is kept: it was readable. */
static bool still_running(struct targets *t, const struct target *tg)
{
    char *argv = NULL;
    size_t len = 0;
    if (!procfs_same_process(t->proc_root, &tg->id))
        return false;
    int rc = procfs_read_argv(t->proc_root, tg->id.pid, &argv, &len);
    bool same = rc < 0 ? rc != -ENOENT && rc != -ESRCH
                       : len == tg->argv_len && memcmp(argv, tg->argv, len) == 0;
    free(argv);
    return same;
}

/* The pids of targets no longer running what they were added with. The
 * loop is the only writer: the targets stay while it reads. */
static size_t stale_pids(struct targets *t, int **pids)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->n;
    int *v = n ? malloc(n * sizeof(*v)) : NULL;
    for (size_t i = 0; v && i < n; i++)
        v[i] = t->items[i]->id.pid;
    pthread_mutex_unlock(&t->lock);
    size_t k = 0;
    for (size_t i = 0; v && i < n; i++) {
        const struct target *tg = targets_find(t, v[i]);
        if (tg && !still_running(t, tg))
            v[k++] = v[i];
    }
    *pids = v;
    return v ? k : 0;
}

struct resync {
    struct targets *t;
    void (*added)(struct target *, void *);
    void *arg;
    int found;
};

static int resync_one(int pid, void *arg)
{
    struct resync *r = arg;
    struct target *tg = NULL;
    if (targets_consider(r->t, pid, &tg) != 1)
        return 0;
    pthread_mutex_lock(&r->t->lock);
    if (targets_find(r->t, pid) == tg) {
        r->found++;
        r->added(tg, r->arg);
    }
    pthread_mutex_unlock(&r->t->lock);
    return 0;
}

int targets_resync(struct targets *t, void (*added)(struct target *, void *),
                   void (*gone)(int pid, void *), void *arg, struct targets_resync *out)
{
    int *pids;
    size_t n = stale_pids(t, &pids);
    for (size_t i = 0; i < n; i++)
        gone(pids[i], arg);
    free(pids);
    struct resync r = {.t = t, .added = added, .arg = arg};
    int rc = procfs_each_pid(t->proc_root, resync_one, &r);
    *out = (struct targets_resync){.found = r.found, .gone = (int)n};
    return rc;
}

/* The candidates as they are now: ident copies, read without the lock. */
static struct proc_ident *candidate_idents(struct targets *t, size_t *n)
{
    pthread_mutex_lock(&t->lock);
    struct proc_ident *ids = t->n_cands ? calloc(t->n_cands, sizeof(*ids)) : NULL;
    *n = ids ? t->n_cands : 0;
    for (size_t i = 0; i < *n; i++)
        ids[i] = t->cands[i]->id;
    pthread_mutex_unlock(&t->lock);
    return ids;
}

static void set_verdict(struct targets *t, const struct proc_ident *id, int verdict)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_cands; i++)
        if (t->cands[i]->id.pid == id->pid && t->cands[i]->id.start_time == id->start_time)
            t->cands[i]->verdict = verdict;
    pthread_mutex_unlock(&t->lock);
}

void targets_probe(struct targets *t)
{
    size_t n;
    struct proc_ident *ids = candidate_idents(t, &n);
    for (size_t i = 0; i < n; i++) {
        if (!procfs_same_process(t->proc_root, &ids[i]))
            set_verdict(t, &ids[i], TARGETS_GONE);
        else if (procfs_maps_has_lib(t->proc_root, ids[i].pid, "libjvm.so") == 1)
            set_verdict(t, &ids[i], TARGETS_JVM);
    }
    free(ids);
}

void targets_recheck(struct targets *t, uint64_t now_ms, void (*added)(struct target *, void *),
                     void *arg)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_cands;) {
        struct target *tg = t->cands[i];
        bool jvm = tg->verdict == TARGETS_JVM;
        if (!jvm && tg->verdict != TARGETS_GONE && now_ms < tg->added_ms + TARGETS_CANDIDATE_MS) {
            i++;
            continue;
        }
        t->cands[i] = t->cands[--t->n_cands];
        if (jvm && append(t, tg) == 0)
            added(tg, arg);
        else
            target_free(tg);
    }
    pthread_mutex_unlock(&t->lock);
}

int targets_remove(struct targets *t, int pid)
{
    pthread_mutex_lock(&t->lock);
    int removed = 0;
    for (size_t i = 0; i < t->n_pending; i++)
        if (t->pending[i].pid == pid) {
            t->pending[i] = t->pending[--t->n_pending];
            break;
        }
    for (size_t i = 0; i < t->n_cands; i++)
        if (t->cands[i]->id.pid == pid) {
            target_free(t->cands[i]);
            t->cands[i] = t->cands[--t->n_cands];
            break;
        }
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->id.pid != pid)
            continue;
        target_free(t->items[i]);
        t->items[i] = t->items[--t->n];
        removed = 1;
        break;
    }
    pthread_mutex_unlock(&t->lock);
    return removed;
}

size_t targets_take_pending(struct targets *t, uint64_t now_ms, int **pids)
{
    pthread_mutex_lock(&t->lock);
    int *v = t->n_pending ? malloc(t->n_pending * sizeof(*v)) : NULL;
    size_t n = 0;
    for (size_t i = 0; v && i < t->n_pending; i++)
        if (now_ms < t->pending[i].since_ms + TARGETS_PENDING_MS)
            v[n++] = t->pending[i].pid;
    if (v || !t->n_pending)
        t->n_pending = 0;
    pthread_mutex_unlock(&t->lock);
    *pids = v;
    return n;
}

size_t targets_pending(struct targets *t)
{
    return t->n_pending;
}

size_t targets_stale(struct targets *t, int **pids)
{
    size_t n = 0;
    *pids = NULL;
    for (size_t i = 0; i < t->n; i++)
        n += t->items[i]->pod_ref && atomic_load(&t->items[i]->pod_ref->stale);
    if (!n || !(*pids = malloc(n * sizeof(**pids))))
        return 0;
    n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i]->pod_ref && atomic_load(&t->items[i]->pod_ref->stale))
            (*pids)[n++] = t->items[i]->id.pid;
    return n;
}

static void add_sample(cJSON *o, const char *key, const struct sample *s)
{
    cJSON *j = cJSON_AddObjectToObject(o, key);
    cJSON_AddNumberToObject(j, "cpu_percent", s->cpu_pct);
    cJSON_AddNumberToObject(j, "cpu_host_percent", s->cpu_host_pct);
    cJSON_AddNumberToObject(j, "rss_mb", s->rss_mb);
    cJSON_AddNumberToObject(j, "mem_percent", s->mem_pct);
}

static void add_limits(cJSON *o, const struct limits *l)
{
    cJSON *j = cJSON_AddObjectToObject(o, "limits");
    cJSON_AddNumberToObject(j, "memory_bytes", (double)l->mem_bytes);
    cJSON_AddStringToObject(j, "memory_source", limit_source_name(l->mem_source));
    if (l->cpu_millis)
        cJSON_AddNumberToObject(j, "cpu_millicores", (double)l->cpu_millis);
    else
        cJSON_AddNullToObject(j, "cpu_millicores");
    cJSON_AddStringToObject(j, "cpu_source", limit_source_name(l->cpu_source));
    /* what cpu_percent (and cpu_usage_percent) is a percentage of */
    cJSON_AddStringToObject(j, "cpu_base", l->cpu_millis ? "quota" : "cores");
    cJSON_AddNumberToObject(j, "cpu_max_percent", l->cpu_max_pct);
}

static void add_samples(cJSON *o, const struct target *tg)
{
    const struct sample *last = sampler_latest(&tg->samples);
    struct sample avg;
    if (last)
        add_sample(o, "latest", last);
    else
        cJSON_AddNullToObject(o, "latest");
    if (sampler_average(&tg->samples, &avg))
        add_sample(o, "average", &avg);
    else
        cJSON_AddNullToObject(o, "average");
    cJSON_AddItemToObject(o, "samples", target_samples_json(tg));
}

cJSON *target_samples_json(const struct target *tg)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = tg->samples.n; arr && i >= 1; i--) {
        const struct sample *s =
            &tg->samples.ring[(tg->samples.head + SAMPLER_KEEP - i) % SAMPLER_KEEP];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "cpu_percent", s->cpu_pct);
        cJSON_AddNumberToObject(j, "rss_mb", s->rss_mb);
        cJSON_AddNumberToObject(j, "mem_percent", s->mem_pct);
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

/* The command line with secret-looking values masked (core/redact.h):
 * whoever reaches the API must not read the passwords on it. */
static void add_cmdline(cJSON *o, const struct target *tg)
{
    bool redacted = false;
    char *shown = redact_argv(tg->argv, tg->argv_len, &redacted);
    cJSON_AddStringToObject(o, "cmdline", shown ? shown : "");
    cJSON_AddBoolToObject(o, "cmdline_redacted", redacted || !shown);
    free(shown);
}

static void add_identity(cJSON *o, const struct target *tg)
{
    cJSON_AddNumberToObject(o, "pid", tg->id.pid);
    cJSON_AddNumberToObject(o, "nspid", tg->id.nspid);
    cJSON_AddNumberToObject(o, "uid", tg->id.uid);
    cJSON_AddNumberToObject(o, "gid", tg->id.gid);
    cJSON_AddStringToObject(o, "process_name", tg->id.comm);
    add_cmdline(o, tg);
    cJSON_AddStringToObject(o, "service", tg->service);
    cJSON_AddNumberToObject(o, "rule", tg->rule ? tg->rule->index : -1);
    cJSON_AddStringToObject(o, "cgroup", tg->has_cgroup ? tg->cg.path : "");
    cJSON_AddNumberToObject(o, "cgroup_id", tg->has_cgroup ? (double)tg->cg.memory_id : 0);
    cJSON_AddStringToObject(o, "container_id", tg->has_cgroup ? tg->cg.container.id : "");
    if (tg->pod.name[0]) {
        cJSON_AddStringToObject(o, "pod_namespace", tg->pod.namespace_);
        cJSON_AddStringToObject(o, "pod_name", tg->pod.name);
        cJSON_AddStringToObject(o, "pod_uid", tg->pod.uid);
        cJSON_AddStringToObject(o, "container_name", tg->pod.container);
        cJSON_AddBoolToObject(o, "pod_active", podref_active(tg->pod_ref));
    }
}

const char *target_tenant(const struct target *tg)
{
    if (!tg->has_cgroup)
        return "host";
    return tg->cg.container.id[0] ? tg->cg.container.id : tg->cg.path;
}

cJSON *target_json(const struct target *tg, uint64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    add_identity(o, tg);
    add_limits(o, &tg->limits);
    add_samples(o, tg);
    if (tg->policy.last_trigger_ms) {
        cJSON *lt = cJSON_AddObjectToObject(o, "last_trigger");
        cJSON_AddStringToObject(lt, "kind", trigger_kind_name(tg->policy.last_kind));
        cJSON_AddNumberToObject(lt, "seconds_ago",
                                (double)(now_ms - tg->policy.last_trigger_ms) / 1000.0);
    } else {
        cJSON_AddNullToObject(o, "last_trigger");
    }
    cJSON_AddNumberToObject(
        o, "cooldown_left_ms",
        tg->rule ? (double)policy_cooldown_left_ms(tg->rule, &tg->policy, now_ms) : 0);
    return o;
}

cJSON *targets_json(struct targets *t, uint64_t now_ms)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++)
        cJSON_AddItemToArray(arr, target_json(t->items[i], now_ms));
    pthread_mutex_unlock(&t->lock);
    return arr;
}
