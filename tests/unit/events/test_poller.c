/* poller (and the events module over it): the /proc diff, exec/exit
 * detection, zombies, pid reuse, OOM victim matching and watermarks, driven
 * scan by scan over a /proc and cgroup tree the test writes and changes
 * (the same files the kernel provides; the real kernel is exercised by
 * tests/integration/10_events_poller.sh). */
#include "events/events.h"
#include "harness.h"
#include "events/poller.h"
#include "events/proc_connector.h"

#include "bpf/steps.h"
#include "core/units.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXEV 64

struct fx {
    char dir[PATH_MAX], proc[PATH_MAX], cg[PATH_MAX];
    struct fs_event ev[MAXEV];
    int n;
};

static void record(const struct fs_event *ev, void *arg)
{
    struct fx *f = arg;
    if (f->n < MAXEV)
        f->ev[f->n++] = *ev;
}

static int put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -errno;
    fputs(text, fp);
    return fclose(fp) == 0 ? 0 : -errno;
}

/* <proc>/<pid>/{stat,status,cgroup,statm}; memcg "" puts it in the root */
static int mkproc(struct fx *f, int pid, const char *comm, char state, int ppid,
                  unsigned long long start, unsigned long long rss, int threads, const char *memcg)
{
    char d[PATH_MAX], p[PATH_MAX + 16], text[512];
    snprintf(d, sizeof(d), "%s/%d", f->proc, pid);
    mkdir(d, 0755);
    snprintf(text, sizeof(text),
             "%d (%s) %c %d 0 0 0 0 0 0 0 0 0 0 0 0 0 20 0 %d 0 %llu 0 %llu 0\n", pid, comm, state,
             ppid, threads, start, rss);
    snprintf(p, sizeof(p), "%s/stat", d);
    int rc = put(p, text);
    snprintf(text, sizeof(text),
             "Name:\t%s\nTgid:\t%d\nPid:\t%d\nUid:\t0\t0\t0\t0\n"
             "Gid:\t0\t0\t0\t0\nThreads:\t%d\n",
             comm, pid, pid, threads);
    snprintf(p, sizeof(p), "%s/status", d);
    rc = rc ? rc : put(p, text);
    snprintf(text, sizeof(text), "4:memory:/%s\n0::/\n", memcg);
    snprintf(p, sizeof(p), "%s/cgroup", d);
    rc = rc ? rc : put(p, text);
    snprintf(text, sizeof(text), "%llu %llu 0 0 0 0 0\n", rss * 2, rss);
    snprintf(p, sizeof(p), "%s/statm", d);
    return rc ? rc : put(p, text);
}

static void rmproc(struct fx *f, int pid)
{
    static const char *const files[] = {"stat", "status", "cgroup", "statm"};
    char p[PATH_MAX + 32];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%d/%s", f->proc, pid, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/%d", f->proc, pid);
    rmdir(p);
}

/* a v1 memory cgroup <cg>/memory/<name> with its usage and OOM counter */
static int mkcg(struct fx *f, const char *name, unsigned long long usage, int kills)
{
    char d[PATH_MAX], p[PATH_MAX + 32], text[128];
    snprintf(d, sizeof(d), "%s/memory/%s", f->cg, name);
    mkdir(d, 0755);
    snprintf(p, sizeof(p), "%s/memory.usage_in_bytes", d);
    snprintf(text, sizeof(text), "%llu\n", usage);
    int rc = put(p, text);
    snprintf(p, sizeof(p), "%s/memory.oom_control", d);
    snprintf(text, sizeof(text), "oom_kill_disable 0\nunder_oom 0\noom_kill %d\n", kills);
    return rc ? rc : put(p, text);
}

static int put_limit(struct fx *f, const char *name, unsigned long long limit)
{
    char p[PATH_MAX + 64], text[64];
    snprintf(p, sizeof(p), "%s/memory/%s/memory.limit_in_bytes", f->cg, name);
    snprintf(text, sizeof(text), "%llu\n", limit);
    return put(p, text);
}

static uint64_t cg_id(struct fx *f, const char *name)
{
    char d[PATH_MAX + 64];
    struct stat st;
    snprintf(d, sizeof(d), "%s/memory/%s", f->cg, name);
    return stat(d, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static const char *cg_dir(struct fx *f, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/memory/%s", f->cg, name);
    return buf;
}

static int fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/fs-poller-test.XXXXXX");
    if (!mkdtemp(f->dir))
        return -errno;
    snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
    snprintf(f->cg, sizeof(f->cg), "%s/cg", f->dir);
    char m[PATH_MAX + 16];
    snprintf(m, sizeof(m), "%s/memory", f->cg);
    if (mkdir(f->proc, 0755) || mkdir(f->cg, 0755) || mkdir(m, 0755))
        return -errno;
    int rc = mkcg(f, "", 1 << 30, 0); /* the hierarchy root */
    rc = rc ? rc : mkproc(f, 1, "init", 'S', 0, 1, 100, 1, "");
    rc = rc ? rc : mkproc(f, 2, "kthreadd", 'S', 0, 1, 0, 1, "");
    return rc ? rc : mkproc(f, 100, "sh", 'S', 1, 500, 200, 1, "");
}

static void fx_done(struct fx *f)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (strncmp(f->dir, "/tmp/fs-poller-test.", 20) == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

static struct poller *fx_feed_poller(struct fx *f, enum poller_feed feed, int rcvbuf)
{
    struct poller_options o = {.proc_root = f->proc,
                               .cgroup_root = f->cg,
                               .young_ms = 1000,
                               .rescan_ms = 2000,
                               .oom_match_ms = 1000,
                               .no_timer = true,
                               .start_ms = 1000000,
                               .feed = feed,
                               .feed_rcvbuf = rcvbuf};
    struct poller *p = NULL;
    return poller_new(&o, &p) == 0 ? p : NULL;
}

static struct poller *fx_poller(struct fx *f)
{
    return fx_feed_poller(f, POLLER_FEED_NONE, 0);
}

static void feed(struct poller *p, enum pconn_kind kind, int pid, int tgid)
{
    struct pconn_event ev = {kind, pid, tgid, 0, 0};
    poller_feed(p, &ev);
}

/* t is ms since the poller's baseline (start_ms) */
static int scan_at(struct poller *p, struct fx *f, uint64_t t)
{
    f->n = 0;
    return poller_scan(p, 1000000 + t, record, f);
}

TEST(baseline_is_silent_then_new_processes_are_execs)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podA", 1000, 0), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    CHECK_EQ(poller_fd(p), -1);
    CHECK_EQ(scan_at(p, &f, 10), 0); /* what existed at start is not news */
    CHECK_EQ(mkproc(&f, 200, "java", 'S', 100, 900, 300, 1, "podA"), 0);
    CHECK_EQ(mkproc(&f, 300, "kworker/0:1", 'I', 2, 901, 0, 1, ""), 0); /* kernel thread */
    CHECK_EQ(scan_at(p, &f, 50), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_EQ(f.ev[0].pid, 200);
    CHECK_EQ(f.ev[0].tgid, 200);
    CHECK_EQ(f.ev[0].ppid, 100);
    CHECK_STREQ(f.ev[0].comm, "java");
    CHECK_EQ(f.ev[0].cgroup_id, cg_id(&f, "podA"));
    CHECK(f.ev[0].ts_ns > 0);
    /* fork then execve: the comm changes while the pid is young */
    CHECK_EQ(mkproc(&f, 200, "jsvc", 'S', 100, 900, 300, 1, "podA"), 0);
    CHECK_EQ(scan_at(p, &f, 100), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_STREQ(f.ev[0].comm, "jsvc");
    rmproc(&f, 200);
    rmproc(&f, 300);
    CHECK_EQ(scan_at(p, &f, 150), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXIT);
    CHECK_EQ(f.ev[0].pid, 200);
    CHECK_EQ(f.ev[0].flags, FS_EVF_NO_EXIT_STATUS);
    CHECK_EQ(f.ev[0].exit_code, -1);
    CHECK_EQ(f.ev[0].exit_signal, -1);
    CHECK_STREQ(f.ev[0].comm, "jsvc");
    struct poller_counts c;
    poller_counts(p, &c);
    CHECK_EQ(c.procs, 3);
    CHECK_EQ(c.scans, 4);
    poller_free(p);
    fx_done(&f);
}

TEST(old_processes_are_rechecked_only_at_rescan)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    /* sh (old) execs java: invisible until the rescan 2 s after the baseline */
    CHECK_EQ(mkproc(&f, 100, "java", 'S', 1, 500, 200, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 500), 0);
    CHECK_EQ(scan_at(p, &f, 2100), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_STREQ(f.ev[0].comm, "java");
    /* pid 100 reused by another process between two rescans */
    CHECK_EQ(mkproc(&f, 100, "python3", 'S', 1, 777, 50, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 4200), 2);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXIT);
    CHECK_STREQ(f.ev[0].comm, "java");
    CHECK_EQ(f.ev[1].kind, FS_EV_EXEC);
    CHECK_STREQ(f.ev[1].comm, "python3");
    poller_free(p);
    fx_done(&f);
}

TEST(zombie_leader_with_live_threads_is_not_an_exit)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    CHECK_EQ(mkproc(&f, 400, "app", 'S', 100, 950, 10, 3, ""), 0);
    CHECK_EQ(scan_at(p, &f, 50), 1);
    /* the leader called pthread_exit(): Z in stat, but 3 threads remain */
    CHECK_EQ(mkproc(&f, 400, "app", 'Z', 100, 950, 10, 3, ""), 0);
    CHECK_EQ(scan_at(p, &f, 100), 0);
    /* the last thread is gone: a zombie waiting for its parent */
    CHECK_EQ(mkproc(&f, 400, "app", 'Z', 100, 950, 0, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 150), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXIT);
    rmproc(&f, 400); /* reaped: already reported */
    CHECK_EQ(scan_at(p, &f, 200), 0);
    poller_free(p);
    fx_done(&f);
}

TEST(oom_victim_is_the_largest_exit_of_the_cgroup_or_pid_0)
{
    struct fx f;
    char dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podB", 1000, 5), 0); /* 5 kills before we watch */
    CHECK_EQ(mkproc(&f, 500, "java", 'S', 100, 600, 9000, 1, "podB"), 0);
    CHECK_EQ(mkproc(&f, 501, "sidecar", 'S', 100, 601, 300, 1, "podB"), 0);
    CHECK_EQ(mkproc(&f, 502, "other", 'S', 100, 602, 99999, 1, ""), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    uint64_t id = cg_id(&f, "podB");
    CHECK_EQ(poller_watch_cgroup(p, id, cg_dir(&f, "podB", dir, sizeof(dir))), 0);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    /* one kill; java, the sidecar and a process elsewhere exit in the same period */
    CHECK_EQ(mkcg(&f, "podB", 1000, 6), 0);
    rmproc(&f, 500);
    rmproc(&f, 501);
    rmproc(&f, 502);
    CHECK_EQ(scan_at(p, &f, 100), 4);
    CHECK_EQ(f.ev[3].kind, FS_EV_OOM);
    CHECK_EQ(f.ev[3].pid, 500);
    CHECK_EQ(f.ev[3].cgroup_id, id);
    CHECK_EQ(f.ev[3].flags, FS_EVF_PID_GUESSED);
    CHECK_STREQ(f.ev[3].comm, "java");
    /* a kill whose victim never shows up: pid 0 once oom_match_ms has passed */
    CHECK_EQ(mkcg(&f, "podB", 1000, 7), 0);
    CHECK_EQ(scan_at(p, &f, 150), 0);
    CHECK_EQ(scan_at(p, &f, 1100), 0);
    CHECK_EQ(scan_at(p, &f, 1160), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_OOM);
    CHECK_EQ(f.ev[0].pid, 0);
    CHECK_EQ(f.ev[0].cgroup_id, id);
    CHECK_EQ(f.ev[0].flags, 0);
    /* not watched: no OOM records */
    CHECK_EQ(poller_unwatch_cgroup(p, id), 0);
    CHECK_EQ(mkcg(&f, "podB", 1000, 8), 0);
    CHECK_EQ(scan_at(p, &f, 2300), 0);
    CHECK_EQ(poller_unwatch_cgroup(p, id), -ENOENT);
    poller_free(p);
    fx_done(&f);
}

/* The victim is chosen by the largest RSS seen: in a watched cgroup it is
 * read every period, not only while a process is young, so a JVM that grew
 * after its start wins over its small, older init, even when the OOM
 * reaper has emptied it by the last reading before its exit. */
TEST(oom_victim_is_judged_by_a_fresh_rss_in_a_watched_cgroup)
{
    struct fx f;
    char dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podC", 1000, 0), 0);
    CHECK_EQ(put_limit(&f, "podC", 2000), 0); /* at half its limit */
    CHECK_EQ(mkproc(&f, 600, "init", 'S', 100, 610, 300, 1, "podC"), 0);
    CHECK_EQ(mkproc(&f, 601, "java", 'S', 600, 611, 100, 1, "podC"), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    uint64_t id = cg_id(&f, "podC");
    CHECK_EQ(poller_watch_cgroup(p, id, cg_dir(&f, "podC", dir, sizeof(dir))), 0);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    CHECK_EQ(mkproc(&f, 601, "java", 'S', 600, 611, 50000, 1, "podC"), 0); /* grows */
    CHECK_EQ(scan_at(p, &f, 100), 0);
    CHECK_EQ(mkcg(&f, "podC", 1000, 1), 0); /* killed: the OOM reaper empties it first */
    CHECK_EQ(mkproc(&f, 601, "java", 'R', 600, 611, 0, 1, "podC"), 0);
    CHECK_EQ(scan_at(p, &f, 120), 0);
    rmproc(&f, 601); /* then it exits, and its init follows it out */
    rmproc(&f, 600);
    CHECK_EQ(scan_at(p, &f, 150), 3);
    CHECK_EQ(f.ev[2].kind, FS_EV_OOM);
    CHECK_EQ(f.ev[2].pid, 601);
    CHECK_STREQ(f.ev[2].comm, "java");
    poller_free(p);
    fx_done(&f);
}

/* pid 600 "java" at 50 pages with a watermark at 100 pages (re-armed
 * under 80), or NULL */
static struct poller *marked_java(struct fx *f)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    struct poller *p = mkproc(f, 600, "java", 'S', 100, 700, 50, 1, "") == 0 ? fx_poller(f) : NULL;
    if (p && poller_set_proc_mark(p, 600, 100 * page, 80 * page) < 0) {
        poller_free(p);
        p = NULL;
    }
    return p;
}

/* A watched cgroup far from its limit (a host's root holds every process)
 * costs no re-read of its old processes each period: like any other, they
 * are re-read at the rescan. */
TEST(old_processes_of_a_watched_cgroup_far_from_its_limit_wait_for_the_rescan)
{
    struct fx f;
    char dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podD", 1000, 0), 0);
    CHECK_EQ(put_limit(&f, "podD", 1 << 20), 0);
    CHECK_EQ(mkproc(&f, 700, "sh", 'S', 1, 710, 100, 1, "podD"), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    CHECK_EQ(poller_watch_cgroup(p, cg_id(&f, "podD"), cg_dir(&f, "podD", dir, sizeof(dir))), 0);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    CHECK_EQ(mkproc(&f, 700, "java", 'S', 1, 710, 100, 1, "podD"), 0); /* an exec */
    CHECK_EQ(scan_at(p, &f, 100), 0);
    CHECK_EQ(scan_at(p, &f, 2100), 1);
    CHECK_STREQ(f.ev[0].comm, "java");
    /* near its limit, the same cgroup's processes are read every period */
    CHECK_EQ(mkcg(&f, "podD", 600 << 10, 0), 0);
    CHECK_EQ(scan_at(p, &f, 2150), 0);
    CHECK_EQ(mkproc(&f, 700, "jshell", 'S', 1, 710, 100, 1, "podD"), 0);
    CHECK_EQ(scan_at(p, &f, 2200), 1);
    CHECK_STREQ(f.ev[0].comm, "jshell");
    poller_free(p);
    fx_done(&f);
}

TEST(process_watermark_fires_once_per_upward_crossing)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    long page = sysconf(_SC_PAGESIZE);
    struct poller *p = marked_java(&f);
    CHECK(p != NULL);
    CHECK_EQ(poller_set_proc_mark(p, 600, 100, 101), -EINVAL);
    static const unsigned long long rss[] = {50, 120, 110, 70, 130, 90, 140, 60, 100};
    static const int fires[] = {0, 1, 0, 0, 1, 0, 0, 0, 1};
    for (size_t i = 0; i < sizeof(rss) / sizeof(rss[0]); i++) {
        CHECK_EQ(mkproc(&f, 600, "java", 'S', 100, 700, rss[i], 1, ""), 0);
        CHECK_MSG(scan_at(p, &f, 50 * (i + 1)) == fires[i], "step %zu rss %llu: %d records", i,
                  rss[i], f.n);
        if (fires[i]) {
            CHECK_EQ(f.ev[0].kind, FS_EV_WATERMARK_PROC);
            CHECK_EQ(f.ev[0].pid, 600);
            CHECK_EQ(f.ev[0].value_bytes, rss[i] * (uint64_t)page);
            CHECK_EQ(f.ev[0].watermark_bytes, 100 * (uint64_t)page);
            CHECK_STREQ(f.ev[0].comm, "java");
        }
    }
    CHECK_EQ(poller_clear_proc_mark(p, 600), 0);
    CHECK_EQ(poller_clear_proc_mark(p, 600), -ENOENT);
    poller_free(p);
    fx_done(&f);
}

/* The crossing comes first in its scan: the consumer judges each new
 * process (its command line, its cgroup) as its exec arrives, and an
 * emergency must not wait behind a burst of them. */
TEST(process_watermark_comes_before_the_scans_new_processes)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    struct poller *p = marked_java(&f);
    CHECK(p != NULL);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    CHECK_EQ(mkproc(&f, 601, "sh", 'S', 100, 710, 10, 1, ""), 0);
    CHECK_EQ(mkproc(&f, 602, "sh", 'S', 100, 711, 10, 1, ""), 0);
    CHECK_EQ(mkproc(&f, 600, "java", 'S', 100, 700, 120, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 100), 3);
    CHECK_EQ(f.ev[0].kind, FS_EV_WATERMARK_PROC);
    CHECK_EQ(f.ev[0].pid, 600);
    CHECK_STREQ(f.ev[0].comm, "java");
    CHECK_EQ(f.ev[1].kind, FS_EV_EXEC);
    CHECK_EQ(f.ev[2].kind, FS_EV_EXEC);
    poller_free(p);
    fx_done(&f);
}

/* A mark set on a process the table does not hold yet (it was exec'd since
 * the last listing) is judged after the listing that names it: checked
 * first, its record went out without a comm, and a consumer filtering on
 * it lost the crossing (10_events_poller, a JVM climbing right after its
 * start). */
TEST(process_watermark_of_a_process_not_yet_listed_carries_its_name)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    CHECK_EQ(poller_set_proc_mark(p, 600, 100 * page, 80 * page), 0);
    CHECK_EQ(mkproc(&f, 600, "java", 'S', 100, 700, 120, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 100), 2);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_EQ(f.ev[1].kind, FS_EV_WATERMARK_PROC);
    CHECK_EQ(f.ev[1].pid, 600);
    CHECK_EQ(f.ev[1].ppid, 100);
    CHECK_STREQ(f.ev[1].comm, "java");
    CHECK_EQ(f.ev[1].value_bytes, 120 * page);
    poller_free(p);
    fx_done(&f);
}

TEST(cgroup_watermark_needs_a_watch_and_fires_once_per_crossing)
{
    struct fx f;
    char dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podC", 10 << 20, 0), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    uint64_t id = cg_id(&f, "podC");
    CHECK_EQ(poller_set_cgroup_mark(p, id, 64 << 20, 48 << 20), -ENOENT);
    CHECK_EQ(poller_watch_cgroup(p, 12345, f.proc), -ENOENT); /* not a memory cgroup */
    CHECK_EQ(poller_watch_cgroup(p, id, cg_dir(&f, "podC", dir, sizeof(dir))), 0);
    CHECK_EQ(poller_set_cgroup_mark(p, id, 64 << 20, 48 << 20), 0);
    static const int usage_mib[] = {10, 70, 60, 50, 65, 40, 64, 63};
    static const int fires[] = {0, 1, 0, 0, 0, 0, 1, 0};
    for (size_t i = 0; i < sizeof(usage_mib) / sizeof(usage_mib[0]); i++) {
        CHECK_EQ(mkcg(&f, "podC", (unsigned long long)usage_mib[i] << 20, 0), 0);
        CHECK_MSG(scan_at(p, &f, 50 * (i + 1)) == fires[i], "step %zu usage %d MiB: %d records", i,
                  usage_mib[i], f.n);
        if (fires[i]) {
            CHECK_EQ(f.ev[0].kind, FS_EV_WATERMARK_CGROUP);
            CHECK_EQ(f.ev[0].cgroup_id, id);
            CHECK_EQ(f.ev[0].pid, 0);
            CHECK_EQ(f.ev[0].value_bytes, (uint64_t)usage_mib[i] << 20);
        }
    }
    CHECK_EQ(poller_clear_cgroup_mark(p, id), 0);
    CHECK_EQ(poller_clear_cgroup_mark(p, id), -ENOENT);
    poller_free(p);
    fx_done(&f);
}

/* the rule of bpf/steps.h, as both sources apply it */
TEST(step_rule_reports_each_boundary_once_and_follows_a_fall)
{
    /* from 32, step 8 */
    CHECK_EQ(fs_step_above(32, 8, 10), 32);
    CHECK_EQ(fs_step_above(32, 8, 32), 40);
    CHECK_EQ(fs_step_above(32, 8, 47), 48);
    CHECK_EQ(fs_step_next(32, 8, 32, 31), 32); /* below the first boundary */
    CHECK_EQ(fs_step_next(32, 8, 32, 33), 40); /* reached: the next is above */
    CHECK_EQ(fs_step_next(32, 8, 40, 61), 64); /* a jump over three is one move */
    CHECK_EQ(fs_step_next(32, 8, 64, 49), 64); /* fell less than two steps */
    CHECK_EQ(fs_step_next(32, 8, 64, 48), 56); /* two steps: follows it down */
    CHECK_EQ(fs_step_next(32, 8, 64, 3), 32);
}

/* usage MiB against a ladder from 32 MiB in 8 MiB steps, and a watermark
 * at 58 MiB on the same cgroup: each record is its own */
TEST(cgroup_ladder_reports_steps_beside_the_watermark)
{
    struct fx f;
    char dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podL", 10 << 20, 0), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    uint64_t id = cg_id(&f, "podL");
    CHECK_EQ(poller_set_cgroup_steps(p, id, 32 << 20, 8 << 20), -ENOENT); /* not watched */
    CHECK_EQ(poller_watch_cgroup(p, id, cg_dir(&f, "podL", dir, sizeof(dir))), 0);
    CHECK_EQ(poller_set_cgroup_steps(p, id, 32 << 20, 8 << 20), 0);
    CHECK_EQ(poller_set_cgroup_mark(p, id, 58 << 20, 50 << 20), 0);
    static const int usage_mib[] = {10, 33, 39, 41, 60, 63, 50, 47, 49};
    static const int boundary[] = {0, 32, 0, 40, 48, 0, 0, 0, 48}; /* 0: no step */
    for (size_t i = 0; i < sizeof(usage_mib) / sizeof(usage_mib[0]); i++) {
        CHECK_EQ(mkcg(&f, "podL", (unsigned long long)usage_mib[i] << 20, 0), 0);
        int n = scan_at(p, &f, 50 * (i + 1));
        int want = (boundary[i] != 0) + (usage_mib[i] == 60);
        CHECK_MSG(n == want, "usage %d MiB: %d records, want %d", usage_mib[i], n, want);
        if (!boundary[i])
            continue;
        const struct fs_event *ev = &f.ev[n - 1];
        CHECK_EQ(ev->kind, FS_EV_STEP_CGROUP);
        CHECK_EQ(ev->cgroup_id, id);
        CHECK_EQ(ev->value_bytes, (uint64_t)usage_mib[i] << 20);
        CHECK_EQ(ev->watermark_bytes, (uint64_t)boundary[i] << 20);
        CHECK(ev->ts_ns > 0);
        if (n == 2)
            CHECK_EQ(f.ev[0].kind, FS_EV_WATERMARK_CGROUP);
    }
    /* the watermark goes, the ladder stays; then the ladder goes */
    CHECK_EQ(poller_clear_cgroup_mark(p, id), 0);
    CHECK_EQ(mkcg(&f, "podL", 57 << 20, 0), 0);
    CHECK_EQ(scan_at(p, &f, 1000), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_STEP_CGROUP);
    CHECK_EQ(poller_set_cgroup_steps(p, id, 0, 0), 0);
    CHECK_EQ(poller_set_cgroup_steps(p, id, 0, 0), -ENOENT);
    CHECK_EQ(mkcg(&f, "podL", 90 << 20, 0), 0);
    CHECK_EQ(scan_at(p, &f, 1050), 0);
    poller_free(p);
    fx_done(&f);
}

TEST(process_ladder_and_watermark_are_set_and_cleared_apart)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    CHECK_EQ(mkproc(&f, 600, "java", 'S', 100, 700, 50, 1, ""), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    CHECK_EQ(poller_set_proc_steps(p, 0, 1, 1), -EINVAL);
    CHECK_EQ(poller_set_proc_steps(p, 600, 0, 0), -ENOENT);
    CHECK_EQ(poller_set_proc_steps(p, 600, 64 * page, 32 * page), 0);
    CHECK_EQ(poller_set_proc_mark(p, 600, 1000 * page, 900 * page), 0);
    CHECK_EQ(poller_clear_proc_mark(p, 600), 0); /* the ladder stays */
    CHECK_EQ(poller_clear_proc_mark(p, 600), -ENOENT);
    static const unsigned long long rss[] = {50, 70, 90, 140, 60, 100};
    static const unsigned long long boundary[] = {0, 64, 0, 96, 0, 64};
    for (size_t i = 0; i < sizeof(rss) / sizeof(rss[0]); i++) {
        CHECK_EQ(mkproc(&f, 600, "java", 'S', 100, 700, rss[i], 1, ""), 0);
        int n = scan_at(p, &f, 50 * (i + 1));
        CHECK_MSG(n == (boundary[i] != 0), "rss %llu pages: %d records", rss[i], n);
        if (!n)
            continue;
        CHECK_EQ(f.ev[0].kind, FS_EV_STEP_PROC);
        CHECK_EQ(f.ev[0].pid, 600);
        CHECK_STREQ(f.ev[0].comm, "java");
        CHECK_EQ(f.ev[0].value_bytes, rss[i] * page);
        CHECK_EQ(f.ev[0].watermark_bytes, boundary[i] * page);
    }
    CHECK_EQ(poller_set_proc_steps(p, 600, 0, 0), 0);
    CHECK_EQ(poller_set_proc_steps(p, 600, 0, 0), -ENOENT);
    poller_free(p);
    fx_done(&f);
}

TEST(proc_is_listed_only_when_loadavg_says_tasks_changed)
{
    struct fx f;
    char path[PATH_MAX + 16];
    CHECK_EQ(fx_init(&f), 0);
    snprintf(path, sizeof(path), "%s/loadavg", f.proc);
    CHECK_EQ(put(path, "0.10 0.20 0.30 1/180 5000\n"), 0);
    struct poller *p = fx_poller(&f);
    CHECK(p != NULL);
    struct poller_counts c0, c1;
    poller_counts(p, &c0);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    poller_counts(p, &c1);
    CHECK_EQ(c1.listings, c0.listings); /* same tasks, same last pid: no listing */
    CHECK_EQ(mkproc(&f, 5001, "java", 'S', 100, 990, 10, 1, ""), 0);
    CHECK_EQ(put(path, "0.10 0.20 0.30 2/181 5001\n"), 0);
    CHECK_EQ(scan_at(p, &f, 100), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_EQ(f.ev[0].pid, 5001);
    poller_counts(p, &c1);
    CHECK_EQ(c1.listings, c0.listings + 1);
    /* a young process's exec is still seen without a listing */
    CHECK_EQ(mkproc(&f, 5001, "jsvc", 'S', 100, 990, 10, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 150), 1);
    CHECK_STREQ(f.ev[0].comm, "jsvc");
    /* and the rescan lists regardless */
    CHECK_EQ(scan_at(p, &f, 2100), 0);
    poller_counts(p, &c0);
    CHECK_EQ(c0.listings, c1.listings + 1);
    poller_free(p);
    fx_done(&f);
}

/* ---- the events module over the poller --------------------------------------- */

static int consume_for(struct events_source *s, struct fx *f, int ms)
{
    f->n = 0;
    for (int waited = 0; waited < ms; waited += 10) {
        struct pollfd pfd = {.fd = events_fd(s), .events = POLLIN};
        poll(&pfd, 1, 10);
        if (events_consume(s, record, f) < 0)
            return -1;
    }
    return f->n;
}

TEST(events_off_runs_the_poller_and_clears_marks_of_exited_processes)
{
    struct fx f;
    char err[256] = "", dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podD", 1 << 20, 0), 0);
    CHECK_EQ(mkproc(&f, 700, "java", 'S', 100, 800, 10, 1, "podD"), 0);
    struct events_options o = {
        .mode = FS_BPF_OFF, .proc_root = f.proc, .cgroup_root = f.cg, .poll_period_ms = 10};
    struct events_source *s = NULL;
    CHECK_EQ(events_open(&o, &s, err, sizeof(err)), 0);
    CHECK_STREQ(events_name(s), "poller");
    CHECK_CONTAINS(events_detail(s), "FLAMESHOT_BPF=off");
    CHECK(events_fd(s) >= 0);
    uint64_t id = cg_id(&f, "podD");
    CHECK_EQ(events_set_cgroup_watermark(s, id, 2 << 20, 0), -ENOENT); /* not watched */
    CHECK_EQ(events_watch_cgroup(s, id, cg_dir(&f, "podD", dir, sizeof(dir))), 0);
    CHECK_EQ(events_set_cgroup_watermark(s, id, 2 << 20, 3 << 20), -EINVAL);
    CHECK_EQ(events_set_cgroup_watermark(s, id, 2 << 20, 1 << 20), 0);
    CHECK_EQ(events_set_proc_watermark(s, 700, 1 << 30, 1 << 20), 0);
    CHECK_EQ(events_set_proc_steps(s, 700, 1 << 30, 1 << 20), 0);
    CHECK_EQ(events_set_proc_steps(s, -1, 1 << 30, 1 << 20), -EINVAL);
    CHECK_EQ(events_set_cgroup_steps(s, id + 1, 1 << 30, 1 << 20), -ENOENT); /* not watched */
    CHECK_EQ(events_set_cgroup_steps(s, id, 1 << 30, 1 << 20), 0);
    rmproc(&f, 700);
    CHECK(consume_for(s, &f, 100) >= 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXIT);
    CHECK_EQ(events_clear_proc_watermark(s, 700), -ENOENT); /* cleared by the exit */
    CHECK_EQ(events_set_proc_steps(s, 700, 0, 0), -ENOENT);
    CHECK_EQ(events_unwatch_cgroup(s, id), 0);
    CHECK_EQ(events_clear_cgroup_watermark(s, id), -ENOENT); /* cleared by unwatch */
    CHECK_EQ(events_set_cgroup_steps(s, id, 0, 0), -ENOENT);
    struct events_stats st;
    events_stats(s, &st);
    CHECK(st.events >= 1);
    CHECK_EQ(st.lost, 0);
    CHECK_EQ(st.ringbuf_full, 0);
    CHECK_STREQ(events_kind_name(FS_EV_WATERMARK_CGROUP), "watermark_cgroup");
    CHECK_STREQ(events_kind_name(FS_EV_STEP_CGROUP), "step_cgroup");
    CHECK_STREQ(events_kind_name(FS_EV_STEP_PROC), "step_proc");
    events_close(s);
    fx_done(&f);
}

/* With a feed, only what it names is read: no listing, no re-reading of
 * every process at the rescan; the slow resync listing still finds what a
 * feed could have missed. */
TEST(with_a_feed_only_the_processes_it_names_are_read)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    struct poller *p = fx_feed_poller(&f, POLLER_FEED_MANUAL, 0);
    CHECK(p != NULL);
    CHECK(poller_feed_why(p) == NULL);
    CHECK_EQ(scan_at(p, &f, 10), 0);
    CHECK_EQ(mkproc(&f, 200, "java", 'S', 100, 900, 300, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 50), 0); /* nothing said: not listed */
    feed(p, PCONN_FORK, 200, 200);
    feed(p, PCONN_FORK, 201, 200); /* a thread */
    CHECK_EQ(scan_at(p, &f, 100), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_EQ(f.ev[0].pid, 200);
    /* an old process's exec in place: not read at the rescan, read when said */
    CHECK_EQ(mkproc(&f, 100, "jsvc", 'S', 1, 500, 200, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 2100), 0);
    feed(p, PCONN_EXEC, 100, 100);
    CHECK_EQ(scan_at(p, &f, 2150), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_STREQ(f.ev[0].comm, "jsvc");
    /* an exit said, and one a zombie leader's last thread tells */
    rmproc(&f, 200);
    feed(p, PCONN_EXIT, 200, 200);
    CHECK_EQ(scan_at(p, &f, 2200), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXIT);
    CHECK_EQ(f.ev[0].pid, 200);
    CHECK_EQ(mkproc(&f, 100, "jsvc", 'Z', 1, 500, 200, 1, ""), 0);
    feed(p, PCONN_EXIT, 105, 100);
    CHECK_EQ(scan_at(p, &f, 2250), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXIT);
    CHECK_EQ(f.ev[0].pid, 100);
    /* an exec of a process whose fork the feed did not give */
    CHECK_EQ(mkproc(&f, 400, "java", 'S', 1, 960, 10, 1, ""), 0);
    feed(p, PCONN_EXEC, 400, 400);
    CHECK_EQ(scan_at(p, &f, 2300), 1);
    CHECK_EQ(f.ev[0].kind, FS_EV_EXEC);
    CHECK_EQ(f.ev[0].pid, 400);
    /* unsaid: found by the resync listing, 30 s after the last */
    CHECK_EQ(mkproc(&f, 300, "late", 'S', 1, 950, 10, 1, ""), 0);
    CHECK_EQ(scan_at(p, &f, 29000), 0);
    CHECK_EQ(scan_at(p, &f, 30000), 1);
    CHECK_STREQ(f.ev[0].comm, "late");
    struct poller_counts c;
    poller_counts(p, &c);
    CHECK(c.feed);
    CHECK_EQ(c.feed_events, 6);
    CHECK_EQ(c.listings, 2); /* the baseline and the resync */
    poller_free(p);
    fx_done(&f);
}

/* A watched cgroup with a limit keeps the rescan's fresh RSS (an OOM
 * victim is guessed by it) with a feed too. */
TEST(with_a_feed_the_rescan_reads_processes_of_limited_watched_cgroups)
{
    struct fx f;
    char dir[PATH_MAX + 32];
    CHECK_EQ(fx_init(&f), 0);
    CHECK_EQ(mkcg(&f, "podE", 1000, 0), 0);
    CHECK_EQ(put_limit(&f, "podE", 1 << 30), 0);
    CHECK_EQ(mkproc(&f, 700, "java", 'S', 1, 710, 100, 1, "podE"), 0);
    CHECK_EQ(mkproc(&f, 701, "side", 'S', 1, 711, 100, 1, "podE"), 0);
    struct poller *p = fx_feed_poller(&f, POLLER_FEED_MANUAL, 0);
    CHECK(p != NULL);
    CHECK_EQ(poller_watch_cgroup(p, cg_id(&f, "podE"), cg_dir(&f, "podE", dir, sizeof(dir))), 0);
    CHECK_EQ(scan_at(p, &f, 50), 0);
    CHECK_EQ(mkproc(&f, 700, "java", 'S', 1, 710, 5000, 1, "podE"), 0); /* grew */
    CHECK_EQ(scan_at(p, &f, 2100), 0);                                  /* rescan: read */
    rmproc(&f, 700);
    rmproc(&f, 701);
    CHECK_EQ(mkcg(&f, "podE", 1000, 1), 0); /* one OOM kill */
    feed(p, PCONN_EXIT, 700, 700);
    feed(p, PCONN_EXIT, 701, 701);
    CHECK_EQ(scan_at(p, &f, 2150), 3);
    CHECK_EQ(f.ev[2].kind, FS_EV_OOM);
    CHECK_EQ(f.ev[2].pid, 700);
    CHECK_EQ(f.ev[2].flags, FS_EVF_PID_GUESSED);
    poller_free(p);
    fx_done(&f);
}

/* The kernel's feed on a tree that is not this process's /proc is refused
 * (its PIDs would name other processes); on the real /proc, with a socket
 * buffer too small for a burst, the loss makes the next scan list /proc and
 * re-read everything. */
TEST(a_kernel_feed_needs_its_own_proc_and_a_loss_lists_and_rereads_all)
{
    struct fx f;
    CHECK_EQ(fx_init(&f), 0);
    struct poller *p = fx_feed_poller(&f, POLLER_FEED_KERNEL, 0);
    CHECK(p != NULL);
    CHECK_CONTAINS(poller_feed_why(p), "is not this PID namespace's /proc");
    poller_free(p);
    fx_done(&f);
    NEED(getuid() == 0, "needs root (CAP_NET_ADMIN) for the process connector");
    struct poller_options o = {.no_timer = true, .feed = POLLER_FEED_KERNEL, .feed_rcvbuf = 1};
    CHECK_EQ(poller_new(&o, &p), 0);
    CHECK_MSG(poller_feed_why(p) == NULL, "%s", poller_feed_why(p));
    struct fx g = {0};
    CHECK(poller_scan(p, units_now_mono_ms(), record, &g) >= 0);
    struct poller_counts c0, c1;
    poller_counts(p, &c0);
    for (int i = 0; i < 64; i++) {
        pid_t k = fork();
        CHECK(k >= 0);
        if (k == 0)
            _exit(0);
        CHECK_EQ(waitpid(k, NULL, 0), k);
    }
    CHECK(poller_scan(p, units_now_mono_ms(), record, &g) >= 0);
    poller_counts(p, &c1);
    CHECK(c1.feed_overflows > c0.feed_overflows);
    CHECK_EQ(c1.listings, c0.listings + 1);
    poller_free(p);
}

/* Polls and consumes until a scan after `after` wakeups finds the timer
 * periodic (or not, as `periodic` says); false after 10 s. Whatever else
 * on the machine changes may wake the poller in between. */
static bool consume_until(struct poller *p, struct fx *g, struct poller_counts *c, bool periodic,
                          uint64_t after)
{
    uint64_t until = units_now_mono_ms() + 10000;
    while (units_now_mono_ms() < until) {
        struct pollfd pfd = {.fd = poller_fd(p), .events = POLLIN};
        if (poll(&pfd, 1, 200) == 1 && poller_consume(p, record, g) < 0)
            return false;
        g->n = 0;
        poller_counts(p, c);
        if (c->wakeups > after && c->periodic == periodic)
            return true;
    }
    return false;
}

/* With the kernel's feed and nothing watched at the period's resolution,
 * the timer sleeps until the rescan (10 minutes here): a child's exec is
 * reported all the same, woken by the feed. A watermark puts the timer
 * back on the period at once; once cleared, the next scan lets it sleep. */
TEST(a_kernel_fed_poller_sleeps_until_a_change_or_a_watermark)
{
    NEED(getuid() == 0, "needs root for the process connector");
    struct poller_options o = {
        .feed = POLLER_FEED_KERNEL, .rescan_ms = 600000, .resync_ms = 600000};
    struct poller *p = NULL;
    struct poller_counts c;
    CHECK_EQ(poller_new(&o, &p), 0);
    CHECK_MSG(poller_feed_why(p) == NULL, "%s", poller_feed_why(p));
    poller_counts(p, &c);
    CHECK(!c.periodic);
    pid_t k = fork();
    CHECK(k >= 0);
    if (k == 0) {
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    struct fx g = {0};
    bool seen = false;
    uint64_t until = units_now_mono_ms() + 20000;
    while (!seen && units_now_mono_ms() < until) {
        struct pollfd pfd = {.fd = poller_fd(p), .events = POLLIN};
        if (poll(&pfd, 1, 500) == 1)
            CHECK(poller_consume(p, record, &g) >= 0);
        for (int i = 0; i < g.n; i++)
            seen |= g.ev[i].kind == FS_EV_EXEC && g.ev[i].tgid == k &&
                    strcmp(g.ev[i].comm, "sleep") == 0;
        g.n = 0;
    }
    CHECK_MSG(seen, "the exec of pid %d was not reported", (int)k);
    poller_counts(p, &c);
    CHECK(c.wakeups >= 1 && !c.periodic);
    CHECK_EQ(poller_set_proc_mark(p, k, 1ull << 40, 1ull << 39), 0);
    poller_counts(p, &c);
    CHECK(c.periodic);
    /* a scan within seconds: the period's (on the period, other processes'
     * changes wake no scan), not the 10-minute rescan */
    uint64_t before = c.wakeups;
    CHECK(consume_until(p, &g, &c, true, before));
    CHECK_EQ(poller_clear_proc_mark(p, k), 0);
    /* the next scan lets it sleep */
    CHECK(consume_until(p, &g, &c, false, c.wakeups));
    CHECK(!c.periodic);
    kill(k, SIGKILL);
    CHECK_EQ(waitpid(k, NULL, 0), k);
    poller_free(p);
}

TEST_MAIN(baseline_is_silent_then_new_processes_are_execs,
          old_processes_are_rechecked_only_at_rescan,
          zombie_leader_with_live_threads_is_not_an_exit,
          oom_victim_is_the_largest_exit_of_the_cgroup_or_pid_0,
          oom_victim_is_judged_by_a_fresh_rss_in_a_watched_cgroup,
          old_processes_of_a_watched_cgroup_far_from_its_limit_wait_for_the_rescan,
          process_watermark_fires_once_per_upward_crossing,
          process_watermark_comes_before_the_scans_new_processes,
          process_watermark_of_a_process_not_yet_listed_carries_its_name,
          cgroup_watermark_needs_a_watch_and_fires_once_per_crossing,
          step_rule_reports_each_boundary_once_and_follows_a_fall,
          cgroup_ladder_reports_steps_beside_the_watermark,
          process_ladder_and_watermark_are_set_and_cleared_apart,
          proc_is_listed_only_when_loadavg_says_tasks_changed,
          with_a_feed_only_the_processes_it_names_are_read,
          with_a_feed_the_rescan_reads_processes_of_limited_watched_cgroups,
          a_kernel_feed_needs_its_own_proc_and_a_loss_lists_and_rereads_all,
          a_kernel_fed_poller_sleeps_until_a_change_or_a_watermark,
          events_off_runs_the_poller_and_clears_marks_of_exited_processes)
