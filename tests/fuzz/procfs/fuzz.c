/* fuzz_procfs: the text of /proc/<pid>/stat, status, maps and cmdline
 * (events/procfs.h, capture/jvm.h) as a process can shape it (its comm,
 * its argv, the paths it maps): each parser returns its documented codes,
 * comm stays NUL-terminated, and the joined argv is no longer than the
 * bytes read. */
#include "capture/jvm.h"
#include "events/procfs.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    struct proc_stat st;
    int rc = procfs_parse_stat(s, &st);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0)
        FUZZ_TERMINATED(st.comm);

    struct proc_status ps;
    rc = procfs_parse_status(s, &ps);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);

    rc = procfs_maps_text_has_lib(s, "libjvm.so");
    FUZZ_CHECK(rc == 0 || rc == 1);
    enum jvm_kind k = jvm_kind_from_maps(s);
    FUZZ_CHECK(k == JVM_KIND_NONE || k == JVM_KIND_HOTSPOT || k == JVM_KIND_OPENJ9);
    FUZZ_CHECK(k != JVM_KIND_HOTSPOT || rc == 1);

    char *line = procfs_argv_join((const char *)data, size);
    FUZZ_CHECK(!size == !line);
    if (line)
        FUZZ_CHECK(strlen(line) <= size);
    free(line);
    free(s);
    return 0;
}
