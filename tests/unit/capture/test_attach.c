/* attach protocol pieces that need no JVM: request framing, the status
 * line, `load` results as JDK 8, 9-20 and 21+ send them, VM.version, and
 * the jvm.c parsers that decide whether a process may be signalled; then,
 * against tests/helpers/fake_jvm, what a JVM dying mid-attach is reported
 * as, the listener started ahead of need (attach_prewarm), and attaches
 * racing to start it (one SIGQUIT). */
#include "capture/attach.h"
#include "fakejvm.h"
#include "harness.h"
#include "capture/jvm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

TEST(frame_jcmd_pads_to_five_strings)
{
    char buf[4096], err[256];
    size_t len = 0;
    const char *args[3] = {"GC.class_histogram", NULL, NULL};
    CHECK_EQ(attach_frame("jcmd", args, buf, sizeof(buf), &len, err, sizeof(err)), 0);
    static const char want[] = "1\0jcmd\0GC.class_histogram\0\0";
    CHECK_EQ(len, sizeof(want)); /* the literal's own NUL is the fifth terminator */
    CHECK(memcmp(buf, want, sizeof(want)) == 0);
}

TEST(frame_load_three_args)
{
    char buf[4096], err[256];
    size_t len = 0;
    const char *args[3] = {"/tmp/lib.so", "true", "start,event=cpu,file=/tmp/x.jfr"};
    CHECK_EQ(attach_frame("load", args, buf, sizeof(buf), &len, err, sizeof(err)), 0);
    static const char want[] = "1\0load\0/tmp/lib.so\0true\0start,event=cpu,file=/tmp/x.jfr";
    CHECK_EQ(len, sizeof(want));
    CHECK(memcmp(buf, want, sizeof(want)) == 0);
}

TEST(frame_limits)
{
    char buf[8192], err[256], big[1100];
    size_t len;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *args[3] = {big, NULL, NULL};
    CHECK_EQ(attach_frame("jcmd", args, buf, sizeof(buf), &len, err, sizeof(err)), -E2BIG);
    CHECK_CONTAINS(err, "1024");
    big[1024] = '\0'; /* exactly arg_length_max is accepted */
    CHECK_EQ(attach_frame("jcmd", args, buf, sizeof(buf), &len, err, sizeof(err)), 0);
    CHECK_EQ(attach_frame("", args, buf, sizeof(buf), &len, err, sizeof(err)), -EINVAL);
    CHECK_EQ(attach_frame("a_name_longer_than_16", args, buf, sizeof(buf), &len, err, sizeof(err)),
             -EINVAL);
    CHECK_EQ(attach_frame("jcmd", args, buf, 64, &len, err, sizeof(err)), -E2BIG);
}

TEST(status_line)
{
    int code = 99;
    CHECK_EQ(attach_parse_status("0\nOpenJDK", 9, &code), 2);
    CHECK_EQ(code, 0);
    CHECK_EQ(attach_parse_status("-1\njava.lang.Ill", 16, &code), 3);
    CHECK_EQ(code, -1);
    CHECK_EQ(attach_parse_status("101\n", 4, &code), 4);
    CHECK_EQ(code, 101);
    CHECK_EQ(attach_parse_status("10", 2, &code), 0); /* incomplete */
    CHECK_EQ(attach_parse_status("x\n", 2, &code), -EPROTO);
    CHECK_EQ(attach_parse_status("\n", 1, &code), -EPROTO);
    CHECK_EQ(attach_parse_status("-\n", 2, &code), -EPROTO);
    CHECK_EQ(attach_parse_status("12345678901234567890", 20, &code), -EPROTO);
}

static int load(const char *s, size_t n, int *rc, char *err)
{
    *rc = -12345;
    return attach_parse_load(s, n, rc, err, 512);
}
#define LOAD(lit, rc, err) load(lit, sizeof(lit) - 1, rc, err)

TEST(load_jdk8)
{
    int rc;
    char err[512];
    CHECK_EQ(LOAD("0\n0\n", &rc, err), 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(LOAD("0\n100\n", &rc, err), -EIO);
    CHECK_EQ(rc, 100);
    CHECK_CONTAINS(err, "returned 100");
    CHECK_EQ(LOAD("0\n-1\n", &rc, err), -EIO);
    CHECK_EQ(rc, -1);
    /* JDK 8 reports a library it cannot open with JNI_ERR and no text */
    CHECK_EQ(LOAD("-1\n", &rc, err), -ENOEXEC);
    CHECK_CONTAINS(err, "no reason given");
}

/* Bytes as the JDK 17 here sends them (captured with a raw socket). */
TEST(load_jdk9_to_20)
{
    int rc;
    char err[512];
    CHECK_EQ(LOAD("0\nreturn code: 0\n", &rc, err), 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(LOAD("0\nreturn code: 200\n", &rc, err), -EIO);
    CHECK_EQ(rc, 200);
    CHECK_EQ(LOAD("-1\n/nonexistent/lib.so was not loaded.\n/nonexistent/lib.so: cannot open "
                  "shared object file: No such file or directory\n",
                  &rc, err),
             -ENOEXEC);
    CHECK_CONTAINS(err, "/nonexistent/lib.so was not loaded.; /nonexistent/lib.so: cannot open");
    CHECK_EQ(LOAD("-1\n/etc/passwd was not loaded.\n/etc/passwd: invalid ELF header\n", &rc, err),
             -ENOEXEC);
    CHECK_CONTAINS(err, "invalid ELF header");
}

TEST(load_jdk21_plus)
{
    int rc;
    char err[512];
    CHECK_EQ(LOAD("0\nreturn code: 0\n", &rc, err), 0);
    CHECK_EQ(LOAD("0\nreturn code: 100\n", &rc, err), -EIO);
    CHECK_EQ(rc, 100);
    CHECK_EQ(LOAD("0\n/tmp/x.so was not loaded.\n/tmp/x.so: cannot open shared object file: No "
                  "such file or directory\n",
                  &rc, err),
             -ENOEXEC);
    CHECK_CONTAINS(err, "was not loaded");
    CHECK_EQ(LOAD("0\nAgent_OnAttach is not available in libfoo.so\n", &rc, err), -ENOEXEC);
    CHECK_CONTAINS(err, "Agent_OnAttach is not available");
    CHECK_EQ(LOAD("0\nDynamic agent loading is not enabled. Use -XX:+EnableDynamicAgentLoading "
                  "to launch target VM.\n",
                  &rc, err),
             -ENOEXEC);
    CHECK_CONTAINS(err, "EnableDynamicAgentLoading");
    CHECK_EQ(rc, -12345); /* untouched when nothing was attached */
}

TEST(load_malformed)
{
    int rc;
    char err[512];
    CHECK_EQ(LOAD("0\n", &rc, err), -EPROTO);
    CHECK_EQ(LOAD("garbage", &rc, err), -EPROTO);
    CHECK_EQ(LOAD("0\nreturn code: x\n", &rc, err), -EPROTO);
    CHECK_EQ(LOAD("0\n12abc\n", &rc, err), -EPROTO);
}

TEST(buf_sink_caps_and_counts)
{
    struct attach_buf b = {.max = 5};
    CHECK_EQ(attach_buf_sink(&b, "abc", 3), 0);
    CHECK_EQ(attach_buf_sink(&b, "defg", 4), 0);
    CHECK_STREQ(b.data, "abcde");
    CHECK(b.truncated);
    CHECK_EQ(b.total, 7);
    attach_buf_free(&b);
}

TEST(jdk_version_from_vm_version)
{
    char v[64];
    CHECK_EQ(attach_jdk_version("OpenJDK 64-Bit Server VM version 17.0.15+6-Debian-1deb12u1\n"
                                "JDK 17.0.15\n",
                                v, sizeof(v)),
             0);
    CHECK_STREQ(v, "17.0.15");
    CHECK_EQ(attach_jdk_version("OpenJDK 64-Bit Server VM version 25.372-b07\nJDK 8.0_372\n", v,
                                sizeof(v)),
             0);
    CHECK_STREQ(v, "8.0_372");
    CHECK_EQ(
        attach_jdk_version("Java HotSpot(TM) 64-Bit Server VM version 11.0.2+9\n", v, sizeof(v)),
        0);
    CHECK_STREQ(v, "11.0.2+9");
    CHECK_EQ(attach_jdk_version("nothing here\n", v, sizeof(v)), -ENOENT);
}

TEST(maps_kinds)
{
    CHECK_EQ(jvm_kind_from_maps("7f0000-7f1000 r-xp 00000000 fd:00 123 "
                                "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n"),
             JVM_KIND_HOTSPOT);
    /* OpenJ9 ships a libjvm.so forwarder too */
    CHECK_EQ(jvm_kind_from_maps("7f0000-7f1000 r-xp 00000000 fd:00 1 "
                                "/opt/java/openjdk/lib/default/libjvm.so\n"
                                "7f2000-7f3000 r-xp 00000000 fd:00 2 "
                                "/opt/java/openjdk/lib/default/libj9vm29.so\n"),
             JVM_KIND_OPENJ9);
    CHECK_EQ(jvm_kind_from_maps("55e0-55e1 r-xp 0 fd:00 3 /usr/bin/python3.11\n"
                                "7f00-7f01 r-xp 0 fd:00 4 /tmp/libjvm.so.bak\n"),
             JVM_KIND_NONE);
    CHECK_EQ(jvm_kind_from_maps(""), JVM_KIND_NONE);
}

static char *read_fixture(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    ssize_t n = read(fd, buf, (1 << 16) - 1);
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

TEST(maps_fixture_of_a_real_jvm)
{
    char *t = read_fixture("tests/data/proc/jvm.maps");
    CHECK_MSG(t != NULL, "tests/data/proc/jvm.maps missing (run from the repository root)");
    enum jvm_kind k = jvm_kind_from_maps(t);
    free(t);
    CHECK_EQ(k, JVM_KIND_HOTSPOT);
}

TEST(sigquit_masks)
{
    /* the JDK 17 container JVM: SIGQUIT (bit 2) caught, SIGINT ignored */
    CHECK_EQ(jvm_status_catches_sigquit("Name:\tjava\nSigIgn:\t0000000000000002\n"
                                        "SigCgt:\t0000000101005ccd\n"),
             1);
    /* a JVM before its handlers are installed, or run with -Xrs */
    CHECK_EQ(jvm_status_catches_sigquit("SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n"),
             0);
    CHECK_EQ(jvm_status_catches_sigquit("SigIgn:\t0000000000000004\nSigCgt:\t0000000000000004\n"),
             0);
    CHECK_EQ(jvm_status_catches_sigquit("Name:\tjava\n"), -EINVAL);
    CHECK_EQ(jvm_status_catches_sigquit("XSigCgt:\t4\n"), -EINVAL);
}

/* A SIGQUIT sent now would not be handled at once: stopped, or one pending. */
TEST(sigquit_held_while_stopped_or_pending)
{
    char why[256] = "";
    CHECK_EQ(jvm_status_quit_held("Name:\tjava\nState:\tS (sleeping)\nSigPnd:\t0000000000000000\n"
                                  "ShdPnd:\t0000000000000000\n",
                                  why, sizeof(why)),
             0);
    CHECK_EQ(jvm_status_quit_held("Name:\tjava\nState:\tT (stopped)\n", why, sizeof(why)), 1);
    CHECK_CONTAINS(why, "the JVM process is stopped (state T)");
    CHECK_EQ(jvm_status_quit_held("State:\tt (tracing stop)\n", why, sizeof(why)), 1);
    CHECK_EQ(jvm_status_quit_held("State:\tR (running)\nSigPnd:\t0000000000000000\n"
                                  "ShdPnd:\t0000000000000004\n",
                                  why, sizeof(why)),
             1);
    CHECK_CONTAINS(why, "SIGQUIT sent earlier is still pending");
    CHECK_EQ(
        jvm_status_quit_held("State:\tS (sleeping)\nSigPnd:\t0000000000000004\n", why, sizeof(why)),
        1);
    /* another signal pending is no reason */
    CHECK_EQ(
        jvm_status_quit_held("State:\tS (sleeping)\nShdPnd:\t0000000000000002\n", why, sizeof(why)),
        0);
}

/* (pid, start time) names a process: a pid reused by another process is
 * refused before anything is read or signalled. */
TEST(reused_pid_is_refused)
{
    struct proc_ident id;
    CHECK_EQ(procfs_ident(NULL, getpid(), &id), 0);
    id.start_time += 1;
    struct jvm *j = NULL;
    char err[256];
    CHECK_EQ(jvm_open(&id, &j, err, sizeof(err)), -ESRCH);
    CHECK_CONTAINS(err, "now names another process");
    CHECK(j == NULL);
}

TEST(non_jvm_is_refused)
{
    struct jvm *j = NULL;
    char err[256];
    CHECK_EQ(jvm_open_pid(getpid(), &j, err, sizeof(err)), -ENOTSUP);
    CHECK_CONTAINS(err, "is not a HotSpot JVM: libjvm.so is not mapped");
    CHECK_EQ(jvm_open_pid(999999999, &j, err, sizeof(err)), -ESRCH);
}

/* What one jcmd against a fake_jvm in mode returns, with its error. */
struct jcmd_outcome {
    int rc;
    char err[1024];
    char out[256];
};

static int run_jcmd(const char *mode, const char *command, struct jcmd_outcome *o)
{
    struct fakejvm f;
    struct jvm *j = NULL;
    struct attach_buf b = {.max = 4096};
    int code = 0;
    memset(o, 0, sizeof(*o));
    if (fakejvm_start(&f, mode, "java", NULL) < 0) {
        fakejvm_stop(&f);
        return -1;
    }
    o->rc = jvm_open_pid(f.pid, &j, o->err, sizeof(o->err));
    if (o->rc == 0)
        o->rc =
            attach_jcmd(j, command, 5000, attach_buf_sink, &b, &code, NULL, o->err, sizeof(o->err));
    snprintf(o->out, sizeof(o->out), "%s", b.data ? b.data : "");
    attach_buf_free(&b);
    jvm_close(j);
    fakejvm_stop(&f);
    return 0;
}

/* The JVM killed while it runs the command closes the connection without
 * a reply: that is its exit, not a peer it refused for its uid/gid. */
TEST(a_jvm_killed_during_a_command_is_target_exited)
{
    NEED_FAKE_JVM();
    struct jcmd_outcome o;
    CHECK_EQ(run_jcmd("exit-on-jcmd", "GC.class_histogram", &o), 0);
    CHECK_MSG(o.rc == -ESRCH, "rc %d: %s", o.rc, o.err);
    CHECK_MSG(strncmp(o.err, "target_exited: ", 15) == 0, "%s", o.err);
    CHECK_CONTAINS(o.err, "GC.class_histogram");
    CHECK_MSG(!strstr(o.err, "uid"), "blames credentials: %s", o.err);
}

/* The same closed connection from a JVM that lives on keeps its reason. */
TEST(a_live_jvm_dropping_the_connection_is_not_target_exited)
{
    NEED_FAKE_JVM();
    struct jcmd_outcome o;
    CHECK_EQ(run_jcmd("drop", "Thread.print", &o), 0);
    CHECK_MSG(o.rc == -ECONNRESET, "rc %d: %s", o.rc, o.err);
    CHECK_CONTAINS(o.err, "uid/gid");
}

TEST(a_jvm_dying_while_its_listener_starts_is_target_exited)
{
    NEED_FAKE_JVM();
    struct jcmd_outcome o;
    CHECK_EQ(run_jcmd("exit-on-quit", "Thread.print", &o), 0);
    CHECK_MSG(o.rc == -ESRCH, "rc %d: %s", o.rc, o.err);
    CHECK_MSG(strncmp(o.err, "target_exited: ", 15) == 0, "%s", o.err);
}

/* Started once with one SIGQUIT; then only connected to: the next
 * pre-warm and the command after it send none (fake_jvm counts them). */
TEST(prewarm_starts_the_listener_with_one_sigquit)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    struct jvm *j = NULL;
    struct attach_buf b = {.max = 4096};
    char err[1024] = "", trigger[64];
    int code = -1, first = -99, again = -99, rc = -99;
    struct stat st;
    bool socket_before = false;
    if (fakejvm_start(&f, "lazy", "java", NULL) == 0) {
        socket_before = fakejvm_listening(&f);
        rc = jvm_open_pid(f.pid, &j, err, sizeof(err));
    }
    if (rc == 0) {
        first = attach_prewarm(j, 5000, err, sizeof(err));
        again = attach_prewarm(j, 5000, err, sizeof(err));
        rc = attach_jcmd(j, "fake.sigquits", 5000, attach_buf_sink, &b, &code, NULL, err,
                         sizeof(err));
    }
    snprintf(trigger, sizeof(trigger), "%s/.attach_pid%d", f.dir, (int)f.pid);
    bool trigger_left = stat(trigger, &st) == 0;
    bool socket_after = fakejvm_listening(&f);
    char quits[32];
    snprintf(quits, sizeof(quits), "%s", b.data ? b.data : "");
    attach_buf_free(&b);
    jvm_close(j);
    fakejvm_stop(&f);
    CHECK(!socket_before);
    CHECK_MSG(first == 1, "first pre-warm: %d: %s", first, err);
    CHECK_MSG(again == 0, "second pre-warm: %d: %s", again, err);
    CHECK_MSG(rc == 0 && code == 0, "rc %d code %d: %s", rc, code, err);
    CHECK_STREQ(quits, "1\n");
    CHECK(socket_after);
    CHECK(!trigger_left);
}

#define RACERS 4

struct racer {
    pid_t pid;
    pthread_t th;
    int rc;
    char err[512];
};

static void *race_prewarm(void *arg)
{
    struct racer *r = arg;
    struct jvm *j = NULL;
    r->rc = jvm_open_pid(r->pid, &j, r->err, sizeof(r->err));
    if (r->rc == 0)
        r->rc = attach_prewarm(j, 10000, r->err, sizeof(r->err));
    jvm_close(j);
    return NULL;
}

/* Four attaches at once to a JVM whose listener takes 300 ms to start
 * (the pre-warm racing a capture, a snapshot's two connections): one of
 * them starts it, the others wait their turn and only connect, so the JVM
 * gets one SIGQUIT, not a thread dump per extra signal. */
TEST(racing_attaches_send_one_sigquit)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    struct racer r[RACERS];
    int started = 0, joined = 0, code = -1, rc = -99;
    char err[1024] = "";
    struct attach_buf b = {.max = 4096};
    if (fakejvm_start(&f, "lazy", "java", "FAKE_JVM_LISTENER_DELAY_MS=300") == 0) {
        for (started = 0; started < RACERS; started++) {
            r[started] = (struct racer){.pid = f.pid, .rc = -99};
            if (pthread_create(&r[started].th, NULL, race_prewarm, &r[started]) != 0)
                break;
        }
        for (joined = 0; joined < started; joined++)
            pthread_join(r[joined].th, NULL);
        struct jvm *j = NULL;
        rc = jvm_open_pid(f.pid, &j, err, sizeof(err));
        if (rc == 0)
            rc = attach_jcmd(j, "fake.sigquits", 5000, attach_buf_sink, &b, &code, NULL, err,
                             sizeof(err));
        jvm_close(j);
    }
    char quits[32];
    snprintf(quits, sizeof(quits), "%s", b.data ? b.data : "");
    attach_buf_free(&b);
    fakejvm_stop(&f);
    CHECK_EQ(started, RACERS);
    int first = 0;
    for (int i = 0; i < started; i++) {
        CHECK_MSG(r[i].rc == 0 || r[i].rc == 1, "racer %d: %d: %s", i, r[i].rc, r[i].err);
        first += r[i].rc == 1;
    }
    CHECK_EQ(first, 1);
    CHECK_MSG(rc == 0 && code == 0, "rc %d code %d: %s", rc, code, err);
    CHECK_STREQ(quits, "1\n");
}

static char state_of(pid_t pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp && fscanf(fp, "%*d %*s %c", &state) != 1)
        state = 0;
    if (fp)
        fclose(fp);
    return state;
}

/* 1 when SIGQUIT is pending in pid (queued for the process or a thread). */
static int quit_pending(pid_t pid)
{
    char path[64], line[256];
    unsigned long long mask = 0;
    int pending = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    while (fp && fgets(line, sizeof(line), fp))
        if (sscanf(line, "ShdPnd: %llx", &mask) == 1 || sscanf(line, "SigPnd: %llx", &mask) == 1)
            pending |= (mask & (1ull << (SIGQUIT - 1))) != 0;
    if (fp)
        fclose(fp);
    return pending;
}

/* A stopped JVM handles no signal until resumed: attaches meanwhile fail
 * at once naming the stopped state, and signal nothing, so that on
 * SIGCONT the JVM does not get one SIGQUIT per attach that was tried
 * (each after the first printing a thread dump into its output). */
TEST(a_stopped_jvm_is_not_signalled)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    struct jvm *j = NULL;
    struct attach_buf b = {.max = 4096};
    char err[1024] = "", err2[1024] = "";
    int code = -1, first = -99, again = -99, rc = -99, pending = -1;
    char state = 0;
    if (fakejvm_start(&f, "lazy", "java", NULL) == 0 && kill(f.pid, SIGSTOP) == 0) {
        for (int i = 0; i < 500 && (state = state_of(f.pid)) != 'T'; i++)
            usleep(10000);
        rc = jvm_open_pid(f.pid, &j, err, sizeof(err));
    }
    if (rc == 0) {
        first = attach_prewarm(j, 3000, err, sizeof(err));
        again = attach_prewarm(j, 3000, err2, sizeof(err2));
        pending = quit_pending(f.pid);
        kill(f.pid, SIGCONT);
        rc = attach_jcmd(j, "fake.sigquits", 5000, attach_buf_sink, &b, &code, NULL, err,
                         sizeof(err));
    }
    char quits[32];
    snprintf(quits, sizeof(quits), "%s", b.data ? b.data : "");
    attach_buf_free(&b);
    jvm_close(j);
    fakejvm_stop(&f);
    CHECK_EQ(state, 'T');
    CHECK_MSG(first == -ENOTSUP, "first attach: %d: %s", first, err);
    CHECK_MSG(again == -ENOTSUP, "second attach: %d: %s", again, err2);
    CHECK_CONTAINS(err2, "the JVM process is stopped (state T)");
    CHECK_EQ(pending, 0);
    CHECK_MSG(rc == 0 && code == 0, "after SIGCONT: rc %d code %d: %s", rc, code, err);
    CHECK_STREQ(quits, "1\n"); /* the one that started the listener after SIGCONT */
}

/* Fills the listener's queue of fake_jvm f, stopped so that it accepts
 * none: nonblocking connects until one is refused with EAGAIN. The
 * number of connections queued, or -1. */
static int fill_queue(const struct fakejvm *f, int fds[], int cap)
{
    for (int n = 0; n < cap; n++)
        if ((fds[n] = fakejvm_connect(f, SOCK_NONBLOCK)) < 0)
            return errno == EAGAIN ? n : -1;
    return -1;
}

/* A JVM stopped with its listener running and its queue of connections
 * full: the connect waits out the timeout and says so, naming the
 * stopped state, not "Resource temporarily unavailable". */
TEST(a_full_listener_queue_is_a_timeout_naming_the_stopped_state)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    struct jvm *j = NULL;
    struct attach_buf b = {.max = 4096};
    char err[1024] = "";
    int fds[64], queued = -1, code = -1, rc = -99;
    if (fakejvm_start(&f, "stream", "java", NULL) == 0 && kill(f.pid, SIGSTOP) == 0) {
        for (int i = 0; i < 500 && state_of(f.pid) != 'T'; i++)
            usleep(10000);
        queued = fill_queue(&f, fds, 64);
        rc = jvm_open_pid(f.pid, &j, err, sizeof(err));
    }
    if (rc == 0)
        rc =
            attach_jcmd(j, "Thread.print", 500, attach_buf_sink, &b, &code, NULL, err, sizeof(err));
    for (int i = 0; i < queued; i++)
        close(fds[i]);
    kill(f.pid, SIGCONT);
    attach_buf_free(&b);
    jvm_close(j);
    fakejvm_stop(&f);
    CHECK_MSG(queued > 0, "queued %d", queued);
    CHECK_MSG(rc == -ETIMEDOUT, "rc %d: %s", rc, err);
    CHECK_CONTAINS(err, "timed out connecting to /tmp/.java_pid");
    CHECK_CONTAINS(err, "its queue of connections is full");
    CHECK_CONTAINS(err, "the JVM process is stopped (state T)");
}

TEST_MAIN(frame_jcmd_pads_to_five_strings, frame_load_three_args, frame_limits, status_line,
          load_jdk8, load_jdk9_to_20, load_jdk21_plus, load_malformed, buf_sink_caps_and_counts,
          jdk_version_from_vm_version, maps_kinds, maps_fixture_of_a_real_jvm, sigquit_masks,
          reused_pid_is_refused, non_jvm_is_refused, a_jvm_killed_during_a_command_is_target_exited,
          a_live_jvm_dropping_the_connection_is_not_target_exited,
          a_jvm_dying_while_its_listener_starts_is_target_exited,
          prewarm_starts_the_listener_with_one_sigquit, racing_attaches_send_one_sigquit,
          sigquit_held_while_stopped_or_pending, a_stopped_jvm_is_not_signalled,
          a_full_listener_queue_is_a_timeout_naming_the_stopped_state)
