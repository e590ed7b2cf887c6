/* The job executor's snapshots against a fake JVM (tests/helpers/
 * fake_jvm, a real process serving the attach protocol): a reply cut by
 * the kill is kept and its record says complete: false; whole replies
 * say complete: true; urgent snapshots skip the histogram's full GC,
 * routine ones do not. Needs root and `make test-build`. */
#include "core/fsutil.h"
#include "fakejvm.h"
#include "harness.h"
#include "optin_fixture.h"
#include "outbox/outbox.h"
#include "policy/runner.h"
#include "capture/snapshot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

struct fake {
    pid_t pid;
    int out; /* its stdout: "fake_jvm ready <pid>", then "request <cmd> <arg0>" lines */
};

/* Reads what fd has until text contains want or 10 s pass. */
static bool read_until(int fd, char *text, size_t cap, const char *want)
{
    size_t len = strlen(text);
    for (int i = 0; i < 1000 && !strstr(text, want) && len + 1 < cap; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = read(fd, text + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        text[len] = '\0';
    }
    return strstr(text, want) != NULL;
}

static int fake_start(const char *mode, struct fake *f)
{
    char path[512], text[256] = "";
    const char *build = getenv("BUILD");
    int fds[2];
    snprintf(path, sizeof(path), "%s/tests/helpers/fake_jvm", build && *build ? build : "build");
    if (access(path, X_OK) < 0 || pipe2(fds, O_CLOEXEC) < 0)
        return -ENOENT;
    f->pid = fork();
    if (f->pid == 0) {
        dup2(fds[1], 1);
        execl(path, path, mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f->out = fds[0];
    return read_until(f->out, text, sizeof(text), "fake_jvm ready") ? 0 : -ETIMEDOUT;
}

/* Kills it (if alive) and returns how it ended (waitpid status). What
 * it left in /tmp goes too. */
static int fake_stop(struct fake *f)
{
    int status = 0;
    if (waitpid(f->pid, &status, WNOHANG) == 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, &status, 0);
        status = 0; /* it did not die on its own */
    }
    fakejvm_remove_files(f->pid);
    close(f->out);
    return status;
}

struct bench {
    char root[64];
    struct config cfg;
    struct outbox *ob;
    struct runner r;
    struct runner_target rt;
    struct job job;
    bool mounted;
};

/* tmpfs (NULL: none): the mount options of a tmpfs made the outbox's root */
static int bench_open(struct bench *b, int pid, bool urgent, const char *tmpfs)
{
    char err[256];
    memset(b, 0, sizeof(*b));
    snprintf(b->root, sizeof(b->root), "/tmp/fs-test-runner-XXXXXX");
    if (!mkdtemp(b->root))
        return -errno;
    if (tmpfs && mount("tmpfs", b->root, "tmpfs", 0, tmpfs) < 0)
        return -errno;
    b->mounted = tmpfs != NULL;
    struct outbox_opts o = {.root = b->root};
    int rc = outbox_open(&o, &b->ob, err, sizeof(err));
    if (rc < 0)
        return rc;
    b->cfg.max_profile_mb = 16;
    b->r = (struct runner){.cfg = &b->cfg, .outbox = b->ob};
    snprintf(b->rt.service, sizeof(b->rt.service), "leaky");
    b->rt.settings.jcmd_timeout_ms = 5000;
    b->job = (struct job){.id = 1,
                          .urgent = urgent,
                          .cancel_fd = -1,
                          .payload = &b->rt,
                          .trigger = {.kind = urgent ? TRIGGER_CGROUP_PRESSURE : TRIGGER_HTTP,
                                      .capture = CAPTURE_SNAPSHOT}};
    return procfs_ident(NULL, pid, &b->job.target);
}

static void bench_close(struct bench *b)
{
    outbox_close(b->ob);
    char cmd[128];
    if (b->mounted)
        umount(b->root);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", b->root);
}

/* The record the local sink wrote next to an artefact. */
static cJSON *sidecar(const char *artefact)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof(path), "%s.json", artefact);
    if (fsutil_read_all(path, 1 << 20, &text, NULL) < 0)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static const cJSON *field(const cJSON *side, const char *name)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(side, "summary"), "fields"),
                               name);
}

TEST(snapshot_cut_by_the_kill_is_kept_as_incomplete)
{
    struct fake f;
    struct bench b;
    struct job_result res = {0};
    NEED(geteuid() == 0, "needs root (the attach helper enters the JVM's namespaces)");
    NEED(fake_start("die-in-dump", &f) == 0, "run make test-build first (tests/helpers/fake_jvm)");
    CHECK_EQ(bench_open(&b, f.pid, true, NULL), 0);
    runner_exec(&b.job, &res, &b.r);
    int status = fake_stop(&f);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* the kill came mid-dump */
    CHECK_EQ(res.state, JOB_TARGET_EXITED);
    CHECK_CONTAINS(res.reason, "complete: false");
    CHECK_EQ(res.n_artefacts, 1); /* the histogram never answered */
    CHECK_STREQ(res.artefacts[0].kind, "thread_print");
    CHECK(res.artefacts[0].partial);
    CHECK_EQ(outbox_run_once(b.ob), 1);
    char *text = NULL;
    CHECK_EQ(fsutil_read_all(res.artefacts[0].name, 1 << 20, &text, NULL), 0);
    CHECK_CONTAINS(text, "\"leaker\" #12");
    CHECK(text && !strstr(text, "JNI global"));
    free(text);
    cJSON *side = sidecar(res.artefacts[0].name);
    CHECK(side != NULL);
    CHECK(cJSON_IsFalse(field(side, "complete")));
    CHECK_STREQ(cJSON_GetStringValue(field(side, "snapshot_type")), "thread_print");
    cJSON_Delete(side);
    bench_close(&b);
}

/* Runs one snapshot job on a "whole" fake; the fake's request log in log. */
static void whole_run(bool urgent, char *log, size_t cap, struct t_state *t_)
{
    struct fake f;
    struct bench b;
    struct job_result res = {0};
    log[0] = '\0';
    NEED(geteuid() == 0, "needs root (the attach helper enters the JVM's namespaces)");
    NEED(fake_start("whole", &f) == 0, "run make test-build first (tests/helpers/fake_jvm)");
    CHECK_EQ(bench_open(&b, f.pid, urgent, NULL), 0);
    runner_exec(&b.job, &res, &b.r);
    read_until(f.out, log, cap, "GC.class_histogram");
    CHECK_EQ(fake_stop(&f), 0); /* alive until we killed it */
    CHECK_EQ(res.state, JOB_DONE);
    CHECK_EQ(res.n_artefacts, 2);
    CHECK_EQ(outbox_run_once(b.ob), 2);
    for (int i = 0; i < res.n_artefacts; i++) {
        CHECK(!res.artefacts[i].partial);
        cJSON *side = sidecar(res.artefacts[i].name);
        CHECK(side != NULL);
        CHECK(cJSON_IsTrue(field(side, "complete")));
        cJSON_Delete(side);
    }
    bench_close(&b);
}

TEST(whole_snapshots_are_complete_and_urgent_ones_skip_the_full_gc)
{
    char log[4096];
    whole_run(true, log, sizeof(log), t_);
    CHECK_CONTAINS(log, "request jcmd Thread.print");
    CHECK_CONTAINS(log, "request jcmd GC.class_histogram -all\n");
    whole_run(false, log, sizeof(log), t_);
    CHECK_CONTAINS(log, "request jcmd GC.class_histogram\n");
}

/* How many times text holds needle. */
static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Kubernetes: a job queued while its Pod was opted in starts after the
 * Pod opted out (the annotation removed) or was deleted: it ends
 * cancelled with the reason and the JVM is never attached to; opted in
 * again, the same job attaches. */
TEST(a_job_of_a_pod_no_longer_opted_in_never_attaches)
{
    struct fake f;
    struct bench b;
    struct optin o = {0};
    struct job_result out = {0}, del = {0}, none = {0}, in = {0};
    char log[4096] = "";
    NEED(geteuid() == 0, "needs root (the attach helper enters the JVM's namespaces)");
    NEED(fake_start("whole", &f) == 0, "run make test-build first (tests/helpers/fake_jvm)");
    CHECK_EQ(bench_open(&b, f.pid, false, NULL), 0);
    CHECK_EQ(optin_open(&o, &b.cfg), 0);
    b.r.pods = o.pt;
    b.rt.pod_ref = optin_ref(&o); /* queued while opted in */
    snprintf(b.rt.container_id, sizeof(b.rt.container_id), "%s", OPTIN_CID);
    CHECK_EQ(optin_set(&o, "", false), 0);
    runner_exec(&b.job, &out, &b.r);
    b.job.payload = NULL; /* a job of no Pod's process */
    runner_exec(&b.job, &none, &b.r);
    b.job.payload = &b.rt;
    CHECK_EQ(optin_set(&o, OPTIN_ON, false), 0);
    runner_exec(&b.job, &in, &b.r);
    CHECK_EQ(optin_set(&o, OPTIN_ON, true), 0);
    runner_exec(&b.job, &del, &b.r);
    read_until(f.out, log, sizeof(log), "GC.class_histogram");
    CHECK_EQ(fake_stop(&f), 0);
    CHECK_EQ(out.state, JOB_CANCELLED);
    CHECK_STREQ(out.reason, "Pod shop/api-0 opted out (flameshot.io/enabled is not \"true\")");
    CHECK_EQ(out.n_artefacts, 0);
    CHECK_EQ(none.state, JOB_CANCELLED);
    CHECK_EQ(del.state, JOB_CANCELLED);
    CHECK_STREQ(del.reason, "Pod shop/api-0 was deleted");
    CHECK_EQ(in.state, JOB_DONE);
    CHECK_EQ(in.n_artefacts, 2);
    CHECK_EQ(count_of(log, "request jcmd Thread.print"), 1); /* the opted-in run only */
    runner_target_release(&b.rt);
    optin_close(&o);
    bench_close(&b);
}

/* What the monitor cancels when the Pods change: any queued job of a Pod
 * no longer opted in; a running one only when its Pod opted out (a
 * deleted Pod's running capture finishes); nothing outside Kubernetes. */
TEST(which_jobs_the_monitor_cancels)
{
    static struct config cfg;
    struct optin o = {0};
    struct runner_target rt = {0};
    struct job job = {.payload = &rt, .state = JOB_QUEUED};
    char why[256] = "";
    CHECK_EQ(optin_open(&o, &cfg), 0);
    rt.pod_ref = optin_ref(&o);
    snprintf(rt.container_id, sizeof(rt.container_id), "%s", OPTIN_CID);
    CHECK(!runner_job_forbidden(&job, o.pt, why, sizeof(why)));
    CHECK_EQ(optin_set(&o, OPTIN_ON, true), 0); /* deleted */
    CHECK(runner_job_forbidden(&job, o.pt, why, sizeof(why)));
    CHECK_STREQ(why, "Pod shop/api-0 was deleted");
    CHECK(!runner_job_forbidden(&job, NULL, why, sizeof(why)));
    job.state = JOB_RUNNING;
    CHECK(!runner_job_forbidden(&job, o.pt, why, sizeof(why)));
    CHECK_EQ(optin_set(&o, "", false), 0); /* back, without the annotation */
    CHECK(runner_job_forbidden(&job, o.pt, why, sizeof(why)));
    CHECK_CONTAINS(why, "opted out");
    runner_target_release(&rt);
    optin_close(&o);
}

/* Another writer took every byte of the spool's filesystem: the job fails
 * naming the spool (not the JVM's reply), and the loss is counted. */
TEST(a_snapshot_the_full_spool_cannot_take_fails_naming_it)
{
    struct fake f;
    struct bench b;
    struct job_result res = {0};
    struct outbox_stats st;
    char filler[128];
    static char block[65536];
    NEED(geteuid() == 0, "needs root (the attach helper, the tmpfs)");
    NEED(fake_start("whole", &f) == 0, "run make test-build first (tests/helpers/fake_jvm)");
    CHECK_EQ(bench_open(&b, f.pid, false, "size=256k"), 0);
    snprintf(filler, sizeof(filler), "%s/filler", b.root);
    int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
        ;
    if (fd >= 0)
        close(fd);
    runner_exec(&b.job, &res, &b.r);
    fake_stop(&f);
    outbox_stats(b.ob, &st);
    bench_close(&b);
    CHECK_EQ(res.state, JOB_FAILED);
    CHECK_EQ(res.n_artefacts, 0);
    CHECK_CONTAINS(res.reason, "outbox: writing the ");
    CHECK_CONTAINS(res.reason, "No space left on device");
    CHECK(st.dropped >= 1);
    CHECK_CONTAINS(st.spool_error, "No space left on device");
}

/* A read-only spool refuses a snapshot job's first file: the job fails
 * before it attaches, naming the spool's error, and that one loss counts
 * one drop, for a job of both types and for one of one type alike. */
TEST(a_snapshot_on_a_read_only_spool_counts_one_drop)
{
    struct bench b;
    struct job_result res = {0}, one = {0};
    struct outbox_stats st, st1;
    NEED(geteuid() == 0, "needs root (the tmpfs, the read-only bind mount)");
    CHECK_EQ(bench_open(&b, getpid(), false, "size=1m"), 0);
    /* read-only: a bind mount stacked on the tmpfs (the tmpfs itself
     * cannot be remounted so while the outbox holds .lock open) */
    CHECK_EQ(mount(b.root, b.root, NULL, MS_BIND, NULL), 0);
    CHECK_EQ(mount(NULL, b.root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), 0);
    runner_exec(&b.job, &res, &b.r);
    outbox_stats(b.ob, &st);
    b.rt.snapshot_only_types = true;
    b.rt.snapshot_type = SNAPSHOT_THREAD_PRINT;
    runner_exec(&b.job, &one, &b.r);
    outbox_stats(b.ob, &st1);
    umount(b.root);
    bench_close(&b);
    CHECK_EQ(res.state, JOB_FAILED);
    CHECK_EQ(res.n_artefacts, 0);
    CHECK_CONTAINS(res.reason, "Read-only file system");
    CHECK_EQ(st.dropped, 1);
    CHECK_CONTAINS(st.spool_error, "Read-only file system");
    CHECK_EQ(one.state, JOB_FAILED);
    CHECK_CONTAINS(one.reason, "Read-only file system");
    CHECK_EQ(st1.dropped, 2);
}

/* The listener runs but the process is stopped: the connect succeeds
 * (the kernel queues it), the reply never comes; the reason says why. */
TEST(a_snapshot_of_a_stopped_jvm_times_out_naming_the_stopped_state)
{
    struct fake f;
    struct bench b;
    struct job_result res = {0};
    NEED(geteuid() == 0, "needs root (the attach helper enters the JVM's namespaces)");
    NEED(fake_start("whole", &f) == 0, "run make test-build first (tests/helpers/fake_jvm)");
    CHECK_EQ(bench_open(&b, f.pid, false, NULL), 0);
    b.rt.settings.jcmd_timeout_ms = 1000;
    kill(f.pid, SIGSTOP);
    runner_exec(&b.job, &res, &b.r);
    kill(f.pid, SIGCONT);
    fake_stop(&f);
    bench_close(&b);
    CHECK_EQ(res.state, JOB_FAILED);
    CHECK_EQ(res.n_artefacts, 0);
    CHECK_CONTAINS(res.reason, "timed out");
    CHECK_CONTAINS(res.reason, "the JVM process is stopped (state T)");
}

TEST_MAIN(snapshot_cut_by_the_kill_is_kept_as_incomplete,
          a_snapshot_of_a_stopped_jvm_times_out_naming_the_stopped_state,
          whole_snapshots_are_complete_and_urgent_ones_skip_the_full_gc,
          a_snapshot_the_full_spool_cannot_take_fails_naming_it,
          a_snapshot_on_a_read_only_spool_counts_one_drop,
          a_job_of_a_pod_no_longer_opted_in_never_attaches, which_jobs_the_monitor_cancels)
