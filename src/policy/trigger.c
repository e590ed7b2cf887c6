#include "policy/trigger.h"

#include "core/metrics.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[TRIGGER__COUNT] = {
    "cpu",  "memory", "memory_emergency", "cgroup_memory_pressure", "oom",
    "auto", "http",   "memory_lead",
};

/* metrics' triggers[] is indexed by trigger kind (prom.c names it so) */
_Static_assert((int)MT__COUNT == (int)TRIGGER__COUNT, "enum metrics_trigger mirrors trigger_kind");
_Static_assert((int)MT_OOM == (int)TRIGGER_OOM && (int)MT_MEMORY_LEAD == (int)TRIGGER_MEMORY_LEAD,
               "enum metrics_trigger mirrors trigger_kind");

const char *trigger_kind_name(enum trigger_kind kind)
{
    return (unsigned)kind < TRIGGER__COUNT ? kind_names[kind] : "unknown";
}

const char *capture_kind_name(enum capture_kind kind)
{
    return kind == CAPTURE_SNAPSHOT    ? "snapshot"
           : kind == CAPTURE_HEAP_DUMP ? "heap_dump"
                                       : "profile";
}

int trigger_add_value(struct trigger *t, const char *key, double value)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.2f", value);
    return tags_set(&t->why, key, buf);
}

void trigger_free(struct trigger *t)
{
    tags_free(&t->why);
    memset(t, 0, sizeof(*t));
}
