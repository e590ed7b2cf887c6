#include "events/cgroup.h"

#include "core/fsutil.h"
#include "events/containerid.h"

#include <ctype.h>
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* v1 memory.limit_in_bytes of an unlimited cgroup is PAGE_COUNTER_MAX pages
 * in bytes: LONG_MAX rounded down to the page size (0x7ffffffffffff000 with
 * 4 KiB pages, ...0000 with 64 KiB). Anything this large is "no limit". */
#define V1_UNLIMITED_MIN 0x7fffffffffff0000ULL

static const char *root_or(const char *root, const char *dflt)
{
    return root ? root : dflt;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static void copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* One "hier:controllers:path" line. */
static int parse_line(const char *line, size_t len, struct cgroup_membership *m)
{
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (!c1 || !c2)
        return -EINVAL;
    char ctrl[64];
    copy(ctrl, sizeof(ctrl), c1 + 1, (size_t)(c2 - c1 - 1));
    const char *path = c2 + 1;
    size_t plen = len - (size_t)(path - line);
    if (plen >= CGROUP_PATH_LEN)
        return -ENAMETOOLONG;
    if (strncmp(line, "0:", 2) == 0 && ctrl[0] == '\0') {
        m->has_unified = true;
        copy(m->unified_path, sizeof(m->unified_path), path, plen);
    }
    if (has_word(ctrl, "memory")) {
        copy(m->memory_ctrl, sizeof(m->memory_ctrl), ctrl, strlen(ctrl));
        copy(m->memory_path, sizeof(m->memory_path), path, plen);
    }
    if (has_word(ctrl, "cpu")) {
        copy(m->cpu_ctrl, sizeof(m->cpu_ctrl), ctrl, strlen(ctrl));
        copy(m->cpu_path, sizeof(m->cpu_path), path, plen);
    }
    return 0;
}

int cgroup_parse_membership(const char *text, struct cgroup_membership *out)
{
    memset(out, 0, sizeof(*out));
    int parsed = 0;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0 && parse_line(p, len, out) == 0)
            parsed++;
        p = nl ? nl + 1 : NULL;
    }
    return parsed ? 0 : -EINVAL;
}

/* The directory a v1 controller is mounted on: <root>/<list> as mounted
 * (e.g. "cpu,cpuacct"), else <root>/<name> (the usual symlink). */
static int v1_root(const char *root, const char *ctrl, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", root, ctrl);
    if (is_dir(out))
        return 0;
    snprintf(out, cap, "%s/%s", root, name);
    return is_dir(out) ? 0 : -ENOENT;
}

/* cgroup2 is either mounted at root itself or, on hybrid hosts, at
 * <root>/unified. */
static int v2_root(const char *root, char *out, size_t cap)
{
    snprintf(out, cap, "%s/cgroup.controllers", root);
    if (exists(out)) {
        snprintf(out, cap, "%s", root);
        return 0;
    }
    snprintf(out, cap, "%s/unified/cgroup.controllers", root);
    if (exists(out)) {
        snprintf(out, cap, "%s/unified", root);
        return 0;
    }
    return -ENOENT;
}

static int join(char *out, size_t cap, const char *base, const char *path)
{
    if (strncmp(path, "/..", 3) == 0)
        return -EXDEV;
    int n = snprintf(out, cap, "%s%s", base, strcmp(path, "/") == 0 ? "" : path);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int resolve_memory(const char *root, const struct cgroup_membership *m,
                          struct cgroup_info *out)
{
    int rc;
    const char *path;
    if (m->memory_path[0]) {
        rc = v1_root(root, m->memory_ctrl, "memory", out->memory_root, sizeof(out->memory_root));
        out->memory_version = 1;
        path = m->memory_path;
    } else if (m->has_unified) {
        rc = v2_root(root, out->memory_root, sizeof(out->memory_root));
        out->memory_version = 2;
        path = m->unified_path;
    } else {
        return -ENOENT;
    }
    if (rc == 0)
        rc = join(out->memory_dir, sizeof(out->memory_dir), out->memory_root, path);
    if (rc == 0)
        rc = cgroup_dir_id(out->memory_dir, &out->memory_id);
    if (rc == 0)
        copy(out->path, sizeof(out->path), path, strlen(path));
    return rc;
}

/* A missing cpu cgroup is not an error: cpu_version stays 0. */
static void resolve_cpu(const char *root, const struct cgroup_membership *m,
                        struct cgroup_info *out)
{
    int rc;
    const char *path;
    if (m->cpu_path[0]) {
        rc = v1_root(root, m->cpu_ctrl, "cpu", out->cpu_root, sizeof(out->cpu_root));
        path = m->cpu_path;
        out->cpu_version = 1;
    } else if (m->has_unified) {
        rc = v2_root(root, out->cpu_root, sizeof(out->cpu_root));
        path = m->unified_path;
        out->cpu_version = 2;
    } else {
        rc = -ENOENT;
        path = "";
    }
    if (rc == 0)
        rc = join(out->cpu_dir, sizeof(out->cpu_dir), out->cpu_root, path);
    if (rc < 0 || !is_dir(out->cpu_dir)) {
        out->cpu_version = 0;
        out->cpu_root[0] = out->cpu_dir[0] = '\0';
    }
}

int cgroup_resolve(const char *cgroup_root, const struct cgroup_membership *m,
                   struct cgroup_info *out)
{
    const char *root = root_or(cgroup_root, "/sys/fs/cgroup");
    memset(out, 0, sizeof(*out));
    int rc = resolve_memory(root, m, out);
    if (rc < 0)
        return rc;
    resolve_cpu(root, m, out);
    containerid_from_paths(m->memory_path, m->has_unified ? m->unified_path : NULL,
                           &out->container);
    return 0;
}

static int read_membership(const char *proc_root, int pid, struct cgroup_membership *m)
{
    char path[PATH_MAX], buf[8192];
    snprintf(path, sizeof(path), "%s/%d/cgroup", root_or(proc_root, "/proc"), pid);
    ssize_t n = fsutil_read_small(path, buf, sizeof(buf));
    if (n == -ENOENT)
        return -ESRCH;
    if (n < 0)
        return (int)n;
    return cgroup_parse_membership(buf, m);
}

int cgroup_of_pid(const char *proc_root, const char *cgroup_root, int pid, struct cgroup_info *out)
{
    struct cgroup_membership *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    int rc = read_membership(proc_root, pid, m);
    if (rc == 0)
        rc = cgroup_resolve(cgroup_root, m, out);
    free(m);
    return rc;
}

int cgroup_memory_id_of_pid(const char *proc_root, const char *cgroup_root, int pid, uint64_t *id)
{
    struct cgroup_membership *m = malloc(sizeof(*m));
    struct cgroup_info *info = malloc(sizeof(*info));
    int rc = -ENOMEM;
    if (!m || !info)
        goto out;
    rc = read_membership(proc_root, pid, m);
    if (rc == 0) {
        memset(info, 0, sizeof(*info));
        rc = resolve_memory(root_or(cgroup_root, "/sys/fs/cgroup"), m, info);
    }
    if (rc == 0)
        *id = info->memory_id;
out:
    free(m);
    free(info);
    return rc;
}

int cgroup_dir_id(const char *dir, uint64_t *id)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    *id = (uint64_t)st.st_ino;
    return 0;
}

int cgroup_dir_memory_version(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/memory.current", dir);
    if (exists(path))
        return 2;
    snprintf(path, sizeof(path), "%s/memory.usage_in_bytes", dir);
    return exists(path) ? 1 : -ENOENT;
}

/* ---- file readers ---------------------------------------------------------- */

static int read_file(const char *dir, const char *name, char *buf, size_t cap)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    ssize_t r = fsutil_read_small(path, buf, cap);
    return r < 0 ? (int)r : 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || (*end && *end != '\n' && *end != ' '))
        return -EINVAL;
    *v = x;
    return 0;
}

/* Value of "key N" in a flat-keyed file (memory.events, memory.oom_control). */
static int keyed_value(const char *text, const char *key, uint64_t *v)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
            return parse_u64(p + klen + 1, v);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -ENODATA;
}

int cgroup_read_usage(const char *dir, int version, uint64_t *bytes)
{
    char buf[64];
    int rc =
        read_file(dir, version == 2 ? "memory.current" : "memory.usage_in_bytes", buf, sizeof(buf));
    return rc < 0 ? rc : parse_u64(buf, bytes);
}

int cgroup_read_oom_kills(const char *dir, int version, uint64_t *count)
{
    char buf[1024];
    int rc =
        read_file(dir, version == 2 ? "memory.events" : "memory.oom_control", buf, sizeof(buf));
    return rc < 0 ? rc : keyed_value(buf, "oom_kill", count);
}

/* ---- limits along the ancestors ------------------------------------------------ */

typedef int (*limit_fn)(const char *dir, uint64_t *v); /* CGROUP_UNLIMITED when none */

static int min_along(const char *root, const char *dir, limit_fn fn, uint64_t *out)
{
    char cur[CGROUP_PATH_LEN];
    size_t rlen = strlen(root);
    snprintf(cur, sizeof(cur), "%s", dir);
    *out = CGROUP_UNLIMITED;
    for (;;) {
        uint64_t v;
        int rc = fn(cur, &v);
        if (rc < 0 && rc != -ENOENT) /* the v2 root has no limit files */
            return rc;
        if (rc == 0 && v < *out)
            *out = v;
        if (strlen(cur) <= rlen)
            return 0;
        char *slash = strrchr(cur, '/');
        if (!slash || (size_t)(slash - cur) < rlen)
            return 0;
        *slash = '\0';
    }
}

static int mem_limit_v1(const char *dir, uint64_t *v)
{
    char buf[64];
    int rc = read_file(dir, "memory.limit_in_bytes", buf, sizeof(buf));
    if (rc == 0)
        rc = parse_u64(buf, v);
    if (rc == 0 && *v >= V1_UNLIMITED_MIN)
        *v = CGROUP_UNLIMITED;
    return rc;
}

static int mem_limit_v2(const char *dir, uint64_t *v)
{
    char buf[64];
    int rc = read_file(dir, "memory.max", buf, sizeof(buf));
    if (rc < 0)
        return rc;
    if (strncmp(buf, "max", 3) == 0) {
        *v = CGROUP_UNLIMITED;
        return 0;
    }
    return parse_u64(buf, v);
}

int cgroup_memory_limit(const struct cgroup_info *cg, uint64_t *bytes)
{
    return min_along(cg->memory_root, cg->memory_dir,
                     cg->memory_version == 2 ? mem_limit_v2 : mem_limit_v1, bytes);
}

static uint64_t millis(int64_t quota, uint64_t period)
{
    if (quota < 0 || period == 0)
        return CGROUP_UNLIMITED;
    return (uint64_t)quota * 1000 / period;
}

static int cpu_limit_v1(const char *dir, uint64_t *v)
{
    char q[64], p[64];
    int rc = read_file(dir, "cpu.cfs_quota_us", q, sizeof(q));
    if (rc == 0)
        rc = read_file(dir, "cpu.cfs_period_us", p, sizeof(p));
    if (rc < 0)
        return rc;
    char *end;
    long long quota = strtoll(q, &end, 10);
    uint64_t period;
    if (end == q || parse_u64(p, &period) < 0)
        return -EINVAL;
    *v = millis(quota, period);
    return 0;
}

static int cpu_limit_v2(const char *dir, uint64_t *v)
{
    char buf[64], qs[32];
    unsigned long long period;
    int rc = read_file(dir, "cpu.max", buf, sizeof(buf));
    if (rc < 0)
        return rc;
    if (sscanf(buf, "%31s %llu", qs, &period) != 2)
        return -EINVAL;
    if (strcmp(qs, "max") == 0) {
        *v = CGROUP_UNLIMITED;
        return 0;
    }
    uint64_t quota;
    if (parse_u64(qs, &quota) < 0 || quota > INT64_MAX)
        return -EINVAL;
    *v = millis((int64_t)quota, period);
    return 0;
}

int cgroup_cpu_limit_millis(const struct cgroup_info *cg, uint64_t *millis_out)
{
    if (!cg->cpu_version)
        return -ENOENT;
    return min_along(cg->cpu_root, cg->cpu_dir, cg->cpu_version == 2 ? cpu_limit_v2 : cpu_limit_v1,
                     millis_out);
}

/* 1 when a cgroup of pid lies outside our cgroup namespace. */
static int outside_our_ns(const char *proc_root, int pid)
{
    char path[PATH_MAX], text[4096];
    snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid);
    ssize_t n = fsutil_read_small(path, text, sizeof(text));
    if (n < 0)
        return (int)n;
    return strstr(text, ":/..") != NULL;
}

int cgroup_join_host_ns(const char *proc_root, int host_pid)
{
    int rc = outside_our_ns(proc_root, host_pid);
    if (rc <= 0)
        return rc;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d/ns/cgroup", proc_root, host_pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = setns(fd, CLONE_NEWCGROUP) < 0 ? -errno : 1;
    close(fd);
    return rc;
}
