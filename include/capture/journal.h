/* journal: the captures in progress, on the node's own disk, so that an
 * agent restarted after a SIGKILL can undo what a cut capture left in a
 * JVM: a JFR recording or an async-profiler session still running, its
 * output file and log in the container's work directory, a heap dump
 * there and its copy half-written on the node.
 *
 * One small JSON file per capture, <dir>/<pid>-<start time>-<seq>.json,
 * written (atomically: temp, fsync, rename) before each step that changes
 * the target, so that what the file says is a superset of what the
 * capture did; removed once the capture has cleaned up after itself.
 * Files are the agent's (mode 0600 in a 0700 directory); the container
 * paths in them are only ever used through rootfs.h from a confined child.
 *
 * Thread-safety: journal_write/journal_remove may be called from any
 * thread for distinct entries; journal_drain only while nothing writes
 * (start-up). Everything blocks on the node's filesystem only. */
#ifndef FS_JOURNAL_H
#define FS_JOURNAL_H

#include "events/procfs.h"

#include <limits.h>
#include <stddef.h>

struct journal;

struct journal_entry {
    char id[64];              /* the file's name without ".json" (journal_write sets it) */
    struct proc_ident proc;   /* pid + start_time name the process; uid/gid/nspid/comm as seen */
    char dir[256];            /* the work directory in the JVM's filesystem, "" not yet */
    char jfr[320];            /* the JFR file the JVM writes there */
    char log[320];            /* async-profiler's log there */
    char recording[64];       /* the JFR.start name=, "" when none was asked for */
    char staged[320];         /* the async-profiler library loaded, "" when none */
    char repos_before[1024];  /* JFR repositories before JFR.start (capture.c) */
    char dump[PATH_MAX];      /* a heap dump the JVM was asked to write, "" none (heapdump.c) */
    char node_part[PATH_MAX]; /* the node file its copy was going to, "" none */
};

/* Opens (creating it 0700 when absent) the journal directory dir. Returns
 * 0 with *out, or -errno. */
int journal_open(const char *dir, struct journal **out);

void journal_close(struct journal *jn); /* NULL-safe */

/* Records e (a first call gives it its id). NULL jn: nothing, 0.
 * 0 or -errno (the capture goes on without a record: the caller logs). */
int journal_write(struct journal *jn, struct journal_entry *e);

/* Removes e's file (none written: nothing). 0 or -errno. */
int journal_remove(struct journal *jn, const struct journal_entry *e);

/* Calls fn for every entry, in name order, then removes it; files
 * that do not parse and temp files left by an interrupted write are
 * removed without a call. Returns how many entries fn saw, or -errno when
 * the directory cannot be read. */
typedef void (*journal_fn)(const struct journal_entry *e, void *arg);
int journal_drain(struct journal *jn, journal_fn fn, void *arg);

/* The entry as JSON text (malloc'd, caller frees) and back; for tests and
 * the files. NULL on ENOMEM; journal_parse: 0 or -EINVAL. */
char *journal_format(const struct journal_entry *e);
int journal_parse(const char *text, struct journal_entry *e);

#endif
