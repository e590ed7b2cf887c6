/* pathtpl: Flameshot's "{name}" templates for files on the node, e.g.
 * FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE
 * "{profiling_path}/dumps/{service}_{pod_name}_{pid}_{timestamp}.hprof".
 *
 * Known names: profiling_path, service, pod_name, pod_namespace, host,
 * pid, timestamp (UTC, 20060102T150405Z as Flameshot writes it) and
 * filename. Flameshot leaves an unknown name as it is; here it is a
 * configuration error, so a typo cannot name a literal "{podname}" file.
 *
 * The values come from the workload (a Pod's labels name the service): the
 * agent writes as root on the node, so every value except profiling_path
 * becomes one safe file-name component ('/', NUL, control and any byte
 * outside [A-Za-z0-9._+-] -> '_'; "." and ".." -> "_"; an empty value
 * stays empty, as in Flameshot). Only the template, written by the
 * operator, decides directories; empty components ("a//b") are dropped as
 * Go's filepath.Clean drops them. Pure functions, thread-safe. */
#ifndef FS_PATHTPL_H
#define FS_PATHTPL_H

#include <stddef.h>
#include <stdint.h>

struct pathtpl_vars {
    const char *profiling_path; /* FLAMESHOT_PROFILING_PATH (taken as it is) */
    const char *service;
    const char *pod_name; /* NULL or "": empty, as in Flameshot outside a Pod */
    const char *pod_namespace;
    const char *host;
    int pid;          /* the pid the JVM sees (Flameshot's sidecar view) */
    uint64_t when_ns; /* CLOCK_REALTIME */
    const char *filename;
};

/* Whether tpl renders to an absolute path: it starts with "/" or
 * "{profiling_path}", uses known names only, closes every '{', has no "."
 * or ".." component and does not end in '/'. Returns 0, or -EINVAL with
 * why (a static or why-buffer text). */
int pathtpl_check(const char *tpl, char *why, size_t whycap);

/* Renders tpl with v into out. Returns 0, -EINVAL (tpl fails
 * pathtpl_check, or a component renders to "." or "..") or -ENAMETOOLONG
 * (out too small, or a component of more than 255 bytes). */
int pathtpl_render(const char *tpl, const struct pathtpl_vars *v, char *out, size_t cap);

/* The timestamp as the templates write it: "20261202T032317Z". */
void pathtpl_timestamp(uint64_t when_ns, char *buf, size_t cap);

#endif
