/* The job queue: concurrency bound, de-duplication, full queue, deadlines,
 * shutdown, per-container (tenant) limits and turns. The executor here is a real worker body that
 * waits the way a capture does (poll on the cancel fd for the profile's duration). */
#include "harness.h"
#include "core/units.h"
#include "policy/jobs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

static _Atomic int now_running, max_running, executed;

static void exec_wait(const struct job *job, struct job_result *res, void *arg)
{
    (void)arg;
    int n = atomic_fetch_add(&now_running, 1) + 1;
    int m = atomic_load(&max_running);
    while (n > m && !atomic_compare_exchange_weak(&max_running, &m, n))
        ;
    struct pollfd p = {.fd = job->cancel_fd, .events = POLLIN};
    int rc = poll(&p, 1, (int)job->trigger.duration_ms);
    atomic_fetch_sub(&now_running, 1);
    atomic_fetch_add(&executed, 1);
    if (rc > 0) {
        res->state = JOB_CANCELLED;
        snprintf(res->reason, sizeof(res->reason), "stopped early");
        return;
    }
    res->state = JOB_DONE;
    res->n_artefacts = 1;
    snprintf(res->artefacts[0].kind, sizeof(res->artefacts[0].kind), "profile");
    res->artefacts[0].bytes = 42;
}

static struct job_request req(int pid, enum capture_kind kind, uint64_t ms, uint64_t budget)
{
    struct job_request r;
    memset(&r, 0, sizeof(r));
    r.target.pid = pid;
    r.target.start_time = 1000 + (uint64_t)pid;
    snprintf(r.target.comm, sizeof(r.target.comm), "java");
    r.trigger.kind = TRIGGER_HTTP;
    r.trigger.capture = kind;
    r.trigger.duration_ms = ms;
    r.budget_ms = budget;
    return r;
}

static void reset(void)
{
    atomic_store(&now_running, 0);
    atomic_store(&max_running, 0);
    atomic_store(&executed, 0);
}

/* A string field of the job's JSON ("(none)" for an unknown job). */
static const char *field_of(struct jobs *j, uint64_t id, const char *name, char *buf, size_t cap)
{
    cJSON *o = jobs_get_json(j, id);
    snprintf(buf, cap, "%s", o ? cJSON_GetObjectItem(o, name)->valuestring : "(none)");
    cJSON_Delete(o);
    return buf;
}

static const char *state_of(struct jobs *j, uint64_t id, char *buf, size_t cap)
{
    return field_of(j, id, "state", buf, cap);
}

TEST(at_most_workers_run_at_once)
{
    reset();
    struct metrics m = {0};
    struct jobs *j = jobs_new(2, 16, 32, exec_wait, NULL, &m);
    CHECK(j != NULL);
    uint64_t id;
    for (int i = 0; i < 6; i++) {
        struct job_request r = req(100 + i, CAPTURE_PROFILE, 80, 5000);
        CHECK_EQ(jobs_submit(j, &r, &id), 0);
    }
    while (atomic_load(&executed) < 6)
        usleep(10000);
    CHECK_EQ(atomic_load(&max_running), 2);
    jobs_stop(j, 1000);
    CHECK_EQ(atomic_load(&m.jobs[MJ_DONE]), 6);
    jobs_free(j);
}

/* A detection bench subtracts the moment its process crossed a threshold
 * (CLOCK_MONOTONIC) from this one: same clock, whole nanoseconds. */
TEST(a_job_says_when_it_was_detected_and_queued_on_the_monotonic_clock)
{
    reset();
    struct jobs *j = jobs_new(1, 4, 8, exec_wait, NULL, NULL);
    uint64_t id;
    struct job_request r = req(7, CAPTURE_PROFILE, 10, 5000);
    uint64_t before = units_now_mono_ns();
    CHECK_EQ(jobs_submit(j, &r, &id), 0);
    uint64_t after = units_now_mono_ns();
    cJSON *o = jobs_get_json(j, id);
    cJSON *q = cJSON_GetObjectItem(o, "queued_mono_ns");
    CHECK(cJSON_IsNumber(q));
    CHECK((uint64_t)q->valuedouble >= before);
    CHECK((uint64_t)q->valuedouble <= after);
    CHECK(cJSON_GetObjectItem(o, "detected_mono_ns") == NULL); /* no event fired it */
    cJSON_Delete(o);
    /* fired by an event: when its source saw it, on the same clock */
    r = req(8, CAPTURE_PROFILE, 10, 5000);
    r.trigger.seen_mono_ns = before - 1000;
    CHECK_EQ(jobs_submit(j, &r, &id), 0);
    o = jobs_get_json(j, id);
    q = cJSON_GetObjectItem(o, "detected_mono_ns");
    CHECK(cJSON_IsNumber(q));
    CHECK_EQ((uint64_t)q->valuedouble, before - 1000);
    cJSON_Delete(o);
    jobs_stop(j, 1000);
    jobs_free(j);
}

TEST(duplicates_per_target_and_kind_are_rejected)
{
    reset();
    struct metrics m = {0};
    struct jobs *j = jobs_new(1, 16, 32, exec_wait, NULL, &m);
    uint64_t a, b;
    struct job_request r1 = req(7, CAPTURE_PROFILE, 300, 5000);
    CHECK_EQ(jobs_submit(j, &r1, &a), 0);
    struct job_request r2 = req(7, CAPTURE_PROFILE, 300, 5000);
    CHECK_EQ(jobs_submit(j, &r2, &b), -EEXIST);
    CHECK_EQ(b, a);
    struct job_request r3 = req(7, CAPTURE_SNAPSHOT, 10, 5000);
    CHECK_EQ(jobs_submit(j, &r3, &b), 0); /* another kind for the same target is fine */
    CHECK(jobs_busy(j, &r1.target, CAPTURE_PROFILE));
    struct job_request r4 = req(7, CAPTURE_PROFILE, 10, 5000);
    r4.target.start_time++; /* same pid, another process: not a duplicate */
    CHECK_EQ(jobs_submit(j, &r4, &b), 0);
    CHECK_EQ(atomic_load(&m.jobs[MJ_REJECTED]), 1);
    CHECK_EQ(atomic_load(&m.jobs_rejected[MR_DUPLICATE]), 1);
    jobs_stop(j, 2000);
    jobs_free(j);
}

TEST(full_queue_is_reported)
{
    reset();
    struct jobs *j = jobs_new(1, 2, 8, exec_wait, NULL, NULL);
    uint64_t id;
    struct job_request r = req(1, CAPTURE_PROFILE, 500, 5000);
    CHECK_EQ(jobs_submit(j, &r, &id), 0);
    while (jobs_running(j) == 0)
        usleep(1000);
    for (int i = 2; i <= 3; i++) {
        struct job_request q = req(i, CAPTURE_PROFILE, 10, 5000);
        CHECK_EQ(jobs_submit(j, &q, &id), 0);
    }
    struct job_request over = req(9, CAPTURE_PROFILE, 10, 5000);
    CHECK_EQ(jobs_submit(j, &over, &id), -ENOSPC);
    CHECK_EQ(jobs_queued(j), 2);
    jobs_stop(j, 2000);
    jobs_free(j);
}

TEST(deadline_cancels_an_overrunning_job)
{
    reset();
    struct jobs *j = jobs_new(1, 4, 8, exec_wait, NULL, NULL);
    uint64_t id;
    char st[32];
    struct job_request r = req(5, CAPTURE_PROFILE, 10000, 150); /* 10 s work, 150 ms budget */
    CHECK_EQ(jobs_submit(j, &r, &id), 0);
    for (int i = 0; i < 300 && strcmp(state_of(j, id, st, sizeof(st)), "cancelled"); i++)
        usleep(10000);
    CHECK_STREQ(state_of(j, id, st, sizeof(st)), "cancelled");
    cJSON *o = jobs_get_json(j, id);
    CHECK_STREQ(cJSON_GetObjectItem(o, "detail")->valuestring, "deadline exceeded");
    cJSON_Delete(o);
    jobs_stop(j, 1000);
    jobs_free(j);
}

TEST(stop_cancels_queued_and_running_jobs)
{
    reset();
    struct jobs *j = jobs_new(1, 4, 8, exec_wait, NULL, NULL);
    uint64_t running, queued;
    char st[32];
    struct job_request a = req(1, CAPTURE_PROFILE, 30000, 60000);
    struct job_request b = req(2, CAPTURE_PROFILE, 30000, 60000);
    CHECK_EQ(jobs_submit(j, &a, &running), 0);
    while (jobs_running(j) == 0)
        usleep(1000);
    CHECK_EQ(jobs_submit(j, &b, &queued), 0);
    jobs_stop(j, 2000);
    CHECK_STREQ(state_of(j, running, st, sizeof(st)), "cancelled");
    CHECK_STREQ(state_of(j, queued, st, sizeof(st)), "cancelled");
    struct job_request c = req(3, CAPTURE_PROFILE, 10, 100);
    uint64_t id;
    CHECK_EQ(jobs_submit(j, &c, &id), -ESHUTDOWN);
    cJSON *list = jobs_list_json(j);
    CHECK_EQ(cJSON_GetArraySize(list), 2);
    cJSON_Delete(list);
    jobs_free(j);
}

static bool pick_low_pids(const struct job *job, void *arg, char *why, size_t cap)
{
    if (job->target.pid > *(int *)arg)
        return false;
    snprintf(why, cap, "Pod shop/api-0 opted out");
    return true;
}

/* A Pod that opted out: its queued job never starts, its running one is
 * told to stop; both say why; others are untouched. */
TEST(cancel_if_drops_queued_jobs_and_stops_running_ones)
{
    reset();
    struct jobs *j = jobs_new(1, 4, 8, exec_wait, NULL, NULL);
    uint64_t running, queued, other;
    char st[32], why[256];
    int upto = 2;
    struct job_request a = req(1, CAPTURE_PROFILE, 30000, 60000);
    struct job_request b = req(2, CAPTURE_PROFILE, 30000, 60000);
    struct job_request c = req(3, CAPTURE_PROFILE, 10, 60000);
    CHECK_EQ(jobs_submit(j, &a, &running), 0);
    for (int i = 0; i < 5000 && jobs_running(j) == 0; i++)
        usleep(1000);
    CHECK_EQ(jobs_submit(j, &b, &queued), 0);
    CHECK_EQ(jobs_submit(j, &c, &other), 0);
    CHECK_EQ(jobs_cancel_if(j, pick_low_pids, &upto), 2);
    CHECK_STREQ(state_of(j, queued, st, sizeof(st)), "cancelled");
    CHECK_STREQ(field_of(j, queued, "reason", why, sizeof(why)), "Pod shop/api-0 opted out");
    for (int i = 0; i < 500 && strcmp(state_of(j, other, st, sizeof(st)), "done"); i++)
        usleep(10000);
    CHECK_STREQ(state_of(j, running, st, sizeof(st)), "cancelled");
    CHECK_STREQ(field_of(j, running, "reason", why, sizeof(why)),
                "Pod shop/api-0 opted out; stopped early");
    CHECK_STREQ(state_of(j, other, st, sizeof(st)), "done");
    CHECK_EQ(atomic_load(&executed), 2); /* the queued one never ran */
    CHECK_EQ(jobs_cancel_if(j, pick_low_pids, &upto), 0);
    jobs_stop(j, 1000);
    jobs_free(j);
}

/* Submits n snapshot jobs (pids 10..), lets them run, stops the workers;
 * returns how many were accepted. */
static int run_snapshots(struct jobs *j, int n)
{
    uint64_t id = 0;
    int ok = 0;
    for (int i = 0; i < n; i++) {
        struct job_request r = req(10 + i, CAPTURE_SNAPSHOT, 1, 1000);
        ok += jobs_submit(j, &r, &id) == 0;
    }
    while (atomic_load(&executed) < ok)
        usleep(1000);
    jobs_stop(j, 1000);
    return ok;
}

TEST(history_is_bounded_and_listed_newest_first)
{
    reset();
    struct jobs *j = jobs_new(2, 16, 3, exec_wait, NULL, NULL);
    CHECK_EQ(run_snapshots(j, 5), 5);
    cJSON *list = jobs_list_json(j);
    CHECK_EQ(cJSON_GetArraySize(list), 3);
    cJSON *first = cJSON_GetArrayItem(list, 0);
    CHECK_STREQ(cJSON_GetObjectItem(first, "state")->valuestring, "done");
    CHECK_STREQ(cJSON_GetObjectItem(first, "capture")->valuestring, "snapshot");
    cJSON_Delete(list);
    jobs_free(j);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* The soak saw the history hold a cancel eventfd per ended job (~256). */
TEST(an_ended_job_holds_no_fd)
{
    reset();
    struct jobs *j = jobs_new(2, 64, 64, exec_wait, NULL, NULL);
    int before = open_fds();
    CHECK_EQ(run_snapshots(j, 20), 20);
    cJSON *list = jobs_list_json(j);
    CHECK_EQ(cJSON_GetArraySize(list), 20);
    cJSON_Delete(list);
    CHECK_EQ(open_fds(), before);
    jobs_free(j);
}

TEST(one_capture_per_process_at_a_time)
{
    reset();
    struct jobs *j = jobs_new(2, 8, 8, exec_wait, NULL, NULL);
    uint64_t a, b;
    struct job_request p = req(77, CAPTURE_PROFILE, 300, 5000);
    struct job_request s = req(77, CAPTURE_SNAPSHOT, 300, 5000);
    CHECK_EQ(jobs_submit(j, &p, &a), 0);
    CHECK_EQ(jobs_submit(j, &s, &b), 0);
    while (atomic_load(&executed) < 2)
        usleep(5000);
    CHECK_EQ(atomic_load(&max_running), 1); /* two workers free, same JVM: in turn */
    jobs_stop(j, 1000);
    jobs_free(j);
}

/* An executor that does not honour cancel_fd: it stands for a capture
 * stuck in the kernel, released only when the test writes to the gate. */
static int gate[2];

static void exec_stuck(const struct job *job, struct job_result *res, void *arg)
{
    (void)job;
    (void)arg;
    char c;
    atomic_fetch_add(&now_running, 1);
    if (read(gate[0], &c, 1) < 0)
        res->state = JOB_FAILED;
    atomic_fetch_add(&executed, 1);
    res->state = JOB_DONE;
}

struct stop_call {
    struct jobs *j;
    int rc;
};

static void *stop_thread(void *p)
{
    struct stop_call *c = p;
    c->rc = jobs_stop(c->j, 100);
    return NULL;
}

TEST(stop_returns_within_its_bound_past_a_stuck_worker)
{
    reset();
    CHECK_EQ(pipe(gate), 0);
    struct jobs *j = jobs_new(1, 4, 8, exec_stuck, NULL, NULL);
    struct job_request r = req(31, CAPTURE_PROFILE, 10, 60000);
    uint64_t id;
    CHECK_EQ(jobs_submit(j, &r, &id), 0);
    for (int i = 0; i < 500 && !atomic_load(&now_running); i++)
        usleep(10000);
    struct stop_call c = {.j = j};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, stop_thread, &c), 0);
    /* the bound is 100 ms + 5 s */
    bool returned = t_joined_within(th, 10);
    CHECK_EQ(write(gate[1], "x", 1), 1); /* the capture comes back */
    if (!returned)
        pthread_join(th, NULL);
    CHECK_MSG(returned, "jobs_stop still joining 10 s after a 100 ms grace");
    CHECK_EQ(c.rc, -ETIMEDOUT);
    CHECK_EQ(jobs_stop(j, 5000), 0); /* once back, the left worker is joined */
    CHECK_EQ(atomic_load(&executed), 1);
    jobs_free(j);
    close(gate[0]);
    close(gate[1]);
}

/* Checks cond, polling it every millisecond for up to 10 s. */
#define CHECK_SOON(cond)                                                                           \
    do {                                                                                           \
        for (int w_ = 0; !(cond) && w_ < 10000; w_++)                                              \
            usleep(1000);                                                                          \
        CHECK(cond);                                                                               \
    } while (0)

static struct job_request tenant_req(int pid, const char *tenant, uint64_t ms)
{
    struct job_request r = req(pid, CAPTURE_PROFILE, ms, 60000);
    r.tenant = tenant;
    return r;
}

TEST(one_container_cannot_take_every_worker_nor_the_queue)
{
    reset();
    struct metrics m = {0};
    struct jobs *j = jobs_new(2, 64, 64, exec_wait, NULL, &m);
    CHECK_EQ(jobs_set_tenant_limits(j, 1, 8), 0);
    uint64_t first, id, b_id;
    char st[32];
    /* container A floods: one runs, eight wait, the rest are refused */
    struct job_request a = tenant_req(100, "A", 30000);
    CHECK_EQ(jobs_submit(j, &a, &first), 0);
    CHECK_SOON(jobs_running(j) == 1);
    int queued = 0, refused = 0;
    for (int i = 1; i < 20; i++) {
        struct job_request r = tenant_req(100 + i, "A", 30000);
        int rc = jobs_submit(j, &r, &id);
        queued += rc == 0;
        refused += rc == -EDQUOT;
    }
    CHECK_EQ(queued, 8);
    CHECK_EQ(refused, 11);
    CHECK_EQ(atomic_load(&m.jobs_rejected[MR_TENANT_QUEUE_FULL]), 11);
    CHECK_EQ(atomic_load(&m.jobs[MJ_REJECTED]), 11);
    /* A's queued jobs do not take the second worker: container B runs */
    struct job_request b = tenant_req(200, "B", 30000);
    CHECK_EQ(jobs_submit(j, &b, &b_id), 0);
    CHECK_SOON(jobs_running(j) == 2);
    CHECK_STREQ(state_of(j, b_id, st, sizeof(st)), "running");
    CHECK_STREQ(state_of(j, first, st, sizeof(st)), "running");
    CHECK_EQ(jobs_queued(j), 8);
    cJSON *o = jobs_get_json(j, b_id);
    CHECK_STREQ(cJSON_GetObjectItem(o, "tenant")->valuestring, "B");
    cJSON_Delete(o);
    jobs_stop(j, 2000);
    jobs_free(j);
}

static int gate_fd = -1;
static _Atomic uint64_t order[16];

/* Records the order jobs start in; a job with a duration waits for the
 * gate (an eventfd the test makes readable) or its cancellation. */
static void exec_gated(const struct job *job, struct job_result *res, void *arg)
{
    (void)arg;
    order[atomic_fetch_add(&executed, 1) % 16] = job->id;
    struct pollfd p[2] = {{.fd = job->cancel_fd, .events = POLLIN},
                          {.fd = gate_fd, .events = POLLIN}};
    if (job->trigger.duration_ms)
        poll(p, 2, -1);
    res->state = JOB_DONE;
}

TEST(containers_take_turns)
{
    reset();
    gate_fd = eventfd(0, EFD_CLOEXEC);
    CHECK(gate_fd >= 0);
    struct jobs *j = jobs_new(1, 64, 64, exec_gated, NULL, NULL);
    CHECK_EQ(jobs_set_tenant_limits(j, 1, 8), 0);
    uint64_t a1, a2, a3, b1, one = 1;
    struct job_request r1 = tenant_req(1, "A", 1), r2 = tenant_req(2, "A", 0),
                       r3 = tenant_req(3, "A", 0), rb = tenant_req(4, "B", 0);
    CHECK_EQ(jobs_submit(j, &r1, &a1), 0);
    CHECK_SOON(atomic_load(&executed) == 1); /* a1 holds the one worker */
    CHECK_EQ(jobs_submit(j, &r2, &a2), 0);
    CHECK_EQ(jobs_submit(j, &r3, &a3), 0);
    CHECK_EQ(jobs_submit(j, &rb, &b1), 0);
    CHECK_EQ(write(gate_fd, &one, sizeof(one)), sizeof(one));
    CHECK_SOON(atomic_load(&executed) == 4);
    /* B queued last but waits for one job of A, not for all of them */
    CHECK_EQ(order[0], a1);
    CHECK_EQ(order[1], b1);
    CHECK_EQ(order[2], a2);
    CHECK_EQ(order[3], a3);
    jobs_stop(j, 1000);
    jobs_free(j);
    close(gate_fd);
}

TEST(tenant_limits_are_checked)
{
    struct jobs *j = jobs_new(2, 4, 4, exec_wait, NULL, NULL);
    CHECK_EQ(jobs_set_tenant_limits(j, 0, 1), -EINVAL);
    CHECK_EQ(jobs_set_tenant_limits(j, 3, 1), -EINVAL); /* more than the workers */
    CHECK_EQ(jobs_set_tenant_limits(j, 1, 5), -EINVAL); /* more than the queue */
    CHECK_EQ(jobs_set_tenant_limits(j, 2, 4), 0);
    jobs_stop(j, 1000);
    jobs_free(j);
}

static struct job_request urgent_req(int pid, uint64_t ms)
{
    struct job_request r = req(pid, CAPTURE_SNAPSHOT, ms, 60000);
    r.trigger.kind = TRIGGER_CGROUP_PRESSURE;
    r.tenant = "A";
    r.urgent = true;
    return r;
}

TEST(urgent_job_runs_while_the_only_worker_and_the_tenant_slot_are_busy)
{
    reset();
    struct metrics m = {0};
    struct jobs *j = jobs_new(1, 8, 16, exec_wait, NULL, &m);
    CHECK_EQ(jobs_set_tenant_limits(j, 1, 1), 0);
    uint64_t prof, queued, snap, same, id;
    char st[32];
    struct job_request p = tenant_req(1, "A", 30000);
    CHECK_EQ(jobs_submit(j, &p, &prof), 0);
    CHECK_SOON(jobs_running(j) == 1);
    struct job_request q = tenant_req(2, "A", 30000);
    CHECK_EQ(jobs_submit(j, &q, &queued), 0); /* the tenant's one queued job */
    struct job_request more = tenant_req(3, "A", 30000);
    CHECK_EQ(jobs_submit(j, &more, &id), -EDQUOT);
    /* another process of the same tenant, and the profiled process itself */
    struct job_request u = urgent_req(3, 30000), v = urgent_req(1, 30000);
    CHECK_EQ(jobs_submit(j, &u, &snap), 0);
    CHECK_EQ(jobs_submit(j, &v, &same), 0);
    CHECK_SOON(jobs_running(j) == 3);
    CHECK_STREQ(state_of(j, snap, st, sizeof(st)), "running");
    CHECK_STREQ(state_of(j, same, st, sizeof(st)), "running");
    CHECK_STREQ(state_of(j, prof, st, sizeof(st)), "running");
    CHECK_STREQ(state_of(j, queued, st, sizeof(st)), "queued");
    cJSON *o = jobs_get_json(j, snap);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "urgent")));
    cJSON_Delete(o);
    o = jobs_get_json(j, prof);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(o, "urgent")));
    cJSON_Delete(o);
    jobs_stop(j, 2000);
    jobs_free(j);
}

TEST(urgent_snapshots_are_deduplicated_among_themselves)
{
    reset();
    struct metrics m = {0};
    struct jobs *j = jobs_new(1, 8, 16, exec_wait, NULL, &m);
    uint64_t first, id, routine, other;
    struct job_request a = urgent_req(5, 30000), b = urgent_req(5, 30000);
    CHECK_EQ(jobs_submit(j, &a, &first), 0);
    CHECK_SOON(jobs_running(j) == 1);
    CHECK_EQ(jobs_submit(j, &b, &id), -EEXIST);
    CHECK_EQ(id, first);
    /* a routine snapshot of the process: the urgent one covers it */
    struct job_request r = req(5, CAPTURE_SNAPSHOT, 10, 5000);
    CHECK_EQ(jobs_submit(j, &r, &id), -EEXIST);
    CHECK_EQ(id, first);
    /* a routine snapshot waiting for the worker does not hold an urgent one back */
    struct job_request busy = req(6, CAPTURE_PROFILE, 30000, 60000);
    CHECK_EQ(jobs_submit(j, &busy, &id), 0);
    CHECK_SOON(jobs_running(j) == 2);
    struct job_request rs = req(7, CAPTURE_SNAPSHOT, 30000, 60000);
    CHECK_EQ(jobs_submit(j, &rs, &routine), 0);
    struct job_request us = urgent_req(7, 30000);
    CHECK_EQ(jobs_submit(j, &us, &other), 0);
    CHECK(other != routine);
    CHECK_SOON(jobs_running(j) == 3);
    CHECK_EQ(atomic_load(&m.jobs_rejected[MR_DUPLICATE]), 2);
    jobs_stop(j, 2000);
    jobs_free(j);
}

TEST(urgent_lane_is_bounded)
{
    reset();
    struct jobs *j = jobs_new(1, 4, 32, exec_wait, NULL, NULL);
    uint64_t id;
    for (int i = 0; i < JOBS_URGENT_WORKERS; i++) {
        struct job_request r = urgent_req(100 + i, 30000);
        CHECK_EQ(jobs_submit(j, &r, &id), 0);
    }
    CHECK_SOON(jobs_running(j) == JOBS_URGENT_WORKERS);
    for (int i = 0; i < JOBS_URGENT_QUEUE; i++) {
        struct job_request r = urgent_req(200 + i, 30000);
        CHECK_EQ(jobs_submit(j, &r, &id), 0);
    }
    struct job_request over = urgent_req(300, 30000);
    CHECK_EQ(jobs_submit(j, &over, &id), -ENOSPC);
    CHECK_EQ(jobs_queued(j), JOBS_URGENT_QUEUE);
    /* the routine queue is its own */
    struct job_request routine = req(301, CAPTURE_PROFILE, 10, 5000);
    CHECK_EQ(jobs_submit(j, &routine, &id), 0);
    jobs_stop(j, 2000);
    jobs_free(j);
}

TEST(routine_job_of_a_process_waits_for_its_urgent_one)
{
    reset();
    gate_fd = eventfd(0, EFD_CLOEXEC);
    CHECK(gate_fd >= 0);
    struct jobs *j = jobs_new(2, 8, 16, exec_gated, NULL, NULL);
    uint64_t snap, prof, one = 1;
    char st[32];
    struct job_request u = urgent_req(9, 1), p = req(9, CAPTURE_PROFILE, 0, 5000);
    CHECK_EQ(jobs_submit(j, &u, &snap), 0);
    CHECK_SOON(atomic_load(&executed) == 1);
    CHECK_EQ(jobs_submit(j, &p, &prof), 0);
    /* two routine workers idle (one runs another process's job meanwhile),
     * yet the profile waits for the evidence */
    struct job_request o = req(10, CAPTURE_PROFILE, 0, 5000);
    uint64_t other;
    CHECK_EQ(jobs_submit(j, &o, &other), 0);
    CHECK_SOON(atomic_load(&executed) == 2 && jobs_running(j) == 1);
    CHECK_STREQ(state_of(j, prof, st, sizeof(st)), "queued");
    CHECK_EQ(write(gate_fd, &one, sizeof(one)), sizeof(one));
    CHECK_SOON(atomic_load(&executed) == 3);
    CHECK_EQ(order[0], snap);
    CHECK_EQ(order[1], other);
    CHECK_EQ(order[2], prof);
    jobs_stop(j, 1000);
    jobs_free(j);
    close(gate_fd);
}

/* A memory emergency's evidence in order: its urgent snapshot, even while
 * it waits for a busy urgent lane, goes before its routine heap dump,
 * which goes before its profile (queued after it, same container). */
TEST(routine_jobs_wait_while_an_urgent_one_of_their_process_is_queued)
{
    reset();
    gate_fd = eventfd(0, EFD_CLOEXEC);
    CHECK(gate_fd >= 0);
    struct jobs *j = jobs_new(2, 8, 16, exec_gated, NULL, NULL);
    uint64_t id, snap, dump, prof, other, one = 1;
    char st[32];
    for (int i = 0; i < JOBS_URGENT_WORKERS; i++) {
        struct job_request busy = urgent_req(30 + i, 1);
        CHECK_EQ(jobs_submit(j, &busy, &id), 0);
    }
    CHECK_SOON(atomic_load(&executed) == JOBS_URGENT_WORKERS);
    struct job_request u = urgent_req(20, 0);
    struct job_request d = tenant_req(20, "A", 0), p = tenant_req(20, "A", 0);
    d.trigger.capture = CAPTURE_HEAP_DUMP;
    p.trigger.capture = CAPTURE_PROFILE;
    CHECK_EQ(jobs_submit(j, &u, &snap), 0);
    CHECK_EQ(jobs_submit(j, &d, &dump), 0);
    CHECK_EQ(jobs_submit(j, &p, &prof), 0);
    /* the routine workers are free: another process's job runs at once */
    struct job_request o = tenant_req(21, "B", 0);
    CHECK_EQ(jobs_submit(j, &o, &other), 0);
    CHECK_SOON(atomic_load(&executed) == JOBS_URGENT_WORKERS + 1);
    CHECK_EQ(order[JOBS_URGENT_WORKERS], other);
    CHECK_STREQ(state_of(j, dump, st, sizeof(st)), "queued");
    CHECK_STREQ(state_of(j, prof, st, sizeof(st)), "queued");
    CHECK_EQ(write(gate_fd, &one, sizeof(one)), sizeof(one));
    CHECK_SOON(atomic_load(&executed) == JOBS_URGENT_WORKERS + 4);
    CHECK_EQ(order[JOBS_URGENT_WORKERS + 1], snap);
    CHECK_EQ(order[JOBS_URGENT_WORKERS + 2], dump);
    CHECK_EQ(order[JOBS_URGENT_WORKERS + 3], prof);
    jobs_stop(j, 1000);
    jobs_free(j);
    close(gate_fd);
}

TEST(stop_cancels_urgent_jobs)
{
    reset();
    struct jobs *j = jobs_new(1, 4, 16, exec_wait, NULL, NULL);
    uint64_t running, queued;
    char st[32];
    struct job_request a = urgent_req(11, 30000);
    CHECK_EQ(jobs_submit(j, &a, &running), 0);
    CHECK_SOON(jobs_running(j) == 1);
    struct job_request b = urgent_req(11, 30000);
    b.trigger.capture = CAPTURE_PROFILE; /* same process: waits for the first */
    CHECK_EQ(jobs_submit(j, &b, &queued), 0);
    CHECK_EQ(jobs_stop(j, 2000), 0);
    CHECK_STREQ(state_of(j, running, st, sizeof(st)), "cancelled");
    CHECK_STREQ(state_of(j, queued, st, sizeof(st)), "cancelled");
    struct job_request c = urgent_req(12, 10);
    uint64_t id;
    CHECK_EQ(jobs_submit(j, &c, &id), -ESHUTDOWN);
    jobs_free(j);
}

/* A snapshot whose Thread.print was cut by the kill; waits for the gate
 * (or its cancellation) when it has a duration. */
static void exec_evidence(const struct job *job, struct job_result *res, void *arg)
{
    exec_gated(job, res, arg);
    res->n_artefacts = 2;
    snprintf(res->artefacts[0].kind, sizeof(res->artefacts[0].kind), "thread_print");
    snprintf(res->artefacts[0].name, sizeof(res->artefacts[0].name), "/d/tp%llu.txt",
             (unsigned long long)job->id);
    res->artefacts[0].partial = true;
    snprintf(res->artefacts[1].kind, sizeof(res->artefacts[1].kind), "gc_class_histogram");
    snprintf(res->artefacts[1].name, sizeof(res->artefacts[1].name), "/d/h%llu.txt",
             (unsigned long long)job->id);
}

TEST(evidence_text_waits_for_urgent_snapshots_and_names_them)
{
    reset();
    gate_fd = eventfd(0, EFD_CLOEXEC);
    CHECK(gate_fd >= 0);
    struct jobs *j = jobs_new(1, 8, 16, exec_evidence, NULL, NULL);
    uint64_t done, snap, prof, other, one = 1;
    char text[1024], want[256];
    struct job_request old = urgent_req(21, 0), other_pid = urgent_req(22, 0);
    CHECK_EQ(jobs_submit(j, &old, &done), 0);
    CHECK_EQ(jobs_submit(j, &other_pid, &other), 0);
    CHECK_SOON(atomic_load(&executed) == 2 && jobs_running(j) == 0);
    struct job_request u = urgent_req(21, 1), p = req(21, CAPTURE_PROFILE, 0, 5000);
    CHECK_EQ(jobs_submit(j, &u, &snap), 0);
    CHECK_EQ(jobs_submit(j, &p, &prof), 0);
    CHECK_SOON(atomic_load(&executed) == 3);
    /* the kill came: not waiting, the running one is named as such */
    CHECK_EQ(jobs_evidence_text(j, &u.target, 0, text, sizeof(text)), -ETIMEDOUT);
    snprintf(want, sizeof(want),
             "snapshot job %llu: in progress, thread_print:/d/tp%llu.txt (partial), "
             "gc_class_histogram:/d/h%llu.txt",
             (unsigned long long)snap, (unsigned long long)done, (unsigned long long)done);
    CHECK_STREQ(text, want);
    CHECK_EQ(write(gate_fd, &one, sizeof(one)), sizeof(one));
    /* waiting: it ends right after, and the record names what it kept; the
     * profile is no snapshot, the other process's snapshots are not its */
    CHECK_EQ(jobs_evidence_text(j, &u.target, 10000, text, sizeof(text)), 0);
    snprintf(want, sizeof(want),
             "thread_print:/d/tp%llu.txt (partial), gc_class_histogram:/d/h%llu.txt, "
             "thread_print:/d/tp%llu.txt (partial), gc_class_histogram:/d/h%llu.txt",
             (unsigned long long)snap, (unsigned long long)snap, (unsigned long long)done,
             (unsigned long long)done);
    CHECK_STREQ(text, want);
    (void)other;
    jobs_stop(j, 1000);
    jobs_free(j);
    close(gate_fd);
}

TEST_MAIN(urgent_job_runs_while_the_only_worker_and_the_tenant_slot_are_busy,
          urgent_snapshots_are_deduplicated_among_themselves, urgent_lane_is_bounded,
          routine_job_of_a_process_waits_for_its_urgent_one, stop_cancels_urgent_jobs,
          evidence_text_waits_for_urgent_snapshots_and_names_them,
          one_container_cannot_take_every_worker_nor_the_queue, containers_take_turns,
          tenant_limits_are_checked, one_capture_per_process_at_a_time,
          stop_returns_within_its_bound_past_a_stuck_worker, at_most_workers_run_at_once,
          a_job_says_when_it_was_detected_and_queued_on_the_monotonic_clock,
          duplicates_per_target_and_kind_are_rejected, full_queue_is_reported,
          deadline_cancels_an_overrunning_job, stop_cancels_queued_and_running_jobs,
          history_is_bounded_and_listed_newest_first, an_ended_job_holds_no_fd,
          cancel_if_drops_queued_jobs_and_stops_running_ones,
          routine_jobs_wait_while_an_urgent_one_of_their_process_is_queued)
