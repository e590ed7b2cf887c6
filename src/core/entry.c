#include "core/entry.h"

#include "core/version.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void entry_usage(FILE *out)
{
    fprintf(out, "usage: flameshotd [--check-config | --version | --help]\n"
                 "       flameshotd jcmd <pid> <command> [arguments...]\n"
                 "       flameshotd flamegraph IN -o OUT [options]   (--help for them)\n"
                 "\n"
                 "Node-level profiling agent for Java workloads. Configured entirely through\n"
                 "FLAMESHOT_* environment variables (see README.md). Without any, it watches\n"
                 "every Java process of this host and keeps results under /var/lib/flameshot.\n"
                 "\n"
                 "  --check-config  validate the configuration, print it as JSON, exit 0 or 2\n"
                 "  --version       print the version\n"
                 "  jcmd            run a diagnostic command in a JVM through the HotSpot attach\n"
                 "                  protocol, as the JDK's jcmd does, without needing a JDK\n"
                 "  flamegraph      render a JFR or collapsed stacks as a flame graph, heat map\n"
                 "                  or diff (HTML), or as collapsed text; starts no daemon\n");
}

void entry_version(FILE *out)
{
    fprintf(out, "flameshotd %s (%s)\n", FS_VERSION, FS_GIT_REV);
}

int entry_full_path(const char *self_exe, char *out, size_t cap)
{
    if (!self_exe || self_exe[0] != '/')
        return -EINVAL;
    /* strip the file name, then its directory: /proc/self/exe is already
     * resolved, so the lexical parent is the real one */
    size_t len = (size_t)(strrchr(self_exe, '/') - self_exe);
    while (len > 0 && self_exe[len - 1] != '/')
        len--;
    while (len > 1 && self_exe[len - 1] == '/')
        len--;
    int n = snprintf(out, cap, "%.*s/%s", (int)(len > 1 ? len : 0), self_exe, ENTRY_FULL_REL);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int entry_exec_full(char **argv)
{
    char self[PATH_MAX], full[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "flameshotd: cannot find the full program: /proc/self/exe: %s\n",
                n < 0 ? strerror(errno) : "empty");
        return ENTRY_EXIT_MISSING;
    }
    self[n] = '\0';
    if (entry_full_path(self, full, sizeof(full)) < 0) {
        fprintf(stderr, "flameshotd: cannot find the full program beside %s\n", self);
        return ENTRY_EXIT_MISSING;
    }
    execve(full, argv, environ);
    int err = errno;
    fprintf(stderr,
            "flameshotd: cannot run the full program %s: %s (this entry runs only --help, "
            "--version and jcmd itself; install both files)\n",
            full, strerror(err));
    return err == ENOENT || err == ENOTDIR ? ENTRY_EXIT_MISSING : ENTRY_EXIT_NOEXEC;
}
