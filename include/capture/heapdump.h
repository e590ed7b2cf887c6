/* heapdump: an active heap dump of a JVM in another container, with no
 * JDK anywhere: `jcmd GC.heap_dump` over the HotSpot attach protocol
 * (Flameshot runs jmap, which needs a JDK in its sidecar).
 *
 * The JVM writes the dump itself, inside its own container: into the
 * directory of its -XX:HeapDumpPath when set (the place its owner chose
 * for dumps, often a volume), else into the agent's work directory there
 * (asprof_workdir, e.g. /tmp/.flameshot-<uid>). Before asking, a confined
 * helper (nsexec.h: the container's mount namespace and root, the JVM's
 * uid/gid, symlink-free paths: rootfs.h) measures the free space of that
 * directory (fstatfs, the blocks available to that uid); a dump that would
 * not fit with a margin (heapdump_space_check) is refused, so that it
 * never fills the Pod's ephemeral storage and gets the Pod evicted. The
 * dump is then opened by a helper (a regular file only, no larger than the
 * node may take), removed from the container, and copied to its file on
 * the node through a bounded writer (bounded.h), under the cap the caller
 * gives (the disk budget) and the node filesystem's free space.
 *
 * Like jmap -dump:format=b (Flameshot's command), every object is dumped
 * (-all: no full GC first, which a JVM at its memory limit may not
 * survive). From JDK 15 the dump is compressed (-gz=1, HotSpot's fastest
 * level) and the node file is named <template>.gz: HPROF compresses
 * several-fold, so both disks hold less and an upload moves less.
 *
 * One call blocks for the dump (up to req->timeout_ms) and the copy;
 * thread-safe (each call forks its own helpers; the caller must not reap
 * children with waitpid(-1)). */
#ifndef FS_HEAPDUMP_H
#define FS_HEAPDUMP_H

#include "events/procfs.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics;
struct journal;
struct journal_entry;

/* The room left beside a dump in the container: 25% of the estimate for
 * its error, plus this much for the application's own writes meanwhile. */
#define HEAPDUMP_CONTAINER_MARGIN (64ull << 20)
/* What the node's filesystem keeps free whatever the budget says. */
#define HEAPDUMP_NODE_MARGIN (256ull << 20)
/* GC.heap_dump -gz: from JDK 15 (JDK-8237354). */
#define HEAPDUMP_GZ_MIN_JDK 15

enum heapdump_outcome {
    HEAPDUMP_OK = 0,
    HEAPDUMP_NO_SPACE,      /* the container's filesystem lacks the room: refused */
    HEAPDUMP_TOO_LARGE,     /* more than the node may take (budget, free space) */
    HEAPDUMP_TIMEOUT,       /* GC.heap_dump did not answer in time */
    HEAPDUMP_TARGET_EXITED, /* the JVM exited before the dump was whole */
    HEAPDUMP_FAILED,
};
/* "ok", "no_space", "too_large", "timeout", "target_exited", "failed". */
const char *heapdump_outcome_name(enum heapdump_outcome o);

struct heapdump_req {
    const char *node_path;      /* the node file; ".gz" is appended when compressed */
    uint64_t node_cap;          /* at most this many bytes on the node */
    uint64_t timeout_ms;        /* FLAMESHOT_HEAP_DUMP_TIMEOUT: the dump itself */
    uint64_t attach_timeout_ms; /* every other step; 0 = 10 s */
    struct metrics *metrics;    /* may be NULL */
    struct journal *journal;    /* the dump in progress, for a restart (journal.h); NULL: none */
};

struct heapdump_result {
    enum heapdump_outcome outcome;
    char reason[1024];              /* why not ok, in words */
    char node_path[PATH_MAX];       /* the file on the node (only when ok) */
    char container_path[PATH_MAX];  /* where the JVM wrote it, as the container sees it */
    bool compressed;                /* -gz=1 was used */
    char jdk_version[64];           /* from VM.version, "unknown" when unreadable */
    uint64_t heap_used_bytes;       /* the size estimate (GC.heap_info, else the RSS) */
    uint64_t container_avail_bytes; /* free for the JVM's uid where it writes */
    uint64_t bytes;                 /* the node file's size */
    uint64_t start_ns, end_ns;      /* CLOCK_REALTIME around GC.heap_dump */
};

/* Takes the dump described above. res is always filled. Returns 0 when
 * ok, else -errno matching res->outcome (-ENOSPC no_space, -EFBIG
 * too_large, -ETIMEDOUT timeout, -ESRCH target_exited). Nothing is left
 * in the container, nor a partial file on the node, whatever happens
 * (a JVM still writing past its timeout keeps only its open file, which
 * it closes when done). */
int heapdump_capture(const struct proc_ident *p, const struct heapdump_req *req,
                     struct heapdump_result *res);

/* With req->journal, the dump's container path and its node file's
 * ".part" are recorded (journal.h) before GC.heap_dump is sent, and the
 * entry goes once both are dealt with. An entry left behind names a dump
 * cut by the agent's death (the JVM writes on without us):
 * heapdump_recover removes the ".part" from the node and, if the same
 * process still runs, the dump from its container (a regular file only,
 * symlink-free, as the JVM's uid; a JVM still writing it keeps its open
 * file until done). done says what was removed (or could not be). Blocks
 * up to a few timeout_ms. Returns 0, -ESRCH when the process is gone or
 * the pid names another now (the node file is removed all the same), or
 * jvm_open's -errno. */
int heapdump_recover(const struct journal_entry *e, uint64_t timeout_ms, char *done, size_t cap);

/* ---- pure parts, for tests --------------------------------------------- */

/* The heap's used bytes from GC.heap_info's text, whatever the collector:
 * the sum of every "used <n>K|M|G" and "<n>K|M|G used" figure of the heap
 * lines (not Metaspace's nor the class space's, which are not in a heap
 * dump). Returns 0 with *bytes, or -ENOENT when no figure is found. */
int heapdump_parse_heap_used(const char *text, uint64_t *bytes);

/* The major version of a VM.version JDK version: "17.0.15" -> 17,
 * "1.8.0_392" -> 8. 0 when unreadable. */
int heapdump_jdk_major(const char *version);

/* What a dump of estimate bytes needs free beside it: estimate, a quarter
 * more, and HEAPDUMP_CONTAINER_MARGIN. */
uint64_t heapdump_space_needed(uint64_t estimate);

/* Whether a dump of estimate bytes may be written where avail bytes are
 * free: 0, or -ENOSPC with why ("needs ... MiB free, ... available"). */
int heapdump_space_check(uint64_t estimate, uint64_t avail, char *why, size_t cap);

#endif
