#include "capture/cli_jcmd.h"

#include "capture/attach.h"
#include "core/fsutil.h"
#include "capture/jvm.h"
#include "core/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 10000

enum { EXIT_JVM_FAILED = 1, EXIT_USAGE = 2, EXIT_TARGET = 3, EXIT_ATTACH = 4 };

static int usage(void)
{
    fprintf(stderr, "usage: flameshotd jcmd <pid> <command> [arguments...]\n"
                    "       e.g. flameshotd jcmd 1234 Thread.print\n"
                    "            flameshotd jcmd 1234 help\n");
    return EXIT_USAGE;
}

/* Output goes to stdout while the JVM's status is 0; a failure's text is
 * kept to be printed on stderr the way jcmd prints it. */
struct out {
    int *code;
    int printed;
    struct attach_buf failure;
};

static int out_sink(void *arg, const char *data, size_t len)
{
    struct out *o = arg;
    if (*o->code != 0)
        return attach_buf_sink(&o->failure, data, len);
    o->printed |= len > 0;
    return fsutil_write_full(1, data, len);
}

/* jcmd's readErrorMessage(): the reply's lines concatenated without
 * separators (BufferedReader.readLine drops them), then println. */
static void print_failure(const struct attach_buf *b)
{
    size_t n = 0;
    char *msg = malloc(b->len + 2);
    if (!msg)
        return;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != '\n' && b->data[i] != '\r')
            msg[n++] = b->data[i];
    if (n == 0) {
        free(msg);
        fprintf(stderr, "Command failed in target VM\n");
        return;
    }
    msg[n++] = '\n';
    fsutil_write_full(2, msg, n);
    free(msg);
}

static int parse_args(int argc, char **argv, int *pid, char **line, uint64_t *timeout)
{
    uint64_t v;
    if (argc < 3 || units_parse_u64(argv[1], 1u << 30, &v) < 0 || v == 0)
        return usage();
    *pid = (int)v;
    const char *t = getenv("FLAMESHOT_JCMD_TIMEOUT");
    const char *why = NULL;
    *timeout = DEFAULT_TIMEOUT_MS;
    if (t && *t && (units_parse_duration(t, timeout, &why) < 0 || *timeout == 0)) {
        fprintf(stderr, "flameshotd jcmd: FLAMESHOT_JCMD_TIMEOUT=%s: %s\n", t,
                why ? why : "must be positive");
        return EXIT_USAGE;
    }
    size_t len = 0;
    for (int i = 2; i < argc; i++)
        len += strlen(argv[i]) + 1;
    *line = malloc(len + 1);
    if (!*line)
        return EXIT_ATTACH;
    (*line)[0] = '\0';
    for (int i = 2; i < argc; i++) {
        if (i > 2)
            strcat(*line, " ");
        strcat(*line, argv[i]);
    }
    return 0;
}

static int run(struct jvm *j, int pid, const char *line, uint64_t timeout)
{
    char head[32], err[1024];
    int n = snprintf(head, sizeof(head), "%d:\n", pid);
    fsutil_write_full(1, head, (size_t)n);
    int code = 0;
    struct out o = {.code = &code, .failure = {.max = 1 << 20}};
    int rc = attach_jcmd(j, line, timeout, out_sink, &o, &code, NULL, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "flameshotd jcmd: %s\n", err);
        attach_buf_free(&o.failure);
        return rc == -ESRCH ? EXIT_TARGET : EXIT_ATTACH;
    }
    if (code != 0) {
        print_failure(&o.failure);
        attach_buf_free(&o.failure);
        return EXIT_JVM_FAILED;
    }
    if (!o.printed)
        fsutil_write_full(1, "Command executed successfully\n", 30);
    return 0;
}

int cli_jcmd_main(int argc, char **argv)
{
    int pid;
    char *line = NULL;
    uint64_t timeout;
    int rc = parse_args(argc, argv, &pid, &line, &timeout);
    if (rc != 0)
        return rc;
    if (strcmp(argv[2], "PerfCounter.print") == 0) {
        fprintf(stderr, "flameshotd jcmd: PerfCounter.print is read by the JDK's jcmd from "
                        "hsperfdata, not through the attach protocol; it is not supported\n");
        free(line);
        return EXIT_USAGE;
    }
    struct jvm *j = NULL;
    char err[1024];
    if (geteuid() != 0) {
        fprintf(stderr, "flameshotd jcmd: permission denied: it enters the JVM's mount namespace "
                        "and takes the JVM's uid/gid, which needs root (run it with sudo)\n");
        free(line);
        return EXIT_ATTACH;
    }
    rc = jvm_open_pid(pid, &j, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "flameshotd jcmd: %s\n", err);
        free(line);
        return rc == -ESRCH || rc == -ENOTSUP ? EXIT_TARGET : EXIT_ATTACH;
    }
    rc = run(j, pid, line, timeout);
    jvm_close(j);
    free(line);
    return rc;
}
