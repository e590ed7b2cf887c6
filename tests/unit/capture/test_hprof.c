/* hprof: HeapDumpPath semantics, pinned directories, the match window,
 * symlinks never followed, each dump reported once across restarts. */
#include "harness.h"
#include "capture/hprof.h"
#include "capture/jvmopts.h"
#include "capture/nsexec.h"
#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* cmd: arguments separated by spaces; tool_options: JAVA_TOOL_OPTIONS or NULL */
static void parse_env(const char *cmd, const char *tool_options, struct hprof_spec *sp)
{
    char a[1024], e[512];
    size_t n = t_argv(cmd, a, sizeof(a));
    int el = tool_options ? snprintf(e, sizeof(e), "JAVA_TOOL_OPTIONS=%s", tool_options) + 1 : 0;
    struct jvmopts_input in = {.argv = a, .argv_len = n, .env = e, .env_len = (size_t)el};
    struct jvmopts o;
    jvmopts_parse(&in, &o);
    hprof_spec_from(&o, sp);
    jvmopts_free(&o);
}

static void parse(const char *cmd, struct hprof_spec *sp)
{
    parse_env(cmd, NULL, sp);
}

TEST(flags_last_one_wins_and_stop_at_main_class)
{
    struct hprof_spec sp;
    parse("java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -jar app.jar", &sp);
    CHECK(sp.on_oom && sp.has_path);
    CHECK_STREQ(sp.path, "/dumps");
    parse("java -XX:+HeapDumpOnOutOfMemoryError -XX:-HeapDumpOnOutOfMemoryError Main", &sp);
    CHECK(!sp.on_oom);
    parse("java -XX:HeapDumpPath=/a_b -XX:HeapDumpPath=/x/y.hprof "
          "-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpGzipLevel=1 Main",
          &sp);
    CHECK_STREQ(sp.path, "/x/y.hprof");
    CHECK(sp.gz);
    parse("java -XX:HeapDumpPath= -XX:HeapDumpGzipLevel=0 Main", &sp);
    CHECK(!sp.has_path && !sp.gz);
    /* an application argument that looks like the flag is not the JVM's */
    parse("java Main -XX:+HeapDumpOnOutOfMemoryError", &sp);
    CHECK(!sp.on_oom);
    /* issue 9: options continue after the value of -cp */
    parse("java -cp app.jar -XX:+HeapDumpOnOutOfMemoryError Main", &sp);
    CHECK(sp.on_oom);
    /* the environment counts, and the command line overrides it */
    parse_env("java -jar app.jar", "-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath='/d d'", &sp);
    CHECK(sp.on_oom);
    CHECK_STREQ(sp.path, "/d d");
    parse_env("java -XX:-HeapDumpOnOutOfMemoryError Main", "-XX:+HeapDumpOnOutOfMemoryError", &sp);
    CHECK(!sp.on_oom);
}

static char dir[64];

/* The test process itself stands for the JVM: its namespace, root, cwd and
 * uid; nspid is the pid the default dump name carries. */
static const struct proc_ident *self_as(int nspid)
{
    static struct proc_ident id;
    if (procfs_ident(NULL, getpid(), &id) < 0)
        id.pid = getpid();
    id.nspid = nspid;
    return &id;
}

/* A new directory, named by -XX:HeapDumpPath=<dir>, pinned for nspid. */
static bool pin_fresh_dir(int nspid, struct hprof_watch *w)
{
    snprintf(dir, sizeof(dir), "/tmp/hprof-test-XXXXXX");
    if (!mkdtemp(dir))
        return false;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=%s Main",
             dir);
    struct hprof_spec sp;
    parse(cmd, &sp);
    hprof_watch_open(NULL, self_as(nspid), 0, &sp, w);
    return w->state == HPROF_OK;
}

static void touch(const char *name, size_t size, int64_t age_s)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    if (size && ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return;
    }
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= age_s;
    tv[1] = tv[0];
    futimes(fd, tv);
    close(fd);
}

static void rmrf(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return;
}

TEST(file_mode_finds_newest_sequence_file_in_window)
{
    snprintf(dir, sizeof(dir), "/tmp/hprof-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=%s/app.hprof Main", dir);
    struct hprof_spec sp;
    parse(cmd, &sp);
    struct hprof_watch w;
    hprof_watch_open(NULL, self_as(getpid()), 0, &sp, &w);
    CHECK_EQ(w.state, HPROF_OK);
    CHECK(!w.dir_mode);
    CHECK_STREQ(w.base, "app.hprof");
    touch("app.hprof", 100, 600); /* 10 minutes old: outside a 2m window */
    touch("app.hprof.1", 2000, 5);
    touch("other.hprof", 9999, 1); /* not this JVM's name */
    struct hprof_found f;
    uint64_t now = units_now_real_ns();
    CHECK_EQ(hprof_find(&w, now, 120000000000ull, NULL, &f), 1);
    CHECK(strstr(f.path, "/app.hprof.1") != NULL);
    CHECK_EQ(f.size, 2000);
    CHECK_EQ(hprof_find(&w, now - 3600000000000ull, 120000000000ull, NULL, &f), 0);
    hprof_watch_close(&w);
    rmrf();
}

TEST(dir_mode_pins_the_directory_after_it_is_renamed)
{
    struct hprof_watch w;
    CHECK(pin_fresh_dir(4242, &w));
    CHECK(w.dir_mode);
    CHECK_STREQ(w.base, "java_pid4242.hprof");
    /* the path goes away (the volume's mount point vanishes with the
     * container): the pinned fd still reaches the directory */
    char moved[80];
    snprintf(moved, sizeof(moved), "%s.moved", dir);
    CHECK_EQ(rename(dir, moved), 0);
    char keep[64];
    snprintf(keep, sizeof(keep), "%s", dir);
    snprintf(dir, sizeof(dir), "%s", moved);
    touch("java_pid4242.hprof", 4096, 1);
    struct hprof_found f;
    CHECK_EQ(hprof_find(&w, units_now_real_ns(), 120000000000ull, NULL, &f), 1);
    CHECK_EQ(f.size, 4096);
    CHECK(strstr(f.path, keep) == f.path); /* named as the JVM saw it */
    hprof_watch_close(&w);
    rmrf();
}

TEST(symlinks_are_never_followed)
{
    snprintf(dir, sizeof(dir), "/tmp/hprof-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char link[128], cmd[256];
    snprintf(link, sizeof(link), "%s/java_pid7.hprof", dir);
    CHECK_EQ(symlink("/etc/shadow", link), 0);
    snprintf(cmd, sizeof(cmd), "java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=%s Main",
             dir);
    struct hprof_spec sp;
    parse(cmd, &sp);
    struct hprof_watch w;
    hprof_watch_open(NULL, self_as(7), 0, &sp, &w);
    struct hprof_found f;
    CHECK_EQ(hprof_find(&w, units_now_real_ns(), 3600000000000ull, NULL, &f), 0);
    hprof_watch_close(&w);
    /* a dump directory that is a link to a host directory is refused */
    char ldir[128];
    snprintf(ldir, sizeof(ldir), "%s/dumps", dir);
    CHECK_EQ(symlink("/etc", ldir), 0);
    snprintf(cmd, sizeof(cmd),
             "java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=%s/x.hprof Main", ldir);
    parse(cmd, &sp);
    hprof_watch_open(NULL, self_as(7), 0, &sp, &w);
    CHECK_EQ(w.state, HPROF_UNREACHABLE);
    CHECK_CONTAINS(w.detail, "symbolic link");
    rmrf();
}

TEST(not_enabled_and_unreachable_say_why)
{
    struct hprof_spec sp;
    struct hprof_watch w;
    parse("java -jar app.jar", &sp);
    hprof_watch_open(NULL, self_as(1), 0, &sp, &w);
    CHECK_EQ(w.state, HPROF_NOT_ENABLED);
    CHECK_CONTAINS(w.detail, "-XX:+HeapDumpOnOutOfMemoryError");
    /* options in an argfile not read: the detail says so */
    parse("java @/app/jvm.opts -jar app.jar", &sp);
    hprof_watch_open(NULL, self_as(1), 0, &sp, &w);
    CHECK_EQ(w.state, HPROF_NOT_ENABLED);
    CHECK_CONTAINS(w.detail, "options in /app/jvm.opts were not read");
    parse("java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/nonexistent/d/x.hprof Main", &sp);
    hprof_watch_open(NULL, self_as(1), 0, &sp, &w);
    CHECK_EQ(w.state, HPROF_UNREACHABLE);
    CHECK_CONTAINS(w.detail, "/nonexistent/d");
    CHECK_STREQ(hprof_why_name(HPROF_NO_FILE), "no_file_in_window");
}

TEST(seen_list_survives_a_restart_and_settling_is_required)
{
    snprintf(dir, sizeof(dir), "/tmp/hprof-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char seenp[128], cmd[256];
    snprintf(seenp, sizeof(seenp), "%s/seen.jsonl", dir);
    snprintf(cmd, sizeof(cmd), "java -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=%s Main",
             dir);
    struct hprof_spec sp;
    parse(cmd, &sp);
    struct hprof_watch w;
    hprof_watch_open(NULL, self_as(9), 0, &sp, &w);
    touch("java_pid9.hprof", 1234, 0);
    struct hprof_seen *s = hprof_seen_open(seenp);
    struct hprof_found f;
    uint64_t t0 = units_now_real_ns();
    CHECK_EQ(hprof_poll_new(&w, s, t0, &f), 0);                 /* first sight */
    CHECK_EQ(hprof_poll_new(&w, s, t0 + 1000000000ull, &f), 0); /* not settled yet */
    CHECK_EQ(hprof_poll_new(&w, s, t0 + HPROF_SETTLE_NS + 1, &f), 1);
    CHECK_EQ(hprof_seen_add(s, &f, false), 0); /* reported as a Java-level OOM */
    hprof_seen_close(s);
    s = hprof_seen_open(seenp); /* a restart */
    CHECK(hprof_seen_has(s, &f, false));
    CHECK(!hprof_seen_has(s, &f, true));
    CHECK_EQ(hprof_poll_new(&w, s, t0 + 10 * HPROF_SETTLE_NS, &f), 0);
    /* the kernel kill that follows still names it, once */
    CHECK_EQ(hprof_find(&w, units_now_real_ns(), 60000000000ull, s, &f), 1);
    CHECK_EQ(hprof_seen_add(s, &f, true), 0);
    hprof_seen_close(s);
    s = hprof_seen_open(seenp);
    CHECK(hprof_seen_has(s, &f, true));
    CHECK_EQ(hprof_find(&w, units_now_real_ns(), 60000000000ull, s, &f), 0);
    hprof_seen_close(s);
    hprof_watch_close(&w);
    rmrf();
}

/* Makes every open(2) of path wait for an answer from the returned
 * fanotify group (FAN_OPEN_PERM, fanotify(7)), which never gives one until
 * it is closed: the kernel's own way to make a directory hang, as an
 * on-access scanner or a stuck FUSE server does. -errno on failure. */
static int hang_opens_of(const char *path)
{
    int fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
    if (fan < 0)
        return -errno;
    if (fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ONDIR, AT_FDCWD, path) < 0) {
        int rc = -errno;
        close(fan);
        return rc;
    }
    return fan;
}

struct find_call {
    struct hprof_watch *w;
    struct hprof_found f;
    int rc;
};

static void *find_thread(void *p)
{
    struct find_call *c = p;
    c->rc = hprof_find(c->w, units_now_real_ns(), 60000000000ull, NULL, &c->f);
    return NULL;
}

TEST(a_dump_directory_that_hangs_costs_its_timeout_not_the_thread)
{
    NEED(getuid() == 0, "needs root for fanotify permission events and the helper");
    struct hprof_watch w;
    CHECK(pin_fresh_dir(5, &w));
    touch("java_pid5.hprof", 10, 0);
    w.timeout_ms = 300;
    int fan = hang_opens_of(dir);
    CHECK_MSG(fan >= 0, "fanotify: %s", strerror(-fan));
    struct find_call c = {.w = &w};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, find_thread, &c), 0);
    /* the bound: 300 ms + the helper's reaping (2 x 2 s) */
    bool returned = t_joined_within(th, 10);
    close(fan); /* pending opens are allowed: the directory answers again */
    if (!returned)
        pthread_join(th, NULL);
    CHECK_MSG(returned, "hprof_find still blocked 10 s into a hung directory");
    CHECK_EQ(c.rc, -ETIMEDOUT);
    CHECK_EQ(hprof_find(&w, units_now_real_ns(), 60000000000ull, NULL, &c.f), 1);
    for (int i = 0; i < 500 && nsexec_reap_stuck() > 0; i++)
        usleep(10000);
    CHECK_EQ(nsexec_stuck_count(), 0);
    hprof_watch_close(&w);
    rmrf();
}

/* For the upload: the copy is of the file that was found, never through a
 * link, never past its cap. */
TEST(copy_out_copies_only_the_dump_found)
{
    struct hprof_watch w;
    struct hprof_found f;
    char path[128], out[128], why[256], buf[64];
    CHECK(pin_fresh_dir(4243, &w));
    snprintf(path, sizeof(path), "%s/java_pid4243.hprof", dir);
    FILE *df = fopen(path, "w");
    CHECK(df);
    for (int i = 0; i < 1000; i++)
        fprintf(df, "%03d", i);
    fclose(df);
    CHECK_EQ(hprof_find(&w, units_now_real_ns(), 60000000000ull, NULL, &f), 1);
    snprintf(out, sizeof(out), "%s.copy", dir);
    int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(hprof_copy_out(&w, &f, fd, f.size, why, sizeof(why)), 3000);
    CHECK_EQ(pread(fd, buf, 6, 2994), 6);
    CHECK(memcmp(buf, "998999", 6) == 0);
    CHECK_EQ(ftruncate(fd, 0), 0);
    CHECK_EQ(hprof_copy_out(&w, &f, fd, 100, why, sizeof(why)), -EFBIG);
    CHECK_CONTAINS(why, "grew past 100 bytes");
    /* another file under its name, then a link to a host file */
    touch("new.tmp", 3000, 1); /* made while the dump exists: another inode */
    snprintf(buf, sizeof(buf), "%s/new.tmp", dir);
    CHECK_EQ(rename(buf, path), 0);
    CHECK_EQ(hprof_copy_out(&w, &f, fd, f.size, why, sizeof(why)), -ESTALE);
    CHECK_EQ(unlink(path), 0);
    CHECK_EQ(symlink("/etc/passwd", path), 0);
    CHECK_EQ(hprof_copy_out(&w, &f, fd, f.size, why, sizeof(why)), -ELOOP);
    close(fd);
    unlink(out);
    hprof_watch_close(&w);
    rmrf();
}

TEST_MAIN(flags_last_one_wins_and_stop_at_main_class, copy_out_copies_only_the_dump_found,
          a_dump_directory_that_hangs_costs_its_timeout_not_the_thread,
          file_mode_finds_newest_sequence_file_in_window,
          dir_mode_pins_the_directory_after_it_is_renamed, symlinks_are_never_followed,
          not_enabled_and_unreachable_say_why,
          seen_list_survives_a_restart_and_settling_is_required)
