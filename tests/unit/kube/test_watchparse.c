/* watchparse: the watch stream of tests/data/kube/watch-stream.jsonl (as an
 * API server writes it: ADDED, MODIFIED, BOOKMARK, DELETED, a 410 ERROR)
 * fed whole, byte by byte and in random chunkings; garbage, over-long
 * lines, a last line without newline, a large Pod. Every way of cutting the
 * same bytes must give the same events. */
#include "harness.h"
#include "kube_fixture.h"
#include "kube/watchparse.h"

#include <errno.h>

/* what the callback saw, as one comparable string */
struct seen {
    char log[8192];
    int events, invalid;
    int stop_on_error; /* return 1 from an ERROR event */
};

static const char *name_of(const cJSON *obj)
{
    const cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name");
    return cJSON_IsString(n) ? n->valuestring : "-";
}

static int collect(const struct watch_event *ev, void *arg)
{
    struct seen *s = arg;
    size_t at = strlen(s->log);
    if (ev->type == WATCH_INVALID) {
        s->invalid++;
        snprintf(s->log + at, sizeof(s->log) - at, "INVALID@%llu:%s;", (unsigned long long)ev->line,
                 ev->error);
        return 0;
    }
    s->events++;
    snprintf(s->log + at, sizeof(s->log) - at, "%s %s %s %d@%llu;", watch_type_name(ev->type),
             ev->resource_version ? ev->resource_version : "-", name_of(ev->object), ev->code,
             (unsigned long long)ev->line);
    return ev->type == WATCH_ERROR && s->stop_on_error ? 1 : 0;
}

static const char *const STREAM_EVENTS = "ADDED 4410721 shop-api-7d9c8b6f5d-x2x8k 0@1;"
                                         "ADDED 4410990 orders-db-0 0@2;"
                                         "MODIFIED 4412310 shop-api-7d9c8b6f5d-x2x8k 0@3;"
                                         "BOOKMARK 4413800 - 0@4;"
                                         "MODIFIED 4413700 shop-api-7d9c8b6f5d-x2x8k 0@5;"
                                         "DELETED 4413810 report-28877160-6vq4d 0@6;"
                                         "ERROR - - 410@7;";

/* Feeds data in the given chunk sizes (cycled), then finishes. */
static int feed_chunked(struct watchparse *p, const char *data, size_t len, const size_t *sizes,
                        size_t nsizes)
{
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = sizes[i % nsizes];
        if (n > len - off)
            n = len - off;
        int rc = watchparse_feed(p, data + off, n);
        if (rc)
            return rc;
        off += n;
    }
    return watchparse_finish(p);
}

TEST(whole_stream_in_one_read)
{
    size_t len;
    char *data = kf_read("watch-stream.jsonl", &len);
    CHECK(data);
    struct seen s = {0};
    struct watchparse *p = watchparse_new(0, collect, &s);
    CHECK(p);
    CHECK_EQ(watchparse_feed(p, data, len), 0);
    /* every line ended with its newline: nothing waits for finish */
    CHECK_STREQ(s.log, STREAM_EVENTS);
    CHECK_EQ(watchparse_finish(p), 0);
    CHECK_STREQ(s.log, STREAM_EVENTS);
    struct watchparse_stats st;
    watchparse_stats(p, &st);
    CHECK_EQ(st.events, 7);
    CHECK_EQ(st.invalid, 0);
    CHECK_EQ(st.buffered, 0);
    watchparse_free(p);
    free(data);
}

TEST(byte_by_byte)
{
    size_t len, one = 1;
    char *data = kf_read("watch-stream.jsonl", &len);
    CHECK(data);
    struct seen s = {0};
    struct watchparse *p = watchparse_new(0, collect, &s);
    CHECK_EQ(feed_chunked(p, data, len, &one, 1), 0);
    CHECK_STREQ(s.log, STREAM_EVENTS);
    watchparse_free(p);
    free(data);
}

/* xorshift: the same chunkings on every run */
static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

TEST(random_chunkings_give_the_same_events)
{
    size_t len;
    char *data = kf_read("watch-stream.jsonl", &len);
    CHECK(data);
    uint32_t seed = 20261201;
    for (int round = 0; round < 200; round++) {
        size_t sizes[64];
        /* small pieces in some rounds, whole events in others */
        uint32_t span = round % 2 ? 64 : 8192;
        for (size_t i = 0; i < 64; i++)
            sizes[i] = 1 + next_rand(&seed) % span;
        struct seen s = {0};
        struct watchparse *p = watchparse_new(0, collect, &s);
        CHECK_EQ(feed_chunked(p, data, len, sizes, 64), 0);
        CHECK_MSG(strcmp(s.log, STREAM_EVENTS) == 0, "round %d: %s", round, s.log);
        watchparse_free(p);
    }
    free(data);
}

TEST(several_events_in_one_read_each_delivered)
{
    const char *three = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
                        "\"resourceVersion\":\"1\"}}}\n"
                        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
                        "\"resourceVersion\":\"2\"}}}\n"
                        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
                        "\"resourceVersion\":\"3\"}}}\n{\"type\":\"ADD";
    struct seen s = {0};
    struct watchparse *p = watchparse_new(0, collect, &s);
    CHECK_EQ(watchparse_feed(p, three, strlen(three)), 0);
    CHECK_STREQ(s.log, "ADDED 1 a 0@1;MODIFIED 2 a 0@2;DELETED 3 a 0@3;");
    struct watchparse_stats st;
    watchparse_stats(p, &st);
    CHECK_EQ(st.buffered, strlen("{\"type\":\"ADD"));
    const char *rest = "ED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\n";
    CHECK_EQ(watchparse_feed(p, rest, strlen(rest)), 0);
    CHECK_CONTAINS(s.log, "ADDED - b 0@4;");
    watchparse_free(p);
}

TEST(last_line_without_newline_parsed_at_eof)
{
    size_t len;
    char *data = kf_read("watch-stream.jsonl", &len);
    CHECK(data && data[len - 1] == '\n');
    struct seen s = {0};
    struct watchparse *p = watchparse_new(0, collect, &s);
    CHECK_EQ(watchparse_feed(p, data, len - 1), 0);
    CHECK_EQ(s.events, 6); /* the ERROR line waits for its newline or EOF */
    CHECK_EQ(watchparse_finish(p), 0);
    CHECK_STREQ(s.log, STREAM_EVENTS);
    /* finish resets: a new stream starts clean */
    CHECK_EQ(watchparse_feed(p, data, 10), 0);
    watchparse_reset(p);
    CHECK_EQ(watchparse_feed(p, data, len), 0);
    CHECK_EQ(s.events, 14);
    CHECK_EQ(s.invalid, 0);
    watchparse_free(p);
    free(data);
}

TEST(gone_error_carries_410_and_stops_the_stream)
{
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                       "version: 4410000 (4413600)\",\"reason\":\"Expired\",\"code\":410}}\n"
                       "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"late\"}}}\n";
    struct seen s = {.stop_on_error = 1};
    struct watchparse *p = watchparse_new(0, collect, &s);
    CHECK_EQ(watchparse_feed(p, gone, strlen(gone)), 1);
    CHECK_STREQ(s.log, "ERROR - - 410@1;");
    /* what followed the ERROR was dropped with the stream */
    struct watchparse_stats st;
    watchparse_stats(p, &st);
    CHECK_EQ(st.buffered, 0);
    CHECK_EQ(watchparse_finish(p), 0);
    CHECK_EQ(s.events, 1);
    watchparse_free(p);
}

static int check_status(const struct watch_event *ev, void *arg)
{
    int *ok = arg;
    *ok = ev->type == WATCH_ERROR && ev->code == 410 && ev->reason &&
          strcmp(ev->reason, "Expired") == 0 && ev->message &&
          strstr(ev->message, "too old resource version");
    return 0;
}

TEST(error_event_fields_from_the_status)
{
    size_t len;
    char *data = kf_read("watch-stream.jsonl", &len);
    CHECK(data);
    const char *last = data + len - 1;
    while (last > data && last[-1] != '\n')
        last--;
    int ok = 0;
    struct watchparse *p = watchparse_new(0, check_status, &ok);
    CHECK_EQ(watchparse_feed(p, last, (size_t)(data + len - last)), 0);
    CHECK(ok);
    watchparse_free(p);
    free(data);
}

/* {"type":"ADDED","object":{"metadata":{"name":"xxx..."}}} of exactly n bytes */
static char *event_of_len(size_t n)
{
    const char *head = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"";
    const char *tail = "\"}}}";
    char *s = malloc(n + 2);
    size_t h = strlen(head), t = strlen(tail);
    memcpy(s, head, h);
    memset(s + h, 'x', n - h - t);
    memcpy(s + n - t, tail, t);
    s[n] = '\n';
    s[n + 1] = '\0';
    return s;
}

TEST(over_long_line_reported_once_and_skipped_to_its_newline)
{
    struct seen s = {0};
    struct watchparse *p = watchparse_new(1024, collect, &s);
    char *fits = event_of_len(1024), *over = event_of_len(1025), *huge = event_of_len(5000);
    CHECK_EQ(watchparse_feed(p, fits, strlen(fits)), 0);
    CHECK_EQ(s.events, 1);
    CHECK_EQ(watchparse_feed(p, over, strlen(over)), 0);
    /* the huge one in small pieces: reported once, not per piece */
    size_t sizes[] = {7, 100, 333};
    for (size_t off = 0, i = 0, n; off < strlen(huge); off += n, i++) {
        n = sizes[i % 3] < strlen(huge) - off ? sizes[i % 3] : strlen(huge) - off;
        CHECK_EQ(watchparse_feed(p, huge + off, n), 0);
    }
    CHECK_EQ(watchparse_feed(p, fits, strlen(fits)), 0);
    CHECK_EQ(s.events, 2);
    CHECK_EQ(s.invalid, 2);
    CHECK_CONTAINS(s.log, "INVALID@2:line too long;INVALID@3:line too long;ADDED - x");
    CHECK_CONTAINS(s.log, " 0@4;");
    struct watchparse_stats st;
    watchparse_stats(p, &st);
    CHECK_EQ(st.too_long, 2);
    CHECK_EQ(st.buffered, 0);
    /* over-long at EOF, without newline: reported, then a clean stream */
    huge[strlen(huge) - 1] = '\0';
    CHECK_EQ(watchparse_feed(p, huge, strlen(huge)), 0);
    CHECK_EQ(watchparse_finish(p), 0);
    CHECK_EQ(s.invalid, 3);
    CHECK_EQ(watchparse_feed(p, fits, strlen(fits)), 0);
    CHECK_EQ(s.events, 3);
    free(fits);
    free(over);
    free(huge);
    watchparse_free(p);
}

static int stop_on_invalid(const struct watch_event *ev, void *arg)
{
    collect(ev, arg);
    return ev->type == WATCH_INVALID ? 2 : 0;
}

/* a caller that stops abandons the stream: the next bytes are a new one,
 * not the rest of the line that was being skipped */
TEST(stopping_on_an_over_long_line_resets)
{
    struct seen s = {0};
    struct watchparse *p = watchparse_new(1024, stop_on_invalid, &s);
    char *huge = event_of_len(5000), *fits = event_of_len(1000);
    CHECK_EQ(watchparse_feed(p, huge, 2000), 2);
    CHECK_EQ(watchparse_feed(p, fits, strlen(fits)), 0);
    CHECK_EQ(s.invalid, 1);
    CHECK_EQ(s.events, 1);
    free(huge);
    free(fits);
    watchparse_free(p);
}

TEST(garbage_lines_reported_and_the_stream_goes_on)
{
    const char *g = "not json at all\n"
                    "{}\n"
                    "\n"
                    "{\"type\":\"SNAPSHOT\",\"object\":{}}\n"
                    "{\"type\":\"ADDED\"}\n"
                    "[1,2,3]\r\n"
                    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\r\n"
                    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"na\n"
                    "{\"type\":7,\"object\":{}}\n";
    struct seen s = {0};
    struct watchparse *p = watchparse_new(0, collect, &s);
    CHECK_EQ(watchparse_feed(p, g, strlen(g)), 0);
    CHECK_STREQ(s.log, "INVALID@1:not JSON;INVALID@2:no \"type\";"
                       "INVALID@4:unknown \"type\";INVALID@5:no \"object\";"
                       "INVALID@6:not a JSON object;ADDED - ok 0@7;INVALID@8:not JSON;"
                       "INVALID@9:no \"type\";");
    watchparse_free(p);
}

/* a 146 KB Pod (managedFields, a big env) through the parser in 1000-byte
 * reads: one event, and the buffer it needed is released afterwards */
TEST(large_pod_event_in_pieces)
{
    size_t len;
    char *pod = kf_read("pod-large-fields.json", &len);
    CHECK(pod && len > 100000);
    while (len && pod[len - 1] == '\n')
        len--;
    const char *head = "{\"type\":\"ADDED\",\"object\":";
    size_t n = strlen(head) + len + 2;
    char *ev = malloc(n + 1);
    snprintf(ev, n + 1, "%s%.*s}\n", head, (int)len, pod);
    struct seen s = {0};
    struct watchparse *p = watchparse_new(0, collect, &s);
    size_t thousand = 1000;
    CHECK_EQ(feed_chunked(p, ev, n, &thousand, 1), 0);
    CHECK_STREQ(s.log, "ADDED 4413555 legacy-batch-5f7d8c9b4-qq7lz 0@1;");
    struct watchparse_stats st;
    watchparse_stats(p, &st);
    CHECK_EQ(st.buffered, 0);
    watchparse_free(p);
    free(ev);
    free(pod);
}

TEST(type_names)
{
    CHECK_STREQ(watch_type_name(WATCH_BOOKMARK), "BOOKMARK");
    CHECK_STREQ(watch_type_name(WATCH_INVALID), "INVALID");
    CHECK_STREQ(watch_type_name((enum watch_type)99), "INVALID");
}

TEST_MAIN(whole_stream_in_one_read, byte_by_byte, random_chunkings_give_the_same_events,
          several_events_in_one_read_each_delivered, last_line_without_newline_parsed_at_eof,
          gone_error_carries_410_and_stops_the_stream, error_event_fields_from_the_status,
          over_long_line_reported_once_and_skipped_to_its_newline,
          stopping_on_an_over_long_line_resets, garbage_lines_reported_and_the_stream_goes_on,
          large_pod_event_in_pieces, type_names)
