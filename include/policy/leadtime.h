/* leadtime: how long until a memory limit is reached at the present growth
 * rate, from the step records of the event source (events.h ladders), so
 * that the emergency evidence is asked for while there is time to take it
 * (FLAMESHOT_EVIDENCE_LEAD), not only at a fixed percentage that a fast
 * leak outruns.
 *
 * Why steps: the kernel reports one record each time usage climbs another
 * LEAD_STEP_PCT of the limit (no record per page); each record's time and
 * value are a point of the climb. The rate spans the last two steps
 * (LEAD_WINDOW readings): one step alone is too easily a burst of
 * allocation that a collection takes back; two steps of a steady leak say
 * the same as twenty. A reading that falls resets the estimate (the memory
 * was given back: the next climb is a new one), one that moves by less than
 * the noise (half a step) is not a point of the climb. No projection fires
 * below LEAD_FLOOR_PCT of the limit: a JVM's start-up or a cache warming
 * climbs fast for a moment, and a projection made from far below the limit
 * would spend the emergency cooldown on it.
 *
 * Pure: times are passed in (any one clock, e.g. CLOCK_BOOTTIME ns), no
 * I/O, no allocation. */
#ifndef FS_LEADTIME_H
#define FS_LEADTIME_H

#include <stdbool.h>
#include <stdint.h>

#define LEAD_STEP_PCT  2  /* a ladder step, in percent of the limit */
#define LEAD_FLOOR_PCT 50 /* no projection fires below this share of the limit */
#define LEAD_WINDOW    3  /* readings the rate spans: two steps */

struct lead_est {
    uint64_t t_ns[LEAD_WINDOW]; /* oldest first */
    uint64_t bytes[LEAD_WINDOW];
    unsigned n; /* readings held, 0..LEAD_WINDOW */
};

/* The ladder for a limit: *step_bytes = LEAD_STEP_PCT of it, boundaries
 * from two steps below the floor (so that a rate is known on reaching
 * it). Both 0 for limit 0. */
void lead_ladder(uint64_t limit_bytes, uint64_t *from_bytes, uint64_t *step_bytes);

/* Feeds one reading. A fall of more than noise_bytes restarts the estimate
 * from this reading; a change of at most noise_bytes is ignored. */
void lead_observe(struct lead_est *e, uint64_t t_ns, uint64_t bytes, uint64_t noise_bytes);

/* Growth in bytes per second across the window; 0 with fewer than
 * LEAD_WINDOW rising readings. */
double lead_rate(const struct lead_est *e);

/* Whether the evidence is due now: lead_ms > 0, a limit (0: none, never
 * due), the last reading at or above LEAD_FLOOR_PCT of it, a rate, and the
 * limit projected (from the last reading at lead_rate) less than lead_ms
 * after now_ns. A climb with no reading for longer than its window took
 * (plus half a second) has stalled: no projection (a plateau never fires
 * by the clock alone).
 * *secs (may be NULL) gets the projected seconds left from now (>= 0)
 * whenever a projection exists, -1 otherwise. */
bool lead_due(const struct lead_est *e, uint64_t limit_bytes, uint64_t lead_ms, uint64_t now_ns,
              double *secs);

#endif
