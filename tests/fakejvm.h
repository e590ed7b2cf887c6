/* fakejvm: unit tests run tests/helpers/fake_jvm (built by make
 * test-build: $BUILD/tests/helpers/fake_jvm) to exercise the attach client
 * against a process that speaks HotSpot's protocol, starts its listener
 * on SIGQUIT or dies mid-way as asked (see fake_jvm.c's modes).
 *
 *   struct fakejvm f;
 *   NEED(fakejvm_path() != NULL, "run make test-build first");
 *   CHECK_EQ(fakejvm_start(&f, "lazy", "java", NULL), 0);
 *   ... f.pid ...
 *   fakejvm_stop(&f);
 *
 * The process is a grandchild (the agent never takes its own children
 * for targets), runs a copy of the helper named name (the agent knows a
 * JVM by its executable's name) from a private directory, its cwd, with
 * env ("NAME=value" or NULL) added to the environment. */
#ifndef FS_TEST_FAKEJVM_H
#define FS_TEST_FAKEJVM_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fakejvm {
    pid_t pid;
    int out; /* its stdout */
    char dir[64];
};

/* The helper's path, or NULL when it was not built. */
static inline const char *fakejvm_path(void)
{
    static char path[512];
    const char *build = getenv("BUILD");
    snprintf(path, sizeof(path), "%s/tests/helpers/fake_jvm", build && *build ? build : "build");
    return access(path, X_OK) == 0 ? path : NULL;
}

/* In a TEST (harness.h): what every use needs. */
#define NEED_FAKE_JVM()                                                                            \
    do {                                                                                           \
        NEED(geteuid() == 0, "needs root (attach enters the process's namespaces)");               \
        NEED(fakejvm_path() != NULL, "build/tests/helpers/fake_jvm: run make test-build first");   \
    } while (0)

/* Reads its stdout until a line holding text, or secs pass. 0 or -1. */
static inline int fakejvm_wait_output(struct fakejvm *f, const char *text, int secs, char *buf,
                                      size_t cap)
{
    size_t len = strlen(buf);
    time_t end = time(NULL) + secs;
    while (!strstr(buf, text)) {
        struct pollfd p = {.fd = f->out, .events = POLLIN};
        if (time(NULL) > end || poll(&p, 1, 100) < 0)
            return -1;
        if (!(p.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t n = read(f->out, buf + len, cap - len - 1);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return 0;
}

static inline int fakejvm_start(struct fakejvm *f, const char *mode, const char *name,
                                const char *env)
{
    const char *src = fakejvm_path();
    char exe[128], cmd[700];
    int p[2], pp[2];
    memset(f, 0, sizeof(*f));
    f->pid = -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/fs-fakejvm-XXXXXX");
    if (!src || !mkdtemp(f->dir))
        return -1;
    snprintf(exe, sizeof(exe), "%s/%s", f->dir, name);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, exe);
    if (system(cmd) != 0 || pipe(p) < 0 || pipe(pp) < 0)
        return -1;
    pid_t mid = fork();
    if (mid == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            dup2(p[1], 1);
            close(p[0]);
            close(p[1]);
            close(pp[0]);
            close(pp[1]);
            if (chdir(f->dir) < 0)
                _exit(127);
            if (env)
                putenv((char *)env);
            execl(exe, name, mode, (char *)NULL);
            _exit(127);
        }
        ssize_t unused = write(pp[1], &pid, sizeof(pid));
        (void)unused;
        _exit(0);
    }
    close(p[1]);
    close(pp[1]);
    f->out = p[0];
    if (read(pp[0], &f->pid, sizeof(f->pid)) != sizeof(f->pid))
        f->pid = -1;
    close(pp[0]);
    waitpid(mid, NULL, 0);
    char buf[4096] = "";
    return f->pid > 0 && fakejvm_wait_output(f, "fake_jvm ready", 10, buf, sizeof(buf)) == 0 ? 0
                                                                                             : -1;
}

/* 1 once the process has exited (it is not our child: init reaps it). */
static inline int fakejvm_gone(const struct fakejvm *f)
{
    char path[64], state = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)f->pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 1;
    if (fscanf(fp, "%*d %*s %c", &state) != 1)
        state = 'X';
    fclose(fp);
    return state == 'Z' || state == 'X';
}

/* Where its listener's socket is (its /tmp is ours). */
static inline const char *fakejvm_socket(const struct fakejvm *f, char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/.java_pid%d", (int)f->pid);
    return buf;
}

/* A connection to its listener (flags: 0 or SOCK_NONBLOCK): the fd, or
 * -1 with errno. */
static inline int fakejvm_connect(const struct fakejvm *f, int flags)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    fakejvm_socket(f, a.sun_path, sizeof(a.sun_path));
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(s);
        errno = e;
        s = -1;
    }
    return s;
}

/* Whether its listener accepts a connection: a socket file alone may be
 * a stale one, left by a JVM killed earlier that had the same pid. */
static inline bool fakejvm_listening(const struct fakejvm *f)
{
    int s = fakejvm_connect(f, 0);
    if (s >= 0)
        close(s);
    return s >= 0;
}

/* Removes what a JVM of that pid leaves in /tmp when killed (its socket,
 * a trigger file): else they look like those of a later JVM given the
 * same pid. */
static inline void fakejvm_remove_files(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/.java_pid%d", (int)pid);
    unlink(path);
    snprintf(path, sizeof(path), "/tmp/.attach_pid%d", (int)pid);
    unlink(path);
}

static inline void fakejvm_stop(struct fakejvm *f)
{
    char path[128];
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        for (int i = 0; i < 200 && !fakejvm_gone(f); i++)
            usleep(10000);
        fakejvm_remove_files(f->pid);
    }
    if (f->out > 0)
        close(f->out);
    if (f->dir[0]) {
        snprintf(path, sizeof(path), "rm -rf '%s'", f->dir);
        if (system(path) != 0)
            f->dir[0] = '\0';
    }
    f->pid = -1;
}

#endif
