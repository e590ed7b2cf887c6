/* proc_connector: the kernel's process connector (netlink
 * NETLINK_CONNECTOR, CN_IDX_PROC, CONFIG_PROC_EVENTS): a datagram for every
 * fork, exec, comm change and exit of every task on the machine, as it
 * happens. The poller uses it to learn which processes changed instead of
 * listing /proc and re-reading every process's stat: its cost then follows
 * the rate of changes, not the number of processes.
 *
 * Needs the daemon in the initial network and PID namespaces (the kernel
 * sends to the initial network namespace only, and names tasks by their
 * initial-namespace PIDs), and CAP_NET_ADMIN before Linux 6.6:
 * pconn_open() checks all of it with a forked child whose fork it must
 * see. Not thread-safe. */
#ifndef FS_PROC_CONNECTOR_H
#define FS_PROC_CONNECTOR_H

#include <stddef.h>

struct pconn;

enum pconn_kind {
    PCONN_FORK, /* pid/tgid: the child; parent_tgid its parent */
    PCONN_EXEC,
    PCONN_COMM, /* the task renamed itself (prctl PR_SET_NAME) */
    PCONN_EXIT, /* a task (any thread) exited; status is the raw wait status */
};

struct pconn_event {
    enum pconn_kind kind;
    int pid, tgid;   /* the task and its process; pid == tgid: the leader */
    int parent_tgid; /* PCONN_FORK only */
    unsigned status; /* PCONN_EXIT only: exit code << 8 | terminating signal */
};

typedef void (*pconn_fn)(const struct pconn_event *ev, void *arg);

/* Opens, subscribes and checks that events arrive and name PIDs as this
 * process sees them (a forked child's fork, within 1 s); then sizes the
 * socket's buffer to rcvbuf bytes (0: 4 MiB; tests force overflows with a
 * tiny one). Returns 0 and
 * *out, or -errno with why (a sentence) in err: -EPERM (no CAP_NET_ADMIN),
 * -EPROTONOSUPPORT (a kernel without the connector), -ENOTSUP (no event
 * arrived or its PID differs: another network or PID namespace). */
int pconn_open(struct pconn **out, int rcvbuf, char *err, size_t errcap);
void pconn_close(struct pconn *c);

/* The socket, readable when events are queued. Owned by c. */
int pconn_fd(const struct pconn *c);

/* Reads every queued datagram without blocking, calling fn per event.
 * Returns the number of events, -ENOBUFS when the kernel dropped some
 * since the last call (the socket's buffer overflowed: the caller must
 * resynchronise; reading goes on at the next call), or -errno. */
int pconn_drain(struct pconn *c, pconn_fn fn, void *arg);

/* The events of one netlink datagram of len bytes; other connector
 * messages and event kinds are skipped. Returns the number of events, or
 * -EINVAL for a malformed datagram (the events before the fault were
 * delivered). Pure: for pconn_drain and tests. */
int pconn_parse(const void *buf, size_t len, pconn_fn fn, void *arg);

#endif
