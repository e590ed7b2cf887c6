/* nsview.h: what an nsexec helper sees of itself, for the tests that prove
 * its confinement (tests/unit/capture/test_nsexec.c against a mount
 * namespace it makes, tests/helpers/nsexec_probe.c against a real JVM's
 * container). An nsexec_fn: run it through nsexec_run or jvm_run_child.
 *
 * The reply is one line of key=value:
 *   uid=0 gid=0 nnp=1 capeff=0 capprm=0 capinh=0 capamb=0 capbnd=<hex>
 *   mntns=<inode> read=EACCES chown=EPERM setuid=EPERM inside=1 host=0
 * cap* are hexadecimal masks (capeff/capprm/capinh from capget(2), capamb
 * and capbnd from the kernel's /proc/<pid>/status of the helper, reached
 * through the /proc/self/fd it opened before entering the namespace);
 * mntns is the inode of its mount namespace; read/chown/setuid are what
 * the privileged attempts returned ("ok" if they succeeded): reading the
 * mode-0000 file `locked` (needs CAP_DAC_OVERRIDE even for its owner),
 * chown of `locked` to uid 1 (CAP_CHOWN), setuid(1) (CAP_SETUID: harmless,
 * the helper exits right after); inside/host: whether the paths `inside`
 * and `host` exist for it. */
#ifndef FS_TEST_NSVIEW_H
#define FS_TEST_NSVIEW_H

#include "capture/nsexec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct nsview_paths {
    const char *locked; /* a mode-0000 file of the helper's uid */
    const char *inside; /* exists only in the target's mount namespace */
    const char *host;   /* exists only in the host's */
};

static const char *nsview_err(int rc)
{
    if (rc == 0)
        return "ok";
    switch (errno) {
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case ENOENT:
        return "ENOENT";
    default:
        return "other";
    }
}

static uint64_t nsview_status(const char *status, const char *key)
{
    const char *k = strstr(status, key);
    return k ? strtoull(k + strlen(key), NULL, 16) : ~0ull;
}

static int nsview_fn(struct nsexec_child *c, void *arg)
{
    const struct nsview_paths *p = arg;
    int uid = (int)geteuid(), gid = (int)getegid();
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct cd[2];
    if (syscall(SYS_capget, &hdr, cd) < 0)
        return nsexec_reply(c, "capget: %s", strerror(errno)), -errno;
    uint64_t eff = cd[0].effective | (uint64_t)cd[1].effective << 32;
    uint64_t prm = cd[0].permitted | (uint64_t)cd[1].permitted << 32;
    uint64_t inh = cd[0].inheritable | (uint64_t)cd[1].inheritable << 32;
    char status[4096] = "";
    int fd = openat(nsexec_self_fd_dir(c), "../status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
    status[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    struct stat ns = {0};
    fstatat(nsexec_self_fd_dir(c), "../ns/mnt", &ns, 0);
    fd = open(p->locked, O_RDONLY | O_CLOEXEC);
    const char *rd = nsview_err(fd < 0 ? -1 : 0);
    if (fd >= 0)
        close(fd);
    const char *ch = nsview_err(chown(p->locked, 1, 1));
    int inside = access(p->inside, F_OK) == 0, host = access(p->host, F_OK) == 0;
    const char *su = nsview_err(setuid(1)); /* last: it may succeed */
    nsexec_reply(c,
                 "uid=%d gid=%d nnp=%d capeff=%llx capprm=%llx capinh=%llx capamb=%llx "
                 "capbnd=%llx mntns=%llu read=%s chown=%s setuid=%s inside=%d host=%d",
                 uid, gid, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), (unsigned long long)eff,
                 (unsigned long long)prm, (unsigned long long)inh,
                 (unsigned long long)nsview_status(status, "\nCapAmb:"),
                 (unsigned long long)nsview_status(status, "\nCapBnd:"),
                 (unsigned long long)ns.st_ino, rd, ch, su, inside, host);
    return 0;
}

#endif
