/* caps: the feature -> capability table, names, and the effective set as
 * the kernel reports it. */
#include "harness.h"
#include "core/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define B(c) (1ull << (c))
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* What the chart grants, less nothing. */
static const uint64_t FULL = B(CAP_SYS_ADMIN) | B(CAP_SYS_PTRACE) | B(CAP_SYS_CHROOT) |
                             B(CAP_SETUID) | B(CAP_SETGID) | B(CAP_KILL) | B(CAP_DAC_READ_SEARCH) |
                             B(CAP_BPF) | B(CAP_PERFMON) | B(CAP_SYS_RESOURCE);
static const unsigned NEW = CAPS_KERNEL(6, 1), OLD = CAPS_KERNEL(5, 10);

/* but the poller's process connector before 6.6 (below): the chart adds
 * NET_ADMIN only when asked */
TEST(full_set_lacks_nothing_on_any_kernel)
{
    for (int f = 0; f < CAPS_N_FEATURES; f++) {
        CHECK_EQ(caps_missing(f, FULL, NEW) & ~B(CAP_NET_ADMIN), 0);
        CHECK_EQ(caps_missing(f, FULL, OLD) & ~B(CAP_NET_ADMIN), 0);
    }
}

TEST(process_connector_needs_net_admin_before_6_6)
{
    CHECK_EQ(caps_missing(CAPS_PROC_CONNECTOR, FULL, CAPS_KERNEL(6, 5)), B(CAP_NET_ADMIN));
    CHECK_EQ(caps_missing(CAPS_PROC_CONNECTOR, FULL, OLD), B(CAP_NET_ADMIN));
    CHECK_EQ(caps_missing(CAPS_PROC_CONNECTOR, FULL | B(CAP_NET_ADMIN), OLD), 0);
    CHECK_EQ(caps_missing(CAPS_PROC_CONNECTOR, 0, CAPS_KERNEL(6, 6)), 0);
    CHECK_EQ(caps_missing(CAPS_PROC_CONNECTOR, 0, 0), 0); /* unknown: taken as recent */
    CHECK_CONTAINS(caps_loss(CAPS_PROC_CONNECTOR), "process connector");
    CHECK_STREQ(caps_name(CAP_NET_ADMIN), "CAP_NET_ADMIN");
}

TEST(sys_admin_covers_bpf_and_perfmon)
{
    uint64_t eff = FULL & ~(B(CAP_BPF) | B(CAP_PERFMON));
    CHECK_EQ(caps_missing(CAPS_BPF_EVENTS, eff, NEW), 0);
}

/* libbpf lists module BTF with a CAP_SYS_ADMIN-only command: CAP_BPF and
 * CAP_PERFMON alone do not load the programs */
TEST(bpf_events_without_sys_admin_names_only_sys_admin)
{
    CHECK_EQ(caps_missing(CAPS_BPF_EVENTS, FULL & ~B(CAP_SYS_ADMIN), NEW), B(CAP_SYS_ADMIN));
    /* nothing at all: CAP_SYS_ADMIN would cover the other two needs */
    CHECK_EQ(caps_missing(CAPS_BPF_EVENTS, 0, NEW), B(CAP_SYS_ADMIN));
}

TEST(memlock_matters_only_before_5_11)
{
    uint64_t eff = FULL & ~B(CAP_SYS_RESOURCE);
    CHECK_EQ(caps_missing(CAPS_BPF_MEMLOCK, eff, CAPS_KERNEL(5, 11)), 0);
    CHECK_EQ(caps_missing(CAPS_BPF_MEMLOCK, eff, OLD), B(CAP_SYS_RESOURCE));
    CHECK_EQ(caps_missing(CAPS_BPF_MEMLOCK, eff, CAPS_KERNEL(4, 19)), B(CAP_SYS_RESOURCE));
    CHECK_EQ(caps_missing(CAPS_BPF_MEMLOCK, eff, 0), 0); /* unknown: taken as recent */
}

TEST(each_capture_capability_names_its_feature)
{
    CHECK_EQ(caps_missing(CAPS_MOUNT_NS, FULL & ~B(CAP_SYS_CHROOT), NEW), B(CAP_SYS_CHROOT));
    CHECK_EQ(caps_missing(CAPS_MOUNT_NS, FULL & ~B(CAP_SYS_ADMIN), NEW), B(CAP_SYS_ADMIN));
    CHECK_EQ(caps_missing(CAPS_JVM_USER, FULL & ~B(CAP_SETUID), NEW), B(CAP_SETUID));
    CHECK_EQ(caps_missing(CAPS_JVM_USER, FULL & ~B(CAP_SETGID), NEW), B(CAP_SETGID));
    CHECK_EQ(caps_missing(CAPS_PROC_OTHERS, FULL & ~B(CAP_SYS_PTRACE), NEW), B(CAP_SYS_PTRACE));
    CHECK_EQ(caps_missing(CAPS_KILL_HELPER, FULL & ~B(CAP_KILL), NEW), B(CAP_KILL));
    CHECK_EQ(caps_missing(CAPS_ENVIRON, FULL & ~B(CAP_DAC_READ_SEARCH), NEW),
             B(CAP_DAC_READ_SEARCH));
    /* the broader CAP_DAC_OVERRIDE reads it too */
    uint64_t ovr = (FULL & ~B(CAP_DAC_READ_SEARCH)) | B(CAP_DAC_OVERRIDE);
    CHECK_EQ(caps_missing(CAPS_ENVIRON, ovr, NEW), 0);
    CHECK_EQ(caps_missing(CAPS_ENVIRON, FULL & ~B(CAP_SYS_PTRACE), NEW), B(CAP_SYS_PTRACE));
}

/* removing any one capability of the set loses something, except those
 * another one covers (CAP_BPF, CAP_PERFMON: CAP_SYS_ADMIN) or the kernel
 * does not ask for (CAP_SYS_RESOURCE on 5.11+) */
TEST(only_covered_capabilities_lose_nothing)
{
    for (int c = 0; c < 64; c++) {
        if (!(FULL & B(c)))
            continue;
        uint64_t lost = 0;
        for (int f = 0; f < CAPS_N_FEATURES; f++)
            lost |= caps_missing(f, FULL & ~B(c), NEW) & ~caps_missing(f, FULL, NEW);
        int covered = c == CAP_BPF || c == CAP_PERFMON || c == CAP_SYS_RESOURCE;
        CHECK_MSG(covered ? lost == 0 : lost == B(c), "%s: lost %#llx", caps_name(c),
                  (unsigned long long)lost);
    }
}

TEST(names_both_ways)
{
    CHECK_STREQ(caps_name(CAP_SYS_ADMIN), "CAP_SYS_ADMIN");
    CHECK_STREQ(caps_name(CAP_BPF), "CAP_BPF");
    CHECK_STREQ(caps_name(40), "CAP_CHECKPOINT_RESTORE");
    CHECK(caps_name(41) == NULL && caps_name(-1) == NULL);
    CHECK_EQ(caps_from_name("CAP_SYS_PTRACE"), CAP_SYS_PTRACE);
    CHECK_EQ(caps_from_name("sys_chroot"), CAP_SYS_CHROOT);
    CHECK_EQ(caps_from_name("PERFMON"), CAP_PERFMON);
    CHECK_EQ(caps_from_name("SYS_NOPE"), -EINVAL);
    CHECK_EQ(caps_from_name("CAP_"), -EINVAL);
}

TEST(format_lists_in_number_order_and_truncates)
{
    char buf[64];
    CHECK_STREQ(caps_format(0, buf, sizeof(buf)), "none");
    CHECK_STREQ(caps_format(B(CAP_SYS_CHROOT) | B(CAP_KILL), buf, sizeof(buf)),
                "CAP_KILL, CAP_SYS_CHROOT");
    char small[12];
    caps_format(B(CAP_SYS_CHROOT) | B(CAP_KILL), small, sizeof(small));
    CHECK_STREQ(small, "CAP_KILL, C");
}

TEST(every_feature_says_what_it_loses)
{
    for (int f = 0; f < CAPS_N_FEATURES; f++)
        CHECK(caps_loss(f) && strlen(caps_loss(f)) > 20);
    CHECK_CONTAINS(caps_loss(CAPS_BPF_EVENTS), "poller");
}

TEST(effective_set_is_the_kernels)
{
    uint64_t eff;
    CHECK_EQ(caps_effective(&eff), 0);
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f);
    char line[256];
    unsigned long long want = ~0ull;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %llx", &want) == 1)
            break;
    fclose(f);
    CHECK_EQ(eff, want);
    CHECK(caps_kernel_version() >= CAPS_KERNEL(3, 0));
}

/* In a child that drops CAP_SYS_CHROOT from its effective set: the hint
 * names it, and nothing once it is back. */
TEST(hint_names_what_this_thread_lacks)
{
    uint64_t eff;
    CHECK_EQ(caps_effective(&eff), 0);
    NEED((eff & B(CAP_SYS_ADMIN)) && (eff & B(CAP_SYS_CHROOT)), "needs root");
    pid_t pid = fork();
    if (pid == 0) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        char buf[128];
        if (syscall(SYS_capget, &hdr, d) < 0 || strcmp(caps_hint(CAPS_MOUNT_NS, buf, 128), ""))
            _exit(2);
        d[0].effective &= ~(1u << CAP_SYS_CHROOT);
        if (syscall(SYS_capset, &hdr, d) < 0)
            _exit(3);
        _exit(strcmp(caps_hint(CAPS_MOUNT_NS, buf, sizeof(buf)), " (CAP_SYS_CHROOT missing)") ? 4
                                                                                              : 0);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
}

TEST_MAIN(full_set_lacks_nothing_on_any_kernel, process_connector_needs_net_admin_before_6_6,
          sys_admin_covers_bpf_and_perfmon, bpf_events_without_sys_admin_names_only_sys_admin,
          memlock_matters_only_before_5_11, each_capture_capability_names_its_feature,
          only_covered_capabilities_lose_nothing, names_both_ways,
          format_lists_in_number_order_and_truncates, every_feature_says_what_it_loses,
          effective_set_is_the_kernels, hint_names_what_this_thread_lacks)
