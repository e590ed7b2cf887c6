/* snapshot: Flameshot's high-watermark jcmd evidence — GC.class_histogram
 * and Thread.print — as files and summary records. This module only names,
 * previews and serialises; capture.h runs the commands, the outbox decides
 * where files and summaries finally go. Pure functions, thread-safe. */
#ifndef FS_SNAPSHOT_H
#define FS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum snapshot_type {
    SNAPSHOT_GC_CLASS_HISTOGRAM = 0,
    SNAPSHOT_THREAD_PRINT = 1,
};
#define SNAPSHOT_TYPES 2

#define SNAPSHOT_PREVIEW_MAX      4096
#define SNAPSHOT_FALLBACK_PREVIEW 2048 /* Flameshot: trimmed output cut at 2 KiB */

/* "gc_class_histogram" / "thread_print" (the snapshot_type field). */
const char *snapshot_type_name(enum snapshot_type t);
/* "GC.class_histogram" / "Thread.print" (the jcmd command). */
const char *snapshot_command(enum snapshot_type t);

/* jcmd_<type>_<pid>_<YYYYMMDD_HHMMSS>.txt, the time in the node's local
 * time zone as Flameshot names them. Returns 0 or -ENOSPC. */
int snapshot_file_name(enum snapshot_type t, int pid, time_t when, char *buf, size_t cap);

/* The preview of a command's output (with or without jcmd's "<pid>:"
 * first line), lines trimmed and joined with '\n':
 *   histogram: the header line ("num  #instances ...") and the top 6 rows;
 *   threads:   the first 12 lines that are a thread title ('"'-quoted) or
 *              a java.lang.Thread.State line;
 * when nothing matches, the trimmed output cut at 2048 bytes. Always
 * NUL-terminates buf (cut at cap - 1, never inside a UTF-8 sequence). */
void snapshot_preview(enum snapshot_type t, const char *out, size_t len, char *buf, size_t cap);

struct snapshot_summary {
    enum snapshot_type type;
    char file_name[128];        /* snapshot_file_name() */
    uint64_t output_size_bytes; /* bytes written to the caller's fd */
    char preview[SNAPSHOT_PREVIEW_MAX];
    int pid; /* the pid as the JVM sees it (Flameshot's sidecar view) */
    int host_pid;
    char process_name[32];
    uint64_t taken_at_ns; /* CLOCK_REALTIME when the snapshot started */
    uint64_t ended_ns;    /* CLOCK_REALTIME when its reply ended (0: never started) */
    int rc;               /* 0, or -errno when no output could be captured */
    int jvm_rc;           /* the JVM's status for the command (0 = success) */
    bool complete;        /* the whole reply arrived (false: cut, say by the kill) */
    char error[512];      /* why, when rc < 0, jvm_rc != 0 or !complete */
};

/* Whether a reply is whole. HotSpot ends Thread.print with its JNI
 * handles line ("JNI global refs: ..." since JDK 9, "JNI global
 * references: ..." in 8) and GC.class_histogram with its "Total" row.
 * Zero-initialise, feed the output as it arrives (a marker may straddle
 * two chunks); seen tells. */
struct snapshot_end {
    char carry[32];
    size_t n;
    bool seen;
};
void snapshot_end_feed(struct snapshot_end *e, enum snapshot_type t, const char *data, size_t len);

/* The summary record as one JSON object with exactly the fields
 * snapshot_type, output_path, output_size_bytes, preview, pid,
 * process_name and complete. output_path is where the caller stored the
 * file. Returns a malloc'd string (caller frees) or NULL on allocation
 * failure. */
char *snapshot_summary_json(const struct snapshot_summary *s, const char *output_path);

#endif
