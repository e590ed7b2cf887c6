/* pprof_fetch: request targets as Flameshot builds them, and real pulls
 * from a server that listens on 127.0.0.1 inside a network namespace of
 * its own, as uid 65534: nothing on the host's loopback answers, so a
 * pull that succeeds was made from inside. Each type answers its own way
 * (chunked, Content-Length, too large, 404, never), echoing the request
 * target it got. Needs root (a network namespace). */
#include "harness.h"

#include "capture/pprof_fetch.h"
#include "core/units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define NOBODY 65534

TEST(targets_join_the_base_path_and_keep_its_query)
{
    struct httpurl u;
    const char *why;
    char t[256];
    CHECK_EQ(httpurl_parse("http://127.0.0.1:6060", &u, &why), 0);
    CHECK_EQ(pprof_fetch_target(&u, 0, 17000, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/debug/pprof/profile?seconds=17");
    CHECK_EQ(pprof_fetch_target(&u, 1, 17000, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/debug/pprof/goroutine?debug=0");
    CHECK_EQ(pprof_fetch_target(&u, 2, 17000, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/debug/pprof/heap");
    CHECK_EQ(pprof_fetch_target(&u, 4, 17000, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/debug/pprof/block");
    /* Flameshot's own test: base path and token kept, seconds set */
    CHECK_EQ(httpurl_parse("http://127.0.0.1:6060/base/?token=abc&seconds=5", &u, &why), 0);
    CHECK_EQ(pprof_fetch_target(&u, 0, 17500, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/base/debug/pprof/profile?token=abc&seconds=17");
    CHECK_EQ(pprof_fetch_target(&u, 3, 1000, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/base/debug/pprof/mutex?token=abc&seconds=5");
    CHECK_EQ(pprof_fetch_target(&u, 0, 500, t, sizeof(t)), 0);
    CHECK_STREQ(t, "/base/debug/pprof/profile?token=abc&seconds=1");
    CHECK_EQ(pprof_fetch_target(&u, 0, 1000, t, 20), -ENAMETOOLONG);
}

/* ---- a pprof server in a network namespace of its own ---------------------- */

static void lo_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
    close(s);
}

static void say(int fd, const char *text)
{
    send(fd, text, strlen(text), MSG_NOSIGNAL);
}

static void answer(int fd, const char *target)
{
    char buf[512];
    if (strstr(target, "/profile")) {
        int n = (int)strlen(target) + 7;
        snprintf(buf, sizeof(buf),
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\ntarget=\r\n%x\r\n%s\r\n"
                 "0\r\n\r\n",
                 n - 7, target);
        say(fd, buf);
    } else if (strstr(target, "/goroutine")) {
        snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\ntarget=%s",
                 strlen(target) + 7, target);
        say(fd, buf);
    } else if (strstr(target, "/heap")) {
        say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n");
        char big[10000];
        memset(big, 'h', sizeof(big));
        send(fd, big, sizeof(big), MSG_NOSIGNAL);
    } else if (strstr(target, "/mutex")) {
        say(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 16\r\n\r\nUnknown profile\n");
    } else {
        pause(); /* block: never answers */
    }
}

static void serve(int port, int ready)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (unshare(CLONE_NEWNET) < 0)
        _exit(2);
    lo_up();
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 8) < 0)
        _exit(3);
    if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
        _exit(4);
    if (write(ready, "x", 1) != 1)
        _exit(5);
    for (;;) {
        int c = accept(s, NULL, NULL);
        char req[2048] = "", target[512] = "";
        size_t n = 0;
        while (c >= 0 && !strstr(req, "\r\n\r\n") && n < sizeof(req) - 1) {
            ssize_t k = recv(c, req + n, sizeof(req) - 1 - n, 0);
            if (k <= 0)
                break;
            n += (size_t)k;
            req[n] = '\0';
        }
        if (c >= 0 && sscanf(req, "GET %511s HTTP/1.1", target) == 1 && strstr(req, "\r\nHost: ") &&
            strstr(req, "Connection: close"))
            answer(c, target);
        if (c >= 0)
            close(c);
    }
}

struct server {
    pid_t pid;
    int port;
    struct proc_ident id;
};

static int start(struct server *s)
{
    int p[2];
    char c;
    s->port = 20000 + getpid() % 20000;
    if (pipe(p) < 0)
        return -1;
    s->pid = fork();
    if (s->pid == 0) {
        close(p[0]);
        serve(s->port, p[1]);
        _exit(0);
    }
    close(p[1]);
    ssize_t n = read(p[0], &c, 1);
    close(p[0]);
    return n == 1 ? procfs_ident(NULL, s->pid, &s->id) : -1;
}

static void stop(struct server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* 1 if something on the host's loopback accepts on port. */
static int host_listens(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(s, (struct sockaddr *)&a, sizeof(a));
    close(s);
    return rc == 0;
}

TEST(every_type_is_pulled_from_inside_the_targets_network)
{
    NEED(getuid() == 0, "needs root to make a network namespace");
    struct server s;
    CHECK_EQ(start(&s), 0);
    CHECK_EQ(s.id.uid, NOBODY);
    CHECK_MSG(!host_listens(s.port), "port %d answers on the host's loopback", s.port);
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    struct pprof_fetch_req req = {.url = url,
                                  .types = RULE_PPROF_ALL,
                                  .duration_ms = 2000,
                                  .timeout_ms = 1500,
                                  .max_bytes = 4096,
                                  .cancel_fd = -1};
    struct pprof_pull out[RULE_PPROF_N];
    int rc = pprof_fetch(&s.id, &req, out, err, sizeof(err));
    stop(&s);
    CHECK_MSG(rc == 0, "%d: %s", rc, err);
    CHECK_MSG(out[0].rc == 0, "cpu: %s", out[0].error);
    CHECK_EQ(out[0].status, 200);
    CHECK_EQ(out[0].len, strlen("target=/debug/pprof/profile?seconds=2"));
    CHECK(!memcmp(out[0].data, "target=/debug/pprof/profile?seconds=2", out[0].len));
    CHECK(out[0].start_ns && out[0].end_ns >= out[0].start_ns);
    CHECK_MSG(out[1].rc == 0, "goroutine: %s", out[1].error);
    CHECK(!memcmp(out[1].data, "target=/debug/pprof/goroutine?debug=0", out[1].len));
    CHECK_EQ(out[2].rc, -EFBIG);
    CHECK_CONTAINS(out[2].error, "larger than the cap of 4096 bytes");
    CHECK(out[2].data == NULL);
    CHECK_EQ(out[3].rc, -EIO);
    CHECK_EQ(out[3].status, 404);
    CHECK_STREQ(out[3].error, "HTTP 404: Unknown profile ");
    CHECK_EQ(out[4].rc, -ETIMEDOUT);
    pprof_pulls_free(out);
}

static void *cancel_soon(void *arg)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t one = 1;
    if (write(*(int *)arg, &one, sizeof(one)) < 0)
        return NULL;
    return NULL;
}

TEST(a_cancel_ends_a_pull_that_gets_no_answer)
{
    NEED(getuid() == 0, "needs root to make a network namespace");
    struct server s;
    CHECK_EQ(start(&s), 0);
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "http://localhost:%d", s.port);
    int efd = eventfd(0, EFD_CLOEXEC);
    struct pprof_fetch_req req = {.url = url,
                                  .types = RULE_PPROF_BLOCK,
                                  .duration_ms = 1000,
                                  .timeout_ms = 60000,
                                  .cancel_fd = efd};
    struct pprof_pull out[RULE_PPROF_N];
    pthread_t th;
    pthread_create(&th, NULL, cancel_soon, &efd);
    uint64_t t0 = units_now_mono_ms();
    int rc = pprof_fetch(&s.id, &req, out, err, sizeof(err));
    uint64_t took = units_now_mono_ms() - t0;
    pthread_join(th, NULL);
    close(efd);
    stop(&s);
    CHECK_MSG(rc == 0, "%d: %s", rc, err);
    CHECK_EQ(out[4].rc, -ECANCELED);
    CHECK_EQ(out[0].rc, -ENODATA);
    CHECK_MSG(took < 30000, "the pull outlived its cancel: %llu ms", (unsigned long long)took);
    pprof_pulls_free(out);
}

TEST(a_process_that_is_gone_is_not_asked)
{
    struct proc_ident id;
    char err[256] = "";
    struct pprof_pull out[RULE_PPROF_N];
    CHECK_EQ(procfs_ident(NULL, getpid(), &id), 0);
    id.start_time += 1; /* the pid now names another process */
    struct pprof_fetch_req req = {.url = "http://127.0.0.1:6060",
                                  .types = RULE_PPROF_CPU,
                                  .duration_ms = 1000,
                                  .timeout_ms = 1000,
                                  .cancel_fd = -1};
    CHECK_EQ(pprof_fetch(&id, &req, out, err, sizeof(err)), -ESRCH);
    CHECK_CONTAINS(err, "the process is gone");
    CHECK_EQ(out[0].rc, -ENODATA);
    req.url = "https://127.0.0.1:6060";
    id.start_time -= 1;
    CHECK_EQ(pprof_fetch(&id, &req, out, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "https is not supported");
}

TEST_MAIN(targets_join_the_base_path_and_keep_its_query,
          every_type_is_pulled_from_inside_the_targets_network,
          a_cancel_ends_a_pull_that_gets_no_answer, a_process_that_is_gone_is_not_asked)
