/* datakit_receiver: a stand-in for DataKit's two intakes that is stricter
 * than DataKit itself, for the integration tests.
 *
 *   datakit_receiver --out DIR [--port N] [--port-file F] [--fail-first N]
 *                    [--fail-flag PATH] [--delay-ms N]
 *
 * POST /profiling/v1/input: multipart/form-data parsed by hand (not by
 *   libmicrohttpd's lenient post processor): the boundary from Content-Type,
 *   exactly two parts, each with exactly a Content-Disposition and a
 *   Content-Type header: name="main" filename="main.jfr"
 *   application/octet-stream whose body starts with JFR's magic "FLR\0", and
 *   name="event" filename="event.json" application/json holding exactly
 *   tags_profiler, start, end (RFC 3339 with fraction, start <= end),
 *   family "java", format "jfr"; tags_profiler "k:v" items with unique,
 *   space-free keys and non-empty values. The JFR is saved under DIR/jfr/.
 *   A Go profile instead (Flameshot's go_pprof upload): one part per
 *   attachment, name and filename equal and one of cpu.pprof,
 *   goroutines.pprof, delta-heap.pprof, delta-mutex.pprof,
 *   delta-block.pprof, each application/octet-stream and gzip'd, then
 *   event/event.json holding exactly attachments (the part names, in
 *   order), tags_profiler, start, end, family "go", format "pprof",
 *   profiler "pprof". The parts are saved under DIR/pprof/<seq>/.
 * POST /v1/write/logging?input=flameshot: InfluxDB line protocol, strict:
 *   only "\," "\=" "\ " escapes in names and tags, only "\"" "\\" in strings,
 *   typed fields (i, u, float, bool, string), 19-digit nanosecond timestamps,
 *   no duplicate keys, no key both tag and field.
 * Each accepted item is one JSON line in DIR/records.jsonl; each refusal one
 * line in DIR/rejects.jsonl (answered 400). --fail-first N answers 503 to
 * the first N requests, --fail-flag PATH answers 500 while PATH exists,
 * --delay-ms holds every answer. The port is reusable at once after a stop
 * (SIGTERM/SIGINT), so a test can stop and restart it on the same port. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (64u << 20)

struct server {
    const char *out;
    const char *fail_flag;
    long fail_first;
    long delay_ms;
    pthread_mutex_t mu;
    long requests;
    long seq;
};

struct req {
    char *body;
    size_t len;
    bool too_big;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- output ------------------------------------------------------------- */

static void append_line(struct server *s, const char *file, cJSON *rec)
{
    char path[4096];
    char *text = cJSON_PrintUnformatted(rec);
    snprintf(path, sizeof(path), "%s/%s", s->out, file);
    FILE *f = fopen(path, "a");
    if (f && text) {
        fprintf(f, "%s\n", text);
        fflush(f);
        fsync(fileno(f));
    }
    if (f)
        fclose(f);
    free(text);
}

static int answer(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    int rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- time --------------------------------------------------------------- */

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* YYYY-MM-DDTHH:MM:SS.fffffffff(Z|+hh:mm|-hh:mm) -> ns since the epoch. */
static int parse_rfc3339nano(const char *s, int64_t *ns)
{
    struct tm tm = {0};
    if (strlen(s) < 21 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2) || s[19] != '.')
        return -1;
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    tm.tm_sec = atoi(s + 17);
    const char *p = s + 20;
    int64_t frac = 0;
    int nd = 0;
    for (; isdigit((unsigned char)*p); p++, nd++)
        frac = frac * 10 + (*p - '0');
    if (nd < 1 || nd > 9)
        return -1;
    for (int i = nd; i < 9; i++)
        frac *= 10;
    int64_t off = 0;
    if (*p == 'Z' && !p[1]) {
        off = 0;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
               !p[6]) {
        off = (atoi(p + 1) * 3600 + atoi(p + 4) * 60) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    *ns = ((int64_t)timegm(&tm) - off) * 1000000000LL + frac;
    return 0;
}

/* ---- multipart ---------------------------------------------------------- */

struct part {
    char name[64], filename[128], type[128];
    const char *data;
    size_t len;
};

static const char *memfind(const char *h, size_t hl, const char *n, size_t nl)
{
    return nl <= hl ? memmem(h, hl, n, nl) : NULL;
}

/* boundary from "multipart/form-data; boundary=XYZ" (optionally quoted). */
static int get_boundary(const char *ct, char *b, size_t cap, char *why, size_t wcap)
{
    if (!ct || strncmp(ct, "multipart/form-data;", 20) != 0) {
        snprintf(why, wcap, "Content-Type is not multipart/form-data: %s", ct ? ct : "(none)");
        return -1;
    }
    const char *p = strstr(ct, "boundary=");
    if (!p) {
        snprintf(why, wcap, "no boundary in Content-Type");
        return -1;
    }
    p += 9;
    size_t n = *p == '"' ? strcspn(++p, "\"") : strcspn(p, "; ");
    if (n == 0 || n > 70 || n + 1 > cap) {
        snprintf(why, wcap, "bad boundary length %zu", n);
        return -1;
    }
    snprintf(b, cap, "%.*s", (int)n, p);
    return 0;
}

/* form-data; name="x"; filename="y" */
static int parse_disposition(const char *v, struct part *pt)
{
    if (sscanf(v, "form-data; name=\"%63[^\"]\"; filename=\"%127[^\"]\"", pt->name, pt->filename) !=
        2)
        return -1;
    char want[256];
    snprintf(want, sizeof(want), "form-data; name=\"%s\"; filename=\"%s\"", pt->name, pt->filename);
    return strcmp(v, want) == 0 ? 0 : -1;
}

/* Headers of one part: exactly Content-Disposition and Content-Type. */
static int parse_part_headers(const char *h, size_t len, struct part *pt, char *why, size_t wcap)
{
    int seen_cd = 0, seen_ct = 0;
    while (len > 0) {
        const char *eol = memfind(h, len, "\r\n", 2);
        if (!eol) {
            snprintf(why, wcap, "part header without CRLF");
            return -1;
        }
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(eol - h), h);
        if (strncasecmp(line, "Content-Disposition: ", 21) == 0 && !seen_cd++) {
            if (parse_disposition(line + 21, pt) < 0) {
                snprintf(why, wcap, "bad Content-Disposition: %s", line + 21);
                return -1;
            }
        } else if (strncasecmp(line, "Content-Type: ", 14) == 0 && !seen_ct++) {
            snprintf(pt->type, sizeof(pt->type), "%s", line + 14);
        } else {
            snprintf(why, wcap, "unexpected part header: %s", line);
            return -1;
        }
        len -= (size_t)(eol + 2 - h);
        h = eol + 2;
    }
    if (!seen_cd || !seen_ct) {
        snprintf(why, wcap, "a part lacks Content-Disposition or Content-Type");
        return -1;
    }
    return 0;
}

/* Splits body into parts. Returns the count or -1. */
static int split_parts(const char *body, size_t len, const char *boundary, struct part *parts,
                       int max, char *why, size_t wcap)
{
    char delim[96];
    int n = snprintf(delim, sizeof(delim), "--%s", boundary), count = 0;
    if (len < (size_t)n + 2 || memcmp(body, delim, (size_t)n) != 0 ||
        memcmp(body + n, "\r\n", 2) != 0) {
        snprintf(why, wcap, "body does not start with --boundary CRLF");
        return -1;
    }
    const char *p = body + n + 2, *end = body + len;
    snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    size_t dl = strlen(delim);
    for (;;) {
        const char *hend = memfind(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *next = hend ? memfind(hend + 4, (size_t)(end - hend - 4), delim, dl) : NULL;
        if (!next) {
            snprintf(why, wcap, "unterminated part %d", count + 1);
            return -1;
        }
        if (count == max) {
            snprintf(why, wcap, "more than %d parts", max);
            return -1;
        }
        memset(&parts[count], 0, sizeof(parts[count]));
        if (parse_part_headers(p, (size_t)(hend + 2 - p), &parts[count], why, wcap) < 0)
            return -1;
        parts[count].data = hend + 4;
        parts[count].len = (size_t)(next - hend - 4);
        count++;
        p = next + dl;
        if (end - p >= 2 && memcmp(p, "--", 2) == 0) {
            p += 2;
            if (!(end - p == 0 || (end - p == 2 && memcmp(p, "\r\n", 2) == 0))) {
                snprintf(why, wcap, "data after the closing boundary");
                return -1;
            }
            return count;
        }
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0) {
            snprintf(why, wcap, "boundary not followed by CRLF");
            return -1;
        }
        p += 2;
    }
}

/* tags_profiler -> object; strict "k:v" items. */
static cJSON *parse_tags_profiler(const char *tp, char *why, size_t wcap)
{
    cJSON *o = cJSON_CreateObject();
    char *copy = strdup(tp), *save = NULL;
    for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(it, ':');
        if (!colon || colon == it || !colon[1] || strcspn(it, " \t\n") < (size_t)(colon - it)) {
            snprintf(why, wcap, "bad tags_profiler item \"%s\"", it);
            goto bad;
        }
        *colon = '\0';
        if (strpbrk(colon + 1, "\n\r") || cJSON_GetObjectItemCaseSensitive(o, it)) {
            snprintf(why, wcap, "duplicate or multi-line tag \"%s\"", it);
            goto bad;
        }
        cJSON_AddStringToObject(o, it, colon + 1);
    }
    if (strstr(tp, ",,") || tp[0] == ',' || (tp[0] && tp[strlen(tp) - 1] == ',')) {
        snprintf(why, wcap, "empty tags_profiler item");
        goto bad;
    }
    free(copy);
    return o;
bad:
    free(copy);
    cJSON_Delete(o);
    return NULL;
}

static cJSON *check_event(const struct part *ev, int64_t *start, int64_t *end, char *why,
                          size_t wcap)
{
    char *text = strndup(ev->data, ev->len);
    cJSON *j = cJSON_Parse(text), *it;
    free(text);
    const char *need[] = {"tags_profiler", "start", "end", "family", "format"};
    if (!cJSON_IsObject(j) || cJSON_GetArraySize(j) != 5) {
        snprintf(why, wcap, "event.json is not an object of exactly 5 members");
        goto bad;
    }
    for (int i = 0; i < 5; i++) {
        it = cJSON_GetObjectItemCaseSensitive(j, need[i]);
        if (!cJSON_IsString(it)) {
            snprintf(why, wcap, "event.json: %s missing or not a string", need[i]);
            goto bad;
        }
    }
    if (strcmp(cJSON_GetObjectItem(j, "family")->valuestring, "java") ||
        strcmp(cJSON_GetObjectItem(j, "format")->valuestring, "jfr")) {
        snprintf(why, wcap, "event.json: family/format not java/jfr");
        goto bad;
    }
    if (parse_rfc3339nano(cJSON_GetObjectItem(j, "start")->valuestring, start) < 0 ||
        parse_rfc3339nano(cJSON_GetObjectItem(j, "end")->valuestring, end) < 0 || *start > *end) {
        snprintf(why, wcap, "event.json: start/end not RFC3339Nano or start > end");
        goto bad;
    }
    return j;
bad:
    cJSON_Delete(j);
    return NULL;
}

static int save_jfr(struct server *s, long seq, const struct part *p, char *path, size_t cap)
{
    snprintf(path, cap, "%s/jfr", s->out);
    mkdir(path, 0755);
    snprintf(path, cap, "%s/jfr/%06ld.jfr", s->out, seq);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t w = fwrite(p->data, 1, p->len, f);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    return w == p->len ? 0 : -1;
}

/* ---- a Go profile ---------------------------------------------------------- */

static const char *const go_names[] = {"cpu.pprof", "goroutines.pprof", "delta-heap.pprof",
                                       "delta-mutex.pprof", "delta-block.pprof"};

static int check_go_part(const struct part *p, char *why, size_t wcap)
{
    bool known = false;
    for (size_t i = 0; i < sizeof(go_names) / sizeof(go_names[0]); i++)
        known = known || !strcmp(p->name, go_names[i]);
    if (!known || strcmp(p->name, p->filename) || strcmp(p->type, "application/octet-stream")) {
        snprintf(why, wcap, "bad Go part %s/%s/%s", p->name, p->filename, p->type);
        return -1;
    }
    if (p->len < 2 || (unsigned char)p->data[0] != 0x1f || (unsigned char)p->data[1] != 0x8b) {
        snprintf(why, wcap, "%s is not gzip'd", p->name);
        return -1;
    }
    return 0;
}

static cJSON *check_go_event(const struct part *ev, const struct part *parts, int n, char *why,
                             size_t wcap)
{
    char *text = strndup(ev->data, ev->len);
    cJSON *j = cJSON_Parse(text);
    free(text);
    const char *str[] = {"tags_profiler", "start", "end", "family", "format", "profiler"};
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(j, "attachments");
    int64_t start, end;
    bool ok = cJSON_IsObject(j) && cJSON_GetArraySize(j) == 7 && cJSON_IsArray(att) &&
              cJSON_GetArraySize(att) == n - 1;
    for (int i = 0; ok && i < 6; i++)
        ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, str[i]));
    for (int i = 0, k = 0; ok && i < n; i++)
        if (strcmp(parts[i].name, "event"))
            ok = cJSON_IsString(cJSON_GetArrayItem(att, k)) &&
                 !strcmp(cJSON_GetArrayItem(att, k++)->valuestring, parts[i].name);
    ok = ok && !strcmp(cJSON_GetObjectItem(j, "family")->valuestring, "go") &&
         !strcmp(cJSON_GetObjectItem(j, "format")->valuestring, "pprof") &&
         !strcmp(cJSON_GetObjectItem(j, "profiler")->valuestring, "pprof") &&
         parse_rfc3339nano(cJSON_GetObjectItem(j, "start")->valuestring, &start) == 0 &&
         parse_rfc3339nano(cJSON_GetObjectItem(j, "end")->valuestring, &end) == 0 && start <= end;
    if (!ok) {
        snprintf(why, wcap,
                 "event.json is not Flameshot's Go event (7 members, attachments in "
                 "part order, family go, format pprof, profiler pprof)");
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int save_part(struct server *s, long seq, const struct part *p, char *path, size_t cap)
{
    snprintf(path, cap, "%s/pprof", s->out);
    mkdir(path, 0755);
    snprintf(path, cap, "%s/pprof/%06ld", s->out, seq);
    mkdir(path, 0755);
    snprintf(path, cap, "%s/pprof/%06ld/%s", s->out, seq, p->name);
    FILE *f = fopen(path, "w");
    size_t w = f ? fwrite(p->data, 1, p->len, f) : 0;
    if (f)
        fclose(f);
    return f && w == p->len ? 0 : -1;
}

static cJSON *handle_go(struct server *s, const struct part *parts, int n, long seq, char *why,
                        size_t wcap)
{
    const struct part *ev = &parts[n - 1];
    char path[4096];
    if (strcmp(ev->name, "event") || strcmp(ev->filename, "event.json") ||
        strcmp(ev->type, "application/json")) {
        snprintf(why, wcap, "the last part is not event/event.json application/json");
        return NULL;
    }
    for (int i = 0; i < n - 1; i++)
        for (int k = 0; k < i; k++)
            if (!strcmp(parts[i].name, parts[k].name)) {
                snprintf(why, wcap, "part %s twice", parts[i].name);
                return NULL;
            }
    for (int i = 0; i < n - 1; i++)
        if (check_go_part(&parts[i], why, wcap) < 0)
            return NULL;
    cJSON *event = check_go_event(ev, parts, n, why, wcap);
    cJSON *tags = event ? parse_tags_profiler(
                              cJSON_GetObjectItem(event, "tags_profiler")->valuestring, why, wcap)
                        : NULL;
    cJSON *rec = tags ? cJSON_CreateObject() : NULL, *att = cJSON_CreateArray();
    for (int i = 0; rec && i < n - 1; i++) {
        if (save_part(s, seq, &parts[i], path, sizeof(path)) < 0) {
            snprintf(why, wcap, "cannot save %s", parts[i].name);
            cJSON_Delete(rec);
            rec = NULL;
            break;
        }
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", parts[i].name);
        cJSON_AddStringToObject(a, "path", path);
        cJSON_AddNumberToObject(a, "size", (double)parts[i].len);
        cJSON_AddItemToArray(att, a);
    }
    if (!rec) {
        cJSON_Delete(event);
        cJSON_Delete(tags);
        cJSON_Delete(att);
        return NULL;
    }
    cJSON_AddStringToObject(rec, "kind", "profile");
    cJSON_AddItemToObject(rec, "event", event);
    cJSON_AddItemToObject(rec, "tags", tags);
    cJSON_AddItemToObject(rec, "attachments", att);
    return rec;
}

static cJSON *handle_profile(struct server *s, const char *ct, const struct req *r, long seq,
                             char *why, size_t wcap)
{
    char boundary[80], jfr[4096];
    struct part parts[8];
    int64_t start, end;
    if (get_boundary(ct, boundary, sizeof(boundary), why, wcap) < 0)
        return NULL;
    int n = split_parts(r->body, r->len, boundary, parts, 8, why, wcap);
    if (n < 0)
        return NULL;
    bool has_main = false;
    for (int i = 0; i < n; i++)
        has_main = has_main || !strcmp(parts[i].name, "main");
    if (!has_main)
        return handle_go(s, parts, n, seq, why, wcap);
    const struct part *main_p = NULL, *ev = NULL;
    for (int i = 0; i < n; i++) {
        if (!strcmp(parts[i].name, "main") && !main_p)
            main_p = &parts[i];
        else if (!strcmp(parts[i].name, "event") && !ev)
            ev = &parts[i];
    }
    if (n != 2 || !main_p || !ev) {
        snprintf(why, wcap, "want exactly the parts main and event, got %d parts", n);
        return NULL;
    }
    if (strcmp(main_p->filename, "main.jfr") || strcmp(main_p->type, "application/octet-stream") ||
        strcmp(ev->filename, "event.json") || strcmp(ev->type, "application/json")) {
        snprintf(why, wcap, "bad filename/type: main=%s %s event=%s %s", main_p->filename,
                 main_p->type, ev->filename, ev->type);
        return NULL;
    }
    if (main_p->len < 4 || memcmp(main_p->data, "FLR\0", 4) != 0) {
        snprintf(why, wcap, "main.jfr does not start with the JFR magic");
        return NULL;
    }
    cJSON *event = check_event(ev, &start, &end, why, wcap);
    cJSON *tags = event ? parse_tags_profiler(
                              cJSON_GetObjectItem(event, "tags_profiler")->valuestring, why, wcap)
                        : NULL;
    if (!tags || save_jfr(s, seq, main_p, jfr, sizeof(jfr)) < 0) {
        if (tags)
            snprintf(why, wcap, "cannot save the JFR");
        cJSON_Delete(event);
        cJSON_Delete(tags);
        return NULL;
    }
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "profile");
    cJSON_AddItemToObject(rec, "event", event);
    cJSON_AddItemToObject(rec, "tags", tags);
    cJSON_AddStringToObject(rec, "jfr_path", jfr);
    cJSON_AddNumberToObject(rec, "jfr_size", (double)main_p->len);
    cJSON_AddNumberToObject(rec, "duration_ms", (double)(end - start) / 1e6);
    return rec;
}

/* ---- line protocol ------------------------------------------------------ */

/* Reads a name (measurement, key or tag value) up to an unescaped char of
 * stops; allowed escapes: those in escapes. */
static int lp_name(const char **pp, const char *stops, const char *escapes, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;
    for (; *p && !strchr(stops, *p); p++) {
        if (*p == '\n')
            return -1;
        if (*p == '\\') {
            if (!p[1] || !strchr(escapes, p[1]))
                return -1;
            p++;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = *p;
    }
    out[n] = '\0';
    *pp = p;
    return n ? 0 : -1;
}

static int lp_string(const char **pp, char **out)
{
    const char *p = *pp + 1;
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    for (; *p && *p != '"'; p++) {
        if (*p == '\\') {
            if (p[1] != '"' && p[1] != '\\')
                goto bad;
            p++;
        }
        if (n + 2 >= cap)
            s = realloc(s, cap *= 2);
        s[n++] = *p;
    }
    if (*p != '"')
        goto bad;
    s[n] = '\0';
    *out = s;
    *pp = p + 1;
    return 0;
bad:
    free(s);
    return -1;
}

/* One field value; adds it to fields and its type to types. */
static int lp_value(const char **pp, const char *key, cJSON *fields, cJSON *types)
{
    const char *p = *pp;
    if (*p == '"') {
        char *s;
        if (lp_string(&p, &s) < 0)
            return -1;
        cJSON_AddStringToObject(fields, key, s);
        cJSON_AddStringToObject(types, key, "string");
        free(s);
        *pp = p;
        return 0;
    }
    size_t n = strcspn(p, ", \n");
    char tok[64];
    if (n == 0 || n >= sizeof(tok))
        return -1;
    snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
    *pp = p + n;
    const char *bools[] = {"t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"};
    for (int i = 0; i < 10; i++)
        if (!strcmp(tok, bools[i])) {
            cJSON_AddBoolToObject(fields, key, i < 5);
            cJSON_AddStringToObject(types, key, "bool");
            return 0;
        }
    char last = tok[n - 1], *end;
    if (last == 'i' || last == 'u') {
        tok[n - 1] = '\0';
        if (!tok[0] || (last == 'u' && tok[0] == '-') ||
            !digits(tok + (tok[0] == '-'), (int)strlen(tok + (tok[0] == '-'))))
            return -1;
        cJSON_AddRawToObject(fields, key, tok);
        cJSON_AddStringToObject(types, key, last == 'i' ? "int" : "uint");
        return 0;
    }
    double d = strtod(tok, &end);
    if (*end || !(isdigit((unsigned char)tok[0]) || tok[0] == '-'))
        return -1;
    cJSON_AddNumberToObject(fields, key, d);
    cJSON_AddStringToObject(types, key, "float");
    return 0;
}

static cJSON *lp_line(const char **pp, char *why, size_t wcap)
{
    const char *p = *pp;
    char name[2048], val[4096];
    cJSON *rec = cJSON_CreateObject(), *tags = cJSON_AddObjectToObject(rec, "tags");
    cJSON *fields = cJSON_AddObjectToObject(rec, "fields");
    cJSON *types = cJSON_AddObjectToObject(rec, "field_types");
    if (lp_name(&p, ", ", ", ", name, sizeof(name)) < 0)
        goto bad;
    cJSON_AddStringToObject(rec, "measurement", name);
    while (*p == ',') {
        p++;
        if (lp_name(&p, "=, ", ",= ", name, sizeof(name)) < 0 || *p++ != '=' ||
            lp_name(&p, "=, ", ",= ", val, sizeof(val)) < 0 || *p == '=' ||
            cJSON_GetObjectItemCaseSensitive(tags, name))
            goto bad;
        cJSON_AddStringToObject(tags, name, val);
    }
    if (*p++ != ' ')
        goto bad;
    do {
        if (lp_name(&p, "=, ", ",= ", name, sizeof(name)) < 0 || *p++ != '=' ||
            cJSON_GetObjectItemCaseSensitive(fields, name) ||
            cJSON_GetObjectItemCaseSensitive(tags, name) || lp_value(&p, name, fields, types) < 0)
            goto bad;
    } while (*p == ',' && p++);
    if (*p++ != ' ' || !digits(p, 19) || p[19] != '\n')
        goto bad;
    snprintf(val, 20, "%s", p);
    cJSON_AddStringToObject(rec, "ts", val);
    *pp = p + 20;
    return rec;
bad:
    snprintf(why, wcap, "line protocol error at byte %td: %.40s", p - *pp, p);
    cJSON_Delete(rec);
    return NULL;
}

static int handle_logging(struct server *s, struct MHD_Connection *c, const struct req *r,
                          char *why, size_t wcap)
{
    const char *input = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "input");
    if (!input || strcmp(input, "flameshot") != 0) {
        snprintf(why, wcap, "input=%s, want flameshot", input ? input : "(none)");
        return -1;
    }
    if (!r->len || r->body[r->len - 1] != '\n' || memchr(r->body, '\0', r->len)) {
        snprintf(why, wcap, "empty body, no final newline, or NUL");
        return -1;
    }
    cJSON *recs = cJSON_CreateArray();
    for (const char *p = r->body; *p;) {
        cJSON *rec = lp_line(&p, why, wcap);
        if (!rec) {
            cJSON_Delete(recs);
            return -1;
        }
        cJSON_AddStringToObject(rec, "kind", "log");
        cJSON_AddItemToArray(recs, rec);
    }
    cJSON *it;
    cJSON_ArrayForEach(it, recs) append_line(s, "records.jsonl", it);
    cJSON_Delete(recs);
    return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

static int should_fail(struct server *s, long *n)
{
    pthread_mutex_lock(&s->mu);
    *n = ++s->requests;
    pthread_mutex_unlock(&s->mu);
    if (*n <= s->fail_first)
        return 503;
    if (s->fail_flag && access(s->fail_flag, F_OK) == 0)
        return 500;
    return 0;
}

static void reject(struct server *s, const char *url, const char *why)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "url", url);
    cJSON_AddStringToObject(r, "why", why);
    append_line(s, "rejects.jsonl", r);
    cJSON_Delete(r);
    fprintf(stderr, "receiver: rejected %s: %s\n", url, why);
}

static enum MHD_Result finish_request(struct server *s, struct MHD_Connection *c, const char *url,
                                      struct req *r)
{
    char why[512] = "";
    long n, seq;
    if (s->delay_ms)
        usleep((useconds_t)s->delay_ms * 1000);
    int fail = should_fail(s, &n);
    if (fail)
        return answer(c, (unsigned)fail, "{\"error\":\"told to fail\"}");
    pthread_mutex_lock(&s->mu);
    seq = ++s->seq;
    pthread_mutex_unlock(&s->mu);
    if (r->too_big) {
        snprintf(why, sizeof(why), "body larger than %u bytes", MAX_BODY);
    } else if (!strcmp(url, "/profiling/v1/input")) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        cJSON *rec = handle_profile(s, ct, r, seq, why, sizeof(why));
        if (rec) {
            pthread_mutex_lock(&s->mu);
            append_line(s, "records.jsonl", rec);
            pthread_mutex_unlock(&s->mu);
            cJSON_Delete(rec);
            return answer(c, 200, "{\"content\":{\"ProfileID\":\"ok\"}}");
        }
    } else if (!strcmp(url, "/v1/write/logging")) {
        pthread_mutex_lock(&s->mu);
        int rc = handle_logging(s, c, r, why, sizeof(why));
        pthread_mutex_unlock(&s->mu);
        if (rc == 0)
            return answer(c, 200, "{}");
    } else {
        snprintf(why, sizeof(why), "unknown path");
    }
    reject(s, url, why);
    return answer(c, 400, why);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    (void)version;
    struct server *s = cls;
    struct req *r = *ctx;
    if (!r) {
        *ctx = calloc(1, sizeof(struct req));
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (strcmp(method, "POST") != 0)
        return answer(c, 405, "POST only");
    if (*size) {
        if (r->len + *size > MAX_BODY) {
            r->too_big = true;
        } else {
            r->body = realloc(r->body, r->len + *size + 1);
            memcpy(r->body + r->len, data, *size);
            r->len += *size;
            r->body[r->len] = '\0';
        }
        *size = 0;
        return MHD_YES;
    }
    if (!r->body)
        r->body = calloc(1, 1);
    return finish_request(s, c, url, r);
}

static void on_done(void *cls, struct MHD_Connection *c, void **ctx,
                    enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    struct req *r = *ctx;
    if (r)
        free(r->body);
    free(r);
    *ctx = NULL;
}

int main(int argc, char **argv)
{
    struct server s = {0};
    unsigned port = 0;
    const char *port_file = NULL;
    pthread_mutex_init(&s.mu, NULL);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out"))
            s.out = argv[i + 1];
        else if (!strcmp(argv[i], "--port"))
            port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--port-file"))
            port_file = argv[i + 1];
        else if (!strcmp(argv[i], "--fail-first"))
            s.fail_first = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--fail-flag"))
            s.fail_flag = argv[i + 1];
        else if (!strcmp(argv[i], "--delay-ms"))
            s.delay_ms = atol(argv[i + 1]);
    }
    if (!s.out) {
        fprintf(stderr,
                "usage: %s --out DIR [--port N] [--port-file F] [--fail-first N] "
                "[--fail-flag PATH] [--delay-ms N]\n",
                argv[0]);
        return 2;
    }
    mkdir(s.out, 0755);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                         (uint16_t)port, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_NOTIFY_COMPLETED,
                         on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "receiver: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        port = info->port;
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }
    printf("listening %u\n", port);
    fflush(stdout);
    while (!stop)
        usleep(50000);
    MHD_stop_daemon(d);
    return 0;
}
