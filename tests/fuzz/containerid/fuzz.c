/* fuzz_containerid: one cgroup path -> container ID and Pod UID
 * (events/containerid.h), read as exactly len bytes (no NUL needed: the
 * fuzzer's buffer ends where the path does, so ASan sees any read past
 * it). 1 exactly when an ID was found; ID and UID NUL-terminated; a static
 * Pod or a QoS class only with a Pod UID; classifying against the ID
 * itself makes it the app container. */
#include "events/containerid.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct container_ident ci;
    int rc = containerid_parse_path((const char *)data, size, &ci);
    FUZZ_CHECK(rc == 0 || rc == 1);
    FUZZ_TERMINATED(ci.id);
    FUZZ_TERMINATED(ci.pod_uid);
    FUZZ_CHECK(rc == (ci.id[0] != '\0'));
    FUZZ_CHECK(ci.pod_uid[0] || (!ci.pod_static && ci.qos == POD_QOS_NONE));
    FUZZ_CHECK(ci.role == CONTAINER_ROLE_UNKNOWN);
    if (rc == 1) {
        const char *ids[2] = {"containerd://0000", ci.id};
        FUZZ_CHECK(containerid_classify(&ci, ids, 2) == CONTAINER_ROLE_APP);
    }
    return 0;
}
