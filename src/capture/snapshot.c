#include "capture/snapshot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HISTOGRAM_ROWS 6
#define THREAD_LINES   12

static const char *const type_names[SNAPSHOT_TYPES] = {"gc_class_histogram", "thread_print"};
static const char *const commands[SNAPSHOT_TYPES] = {"GC.class_histogram", "Thread.print"};
static const char *const end_markers[SNAPSHOT_TYPES] = {"\nTotal ", "\nJNI global ref"};

const char *snapshot_type_name(enum snapshot_type t)
{
    return (unsigned)t < SNAPSHOT_TYPES ? type_names[t] : "unknown";
}

const char *snapshot_command(enum snapshot_type t)
{
    return (unsigned)t < SNAPSHOT_TYPES ? commands[t] : "";
}

int snapshot_file_name(enum snapshot_type t, int pid, time_t when, char *buf, size_t cap)
{
    struct tm tm;
    char ts[32];
    localtime_r(&when, &tm);
    strftime(ts, sizeof(ts), "%Y%m%d_%H%M%S", &tm);
    int n = snprintf(buf, cap, "jcmd_%s_%d_%s.txt", snapshot_type_name(t), pid, ts);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims [*s, *e) in place. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_space(**s))
        (*s)++;
    while (*e > *s && is_space((*e)[-1]))
        (*e)--;
}

/* Appends at most n bytes to buf at *pos without splitting a UTF-8
 * sequence; returns false once buf is full. */
static bool append(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    bool fits = *pos + n < cap;
    if (!fits) {
        n = cap - 1 - *pos;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* s[n] is the first byte left out: do not cut before a continuation */
    }
    memcpy(buf + *pos, s, n);
    *pos += n;
    buf[*pos] = '\0';
    return fits;
}

static bool histogram_row(const char *s, const char *e)
{
    const char *p = s;
    while (p < e && *p >= '0' && *p <= '9')
        p++;
    return p > s && p < e && *p == ':';
}

static bool wanted(enum snapshot_type t, const char *s, const char *e, bool *in_table)
{
    if (t == SNAPSHOT_GC_CLASS_HISTOGRAM) {
        if (!*in_table && e - s >= 3 && strncmp(s, "num", 3) == 0)
            return *in_table = true;
        return *in_table && histogram_row(s, e);
    }
    return (s < e && *s == '"') || memmem(s, (size_t)(e - s), "java.lang.Thread.State", 22);
}

static void fallback(const char *out, size_t len, char *buf, size_t cap)
{
    const char *s = out, *e = out + len;
    trim(&s, &e);
    size_t n = (size_t)(e - s), pos = 0;
    if (n > SNAPSHOT_FALLBACK_PREVIEW) {
        n = SNAPSHOT_FALLBACK_PREVIEW;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    buf[0] = '\0';
    append(buf, cap, &pos, s, n);
}

void snapshot_preview(enum snapshot_type t, const char *out, size_t len, char *buf, size_t cap)
{
    size_t pos = 0;
    int lines = 0, limit = t == SNAPSHOT_GC_CLASS_HISTOGRAM ? HISTOGRAM_ROWS + 1 : THREAD_LINES;
    bool in_table = false;
    if (cap == 0)
        return;
    buf[0] = '\0';
    for (const char *p = out, *end = out + len; p < end && lines < limit;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        trim(&s, &e);
        if (s == e || !wanted(t, s, e, &in_table))
            continue;
        if ((lines > 0 && !append(buf, cap, &pos, "\n", 1)) ||
            !append(buf, cap, &pos, s, (size_t)(e - s)))
            return;
        lines++;
    }
    if (lines == 0)
        fallback(out, len, buf, cap);
}

char *snapshot_summary_json(const struct snapshot_summary *s, const char *output_path)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "snapshot_type", snapshot_type_name(s->type));
    cJSON_AddStringToObject(o, "output_path", output_path ? output_path : s->file_name);
    cJSON_AddNumberToObject(o, "output_size_bytes", (double)s->output_size_bytes);
    cJSON_AddStringToObject(o, "preview", s->preview);
    cJSON_AddNumberToObject(o, "pid", s->pid);
    cJSON_AddStringToObject(o, "process_name", s->process_name);
    cJSON_AddBoolToObject(o, "complete", s->complete);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void snapshot_end_feed(struct snapshot_end *e, enum snapshot_type t, const char *data, size_t len)
{
    const char *mark = end_markers[t == SNAPSHOT_THREAD_PRINT];
    size_t mlen = strlen(mark), keep = mlen - 1;
    char seam[2 * sizeof(e->carry)];
    if (e->seen || len == 0)
        return;
    /* across the seam: what the previous chunks ended with, this one's start */
    size_t head = len < keep ? len : keep;
    memcpy(seam, e->carry, e->n);
    memcpy(seam + e->n, data, head);
    e->seen = memmem(seam, e->n + head, mark, mlen) || memmem(data, len, mark, mlen);
    /* the last keep bytes of everything so far */
    size_t total = e->n + len, from = total > keep ? total - keep : 0;
    if (from < e->n) {
        memmove(e->carry, e->carry + from, e->n - from);
        memcpy(e->carry + e->n - from, data, len);
    } else {
        memcpy(e->carry, data + (from - e->n), total - from);
    }
    e->n = total - from;
}
