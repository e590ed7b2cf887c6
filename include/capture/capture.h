/* capture: what job workers call to take evidence from a Java process in
 * another PID/mount namespace, under another uid, with its own /tmp — no
 * JDK needed. Built on jvm.h (identity, HotSpot check, pidfd), attach.h
 * (the protocol), asprof.h (work directory, staging, async-profiler
 * options) and nsexec.h/rootfs.h (every file of the container is touched
 * from a child in its mount namespace, as its uid, symlink-free).
 *
 * Every function is blocking and thread-safe: several workers may capture
 * at once (each call forks its own short-lived helpers; the caller must
 * not reap children with waitpid(-1)). Each first checks that the pid
 * still names the process in *p (start time), then pins it with a pidfd.
 * What a capture produces goes to the caller's bounded writers (bounded.h),
 * never past their caps; nothing is written to the host's filesystem by
 * path. */
#ifndef FS_CAPTURE_H
#define FS_CAPTURE_H

#include "capture/asprof.h"
#include "capture/journal.h"
#include "events/procfs.h"
#include "capture/snapshot.h"
#include "outbox/bounded.h"

#include <stddef.h>
#include <stdint.h>

struct metrics;

#define CAPTURE_DEFAULT_TIMEOUT_MS 10000
/* The cap for one jcmd snapshot's text: a Thread.print of thousands of
 * threads is a few MiB; past this a JVM is not answering, it is flooding. */
#define CAPTURE_JCMD_MAX_BYTES (32ull << 20)

/* capture_snapshots flags */
/* "GC.class_histogram -all": every object, reachable or not, with no full
 * GC first (the plain command collects before it counts: seconds on a
 * full heap that the kernel may not leave the JVM) */
#define CAPTURE_SNAP_HISTOGRAM_ALL 0x1u
/* Only one of the two (a request for one type): the other command is not
 * sent, so a thread dump alone costs the target no full GC; its summary
 * says rc -ECANCELED, "not requested" */
#define CAPTURE_SNAP_NO_HISTOGRAM 0x2u
#define CAPTURE_SNAP_NO_THREADS   0x4u

/* Flameshot's high-watermark snapshot: Thread.print into threads and
 * GC.class_histogram into histogram. HotSpot's attach listener serves one
 * operation at a time, in connection order, so Thread.print (the fast
 * one) is connected first, starting the listener when needed (the JVM
 * gets at most one SIGQUIT), and the histogram's connection is opened
 * while it runs: it waits in the JVM's queue, not on a round trip.
 * Thread.print is bounded by timeout_ms, the histogram by twice that.
 * Each writer receives what `jcmd <nspid> <command>` prints ("<nspid>:"
 * line, then the output); an output that would pass the writer's cap is
 * cut there and fails that command with -EFBIG (error says where). A
 * reply cut short otherwise (the JVM died, say killed by the kernel,
 * or the time ran out) keeps what arrived: rc 0, complete false, error
 * says so. out[SNAPSHOT_GC_CLASS_HISTOGRAM] and out[SNAPSHOT_THREAD_PRINT]
 * are always filled (file_name, size, preview, pid = nspid, host_pid,
 * process_name, rc/jvm_rc/complete/error). Returns 0 when the requested
 * commands succeeded with whole replies, else the first failure's -errno (-EIO
 * when a JVM status was non-zero, -EPIPE when a reply was cut short). */
int capture_snapshots(const struct proc_ident *p, uint64_t timeout_ms, unsigned flags,
                      struct bounded *histogram, struct bounded *threads, struct metrics *m,
                      struct snapshot_summary out[SNAPSHOT_TYPES]);

/* Stages any JVMTI agent library (a host path) into the JVM's filesystem
 * (asprof_stage_library: content-hashed name, JVM's uid, exec-capable
 * mount) and loads it with `load <staged path> true <options>`. The
 * result's agent_rc is Agent_OnAttach's return value. Blocks up to
 * timeout_ms per step. 0 when loaded and Agent_OnAttach returned 0;
 * -EIO when it returned non-zero; -ENOEXEC when the JVM could not load the
 * library; other -errno as attach_execute (attach.h); res->reason says which. */
struct capture_agent_result {
    struct asprof_stage stage;
    int agent_rc;
    char reason[768];
};
int capture_load_agent(const struct proc_ident *p, const char *library, const char *options,
                       uint64_t timeout_ms, struct metrics *m, struct capture_agent_result *res);

enum capture_outcome {
    CAPTURE_OUTCOME_OK = 0,
    CAPTURE_OUTCOME_TARGET_EXITED, /* the JVM exited; whatever it wrote was collected */
    CAPTURE_OUTCOME_CANCELLED,     /* cancel_fd fired; what exists was collected */
    CAPTURE_OUTCOME_FAILED,
    CAPTURE_OUTCOME_TOO_LARGE, /* the JFR is larger than req->out may take: nothing kept */
};
/* "ok", "target_exited", "cancelled", "failed", "too_large". */
const char *capture_outcome_name(enum capture_outcome o);

struct profile_req {
    unsigned events;                 /* PROF_EV_* (rules.h); 0 = PROF_EV_DEFAULT (cpu) */
    uint64_t duration_ms;            /* how long to profile */
    const char *async_profiler_path; /* FLAMESHOT_ASYNC_PROFILER_PATH, or NULL: JFR */
    struct bounded *out;             /* the JFR is copied here, within its cap */
    int cancel_fd;                   /* readable = stop now (eventfd); -1: none */
    uint64_t attach_timeout_ms;      /* each attach / helper step; 0 = 10 s */
    struct metrics *metrics;         /* may be NULL */
    struct journal *journal; /* what the capture does to the JVM, for a restart; NULL: none */
};

struct profile_result {
    enum capture_outcome outcome;
    char reason[768];          /* why it failed / ended early; notes otherwise */
    char library_type[16];     /* "async_profiler" | "jfr" */
    char library_version[64];  /* async-profiler's embedded version; for JFR the JDK's */
    char jdk_version[64];      /* from VM.version */
    char events[256];          /* the profiler options used for events */
    char asprof_skipped[768];  /* why async-profiler was not used ("" if it was) */
    uint64_t start_ns, end_ns; /* CLOCK_REALTIME around the recording */
    uint64_t bytes;            /* JFR bytes copied to out */
};

/* Profiles the JVM for req->duration_ms and copies the JFR it produced to
 * req->out. With async_profiler_path holding lib/libasyncProfiler.so the
 * library is staged (asprof_stage_library) and started through `load`
 * writing JFR; otherwise, or when that fails (res->asprof_skipped says
 * why), JDK Flight Recorder runs through JFR.start (settings=profile, a
 * name, a filename in the work directory and, as a safety net, a duration
 * a little longer than asked) and is stopped with JFR.stop. The JFR file
 * is written by the JVM into <work dir>/profile-<nspid>.jfr in its own
 * filesystem, opened symlink-free as its uid (a symbolic link planted
 * there fails the job), checked against the room req->out has left
 * (fstat: a larger file, say a sparse one planted by the container's
 * user, is never read), handed to us as an fd, removed, and copied; it
 * ends as too_large when it is larger or grows past the cap meanwhile.
 * With JFR, the JFR repository directory our JFR.start created goes too.
 * The JVM exiting early ends as target_exited with whatever file it left
 * (JFR dumps on exit); cancel_fd ends as cancelled after stopping and
 * collecting. Blocks for about duration_ms plus a few attach round trips
 * (each <= attach_timeout_ms). Returns 0 unless the outcome is failed
 * (then -errno) or too_large (-EFBIG); res is always filled. */
int capture_profile(const struct proc_ident *p, const struct profile_req *req,
                    struct profile_result *res);

/* With req->journal, capture_profile records (journal.h) what it is about
 * to do to the JVM before each step: the process, then the work
 * directory and the JFR file, then the recording's name or the
 * async-profiler library loaded; the entry goes once it has cleaned up.
 * An entry left behind names a capture cut by the agent's death (SIGKILL,
 * OOM kill): capture_profile_recover undoes it, as the capture would
 * have: stops that recording (JFR.stop name=, or async-profiler's stop),
 * removes the JFR file and the log from the work directory (and the
 * directory if that leaves it empty; a staged library that was loaded
 * stays) and the JFR repository our JFR.start created, all as in
 * capture_profile (symlink-free, from a confined child). Nothing is
 * collected: a profile cut short is not delivered. Blocks up to a few
 * timeout_ms. Returns 0 with done saying what was stopped and removed
 * (and what could not be), -ESRCH when the process is gone or the pid
 * names another one now (nothing to do), or jvm_open's -errno with done
 * saying why. */
int capture_profile_recover(const struct journal_entry *e, uint64_t timeout_ms, char *done,
                            size_t cap);

#endif
