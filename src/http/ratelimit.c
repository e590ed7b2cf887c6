#include "http/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    bool used;
    uint8_t keylen;
    uint8_t key[RATELIMIT_KEY_MAX];
    double tokens;
    uint64_t last_ms;
};

struct ratelimit {
    pthread_mutex_t lock;
    double rate, burst;
    size_t mask; /* capacity - 1 */
    size_t used;
    struct slot *slots;
};

struct ratelimit *ratelimit_new(double rate_per_s, double burst, size_t capacity)
{
    if (!(rate_per_s > 0) || !(burst >= 1) || capacity < RATELIMIT_WINDOW)
        return NULL;
    size_t cap = RATELIMIT_WINDOW;
    while (cap < capacity)
        cap <<= 1;
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl || !(rl->slots = calloc(cap, sizeof(*rl->slots)))) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate_per_s;
    rl->burst = burst;
    rl->mask = cap - 1;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
}

/* FNV-1a: addresses are not chosen by an attacker freely enough for
 * collisions to matter beyond the window's eviction, which is bounded. */
static size_t hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The key's slot: its own, else a free one, else the window's least
 * recently seen (reset). */
static struct slot *find(struct ratelimit *rl, const uint8_t *k, size_t n, uint64_t now_ms)
{
    size_t h = hash(k, n);
    struct slot *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < RATELIMIT_WINDOW; i++) {
        struct slot *s = &rl->slots[(h + i) & rl->mask];
        if (!s->used) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (s->keylen == n && memcmp(s->key, k, n) == 0)
            return s;
        if (!oldest || s->last_ms < oldest->last_ms)
            oldest = s;
    }
    struct slot *s = free_slot ? free_slot : oldest;
    if (free_slot)
        rl->used++;
    *s = (struct slot){.used = true, .keylen = (uint8_t)n, .tokens = rl->burst, .last_ms = now_ms};
    memcpy(s->key, k, n);
    return s;
}

bool ratelimit_take(struct ratelimit *rl, const void *key, size_t keylen, uint64_t now_ms,
                    uint64_t *retry_after_ms)
{
    if (keylen > RATELIMIT_KEY_MAX)
        keylen = RATELIMIT_KEY_MAX;
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, key, keylen, now_ms);
    if (now_ms > s->last_ms) {
        s->tokens += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
        if (s->tokens > rl->burst)
            s->tokens = rl->burst;
        s->last_ms = now_ms;
    }
    bool ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    else if (retry_after_ms) {
        uint64_t wait = (uint64_t)((1.0 - s->tokens) * 1000.0 / rl->rate + 0.999);
        *retry_after_ms = wait ? wait : 1;
    }
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

size_t ratelimit_clients(struct ratelimit *rl)
{
    pthread_mutex_lock(&rl->lock);
    size_t n = rl->used;
    pthread_mutex_unlock(&rl->lock);
    return n;
}
