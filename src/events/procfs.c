#include "events/procfs.h"

#include "core/fsutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *root_or_default(const char *root)
{
    return root ? root : "/proc";
}

/* ENOENT on /proc/<pid> and ESRCH on a zombie's files both mean "gone" */
static int read_pid_file(const char *root, int pid, const char *name, char *buf, size_t cap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d/%s", root_or_default(root), pid, name);
    ssize_t n = fsutil_read_small(path, buf, cap);
    return n < 0 ? (int)n : 0;
}

int procfs_parse_stat(const char *text, struct proc_stat *out)
{
    memset(out, 0, sizeof(*out));
    const char *open = strchr(text, '(');
    const char *close = strrchr(text, ')'); /* comm may contain ')' */
    if (!open || !close || close < open)
        return -EINVAL;
    out->pid = atoi(text);
    size_t clen = (size_t)(close - open - 1);
    if (clen >= sizeof(out->comm))
        clen = sizeof(out->comm) - 1;
    memcpy(out->comm, open + 1, clen);

    /* fields after comm, numbered from 3 (state) as in proc(5) */
    unsigned long long f[52] = {0};
    /* the kernel writes ") S ": a state the scan skipped spaces to would
     * leave p past the end of a text ending right after it */
    const char *p = close + 1;
    if (p[0] != ' ' || !p[1] || isspace((unsigned char)p[1]))
        return -EINVAL;
    char state = p[1];
    p += 2;
    int idx = 4;
    while (*p && idx < 52) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            return -EINVAL;
        f[idx++] = (unsigned long long)v;
        p = end;
    }
    if (idx < 25)
        return -EINVAL;
    out->state = state;
    out->ppid = (int)f[4];
    out->utime = f[14];
    out->stime = f[15];
    out->starttime = f[22];
    out->rss_pages = f[24];
    return 0;
}

/* Last number on a "Key:\t1\t2\t3" line: the innermost namespace's id. */
static int last_field(const char *v)
{
    int last = -1;
    char *end;
    for (;;) {
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\n' || !*v)
            return last;
        long n = strtol(v, &end, 10);
        if (end == v)
            return last;
        last = (int)n;
        v = end;
    }
}

static int count_fields(const char *v)
{
    int n = 0;
    char *end;
    for (;;) {
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\n' || !*v)
            return n;
        strtol(v, &end, 10);
        if (end == v)
            return n;
        n++;
        v = end;
    }
}

int procfs_parse_status(const char *text, struct proc_status *out)
{
    memset(out, 0, sizeof(*out));
    out->tgid = out->nspid = out->nstgid = -1;
    bool have_uid = false, have_gid = false;
    for (const char *line = text; line && *line;) {
        const char *v = strchr(line, ':');
        if (!v)
            break;
        v++;
        unsigned long a, b;
        if (strncmp(line, "Tgid:", 5) == 0) {
            out->tgid = atoi(v);
        } else if (strncmp(line, "NStgid:", 7) == 0) {
            out->nstgid = last_field(v);
            out->ns_depth = count_fields(v);
        } else if (strncmp(line, "NSpid:", 6) == 0) {
            out->nspid = last_field(v);
        } else if (strncmp(line, "Uid:", 4) == 0 && sscanf(v, "%lu %lu", &a, &b) == 2) {
            out->ruid = (uid_t)a;
            out->euid = (uid_t)b;
            have_uid = true;
        } else if (strncmp(line, "Gid:", 4) == 0 && sscanf(v, "%lu %lu", &a, &b) == 2) {
            out->rgid = (gid_t)a;
            out->egid = (gid_t)b;
            have_gid = true;
        } else if (strncmp(line, "VmRSS:", 6) == 0) {
            out->vmrss_kb = strtoull(v, NULL, 10);
        } else if (strncmp(line, "Threads:", 8) == 0) {
            out->threads = atoi(v);
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (out->tgid < 0 || !have_uid || !have_gid)
        return -EINVAL;
    /* kernels before 4.1 have no NSpid: the process sees its host pid */
    if (out->nstgid < 0) {
        out->nstgid = out->tgid;
        out->ns_depth = 1;
    }
    if (out->nspid < 0)
        out->nspid = out->nstgid;
    return 0;
}

int procfs_read_stat(const char *root, int pid, struct proc_stat *out)
{
    char buf[2048];
    int rc = read_pid_file(root, pid, "stat", buf, sizeof(buf));
    return rc < 0 ? rc : procfs_parse_stat(buf, out);
}

int procfs_read_status(const char *root, int pid, struct proc_status *out)
{
    char buf[8192];
    int rc = read_pid_file(root, pid, "status", buf, sizeof(buf));
    return rc < 0 ? rc : procfs_parse_status(buf, out);
}

int procfs_read_argv(const char *root, int pid, char **buf, size_t *len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d/cmdline", root_or_default(root), pid);
    return fsutil_read_all(path, 1 << 20, buf, len);
}

char *procfs_argv_join(const char *argv, size_t len)
{
    char *line = len ? malloc(len + 1) : NULL;
    if (!line)
        return NULL;
    while (len && argv[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++)
        line[i] = argv[i] ? argv[i] : ' ';
    line[len] = '\0';
    return line;
}

int procfs_read_cmdline(const char *root, int pid, char **line)
{
    size_t len;
    char *buf;
    int rc = procfs_read_argv(root, pid, &buf, &len);
    if (rc < 0)
        return rc;
    *line = procfs_argv_join(buf, len);
    free(buf);
    if (*line)
        return 0;
    return len ? -ENOMEM : -ENODATA;
}

int procfs_read_rss(const char *root, int pid, uint64_t *bytes)
{
    char buf[256];
    int rc = read_pid_file(root, pid, "statm", buf, sizeof(buf));
    if (rc < 0)
        return rc == -ENOENT ? -ESRCH : rc;
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return -EINVAL;
    *bytes = resident * (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

int procfs_each_pid(const char *root, int (*fn)(int pid, void *arg), void *arg)
{
    DIR *d = opendir(root_or_default(root));
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)))
        if (isdigit((unsigned char)e->d_name[0]))
            rc = fn(atoi(e->d_name), arg);
    closedir(d);
    return rc;
}

int procfs_maps_text_has_lib(const char *text, const char *lib)
{
    size_t ll = strlen(lib);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *slash = memrchr(line, '/', n);
        if (slash) {
            size_t bl = n - (size_t)(slash + 1 - line);
            /* "(deleted)" suffix after an upgrade of the JDK package */
            if (bl >= ll && strncmp(slash + 1, lib, ll) == 0 && (bl == ll || slash[1 + ll] == ' '))
                return 1;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

int procfs_maps_has_lib(const char *root, int pid, const char *lib)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d/maps", root_or_default(root), pid);
    char *text;
    int rc = fsutil_read_all(path, 64 << 20, &text, NULL);
    if (rc < 0)
        return rc;
    rc = procfs_maps_text_has_lib(text, lib);
    free(text);
    return rc;
}

double procfs_uptime(const char *root)
{
    char path[PATH_MAX], buf[128];
    snprintf(path, sizeof(path), "%s/uptime", root_or_default(root));
    if (fsutil_read_small(path, buf, sizeof(buf)) < 0)
        return 0;
    return strtod(buf, NULL);
}

uint64_t procfs_mem_total(const char *root)
{
    char path[PATH_MAX], buf[4096];
    snprintf(path, sizeof(path), "%s/meminfo", root_or_default(root));
    if (fsutil_read_small(path, buf, sizeof(buf)) < 0)
        return 0;
    const char *p = strstr(buf, "MemTotal:");
    return p ? strtoull(p + 9, NULL, 10) * 1024 : 0;
}

long procfs_clk_tck(void)
{
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? t : 100;
}

int procfs_ident(const char *root, int pid, struct proc_ident *out)
{
    struct proc_stat st;
    struct proc_status ss;
    memset(out, 0, sizeof(*out));
    int rc = procfs_read_stat(root, pid, &st);
    if (rc == 0)
        rc = procfs_read_status(root, pid, &ss);
    if (rc == -ENOENT)
        rc = -ESRCH;
    if (rc < 0)
        return rc;
    if (st.state == 'Z' || st.state == 'X')
        return -ESRCH;
    out->pid = ss.tgid;
    out->nspid = ss.nstgid;
    out->ppid = st.ppid;
    out->start_time = st.starttime;
    out->uid = ss.euid;
    out->gid = ss.egid;
    snprintf(out->comm, sizeof(out->comm), "%s", st.comm);
    return 0;
}

int procfs_same_process(const char *root, const struct proc_ident *ident)
{
    struct proc_stat st;
    if (procfs_read_stat(root, ident->pid, &st) < 0)
        return 0;
    return st.starttime == ident->start_time && st.state != 'Z' && st.state != 'X';
}

int procfs_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
