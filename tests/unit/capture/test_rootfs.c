/* rootfs: symlink-safe access below a root directory, and mountinfo
 * parsing from fixtures (tests/data/mountinfo). The "container root" here
 * is a temporary directory; an "outside" directory plays the host. */
#include "core/fsutil.h"
#include "harness.h"
#include "capture/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char base[64];
    char root[128];
    char outside[128];
    int root_fd;
};

static int run_cmd(const char *fmt, const char *a)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), fmt, a);
    return system(cmd);
}

static int fx_setup(struct fx *f)
{
    snprintf(f->base, sizeof(f->base), "/tmp/test_rootfs_XXXXXX");
    if (!mkdtemp(f->base))
        return -1;
    snprintf(f->root, sizeof(f->root), "%s/root", f->base);
    snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
    mkdir(f->root, 0755);
    mkdir(f->outside, 0755);
    char p[256];
    snprintf(p, sizeof(p), "%s/tmp", f->root);
    mkdir(p, 01777);
    snprintf(p, sizeof(p), "%s/secret", f->outside);
    fsutil_write_atomic(p, "host secret\n", 12, 0644);
    f->root_fd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return f->root_fd < 0 ? -1 : 0;
}

static void fx_teardown(struct fx *f)
{
    close(f->root_fd);
    run_cmd("rm -rf '%s'", f->base);
}

static int outside_intact(struct fx *f)
{
    char p[256], *s = NULL;
    size_t n;
    snprintf(p, sizeof(p), "%s/secret", f->outside);
    if (fsutil_read_all(p, 4096, &s, &n) < 0)
        return 0;
    int ok = strcmp(s, "host secret\n") == 0;
    free(s);
    return ok;
}

static void plant(struct fx *f, const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", f->root, rel);
    if (symlink(target, p) != 0)
        perror("symlink");
}

typedef int (*open_fn)(int, const char *, int, mode_t);

/* Shared body: the openat2 path and the component walk behave alike. */
static const char *check_open_rules(struct fx *f, open_fn op)
{
    int fd = op(f->root_fd, "/tmp/new.txt", O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0)
        return "create in root failed";
    close(fd);
    char p[256];
    snprintf(p, sizeof(p), "%s/tmp/new.txt", f->root);
    if (access(p, F_OK) != 0)
        return "absolute path not resolved inside the root";
    char target[256];
    snprintf(target, sizeof(target), "%s/secret", f->outside);
    plant(f, target, "tmp/link.jfr");
    if (op(f->root_fd, "/tmp/link.jfr", O_WRONLY | O_TRUNC, 0) != -ELOOP)
        return "final symlink followed";
    if (op(f->root_fd, "/tmp/link.jfr", O_RDONLY, 0) != -ELOOP)
        return "final symlink followed for reading";
    if (op(f->root_fd, "/tmp/link.jfr", O_PATH, 0) != -ELOOP)
        return "final symlink accepted with O_PATH";
    plant(f, f->outside, "tmp/dirlink");
    if (op(f->root_fd, "/tmp/dirlink/secret", O_RDONLY, 0) != -ELOOP)
        return "intermediate symlink followed";
    if (op(f->root_fd, "/tmp/dirlink/x", O_CREAT | O_WRONLY, 0644) != -ELOOP)
        return "create through a symlinked directory";
    if (op(f->root_fd, "/tmp/../../outside/secret", O_RDONLY, 0) != -EINVAL)
        return "dot-dot accepted";
    if (!outside_intact(f))
        return "outside file modified";
    return NULL;
}

TEST(openat2_refuses_links_and_dotdot)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    const char *why = check_open_rules(&f, rootfs_open);
    fx_teardown(&f);
    CHECK_MSG(why == NULL, "%s", why);
}

TEST(component_walk_refuses_links_and_dotdot)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    const char *why = check_open_rules(&f, rootfs_open_walk);
    fx_teardown(&f);
    CHECK_MSG(why == NULL, "%s", why);
}

/* An absolute symlink inside the root must not reach the host even if it
 * were followed: RESOLVE_IN_ROOT would keep it inside; we refuse it. */
TEST(absolute_link_to_root_path_refused)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    plant(&f, "/etc/passwd", "tmp/passwd");
    int rc = rootfs_open(f.root_fd, "tmp/passwd", O_RDONLY, 0);
    fx_teardown(&f);
    CHECK_EQ(rc, -ELOOP);
}

TEST(mkdir_unlink_lstat_never_follow)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    plant(&f, f.outside, "tmp/.flameshot-10001");
    int mk = rootfs_mkdir(f.root_fd, "/tmp/.flameshot-10001", 0700);
    struct stat st;
    int ls = rootfs_lstat(f.root_fd, "/tmp/.flameshot-10001", &st);
    int islnk = ls == 0 && S_ISLNK(st.st_mode);
    int through = rootfs_mkdir(f.root_fd, "/tmp/.flameshot-10001/sub", 0700);
    int un = rootfs_unlink(f.root_fd, "/tmp/.flameshot-10001", 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/secret", f.outside);
    int target_there = access(p, F_OK) == 0;
    int ok_mkdir = rootfs_mkdir(f.root_fd, "/tmp/.flameshot-10001", 0700);
    int intact = outside_intact(&f);
    fx_teardown(&f);
    CHECK_EQ(mk, -EEXIST);
    CHECK(islnk);
    CHECK_EQ(through, -ELOOP);
    CHECK_EQ(un, 0);
    CHECK(target_there);
    CHECK_EQ(ok_mkdir, 0);
    CHECK(intact);
}

/* What a container hands over is read only when it is a regular file of
 * at most the room left: a FIFO would block the reader, a sparse file of
 * terabytes fill the node, a link lead out of the container. */
TEST(open_regular_refuses_fifos_links_and_files_past_the_room)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/tmp/dump.hprof", f.root);
    int w = open(p, O_CREAT | O_WRONLY, 0600);
    int sized = w >= 0 && write(w, "JAVA PROFILE 1.0.2", 18) == 18 &&
                ftruncate(w, 1ll << 40) == 0; /* a sparse terabyte */
    if (w >= 0)
        close(w);
    snprintf(p, sizeof(p), "%s/tmp/fifo", f.root);
    int made = mkfifo(p, 0600) == 0;
    char target[256];
    snprintf(target, sizeof(target), "%s/secret", f.outside);
    plant(&f, target, "tmp/link.hprof");
    uint64_t size = 0, fifo_size = 7;
    int big = rootfs_open_regular(f.root_fd, "/tmp/dump.hprof", 1ull << 30, &size);
    uint64_t big_size = size;
    int ok = rootfs_open_regular(f.root_fd, "/tmp/dump.hprof", 1ull << 41, &size);
    int fifo = rootfs_open_regular(f.root_fd, "/tmp/fifo", 1ull << 41, &fifo_size);
    int link = rootfs_open_regular(f.root_fd, "/tmp/link.hprof", 1ull << 41, &size);
    int gone = rootfs_open_regular(f.root_fd, "/tmp/none", 1ull << 41, &size);
    char head[19] = "";
    if (ok >= 0) {
        if (read(ok, head, 18) != 18)
            head[0] = '\0';
        close(ok);
    }
    fx_teardown(&f);
    CHECK(sized && made);
    CHECK_EQ(big, -EFBIG);
    CHECK_EQ(big_size, 1ull << 40);
    CHECK(ok >= 0);
    CHECK_STREQ(head, "JAVA PROFILE 1.0.2");
    CHECK_EQ(fifo, -EINVAL);
    CHECK_EQ(fifo_size, 7); /* untouched */
    CHECK_EQ(link, -ELOOP);
    CHECK_EQ(gone, -ENOENT);
}

TEST(ensure_dir_creates_checks_and_refuses)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    uid_t me = getuid();
    int made = rootfs_ensure_dir(f.root_fd, "/tmp/.flameshot-x", me, 0700);
    int again = rootfs_ensure_dir(f.root_fd, "/tmp/.flameshot-x", me, 0700);
    int other = rootfs_ensure_dir(f.root_fd, "/tmp/.flameshot-x", me + 1, 0700);
    char p[256];
    snprintf(p, sizeof(p), "%s/tmp/.flameshot-x", f.root);
    chmod(p, 0777);
    int wide = rootfs_ensure_dir(f.root_fd, "/tmp/.flameshot-x", me, 0700);
    plant(&f, f.outside, "tmp/.flameshot-l");
    int link = rootfs_ensure_dir(f.root_fd, "/tmp/.flameshot-l", me, 0700);
    snprintf(p, sizeof(p), "%s/tmp/.flameshot-f", f.root);
    fsutil_write_atomic(p, "x", 1, 0600);
    int file = rootfs_ensure_dir(f.root_fd, "/tmp/.flameshot-f", me, 0700);
    int intact = outside_intact(&f);
    fx_teardown(&f);
    CHECK_EQ(made, 0);
    CHECK_EQ(again, 0);
    CHECK_EQ(other, -EPERM);
    CHECK_EQ(wide, -EPERM);
    CHECK_EQ(link, -ELOOP);
    CHECK_EQ(file, -ENOTDIR);
    CHECK(intact);
}

TEST(open_parent_splits_paths)
{
    struct fx f;
    CHECK(fx_setup(&f) == 0);
    const char *base = NULL;
    int fd = rootfs_open_parent(f.root_fd, "/tmp/a.jfr", &base);
    int ok1 = fd >= 0 && base && strcmp(base, "a.jfr") == 0;
    if (fd >= 0)
        close(fd);
    fd = rootfs_open_parent(f.root_fd, "/top", &base);
    int ok2 = fd >= 0 && strcmp(base, "top") == 0;
    if (fd >= 0)
        close(fd);
    int slash = rootfs_open_parent(f.root_fd, "/", &base);
    int trailing = rootfs_open_parent(f.root_fd, "/tmp/", &base);
    fx_teardown(&f);
    CHECK(ok1);
    CHECK(ok2);
    CHECK_EQ(slash, -EINVAL);
    CHECK_EQ(trailing, -EINVAL);
}

TEST(strerror_names_symlinks)
{
    CHECK_CONTAINS(rootfs_strerror(-ELOOP), "symbolic link");
    CHECK_CONTAINS(rootfs_strerror(-ENOENT), "No such file");
}

static char *fixture(const char *name)
{
    char path[256], *s = NULL;
    size_t n;
    snprintf(path, sizeof(path), "tests/data/mountinfo/%s", name);
    if (fsutil_read_all(path, 1 << 20, &s, &n) < 0)
        return NULL;
    return s;
}

TEST(mountinfo_containerd_noexec_tmp)
{
    char *t = fixture("containerd_noexec_tmp.txt");
    CHECK_MSG(t != NULL, "in-repo fixture missing (run from the repository root)");
    struct rootfs_mount m;
    int rc1 = rootfs_mount_find(t, "/tmp/.flameshot-10001", &m);
    struct rootfs_mount tmp = m;
    int rc2 = rootfs_mount_find(t, "/data/x", &m);
    struct rootfs_mount data = m;
    int rc3 = rootfs_mount_find(t, "/opt/app/lib", &m);
    struct rootfs_mount root = m;
    int rc4 = rootfs_mount_find(t, "/dev/shm/x", &m);
    struct rootfs_mount shm = m;
    int rc5 = rootfs_mount_find(t, "/tmpfoo/x", &m);
    free(t);
    CHECK_EQ(rc1 | rc2 | rc3 | rc4 | rc5, 0);
    CHECK_STREQ(tmp.mount_point, "/tmp");
    CHECK(tmp.noexec && !tmp.read_only);
    CHECK_STREQ(data.mount_point, "/data");
    CHECK(!data.noexec && !data.read_only);
    CHECK_STREQ(root.mount_point, "/");
    CHECK_STREQ(root.fstype, "overlay");
    CHECK(!root.noexec);
    CHECK(shm.noexec);
    CHECK_STREQ(m.mount_point, "/"); /* /tmpfoo is not below /tmp */
}

TEST(mountinfo_readonly_root_and_stacking)
{
    char *t = fixture("readonly_root_emptydir_tmp.txt");
    CHECK_MSG(t != NULL, "in-repo fixture missing (run from the repository root)");
    struct rootfs_mount m;
    int rc1 = rootfs_mount_find(t, "/opt", &m);
    struct rootfs_mount root = m;
    /* /tmp is mounted twice; the later (noexec tmpfs) hides the emptyDir */
    int rc2 = rootfs_mount_find(t, "/tmp/.flameshot-1000", &m);
    struct rootfs_mount tmp = m;
    int rc3 = rootfs_mount_find(t, "/app/my config/a", &m);
    struct rootfs_mount cfg = m;
    int rc4 = rootfs_mount_find(t, "/var/tmp/x", &m); /* superblock ro */
    struct rootfs_mount vartmp = m;
    int rc5 = rootfs_mount_find(t, "relative", &m);
    free(t);
    CHECK_EQ(rc1 | rc2 | rc3 | rc4, 0);
    CHECK(root.read_only);
    CHECK_STREQ(tmp.fstype, "tmpfs");
    CHECK(tmp.noexec);
    CHECK_STREQ(cfg.mount_point, "/app/my config");
    CHECK(cfg.read_only);
    CHECK(vartmp.read_only);
    CHECK_EQ(rc5, -EINVAL);
}

TEST(mountinfo_unshare_fixture)
{
    char *t = fixture("unshare_fixture.txt");
    CHECK_MSG(t != NULL, "in-repo fixture missing (run from the repository root)");
    struct rootfs_mount m;
    int rc = rootfs_mount_find(t, "/tmp/.flameshot-10001/lib.so", &m);
    free(t);
    CHECK_EQ(rc, 0);
    CHECK_STREQ(m.mount_point, "/tmp");
    CHECK_STREQ(m.fstype, "tmpfs");
    CHECK(!m.noexec && !m.read_only);
}

TEST(mountinfo_malformed)
{
    struct rootfs_mount m;
    CHECK_EQ(rootfs_mount_find("1 2 3\n", "/x", &m), -EINVAL);
    CHECK_EQ(rootfs_mount_find("", "/x", &m), -ENOENT);
}

TEST_MAIN(openat2_refuses_links_and_dotdot, component_walk_refuses_links_and_dotdot,
          absolute_link_to_root_path_refused, mkdir_unlink_lstat_never_follow,
          ensure_dir_creates_checks_and_refuses, open_parent_splits_paths, strerror_names_symlinks,
          mountinfo_containerd_noexec_tmp, mountinfo_readonly_root_and_stacking,
          mountinfo_unshare_fixture, mountinfo_malformed,
          open_regular_refuses_fifos_links_and_files_past_the_room)
