/* snapshot: file names, previews of real JDK 17 output (tests/data/jcmd,
 * captured with the JDK's jcmd from the Burner fixture) and the summary
 * JSON's exact field names. */
#include "core/fsutil.h"
#include "harness.h"
#include "capture/snapshot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>

static char *fixture(const char *name, size_t *len)
{
    char path[256], *s = NULL;
    snprintf(path, sizeof(path), "tests/data/jcmd/%s", name);
    if (fsutil_read_all(path, 1 << 22, &s, len) < 0)
        return NULL;
    return s;
}

static int count_lines(const char *s)
{
    int n = *s ? 1 : 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

TEST(names_and_commands)
{
    CHECK_STREQ(snapshot_type_name(SNAPSHOT_GC_CLASS_HISTOGRAM), "gc_class_histogram");
    CHECK_STREQ(snapshot_type_name(SNAPSHOT_THREAD_PRINT), "thread_print");
    CHECK_STREQ(snapshot_command(SNAPSHOT_GC_CLASS_HISTOGRAM), "GC.class_histogram");
    CHECK_STREQ(snapshot_command(SNAPSHOT_THREAD_PRINT), "Thread.print");
}

TEST(file_names_in_local_time)
{
    setenv("TZ", "CST-8", 1); /* POSIX form: UTC+8, no tzdata needed */
    tzset();
    char buf[128];
    /* 2026-05-07T02:36:59Z is 10:36:59 in UTC+8 */
    CHECK_EQ(snapshot_file_name(SNAPSHOT_GC_CLASS_HISTOGRAM, 42, 1778121419, buf, sizeof(buf)), 0);
    CHECK_STREQ(buf, "jcmd_gc_class_histogram_42_20260507_103659.txt");
    CHECK_EQ(snapshot_file_name(SNAPSHOT_THREAD_PRINT, 7, 1778121419, buf, sizeof(buf)), 0);
    CHECK_STREQ(buf, "jcmd_thread_print_7_20260507_103659.txt");
    CHECK_EQ(snapshot_file_name(SNAPSHOT_THREAD_PRINT, 7, 1778121419, buf, 10), -ENOSPC);
    unsetenv("TZ");
    tzset();
}

TEST(histogram_preview_header_and_top_six)
{
    size_t len;
    char *out = fixture("gc_class_histogram_jdk17.txt", &len);
    CHECK_MSG(out != NULL, "in-repo fixture missing (run from the repository root)");
    char p[SNAPSHOT_PREVIEW_MAX];
    snapshot_preview(SNAPSHOT_GC_CLASS_HISTOGRAM, out, len, p, sizeof(p));
    free(out);
    CHECK_EQ(count_lines(p), 7);
    CHECK(strncmp(p, "num     #instances         #bytes  class name (module)\n", 55) == 0);
    CHECK_CONTAINS(p, "\n1:          7471       11152928  [B (java.base@17.0.15)\n");
    CHECK_CONTAINS(p, "\n6:          1058          33856  java.util.concurrent."
                      "ConcurrentHashMap$Node (java.base@17.0.15)");
    CHECK(strstr(p, "7:") == NULL);
    CHECK(strstr(p, "----") == NULL);
    CHECK(strstr(p, "9202:") == NULL); /* jcmd's "<pid>:" line is not a row */
}

TEST(thread_preview_titles_and_states)
{
    size_t len;
    char *out = fixture("thread_print_jdk17.txt", &len);
    CHECK_MSG(out != NULL, "in-repo fixture missing (run from the repository root)");
    char p[SNAPSHOT_PREVIEW_MAX];
    snapshot_preview(SNAPSHOT_THREAD_PRINT, out, len, p, sizeof(p));
    free(out);
    CHECK_EQ(count_lines(p), 12);
    CHECK(strncmp(p, "\"main\" #1 prio=5", 16) == 0);
    CHECK_CONTAINS(p, "\njava.lang.Thread.State: WAITING (parking)\n\"Reference Handler\"");
    CHECK_CONTAINS(p, "\"Signal Dispatcher\"");
    CHECK(strstr(p, "at java.") == NULL);
    CHECK(strstr(p, "Full thread dump") == NULL);
}

TEST(preview_fallback_is_trimmed_and_capped)
{
    char p[SNAPSHOT_PREVIEW_MAX];
    const char *err = "  \njava.lang.IllegalArgumentException: Unknown diagnostic command\n\n";
    snapshot_preview(SNAPSHOT_THREAD_PRINT, err, strlen(err), p, sizeof(p));
    CHECK_STREQ(p, "java.lang.IllegalArgumentException: Unknown diagnostic command");
    char big[5000];
    memset(big, 'x', sizeof(big));
    snapshot_preview(SNAPSHOT_GC_CLASS_HISTOGRAM, big, sizeof(big), p, sizeof(p));
    CHECK_EQ(strlen(p), SNAPSHOT_FALLBACK_PREVIEW);
    /* never a partial UTF-8 sequence: "é" is 2 bytes, cap leaves room for 4 */
    const char *utf = "\"th\xc3\xa9\xc3\xa9\" #1";
    char small[8];
    snapshot_preview(SNAPSHOT_THREAD_PRINT, utf, strlen(utf), small, sizeof(small));
    CHECK_STREQ(small, "\"th\xc3\xa9\xc3\xa9");
    char tiny[6];
    snapshot_preview(SNAPSHOT_THREAD_PRINT, utf, strlen(utf), tiny, sizeof(tiny));
    CHECK_STREQ(tiny, "\"th\xc3\xa9");
    char cut[5];
    snapshot_preview(SNAPSHOT_THREAD_PRINT, utf, strlen(utf), cut, sizeof(cut));
    CHECK_STREQ(cut, "\"th");
    snapshot_preview(SNAPSHOT_THREAD_PRINT, "", 0, p, sizeof(p));
    CHECK_STREQ(p, "");
}

TEST(summary_json_exact_fields)
{
    struct snapshot_summary s = {.type = SNAPSHOT_THREAD_PRINT,
                                 .output_size_bytes = 12345,
                                 .pid = 7,
                                 .host_pid = 4242,
                                 .complete = false};
    snprintf(s.preview, sizeof(s.preview), "\"main\" #1\njava.lang.Thread.State: RUNNABLE");
    snprintf(s.process_name, sizeof(s.process_name), "java");
    char *j = snapshot_summary_json(&s, "/data/jcmd_thread_print_7_20260507_103659.txt");
    CHECK(j != NULL);
    cJSON *o = cJSON_Parse(j);
    free(j);
    CHECK(o != NULL);
    int fields = cJSON_GetArraySize(o);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "snapshot_type"));
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "output_path"));
    const char *prev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "preview"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "process_name"));
    double size = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "output_size_bytes"));
    double pid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "pid"));
    int ok = fields == 7 && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "complete")) &&
             type && strcmp(type, "thread_print") == 0 && path &&
             strcmp(path, "/data/jcmd_thread_print_7_20260507_103659.txt") == 0 && prev &&
             strcmp(prev, s.preview) == 0 && name && strcmp(name, "java") == 0 && size == 12345 &&
             pid == 7;
    cJSON_Delete(o);
    CHECK(ok);
}

/* Feeds text in chunks of n bytes; whether the end was seen. */
static bool end_seen(enum snapshot_type t, const char *text, size_t n)
{
    struct snapshot_end e = {0};
    for (size_t off = 0, len = strlen(text); off < len; off += n)
        snapshot_end_feed(&e, t, text + off, len - off < n ? len - off : n);
    return e.seen;
}

TEST(end_of_a_whole_reply_is_seen_in_any_chunking)
{
    static const char threads17[] =
        "4242:\n2026-05-07 10:36:59\nFull thread dump OpenJDK 64-Bit Server VM:\n\n"
        "\"main\" #1 prio=5\n   java.lang.Thread.State: TIMED_WAITING (sleeping)\n\n"
        "JNI global refs: 15, weak refs: 0\n\n";
    static const char threads8[] = "1:\n\"main\" #1\n\nJNI global references: 6\n";
    static const char histo[] = "7:\n num     #instances         #bytes  class name\n"
                                "   1:           300      314572800  [B\n"
                                "Total          1234      314600000\n";
    for (size_t n = 1; n <= sizeof(threads17); n++) {
        CHECK_MSG(end_seen(SNAPSHOT_THREAD_PRINT, threads17, n), "chunks of %zu", n);
        CHECK_MSG(end_seen(SNAPSHOT_THREAD_PRINT, threads8, n), "chunks of %zu", n);
        CHECK_MSG(end_seen(SNAPSHOT_GC_CLASS_HISTOGRAM, histo, n), "chunks of %zu", n);
    }
    /* cut before the last line: not whole, in any chunking */
    char cut[sizeof(threads17)];
    snprintf(cut, sizeof(cut), "%.*s", (int)(strstr(threads17, "JNI") - threads17 + 8), threads17);
    char hcut[sizeof(histo)];
    snprintf(hcut, sizeof(hcut), "%.*s", (int)(strstr(histo, "Total") - histo), histo);
    for (size_t n = 1; n <= sizeof(threads17); n++) {
        CHECK(!end_seen(SNAPSHOT_THREAD_PRINT, cut, n));
        CHECK(!end_seen(SNAPSHOT_GC_CLASS_HISTOGRAM, hcut, n));
        /* each type's marker only */
        CHECK(!end_seen(SNAPSHOT_GC_CLASS_HISTOGRAM, threads17, n));
        CHECK(!end_seen(SNAPSHOT_THREAD_PRINT, histo, n));
    }
}

TEST_MAIN(names_and_commands, end_of_a_whole_reply_is_seen_in_any_chunking,
          file_names_in_local_time, histogram_preview_header_and_top_six,
          thread_preview_titles_and_states, preview_fallback_is_trimmed_and_capped,
          summary_json_exact_fields)
