#include "events/bpf_events.h"

#include "core/log.h"
#include "events/procfs.h"

#include "events.skel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TRACEFS_DIR "/sys/kernel/tracing"

/* One tracepoint, its two programs and the arguments the tp_btf one reads
 * (after the implicit ctx): "struct:<name>" for a pointer to that struct,
 * or "int". */
struct tp_spec {
    const char *key; /* short name for logs */
    const char *tp;  /* btf_trace_<tp> */
    const char *btf_prog;
    const char *classic_prog;
    const char *args[2];
};

static const struct tp_spec tp_specs[] = {
    {"exec", "sched_process_exec", "exec_btf", "exec_tp", {"struct:task_struct", NULL}},
    {"exit", "sched_process_exit", "exit_btf", "exit_tp", {"struct:task_struct", NULL}},
    {"oom", "mark_victim", "oom_btf", "oom_tp", {"struct:task_struct", NULL}},
    {"rss", "rss_stat", "rss_btf", "rss_tp", {"struct:mm_struct", "int"}},
};
#define N_TP (sizeof(tp_specs) / sizeof(tp_specs[0]))

/* Indexes of the map fds the loader hands over. */
enum { M_RB, M_STATS, M_CG, M_PROC, M_BSS, N_MAPS };
#define MAX_LINKS 8 /* one per program of the skeleton */

/* What the loading child sends back, with the map and link fds. */
struct load_reply {
    int rc;
    int nlinks;
    bool classic[N_TP];
    char err[256];
};

struct bpf_events {
    int map[N_MAPS];
    int link[MAX_LINKS];
    int nlinks;
    struct events_bpf__bss *bss; /* the .bss map, mmapped: the mark counts */
    size_t bss_len;
    /* The ring buffer, read here rather than by libbpf's ring_buffer: that
     * maps the data twice (so that a record that wraps reads contiguously)
     * and costs twice the ring's size in RSS; here a record that wraps is
     * copied in two parts. */
    unsigned long *consumer_pos; /* the one writable page */
    uint8_t *ro;                 /* the producer page, then the data, mapped once */
    size_t page;
    bool classic[N_TP];
    char describe[128];
    bpf_events_cb cb;
    void *cb_arg;
    uint64_t consumed, malformed;
    uint32_t ring_bytes;
    int ncpus;
};

/* The skeleton while it is being loaded (in the loading child). */
struct loader {
    struct events_bpf *skel;
    bool classic[N_TP];
};

static bool param_matches(const struct btf *btf, __u32 type_id, const char *want)
{
    const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, type_id));
    if (!t)
        return false;
    if (strncmp(want, "struct:", 7) == 0) {
        if (!btf_is_ptr(t))
            return false;
        const struct btf_type *s = btf__type_by_id(btf, btf__resolve_type(btf, t->type));
        return s && btf_is_struct(s) &&
               strcmp(btf__name_by_offset(btf, s->name_off), want + 7) == 0;
    }
    return btf_is_int(t) && strcmp(btf__name_by_offset(btf, t->name_off), want) == 0;
}

/* True when btf_trace_<tp> exists and its arguments (after void *ctx)
 * start with what the tp_btf program reads. */
static bool tp_btf_usable(const struct btf *btf, const struct tp_spec *s)
{
    char name[96];
    snprintf(name, sizeof(name), "btf_trace_%s", s->tp);
    int id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
    if (id < 0)
        return false;
    const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, (__u32)id));
    if (!t || !btf_is_ptr(t))
        return false;
    t = btf__type_by_id(btf, t->type);
    if (!t || !btf_is_func_proto(t))
        return false;
    const struct btf_param *p = btf_params(t);
    __u16 n = btf_vlen(t);
    for (__u16 i = 0; i < 2 && s->args[i]; i++) {
        if (i + 1 >= n || !param_matches(btf, p[i + 1].type, s->args[i]))
            return false;
    }
    return true;
}

const char *bpf_events_flavour(const struct btf *vmlinux, const char *tracepoint)
{
    for (size_t i = 0; i < N_TP; i++)
        if (strcmp(tp_specs[i].tp, tracepoint) == 0)
            return vmlinux && tp_btf_usable(vmlinux, &tp_specs[i]) ? "tp_btf" : "tracepoint";
    return NULL;
}

static void plan(struct loader *b, bool force_classic)
{
    struct btf *btf = force_classic ? NULL : btf__load_vmlinux_btf();
    for (size_t i = 0; i < N_TP; i++) {
        b->classic[i] = strcmp(bpf_events_flavour(btf, tp_specs[i].tp), "tp_btf") != 0;
        if (b->classic[i] && !force_classic)
            log_info("bpf",
                     "%s: the kernel's %s prototype differs from what the tp_btf program "
                     "reads; using the classic tracepoint",
                     tp_specs[i].key, tp_specs[i].tp);
    }
    btf__free(btf);
}

static int apply_plan(struct loader *b)
{
    for (size_t i = 0; i < N_TP; i++) {
        struct bpf_program *btfp =
            bpf_object__find_program_by_name(b->skel->obj, tp_specs[i].btf_prog);
        struct bpf_program *clp =
            bpf_object__find_program_by_name(b->skel->obj, tp_specs[i].classic_prog);
        if (!btfp || !clp)
            return -ENOENT;
        bpf_program__set_autoload(btfp, !b->classic[i]);
        bpf_program__set_autoload(clp, b->classic[i]);
    }
    return 0;
}

static bool any_classic(const bool classic[N_TP])
{
    for (size_t i = 0; i < N_TP; i++)
        if (classic[i])
            return true;
    return false;
}

/* libbpf finds tracepoint ids under /sys/kernel/tracing/events (or
 * debugfs). Returns 1 if it mounted tracefs (caller unmounts), 0 if
 * nothing was needed, -errno. */
static int tracefs_ensure(void)
{
    struct stat st;
    if (stat(TRACEFS_DIR "/events", &st) == 0 || stat("/sys/kernel/debug/tracing/events", &st) == 0)
        return 0;
    if (mount("tracefs", TRACEFS_DIR, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return -errno;
    log_info("bpf", "mounted tracefs at %s for classic tracepoint ids", TRACEFS_DIR);
    return 1;
}

/* The default ring holds what a storm of 20,000 exec/s writes while the
 * consumer is late: every short-lived process is two records (exec, exit)
 * of sizeof(struct fs_event) + the ring's 8-byte header = 88 bytes, 3.5
 * MB/s; budgeting 25 ms for the daemon loop to answer the ring's wake-up
 * (an assumed bound on one loop step, not a measured one: the loop runs
 * one sampling pass over the targets per tick), that is 88 KB, and twice
 * that for margin rounds up to 256 KiB, 74 ms of such a storm. The ring
 * is mapped into the daemon, so its size is paid in RSS on every node. */
#define RB_STORM_EXEC_S 20000u
#define RB_LATE_MS      25u
#define RB_NEED                                                                                    \
    (RB_STORM_EXEC_S * 2u * (uint32_t)(sizeof(struct fs_event) + 8) * RB_LATE_MS / 1000u)
#define RB_DEFAULT (256u << 10)
_Static_assert(RB_DEFAULT >= 2 * RB_NEED, "the default ring must hold twice a late storm");

static uint32_t ringbuf_size(uint32_t want)
{
    uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE), sz = page;
    if (!want)
        want = RB_DEFAULT;
    while (sz < want && sz < (1u << 30))
        sz <<= 1;
    return sz;
}

static int open_skel(struct loader *b, const struct bpf_events_options *o)
{
    b->skel = events_bpf__open();
    if (!b->skel)
        return errno ? -errno : -ENOMEM;
    b->skel->rodata->page_size = (__u64)sysconf(_SC_PAGESIZE);
    int rc = bpf_map__set_max_entries(b->skel->maps.rb, ringbuf_size(o->ringbuf_bytes));
    return rc < 0 ? rc : apply_plan(b);
}

static void reason(char *err, size_t cap, const char *what, int rc)
{
    if (rc == -EPERM || rc == -EACCES)
        snprintf(err, cap, "%s: %s (needs root, or CAP_BPF with CAP_PERFMON)", what, strerror(-rc));
    else
        snprintf(err, cap, "%s: %s", what, strerror(-rc));
}

/* Loads with the plan; if a tp_btf program is refused, retries once with
 * every tracepoint classic before giving up. */
static int load(struct loader *b, const struct bpf_events_options *o, char *err, size_t cap)
{
    int rc = open_skel(b, o);
    if (rc == 0)
        rc = events_bpf__load(b->skel);
    /* a missing privilege will not be different for the classic programs */
    if (rc < 0 && rc != -EPERM && rc != -EACCES && !o->force_classic && !any_classic(b->classic) &&
        b->skel) {
        log_warn("bpf",
                 "loading the tp_btf programs failed (%s); retrying with classic "
                 "tracepoints",
                 strerror(-rc));
        events_bpf__destroy(b->skel);
        for (size_t i = 0; i < N_TP; i++)
            b->classic[i] = true;
        rc = open_skel(b, o);
        if (rc == 0)
            rc = events_bpf__load(b->skel);
    }
    if (rc < 0)
        reason(err, cap, "loading BPF programs", rc);
    return rc;
}

static void on_sample(struct bpf_events *b, const void *data, size_t size)
{
    struct fs_event ev;
    if (size < sizeof(ev)) {
        b->malformed++;
        return;
    }
    memcpy(&ev, data, sizeof(ev));
    if (ev.kind < FS_EV_EXEC || ev.kind > FS_EV_STEP_PROC) {
        b->malformed++;
        return;
    }
    b->consumed++;
    if (b->cb)
        b->cb(&ev, b->cb_arg);
}

static int map_ring(struct bpf_events *b)
{
    b->page = (size_t)sysconf(_SC_PAGESIZE);
    b->consumer_pos = mmap(NULL, b->page, PROT_READ | PROT_WRITE, MAP_SHARED, b->map[M_RB], 0);
    if (b->consumer_pos == MAP_FAILED) {
        b->consumer_pos = NULL;
        return -errno;
    }
    b->ro =
        mmap(NULL, b->page + b->ring_bytes, PROT_READ, MAP_SHARED, b->map[M_RB], (off_t)b->page);
    if (b->ro == MAP_FAILED) {
        b->ro = NULL;
        return -errno;
    }
    return 0;
}

/* The protocol of libbpf's ringbuf_process_ring(): records in order up to
 * the producer position, a busy one (still being written) ends the pass,
 * the consumer position is released after each. */
static int read_ring(struct bpf_events *b)
{
    const unsigned long *prod_pos = (const unsigned long *)b->ro;
    const uint8_t *data = b->ro + b->page;
    size_t mask = b->ring_bytes - 1;
    unsigned long cons = __atomic_load_n(b->consumer_pos, __ATOMIC_ACQUIRE);
    int n = 0;
    bool more = true;
    while (more) {
        more = false;
        unsigned long prod = __atomic_load_n(prod_pos, __ATOMIC_ACQUIRE);
        while (cons < prod) {
            const uint32_t *hdr = (const uint32_t *)(data + (cons & mask));
            uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
            if (len & BPF_RINGBUF_BUSY_BIT)
                return n;
            uint32_t sz = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
            if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
                struct fs_event ev;
                size_t want = sz < sizeof(ev) ? sz : sizeof(ev);
                size_t off = (cons + BPF_RINGBUF_HDR_SZ) & mask;
                size_t first = want < b->ring_bytes - off ? want : b->ring_bytes - off;
                memcpy(&ev, data + off, first);
                memcpy((uint8_t *)&ev + first, data, want - first);
                on_sample(b, &ev, sz);
                n++;
            }
            cons += (sz + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
            __atomic_store_n(b->consumer_pos, cons, __ATOMIC_RELEASE);
            more = true;
        }
    }
    return n;
}

static void describe(struct bpf_events *b)
{
    size_t off = 0;
    for (size_t i = 0; i < N_TP; i++)
        off +=
            (size_t)snprintf(b->describe + off, sizeof(b->describe) - off, "%s%s=%s", i ? " " : "",
                             tp_specs[i].key, b->classic[i] ? "tracepoint" : "tp_btf");
}

static int attach(struct loader *b, char *err, size_t cap)
{
    int mounted = any_classic(b->classic) ? tracefs_ensure() : 0;
    if (mounted < 0) {
        reason(err, cap, "mounting tracefs at " TRACEFS_DIR " for classic tracepoints", mounted);
        return mounted;
    }
    int rc = events_bpf__attach(b->skel);
    if (mounted > 0 && umount2(TRACEFS_DIR, MNT_DETACH) < 0)
        log_warn("bpf", "unmounting %s: %s", TRACEFS_DIR, strerror(errno));
    if (rc < 0)
        reason(err, cap, "attaching BPF programs", rc);
    return rc;
}

static int libbpf_print(enum libbpf_print_level libbpf_level, const char *fmt, va_list ap)
{
    enum log_level level = LOG_DEBUG;
    if (libbpf_level == LIBBPF_WARN)
        level = LOG_WARN;
    else if (libbpf_level == LIBBPF_INFO)
        level = LOG_DEBUG; /* libbpf's info is chatty load detail */
    log_vwrite(level, "libbpf", fmt, ap);
    return 0;
}

/* In the loading child: plan, load, attach, and send the fds of the maps
 * and links over sock. Never returns. */
static void load_child(int sock, const struct bpf_events_options *o)
{
    struct loader l = {0};
    struct load_reply r = {0};
    int fds[N_MAPS + MAX_LINKS];
    plan(&l, o->force_classic);
    r.rc = load(&l, o, r.err, sizeof(r.err));
    if (r.rc == 0)
        r.rc = attach(&l, r.err, sizeof(r.err));
    if (r.rc == 0) {
        fds[M_RB] = bpf_map__fd(l.skel->maps.rb);
        fds[M_STATS] = bpf_map__fd(l.skel->maps.stats);
        fds[M_CG] = bpf_map__fd(l.skel->maps.cg_marks);
        fds[M_PROC] = bpf_map__fd(l.skel->maps.proc_marks);
        fds[M_BSS] = bpf_map__fd(l.skel->maps.bss);
        for (int i = 0; i < l.skel->skeleton->prog_cnt && r.nlinks < MAX_LINKS; i++) {
            struct bpf_link *link = *l.skel->skeleton->progs[i].link;
            if (link)
                fds[N_MAPS + r.nlinks++] = bpf_link__fd(link);
        }
        memcpy(r.classic, l.classic, sizeof(r.classic));
    }
    int n = r.rc == 0 ? N_MAPS + r.nlinks : 0;
    char cbuf[CMSG_SPACE(sizeof(fds))];
    struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        memset(cbuf, 0, sizeof(cbuf));
        m.msg_control = cbuf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    }
    _exit(sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? 1 : 0);
}

/* Takes the reply and its fds into b. */
static int take_reply(int sock, struct bpf_events *b, char *err, size_t cap)
{
    struct load_reply r = {0};
    int fds[N_MAPS + MAX_LINKS];
    char cbuf[CMSG_SPACE(sizeof(fds))];
    struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    if (got != (ssize_t)sizeof(r)) {
        snprintf(err, cap, "the BPF loader process ended without an answer");
        return -EIO;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    size_t n = c && c->cmsg_type == SCM_RIGHTS ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
    if (n)
        memcpy(fds, CMSG_DATA(c), n * sizeof(int));
    if (r.rc == 0 && (n < N_MAPS || r.nlinks < 0 || n != (size_t)(N_MAPS + r.nlinks)))
        r.rc = -EPROTO;
    if (r.rc < 0) {
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        snprintf(err, cap, "%s", r.err[0] ? r.err : "the BPF loader's answer lacks its fds");
        return r.rc;
    }
    memcpy(b->map, fds, sizeof(b->map));
    memcpy(b->link, fds + N_MAPS, sizeof(int) * (size_t)r.nlinks);
    b->nlinks = r.nlinks;
    memcpy(b->classic, r.classic, sizeof(b->classic));
    return 0;
}

/* Parsing the kernel's BTF (planning, CO-RE relocations, tp_btf ids) reads
 * all of /sys/kernel/btf/vmlinux twice over (5-6 MB each): done in the
 * daemon, that would stay in its VmHWM for good. A child process does it
 * and hands over only what the daemon keeps: the maps and the links that
 * hold the programs attached. */
static int load_in_child(const struct bpf_events_options *o, struct bpf_events *b, char *err,
                         size_t cap)
{
    int sv[2];
    struct proc_status self;
    if (procfs_read_status("/proc", (int)getpid(), &self) == 0 && self.threads > 1) {
        snprintf(err, cap,
                 "the BPF loader forks: open the event source before other threads "
                 "start (this process has %d)",
                 self.threads);
        return -EDEADLK;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        int rc = -errno; /* before reason() formats, which may change errno */
        reason(err, cap, "socketpair for the BPF loader", rc);
        return rc;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        load_child(sv[1], o);
    }
    close(sv[1]);
    int rc = pid < 0 ? -errno : take_reply(sv[0], b, err, cap);
    if (pid < 0)
        reason(err, cap, "forking the BPF loader", rc);
    else
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    close(sv[0]);
    return rc;
}

int bpf_events_open(const struct bpf_events_options *opts, struct bpf_events **out, char *err,
                    size_t errcap)
{
    static const struct bpf_events_options defaults = {0};
    const struct bpf_events_options *o = opts ? opts : &defaults;
    /* this module is libbpf's only user: its messages go through our
     * logger (module "libbpf") from the first call on */
    libbpf_set_print(libbpf_print);
    struct bpf_events *b = calloc(1, sizeof(*b));
    int rc = -ENOMEM;
    if (!b) {
        snprintf(err, errcap, "out of memory");
        return rc;
    }
    for (int i = 0; i < N_MAPS; i++)
        b->map[i] = -1;
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        rc = -ENOTSUP;
        snprintf(err, errcap, "kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE cannot load");
        goto out;
    }
    rc = load_in_child(o, b, err, errcap);
    if (rc < 0)
        goto out;
    b->bss_len = (size_t)sysconf(_SC_PAGESIZE);
    b->bss = mmap(NULL, b->bss_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->map[M_BSS], 0);
    if (b->bss == MAP_FAILED) {
        b->bss = NULL;
        rc = -errno;
        reason(err, errcap, "mapping the BPF program's counters", rc);
        goto out;
    }
    struct bpf_map_info info = {0};
    __u32 ilen = sizeof(info);
    rc = bpf_obj_get_info_by_fd(b->map[M_RB], &info, &ilen) < 0 ? -errno : 0;
    b->ring_bytes = info.max_entries;
    if (rc == 0)
        rc = map_ring(b);
    if (rc < 0) {
        reason(err, errcap, "mapping the ring buffer", rc);
        goto out;
    }
    b->ncpus = libbpf_num_possible_cpus();
    describe(b);
    *out = b;
    return 0;
out:
    bpf_events_close(b);
    return rc;
}

void bpf_events_close(struct bpf_events *b)
{
    if (!b)
        return;
    if (b->consumer_pos)
        munmap(b->consumer_pos, b->page);
    if (b->ro)
        munmap(b->ro, b->page + b->ring_bytes);
    if (b->bss)
        munmap(b->bss, b->bss_len);
    for (int i = 0; i < b->nlinks; i++)
        close(b->link[i]);
    for (int i = 0; i < N_MAPS; i++)
        if (b->map[i] >= 0)
            close(b->map[i]);
    free(b);
}

int bpf_events_fd(const struct bpf_events *b)
{
    return b->map[M_RB]; /* the ring's map polls readable when data waits */
}

int bpf_events_consume(struct bpf_events *b, bpf_events_cb cb, void *arg)
{
    b->cb = cb;
    b->cb_arg = arg;
    int n = read_ring(b);
    b->cb = NULL;
    return n;
}

/* An entry holds a watermark, a ladder or both, each set and cleared without
 * the other; it goes when neither is left. Userspace rewrites the whole
 * entry: a kernel update of the other part at that very moment (a disarm,
 * a step) may be undone, which costs at most one record more or less. */
static int store(int map, const void *key, const struct fs_watermark *w, bool existed, __u32 *count)
{
    int rc;
    if (!w->watermark_bytes && !w->step_bytes) {
        rc = existed ? bpf_map_delete_elem(map, key) : -ENOENT;
        if (rc == 0)
            __atomic_sub_fetch(count, 1, __ATOMIC_SEQ_CST);
        return rc;
    }
    rc = bpf_map_update_elem(map, key, w, BPF_ANY);
    if (rc == -E2BIG)
        rc = -ENOSPC;
    if (rc == 0 && !existed)
        __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static bool lookup(int map, const void *key, struct fs_watermark *w)
{
    memset(w, 0, sizeof(*w));
    if (bpf_map_lookup_elem(map, key, w) == 0)
        return true;
    memset(w, 0, sizeof(*w));
    return false;
}

static int set_mark(int map, const void *key, uint64_t bytes, uint64_t rearm, __u32 *count)
{
    struct fs_watermark w;
    if (rearm > bytes || bytes == 0)
        return -EINVAL;
    bool exists = lookup(map, key, &w);
    w.watermark_bytes = bytes;
    w.rearm_bytes = rearm;
    w.armed = 1;
    w.crossings = 0;
    return store(map, key, &w, exists, count);
}

static int clear_mark(int map, const void *key, __u32 *count)
{
    struct fs_watermark w;
    if (!lookup(map, key, &w) || !w.watermark_bytes)
        return -ENOENT;
    w.watermark_bytes = w.rearm_bytes = w.armed = w.crossings = 0;
    return store(map, key, &w, true, count);
}

static int set_steps(int map, const void *key, uint64_t from, uint64_t step, __u32 *count)
{
    struct fs_watermark w;
    bool exists = lookup(map, key, &w);
    if (!step && !w.step_bytes)
        return -ENOENT;
    w.step_from = step ? from : 0;
    w.step_bytes = step;
    w.step_next = w.step_from;
    return store(map, key, &w, exists, count);
}

int bpf_events_set_cgroup_mark(struct bpf_events *b, uint64_t cgroup_id, uint64_t bytes,
                               uint64_t rearm_bytes)
{
    __u64 k = cgroup_id;
    return set_mark(b->map[M_CG], &k, bytes, rearm_bytes, &b->bss->n_cg_marks);
}

int bpf_events_clear_cgroup_mark(struct bpf_events *b, uint64_t cgroup_id)
{
    __u64 k = cgroup_id;
    return clear_mark(b->map[M_CG], &k, &b->bss->n_cg_marks);
}

int bpf_events_set_proc_mark(struct bpf_events *b, int tgid, uint64_t bytes, uint64_t rearm_bytes)
{
    __u32 k = (__u32)tgid;
    if (tgid <= 0)
        return -EINVAL;
    return set_mark(b->map[M_PROC], &k, bytes, rearm_bytes, &b->bss->n_proc_marks);
}

int bpf_events_clear_proc_mark(struct bpf_events *b, int tgid)
{
    __u32 k = (__u32)tgid;
    return clear_mark(b->map[M_PROC], &k, &b->bss->n_proc_marks);
}

int bpf_events_set_cgroup_steps(struct bpf_events *b, uint64_t cgroup_id, uint64_t from_bytes,
                                uint64_t step_bytes)
{
    __u64 k = cgroup_id;
    return set_steps(b->map[M_CG], &k, from_bytes, step_bytes, &b->bss->n_cg_marks);
}

int bpf_events_set_proc_steps(struct bpf_events *b, int tgid, uint64_t from_bytes,
                              uint64_t step_bytes)
{
    __u32 k = (__u32)tgid;
    if (tgid <= 0)
        return -EINVAL;
    return set_steps(b->map[M_PROC], &k, from_bytes, step_bytes, &b->bss->n_proc_marks);
}

void bpf_events_counts(struct bpf_events *b, struct bpf_events_counts *out)
{
    memset(out, 0, sizeof(*out));
    out->consumed = b->consumed;
    out->malformed = b->malformed;
    out->ringbuf_bytes = b->ring_bytes;
    if (b->ncpus <= 0)
        return;
    struct fs_bpf_stats *per = calloc((size_t)b->ncpus, sizeof(*per));
    __u32 zero = 0;
    if (per && bpf_map_lookup_elem(b->map[M_STATS], &zero, per) == 0) {
        for (int i = 0; i < b->ncpus; i++) {
            out->emitted += per[i].emitted;
            out->ringbuf_full += per[i].ringbuf_full;
            out->rss_calls += per[i].rss_calls;
        }
    }
    free(per);
}

const char *bpf_events_describe(const struct bpf_events *b)
{
    return b->describe;
}
