/* fuzz_cgroup: /proc/<pid>/cgroup text (events/cgroup.h), then the
 * container and Pod its paths name (events/containerid.h), as the daemon
 * chains them: 0 or -EINVAL, every path NUL-terminated in its field, an ID
 * found exactly when the return says so. */
#include "events/cgroup.h"
#include "events/containerid.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    struct cgroup_membership m;
    int rc = cgroup_parse_membership(s, &m);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        FUZZ_TERMINATED(m.memory_ctrl);
        FUZZ_TERMINATED(m.memory_path);
        FUZZ_TERMINATED(m.cpu_ctrl);
        FUZZ_TERMINATED(m.cpu_path);
        FUZZ_TERMINATED(m.unified_path);
        struct container_ident ci;
        rc = containerid_from_paths(m.memory_path, m.has_unified ? m.unified_path : NULL, &ci);
        FUZZ_CHECK(rc == 0 || rc == 1);
        FUZZ_TERMINATED(ci.id);
        FUZZ_TERMINATED(ci.pod_uid);
        FUZZ_CHECK(rc == (ci.id[0] != '\0'));
    }
    free(s);
    return 0;
}
