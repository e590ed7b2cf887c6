#include "capture/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A path we accept: non-empty, no "..", components of sane length. */
static int check_path(const char *path)
{
    if (!path || !*path || strlen(path) >= PATH_MAX)
        return -EINVAL;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -EINVAL;
        p += n;
    }
    return 0;
}

int rootfs_open_walk(int root_fd, const char *path, int flags, mode_t mode)
{
    int rc = check_path(path);
    if (rc < 0)
        return rc;
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    int dir = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    if (dir < 0)
        return -errno;
    char *save = NULL, *comp = strtok_r(buf, "/", &save);
    if (!comp) { /* the root itself */
        int fd = openat(dir, ".", flags | O_CLOEXEC, mode);
        int err = errno;
        close(dir);
        return fd < 0 ? -err : fd;
    }
    for (;;) {
        char *next = strtok_r(NULL, "/", &save);
        struct stat st;
        if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            close(dir);
            return -ELOOP;
        }
        int fd = next ? openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                      : openat(dir, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int err = errno;
        close(dir);
        if (fd < 0)
            return -err;
        if (!next) {
            /* O_PATH|O_NOFOLLOW opens a link itself instead of failing */
            if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
                close(fd);
                return -ELOOP;
            }
            return fd;
        }
        dir = fd;
        comp = next;
    }
}

int rootfs_open(int root_fd, const char *path, int flags, mode_t mode)
{
    int rc = check_path(path);
    if (rc < 0)
        return rc;
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno == EINTR || errno == EAGAIN)
            continue; /* EAGAIN: a concurrent rename raced the lookup */
        if (errno == ENOSYS)
            return rootfs_open_walk(root_fd, path, flags, mode);
        return -errno;
    }
}

int rootfs_open_parent(int root_fd, const char *path, const char **base)
{
    int rc = check_path(path);
    if (rc < 0)
        return rc;
    size_t len = strlen(path);
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    /* "dir/", "/" and "." name no entry of a directory to act on */
    if (path[len - 1] == '/' || strcmp(b, ".") == 0)
        return -EINVAL;
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    *base = b;
    return rootfs_open(root_fd, dir, O_PATH | O_DIRECTORY, 0);
}

int rootfs_mkdir(int root_fd, const char *path, mode_t mode)
{
    const char *base;
    int dir = rootfs_open_parent(root_fd, path, &base);
    if (dir < 0)
        return dir;
    int rc = mkdirat(dir, base, mode) < 0 ? -errno : 0;
    close(dir);
    return rc;
}

int rootfs_unlink(int root_fd, const char *path, int flags)
{
    const char *base;
    int dir = rootfs_open_parent(root_fd, path, &base);
    if (dir < 0)
        return dir;
    int rc = unlinkat(dir, base, flags) < 0 ? -errno : 0;
    close(dir);
    return rc;
}

int rootfs_lstat(int root_fd, const char *path, struct stat *st)
{
    const char *base;
    int dir = rootfs_open_parent(root_fd, path, &base);
    if (dir < 0)
        return dir;
    int rc = fstatat(dir, base, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    close(dir);
    return rc;
}

int rootfs_open_regular(int root_fd, const char *path, uint64_t max, uint64_t *size)
{
    struct stat st;
    int fd = rootfs_open(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    int rc = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -EINVAL;
    if (rc == 0)
        *size = (uint64_t)st.st_size;
    if (rc == 0 && *size > max)
        rc = -EFBIG;
    if (rc < 0 && fd >= 0)
        close(fd);
    return rc < 0 ? rc : fd;
}

int rootfs_ensure_dir(int root_fd, const char *path, uid_t uid, mode_t mode)
{
    int rc = rootfs_mkdir(root_fd, path, mode);
    if (rc < 0 && rc != -EEXIST)
        return rc;
    struct stat st;
    rc = rootfs_lstat(root_fd, path, &st);
    if (rc < 0)
        return rc;
    if (S_ISLNK(st.st_mode))
        return -ELOOP;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (st.st_uid != uid || (st.st_mode & 022))
        return -EPERM;
    return 0;
}

const char *rootfs_strerror(int rc)
{
    if (rc == -ELOOP)
        return "is or passes through a symbolic link (refused)";
    if (rc == -EINVAL)
        return "invalid path";
    return strerror(rc < 0 ? -rc : rc);
}

/* Decodes mountinfo's octal escapes (\040 space, \011 tab, \012, \134). */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static bool has_option(const char *opts, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = opts; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* Length of the mount point if it is a component-wise prefix of path. */
static size_t prefix_len(const char *mp, const char *path)
{
    size_t n = strlen(mp);
    if (strcmp(mp, "/") == 0)
        return 1;
    if (strncmp(mp, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return 0;
    return n;
}

/* Parses one mountinfo line into m. 0 or -EINVAL. */
static int parse_line(char *line, struct rootfs_mount *m)
{
    char *f[6], *save = NULL;
    char *tok = strtok_r(line, " ", &save);
    for (int i = 0; i < 6; i++, tok = strtok_r(NULL, " ", &save)) {
        if (!tok)
            return -EINVAL;
        f[i] = tok;
    }
    while (tok && strcmp(tok, "-") != 0) /* optional fields end at "-" */
        tok = strtok_r(NULL, " ", &save);
    char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
    char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
    char *super = source ? strtok_r(NULL, " ", &save) : NULL;
    if (!super)
        return -EINVAL;
    unescape(f[4]);
    snprintf(m->mount_point, sizeof(m->mount_point), "%s", f[4]);
    snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
    snprintf(m->options, sizeof(m->options), "%s", f[5]);
    m->read_only = has_option(f[5], "ro") || has_option(super, "ro");
    m->noexec = has_option(f[5], "noexec");
    return 0;
}

int rootfs_mount_find(const char *text, const char *path, struct rootfs_mount *out)
{
    if (!text || !path || path[0] != '/')
        return -EINVAL;
    size_t best = 0;
    int found = -ENOENT;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            char *line = strndup(p, len);
            struct rootfs_mount m;
            if (!line)
                return -ENOMEM;
            int rc = parse_line(line, &m);
            free(line);
            if (rc < 0)
                return rc;
            size_t n = prefix_len(m.mount_point, path);
            if (n > 0 && n >= best) {
                best = n;
                *out = m;
                found = 0;
            }
        }
        p += len + (e ? 1 : 0);
    }
    return found;
}
