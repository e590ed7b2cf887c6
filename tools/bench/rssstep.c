/* tools/bench/rssstep: the load of tools/bench/detect. Crosses an RSS
 * threshold upward N times, each time saying on stdout when it passed it:
 *
 *     rssstep THRESHOLD_MB CROSSINGS HOLD_MS GAP_MS
 *
 * Each crossing: fault in anonymous memory up to 8 MiB below the threshold
 * (MAP_POPULATE, one call), read the RSS the kernel counts (/proc/self/statm:
 * file, anonymous and shared pages, as rss_stat does), then touch fresh pages
 * one by one; right after the page that brings the RSS to the threshold it
 * reads CLOCK_MONOTONIC and prints
 *
 *     cross I MONO_NS RSS_BYTES
 *
 * then touches 2 MiB more (clearly above it), holds HOLD_MS (a poller must
 * see it), unmaps everything (back to its baseline, below the watermark's
 * re-arm band) and waits GAP_MS (the rule's cooldown) before the next one.
 * "ready PID BASELINE_RSS" comes first, "done" last. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rss_bytes(void)
{
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One crossing of threshold; returns 0 or -1. */
static int cross(int i, uint64_t threshold, unsigned hold_ms)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t base = rss_bytes();
    uint64_t bulk = threshold > base + 8 * MIB ? threshold - base - 8 * MIB : 0;
    uint64_t fine = threshold - base - bulk + 2 * MIB + 16 * page;
    char *a = NULL;
    if (bulk) {
        a = mmap(NULL, bulk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
                 0);
        if (a == MAP_FAILED)
            return -1;
    }
    char *b = mmap(NULL, fine, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        return -1;
    uint64_t rss = rss_bytes(), at = 0, off;
    for (off = 0; off < fine && rss + off < threshold; off += page)
        b[off] = 1;
    at = mono_ns();
    printf("cross %d %llu %llu\n", i, (unsigned long long)at, (unsigned long long)(rss + off));
    fflush(stdout);
    for (; off < fine; off += page)
        b[off] = 1;
    sleep_ms(hold_ms);
    munmap(b, fine);
    if (bulk)
        munmap(a, bulk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: rssstep THRESHOLD_MB CROSSINGS HOLD_MS GAP_MS\n");
        return 2;
    }
    uint64_t threshold = strtoull(argv[1], NULL, 10) * MIB;
    int n = atoi(argv[2]);
    unsigned hold = (unsigned)atoi(argv[3]), gap = (unsigned)atoi(argv[4]);
    printf("ready %d %llu\n", getpid(), (unsigned long long)rss_bytes());
    fflush(stdout);
    /* the bench starts the crossings once the agent watches this process */
    if (getchar() == EOF)
        return 1;
    for (int i = 1; i <= n; i++) {
        if (cross(i, threshold, hold) < 0) {
            perror("rssstep");
            return 1;
        }
        sleep_ms(gap);
    }
    printf("done\n");
    fflush(stdout);
    return 0;
}
