/* sink_datakit: the two DataKit intakes, over libcurl.
 *
 * Profiling (FLAMESHOT_DATAKIT_ADDR verbatim, e.g.
 * http://datakit:9529/profiling/v1/input): POST multipart/form-data with
 * file parts, as Flameshot and DataKit's own async-profiler script send
 * them (research notes §1.7, §2.1); a JFR:
 *   name="main";  filename="main.jfr";   Content-Type: application/octet-stream
 *   name="event"; filename="event.json"; Content-Type: application/json
 * a Go profile: one part per attachment, name and filename both the
 * attachment's ("cpu.pprof", "goroutines.pprof", "delta-heap.pprof", ...),
 * then the event part.
 * The event part must be a *file* part: DataKit's Go parser files parts
 * without filename= under form values, where it does not look.
 *
 * Logging: scheme://host[:port] of FLAMESHOT_DATAKIT_ADDR +
 * /v1/write/logging?input=flameshot, body = line protocol with nanosecond
 * timestamps (no precision parameter: DataKit detects ns from magnitude,
 * Flameshot sends none either).
 *
 * Any 2xx is accepted. One instance is used by one thread at a time (the
 * outbox's delivery thread); it keeps one curl handle per intake so that
 * connections are reused. curl_global_init() is called by sink_datakit_new
 * (thread-safe in libcurl >= 7.84); the daemon may call it earlier. */
#ifndef FS_SINK_DATAKIT_H
#define FS_SINK_DATAKIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sink_datakit;

struct sink_datakit_opts {
    uint64_t connect_timeout_ms; /* 0: 10 s */
    uint64_t profile_timeout_ms; /* whole upload; 0: 10 min */
    uint64_t logging_timeout_ms; /* 0: 30 s (Flameshot uses 10 s) */
    uint64_t stall_timeout_ms;   /* abort below 1 KiB/s for this long; 0: 60 s */
    const atomic_bool *abort;    /* when it becomes true, an upload stops at once */
};

/* Outcome of one request. */
enum sink_verdict {
    SINK_ACCEPTED = 0, /* 2xx */
    SINK_SINK_DOWN,    /* transport error, 5xx, 408, 429: the intake, not the artefact */
    SINK_REJECTED,     /* any other status: about this artefact; retried on its own clock */
    SINK_ABORTED,      /* opts.abort was raised: not an attempt */
};

struct sink_result {
    enum sink_verdict verdict;
    long status;     /* HTTP status, 0 when there was no response */
    char error[256]; /* why, for logs and /v1/status ("HTTP 503: <body start>") */
};

/* profiling_url: FLAMESHOT_DATAKIT_ADDR. Returns 0, -EINVAL (not an
 * http(s) URL with a host) or -ENOMEM, with a reason in err. */
int sink_datakit_new(const char *profiling_url, const struct sink_datakit_opts *opts,
                     struct sink_datakit **out, char *err, size_t errcap);
void sink_datakit_free(struct sink_datakit *sk);

/* Derives the logging URL from a profiling URL into buf. 0 or -EINVAL. */
int sink_datakit_derive_logging_url(const char *profiling_url, char *buf, size_t cap);

/* One file of a profile's payload, uploaded as its own part. */
struct sink_file_part {
    const char *name, *filename; /* "main", "main.jfr"; "cpu.pprof" twice for Go */
    uint64_t offset, size;       /* where it lies in the payload */
};

/* Uploads the files of the payload at payload_path (each
 * application/octet-stream, streamed from the file: multipart.h) and
 * event_json as the file part event/event.json, in one POST with a
 * Content-Length. Blocks up to the timeouts. Returns 0 when accepted,
 * else -EAGAIN (see res->verdict) or -ECANCELED (aborted). */
int sink_datakit_send_profile(struct sink_datakit *sk, const char *payload_path,
                              const struct sink_file_part *files, size_t nfiles,
                              const char *event_json, struct sink_result *res);

/* Posts line-protocol text. Same returns. */
int sink_datakit_send_logging(struct sink_datakit *sk, const char *body, size_t len,
                              struct sink_result *res);

#endif
