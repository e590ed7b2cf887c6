/* oomwatch: Flameshot's OOM summary. After a kernel OOM kill in a
 * watched container, find the heap dump the JVM wrote (hprof.h) and send
 * one flameshot_oom_hprof record: the file, or why there is none (not
 * enabled in the JVM, path unreachable or hung, no file in the match
 * window). Also reports dumps a JVM writes on a Java-level
 * OutOfMemoryError without any kernel kill. For targets whose settings
 * enable it: FLAMESHOT_OOM_HPROF_ENABLED, or in Kubernetes their Pod's
 * flameshot.io/oom-hprof-enabled.
 *
 * The search runs a moment after the kill (OOMWATCH_DELAY_MS), from the
 * directory pinned while the JVM lived, so it works after the JVM and its
 * namespaces are gone.
 *
 * Threads: the functions below are called from the daemon loop; they
 * copy what they need from the target and post it to the background lane
 * (lane.h), which owns every pinned directory, search and the seen-list.
 * All the file work (pinning, listing, records and their fsyncs) happens
 * there, each container touch in a confined helper bounded by
 * HPROF_HELPER_TIMEOUT_MS: a dump directory that hangs delays only other
 * heap-dump work, and is reported (warning, dump_dir_timeouts) and then
 * left alone for OOMWATCH_HUNG_BACKOFF_MS. */
#ifndef FS_OOMWATCH_H
#define FS_OOMWATCH_H

#include "core/config.h"
#include "policy/lane.h"
#include "policy/targets.h"

#include <stdint.h>

#define OOMWATCH_DELAY_MS        2000
#define OOMWATCH_HUNG_BACKOFF_MS 60000

struct outbox;
struct oomwatch;

/* NULL when no target can enable it (standalone without
 * FLAMESHOT_OOM_HPROF_ENABLED) or out of memory (then every
 * function below is a no-op on NULL). jobs (may be NULL) gives each
 * record the process's recent snapshots (jobs_evidence_text, field
 * recent_snapshots); jobs, lane and metrics (may be NULL) must outlive
 * it; stop the lane before oomwatch_free. */
struct jobs;
struct oomwatch *oomwatch_new(const struct config *cfg, struct outbox *outbox, struct jobs *jobs,
                              struct lane *lane, struct metrics *metrics);
void oomwatch_free(struct oomwatch *ow);

/* With FLAMESHOT_HPROF_UPLOAD_ENABLED: each dump found is copied out of
 * the container (hprof_copy_out, bounded by the disk budget) into upload
 * (outbox/upload.h), and its record, with the object key, the download
 * URL and the upload status or error, goes once the upload has settled.
 * upload must outlive ow. Call before the first target is added. */
struct upload;
void oomwatch_set_upload(struct oomwatch *ow, struct upload *upload);

/* Kubernetes mode: a pin first asks podtable_may_attach (the pin enters
 * the container), so that the directory of a JVM whose Pod opted out, was
 * deleted or ended while the pin waited on the lane is never looked at.
 * pods must outlive ow. Call before the first target is added. */
void oomwatch_set_pods(struct oomwatch *ow, struct podtable *pods);

/* Pins the target's dump directory (or records why not). Pins of
 * processes that are gone are released on later ticks. */
void oomwatch_target_added(struct oomwatch *ow, const struct target *tg);

/* An OOM kill of tg's container (tg is the victim or shares its memory
 * cgroup). oom_real_ns: wall-clock time of the kill. */
void oomwatch_on_oom(struct oomwatch *ow, const struct target *tg, uint64_t oom_real_ns,
                     uint64_t now_ms);

/* Runs due searches, looks for Java-level dumps of live targets and
 * releases the pins of processes gone (unless the previous tick is still
 * running). */
void oomwatch_tick(struct oomwatch *ow, uint64_t now_ms);

#endif
