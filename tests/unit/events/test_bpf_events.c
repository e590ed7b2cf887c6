/* bpf_events: the choice between the tp_btf and the classic program of each
 * tracepoint, checked against BTF built here the way older kernels
 * describe their tracepoints (btf_trace_<name> typedefs), and against the
 * running kernel's own BTF; and the step ladder of the real program, on
 * this test's own RSS. The other records are tested for real by
 * tests/integration/10_events_{bpf,classic}.sh. */
#include "events/bpf_events.h"
#include "events/procfs.h"
#include "harness.h"

#include <bpf/btf.h>
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct kbtf {
    struct btf *btf;
    int int_id, uint_id, long_id, void_ptr, task_ptr, mm_ptr, bprm_ptr;
};

static int kbtf_init(struct kbtf *k)
{
    k->btf = btf__new_empty();
    if (!k->btf)
        return -1;
    k->int_id = btf__add_int(k->btf, "int", 4, BTF_INT_SIGNED);
    k->uint_id = btf__add_int(k->btf, "unsigned int", 4, 0);
    k->long_id = btf__add_int(k->btf, "long int", 8, BTF_INT_SIGNED);
    k->void_ptr = btf__add_ptr(k->btf, 0);
    k->task_ptr = btf__add_ptr(k->btf, btf__add_struct(k->btf, "task_struct", 64));
    k->mm_ptr = btf__add_ptr(k->btf, btf__add_struct(k->btf, "mm_struct", 64));
    k->bprm_ptr = btf__add_ptr(k->btf, btf__add_struct(k->btf, "linux_binprm", 64));
    return k->task_ptr > 0 && k->mm_ptr > 0 ? 0 : -1;
}

/* typedef void (*btf_trace_<name>)(void *, args...); args end with 0 */
static int add_tp(struct kbtf *k, const char *name, int a1, int a2, int a3)
{
    int proto = btf__add_func_proto(k->btf, 0);
    int args[] = {k->void_ptr, a1, a2, a3};
    for (int i = 0; i < 4 && args[i]; i++)
        if (btf__add_func_param(k->btf, i ? "arg" : "__data", args[i]) < 0)
            return -1;
    char tname[96];
    snprintf(tname, sizeof(tname), "btf_trace_%s", name);
    return btf__add_typedef(k->btf, tname, btf__add_ptr(k->btf, proto)) > 0 ? 0 : -1;
}

static int add_sched(struct kbtf *k)
{
    int pid_t_id = btf__add_typedef(k->btf, "pid_t", k->int_id);
    int bool_id = btf__add_int(k->btf, "_Bool", 1, BTF_INT_BOOL);
    return add_tp(k, "sched_process_exec", k->task_ptr, pid_t_id, k->bprm_ptr) ||
           add_tp(k, "sched_process_exit", k->task_ptr, bool_id, 0);
}

TEST(kernel_6_9_and_later_use_tp_btf_everywhere)
{
    struct kbtf k;
    CHECK_EQ(kbtf_init(&k), 0);
    int uid_t_id = btf__add_typedef(k.btf, "uid_t", k.uint_id);
    CHECK_EQ(add_sched(&k), 0);
    CHECK_EQ(add_tp(&k, "mark_victim", k.task_ptr, uid_t_id, 0), 0);
    CHECK_EQ(add_tp(&k, "rss_stat", k.mm_ptr, k.int_id, 0), 0);
    CHECK_STREQ(bpf_events_flavour(k.btf, "sched_process_exec"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(k.btf, "sched_process_exit"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(k.btf, "mark_victim"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(k.btf, "rss_stat"), "tp_btf");
    CHECK(bpf_events_flavour(k.btf, "sched_switch") == NULL);
    btf__free(k.btf);
}

/* mark_victim(int pid) before v6.9: the victim's task is not an argument */
TEST(mark_victim_with_a_pid_argument_gets_the_classic_program)
{
    struct kbtf k;
    CHECK_EQ(kbtf_init(&k), 0);
    CHECK_EQ(add_sched(&k), 0);
    CHECK_EQ(add_tp(&k, "mark_victim", k.int_id, 0, 0), 0);
    CHECK_EQ(add_tp(&k, "rss_stat", k.mm_ptr, k.int_id, 0), 0);
    CHECK_STREQ(bpf_events_flavour(k.btf, "mark_victim"), "tracepoint");
    CHECK_STREQ(bpf_events_flavour(k.btf, "rss_stat"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(k.btf, "sched_process_exec"), "tp_btf");
    btf__free(k.btf);
}

/* rss_stat(mm, member, count) before v6.2: the two arguments read are still there */
TEST(rss_stat_with_the_old_count_argument_keeps_tp_btf)
{
    struct kbtf k;
    CHECK_EQ(kbtf_init(&k), 0);
    CHECK_EQ(add_tp(&k, "rss_stat", k.mm_ptr, k.int_id, k.long_id), 0);
    CHECK_STREQ(bpf_events_flavour(k.btf, "rss_stat"), "tp_btf");
    /* a kernel without the tracepoint in its BTF, or no BTF at all */
    CHECK_STREQ(bpf_events_flavour(k.btf, "mark_victim"), "tracepoint");
    CHECK_STREQ(bpf_events_flavour(NULL, "sched_process_exec"), "tracepoint");
    btf__free(k.btf);
}

TEST(an_argument_of_another_struct_type_does_not_match)
{
    struct kbtf k;
    CHECK_EQ(kbtf_init(&k), 0);
    CHECK_EQ(add_tp(&k, "mark_victim", k.mm_ptr, 0, 0), 0);      /* not a task_struct */
    CHECK_EQ(add_tp(&k, "rss_stat", k.mm_ptr, k.long_id, 0), 0); /* member not an int */
    CHECK_STREQ(bpf_events_flavour(k.btf, "mark_victim"), "tracepoint");
    CHECK_STREQ(bpf_events_flavour(k.btf, "rss_stat"), "tracepoint");
    btf__free(k.btf);
}

TEST(this_kernel_gets_tp_btf_everywhere)
{
    NEED(access("/sys/kernel/btf/vmlinux", R_OK) == 0, "needs kernel BTF");
    struct btf *btf = btf__load_vmlinux_btf();
    CHECK(btf != NULL);
    CHECK_STREQ(bpf_events_flavour(btf, "sched_process_exec"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(btf, "sched_process_exit"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(btf, "mark_victim"), "tp_btf");
    CHECK_STREQ(bpf_events_flavour(btf, "rss_stat"), "tp_btf");
    btf__free(btf);
}

#define MIB (1ull << 20)

struct steps_seen {
    uint64_t boundary[64], value[64];
    int n;
};

static void on_step(const struct fs_event *ev, void *arg)
{
    struct steps_seen *s = arg;
    if (ev->kind == FS_EV_STEP_PROC && ev->tgid == getpid() && s->n < 64) {
        s->boundary[s->n] = ev->watermark_bytes;
        s->value[s->n++] = ev->value_bytes;
    }
}

/* reads every record there is (they are in the ring buffer before the
 * faults that caused them return; poll only wakes the consumer) */
static void drain(struct bpf_events *b, struct steps_seen *s)
{
    struct pollfd pfd = {.fd = bpf_events_fd(b), .events = POLLIN};
    while (poll(&pfd, 1, 0) > 0 && bpf_events_consume(b, on_step, s) > 0)
        ;
    bpf_events_consume(b, on_step, s);
}

static void touch(char *p, size_t len)
{
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
}

/* The kernel reports each 8 MiB step of this process's RSS once, in order,
 * with a value within the step; freeing the memory reports nothing and
 * moves the ladder down, so the climb that follows is reported from there. */
TEST(the_kernel_reports_each_step_of_a_climb_once_and_follows_a_fall)
{
    NEED(getuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0,
         "needs root and kernel BTF to load the BPF programs");
    struct bpf_events *b = NULL;
    char err[256];
    CHECK_MSG(bpf_events_open(NULL, &b, err, sizeof(err)) == 0, "bpf_events_open: %s", err);
    uint64_t rss0;
    CHECK_EQ(procfs_read_rss(NULL, getpid(), &rss0), 0);
    uint64_t from = rss0 + 16 * MIB, step = 8 * MIB;
    CHECK_EQ(bpf_events_set_proc_steps(b, 0, from, step), -EINVAL);
    CHECK_EQ(bpf_events_set_proc_steps(b, getpid(), 0, 0), -ENOENT);
    CHECK_EQ(bpf_events_set_proc_steps(b, getpid(), from, step), 0);
    size_t len = 96 * MIB;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    struct steps_seen s = {0};
    touch(p, 64 * MIB);
    drain(b, &s);
    CHECK_MSG(s.n >= 5, "%d step records for a 64 MiB climb", s.n);
    for (int i = 0; i < s.n; i++) {
        CHECK_MSG(s.boundary[i] == from + (uint64_t)i * step, "record %d: boundary %llu, want %llu",
                  i, (unsigned long long)s.boundary[i],
                  (unsigned long long)(from + (uint64_t)i * step));
        CHECK(s.value[i] >= s.boundary[i] && s.value[i] < s.boundary[i] + step);
    }
    int before = s.n;
    uint64_t top = s.boundary[before - 1];
    CHECK_EQ(munmap(p, len), 0);
    drain(b, &s);
    CHECK_EQ(s.n, before); /* a fall is not reported */
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    touch(p, 32 * MIB);
    drain(b, &s);
    CHECK_MSG(s.n > before, "no step after the fall");
    CHECK_MSG(s.boundary[before] < top, "after the fall the ladder restarts at %llu, above %llu",
              (unsigned long long)s.boundary[before], (unsigned long long)top);
    CHECK_EQ(bpf_events_set_proc_steps(b, getpid(), 0, 0), 0);
    munmap(p, len);
    bpf_events_close(b);
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* Loading parses all of the kernel's BTF (5-6 MB, twice over): that must
 * not happen in the caller, whose peak RSS would keep it for good; and the
 * ring (1 MiB here) is mapped once, not twice. Opening adds less than the
 * ring and 512 KiB to the peak. */
TEST(opening_leaves_the_kernel_btf_out_of_the_callers_peak_rss)
{
    NEED(getuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0,
         "needs root and kernel BTF to load the BPF programs");
    FILE *f = fopen("/proc/self/clear_refs", "w");
    CHECK(f != NULL && fputs("5", f) >= 0); /* 5: reset VmHWM to VmRSS */
    fclose(f);
    long rss0 = status_kb("VmRSS");
    struct bpf_events_options o = {.ringbuf_bytes = 1 << 20};
    struct bpf_events *b = NULL;
    char err[256];
    CHECK_MSG(bpf_events_open(&o, &b, err, sizeof(err)) == 0, "bpf_events_open: %s", err);
    long grew = status_kb("VmHWM") - rss0;
    CHECK_MSG(grew < 1024 + 512, "opening raised VmHWM by %ld kB", grew);
    bpf_events_close(b);
}

/* The default ring: 256 KiB, what a 20,000 exec/s storm writes in 74 ms
 * (two 88-byte records a process), and no more: the reader maps it twice,
 * so each KiB of ring is two of the daemon's RSS. */
TEST(the_default_ring_holds_74_ms_of_a_20000_exec_per_second_storm)
{
    NEED(getuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0,
         "needs root and kernel BTF to load the BPF programs");
    struct bpf_events *b = NULL;
    char err[256];
    CHECK_MSG(bpf_events_open(NULL, &b, err, sizeof(err)) == 0, "bpf_events_open: %s", err);
    struct bpf_events_counts c;
    bpf_events_counts(b, &c);
    CHECK_EQ(c.ringbuf_bytes, 256u << 10);
    uint32_t storm_74ms = 20000u * 2u * (uint32_t)(sizeof(struct fs_event) + 8) * 74u / 1000u;
    CHECK(c.ringbuf_bytes >= storm_74ms);
    bpf_events_close(b);
}

/* An 8 KiB ring holds 93 records: 64 steps of a 64 MiB climb, read twice,
 * wrap around its end, and every record arrives whole and in order. */
TEST(records_that_wrap_around_the_end_of_a_small_ring_arrive_whole)
{
    NEED(getuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0,
         "needs root and kernel BTF to load the BPF programs");
    struct bpf_events_options o = {.ringbuf_bytes = 8192};
    struct bpf_events *b = NULL;
    char err[256];
    CHECK_MSG(bpf_events_open(&o, &b, err, sizeof(err)) == 0, "bpf_events_open: %s", err);
    uint64_t rss0;
    CHECK_EQ(procfs_read_rss(NULL, getpid(), &rss0), 0);
    uint64_t from = rss0 + 4 * MIB, step = MIB;
    CHECK_EQ(bpf_events_set_proc_steps(b, getpid(), from, step), 0);
    size_t len = 64 * MIB;
    for (int round = 0; round < 2; round++) {
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED);
        struct steps_seen s = {0};
        touch(p, 48 * MIB);
        drain(b, &s);
        CHECK_MSG(s.n >= 40, "round %d: %d step records for a 48 MiB climb", round, s.n);
        for (int i = 1; i < s.n; i++)
            CHECK_MSG(s.boundary[i] == s.boundary[i - 1] + step,
                      "round %d record %d: %llu after %llu", round, i,
                      (unsigned long long)s.boundary[i], (unsigned long long)s.boundary[i - 1]);
        for (int i = 0; i < s.n; i++)
            CHECK(s.value[i] >= s.boundary[i] && s.value[i] < s.boundary[i] + step);
        munmap(p, len);
        drain(b, &s);
    }
    struct bpf_events_counts c;
    bpf_events_counts(b, &c);
    CHECK_EQ(c.ringbuf_full, 0);
    CHECK_EQ(c.malformed, 0);
    bpf_events_set_proc_steps(b, getpid(), 0, 0);
    bpf_events_close(b);
}

static void *wait_on_pipe(void *arg)
{
    char c;
    (void)read(*(int *)arg, &c, 1);
    return NULL;
}

/* The loader forks a child that runs libbpf: with another thread alive a
 * lock it holds (the logger's, the allocator's) would stay held in the
 * child, so opening then is refused, not left to chance. */
TEST(opening_with_another_thread_alive_is_refused)
{
    NEED(access("/sys/kernel/btf/vmlinux", R_OK) == 0, "needs kernel BTF");
    int fds[2];
    pthread_t t;
    CHECK_EQ(pipe(fds), 0);
    CHECK_EQ(pthread_create(&t, NULL, wait_on_pipe, &fds[0]), 0);
    struct bpf_events *b = NULL;
    char err[256] = "";
    int rc = bpf_events_open(NULL, &b, err, sizeof(err));
    CHECK_EQ(write(fds[1], "x", 1), 1);
    pthread_join(t, NULL);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(rc, -EDEADLK);
    CHECK_CONTAINS(err, "open the event source before other threads start");
}

TEST_MAIN(kernel_6_9_and_later_use_tp_btf_everywhere, opening_with_another_thread_alive_is_refused,
          mark_victim_with_a_pid_argument_gets_the_classic_program,
          rss_stat_with_the_old_count_argument_keeps_tp_btf,
          an_argument_of_another_struct_type_does_not_match, this_kernel_gets_tp_btf_everywhere,
          the_kernel_reports_each_step_of_a_climb_once_and_follows_a_fall,
          opening_leaves_the_kernel_btf_out_of_the_callers_peak_rss,
          the_default_ring_holds_74_ms_of_a_20000_exec_per_second_storm,
          records_that_wrap_around_the_end_of_a_small_ring_arrive_whole)
