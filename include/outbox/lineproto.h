/* lineproto: an encoder for the InfluxDB 1.x line protocol as DataKit's
 * /v1/write/<category> intake parses it (Guance's point library uses the
 * influxdb1-client `models` parser):
 *
 *   measurement[,tag=value...] field=value[,field=value...] timestamp_ns\n
 *
 * Escaping, exactly (research notes §2.2):
 *   - measurement: ',' and ' ' are backslash-escaped; '\t' becomes ' ' and
 *     '\' becomes '/', as below ('\n' and '\r' are refused);
 *   - tag keys, tag values, field keys: ',', '=' and ' ' are backslash-escaped;
 *     '\n', '\r' and '\t' become ' ' (a tag may never hold a newline: the
 *     line would end); '\' becomes '/', because influx 1.x cannot represent a
 *     backslash before a separator or at the end of a tag (it would escape the
 *     separator) and unescapes nothing but "\," "\=" "\ ";
 *   - string field values: '\' -> "\\", '"' -> "\""; newlines are kept raw
 *     (the parser allows them inside a quoted string);
 *   - empty tag values are dropped (influx rejects "k="), empty keys are an
 *     error; tag values are cut to DataKit's 1024-byte limit on a UTF-8
 *     character boundary, keys to 256 bytes.
 * Field types: int "42i", uint "42u", float (shortest text that reads back
 * to the same double; NaN/Inf are rejected), bool "true"/"false", string.
 *
 * Usage: lp_begin, any lp_tag, at least one lp_field_*, lp_end. The first
 * error of a line sticks: later calls do nothing, lp_end drops the partial
 * line, returns the error and clears it for the next line. Not
 * thread-safe per buffer; no global state. */
#ifndef FS_LINEPROTO_H
#define FS_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_MAX_TAG_VALUE 1024
#define LP_MAX_KEY       256

/* A growable text buffer holding one or more lines. */
struct lp_buf {
    char *data; /* NUL-terminated; owned; NULL until the first write */
    size_t len;
    size_t cap;
    int err;   /* first error (-ENOMEM, -EINVAL), sticky */
    int state; /* internal: 0 idle, 1 tags, 2 fields */
    size_t line_start;
};

/* Resets b to empty (keeps no memory). */
void lp_init(struct lp_buf *b);
void lp_free(struct lp_buf *b);

/* Starts a line. measurement must be non-empty and newline-free (else
 * -EINVAL sticks). */
void lp_begin(struct lp_buf *b, const char *measurement);

/* Adds a tag; must come before the first field. value NULL or "" is
 * skipped. */
void lp_tag(struct lp_buf *b, const char *key, const char *value);

void lp_field_str(struct lp_buf *b, const char *key, const char *value);
void lp_field_int(struct lp_buf *b, const char *key, int64_t v);
void lp_field_uint(struct lp_buf *b, const char *key, uint64_t v);
void lp_field_float(struct lp_buf *b, const char *key, double v);
void lp_field_bool(struct lp_buf *b, const char *key, bool v);

/* Ends the line with the timestamp in nanoseconds and '\n'. Returns 0, or
 * the sticky error (-EINVAL for a line without fields). On error the
 * partial line is removed so earlier complete lines stay valid. */
int lp_end(struct lp_buf *b, uint64_t ts_ns);

/* Escaping primitives (exposed for tests and for tags built elsewhere).
 * Each appends the escaped form of s to b. */
void lp_put_measurement(struct lp_buf *b, const char *s);
void lp_put_key(struct lp_buf *b, const char *s);
void lp_put_tag_value(struct lp_buf *b, const char *s);
void lp_put_string(struct lp_buf *b, const char *s);

#endif
