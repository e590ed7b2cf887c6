/* units, tags, procfs parsers and fsutil: the small pieces every module uses. */
#include "core/fsutil.h"
#include "core/vec.h"
#include "harness.h"
#include "events/procfs.h"
#include "core/tags.h"
#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA "tests/data/proc/"

TEST(durations_parse_go_style)
{
    uint64_t ms;
    const char *why;
    CHECK_EQ(units_parse_duration("30s", &ms, &why), 0);
    CHECK_EQ(ms, 30000);
    CHECK_EQ(units_parse_duration("1m30s", &ms, &why), 0);
    CHECK_EQ(ms, 90000);
    CHECK_EQ(units_parse_duration("500ms", &ms, &why), 0);
    CHECK_EQ(ms, 500);
    CHECK_EQ(units_parse_duration("1h", &ms, &why), 0);
    CHECK_EQ(ms, 3600000);
    CHECK_EQ(units_parse_duration("30", &ms, &why), -EINVAL);
    CHECK_CONTAINS(why, "missing unit");
    CHECK_EQ(units_parse_duration("-5s", &ms, &why), -EINVAL);
    CHECK_EQ(units_parse_duration("1.5s", &ms, &why), -EINVAL);
    CHECK_EQ(units_parse_duration("", &ms, &why), -EINVAL);
    CHECK_EQ(units_parse_duration("5d", &ms, &why), -EINVAL);
    CHECK_CONTAINS(why, "unknown unit");
    /* 2^64 ms is the bound: neither one group nor the sum wraps (fuzz_units) */
    CHECK_EQ(units_parse_duration("5124095576030h", &ms, &why), 0);
    CHECK_EQ(ms, 5124095576030ull * 3600000);
    CHECK_EQ(units_parse_duration("5124095576031h", &ms, &why), -ERANGE);
    CHECK_CONTAINS(why, "too large");
    CHECK_EQ(units_parse_duration("5124095576030h1h", &ms, &why), -ERANGE);
    CHECK_EQ(units_parse_duration("3000000000000h3000000000000h", &ms, &why), -ERANGE);
    /* a count of ms or s is bounded by what fits, not by the bound of hours:
     * what units_format_duration writes ("<n>ms") always parses back */
    char buf[64];
    CHECK_EQ(units_parse_duration("1240951517529533ms", &ms, &why), 0);
    CHECK_EQ(ms, 1240951517529533ull);
    CHECK_EQ(units_parse_duration(units_format_duration(UINT64_MAX, buf, sizeof(buf)), &ms, &why),
             0);
    CHECK_EQ(ms, UINT64_MAX);
    CHECK_EQ(units_parse_duration("18446744073709551616ms", &ms, &why), -ERANGE);
    CHECK_EQ(units_parse_duration("18446744073709552s", &ms, &why), -ERANGE);
}

TEST(durations_format_canonically)
{
    char b[32];
    CHECK_STREQ(units_format_duration(90000, b, sizeof(b)), "1m30s");
    CHECK_STREQ(units_format_duration(3600000, b, sizeof(b)), "1h");
    CHECK_STREQ(units_format_duration(1500, b, sizeof(b)), "1500ms");
    CHECK_STREQ(units_format_duration(0, b, sizeof(b)), "0s");
    CHECK_STREQ(units_format_duration(3661000, b, sizeof(b)), "1h1m1s");
}

TEST(rfc3339nano_keeps_nanoseconds)
{
    char b[64];
    CHECK_STREQ(units_rfc3339nano(1715049419000000123ull, b, sizeof(b)),
                "2024-05-07T02:36:59.000000123Z");
}

TEST(u64_and_bool_parsing)
{
    uint64_t v;
    bool b;
    CHECK_EQ(units_parse_u64("8089", 65535, &v), 0);
    CHECK_EQ(v, 8089);
    CHECK_EQ(units_parse_u64("70000", 65535, &v), -ERANGE);
    CHECK_EQ(units_parse_u64("12a", 65535, &v), -EINVAL);
    CHECK_EQ(units_parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
    CHECK_EQ(units_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    CHECK(v == UINT64_MAX);
    CHECK_EQ(units_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
    CHECK_EQ(units_parse_bool("Yes", &b), 0);
    CHECK(b);
    CHECK_EQ(units_parse_bool("off", &b), 0);
    CHECK(!b);
    CHECK_EQ(units_parse_bool("nope", &b), -EINVAL);
}

TEST(vec_grows_by_doubling)
{
    struct pair {
        int a, b;
    } *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(vec_grow(&v, &cap, n, sizeof(*v), 4), 0);
        v[n++] = (struct pair){i, -i};
    }
    CHECK_EQ(cap, 128);                                /* 4, 8, ..., 128 */
    CHECK_EQ(vec_grow(&v, &cap, 5, sizeof(*v), 4), 0); /* room left: unchanged */
    CHECK_EQ(cap, 128);
    CHECK(v[99].a == 99 && v[99].b == -99 && v[0].a == 0);
    free(v);
}

/* doubling from min, capped, spread within the asked bounds */
TEST(backoff_doubles_caps_and_jitters)
{
    uint64_t rng = 42, lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t d = units_backoff_ms(1000, 8000, 3, 20, 20, &rng); /* 4000 +- 20 % */
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    CHECK(lo >= 3200 && lo < 3300);
    CHECK(hi <= 4800 && hi > 4700);
    CHECK_EQ(units_backoff_ms(1000, 8000, 1, 0, 0, &rng), 1000);
    CHECK_EQ(units_backoff_ms(1000, 8000, 60, 0, 0, &rng), 8000); /* no overflow */
    for (int i = 0; i < 200; i++) {
        uint64_t d = units_backoff_ms(1000, 300000, 2, 50, 0, &rng); /* [1000, 2000] */
        CHECK(d >= 1000 && d <= 2000);
    }
}

TEST(tags_tolerate_spaces_and_colons_in_values)
{
    struct tags t;
    size_t bad;
    const char *why;
    CHECK_EQ(tags_parse_list("host: host_name,pod_name:pod_a , url:http://h:1", &t, &bad, &why), 0);
    CHECK_EQ(t.n, 3);
    CHECK_STREQ(tags_get(&t, "host"), "host_name");
    CHECK_STREQ(tags_get(&t, "url"), "http://h:1");
    tags_free(&t);
    CHECK_EQ(tags_parse_list("a:1,b", &t, &bad, &why), -EINVAL);
    CHECK_EQ(bad, 1);
}

TEST(tags_join_sanitises_for_datakit)
{
    struct tags t = {0};
    CHECK_EQ(tags_set(&t, "service", "a,b"), 0);
    CHECK_EQ(tags_set(&t, "my key", "line1\nline2"), 0);
    CHECK_EQ(tags_set(&t, "service", "checkout"), 0); /* replaces */
    char *s;
    CHECK_EQ(tags_join_profiler(&t, &s), 0);
    CHECK_STREQ(s, "service:checkout,my_key:line1 line2");
    free(s);
    tags_free(&t);
}

static char *slurp(const char *path)
{
    char *buf = NULL;
    return fsutil_read_all(path, 1 << 20, &buf, NULL) == 0 ? buf : NULL;
}

TEST(proc_stat_parses_comm_with_parentheses)
{
    struct proc_stat st;
    char *s = slurp(DATA "comm_with_parens.stat");
    CHECK(s != NULL);
    CHECK_EQ(procfs_parse_stat(s, &st), 0);
    CHECK_EQ(st.pid, 777);
    CHECK_STREQ(st.comm, "my) (weird) app");
    CHECK_EQ(st.state, 'R');
    CHECK_EQ(st.utime, 7);
    CHECK_EQ(st.stime, 3);
    CHECK_EQ(st.starttime, 555);
    free(s);
}

TEST(proc_stat_of_a_jvm)
{
    struct proc_stat st;
    char *s = slurp(DATA "java_in_container.stat");
    CHECK(s != NULL);
    CHECK_EQ(procfs_parse_stat(s, &st), 0);
    CHECK_EQ(st.ppid, 48190);
    CHECK_EQ(st.utime, 1834);
    CHECK_EQ(st.stime, 211);
    CHECK_EQ(st.starttime, 8823341);
    CHECK_EQ(st.rss_pages, 81234);
    free(s);
}

TEST(proc_stat_cut_after_the_state_is_refused)
{
    /* a text ending right after ")S" or with no space before the state: no
     * read past its end (fuzz_procfs: ASan, heap-buffer-overflow) */
    static const char *const bad[] = {"1 (a)S", "1 (a)", "1 (a) ", "1 (a)\tS 1", "1 (a)  S 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proc_stat st;
        size_t n = strlen(bad[i]);
        char *s = malloc(n + 1); /* exactly sized: ASan sees an overread */
        CHECK(s != NULL);
        memcpy(s, bad[i], n + 1);
        CHECK_EQ(procfs_parse_stat(s, &st), -EINVAL);
        free(s);
    }
}

TEST(proc_status_innermost_namespace_pid)
{
    struct proc_status ps;
    char *s = slurp(DATA "java_in_container.status");
    CHECK(s != NULL);
    CHECK_EQ(procfs_parse_status(s, &ps), 0);
    CHECK_EQ(ps.tgid, 48213);
    CHECK_EQ(ps.nstgid, 3);
    CHECK_EQ(ps.nspid, 3);
    CHECK_EQ(ps.ns_depth, 2);
    CHECK_EQ(ps.euid, 10001);
    CHECK_EQ(ps.egid, 10001);
    CHECK_EQ(ps.vmrss_kb, 324936);
    CHECK_EQ(ps.threads, 29);
    free(s);
    s = slurp(DATA "old_kernel_no_nspid.status");
    CHECK(s != NULL);
    CHECK_EQ(procfs_parse_status(s, &ps), 0);
    CHECK_EQ(ps.nstgid, 1234); /* no NStgid: the pid is the same everywhere */
    CHECK_EQ(ps.ns_depth, 1);
    CHECK_EQ(ps.threads, 0); /* no Threads: line */
    free(s);
}

TEST(maps_detect_libjvm_by_basename)
{
    char *s = slurp(DATA "jvm.maps");
    CHECK_EQ(procfs_maps_text_has_lib(s, "libjvm.so"), 1);
    free(s);
    s = slurp(DATA "python.maps");
    CHECK_EQ(procfs_maps_text_has_lib(s, "libjvm.so"), 0);
    free(s);
}

TEST(ident_of_self_and_reuse_guard)
{
    struct proc_ident id;
    CHECK_EQ(procfs_ident(NULL, getpid(), &id), 0);
    CHECK_EQ(id.pid, getpid());
    CHECK(id.start_time > 0);
    CHECK_EQ(procfs_same_process(NULL, &id), 1);
    id.start_time += 1;
    CHECK_EQ(procfs_same_process(NULL, &id), 0);
    CHECK_EQ(procfs_ident(NULL, 0x3ffffff0, &id), -ESRCH);
}

static int count_self(int pid, void *arg)
{
    int *n = arg;
    *n += 1;
    return pid == getpid() ? 7 : 0; /* stop at ourselves, with a value */
}

TEST(argv_join_rss_and_pid_walk)
{
    char *line = procfs_argv_join("java\0-jar\0a.jar\0", 16);
    CHECK_STREQ(line, "java -jar a.jar");
    free(line);
    CHECK(procfs_argv_join("x", 0) == NULL);
    uint64_t rss = 0;
    CHECK_EQ(procfs_read_rss(NULL, getpid(), &rss), 0);
    CHECK(rss > 1024 * 1024);
    CHECK_EQ(procfs_read_rss(NULL, 0x3ffffff0, &rss), -ESRCH);
    int n = 0;
    CHECK_EQ(procfs_each_pid(NULL, count_self, &n), 7);
    CHECK(n >= 1);
    struct proc_ident id;
    CHECK_EQ(procfs_ident(NULL, getpid(), &id), 0);
    CHECK_EQ(id.ppid, getppid());
}

TEST(atomic_write_replaces_whole_file)
{
    char dir[] = "/tmp/fs-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], buf[64];
    snprintf(path, sizeof(path), "%s/a/b/file", dir);
    CHECK_EQ(fsutil_mkdirs(path, 0700), 0);
    CHECK_EQ(rmdir(path), 0);
    CHECK_EQ(fsutil_write_atomic(path, "first", 5, 0600), 0);
    CHECK_EQ(fsutil_write_atomic(path, "second", 6, 0600), 0);
    CHECK_EQ(fsutil_read_small(path, buf, sizeof(buf)), 6);
    CHECK_STREQ(buf, "second");
    CHECK_EQ(fsutil_file_size(path), 6);
    CHECK_EQ(fsutil_is_atomic_temp("index.json.tmp.4242"), 1);
    CHECK_EQ(fsutil_is_atomic_temp("index.json.tmp."), 0);
    CHECK_EQ(fsutil_is_atomic_temp("profile.tmp.jfr"), 0);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

TEST(poll_until_waits_for_the_fd_or_the_deadline)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    struct pollfd fd = {.fd = p[0], .events = POLLIN};
    uint64_t t0 = units_now_mono_ms();
    CHECK_EQ(units_poll_until(&fd, 1, t0 + 50), 0); /* nothing to read: the deadline */
    CHECK(units_now_mono_ms() >= t0 + 50);
    CHECK_EQ(units_poll_until(&fd, 1, t0), 0); /* already past: no wait at all */
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(units_poll_until(&fd, 1, units_now_mono_ms() + 10000), 1);
    CHECK(fd.revents & POLLIN);
    close(p[0]);
    close(p[1]);
}

TEST_MAIN(durations_parse_go_style, poll_until_waits_for_the_fd_or_the_deadline,
          durations_format_canonically, rfc3339nano_keeps_nanoseconds, u64_and_bool_parsing,
          backoff_doubles_caps_and_jitters, vec_grows_by_doubling,
          tags_tolerate_spaces_and_colons_in_values, tags_join_sanitises_for_datakit,
          proc_stat_parses_comm_with_parentheses, proc_stat_of_a_jvm,
          proc_stat_cut_after_the_state_is_refused, proc_status_innermost_namespace_pid,
          maps_detect_libjvm_by_basename, ident_of_self_and_reuse_guard, argv_join_rss_and_pid_walk,
          atomic_write_replaces_whole_file)
