#include "core/pathtpl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_LEN 255

static const char *const names[] = {"profiling_path", "service",   "pod_name", "pod_namespace",
                                    "host",           "timestamp", "pid",      "filename"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

void pathtpl_timestamp(uint64_t when_ns, char *buf, size_t cap)
{
    time_t t = (time_t)(when_ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y%m%dT%H%M%SZ", &tm);
}

/* The name at s (just after '{'): its index, and *len up to the '}'. */
static int lookup(const char *s, size_t *len)
{
    const char *end = strchr(s, '}');
    if (!end)
        return -1;
    *len = (size_t)(end - s);
    for (size_t i = 0; i < N_NAMES; i++)
        if (strlen(names[i]) == *len && strncmp(s, names[i], *len) == 0)
            return (int)i;
    return -2;
}

/* A component of the template's own text: "." and ".." are refused. */
static bool dot_component(const char *tpl)
{
    for (const char *c = tpl; *c;) {
        size_t n = strcspn(c, "/");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return true;
        c += n + (c[n] == '/');
    }
    return false;
}

int pathtpl_check(const char *tpl, char *why, size_t whycap)
{
    size_t len;
    if (!tpl || (tpl[0] != '/' && strncmp(tpl, "{profiling_path}", 16) != 0))
        return snprintf(why, whycap, "must be an absolute path (start with / or {profiling_path})"),
               -EINVAL;
    for (const char *c = strchr(tpl, '{'); c; c = strchr(c + 1, '{')) {
        int i = lookup(c + 1, &len);
        if (i == -1)
            return snprintf(why, whycap, "a '{' is never closed"), -EINVAL;
        if (i < 0)
            return snprintf(why, whycap,
                            "unknown name {%.*s} (known: profiling_path, service, pod_name, "
                            "pod_namespace, host, pid, timestamp, filename)",
                            (int)(len > 64 ? 64 : len), c + 1),
                   -EINVAL;
    }
    if (dot_component(tpl))
        return snprintf(why, whycap, "has a \".\" or \"..\" component"), -EINVAL;
    if (tpl[strlen(tpl) - 1] == '/')
        return snprintf(why, whycap, "ends in '/': it must name a file"), -EINVAL;
    return 0;
}

/* Appends s (made one safe component unless raw) to out at *n. */
static int put(char *out, size_t cap, size_t *n, const char *s, bool raw)
{
    bool dots = !raw && (strcmp(s, ".") == 0 || strcmp(s, "..") == 0);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char ch = (char)*c;
        if (!raw && (dots || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                               (ch >= '0' && ch <= '9') || strchr("._+-", ch))))
            ch = '_';
        if (*n + 1 >= cap)
            return -ENAMETOOLONG;
        out[(*n)++] = ch;
        if (dots)
            break; /* "." or "..": one '_' */
    }
    out[*n] = '\0';
    return 0;
}

static const char *value(const struct pathtpl_vars *v, int i, char *tmp, size_t cap)
{
    const char *vals[N_NAMES] = {v->profiling_path, v->service, v->pod_name, v->pod_namespace,
                                 v->host,           NULL,       NULL,        v->filename};
    if (i == 5)
        pathtpl_timestamp(v->when_ns, tmp, cap);
    else if (i == 6)
        snprintf(tmp, cap, "%d", v->pid);
    return i == 5 || i == 6 ? tmp : vals[i] ? vals[i] : "";
}

/* Drops empty components; refuses "." and ".." and names past 255. */
static int clean(char *path)
{
    char *w = path;
    for (const char *c = path; *c;) {
        size_t n = strcspn(c, "/");
        if (n > NAME_MAX_LEN)
            return -ENAMETOOLONG;
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return -EINVAL;
        if (n) {
            *w++ = '/';
            memmove(w, c, n);
            w += n;
        }
        c += n;
        while (*c == '/')
            c++;
    }
    *w = '\0';
    return w > path ? 0 : -EINVAL;
}

int pathtpl_render(const char *tpl, const struct pathtpl_vars *v, char *out, size_t cap)
{
    char why[160], tmp[32];
    size_t n = 0, len;
    if (pathtpl_check(tpl, why, sizeof(why)) < 0 || cap == 0)
        return -EINVAL;
    out[0] = '\0';
    for (const char *c = tpl; *c;) {
        int rc;
        if (*c == '{') {
            int i = lookup(c + 1, &len);
            rc = put(out, cap, &n, value(v, i, tmp, sizeof(tmp)), i == 0);
            c += len + 2;
        } else {
            char one[2] = {*c++, '\0'};
            rc = put(out, cap, &n, one, true);
        }
        if (rc < 0)
            return rc;
    }
    return out[0] == '/' ? clean(out) : -EINVAL;
}
