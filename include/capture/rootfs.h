/* rootfs: file access inside a container's filesystem that can never be
 * turned into access to the host's.
 *
 * Every path is resolved below a root directory fd (the container's root,
 * or a directory inside it) with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): absolute paths start at that
 * root, ".." components are refused, and a symbolic link anywhere in the
 * path, including the last component, fails with -ELOOP instead of being
 * followed. A container can plant a link at any name we use; it cannot make
 * us read, write, create or remove anything outside its root through it.
 * On kernels without openat2 (< 5.6) the same rules are enforced by walking
 * the path one component at a time with O_NOFOLLOW.
 *
 * Callers are expected to run these from a child that has also entered the
 * container's mount namespace and dropped to the target's uid/gid (see
 * nsexec.h): the two defences are independent. None of these block beyond
 * the filesystem's own latency.
 *
 * The mountinfo helpers are pure parsers of /proc/<pid>/mountinfo text. */
#ifndef FS_ROOTFS_H
#define FS_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Opens path below root_fd. flags are open(2) flags (O_CLOEXEC is always
 * added; mode is used with O_CREAT). Returns an fd, -ELOOP when a symbolic
 * link was met, -EINVAL for an empty path or a ".." component, or -errno. */
int rootfs_open(int root_fd, const char *path, int flags, mode_t mode);

/* The same, always by the component walk (the pre-openat2 fallback);
 * exported so that tests exercise it on kernels that have openat2. */
int rootfs_open_walk(int root_fd, const char *path, int flags, mode_t mode);

/* Opens the directory containing path (O_PATH, symlink-free as above) and
 * points *base at path's last component (inside path; not copied). A path
 * naming the root itself has no last component: -EINVAL. Returns the
 * directory fd or -errno. */
int rootfs_open_parent(int root_fd, const char *path, const char **base);

/* mkdir(2) of path's last component (never follows a link there: an
 * existing link gives -EEXIST). 0 or -errno. */
int rootfs_mkdir(int root_fd, const char *path, mode_t mode);

/* unlinkat(2) of path's last component; flags 0 or AT_REMOVEDIR. A link
 * there is removed itself, never its target. 0 or -errno. */
int rootfs_unlink(int root_fd, const char *path, int flags);

/* lstat(2) of path's last component: a symbolic link is reported as one
 * (S_ISLNK), so callers can say "refusing: X is a symbolic link". */
int rootfs_lstat(int root_fd, const char *path, struct stat *st);

/* Opens path (O_RDONLY, symlink-free as rootfs_open) to read a file a
 * container hands over: a regular file only (-EINVAL otherwise: a FIFO
 * would block) of at most max bytes (-EFBIG, *size set: a sparse file of
 * terabytes planted by the container's user is never read). Returns the
 * fd, with *size, or -errno. */
int rootfs_open_regular(int root_fd, const char *path, uint64_t max, uint64_t *size);

/* Makes sure path is a directory owned by uid that neither group nor
 * others can write, creating it with mode when absent. A symbolic link
 * there is -ELOOP, any other kind of file -ENOTDIR, a directory owned by
 * someone else or writable by others -EPERM. 0 or -errno. */
int rootfs_ensure_dir(int root_fd, const char *path, uid_t uid, mode_t mode);

/* Human text for an error of this module: -ELOOP reads "is or passes
 * through a symbolic link (refused)", others strerror. */
const char *rootfs_strerror(int rc);

/* One mount from /proc/<pid>/mountinfo, the one a path lives on. */
struct rootfs_mount {
    char mount_point[512]; /* as the process sees it (its root is "/") */
    char fstype[64];
    char options[256]; /* per-mount options, e.g. "rw,nosuid,noexec" */
    bool read_only;    /* per-mount or superblock "ro" */
    bool noexec;
};

/* Finds the mount path lives on: the mount whose mount point is the
 * longest component-wise prefix of path (the last such line when mounts
 * are stacked). path must be absolute. Returns 0, -ENOENT when no line
 * matches, -EINVAL on a malformed line. Octal escapes (\040) are decoded. */
int rootfs_mount_find(const char *mountinfo_text, const char *path, struct rootfs_mount *out);

#endif
