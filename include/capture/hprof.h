/* hprof: finding the heap dump a JVM wrote before an OOM kill
 * (FLAMESHOT_OOM_HPROF_ENABLED), as Flameshot does, but from the node.
 *
 * While the JVM lives, its options say whether and where it dumps:
 * -XX:+HeapDumpOnOutOfMemoryError and -XX:HeapDumpPath=<file or dir>, as
 * jvmopts.h reads them (command line and environment, the last setting
 * wins, as in HotSpot). HotSpot writes
 * <dir>/java_pid<nspid>.hprof when the path is an existing directory, the
 * path itself otherwise, java_pid<nspid>.hprof in its cwd without a path,
 * and appends .1, .2... for later dumps of the same JVM; .hprof.gz with
 * -XX:HeapDumpGzipLevel.
 *
 * The dump directory is resolved inside the container and PINNED when the
 * target is added: an O_PATH fd of the directory, with the container's
 * mount namespace and root, and the JVM's uid/gid. The pinned fds keep the
 * directory, and the volume it is on, reachable after the JVM and its
 * mount namespace are gone: an OOM kill ends the process that could
 * otherwise have shown us the way.
 *
 * Every touch of the container's files (resolving the path, listing the
 * directory, stat-ing the dumps) happens in a confined helper (nsexec.h:
 * a child in the container's mount namespace, chrooted to its root, as
 * the JVM's uid/gid, resolving symlink-free as rootfs.h does), never in
 * the agent itself. Each helper is bounded by w->timeout_ms: a directory
 * on a hung filesystem (FUSE, NFS) costs that long, then -ETIMEDOUT.
 *
 * Each dump is reported once: a seen-list (device, inode, size, mtime) is
 * kept in memory and persisted under FLAMESHOT_PROFILING_PATH, so a
 * restart does not report the same file again. Not thread-safe: one
 * thread (the oomwatch lane) owns every watch and the seen-list. */
#ifndef FS_HPROF_H
#define FS_HPROF_H

#include "events/procfs.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hprof_spec {
    bool on_oom;         /* -XX:+HeapDumpOnOutOfMemoryError */
    bool has_path;       /* -XX:HeapDumpPath= given, not empty */
    char path[PATH_MAX]; /* its value */
    bool gz;             /* -XX:HeapDumpGzipLevel=N, N > 0 */
    char unread[300];    /* options that could not be read ("" when none), for the detail */
};

/* The heap-dump settings in effect among a JVM's options. */
struct jvmopts;
void hprof_spec_from(const struct jvmopts *opts, struct hprof_spec *out);

/* Why no dump can be found, for the record that still gets sent. */
enum hprof_why {
    HPROF_OK = 0,
    HPROF_NOT_ENABLED, /* no -XX:+HeapDumpOnOutOfMemoryError */
    HPROF_UNREACHABLE, /* the dump directory cannot be resolved or opened */
    HPROF_NO_FILE,     /* nothing in the match window */
};
const char *hprof_why_name(enum hprof_why why); /* "ok", "not_enabled", ... */

/* How long one helper may take (resolving, or listing the directory). */
#define HPROF_HELPER_TIMEOUT_MS 5000

/* A pinned dump location. */
struct hprof_watch {
    enum hprof_why state; /* HPROF_OK when dir_fd is pinned */
    char detail[512];     /* why not, in words */
    int dir_fd;           /* O_PATH directory, -1 when not pinned */
    int mntns_fd;         /* the container's mount namespace, -1 when not pinned */
    int root_fd;          /* its root directory (O_PATH), -1 when not pinned */
    uid_t uid;            /* the JVM's credentials: the helpers run as them */
    gid_t gid;
    uint64_t timeout_ms; /* per helper; HPROF_HELPER_TIMEOUT_MS unless changed */
    char dir[PATH_MAX];  /* the directory as the container sees it */
    char base[256];      /* file name HotSpot writes (without .N) */
    bool dir_mode;       /* HeapDumpPath named a directory: any *.hprof there counts */
    uint64_t since_ns;   /* files older than this are not this JVM's (its start) */
    /* hprof_poll_new: a file seen growing, reported once it settles */
    char pending[256];
    uint64_t pending_size;
    uint64_t pending_seen_ns;
};

/* Resolves spec for the process id names (its pid for /proc, nspid for
 * the default file name, uid/gid for the helper) and pins the directory.
 * proc_root: NULL for the real /proc. Never fails: w->state says what
 * happened. Blocks for at most one helper (w->timeout_ms and its reaping). */
void hprof_watch_open(const char *proc_root, const struct proc_ident *id, uint64_t started_ns,
                      const struct hprof_spec *spec, struct hprof_watch *w);
/* A copy with its own fds (for a search that outlives the target). */
void hprof_watch_dup(const struct hprof_watch *w, struct hprof_watch *copy);
void hprof_watch_close(struct hprof_watch *w);

struct hprof_found {
    char path[PATH_MAX]; /* as the container sees it */
    uint64_t size;
    uint64_t mtime_ns;
    dev_t dev;
    ino_t ino;
};

/* The newest dump in the pinned directory whose mtime is within window_ns
 * of around_ns (either side), not older than the JVM, and not yet named by
 * an OOM-kill record (seen may be NULL; a dump reported only as a
 * Java-level OutOfMemoryError still counts: the kill is another event).
 * Returns 1 found, 0 none, -errno (-ETIMEDOUT: the directory did not
 * answer within w->timeout_ms). Symlinks and non-regular files are
 * ignored, never followed. Blocks for one helper. */
struct hprof_seen;
int hprof_find(const struct hprof_watch *w, uint64_t around_ns, uint64_t window_ns,
               const struct hprof_seen *seen, struct hprof_found *out);

/* A dump not yet reported that has stopped growing (the same size at two
 * calls at least HPROF_SETTLE_NS apart): how a JVM-level OutOfMemoryError
 * without a kernel OOM kill shows. Returns 1 with out, 0 none yet, or
 * -errno when the directory cannot be listed (-ETIMEDOUT as above).
 * Blocks for one helper. */
#define HPROF_SETTLE_NS 2000000000ull
int hprof_poll_new(struct hprof_watch *w, const struct hprof_seen *seen, uint64_t now_ns,
                   struct hprof_found *out);

/* Copies the dump f (a file hprof_find or hprof_poll_new returned for w)
 * into out_fd, an fd of the node (the upload spool), from a confined
 * helper: the file is opened by its name in the pinned directory without
 * following a link, must still be the regular file f names (device and
 * inode), and at most cap bytes are copied. The helper may take
 * w->timeout_ms plus a second per HPROF_COPY_MIB_PER_S MiB. Returns the
 * bytes copied; -EFBIG (larger than cap), -ESTALE (another file now has
 * its name), -ETIMEDOUT or -errno, with a reason in why. */
#define HPROF_COPY_MIB_PER_S 20
int64_t hprof_copy_out(const struct hprof_watch *w, const struct hprof_found *f, int out_fd,
                       uint64_t cap, char *why, size_t whycap);

/* The seen-list. path: a JSON-lines file (created when missing). */
struct hprof_seen *hprof_seen_open(const char *path);
void hprof_seen_close(struct hprof_seen *s);
/* Whether f was reported: by an OOM-kill record (oom_only), or at all. */
bool hprof_seen_has(const struct hprof_seen *s, const struct hprof_found *f, bool oom_only);
/* Records f as reported, by an OOM-kill record or not (and appends it to
 * the file). 0 or -errno. */
int hprof_seen_add(struct hprof_seen *s, const struct hprof_found *f, bool by_oom);

#endif
