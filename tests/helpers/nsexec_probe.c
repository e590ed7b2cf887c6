/* nsexec_probe: runs tests/nsview.h's report through jvm_run_child, the
 * way every capture step reaches a JVM's container (jvm_open, then a
 * helper in its mount namespace, chrooted to its root, as its uid), and
 * prints the helper's report with the JVM's own mount namespace inode:
 *
 *   nsexec_probe <pid> <locked> <inside> <host>
 *   -> jvm_mntns=<inode> uid=0 gid=0 nnp=1 capeff=0 ... inside=1 host=0
 *
 * Exit status: 0 when the helper ran, 1 otherwise (reason on stderr). */
#include "capture/jvm.h"
#include "nsview.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: nsexec_probe <pid> <locked> <inside> <host>\n");
        return 2;
    }
    struct jvm *j = NULL;
    char err[512];
    if (jvm_open_pid(atoi(argv[1]), &j, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct nsview_paths paths = {.locked = argv[2], .inside = argv[3], .host = argv[4]};
    struct nsexec_result res;
    struct stat ns = {0};
    fstat(jvm_mntns_fd(j), &ns);
    int rc = jvm_run_child(j, NULL, 0, 10000, nsview_fn, &paths, &res);
    if (res.fd >= 0)
        close(res.fd);
    jvm_close(j);
    if (rc < 0) {
        fprintf(stderr, "helper: %s\n", res.text);
        return 1;
    }
    printf("jvm_mntns=%llu %s\n", (unsigned long long)ns.st_ino, res.text);
    return 0;
}
