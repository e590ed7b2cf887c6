#include "capture/pprof_fetch.h"

#include "capture/httpget.h"
#include "capture/nsexec.h"
#include "core/fsutil.h"
#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* the helper's own start-up and exit, beyond the requests' timeouts */
#define HELPER_MARGIN_MS 5000

static const char *const item_paths[RULE_PPROF_N] = {
    "debug/pprof/profile", "debug/pprof/goroutine", "debug/pprof/heap",
    "debug/pprof/mutex",   "debug/pprof/block",
};

/* u's query without any seconds= (cpu sets its own, as url.Values.Set). */
static void base_query(const char *q, bool drop_seconds, char *buf, size_t cap)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (const char *p = q; *p;) {
        size_t n = strcspn(p, "&");
        bool drop = drop_seconds && n >= 8 && strncmp(p, "seconds=", 8) == 0;
        if (n && !drop && pos + n + 2 < cap)
            pos += (size_t)snprintf(buf + pos, cap - pos, "%s%.*s", pos ? "&" : "", (int)n, p);
        p += n + (p[n] == '&');
    }
}

int pprof_fetch_target(const struct httpurl *u, int type, uint64_t duration_ms, char *buf,
                       size_t cap)
{
    char q[600];
    const char *base = u->path + strspn(u->path, "/");
    int blen = (int)strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    base_query(u->query, type == 0, q, sizeof(q));
    size_t ql = strlen(q);
    if (type == 1)
        snprintf(q + ql, sizeof(q) - ql, "%sdebug=0", ql ? "&" : "");
    else if (type == 0)
        snprintf(q + ql, sizeof(q) - ql, "%sseconds=%llu", ql ? "&" : "",
                 (unsigned long long)(duration_ms >= 1000 ? duration_ms / 1000 : 1));
    int n = snprintf(buf, cap, "%s%.*s/%s%s%s", blen ? "/" : "", blen, base, item_paths[type],
                     q[0] ? "?" : "", q);
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

uint64_t pprof_fetch_budget_ms(const struct rule *r, uint64_t duration_ms)
{
    unsigned n = 0;
    for (int i = 0; i < RULE_PPROF_N; i++)
        n += (r->pprof_types >> i) & 1;
    return n * rule_pprof_timeout(r, duration_ms) + 2 * NSEXEC_KILL_WAIT_MS + HELPER_MARGIN_MS;
}

/* ---- the child ---------------------------------------------------------------- */

/* What the child reports per type, in memory shared with the parent. */
struct shared_pull {
    int rc, status;
    uint64_t len, start_ns, end_ns;
    char error[320];
    int done;
};

struct child_arg {
    struct httpurl url;
    const struct pprof_fetch_req *req;
    char targets[RULE_PPROF_N][1200];
    int memfd[RULE_PPROF_N];
    struct shared_pull *sh; /* RULE_PPROF_N of them, MAP_SHARED */
};

static int to_memfd(void *arg, const void *data, size_t n)
{
    return fsutil_write_full(*(int *)arg, data, n);
}

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

static int pull_one(struct child_arg *a, int i, struct shared_pull *out)
{
    struct httpresp r;
    struct httpget_req q = {.family = a->url.family,
                            .addr = a->url.addr,
                            .port = a->url.port,
                            .authority = a->url.authority,
                            .target = a->targets[i],
                            .deadline_ms = units_now_mono_ms() + a->req->timeout_ms,
                            .cancel_fd = a->req->cancel_fd,
                            .max_body = a->req->max_bytes,
                            .sink = to_memfd,
                            .arg = &a->memfd[i]};
    out->start_ns = units_now_real_ns();
    int rc = httpget(&q, &r);
    out->end_ns = units_now_real_ns();
    out->status = r.status;
    out->len = r.body;
    if (rc == 0 && r.status != 200) {
        snprintf(out->error, sizeof(out->error), "HTTP %d: %s", r.status, r.errbody);
        rc = -EIO;
    } else if (rc < 0) {
        snprintf(out->error, sizeof(out->error), "%s", r.error);
    }
    one_line(out->error);
    out->rc = rc;
    out->done = 1;
    return rc;
}

static int child_pulls(struct nsexec_child *c, void *arg)
{
    struct child_arg *a = arg;
    (void)c;
    for (int i = 0; i < RULE_PPROF_N; i++)
        if ((a->req->types & (1u << i)) && pull_one(a, i, &a->sh[i]) == -ECANCELED)
            break;
    return 0;
}

/* ---- the parent ----------------------------------------------------------------- */

/* The network namespace of the process p names: opened through its /proc
 * directory, then the start time checked, so it is that process's. */
static int open_netns(const struct proc_ident *p, int *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", p->pid);
    int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    int fd = openat(dir, "ns/net", O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? (errno == ENOENT ? -ESRCH : -errno) : 0;
    close(dir);
    if (rc == 0 && !procfs_same_process(NULL, p)) {
        close(fd);
        rc = -ESRCH;
    }
    *out = rc == 0 ? fd : -1;
    return rc;
}

static int read_memfd(int fd, uint64_t len, uint64_t max, struct pprof_pull *out)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != len || len > max)
        return -EIO;
    out->data = malloc(len ? len : 1);
    if (!out->data)
        return -ENOMEM;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)out->data + got, len - got, (off_t)got);
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (size_t)n;
    }
    out->len = len;
    return 0;
}

static void collect(const struct child_arg *a, struct pprof_pull out[RULE_PPROF_N])
{
    for (int i = 0; i < RULE_PPROF_N; i++) {
        const struct shared_pull *s = &a->sh[i];
        if (!(a->req->types & (1u << i)) || !s->done)
            continue;
        out[i].rc = s->rc;
        out[i].status = s->status;
        out[i].start_ns = s->start_ns;
        out[i].end_ns = s->end_ns;
        snprintf(out[i].error, sizeof(out[i].error), "%s", s->error);
        if (s->rc == 0 &&
            (out[i].rc = read_memfd(a->memfd[i], s->len, a->req->max_bytes, &out[i])) < 0)
            snprintf(out[i].error, sizeof(out[i].error), "reading the response back: %s",
                     strerror(-out[i].rc));
    }
}

static int run_child(const struct proc_ident *p, struct child_arg *a, int netns, char *err,
                     size_t errcap)
{
    int keep[RULE_PPROF_N + 1];
    size_t nkeep = 0;
    for (int i = 0; i < RULE_PPROF_N; i++)
        if (a->memfd[i] >= 0)
            keep[nkeep++] = a->memfd[i];
    if (a->req->cancel_fd >= 0)
        keep[nkeep++] = a->req->cancel_fd;
    unsigned n = 0;
    for (int i = 0; i < RULE_PPROF_N; i++)
        n += (a->req->types >> i) & 1;
    struct nsexec_spec spec = {.mntns_fd = -1,
                               .root_fd = -1,
                               .uid = p->uid,
                               .gid = p->gid,
                               .keep_fds = keep,
                               .nkeep = nkeep,
                               .timeout_ms = n * a->req->timeout_ms + HELPER_MARGIN_MS,
                               .join_netns = true,
                               .netns_fd = netns};
    struct nsexec_result res;
    int rc = nsexec_run(&spec, child_pulls, a, &res);
    if (res.fd >= 0)
        close(res.fd);
    if (rc < 0)
        snprintf(err, errcap, "pprof helper: %s", res.text);
    return rc;
}

static int prepare(const struct pprof_fetch_req *req, struct child_arg *a, char *err, size_t errcap)
{
    const char *why;
    if (httpurl_parse(req->url, &a->url, &why) < 0) {
        snprintf(err, errcap, "pprof_url \"%s\": %s", req->url, why);
        return -EINVAL;
    }
    for (int i = 0; i < RULE_PPROF_N; i++) {
        a->memfd[i] = -1;
        if (!(req->types & (1u << i)))
            continue;
        if (pprof_fetch_target(&a->url, i, req->duration_ms, a->targets[i], sizeof(a->targets[i])) <
            0) {
            snprintf(err, errcap, "pprof_url \"%s\" is too long", req->url);
            return -EINVAL;
        }
        char name[32];
        snprintf(name, sizeof(name), "pprof-%s", rule_pprof_type_name(i));
        if ((a->memfd[i] = memfd_create(name, MFD_CLOEXEC)) < 0) {
            int e = errno;
            snprintf(err, errcap, "memfd_create: %s", strerror(e));
            return -e;
        }
    }
    a->sh = mmap(NULL, sizeof(struct shared_pull) * RULE_PPROF_N, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a->sh == MAP_FAILED) {
        a->sh = NULL;
        snprintf(err, errcap, "mmap: %s", strerror(errno));
        return -ENOMEM;
    }
    return 0;
}

int pprof_fetch(const struct proc_ident *p, const struct pprof_fetch_req *req,
                struct pprof_pull out[RULE_PPROF_N], char *err, size_t errcap)
{
    struct pprof_fetch_req r = *req;
    struct child_arg *a = calloc(1, sizeof(*a));
    int netns = -1;
    memset(out, 0, sizeof(*out) * RULE_PPROF_N);
    for (int i = 0; i < RULE_PPROF_N; i++)
        out[i].rc = -ENODATA;
    if (!r.max_bytes)
        r.max_bytes = PPROF_FETCH_MAX_BYTES;
    if (!a) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    a->req = &r;
    int rc = prepare(&r, a, err, errcap);
    if (rc == 0 && (rc = open_netns(p, &netns)) < 0)
        snprintf(err, errcap, "the network namespace of pid %d: %s", p->pid,
                 rc == -ESRCH ? "the process is gone" : strerror(-rc));
    if (rc == 0)
        rc = run_child(p, a, netns, err, errcap);
    if (a->sh)
        collect(a, out);
    for (int i = 0; i < RULE_PPROF_N; i++)
        if (a->memfd[i] >= 0)
            close(a->memfd[i]);
    if (netns >= 0)
        close(netns);
    if (a->sh)
        munmap(a->sh, sizeof(struct shared_pull) * RULE_PPROF_N);
    free(a);
    return rc;
}

void pprof_pulls_free(struct pprof_pull out[RULE_PPROF_N])
{
    for (int i = 0; i < RULE_PPROF_N; i++) {
        free(out[i].data);
        out[i].data = NULL;
    }
}
