#include "core/caps.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38 /* Linux 5.8 */
#endif
#ifndef CAP_BPF
#define CAP_BPF 39 /* Linux 5.8 */
#endif

#define BIT(c) (1ull << (c))

static const char *const names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define N_NAMES ((int)(sizeof(names) / sizeof(names[0])))

/* A need: any one capability of `any` satisfies it; `grant` is the one to
 * name when none is held. */
struct need {
    uint64_t any;
    int grant;
};

struct feature {
    struct need needs[3]; /* in order: a grant named earlier may cover a later need */
    size_t n;
    unsigned below_kernel; /* needed only on kernels older than this; 0: always */
    const char *loss;
};

static const struct feature features[CAPS_N_FEATURES] = {
    /* bpf_events.c. libbpf 1.1 resolves the ___old CO-RE flavours
     * (bpf/compat.bpf.h) against kernel module BTF too, listed with
     * BPF_BTF_GET_NEXT_ID, which is CAP_SYS_ADMIN only; mounting tracefs
     * for classic tracepoints is too. Maps and programs need bpf_capable()
     * (CAP_BPF or CAP_SYS_ADMIN), tracing programs and tracepoint perf
     * events perfmon_capable() (CAP_PERFMON or CAP_SYS_ADMIN). */
    [CAPS_BPF_EVENTS] = {{{BIT(CAP_SYS_ADMIN), CAP_SYS_ADMIN},
                          {BIT(CAP_BPF) | BIT(CAP_SYS_ADMIN), CAP_BPF},
                          {BIT(CAP_PERFMON) | BIT(CAP_SYS_ADMIN), CAP_PERFMON}},
                         3,
                         0,
                         "BPF events unavailable: with FLAMESHOT_BPF=auto the /proc poller runs "
                         "instead, with FLAMESHOT_BPF=on the agent does not start"},
    /* before 5.11 BPF memory is charged to RLIMIT_MEMLOCK, which libbpf
     * raises to unlimited: raising a hard limit needs CAP_SYS_RESOURCE */
    [CAPS_BPF_MEMLOCK] = {{{BIT(CAP_SYS_RESOURCE), CAP_SYS_RESOURCE}},
                          1,
                          CAPS_KERNEL(5, 11),
                          "this kernel charges BPF maps to RLIMIT_MEMLOCK, which cannot be "
                          "raised: the BPF programs may fail to load (then as without BPF)"},
    /* jvm.c open_fds, hprof.c: ptrace_may_access(PTRACE_MODE_READ) for
     * another uid's process */
    [CAPS_PROC_OTHERS] = {{{BIT(CAP_SYS_PTRACE), CAP_SYS_PTRACE}},
                          1,
                          0,
                          "/proc/<pid>/root, cwd and ns/mnt of JVMs running as another user "
                          "cannot be opened: no profile, snapshot or heap dump of them"},
    /* jvm.c jvm_options, jvmopts.c: environ is mode 0400, owned by the
     * JVM's uid, and ptrace-checked */
    [CAPS_ENVIRON] = {{{BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_DAC_OVERRIDE), CAP_DAC_READ_SEARCH},
                       {BIT(CAP_SYS_PTRACE), CAP_SYS_PTRACE}},
                      2,
                      0,
                      "the environment of JVMs running as another user (/proc/<pid>/environ) "
                      "cannot be read: options set in JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or "
                      "_JAVA_OPTIONS (heap-dump flags, -XX:+DisableAttachMechanism) are not "
                      "seen, so a JVM whose attach listener is not running is not signalled"},
    /* nsexec.c enter: setns(CLONE_NEWNS) needs both, chroot CAP_SYS_CHROOT */
    [CAPS_MOUNT_NS] = {{{BIT(CAP_SYS_ADMIN), CAP_SYS_ADMIN}, {BIT(CAP_SYS_CHROOT), CAP_SYS_CHROOT}},
                       2,
                       0,
                       "capture steps cannot enter a JVM's mount namespace nor chroot to its "
                       "root: no profile, snapshot or heap dump of any JVM"},
    /* nsexec.c enter: setgroups and setresgid, then setresuid */
    [CAPS_JVM_USER] = {{{BIT(CAP_SETGID), CAP_SETGID}, {BIT(CAP_SETUID), CAP_SETUID}},
                       2,
                       0,
                       "capture steps cannot become the JVM's user: no profile, snapshot or "
                       "heap dump of any JVM"},
    /* nsexec.c collect: the helper has the JVM's uid by then */
    [CAPS_KILL_HELPER] = {{{BIT(CAP_KILL), CAP_KILL}},
                          1,
                          0,
                          "a capture step that times out after becoming the JVM's user cannot "
                          "be killed: it is left to end by itself (helpers_stuck in /v1/status)"},
    /* proc_connector.c: before Linux 6.6 (commit "connector/cn_proc: Allow
     * non-root users access") cn_proc_mcast_ctl refuses PROC_CN_MCAST_LISTEN
     * without CAP_NET_ADMIN in the initial user namespace */
    [CAPS_PROC_CONNECTOR] = {{{BIT(CAP_NET_ADMIN), CAP_NET_ADMIN}},
                             1,
                             CAPS_KERNEL(6, 6),
                             "when the /proc poller runs (no BPF), it cannot use the kernel's "
                             "process connector: it lists /proc whenever /proc/loadavg shows a "
                             "task created or reaped and re-reads every process every 2 s"},
};

const char *caps_name(int cap)
{
    return cap >= 0 && cap < N_NAMES ? names[cap] : NULL;
}

int caps_from_name(const char *name)
{
    if (strncasecmp(name, "CAP_", 4) == 0)
        name += 4;
    for (int i = 0; i < N_NAMES; i++)
        if (strcasecmp(names[i] + 4, name) == 0)
            return i;
    return -EINVAL;
}

int caps_effective(uint64_t *eff)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    *eff = (uint64_t)data[1].effective << 32 | data[0].effective;
    return 0;
}

unsigned caps_kernel_version(void)
{
    struct utsname u;
    unsigned major, minor;
    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return 0;
    return CAPS_KERNEL(major, minor);
}

uint64_t caps_missing(enum caps_feature f, uint64_t eff, unsigned kernel)
{
    if ((unsigned)f >= CAPS_N_FEATURES)
        return 0;
    const struct feature *ft = &features[f];
    if (ft->below_kernel && (!kernel || kernel >= ft->below_kernel))
        return 0;
    uint64_t missing = 0;
    for (size_t i = 0; i < ft->n; i++)
        if (!(ft->needs[i].any & (eff | missing)))
            missing |= BIT(ft->needs[i].grant);
    return missing;
}

const char *caps_loss(enum caps_feature f)
{
    return (unsigned)f < CAPS_N_FEATURES ? features[f].loss : "unknown feature";
}

char *caps_format(uint64_t mask, char *buf, size_t cap)
{
    size_t off = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (!mask)
        snprintf(buf, cap, "none");
    for (int i = 0; i < 64 && off < cap; i++) {
        if (!(mask & BIT(i)))
            continue;
        const char *n = caps_name(i);
        int w = n ? snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", n)
                  : snprintf(buf + off, cap - off, "%scap%d", off ? ", " : "", i);
        off += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

char *caps_hint(enum caps_feature f, char *buf, size_t cap)
{
    uint64_t eff, missing = 0;
    char list[256];
    if (cap)
        buf[0] = '\0';
    if (caps_effective(&eff) == 0)
        missing = caps_missing(f, eff, caps_kernel_version());
    if (missing && cap)
        snprintf(buf, cap, " (%s missing)", caps_format(missing, list, sizeof(list)));
    return buf;
}
