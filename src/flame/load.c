#include "flame/load.h"

#include "core/units.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_EVERY 1024 /* samples between two looks at the clock */

/* ---- time ranges -------------------------------------------------------- */

static int parse_seconds(const char *s, int64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e9)
        return -EINVAL;
    *ns = (int64_t)(v * 1e9 + 0.5);
    return 0;
}

/* "+hh:mm", "-hh:mm" or "Z" into seconds east of UTC. */
static int parse_zone(const char *s, long *off)
{
    if ((s[0] == 'Z' || s[0] == 'z') && !s[1]) {
        *off = 0;
        return 0;
    }
    if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
        strspn(s + 1, "0123456789") != 2 || strspn(s + 4, "0123456789") != 2)
        return -EINVAL;
    long hh = (s[1] - '0') * 10 + (s[2] - '0'), mm = (s[4] - '0') * 10 + (s[5] - '0');
    if (hh > 23 || mm > 59)
        return -EINVAL;
    *off = (s[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
    return 0;
}

static int parse_rfc3339(const char *s, int64_t *ns)
{
    struct tm tm = {0};
    int n = 0;
    long zone, frac = 0;
    if (sscanf(s, "%4d-%2d-%2d%*[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        !n)
        return -EINVAL;
    const char *p = s + n;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*p - '0');
        if (!digits)
            return -EINVAL;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    if (parse_zone(p, &zone) < 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t < 0)
        return -EINVAL;
    *ns = ((int64_t)t - zone) * 1000000000LL + frac;
    return 0;
}

int load_parse_time(const char *s, struct load_time *t)
{
    *t = (struct load_time){0};
    if (!s || !*s)
        return -EINVAL;
    if (strchr(s, 'T') || strchr(s, 't') || strchr(s, ' ')) {
        t->absolute = true;
        if (parse_rfc3339(s, &t->ns) < 0)
            return -EINVAL;
    } else if (parse_seconds(s, &t->ns) < 0) {
        return -EINVAL;
    }
    t->set = true;
    return 0;
}

int64_t load_time_ns(const struct load_time *t, int64_t start_ns)
{
    return t->absolute ? t->ns : start_ns + t->ns;
}

int load_pick_event(const uint64_t counts[JFR_EVENT_N])
{
    if (counts[JFR_CPU])
        return JFR_CPU;
    for (int ev = 0; ev < JFR_EVENT_N; ev++)
        if (counts[ev])
            return ev;
    return -1;
}

/* ---- JFR ---------------------------------------------------------------- */

/* The first chunk's start (wall-clock ns), from its header: magic, major,
 * minor, size, constant pool offset, metadata offset, then startNanos at
 * byte 32, big-endian (jdk.jfr.internal.consumer.ChunkHeader). The range
 * must be known before the first sample arrives, which the reader's stats
 * only say at the end. 0 when the header is not there. */
static int64_t jfr_start_ns(int fd)
{
    unsigned char b[8];
    if (pread(fd, b, sizeof(b), 32) != (ssize_t)sizeof(b))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(b); i++)
        v = v << 8 | b[i];
    return (int64_t)v;
}

struct pick {
    uint64_t counts[JFR_EVENT_N];
};

static int count_kind(void *arg, const struct jfr_sample *s)
{
    struct pick *p = arg;
    p->counts[s->ev]++;
    return s->ev == JFR_CPU; /* cpu wins: no need to read on */
}

struct feed {
    struct load_result *r;
    const struct load_opts *o;
    int rc; /* why the feed stopped the read */
};

static int past_deadline(const struct load_opts *o, uint64_t n)
{
    return o->deadline_ms && n % DEADLINE_EVERY == 1 && units_now_mono_ms() > o->deadline_ms;
}

static int feed_sample(void *arg, const struct jfr_sample *s)
{
    struct feed *f = arg;
    struct load_result *r = f->r;
    if ((r->from_ns && s->ts_ns < r->from_ns) || (r->to_ns && s->ts_ns > r->to_ns))
        return 0;
    int rc = stacks_add_sample(r->stacks, s, NULL);
    if (rc == 0 && r->heatmap) {
        rc = heatmap_add(r->heatmap, s);
        rc = rc == -ERANGE ? 0 : rc; /* before the first chunk: outside every column */
    }
    if (rc == 0 && past_deadline(f->o, ++r->samples))
        rc = -ETIMEDOUT;
    f->rc = rc;
    return rc ? 1 : 0;
}

static int stop_reason(int rc, const char *path, const struct load_opts *o, char *err,
                       size_t errcap)
{
    if (rc == -EFBIG)
        snprintf(err, errcap, "%s: the stacks exceed the budget of %zu bytes", path,
                 o->max_bytes ? o->max_bytes : (size_t)LOAD_DEFAULT_MAX_BYTES);
    else if (rc == -ETIMEDOUT)
        snprintf(err, errcap, "%s: reading took longer than the deadline", path);
    else
        snprintf(err, errcap, "%s: %s", path, strerror(-rc));
    return rc;
}

static int read_jfr(int fd, const char *path, unsigned events, const struct load_opts *o,
                    jfr_sample_fn fn, void *arg, struct jfr_stats *st, char *err, size_t errcap)
{
    char why[256] = "";
    struct jfr_opts jo = {.events = events, .flags = o->jfr_flags};
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    int rc = jfr_read_fd(fd, &jo, fn, arg, st, why, sizeof(why));
    if (rc < 0)
        snprintf(err, errcap, "%s: %s", path, why[0] ? why : strerror(-rc));
    return rc;
}

static int pick_event(int fd, const char *path, const struct load_opts *o, struct load_result *r,
                      char *err, size_t errcap)
{
    struct pick p = {0};
    struct jfr_stats st;
    int rc = read_jfr(fd, path, 0, o, count_kind, &p, &st, err, errcap);
    if (rc < 0)
        return rc;
    int ev = load_pick_event(p.counts);
    if (ev < 0) {
        snprintf(err, errcap,
                 "%s: no stack samples of any kind (cpu, wall, alloc, lock, nativemem)", path);
        return -ENODATA;
    }
    r->event = (enum jfr_event)ev;
    r->picked = true;
    return 0;
}

static int load_jfr(int fd, const char *path, const struct load_opts *o, struct load_result *r,
                    char *err, size_t errcap)
{
    r->start_ns = jfr_start_ns(fd);
    r->from_ns = o->from.set ? load_time_ns(&o->from, r->start_ns) : 0;
    r->to_ns = o->to.set ? load_time_ns(&o->to, r->start_ns) : 0;
    if (r->from_ns && r->to_ns && r->to_ns < r->from_ns) {
        snprintf(err, errcap, "the range ends before it starts");
        return -EINVAL;
    }
    int rc = o->event >= 0 ? 0 : pick_event(fd, path, o, r, err, errcap);
    if (rc < 0)
        return rc;
    if (o->event >= 0)
        r->event = (enum jfr_event)o->event;
    if (o->heatmap && !(r->heatmap = heatmap_new(r->start_ns, 0, o->max_bytes)))
        return -ENOMEM;
    struct feed f = {.r = r, .o = o};
    rc = read_jfr(fd, path, 1u << r->event, o, feed_sample, &f, &r->st, err, errcap);
    if (rc > 0 || f.rc)
        return stop_reason(f.rc ? f.rc : -EIO, path, o, err, errcap);
    if (rc == 0 && !r->samples) {
        snprintf(err, errcap, "%s: no %s samples%s", path, jfr_event_name(r->event),
                 o->from.set || o->to.set ? " in the range" : "");
        return -ENODATA;
    }
    return rc;
}

/* ---- collapsed text ----------------------------------------------------- */

static int load_collapsed(FILE *in, const char *path, const struct load_opts *o,
                          struct load_result *r, char *err, size_t errcap)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0, budget = o->max_bytes ? o->max_bytes : LOAD_DEFAULT_MAX_BYTES;
    ssize_t n;
    int rc = 0;
    r->collapsed = true;
    if (o->from.set || o->to.set || o->heatmap) {
        snprintf(err, errcap, "%s: collapsed stacks carry no times: no range or heat map", path);
        return -EINVAL;
    }
    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        rc = (size_t)n > budget ? -EFBIG : stacks_add_collapsed(r->stacks, line, (size_t)n);
        if (rc == 0 && past_deadline(o, ++r->samples))
            rc = -ETIMEDOUT;
    }
    free(line);
    if (rc == -EINVAL)
        snprintf(err, errcap,
                 "%s: neither a JFR file (no FLR magic) nor collapsed stacks (line %zu is not "
                 "\"frame;frame;... count\")",
                 path, lineno);
    else if (rc < 0)
        return stop_reason(rc, path, o, err, errcap);
    else if (ferror(in))
        return stop_reason(-EIO, path, o, err, errcap);
    else if (!r->samples) {
        snprintf(err, errcap, "%s: empty: no stacks", path);
        rc = -ENODATA;
    }
    return rc;
}

/* ---- the entry ---------------------------------------------------------- */

static int open_input(const char *path, FILE **in, bool *is_jfr, char *err, size_t errcap)
{
    char magic[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errcap, "%s: %s", path, strerror(e));
        return -e;
    }
    *is_jfr = pread(fd, magic, sizeof(magic), 0) == 4 && memcmp(magic, "FLR", 4) == 0;
    *in = fdopen(fd, "r");
    if (!*in) {
        close(fd);
        snprintf(err, errcap, "%s: out of memory", path);
        return -ENOMEM;
    }
    return 0;
}

int load_file(const char *path, const struct load_opts *o, struct load_result *r, char *err,
              size_t errcap)
{
    FILE *in = NULL;
    bool is_jfr = false;
    *r = (struct load_result){0};
    int rc = open_input(path, &in, &is_jfr, err, errcap);
    if (rc < 0)
        return rc;
    r->stacks = stacks_new(o->max_bytes);
    if (!r->stacks) {
        snprintf(err, errcap, "out of memory");
        rc = -ENOMEM;
    } else if (is_jfr) {
        rc = load_jfr(fileno(in), path, o, r, err, errcap);
    } else {
        rc = load_collapsed(in, path, o, r, err, errcap);
    }
    fclose(in);
    if (rc == 0 && o->deadline_ms && units_now_mono_ms() > o->deadline_ms)
        rc = stop_reason(-ETIMEDOUT, path, o, err, errcap);
    if (rc < 0)
        load_result_free(r);
    return rc;
}

void load_result_free(struct load_result *r)
{
    stacks_free(r->stacks);
    heatmap_free(r->heatmap);
    r->stacks = NULL;
    r->heatmap = NULL;
}
