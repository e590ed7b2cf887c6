#include "flame/heatmap.h"

#include "flame/flamepage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S   1000000000ll
#define MAX_ROWS   1000u
#define ENTRY_COST 48u /* an entry and its share of the slots */

/* One (cell, stack) pair: what of that stack fell in that cell. */
struct entry {
    uint64_t key; /* cell << 32 | stack id */
    uint64_t weight;
    uint64_t samples;
};

struct heatmap {
    int64_t start_ns;
    unsigned rows;
    size_t cells_budget, cells_bytes;
    struct stacks *st;
    struct entry *e;
    size_t n, cap;
    uint32_t *slots; /* open addressing: entry + 1 */
    size_t nslots;
    uint64_t max_cell;
};

/* The stacks take three quarters of the budget, the cells the rest. */
struct heatmap *heatmap_new(int64_t start_ns, unsigned rows, size_t max_bytes)
{
    struct heatmap *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if (!max_bytes)
        max_bytes = (size_t)256 << 20;
    h->start_ns = start_ns;
    h->rows = rows ? (rows > MAX_ROWS ? MAX_ROWS : rows) : 50;
    h->cells_budget = max_bytes / 4;
    h->st = stacks_new(max_bytes - max_bytes / 4);
    if (!h->st) {
        free(h);
        return NULL;
    }
    return h;
}

void heatmap_free(struct heatmap *h)
{
    if (!h)
        return;
    stacks_free(h->st);
    free(h->e);
    free(h->slots);
    free(h);
}

static size_t slot_of(const struct heatmap *h, uint64_t key)
{
    size_t mask = h->nslots - 1;
    for (size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask;; i = (i + 1) & mask)
        if (!h->slots[i] || h->e[h->slots[i] - 1].key == key)
            return i;
}

static int make_room(struct heatmap *h)
{
    if (h->n + 1 > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        struct entry *g = realloc(h->e, cap * sizeof(*g));
        if (!g)
            return -ENOMEM;
        h->e = g;
        h->cap = cap;
    }
    if ((h->n + 1) * 2 > h->nslots) {
        size_t n = h->nslots ? h->nslots * 2 : 2048;
        uint32_t *s = calloc(n, sizeof(*s));
        if (!s)
            return -ENOMEM;
        free(h->slots);
        h->slots = s;
        h->nslots = n;
        for (size_t i = 0; i < h->n; i++)
            h->slots[slot_of(h, h->e[i].key)] = (uint32_t)i + 1;
    }
    return 0;
}

int heatmap_add(struct heatmap *h, const struct jfr_sample *s)
{
    if (s->ts_ns < h->start_ns)
        return -ERANGE;
    uint64_t off = (uint64_t)(s->ts_ns - h->start_ns);
    uint64_t col = off / NS_PER_S;
    uint64_t row = off % NS_PER_S * h->rows / NS_PER_S;
    uint64_t cell = col * h->rows + row;
    if (cell > UINT32_MAX)
        return -ERANGE;
    uint32_t sid;
    int rc = stacks_add_sample(h->st, s, &sid);
    if (rc)
        return rc;
    uint64_t key = cell << 32 | sid;
    size_t slot = h->nslots ? slot_of(h, key) : 0;
    if (!h->nslots || !h->slots[slot]) {
        if (h->cells_bytes + ENTRY_COST > h->cells_budget)
            return -EFBIG;
        if (make_room(h))
            return -ENOMEM;
        slot = slot_of(h, key);
        h->e[h->n] = (struct entry){key, 0, 0};
        h->slots[slot] = (uint32_t)++h->n;
        h->cells_bytes += ENTRY_COST;
    }
    struct entry *e = &h->e[h->slots[slot] - 1];
    e->weight += s->weight;
    e->samples++;
    if (cell > h->max_cell)
        h->max_cell = cell;
    return 0;
}

static int by_key(const void *a, const void *b)
{
    uint64_t x = ((const struct entry *)a)->key, y = ((const struct entry *)b)->key;
    return x < y ? -1 : x > y;
}

static void write_stacks(const struct stacks *st, FILE *out)
{
    fputs("\"names\":[", out);
    for (size_t i = 0; i < stacks_names(st); i++) {
        if (i)
            fputc(',', out);
        fpage_json_str(out, stacks_name(st, (uint32_t)i));
    }
    fputs("],\"stacks\":[", out);
    for (size_t i = 0; i < stacks_count(st); i++) {
        const uint32_t *fr;
        size_t n;
        uint64_t w;
        stacks_get(st, (uint32_t)i, &fr, &n, &w);
        fputs(i ? ",[" : "[", out);
        for (size_t j = 0; j < n; j++)
            fprintf(out, "%s%u", j ? "," : "", fr[j]);
        fputc(']', out);
    }
    fputs("],", out);
}

/* cells: per non-empty cell in time order, its index, its entry count and
 * (stack, weight, samples) per entry. */
static void write_cells(const struct heatmap *h, const struct entry *e, FILE *out)
{
    fputs("\"cells\":[", out);
    for (size_t i = 0; i < h->n;) {
        uint64_t cell = e[i].key >> 32;
        size_t j = i;
        while (j < h->n && e[j].key >> 32 == cell)
            j++;
        fprintf(out, "%s%llu,%zu", i ? "," : "", (unsigned long long)cell, j - i);
        for (; i < j; i++)
            fprintf(out, ",%u,%llu,%llu", (uint32_t)e[i].key, (unsigned long long)e[i].weight,
                    (unsigned long long)e[i].samples);
    }
    fputs("]", out);
}

int heatmap_write_html(const struct heatmap *h, const struct flamegraph_opts *o, FILE *out)
{
    struct entry *e = malloc((h->n ? h->n : 1) * sizeof(*e));
    if (!e)
        return -ENOMEM;
    memcpy(e, h->e, h->n * sizeof(*e));
    qsort(e, h->n, sizeof(*e), by_key);
    fpage_begin(out, o, true);
    fpage_opts_json(out, o);
    /* the start as a string: ns since the epoch do not fit a JS number */
    fprintf(out, "\"kind\":\"heatmap\",\"startNs\":\"%lld\",\"rows\":%u,\"cols\":%llu,",
            (long long)h->start_ns, h->rows,
            (unsigned long long)(h->n ? h->max_cell / h->rows + 1 : 1));
    write_stacks(h->st, out);
    write_cells(h, e, out);
    free(e);
    return fpage_end(out, true, "HeatMap.boot()");
}
