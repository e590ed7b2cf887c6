#include "policy/policy.h"

#include <string.h>

static uint64_t cooldown(const struct rule *r, uint64_t def)
{
    return r->cooldown_ms ? r->cooldown_ms : def;
}

static bool cooled(uint64_t last_ms, uint64_t period_ms, uint64_t now_ms)
{
    return last_ms == 0 || now_ms >= last_ms + period_ms;
}

static void begin(struct trigger *t, enum trigger_kind kind, enum capture_kind capture,
                  uint64_t duration_ms, unsigned events)
{
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->capture = capture;
    t->duration_ms = duration_ms;
    t->events = events;
    tags_set(&t->why, "trigger", trigger_kind_name(kind));
}

static void mark(struct policy_state *ps, enum trigger_kind kind, uint64_t now_ms)
{
    ps->last_kind = kind;
    ps->last_trigger_ms = now_ms;
}

/* Emergency on the latest sample, or 0. */
static int check_emergency(const struct rule *r, const struct sample *s, struct policy_state *ps,
                           uint64_t now_ms, struct trigger *out)
{
    bool mb = r->mem_usage_mb_emergency > 0 && s->rss_mb >= r->mem_usage_mb_emergency;
    bool pct = r->mem_usage_percent_emergency > 0 && s->mem_pct >= r->mem_usage_percent_emergency;
    if (!mb && !pct)
        return 0;
    if (!cooled(ps->last_emergency_ms, cooldown(r, POLICY_COOLDOWN_EMERGENCY_MS), now_ms))
        return 0;
    begin(out, TRIGGER_MEMORY_EMERGENCY, CAPTURE_PROFILE, r->emergency_duration_ms, r->events);
    if (mb)
        trigger_add_value(out, "mem_used_emergency", s->rss_mb);
    if (pct)
        trigger_add_value(out, "mem_perc_emergency", s->mem_pct);
    ps->last_emergency_ms = now_ms;
    mark(ps, TRIGGER_MEMORY_EMERGENCY, now_ms);
    return 1;
}

static int check_average(const struct rule *r, const struct sample *a, struct policy_state *ps,
                         uint64_t now_ms, struct trigger *out)
{
    bool cpu = r->cpu_usage_percent > 0 && a->cpu_pct >= r->cpu_usage_percent;
    bool mb = r->mem_usage_mb > 0 && a->rss_mb >= r->mem_usage_mb;
    bool pct = r->mem_usage_percent > 0 && a->mem_pct >= r->mem_usage_percent;
    if (!cpu && !mb && !pct)
        return 0;
    if (!cooled(ps->last_normal_ms, cooldown(r, POLICY_COOLDOWN_NORMAL_MS), now_ms))
        return 0;
    begin(out, cpu ? TRIGGER_CPU : TRIGGER_MEMORY, CAPTURE_PROFILE, r->duration_ms, r->events);
    if (cpu)
        trigger_add_value(out, "cpu_avg", a->cpu_pct);
    if (mb)
        trigger_add_value(out, "mem_used", a->rss_mb);
    if (pct)
        trigger_add_value(out, "mem_perc_avg", a->mem_pct);
    ps->last_normal_ms = now_ms;
    mark(ps, out->kind, now_ms);
    return 1;
}

int policy_on_sample(const struct rule *r, const struct sampler_state *ss, struct policy_state *ps,
                     uint64_t now_ms, struct trigger *out)
{
    const struct sample *last = sampler_latest(ss);
    struct sample avg;
    if (!last)
        return 0;
    if (check_emergency(r, last, ps, now_ms, out))
        return 1;
    if (!sampler_average(ss, &avg))
        return 0;
    return check_average(r, &avg, ps, now_ms, out);
}

int policy_on_proc_watermark(const struct rule *r, uint64_t rss_bytes, uint64_t mem_limit_bytes,
                             struct policy_state *ps, uint64_t now_ms, struct trigger *out)
{
    struct sample s = {.t_ms = now_ms};
    s.rss_mb = (double)rss_bytes / (1024.0 * 1024.0);
    s.mem_pct = mem_limit_bytes ? (double)rss_bytes * 100.0 / (double)mem_limit_bytes : 0;
    return check_emergency(r, &s, ps, now_ms, out);
}

uint64_t policy_cgroup_watermark(const struct rule *r, uint64_t limit_bytes)
{
    double pct = r->mem_usage_percent_emergency > 0 ? r->mem_usage_percent_emergency
                                                    : POLICY_DEFAULT_CGROUP_PCT;
    if (!limit_bytes)
        return 0;
    return (uint64_t)((double)limit_bytes * pct / 100.0);
}

uint64_t policy_proc_watermark(const struct rule *r, uint64_t mem_limit_bytes)
{
    uint64_t w = 0;
    if (r->mem_usage_mb_emergency > 0)
        w = (uint64_t)(r->mem_usage_mb_emergency * 1024.0 * 1024.0);
    if (r->mem_usage_percent_emergency > 0 && mem_limit_bytes) {
        uint64_t p = (uint64_t)((double)mem_limit_bytes * r->mem_usage_percent_emergency / 100.0);
        if (!w || p < w)
            w = p;
    }
    return w;
}

int policy_heap_dump(const struct rule *r, enum trigger_kind kind, const struct trigger *emergency,
                     bool enabled, uint64_t cooldown_ms, struct policy_state *ps, uint64_t now_ms,
                     struct trigger *out)
{
    if (!rule_heap_dump_allowed(r, enabled) || !cooled(ps->last_heap_dump_ms, cooldown_ms, now_ms))
        return 0;
    begin(out, kind, CAPTURE_HEAP_DUMP, 0, 0);
    if (emergency && tags_merge(&out->why, &emergency->why) < 0) {
        trigger_free(out);
        return 0;
    }
    ps->last_heap_dump_ms = now_ms;
    return 1;
}

int policy_snapshot(const struct rule *r, enum trigger_kind kind, bool snapshots_enabled,
                    struct policy_state *ps, uint64_t now_ms, struct trigger *out)
{
    if (!snapshots_enabled ||
        !cooled(ps->last_snapshot_ms, cooldown(r, POLICY_COOLDOWN_SNAPSHOT_MS), now_ms))
        return 0;
    begin(out, kind, CAPTURE_SNAPSHOT, 0, 0);
    ps->last_snapshot_ms = now_ms;
    return 1;
}

/* The evidence of a memory emergency, each part under its cooldown: a jcmd
 * snapshot (when enabled) first, because it is the cheap evidence that must
 * land before the kill, then an emergency profile. Returns how many. */
static int evidence(const struct rule *r, enum trigger_kind kind, bool snapshots_enabled,
                    struct policy_state *ps, uint64_t now_ms, struct trigger out[2])
{
    int n = 0;
    if (snapshots_enabled &&
        cooled(ps->last_snapshot_ms, cooldown(r, POLICY_COOLDOWN_SNAPSHOT_MS), now_ms)) {
        begin(&out[n++], kind, CAPTURE_SNAPSHOT, 0, 0);
        ps->last_snapshot_ms = now_ms;
    }
    if (cooled(ps->last_emergency_ms, cooldown(r, POLICY_COOLDOWN_EMERGENCY_MS), now_ms)) {
        begin(&out[n++], kind, CAPTURE_PROFILE, r->emergency_duration_ms, r->events);
        ps->last_emergency_ms = now_ms;
    }
    if (n)
        mark(ps, kind, now_ms);
    return n;
}

int policy_on_cgroup_pressure(const struct rule *r, uint64_t usage_bytes, uint64_t limit_bytes,
                              bool snapshots_enabled, struct policy_state *ps, uint64_t now_ms,
                              struct trigger out[2])
{
    uint64_t mark_bytes = policy_cgroup_watermark(r, limit_bytes);
    if (!mark_bytes || usage_bytes < mark_bytes)
        return 0;
    double pct = (double)usage_bytes * 100.0 / (double)limit_bytes;
    int n = evidence(r, TRIGGER_CGROUP_PRESSURE, snapshots_enabled, ps, now_ms, out);
    for (int i = 0; i < n; i++)
        trigger_add_value(&out[i], "cgroup_mem_percent", pct);
    return n;
}

int policy_on_memory_lead(const struct rule *r, double lead_s, double growth_mb_per_s,
                          bool snapshots_enabled, struct policy_state *ps, uint64_t now_ms,
                          struct trigger out[2])
{
    int n = evidence(r, TRIGGER_MEMORY_LEAD, snapshots_enabled, ps, now_ms, out);
    for (int i = 0; i < n; i++) {
        trigger_add_value(&out[i], "lead_seconds", lead_s);
        trigger_add_value(&out[i], "growth_mb_per_s", growth_mb_per_s);
    }
    return n;
}

uint64_t policy_cooldown_left_ms(const struct rule *r, const struct policy_state *ps,
                                 uint64_t now_ms)
{
    uint64_t period = cooldown(r, POLICY_COOLDOWN_NORMAL_MS);
    if (ps->last_normal_ms == 0 || now_ms >= ps->last_normal_ms + period)
        return 0;
    return ps->last_normal_ms + period - now_ms;
}
