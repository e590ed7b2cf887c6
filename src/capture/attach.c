#include "capture/attach.h"

#include "core/caps.h"
#include "core/metrics.h"
#include "capture/nsexec.h"
#include "capture/rootfs.h"
#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX     (2 + (ATTACH_NAME_MAX + 1) + ATTACH_NARGS * (ATTACH_ARG_MAX + 1))
#define POLL_FIRST_MS 10
#define POLL_MAX_MS   500
#define EXIT_GRACE_MS 250 /* see exited_during */
#define TURNS_MAX     64  /* JVMs being connected to at once */

/* ---- framing and reply parsing ------------------------------------------ */

int attach_frame(const char *cmd, const char *const args[ATTACH_NARGS], char *buf, size_t cap,
                 size_t *len, char *err, size_t errcap)
{
    size_t n = strlen(cmd ? cmd : "");
    if (n == 0 || n > ATTACH_NAME_MAX) {
        snprintf(err, errcap, "attach command name '%s' must be 1..%d bytes", cmd ? cmd : "",
                 ATTACH_NAME_MAX);
        return -EINVAL;
    }
    size_t pos = 0;
    const char *parts[2 + ATTACH_NARGS] = {"1", cmd};
    for (int i = 0; i < ATTACH_NARGS; i++)
        parts[2 + i] = args && args[i] ? args[i] : "";
    for (int i = 0; i < 2 + ATTACH_NARGS; i++) {
        size_t l = strlen(parts[i]);
        if (i >= 2 && l > ATTACH_ARG_MAX) {
            snprintf(err, errcap, "attach argument %d is %zu bytes; HotSpot accepts at most %d",
                     i - 2, l, ATTACH_ARG_MAX);
            return -E2BIG;
        }
        if (pos + l + 1 > cap) {
            snprintf(err, errcap, "attach request does not fit in %zu bytes", cap);
            return -E2BIG;
        }
        memcpy(buf + pos, parts[i], l + 1);
        pos += l + 1;
    }
    *len = pos;
    return 0;
}

int attach_parse_status(const char *buf, size_t len, int *code)
{
    const char *nl = memchr(buf, '\n', len);
    if (!nl)
        return len > 16 ? -EPROTO : 0;
    size_t i = 0, n = (size_t)(nl - buf);
    int neg = 0;
    long v = 0;
    if (n > 0 && buf[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n)
        return -EPROTO;
    for (; i < n; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > 100000000)
            return -EPROTO;
        v = v * 10 + (buf[i] - '0');
    }
    *code = (int)(neg ? -v : v);
    return (int)n + 1;
}

/* Copies text to err with line breaks turned into "; " and trimmed. */
static void flatten(const char *text, size_t len, char *err, size_t errcap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 3 < errcap; i++) {
        char ch = text[i];
        if (ch == '\r')
            continue;
        if (ch == '\n') {
            if (o > 0 && i + 1 < len && text[i + 1] != '\n') {
                err[o++] = ';';
                err[o++] = ' ';
            }
            continue;
        }
        err[o++] = ch;
    }
    err[o] = '\0';
}

/* "<int>\n..." at p (len bytes)? Parses it into *v. */
static int leading_int(const char *p, size_t len, int *v)
{
    char tmp[24];
    size_t n = 0;
    while (n < len && n < sizeof(tmp) - 1 && p[n] != '\n' && p[n] != '\r')
        n++;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    long x = strtol(tmp, &end, 10);
    if (end == tmp || *end != '\0')
        return -EPROTO;
    *v = (int)x;
    return 0;
}

int attach_parse_load(const char *reply, size_t len, int *agent_rc, char *err, size_t errcap)
{
    static const char rc_prefix[] = "return code: ";
    int code;
    int off = attach_parse_status(reply, len, &code);
    if (off <= 0) {
        snprintf(err, errcap, "malformed reply to load");
        return -EPROTO;
    }
    const char *body = reply + off;
    size_t blen = len - (size_t)off;
    char text[512];
    flatten(body, blen, text, sizeof(text));
    if (code != 0) { /* JDK 9-20 (and 8): the library could not be loaded */
        snprintf(err, errcap, "the JVM could not load the library (status %d): %s", code,
                 text[0] ? text : "no reason given");
        return -ENOEXEC;
    }
    int rc;
    if (blen >= sizeof(rc_prefix) - 1 && memcmp(body, rc_prefix, sizeof(rc_prefix) - 1) == 0) {
        if (leading_int(body + sizeof(rc_prefix) - 1, blen - (sizeof(rc_prefix) - 1), &rc) < 0)
            goto bad;
    } else if (blen > 0 && (body[0] == '-' || (body[0] >= '0' && body[0] <= '9'))) {
        if (leading_int(body, blen, &rc) < 0) /* JDK 8 */
            goto bad;
    } else if (blen > 0) { /* JDK 21+: status 0, then the reason */
        snprintf(err, errcap, "the JVM could not load the library: %s", text);
        return -ENOEXEC;
    } else {
        goto bad;
    }
    *agent_rc = rc;
    if (rc != 0) {
        snprintf(err, errcap, "the agent's Agent_OnAttach returned %d", rc);
        return -EIO;
    }
    return 0;
bad:
    snprintf(err, errcap, "unrecognised reply to load: %s", text[0] ? text : "(empty)");
    return -EPROTO;
}

/* ---- sinks --------------------------------------------------------------- */

int attach_buf_sink(void *arg, const char *data, size_t len)
{
    struct attach_buf *b = arg;
    b->total += len;
    size_t room = b->max > b->len ? b->max - b->len : 0;
    if (len > room) {
        b->truncated = true;
        len = room;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

void attach_buf_free(struct attach_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- connecting (runs in an nsexec child) --------------------------------- */

struct connect_ctx {
    const struct jvm *j;
    uint64_t deadline_ms;
    int may_trigger;
    char why_not[256];
};

/* 1: a socket owned by uid is at path; 0: nothing usable there yet (a
 * stale non-socket is replaced by the JVM when its listener starts);
 * < 0: refused, reason replied. */
static int sock_state(struct nsexec_child *c, const char *path, uid_t uid)
{
    struct stat st;
    int rc = rootfs_lstat(nsexec_root_fd(c), path, &st);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        nsexec_reply(c, "refusing %s: its directory %s", path, rootfs_strerror(rc));
        return rc;
    }
    if (S_ISLNK(st.st_mode)) {
        nsexec_reply(c, "refusing %s: it is a symbolic link", path);
        return -ELOOP;
    }
    if (!S_ISSOCK(st.st_mode))
        return 0;
    if (st.st_uid != uid) {
        nsexec_reply(c, "refusing %s: owned by uid %u, not by the JVM's uid %u", path,
                     (unsigned)st.st_uid, (unsigned)uid);
        return -EPERM;
    }
    return 1;
}

/* connect(2) resolves its path again and would follow a link planted
 * after the check; instead the socket is opened O_PATH without links and
 * reached through its /proc/self/fd entry (a magic link to the inode). */
static int connect_sock(struct nsexec_child *c, const char *path, uid_t uid, uint64_t deadline,
                        int *out)
{
    int pfd = rootfs_open(nsexec_root_fd(c), path, O_PATH, 0);
    if (pfd < 0) {
        nsexec_reply(c, "opening %s: %s", path, rootfs_strerror(pfd));
        return pfd;
    }
    struct stat st;
    int rc = fstat(pfd, &st) < 0 ? -errno : 0;
    if (rc == 0 && (!S_ISSOCK(st.st_mode) || st.st_uid != uid)) {
        nsexec_reply(c, "%s changed under us (not a socket owned by uid %u)", path, (unsigned)uid);
        rc = -EPERM;
    }
    int s = rc == 0 ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (rc == 0 && s < 0)
        rc = -errno;
    if (rc == 0) {
        uint64_t now = units_now_mono_ms(), left = deadline > now ? deadline - now : 1;
        struct timeval tv = {.tv_sec = (time_t)(left / 1000),
                             .tv_usec = (suseconds_t)(left % 1000) * 1000};
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%d", pfd);
        if (fchdir(nsexec_self_fd_dir(c)) < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
            rc = -errno;
        if (fchdir(nsexec_root_fd(c)) < 0 && rc == 0)
            rc = -errno;
        if (rc == -EAGAIN) { /* SO_SNDTIMEO ran out: the listener accepts nothing */
            nsexec_reply(c, "timed out connecting to %s: its queue of connections is full", path);
            rc = -ETIMEDOUT;
        } else if (rc < 0) {
            nsexec_reply(c, "connecting to %s: %s", path, strerror(-rc));
        }
    }
    close(pfd);
    if (rc < 0 && s >= 0)
        close(s);
    if (rc == 0)
        *out = s;
    return rc;
}

struct trigger {
    int dir;
    char path[64];
    const char *where;
    int created;
};

/* Tries to create the trigger in one place. 1 done, 0 try the next, < 0
 * refused (a link is planted there). */
static int try_trigger(struct nsexec_child *c, struct trigger *t, uid_t uid)
{
    int fd = rootfs_open(t->dir, t->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    struct stat st;
    if (fd >= 0) {
        int owned = fstat(fd, &st) == 0 && st.st_uid == uid;
        close(fd);
        if (owned)
            return t->created = 1;
        rootfs_unlink(t->dir, t->path, 0); /* an id-mapped mount: the JVM would ignore it */
        return 0;
    }
    if (fd == -EEXIST && rootfs_lstat(t->dir, t->path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            nsexec_reply(c, "refusing %s in the JVM's %s: it is a symbolic link", t->path,
                         t->where);
            return -ELOOP;
        }
        return S_ISREG(st.st_mode) && st.st_uid == uid; /* left by an earlier attach */
    }
    if (fd == -ELOOP) {
        nsexec_reply(c, "refusing %s in the JVM's %s: %s", t->path, t->where, rootfs_strerror(fd));
        return fd;
    }
    return 0;
}

/* HotSpot looks for .attach_pid<pid> in its cwd first, then in /tmp
 * (AttachListener::is_init_trigger), and only honours a file owned by its
 * euid (or root). */
static int make_trigger(struct nsexec_child *c, const struct jvm *j, struct trigger *out)
{
    const struct proc_ident *id = jvm_ident(j);
    struct trigger cand[2] = {{.dir = jvm_cwd_fd(j), .where = "working directory"},
                              {.dir = nsexec_root_fd(c), .where = "/tmp"}};
    snprintf(cand[0].path, sizeof(cand[0].path), ".attach_pid%d", id->nspid);
    snprintf(cand[1].path, sizeof(cand[1].path), "/tmp/.attach_pid%d", id->nspid);
    for (int i = 0; i < 2; i++) {
        if (cand[i].dir < 0)
            continue;
        int rc = try_trigger(c, &cand[i], id->uid);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *out = cand[i];
            return 0;
        }
    }
    nsexec_reply(c,
                 "cannot create .attach_pid%d owned by uid %u in the JVM's working directory "
                 "or /tmp",
                 id->nspid, (unsigned)id->uid);
    return -EACCES;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Waits for the listener after SIGQUIT and connects. A socket that still
 * refuses is the stale one the listener is about to replace (HotSpot binds
 * <path>.tmp and renames it over <path>). 0, -ETIMEDOUT, -ESRCH, -errno. */
static int wait_socket(struct nsexec_child *c, const struct connect_ctx *a, const char *path,
                       int *s)
{
    const struct proc_ident *id = jvm_ident(a->j);
    uint64_t delay = POLL_FIRST_MS;
    for (;;) {
        int st = sock_state(c, path, id->uid);
        if (st < 0)
            return st;
        if (st == 1) {
            int rc = connect_sock(c, path, id->uid, a->deadline_ms, s);
            if (rc != -ECONNREFUSED)
                return rc;
        }
        uint64_t now = units_now_mono_ms();
        if (now >= a->deadline_ms) {
            nsexec_reply(c, "no attach listener at %s within the timeout (SIGQUIT was sent)", path);
            return -ETIMEDOUT;
        }
        if (!jvm_alive(a->j)) {
            nsexec_reply(c, "the JVM exited while its attach listener was starting");
            return -ESRCH;
        }
        sleep_ms(delay < a->deadline_ms - now ? delay : a->deadline_ms - now);
        delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
    }
}

static int start_listener(struct nsexec_child *c, const struct connect_ctx *a, const char *path,
                          int *s)
{
    if (!a->may_trigger) {
        nsexec_reply(c, "no attach listener at %s and %s", path, a->why_not);
        return -ENOTSUP;
    }
    struct trigger t;
    int rc = make_trigger(c, a->j, &t);
    if (rc < 0)
        return rc;
    rc = jvm_signal(a->j, SIGQUIT);
    if (rc < 0)
        nsexec_reply(c, "sending SIGQUIT to the JVM: %s", strerror(-rc));
    else
        rc = wait_socket(c, a, path, s);
    if (t.created)
        rootfs_unlink(t.dir, t.path, 0);
    return rc;
}

static int child_connect(struct nsexec_child *c, void *arg)
{
    const struct connect_ctx *a = arg;
    const struct proc_ident *id = jvm_ident(a->j);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/.java_pid%d", id->nspid);
    int st = sock_state(c, path, id->uid);
    if (st < 0)
        return st;
    int s = -1, rc = -ECONNREFUSED, started = 0;
    if (st == 1)
        rc = connect_sock(c, path, id->uid, a->deadline_ms, &s);
    if (rc == -ECONNREFUSED) { /* absent, or stale from an earlier JVM with this pid */
        rc = start_listener(c, a, path, &s);
        started = 1;
    }
    if (rc == 0)
        nsexec_pass_fd(c, s);
    return rc == 0 ? started : rc;
}

static void explain_timeout(const struct jvm *j, char *err, size_t errcap)
{
    char st = jvm_state(j);
    size_t n = strlen(err);
    if ((st == 'T' || st == 't') && n + 1 < errcap)
        snprintf(err + n, errcap - n,
                 "; the JVM process is stopped (state %c) and cannot answer until resumed", st);
}

/* The JVM dying under an attach step makes the step fail with its own
 * guess (a peer dropped for its uid/gid, a refused or timed-out socket):
 * when the process is gone the failure is reported as its exit. The
 * kernel closes the JVM's sockets (exit_files) before it wakes pidfd
 * waiters (exit_notify), so a closed connection gives the exit a moment
 * to show before the JVM is believed alive. */
static int exited_during(const struct jvm *j, int rc, const char *what, char *err, size_t errcap)
{
    if (rc >= 0 || rc == -ESRCH)
        return rc;
    int closed = rc == -ECONNRESET || rc == -EPIPE;
    int pidfd = jvm_pidfd(j);
    if (closed && pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        units_poll_until(&p, 1, units_now_mono_ms() + EXIT_GRACE_MS);
    } else if (closed) {
        sleep_ms(EXIT_GRACE_MS / 5);
    }
    if (jvm_alive(j))
        return rc;
    snprintf(err, errcap, "target_exited: pid %d exited during %s", jvm_ident(j)->pid, what);
    return -ESRCH;
}

/* ---- one connect per JVM at a time ----------------------------------------- */

/* Two attaches to a JVM whose listener is not running yet (the pre-warm
 * and a capture, or a snapshot's two connections) would both send
 * SIGQUIT: HotSpot starts its listener on the first and prints a thread
 * dump on the application's stdout for the second. Connects to one
 * process therefore take turns; the second finds the listener the first
 * started and only connects. */
static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC, as every deadline here */
    struct {
        int pid;
        uint64_t start_time;
    } busy[TURNS_MAX];
} turns = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static void turns_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&turns.cv, &a);
    pthread_condattr_destroy(&a);
}

/* The slot to take: -1 while pid has a connect in flight or none is free. */
static int turns_free_slot(const struct proc_ident *id)
{
    int free_slot = -1;
    for (int i = 0; i < TURNS_MAX; i++) {
        if (turns.busy[i].pid == id->pid && turns.busy[i].start_time == id->start_time)
            return -1;
        if (turns.busy[i].pid == 0 && free_slot < 0)
            free_slot = i;
    }
    return free_slot;
}

/* Waits for id's turn until deadline_ms. The slot, or -ETIMEDOUT. */
static int turn_take(const struct proc_ident *id, uint64_t deadline_ms)
{
    pthread_once(&turns.once, turns_init);
    pthread_mutex_lock(&turns.mu);
    int slot;
    while ((slot = turns_free_slot(id)) < 0) {
        struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                              .tv_nsec = (long)(deadline_ms % 1000) * 1000000};
        if (units_now_mono_ms() >= deadline_ms ||
            pthread_cond_timedwait(&turns.cv, &turns.mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&turns.mu);
            return -ETIMEDOUT;
        }
    }
    turns.busy[slot].pid = id->pid;
    turns.busy[slot].start_time = id->start_time;
    pthread_mutex_unlock(&turns.mu);
    return slot;
}

static void turn_give(int slot)
{
    pthread_mutex_lock(&turns.mu);
    turns.busy[slot].pid = 0;
    pthread_cond_broadcast(&turns.cv);
    pthread_mutex_unlock(&turns.mu);
}

/* attach_connect; *started set when the listener was started now. */
static int connect_listener(struct jvm *j, uint64_t deadline_ms, int *sock, int *started, char *err,
                            size_t errcap)
{
    const struct proc_ident *id = jvm_ident(j);
    if (!jvm_alive(j)) {
        snprintf(err, errcap, "target_exited: pid %d exited", id->pid);
        return -ESRCH;
    }
    if (jvm_attach_disabled(j)) {
        snprintf(err, errcap,
                 "attach is disabled in pid %d (-XX:+DisableAttachMechanism); not signalled",
                 id->pid);
        return -ENOTSUP;
    }
    struct connect_ctx a = {.j = j, .deadline_ms = deadline_ms};
    a.may_trigger = jvm_sigquit_safe(j, a.why_not, sizeof(a.why_not));
    int env = a.may_trigger ? jvm_environ_access(j) : 0;
    if (env == -EACCES || env == -EPERM) {
        /* the flag may be in JAVA_TOOL_OPTIONS: a SIGQUIT could only
         * print a thread dump into the application's output */
        char hint[128];
        a.may_trigger = 0;
        snprintf(a.why_not, sizeof(a.why_not),
                 "its environment is unreadable%s, so -XX:+DisableAttachMechanism cannot be "
                 "ruled out: not signalled",
                 caps_hint(CAPS_ENVIRON, hint, sizeof(hint)));
    }
    if (a.may_trigger && jvm_pidfd(j) < 0) {
        a.may_trigger = 0;
        snprintf(a.why_not, sizeof(a.why_not), "this kernel has no pidfd to signal it safely");
    }
    int slot = turn_take(id, deadline_ms);
    if (slot < 0) {
        snprintf(err, errcap, "attach to pid %d: another attach to it was still connecting",
                 id->pid);
        return slot;
    }
    uint64_t now = units_now_mono_ms();
    int keep[2] = {jvm_pidfd(j), jvm_cwd_fd(j)};
    struct nsexec_result res;
    int rc = jvm_run_child(j, keep, 2, (deadline_ms > now ? deadline_ms - now : 1) + 1000,
                           child_connect, &a, &res);
    turn_give(slot);
    if (rc >= 0 && res.fd >= 0) {
        *sock = res.fd;
        *started = rc;
        return 0;
    }
    if (res.fd >= 0)
        close(res.fd);
    if (rc >= 0)
        rc = -EPROTO;
    snprintf(err, errcap, "%sattach to pid %d: %s", rc == -ESRCH ? "target_exited: " : "", id->pid,
             res.text);
    rc = exited_during(j, rc, "the attach", err, errcap);
    if (rc == -ETIMEDOUT)
        explain_timeout(j, err, errcap);
    return rc;
}

int attach_connect(struct jvm *j, uint64_t deadline_ms, int *sock, char *err, size_t errcap)
{
    int started;
    return connect_listener(j, deadline_ms, sock, &started, err, errcap);
}

int attach_prewarm(struct jvm *j, uint64_t timeout_ms, char *err, size_t errcap)
{
    int sock = -1, started = 0;
    int rc = connect_listener(j, units_now_mono_ms() + timeout_ms, &sock, &started, err, errcap);
    if (rc < 0)
        return rc;
    /* no request: the listener reads an incomplete one and closes the
     * connection without a reply or a log line (attachListener_linux.cpp
     * read_request), as after capture_snapshots' first connect */
    close(sock);
    return started;
}

/* ---- one request ------------------------------------------------------------ */

/* Waits for events on fd until deadline. 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n = units_poll_until(&p, 1, deadline);
    return n > 0 ? 1 : n;
}

static int send_all(int sock, const char *buf, size_t len, uint64_t deadline)
{
    while (len > 0) {
        int w = wait_fd(sock, POLLOUT, deadline);
        if (w <= 0)
            return w == 0 ? -ETIMEDOUT : w;
        ssize_t n = send(sock, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

struct reply {
    char head[32];
    size_t hlen;
    int have_code;
    int *code;
    attach_sink_fn sink;
    void *arg;
};

/* Feeds received bytes: first the status line, then the sink. */
static int feed(struct reply *r, const char *data, size_t n)
{
    if (r->have_code)
        return n ? r->sink(r->arg, data, n) : 0;
    size_t take = sizeof(r->head) - r->hlen < n ? sizeof(r->head) - r->hlen : n;
    memcpy(r->head + r->hlen, data, take);
    r->hlen += take;
    int off = attach_parse_status(r->head, r->hlen, r->code);
    if (off < 0 || (off == 0 && r->hlen == sizeof(r->head)))
        return -EPROTO;
    if (off == 0)
        return 0;
    r->have_code = 1;
    int rc = r->hlen > (size_t)off ? r->sink(r->arg, r->head + off, r->hlen - (size_t)off) : 0;
    if (rc == 0 && take < n)
        rc = r->sink(r->arg, data + take, n - take);
    return rc;
}

static int recv_reply(int sock, struct reply *r, uint64_t deadline, char *err, size_t errcap)
{
    char buf[65536];
    for (;;) {
        int w = wait_fd(sock, POLLIN, deadline);
        if (w == 0) {
            snprintf(err, errcap, "timed out waiting for the JVM's reply");
            return -ETIMEDOUT;
        }
        if (w < 0)
            return w;
        ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 && errno != ECONNRESET) {
            snprintf(err, errcap, "reading the JVM's reply: %s", strerror(errno));
            return -errno;
        }
        if (n <= 0)
            break;
        int rc = feed(r, buf, (size_t)n);
        if (rc == -EPROTO)
            snprintf(err, errcap, "malformed reply from the JVM (no status line)");
        else if (rc < 0)
            snprintf(err, errcap, "writing the JVM's output: %s", strerror(-rc));
        if (rc < 0)
            return rc;
    }
    if (!r->have_code) {
        snprintf(err, errcap,
                 "the JVM closed the connection without replying (it drops "
                 "clients whose uid/gid differ from its own)");
        return -ECONNRESET;
    }
    return 0;
}

int attach_request(int sock, const char *cmd, const char *const args[ATTACH_NARGS],
                   uint64_t deadline_ms, attach_sink_fn sink, void *sink_arg, int *code, char *err,
                   size_t errcap)
{
    char frame[FRAME_MAX];
    size_t len;
    int rc = attach_frame(cmd, args, frame, sizeof(frame), &len, err, errcap);
    if (rc < 0)
        return rc;
    rc = send_all(sock, frame, len, deadline_ms);
    if (rc == -ETIMEDOUT)
        snprintf(err, errcap, "timed out sending the request to the JVM");
    else if (rc == -EPIPE || rc == -ECONNRESET)
        snprintf(err, errcap, "the JVM closed the connection before reading the request");
    else if (rc < 0)
        snprintf(err, errcap, "sending the request: %s", strerror(-rc));
    if (rc < 0)
        return rc;
    struct reply r = {.code = code, .sink = sink, .arg = sink_arg};
    return recv_reply(sock, &r, deadline_ms, err, errcap);
}

int attach_execute(struct jvm *j, const char *cmd, const char *const args[ATTACH_NARGS],
                   uint64_t timeout_ms, attach_sink_fn sink, void *sink_arg, int *code,
                   struct metrics *m, char *err, size_t errcap)
{
    uint64_t t0 = units_now_mono_us();
    uint64_t deadline = units_now_mono_ms() + timeout_ms;
    int sock = -1;
    int rc = attach_connect(j, deadline, &sock, err, errcap);
    if (rc < 0)
        return rc;
    metrics_observe_attach(m, units_now_mono_us() - t0);
    char why[512] = "";
    rc = attach_request(sock, cmd, args, deadline, sink, sink_arg, code, why, sizeof(why));
    close(sock);
    if (rc < 0) {
        char what[96];
        snprintf(what, sizeof(what), "%s %s", cmd, args && args[0] ? args[0] : "");
        snprintf(err, errcap, "%s to pid %d: %s", what, jvm_ident(j)->pid, why);
        if (rc != -EFBIG) /* a writer's cap: ours, whatever the JVM does */
            rc = exited_during(j, rc, what, err, errcap);
        if (rc == -ETIMEDOUT)
            explain_timeout(j, err, errcap);
    }
    return rc;
}

int attach_jcmd(struct jvm *j, const char *command_line, uint64_t timeout_ms, attach_sink_fn sink,
                void *sink_arg, int *code, struct metrics *m, char *err, size_t errcap)
{
    const char *args[ATTACH_NARGS] = {command_line, NULL, NULL};
    return attach_execute(j, "jcmd", args, timeout_ms, sink, sink_arg, code, m, err, errcap);
}

int attach_jdk_version(const char *vm_version_output, char *out, size_t cap)
{
    /* VM.version: "<VM name> version <vm version>\nJDK <version>\n" */
    const char *text = vm_version_output;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "JDK ", 4) == 0) {
            size_t n = strcspn(p + 4, "\r\n");
            snprintf(out, cap, "%.*s", (int)n, p + 4);
            return n ? 0 : -ENOENT;
        }
    }
    const char *v = text ? strstr(text, " version ") : NULL;
    if (!v)
        return -ENOENT;
    v += 9;
    snprintf(out, cap, "%.*s", (int)strcspn(v, " \r\n"), v);
    return 0;
}
