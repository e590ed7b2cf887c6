/* oomwatch: Flameshot's OOM summary. After a kernel OOM kill in a
 * watched container, find the heap dump the JVM wrote (hprof.h) and send
 * one flameshot_oom_hprof record: the file, or why there is none (not
 * enabled in the JVM, path unreachable, no file in the match window).
 * Also reports dumps a JVM writes on a Java-level OutOfMemoryError without
 * any kernel kill. Active only with FLAMESHOT_OOM_HPROF_ENABLED.
 *
 * The search runs a moment after the kill (OOMWATCH_DELAY_MS), from the
 * directory pinned while the JVM lived, so it works after the JVM and its
 * namespaces are gone. Loop thread only. */
#ifndef FS_OOMWATCH_H
#define FS_OOMWATCH_H

#include "core/config.h"
#include "policy/targets.h"

#include <stdint.h>

#define OOMWATCH_DELAY_MS 2000

struct outbox;
struct oomwatch;

/* NULL when disabled by the configuration or out of memory (then every
 * function below is a no-op on NULL). */
struct oomwatch *oomwatch_new(const struct config *cfg, struct outbox *outbox);
void oomwatch_free(struct oomwatch *ow);

/* Pins the target's dump directory (or records why not). */
void oomwatch_target_added(struct oomwatch *ow, struct target *tg);
/* Releases it (a pending search keeps its own copy). */
void oomwatch_target_removed(struct oomwatch *ow, struct target *tg);

/* An OOM kill of tg's container (tg is the victim or shares its memory
 * cgroup). oom_real_ns: wall-clock time of the kill. */
void oomwatch_on_oom(struct oomwatch *ow, struct target *tg, uint64_t oom_real_ns, uint64_t now_ms);

/* Runs due searches and looks for Java-level dumps of live targets. */
void oomwatch_tick(struct oomwatch *ow, struct targets *targets, uint64_t now_ms);

#endif
