/* units: parsing and printing of the values people type into variables:
 * durations ("30s", "1m30s", "500ms", "1h"), booleans and integers; the
 * clocks they are measured on, and waiting for fds against a deadline. */
#ifndef FS_UNITS_H
#define FS_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parses a Go-style duration made of <integer><unit> groups, units ms, s, m,
 * h (e.g. "1m30s", "500ms"). A bare number, an empty string, a sign, a
 * fraction or any other unit is rejected. Returns 0 and sets *ms, -EINVAL,
 * or -ERANGE past 2^64 ms (a group, or the groups' sum), with a reason in why
 * (static string). */
int units_parse_duration(const char *s, uint64_t *ms, const char **why);

/* Formats ms back in the shortest canonical form ("1m30s", "500ms", "0s").
 * Writes at most cap bytes; returns buf. */
char *units_format_duration(uint64_t ms, char *buf, size_t cap);

/* Parses true/false/1/0/yes/no/on/off (case-insensitive). 0 or -EINVAL. */
int units_parse_bool(const char *s, bool *out);

/* Parses a non-negative decimal integer with no sign, spaces or suffix that
 * fits in max (the whole uint64_t range). 0, -EINVAL (not a number) or
 * -ERANGE (too large). */
int units_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Nanoseconds since the epoch formatted as RFC 3339 with nanoseconds in UTC
 * ("2026-11-21T16:22:00.123456789Z"). Returns buf. */
char *units_rfc3339nano(uint64_t epoch_ns, char *buf, size_t cap);

/* Clocks: monotonic in ms, us and ns, CLOCK_BOOTTIME (kernel event times)
 * and real time in ns. */
uint64_t units_now_mono_ms(void);
uint64_t units_now_mono_us(void);
uint64_t units_now_mono_ns(void);
uint64_t units_now_boot_ns(void);
uint64_t units_now_real_ns(void);

/* Retry jitter (xorshift64*): a seed that differs between processes and
 * nodes (getrandom, else the clock; never 0), and the next number. Not
 * for anything secret; one state per caller, not thread-safe. */
uint64_t units_jitter_seed(void);
uint64_t units_jitter_next(uint64_t *state);

/* The wait before retry nth (1: after the first failure): min_ms doubled
 * nth - 1 times, capped at max_ms, then drawn uniformly from
 * [d - d * below_pct / 100, d + d * above_pct / 100] with rng
 * (units_jitter_next), so that agents that failed together do not retry
 * together. */
uint64_t units_backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned nth, unsigned below_pct,
                          unsigned above_pct, uint64_t *rng);

/* ts = clock's now + ms: the absolute time pthread_cond_timedwait (for a
 * condition variable set to that clock) or pthread_timedjoin_np
 * (CLOCK_REALTIME) takes. */
void units_timespec_in(clockid_t clock, uint64_t ms, struct timespec *ts);

struct pollfd;

/* poll(2) until one of fds is ready or the monotonic deadline (ms, as
 * units_now_mono_ms) has passed, retrying on EINTR and never rounding a
 * wait past the deadline's millisecond. Returns poll's count (> 0), 0 once
 * the deadline passed, or -errno. Blocks at most until the deadline. */
int units_poll_until(struct pollfd *fds, size_t n, uint64_t deadline_ms);

#endif
