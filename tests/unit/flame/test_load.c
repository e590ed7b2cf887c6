/* load: time-range parsing, the event pick, collapsed text, and on a JFR
 * recorded here by a real JVM (Burner, JDK Flight Recorder's profile
 * settings) the pick and the range filter against the reader itself. */
#include "flame/load.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(parses_seconds_since_the_start_and_rfc3339)
{
    struct load_time t;
    CHECK_EQ(load_parse_time("12", &t), 0);
    CHECK(t.set && !t.absolute);
    CHECK_EQ(t.ns, 12000000000LL);
    CHECK_EQ(load_parse_time("1.5", &t), 0);
    CHECK_EQ(t.ns, 1500000000LL);
    CHECK_EQ(load_time_ns(&t, 1000), 1500001000LL);
    CHECK_EQ(load_parse_time("2026-12-02T05:58:24Z", &t), 0);
    CHECK(t.absolute);
    CHECK_EQ(t.ns, 1796191104000000000LL);
    CHECK_EQ(load_time_ns(&t, 5), 1796191104000000000LL);
    CHECK_EQ(load_parse_time("2026-12-02T06:58:24.25+01:00", &t), 0);
    CHECK_EQ(t.ns, 1796191104250000000LL);
    CHECK_EQ(load_parse_time("2026-12-02t05:58:24.000000001z", &t), 0);
    CHECK_EQ(t.ns, 1796191104000000001LL);
    const char *bad[] = {"",
                         "-1",
                         "1e99",
                         "12s",
                         "abc",
                         "2026-13-02T05:58:24Z",
                         "2026-12-02T05:58:24",
                         "2026-12-02T05:58:24.Z",
                         "2026-12-02T05:58:24+1:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(load_parse_time(bad[i], &t) == -EINVAL && !t.set, "\"%s\" accepted", bad[i]);
}

TEST(picks_cpu_first_else_the_first_kind_with_samples)
{
    uint64_t c[JFR_EVENT_N] = {0};
    CHECK_EQ(load_pick_event(c), -1);
    c[JFR_LOCK] = 3;
    CHECK_EQ(load_pick_event(c), JFR_LOCK);
    c[JFR_ALLOC] = 9;
    c[JFR_WALL] = 1;
    CHECK_EQ(load_pick_event(c), JFR_WALL);
    c[JFR_CPU] = 1;
    CHECK_EQ(load_pick_event(c), JFR_CPU);
}

static char *write_tmp(const char *text, size_t len)
{
    static char path[64];
    strcpy(path, "/tmp/test_load.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    ssize_t n = write(fd, text, len);
    close(fd);
    return n == (ssize_t)len ? path : NULL;
}

TEST(loads_collapsed_text_and_refuses_what_it_cannot_mean)
{
    struct load_opts o = {.event = -1};
    struct load_result r;
    char err[512];
    char *p = write_tmp("a;b;c 3\n\na;b 2\r\na;b;c 4\n", 24);
    CHECK(p);
    CHECK_EQ(load_file(p, &o, &r, err, sizeof(err)), 0);
    CHECK(r.collapsed);
    CHECK_EQ(stacks_count(r.stacks), 2);
    CHECK_EQ(stacks_total(r.stacks), 9);
    load_result_free(&r);
    CHECK_EQ(load_parse_time("1", &o.from), 0);
    CHECK_EQ(load_file(p, &o, &r, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "no range or heat map");
    CHECK(!r.stacks);
    unlink(p);
    o = (struct load_opts){.event = -1};
    p = write_tmp("\x7f"
                  "ELF\x02\x01\x01\0\0garbage",
                  16);
    CHECK(p);
    CHECK_EQ(load_file(p, &o, &r, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "neither a JFR file");
    unlink(p);
    CHECK_EQ(load_file("/nonexistent/x.jfr", &o, &r, err, sizeof(err)), -ENOENT);
    CHECK_CONTAINS(err, "/nonexistent/x.jfr");
}

/* ---- a JFR from a real JVM ---------------------------------------------- */

static const char *jfr_path(void)
{
    static char path[PATH_MAX];
    static int made = -1;
    if (made >= 0)
        return made ? path : NULL;
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char cmd[PATH_MAX * 2 + 256];
    snprintf(path, sizeof(path), "/tmp/test_load.%d.jfr", (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "timeout 60 java -XX:StartFlightRecording=filename=%s,settings=profile -cp "
             "%s/tests/java Burner 4 >/dev/null 2>&1",
             path, build);
    made = system(cmd) == 0 && access(path, R_OK) == 0;
    return made ? path : NULL;
}

struct count {
    int64_t from, to;
    uint64_t n, all;
    int64_t first, last;
};

static int count_in(void *arg, const struct jfr_sample *s)
{
    struct count *c = arg;
    c->all++;
    if (!c->first || s->ts_ns < c->first)
        c->first = s->ts_ns;
    if (s->ts_ns > c->last)
        c->last = s->ts_ns;
    if (s->ts_ns >= c->from && s->ts_ns <= c->to)
        c->n += s->weight;
    return 0;
}

TEST(picks_cpu_on_a_real_jfr_and_filters_a_time_range)
{
    NEED(system("command -v java >/dev/null") == 0, "needs a JDK (java)");
    const char *p = jfr_path();
    CHECK_MSG(p, "java did not record a JFR (make test-build first?)");
    struct load_opts o = {.event = -1};
    struct load_result all, part;
    char err[512];
    CHECK_MSG(load_file(p, &o, &all, err, sizeof(err)) == 0, "%s", err);
    CHECK(all.picked && all.event == JFR_CPU && !all.collapsed);
    CHECK(all.start_ns > 0);
    /* the middle of the samples' span, by the reader's own timestamps */
    struct count c = {.from = INT64_MIN, .to = INT64_MAX};
    struct jfr_opts jo = {.events = 1u << JFR_CPU};
    CHECK_EQ(jfr_read_path(p, &jo, count_in, &c, NULL, err, sizeof(err)), 0);
    CHECK_EQ(stacks_total(all.stacks), c.n);
    CHECK(c.last - c.first > 1000000000LL);
    int64_t mid = c.first + (c.last - c.first) / 2;
    c = (struct count){.from = mid - 500000000LL, .to = mid + 500000000LL};
    CHECK_EQ(jfr_read_path(p, &jo, count_in, &c, NULL, err, sizeof(err)), 0);
    CHECK(c.n > 0 && c.n < stacks_total(all.stacks));
    char from[32], to[32];
    snprintf(from, sizeof(from), "%.9f", (double)(c.from - all.start_ns) / 1e9);
    snprintf(to, sizeof(to), "%.9f", (double)(c.to - all.start_ns) / 1e9);
    CHECK_EQ(load_parse_time(from, &o.from), 0);
    CHECK_EQ(load_parse_time(to, &o.to), 0);
    o.event = JFR_CPU;
    CHECK_MSG(load_file(p, &o, &part, err, sizeof(err)) == 0, "%s", err);
    CHECK(!part.picked);
    /* the seconds printed round to the ns: at most a sample at each edge */
    CHECK_MSG(stacks_total(part.stacks) + 2 >= c.n && stacks_total(part.stacks) <= c.n + 2,
              "range: %llu samples, the reader says %llu",
              (unsigned long long)stacks_total(part.stacks), (unsigned long long)c.n);
    load_result_free(&part);
    /* a range that ends before it starts; one with nothing in it */
    o.to = o.from;
    o.from.ns += 1000000000LL;
    CHECK_EQ(load_file(p, &o, &part, err, sizeof(err)), -EINVAL);
    CHECK_EQ(load_parse_time("3600", &o.from), 0);
    o.to.set = false;
    CHECK_EQ(load_file(p, &o, &part, err, sizeof(err)), -ENODATA);
    CHECK_CONTAINS(err, "no cpu samples in the range");
    /* a budget too small for any stack: refused whole (1 KiB was flaky: a
     * Burner's few short stacks sometimes fit in it) */
    o = (struct load_opts){.event = -1, .max_bytes = 16};
    CHECK_EQ(load_file(p, &o, &part, err, sizeof(err)), -EFBIG);
    CHECK(!part.stacks);
    CHECK_CONTAINS(err, "budget");
    load_result_free(&all);
}

TEST(a_heat_map_and_a_deadline_on_a_real_jfr)
{
    NEED(system("command -v java >/dev/null") == 0, "needs a JDK (java)");
    const char *p = jfr_path();
    CHECK(p);
    struct load_opts o = {.event = JFR_CPU, .heatmap = true};
    struct load_result r;
    char err[512];
    CHECK_MSG(load_file(p, &o, &r, err, sizeof(err)) == 0, "%s", err);
    CHECK(r.heatmap);
    load_result_free(&r);
    o.deadline_ms = 1; /* long past */
    CHECK_EQ(load_file(p, &o, &r, err, sizeof(err)), -ETIMEDOUT);
    CHECK_CONTAINS(err, "deadline");
    unlink(p);
}

TEST_MAIN(parses_seconds_since_the_start_and_rfc3339,
          picks_cpu_first_else_the_first_kind_with_samples,
          loads_collapsed_text_and_refuses_what_it_cannot_mean,
          picks_cpu_on_a_real_jfr_and_filters_a_time_range, a_heat_map_and_a_deadline_on_a_real_jfr)
