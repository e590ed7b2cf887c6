#include "core/rules.h"

#include "core/httpurl.h"
#include "core/json.h"
#include "core/rx.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Flameshot's own defaults (its process monitor): a profile lasts 60s, an
 * emergency profile 15s. */
#define DEFAULT_DURATION_MS           60000
#define DEFAULT_EMERGENCY_DURATION_MS 15000
#define MAX_PROFILE_MS                (10 * 60 * 1000)
#define MIN_PROFILE_MS                1000
#define MIN_COOLDOWN_MS               1000
#define MAX_COOLDOWN_MS               (24ull * 3600 * 1000)
/* Flameshot's pprof request timeout: at least the profile's length + 15 s */
#define PPROF_SLACK_MS       15000
#define MAX_PPROF_TIMEOUT_MS (3600ull * 1000)

/* The default standalone rule: argv[0] is a `java` launcher, by path or not */
#define DEFAULT_COMMAND "^(\\S*/)?java(\\s|$)"

static const char *const known_fields[] = {
    "service",
    "language",
    "command",
    "duration",
    "events",
    "cpu_usage_percent",
    "mem_usage_percent",
    "mem_usage_mb",
    "mem_usage_percent_emergency",
    "mem_usage_mb_emergency",
    "emergency_duration",
    "tags",
    "jdk_version",
    "container",
    "cooldown",
    "pprof_url",
    "pprof_types",
    "pprof_timeout",
    "heap_dump_on_memory_emergency",
};
#define N_KNOWN_FIELDS (sizeof(known_fields) / sizeof(known_fields[0]))

/* Flameshot's indexed form FLAMESHOT_PROCESSES_<i>_<SUFFIX>: the suffix is
 * the field in capitals, in known_fields' order. */
#define INDEXED_PREFIX "FLAMESHOT_PROCESSES_"
static const char *const indexed_suffixes[] = {
    "SERVICE",
    "LANGUAGE",
    "COMMAND",
    "DURATION",
    "EVENTS",
    "CPU_USAGE_PERCENT",
    "MEM_USAGE_PERCENT",
    "MEM_USAGE_MB",
    "MEM_USAGE_PERCENT_EMERGENCY",
    "MEM_USAGE_MB_EMERGENCY",
    "EMERGENCY_DURATION",
    "TAGS",
    "JDK_VERSION",
    "CONTAINER",
    "COOLDOWN",
    "PPROF_URL",
    "PPROF_TYPES",
    "PPROF_TIMEOUT",
    "HEAP_DUMP_ON_MEMORY_EMERGENCY",
};
_Static_assert(sizeof(indexed_suffixes) == sizeof(known_fields), "one suffix per field");

static const struct {
    const char *name;
    unsigned bit;
} event_names[] = {
    {"cpu", PROF_EV_CPU},
    {"alloc", PROF_EV_ALLOC},
    {"lock", PROF_EV_LOCK},
    {"wall", PROF_EV_WALL},
    {"itimer", PROF_EV_ITIMER},
    {"cache-misses", PROF_EV_CACHE_MISSES},
    {"cs", PROF_EV_CS},
    {"context-switches", PROF_EV_CS}, /* Flameshot's zh docs spell it so */
    {"nativemem", PROF_EV_NATIVEMEM},
    {"all", PROF_EV_ALL},
};
#define N_EVENT_NAMES (sizeof(event_names) / sizeof(event_names[0]))

int rules_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *rules_closest(const char *name, const char *const *names, size_t n)
{
    const char *best = NULL;
    int best_d = 4;
    for (size_t i = 0; i < n; i++) {
        int d = rules_edit_distance(name, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

static int fail(struct rule_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct rule_error *err, const char *path, const char *fmt, ...)
{
    snprintf(err->path, sizeof(err->path), "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Looks one word of a list up: its bit, or -EINVAL. */
typedef int (*word_fn)(const char *w, size_t len, unsigned *bit);

/* "a, b,c": the OR of each word's bit. -EINVAL with the word in bad. */
static int words_mask(const char *s, word_fn fn, unsigned *mask, char *bad, size_t badcap)
{
    unsigned m = 0;
    if (bad && badcap)
        bad[0] = '\0';
    for (const char *p = s; p && *p;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, ",");
        const char *next = p[len] ? p + len + 1 : NULL;
        while (len && strchr(" \t", p[len - 1]))
            len--;
        unsigned bit = 0;
        if (fn(p, len, &bit) < 0) {
            if (bad && badcap)
                snprintf(bad, badcap, "%.*s", (int)len, p);
            return -EINVAL;
        }
        m |= bit;
        p = next;
    }
    *mask = m;
    return 0;
}

static int event_word(const char *w, size_t len, unsigned *bit)
{
    for (size_t i = 0; i < N_EVENT_NAMES; i++)
        if (strlen(event_names[i].name) == len && strncmp(w, event_names[i].name, len) == 0) {
            *bit = event_names[i].bit;
            return 0;
        }
    return -EINVAL;
}

int prof_events_parse(const char *s, unsigned *mask, const char **why, char *bad, size_t badcap)
{
    unsigned m = 0;
    if (words_mask(s, event_word, &m, bad, badcap) < 0) {
        *why = "unknown event (known: cpu, alloc, lock, wall, itimer, cache-misses, cs, "
               "nativemem, all)";
        return -EINVAL;
    }
    if (!m) {
        *why = "no event given";
        return -EINVAL;
    }
    *mask = m;
    return 0;
}

char *prof_events_format(unsigned mask, char *buf, size_t cap)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_EVENT_NAMES; i++) {
        if (!(mask & event_names[i].bit) || strcmp(event_names[i].name, "context-switches") == 0)
            continue;
        pos += (size_t)snprintf(buf + pos, cap > pos ? cap - pos : 0, "%s%s", pos ? "," : "",
                                event_names[i].name);
    }
    return buf;
}

static int compile_regex(struct rule *r, const char *path, struct rule_error *err)
{
    char why[400];
    r->re = rx_compile(r->command, false, why, sizeof(why));
    return r->re ? 0 : fail(err, path, "%s", why);
}

static int get_string(const cJSON *item, const char *path, char **out, struct rule_error *err)
{
    if (!cJSON_IsString(item))
        return fail(err, path, "must be a string");
    *out = strdup(item->valuestring);
    return *out ? 0 : -ENOMEM;
}

static int get_duration(const cJSON *item, const char *path, uint64_t min_ms, uint64_t max_ms,
                        uint64_t *out, struct rule_error *err)
{
    if (!cJSON_IsString(item))
        return fail(err, path, "must be a duration string such as \"30s\" or \"1m30s\"");
    const char *why;
    if (units_parse_duration(item->valuestring, out, &why) < 0)
        return fail(err, path, "\"%s\" is not a duration: %s", item->valuestring, why);
    if (*out < min_ms) {
        char b[32];
        return fail(err, path, "%s is too short (minimum %s)", item->valuestring,
                    units_format_duration(min_ms, b, sizeof(b)));
    }
    if (*out > max_ms) {
        char b[32];
        return fail(err, path, "%s is too long (maximum %s)", item->valuestring,
                    units_format_duration(max_ms, b, sizeof(b)));
    }
    return 0;
}

static int get_number(const cJSON *item, const char *path, double max, double *out,
                      struct rule_error *err)
{
    if (!cJSON_IsNumber(item))
        return fail(err, path, "must be a number");
    if (!isfinite(item->valuedouble) || item->valuedouble < 0)
        return fail(err, path, "must not be negative (0 disables this threshold)");
    if (max > 0 && item->valuedouble > max)
        return fail(err, path, "%g is above %g: a memory percentage cannot exceed 100",
                    item->valuedouble, max);
    *out = item->valuedouble;
    return 0;
}

/* Flameshot compares languages trimmed and in any case. */
static int parse_language(const cJSON *item, const char *path, struct rule *r,
                          struct rule_error *err)
{
    if (!cJSON_IsString(item))
        return fail(err, path, "must be a string: java or go");
    char lang[32];
    const char *v = item->valuestring + strspn(item->valuestring, " \t");
    snprintf(lang, sizeof(lang), "%s", v);
    for (size_t n = strlen(lang); n && strchr(" \t", lang[n - 1]); n--)
        lang[n - 1] = '\0';
    if (strcasecmp(lang, "java") == 0) {
        r->language = RULE_LANG_JAVA;
        return 0;
    }
    if (strcasecmp(lang, "go") == 0 || strcasecmp(lang, "golang") == 0) {
        r->language = RULE_LANG_GO;
        r->events = 0; /* its events, if any, are pprof types */
        return 0;
    }
    if (strcasecmp(lang, "python") == 0)
        return fail(err, path,
                    "language \"python\" is not supported in this version: Flameshot profiles "
                    "Python with py-spy, which no package available to this agent ships");
    return fail(err, path, "unsupported language \"%s\": java or go", item->valuestring);
}

static int parse_pprof_types(const cJSON *item, const char *path, unsigned *mask,
                             struct rule_error *err);

/* A set of names as one "a,b" string or an array of such strings. */
static int parse_mask_item(const cJSON *item, const char *path,
                           int (*parse)(const char *, unsigned *, const char **, char *, size_t),
                           const char *shape, const char *what, unsigned *mask,
                           struct rule_error *err)
{
    const char *why;
    char bad[64];
    if (cJSON_IsString(item)) {
        if (parse(item->valuestring, mask, &why, bad, sizeof(bad)) < 0)
            return fail(err, path, "\"%s\": %s", bad[0] ? bad : item->valuestring, why);
        return 0;
    }
    if (!cJSON_IsArray(item))
        return fail(err, path, "must be %s", shape);
    unsigned all = 0;
    int i = 0;
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s[%d]", path, i);
        unsigned m;
        if (!cJSON_IsString(e))
            return fail(err, p, "must be a string");
        if (parse(e->valuestring, &m, &why, bad, sizeof(bad)) < 0)
            return fail(err, p, "\"%s\": %s", bad[0] ? bad : e->valuestring, why);
        all |= m;
    }
    if (!all)
        return fail(err, path, "empty list of %s", what);
    *mask = all;
    return 0;
}

static int parse_events(const cJSON *item, const char *path, struct rule *r, struct rule_error *err)
{
    /* a go rule's events name pprof types when pprof_types is not given */
    if (r->language == RULE_LANG_GO)
        return parse_pprof_types(item, path, &r->events, err);
    return parse_mask_item(item, path, prof_events_parse,
                           "a string such as \"cpu,alloc\" or an array of strings", "events",
                           &r->events, err);
}

static int parse_tags(const cJSON *item, const char *path, struct rule *r, struct rule_error *err)
{
    if (!cJSON_IsArray(item))
        return fail(err, path, "must be an array of \"key:value\" strings");
    int i = 0;
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        char p[160], *k, *v;
        const char *why;
        snprintf(p, sizeof(p), "%s[%d]", path, i);
        if (!cJSON_IsString(e))
            return fail(err, p, "must be a \"key:value\" string");
        if (tags_parse_item(e->valuestring, &k, &v, &why) < 0)
            return fail(err, p, "\"%s\": %s", e->valuestring, why);
        int rc = tags_set(&r->tags, k, v);
        free(k);
        free(v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_jdk_version(const cJSON *item, const char *path, struct rule *r,
                             struct rule_error *err)
{
    if (cJSON_IsNumber(item)) {
        char b[32];
        if (item->valuedouble < 0)
            return fail(err, path, "must not be negative");
        snprintf(b, sizeof(b), "%g", item->valuedouble);
        r->jdk_version = strdup(b);
        return r->jdk_version ? 0 : -ENOMEM;
    }
    if (!cJSON_IsString(item))
        return fail(err, path, "must be a string such as \"17\"");
    r->jdk_version = strdup(item->valuestring);
    return r->jdk_version ? 0 : -ENOMEM;
}

/* ---- language go ------------------------------------------------------- */

static const char *const pprof_type_names[RULE_PPROF_N] = {"cpu", "goroutine", "heap", "mutex",
                                                           "block"};

const char *rule_pprof_type_name(int i)
{
    return i >= 0 && i < RULE_PPROF_N ? pprof_type_names[i] : "";
}

static int pprof_word(const char *w, size_t len, unsigned *bit)
{
    if (len == 0)
        return 0; /* Flameshot skips empty items */
    if ((len == 3 && !strncasecmp(w, "all", 3)) || (len == 5 && !strncasecmp(w, "--all", 5))) {
        *bit = RULE_PPROF_ALL;
        return 0;
    }
    if (len == 10 && !strncasecmp(w, "goroutines", 10)) {
        *bit = RULE_PPROF_GOROUTINE;
        return 0;
    }
    for (int i = 0; i < RULE_PPROF_N; i++)
        if (strlen(pprof_type_names[i]) == len && !strncasecmp(w, pprof_type_names[i], len)) {
            *bit = 1u << i;
            return 0;
        }
    return -EINVAL;
}

int rule_pprof_types_parse(const char *s, unsigned *mask, const char **why, char *bad,
                           size_t badcap)
{
    unsigned m = 0;
    if (words_mask(s, pprof_word, &m, bad, badcap) < 0) {
        *why = "unknown pprof type (known: cpu, goroutine, heap, mutex, block, all)";
        return -EINVAL;
    }
    if (!m) {
        *why = "no pprof type given";
        return -EINVAL;
    }
    *mask = m;
    return 0;
}

char *rule_pprof_types_format(unsigned mask, char *buf, size_t cap)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = 0; i < RULE_PPROF_N; i++)
        if (mask & (1u << i))
            pos += (size_t)snprintf(buf + pos, cap > pos ? cap - pos : 0, "%s%s", pos ? "," : "",
                                    pprof_type_names[i]);
    return buf;
}

/* Flameshot's pprof_types is a list of strings; "cpu,heap" is taken too. */
static int parse_pprof_types(const cJSON *item, const char *path, unsigned *mask,
                             struct rule_error *err)
{
    return parse_mask_item(item, path, rule_pprof_types_parse,
                           "a list of pprof types such as [\"cpu\", \"heap\"]", "pprof types", mask,
                           err);
}

static int parse_go_field(const cJSON *f, const char *path, struct rule *r, struct rule_error *err)
{
    const char *k = f->string;
    if (strcmp(k, "language") == 0)
        return 0; /* read first, by parse_rule: events depends on it */
    if (r->language != RULE_LANG_GO)
        return fail(err, path, "applies to language go only (this rule's language is java)");
    if (strcmp(k, "pprof_url") == 0)
        return get_string(f, path, &r->pprof_url, err);
    if (strcmp(k, "pprof_types") == 0)
        return parse_pprof_types(f, path, &r->pprof_types, err);
    if (strcmp(k, "pprof_timeout") == 0)
        return get_duration(f, path, MIN_PROFILE_MS, MAX_PPROF_TIMEOUT_MS, &r->pprof_timeout_ms,
                            err);
    return fail(err, path,
                "unknown field \"%s\" (known for go: pprof_url, pprof_types, "
                "pprof_timeout)",
                k);
}

/* After every field: the URL it needs and the types it pulls. */
static int finish_go(struct rule *r, const char *base, struct rule_error *err)
{
    char path[160];
    struct httpurl u;
    const char *why;
    if (r->language != RULE_LANG_GO)
        return 0;
    snprintf(path, sizeof(path), "%s.pprof_url", base);
    if (!r->pprof_url)
        return fail(err, path,
                    "missing: a go rule needs the address its pprof handlers listen on inside "
                    "the Pod, e.g. \"http://127.0.0.1:6060\"");
    if (httpurl_parse(r->pprof_url, &u, &why) < 0)
        return fail(err, path, "\"%s\": %s", r->pprof_url, why);
    if (!r->pprof_types)
        r->pprof_types = r->events ? r->events : RULE_PPROF_CPU;
    r->events = 0; /* a go rule's events were pprof types */
    return 0;
}

uint64_t rule_pprof_timeout(const struct rule *r, uint64_t duration_ms)
{
    uint64_t floor = duration_ms + PPROF_SLACK_MS;
    return r->pprof_timeout_ms > floor ? r->pprof_timeout_ms : floor;
}

static int parse_heap_dump(const cJSON *item, const char *path, struct rule *r,
                           struct rule_error *err)
{
    if (!cJSON_IsBool(item))
        return fail(err, path, "must be true or false");
    r->heap_dump = cJSON_IsTrue(item) ? RULE_HEAP_DUMP_ON : RULE_HEAP_DUMP_OFF;
    return 0;
}

bool rule_heap_dump_allowed(const struct rule *r, bool enabled)
{
    return enabled && r && r->heap_dump != RULE_HEAP_DUMP_OFF;
}

static int parse_field(const cJSON *f, const char *path, const struct rule_limits *lim,
                       struct rule *r, struct rule_error *err)
{
    const char *k = f->string;
    if (strcmp(k, "service") == 0)
        return get_string(f, path, &r->service, err);
    if (strcmp(k, "command") == 0)
        return get_string(f, path, &r->command, err);
    if (strcmp(k, "duration") == 0)
        return get_duration(f, path, MIN_PROFILE_MS, MAX_PROFILE_MS, &r->duration_ms, err);
    if (strcmp(k, "emergency_duration") == 0)
        return get_duration(f, path, MIN_PROFILE_MS, MAX_PROFILE_MS, &r->emergency_duration_ms,
                            err);
    if (strcmp(k, "cooldown") == 0)
        return get_duration(f, path, lim && lim->short_intervals ? 1 : MIN_COOLDOWN_MS,
                            MAX_COOLDOWN_MS, &r->cooldown_ms, err);
    if (strcmp(k, "events") == 0)
        return parse_events(f, path, r, err);
    if (strcmp(k, "cpu_usage_percent") == 0)
        return get_number(f, path, 0, &r->cpu_usage_percent, err);
    if (strcmp(k, "mem_usage_percent") == 0)
        return get_number(f, path, 100, &r->mem_usage_percent, err);
    if (strcmp(k, "mem_usage_mb") == 0)
        return get_number(f, path, 0, &r->mem_usage_mb, err);
    if (strcmp(k, "mem_usage_percent_emergency") == 0)
        return get_number(f, path, 100, &r->mem_usage_percent_emergency, err);
    if (strcmp(k, "mem_usage_mb_emergency") == 0)
        return get_number(f, path, 0, &r->mem_usage_mb_emergency, err);
    if (strcmp(k, "tags") == 0)
        return parse_tags(f, path, r, err);
    if (strcmp(k, "jdk_version") == 0)
        return parse_jdk_version(f, path, r, err);
    if (strcmp(k, "container") == 0)
        return get_string(f, path, &r->container, err);
    if (strcmp(k, "language") == 0 || strncmp(k, "pprof_", 6) == 0)
        return parse_go_field(f, path, r, err);
    if (strcmp(k, "heap_dump_on_memory_emergency") == 0)
        return parse_heap_dump(f, path, r, err);
    const char *near = rules_closest(k, known_fields, N_KNOWN_FIELDS);
    if (near)
        return fail(err, path, "unknown field \"%s\" (did you mean \"%s\"?)", k, near);
    return fail(err, path, "unknown field \"%s\"", k);
}

static void rule_init(struct rule *r, int index)
{
    memset(r, 0, sizeof(*r));
    r->index = index;
    r->language = RULE_LANG_JAVA;
    r->duration_ms = DEFAULT_DURATION_MS;
    r->emergency_duration_ms = DEFAULT_EMERGENCY_DURATION_MS;
    r->events = PROF_EV_DEFAULT;
}

static void rule_clear(struct rule *r)
{
    free(r->service);
    free(r->command);
    free(r->jdk_version);
    free(r->container);
    free(r->pprof_url);
    tags_free(&r->tags);
    rx_free(r->re);
    memset(r, 0, sizeof(*r));
}

static int apply_service_override(struct rule *r, const struct rule_limits *lim)
{
    if (!lim || !lim->service_override || !*lim->service_override)
        return 0;
    free(r->service);
    r->service = strdup(lim->service_override);
    return r->service ? 0 : -ENOMEM;
}

static int parse_rule(const cJSON *obj, int index, const struct rule_limits *lim, struct rule *r,
                      struct rule_error *err)
{
    char base[64], path[160];
    snprintf(base, sizeof(base), "FLAMESHOT_PROCESSES[%d]", index);
    rule_init(r, index);
    if (!cJSON_IsObject(obj))
        return fail(err, base, "must be an object");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(obj, "language");
    snprintf(path, sizeof(path), "%s.language", base);
    if (lang && parse_language(lang, path, r, err) < 0)
        return -EINVAL;
    for (const cJSON *f = obj->child; f; f = f->next) {
        snprintf(path, sizeof(path), "%s.%s", base, f->string);
        for (const cJSON *g = obj->child; g != f; g = g->next)
            if (strcmp(g->string, f->string) == 0)
                return fail(err, path, "duplicate field \"%s\"", f->string);
        int rc = parse_field(f, path, lim, r, err);
        if (rc < 0)
            return rc;
    }
    snprintf(path, sizeof(path), "%s.command", base);
    if (!r->command)
        return fail(err, path, "missing: every rule needs a command regex");
    if (!*r->command)
        return fail(err, path, "empty regex would match every process");
    int rc = compile_regex(r, path, err);
    if (rc < 0)
        return rc;
    if (r->container && !*r->container) {
        snprintf(path, sizeof(path), "%s.container", base);
        return fail(err, path, "must not be empty (omit it to match any container)");
    }
    rc = finish_go(r, base, err);
    return rc < 0 ? rc : apply_service_override(r, lim);
}

static size_t json_offset(const char *json, const char *end)
{
    return end && end >= json ? (size_t)(end - json) : 0;
}

int rules_parse(const char *json, const struct rule_limits *lim, struct rule_set *set,
                struct rule_error *err)
{
    memset(set, 0, sizeof(*set));
    memset(err, 0, sizeof(*err));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root)
        return fail(err, "FLAMESHOT_PROCESSES", "malformed JSON at offset %zu (near \"%.16s\")",
                    json_offset(json, end), end ? end : "");
    int rc = 0;
    if (!cJSON_IsArray(root)) {
        rc = fail(err, "FLAMESHOT_PROCESSES", "must be a JSON array of rules");
        goto out;
    }
    int n = cJSON_GetArraySize(root);
    if (n == 0) {
        rc = fail(err, "FLAMESHOT_PROCESSES",
                  "empty array: give at least one rule, or unset the variable for the default");
        goto out;
    }
    set->items = calloc((size_t)n, sizeof(*set->items));
    if (!set->items) {
        rc = -ENOMEM;
        goto out;
    }
    int i = 0;
    for (const cJSON *obj = root->child; obj; obj = obj->next, i++) {
        set->n = (size_t)i + 1;
        rc = parse_rule(obj, i, lim, &set->items[i], err);
        if (rc < 0)
            break;
    }
out:
    cJSON_Delete(root);
    if (rc < 0)
        rules_free(set);
    return rc;
}

int rules_indexed_split(const char *name, int *index, const char **suffix)
{
    size_t pl = strlen(INDEXED_PREFIX);
    if (strncmp(name, INDEXED_PREFIX, pl) != 0)
        return 0;
    const char *p = name + pl, *d = p;
    long i = 0;
    while (*p >= '0' && *p <= '9' && i < 1000000)
        i = i * 10 + (*p++ - '0');
    /* Flameshot formats the index with %d: "01" is never read */
    if (p == d || *p != '_' || !p[1] || (*d == '0' && p - d > 1) || i >= 1000000)
        return 0;
    *index = (int)i;
    *suffix = p + 1;
    return 1;
}

const char *rules_indexed_field(const char *suffix, const char **near)
{
    for (size_t f = 0; f < N_KNOWN_FIELDS; f++)
        if (strcmp(suffix, indexed_suffixes[f]) == 0)
            return known_fields[f];
    if (near)
        *near = rules_closest(suffix, indexed_suffixes, N_KNOWN_FIELDS);
    return NULL;
}

static const char *indexed_get(rules_getenv_fn get, void *arg, int i, size_t f)
{
    char name[96];
    snprintf(name, sizeof(name), INDEXED_PREFIX "%d_%s", i, indexed_suffixes[f]);
    const char *v = get(name, arg);
    return v && *v ? v : NULL; /* empty is unset, as in Flameshot */
}

/* A threshold: a plain decimal number, nothing Go's Atoi or our JSON would
 * not take (no "80%", no "0x50", no spaces). */
static int indexed_number(const char *v, const char *path, cJSON **out, struct rule_error *err)
{
    char *end;
    if (strspn(v, "0123456789.-") != strlen(v))
        return fail(err, path, "\"%s\" is not a number", v);
    double d = strtod(v, &end);
    if (end == v || *end)
        return fail(err, path, "\"%s\" is not a number", v);
    *out = cJSON_CreateNumber(d);
    return *out ? 0 : -ENOMEM;
}

/* A switch: the words units_parse_bool takes (Flameshot reads true, yes,
 * on and 1 as true and anything else as false; a typo is an error here). */
static int indexed_bool(const char *v, const char *path, cJSON **out, struct rule_error *err)
{
    bool b;
    if (units_parse_bool(v, &b) < 0)
        return fail(err, path, "\"%s\" is not a boolean (true/false, 1/0, yes/no, on/off)", v);
    *out = cJSON_CreateBool(b);
    return *out ? 0 : -ENOMEM;
}

/* A variable's text as the JSON its field takes: thresholds are numbers,
 * TAGS a JSON array (as Flameshot reads it), the rest strings. */
static int indexed_value(size_t f, const char *v, const char *path, cJSON **out,
                         struct rule_error *err)
{
    const char *field = known_fields[f];
    if (strcmp(field, "tags") == 0) {
        *out = cJSON_Parse(v);
        return *out
                   ? 0
                   : fail(err, path, "\"%s\" is not JSON: give an array such as [\"env:prod\"]", v);
    }
    if (strncmp(field, "cpu_", 4) == 0 || strncmp(field, "mem_", 4) == 0)
        return indexed_number(v, path, out, err);
    if (strcmp(field, "pprof_types") == 0 && v[strspn(v, " ")] == '[') {
        *out = cJSON_Parse(v); /* Flameshot takes a JSON list or "cpu,heap" */
        return *out ? 0 : fail(err, path, "\"%s\" is not a JSON list of pprof types", v);
    }
    if (strcmp(field, "heap_dump_on_memory_emergency") == 0)
        return indexed_bool(v, path, out, err);
    *out = cJSON_CreateString(v);
    return *out ? 0 : -ENOMEM;
}

/* Rule i as the object FLAMESHOT_PROCESSES[i] would be, then parsed the
 * same way: one validation for both forms. */
static int indexed_rule(rules_getenv_fn get, void *arg, int i, const struct rule_limits *lim,
                        struct rule *r, struct rule_error *err)
{
    cJSON *obj = cJSON_CreateObject();
    int rc = obj ? 0 : -ENOMEM;
    for (size_t f = 0; rc == 0 && f < N_KNOWN_FIELDS; f++) {
        const char *v = indexed_get(get, arg, i, f);
        char path[96];
        cJSON *val = NULL;
        if (!v)
            continue;
        snprintf(path, sizeof(path), "FLAMESHOT_PROCESSES[%d].%s", i, known_fields[f]);
        rc = indexed_value(f, v, path, &val, err);
        if (rc == 0 && !cJSON_AddItemToObject(obj, known_fields[f], val)) {
            cJSON_Delete(val);
            rc = -ENOMEM;
        }
    }
    if (rc == 0)
        rc = parse_rule(obj, i, lim, r, err);
    cJSON_Delete(obj);
    return rc;
}

/* Any field of rule n set, though its SERVICE (the list's end) is not:
 * Flameshot would drop it without a word. */
static int indexed_check_end(rules_getenv_fn get, void *arg, int n, struct rule_error *err)
{
    for (size_t f = 1; f < N_KNOWN_FIELDS; f++)
        if (indexed_get(get, arg, n, f)) {
            char path[64];
            snprintf(path, sizeof(path), "FLAMESHOT_PROCESSES[%d].service", n);
            return fail(err, path,
                        "missing, but " INDEXED_PREFIX "%d_%s is set: the indexed list ends at "
                        "the first index without a SERVICE, so that rule would be dropped",
                        n, indexed_suffixes[f]);
        }
    return 0;
}

/* "FLAMESHOT_PROCESSES[1].tags[0]" -> "FLAMESHOT_PROCESSES_1_TAGS
 * (FLAMESHOT_PROCESSES[1].tags[0])": the variable to fix, then the path. */
static void indexed_path(struct rule_error *err)
{
    int i;
    char field[64] = "";
    if (sscanf(err->path, "FLAMESHOT_PROCESSES[%d].%63[a-z_]", &i, field) != 2)
        return;
    const char *suffix = NULL;
    for (size_t f = 0; f < N_KNOWN_FIELDS; f++)
        if (strcmp(field, known_fields[f]) == 0)
            suffix = indexed_suffixes[f];
    if (!suffix)
        return;
    char json_path[sizeof(err->path)];
    snprintf(json_path, sizeof(json_path), "%s", err->path);
    snprintf(err->path, sizeof(err->path), INDEXED_PREFIX "%d_%s (%s)", i, suffix, json_path);
}

int rules_parse_indexed(rules_getenv_fn get, void *arg, const struct rule_limits *lim,
                        struct rule_set *set, struct rule_error *err)
{
    memset(set, 0, sizeof(*set));
    memset(err, 0, sizeof(*err));
    int n = 0;
    while (indexed_get(get, arg, n, 0))
        n++;
    /* indexed rules name their service: FLAMESHOT_SERVICE replaces only
     * FLAMESHOT_PROCESSES's, as in Flameshot */
    struct rule_limits own = {.short_intervals = lim && lim->short_intervals};
    int rc = indexed_check_end(get, arg, n, err);
    if (rc == 0 && n) {
        set->items = calloc((size_t)n, sizeof(*set->items));
        rc = set->items ? 0 : -ENOMEM;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        set->n = (size_t)i + 1;
        rc = indexed_rule(get, arg, i, &own, &set->items[i], err);
    }
    set->is_indexed = n > 0;
    if (rc == -EINVAL)
        indexed_path(err);
    if (rc < 0)
        rules_free(set);
    return rc;
}

int rules_default(const struct rule_limits *lim, struct rule_set *set)
{
    struct rule_error err;
    memset(set, 0, sizeof(*set));
    set->items = calloc(1, sizeof(*set->items));
    if (!set->items)
        return -ENOMEM;
    struct rule *r = &set->items[0];
    rule_init(r, -1);
    set->n = 1;
    set->is_default = true;
    /* documented in the README: what a new user gets with no configuration */
    r->cpu_usage_percent = 80;
    r->mem_usage_percent = 85;
    r->mem_usage_percent_emergency = 95;
    r->command = strdup(DEFAULT_COMMAND);
    int rc = r->command ? compile_regex(r, "default rule", &err) : -ENOMEM;
    if (rc == 0)
        rc = apply_service_override(r, lim);
    if (rc < 0)
        rules_free(set);
    return rc;
}

void rules_free(struct rule_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        rule_clear(&set->items[i]);
    free(set->items);
    memset(set, 0, sizeof(*set));
}

int rule_match(const struct rule *r, const char *cmdline)
{
    if (!r->re || !cmdline)
        return 0;
    int rc = rx_match(r->re, cmdline, false);
    return rc < 0 ? -EINVAL : rc;
}

const struct rule *rules_find(const struct rule_set *set, const char *cmdline,
                              const char *container)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct rule *r = &set->items[i];
        if (r->container && container && strcmp(r->container, container) != 0)
            continue;
        if (rule_match(r, cmdline) == 1)
            return r;
    }
    return NULL;
}

double rule_cpu_ceiling(int ncpus, uint64_t quota_millis, uint64_t base_millis)
{
    double host = (ncpus > 0 ? ncpus : 1) * 100.0;
    if (quota_millis && (double)quota_millis / 10.0 < host)
        host = (double)quota_millis / 10.0; /* the kernel throttles at the quota */
    return base_millis ? host * 1000.0 / (double)base_millis : host;
}

int rule_unreachable(const struct rule *r, double cpu_max, double mem_max_mb, int *next,
                     char *field, size_t field_cap, char *why, size_t cap)
{
    const struct {
        const char *name;
        double value, max;
        const char *what;
    } th[] = {
        {"cpu_usage_percent", r->cpu_usage_percent, cpu_max, "CPU can read"},
        {"mem_usage_mb", r->mem_usage_mb, mem_max_mb, "RSS can reach in MB"},
        {"mem_usage_mb_emergency", r->mem_usage_mb_emergency, mem_max_mb, "RSS can reach in MB"},
    };
    for (int i = *next; i < (int)(sizeof(th) / sizeof(th[0])); i++)
        if (th[i].value > 0 && th[i].max > 0 && th[i].value > th[i].max) {
            snprintf(field, field_cap, "%s", th[i].name);
            snprintf(why, cap, "%.10g is above %.*f, the most %s: it can never fire", th[i].value,
                     th[i].max < 10 ? 2 : 0, th[i].max, th[i].what);
            *next = i + 1;
            return 1;
        }
    *next = (int)(sizeof(th) / sizeof(th[0]));
    return 0;
}

void rule_field_path(const struct rule *r, bool indexed, const char *field, char *buf, size_t cap)
{
    struct rule_error e;
    if (r->index < 0) {
        snprintf(buf, cap, "the default rule's %s", field);
        return;
    }
    snprintf(e.path, sizeof(e.path), "FLAMESHOT_PROCESSES[%d].%s", r->index, field);
    if (indexed)
        indexed_path(&e);
    snprintf(buf, cap, "%s", e.path);
}

cJSON *rule_to_json(const struct rule *r)
{
    cJSON *o = cJSON_CreateObject();
    char ev[128];
    if (!o)
        return NULL;
    json_add_str_or_null(o, "service", r->service);
    cJSON_AddStringToObject(o, "language", r->language == RULE_LANG_GO ? "go" : "java");
    cJSON_AddStringToObject(o, "command", r->command ? r->command : "");
    json_add_duration(o, "duration", r->duration_ms);
    cJSON_AddStringToObject(o, "events", prof_events_format(r->events, ev, sizeof(ev)));
    cJSON_AddNumberToObject(o, "cpu_usage_percent", r->cpu_usage_percent);
    cJSON_AddNumberToObject(o, "mem_usage_percent", r->mem_usage_percent);
    cJSON_AddNumberToObject(o, "mem_usage_mb", r->mem_usage_mb);
    cJSON_AddNumberToObject(o, "mem_usage_percent_emergency", r->mem_usage_percent_emergency);
    cJSON_AddNumberToObject(o, "mem_usage_mb_emergency", r->mem_usage_mb_emergency);
    json_add_duration(o, "emergency_duration", r->emergency_duration_ms);
    cJSON *tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = 0; tags && i < r->tags.n; i++) {
        char b[512];
        snprintf(b, sizeof(b), "%s:%s", r->tags.items[i].key, r->tags.items[i].value);
        cJSON_AddItemToArray(tags, cJSON_CreateString(b));
    }
    if (r->jdk_version)
        cJSON_AddStringToObject(o, "jdk_version", r->jdk_version);
    if (r->container)
        cJSON_AddStringToObject(o, "container", r->container);
    if (r->cooldown_ms)
        json_add_duration(o, "cooldown", r->cooldown_ms);
    if (r->language == RULE_LANG_GO) {
        cJSON_AddStringToObject(o, "pprof_url", r->pprof_url ? r->pprof_url : "");
        cJSON_AddStringToObject(o, "pprof_types",
                                rule_pprof_types_format(r->pprof_types, ev, sizeof(ev)));
        if (r->pprof_timeout_ms)
            json_add_duration(o, "pprof_timeout", r->pprof_timeout_ms);
    }
    if (r->heap_dump != RULE_HEAP_DUMP_UNSET)
        cJSON_AddBoolToObject(o, "heap_dump_on_memory_emergency",
                              r->heap_dump == RULE_HEAP_DUMP_ON);
    return o;
}
