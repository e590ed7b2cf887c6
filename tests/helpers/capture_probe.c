/* capture_probe: drives the capture API from the integration tests and
 * prints what it returned as one JSON object on stdout.
 *
 *   capture_probe profile  <pid> <out.jfr> [duration_ms] [events] [asprof_path] [cancel_after_ms]
 *   capture_probe snapshot <pid> <histogram.txt> <threads.txt> [timeout_ms] [all|threads|histogram]
 *                 (all: CAPTURE_SNAP_HISTOGRAM_ALL; threads, histogram: that one alone)
 *   capture_probe load     <pid> <library.so> <options> [timeout_ms]
 *
 * CAPTURE_PROBE_ATTACH_MS bounds each attach step of a profile (default
 * the API's 10 s): a test on a loaded machine can give a JVM's first
 * JFR.start longer.
 *
 * Exit status: 0 when the call returned 0, 1 otherwise, 2 on usage. */
#include "capture/capture.h"
#include "capture/jvm.h"
#include "core/metrics.h"
#include "core/rules.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define PROFILE_MAX_BYTES (256ull << 20) /* FLAMESHOT_MAX_PROFILE_MB's default */

static int usage(void)
{
    fprintf(stderr, "usage: capture_probe profile|snapshot|load <pid> ...\n");
    return 2;
}

static void print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s ? s : "{}");
    free(s);
    cJSON_Delete(o);
}

static int open_out(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

struct canceller {
    int fd;
    uint64_t after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct timespec ts = {.tv_sec = (time_t)(c->after_ms / 1000),
                          .tv_nsec = (long)(c->after_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    uint64_t one = 1;
    if (write(c->fd, &one, sizeof(one)) < 0)
        perror("eventfd");
    return NULL;
}

static int profile(const struct proc_ident *id, int argc, char **argv, struct metrics *m)
{
    struct profile_req req = {.duration_ms = 3000, .cancel_fd = -1, .metrics = m};
    const char *tmo = getenv("CAPTURE_PROBE_ATTACH_MS");
    req.attach_timeout_ms = tmo ? strtoull(tmo, NULL, 10) : 0;
    if (argc > 4)
        req.duration_ms = strtoull(argv[4], NULL, 10);
    const char *why = NULL;
    if (argc > 5 && *argv[5] && prof_events_parse(argv[5], &req.events, &why, NULL, 0) < 0) {
        fprintf(stderr, "events: %s\n", why);
        return 2;
    }
    if (argc > 6 && *argv[6])
        req.async_profiler_path = argv[6];
    pthread_t t;
    struct canceller c = {.fd = -1};
    if (argc > 7) {
        c.fd = eventfd(0, EFD_CLOEXEC);
        c.after_ms = strtoull(argv[7], NULL, 10);
        req.cancel_fd = c.fd;
        pthread_create(&t, NULL, cancel_later, &c);
    }
    int fd = open_out(argv[3]);
    struct bounded out = {.write = bounded_fd_write, .arg = &fd, .cap = PROFILE_MAX_BYTES};
    req.out = &out;
    struct profile_result res;
    int rc = capture_profile(id, &req, &res);
    close(fd);
    if (c.fd >= 0)
        pthread_join(t, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rc", rc);
    cJSON_AddStringToObject(o, "outcome", capture_outcome_name(res.outcome));
    cJSON_AddStringToObject(o, "reason", res.reason);
    cJSON_AddStringToObject(o, "library_type", res.library_type);
    cJSON_AddStringToObject(o, "library_version", res.library_version);
    cJSON_AddStringToObject(o, "jdk_version", res.jdk_version);
    cJSON_AddStringToObject(o, "events", res.events);
    cJSON_AddStringToObject(o, "asprof_skipped", res.asprof_skipped);
    cJSON_AddNumberToObject(o, "bytes", (double)res.bytes);
    cJSON_AddNumberToObject(o, "duration_ms", (double)(res.end_ns - res.start_ns) / 1e6);
    cJSON_AddNumberToObject(o, "attach_count", (double)m->attach_count);
    print(o);
    return rc == 0 ? 0 : 1;
}

static cJSON *summary(const struct snapshot_summary *s, const char *path)
{
    char *j = snapshot_summary_json(s, path);
    cJSON *o = cJSON_Parse(j);
    free(j);
    cJSON_AddStringToObject(o, "file_name", s->file_name);
    cJSON_AddNumberToObject(o, "rc", s->rc);
    cJSON_AddNumberToObject(o, "jvm_rc", s->jvm_rc);
    cJSON_AddStringToObject(o, "error", s->error);
    cJSON_AddNumberToObject(o, "ended_s", (double)s->ended_ns / 1e9);
    return o;
}

static int snapshot(const struct proc_ident *id, int argc, char **argv, struct metrics *m)
{
    if (argc < 5)
        return usage();
    uint64_t tmo = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    int h = open_out(argv[3]), t = open_out(argv[4]);
    struct bounded hb = {.write = bounded_fd_write, .arg = &h, .cap = CAPTURE_JCMD_MAX_BYTES};
    struct bounded tb = {.write = bounded_fd_write, .arg = &t, .cap = CAPTURE_JCMD_MAX_BYTES};
    struct snapshot_summary out[SNAPSHOT_TYPES];
    const char *opt = argc > 6 ? argv[6] : "";
    unsigned flags = strcmp(opt, "all") == 0         ? CAPTURE_SNAP_HISTOGRAM_ALL
                     : strcmp(opt, "threads") == 0   ? CAPTURE_SNAP_NO_HISTOGRAM
                     : strcmp(opt, "histogram") == 0 ? CAPTURE_SNAP_NO_THREADS
                                                     : 0;
    int rc = capture_snapshots(id, tmo, flags, &hb, &tb, m, out);
    close(h);
    close(t);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rc", rc);
    cJSON_AddItemToObject(o, "histogram", summary(&out[SNAPSHOT_GC_CLASS_HISTOGRAM], argv[3]));
    cJSON_AddItemToObject(o, "threads", summary(&out[SNAPSHOT_THREAD_PRINT], argv[4]));
    print(o);
    return rc == 0 ? 0 : 1;
}

static int load(const struct proc_ident *id, int argc, char **argv, struct metrics *m)
{
    if (argc < 5)
        return usage();
    uint64_t tmo = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    struct capture_agent_result res;
    int rc = capture_load_agent(id, argv[3], argv[4], tmo, m, &res);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rc", rc);
    cJSON_AddNumberToObject(o, "agent_rc", res.agent_rc);
    cJSON_AddStringToObject(o, "reason", res.reason);
    cJSON_AddStringToObject(o, "staged", res.stage.path);
    cJSON_AddStringToObject(o, "dir", res.stage.dir);
    cJSON_AddStringToObject(o, "sha256", res.stage.sha256);
    cJSON_AddStringToObject(o, "rejected", res.stage.rejected);
    print(o);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    struct proc_ident id;
    if (procfs_ident(NULL, atoi(argv[2]), &id) < 0) {
        fprintf(stderr, "no process %s\n", argv[2]);
        return 1;
    }
    struct metrics m;
    memset(&m, 0, sizeof(m));
    if (strcmp(argv[1], "profile") == 0)
        return profile(&id, argc, argv, &m);
    if (strcmp(argv[1], "snapshot") == 0)
        return snapshot(&id, argc, argv, &m);
    if (strcmp(argv[1], "load") == 0)
        return load(&id, argc, argv, &m);
    return usage();
}
