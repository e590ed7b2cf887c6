/* proc_connector: datagrams as the kernel frames them (parsed by hand),
 * then the real connector: a child's fork, exec and exit with its status. */
#include "events/proc_connector.h"
#include "harness.h"

#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXEV 32

struct got {
    struct pconn_event ev[MAXEV];
    int n;
};

static void record(const struct pconn_event *ev, void *arg)
{
    struct got *g = arg;
    if (g->n < MAXEV)
        g->ev[g->n++] = *ev;
}

/* One netlink message carrying one proc_event at buf+at; returns its
 * aligned length. cn_len < 0: the event's real size. */
static size_t put_event(uint8_t *buf, size_t at, const struct proc_event *pe, int cn_len)
{
    struct nlmsghdr nl = {0};
    struct cn_msg cn = {0};
    cn.id.idx = CN_IDX_PROC;
    cn.id.val = CN_VAL_PROC;
    cn.len = (uint16_t)(cn_len < 0 ? (int)sizeof(*pe) : cn_len);
    nl.nlmsg_len = (uint32_t)(sizeof(nl) + sizeof(cn) + sizeof(*pe));
    nl.nlmsg_type = NLMSG_DONE;
    memcpy(buf + at, &nl, sizeof(nl));
    memcpy(buf + at + sizeof(nl), &cn, sizeof(cn));
    memcpy(buf + at + sizeof(nl) + sizeof(cn), pe, sizeof(*pe));
    return NLMSG_ALIGN(nl.nlmsg_len);
}

TEST(parses_fork_exec_comm_exit_and_skips_the_rest)
{
    _Alignas(8) uint8_t buf[1024] = {0};
    struct proc_event pe;
    size_t n = 0;
    memset(&pe, 0, sizeof(pe));
    pe.what = PROC_EVENT_FORK;
    pe.event_data.fork = (struct fork_proc_event){10, 10, 11, 11};
    n += put_event(buf, n, &pe, -1);
    pe.what = PROC_EVENT_UID; /* not ours */
    n += put_event(buf, n, &pe, -1);
    memset(&pe.event_data, 0, sizeof(pe.event_data));
    pe.what = PROC_EVENT_EXEC;
    pe.event_data.exec = (struct exec_proc_event){11, 11};
    n += put_event(buf, n, &pe, -1);
    pe.what = PROC_EVENT_COMM;
    pe.event_data.comm.process_pid = 12;
    pe.event_data.comm.process_tgid = 11;
    n += put_event(buf, n, &pe, -1);
    memset(&pe.event_data, 0, sizeof(pe.event_data));
    pe.what = PROC_EVENT_EXIT;
    pe.event_data.exit.process_pid = 11;
    pe.event_data.exit.process_tgid = 11;
    pe.event_data.exit.exit_code = 3 << 8;
    n += put_event(buf, n, &pe, -1);
    struct got g = {0};
    CHECK_EQ(pconn_parse(buf, n, record, &g), 4);
    CHECK_EQ(g.n, 4);
    CHECK_EQ(g.ev[0].kind, PCONN_FORK);
    CHECK_EQ(g.ev[0].pid, 11);
    CHECK_EQ(g.ev[0].tgid, 11);
    CHECK_EQ(g.ev[0].parent_tgid, 10);
    CHECK_EQ(g.ev[1].kind, PCONN_EXEC);
    CHECK_EQ(g.ev[1].tgid, 11);
    CHECK_EQ(g.ev[2].kind, PCONN_COMM);
    CHECK_EQ(g.ev[2].pid, 12);
    CHECK_EQ(g.ev[2].tgid, 11);
    CHECK_EQ(g.ev[3].kind, PCONN_EXIT);
    CHECK_EQ(g.ev[3].status, 3u << 8);
}

TEST(malformed_datagrams_are_refused_after_what_was_whole)
{
    _Alignas(8) uint8_t buf[512] = {0};
    struct proc_event pe;
    memset(&pe, 0, sizeof(pe));
    pe.what = PROC_EVENT_EXEC;
    pe.event_data.exec = (struct exec_proc_event){7, 7};
    size_t n = put_event(buf, 0, &pe, -1);
    struct got g = {0};
    /* a second message claiming more bytes than the datagram has */
    struct nlmsghdr nl = {.nlmsg_len = 400, .nlmsg_type = NLMSG_DONE};
    memcpy(buf + n, &nl, sizeof(nl));
    CHECK_EQ(pconn_parse(buf, n + sizeof(nl), record, &g), -EINVAL);
    CHECK_EQ(g.n, 1);
    /* a connector payload longer than its message */
    memset(buf, 0, sizeof(buf));
    n = put_event(buf, 0, &pe, 300);
    g.n = 0;
    CHECK_EQ(pconn_parse(buf, n, record, &g), -EINVAL);
    CHECK_EQ(g.n, 0);
    /* too short for an event: skipped, not read past */
    memset(buf, 0, sizeof(buf));
    n = put_event(buf, 0, &pe, 8);
    CHECK_EQ(pconn_parse(buf, n, record, &g), 0);
    CHECK_EQ(pconn_parse(buf, 3, record, &g), 0);
}

struct child {
    pid_t pid;
    int fork, exec, exit;
    unsigned status;
};

static void on_child(const struct pconn_event *ev, void *arg)
{
    struct child *c = arg;
    if (ev->tgid != c->pid)
        return;
    if (ev->kind == PCONN_FORK)
        c->fork++;
    else if (ev->kind == PCONN_EXEC)
        c->exec++;
    else if (ev->kind == PCONN_EXIT) {
        c->exit++;
        c->status = ev->status;
    }
}

TEST(the_kernel_reports_a_childs_fork_exec_and_exit_status)
{
    struct pconn *pc = NULL;
    char err[200] = "";
    int rc = pconn_open(&pc, 0, err, sizeof(err));
    NEED(rc != -EPERM && getuid() == 0, "needs root (CAP_NET_ADMIN) for the process connector");
    CHECK_MSG(rc == 0, "%d %s", rc, err);
    struct child c = {0};
    c.pid = fork();
    CHECK(c.pid >= 0);
    if (c.pid == 0) {
        execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
        _exit(127);
    }
    int st;
    CHECK_EQ(waitpid(c.pid, &st, 0), c.pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        struct pollfd pfd = {pconn_fd(pc), POLLIN, 0};
        poll(&pfd, 1, 50);
        CHECK(pconn_drain(pc, on_child, &c) >= 0);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!c.exit && t.tv_sec - t0.tv_sec < 5);
    CHECK_EQ(c.fork, 1);
    CHECK_EQ(c.exec, 1);
    CHECK_EQ(c.exit, 1);
    CHECK_EQ(c.status, 3u << 8);
    pconn_close(pc);
}

TEST(an_overflowed_buffer_is_reported_then_reading_goes_on)
{
    struct pconn *pc = NULL;
    char err[200] = "";
    int rc = pconn_open(&pc, 1, err, sizeof(err)); /* the kernel's minimum */
    NEED(rc != -EPERM && getuid() == 0, "needs root (CAP_NET_ADMIN) for the process connector");
    CHECK_MSG(rc == 0, "%d %s", rc, err);
    for (int i = 0; i < 64; i++) { /* 128 events: far past a few datagrams */
        pid_t k = fork();
        CHECK(k >= 0);
        if (k == 0)
            _exit(0);
        CHECK_EQ(waitpid(k, NULL, 0), k);
    }
    CHECK_EQ(pconn_drain(pc, record, &(struct got){0}), -ENOBUFS);
    /* drained: the next events (ours first, whatever else the machine
     * does) are delivered again */
    pid_t k = fork();
    CHECK(k >= 0);
    if (k == 0)
        _exit(0);
    CHECK_EQ(waitpid(k, NULL, 0), k);
    struct got g = {0};
    for (int i = 0; i < 100 && g.n == 0; i++) {
        struct pollfd pfd = {pconn_fd(pc), POLLIN, 0};
        poll(&pfd, 1, 50);
        (void)pconn_drain(pc, record, &g);
    }
    CHECK(g.n > 0);
    pconn_close(pc);
}

TEST_MAIN(parses_fork_exec_comm_exit_and_skips_the_rest,
          malformed_datagrams_are_refused_after_what_was_whole,
          the_kernel_reports_a_childs_fork_exec_and_exit_status,
          an_overflowed_buffer_is_reported_then_reading_goes_on)
