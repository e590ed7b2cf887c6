/* fuzz_pprof: a Go pprof profile as a target's /debug/pprof serves it
 * (flame/pprof.h; gzip'd or plain protobuf): 0, -EINVAL with a reason,
 * -EFBIG or -ENOMEM; on 0 every index the reader relies on is in range,
 * and the profile written back parses to the same counts. */
#include "flame/pprof.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

static void walk(const struct pprof_profile *p)
{
    FUZZ_CHECK(p->nstring > 0 && p->strings[0].len == 0);
    for (size_t i = 0; i < p->nsample_type; i++)
        (void)pprof_str(p, p->sample_types[i].type);
    for (size_t i = 0; i < p->nstring; i++)
        FUZZ_CHECK(p->strings[i].len == 0 || p->strings[i].s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pprof_profile p, q;
    char why[128] = "";
    int rc = pprof_parse(data, size, &p, why, sizeof(why));
    FUZZ_TERMINATED(why);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EFBIG || rc == -ENOMEM);
    FUZZ_CHECK(rc != -EINVAL || why[0]);
    if (rc == 0) {
        walk(&p);
        void *out = NULL;
        size_t outlen = 0;
        if (pprof_write(&p, &out, &outlen) == 0) {
            rc = pprof_parse(out, outlen, &q, why, sizeof(why));
            if (rc)
                fprintf(stderr, "written back: %s\n", why);
            FUZZ_CHECK(rc == 0);
            FUZZ_CHECK(q.nsample == p.nsample && q.nlocation == p.nlocation &&
                       q.nfunction == p.nfunction && q.nsample_type == p.nsample_type &&
                       q.nmapping == p.nmapping);
            pprof_free(&q);
            free(out);
        }
    }
    pprof_free(&p);
    return 0;
}
