/* seeds: the fuzz target's seed corpus, written at test time from the
 * unit tests' builder (tests/unit/flame/jfr_build.h): one chunk, a pool
 * split over two checkpoints, two chunks, uncompressed integers.
 *
 *   seeds DIR */
#include "../../unit/flame/jfr_build.h"

#include <stdio.h>

static int save(const char *dir, const char *name, const struct jb *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f)) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    int rc = 0;
    for (int v = 0; v < 4; v++) {
        struct jb b = {NULL, 0, 0, v != 3};
        struct jb_opts o = {.split = v >= 1, .start_ns = 1, .tps = v == 3 ? 2000000000ull : 0};
        jb_chunk(&b, &o);
        if (v == 2)
            jb_chunk(&b, &o);
        static const char *const names[] = {"one_chunk.jfr", "split_pool.jfr", "two_chunks.jfr",
                                            "uncompressed.jfr"};
        rc |= save(argv[1], names[v], &b);
        free(b.p);
    }
    return rc;
}
