/* cgroup: /proc/<pid>/cgroup parsing, directory resolution, limits, usage,
 * OOM counters and the container they name (the path shapes themselves are
 * test_containerid's). cgroup v2 layouts are file trees under
 * tests/data/cgroup/<what they show>/{proc,root}; cgroup v1 is tested for
 * real on this host's v1 memory and cpu hierarchies. */
#include "events/cgroup.h"
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA "tests/data/cgroup/"
#define PID  4242 /* every fixture has proc/4242/cgroup */

#define UID1 "6b1a4b8e-2c0e-4a43-9f6a-0d5b2c7e1f42"
#define CID1 "3f1c9e2ab4d5c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
#define UID2 "0f2d4c6e-8a1b-4c3d-9e5f-7a6b8c9d0e1f"
#define CID2 "9a8b7c6d5e4f30211f2e3d4c5b6a79881726354453627181900a1b2c3d4e5f60"
#define CID3 "c0ffee00deadbeef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MIB  (1024ull * 1024)

static uint64_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

TEST(membership_hybrid_v1_memory_and_unified)
{
    struct cgroup_membership m;
    const char *text = "12:memory:/kubepods/burstable/podX/abc\n"
                       "4:cpu,cpuacct:/kubepods/burstable/podX/abc\n"
                       "1:name=systemd:/kubepods/burstable/podX/abc\n"
                       "0::/kubepods/burstable/podX/abc\n";
    CHECK_EQ(cgroup_parse_membership(text, &m), 0);
    CHECK_STREQ(m.memory_ctrl, "memory");
    CHECK_STREQ(m.memory_path, "/kubepods/burstable/podX/abc");
    CHECK_STREQ(m.cpu_ctrl, "cpu,cpuacct");
    CHECK(m.has_unified);
    CHECK_STREQ(m.unified_path, "/kubepods/burstable/podX/abc");
    /* "cpuacct" alone must not be taken for cpu, nor name=systemd for anything */
    CHECK_EQ(cgroup_parse_membership("3:cpuacct:/a\n1:name=systemd:/b\n", &m), 0);
    CHECK_STREQ(m.cpu_path, "");
    CHECK_STREQ(m.memory_path, "");
    CHECK(!m.has_unified);
    CHECK_EQ(cgroup_parse_membership("garbage\n\n", &m), -EINVAL);
}

TEST(v2_systemd_containerd_burstable)
{
    const char *s = DATA "v2_systemd_containerd_burstable/";
    char proc[256], root[256], want[1024];
    snprintf(proc, sizeof(proc), "%sproc", s);
    snprintf(root, sizeof(root), "%sroot", s);
    struct cgroup_info cg;
    CHECK_EQ(cgroup_of_pid(proc, root, PID, &cg), 0);
    CHECK_EQ(cg.memory_version, 2);
    snprintf(want, sizeof(want),
             "%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
             "cri-containerd-%s.scope",
             root, "6b1a4b8e_2c0e_4a43_9f6a_0d5b2c7e1f42", CID1);
    CHECK_STREQ(cg.memory_dir, want);
    CHECK_STREQ(cg.memory_root, root);
    CHECK_EQ(cg.memory_id, inode_of(want));
    CHECK_EQ(cg.cpu_version, 2);
    CHECK_STREQ(cg.container.id, CID1);
    CHECK_STREQ(cg.container.pod_uid, UID1);
    uint64_t v;
    CHECK_EQ(cgroup_memory_limit(&cg, &v), 0);
    CHECK_EQ(v, 512 * MIB); /* the container's own, below the pod's 1 GiB */
    CHECK_EQ(cgroup_cpu_limit_millis(&cg, &v), 0);
    CHECK_EQ(v, 500);
    CHECK_EQ(cgroup_read_usage(cg.memory_dir, cg.memory_version, &v), 0);
    CHECK_EQ(v, 123456789);
    CHECK_EQ(cgroup_read_oom_kills(cg.memory_dir, cg.memory_version, &v), 0);
    CHECK_EQ(v, 2); /* "oom_kill 2", not "oom 3" nor "oom_group_kill 0" */
    uint64_t id;
    CHECK_EQ(cgroup_memory_id_of_pid(proc, root, PID, &id), 0);
    CHECK_EQ(id, cg.memory_id);
}

TEST(v2_cgroupfs_guaranteed_limits_come_from_the_pod)
{
    const char *s = DATA "v2_cgroupfs_guaranteed_pod_limit/";
    char proc[256], root[256];
    snprintf(proc, sizeof(proc), "%sproc", s);
    snprintf(root, sizeof(root), "%sroot", s);
    struct cgroup_info cg;
    CHECK_EQ(cgroup_of_pid(proc, root, PID, &cg), 0);
    CHECK_EQ(cg.memory_version, 2);
    CHECK_STREQ(cg.path, "/kubepods/pod" UID2 "/" CID2);
    CHECK_STREQ(cg.container.id, CID2);
    CHECK_STREQ(cg.container.pod_uid, UID2);
    uint64_t v;
    CHECK_EQ(cgroup_memory_limit(&cg, &v), 0); /* container "max", pod 256 MiB */
    CHECK_EQ(v, 256 * MIB);
    CHECK_EQ(cgroup_cpu_limit_millis(&cg, &v), 0); /* container "max", pod 2 CPUs */
    CHECK_EQ(v, 2000);
    CHECK_EQ(cgroup_read_oom_kills(cg.memory_dir, cg.memory_version, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(cgroup_dir_memory_version(cg.memory_dir), 2);
}

TEST(v1_docker_with_cpu_cpuacct_comounted_and_no_limits)
{
    const char *s = DATA "v1_docker_cpu_cpuacct_unlimited/";
    char proc[256], root[256], want[1024];
    snprintf(proc, sizeof(proc), "%sproc", s);
    snprintf(root, sizeof(root), "%sroot", s);
    struct cgroup_info cg;
    CHECK_EQ(cgroup_of_pid(proc, root, PID, &cg), 0);
    CHECK_EQ(cg.memory_version, 1); /* the v1 memory line wins over "0::" */
    snprintf(want, sizeof(want), "%s/memory/docker/%s", root, CID3);
    CHECK_STREQ(cg.memory_dir, want);
    snprintf(want, sizeof(want), "%s/cpu,cpuacct/docker/%s", root, CID3);
    CHECK_STREQ(cg.cpu_dir, want);
    CHECK_STREQ(cg.container.id, CID3);
    CHECK_STREQ(cg.container.pod_uid, ""); /* plain Docker: no Pod */
    uint64_t v;
    CHECK_EQ(cgroup_memory_limit(&cg, &v), 0); /* 9223372036854771712 everywhere */
    CHECK(v == CGROUP_UNLIMITED);
    CHECK_EQ(cgroup_cpu_limit_millis(&cg, &v), 0); /* cfs_quota_us -1 */
    CHECK(v == CGROUP_UNLIMITED);
    CHECK_EQ(cgroup_read_usage(cg.memory_dir, cg.memory_version, &v), 0);
    CHECK_EQ(v, 50 * MIB);
    CHECK_EQ(cgroup_read_oom_kills(cg.memory_dir, cg.memory_version, &v), 0);
    CHECK_EQ(v, 1);
}

TEST(hybrid_memory_on_v1_even_with_a_unified_line)
{
    const char *s = DATA "hybrid_v1_memory_unified_empty/";
    char proc[256], root[256];
    snprintf(proc, sizeof(proc), "%sproc", s);
    snprintf(root, sizeof(root), "%sroot", s);
    struct cgroup_info cg;
    CHECK_EQ(cgroup_of_pid(proc, root, PID, &cg), 0);
    CHECK_EQ(cg.memory_version, 1);
    CHECK_EQ(cg.cpu_version, 1);
    CHECK_CONTAINS(cg.memory_dir, "/root/memory/flameshot-test-1/kubepods/burstable/pod");
    CHECK_STREQ(cg.container.id, CID2); /* a prefix before kubepods is fine */
    CHECK_STREQ(cg.container.pod_uid, UID2);
    uint64_t v;
    CHECK_EQ(cgroup_memory_limit(&cg, &v), 0); /* container unlimited, pod 768 MiB */
    CHECK_EQ(v, 768 * MIB);
    CHECK_EQ(cgroup_cpu_limit_millis(&cg, &v), 0); /* container 25000/100000 */
    CHECK_EQ(v, 250);
    CHECK_EQ(cgroup_dir_memory_version(cg.memory_dir), 1);
}

TEST(paths_outside_our_cgroup_namespace_are_refused)
{
    struct cgroup_membership m;
    struct cgroup_info cg;
    CHECK_EQ(cgroup_parse_membership("0::/../../kubepods/pod" UID2 "/" CID2 "\n", &m), 0);
    CHECK_EQ(cgroup_resolve(DATA "v2_cgroupfs_guaranteed_pod_limit/root", &m, &cg), -EXDEV);
    CHECK_EQ(cgroup_of_pid(DATA "v2_cgroupfs_guaranteed_pod_limit/proc",
                           DATA "v2_cgroupfs_guaranteed_pod_limit/root", 4243, &cg),
             -ESRCH);
}

/* ---- cgroup v1 for real -------------------------------------------------------- */

static char v1_rel[256];

static int write_file(const char *dir, const char *name, const char *value)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int rc = fputs(value, f) < 0 ? -EIO : 0;
    if (fclose(f) != 0)
        rc = -errno;
    return rc;
}

/* mkdir -p of v1_rel under a hierarchy; returns the leaf */
static int v1_mkdirs(const char *hier, char *leaf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", hier);
    for (const char *p = v1_rel; *p;) {
        const char *slash = strchr(p + 1, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        strncat(path, p, n);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        p += n;
    }
    snprintf(leaf, cap, "%s", path);
    return 0;
}

static void v1_rmdirs(const char *hier)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s%s", hier, v1_rel);
    for (;;) {
        if (rmdir(path) < 0)
            return;
        char *slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) <= strlen(hier))
            return;
        *slash = '\0';
    }
}

static pid_t spawn_in(const char *mem_dir, const char *cpu_dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        char me[32];
        snprintf(me, sizeof(me), "%d", getpid());
        if (write_file(mem_dir, "cgroup.procs", me) < 0 ||
            write_file(cpu_dir, "cgroup.procs", me) < 0)
            _exit(1);
        pause();
        _exit(0);
    }
    return pid;
}

TEST(v1_for_real_memory_and_cpu_hierarchies)
{
    NEED(getuid() == 0, "needs root to create cgroups");
    NEED(access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0 &&
             access("/sys/fs/cgroup/cpu/cgroup.procs", W_OK) == 0,
         "needs cgroup v1 memory and cpu hierarchies at /sys/fs/cgroup");
    snprintf(v1_rel, sizeof(v1_rel), "/flameshot-unit-%d/kubepods/burstable/pod%s/%s", getpid(),
             UID2, CID2);
    char mem[1024] = "", cpu[1024] = "", pod[1024];
    int setup = v1_mkdirs("/sys/fs/cgroup/memory", mem, sizeof(mem));
    if (setup == 0)
        setup = v1_mkdirs("/sys/fs/cgroup/cpu", cpu, sizeof(cpu));
    snprintf(pod, sizeof(pod), "%s", mem);
    if (strrchr(pod, '/'))
        *strrchr(pod, '/') = '\0';
    if (setup == 0)
        setup = write_file(mem, "memory.limit_in_bytes", "268435456");
    if (setup == 0) /* the pod's limit is below the container's: it is the effective one */
        setup = write_file(pod, "memory.limit_in_bytes", "134217728");
    if (setup == 0)
        setup = write_file(cpu, "cpu.cfs_quota_us", "150000");
    pid_t child = setup == 0 ? spawn_in(mem, cpu) : -1;
    struct cgroup_info cg = {0};
    int rc = setup < 0 ? setup : -1;
    for (int i = 0; child > 0 && i < 100 && rc != 0; i++) { /* until the child moved itself */
        rc = cgroup_of_pid(NULL, NULL, child, &cg);
        if (rc == 0 && strcmp(cg.memory_dir, mem) != 0)
            rc = -EAGAIN;
        usleep(10000);
    }
    uint64_t limit = 0, millis = 0, usage = 0, kills = 1, id = 0;
    if (rc == 0) {
        cgroup_memory_limit(&cg, &limit);
        cgroup_cpu_limit_millis(&cg, &millis);
        cgroup_read_usage(cg.memory_dir, cg.memory_version, &usage);
        cgroup_read_oom_kills(cg.memory_dir, cg.memory_version, &kills);
        cgroup_memory_id_of_pid(NULL, NULL, child, &id);
    }
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    usleep(50000);
    v1_rmdirs("/sys/fs/cgroup/memory");
    v1_rmdirs("/sys/fs/cgroup/cpu");
    CHECK_EQ(setup, 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(cg.memory_version, 1);
    CHECK_STREQ(cg.memory_dir, mem);
    CHECK_STREQ(cg.cpu_dir, cpu);
    CHECK_EQ(cg.memory_id, id);
    CHECK(cg.memory_id != 0);
    CHECK_STREQ(cg.container.id, CID2);
    CHECK_STREQ(cg.container.pod_uid, UID2);
    CHECK_EQ(limit, 128 * MIB);
    CHECK_EQ(millis, 1500);
    CHECK(usage > 0);
    CHECK_EQ(kills, 0);
}

TEST(v1_root_is_unlimited_for_real)
{
    NEED(access("/sys/fs/cgroup/memory/memory.limit_in_bytes", R_OK) == 0,
         "needs the cgroup v1 memory hierarchy");
    struct cgroup_info cg = {.memory_version = 1};
    snprintf(cg.memory_root, sizeof(cg.memory_root), "/sys/fs/cgroup/memory");
    snprintf(cg.memory_dir, sizeof(cg.memory_dir), "/sys/fs/cgroup/memory");
    uint64_t v = 0;
    CHECK_EQ(cgroup_memory_limit(&cg, &v), 0);
    CHECK(v == CGROUP_UNLIMITED); /* 9223372036854771712 in the file */
}

TEST_MAIN(membership_hybrid_v1_memory_and_unified, v2_systemd_containerd_burstable,
          v2_cgroupfs_guaranteed_limits_come_from_the_pod,
          v1_docker_with_cpu_cpuacct_comounted_and_no_limits,
          hybrid_memory_on_v1_even_with_a_unified_line,
          paths_outside_our_cgroup_namespace_are_refused, v1_for_real_memory_and_cpu_hierarchies,
          v1_root_is_unlimited_for_real)
