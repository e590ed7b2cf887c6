/* marker_agent: the smallest JVMTI agent, for testing how agents are staged
 * and loaded into a JVM through the attach `load` command. No jvmti.h is
 * needed: Agent_OnAttach's signature is declared by hand.
 *
 * Options: "file=<path>,rc=<n>". On attach it appends one line
 *   marker_agent loaded pid=<pid> uid=<uid> options=<options>
 * to <path> (a path in the JVM's own filesystem) and returns n (default 0),
 * so tests can check both the success and the Agent_OnAttach-failed paths. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lets the version scanner find something, as in libasyncProfiler.so. */
const char marker_agent_version[] = "Marker-agent 1.0 built for flameshot tests";

static void option(const char *options, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    size_t klen = strlen(key);
    for (const char *p = options; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - klen - 1), p + klen + 1);
            return;
        }
        p = e ? e + 1 : NULL;
    }
}

int Agent_OnAttach(void *vm, char *options, void *reserved)
{
    (void)vm;
    (void)reserved;
    char path[512], rc[32], line[1024];
    option(options, "file", path, sizeof(path));
    option(options, "rc", rc, sizeof(rc));
    if (path[0]) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            int n = snprintf(line, sizeof(line), "marker_agent loaded pid=%d uid=%d options=%s\n",
                             (int)getpid(), (int)getuid(), options ? options : "");
            if (write(fd, line, (size_t)n) < 0)
                n = 0;
            close(fd);
        }
    }
    return rc[0] ? atoi(rc) : 0;
}
