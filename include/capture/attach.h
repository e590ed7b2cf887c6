/* attach: a client of HotSpot's dynamic-attach protocol (Linux), in C, so
 * the agent needs no JDK. Connects to <jvm tmp>/.java_pid<nspid> inside the
 * JVM's mount namespace as the JVM's own uid/gid, starting the listener
 * with .attach_pid<nspid> + SIGQUIT when it is not running yet, then speaks
 * protocol version 1:
 *
 *   request  "1\0" <cmd> "\0" <arg0> "\0" <arg1> "\0" <arg2> "\0"
 *   reply    "<code>\n" <output>   (then the JVM closes the connection)
 *
 * (HotSpot attachListener_linux.cpp: 2 + 3 strings; names <= 16 bytes,
 * arguments <= 1024 bytes; a version other than "1" gets "101\n"; a peer
 * whose uid/gid differ from the JVM's, and is not root, is dropped without
 * a reply.) Every connect, read and write is bounded by a deadline. */
#ifndef FS_ATTACH_H
#define FS_ATTACH_H

#include "capture/jvm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics;

#define ATTACH_NAME_MAX 16   /* HotSpot AttachOperation::name_length_max */
#define ATTACH_ARG_MAX  1024 /* HotSpot AttachOperation::arg_length_max */
#define ATTACH_NARGS    3

/* Frames a request into buf. NULL args are sent as empty strings.
 * Returns 0 with *len set, or -E2BIG / -EINVAL with err naming what is
 * too long or malformed (an empty command, or one holding a NUL). */
int attach_frame(const char *cmd, const char *const args[ATTACH_NARGS], char *buf, size_t cap,
                 size_t *len, char *err, size_t errcap);

/* Parses the "<code>\n" that starts a reply. Returns the bytes it
 * occupies (> 0) with *code set, 0 when buf holds no complete line yet,
 * or -EPROTO when it is not a decimal integer line. */
int attach_parse_status(const char *buf, size_t len, int *code);

/* Interprets a complete reply (status line included) to `load`:
 *   JDK 8:     "0\n<rc>\n"                  Agent_OnAttach returned rc
 *   JDK 9-20:  "0\nreturn code: <rc>\n"     same; a library that cannot be
 *              loaded gives "<non-zero>\n<path> was not loaded.\n<dlerror>\n"
 *   JDK 21+:   "0\nreturn code: <rc>\n", or status 0 followed by the
 *              error text ("... was not loaded.", "Agent_OnAttach is not
 *              available in ...", "Dynamic agent loading is not enabled...")
 * Returns 0 when the agent was loaded and returned 0 (*agent_rc = 0);
 * -EIO when Agent_OnAttach returned non-zero (*agent_rc holds it);
 * -ENOEXEC when the library was not loaded (err has the JVM's text);
 * -EPROTO when the reply is none of these. */
int attach_parse_load(const char *reply, size_t len, int *agent_rc, char *err, size_t errcap);

/* Where reply output goes. Return 0, or -errno to abort the request. */
typedef int (*attach_sink_fn)(void *arg, const char *data, size_t len);

/* A sink collecting output in memory up to max bytes (more is counted in
 * total but dropped, truncated set). Zero-initialise, set max. */
struct attach_buf {
    char *data; /* NUL-terminated, malloc'd; free with attach_buf_free */
    size_t len, cap, max;
    uint64_t total;
    bool truncated;
};
int attach_buf_sink(void *arg, const char *data, size_t len);
void attach_buf_free(struct attach_buf *b);

/* Connects to the JVM's attach listener, starting it when needed: the
 * socket is looked up and, if absent, .attach_pid<nspid> is created in the
 * JVM's cwd or /tmp (owned by the JVM's uid), SIGQUIT is sent once through
 * the pidfd, the socket is polled for with backoff (10 ms doubling to
 * 500 ms) and the trigger file removed. All of it runs in an nsexec child
 * inside the JVM's mount namespace as its uid/gid; every path is opened
 * symlink-free (rootfs.h) and the socket must be owned by the JVM's uid.
 * SIGQUIT is never sent when the JVM does not catch it or has attach
 * disabled, nor while it is stopped or an earlier SIGQUIT is pending
 * (jvm_sigquit_safe): -ENOTSUP at once, err naming the stopped state.
 * Concurrent connects to one process take turns, so however
 * many threads attach at once the JVM gets one SIGQUIT (a second would
 * print a thread dump on its stdout). Blocks until deadline_ms (CLOCK_MONOTONIC, units_now_mono_ms)
 * at most. Returns 0 with *sock set (caller closes), or:
 *   -ENOTSUP  attach disabled (-XX:+DisableAttachMechanism) or SIGQUIT unsafe
 *   -ETIMEDOUT no listener by the deadline (err says if the JVM is stopped)
 *   -ELOOP    a symbolic link at /tmp, .java_pid or .attach_pid (refused)
 *   -EPERM/-EACCES  credentials or ownership do not allow it
 *   -ESRCH    the JVM exited, before or during it: err then starts
 *             "target_exited: " (never a guess at another cause)
 * with err saying what happened. */
int attach_connect(struct jvm *j, uint64_t deadline_ms, int *sock, char *err, size_t errcap);

/* Makes the attach listener ready ahead of need, so that the capture that
 * needs it later does not wait for its start (the slow part of a first
 * attach: SIGQUIT, the JVM starting its Attach Listener thread). Connects
 * as attach_connect does, within timeout_ms, and closes the connection
 * without a request (HotSpot reads an incomplete request and drops it
 * silently). A listener already running is only connected to: no
 * SIGQUIT. Returns 1 when the listener was started now, 0 when it was
 * running already, or attach_connect's errors. Blocks. */
int attach_prewarm(struct jvm *j, uint64_t timeout_ms, char *err, size_t errcap);

/* Sends one request on a connected socket and streams the output after
 * the status line to sink. Blocks until deadline_ms at most. Returns 0
 * with *code = the JVM's status (0 = success; for jcmd the output is then
 * the error message), -ETIMEDOUT, -ECONNRESET when the JVM closed the
 * connection without a status line (it drops peers whose uid/gid differ;
 * it also closes it by exiting: only attach_execute can tell, it knows
 * the process), -EPROTO, a sink's error, or -errno; err says which. */
int attach_request(int sock, const char *cmd, const char *const args[ATTACH_NARGS],
                   uint64_t deadline_ms, attach_sink_fn sink, void *sink_arg, int *code, char *err,
                   size_t errcap);

/* attach_connect + attach_request + close, within timeout_ms overall.
 * Records the round trip with metrics_observe_attach (m may be NULL).
 * Errors as above; on -ETIMEDOUT err says whether the JVM is stopped. A
 * step that fails because the JVM exited under it (the connection closed
 * without a reply, a timeout, a refused socket) is -ESRCH with err
 * starting "target_exited: ", not the step's guess at a cause. */
int attach_execute(struct jvm *j, const char *cmd, const char *const args[ATTACH_NARGS],
                   uint64_t timeout_ms, attach_sink_fn sink, void *sink_arg, int *code,
                   struct metrics *m, char *err, size_t errcap);

/* jcmd <command_line>: attach_execute("jcmd", {command_line}). */
int attach_jcmd(struct jvm *j, const char *command_line, uint64_t timeout_ms, attach_sink_fn sink,
                void *sink_arg, int *code, struct metrics *m, char *err, size_t errcap);

/* The JDK version from VM.version output ("JDK 17.0.15" line), copied to
 * out. 0 or -ENOENT. */
int attach_jdk_version(const char *vm_version_output, char *out, size_t cap);

#endif
