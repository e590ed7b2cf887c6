/* leadtime: the growth rate from step readings and the projected time to
 * the limit, with time passed in: a steady leak, a burst, a plateau, a
 * drop, noise below a step, and the cases that must never fire. */
#include "harness.h"
#include "policy/leadtime.h"

#define MIB   (1ull << 20)
#define MS    1000000ull /* ns */
#define LIMIT (1000 * MIB)
#define STEP  (LIMIT / 100 * LEAD_STEP_PCT)
#define NOISE (STEP / 2)
#define LEAD  3000 /* ms */

/* t in ms, bytes in MiB */
static void feed(struct lead_est *e, uint64_t t_ms, uint64_t mib)
{
    lead_observe(e, t_ms * MS, mib * MIB, NOISE);
}

static bool due_at(const struct lead_est *e, uint64_t t_ms, double *secs)
{
    return lead_due(e, LIMIT, LEAD, t_ms * MS, secs);
}

static bool near(double a, double b, double tol)
{
    return a > b - tol && a < b + tol;
}

TEST(the_ladder_is_two_percent_steps_from_two_steps_below_the_floor)
{
    uint64_t from, step;
    lead_ladder(LIMIT, &from, &step);
    CHECK_EQ(step, LIMIT / 100 * 2);
    CHECK_EQ(from, LIMIT / 100 * 46);
    lead_ladder(0, &from, &step); /* no limit, no ladder */
    CHECK_EQ(step, 0);
    CHECK_EQ(from, 0);
}

/* 100 MiB/s, one reading per 20 MiB step: the limit 1000 MiB is 3 s away at
 * 700 MiB; due from the next step on, with the projection in seconds */
TEST(a_steady_leak_fires_when_the_limit_is_under_the_lead)
{
    struct lead_est e = {0};
    double secs;
    uint64_t t = 0, mib = 460;
    for (; mib <= 700; mib += 20, t += 200) {
        feed(&e, t, mib);
        CHECK_MSG(!due_at(&e, t, &secs), "due at %llu MiB (%.2f s left)", (unsigned long long)mib,
                  secs);
    }
    CHECK(near(lead_rate(&e), 100.0 * MIB, 1.0 * MIB));
    CHECK(near(secs, 3.0, 0.01)); /* 300 MiB at 100 MiB/s: not under 3 s */
    feed(&e, t, mib);             /* 720 MiB */
    CHECK(due_at(&e, t, &secs));
    CHECK(near(secs, 2.8, 0.01));
    /* read 100 ms after its reading: the leak went on meanwhile */
    CHECK(due_at(&e, t + 100, &secs));
    CHECK(near(secs, 2.7, 0.01));
}

/* 5 MiB/s for minutes, then 1000 MiB/s: due at the second fast step (one
 * fast step alone could be an allocation burst a GC takes back) */
TEST(a_burst_fires_at_its_second_step)
{
    struct lead_est e = {0};
    double secs;
    uint64_t t = 0;
    for (uint64_t mib = 460; mib <= 600; mib += 20, t += 4000)
        feed(&e, t, mib);
    t -= 4000;
    feed(&e, t + 20, 620);
    CHECK(!due_at(&e, t + 20, &secs));
    CHECK(secs > 30);
    feed(&e, t + 40, 640);
    CHECK(due_at(&e, t + 40, &secs));
    CHECK(near(lead_rate(&e), 1000.0 * MIB, 1.0 * MIB));
    CHECK(near(secs, 0.36, 0.01));
}

/* a fast climb that stops short of the lead, then nothing: the clock alone
 * never makes it due, and the step after a long pause is slow */
TEST(a_plateau_never_fires)
{
    struct lead_est e = {0};
    double secs;
    feed(&e, 0, 560);
    feed(&e, 200, 580);
    feed(&e, 400, 600); /* 100 MiB/s, 4 s left */
    CHECK(!due_at(&e, 400, &secs));
    CHECK(near(secs, 4.0, 0.01));
    /* read 300 ms late (a busy reader), the climb still holds: 3.7 s */
    CHECK(!due_at(&e, 700, &secs));
    CHECK(near(secs, 3.7, 0.01));
    /* 1.2 s later the naive projection would say 2.8 s: the climb stalled */
    CHECK(!due_at(&e, 1600, &secs));
    CHECK_EQ(secs, -1);
    feed(&e, 20000, 620);
    CHECK(!due_at(&e, 20000, &secs));
    CHECK(secs > 100);
}

/* memory given back (a GC, a cache dropped): the climb after it is a new
 * one, measured from its own readings only */
TEST(a_drop_resets_the_estimate)
{
    struct lead_est e = {0};
    double secs;
    feed(&e, 0, 600);
    feed(&e, 100, 620);
    feed(&e, 200, 640); /* 200 MiB/s: 1.8 s left, due */
    CHECK(due_at(&e, 200, &secs));
    feed(&e, 5000, 520);
    CHECK_EQ(e.n, 1);
    CHECK(lead_rate(&e) == 0);
    CHECK(!due_at(&e, 5000, &secs));
    CHECK_EQ(secs, -1);
    feed(&e, 7000, 540);
    CHECK(!due_at(&e, 7000, &secs)); /* two readings are no rate yet */
    feed(&e, 9000, 560);             /* 10 MiB/s from 520 */
    CHECK(near(lead_rate(&e), 10.0 * MIB, 0.1 * MIB));
    CHECK(!due_at(&e, 9000, &secs));
}

/* readings that move less than half a step (the poller reading a value
 * that jitters) are not points of a climb: no rate, and they do not slow
 * down or reset a real one */
TEST(noise_below_a_step_is_not_a_climb)
{
    struct lead_est e = {0};
    static const uint64_t jitter[] = {640, 645, 638, 649, 631, 641, 648};
    for (size_t i = 0; i < sizeof(jitter) / sizeof(jitter[0]); i++) {
        feed(&e, i * 50, jitter[i]);
        CHECK(!due_at(&e, i * 50, NULL));
    }
    CHECK_EQ(e.n, 1);
    CHECK(lead_rate(&e) == 0);
    struct lead_est f = {0};
    feed(&f, 0, 600);
    feed(&f, 50, 605); /* noise between steps */
    feed(&f, 100, 620);
    feed(&f, 150, 612);
    feed(&f, 200, 640);
    CHECK_EQ(f.n, 3);
    CHECK(near(lead_rate(&f), 200.0 * MIB, 1.0 * MIB));
}

TEST(no_limit_no_lead_below_the_floor_or_disabled_never_fires)
{
    struct lead_est e = {0};
    double secs;
    feed(&e, 0, 400);
    feed(&e, 10, 420);
    feed(&e, 20, 440); /* 2000 MiB/s, 0.28 s left, but below half the limit */
    CHECK(!due_at(&e, 20, &secs));
    CHECK(near(secs, 0.28, 0.01));
    feed(&e, 30, 500);
    CHECK(due_at(&e, 30, &secs));
    CHECK(!lead_due(&e, 0, LEAD, 30 * MS, &secs)); /* an unlimited cgroup */
    CHECK_EQ(secs, -1);
    CHECK(!lead_due(&e, LIMIT, 0, 30 * MS, &secs)); /* FLAMESHOT_EVIDENCE_LEAD=0 */
    CHECK(secs >= 0);
    feed(&e, 40, 1010); /* past the limit (the kernel reclaims first): due, 0 s */
    CHECK(due_at(&e, 40, &secs));
    CHECK(secs == 0);
}

TEST_MAIN(the_ladder_is_two_percent_steps_from_two_steps_below_the_floor,
          a_steady_leak_fires_when_the_limit_is_under_the_lead, a_burst_fires_at_its_second_step,
          a_plateau_never_fires, a_drop_resets_the_estimate, noise_below_a_step_is_not_a_climb,
          no_limit_no_lead_below_the_floor_or_disabled_never_fires)
