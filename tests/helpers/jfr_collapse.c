/* jfr_collapse: the JFR reader's samples as collapsed stacks, for the
 * tests and the benchmark (tools/bench/jfr): "a;b;c N" lines, root first,
 * sorted, weights summed per distinct stack (its own small aggregation, so
 * that it depends on nothing but flame/jfr.h).
 *
 *   jfr_collapse [--event cpu|wall|alloc|lock|nativemem] [--dotted]
 *                [--annotate] [--max-bytes N] [--count] FILE
 *
 * --count sums samples (1 each) instead of weights. stderr gets
 * "chunks N events N samples N" and "truncated: why" when the last chunk
 * was cut. Exit 0; 1 with "error: ..." on stderr when the reader failed. */
#include "core/hash.h"
#include "flame/jfr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CACHE 16384u

struct ent {
    char *text;
    size_t len;
    uint64_t hash, weight;
};

struct agg {
    struct ent *ents;
    size_t n, cap;
    size_t *tslot; /* text hash -> ent + 1 */
    size_t tcap;
    bool count;
    /* stack_key -> entry, direct-mapped: a chunk's keys are the hot ones
     * (a table of every chunk's keys outgrew the CPU's caches); a key
     * pushed out costs one more walk of its frames */
    uint64_t ckey[KEY_CACHE];
    size_t cent[KEY_CACHE];
    char *buf;
    size_t bufcap;
};

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    return p;
}

static void text_grow(struct agg *a)
{
    size_t cap = a->tcap ? a->tcap * 2 : 1024;
    size_t *t = xrealloc(NULL, cap * sizeof(*t));
    memset(t, 0, cap * sizeof(*t));
    for (size_t i = 0; i < a->n; i++) {
        size_t j = a->ents[i].hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = i + 1;
    }
    free(a->tslot);
    a->tslot = t;
    a->tcap = cap;
}

/* The entry of a stack's text (made on first sight). */
static size_t by_text(struct agg *a, const char *text, size_t len)
{
    if ((a->n + 1) * 2 > a->tcap)
        text_grow(a);
    uint64_t h = hash_bytes64(text, len);
    size_t j = h & (a->tcap - 1);
    for (; a->tslot[j]; j = (j + 1) & (a->tcap - 1)) {
        const struct ent *e = &a->ents[a->tslot[j] - 1];
        if (e->hash == h && e->len == len && memcmp(e->text, text, len) == 0)
            return a->tslot[j] - 1;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->ents = xrealloc(a->ents, a->cap * sizeof(*a->ents));
    }
    a->ents[a->n] = (struct ent){strndup(text, len), len, h, 0};
    a->tslot[j] = a->n + 1;
    return a->n++;
}

/* "root;...;leaf" of a sample */
static size_t text_of(struct agg *a, const struct jfr_sample *s)
{
    size_t used = 0;
    for (size_t i = s->nframes; i-- > 0;) {
        size_t n = strlen(s->frames[i].name);
        if (used + n + 2 > a->bufcap)
            a->buf = xrealloc(a->buf, a->bufcap = (used + n + 2) * 2);
        memcpy(a->buf + used, s->frames[i].name, n);
        used += n;
        if (i)
            a->buf[used++] = ';';
    }
    return by_text(a, a->buf ? a->buf : "", used);
}

static size_t by_cached_key(struct agg *a, const struct jfr_sample *s)
{
    if (!s->stack_key)
        return text_of(a, s);
    size_t c = hash_mix64(s->stack_key) & (KEY_CACHE - 1);
    if (a->ckey[c] != s->stack_key) {
        a->cent[c] = text_of(a, s);
        a->ckey[c] = s->stack_key;
    }
    return a->cent[c];
}

static int on_sample(void *arg, const struct jfr_sample *s)
{
    struct agg *a = arg;
    size_t e = by_cached_key(a, s); /* may move a->ents */
    a->ents[e].weight += a->count ? 1 : s->weight;
    return 0;
}

static int cmp_ent(const void *x, const void *y)
{
    return strcmp(((const struct ent *)x)->text, ((const struct ent *)y)->text);
}

int main(int argc, char **argv)
{
    struct jfr_opts o = {0};
    struct agg a = {0};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--event") == 0 && i + 1 < argc) {
            int ev = jfr_event_parse(argv[++i]);
            if (ev < 0) {
                fprintf(stderr, "error: unknown event %s\n", argv[i]);
                return 2;
            }
            o.events |= 1u << ev;
        } else if (strcmp(argv[i], "--dotted") == 0) {
            o.flags |= JFR_OPT_DOTTED;
        } else if (strcmp(argv[i], "--annotate") == 0) {
            o.flags |= JFR_OPT_ANNOTATE;
        } else if (strcmp(argv[i], "--count") == 0) {
            a.count = true;
        } else if (strcmp(argv[i], "--max-bytes") == 0 && i + 1 < argc) {
            o.max_bytes = strtoull(argv[++i], NULL, 10);
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: jfr_collapse [--event E] [--dotted] [--annotate] "
                            "[--count] [--max-bytes N] FILE\n");
            return 2;
        }
    }
    if (!path)
        return 2;
    struct jfr_stats st;
    char err[256];
    int rc = jfr_read_path(path, &o, on_sample, &a, &st, err, sizeof(err));
    fprintf(stderr, "chunks %" PRIu64 " events %" PRIu64 " samples %" PRIu64 "\n", st.chunks,
            st.events, st.samples);
    if (st.truncated)
        fprintf(stderr, "truncated: %s\n", st.cut);
    if (rc)
        fprintf(stderr, "error: %s (%s)\n", err, strerror(-rc));
    else if (a.n)
        qsort(a.ents, a.n, sizeof(*a.ents), cmp_ent);
    for (size_t i = 0; i < a.n; i++)
        if (!rc && a.ents[i].weight)
            printf("%s %" PRIu64 "\n", a.ents[i].text, a.ents[i].weight);
    for (size_t i = 0; i < a.n; i++)
        free(a.ents[i].text);
    free(a.ents);
    free(a.tslot);
    free(a.buf);
    if (rc)
        return 1;
    return fflush(stdout) ? 1 : 0;
}
