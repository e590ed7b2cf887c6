/* policy: Flameshot's trigger semantics for one target, as pure functions
 * of the rule, the samples and the clock (no I/O, unit-testable):
 * - cpu_usage_percent, mem_usage_mb and mem_usage_percent fire on the
 *   average of the latest 5 samples; 0 disables;
 * - mem_usage_mb_emergency and mem_usage_percent_emergency fire on a
 *   single sample or a kernel watermark event, for emergency_duration;
 * - the container's cgroup near its limit (the rule's emergency percent,
 *   95 when unset) means jcmd snapshots plus an emergency profile of the
 *   JVM with the largest RSS in that cgroup;
 * - the same evidence when the limit is projected to be reached within
 *   FLAMESHOT_EVIDENCE_LEAD at the present growth rate (leadtime.h), under
 *   the same cooldowns;
 * - with FLAMESHOT_HEAP_DUMP_ENABLED, a memory emergency of a process
 *   whose rule allows it also asks for a heap dump (policy_heap_dump),
 *   preceded by snapshots (policy_snapshot) when it asked for none;
 * - cooldowns: normal 1m, emergency 30s, snapshots 1m; a rule's
 *   `cooldown` replaces all three; heap dumps have their own
 *   (FLAMESHOT_HEAP_DUMP_COOLDOWN, per process).
 * Every trigger records why it fired, as Flameshot's tags (cpu_avg:91.20). */
#ifndef FS_POLICY_H
#define FS_POLICY_H

#include "core/rules.h"
#include "policy/leadtime.h"
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
    uint64_t last_heap_dump_ms; /* FLAMESHOT_HEAP_DUMP_COOLDOWN's clock */
    enum trigger_kind last_kind;
    uint64_t last_trigger_ms;
    /* the process's RSS climb (its step ladder) and the ladder's step
     * armed in the event source (0: none) */
    struct lead_est lead;
    uint64_t lead_step_bytes;
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
 * (largest RSS in the cgroup), fills up to two triggers, each when its
 * cooldown allows: a jcmd snapshot (when snapshots_enabled) first, then an
 * emergency profile. Returns how many (0..2); the caller frees them. */
int policy_on_cgroup_pressure(const struct rule *r, uint64_t usage_bytes, uint64_t limit_bytes,
                              bool snapshots_enabled, struct policy_state *ps, uint64_t now_ms,
                              struct trigger out[2]);

/* The memory limit is projected lead_s seconds away (the caller decided it
 * is under FLAMESHOT_EVIDENCE_LEAD: lead_due). The evidence of cgroup
 * pressure, with its cooldowns, as TRIGGER_MEMORY_LEAD tagged lead_seconds
 * and growth_mb_per_s (MiB/s). Returns how many (0..2). */
int policy_on_memory_lead(const struct rule *r, double lead_s, double growth_mb_per_s,
                          bool snapshots_enabled, struct policy_state *ps, uint64_t now_ms,
                          struct trigger out[2]);

/* The heap dump of a memory emergency of kind (memory_emergency,
 * cgroup_memory_pressure, memory_lead), tagged as emergency (its why is
 * copied; may be NULL): when the rule allows it (rule_heap_dump_allowed
 * with enabled = FLAMESHOT_HEAP_DUMP_ENABLED) and cooldown_ms
 * (FLAMESHOT_HEAP_DUMP_COOLDOWN, per process, not the rule's cooldown)
 * has passed. Returns 1 with out filled (the caller frees it), else 0. */
int policy_heap_dump(const struct rule *r, enum trigger_kind kind, const struct trigger *emergency,
                     bool enabled, uint64_t cooldown_ms, struct policy_state *ps, uint64_t now_ms,
                     struct trigger *out);

/* The jcmd snapshot that goes before a heap dump of an emergency that
 * asked for none (a per-process threshold), under the snapshot cooldown.
 * Returns 1 with out filled, else 0. */
int policy_snapshot(const struct rule *r, enum trigger_kind kind, bool snapshots_enabled,
                    struct policy_state *ps, uint64_t now_ms, struct trigger *out);

/* The high-water mark of a container cgroup, in bytes (0: no limit). */
uint64_t policy_cgroup_watermark(const struct rule *r, uint64_t limit_bytes);

/* The per-process watermark in bytes from mem_usage_mb_emergency and
 * mem_usage_percent_emergency of mem_limit_bytes (the lower); 0: none. */
uint64_t policy_proc_watermark(const struct rule *r, uint64_t mem_limit_bytes);

/* Milliseconds until a normal trigger may fire again (0: now). */
uint64_t policy_cooldown_left_ms(const struct rule *r, const struct policy_state *ps,
                                 uint64_t now_ms);

#endif
