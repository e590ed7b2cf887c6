#include "core/units.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

static int unit_factor(const char *u, size_t len, uint64_t *factor)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == len && strncmp(u, units[i].name, len) == 0) {
            *factor = units[i].ms;
            return 0;
        }
    }
    return -EINVAL;
}

int units_parse_duration(const char *s, uint64_t *ms, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s || !*s) {
        *why = "empty duration";
        return -EINVAL;
    }
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p)) {
            *why = "expected a number followed by a unit (ms, s, m, h), e.g. 30s or 1m30s";
            return -EINVAL;
        }
        uint64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
                *why = "duration too large";
                return -ERANGE;
            }
            n = n * 10 + (uint64_t)(*p++ - '0');
        }
        const char *u = p;
        while (*p && isalpha((unsigned char)*p))
            p++;
        uint64_t factor;
        if (u == p) {
            *why = "missing unit: write e.g. 30s, 1m or 500ms (a bare number is ambiguous)";
            return -EINVAL;
        }
        if (unit_factor(u, (size_t)(p - u), &factor) < 0) {
            *why = "unknown unit (use ms, s, m or h)";
            return -EINVAL;
        }
        if (n > (UINT64_MAX - total) / factor) { /* past 2^64 ms: would wrap to a short one */
            *why = "duration too large";
            return -ERANGE;
        }
        total += n * factor;
    }
    *ms = total;
    return 0;
}

char *units_format_duration(uint64_t ms, char *buf, size_t cap)
{
    if (ms == 0) {
        snprintf(buf, cap, "0s");
        return buf;
    }
    if (ms % 1000) {
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
        return buf;
    }
    uint64_t s = ms / 1000, h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
    size_t pos = 0;
    buf[0] = '\0';
    if (h)
        pos += (size_t)snprintf(buf + pos, cap - pos, "%lluh", (unsigned long long)h);
    if (m && pos < cap)
        pos += (size_t)snprintf(buf + pos, cap - pos, "%llum", (unsigned long long)m);
    if (sec && pos < cap)
        snprintf(buf + pos, cap - pos, "%llus", (unsigned long long)sec);
    return buf;
}

int units_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

int units_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    uint64_t n = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        uint64_t d = (uint64_t)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -ERANGE;
        n = n * 10 + d;
    }
    if (n > max)
        return -ERANGE;
    *out = n;
    return 0;
}

char *units_rfc3339nano(uint64_t epoch_ns, char *buf, size_t cap)
{
    time_t sec = (time_t)(epoch_ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%09lluZ", (unsigned long long)(epoch_ns % 1000000000ull));
    return buf;
}

uint64_t units_now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t units_now_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t units_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t units_jitter_seed(void)
{
    uint64_t s;
    if (getrandom(&s, sizeof(s), 0) != sizeof(s) || !s)
        s = units_now_real_ns() | 1;
    return s;
}

uint64_t units_jitter_next(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1Dull;
}

uint64_t units_backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned nth, unsigned below_pct,
                          unsigned above_pct, uint64_t *rng)
{
    uint64_t d = min_ms;
    for (unsigned i = 1; i < nth && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t low = d - d * below_pct / 100, span = d * (below_pct + above_pct) / 100;
    return low + (span ? units_jitter_next(rng) % (span + 1) : 0);
}

void units_timespec_in(clockid_t clock, uint64_t ms, struct timespec *ts)
{
    clock_gettime(clock, ts);
    uint64_t ns = (uint64_t)ts->tv_nsec + ms % 1000 * 1000000;
    ts->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

uint64_t units_now_boot_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t units_now_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int units_poll_until(struct pollfd *fds, size_t n, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = units_now_mono_ms();
        if (now >= deadline_ms)
            return 0;
        uint64_t left = deadline_ms - now;
        int r = poll(fds, (nfds_t)n, left > 60000 ? 60000 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 0)
            return r < 0 ? -errno : r;
    }
}
