/* memhog: moves its own RSS through a list of targets, for the watermark
 * and OOM tests.
 *
 *   memhog [--wait-file PATH] [--step-ms N] [--hold-ms N] STEP...
 *
 * STEP is a target resident size in MiB (anonymous memory, every page
 * written so that it is really resident), or "oom": grow by 1 MiB every
 * millisecond until the kernel kills the process. Prints "ready <pid>" and
 * waits for PATH to exist (so the test can set a watermark on its pid
 * first), then "step <MiB>" after reaching each target, pausing --step-ms
 * (300) between steps, and finally sleeps --hold-ms (default: until
 * killed).
 *
 * --threads N starts and joins N short-lived threads first (thread exits
 * are not process exits). --leader-exit CODE makes the main thread call
 * pthread_exit() after "ready" while a second thread waits --step-ms and
 * then exit(CODE)s the process: the last thread out is not the leader. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK      (1u << 20)
#define MAX_CHUNKS 65536

static void *chunks[MAX_CHUNKS];
static size_t nchunks;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int grow_one(void)
{
    if (nchunks == MAX_CHUNKS)
        return -1;
    void *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 0x5a, CHUNK);
    chunks[nchunks++] = p;
    return 0;
}

static void resize(size_t mib)
{
    while (nchunks < mib && grow_one() == 0)
        ;
    while (nchunks > mib)
        munmap(chunks[--nchunks], CHUNK);
}

static void *noop(void *arg)
{
    return arg;
}

static long g_step_ms;

static void *exit_later(void *arg)
{
    sleep_ms(g_step_ms);
    exit((int)(long)arg);
}

static void threads(int n)
{
    for (int k = 0; k < n; k++) {
        pthread_t t;
        if (pthread_create(&t, NULL, noop, NULL) == 0)
            pthread_join(t, NULL);
    }
}

int main(int argc, char **argv)
{
    int nthreads = 0;
    long leader_exit = -1;
    const char *wait_file = NULL;
    long step_ms = 300, hold_ms = -1;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--wait-file") == 0)
            wait_file = argv[i + 1];
        else if (strcmp(argv[i], "--step-ms") == 0)
            step_ms = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--hold-ms") == 0)
            hold_ms = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            nthreads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--leader-exit") == 0)
            leader_exit = atol(argv[i + 1]);
    }
    threads(nthreads);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (wait_file && access(wait_file, F_OK) != 0)
        sleep_ms(10);
    if (leader_exit >= 0) {
        pthread_t t;
        g_step_ms = step_ms;
        if (pthread_create(&t, NULL, exit_later, (void *)leader_exit) != 0)
            return 1;
        pthread_exit(NULL);
    }
    for (; i < argc; i++) {
        if (strcmp(argv[i], "oom") == 0) {
            for (;;) {
                grow_one();
                sleep_ms(1);
            }
        }
        resize((size_t)atol(argv[i]));
        printf("step %s\n", argv[i]);
        fflush(stdout);
        if (i + 1 < argc)
            sleep_ms(step_ms);
    }
    if (hold_ms < 0)
        for (;;)
            pause();
    sleep_ms(hold_ms);
    return 0;
}
