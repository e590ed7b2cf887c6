#include "events/proc_connector.h"

#include "core/caps.h"

#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The kernel queues a datagram per event (~1 KiB of buffer each, whatever
 * its length): 4 MiB hold ~4,000 events, 200 ms of a 20,000 exec/s storm's
 * forks, execs and exits for a consumer that drains every 50 ms. */
#define RCVBUF   (4 << 20)
#define CHECK_MS 1000

struct pconn {
    int fd;
};

struct pconn_msg {
    struct nlmsghdr nl;
    struct cn_msg cn;
    enum proc_cn_mcast_op op;
} __attribute__((packed));

static int subscribe(int fd, enum proc_cn_mcast_op op)
{
    struct pconn_msg m;
    memset(&m, 0, sizeof(m));
    m.nl.nlmsg_len = sizeof(m);
    m.nl.nlmsg_type = NLMSG_DONE;
    m.nl.nlmsg_pid = 0;
    m.cn.id.idx = CN_IDX_PROC;
    m.cn.id.val = CN_VAL_PROC;
    m.cn.len = sizeof(m.op);
    m.op = op;
    return send(fd, &m, sizeof(m), 0) == (ssize_t)sizeof(m) ? 0 : -errno;
}

static int event_of(const struct proc_event *pe, struct pconn_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    switch (pe->what) {
    case PROC_EVENT_FORK:
        *ev = (struct pconn_event){PCONN_FORK, pe->event_data.fork.child_pid,
                                   pe->event_data.fork.child_tgid, pe->event_data.fork.parent_tgid,
                                   0};
        return 1;
    case PROC_EVENT_EXEC:
        *ev = (struct pconn_event){PCONN_EXEC, pe->event_data.exec.process_pid,
                                   pe->event_data.exec.process_tgid, 0, 0};
        return 1;
    case PROC_EVENT_COMM:
        *ev = (struct pconn_event){PCONN_COMM, pe->event_data.comm.process_pid,
                                   pe->event_data.comm.process_tgid, 0, 0};
        return 1;
    case PROC_EVENT_EXIT:
        *ev = (struct pconn_event){PCONN_EXIT, pe->event_data.exit.process_pid,
                                   pe->event_data.exit.process_tgid, 0,
                                   pe->event_data.exit.exit_code};
        return 1;
    default:
        return 0;
    }
}

int pconn_parse(const void *buf, size_t len, pconn_fn fn, void *arg)
{
    const uint8_t *p = buf;
    int n = 0;
    while (len >= sizeof(struct nlmsghdr)) {
        struct nlmsghdr nl;
        memcpy(&nl, p, sizeof(nl));
        if (nl.nlmsg_len < sizeof(nl) || nl.nlmsg_len > len)
            return -EINVAL;
        size_t body = nl.nlmsg_len - sizeof(nl);
        const uint8_t *b = p + sizeof(nl);
        if (nl.nlmsg_type != NLMSG_NOOP && nl.nlmsg_type != NLMSG_ERROR &&
            body >= sizeof(struct cn_msg)) {
            struct cn_msg cn;
            memcpy(&cn, b, sizeof(cn));
            if (cn.len > body - sizeof(cn))
                return -EINVAL;
            /* fields up to the union's largest member a kernel sends */
            if (cn.id.idx == CN_IDX_PROC && cn.id.val == CN_VAL_PROC &&
                cn.len >= offsetof(struct proc_event, event_data) + 16) {
                struct proc_event pe;
                memset(&pe, 0, sizeof(pe));
                memcpy(&pe, b + sizeof(cn), cn.len < sizeof(pe) ? cn.len : sizeof(pe));
                struct pconn_event ev;
                if (event_of(&pe, &ev)) {
                    fn(&ev, arg);
                    n++;
                }
            }
        }
        size_t step = NLMSG_ALIGN(nl.nlmsg_len);
        if (step >= len)
            break;
        p += step;
        len -= step;
    }
    return n;
}

int pconn_drain(struct pconn *c, pconn_fn fn, void *arg)
{
    uint64_t buf[1024]; /* 8 KiB: a datagram is one event, ~100 bytes */
    int total = 0, lost = 0;
    for (;;) {
        ssize_t got = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                lost = 1;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        int n = pconn_parse(buf, (size_t)got, fn, arg);
        if (n > 0)
            total += n;
    }
    return lost ? -ENOBUFS : total;
}

struct check {
    pid_t child;
    int seen;
};

static void on_check(const struct pconn_event *ev, void *arg)
{
    struct check *k = arg;
    if (ev->kind == PCONN_FORK && ev->pid == k->child)
        k->seen = 1;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A child's fork must come back under the PID fork() returned: in another
 * network namespace nothing comes, in another PID namespace another PID. */
static int self_check(struct pconn *c)
{
    struct check k = {0, 0};
    k.child = fork();
    if (k.child < 0)
        return -errno;
    if (k.child == 0)
        _exit(0);
    while (waitpid(k.child, NULL, 0) < 0 && errno == EINTR)
        ;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!k.seen && ms_since(&t0) < CHECK_MS) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) < 0 && errno != EINTR)
            return -errno;
        int rc = pconn_drain(c, on_check, &k);
        if (rc < 0 && rc != -ENOBUFS)
            return rc;
    }
    return k.seen ? 0 : -ENOTSUP;
}

/* FORCE: past net.core.rmem_max, as CAP_NET_ADMIN allows */
static void set_rcvbuf(int fd, int size)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static int setup(struct pconn *c, int rcvbuf, char *err, size_t errcap)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
    c->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (c->fd < 0) {
        int rc = -errno;
        snprintf(err, errcap, "no netlink connector socket: %s", strerror(errno));
        return rc == -EPROTONOSUPPORT || rc == -EAFNOSUPPORT ? -EPROTONOSUPPORT : rc;
    }
    set_rcvbuf(c->fd, RCVBUF);
    if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int rc = -errno;
        snprintf(err, errcap, "cannot join the process connector: %s", strerror(errno));
        return rc;
    }
    int rc = subscribe(c->fd, PROC_CN_MCAST_LISTEN);
    if (rc < 0) {
        snprintf(err, errcap, "cannot subscribe to process events: %s", strerror(-rc));
        return rc;
    }
    rc = self_check(c);
    if (rc == -ENOTSUP)
        snprintf(err, errcap,
                 "no process event named a forked child within %d ms "
                 "(another network or PID namespace?)",
                 CHECK_MS);
    else if (rc < 0)
        snprintf(err, errcap, "process connector check: %s", strerror(-rc));
    if (rc == 0 && rcvbuf > 0)
        set_rcvbuf(c->fd, rcvbuf);
    return rc;
}

int pconn_open(struct pconn **out, int rcvbuf, char *err, size_t errcap)
{
    struct pconn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    int rc = setup(c, rcvbuf, err, errcap);
    if (rc < 0) {
        /* before Linux 6.6 a refused subscription may only show as no
         * event arriving: name the capability whenever it is missing */
        char hint[128];
        size_t n = strlen(err);
        snprintf(err + n, errcap > n ? errcap - n : 0, "%s",
                 caps_hint(CAPS_PROC_CONNECTOR, hint, sizeof(hint)));
        pconn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void pconn_close(struct pconn *c)
{
    if (!c)
        return;
    if (c->fd >= 0) {
        (void)subscribe(c->fd, PROC_CN_MCAST_IGNORE);
        close(c->fd);
    }
    free(c);
}

int pconn_fd(const struct pconn *c)
{
    return c->fd;
}
