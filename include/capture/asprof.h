/* asprof: what is specific to async-profiler (how Flameshot's event names
 * become agent options, which version a library is), plus staging of an
 * agent library into a container, which works for any JVMTI agent (the
 * tests stage their own marker agent through it).
 *
 * Event mapping (rules.h PROF_EV_* -> agent options, JFR output):
 *   cpu          event=cpu   (async-profiler falls back to ctimer, then
 *                             wall, by itself when it cannot open a
 *                             kernel-inclusive perf event: with
 *                             perf_event_paranoid >= 2 in a JVM without
 *                             CAP_PERFMON, the usual case, it is ctimer)
 *   itimer       event=itimer
 *   cache-misses event=cache-misses
 *   cs           event=context-switches (async-profiler has no "cs" alias:
 *                             an unknown name is taken as a symbol to
 *                             trace, so "cs" must not be passed through;
 *                             no samples under perf_event_paranoid >= 2
 *                             without CAP_PERFMON: asprof_kernel_note)
 *   wall         wall        (alongside the CPU event; event=wall alone)
 *   alloc        alloc=512k  (async-profiler's documented default interval)
 *   lock         lock=10us   (its documented default threshold)
 *   nativemem    nativemem
 *   all          all         (async-profiler >= 4: cpu, wall, alloc, live,
 *                             lock, nativemem); before 4.0 it is expanded
 *                             to event=cpu,alloc=512k,lock=10us,wall
 * An empty mask means PROF_EV_DEFAULT (cpu). Only one of cpu, itimer,
 * cache-misses, cs can drive sampling; if several are asked for, the first
 * in that order wins and the note says which were dropped. Several events
 * together only work with JFR output, which is what we always write. */
#ifndef FS_ASPROF_H
#define FS_ASPROF_H

#include "capture/jvm.h"

#include <stddef.h>
#include <stdint.h>

/* The event options for mask (see above) for an async-profiler of the
 * given major version (0 = unknown, treated as >= 4). note (may be NULL)
 * receives what was dropped or expanded, "" otherwise. 0 or -ENOSPC. */
int asprof_event_options(unsigned mask, int major, char *buf, size_t cap, char *note,
                         size_t notecap);

/* "start,<events>,jfr,file=<jfr>,log=<log>,timeout=<s>": profiling starts
 * now, writes JFR to jfr_path (a path in the JVM's filesystem) and stops
 * by itself after safety_s seconds should nobody send stop. 0 or -ENOSPC. */
int asprof_start_options(unsigned mask, int major, const char *jfr_path, const char *log_path,
                         uint64_t safety_s, char *buf, size_t cap, char *note, size_t notecap);

/* "stop,jfr,file=<jfr>,log=<log>": stops and finishes the JFR file. */
int asprof_stop_options(const char *jfr_path, const char *log_path, char *buf, size_t cap);

/* The first async-profiler version in data: "async-profiler 4.5" (what a
 * library built with debug information carries, and what its JFR output
 * names as the recording) or "Async-profiler 3.0 built on ..." (its
 * launcher, bin/asprof) -> "4.5", "3.0"; "X.Y[.Z][-suffix]", ended by a
 * character that cannot continue it. 0, or -ENOENT (also when a version
 * runs into the end of data: it may go on). */
int asprof_version_from_bytes(const void *data, size_t len, char *ver, size_t cap, int *major);

/* The version of the library at lib (a host path from
 * FLAMESHOT_ASYNC_PROFILER_PATH: the admin's file, never the container's),
 * read, never loaded: at most 64 MiB of it are scanned, in chunks; if it
 * does not carry the string (upstream's release is stripped, and the
 * compiler assembles "async-profiler 4.5" from pieces), the install's
 * launcher <lib's dir>/../bin/asprof is scanned the same way. 0 with ver
 * and *major, or -ENOENT with ver "unknown" and *major 0. Blocks on file
 * reads only. */
int asprof_library_version(const char *lib, char *ver, size_t cap, int *major);

/* With kernel.perf_event_paranoid >= 2 a process without CAP_PERFMON or
 * CAP_SYS_ADMIN gets user-space perf events only: async-profiler's cpu
 * then samples with ctimer (its fallback; fine), and its cs counts context
 * switches in user space, where none happen (the profile has no samples).
 * Appends a note saying so to note when cs drives sampling under those
 * conditions; cap_eff is the JVM's effective capability mask. */
void asprof_kernel_note(unsigned mask, int paranoid, uint64_t cap_eff, char *note, size_t cap);

/* kernel.perf_event_paranoid (2 when unreadable) and pid's CapEff, from
 * the host's /proc. 0 or -errno (pid unreadable: *cap_eff 0). */
int asprof_perf_limits(int pid, int *paranoid, uint64_t *cap_eff);

/* <install>/lib/libasyncProfiler.so (FLAMESHOT_ASYNC_PROFILER_PATH names
 * the install directory; a path to the .so itself is accepted too).
 * Returns 0 when that file exists and is a regular file, else -errno. */
int asprof_library_path(const char *install, char *buf, size_t cap);

/* Where staging happened and why other places were not used. */
struct asprof_stage {
    char dir[256];  /* e.g. "/tmp/.flameshot-10001" (container path) */
    char path[320]; /* dir + "/<name>-<sha256 prefix>.so" */
    char sha256[65];
    char rejected[768]; /* "/tmp: mounted noexec (tmpfs at /tmp); ..." */
};

/* Picks and creates the per-uid work directory <base>/.flameshot-<uid>
 * (mode 0700, owned by the JVM's uid) under the first of /tmp, /dev/shm,
 * /var/tmp whose mount (from the JVM's mountinfo, then statvfs) is
 * writable and, when need_exec, not noexec. A symbolic link or a foreign
 * owner at a .flameshot-<uid> path fails at once (planted: never looked
 * past). Runs in an nsexec child; blocks up to timeout_ms. Returns 0 with
 * st->dir set (st->rejected says what was skipped and why), or -errno
 * with err naming every check that failed. */
int asprof_workdir(struct jvm *j, int need_exec, uint64_t timeout_ms, struct asprof_stage *st,
                   char *err, size_t errcap);

/* Stages the agent library host_path into the JVM's filesystem for the
 * JVM to load: in the work directory (need_exec), as
 * "<basename without .so>-<first 16 hex of its SHA-256>.so", mode 0755,
 * owned by the JVM's uid. An identical file already there is reused; a
 * different one is never rewritten in place (a JVM may have it mapped):
 * the new content goes to a temporary name renamed over it. Every path is
 * symlink-free (rootfs.h); the staged file's digest is verified. Blocks up
 * to timeout_ms. 0 or -errno with err. */
int asprof_stage_library(struct jvm *j, const char *host_path, uint64_t timeout_ms,
                         struct asprof_stage *st, char *err, size_t errcap);

/* Removes a staged library the JVM did not load, and with remove_dir the
 * work directory too if that leaves it empty. Never call it for a library
 * a JVM has mapped. Blocks up to timeout_ms. 0 or -errno. */
int asprof_unstage(struct jvm *j, const struct asprof_stage *st, int remove_dir,
                   uint64_t timeout_ms);

#endif
