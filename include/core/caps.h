/* caps: which Linux capabilities each of the agent's features needs, and
 * which of them a process lacks. Knowledge only: nothing here prints (the
 * daemon logs at start-up; a failed capture step names the capability in
 * its reason).
 *
 * Established by running the agent with capabilities removed one at a
 * time (tests/integration/81_helm_caps.sh); each feature's comment in
 * caps.c names the code path and the kernel check behind it. Masks are
 * bit sets of capability numbers (1ull << CAP_SYS_ADMIN), as in
 * /proc/<pid>/status CapEff. */
#ifndef FS_CAPS_H
#define FS_CAPS_H

#include <stddef.h>
#include <stdint.h>

enum caps_feature {
    CAPS_BPF_EVENTS,     /* load and attach the BPF programs (events/bpf_events.c) */
    CAPS_BPF_MEMLOCK,    /* BPF memory charged to RLIMIT_MEMLOCK (kernels < 5.11) */
    CAPS_PROC_OTHERS,    /* /proc/<pid>/root, cwd, ns/mnt of another user's JVM */
    CAPS_ENVIRON,        /* /proc/<pid>/environ of another user's JVM */
    CAPS_MOUNT_NS,       /* setns into the JVM's mount namespace, chroot to its root */
    CAPS_JVM_USER,       /* setgroups/setresgid/setresuid to the JVM's user */
    CAPS_KILL_HELPER,    /* SIGKILL a helper that has become the JVM's user */
    CAPS_PROC_CONNECTOR, /* the poller's process connector (kernels < 6.6) */
    CAPS_N_FEATURES
};

/* Kernel version as one number, comparable: CAPS_KERNEL(5, 11). */
#define CAPS_KERNEL(major, minor) ((unsigned)(major) << 16 | (unsigned)(minor))

/* "CAP_SYS_ADMIN" for a capability number; NULL when unknown. */
const char *caps_name(int cap);

/* The number of "CAP_SYS_ADMIN" or "SYS_ADMIN" (any case), or -EINVAL. */
int caps_from_name(const char *name);

/* The calling thread's effective set (capget). 0 or -errno. */
int caps_effective(uint64_t *eff);

/* The running kernel's version from uname, as CAPS_KERNEL; 0 if unknown. */
unsigned caps_kernel_version(void);

/* The capabilities feature f lacks with the effective set eff on kernel
 * (CAPS_KERNEL; 0 means unknown, taken as recent): 0 when it has what it
 * needs. Where any of several would do (CAP_BPF, or CAP_SYS_ADMIN which
 * covers it), the mask names the one to grant, and never one that another
 * capability named already covers. */
uint64_t caps_missing(enum caps_feature f, uint64_t eff, unsigned kernel);

/* One sentence for f: what the agent loses without it ("BPF events
 * unavailable: ..."). Static; never NULL for a valid f. */
const char *caps_loss(enum caps_feature f);

/* Writes the names in mask to buf ("CAP_SYS_ADMIN, CAP_SYS_CHROOT"; "none"
 * for 0), truncated to cap. Returns buf. */
char *caps_format(uint64_t mask, char *buf, size_t cap);

/* For a step of f that failed with EPERM or EACCES: " (CAP_SYS_CHROOT
 * missing)" with the capabilities this thread lacks for f, or "" when it
 * has them all (the refusal came from elsewhere: a security module, a
 * user namespace). For reasons. Returns buf. */
char *caps_hint(enum caps_feature f, char *buf, size_t cap);

#endif
