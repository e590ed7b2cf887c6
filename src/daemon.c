#include "daemon.h"

#include "capture/capture.h"
#include "capture/heapdump.h"
#include "events/events.h"
#include "core/caps.h"
#include "core/fsutil.h"
#include "http/http.h"
#include "events/cgroup.h"
#include "kube/podcache.h"
#include "kube/podtable.h"
#include "kube/recorder.h"
#include "kube/watcher.h"
#include "policy/gopprof.h"
#include "policy/jobs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "policy/monitor.h"
#include "outbox/outbox.h"
#include "outbox/upload.h"
#include "policy/runner.h"
#include "policy/targets.h"
#include "core/units.h"
#include "core/version.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define JOB_QUEUE_CAP      64
#define JOB_HISTORY_CAP    256
#define SHUTDOWN_GRACE_MS  20000
#define RECOVER_TIMEOUT_MS 5000 /* each attach step undoing a cut profile */

/* The daemon's one context: every module instance and the loop's fds. */
struct daemon {
    const struct config *cfg;
    struct metrics metrics;
    struct outbox *outbox;
    struct journal *journal; /* profiles in progress (capture/journal.h) */
    struct upload *upload;   /* NULL unless FLAMESHOT_HPROF_UPLOAD_ENABLED */
    struct events_source *events;
    struct targets *targets;
    struct jobs *jobs;
    struct runner runner;
    struct monitor *monitor;
    struct http *http;
    /* kubernetes mode: the Pods of this node, the watch that keeps them,
     * and each Pod's configuration in force */
    struct podcache *pod_cache;
    struct watcher *watcher;
    struct podtable *pods;
    struct recorder *recorder; /* Events on Pods with malformed annotations */
    int sigfd, tickfd, epfd;
    uint64_t trimmed_ms; /* when malloc_trim last ran */
};

static int block_signals(struct daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* threads created later inherit the mask: only the loop sees signals */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return d->sigfd < 0 ? -errno : 0;
}

static int open_outbox(struct daemon *d)
{
    char err[256];
    struct outbox_opts o = {.root = d->cfg->profiling_path,
                            .datakit_addr = d->cfg->datakit_addr,
                            .local_keep = d->cfg->local_keep,
                            .max_bytes = d->cfg->spool_max_mb << 20,
                            .metrics = &d->metrics};
    int rc = outbox_open(&o, &d->outbox, err, sizeof(err));
    if (rc < 0) {
        log_error("daemon", "outbox: %s", err);
        return rc;
    }
    rc = outbox_start(d->outbox);
    if (rc < 0)
        log_error("daemon", "outbox delivery thread: %s", strerror(-rc));
    return rc;
}

/* A profile or heap dump the agent's death (SIGKILL, OOM kill) cut short
 * left its recording running and its files in the JVM's container (and a
 * dump's copy on the node): undone here, before any job can start one
 * again; what it left is never delivered (a profile's JFR bytes were in
 * the outbox's temp file, removed at open). */
static void recover_one(const struct journal_entry *e, void *arg)
{
    char done[2048];
    const char *what = e->dump[0] ? "heap-dumped" : "profiled";
    (void)arg;
    int rc = e->dump[0] ? heapdump_recover(e, RECOVER_TIMEOUT_MS, done, sizeof(done))
                        : capture_profile_recover(e, RECOVER_TIMEOUT_MS, done, sizeof(done));
    if (rc == -ESRCH)
        log_info("daemon", "restart: pid %d (%s), %s when the agent stopped, is gone%s%s",
                 e->proc.pid, e->proc.comm, what, done[0] ? ": " : "", done);
    else if (rc < 0)
        log_warn("daemon",
                 "restart: pid %d (%s) was being %s when the agent stopped; cannot clean up after "
                 "it: %s",
                 e->proc.pid, e->proc.comm, what, done);
    else
        log_info("daemon", "restart: pid %d (%s) was being %s when the agent stopped: %s",
                 e->proc.pid, e->proc.comm, what, done);
}

/* After the outbox's lock: one agent per spool, so one per journal. */
static void open_journal(struct daemon *d)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/journal", d->cfg->profiling_path);
    int rc = journal_open(dir, &d->journal);
    if (rc == 0 && (rc = journal_drain(d->journal, recover_one, NULL)) >= 0)
        return;
    log_warn("daemon",
             "%s: %s: a profile cut by the agent's death would be left running in its JVM", dir,
             strerror(-rc));
}

/* One line per feature the process's capabilities leave out, before the
 * modules that would fail on it: the cause comes first in the log. */
static void log_caps(const struct config *c)
{
    uint64_t eff;
    char names[512];
    int rc = caps_effective(&eff);
    if (rc < 0) {
        log_warn("caps", "reading the effective capabilities: %s", strerror(-rc));
        return;
    }
    log_info("caps", "effective capabilities: %s", caps_format(eff, names, sizeof(names)));
    unsigned kernel = caps_kernel_version();
    for (int f = 0; f < CAPS_N_FEATURES; f++) {
        bool bpf = f == CAPS_BPF_EVENTS || f == CAPS_BPF_MEMLOCK;
        bool poller = f == CAPS_PROC_CONNECTOR; /* never runs with FLAMESHOT_BPF=on */
        uint64_t missing = caps_missing(f, eff, kernel);
        if (missing && !(bpf && c->bpf == FS_BPF_OFF) && !(poller && c->bpf == FS_BPF_ON))
            log_warn("caps", "%s missing: %s", caps_format(missing, names, sizeof(names)),
                     caps_loss(f));
    }
}

/* The heap-dump upload queue: after the outbox (its budget and records). */
static int open_upload(struct daemon *d)
{
    char err[256];
    if (!d->cfg->hprof_upload.enabled)
        return 0;
    struct upload_opts o = {.cfg = d->cfg, .outbox = d->outbox};
    int rc = upload_open(&o, &d->upload, err, sizeof(err));
    if (rc < 0) {
        log_error("daemon", "heap-dump upload (FLAMESHOT_HPROF_UPLOAD_*): %s", err);
        return rc;
    }
    rc = upload_start(d->upload);
    if (rc < 0)
        log_error("daemon", "heap-dump upload thread: %s", strerror(-rc));
    return rc;
}

static int open_events(struct daemon *d)
{
    char err[512];
    struct events_options o = {
        .mode = d->cfg->bpf, .metrics = &d->metrics, .ringbuf_bytes = d->cfg->bpf_ring_kb << 10};
    int rc = events_open(&o, &d->events, err, sizeof(err));
    if (rc < 0)
        log_error("daemon", "event source (FLAMESHOT_BPF=%s): %s", config_bpf_name(d->cfg->bpf),
                  err);
    return rc;
}

/* Unknown flameshot.io/ keys, like unknown variables: a misspelt
 * flameshot.io/enable is why a Pod is not watched. */
static void warn_unknown(const struct podref *r)
{
    for (size_t i = 0; i < r->pc.n_unknown; i++)
        log_warn("kube", "Pod %s/%s: unknown annotation %s%s%s", r->pod.ns, r->pod.name,
                 r->pc.unknown[i].key, r->pc.unknown[i].near ? "; did you mean " : "",
                 r->pc.unknown[i].near ? r->pc.unknown[i].near : "");
}

/* A malformed flameshot.io/ annotation: said once per mistake, in the
 * log and as an Event on the Pod (kubectl describe pod shows it). */
static void on_pod_error(const struct podref *r, void *arg)
{
    struct daemon *d = arg;
    char msg[RECORDER_MESSAGE_MAX];
    warn_unknown(r);
    if (r->pc.state != PODCONFIG_ERROR)
        return;
    snprintf(msg, sizeof(msg), "flameshot.io/ annotations: %s%s: %s; this Pod is not profiled",
             r->pc.err.key, r->pc.err.path, r->pc.err.reason);
    log_warn("kube", "Pod %s/%s is skipped: %s", r->pod.ns, r->pod.name, msg);
    struct recorder_object obj = {r->pod.ns, r->pod.name, r->pod.uid, "Pod", "v1"};
    int rc = recorder_emit(d->recorder, &obj, "Warning", "FlameshotConfigError", msg);
    if (rc < 0)
        log_debug("kube", "Pod %s/%s: Event not recorded: %s", r->pod.ns, r->pod.name,
                  strerror(-rc));
}

/* The agent's own Pod, from its cgroup (no downward API needed): never a
 * target. "" outside a Pod. */
static void own_pod_uid(char *uid, size_t cap)
{
    struct cgroup_info cg;
    uid[0] = '\0';
    if (cgroup_of_pid(NULL, NULL, getpid(), &cg) == 0)
        snprintf(uid, cap, "%s", cg.container.pod_uid);
}

/* Kubernetes mode: the Pod watch starts at once (it lists in its own
 * thread); until it has, processes in Pods wait, unattached. */
static int open_kube(struct daemon *d)
{
    char err[256], self_uid[CONTAINERID_UID_LEN];
    const struct config *c = d->cfg;
    if (c->mode != FS_MODE_KUBERNETES)
        return 0;
    own_pod_uid(self_uid, sizeof(self_uid));
    struct podconfig_self self = {.uid = self_uid};
    d->pod_cache = podcache_new(0);
    d->pods = d->pod_cache ? podtable_new(c, d->pod_cache, &self) : NULL;
    if (!d->pods) {
        log_error("daemon", "out of memory");
        return -ENOMEM;
    }
    struct watcher_config wc = {
        .url = c->kube_api, .sa_dir = c->kube_sa_dir, .node = c->node_name, .cache = d->pod_cache};
    d->watcher = watcher_start(&wc, err, sizeof(err));
    if (!d->watcher) {
        log_error("daemon", "Pod watch (FLAMESHOT_KUBE_API %s): %s", c->kube_api, err);
        return -EINVAL;
    }
    struct recorder_config rc;
    recorder_config_defaults(&rc);
    rc.url = c->kube_api;
    rc.sa_dir = c->kube_sa_dir;
    rc.node = c->node_name;
    rc.component = "flameshotd";
    d->recorder = recorder_start(&rc, err, sizeof(err));
    if (!d->recorder) {
        log_error("daemon", "Kubernetes Events: %s", err);
        return -EINVAL;
    }
    log_info("daemon", "kubernetes: watching the Pods of node %s at %s%s%s", c->node_name,
             c->kube_api, self_uid[0] ? "; own Pod " : "", self_uid);
    return 0;
}

static int open_core(struct daemon *d)
{
    d->targets = targets_new(d->cfg, NULL, NULL);
    if (d->targets && d->pods)
        targets_set_pods(d->targets, d->pods);
    d->runner = (struct runner){
        .cfg = d->cfg,
        .outbox = d->outbox,
        .metrics = &d->metrics,
        .gopprof = gopprof_store_new(),
        .upload = d->upload,
        .pods = d->pods,
        .journal = d->journal,
    };
    d->jobs = jobs_new(d->cfg->max_concurrent_jobs, JOB_QUEUE_CAP, JOB_HISTORY_CAP, runner_exec,
                       &d->runner, &d->metrics);
    if (d->jobs && jobs_set_tenant_limits(d->jobs, d->cfg->max_jobs_per_container,
                                          d->cfg->max_queued_per_container) < 0) {
        log_error("daemon",
                  "FLAMESHOT_MAX_JOBS_PER_CONTAINER/FLAMESHOT_MAX_QUEUED_PER_CONTAINER: "
                  "out of range for %d worker(s) and a queue of %d",
                  d->cfg->max_concurrent_jobs, JOB_QUEUE_CAP);
        return -EINVAL;
    }
    struct monitor_deps md = {.cfg = d->cfg,
                              .targets = d->targets,
                              .events = d->events,
                              .jobs = d->jobs,
                              .outbox = d->outbox,
                              .upload = d->upload,
                              .metrics = &d->metrics,
                              .pods = d->pods,
                              .on_pod_error = on_pod_error,
                              .on_pod_error_arg = d};
    d->monitor = d->targets && d->jobs ? monitor_new(&md) : NULL;
    if (!d->monitor) {
        log_error("daemon", "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static int open_http(struct daemon *d)
{
    char err[256];
    struct http_deps hd = {.cfg = d->cfg,
                           .monitor = d->monitor,
                           .targets = d->targets,
                           .jobs = d->jobs,
                           .outbox = d->outbox,
                           .metrics = &d->metrics,
                           .events_name = events_name(d->events),
                           .events_detail = events_detail(d->events),
                           .job_queue_cap = JOB_QUEUE_CAP,
                           .kube = {.cache = d->pod_cache, .pods = d->pods, .watcher = d->watcher}};
    int rc = http_open(&hd, &d->http, err, sizeof(err));
    if (rc < 0)
        log_error("daemon", "HTTP API (FLAMESHOT_HTTP_LOCAL_IP/FLAMESHOT_HTTP_LOCAL_PORT): %s",
                  err);
    return rc;
}

static int add_fd(struct daemon *d, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int open_loop(struct daemon *d)
{
    uint64_t ms = d->cfg->monitor_interval_ms;
    struct itimerspec its = {
        .it_interval = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L}};
    its.it_value = its.it_interval;
    d->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->tickfd < 0 || d->epfd < 0 || timerfd_settime(d->tickfd, 0, &its, NULL) < 0)
        return -errno;
    int rc = add_fd(d, d->sigfd);
    if (rc == 0)
        rc = add_fd(d, d->tickfd);
    if (rc == 0)
        rc = add_fd(d, events_fd(d->events));
    return rc;
}

static void log_startup(const struct daemon *d, int n_targets)
{
    const struct config *c = d->cfg;
    log_info("daemon", "flameshotd %s (%s) running: mode=%s node=%s rules=%zu%s", FS_VERSION,
             FS_GIT_REV, config_mode_name(c->mode), c->node_name, c->rules.n,
             c->rules.is_default ? " (default: every Java process)" : "");
    log_info("daemon",
             "event source: %s (%s); watching %d target(s); sampling every %llums; "
             "at most %d capture(s) at once",
             events_name(d->events), events_detail(d->events), n_targets,
             (unsigned long long)c->monitor_interval_ms, c->max_concurrent_jobs);
    if (c->datakit_addr)
        log_info("daemon", "results: DataKit at %s (spool %s/outbox)", c->datakit_addr,
                 c->profiling_path);
    else
        log_info("daemon", "results: local directory %s/profiles (FLAMESHOT_DATAKIT_ADDR unset)",
                 c->profiling_path);
    if (c->mode == FS_MODE_KUBERNETES)
        log_info("daemon", "kubernetes mode: only containers of Pods annotated "
                           "flameshot.io/enabled=\"true\" are watched (GET /v1/pods)");
    if (c->short_intervals)
        log_warn("daemon", "FLAMESHOT_TEST_SHORT_INTERVALS is set: test-only minimums in force");
}

static void on_event(const struct fs_event *ev, void *arg)
{
    monitor_on_event(arg, ev);
}

#define TRIM_EVERY_MS 30000

static void on_tick(struct daemon *d)
{
    uint64_t expirations;
    if (read(d->tickfd, &expirations, sizeof(expirations)) < 0)
        return;
    uint64_t now = units_now_mono_ms();
    monitor_tick(d->monitor, now);
    monitor_resync(d->monitor, now); /* losses may stop with no event after them */
    /* glibc keeps the pages a job freed in its thread's arena: over a
     * soak they added up to RSS growth with a flat live heap */
    if (now - d->trimmed_ms >= TRIM_EVERY_MS) {
        malloc_trim(0);
        d->trimmed_ms = now;
    }
}

/* Returns when a stop signal arrives. */
static void loop(struct daemon *d)
{
    struct epoll_event evs[8];
    bool stop = false;
    while (!stop) {
        int n = epoll_wait(d->epfd, evs, 8, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct signalfd_siginfo si;
            if (fd == d->sigfd && read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                log_info("daemon", "received %s, shutting down", strsignal((int)si.ssi_signo));
                stop = true;
            } else if (fd == d->tickfd) {
                on_tick(d);
            } else {
                events_consume(d->events, on_event, d->monitor);
                monitor_resync(d->monitor, units_now_mono_ms());
            }
        }
    }
}

/* Running captures are told to stop and collect what they have (a partial
 * profile still reaches the outbox); queued ones are cancelled; pending
 * artefacts stay in the spool for the next start. */
static void shutdown_all(struct daemon *d)
{
    /* the API keeps answering while jobs drain: captures and /readyz 503 */
    http_set_state(d->http, HTTP_STOPPING);
    bool left = d->jobs && jobs_stop(d->jobs, SHUTDOWN_GRACE_MS) < 0;
    left = (d->monitor && monitor_stop(d->monitor) < 0) || left;
    upload_stop(d->upload); /* an upload in flight resumes at the next start */
    if (d->outbox)
        outbox_stop(d->outbox);
    http_close(d->http);      /* before the modules its handlers read are freed */
    watcher_stop(d->watcher); /* the cache's only writer */
    recorder_stop(d->recorder);
    if (left) {
        log_warn("daemon", "work stuck in the kernel is left behind; exiting without freeing "
                           "what it uses");
        return;
    }
    monitor_free(d->monitor);
    jobs_free(d->jobs);
    gopprof_store_free(d->runner.gopprof);
    targets_free(d->targets);
    podtable_free(d->pods);
    podcache_free(d->pod_cache);
    events_close(d->events);
    upload_close(d->upload);
    journal_close(d->journal);
    outbox_close(d->outbox);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->tickfd >= 0)
        close(d->tickfd);
    if (d->sigfd >= 0)
        close(d->sigfd);
}

/* Before any thread: a cgroup namespace is per thread. */
static void join_host_cgroup_ns(int host_pid)
{
    int rc = cgroup_join_host_ns("/proc", host_pid);
    if (rc == 1)
        log_info("daemon", "joined the host's cgroup namespace (the agent's own hid other "
                           "containers' cgroups)");
    else if (rc < 0)
        log_warn("daemon",
                 "cannot join the host's cgroup namespace (/proc/%d/ns/cgroup: %s): processes "
                 "whose cgroups lie outside the agent's are not watched; run it with hostPID, "
                 "CAP_SYS_ADMIN and CAP_SYS_PTRACE",
                 host_pid, strerror(-rc));
}

int daemon_run(const struct config *cfg)
{
    struct daemon d = {.cfg = cfg, .sigfd = -1, .tickfd = -1, .epfd = -1};
    join_host_cgroup_ns(cfg->host_pid);
    int rc = block_signals(&d);
    if (rc == 0 && (rc = fsutil_mkdirs(cfg->profiling_path, 0750)) < 0)
        log_error("daemon", "FLAMESHOT_PROFILING_PATH %s: %s", cfg->profiling_path, strerror(-rc));
    log_caps(cfg);
    /* the event source first: BPF is loaded by a forked child running
     * libbpf, which must not inherit a lock (the logger's, the allocator's)
     * held by a thread that does not exist in it: no thread runs yet */
    if (rc == 0)
        rc = open_events(&d);
    if (rc == 0)
        rc = open_outbox(&d);
    if (rc == 0)
        open_journal(&d);
    if (rc == 0)
        rc = open_upload(&d);
    if (rc == 0)
        rc = open_kube(&d);
    if (rc == 0)
        rc = open_core(&d);
    if (rc == 0 && (rc = open_loop(&d)) < 0)
        log_error("daemon", "event loop: %s", strerror(-rc));
    if (rc == 0)
        rc = open_http(&d);
    if (rc == 0) {
        log_startup(&d, monitor_start(d.monitor));
        http_set_state(d.http, HTTP_READY);
        loop(&d);
    }
    shutdown_all(&d);
    log_info("daemon", "stopped");
    return rc == 0 ? 0 : 1;
}
