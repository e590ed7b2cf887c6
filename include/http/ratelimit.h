/* ratelimit: a token bucket per client address, in a table of bounded
 * size, for the HTTP API. A client may send `burst` requests at once and
 * `rate` per second after that. The table never grows: a new client takes
 * a free slot of its hash window, else the slot of the window's least
 * recently seen client, which then starts again with a full bucket if it
 * comes back. So memory is fixed whatever the number of clients, and a
 * client is forgotten only when at least RATELIMIT_WINDOW others have
 * been seen more recently in its window.
 *
 * Thread-safe (one mutex; a take is a hash and a few comparisons). */
#ifndef FS_RATELIMIT_H
#define FS_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 16 /* an IPv6 address */
#define RATELIMIT_WINDOW  8  /* slots probed for one key */

struct ratelimit;

/* rate_per_s > 0, burst >= 1, capacity >= RATELIMIT_WINDOW (rounded up
 * to a power of two). NULL on bad arguments or ENOMEM. */
struct ratelimit *ratelimit_new(double rate_per_s, double burst, size_t capacity);
void ratelimit_free(struct ratelimit *rl);

/* Takes one token from key's bucket at now_ms (monotonic). Returns true
 * when the request may go on; false when the bucket is empty, with
 * *retry_after_ms (may be NULL) set to the wait until one token is back
 * (at least 1). keylen is cut at RATELIMIT_KEY_MAX. */
bool ratelimit_take(struct ratelimit *rl, const void *key, size_t keylen, uint64_t now_ms,
                    uint64_t *retry_after_ms);

/* Clients currently in the table. */
size_t ratelimit_clients(struct ratelimit *rl);

#endif
