/* http_flood: load and connection-limit driver for the HTTP API tests.
 *
 *   http_flood flood --port P --clients N --conns C --requests R
 *                    [--first-source K] [--token T] PATH...
 *     N clients, each a thread with its own source address 127.0.0.K+i
 *     (the rate limiter's key) and C concurrent keep-alive connections
 *     (libcurl multi), send R requests in all, cycling through PATHs. Prints
 *     one JSON object: totals per status code, transport errors (with the
 *     first message), the slowest answer, the same per client and the codes
 *     per path. --until-refused: a client stops at its first transport
 *     error (the server went away) instead of going on.
 *
 *   http_flood hold --port P --first-source K --sources N --conns C
 *                   [--wait-ms W] [--late-ms L]
 *     Opens C raw TCP connections from each of N source addresses and sends
 *     nothing. After W ms counts how many the server has closed (its
 *     connection limits), after L ms more how many are still open (its
 *     idle timeout). Prints one JSON object.
 *
 * Exit status 0 when it could run (the test judges the numbers), 2 on bad
 * usage. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS   16
#define MAX_CLIENTS 64
#define MAX_CONNS   64

struct opts {
    int port, clients, conns, requests, first_source, sources, wait_ms, late_ms;
    bool until_refused;
    const char *token;
    const char *paths[MAX_PATHS];
    int n_paths;
};

struct client {
    const struct opts *o;
    int idx, todo;
    char source[32];
    long codes[600];
    long path_codes[MAX_PATHS][600];
    long errors;
    bool stop;
    char first_error[CURL_ERROR_SIZE];
    double max_ms;
    pthread_t th;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

struct slot {
    CURL *e;
    int path;
    double start;
    char errbuf[CURL_ERROR_SIZE];
};

static void prepare(struct client *c, struct slot *s, struct curl_slist *hdr, int seq)
{
    char url[512], iface[48];
    const struct opts *o = c->o;
    s->path = (c->idx + seq) % o->n_paths;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", o->port, o->paths[s->path]);
    snprintf(iface, sizeof(iface), "host!%s", c->source);
    curl_easy_setopt(s->e, CURLOPT_URL, url);
    curl_easy_setopt(s->e, CURLOPT_INTERFACE, iface);
    curl_easy_setopt(s->e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->e, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(s->e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->e, CURLOPT_PRIVATE, s);
    if (hdr)
        curl_easy_setopt(s->e, CURLOPT_HTTPHEADER, hdr);
    s->errbuf[0] = '\0';
    s->start = now_ms();
}

static void finished(struct client *c, CURLMsg *msg)
{
    struct slot *s = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    double ms = now_ms() - s->start;
    if (ms > c->max_ms)
        c->max_ms = ms;
    long code = 0;
    if (msg->data.result == CURLE_OK &&
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
        code > 0 && code < 600) {
        c->codes[code]++;
        c->path_codes[s->path][code]++;
        return;
    }
    c->stop = c->o->until_refused;
    if (!c->errors++)
        snprintf(c->first_error, sizeof(c->first_error), "%s",
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror(msg->data.result));
}

static void *client_run(void *arg)
{
    struct client *c = arg;
    const struct opts *o = c->o;
    struct slot slots[MAX_CONNS];
    struct curl_slist *hdr = NULL;
    char auth[512];
    if (o->token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
        hdr = curl_slist_append(NULL, auth);
    }
    CURLM *m = curl_multi_init();
    int sent = 0, done = 0, running = 0;
    for (int i = 0; i < o->conns && sent < c->todo; i++, sent++) {
        slots[i].e = curl_easy_init();
        prepare(c, &slots[i], hdr, sent);
        curl_multi_add_handle(m, slots[i].e);
    }
    int n_slots = sent;
    while (done < sent) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            finished(c, msg);
            curl_multi_remove_handle(m, e);
            done++;
            if (sent < c->todo && !c->stop) {
                struct slot *s = NULL;
                curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
                prepare(c, s, hdr, sent++);
                curl_multi_add_handle(m, e);
            }
        }
        if (done < sent)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < n_slots; i++)
        curl_easy_cleanup(slots[i].e);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    return NULL;
}

static void print_codes(const long *codes)
{
    bool first = true;
    printf("{");
    for (int i = 0; i < 600; i++)
        if (codes[i]) {
            printf("%s\"%d\":%ld", first ? "" : ",", i, codes[i]);
            first = false;
        }
    printf("}");
}

static int flood(const struct opts *o)
{
    static struct client cl[MAX_CLIENTS];
    long codes[600] = {0}, errors = 0;
    double max_ms = 0, t0 = now_ms();
    const char *first_error = "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < o->clients; i++) {
        cl[i] = (struct client){.o = o, .idx = i};
        cl[i].todo = o->requests / o->clients + (i < o->requests % o->clients);
        snprintf(cl[i].source, sizeof(cl[i].source), "127.0.0.%d", o->first_source + i);
        pthread_create(&cl[i].th, NULL, client_run, &cl[i]);
    }
    for (int i = 0; i < o->clients; i++) {
        pthread_join(cl[i].th, NULL);
        for (int k = 0; k < 600; k++)
            codes[k] += cl[i].codes[k];
        errors += cl[i].errors;
        if (cl[i].errors && !first_error[0])
            first_error = cl[i].first_error;
        if (cl[i].max_ms > max_ms)
            max_ms = cl[i].max_ms;
    }
    printf("{\"requests\":%d,\"elapsed_ms\":%.0f,\"max_ms\":%.1f,\"errors\":%ld,"
           "\"first_error\":\"%s\",\"codes\":",
           o->requests, now_ms() - t0, max_ms, errors, first_error);
    print_codes(codes);
    printf(",\"clients\":[");
    for (int i = 0; i < o->clients; i++) {
        printf("%s{\"source\":\"%s\",\"errors\":%ld,\"max_ms\":%.1f,\"codes\":", i ? "," : "",
               cl[i].source, cl[i].errors, cl[i].max_ms);
        print_codes(cl[i].codes);
        printf("}");
    }
    printf("],\"paths\":[");
    for (int p = 0; p < o->n_paths; p++) {
        long pc[600] = {0};
        for (int i = 0; i < o->clients; i++)
            for (int k = 0; k < 600; k++)
                pc[k] += cl[i].path_codes[p][k];
        printf("%s{\"path\":\"%s\",\"codes\":", p ? "," : "", o->paths[p]);
        print_codes(pc);
        printf("}");
    }
    printf("]}\n");
    curl_global_cleanup();
    return 0;
}

static int connect_from(const char *src, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET}, d = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    inet_pton(AF_INET, src, &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    d.sin_port = htons((uint16_t)port);
    if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
                    connect(fd, (struct sockaddr *)&d, sizeof(d)) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A connection the server closed reads as EOF (or a reset). */
static bool closed_by_server(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int count_closed(const int *fds, int n)
{
    int closed = 0;
    for (int i = 0; i < n; i++)
        closed += fds[i] >= 0 && closed_by_server(fds[i]);
    return closed;
}

static int hold(const struct opts *o)
{
    int n = o->sources * o->conns, failed = 0;
    int *fds = calloc((size_t)n, sizeof(int));
    if (!fds)
        return 1;
    for (int s = 0; s < o->sources; s++) {
        char src[32];
        snprintf(src, sizeof(src), "127.0.0.%d", o->first_source + s);
        for (int i = 0; i < o->conns; i++) {
            int fd = connect_from(src, o->port);
            fds[s * o->conns + i] = fd;
            failed += fd < 0;
        }
    }
    usleep((useconds_t)o->wait_ms * 1000);
    int early = count_closed(fds, n);
    usleep((useconds_t)o->late_ms * 1000);
    int late = count_closed(fds, n);
    printf("{\"opened\":%d,\"connect_failed\":%d,\"closed_early\":%d,\"open_early\":%d,"
           "\"closed_late\":%d,\"open_late\":%d}\n",
           n - failed, failed, early, n - failed - early, late, n - failed - late);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: http_flood flood --port P --clients N --conns C --requests R "
                    "[--first-source K] [--token T] [--until-refused] PATH...\n"
                    "       http_flood hold --port P --first-source K --sources N --conns C "
                    "[--wait-ms W] [--late-ms L]\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *num = !strcmp(a, "--port")           ? &o->port
                   : !strcmp(a, "--clients")      ? &o->clients
                   : !strcmp(a, "--conns")        ? &o->conns
                   : !strcmp(a, "--requests")     ? &o->requests
                   : !strcmp(a, "--first-source") ? &o->first_source
                   : !strcmp(a, "--sources")      ? &o->sources
                   : !strcmp(a, "--wait-ms")      ? &o->wait_ms
                   : !strcmp(a, "--late-ms")      ? &o->late_ms
                                                  : NULL;
        if (num && v) {
            *num = atoi(v);
            i++;
        } else if (!strcmp(a, "--until-refused")) {
            o->until_refused = true;
        } else if (!strcmp(a, "--token") && v) {
            o->token = v;
            i++;
        } else if (a[0] == '/' && o->n_paths < MAX_PATHS) {
            o->paths[o->n_paths++] = a;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.clients = 1, .conns = 1, .requests = 1, .first_source = 2, .sources = 1};
    if (argc < 2 || parse_args(argc, argv, &o) < 0 || o.port <= 0 || o.first_source < 1 ||
        o.clients < 1 || o.clients > MAX_CLIENTS || o.first_source + o.clients > 255 ||
        o.conns < 1 || o.conns > MAX_CONNS || o.sources < 1)
        return usage();
    if (!strcmp(argv[1], "flood"))
        return o.n_paths ? flood(&o) : usage();
    if (!strcmp(argv[1], "hold"))
        return hold(&o);
    return usage();
}
