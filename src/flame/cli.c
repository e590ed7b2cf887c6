#include "flame/cli.h"

#include "flame/diff.h"
#include "flame/flamegraph.h"
#include "flame/heatmap.h"
#include "flame/load.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "flameshotd flamegraph"

struct cli {
    const char *in, *out, *base, *title;
    bool collapsed, heatmap, icicle;
    struct load_opts lo;
};

void flame_cli_usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " IN -o OUT [options]\n"
            "\n"
            "Renders a JFR (JDK Flight Recorder or async-profiler) or collapsed stacks\n"
            "(\"a;b;c N\" lines) as one self-contained interactive HTML page.\n"
            "\n"
            "  -o, --out FILE     where to write; - for stdout (required)\n"
            "  --event KIND       cpu, wall, alloc, lock or nativemem (default: cpu if the\n"
            "                     file has cpu samples, else the first kind it has)\n"
            "  --collapsed        write collapsed stacks (\"a;b;c N\") instead of HTML\n"
            "  --from T, --to T   only the samples in [T, T]: seconds since the recording's\n"
            "                     start (12, 1.5) or RFC 3339 (2026-12-02T05:58:24Z)\n"
            "  --diff BASE        differential flame graph: BASE -> IN, red grew, blue shrank\n"
            "  --heatmap          FlameScope heat map (select cells: their flame graph)\n"
            "  --icicle           root on top\n"
            "  --title S          the page's title\n"
            "  -h, --help         this text\n"
            "\n"
            "Exit status: 0 written, 1 unreadable input or output, 2 usage error.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(" PROG " --help for the options)\n");
    return 2;
}

static int parse_opt(struct cli *c, int opt, const char *arg)
{
    switch (opt) {
    case 'o':
        c->out = arg;
        return 0;
    case 'e':
        c->lo.event = jfr_event_parse(arg);
        return c->lo.event < 0 ? usage_error("unknown event \"%s\" (cpu, wall, alloc, lock, "
                                             "nativemem)",
                                             arg)
                               : 0;
    case 'c':
        c->collapsed = true;
        return 0;
    case 'f':
    case 't':
        if (load_parse_time(arg, opt == 'f' ? &c->lo.from : &c->lo.to) < 0)
            return usage_error("bad time \"%s\": seconds since the start or RFC 3339", arg);
        return 0;
    case 'd':
        c->base = arg;
        return 0;
    case 'm':
        c->heatmap = true;
        return 0;
    case 'i':
        c->icicle = true;
        return 0;
    case 'T':
        c->title = arg;
        return 0;
    default:
        return usage_error("%s", "bad arguments");
    }
}

static int check_args(const struct cli *c)
{
    if (!c->in)
        return usage_error("%s", "no input file");
    if (!c->out)
        return usage_error("%s", "no output: -o FILE (or -o - for stdout)");
    if ((c->heatmap && (c->base || c->collapsed)) || (c->base && c->collapsed))
        return usage_error("%s", "--heatmap, --diff and --collapsed exclude one another");
    return 0;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    static const struct option longs[] = {{"out", required_argument, NULL, 'o'},
                                          {"event", required_argument, NULL, 'e'},
                                          {"collapsed", no_argument, NULL, 'c'},
                                          {"from", required_argument, NULL, 'f'},
                                          {"to", required_argument, NULL, 't'},
                                          {"diff", required_argument, NULL, 'd'},
                                          {"heatmap", no_argument, NULL, 'm'},
                                          {"icicle", no_argument, NULL, 'i'},
                                          {"title", required_argument, NULL, 'T'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int opt, rc = 0;
    c->lo.event = -1;
    optind = 1;
    opterr = 1;
    while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        if (opt == 'h') {
            flame_cli_usage(stdout);
            return -1;
        }
        rc = parse_opt(c, opt, optarg);
    }
    for (; rc == 0 && optind < argc; optind++) {
        if (c->in)
            return usage_error("one input only (\"%s\" is extra; --diff BASE for two)",
                               argv[optind]);
        c->in = argv[optind];
    }
    return rc ? rc : check_args(c);
}

/* ---- output ------------------------------------------------------------- */

static const char *unit_of(const struct load_result *r)
{
    return r->collapsed ? "samples" : jfr_event_unit(r->event);
}

static void say_loaded(const char *path, const struct load_result *r)
{
    if (r->st.truncated)
        fprintf(stderr, PROG ": warning: %s is truncated (%s); rendered the %llu complete chunks\n",
                path, r->st.cut, (unsigned long long)r->st.chunks);
    if (r->picked)
        fprintf(stderr, PROG ": %s: event %s (%s)\n", path, jfr_event_name(r->event),
                r->event == JFR_CPU ? "picked: the file has cpu samples"
                                    : "picked: no cpu samples; the first kind the file has");
}

static int load(const char *path, const struct load_opts *lo, struct load_result *r)
{
    char err[512];
    int rc = load_file(path, lo, r, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    say_loaded(path, r);
    return 0;
}

static void make_title(const struct cli *c, const struct load_result *r, char *buf, size_t cap)
{
    char in[512];
    snprintf(in, sizeof(in), "%s", c->in);
    if (c->title)
        snprintf(buf, cap, "%s", c->title);
    else if (r->collapsed)
        snprintf(buf, cap, "%s%s", c->base ? "Diff: " : "", basename(in));
    else
        snprintf(buf, cap, "%s%s profile: %s", c->base ? "Diff of the " : "",
                 jfr_event_name(r->event), basename(in));
}

static void make_subtitle(const struct cli *c, const struct load_result *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (c->base)
        snprintf(buf, cap, "base %s -> %s (normalised by total weight)", c->base, c->in);
    else if (r->from_ns || r->to_ns) {
        char to[48] = "the end";
        if (r->to_ns)
            snprintf(to, sizeof(to), "%.3f s", (double)(r->to_ns - r->start_ns) / 1e9);
        snprintf(buf, cap, "samples from %.3f s to %s since the recording's start",
                 r->from_ns ? (double)(r->from_ns - r->start_ns) / 1e9 : 0.0, to);
    }
}

static int write_page(const struct cli *c, const struct load_result *r,
                      const struct load_result *base, FILE *out)
{
    char title[600], sub[1200];
    make_title(c, r, title, sizeof(title));
    make_subtitle(c, r, sub, sizeof(sub));
    struct flamegraph_opts fo = {
        .title = title, .subtitle = sub[0] ? sub : NULL, .unit = unit_of(r), .icicle = c->icicle};
    if (c->collapsed)
        return stacks_write_collapsed(r->stacks, out);
    if (c->heatmap)
        return heatmap_write_html(r->heatmap, &fo, out);
    if (base)
        return diff_write_html(base->stacks, r->stacks, &fo, out);
    return flamegraph_write_html(r->stacks, &fo, out);
}

/* Writes to OUT through a temporary file renamed at the end, so that a
 * failure never leaves half a page under the name asked for. */
static int emit(const struct cli *c, const struct load_result *r, const struct load_result *base)
{
    char tmp[4096];
    bool std = strcmp(c->out, "-") == 0;
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", c->out, (int)getpid());
    FILE *out = std ? stdout : fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", c->out, strerror(errno));
        return 1;
    }
    int rc = write_page(c, r, base, out);
    if (fflush(out) != 0 && rc == 0)
        rc = -errno;
    if (!std && fclose(out) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && !std && rename(tmp, c->out) < 0)
        rc = -errno;
    if (rc < 0) {
        if (!std)
            unlink(tmp);
        fprintf(stderr, PROG ": cannot write %s: %s\n", c->out, strerror(-rc));
        return 1;
    }
    return 0;
}

int flame_cli_main(int argc, char **argv)
{
    struct cli c = {0};
    struct load_result r = {0}, base = {0};
    int rc = parse_args(&c, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    c.lo.heatmap = c.heatmap;
    rc = load(c.in, &c.lo, &r);
    if (rc == 0 && c.base) {
        struct load_opts blo = c.lo;
        blo.event = r.collapsed ? -1 : (int)r.event;
        rc = load(c.base, &blo, &base);
    }
    if (rc == 0)
        rc = emit(&c, &r, c.base ? &base : NULL);
    load_result_free(&r);
    load_result_free(&base);
    return rc;
}
