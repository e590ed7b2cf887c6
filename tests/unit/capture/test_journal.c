/* The journal of profiles in progress: entries round-trip and go once
 * drained; a profile whose agent is SIGKILLed mid-recording (a forked
 * child running capture_profile against tests/helpers/fake_jvm) leaves an
 * entry from which capture_profile_recover stops that recording and
 * removes its file from the JVM's work directory; a heap dump's entry
 * has heapdump_recover remove the dump (never through a link) and its
 * node copy; an entry whose process is gone (or whose pid names another
 * process) touches nothing in it. */
#include "capture/capture.h"
#include "capture/heapdump.h"
#include "capture/journal.h"
#include "fakejvm.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int tmpdir(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/fs-journal-XXXXXX");
    return mkdtemp(buf) ? 0 : -errno;
}

static void rmtree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    return n;
}

struct seen {
    int n;
    struct journal_entry last;
};

static void keep(const struct journal_entry *e, void *arg)
{
    struct seen *s = arg;
    s->n++;
    s->last = *e;
}

TEST(an_entry_rewritten_in_place_is_drained_once_with_its_last_content)
{
    char dir[64], path[160];
    struct journal *jn = NULL;
    CHECK_EQ(tmpdir(dir, sizeof(dir)), 0);
    CHECK_EQ(journal_open(dir, &jn), 0);
    struct journal_entry e = {.proc = {.pid = 4242,
                                       .nspid = 7,
                                       .start_time = 123456789012ull,
                                       .uid = 10001,
                                       .gid = 10002,
                                       .comm = "java"}};
    CHECK_EQ(journal_write(jn, &e), 0);
    CHECK(e.id[0] != '\0');
    snprintf(e.jfr, sizeof(e.jfr), "/tmp/.flameshot-10001/profile-7.jfr");
    snprintf(e.recording, sizeof(e.recording), "flameshot-7-99");
    snprintf(e.repos_before, sizeof(e.repos_before), "/tmp/2026_01_01_00_00_00_7\n");
    CHECK_EQ(journal_write(jn, &e), 0); /* the same file, rewritten */
    CHECK_EQ(count_files(dir), 1);
    /* what a crash mid-write and a stranger leave are removed unseen */
    snprintf(path, sizeof(path), "%s/%s.json.tmp.77", dir, e.id);
    CHECK_EQ(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
    snprintf(path, sizeof(path), "%s/zz.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"pid\": \"not a number\"}", f);
    fclose(f);
    struct seen s = {0};
    CHECK_EQ(journal_drain(jn, keep, &s), 1);
    CHECK_EQ(s.n, 1);
    CHECK_STREQ(s.last.id, e.id);
    CHECK_EQ(s.last.proc.pid, 4242);
    CHECK_EQ(s.last.proc.nspid, 7);
    CHECK_EQ(s.last.proc.start_time, 123456789012ull);
    CHECK_EQ(s.last.proc.uid, 10001);
    CHECK_EQ(s.last.proc.gid, 10002);
    CHECK_STREQ(s.last.proc.comm, "java");
    CHECK_STREQ(s.last.jfr, e.jfr);
    CHECK_STREQ(s.last.recording, "flameshot-7-99");
    CHECK_STREQ(s.last.repos_before, e.repos_before);
    CHECK_STREQ(s.last.staged, "");
    CHECK_EQ(count_files(dir), 0);
    CHECK_EQ(journal_drain(jn, keep, &s), 0);
    journal_close(jn);
    rmtree(dir);
}

TEST(a_removed_entry_is_not_drained)
{
    char dir[64];
    struct journal *jn = NULL;
    CHECK_EQ(tmpdir(dir, sizeof(dir)), 0);
    CHECK_EQ(journal_open(dir, &jn), 0);
    struct journal_entry a = {.proc = {.pid = 1, .comm = "a"}},
                         b = {.proc = {.pid = 1, .comm = "b"}};
    CHECK_EQ(journal_write(jn, &a), 0);
    CHECK_EQ(journal_write(jn, &b), 0);
    CHECK(strcmp(a.id, b.id) != 0); /* two captures of one process */
    CHECK_EQ(journal_remove(jn, &a), 0);
    CHECK_EQ(journal_remove(jn, &a), 0);
    struct seen s = {0};
    CHECK_EQ(journal_drain(jn, keep, &s), 1);
    CHECK_STREQ(s.last.proc.comm, "b");
    CHECK_EQ(journal_write(NULL, &a), 0); /* no journal: nothing, no error */
    journal_close(jn);
    rmtree(dir);
}

TEST(parse_refuses_what_is_not_an_entry)
{
    struct journal_entry e;
    CHECK_EQ(journal_parse("", &e), -EINVAL);
    CHECK_EQ(journal_parse("[]", &e), -EINVAL);
    CHECK_EQ(journal_parse("{\"pid\":0,\"nspid\":0,\"start_time\":1,\"uid\":0,\"gid\":0,"
                           "\"comm\":\"j\",\"dir\":\"\",\"jfr\":\"\",\"log\":\"\","
                           "\"recording\":\"\",\"staged\":\"\",\"repos_before\":\"\"}",
                           &e),
             -EINVAL); /* pid 0 */
    char *text = journal_format(&(struct journal_entry){.proc = {.pid = 9, .comm = "j"}});
    CHECK(text != NULL);
    int rc = journal_parse(text, &e);
    free(text);
    CHECK_EQ(rc, 0);
    CHECK_EQ(e.proc.pid, 9);
}

/* Runs capture_profile (60 s of JFR) against f in a child that the test
 * SIGKILLs once the fake JVM has been asked to start the recording. */
static int profile_then_die(const struct fakejvm *f, struct journal *jn, char *out, size_t cap)
{
    struct proc_ident id;
    if (procfs_ident("/proc", f->pid, &id) < 0)
        return -1;
    pid_t child = fork();
    if (child == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        struct bounded b = {.write = bounded_fd_write, .arg = &devnull, .cap = 1 << 20};
        struct profile_req req = {.duration_ms = 60000, .cancel_fd = -1, .journal = jn, .out = &b};
        struct profile_result res;
        capture_profile(&id, &req, &res);
        _exit(0);
    }
    struct fakejvm g = *f;
    int rc = fakejvm_wait_output(&g, "request jcmd JFR.start", 20, out, cap);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return rc;
}

static struct journal_entry the_entry(struct journal *jn, int *n)
{
    struct seen s = {0};
    *n = journal_drain(jn, keep, &s);
    return s.last;
}

/* The test's body, with a journal in dir and the fake JVM f that the
 * caller stops whatever happens here. */
static void cut_then_restart(struct t_state *t_, struct fakejvm *f, const char *dir)
{
    char out[8192] = "", done[2048], path[512], stop[128];
    struct journal *jn = NULL;
    struct stat st;
    CHECK_EQ(journal_open(dir, &jn), 0);
    int rc = profile_then_die(f, jn, out, sizeof(out)), n = 0;
    struct journal_entry e = the_entry(jn, &n);
    journal_close(jn);
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(e.proc.pid, f->pid);
    CHECK_CONTAINS(e.recording, "flameshot-");
    CHECK_CONTAINS(out, e.recording); /* the name the JVM was given */
    snprintf(path, sizeof(path), "/proc/%d/root%s", f->pid, e.jfr);
    CHECK_EQ(lstat(path, &st), 0); /* what the JVM writes is there */
    /* a restart: the recording is stopped by its name, its file removed */
    CHECK_EQ(capture_profile_recover(&e, 5000, done, sizeof(done)), 0);
    snprintf(stop, sizeof(stop), "request jcmd JFR.stop name=%s", e.recording);
    CHECK_EQ(fakejvm_wait_output(f, stop, 10, out, sizeof(out)), 0);
    CHECK_CONTAINS(done, "stopped JFR recording flameshot-");
    CHECK_CONTAINS(done, e.jfr);
    CHECK_EQ(lstat(path, &st), -1);
    /* the same entry again, with a start time that is not the process's:
     * not that process any more, nothing is sent to it */
    e.proc.start_time++;
    CHECK_EQ(capture_profile_recover(&e, 5000, done, sizeof(done)), -ESRCH);
}

typedef void (*with_jvm_fn)(struct t_state *t_, struct fakejvm *f, const char *dir);

/* Runs body with a fake JVM and a temporary directory, and removes both
 * (and what a failed profile left in the JVM's /tmp) whatever it did. */
static void with_fake_jvm(struct t_state *t_, with_jvm_fn body)
{
    char dir[64], jfr[128];
    struct fakejvm f;
    CHECK_EQ(tmpdir(dir, sizeof(dir)), 0);
    int started = fakejvm_start(&f, "lazy", "java", NULL) == 0;
    if (started)
        body(t_, &f, dir);
    snprintf(jfr, sizeof(jfr), "/tmp/.flameshot-%u/profile-%d.jfr", (unsigned)getuid(), f.pid);
    unlink(jfr);
    fakejvm_stop(&f);
    rmtree(dir);
    CHECK(started);
}

TEST(a_profile_cut_by_the_agents_death_is_stopped_and_removed_at_restart)
{
    NEED_FAKE_JVM();
    with_fake_jvm(t_, cut_then_restart);
}

TEST(an_entry_of_a_process_that_is_gone_touches_nothing)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    char done[512];
    struct proc_ident id;
    CHECK_EQ(fakejvm_start(&f, "lazy", "java", NULL), 0);
    CHECK_EQ(procfs_ident("/proc", f.pid, &id), 0);
    fakejvm_stop(&f);
    struct journal_entry e = {.proc = id};
    snprintf(e.recording, sizeof(e.recording), "flameshot-1-2");
    CHECK_EQ(capture_profile_recover(&e, 5000, done, sizeof(done)), -ESRCH);
}

static int touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : close(fd);
}

/* The dump in the fake JVM's filesystem (the host's: it has no mount
 * namespace of its own) and the node copy, both in dir. */
static void dump_then_restart(struct t_state *t_, struct fakejvm *f, const char *dir)
{
    char secret[160], done[2048];
    struct journal_entry e = {0};
    struct stat st;
    CHECK_EQ(procfs_ident("/proc", f->pid, &e.proc), 0);
    snprintf(e.dump, sizeof(e.dump), "%s/flameshot-heapdump-%d-1.hprof", dir, f->pid);
    snprintf(e.node_part, sizeof(e.node_part), "%s/node-heap.hprof.part", dir);
    CHECK_EQ(touch(e.dump), 0);
    CHECK_EQ(touch(e.node_part), 0);
    CHECK_EQ(heapdump_recover(&e, 5000, done, sizeof(done)), 0);
    CHECK_CONTAINS(done, e.dump);
    CHECK_CONTAINS(done, e.node_part);
    CHECK_EQ(lstat(e.dump, &st), -1);
    CHECK_EQ(lstat(e.node_part, &st), -1);
    /* a link planted at the dump's name is not followed, nor removed */
    snprintf(secret, sizeof(secret), "%s/secret", dir);
    CHECK_EQ(touch(secret), 0);
    CHECK_EQ(symlink(secret, e.dump), 0);
    CHECK_EQ(heapdump_recover(&e, 5000, done, sizeof(done)), 0);
    CHECK_CONTAINS(done, "not a regular file");
    CHECK_EQ(lstat(e.dump, &st), 0);
    CHECK(S_ISLNK(st.st_mode));
    CHECK_EQ(stat(secret, &st), 0);
    /* the process gone: the node's copy goes all the same */
    CHECK_EQ(touch(e.node_part), 0);
    e.proc.start_time++;
    CHECK_EQ(heapdump_recover(&e, 5000, done, sizeof(done)), -ESRCH);
    CHECK_EQ(lstat(e.node_part, &st), -1);
    CHECK_EQ(lstat(e.dump, &st), 0);
}

TEST(a_heap_dump_cut_by_the_agents_death_is_removed_at_restart)
{
    NEED_FAKE_JVM();
    with_fake_jvm(t_, dump_then_restart);
}

TEST_MAIN(an_entry_rewritten_in_place_is_drained_once_with_its_last_content,
          a_removed_entry_is_not_drained, parse_refuses_what_is_not_an_entry,
          a_profile_cut_by_the_agents_death_is_stopped_and_removed_at_restart,
          an_entry_of_a_process_that_is_gone_touches_nothing,
          a_heap_dump_cut_by_the_agents_death_is_removed_at_restart)
