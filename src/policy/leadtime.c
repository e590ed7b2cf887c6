#include "policy/leadtime.h"

#include <string.h>

#define LEAD_STALL_GRACE_MS 500

void lead_ladder(uint64_t limit_bytes, uint64_t *from_bytes, uint64_t *step_bytes)
{
    uint64_t step = limit_bytes / 100 * LEAD_STEP_PCT;
    *step_bytes = step;
    *from_bytes = step ? limit_bytes / 100 * (LEAD_FLOOR_PCT - 2 * LEAD_STEP_PCT) : 0;
}

static void restart(struct lead_est *e, uint64_t t_ns, uint64_t bytes)
{
    memset(e, 0, sizeof(*e));
    e->t_ns[0] = t_ns;
    e->bytes[0] = bytes;
    e->n = 1;
}

void lead_observe(struct lead_est *e, uint64_t t_ns, uint64_t bytes, uint64_t noise_bytes)
{
    if (!e->n) {
        restart(e, t_ns, bytes);
        return;
    }
    uint64_t last = e->bytes[e->n - 1];
    if (bytes + noise_bytes < last) {
        restart(e, t_ns, bytes);
        return;
    }
    if (bytes <= last + noise_bytes)
        return;
    if (e->n == LEAD_WINDOW) {
        memmove(e->t_ns, e->t_ns + 1, sizeof(e->t_ns[0]) * (LEAD_WINDOW - 1));
        memmove(e->bytes, e->bytes + 1, sizeof(e->bytes[0]) * (LEAD_WINDOW - 1));
        e->n--;
    }
    e->t_ns[e->n] = t_ns;
    e->bytes[e->n++] = bytes;
}

double lead_rate(const struct lead_est *e)
{
    if (e->n < LEAD_WINDOW)
        return 0;
    uint64_t dt = e->t_ns[LEAD_WINDOW - 1] - e->t_ns[0];
    double grown = (double)(e->bytes[LEAD_WINDOW - 1] - e->bytes[0]);
    return grown * 1e9 / (double)(dt ? dt : 1);
}

/* Seconds from now until the limit at the window's rate, or -1: no rate, or
 * a climb that has stalled: its next step is overdue by longer than the
 * whole window took plus LEAD_STALL_GRACE_MS (a reader running late is not
 * a plateau), so the rate no longer holds and the clock alone must not
 * make it fire. */
static double projection(const struct lead_est *e, uint64_t limit_bytes, uint64_t now_ns)
{
    double rate = lead_rate(e);
    if (!limit_bytes || rate <= 0)
        return -1;
    uint64_t last = e->bytes[e->n - 1], t = e->t_ns[e->n - 1];
    uint64_t since = now_ns > t ? now_ns - t : 0;
    if (since > t - e->t_ns[0] + LEAD_STALL_GRACE_MS * 1000000ull)
        return -1;
    double room = last < limit_bytes ? (double)(limit_bytes - last) : 0;
    double left = room / rate - (double)since / 1e9;
    return left < 0 ? 0 : left;
}

bool lead_due(const struct lead_est *e, uint64_t limit_bytes, uint64_t lead_ms, uint64_t now_ns,
              double *secs)
{
    double left = projection(e, limit_bytes, now_ns);
    if (secs)
        *secs = left;
    return lead_ms && left >= 0 && e->bytes[e->n - 1] >= limit_bytes / 100 * LEAD_FLOOR_PCT &&
           left * 1000.0 < (double)lead_ms;
}
