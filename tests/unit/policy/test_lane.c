/* lane: background tasks run in order off the caller's thread; a full
 * queue drops (and frees) instead of blocking; an overrun is reported
 * once; stopping past a stuck task is bounded. */
#include "harness.h"
#include "core/units.h"
#include "policy/lane.h"

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

static _Atomic int ran, dropped, order_ok, next_expected, started;
static int gate[2];

static void reset(void)
{
    atomic_store(&ran, 0);
    atomic_store(&dropped, 0);
    atomic_store(&order_ok, 1);
    atomic_store(&next_expected, 0);
    atomic_store(&started, 0);
}

static void numbered(void *arg, bool run)
{
    int n = (int)(intptr_t)arg;
    if (!run) {
        atomic_fetch_add(&dropped, 1);
        return;
    }
    if (atomic_fetch_add(&next_expected, 1) != n)
        atomic_store(&order_ok, 0);
    atomic_fetch_add(&ran, 1);
}

/* Blocks until the test writes to the gate: a task stuck in the kernel. */
static void stuck(void *arg, bool run)
{
    (void)arg;
    char c;
    if (run)
        atomic_store(&started, 1);
    if (run && read(gate[0], &c, 1) == 1)
        atomic_fetch_add(&ran, 1);
    if (!run)
        atomic_fetch_add(&dropped, 1);
}

static void wait_for(_Atomic int *v, int want)
{
    for (int i = 0; i < 1000 && atomic_load(v) < want; i++)
        usleep(5000);
}

TEST(tasks_run_in_order_off_the_caller)
{
    reset();
    struct metrics m = {0};
    struct lane *l = lane_new("test", 16, &m);
    CHECK(l != NULL);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(lane_post(l, "numbered", numbered, (void *)(intptr_t)i, 1000), 0);
    wait_for(&ran, 10);
    CHECK_EQ(atomic_load(&ran), 10);
    CHECK(atomic_load(&order_ok));
    CHECK_EQ(lane_stop(l, 1000), 0);
    lane_free(l);
}

TEST(a_stuck_task_costs_the_caller_nothing_and_is_reported_once)
{
    reset();
    CHECK_EQ(pipe(gate), 0);
    struct metrics m = {0};
    struct lane *l = lane_new("test", 2, &m);
    CHECK_EQ(lane_post(l, "stuck", stuck, NULL, 50), 0);
    wait_for(&started, 1); /* the worker has taken it */
    CHECK_EQ(lane_post(l, "numbered", numbered, (void *)(intptr_t)0, 1000), 0);
    CHECK_EQ(lane_post(l, "numbered", numbered, (void *)(intptr_t)1, 1000), 0);
    uint64_t t0 = units_now_mono_ms();
    /* full: dropped (and freed) at once, never waiting */
    CHECK_EQ(lane_post(l, "numbered", numbered, (void *)(intptr_t)2, 1000), -ENOSPC);
    CHECK(units_now_mono_ms() - t0 < 100);
    CHECK_EQ(atomic_load(&dropped), 1);
    CHECK_EQ(atomic_load(&m.background_dropped), 1);
    CHECK_EQ(lane_check(l, units_now_mono_ms() + 100), 3);
    CHECK_EQ(lane_check(l, units_now_mono_ms() + 200), 3);
    CHECK_EQ(atomic_load(&m.background_overruns), 1);
    CHECK_EQ(write(gate[1], "x", 1), 1);
    wait_for(&ran, 3);
    CHECK_EQ(atomic_load(&ran), 3);
    CHECK_EQ(lane_stop(l, 1000), 0);
    lane_free(l);
    close(gate[0]);
    close(gate[1]);
}

TEST(stop_is_bounded_past_a_stuck_task_and_drops_the_queue)
{
    reset();
    CHECK_EQ(pipe(gate), 0);
    struct lane *l = lane_new("test", 4, NULL);
    CHECK_EQ(lane_post(l, "stuck", stuck, NULL, 50), 0);
    wait_for(&started, 1);
    CHECK_EQ(lane_post(l, "numbered", numbered, (void *)(intptr_t)0, 1000), 0);
    uint64_t t0 = units_now_mono_ms();
    CHECK_EQ(lane_stop(l, 200), -ETIMEDOUT);
    uint64_t took = units_now_mono_ms() - t0;
    CHECK(took >= 200 && took < 2000);
    CHECK_EQ(atomic_load(&dropped), 1); /* the queued one, freed */
    CHECK_EQ(lane_post(l, "numbered", numbered, (void *)(intptr_t)1, 1000), -ESHUTDOWN);
    CHECK_EQ(write(gate[1], "x", 1), 1); /* the stuck task comes back */
    CHECK_EQ(lane_stop(l, 5000), 0);     /* and the worker is gone */
    lane_free(l);
    close(gate[0]);
    close(gate[1]);
}

TEST_MAIN(tasks_run_in_order_off_the_caller,
          a_stuck_task_costs_the_caller_nothing_and_is_reported_once,
          stop_is_bounded_past_a_stuck_task_and_drops_the_queue)
