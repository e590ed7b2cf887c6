/* fuzz_jfr: libFuzzer on the JFR reader (make fuzz; clang
 * -fsanitize=fuzzer,address,undefined). Each input is a file: the reader
 * must return 0, -EINVAL, -EFBIG or the callback's value, with every name
 * it hands a readable string, and never crash. */
#include "flame/jfr.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int on_sample(void *arg, const struct jfr_sample *s)
{
    size_t *sum = arg;
    for (size_t i = 0; i < s->nframes; i++)
        *sum += strlen(s->frames[i].name) + s->frames[i].type;
    *sum += s->weight + (s->thread_name ? strlen(s->thread_name) : 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_jfr", 0)) < 0)
        abort();
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size ||
        lseek(fd, 0, SEEK_SET) != 0)
        abort();
    size_t sum = 0;
    struct jfr_stats st;
    char err[160];
    struct jfr_opts o = {.flags = size & 1 ? JFR_OPT_ANNOTATE | JFR_OPT_DOTTED : 0};
    int rc = jfr_read_fd(fd, &o, on_sample, &sum, &st, err, sizeof(err));
    if (rc != 0 && rc != -EINVAL && rc != -EFBIG)
        abort();
    if (rc && strncmp(err, "chunk ", 6) != 0)
        abort();
    return 0;
}
