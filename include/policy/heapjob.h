/* heapjob: the heap dump of a memory emergency as a job (jobs.h). The
 * monitor queues it, a routine job, after the emergency's jcmd snapshots
 * (urgent) and before its profile (evidence order: the cheap evidence
 * first, then the dump that pauses the JVM, then the profile), for rules
 * that allow it (rule_heap_dump_allowed) under the per-process
 * FLAMESHOT_HEAP_DUMP_COOLDOWN.
 *
 * The job renders FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE (pathtpl.h), takes the
 * dump (capture/heapdump.h) into that file on the node, bounded by what is
 * left of the disk budget (FLAMESHOT_SPOOL_MAX_MB less the outbox, the
 * local sink and the dumps already in that directory), and hands the
 * result on (heapjob_hand_on): one flameshot_oom_hprof record, as
 * Flameshot's heap-dump summary (matched_by = the trigger), saying where
 * the dump is, or why there is none.
 *
 * One heap dump at a time on the node, as Flameshot's single heap-dump
 * worker: a dump pauses its JVM and writes its heap twice (container,
 * node). A second one waits for the first (holding its routine worker). */
#ifndef FS_HEAPJOB_H
#define FS_HEAPJOB_H

#include "outbox/artefact.h"
#include "policy/jobs.h"
#include "policy/runner.h"

struct outbox;

/* Runs a CAPTURE_HEAP_DUMP job (runner_exec dispatches it here). Blocks
 * for the dump (FLAMESHOT_HEAP_DUMP_TIMEOUT) and its copy; the job's
 * cancel_fd is not polled meanwhile (the dump is bounded by its timeout,
 * the copy by the disk). Thread-safe. */
void heapjob_exec(const struct runner *r, const struct job *job, struct job_result *res);

/* THE place a finished heap dump leaves this module, ok or not. path:
 * the final file on the node (NULL when there is none); summary: its
 * flameshot_oom_hprof record (fields message, hprof_path,
 * hprof_size_bytes, matched_by, reason, ...). With the object-storage
 * upload on (r->upload) the dump is queued there (upload_submit_file: a
 * hard link or copy in the spool; the node file stays) and the queue sends
 * the record, with the object key, download URL and upload status, once
 * the upload settles; a dump the queue refuses gets the failed upload
 * fields. Otherwise the record goes to the outbox now. Returns 0 or -errno
 * with err. */
int heapjob_hand_on(const struct runner *r, const char *path, struct artefact_meta *summary,
                    char *err, size_t errcap);

/* The node file a dump of job's process would get now (the template
 * rendered with the job's service, Pod, host, pid and the time). 0 or
 * -errno (pathtpl_render's). */
int heapjob_node_path(const struct config *cfg, const struct runner_target *rt,
                      const struct proc_ident *id, uint64_t now_ns, char *out, size_t cap);

#endif
