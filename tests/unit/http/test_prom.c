/* prom: the /metrics exposition checked line by line against the text
 * format 0.0.4 (HELP/TYPE once per family, samples under their family,
 * valid names and labels, cumulative histogram), and the values rendered
 * from known counters. */
#include "harness.h"
#include "http/prom.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>

static bool valid_name(const char *s, size_t n)
{
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

/* {k="v",...}: names valid, values with only \\ \" \n escapes. Returns
 * the length of the label block or 0. */
static size_t valid_labels(const char *s)
{
    const char *p = s + 1;
    while (*p != '}') {
        const char *eq = strchr(p, '=');
        if (!eq || !valid_name(p, (size_t)(eq - p)) || eq[1] != '"')
            return 0;
        p = eq + 2;
        while (*p != '"') {
            if (!*p || *p == '\n')
                return 0;
            if (*p == '\\' && !(p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
                return 0;
            p += *p == '\\' ? 2 : 1;
        }
        p++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return 0;
    }
    return (size_t)(p - s) + 1;
}

/* Checks the whole exposition; returns NULL or what is wrong. */
static const char *lint(char *text, char *why, size_t cap)
{
    char family[128] = "", type[16] = "", seen[64][128];
    int n_seen = 0, line_no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        char name[128], t[16];
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (sscanf(line, "# TYPE %127s %15s", name, t) == 2) {
            for (int i = 0; i < n_seen; i++)
                if (strcmp(seen[i], name) == 0)
                    return snprintf(why, cap, "family %s repeated", name), why;
            snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
            snprintf(family, sizeof(family), "%s", name);
            snprintf(type, sizeof(type), "%s", t);
            if (strncmp(name, "flameshot_", 10) != 0)
                return snprintf(why, cap, "%s lacks the flameshot_ prefix", name), why;
            continue;
        }
        size_t nl = strcspn(line, "{ ");
        if (!valid_name(line, nl))
            return snprintf(why, cap, "line %d: bad name", line_no), why;
        size_t fl = strlen(family);
        bool ours =
            nl == fl ||
            (strcmp(type, "histogram") == 0 && nl > fl &&
             (strcmp(line + fl, "_bucket") == 0 || strncmp(line + fl, "_bucket{", 8) == 0 ||
              strncmp(line + fl, "_sum ", 5) == 0 || strncmp(line + fl, "_count ", 7) == 0));
        if (strncmp(line, family, fl) != 0 || !ours)
            return snprintf(why, cap, "line %d (%s) outside family %s", line_no, line, family), why;
        const char *v = line + nl;
        if (*v == '{') {
            size_t ll = valid_labels(v);
            if (!ll)
                return snprintf(why, cap, "line %d: bad labels", line_no), why;
            v += ll;
        }
        char *end;
        if (*v != ' ' || (strtod(v + 1, &end), *end != '\0'))
            return snprintf(why, cap, "line %d: bad value in \"%s\"", line_no, line), why;
    }
    return NULL;
}

static const struct prom_extra extra = {.start_time_s = 1700000000.25,
                                        .version = "0.1.0",
                                        .git_rev = "abc\"1\\2",
                                        .event_source = "bpf",
                                        .jobs_queued = 3,
                                        .jobs_running = 2,
                                        .outbox_oldest_age_ms = 1500,
                                        .local_items = 4,
                                        .local_bytes = 4096,
                                        .spool_max_bytes = 1 << 30};

static char *render(const struct metrics *m)
{
    size_t len = 0;
    char *s = prom_render(m, &extra, &len);
    if (s && strlen(s) != len) {
        free(s);
        return NULL;
    }
    return s;
}

TEST(format_is_valid)
{
    static struct metrics m;
    metrics_observe_attach(&m, 1500);
    char *s = render(&m), why[256];
    CHECK(s != NULL);
    CHECK_MSG(s[strlen(s) - 1] == '\n', "no final newline");
    const char *bad = lint(s, why, sizeof(why));
    CHECK_MSG(bad == NULL, "%s", bad);
    free(s);
}

TEST(values_rendered)
{
    static struct metrics m;
    atomic_store(&m.targets, 5);
    atomic_store(&m.triggers[MT_HTTP], 7);
    atomic_store(&m.triggers[MT_CGROUP_PRESSURE], 2);
    atomic_store(&m.jobs[MJ_DONE], 11);
    atomic_store(&m.jobs[MJ_REJECTED], 1);
    atomic_store(&m.jobs_rejected[MR_TENANT_QUEUE_FULL], 1);
    atomic_store(&m.uploads_ok, 9);
    atomic_store(&m.uploads_failed, 4);
    atomic_store(&m.outbox_bytes, 123456);
    atomic_store(&m.outbox_items, 6);
    atomic_store(&m.outbox_dropped, 2);
    atomic_store(&m.events_total, 1000);
    atomic_store(&m.events_lost, 3);
    atomic_store(&m.ringbuf_full, 1);
    atomic_store(&m.events_resyncs, 2);
    atomic_store(&m.resync_found, 1);
    atomic_store(&m.resync_gone, 4);
    atomic_store(&m.http_by_code[metrics_http_code_index(429)], 5000);
    atomic_store(&m.http_by_code[metrics_http_code_index(202)], 2);
    atomic_store(&m.http_by_code[metrics_http_code_index(418)], 1);
    atomic_store(&m.http_rate_limited, 5000);
    char *s = render(&m);
    CHECK(s != NULL);
    CHECK_CONTAINS(s, "\nflameshot_targets 5\n");
    CHECK_CONTAINS(s, "flameshot_start_time_seconds 1700000000.25\n");
    CHECK_CONTAINS(s, "flameshot_build_info{version=\"0.1.0\",git_rev=\"abc\\\"1\\\\2\"} 1\n");
    CHECK_CONTAINS(s, "flameshot_triggers_total{kind=\"http\"} 7\n");
    CHECK_CONTAINS(s, "flameshot_triggers_total{kind=\"cgroup_memory_pressure\"} 2\n");
    CHECK_CONTAINS(s, "flameshot_triggers_total{kind=\"cpu\"} 0\n");
    CHECK_CONTAINS(s, "flameshot_jobs_total{outcome=\"done\"} 11\n");
    CHECK_CONTAINS(s, "flameshot_jobs_total{outcome=\"rejected\"} 1\n");
    CHECK_CONTAINS(s, "flameshot_jobs_rejected_total{reason=\"container_queue_full\"} 1\n");
    CHECK_CONTAINS(s, "flameshot_jobs_rejected_total{reason=\"duplicate\"} 0\n");
    CHECK_CONTAINS(s, "flameshot_jobs_queued 3\n");
    CHECK_CONTAINS(s, "flameshot_jobs_running 2\n");
    CHECK_CONTAINS(s, "flameshot_uploads_total{result=\"ok\"} 9\n");
    CHECK_CONTAINS(s, "flameshot_uploads_total{result=\"failed\"} 4\n");
    CHECK_CONTAINS(s, "flameshot_outbox_bytes 123456\n");
    CHECK_CONTAINS(s, "flameshot_outbox_items 6\n");
    CHECK_CONTAINS(s, "flameshot_outbox_oldest_age_seconds 1.5\n");
    CHECK_CONTAINS(s, "flameshot_outbox_dropped_total 2\n");
    CHECK_CONTAINS(s, "flameshot_event_source_info{source=\"bpf\"} 1\n");
    CHECK_CONTAINS(s, "flameshot_events_total 1000\n");
    CHECK_CONTAINS(s, "flameshot_events_lost_total 3\n");
    CHECK_CONTAINS(s, "flameshot_ringbuf_full_total 1\n");
    CHECK_CONTAINS(s, "flameshot_events_resyncs_total 2\n");
    CHECK_CONTAINS(s, "flameshot_events_resync_found_total 1\n");
    CHECK_CONTAINS(s, "flameshot_events_resync_gone_total 4\n");
    CHECK_CONTAINS(s, "flameshot_http_requests_total{code=\"429\"} 5000\n");
    CHECK_CONTAINS(s, "flameshot_http_requests_total{code=\"202\"} 2\n");
    CHECK_CONTAINS(s, "flameshot_http_requests_total{code=\"other\"} 1\n");
    CHECK_CONTAINS(s, "flameshot_http_rate_limited_total 5000\n");
    CHECK_CONTAINS(s, "# TYPE flameshot_http_requests_total counter\n");
    free(s);
}

TEST(attach_histogram_cumulative)
{
    static struct metrics m;
    metrics_observe_attach(&m, 3000);     /* 3 ms: le 0.005 */
    metrics_observe_attach(&m, 5000);     /* exactly 5 ms: le 0.005 too */
    metrics_observe_attach(&m, 30000);    /* 30 ms: le 0.05 */
    metrics_observe_attach(&m, 20000000); /* 20 s: +Inf only */
    char *s = render(&m);
    CHECK(s != NULL);
    CHECK_CONTAINS(s, "# TYPE flameshot_attach_duration_seconds histogram\n");
    /* the fine low end: a running listener is reached in a few ms */
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"0.002\"} 0\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"0.003\"} 1\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"0.0075\"} 2\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"0.005\"} 2\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"0.025\"} 2\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"0.05\"} 3\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"10\"} 3\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_bucket{le=\"+Inf\"} 4\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_count 4\n");
    CHECK_CONTAINS(s, "flameshot_attach_duration_seconds_sum 20.038000\n");
    /* buckets never decrease */
    unsigned long long prev = 0, v;
    for (const char *p = s; (p = strstr(p, "_bucket{le=\"")); p++) {
        const char *sp = strchr(p, ' ');
        v = strtoull(sp + 1, NULL, 10);
        CHECK(v >= prev);
        prev = v;
    }
    free(s);
}

/* The checker above must itself reject what Prometheus would. */
TEST(lint_rejects_bad_expositions)
{
    static const char *bad[] = {
        "# TYPE flameshot_a gauge\nflameshot_a 1\n# TYPE flameshot_a gauge\nflameshot_a 2\n",
        "# TYPE flameshot_a gauge\nflameshot_b 1\n",
        "# TYPE flameshot_a gauge\nflameshot_a{k=\"a\\qb\"} 1\n",
        "# TYPE flameshot_a gauge\nflameshot_a{k=\"v\" 1\n",
        "# TYPE flameshot_a gauge\nflameshot_a one\n",
        "# TYPE other_a gauge\nother_a 1\n",
        "# TYPE flameshot_a counter\nflameshot_a_sum 1\n",
    };
    char why[256], text[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "%s", bad[i]);
        CHECK_MSG(lint(text, why, sizeof(why)) != NULL, "accepted: %s", bad[i]);
    }
    snprintf(text, sizeof(text),
             "# HELP flameshot_h x\n# TYPE flameshot_h histogram\n"
             "flameshot_h_bucket{le=\"+Inf\"} 1\nflameshot_h_sum 0.5\nflameshot_h_count 1\n");
    CHECK(lint(text, why, sizeof(why)) == NULL);
}

TEST(label_escaping)
{
    char buf[64];
    CHECK_STREQ(prom_escape_label("a\"b\\c\nd", buf, sizeof(buf)), "a\\\"b\\\\c\\nd");
    CHECK_STREQ(prom_escape_label("plain", buf, sizeof(buf)), "plain");
    char small[6];
    CHECK_STREQ(prom_escape_label("abcdefgh", small, sizeof(small)), "abc"); /* cut, terminated */
}

TEST_MAIN(format_is_valid, values_rendered, attach_histogram_cumulative,
          lint_rejects_bad_expositions, label_escaping)
