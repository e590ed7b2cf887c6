/* sampler: per-target CPU and memory samples, Flameshot's way. Every
 * FLAMESHOT_MONITOR_INTERVAL one sample per target: CPU% from the change
 * in utime+stime over wall time, RSS, and RSS as a percentage of the
 * memory limit. The latest 10 are kept; thresholds use the average of the
 * latest 5. */
#ifndef FS_SAMPLER_H
#define FS_SAMPLER_H

#include "events/procfs.h"

#include <stdbool.h>
#include <stdint.h>

#define SAMPLER_KEEP 10
#define SAMPLER_AVG  5

enum limit_source { LIMIT_NONE = 0, LIMIT_CGROUP, LIMIT_OVERRIDE, LIMIT_HOST };

/* The limits a target's percentages are relative to. */
struct limits {
    uint64_t mem_bytes; /* never 0: falls back to host memory */
    enum limit_source mem_source;
    uint64_t cpu_millis; /* 0: no CPU limit known */
    enum limit_source cpu_source;
    double cpu_max_pct; /* the most cpu_pct can read (rule_cpu_ceiling) */
};

struct sample {
    uint64_t t_ms;       /* monotonic */
    double cpu_pct;      /* the value cpu_usage_percent is compared with */
    double cpu_host_pct; /* cores busy x 100 (may exceed 100) */
    double rss_mb;
    double mem_pct; /* RSS / limits.mem_bytes x 100 */
};

struct sampler_state {
    uint64_t last_ticks; /* utime+stime at the previous read */
    uint64_t last_ms;
    bool primed; /* a previous read exists */
    struct sample ring[SAMPLER_KEEP];
    int n;    /* samples held, <= SAMPLER_KEEP */
    int head; /* index of the next write */
};

/* Reads /proc/<pid>/stat and statm under proc_root (NULL = /proc) and, from
 * the second call on, pushes one sample computed against lim. The first
 * call only primes the CPU counters (Flameshot's first delta is 0, which
 * would drag the average down). Returns 1 if a sample was pushed, 0 if
 * only primed, -ESRCH if the process is gone or its pid now names another
 * (start time), -errno otherwise. */
int sampler_take(const char *proc_root, const struct proc_ident *id, const struct limits *lim,
                 struct sampler_state *st, uint64_t now_ms);

/* Pushes a computed sample (used by sampler_take and by tests). */
void sampler_push(struct sampler_state *st, const struct sample *s);

/* The latest sample, or NULL when there is none. */
const struct sample *sampler_latest(const struct sampler_state *st);

/* Averages of the latest SAMPLER_AVG samples. Returns false (and leaves
 * avg untouched) until SAMPLER_AVG samples exist: a threshold fires on a
 * full 5-point average, never on the first spike after start-up. */
bool sampler_average(const struct sampler_state *st, struct sample *avg);

/* CPU percentage the thresholds use: of the CPU limit when one is known
 * (FLAMESHOT_POD_CPU_LIMIT or the cgroup quota), else cores x 100 as
 * Flameshot does without a limit. */
double sampler_cpu_pct(double cpu_host_pct, const struct limits *lim);

const char *limit_source_name(enum limit_source s);

#endif
