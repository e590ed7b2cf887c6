/* procfs: readers for /proc/<pid>/{stat,status,cmdline,maps}. Parsers take
 * text so that fixtures under tests/data/proc can be tested directly; the
 * readers take a proc root (NULL means "/proc"). None of these follow paths
 * inside a container: they read the host's view of a process. */
#ifndef FS_PROCFS_H
#define FS_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
    int pid;
    char comm[32];
    char state;
    int ppid;
    uint64_t utime;     /* clock ticks */
    uint64_t stime;     /* clock ticks */
    uint64_t starttime; /* clock ticks since boot: with pid, names a process */
    uint64_t rss_pages;
};

struct proc_status {
    int tgid;
    int nspid;    /* innermost NSpid; equals the pid without a PID namespace */
    int nstgid;   /* innermost NStgid */
    int ns_depth; /* how many pid namespaces deep (1 = host only) */
    uid_t ruid, euid;
    gid_t rgid, egid;
    uint64_t vmrss_kb;
    int threads; /* Threads:; 0 when the line is missing */
};

/* Who a process is, as every module that acts on one needs it. (pid,
 * start_time) names one process for its whole life: a reused pid has a
 * different start time. */
struct proc_ident {
    int pid;             /* host tgid */
    int nspid;           /* the pid as the process itself sees it */
    int ppid;            /* host pid of the parent */
    uint64_t start_time; /* clock ticks since boot */
    uid_t uid;           /* effective */
    gid_t gid;           /* effective */
    char comm[32];
};

/* Fills ident from /proc/<pid>/{stat,status}. 0, -ESRCH when gone, -errno. */
int procfs_ident(const char *root, int pid, struct proc_ident *out);

/* Returns 1 if pid still names the process ident describes, else 0. */
int procfs_same_process(const char *root, const struct proc_ident *ident);

/* Parses the text of /proc/<pid>/stat, whose comm may hold spaces and
 * parentheses. Returns 0 or -EINVAL. */
int procfs_parse_stat(const char *text, struct proc_stat *out);

/* Parses the text of /proc/<pid>/status. Returns 0 or -EINVAL when Tgid or
 * Uid/Gid are missing. */
int procfs_parse_status(const char *text, struct proc_status *out);

/* Readers. Return 0, -ENOENT/-ESRCH when the process is gone, or -errno. */
int procfs_read_stat(const char *root, int pid, struct proc_stat *out);
int procfs_read_status(const char *root, int pid, struct proc_status *out);

/* Reads the command line; NUL separators become spaces in *line (malloc'd,
 * caller frees). A kernel thread (empty cmdline) yields -ENODATA. */
int procfs_read_cmdline(const char *root, int pid, char **line);

/* Reads the raw NUL-separated argv (malloc'd, caller frees). */
int procfs_read_argv(const char *root, int pid, char **buf, size_t *len);

/* The command line of a raw argv already read: a malloc'd copy with the
 * NUL separators as spaces (trailing ones dropped), or NULL when len is 0
 * or out of memory. */
char *procfs_argv_join(const char *argv, size_t len);

/* Resident set size in bytes from /proc/<pid>/statm. 0, -ESRCH when the
 * process is gone, -errno. */
int procfs_read_rss(const char *root, int pid, uint64_t *bytes);

/* Calls fn(pid, arg) for every process of the proc root, in directory
 * order, until fn returns non-zero (which is returned). 0 when all were
 * visited, -errno when the directory cannot be read. */
int procfs_each_pid(const char *root, int (*fn)(int pid, void *arg), void *arg);

/* Returns 1 if a mapping in /proc/<pid>/maps has a path whose basename is
 * lib (e.g. "libjvm.so"), 0 if not, -errno on error. */
int procfs_maps_has_lib(const char *root, int pid, const char *lib);
int procfs_maps_text_has_lib(const char *maps_text, const char *lib);

/* Seconds since boot from /proc/uptime; 0 on error. */
double procfs_uptime(const char *root);

/* Total memory of the host in bytes from /proc/meminfo; 0 on error. */
uint64_t procfs_mem_total(const char *root);

/* Number of online CPUs (sysconf), at least 1. */
int procfs_ncpus(void);

/* Returns the value of clock ticks per second (sysconf). */
long procfs_clk_tck(void);

#endif
