#include "flame/flamepage.h"

/* flame_css, flame_js, heatmap_js: src/flame/page/ embedded by
 * tools/embed.sh (the Makefile's build/gen/flame_assets.h) */
#include "flame_assets.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE        UINT32_MAX
#define GONE_LISTED 50 /* frames only the base had, largest first */

struct node {
    uint32_t name, parent, first, next; /* children in a list, newest first */
    uint64_t w, base;
};

struct fpage_tree {
    const char **names; /* borrowed from the models */
    size_t nnames, names_cap;
    uint32_t *name_slots; /* by content: id + 1, 0 empty */
    size_t name_slots_n;
    struct node *nodes;
    size_t nnodes, nodes_cap;
    uint32_t *child_slots; /* by (parent, name): node + 1 */
    size_t child_slots_n;
    uint64_t total, base_total;
    bool has_base;
};

static uint32_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t hash_pair(uint32_t a, uint32_t b)
{
    uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

/* Room for need elements (vec_grow doubles one step at a time). */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    while (*cap < need)
        if (vec_grow(p, cap, *cap, elem, 64))
            return -ENOMEM;
    return 0;
}

static size_t name_slot(const struct fpage_tree *t, const char *s)
{
    size_t mask = t->name_slots_n - 1;
    for (size_t i = hash_str(s) & mask;; i = (i + 1) & mask)
        if (!t->name_slots[i] || strcmp(t->names[t->name_slots[i] - 1], s) == 0)
            return i;
}

static size_t child_slot(const struct fpage_tree *t, uint32_t parent, uint32_t name)
{
    size_t mask = t->child_slots_n - 1;
    for (size_t i = hash_pair(parent, name) & mask;; i = (i + 1) & mask) {
        uint32_t v = t->child_slots[i];
        if (!v || (t->nodes[v - 1].parent == parent && t->nodes[v - 1].name == name))
            return i;
    }
}

/* Doubles a table past half full and puts every entry back. */
static int rehash(uint32_t **slots, size_t *n, size_t want)
{
    if (want * 2 <= *n)
        return 0;
    size_t m = *n ? *n * 2 : 1024;
    uint32_t *s = calloc(m, sizeof(*s));
    if (!s)
        return -ENOMEM;
    free(*slots);
    *slots = s;
    *n = m;
    return 1;
}

static int intern(struct fpage_tree *t, const char *s, uint32_t *id)
{
    int r = rehash(&t->name_slots, &t->name_slots_n, t->nnames + 1);
    if (r < 0 || grow((void **)&t->names, &t->names_cap, t->nnames + 1, sizeof(*t->names)))
        return -ENOMEM;
    for (size_t i = 0; r && i < t->nnames; i++)
        t->name_slots[name_slot(t, t->names[i])] = (uint32_t)i + 1;
    size_t slot = name_slot(t, s);
    if (!t->name_slots[slot]) {
        t->names[t->nnames] = s;
        t->name_slots[slot] = (uint32_t)++t->nnames;
    }
    *id = t->name_slots[slot] - 1;
    return 0;
}

static int add_node(struct fpage_tree *t, uint32_t parent, uint32_t name)
{
    if (grow((void **)&t->nodes, &t->nodes_cap, t->nnodes + 1, sizeof(*t->nodes)))
        return -ENOMEM;
    struct node *n = &t->nodes[t->nnodes];
    *n = (struct node){name, parent, NONE, NONE, 0, 0};
    if (parent != NONE) {
        n->next = t->nodes[parent].first;
        t->nodes[parent].first = (uint32_t)t->nnodes;
    }
    t->nnodes++;
    return 0;
}

struct fpage_tree *fpage_tree_new(void)
{
    struct fpage_tree *t = calloc(1, sizeof(*t));
    uint32_t all;
    if (!t || intern(t, "all", &all) || add_node(t, NONE, all)) {
        fpage_tree_free(t);
        return NULL;
    }
    return t;
}

void fpage_tree_free(struct fpage_tree *t)
{
    if (!t)
        return;
    free(t->names);
    free(t->name_slots);
    free(t->nodes);
    free(t->child_slots);
    free(t);
}

static int child(struct fpage_tree *t, uint32_t parent, uint32_t name, uint32_t *out)
{
    int r = rehash(&t->child_slots, &t->child_slots_n, t->nnodes + 1);
    if (r < 0)
        return r;
    for (size_t i = 1; r && i < t->nnodes; i++)
        t->child_slots[child_slot(t, t->nodes[i].parent, t->nodes[i].name)] = (uint32_t)i + 1;
    size_t slot = child_slot(t, parent, name);
    if (!t->child_slots[slot]) {
        if (add_node(t, parent, name))
            return -ENOMEM;
        t->child_slots[slot] = (uint32_t)t->nnodes;
    }
    *out = t->child_slots[slot] - 1;
    return 0;
}

int fpage_tree_add(struct fpage_tree *t, const struct stacks *st, bool base)
{
    size_t nn = stacks_names(st);
    uint32_t *map = malloc((nn ? nn : 1) * sizeof(*map));
    if (!map)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < nn && !rc; i++)
        rc = intern(t, stacks_name(st, (uint32_t)i), &map[i]);
    for (size_t id = 0; id < stacks_count(st) && !rc; id++) {
        const uint32_t *fr;
        size_t n;
        uint64_t w;
        stacks_get(st, (uint32_t)id, &fr, &n, &w);
        uint32_t at = 0;
        *(base ? &t->nodes[0].base : &t->nodes[0].w) += w;
        for (size_t j = 0; j < n && !rc; j++) {
            rc = child(t, at, map[fr[j]], &at);
            if (!rc)
                *(base ? &t->nodes[at].base : &t->nodes[at].w) += w;
        }
    }
    if (base) {
        t->has_base = true;
        t->base_total += stacks_total(st);
    } else {
        t->total += stacks_total(st);
    }
    free(map);
    return rc;
}

void fpage_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
            fprintf(out, "\\u%04x", 0x2000 | (p[2] & 0x3f)), p += 2; /* JS line terminators */
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* --- writing ------------------------------------------------------------ */

struct writer {
    const struct fpage_tree *t;
    FILE *out;
    uint64_t thr;
    uint32_t *remap; /* tree name -> written name, NONE unwritten */
    uint32_t nwritten, merged_name;
    uint64_t merged_frames, merged_weight, merged_blocks;
    uint32_t *gone; /* topmost nodes only the base had */
    size_t ngone, gone_cap;
    bool first, oom;
};

static int by_name(const void *a, const void *b, void *arg)
{
    const struct fpage_tree *t = arg;
    return strcmp(t->names[t->nodes[*(const uint32_t *)a].name],
                  t->names[t->nodes[*(const uint32_t *)b].name]);
}

static uint64_t subtree_size(const struct fpage_tree *t, uint32_t n)
{
    uint64_t k = 1;
    for (uint32_t c = t->nodes[n].first; c != NONE; c = t->nodes[c].next)
        k += subtree_size(t, c);
    return k;
}

static void emit(struct writer *wr, uint32_t name, unsigned depth, uint64_t w, uint64_t base,
                 uint64_t gone)
{
    fprintf(wr->out, "%s%u,%u,%llu", wr->first ? "" : ",", name, depth, (unsigned long long)w);
    if (wr->t->has_base)
        fprintf(wr->out, ",%llu,%llu", (unsigned long long)base, (unsigned long long)gone);
    wr->first = false;
}

/* Children sorted by name, as flamegraph.pl draws them. */
static uint32_t *sorted_kids(struct writer *wr, uint32_t n, size_t *k)
{
    const struct fpage_tree *t = wr->t;
    *k = 0;
    for (uint32_t c = t->nodes[n].first; c != NONE; c = t->nodes[c].next)
        (*k)++;
    uint32_t *kids = malloc((*k ? *k : 1) * sizeof(*kids));
    if (!kids) {
        wr->oom = true;
        return NULL;
    }
    size_t i = 0;
    for (uint32_t c = t->nodes[n].first; c != NONE; c = t->nodes[c].next)
        kids[i++] = c;
    qsort_r(kids, *k, sizeof(*kids), by_name, (void *)t);
    return kids;
}

static void write_node(struct writer *wr, uint32_t n, unsigned depth)
{
    const struct fpage_tree *t = wr->t;
    size_t k;
    uint32_t *kids = sorted_kids(wr, n, &k);
    if (!kids)
        return;
    uint64_t gone = 0, mw = 0, mb = 0, mframes = 0;
    for (size_t i = 0; i < k; i++) {
        const struct node *c = &t->nodes[kids[i]];
        if (c->w == 0) {
            gone += c->base;
            if (!grow((void **)&wr->gone, &wr->gone_cap, wr->ngone + 1, sizeof(*wr->gone)))
                wr->gone[wr->ngone++] = kids[i];
        } else if (c->w < wr->thr) {
            mw += c->w;
            mb += c->base;
            mframes += subtree_size(t, kids[i]);
        }
    }
    const struct node *nd = &t->nodes[n];
    if (wr->remap[nd->name] == NONE)
        wr->remap[nd->name] = wr->nwritten++;
    emit(wr, wr->remap[nd->name], depth, nd->w, nd->base, gone);
    for (size_t i = 0; i < k; i++)
        if (t->nodes[kids[i]].w >= wr->thr && t->nodes[kids[i]].w > 0)
            write_node(wr, kids[i], depth + 1);
    if (mw) {
        emit(wr, wr->merged_name, depth + 1, mw, mb, 0);
        wr->merged_frames += mframes;
        wr->merged_weight += mw;
        wr->merged_blocks++;
    }
    free(kids);
}

static void write_names(struct writer *wr)
{
    const char **byw = calloc(wr->nwritten ? wr->nwritten : 1, sizeof(*byw));
    if (!byw) {
        wr->oom = true;
        return;
    }
    for (size_t i = 0; i < wr->t->nnames; i++)
        if (wr->remap[i] != NONE)
            byw[wr->remap[i]] = wr->t->names[i];
    byw[wr->merged_name] = "[merged]";
    fputs("\"names\":[", wr->out);
    for (uint32_t i = 0; i < wr->nwritten; i++) {
        if (i)
            fputc(',', wr->out);
        fpage_json_str(wr->out, byw[i]);
    }
    fputs("],", wr->out);
    free(byw);
}

static int by_base_desc(const void *a, const void *b, void *arg)
{
    const struct fpage_tree *t = arg;
    uint64_t x = t->nodes[*(const uint32_t *)a].base, y = t->nodes[*(const uint32_t *)b].base;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* "a;b;c" of node n, root excluded. */
static void write_path(FILE *out, const struct fpage_tree *t, uint32_t n, bool top)
{
    if (t->nodes[n].parent == NONE)
        return;
    write_path(out, t, t->nodes[n].parent, false);
    fputs(t->names[t->nodes[n].name], out);
    if (!top)
        fputc(';', out);
}

static void write_gone(struct writer *wr)
{
    const struct fpage_tree *t = wr->t;
    if (wr->ngone) /* qsort of NULL, even of 0 elements, is undefined */
        qsort_r(wr->gone, wr->ngone, sizeof(*wr->gone), by_base_desc, (void *)t);
    fputs("\"gone\":[", wr->out);
    for (size_t i = 0; i < wr->ngone && i < GONE_LISTED; i++) {
        /* the path is built in memory to be escaped as one JSON string */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m) {
            wr->oom = true;
            break;
        }
        write_path(m, t, wr->gone[i], true);
        fclose(m);
        fprintf(wr->out, "%s[", i ? "," : "");
        fpage_json_str(wr->out, buf);
        fprintf(wr->out, ",%llu]", (unsigned long long)t->nodes[wr->gone[i]].base);
        free(buf);
    }
    fprintf(wr->out, "],\"goneCount\":%zu,\"baseTotal\":%llu,", wr->ngone,
            (unsigned long long)t->base_total);
}

int fpage_tree_write(const struct fpage_tree *t, double min_share, FILE *out)
{
    struct writer wr = {.t = t, .out = out, .first = true};
    wr.thr = (uint64_t)(min_share * (double)t->total);
    wr.remap = malloc(t->nnames * sizeof(*wr.remap));
    if (!wr.remap)
        return -ENOMEM;
    memset(wr.remap, 0xff, t->nnames * sizeof(*wr.remap));
    wr.merged_name = wr.nwritten++;
    fprintf(out, "\"stride\":%d,\"nodes\":[", t->has_base ? 5 : 3);
    if (t->total)
        write_node(&wr, 0, 0);
    fputs("],", out);
    write_names(&wr);
    if (t->has_base)
        write_gone(&wr);
    fprintf(out,
            "\"total\":%llu,\"merged\":{\"frames\":%llu,\"blocks\":%llu,\"weight\":%llu,"
            "\"minShare\":%g}",
            (unsigned long long)t->total, (unsigned long long)wr.merged_frames,
            (unsigned long long)wr.merged_blocks, (unsigned long long)wr.merged_weight, min_share);
    free(wr.remap);
    free(wr.gone);
    if (wr.oom)
        return -ENOMEM;
    return ferror(out) ? -EIO : 0;
}

/* --- the page ----------------------------------------------------------- */

double fpage_min_share(const struct flamegraph_opts *o)
{
    return o && o->min_share > 0 ? o->min_share : 1e-4;
}

static void html_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

void fpage_opts_json(FILE *out, const struct flamegraph_opts *o)
{
    fputs("\"title\":", out);
    fpage_json_str(out, o && o->title ? o->title : "Flame graph");
    fputs(",\"subtitle\":", out);
    fpage_json_str(out, o && o->subtitle ? o->subtitle : "");
    fputs(",\"unit\":", out);
    fpage_json_str(out, o && o->unit ? o->unit : "samples");
    fprintf(out, ",\"icicle\":%s,\"minShare\":%g,", o && o->icicle ? "true" : "false",
            fpage_min_share(o));
}

/* The policy forbids anything but the page's own inline code: no network,
 * and a name that slipped through escaping still could not load anything. */
#define CSP                                                                                        \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

void fpage_begin(FILE *out, const struct flamegraph_opts *o, bool heatmap)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"" CSP "\">\n<title>",
          out);
    html_text(out, o && o->title ? o->title : "Flame graph");
    fprintf(out, "</title>\n<style>\n%s</style></head>\n<body class=\"%s\">\n", flame_css,
            heatmap ? "heatmap" : "flame");
    fputs("<script type=\"application/json\" id=\"flame-data\">{", out);
}

int fpage_end(FILE *out, bool heatmap, const char *boot)
{
    fprintf(out, "}</script>\n<script>\n%s</script>\n", flame_js);
    if (heatmap)
        fprintf(out, "<script>\n%s</script>\n", heatmap_js);
    fprintf(out, "<script>%s;</script>\n</body></html>\n", boot);
    return ferror(out) ? -EIO : 0;
}
