/* watchparse: the incremental parser of a Kubernetes watch stream.
 *
 * The API server answers a watch with one JSON object per line:
 *   {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}
 * (the "JSON stream" framing of k8s.io/apimachinery's streaming decoder;
 * a chunked HTTP body whose chunks need not align with the lines). The
 * parser is fed whatever bytes a read returned: an event split across
 * reads, several events in one read, a last line without its newline at
 * EOF (watchparse_finish). Each complete line is parsed with cJSON and
 * handed to the callback.
 *
 * Lines are bounded (a Pod can be large, but not unbounded): a line longer
 * than max_line is reported as WATCH_INVALID once and skipped up to the
 * next newline, where parsing resumes. So is a line that is not JSON or not
 * a watch event; neither stops the stream: the caller decides (the watch
 * loop logs it once and, for an ERROR event with code 410 Gone, re-lists).
 *
 * Threads: one parser belongs to one thread (the watch thread). */
#ifndef FS_KUBE_WATCHPARSE_H
#define FS_KUBE_WATCHPARSE_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* What the API server's watch sends (metav1.WatchEvent), plus WATCH_INVALID
 * for a line that is none of them. */
enum watch_type {
    WATCH_ADDED = 0,
    WATCH_MODIFIED,
    WATCH_DELETED,
    WATCH_BOOKMARK,
    WATCH_ERROR,
    WATCH_INVALID,
};

/* "ADDED"... for logs; "INVALID" for WATCH_INVALID. */
const char *watch_type_name(enum watch_type t);

/* Default cap of one line: far above any Pod the API server accepts
 * (annotations are capped at 256 KiB, the whole object in etcd at 1.5 MiB),
 * so that only a broken stream reaches it. */
#define WATCH_MAX_LINE_DEFAULT (4u << 20)

/* One event, valid only during the callback (the parser owns everything it
 * points to). */
struct watch_event {
    enum watch_type type;
    /* the "object": a Pod for ADDED/MODIFIED/DELETED, a Pod carrying only
     * metadata.resourceVersion for BOOKMARK, a metav1.Status for ERROR.
     * NULL for WATCH_INVALID. */
    const struct cJSON *object;
    /* object.metadata.resourceVersion, or NULL */
    const char *resource_version;
    /* ERROR: the Status' code (410 = Gone: the resourceVersion is too old,
     * the caller must re-list), reason and message; 0 / NULL if absent. */
    int code;
    const char *reason;
    const char *message;
    /* WATCH_INVALID: why the line was rejected (static string) */
    const char *error;
    /* the 1-based number of the line in the stream (for logs) */
    uint64_t line;
};

/* Returns 0 to go on, anything else to stop: watchparse_feed returns that
 * value and drops the rest of what it was given (the caller abandons the
 * stream: after an ERROR event the API server closes it anyway). */
typedef int (*watch_cb)(const struct watch_event *ev, void *arg);

struct watchparse_stats {
    uint64_t events;   /* valid events handed over */
    uint64_t invalid;  /* WATCH_INVALID lines, long ones included */
    uint64_t too_long; /* lines over max_line */
    size_t buffered;   /* bytes of an incomplete line held now */
};

struct watchparse;

/* max_line: the largest line accepted (bytes, newline excluded; 0 means
 * WATCH_MAX_LINE_DEFAULT). cb is called for every line; arg is passed to
 * it. NULL on allocation failure. */
struct watchparse *watchparse_new(size_t max_line, watch_cb cb, void *arg);

/* Consumes len bytes of the stream. Returns 0, the callback's non-zero
 * value (then the parser is reset, as by watchparse_reset), or -ENOMEM
 * (the partial line is lost). Never blocks. */
int watchparse_feed(struct watchparse *p, const void *data, size_t len);

/* End of stream: parses a last line that had no newline (an over-long or
 * partial one is reported as WATCH_INVALID) and resets the parser for a
 * new stream. Returns like watchparse_feed. */
int watchparse_finish(struct watchparse *p);

/* Drops any partial line (a stream cut off mid-line: the next one starts
 * clean). The line count and stats are kept. */
void watchparse_reset(struct watchparse *p);

void watchparse_stats(const struct watchparse *p, struct watchparse_stats *out);

void watchparse_free(struct watchparse *p);

#endif
