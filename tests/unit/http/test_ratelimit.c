/* ratelimit: the token bucket arithmetic at given instants, independent
 * clients, the bounded table and its eviction of the least recently seen
 * client, and exactness under concurrent takes. */
#include "harness.h"
#include "http/ratelimit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

static bool take(struct ratelimit *rl, uint32_t ip, uint64_t t, uint64_t *wait)
{
    return ratelimit_take(rl, &ip, sizeof(ip), t, wait);
}

TEST(burst_then_rate)
{
    struct ratelimit *rl = ratelimit_new(20, 40, 64);
    uint64_t wait = 0;
    CHECK(rl != NULL);
    for (int i = 0; i < 40; i++)
        CHECK_MSG(take(rl, 1, 1000, &wait), "request %d of the burst refused", i);
    CHECK(!take(rl, 1, 1000, &wait));
    CHECK_EQ(wait, 50); /* 20/s: one token every 50 ms */
    CHECK(!take(rl, 1, 1049, &wait));
    CHECK_EQ(wait, 1);
    CHECK(take(rl, 1, 1050, &wait));
    CHECK(!take(rl, 1, 1050, &wait));
    /* 1 s later: 20 more, not 21 */
    int n = 0;
    while (take(rl, 1, 2050, NULL))
        n++;
    CHECK_EQ(n, 20);
    ratelimit_free(rl);
}

TEST(bucket_capped_at_burst)
{
    struct ratelimit *rl = ratelimit_new(20, 40, 64);
    CHECK(take(rl, 7, 0, NULL));
    int n = 0;
    while (take(rl, 7, 3600 * 1000, NULL)) /* an hour idle */
        n++;
    CHECK_EQ(n, 40);
    ratelimit_free(rl);
}

TEST(clients_independent)
{
    struct ratelimit *rl = ratelimit_new(1, 2, 64);
    uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1},
            v6b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    CHECK(take(rl, 1, 0, NULL) && take(rl, 1, 0, NULL) && !take(rl, 1, 0, NULL));
    CHECK(take(rl, 2, 0, NULL) && take(rl, 2, 0, NULL) && !take(rl, 2, 0, NULL));
    CHECK(ratelimit_take(rl, v6a, 16, 0, NULL) && ratelimit_take(rl, v6a, 16, 0, NULL));
    CHECK(!ratelimit_take(rl, v6a, 16, 0, NULL));
    CHECK(ratelimit_take(rl, v6b, 16, 0, NULL));
    CHECK_EQ(ratelimit_clients(rl), 4);
    ratelimit_free(rl);
}

TEST(table_bounded)
{
    struct ratelimit *rl = ratelimit_new(1, 1, 100); /* rounded up to 128 */
    for (uint32_t ip = 0; ip < 100000; ip++)
        take(rl, ip, ip, NULL);
    CHECK(ratelimit_clients(rl) <= 128);
    CHECK(ratelimit_clients(rl) >= 64); /* and actually used */
    ratelimit_free(rl);
}

TEST(evicts_least_recently_seen)
{
    /* capacity == window: every key shares one window of 8 slots */
    struct ratelimit *rl = ratelimit_new(0.001, 1, RATELIMIT_WINDOW);
    for (uint32_t ip = 0; ip < RATELIMIT_WINDOW; ip++)
        CHECK(take(rl, ip, 100 + ip, NULL)); /* each bucket now empty */
    CHECK(!take(rl, 0, 200, NULL));          /* 0 seen again: now the newest */
    CHECK(take(rl, 100, 300, NULL));         /* a 9th client evicts 1, the oldest */
    CHECK_EQ(ratelimit_clients(rl), RATELIMIT_WINDOW);
    CHECK(!take(rl, 0, 400, NULL)); /* 0 kept its empty bucket */
    CHECK(take(rl, 1, 500, NULL));  /* 1 was forgotten: full bucket again */
    CHECK(!take(rl, 7, 600, NULL)); /* the others kept theirs */
    ratelimit_free(rl);
}

TEST(bad_arguments)
{
    CHECK(ratelimit_new(0, 10, 64) == NULL);
    CHECK(ratelimit_new(-1, 10, 64) == NULL);
    CHECK(ratelimit_new(1, 0.5, 64) == NULL);
    CHECK(ratelimit_new(1, 10, RATELIMIT_WINDOW - 1) == NULL);
}

struct hammer {
    struct ratelimit *rl;
    _Atomic int allowed;
};

static void *hammer_fn(void *arg)
{
    struct hammer *h = arg;
    uint32_t ip = 42;
    for (int i = 0; i < 20000; i++)
        if (ratelimit_take(h->rl, &ip, sizeof(ip), 5000, NULL))
            atomic_fetch_add(&h->allowed, 1);
    return NULL;
}

TEST(concurrent_takes_exact)
{
    struct hammer h = {.rl = ratelimit_new(20, 40, 64)};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer_fn, &h);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&h.allowed), 40); /* the burst, once, at one instant */
    ratelimit_free(h.rl);
}

TEST_MAIN(burst_then_rate, bucket_capped_at_burst, clients_independent, table_bounded,
          evicts_least_recently_seen, bad_arguments, concurrent_takes_exact)
