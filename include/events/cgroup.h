/* cgroup: where a process's memory and CPU cgroups are, what their limits
 * and usage are; which container / Pod the paths name comes from
 * containerid.
 *
 * Handles cgroup v1, v2 and hybrid hosts (memory and cpu on v1, the unified
 * hierarchy at <root>/unified without controllers). The cgroup filesystem
 * root ("/sys/fs/cgroup" when NULL) and the proc root ("/proc" when NULL)
 * are parameters so that tests can point them at file trees.
 *
 * The memory cgroup id is the inode number of the memory cgroup's
 * directory: the same number the BPF programs read from kernfs
 * (kn->id), so records from either event source can be matched to a
 * cgroup_info. Nothing here blocks beyond small file reads. */
#ifndef FS_CGROUP_H
#define FS_CGROUP_H

#include "events/containerid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGROUP_UNLIMITED UINT64_MAX /* a limit that is not set */
#define CGROUP_PATH_LEN  1024

/* What /proc/<pid>/cgroup says, before looking at the filesystem. Paths
 * are relative to their hierarchy's root and start with '/'. */
struct cgroup_membership {
    char memory_ctrl[64];              /* v1 controller list of the memory line, e.g. "memory" */
    char memory_path[CGROUP_PATH_LEN]; /* "" when memory is not on a v1 hierarchy */
    char cpu_ctrl[64];                 /* e.g. "cpu,cpuacct" */
    char cpu_path[CGROUP_PATH_LEN];    /* "" when cpu is not on a v1 hierarchy */
    bool has_unified;                  /* a "0::<path>" line was present */
    char unified_path[CGROUP_PATH_LEN];
};

/* Everything the daemon needs about one process's cgroups. */
struct cgroup_info {
    int memory_version;                /* 1 or 2 */
    char memory_root[CGROUP_PATH_LEN]; /* the hierarchy's mount directory */
    char memory_dir[CGROUP_PATH_LEN];  /* the process's memory cgroup directory */
    uint64_t memory_id;                /* inode of memory_dir */
    int cpu_version;                   /* 1 or 2; 0 when no cpu directory was found */
    char cpu_root[CGROUP_PATH_LEN];
    char cpu_dir[CGROUP_PATH_LEN];
    char path[CGROUP_PATH_LEN];       /* memory cgroup path inside its hierarchy */
    struct container_ident container; /* the container and Pod the paths name (containerid.h) */
};

/* Parses the text of /proc/<pid>/cgroup ("hier:controllers:path" lines).
 * A line whose path does not fit CGROUP_PATH_LEN is skipped, not cut: a
 * cut path would name another cgroup (or an outer container). Returns 0,
 * or -EINVAL when no line could be parsed. */
int cgroup_parse_membership(const char *text, struct cgroup_membership *out);

/* Finds the directories of m under cgroup_root and fills out (ids; the
 * container by containerid_from_paths). Memory on a v1 hierarchy wins over the unified one (hybrid
 * hosts). Returns 0, -ENOENT (no memory cgroup directory), -EXDEV (the path
 * lies outside our cgroup namespace, "/.." prefix: run the agent in the host
 * cgroup namespace) or -errno. */
int cgroup_resolve(const char *cgroup_root, const struct cgroup_membership *m,
                   struct cgroup_info *out);

/* Moves the calling thread into the cgroup namespace of host_pid (1, the
 * host's init with hostPID) when that process's cgroups lie outside ours
 * ("/.." paths in /proc/<host_pid>/cgroup, -EXDEV above), as they do for
 * a container on a cgroup v2 node by default (Kubernetes has no field to
 * change it). A namespace is per thread: call it before any thread
 * starts. 1 joined, 0 nothing to do, -errno (-EPERM without
 * CAP_SYS_ADMIN, -EACCES without CAP_SYS_PTRACE for host_pid's ns). */
int cgroup_join_host_ns(const char *proc_root, int host_pid);

/* cgroup_parse_membership + cgroup_resolve for /proc/<pid>/cgroup. Returns 0,
 * -ESRCH when the process is gone, or as cgroup_resolve. */
int cgroup_of_pid(const char *proc_root, const char *cgroup_root, int pid, struct cgroup_info *out);

/* Only the memory cgroup id of pid (cheaper: no cpu lookup, no parsing of
 * container ids). Returns 0 or -errno as cgroup_of_pid. */
int cgroup_memory_id_of_pid(const char *proc_root, const char *cgroup_root, int pid, uint64_t *id);

/* Inode number of a directory. 0 or -errno. */
int cgroup_dir_id(const char *dir, uint64_t *id);

/* 2 if dir has memory.current, 1 if memory.usage_in_bytes, else -ENOENT. */
int cgroup_dir_memory_version(const char *dir);

/* Current usage in bytes (v1 memory.usage_in_bytes, v2 memory.current).
 * 0 or -errno. */
int cgroup_read_usage(const char *dir, int version, uint64_t *bytes);

/* OOM kills counted for the cgroup (v1 memory.oom_control "oom_kill", v2
 * memory.events "oom_kill"). 0, -ENODATA (kernel without the counter) or
 * -errno. */
int cgroup_read_oom_kills(const char *dir, int version, uint64_t *count);

/* The effective memory limit: the smallest limit of memory_dir and its
 * ancestors up to the hierarchy root (v1 memory.limit_in_bytes, where the
 * page-counter maximum means unlimited; v2 memory.max, where "max" does).
 * Sets CGROUP_UNLIMITED when none is set. 0 or -errno. */
int cgroup_memory_limit(const struct cgroup_info *cg, uint64_t *bytes);

/* The effective CPU limit in millicores (v1 cpu.cfs_quota_us /
 * cpu.cfs_period_us, -1 meaning none; v2 cpu.max "<quota|max> <period>"),
 * the smallest along the ancestors. Sets CGROUP_UNLIMITED when none.
 * 0, -ENOENT (no cpu cgroup) or -errno. */
int cgroup_cpu_limit_millis(const struct cgroup_info *cg, uint64_t *millis);

#endif
