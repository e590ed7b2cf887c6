/* trigger: why a capture happens. Every trigger (threshold, emergency,
 * cgroup pressure, lead time, OOM, timer, HTTP) becomes a job carrying one of these,
 * and its tags travel with every artefact the job produces. */
#ifndef FS_TRIGGER_H
#define FS_TRIGGER_H

#include "core/tags.h"

#include <stdint.h>

enum trigger_kind {
    TRIGGER_CPU = 0,          /* cpu_usage_percent on the 5-sample average */
    TRIGGER_MEMORY,           /* mem_usage_mb / mem_usage_percent on the average */
    TRIGGER_MEMORY_EMERGENCY, /* *_emergency on a single sample or watermark */
    TRIGGER_CGROUP_PRESSURE,  /* the container's cgroup near its limit */
    TRIGGER_OOM,              /* a kernel OOM kill */
    TRIGGER_AUTO,             /* FLAMESHOT_AUTO_PROFILING */
    TRIGGER_HTTP,             /* the node-local HTTP API */
    TRIGGER_MEMORY_LEAD,      /* the memory limit projected within FLAMESHOT_EVIDENCE_LEAD */
    TRIGGER__COUNT
};

enum capture_kind {
    CAPTURE_PROFILE = 0, /* JFR via async-profiler or JDK Flight Recorder */
    CAPTURE_SNAPSHOT,    /* jcmd GC.class_histogram + Thread.print */
    CAPTURE_HEAP_DUMP,   /* GC.heap_dump on a memory emergency (policy/heapjob.h) */
    CAPTURE__COUNT
};

struct trigger {
    enum trigger_kind kind;
    enum capture_kind capture;
    uint64_t duration_ms;  /* profiles only */
    unsigned events;       /* PROF_EV_* mask; profiles only */
    struct tags why;       /* "trigger:cpu", "cpu_avg:91.20", ... (owned) */
    uint64_t seen_mono_ns; /* CLOCK_MONOTONIC of the event that fired it; 0: none */
};

/* Flameshot's tag value for the kind: "cpu", "memory", "memory_emergency",
 * "cgroup_memory_pressure", "oom", "auto", "http", and ours "memory_lead". */
const char *trigger_kind_name(enum trigger_kind kind);
const char *capture_kind_name(enum capture_kind kind); /* "profile", "snapshot", "heap_dump" */

/* Adds "key:value" with value printed as %.2f, as Flameshot does. */
int trigger_add_value(struct trigger *t, const char *key, double value);

void trigger_free(struct trigger *t);

#endif
