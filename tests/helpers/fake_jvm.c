/* fake_jvm: what a container's user can run instead of a JVM to make the
 * agent copy more than it should. It looks like a HotSpot JVM to the agent
 * (a file named libjvm.so is mapped, SIGQUIT is caught) and serves the
 * attach protocol on /tmp/.java_pid<its pid> as its own uid, like
 * HotSpot's listener (attachListener_linux.cpp): a request is
 * "1\0<cmd>\0<arg0>\0<arg1>\0<arg2>\0", a reply "<status>\n<output>".
 *
 *   fake_jvm stream       every jcmd command answers status 0, then thread
 *                         dump lines without end, until the reader leaves
 *   fake_jvm sparse-jfr   VM.version answers as JDK 17; JFR.start makes its
 *                         filename= a sparse file of 4 TiB (no blocks) and
 *                         answers like HotSpot; JFR.stop answers 0
 *   fake_jvm exit-on-jfr  VM.version answers as JDK 17; JFR.start ends the
 *                         whole process (SIGKILL) before any reply, as a
 *                         JVM that exits while a profile starts
 *   fake_jvm exit-on-jcmd the same for every jcmd but VM.version: a JVM
 *                         killed while it runs a snapshot command
 *   fake_jvm drop         reads each request and closes the connection
 *                         without a reply, alive (HotSpot's answer to a
 *                         peer whose uid/gid differ)
 *   fake_jvm lazy         no listener until a SIGQUIT finds
 *                         .attach_pid<pid> in its cwd or /tmp, as HotSpot
 *                         (any other SIGQUIT prints "thread dump"); then
 *                         as exit-on-jfr without the exit
 *   fake_jvm exit-on-quit no listener; the first SIGQUIT kills it, as a JVM
 *                         that dies while its listener is starting
 *   fake_jvm die-in-dump  Thread.print answers status 0 and the first
 *                         threads of a dump, then the whole process is
 *                         killed (SIGKILL), as by the kernel's OOM killer,
 *                         before the dump's last line; other commands get
 *                         no reply (their connection ends with the process)
 *   fake_jvm whole        Thread.print and GC.class_histogram answer whole
 *                         replies as HotSpot prints them (last lines
 *                         included)
 *   fake_jvm hang-dump    GC.heap_dump gets no reply until the reader
 *                         leaves, as a dump that outlasts its timeout;
 *                         other commands answer status 0
 *
 * FAKE_JVM_LISTENER_DELAY_MS in the environment makes lazy and
 * exit-on-quit wait that long after the trigger before listening, as a
 * JVM whose Attach Listener thread is slow to start.
 *
 * In every mode `jcmd fake.sigquits` answers how many SIGQUITs the
 * process has received. Prints "fake_jvm ready <pid>" once the socket
 * listens (lazy, exit-on-quit: once SIGQUIT is caught); every request is
 * logged on stdout ("request <cmd> <arg0>"). One process per connection. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SPARSE_SIZE (4ll << 40)
#define REQ_PARTS   5

static volatile sig_atomic_t quits; /* SIGQUITs received */
static const char *mode = "";

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int say(int fd, const char *text)
{
    return write_all(fd, text, strlen(text));
}

/* Maps a file named libjvm.so, which is what the agent looks for in
 * /proc/<pid>/maps before it treats a process as a HotSpot JVM. */
static int map_libjvm(void)
{
    static char page[4096];
    if (mkdir("/tmp/.fake_jvm", 0755) < 0 && errno != EEXIST)
        return -1;
    int fd = open("/tmp/.fake_jvm/libjvm.so", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, page, sizeof(page)) < 0)
        return -1;
    void *m = mmap(NULL, sizeof(page), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    return m == MAP_FAILED ? -1 : 0;
}

/* Reads one request into buf; fills parts[]. 0, or -1 on EOF/garbage. */
static int read_request(int c, char *buf, size_t cap, const char *parts[REQ_PARTS])
{
    size_t len = 0, nul = 0;
    while (nul < REQ_PARTS && len < cap) {
        ssize_t n = read(c, buf + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (buf[len++] == '\0')
            nul++;
    }
    if (nul < REQ_PARTS)
        return -1;
    const char *p = buf;
    for (int i = 0; i < REQ_PARTS; i++) {
        parts[i] = p;
        p += strlen(p) + 1;
    }
    return 0;
}

static void stream_forever(int c)
{
    static char chunk[65536];
    size_t len = 0;
    for (unsigned long i = 0; len + 160 < sizeof(chunk); i++)
        len += (size_t)snprintf(chunk + len, sizeof(chunk) - len,
                                "\"fake-%lu\" #%lu prio=5 os_prio=0 nid=0x%lx runnable\n"
                                "   java.lang.Thread.State: RUNNABLE\n",
                                i, i, i);
    if (say(c, "0\n") < 0)
        return;
    while (write_all(c, chunk, len) == 0)
        ; /* until the reader leaves */
}

/* JFR.start name=... settings=... duration=... filename=<path> */
static void plant_sparse_jfr(int c, const char *cmdline)
{
    const char *f = strstr(cmdline, "filename=");
    char path[1024] = "";
    if (f)
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(f + 9, " "), f + 9);
    int fd = path[0] ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd < 0 || ftruncate(fd, SPARSE_SIZE) < 0) {
        dprintf(c, "1\njava.lang.IllegalArgumentException: cannot write %s\n", path);
        return;
    }
    close(fd);
    dprintf(c, "0\nStarted recording 1. The result will be written to:\n\n%s\n", path);
}

static const char dump_head[] =
    "2026-05-07 10:36:59\n"
    "Full thread dump OpenJDK 64-Bit Server VM (17.0.99+0-fake):\n\n"
    "\"main\" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 waiting on condition\n"
    "   java.lang.Thread.State: TIMED_WAITING (sleeping)\n\n"
    "\"leaker\" #12 prio=5 os_prio=0 tid=0x3 nid=0x4 runnable\n"
    "   java.lang.Thread.State: RUNNABLE\n\n";

/* Waits (at most 10 s) until the process that accepted the connection
 * (this handler's parent, the "JVM") is gone. */
static void await_jvm_death(pid_t jvm)
{
    for (int i = 0; i < 10000 && getppid() == jvm; i++)
        usleep(1000);
}

/* die-in-dump: the kill lands in the middle of Thread.print. */
static void die_in_dump(int c, const char *cmdline)
{
    pid_t jvm = getppid();
    if (strncmp(cmdline, "Thread.print", 12) == 0 && say(c, "0\n") == 0 && say(c, dump_head) == 0)
        kill(jvm, SIGKILL);
    await_jvm_death(jvm); /* the connection closes with the process, not before */
}

static void whole(int c, const char *cmdline)
{
    if (strncmp(cmdline, "Thread.print", 12) == 0 && say(c, "0\n") == 0 && say(c, dump_head) == 0)
        say(c, "JNI global refs: 15, weak refs: 0\n\n");
    else if (strncmp(cmdline, "GC.class_histogram", 18) == 0)
        say(c, "0\n num     #instances         #bytes  class name (module)\n"
               "-------------------------------------------------------\n"
               "   1:           300      314572800  [B (java.base@17.0.99)\n"
               "Total           300      314572800\n");
    else
        say(c, "0\n");
}

/* hang-dump: the connection stays open, unanswered, until the agent
 * gives up on it. */
static void await_reader_gone(int c)
{
    char b[256];
    while (read(c, b, sizeof(b)) > 0)
        ;
}

static void serve(int c)
{
    char buf[8192];
    const char *parts[REQ_PARTS];
    if (read_request(c, buf, sizeof(buf), parts) < 0)
        return; /* a connect without a request: the agent checking the listener */
    printf("request %s %s\n", parts[1], parts[2]);
    fflush(stdout);
    if (strcmp(parts[1], "jcmd") != 0) {
        say(c, "0\nreturn code: -1\n");
        return;
    }
    if (strncmp(parts[2], "VM.version", 10) == 0)
        say(c, "0\nOpenJDK 64-Bit Server VM version 17.0.99+0-fake\nJDK 17.0.99\n");
    else if (strcmp(parts[2], "fake.sigquits") == 0)
        dprintf(c, "0\n%d\n", (int)quits); /* counted before this connection was accepted */
    else if (strcmp(mode, "drop") == 0)
        return;
    else if (strcmp(mode, "exit-on-jcmd") == 0)
        kill(getppid(), SIGKILL), _exit(0);
    else if (strcmp(mode, "stream") == 0)
        stream_forever(c);
    else if (strcmp(mode, "die-in-dump") == 0)
        die_in_dump(c, parts[2]);
    else if (strcmp(mode, "whole") == 0)
        whole(c, parts[2]);
    else if (strcmp(mode, "hang-dump") == 0 && strncmp(parts[2], "GC.heap_dump", 12) == 0)
        await_reader_gone(c);
    else if (strcmp(mode, "exit-on-jfr") == 0 && strncmp(parts[2], "JFR.start", 9) == 0)
        kill(getppid(), SIGKILL), _exit(0);
    else if (strncmp(parts[2], "JFR.start", 9) == 0)
        plant_sparse_jfr(c, parts[2]);
    else
        say(c, "0\n");
}

static void on_quit(int sig)
{
    (void)sig; /* caught, as HotSpot catches it: the agent checks SigCgt */
    quits++;
    if (strcmp(mode, "exit-on-quit") == 0)
        kill(getpid(), SIGKILL);
}

/* HotSpot's AttachListener::is_init_trigger: a SIGQUIT starts the
 * listener when .attach_pid<pid> is in the cwd or /tmp. */
static void wait_trigger(void)
{
    sigset_t quit, old;
    sigemptyset(&quit);
    sigaddset(&quit, SIGQUIT);
    sigprocmask(SIG_BLOCK, &quit, &old);
    char cwd[64], tmp[64];
    snprintf(cwd, sizeof(cwd), ".attach_pid%d", (int)getpid());
    snprintf(tmp, sizeof(tmp), "/tmp/.attach_pid%d", (int)getpid());
    for (int seen = 0;; seen = quits) {
        while (quits == seen)
            sigsuspend(&old);
        if (access(cwd, F_OK) == 0 || access(tmp, F_OK) == 0)
            break;
        printf("thread dump\n");
        fflush(stdout);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static const char *const modes[] = {"stream", "sparse-jfr", "exit-on-jfr",  "exit-on-jcmd",
                                    "drop",   "lazy",       "exit-on-quit", "die-in-dump",
                                    "whole",  "hang-dump"};

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "";
    size_t m = 0;
    while (m < sizeof(modes) / sizeof(modes[0]) && strcmp(mode, modes[m]) != 0)
        m++;
    if (m == sizeof(modes) / sizeof(modes[0])) {
        fprintf(stderr, "usage: fake_jvm stream|sparse-jfr|exit-on-jfr|exit-on-jcmd|drop|lazy|"
                        "exit-on-quit|die-in-dump|whole|hang-dump\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* connection handlers reap themselves */
    signal(SIGQUIT, on_quit);
    if (map_libjvm() < 0) {
        perror("fake_jvm: libjvm.so");
        return 1;
    }
    if (strcmp(mode, "lazy") == 0 || strcmp(mode, "exit-on-quit") == 0) {
        printf("fake_jvm ready %d\n", (int)getpid());
        fflush(stdout);
        wait_trigger();
        const char *delay = getenv("FAKE_JVM_LISTENER_DELAY_MS");
        if (delay)
            usleep((useconds_t)atoi(delay) * 1000);
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/.java_pid%d", (int)getpid());
    unlink(a.sun_path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(a.sun_path, 0600) < 0 ||
        listen(s, 16) < 0) {
        perror("fake_jvm: listen");
        return 1;
    }
    if (strcmp(mode, "lazy") != 0) {
        printf("fake_jvm ready %d\n", (int)getpid());
        fflush(stdout);
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            close(s);
            serve(c);
            _exit(0);
        }
        close(c);
    }
}
