/* kube_server: tests/lib/kubeapi_server.py (python3's http.server and ssl,
 * a CA made by openssl per run) as a child of a kube unit test. */
#ifndef FS_TEST_KUBE_SERVER_H
#define FS_TEST_KUBE_SERVER_H

#include "core/fsutil.h"
#include "core/units.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct server {
    pid_t pid;
    char dir[64]; /* made by server_start when empty; kept by server_kill */
    char url[64];
    int port;         /* 0: any (set by server_start) */
    bool live;        /* --live: the watcher tests' scripted server */
    const char *pods; /* --pods FILE (live, from these Pods); NULL: not */
    const char *node; /* --node NAME; NULL: the server's default, worker-2 */
};

#define WAIT_MS 20000 /* any one condition; far above what it takes */

static inline void tick(void)
{
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
}

/* Polls cond every 5 ms until it holds or WAIT_MS passed (a failure). */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        uint64_t until_ = units_now_mono_ms() + WAIT_MS;                                           \
        while (!(cond) && units_now_mono_ms() < until_)                                            \
            tick();                                                                                \
        CHECK_MSG(cond, "timed out waiting for %s", #cond);                                        \
    } while (0)

static inline bool have(const char *cmd)
{
    char sh[128];
    snprintf(sh, sizeof(sh), "command -v %s >/dev/null 2>&1", cmd);
    return system(sh) == 0;
}

/* Starts the server (again on s->port in s->dir when they are set) and
 * waits (up to 60 s) for its "PORT n" line. */
static inline int server_start(struct server *s)
{
    if (!s->dir[0]) {
        snprintf(s->dir, sizeof(s->dir), "/tmp/fs-kubeapi-XXXXXX");
        if (!mkdtemp(s->dir))
            return -errno;
    }
    int fds[2];
    if (pipe(fds) != 0)
        return -errno;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        const char *argv[12] = {"python3", "tests/lib/kubeapi_server.py", s->dir, "--port", port};
        int n = 5;
        if (s->live)
            argv[n++] = "--live";
        if (s->pods) {
            argv[n++] = "--pods";
            argv[n++] = s->pods;
        }
        if (s->node) {
            argv[n++] = "--node";
            argv[n++] = s->node;
        }
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = "";
    size_t n = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    while (n < sizeof(line) - 1 && !strchr(line, '\n') && poll(&p, 1, 60000) == 1) {
        ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
    }
    close(fds[0]);
    if (sscanf(line, "PORT %d", &s->port) != 1)
        return -EIO;
    snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
    return 0;
}

/* Ends the server, keeping its directory. Returns 0 when it was still
 * serving (it dies of our SIGTERM, not of an error of its own before). */
static inline int server_kill(struct server *s)
{
    int st = 0, rc = -ESRCH;
    if (s->pid > 0 && kill(s->pid, SIGTERM) == 0 && waitpid(s->pid, &st, 0) == s->pid)
        rc = WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? 0 : -ECHILD;
    s->pid = 0;
    return rc;
}

/* server_kill, and its directory removed. */
static inline int server_stop(struct server *s)
{
    int rc = server_kill(s);
    char sh[128];
    snprintf(sh, sizeof(sh), "rm -rf %s", s->dir);
    if (system(sh) != 0)
        fprintf(stderr, "# could not remove %s\n", s->dir);
    return rc;
}

static inline void write_file(const char *dir, const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* DIR/requests.log: "<status> <path>" per request (malloc'd) */
static inline char *requests(const struct server *s)
{
    char path[128], *buf = NULL;
    size_t n;
    snprintf(path, sizeof(path), "%s/requests.log", s->dir);
    if (fsutil_read_all(path, 1 << 20, &buf, &n) != 0)
        return strdup("");
    return buf;
}

static inline int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

#endif
