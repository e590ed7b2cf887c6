/* flame_render: the renderers from the command line, without the JFR
 * reader, for the integration tests and the size/time measurement.
 *
 *   flame_render [OPTIONS] flame IN OUT.html        collapsed lines -> flame graph
 *   flame_render [OPTIONS] diff BASE CUR OUT.html   two collapsed files -> diff
 *   flame_render [OPTIONS] heatmap IN OUT.html      "ts_ns;frame;frame weight" lines
 *                                                   (root first) -> heat map
 *   flame_render collapsed IN OUT                   collapsed lines, aggregated, sorted
 * options: --title T --unit U --icicle --min-share X --start NS (heat map's
 * column 0; default 0) --rows N --max-bytes N
 * Prints "stacks N total W bytes B ms M" (the page's size and the time to
 * build and write it) on stderr. */
#include "flame/diff.h"
#include "flame/heatmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct args {
    struct flamegraph_opts o;
    int64_t start;
    unsigned rows;
    size_t max_bytes;
};

static int load(const char *path, size_t max_bytes, struct stacks **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    struct stacks *st = stacks_new(max_bytes);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = st ? 0 : -ENOMEM;
    long no = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        no++;
        if (n > 0 && line[0] != '\n' && (rc = stacks_add_collapsed(st, line, (size_t)n)))
            fprintf(stderr, "%s:%ld: %s\n", path, no, strerror(-rc));
    }
    free(line);
    fclose(f);
    if (rc) {
        stacks_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* One "ts;a;b;c w" line as a sample (frames leaf first, as the reader's). */
static int heat_line(struct heatmap *h, char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *sp = strrchr(line, ' ');
    if (!sp)
        return -EINVAL;
    *sp = '\0';
    struct jfr_frame fr[256];
    const char *parts[257];
    size_t n = 0;
    for (char *tok = strtok(line, ";"); tok && n < 257; tok = strtok(NULL, ";"))
        parts[n++] = tok;
    if (n < 2)
        return -EINVAL;
    for (size_t i = 1; i < n; i++)
        fr[n - 1 - i] = (struct jfr_frame){parts[i], 1};
    struct jfr_sample s = {.ev = JFR_CPU,
                           .ts_ns = strtoll(parts[0], NULL, 10),
                           .weight = strtoull(sp + 1, NULL, 10),
                           .nframes = n - 1,
                           .frames = fr};
    return heatmap_add(h, &s);
}

static int heat(const struct args *a, const char *in, FILE *out)
{
    FILE *f = fopen(in, "r");
    if (!f)
        return -errno;
    struct heatmap *h = heatmap_new(a->start, a->rows, a->max_bytes);
    char *line = NULL;
    size_t cap = 0;
    int rc = h ? 0 : -ENOMEM;
    while (!rc && getline(&line, &cap, f) > 0)
        rc = heat_line(h, line);
    free(line);
    fclose(f);
    if (!rc)
        rc = heatmap_write_html(h, &a->o, out);
    heatmap_free(h);
    return rc;
}

static int run(const struct args *a, char **v, int n, FILE **out)
{
    const char *cmd = v[0];
    int want = !strcmp(cmd, "diff") ? 4 : 3;
    if (n != want)
        return -EINVAL;
    *out = fopen(v[n - 1], "w");
    if (!*out)
        return -errno;
    if (!strcmp(cmd, "heatmap"))
        return heat(a, v[1], *out);
    struct stacks *st = NULL, *base = NULL;
    int rc = load(v[n - 2], a->max_bytes, &st);
    if (!rc && !strcmp(cmd, "diff"))
        rc = load(v[1], a->max_bytes, &base);
    if (!rc) {
        fprintf(stderr, "stacks %zu total %llu ", stacks_count(st),
                (unsigned long long)stacks_total(st));
        if (!strcmp(cmd, "flame"))
            rc = flamegraph_write_html(st, &a->o, *out);
        else if (!strcmp(cmd, "diff"))
            rc = diff_write_html(base, st, &a->o, *out);
        else if (!strcmp(cmd, "collapsed"))
            rc = stacks_write_collapsed(st, *out);
        else
            rc = -EINVAL;
    }
    stacks_free(st);
    stacks_free(base);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a = {.o = {.title = "Flame graph", .unit = "samples"}};
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        const char *k = argv[i] + 2, *v = argv[i + 1];
        if (!strcmp(k, "icicle")) {
            a.o.icicle = true;
            i--;
        } else if (!strcmp(k, "title"))
            a.o.title = v;
        else if (!strcmp(k, "unit"))
            a.o.unit = v;
        else if (!strcmp(k, "min-share"))
            a.o.min_share = strtod(v, NULL);
        else if (!strcmp(k, "start"))
            a.start = strtoll(v, NULL, 10);
        else if (!strcmp(k, "rows"))
            a.rows = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "max-bytes"))
            a.max_bytes = strtoull(v, NULL, 10);
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: flame_render [options] flame|diff|heatmap|collapsed IN... OUT\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    FILE *out = NULL;
    int rc = run(&a, argv + i, argc - i, &out);
    if (out && fclose(out) && !rc)
        rc = -EIO;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        fprintf(stderr, "flame_render: %s\n", strerror(-rc));
        return 1;
    }
    struct stat sb;
    long long bytes = stat(argv[argc - 1], &sb) ? -1 : (long long)sb.st_size;
    fprintf(stderr, "bytes %lld ms %.1f\n", bytes,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}
