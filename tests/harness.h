/* harness: a tiny TAP-producing test runner for unit and integration tests
 * written in C. Each test is a function; a failed CHECK stops that test.
 *
 *   TEST(parses_durations) { CHECK_EQ(parse("1s"), 1000); }
 *   TEST_MAIN(parses_durations)
 *
 * Output lines: "ok N - name", "not ok N - name # file:line: what",
 * "ok N - name # SKIP why". tests/run.sh counts them.
 *
 * NEED(cond, why): a capability the test requires (root, BPF, a JVM...).
 * Without it the test is skipped, except under CI=true where a missing
 * capability is a failure: CI machines are expected to have everything. */
#ifndef FS_TEST_HARNESS_H
#define FS_TEST_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Joins th if it returns within secs: a test of a bound fails (instead of
 * hanging) when the code under test blocks past it. */
static inline bool t_joined_within(pthread_t th, int secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    return pthread_timedjoin_np(th, NULL, &ts) == 0;
}

struct t_state {
    int failed;
    int skipped;
    char why[1024];
};

typedef void (*t_fn)(struct t_state *);

#define TEST(name) static void name(struct t_state *t_)

#define T_FAIL_(...)                                                                               \
    do {                                                                                           \
        int tn_ = snprintf(t_->why, sizeof(t_->why), "%s:%d: ", __FILE__, __LINE__);               \
        snprintf(t_->why + tn_, sizeof(t_->why) - (size_t)tn_, __VA_ARGS__);                       \
        t_->failed = 1;                                                                            \
        return;                                                                                    \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            T_FAIL_("CHECK(%s)", #cond);                                                           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            T_FAIL_(__VA_ARGS__);                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            T_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                     \
    } while (0)

#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            T_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *nd_ = (needle);                                                   \
        if (!h_ || !strstr(h_, nd_))                                                               \
            T_FAIL_("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", nd_);                    \
    } while (0)

#define NEED(cond, reason)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            const char *ci_ = getenv("CI");                                                        \
            if (ci_ && strcmp(ci_, "true") == 0)                                                   \
                T_FAIL_("missing capability under CI=true: %s", reason);                           \
            snprintf(t_->why, sizeof(t_->why), "%s", reason);                                      \
            t_->skipped = 1;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* "java -jar a.jar" -> "java\0-jar\0a.jar\0", as /proc/<pid>/cmdline holds
 * it (for tests; no quoting). Returns the length including the last NUL. */
/* Captures what the process writes to fd 2 (where the logger writes)
 * between t_stderr_begin() and t_stderr_end(), which returns it (a static
 * buffer, at most 8 KiB) and restores fd 2. */
static int t_saved_stderr_ = -1, t_capture_fd_ = -1;
static inline void t_stderr_begin(void)
{
    char path[] = "/tmp/fs-test-stderr-XXXXXX";
    t_capture_fd_ = mkstemp(path);
    if (t_capture_fd_ < 0)
        return;
    unlink(path);
    t_saved_stderr_ = dup(2);
    dup2(t_capture_fd_, 2);
}
static inline const char *t_stderr_end(void)
{
    static char buf[8192];
    buf[0] = '\0';
    if (t_capture_fd_ < 0)
        return buf;
    dup2(t_saved_stderr_, 2);
    close(t_saved_stderr_);
    ssize_t n = pread(t_capture_fd_, buf, sizeof(buf) - 1, 0);
    close(t_capture_fd_);
    t_capture_fd_ = -1;
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static inline size_t t_argv(const char *spaced, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *spaced && n + 1 < cap; spaced++)
        buf[n++] = *spaced == ' ' ? '\0' : *spaced;
    buf[n++] = '\0';
    return n;
}

static inline int t_run_(const char *names, t_fn *fns, int n)
{
    int failed = 0;
    char *list = strdup(names), *save = NULL;
    const char *only = getenv("TEST_ONLY");
    printf("1..%d\n", n);
    char *name = strtok_r(list, ", ", &save);
    for (int i = 0; i < n; i++, name = strtok_r(NULL, ", ", &save)) {
        struct t_state st = {0};
        if (only && *only && !strstr(name, only)) {
            printf("ok %d - %s # SKIP not selected by TEST_ONLY\n", i + 1, name);
            continue;
        }
        fflush(stdout);
        fns[i](&st);
        if (st.failed) {
            printf("not ok %d - %s # %s\n", i + 1, name, st.why);
            failed++;
        } else if (st.skipped) {
            printf("ok %d - %s # SKIP %s\n", i + 1, name, st.why);
        } else {
            printf("ok %d - %s\n", i + 1, name);
        }
        fflush(stdout);
    }
    free(list);
    return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                             \
    int main(void)                                                                                 \
    {                                                                                              \
        t_fn fns_[] = {__VA_ARGS__};                                                               \
        return t_run_(#__VA_ARGS__, fns_, (int)(sizeof(fns_) / sizeof(fns_[0])));                  \
    }

#endif
