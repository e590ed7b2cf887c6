/* flameshotd, the lean entry (build/flameshotd, /usr/bin/flameshotd): libc
 * only, so `flameshotd jcmd` and `--version` start in a few ms instead of
 * loading the daemon's libraries (libcurl alone costs ~18 ms per exec). It
 * runs --help, --version and jcmd, and execs the full program (main.c) with
 * argv and environ unchanged for everything else (core/entry.h). */
#include "capture/cli_jcmd.h"
#include "core/entry.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        entry_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        entry_version(stdout);
        return 0;
    }
    if (strcmp(cmd, "jcmd") == 0)
        return cli_jcmd_main(argc - 1, argv + 1);
    return entry_exec_full(argv);
}
