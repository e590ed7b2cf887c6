#include "capture/capture.h"

#include "capture/attach.h"
#include "core/fsutil.h"
#include "capture/jvm.h"
#include "core/log.h"
#include "core/metrics.h"
#include "capture/nsexec.h"
#include "capture/rootfs.h"
#include "core/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREVIEW_KEEP (256u << 10) /* output kept in memory for the preview */
#define JFR_GRACE_S  30           /* safety-net duration beyond the requested one */

static const char *const outcome_names[] = {"ok", "target_exited", "cancelled", "failed",
                                            "too_large"};

const char *capture_outcome_name(enum capture_outcome o)
{
    return (unsigned)o <= CAPTURE_OUTCOME_TOO_LARGE ? outcome_names[o] : "unknown";
}

static uint64_t tmo_or_default(uint64_t ms)
{
    return ms ? ms : CAPTURE_DEFAULT_TIMEOUT_MS;
}

/* ---- snapshots ---------------------------------------------------------------- */

/* After a reply without its last line: how long the JVM has to be seen
 * gone for the reply to count as cut by its death (the kernel closes a
 * dying process's sockets a moment before its pidfd says so). */
#define EXIT_SETTLE_MS 50

struct snap_job {
    struct jvm *j;
    int sock;
    uint64_t deadline_ms;
    char cmdline[64];
    struct bounded *out;
    struct snapshot_summary *s;
    struct attach_buf keep; /* the start of the output, for the preview */
    struct snapshot_end end;
};

/* Tees output to the caller's writer, the preview buffer and the end check. */
static int snap_sink(void *arg, const char *data, size_t len)
{
    struct snap_job *sj = arg;
    int rc = bounded_put(sj->out, data, len);
    snapshot_end_feed(&sj->end, sj->s->type, data, len);
    return rc < 0 ? rc : attach_buf_sink(&sj->keep, data, len);
}

/* A reply that lacks its last line: the JVM closed the connection by
 * dying, or prints differently (then it lives on). */
static bool exits_soon(const struct jvm *j)
{
    struct pollfd p = {.fd = jvm_pidfd(j), .events = POLLIN};
    if (p.fd < 0)
        return jvm_alive(j) == 0;
    return poll(&p, 1, EXIT_SETTLE_MS) != 0;
}

/* Sets s->rc, complete and error from how the request ended. What
 * arrived before a cut is evidence (rc 0, complete false); a reply past
 * the writer's cap is not (-EFBIG). */
static void snap_judge(struct snap_job *sj, int rc, uint64_t body, const char *why)
{
    struct snapshot_summary *s = sj->s;
    const char *cmd = snapshot_command(s->type);
    s->rc = rc;
    s->complete = rc == 0 && (s->jvm_rc != 0 || sj->end.seen || !exits_soon(sj->j));
    if (rc == -EFBIG) /* a JVM (or what poses as one) that does not stop talking */
        snprintf(s->error, sizeof(s->error),
                 "%s output cut after %llu bytes (at most %llu are kept)", cmd,
                 (unsigned long long)sj->out->written, (unsigned long long)sj->out->cap);
    else if (rc < 0 && body > 0)
        snprintf(s->error, sizeof(s->error), "%s cut after %llu bytes: %s", cmd,
                 (unsigned long long)body, why);
    else if (rc < 0)
        snprintf(s->error, sizeof(s->error), "%s to pid %d: %s", cmd, s->host_pid, why);
    else if (s->jvm_rc != 0)
        snprintf(s->error, sizeof(s->error), "%s failed in the JVM (status %d): %.400s", cmd,
                 s->jvm_rc, s->preview);
    else if (!s->complete)
        snprintf(s->error, sizeof(s->error),
                 "%s cut after %llu bytes: the JVM exited before its last line", cmd,
                 (unsigned long long)body);
    if (rc < 0 && rc != -EFBIG && body > 0)
        s->rc = 0; /* cut, but what arrived is kept */
}

/* Runs the request on the job's connected socket (and closes it). */
static void *snap_run(void *arg)
{
    struct snap_job *sj = arg;
    struct snapshot_summary *s = sj->s;
    const char *args[ATTACH_NARGS] = {sj->cmdline, NULL, NULL};
    char head[32], why[512] = "";
    int n = snprintf(head, sizeof(head), "%d:\n", s->pid);
    int rc = snap_sink(sj, head, (size_t)n);
    if (rc < 0) /* the writer (the spool), not the JVM: nothing was asked yet */
        snprintf(why, sizeof(why), "writing the output: %s", strerror(-rc));
    else
        rc = attach_request(sj->sock, "jcmd", args, sj->deadline_ms, snap_sink, sj, &s->jvm_rc, why,
                            sizeof(why));
    close(sj->sock);
    sj->sock = -1;
    s->ended_ns = units_now_real_ns();
    s->output_size_bytes = sj->out->written;
    const char *body = sj->keep.len > (size_t)n ? sj->keep.data + n : "";
    size_t blen = sj->keep.len > (size_t)n ? sj->keep.len - (size_t)n : 0;
    snapshot_preview(s->type, body, blen, s->preview, sizeof(s->preview));
    /* the head may not have been written: no body then, not 2^64 bytes */
    uint64_t head_len = s->output_size_bytes < (uint64_t)n ? s->output_size_bytes : (uint64_t)n;
    snap_judge(sj, rc, s->output_size_bytes - head_len, why);
    attach_buf_free(&sj->keep);
    return NULL;
}

static void snap_init(struct snapshot_summary *s, enum snapshot_type t, const struct proc_ident *p,
                      time_t now, uint64_t now_ns)
{
    memset(s, 0, sizeof(*s));
    s->type = t;
    s->pid = p->nspid > 0 ? p->nspid : p->pid;
    s->host_pid = p->pid;
    s->taken_at_ns = now_ns;
    snprintf(s->process_name, sizeof(s->process_name), "%s", p->comm);
    snapshot_file_name(t, s->pid, now, s->file_name, sizeof(s->file_name));
}

static void snap_fail(struct snapshot_summary *s, int rc, const char *err)
{
    s->rc = rc;
    snprintf(s->error, sizeof(s->error), "%s", err);
}

/* Connects the job's socket; the first connection starts the listener
 * when needed (one SIGQUIT), the second finds it running. */
static int snap_connect(struct snap_job *sj, struct metrics *m, char *err, size_t errcap)
{
    uint64_t t0 = units_now_mono_us();
    int rc = attach_connect(sj->j, sj->deadline_ms, &sj->sock, err, errcap);
    if (rc == 0)
        metrics_observe_attach(m, units_now_mono_us() - t0);
    return rc;
}

static void snap_job_init(struct snap_job *sj, struct jvm *j, struct bounded *out,
                          struct snapshot_summary *s, const char *options)
{
    *sj = (struct snap_job){.j = j, .sock = -1, .out = out, .s = s, .keep = {.max = PREVIEW_KEEP}};
    snprintf(sj->cmdline, sizeof(sj->cmdline), "%s%s", snapshot_command(s->type), options);
}

static bool snap_skipped(unsigned flags, enum snapshot_type t)
{
    return flags &
           (t == SNAPSHOT_THREAD_PRINT ? CAPTURE_SNAP_NO_THREADS : CAPTURE_SNAP_NO_HISTOGRAM);
}

/* Connects and runs the wanted jobs, in order: the first in a thread of its
 * own while the second connects, so that it waits in the JVM's queue. */
static int snap_run_all(struct snap_job **run, int n, struct metrics *m, char *err, size_t errcap)
{
    int rc = snap_connect(run[0], m, err, errcap);
    if (rc < 0)
        return rc;
    pthread_t t;
    bool threaded = n > 1 && pthread_create(&t, NULL, snap_run, run[0]) == 0;
    if (!threaded)
        snap_run(run[0]);
    if (n > 1) {
        rc = snap_connect(run[1], m, err, errcap);
        if (rc == 0)
            snap_run(run[1]);
        else
            snap_fail(run[1]->s, rc, err);
    }
    if (threaded)
        pthread_join(t, NULL);
    return 0;
}

int capture_snapshots(const struct proc_ident *p, uint64_t timeout_ms, unsigned flags,
                      struct bounded *histogram, struct bounded *threads, struct metrics *m,
                      struct snapshot_summary out[SNAPSHOT_TYPES])
{
    char err[512];
    struct jvm *j = NULL;
    time_t now = time(NULL);
    uint64_t now_ns = units_now_real_ns();
    timeout_ms = tmo_or_default(timeout_ms);
    snap_init(&out[SNAPSHOT_GC_CLASS_HISTOGRAM], SNAPSHOT_GC_CLASS_HISTOGRAM, p, now, now_ns);
    snap_init(&out[SNAPSHOT_THREAD_PRINT], SNAPSHOT_THREAD_PRINT, p, now, now_ns);
    struct snap_job th, hi, *run[SNAPSHOT_TYPES];
    int n = 0, rc = jvm_open(p, &j, err, sizeof(err));
    snap_job_init(&th, j, threads, &out[SNAPSHOT_THREAD_PRINT], "");
    snap_job_init(&hi, j, histogram, &out[SNAPSHOT_GC_CLASS_HISTOGRAM],
                  flags & CAPTURE_SNAP_HISTOGRAM_ALL ? " -all" : "");
    /* HotSpot's listener serves one operation at a time, in the order the
     * connections came: Thread.print, the fast one, goes first, and the
     * histogram's connection waits right behind it (its time counts from
     * there: it may wait the whole of Thread.print's) */
    struct snap_job *order[SNAPSHOT_TYPES] = {&th, &hi};
    uint64_t deadline_ms = units_now_mono_ms();
    for (int i = 0; i < SNAPSHOT_TYPES; i++) {
        struct snap_job *sj = order[i];
        if (snap_skipped(flags, sj->s->type)) {
            snap_fail(sj->s, -ECANCELED, "not requested");
            continue;
        }
        deadline_ms += timeout_ms;
        sj->deadline_ms = deadline_ms;
        run[n++] = sj;
    }
    if (rc == 0 && n > 0)
        rc = snap_run_all(run, n, m, err, sizeof(err));
    jvm_close(j);
    for (int i = 0; rc < 0 && i < n; i++)
        snap_fail(run[i]->s, rc, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        const struct snapshot_summary *s = run[i]->s;
        if (s->rc < 0 || s->jvm_rc != 0 || !s->complete)
            rc = s->rc < 0 ? s->rc : s->jvm_rc != 0 ? -EIO : -EPIPE;
    }
    return rc;
}

/* ---- agent load ---------------------------------------------------------------- */

/* `load <path> true <options>` and its result, in any JDK's format. */
static int load_staged(struct jvm *j, const char *path, const char *options, uint64_t timeout_ms,
                       struct metrics *m, int *agent_rc, char *err, size_t errcap)
{
    const char *args[ATTACH_NARGS] = {path, "true", options};
    char reply_buf[32];
    struct attach_buf out = {.max = 16384};
    int code = 0;
    int rc =
        attach_execute(j, "load", args, timeout_ms, attach_buf_sink, &out, &code, m, err, errcap);
    if (rc == 0) {
        /* attach_parse_load wants the whole reply, status line included */
        int n = snprintf(reply_buf, sizeof(reply_buf), "%d\n", code);
        size_t len = (size_t)n + out.len;
        char *whole = malloc(len + 1);
        if (!whole) {
            rc = -ENOMEM;
        } else {
            memcpy(whole, reply_buf, (size_t)n);
            if (out.len)
                memcpy(whole + n, out.data, out.len);
            whole[len] = '\0';
            rc = attach_parse_load(whole, len, agent_rc, err, errcap);
            free(whole);
        }
    }
    attach_buf_free(&out);
    return rc;
}

int capture_load_agent(const struct proc_ident *p, const char *library, const char *options,
                       uint64_t timeout_ms, struct metrics *m, struct capture_agent_result *res)
{
    struct jvm *j = NULL;
    memset(res, 0, sizeof(*res));
    timeout_ms = tmo_or_default(timeout_ms);
    int rc = jvm_open(p, &j, res->reason, sizeof(res->reason));
    if (rc == 0)
        rc = asprof_stage_library(j, library, timeout_ms, &res->stage, res->reason,
                                  sizeof(res->reason));
    if (rc == 0) {
        rc = load_staged(j, res->stage.path, options, timeout_ms, m, &res->agent_rc, res->reason,
                         sizeof(res->reason));
        if (rc == -ENOEXEC) /* not loaded, so not mapped: take it away again */
            asprof_unstage(j, &res->stage, 1, timeout_ms);
    }
    jvm_close(j);
    return rc;
}

/* ---- files the JVM writes in its work directory ------------------------------ */

struct out_files {
    char dir[256];
    char jfr[320];
    char log[320];
    int hand_over; /* collect: pass the JFR's fd; 0: only remove */
    uint64_t room; /* the largest JFR that may be handed over */
    uid_t uid;
};

/* Before the JVM writes: nothing may sit at the JFR path but a stale
 * regular file of ours (removed); a link there fails the job. */
static int child_prepare(struct nsexec_child *c, void *arg)
{
    const struct out_files *f = arg;
    const char *paths[2] = {f->jfr, f->log};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        int rc = rootfs_lstat(nsexec_root_fd(c), paths[i], &st);
        if (rc == -ENOENT)
            continue;
        if (rc == 0 && S_ISLNK(st.st_mode))
            rc = -ELOOP;
        else if (rc == 0 && S_ISREG(st.st_mode))
            rc = rootfs_unlink(nsexec_root_fd(c), paths[i], 0);
        else if (rc == 0)
            rc = -EEXIST;
        if (rc < 0)
            return nsexec_reply(c, "refusing %s: %s", paths[i],
                                rc == -ELOOP ? "it is a symbolic link" : rootfs_strerror(rc)),
                   rc;
    }
    return 0;
}

/* Opens the JFR for the parent to copy: a regular file only (a FIFO would
 * block, a link is refused) no larger than room, so that a sparse file of
 * terabytes planted by the container's user is never read. Returns the
 * fd, -ENOENT, or -errno with the reason replied. */
static int open_jfr(struct nsexec_child *c, const struct out_files *f)
{
    uint64_t size = 0;
    int fd = rootfs_open_regular(nsexec_root_fd(c), f->jfr, f->room, &size);
    if (fd == -EFBIG)
        nsexec_reply(c, "%s is %llu bytes, more than the %llu allowed: not read", f->jfr,
                     (unsigned long long)size, (unsigned long long)f->room);
    else if (fd < 0 && fd != -ENOENT)
        nsexec_reply(c, "collecting %s: %s", f->jfr,
                     fd == -EINVAL ? "not a regular file" : rootfs_strerror(fd));
    return fd;
}

/* Appends "<what><name>" to a ", "-separated list. */
static void list_add(char *list, size_t cap, const char *what, const char *name)
{
    size_t n = strlen(list);
    snprintf(list + n, cap - n, "%s%s%s", n ? ", " : "", what, name);
}

/* After the JVM wrote: hands the JFR's fd over (open_jfr), then removes
 * the JFR, the log and the directory if it is empty, whatever the JFR was
 * (the fd stays readable after the unlink). Unless open_jfr failed, the
 * reply lists what was removed. */
static int child_collect(struct nsexec_child *c, void *arg)
{
    const struct out_files *f = arg;
    int root = nsexec_root_fd(c);
    int fd = f->hand_over ? open_jfr(c, f) : -ENOENT;
    const char *files[2] = {f->jfr, f->log};
    char gone[800] = "";
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (rootfs_lstat(root, files[i], &st) == 0 && S_ISREG(st.st_mode) &&
            rootfs_unlink(root, files[i], 0) == 0)
            list_add(gone, sizeof(gone), "", files[i]);
    }
    if (rootfs_unlink(root, f->dir, AT_REMOVEDIR) == 0) /* fails while a staged library is there */
        list_add(gone, sizeof(gone), "", f->dir);
    if (fd >= 0)
        nsexec_pass_fd(c, fd);
    if (fd >= 0 || fd == -ENOENT)
        nsexec_reply(c, "%s", gone);
    return fd < 0 && fd != -ENOENT ? fd : 0;
}

/* Reads the start of a small text file (the async-profiler log). */
static int child_read_log(struct nsexec_child *c, void *arg)
{
    const struct out_files *f = arg;
    int fd = rootfs_open(nsexec_root_fd(c), f->log, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    char buf[512];
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof(buf) - 1) : 0;
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    nsexec_reply(c, "%s", buf);
    return 0;
}

static int in_container(struct jvm *j, nsexec_fn fn, struct out_files *f, uint64_t timeout_ms,
                        char *text, size_t textcap)
{
    struct nsexec_result res;
    int rc = jvm_run_child(j, NULL, 0, timeout_ms, fn, f, &res);
    if (res.fd >= 0)
        close(res.fd);
    snprintf(text, textcap, "%s", res.text);
    return rc;
}

/* ---- profiles ------------------------------------------------------------------ */

struct prof {
    struct jvm *j;
    const struct profile_req *req;
    struct profile_result *res;
    uint64_t tmo;
    struct out_files f;
    int asprof;              /* async-profiler is recording */
    char staged[320];        /* its staged library path */
    char rec_name[64];       /* the JFR recording's name */
    char repos_before[1024]; /* JFR repositories in the temp dirs before JFR.start */
    char repo[256];          /* the JVM's repository, asked for after JFR.stop */
    struct journal_entry je; /* what the journal says about this capture */
};

/* Records what the next step will do to the JVM (journal.h); a capture
 * the journal cannot follow goes on: only a restart would miss it. */
static void journal_step(struct prof *P)
{
    int rc = journal_write(P->req->journal, &P->je);
    if (rc < 0)
        log_warn("capture", "pid %d: journal of captures in progress: %s", P->je.proc.pid,
                 strerror(-rc));
}

static int jvm_version(struct prof *P)
{
    struct attach_buf out = {.max = 4096};
    int code = 0;
    char err[512];
    int rc = attach_jcmd(P->j, "VM.version", P->tmo, attach_buf_sink, &out, &code, P->req->metrics,
                         err, sizeof(err));
    if (rc == 0 &&
        (code != 0 || !out.data ||
         attach_jdk_version(out.data, P->res->jdk_version, sizeof(P->res->jdk_version)) < 0))
        snprintf(P->res->jdk_version, sizeof(P->res->jdk_version), "unknown");
    if (rc < 0)
        snprintf(P->res->reason, sizeof(P->res->reason), "%s", err);
    attach_buf_free(&out);
    return rc;
}

static int prepare_files(struct prof *P)
{
    struct asprof_stage wd;
    char err[768];
    const struct proc_ident *id = jvm_ident(P->j);
    int rc = asprof_workdir(P->j, 0, P->tmo, &wd, err, sizeof(err));
    if (rc < 0) {
        snprintf(P->res->reason, sizeof(P->res->reason), "work directory: %s", err);
        return rc;
    }
    snprintf(P->f.dir, sizeof(P->f.dir), "%s", wd.dir);
    snprintf(P->f.jfr, sizeof(P->f.jfr), "%s/profile-%d.jfr", wd.dir, id->nspid);
    snprintf(P->f.log, sizeof(P->f.log), "%s/asprof-%d.log", wd.dir, id->nspid);
    P->f.uid = id->uid;
    snprintf(P->je.dir, sizeof(P->je.dir), "%s", P->f.dir);
    snprintf(P->je.jfr, sizeof(P->je.jfr), "%s", P->f.jfr);
    snprintf(P->je.log, sizeof(P->je.log), "%s", P->f.log);
    journal_step(P);
    rc = in_container(P->j, child_prepare, &P->f, P->tmo, err, sizeof(err));
    if (rc < 0)
        snprintf(P->res->reason, sizeof(P->res->reason), "%s", err);
    return rc;
}

static uint64_t safety_seconds(uint64_t duration_ms)
{
    uint64_t s = (duration_ms + 999) / 1000;
    return (s ? s : 1) + JFR_GRACE_S;
}

static int start_asprof(struct prof *P, char *why, size_t cap)
{
    char lib[320], err[768], opts[1024], note[384] = "";
    struct asprof_stage st;
    int agent_rc = 0, rc = asprof_library_path(P->req->async_profiler_path, lib, sizeof(lib));
    if (rc < 0)
        return snprintf(why, cap, "no lib/libasyncProfiler.so under %s: %s",
                        P->req->async_profiler_path, strerror(-rc)),
               rc;
    int major = 0;
    asprof_library_version(lib, P->res->library_version, sizeof(P->res->library_version), &major);
    rc = asprof_stage_library(P->j, lib, P->tmo, &st, err, sizeof(err));
    if (rc < 0)
        return snprintf(why, cap, "staging %s: %s", lib, err), rc;
    rc = asprof_start_options(P->req->events, major, P->f.jfr, P->f.log,
                              safety_seconds(P->req->duration_ms), opts, sizeof(opts), note,
                              sizeof(note));
    int paranoid;
    uint64_t cap_eff;
    if (rc == 0 && asprof_perf_limits(jvm_ident(P->j)->pid, &paranoid, &cap_eff) == 0)
        asprof_kernel_note(P->req->events, paranoid, cap_eff, note, sizeof(note));
    if (rc == 0) {
        snprintf(P->je.staged, sizeof(P->je.staged), "%s", st.path);
        journal_step(P);
        rc = load_staged(P->j, st.path, opts, P->tmo, P->req->metrics, &agent_rc, err, sizeof(err));
    }
    if (rc == -ENOEXEC) /* the JFR fallback still needs the directory */
        asprof_unstage(P->j, &st, 0, P->tmo);
    if (rc < 0) {
        P->je.staged[0] = '\0'; /* the next record (JFR's) says so */
        char logtext[512] = "";
        if (in_container(P->j, child_read_log, &P->f, P->tmo, logtext, sizeof(logtext)) < 0)
            logtext[0] = '\0';
        return snprintf(why, cap, "loading %s: %s%s%s", st.path, err, logtext[0] ? ": " : "",
                        logtext),
               rc;
    }
    P->asprof = 1;
    snprintf(P->staged, sizeof(P->staged), "%s", st.path);
    snprintf(P->res->library_type, sizeof(P->res->library_type), "async_profiler");
    asprof_event_options(P->req->events, major, P->res->events, sizeof(P->res->events), NULL, 0);
    if (note[0])
        snprintf(P->res->reason, sizeof(P->res->reason), "%s", note);
    return 0;
}

/* ---- the JFR repository ------------------------------------------------------ */

/* The JVM creates its JFR repository, <java.io.tmpdir>/<date>_<pid>, for
 * its first recording and keeps it (empty) after JFR.stop. To remove only
 * one our JFR.start created, the repositories already in the usual temp
 * directories are listed before it. */
static const char *const repo_bases[] = {"/tmp", "/var/tmp", "/dev/shm"};

/* A repository JFR names <yyyy_MM_dd_HH_mm_ss>_<pid>[_<n>]: digits and
 * underscores only. Anything else the JVM claims is not touched. */
static int repository_name_ok(const char *base)
{
    if (strlen(base) < 21)
        return 0;
    for (const char *c = base; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    return 1;
}

/* Replies "<dir>/<name>\n" for each repository-like directory. */
static int child_list_repositories(struct nsexec_child *c, void *arg)
{
    char list[1024] = "";
    size_t n = 0;
    (void)arg;
    for (size_t i = 0; i < sizeof(repo_bases) / sizeof(repo_bases[0]); i++) {
        int fd = rootfs_open(nsexec_root_fd(c), repo_bases[i], O_RDONLY | O_DIRECTORY, 0);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d && fd >= 0)
            close(fd);
        for (struct dirent *e; d && (e = readdir(d));)
            if ((e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) && repository_name_ok(e->d_name) &&
                n < sizeof(list))
                n += (size_t)snprintf(list + n, sizeof(list) - n, "%s/%s\n", repo_bases[i],
                                      e->d_name);
        if (d)
            closedir(d);
    }
    nsexec_reply(c, "%s", n < sizeof(list) ? list : "?"); /* "?": too many to tell */
    return 0;
}

static void list_repositories(struct prof *P)
{
    struct nsexec_result res;
    if (jvm_run_child(P->j, NULL, 0, P->tmo, child_list_repositories, NULL, &res) == 0)
        snprintf(P->repos_before, sizeof(P->repos_before), "%s", res.text);
    else
        snprintf(P->repos_before, sizeof(P->repos_before), "?"); /* unknown: remove nothing */
    if (res.fd >= 0)
        close(res.fd);
}

/* 1 when path is in a listed base directory and was not there before. */
static int repository_is_ours(const struct prof *P, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || strcmp(P->repos_before, "?") == 0 || !repository_name_ok(slash + 1))
        return 0;
    int listed = 0;
    for (size_t i = 0; i < sizeof(repo_bases) / sizeof(repo_bases[0]); i++)
        listed |= strlen(repo_bases[i]) == (size_t)(slash - path) &&
                  strncmp(path, repo_bases[i], (size_t)(slash - path)) == 0;
    for (const char *l = P->repos_before; listed && *l; l += strcspn(l, "\n") + 1) {
        if (strncmp(l, path, strlen(path)) == 0 && l[strlen(path)] == '\n')
            return 0;
        if (!strchr(l, '\n'))
            break;
    }
    return listed;
}

/* The JVM's JFR repository as JFR.configure reports it ("Repository path:
 * /tmp/2026_12_01_21_01_01_1"), or "" when it has none (or says nothing
 * usable). */
static void jfr_repository(struct prof *P, char *out, size_t cap)
{
    static const char key[] = "Repository path: ";
    struct attach_buf b = {.max = 8192};
    int code = 0;
    char err[256];
    out[0] = '\0';
    if (attach_jcmd(P->j, "JFR.configure", P->tmo, attach_buf_sink, &b, &code, P->req->metrics, err,
                    sizeof(err)) == 0 &&
        code == 0 && b.data) {
        const char *k = strstr(b.data, key);
        size_t n = k ? strcspn(k += sizeof(key) - 1, "\r\n") : 0;
        if (n > 1 && n < cap && k[0] == '/')
            snprintf(out, cap, "%.*s", (int)n, k);
    }
    attach_buf_free(&b);
}

static int start_jfr(struct prof *P)
{
    const struct proc_ident *id = jvm_ident(P->j);
    char cmd[ATTACH_ARG_MAX + 1], err[768];
    list_repositories(P);
    snprintf(P->rec_name, sizeof(P->rec_name), "flameshot-%d-%llu", id->nspid,
             (unsigned long long)units_now_mono_ms());
    snprintf(cmd, sizeof(cmd), "JFR.start name=%s settings=profile duration=%llus filename=%s",
             P->rec_name, (unsigned long long)safety_seconds(P->req->duration_ms), P->f.jfr);
    snprintf(P->je.recording, sizeof(P->je.recording), "%s", P->rec_name);
    snprintf(P->je.repos_before, sizeof(P->je.repos_before), "%s", P->repos_before);
    journal_step(P);
    struct attach_buf out = {.max = 4096};
    int code = 0;
    int rc = attach_jcmd(P->j, cmd, P->tmo, attach_buf_sink, &out, &code, P->req->metrics, err,
                         sizeof(err));
    if (rc == 0 && (code != 0 || !out.data || !strstr(out.data, "Started recording"))) {
        snprintf(err, sizeof(err), "JFR.start failed (status %d): %.600s", code,
                 out.data ? out.data : "");
        rc = -EIO;
    }
    attach_buf_free(&out);
    if (rc < 0) {
        snprintf(P->res->reason, sizeof(P->res->reason), "%s", err);
        return rc;
    }
    snprintf(P->res->library_type, sizeof(P->res->library_type), "jfr");
    snprintf(P->res->library_version, sizeof(P->res->library_version), "%s", P->res->jdk_version);
    snprintf(P->res->events, sizeof(P->res->events), "jfr settings=profile");
    return 0;
}

/* Sleeps until the duration is over, the JVM exits or cancel_fd fires. */
static enum capture_outcome wait_duration(struct prof *P)
{
    uint64_t deadline = units_now_mono_ms() + P->req->duration_ms;
    int pidfd = jvm_pidfd(P->j);
    for (;;) {
        uint64_t now = units_now_mono_ms();
        if (now >= deadline)
            return CAPTURE_OUTCOME_OK;
        struct pollfd fds[2] = {{.fd = P->req->cancel_fd, .events = POLLIN},
                                {.fd = pidfd, .events = POLLIN}};
        uint64_t until = pidfd < 0 && deadline - now > 200 ? now + 200 : deadline;
        if (units_poll_until(fds, 2, until) < 0)
            return CAPTURE_OUTCOME_OK; /* cannot wait: stop and collect now */
        if (P->req->cancel_fd >= 0 && (fds[0].revents & POLLIN))
            return CAPTURE_OUTCOME_CANCELLED;
        if (!jvm_alive(P->j))
            return CAPTURE_OUTCOME_TARGET_EXITED;
    }
}

static void add_note(struct profile_result *res, const char *fmt, const char *what)
{
    size_t n = strlen(res->reason);
    snprintf(res->reason + n, sizeof(res->reason) - n, fmt, n ? "; " : "", what);
}

static void stop_recording(struct prof *P)
{
    char err[768], opts[1024];
    int rc, code = 0, agent_rc = 0;
    if (!jvm_alive(P->j))
        return;
    if (P->asprof) {
        asprof_stop_options(P->f.jfr, P->f.log, opts, sizeof(opts));
        rc = load_staged(P->j, P->staged, opts, P->tmo, P->req->metrics, &agent_rc, err,
                         sizeof(err));
    } else {
        char cmd[128];
        struct attach_buf out = {.max = 4096};
        snprintf(cmd, sizeof(cmd), "JFR.stop name=%s", P->rec_name);
        rc = attach_jcmd(P->j, cmd, P->tmo, attach_buf_sink, &out, &code, P->req->metrics, err,
                         sizeof(err));
        if (rc == 0 && code != 0)
            snprintf(err, sizeof(err), "JFR.stop: %.600s", out.data ? out.data : "");
        attach_buf_free(&out);
    }
    if (rc < 0 || code != 0)
        add_note(P->res, "%sstopping the recording: %s", err);
}

/* Copies the JFR to out (NULL: only removes it). -EFBIG when it is, or
 * grows while copied, past what out may take. */
static int collect(struct prof *P, struct bounded *out)
{
    struct nsexec_result res;
    P->f.hand_over = out != NULL;
    P->f.room = out ? bounded_room(out) : 0;
    int rc = jvm_run_child(P->j, NULL, 0, P->tmo, child_collect, &P->f, &res);
    if (rc < 0)
        add_note(P->res, "%s%s", res.text);
    if (rc == 0 && res.fd >= 0) {
        uint64_t before = out->written;
        rc = bounded_copy_fd(out, res.fd);
        P->res->bytes = out->written - before;
        char why[160];
        if (rc == -EFBIG)
            snprintf(why, sizeof(why), "the JFR grew past %llu bytes while copied",
                     (unsigned long long)out->cap);
        else
            snprintf(why, sizeof(why), "copying the JFR: %s", strerror(-rc));
        if (rc < 0)
            add_note(P->res, "%s%s", why);
    }
    if (res.fd >= 0)
        close(res.fd);
    return rc;
}

/* Removes the repository directory if it is the JVM uid's, a real
 * directory (symlink-free path) and empty: JFR.stop has taken our chunks
 * away; chunks left there belong to a recording someone else started. */
static int child_remove_repository(struct nsexec_child *c, void *arg)
{
    const struct prof *P = arg;
    struct stat st;
    int root = nsexec_root_fd(c);
    int rc = rootfs_lstat(root, P->repo, &st);
    if (rc == 0 && (!S_ISDIR(st.st_mode) || st.st_uid != jvm_ident(P->j)->uid))
        rc = -EPERM;
    if (rc == 0)
        rc = rootfs_unlink(root, P->repo, AT_REMOVEDIR);
    if (rc < 0 && rc != -ENOENT)
        nsexec_reply(c, "%s: %s", P->repo, rootfs_strerror(rc));
    return rc == -ENOENT ? 0 : rc;
}

/* What our JFR.start created in the container goes with the recording
 * (asked for after JFR.stop, so that nothing delays the start). 1 when
 * P->repo was removed, else 0. */
static int remove_repository(struct prof *P)
{
    if (P->asprof || !P->rec_name[0] || !jvm_alive(P->j))
        return 0;
    jfr_repository(P, P->repo, sizeof(P->repo));
    if (!P->repo[0] || !repository_is_ours(P, P->repo))
        return 0;
    struct nsexec_result res;
    int rc = jvm_run_child(P->j, NULL, 0, P->tmo, child_remove_repository, P, &res);
    if (res.fd >= 0)
        close(res.fd);
    if (rc < 0 && rc != -ENOTEMPTY)
        add_note(P->res, "%sJFR repository left behind: %s", res.text);
    return rc == 0;
}

static int record(struct prof *P)
{
    char why[768] = "";
    int rc = -ENOENT;
    if (P->req->async_profiler_path && *P->req->async_profiler_path)
        rc = start_asprof(P, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "FLAMESHOT_ASYNC_PROFILER_PATH is not set");
    if (rc < 0) {
        snprintf(P->res->asprof_skipped, sizeof(P->res->asprof_skipped), "%s", why);
        if (P->req->async_profiler_path && *P->req->async_profiler_path)
            log_info("capture", "pid %d: async-profiler not used, JDK Flight Recorder instead: %s",
                     jvm_ident(P->j)->pid, why);
        rc = start_jfr(P);
    }
    if (rc < 0)
        return rc;
    P->res->start_ns = units_now_real_ns(); /* the recording runs from here */
    P->res->outcome = wait_duration(P);
    if (P->res->outcome != CAPTURE_OUTCOME_TARGET_EXITED)
        stop_recording(P);
    if (P->res->outcome == CAPTURE_OUTCOME_TARGET_EXITED)
        add_note(P->res, "%s%s", "the JVM exited before the profile was complete");
    P->res->end_ns = units_now_real_ns();
    rc = collect(P, P->req->out);
    remove_repository(P);
    if (rc == 0 && P->res->bytes == 0 && P->res->outcome == CAPTURE_OUTCOME_OK) {
        add_note(P->res, "%s%s", "the JVM wrote no JFR file");
        rc = -ENODATA;
    }
    return P->res->outcome == CAPTURE_OUTCOME_OK || rc == -EFBIG ? rc : 0;
}

int capture_profile(const struct proc_ident *p, const struct profile_req *req,
                    struct profile_result *res)
{
    struct prof P = {.req = req, .res = res, .tmo = tmo_or_default(req->attach_timeout_ms)};
    memset(res, 0, sizeof(*res));
    res->start_ns = units_now_real_ns();
    int rc = jvm_open(p, &P.j, res->reason, sizeof(res->reason));
    int files = 0;
    if (rc == 0 && req->journal) {
        P.je.proc = *jvm_ident(P.j);
        journal_step(&P);
    }
    if (rc == 0)
        rc = jvm_version(&P);
    if (rc == 0 && (rc = prepare_files(&P)) == 0)
        files = 1;
    if (rc == 0)
        rc = record(&P);
    else if (rc == -ESRCH) {
        res->outcome = CAPTURE_OUTCOME_TARGET_EXITED;
    }
    if (rc < 0 && files && res->end_ns == 0)
        collect(&P, NULL); /* nothing to keep: leave nothing behind */
    if (res->end_ns == 0)
        res->end_ns = units_now_real_ns();
    if (rc == -EFBIG)
        res->outcome = CAPTURE_OUTCOME_TOO_LARGE;
    else if (rc < 0 && P.j && !jvm_alive(P.j)) {
        /* an attach step fails when the JVM dies under it: say that, not
         * the step's guess at why the JVM closed the connection */
        char was[sizeof(res->reason)];
        snprintf(was, sizeof(was), "%s", res->reason);
        snprintf(res->reason, sizeof(res->reason),
                 "the JVM exited while the profile was being started (%s)", was);
        res->outcome = CAPTURE_OUTCOME_TARGET_EXITED;
    } else if (rc < 0 && res->outcome != CAPTURE_OUTCOME_TARGET_EXITED)
        res->outcome = CAPTURE_OUTCOME_FAILED;
    jvm_close(P.j);
    journal_remove(req->journal, &P.je);
    if (res->outcome == CAPTURE_OUTCOME_TOO_LARGE)
        return -EFBIG;
    return res->outcome == CAPTURE_OUTCOME_FAILED ? (rc < 0 ? rc : -EIO) : 0;
}

/* ---- after a restart ----------------------------------------------------------- */

/* Removes the JFR file and the log a cut capture left (collect without
 * handing anything over) and says which went. */
static void sweep(struct prof *P, char *gone, size_t cap)
{
    struct nsexec_result res;
    P->f.hand_over = 0;
    int rc = jvm_run_child(P->j, NULL, 0, P->tmo, child_collect, &P->f, &res);
    if (res.fd >= 0)
        close(res.fd);
    if (rc < 0)
        add_note(P->res, "%sremoving the files: %s", res.text);
    else
        snprintf(gone, cap, "%s", res.text);
}

static void prof_from_entry(struct prof *P, const struct journal_entry *e)
{
    snprintf(P->f.dir, sizeof(P->f.dir), "%s", e->dir);
    snprintf(P->f.jfr, sizeof(P->f.jfr), "%s", e->jfr);
    snprintf(P->f.log, sizeof(P->f.log), "%s", e->log);
    P->f.uid = jvm_ident(P->j)->uid;
    snprintf(P->rec_name, sizeof(P->rec_name), "%s", e->recording);
    snprintf(P->staged, sizeof(P->staged), "%s", e->staged);
    snprintf(P->repos_before, sizeof(P->repos_before), "%s", e->repos_before);
    P->asprof = e->staged[0] != '\0';
}

int capture_profile_recover(const struct journal_entry *e, uint64_t timeout_ms, char *done,
                            size_t cap)
{
    struct profile_req req = {.cancel_fd = -1};
    struct profile_result res = {0};
    struct prof P = {.req = &req, .res = &res, .tmo = tmo_or_default(timeout_ms)};
    char gone[800] = "", what[1024] = "";
    int rc = jvm_open(&e->proc, &P.j, done, cap);
    if (rc < 0)
        return rc;
    prof_from_entry(&P, e);
    if (P.asprof || P.rec_name[0]) {
        stop_recording(&P);
        if (!res.reason[0])
            list_add(what, sizeof(what),
                     P.asprof ? "stopped async-profiler loaded from " : "stopped JFR recording ",
                     P.asprof ? P.staged : P.rec_name);
    }
    if (P.f.dir[0])
        sweep(&P, gone, sizeof(gone));
    if (gone[0])
        list_add(what, sizeof(what), "removed ", gone);
    if (remove_repository(&P))
        list_add(what, sizeof(what), "removed the JFR repository ", P.repo);
    jvm_close(P.j);
    snprintf(done, cap, "%s%s%s", what[0] ? what : "nothing left to clean",
             res.reason[0] ? "; " : "", res.reason);
    return 0;
}
