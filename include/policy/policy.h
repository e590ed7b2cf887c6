/* policy: Flameshot's trigger semantics for one target, as pure functions
 * of the rule, the samples and the clock (no I/O, unit-testable):
 * - cpu_usage_percent, mem_usage_mb and mem_usage_percent fire on the
 *   average of the latest 5 samples; 0 disables;
 * - mem_usage_mb_emergency and mem_usage_percent_emergency fire on a
 *   single sample or a kernel watermark event, for emergency_duration;
 * - the container's cgroup near its limit (the rule's emergency percent,
 *   95 when unset) means an emergency profile plus jcmd snapshots of the
 *   JVM with the largest RSS in that cgroup;
 * - cooldowns: normal 1m, emergency 30s, snapshots 1m; a rule's
 *   `cooldown` replaces all three.
 * Every trigger records why it fired, as Flameshot's tags (cpu_avg:91.20). */
#ifndef FS_POLICY_H
#define FS_POLICY_H

#include "core/rules.h"
#include "policy/sampler.h"
#include "policy/trigger.h"

#include <stdbool.h>
#include <stdint.h>

#define POLICY_COOLDOWN_NORMAL_MS    60000
#define POLICY_COOLDOWN_EMERGENCY_MS 30000
#define POLICY_COOLDOWN_SNAPSHOT_MS  60000
#define POLICY_DEFAULT_CGROUP_PCT    95.0

struct policy_state {
    uint64_t last_normal_ms; /* 0: never */
    uint64_t last_emergency_ms;
    uint64_t last_snapshot_ms;
    enum trigger_kind last_kind;
    uint64_t last_trigger_ms;
};

/* Checks the latest sample (emergency) and the 5-sample average (normal).
 * Fills out (caller frees with trigger_free) and returns 1 when a trigger
 * fires and its cooldown allows it; 0 otherwise. Emergency wins over
 * normal when both would fire. */
int policy_on_sample(const struct rule *r, const struct sampler_state *ss, struct policy_state *ps,
                     uint64_t now_ms, struct trigger *out);

/* A process watermark event: rss_bytes crossed the per-process watermark.
 * mem_limit_bytes is what mem_usage_percent_emergency is relative to.
 * Returns 1 with an emergency trigger, 0 if cooled down or not crossing. */
int policy_on_proc_watermark(const struct rule *r, uint64_t rss_bytes, uint64_t mem_limit_bytes,
                             struct policy_state *ps, uint64_t now_ms, struct trigger *out);

/* The cgroup's usage crossed its high-water mark. For the chosen target
 * (largest RSS in the cgroup), fills up to two triggers: an emergency
 * profile and, when snapshots_enabled, a jcmd snapshot. Returns how many. */
int policy_on_cgroup_pressure(const struct rule *r, uint64_t usage_bytes, uint64_t limit_bytes,
                              bool snapshots_enabled, struct policy_state *ps, uint64_t now_ms,
                              struct trigger out[2]);

/* The high-water mark of a container cgroup, in bytes (0: no limit). */
uint64_t policy_cgroup_watermark(const struct rule *r, uint64_t limit_bytes);

/* The per-process watermark in bytes from mem_usage_mb_emergency and
 * mem_usage_percent_emergency of mem_limit_bytes (the lower); 0: none. */
uint64_t policy_proc_watermark(const struct rule *r, uint64_t mem_limit_bytes);

/* Milliseconds until a normal trigger may fire again (0: now). */
uint64_t policy_cooldown_left_ms(const struct rule *r, const struct policy_state *ps,
                                 uint64_t now_ms);

#endif
