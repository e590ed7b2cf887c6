/* fuzz_watch: a Kubernetes watch stream (kube/watchparse.h) fed in reads
 * of varying sizes with a small line bound (the input's first two bytes
 * pick the bound and the read size), each Pod event then reduced as the
 * watcher does (kube/pod.h): every line is one callback, an event of a
 * known type carries its object and an invalid one a reason, the counts
 * agree, and nothing stays buffered after the end of the stream. */
#include "kube/pod.h"
#include "kube/watchparse.h"
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>
#include <errno.h>

struct seen {
    uint64_t calls, invalid;
};

static int on_event(const struct watch_event *ev, void *arg)
{
    struct seen *s = arg;
    s->calls++;
    FUZZ_CHECK((int)ev->type >= WATCH_ADDED && ev->type <= WATCH_INVALID);
    if (ev->type == WATCH_INVALID) {
        FUZZ_CHECK(ev->object == NULL && ev->error && ev->error[0]);
        s->invalid++;
        return 0;
    }
    FUZZ_CHECK(ev->object != NULL);
    if (ev->resource_version)
        (void)strlen(ev->resource_version);
    if (ev->type <= WATCH_DELETED) {
        struct pod p;
        char err[128];
        if (pod_parse(ev->object, &p, err, sizeof(err)) == 0)
            pod_free(&p);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max_line = 16 + (size_t)data[0] * 64, step = 1 + data[1];
    struct seen s = {0, 0};
    struct watchparse *p = watchparse_new(max_line, on_event, &s);
    FUZZ_CHECK(p);
    for (size_t off = 2; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        FUZZ_CHECK(watchparse_feed(p, data + off, n) == 0);
    }
    FUZZ_CHECK(watchparse_finish(p) == 0);
    struct watchparse_stats st;
    watchparse_stats(p, &st);
    FUZZ_CHECK(st.events + st.invalid == s.calls && st.invalid == s.invalid);
    FUZZ_CHECK(st.too_long <= st.invalid && st.buffered == 0);
    watchparse_free(p);
    return 0;
}
