/* rules: FLAMESHOT_PROCESSES, the per-process profiling policy.
 * A rule says which processes to watch (a PCRE2 regex over the full
 * command line), what to capture, and the thresholds that trigger it. */
#ifndef FS_RULES_H
#define FS_RULES_H

#include "core/tags.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum rule_language {
    RULE_LANG_JAVA = 0,
    RULE_LANG_GO, /* "go" or "golang": pprof pulled over HTTP (capture/pprof_fetch.h) */
};

/* Profiling events; a rule asks for a set of them. */
enum prof_event {
    PROF_EV_CPU = 1u << 0,
    PROF_EV_ALLOC = 1u << 1,
    PROF_EV_LOCK = 1u << 2,
    PROF_EV_WALL = 1u << 3,
    PROF_EV_ITIMER = 1u << 4,
    PROF_EV_CACHE_MISSES = 1u << 5,
    PROF_EV_CS = 1u << 6,
    PROF_EV_NATIVEMEM = 1u << 7,
    PROF_EV_ALL = 1u << 8,
};
#define PROF_EV_DEFAULT PROF_EV_CPU

struct rule;

enum rule_heap_dump {
    RULE_HEAP_DUMP_UNSET = 0, /* the field is absent */
    RULE_HEAP_DUMP_ON,
    RULE_HEAP_DUMP_OFF,
};

/* Whether r's processes get a heap dump on a memory emergency:
 * FLAMESHOT_HEAP_DUMP_ENABLED (enabled) and the rule does not say false. */
bool rule_heap_dump_allowed(const struct rule *r, bool enabled);

struct rule {
    int index;     /* position in FLAMESHOT_PROCESSES, -1 for the default */
    char *service; /* after FLAMESHOT_SERVICE is applied */
    enum rule_language language;
    char *command;                      /* the regex as written */
    void *re;                           /* pcre2_code * (compiled, JIT where available) */
    uint64_t duration_ms;               /* normal profile length */
    unsigned events;                    /* PROF_EV_* mask */
    double cpu_usage_percent;           /* 0 = disabled */
    double mem_usage_percent;           /* 0 = disabled */
    double mem_usage_mb;                /* 0 = disabled */
    double mem_usage_percent_emergency; /* 0 = disabled */
    double mem_usage_mb_emergency;      /* 0 = disabled */
    uint64_t emergency_duration_ms;
    struct tags tags;
    char *jdk_version;    /* NULL when not given */
    char *container;      /* scope to one container name; NULL = any */
    uint64_t cooldown_ms; /* 0 = the defaults (1m normal, 30s emergency) */
    /* language go, as Flameshot names them; NULL / 0 for java */
    char *pprof_url;           /* required: the pprof base URL inside the target's network */
    unsigned pprof_types;      /* RULE_PPROF_* mask: pprof_types, else events, else cpu */
    uint64_t pprof_timeout_ms; /* 0: each request's duration + 15 s (see rule_pprof_timeout) */
    /* heap_dump_on_memory_emergency: whether this rule's processes may get
     * a heap dump on a memory emergency when FLAMESHOT_HEAP_DUMP_ENABLED
     * (absent = allowed, as in Flameshot) */
    enum rule_heap_dump heap_dump;
};

/* Go pprof types (pprof_types). */
enum rule_pprof_type {
    RULE_PPROF_CPU = 1u << 0,
    RULE_PPROF_GOROUTINE = 1u << 1,
    RULE_PPROF_HEAP = 1u << 2,
    RULE_PPROF_MUTEX = 1u << 3,
    RULE_PPROF_BLOCK = 1u << 4,
};
#define RULE_PPROF_ALL 0x1fu
#define RULE_PPROF_N   5

/* "cpu,goroutine" <-> mask: cpu, goroutine (or goroutines), heap, mutex,
 * block, all (or --all), case-insensitive, spaces ignored. Parse returns
 * 0 or -EINVAL with a static reason and the offending word in bad. */
int rule_pprof_types_parse(const char *s, unsigned *mask, const char **why, char *bad,
                           size_t badcap);
char *rule_pprof_types_format(unsigned mask, char *buf, size_t cap);

/* The name of the i-th type (0..RULE_PPROF_N): "cpu", "goroutine", ... */
const char *rule_pprof_type_name(int i);

/* Flameshot's timeout for one pprof request of a profile lasting
 * duration_ms: pprof_timeout, but never less than duration + 15 s (a CPU
 * profile takes its whole duration to answer). */
uint64_t rule_pprof_timeout(const struct rule *r, uint64_t duration_ms);

struct rule_set {
    struct rule *items;
    size_t n;
    bool is_default; /* built-in "every Java process" rule */
    bool is_indexed; /* from FLAMESHOT_PROCESSES_<i>_<FIELD> */
};

/* Where a parse failed: "FLAMESHOT_PROCESSES[1].duration" and why. */
struct rule_error {
    char path[192];
    char reason[512];
};

/* Limits that depend on other variables and test-only relaxations. */
struct rule_limits {
    const char *service_override; /* FLAMESHOT_SERVICE or NULL */
    bool short_intervals;         /* FLAMESHOT_TEST_SHORT_INTERVALS */
};

/* Parses FLAMESHOT_PROCESSES. Returns 0, -EINVAL with err filled, or
 * -ENOMEM. On success the caller owns set (rules_free). */
int rules_parse(const char *json, const struct rule_limits *lim, struct rule_set *set,
                struct rule_error *err);

/* Looks a variable up; returns NULL when unset (as config_getenv_fn). */
typedef const char *(*rules_getenv_fn)(const char *name, void *arg);

/* Parses Flameshot's indexed form: FLAMESHOT_PROCESSES_<i>_<FIELD>, FIELD
 * the JSON field in capitals (SERVICE, COMMAND, ..., TAGS as a JSON array,
 * thresholds as numbers, HEAP_DUMP_ON_MEMORY_EMERGENCY as a boolean), i
 * from 0 up to the first unset or empty SERVICE. Each rule is validated as
 * its FLAMESHOT_PROCESSES[i] object would be; an error's path names the
 * variable, then the JSON path:
 * "FLAMESHOT_PROCESSES_1_DURATION (FLAMESHOT_PROCESSES[1].duration)". A
 * field set at the index where the list ends is an error (the rule would be
 * dropped). FLAMESHOT_SERVICE does not replace these services (Flameshot
 * applies it to FLAMESHOT_PROCESSES only). Returns 0 (set->n == 0 when the
 * form is not used), -EINVAL with err filled, or -ENOMEM. */
int rules_parse_indexed(rules_getenv_fn get, void *arg, const struct rule_limits *lim,
                        struct rule_set *set, struct rule_error *err);

/* Splits "FLAMESHOT_PROCESSES_<i>_<SUFFIX>" (i written as %d writes it).
 * Returns 1 with index and suffix (points into name) set, else 0. */
int rules_indexed_split(const char *name, int *index, const char **suffix);

/* The JSON field an indexed suffix sets ("MEM_USAGE_MB" -> "mem_usage_mb"),
 * or NULL with *near (when near is non-NULL) the closest known suffix or
 * NULL. */
const char *rules_indexed_field(const char *suffix, const char **near);

/* The rule used when FLAMESHOT_PROCESSES is unset: every Java process. */
int rules_default(const struct rule_limits *lim, struct rule_set *set);

void rules_free(struct rule_set *set);

/* Returns 1 if the rule's regex matches cmdline, 0 if not, -errno on a
 * matcher error. Thread-safe. */
int rule_match(const struct rule *r, const char *cmdline);

/* The first rule of set matching cmdline (and container, when the rule is
 * scoped and container is non-NULL), or NULL. */
const struct rule *rules_find(const struct rule_set *set, const char *cmdline,
                              const char *container);

/* The most a target's CPU percentage can read, in the base its thresholds
 * use: ncpus cores x 100, capped by the kernel's CFS quota (quota_millis,
 * 0: none), as a percentage of base_millis (the quota or
 * FLAMESHOT_POD_CPU_LIMIT; 0: of one core). E.g. (4, 1000, 1000) = 100,
 * (4, 0, 0) = 400, (4, 0, 500) = 800, (2, 0, 8000) = 25. */
double rule_cpu_ceiling(int ncpus, uint64_t quota_millis, uint64_t base_millis);

/* The thresholds of r that can never fire when CPU reads at most cpu_max
 * and RSS reaches at most mem_max_mb (<= 0: unknown, not checked), one per
 * call: start with *next = 0; returns 1 with the field's name in field and
 * the reason in why, 0 when there is no further one. */
int rule_unreachable(const struct rule *r, double cpu_max, double mem_max_mb, int *next,
                     char *field, size_t field_cap, char *why, size_t cap);

/* Where a user sets field of r: "FLAMESHOT_PROCESSES[0].duration", with the
 * variable first for an indexed rule (as rules_parse_indexed's errors), or
 * "the default rule's duration". */
void rule_field_path(const struct rule *r, bool indexed, const char *field, char *buf, size_t cap);

/* "cpu,alloc" <-> mask. Parse returns 0 or -EINVAL with a static reason and
 * the offending word copied to bad (may be NULL). */
int prof_events_parse(const char *s, unsigned *mask, const char **why, char *bad, size_t badcap);
char *prof_events_format(unsigned mask, char *buf, size_t cap);

/* The effective rule as JSON (durations as strings), for --check-config
 * and the HTTP API. Caller frees with cJSON_Delete. */
struct cJSON *rule_to_json(const struct rule *r);

/* Levenshtein distance, capped: used for "did you mean" hints. */
int rules_edit_distance(const char *a, const char *b);

/* The name of names[0..n) closest to name, within 3 edits; NULL if none
 * is. The "did you mean" of FLAMESHOT_PROCESSES fields and variables. */
const char *rules_closest(const char *name, const char *const *names, size_t n);

#endif
