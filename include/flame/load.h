/* load: one capture file into the renderers' models, the glue the CLI
 * (flameshotd flamegraph) and the HTTP /ui pages share. A file is a JFR
 * (it starts with the chunk magic "FLR\0") or collapsed text ("a;b;c N"
 * lines, flamegraph.pl's and async-profiler's collapsed output).
 *
 * Event: the caller's, or picked: cpu if the file has any, else the first
 * kind (in enum jfr_event order) with samples; the result says which and
 * whether it was picked. Time range: [from, to] in seconds since the
 * recording's start (the first chunk's start) or as RFC 3339 wall-clock
 * times; a sample is in when from <= ts <= to. Bounds: the stacks model
 * (and the heat map) hold at most max_bytes; past it the load stops with
 * -EFBIG, never with half a model handed out; past deadline_ms (monotonic,
 * units_now_mono_ms) it stops with -ETIMEDOUT. A truncated JFR is not an
 * error: what its complete chunks held is loaded and the result says what
 * was cut.
 *
 * Blocking: reads the file (up to twice: a first pass finds the event when
 * none is given and stops at the first cpu sample). Thread-safe on
 * distinct results. */
#ifndef FS_LOAD_H
#define FS_LOAD_H

#include "flame/heatmap.h"
#include "flame/jfr.h"
#include "flame/stacks.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_DEFAULT_MAX_BYTES (256u << 20)

/* One end of a time range, as given. */
struct load_time {
    bool set;
    bool absolute; /* RFC 3339: ns is since the epoch; else since the recording's start */
    int64_t ns;
};

struct load_opts {
    int event; /* enum jfr_event; -1: pick */
    struct load_time from, to;
    size_t max_bytes;     /* stacks (and heat map) budget; 0: LOAD_DEFAULT_MAX_BYTES */
    uint64_t deadline_ms; /* monotonic; 0: none */
    unsigned jfr_flags;   /* JFR_OPT_* */
    bool heatmap;         /* also fill a heat map (JFR only) */
};

struct load_result {
    struct stacks *stacks;   /* owned; NULL after a failure */
    struct heatmap *heatmap; /* owned; NULL unless asked for */
    enum jfr_event event;
    bool picked;            /* the event was chosen here, not by the caller */
    bool collapsed;         /* the file was collapsed text (no event, no times) */
    int64_t start_ns;       /* the recording's start; 0 for collapsed text */
    int64_t from_ns, to_ns; /* the range applied, wall clock; 0: open */
    uint64_t samples;       /* samples (collapsed: lines) loaded */
    struct jfr_stats st;    /* the reader's (truncated, cut) */
};

/* Parses one end of a range: seconds since the start ("12", "1.5") or RFC
 * 3339 ("2026-12-02T05:58:24Z", "...T05:58:24.5+01:00"). 0 or -EINVAL. */
int load_parse_time(const char *s, struct load_time *t);

/* The wall-clock ns of t for a recording that started at start_ns. */
int64_t load_time_ns(const struct load_time *t, int64_t start_ns);

/* The event to show given the samples per kind: cpu if any, else the first
 * kind with samples; -1 when there are none. */
int load_pick_event(const uint64_t counts[JFR_EVENT_N]);

/* Loads path into r (zeroed here). Returns 0; -EINVAL (not JFR nor
 * collapsed text, malformed, or a range/heat map asked of collapsed text,
 * or a range that ends before it starts); -ENODATA (no samples of the
 * event, or none at all); -EFBIG (over max_bytes); -ETIMEDOUT; -ENOMEM;
 * -errno (open, read). err says why, naming the file. */
int load_file(const char *path, const struct load_opts *o, struct load_result *r, char *err,
              size_t errcap);

void load_result_free(struct load_result *r);

#endif
