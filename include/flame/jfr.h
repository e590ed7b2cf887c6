/* jfr: a streaming reader of JDK Flight Recorder files, as the JVM's own
 * recorder and async-profiler write them (format: JDK's
 * jdk.jfr.internal ChunkParser/MetadataReader). A file is a sequence of
 * chunks; each chunk's header points at its metadata event (the event
 * types and their fields) and at its newest checkpoint event; checkpoints
 * chain backwards and carry the constant pools (threads, stack traces,
 * methods, classes, packages, symbols), a pool possibly spread over
 * several checkpoints. Integers are LEB128-style compressed unless the
 * header says otherwise.
 *
 * The reader hands every stack sample of the kinds asked for to a
 * callback, chunk by chunk: memory is bounded by one chunk's metadata and
 * pools plus the caller's aggregation, never by the file's size. Every
 * size and count read from the file is checked against the bytes left
 * before anything is allocated for it.
 *
 * Frames are named as async-profiler's converter names them in collapsed
 * output (jfrconv -o collapsed): Java methods "package/Class.method"
 * (slashes; JFR_OPT_DOTTED gives dots), native frames by their symbol, the
 * allocated or locked class as the top frame of alloc and lock samples;
 * with JFR_OPT_ANNOTATE each frame's own type suffix (_[j] JIT, _[i]
 * inlined, _[k] kernel, _[0] interpreted ...) is added (jfrconv picks one
 * per merged frame). Weights are jfrconv's with --total for alloc, lock
 * and nativemem (bytes, ns; profiler.Free adds 0 and is not handed) and
 * its sample counts for cpu and wall (README "JFR reader"). Thread-safe on
 * distinct calls; blocks on the fd's reads only. */
#ifndef FS_JFR_H
#define FS_JFR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jfr_event {
    JFR_CPU,       /* jdk.ExecutionSample, jdk.NativeMethodSample (JFR's own profile) */
    JFR_WALL,      /* profiler.WallClockSample */
    JFR_ALLOC,     /* jdk.ObjectAllocationInNewTLAB/OutsideTLAB/Sample: bytes */
    JFR_LOCK,      /* jdk.JavaMonitorEnter, jdk.ThreadPark: nanoseconds */
    JFR_NATIVEMEM, /* profiler.Malloc (bytes); profiler.Free as jfrconv counts it */
    JFR_EVENT_N
};

/* "cpu", "wall", "alloc", "lock", "nativemem" */
const char *jfr_event_name(enum jfr_event ev);
/* The unit of a sample's weight: "samples", "bytes", "ns". */
const char *jfr_event_unit(enum jfr_event ev);
/* The event named s; -1 when none. */
int jfr_event_parse(const char *s);

struct jfr_frame {
    const char *name; /* NUL-terminated, valid during the callback only */
    uint8_t type;     /* JFR's FrameType (0 interpreted, 1 JIT, 2 inlined, 3 native, ...) */
};

struct jfr_sample {
    enum jfr_event ev;
    const char *type_name; /* "jdk.ExecutionSample" */
    int64_t ts_ns;         /* wall-clock ns since the epoch */
    uint64_t thread;       /* the JFR thread's id (OS tid when known) */
    const char *thread_name;
    uint64_t weight; /* 1 a sample (asprof's samples count), bytes, ns */
    size_t nframes;
    const struct jfr_frame *frames; /* leaf first */
    /* Samples with the same nonzero key have the same frames (names and
     * types), across reads in the process too (a key comes back only
     * after 2^24 chunks): a consumer may aggregate by it without hashing
     * the names. 0: no key, compare the frames. */
    uint64_t stack_key;
};

/* Nonzero stops the read; jfr_read_fd returns that value. */
typedef int (*jfr_sample_fn)(void *arg, const struct jfr_sample *s);

#define JFR_OPT_DOTTED   0x1u /* java.lang.Thread.run instead of java/lang/Thread.run */
#define JFR_OPT_ANNOTATE 0x2u /* keep frame-type suffixes */

struct jfr_opts {
    unsigned events;    /* mask of 1u << enum jfr_event; 0 = all */
    unsigned flags;     /* JFR_OPT_* */
    uint64_t max_bytes; /* read at most this much; 0 = the whole file */
};

struct jfr_stats {
    uint64_t chunks, events, samples; /* complete chunks read, events seen, samples handed */
    int64_t start_ns, end_ns;         /* the recording's span (first chunk start, last end) */
    bool truncated;                   /* the last chunk was cut: what it held is not read */
    char cut[160];                    /* why, when truncated ("chunk 3 at byte 81920: ...") */
};

/* Reads the JFR file on fd from its current offset to its end (or
 * o->max_bytes) and calls fn for each sample of the kinds o asks for (o may
 * be NULL). st (may be NULL) says what was read. A truncated last chunk is
 * not an error: what the complete chunks held is delivered and st says
 * what was cut. Returns 0; -EINVAL when the file is not JFR or a chunk is
 * malformed (err says where and why; the samples of earlier chunks, and
 * of the bad chunk up to the bad event, were delivered); -EFBIG when a
 * chunk's size exceeds the limits; -ENOMEM; -EIO (read); or fn's nonzero
 * return. */
int jfr_read_fd(int fd, const struct jfr_opts *o, jfr_sample_fn fn, void *arg, struct jfr_stats *st,
                char *err, size_t errcap);

/* The same on a file by path (-errno from open). */
int jfr_read_path(const char *path, const struct jfr_opts *o, jfr_sample_fn fn, void *arg,
                  struct jfr_stats *st, char *err, size_t errcap);

#endif
