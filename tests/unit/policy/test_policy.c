/* Flameshot trigger semantics: 5-point averages, single-hit emergencies,
 * cgroup pressure, cooldowns and the tags that say why. */
#include "harness.h"
#include "policy/policy.h"
#include "policy/sampler.h"

#include <errno.h>
#include <unistd.h>

static struct rule make_rule(void)
{
    struct rule r;
    memset(&r, 0, sizeof(r));
    r.duration_ms = 60000;
    r.emergency_duration_ms = 15000;
    r.events = PROF_EV_CPU;
    return r;
}

static void push(struct sampler_state *ss, uint64_t t, double cpu, double mb, double pct)
{
    struct sample s = {
        .t_ms = t, .cpu_pct = cpu, .cpu_host_pct = cpu, .rss_mb = mb, .mem_pct = pct};
    sampler_push(ss, &s);
}

TEST(cpu_fires_after_five_point_average_crosses_not_before)
{
    struct rule r = make_rule();
    r.cpu_usage_percent = 80;
    struct sampler_state ss = {0};
    struct policy_state ps = {0};
    struct trigger t;
    /* four samples far above the threshold: still no full 5-point average */
    for (int i = 1; i <= 4; i++) {
        push(&ss, (uint64_t)i * 1000, 100, 100, 10);
        CHECK_EQ(policy_on_sample(&r, &ss, &ps, (uint64_t)i * 1000, &t), 0);
    }
    push(&ss, 5000, 100, 100, 10);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 5000, &t), 1);
    CHECK_EQ(t.kind, TRIGGER_CPU);
    CHECK_EQ(t.capture, CAPTURE_PROFILE);
    CHECK_EQ(t.duration_ms, 60000);
    CHECK_STREQ(tags_get(&t.why, "trigger"), "cpu");
    CHECK_STREQ(tags_get(&t.why, "cpu_avg"), "100.00");
    trigger_free(&t);
}

TEST(average_below_threshold_does_not_fire)
{
    struct rule r = make_rule();
    r.cpu_usage_percent = 80;
    struct sampler_state ss = {0};
    struct policy_state ps = {0};
    struct trigger t;
    /* one spike of 200% among idle samples: average 40% */
    double cpu[] = {0, 0, 200, 0, 0, 0};
    for (int i = 0; i < 6; i++) {
        push(&ss, (uint64_t)(i + 1) * 1000, cpu[i], 10, 1);
        CHECK_EQ(policy_on_sample(&r, &ss, &ps, (uint64_t)(i + 1) * 1000, &t), 0);
    }
}

TEST(average_uses_latest_five_of_ten)
{
    struct sampler_state ss = {0};
    for (int i = 0; i < 12; i++)
        push(&ss, (uint64_t)i, i < 7 ? 0 : 100, 0, 0);
    struct sample a;
    CHECK(sampler_average(&ss, &a));
    CHECK(a.cpu_pct > 99.9 && a.cpu_pct < 100.1);
    CHECK_EQ(ss.n, SAMPLER_KEEP);
}

TEST(memory_average_thresholds_carry_their_values)
{
    struct rule r = make_rule();
    r.mem_usage_mb = 512;
    r.mem_usage_percent = 70;
    struct sampler_state ss = {0};
    struct policy_state ps = {0};
    struct trigger t;
    for (int i = 1; i <= 5; i++)
        push(&ss, (uint64_t)i * 1000, 5, 600, 75);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 5000, &t), 1);
    CHECK_EQ(t.kind, TRIGGER_MEMORY);
    CHECK_STREQ(tags_get(&t.why, "trigger"), "memory");
    CHECK_STREQ(tags_get(&t.why, "mem_used"), "600.00");
    CHECK_STREQ(tags_get(&t.why, "mem_perc_avg"), "75.00");
    CHECK(tags_get(&t.why, "cpu_avg") == NULL);
    trigger_free(&t);
}

TEST(emergency_fires_on_one_sample_with_emergency_duration)
{
    struct rule r = make_rule();
    r.mem_usage_mb_emergency = 1024;
    struct sampler_state ss = {0};
    struct policy_state ps = {0};
    struct trigger t;
    push(&ss, 1000, 1, 1100, 50);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 1000, &t), 1);
    CHECK_EQ(t.kind, TRIGGER_MEMORY_EMERGENCY);
    CHECK_EQ(t.duration_ms, 15000);
    CHECK_STREQ(tags_get(&t.why, "trigger"), "memory_emergency");
    CHECK_STREQ(tags_get(&t.why, "mem_used_emergency"), "1100.00");
    trigger_free(&t);
}

TEST(cooldowns_suppress_and_then_allow)
{
    struct rule r = make_rule();
    r.cpu_usage_percent = 50;
    r.mem_usage_percent_emergency = 90;
    struct sampler_state ss = {0};
    struct policy_state ps = {0};
    struct trigger t;
    for (int i = 1; i <= 5; i++)
        push(&ss, (uint64_t)i * 1000, 90, 10, 10);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 5000, &t), 1);
    trigger_free(&t);
    push(&ss, 6000, 90, 10, 10);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 6000, &t), 0); /* normal cooldown 1m */
    CHECK_EQ(policy_cooldown_left_ms(&r, &ps, 6000), 59000);
    /* an emergency is not held back by the normal cooldown */
    push(&ss, 7000, 90, 10, 95);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 7000, &t), 1);
    CHECK_EQ(t.kind, TRIGGER_MEMORY_EMERGENCY);
    trigger_free(&t);
    push(&ss, 8000, 90, 10, 95);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 8000, &t), 0); /* emergency cooldown 30s */
    push(&ss, 37000, 90, 10, 95);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 37000, &t), 1); /* 30s later */
    trigger_free(&t);
    push(&ss, 65000, 90, 10, 10);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 65000, &t), 1); /* 1m after the first */
    CHECK_EQ(t.kind, TRIGGER_CPU);
    trigger_free(&t);
}

TEST(rule_cooldown_overrides_defaults)
{
    struct rule r = make_rule();
    r.cpu_usage_percent = 50;
    r.cooldown_ms = 5000;
    struct sampler_state ss = {0};
    struct policy_state ps = {0};
    struct trigger t;
    for (int i = 1; i <= 5; i++)
        push(&ss, (uint64_t)i * 1000, 90, 10, 10);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 5000, &t), 1);
    trigger_free(&t);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 9999, &t), 0);
    CHECK_EQ(policy_on_sample(&r, &ss, &ps, 10000, &t), 1);
    trigger_free(&t);
}

TEST(process_watermark_is_a_single_hit_emergency)
{
    struct rule r = make_rule();
    r.mem_usage_percent_emergency = 80;
    r.mem_usage_mb_emergency = 300;
    struct policy_state ps = {0};
    struct trigger t;
    uint64_t limit = 512ull << 20;
    /* the lower of 300 MiB and 80% of 512 MiB */
    CHECK_EQ(policy_proc_watermark(&r, limit), 300ull << 20);
    CHECK_EQ(policy_on_proc_watermark(&r, 310ull << 20, limit, &ps, 1000, &t), 1);
    CHECK_STREQ(tags_get(&t.why, "mem_used_emergency"), "310.00");
    CHECK(tags_get(&t.why, "mem_perc_emergency") == NULL);
    trigger_free(&t);
    CHECK_EQ(policy_on_proc_watermark(&r, 320ull << 20, limit, &ps, 2000, &t), 0);
}

/* the snapshot first: the cheap evidence must not wait behind the profile */
TEST(cgroup_pressure_gives_snapshot_then_profile)
{
    struct rule r = make_rule();
    struct policy_state ps = {0};
    struct trigger t[2];
    uint64_t limit = 1000ull << 20;
    CHECK_EQ(policy_cgroup_watermark(&r, limit), 950ull << 20); /* 95% by default */
    CHECK_EQ(policy_cgroup_watermark(&r, 0), 0);
    CHECK_EQ(policy_on_cgroup_pressure(&r, 900ull << 20, limit, true, &ps, 1000, t), 0);
    CHECK_EQ(policy_on_cgroup_pressure(&r, 960ull << 20, limit, true, &ps, 1000, t), 2);
    CHECK_EQ(t[0].capture, CAPTURE_SNAPSHOT);
    CHECK_EQ(t[1].capture, CAPTURE_PROFILE);
    CHECK_EQ(t[1].duration_ms, 15000);
    CHECK_STREQ(tags_get(&t[0].why, "trigger"), "cgroup_memory_pressure");
    CHECK_STREQ(tags_get(&t[0].why, "cgroup_mem_percent"), "96.00");
    CHECK_STREQ(tags_get(&t[1].why, "cgroup_mem_percent"), "96.00");
    trigger_free(&t[0]);
    trigger_free(&t[1]);
    /* both cooled down; snapshots disabled gives the profile only */
    CHECK_EQ(policy_on_cgroup_pressure(&r, 960ull << 20, limit, true, &ps, 2000, t), 0);
    struct policy_state ps2 = {0};
    CHECK_EQ(policy_on_cgroup_pressure(&r, 960ull << 20, limit, false, &ps2, 1000, t), 1);
    CHECK_EQ(t[0].capture, CAPTURE_PROFILE);
    trigger_free(&t[0]);
}

/* the lead time asks for the same evidence, says how far the limit is,
 * and shares the cooldowns: the static threshold a moment later adds
 * nothing, and neither does the next step of the climb */
TEST(memory_lead_gives_the_same_evidence_under_the_same_cooldowns)
{
    struct rule r = make_rule();
    struct policy_state ps = {0};
    struct trigger t[2];
    uint64_t limit = 1000ull << 20;
    CHECK_EQ(policy_on_memory_lead(&r, 1.8372, 196.5, true, &ps, 1000, t), 2);
    CHECK_EQ(t[0].kind, TRIGGER_MEMORY_LEAD);
    CHECK_EQ(t[0].capture, CAPTURE_SNAPSHOT);
    CHECK_EQ(t[1].capture, CAPTURE_PROFILE);
    CHECK_EQ(t[1].duration_ms, 15000);
    for (int i = 0; i < 2; i++) {
        CHECK_STREQ(tags_get(&t[i].why, "trigger"), "memory_lead");
        CHECK_STREQ(tags_get(&t[i].why, "lead_seconds"), "1.84");
        CHECK_STREQ(tags_get(&t[i].why, "growth_mb_per_s"), "196.50");
        trigger_free(&t[i]);
    }
    CHECK_EQ(ps.last_kind, TRIGGER_MEMORY_LEAD);
    CHECK_EQ(policy_on_memory_lead(&r, 0.9, 196.5, true, &ps, 1200, t), 0);
    CHECK_EQ(policy_on_cgroup_pressure(&r, 960ull << 20, limit, true, &ps, 1500, t), 0);
    /* the emergency cooldown (30 s) ends first: the profile alone again */
    CHECK_EQ(policy_on_memory_lead(&r, 2.0, 50, true, &ps, 31000, t), 1);
    CHECK_EQ(t[0].capture, CAPTURE_PROFILE);
    trigger_free(&t[0]);
    /* snapshots off: the profile only */
    struct policy_state ps2 = {0};
    CHECK_EQ(policy_on_memory_lead(&r, 2.0, 50, false, &ps2, 1000, t), 1);
    CHECK_EQ(t[0].capture, CAPTURE_PROFILE);
    CHECK_STREQ(trigger_kind_name(TRIGGER_MEMORY_LEAD), "memory_lead");
    trigger_free(&t[0]);
}

TEST(cpu_percent_of_limit_when_known)
{
    struct limits none = {.mem_bytes = 1};
    struct limits half = {.mem_bytes = 1, .cpu_millis = 500};
    CHECK(sampler_cpu_pct(150, &none) > 149.9 && sampler_cpu_pct(150, &none) < 150.1);
    CHECK(sampler_cpu_pct(40, &half) > 79.9 && sampler_cpu_pct(40, &half) < 80.1);
}

TEST(sampler_reads_a_real_process)
{
    struct sampler_state ss = {0};
    struct limits lim = {.mem_bytes = 1ull << 30, .mem_source = LIMIT_HOST};
    struct proc_ident me;
    CHECK_EQ(procfs_ident(NULL, getpid(), &me), 0);
    CHECK_EQ(sampler_take(NULL, &me, &lim, &ss, 1000), 0); /* primes only */
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 300000000ul; i++)
        x += i;
    CHECK_EQ(sampler_take(NULL, &me, &lim, &ss, 2000), 1);
    const struct sample *s = sampler_latest(&ss);
    CHECK(s->rss_mb > 0.5);
    CHECK(s->mem_pct > 0);
    CHECK(s->cpu_pct > 1); /* burnt some CPU in the (nominal) second */
    struct proc_ident other = me;
    other.start_time++; /* the pid now names another process */
    CHECK_EQ(sampler_take(NULL, &other, &lim, &ss, 3000), -ESRCH);
    other.pid = 0x3ffffff0;
    CHECK_EQ(sampler_take(NULL, &other, &lim, &ss, 3000), -ESRCH);
}

/* A memory emergency's heap dump: only when enabled and the rule does not
 * say false, once per FLAMESHOT_HEAP_DUMP_COOLDOWN per process whatever
 * the rule's cooldown, tagged as its emergency. */
TEST(heap_dump_follows_the_switch_the_rule_and_its_own_cooldown)
{
    struct rule r = make_rule();
    r.cooldown_ms = 1000; /* the rule's cooldown does not shorten the dump's */
    struct policy_state ps = {0}, other = {0};
    struct trigger em, t;
    memset(&em, 0, sizeof(em));
    tags_set(&em.why, "trigger", "memory_emergency");
    trigger_add_value(&em, "mem_used_emergency", 812.5);
    CHECK_EQ(policy_heap_dump(&r, TRIGGER_MEMORY_EMERGENCY, &em, false, 600000, &ps, 1000, &t), 0);
    CHECK_EQ(policy_heap_dump(&r, TRIGGER_MEMORY_EMERGENCY, &em, true, 600000, &ps, 1000, &t), 1);
    CHECK_EQ(t.capture, CAPTURE_HEAP_DUMP);
    CHECK_EQ(t.kind, TRIGGER_MEMORY_EMERGENCY);
    CHECK_STREQ(tags_get(&t.why, "trigger"), "memory_emergency");
    CHECK_STREQ(tags_get(&t.why, "mem_used_emergency"), "812.50");
    trigger_free(&t);
    CHECK_EQ(policy_heap_dump(&r, TRIGGER_MEMORY_EMERGENCY, &em, true, 600000, &ps, 300000, &t), 0);
    /* another process has its own clock */
    CHECK_EQ(policy_heap_dump(&r, TRIGGER_CGROUP_PRESSURE, NULL, true, 600000, &other, 300000, &t),
             1);
    CHECK_STREQ(tags_get(&t.why, "trigger"), "cgroup_memory_pressure");
    trigger_free(&t);
    CHECK_EQ(policy_heap_dump(&r, TRIGGER_MEMORY_EMERGENCY, &em, true, 600000, &ps, 601000, &t), 1);
    trigger_free(&t);
    r.heap_dump = RULE_HEAP_DUMP_OFF;
    struct policy_state fresh = {0};
    CHECK_EQ(policy_heap_dump(&r, TRIGGER_MEMORY_EMERGENCY, &em, true, 600000, &fresh, 1000, &t),
             0);
    trigger_free(&em);
    /* the snapshots before a dump, under the snapshot cooldown */
    CHECK_EQ(policy_snapshot(&r, TRIGGER_MEMORY_EMERGENCY, false, &fresh, 1000, &t), 0);
    CHECK_EQ(policy_snapshot(&r, TRIGGER_MEMORY_EMERGENCY, true, &fresh, 1000, &t), 1);
    CHECK_EQ(t.capture, CAPTURE_SNAPSHOT);
    trigger_free(&t);
    CHECK_EQ(policy_snapshot(&r, TRIGGER_MEMORY_EMERGENCY, true, &fresh, 1500, &t), 0);
}

TEST_MAIN(cpu_fires_after_five_point_average_crosses_not_before,
          average_below_threshold_does_not_fire, average_uses_latest_five_of_ten,
          memory_average_thresholds_carry_their_values,
          emergency_fires_on_one_sample_with_emergency_duration, cooldowns_suppress_and_then_allow,
          rule_cooldown_overrides_defaults, process_watermark_is_a_single_hit_emergency,
          cgroup_pressure_gives_snapshot_then_profile,
          memory_lead_gives_the_same_evidence_under_the_same_cooldowns,
          cpu_percent_of_limit_when_known, sampler_reads_a_real_process,
          heap_dump_follows_the_switch_the_rule_and_its_own_cooldown)
