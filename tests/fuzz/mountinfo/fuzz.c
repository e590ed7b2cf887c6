/* fuzz_mountinfo: /proc/<pid>/mountinfo text (capture/rootfs.h), whose
 * mount points a container's user can name. The input's first line is the
 * path looked up (made absolute), the rest the text: 0, -ENOENT or
 * -EINVAL; on 0 the fields are NUL-terminated and the mount point is a
 * component-wise prefix of the path. */
#include "capture/rootfs.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size), *text = strchr(s, '\n');
    if (!text) {
        free(s);
        return 0;
    }
    *text++ = '\0';
    char path[4096];
    snprintf(path, sizeof(path), "%s%s", s[0] == '/' ? "" : "/", s);
    struct rootfs_mount m;
    int rc = rootfs_mount_find(text, path, &m);
    FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
    if (rc == 0) {
        FUZZ_TERMINATED(m.mount_point);
        FUZZ_TERMINATED(m.fstype);
        FUZZ_TERMINATED(m.options);
        size_t n = strlen(m.mount_point);
        FUZZ_CHECK(n > 0 && !strncmp(path, m.mount_point, n));
        FUZZ_CHECK(n == 1 || path[n] == '/' || path[n] == '\0');
    }
    free(s);
    return 0;
}
