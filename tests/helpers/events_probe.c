/* events_probe: opens the event source as the daemon does and prints every
 * record as one JSON line on stdout, for the integration tests.
 *
 *   events_probe [--bpf auto|on|off] [--classic] [--period-ms N]
 *                [--ringbuf BYTES] [--duration-ms N] [--stall-ms N] [--comm NAME]...
 *
 * --comm limits exec/exit/watermark_proc/step_proc lines to those comms
 * (oom, cgroup watermark and cgroup step lines always print). --stall-ms
 * does not consume for that long after "ready" (to overflow a small
 * --ringbuf on purpose).
 *
 * Commands, one per line on stdin, each answered by an "ack" line:
 *   watch DIR | unwatch DIR                 a memory cgroup directory
 *   cgwm DIR BYTES HYST | cgwm-clear DIR
 *   procwm PID BYTES HYST | procwm-clear PID
 *   cgsteps DIR FROM STEP | procsteps PID FROM STEP   (STEP 0 removes)
 *   stats | quit
 *
 * Lines: {"kind":"ready","source":"bpf|poller","detail":"..."} first, then
 * records {"kind":"exec",...,"ts_ns":N,"seen_ns":N} where seen_ns is
 * CLOCK_BOOTTIME when the callback ran (ts_ns is the event's own). Exits 0
 * on quit, EOF of stdin after --duration-ms, or the duration; 2 when the
 * source cannot open (the reason on stderr). */
#include "events/cgroup.h"
#include "events/events.h"
#include "core/log.h"
#include "core/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_COMMS 8

struct probe {
    struct events_source *src;
    struct metrics metrics;
    const char *comms[MAX_COMMS];
    int ncomms;
    char line[4096];
    size_t len;
    bool quit;
};

static uint64_t boot_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void json_str(const char *s, size_t max)
{
    putchar('"');
    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static bool wanted(const struct probe *pr, const struct fs_event *ev)
{
    if (!pr->ncomms || ev->kind == FS_EV_WATERMARK_CGROUP || ev->kind == FS_EV_STEP_CGROUP ||
        ev->kind == FS_EV_OOM)
        return true;
    for (int i = 0; i < pr->ncomms; i++)
        if (strncmp(ev->comm, pr->comms[i], FS_COMM_LEN - 1) == 0)
            return true;
    return false;
}

static void on_event(const struct fs_event *ev, void *arg)
{
    struct probe *pr = arg;
    if (!wanted(pr, ev))
        return;
    printf("{\"kind\":\"%s\",\"pid\":%d,\"tgid\":%d,\"ppid\":%d,\"comm\":",
           events_kind_name(ev->kind), ev->pid, ev->tgid, ev->ppid);
    json_str(ev->comm, FS_COMM_LEN);
    printf(",\"cgroup_id\":%llu,\"exit_code\":%d,\"exit_signal\":%d,\"value_bytes\":%llu,"
           "\"watermark_bytes\":%llu,\"flags\":%u,\"ts_ns\":%llu,\"seen_ns\":%" PRIu64 "}\n",
           (unsigned long long)ev->cgroup_id, ev->exit_code, ev->exit_signal,
           (unsigned long long)ev->value_bytes, (unsigned long long)ev->watermark_bytes, ev->flags,
           (unsigned long long)ev->ts_ns, boot_ns());
    fflush(stdout);
}

static void ack(const char *cmd, int rc, uint64_t id)
{
    printf("{\"kind\":\"ack\",\"cmd\":\"%s\",\"rc\":%d,\"id\":%" PRIu64 "}\n", cmd, rc, id);
    fflush(stdout);
}

static void print_stats(struct probe *pr)
{
    struct events_stats st;
    events_stats(pr->src, &st);
    printf("{\"kind\":\"stats\",\"source\":\"%s\",\"events\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"ringbuf_full\":%" PRIu64 ",\"metrics_total\":%" PRIu64 ",\"metrics_lost\":%" PRIu64
           ",\"metrics_ringbuf_full\":%" PRIu64 "}\n",
           events_name(pr->src), st.events, st.lost, st.ringbuf_full,
           (uint64_t)pr->metrics.events_total, (uint64_t)pr->metrics.events_lost,
           (uint64_t)pr->metrics.ringbuf_full);
    fflush(stdout);
}

static int cg_cmd(struct probe *pr, const char *cmd, const char *dir, uint64_t a, uint64_t b)
{
    uint64_t id = 0;
    int rc = cgroup_dir_id(dir, &id);
    if (rc == 0 && strcmp(cmd, "watch") == 0)
        rc = events_watch_cgroup(pr->src, id, dir);
    else if (rc == 0 && strcmp(cmd, "unwatch") == 0)
        rc = events_unwatch_cgroup(pr->src, id);
    else if (rc == 0 && strcmp(cmd, "cgwm") == 0)
        rc = events_set_cgroup_watermark(pr->src, id, a, b);
    else if (rc == 0 && strcmp(cmd, "cgwm-clear") == 0)
        rc = events_clear_cgroup_watermark(pr->src, id);
    else if (rc == 0 && strcmp(cmd, "cgsteps") == 0)
        rc = events_set_cgroup_steps(pr->src, id, a, b);
    ack(cmd, rc, id);
    return rc;
}

static void command(struct probe *pr, char *line)
{
    char cmd[32], arg[2048];
    unsigned long long a = 0, b = 0;
    int n = sscanf(line, "%31s %2047s %llu %llu", cmd, arg, &a, &b);
    if (n < 1)
        return;
    if (strcmp(cmd, "quit") == 0) {
        pr->quit = true;
    } else if (strcmp(cmd, "stats") == 0) {
        print_stats(pr);
    } else if (strcmp(cmd, "procwm") == 0 && n == 4) {
        ack(cmd, events_set_proc_watermark(pr->src, atoi(arg), a, b), (uint64_t)atoi(arg));
    } else if (strcmp(cmd, "procsteps") == 0 && n == 4) {
        ack(cmd, events_set_proc_steps(pr->src, atoi(arg), a, b), (uint64_t)atoi(arg));
    } else if (strcmp(cmd, "procwm-clear") == 0 && n >= 2) {
        ack(cmd, events_clear_proc_watermark(pr->src, atoi(arg)), (uint64_t)atoi(arg));
    } else if (n >= 2) {
        cg_cmd(pr, cmd, arg, a, b);
    } else {
        ack(cmd, -EINVAL, 0);
    }
}

/* Returns false at EOF. */
static bool read_commands(struct probe *pr)
{
    ssize_t n = read(0, pr->line + pr->len, sizeof(pr->line) - 1 - pr->len);
    if (n <= 0)
        return n < 0;
    pr->len += (size_t)n;
    pr->line[pr->len] = '\0';
    char *nl;
    while ((nl = strchr(pr->line, '\n'))) {
        *nl = '\0';
        command(pr, pr->line);
        size_t rest = pr->len - (size_t)(nl + 1 - pr->line);
        memmove(pr->line, nl + 1, rest + 1);
        pr->len = rest;
    }
    if (pr->len == sizeof(pr->line) - 1)
        pr->len = 0; /* an absurd line: drop it */
    return true;
}

static int parse_args(int argc, char **argv, struct events_options *o, struct probe *pr,
                      long *duration, long *stall)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--classic") == 0) {
            o->force_classic = true;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (strcmp(a, "--bpf") == 0)
            o->mode = strcmp(v, "on") == 0    ? FS_BPF_ON
                      : strcmp(v, "off") == 0 ? FS_BPF_OFF
                                              : FS_BPF_AUTO;
        else if (strcmp(a, "--period-ms") == 0)
            o->poll_period_ms = (uint32_t)atoi(v);
        else if (strcmp(a, "--ringbuf") == 0)
            o->ringbuf_bytes = (uint32_t)atol(v);
        else if (strcmp(a, "--duration-ms") == 0)
            *duration = atol(v);
        else if (strcmp(a, "--stall-ms") == 0)
            *stall = atol(v);
        else if (strcmp(a, "--comm") == 0 && pr->ncomms < MAX_COMMS)
            pr->comms[pr->ncomms++] = v;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct events_options o = {.mode = FS_BPF_AUTO};
    struct probe pr = {0};
    long duration = -1, stall = 0;
    char err[512];
    if (parse_args(argc, argv, &o, &pr, &duration, &stall) < 0) {
        fprintf(stderr, "usage: events_probe [--bpf auto|on|off] [--classic] [--period-ms N] "
                        "[--ringbuf BYTES] [--duration-ms N] [--stall-ms N] [--comm NAME]...\n");
        return 64;
    }
    log_set_level(getenv("PROBE_DEBUG") ? LOG_DEBUG : LOG_INFO);
    o.metrics = &pr.metrics;
    if (events_open(&o, &pr.src, err, sizeof(err)) < 0) {
        fprintf(stderr, "events_probe: %s\n", err);
        return 2;
    }
    printf("{\"kind\":\"ready\",\"source\":\"%s\",\"detail\":", events_name(pr.src));
    json_str(events_detail(pr.src), 256);
    printf("}\n");
    fflush(stdout);
    if (stall > 0)
        usleep((useconds_t)stall * 1000);
    uint64_t end = duration >= 0 ? boot_ns() + (uint64_t)duration * 1000000ull : UINT64_MAX;
    bool stdin_open = true;
    while (!pr.quit && boot_ns() < end) {
        struct pollfd fds[2] = {{.fd = events_fd(pr.src), .events = POLLIN},
                                {.fd = stdin_open ? 0 : -1, .events = POLLIN}};
        if (poll(fds, 2, 20) < 0 && errno != EINTR)
            break;
        events_consume(pr.src, on_event, &pr);
        if (fds[1].revents)
            stdin_open = read_commands(&pr);
        if (!stdin_open && duration < 0)
            break;
    }
    events_consume(pr.src, on_event, &pr);
    print_stats(&pr);
    events_close(pr.src);
    return 0;
}
