/* sink_local: the local directory sink, the default without
 * FLAMESHOT_DATAKIT_ADDR, and the home of raw jcmd snapshot text in every
 * mode (DataKit has no intake for it).
 *
 * Layout under FLAMESHOT_PROFILING_PATH:
 *   profiles/<namespace>/<pod>/<container>/<file>   a Kubernetes target
 *   profiles/host/<service>/<file>                  anything else
 * <file> is the artefact's file_name (profile_<pid>_<ts>.jfr,
 * jcmd_thread_print_<pid>_<ts>.txt, ...); a Go profile's is a directory
 * pprof_<pid>_<ts>/ holding the files its upload would carry (cpu.pprof,
 * goroutines.pprof, delta-heap.pprof, ...). Next to a payload, <file>.json
 * holds its metadata record; a summary without payload is that .json file
 * alone (oom_hprof_<pid>_<ts>.json). Each .json is
 *   {"artefact": <metadata record>, "payload": "<file>"|null,
 *    "tags_profiler": "...", "summary": {measurement,status,time,tags,fields}}
 * profiles/index.json is a JSON array of every kept artefact, oldest
 * first, rewritten atomically after each change. The .json files are the
 * truth: the index is rebuilt from them at open, so it cannot drift from
 * what is on disk (crash, drops, a person deleting files).
 *
 * Thread-safe (one internal mutex); never blocks on anything but the
 * filesystem. */
#ifndef FS_SINK_LOCAL_H
#define FS_SINK_LOCAL_H

#include "outbox/artefact.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct sink_local;

/* Opens (creating profiles/) and indexes what is already there; removes
 * temp files a crash left. Returns 0 or -errno with a reason in err. */
int sink_local_open(const char *root, struct sink_local **out, char *err, size_t errcap);
void sink_local_close(struct sink_local *s);

/* The path, relative to root, where m would be kept; seq > 0 adds "_<seq>"
 * before the extension to make a taken name unique. Returns 0 or
 * -ENAMETOOLONG. */
int sink_local_relpath(const struct artefact_meta *m, unsigned seq, char *buf, size_t cap);

/* 1 if relpath (or its sidecar) exists on disk or in the index, else 0. */
int sink_local_taken(struct sink_local *s, const char *relpath);

/* Keeps m at m->local_relpath: renames payload (same filesystem; NULL
 * for a summary, or when a previous attempt already moved it) into place,
 * writes the sidecar with fsync, updates the index. Returns 0, -ENOSPC
 * (the caller frees space and retries), or -errno with err filled.
 * *added_bytes gets the bytes newly counted here (sidecar, and the payload
 * moved in). */
int sink_local_deliver(struct sink_local *s, const struct artefact_meta *m, const char *payload,
                       uint64_t *added_bytes, char *err, size_t errcap);

/* Bytes (payloads + sidecars) and artefacts kept. */
uint64_t sink_local_bytes(struct sink_local *s);
size_t sink_local_items(struct sink_local *s);

/* created_ns of the oldest kept artefact; 0 if none. */
uint64_t sink_local_oldest(struct sink_local *s);

/* Deletes the oldest kept artefact (payload and sidecar) and updates the
 * index. Writes "kind relpath" into what. Returns the bytes freed, 0 when
 * nothing is kept. */
uint64_t sink_local_drop_oldest(struct sink_local *s, char *what, size_t cap);

/* A copy of the index (array, oldest first); caller cJSON_Delete's it.
 * NULL on ENOMEM. */
struct cJSON *sink_local_index(struct sink_local *s);

#endif
