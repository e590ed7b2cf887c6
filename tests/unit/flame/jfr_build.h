/* jfr_build: tiny JFR files built byte by byte, for test_jfr.c and the
 * fuzz target's seed corpus (tests/fuzz/jfr). One chunk holds a metadata
 * event declaring the types below (every class with an annotation child,
 * the reader must skip), one or two checkpoints (the Symbol pool split over
 * both when asked), and one event of every sample kind plus an event of a
 * type the reader does not know (an inline struct, an array, a string).
 *
 * Stacks (leaf first in the file; root first here):
 *   1: pkg/Main.main (interpreted) ; pkg/Worker.run (JIT)
 *   2: pkg/Main.main (JIT) ; pkg/Worker.run (inlined) ; memcpy (C, type 3
 *      with async-profiler's FrameType pool) ; do_syscall_64 (kernel) */
#ifndef FS_TEST_JFR_BUILD_H
#define FS_TEST_JFR_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jb {
    uint8_t *p;
    size_t n, cap;
    bool compressed;
};

static inline void jb_put(struct jb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static inline void jb_u8(struct jb *b, uint8_t v)
{
    jb_put(b, &v, 1);
}

static inline void jb_be(struct jb *b, uint64_t v, unsigned width)
{
    for (unsigned i = width; i-- > 0;)
        jb_u8(b, (uint8_t)(v >> (8 * i)));
}

/* JFR's compressed integer (9th byte: all 8 bits). */
static inline void jb_var(struct jb *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        if (v < 0x80) {
            jb_u8(b, (uint8_t)v);
            return;
        }
        jb_u8(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    jb_u8(b, (uint8_t)v);
}

static inline void jb_int(struct jb *b, uint64_t v, unsigned width)
{
    if (b->compressed)
        jb_var(b, v);
    else
        jb_be(b, v, width);
}

static inline void jb_str(struct jb *b, const char *s)
{
    if (!s) {
        jb_u8(b, 0);
        return;
    }
    jb_u8(b, 3);
    jb_int(b, strlen(s), 4);
    jb_put(b, s, strlen(s));
}

/* A record: its size is patched in by jb_end, four bytes wide (a padded
 * compressed integer as the JDK writes it). */
static inline size_t jb_begin(struct jb *b, uint64_t type)
{
    size_t at = b->n;
    jb_be(b, 0, 4);
    jb_int(b, type, 8);
    return at;
}

static inline void jb_end(struct jb *b, size_t at)
{
    uint64_t n = b->n - at;
    if (b->compressed) {
        b->p[at] = (uint8_t)(0x80 | (n & 0x7f));
        b->p[at + 1] = (uint8_t)(0x80 | (n >> 7 & 0x7f));
        b->p[at + 2] = (uint8_t)(0x80 | (n >> 14 & 0x7f));
        b->p[at + 3] = (uint8_t)(n >> 21 & 0x7f);
    } else {
        for (int i = 0; i < 4; i++)
            b->p[at + (size_t)i] = (uint8_t)(n >> (24 - 8 * i));
    }
}

/* --- the types --------------------------------------------------------- */

enum {
    JB_LONG = 10,
    JB_INT,
    JB_BOOL,
    JB_STRING,
    JB_THREAD = 20,
    JB_SYMBOL,
    JB_CLASS,
    JB_METHOD,
    JB_FRAMETYPE,
    JB_FRAME,
    JB_STACK,
    JB_STATE,
    JB_PAIR,
    JB_EXEC = 101,
    JB_TLAB_IN,
    JB_PARK,
    JB_WALL,
    JB_MALLOC,
    JB_FREE,
    JB_UNKNOWN,
    JB_TLAB_OUT
};

struct jb_field {
    const char *name;
    int cls;
    bool cpool, array;
};
struct jb_type {
    int id;
    const char *name;
    struct jb_field f[9];
};

static const struct jb_type JB_TYPES[] = {
    {JB_LONG, "long", {{0}}},
    {JB_INT, "int", {{0}}},
    {JB_BOOL, "boolean", {{0}}},
    {JB_STRING, "java.lang.String", {{0}}},
    {JB_THREAD,
     "java.lang.Thread",
     {{"osName", JB_STRING},
      {"osThreadId", JB_LONG},
      {"javaName", JB_STRING},
      {"javaThreadId", JB_LONG}}},
    {JB_SYMBOL, "jdk.types.Symbol", {{"string", JB_STRING}}},
    {JB_CLASS, "java.lang.Class", {{"name", JB_SYMBOL, true}, {"modifiers", JB_INT}}},
    {JB_METHOD,
     "jdk.types.Method",
     {{"type", JB_CLASS, true},
      {"name", JB_SYMBOL, true},
      {"descriptor", JB_SYMBOL, true},
      {"modifiers", JB_INT},
      {"hidden", JB_BOOL}}},
    {JB_FRAMETYPE, "jdk.types.FrameType", {{"description", JB_STRING}}},
    {JB_FRAME,
     "jdk.types.StackFrame",
     {{"method", JB_METHOD, true},
      {"lineNumber", JB_INT},
      {"bytecodeIndex", JB_INT},
      {"type", JB_FRAMETYPE, true}}},
    {JB_STACK, "jdk.types.StackTrace", {{"truncated", JB_BOOL}, {"frames", JB_FRAME, false, true}}},
    {JB_STATE, "jdk.types.ThreadState", {{"name", JB_STRING}}},
    {JB_PAIR, "test.Pair", {{"a", JB_LONG}, {"b", JB_STRING}}},
    {JB_EXEC,
     "jdk.ExecutionSample",
     {{"startTime", JB_LONG},
      {"sampledThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"state", JB_STATE, true},
      {"extraField", JB_STRING}}},
    {JB_TLAB_IN,
     "jdk.ObjectAllocationInNewTLAB",
     {{"startTime", JB_LONG},
      {"eventThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"objectClass", JB_CLASS, true},
      {"allocationSize", JB_LONG},
      {"tlabSize", JB_LONG}}},
    {JB_TLAB_OUT,
     "jdk.ObjectAllocationOutsideTLAB",
     {{"startTime", JB_LONG},
      {"eventThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"objectClass", JB_CLASS, true},
      {"allocationSize", JB_LONG}}},
    {JB_PARK,
     "jdk.ThreadPark",
     {{"startTime", JB_LONG},
      {"duration", JB_LONG},
      {"eventThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"parkedClass", JB_CLASS, true},
      {"timeout", JB_LONG},
      {"until", JB_LONG},
      {"address", JB_LONG}}},
    {JB_WALL,
     "profiler.WallClockSample",
     {{"startTime", JB_LONG},
      {"sampledThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"state", JB_STATE, true},
      {"samples", JB_INT},
      {"timeSpan", JB_LONG}}},
    {JB_MALLOC,
     "profiler.Malloc",
     {{"startTime", JB_LONG},
      {"eventThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"address", JB_LONG},
      {"size", JB_LONG}}},
    {JB_FREE,
     "profiler.Free",
     {{"startTime", JB_LONG},
      {"eventThread", JB_THREAD, true},
      {"stackTrace", JB_STACK, true},
      {"address", JB_LONG}}},
    {JB_UNKNOWN,
     "test.Unknown",
     {{"startTime", JB_LONG},
      {"pair", JB_PAIR},
      {"list", JB_LONG, false, true},
      {"text", JB_STRING},
      {"stackTrace", JB_STACK, true}}},
};
#define JB_NTYPES (sizeof(JB_TYPES) / sizeof(JB_TYPES[0]))

/* --- metadata ------------------------------------------------------------ */

struct jb_meta {
    struct jb tree;
    const char *strs[256];
    int n;
};

static inline int jb_ms(struct jb_meta *m, const char *s)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->strs[i], s) == 0)
            return i;
    m->strs[m->n] = s;
    return m->n++;
}

/* An element's name and attributes (pairs of strings); its children
 * follow after jb_kids. */
static inline void jb_el(struct jb_meta *m, const char *name, int nattr, const char *const *kv)
{
    jb_int(&m->tree, (uint64_t)jb_ms(m, name), 4);
    jb_int(&m->tree, (uint64_t)nattr, 4);
    for (int i = 0; i < 2 * nattr; i++)
        jb_int(&m->tree, (uint64_t)jb_ms(m, kv[i]), 4);
}

static inline void jb_kids(struct jb_meta *m, int n)
{
    jb_int(&m->tree, (uint64_t)n, 4);
}

static inline void jb_metadata(struct jb *b)
{
    static char ids[JB_NTYPES][16], fcls[JB_NTYPES][9][16];
    struct jb_meta m = {{NULL, 0, 0, b->compressed}, {0}, 0};
    jb_el(&m, "root", 0, NULL);
    jb_kids(&m, 2);
    jb_el(&m, "metadata", 0, NULL);
    jb_kids(&m, (int)JB_NTYPES);
    for (size_t i = 0; i < JB_NTYPES; i++) {
        const struct jb_type *t = &JB_TYPES[i];
        snprintf(ids[i], sizeof(ids[i]), "%d", t->id);
        const char *kv[] = {"id", ids[i], "name", t->name};
        jb_el(&m, "class", 2, kv);
        int nf = 0;
        while (nf < 9 && t->f[nf].name)
            nf++;
        jb_kids(&m, nf + 1);
        const char *an[] = {"class", "99", "value", "Profiling"};
        jb_el(&m, "annotation", 2, an);
        jb_kids(&m, 0);
        for (int j = 0; j < nf; j++) {
            snprintf(fcls[i][j], sizeof(fcls[i][j]), "%d", t->f[j].cls);
            const char *fkv[8] = {"name", t->f[j].name, "class", fcls[i][j]};
            int na = 2;
            if (t->f[j].cpool) {
                fkv[2 * na] = "constantPool";
                fkv[2 * na + 1] = "true";
                na++;
            }
            if (t->f[j].array) {
                fkv[2 * na] = "dimension";
                fkv[2 * na + 1] = "1";
                na++;
            }
            jb_el(&m, "field", na, fkv);
            jb_kids(&m, 0);
        }
    }
    jb_el(&m, "region", 0, NULL);
    jb_kids(&m, 0);
    size_t at = jb_begin(b, 0);
    jb_int(b, 0, 8); /* start, duration, id */
    jb_int(b, 0, 8);
    jb_int(b, 1, 8);
    jb_int(b, (uint64_t)m.n, 4);
    for (int i = 0; i < m.n; i++)
        jb_str(b, m.strs[i]);
    jb_put(b, m.tree.p, m.tree.n);
    jb_end(b, at);
    free(m.tree.p);
}

/* --- pools and events ------------------------------------------------------ */

static const char *const JB_SYMS[] = {NULL,
                                      "pkg/Main",
                                      "main",
                                      "pkg/Worker",
                                      "run",
                                      "memcpy",
                                      "()V",
                                      "[B",
                                      "[Ljava/lang/String;",
                                      "java/util/concurrent/locks/ReentrantLock$NonfairSync",
                                      "do_syscall_64",
                                      ""};

static inline void jb_symbols(struct jb *b, int from, int to)
{
    jb_int(b, JB_SYMBOL, 8);
    jb_int(b, (uint64_t)(to - from + 1), 4);
    for (int i = from; i <= to; i++) {
        jb_int(b, (uint64_t)i, 8);
        jb_str(b, JB_SYMS[i]);
    }
}

static inline void jb_pools_rest(struct jb *b)
{
    static const int classes[][2] = {{1, 1}, {2, 3}, {3, 7}, {4, 8}, {5, 9}, {6, 11}};
    jb_int(b, JB_CLASS, 8);
    jb_int(b, 6, 4);
    for (int i = 0; i < 6; i++) {
        jb_int(b, (uint64_t)classes[i][0], 8);
        jb_int(b, (uint64_t)classes[i][1], 8);
        jb_int(b, 1, 4);
    }
    static const int methods[][2] = {{1, 2}, {2, 4}, {6, 5}, {6, 10}};
    jb_int(b, JB_METHOD, 8);
    jb_int(b, 4, 4);
    for (int i = 0; i < 4; i++) {
        jb_int(b, (uint64_t)i + 1, 8);
        jb_int(b, (uint64_t)methods[i][0], 8);
        jb_int(b, (uint64_t)methods[i][1], 8);
        jb_int(b, 6, 8);
        jb_int(b, 9, 4);
        jb_u8(b, 0);
    }
    jb_int(b, JB_THREAD, 8);
    jb_int(b, 1, 4);
    jb_int(b, 1, 8);
    jb_str(b, "worker-os");
    jb_int(b, 4242, 8);
    jb_str(b, "worker");
    jb_int(b, 12, 8);
    jb_int(b, JB_STATE, 8);
    jb_int(b, 1, 4);
    jb_int(b, 0, 8);
    jb_str(b, "STATE_DEFAULT");
    static const int stacks[2][5][2] = {{{2, 1}, {1, 0}}, {{4, 5}, {3, 3}, {2, 2}, {1, 1}}};
    static const int depth[2] = {2, 4};
    jb_int(b, JB_STACK, 8);
    jb_int(b, 2, 4);
    for (int s = 0; s < 2; s++) {
        jb_int(b, (uint64_t)s + 1, 8);
        jb_u8(b, 0);
        jb_int(b, (uint64_t)depth[s], 4);
        for (int i = 0; i < depth[s]; i++) {
            jb_int(b, (uint64_t)stacks[s][i][0], 8);
            jb_int(b, 42, 4);
            jb_int(b, 7, 4);
            jb_int(b, (uint64_t)stacks[s][i][1], 8);
        }
    }
}

static inline void jb_frame_types(struct jb *b)
{
    static const char *const d[] = {"Interpreted", "JIT compiled", "Inlined",
                                    "Native",      "C++",          "Kernel"};
    jb_int(b, JB_FRAMETYPE, 8);
    jb_int(b, 6, 4);
    for (int i = 0; i < 6; i++) {
        jb_int(b, (uint64_t)i, 8);
        jb_str(b, d[i]);
    }
}

/* A checkpoint with npools pools written by fn; returns its offset. */
static inline size_t jb_checkpoint(struct jb *b, size_t chunk, int64_t delta, int npools,
                                   void (*fn)(struct jb *, int), int part)
{
    size_t at = jb_begin(b, 1);
    jb_int(b, 0, 8);
    jb_int(b, 0, 8);
    jb_int(b, (uint64_t)delta, 8);
    jb_u8(b, 1);
    jb_int(b, (uint64_t)npools, 4);
    fn(b, part);
    jb_end(b, at);
    return at - chunk;
}

static inline void jb_pools_all(struct jb *b, int part)
{
    (void)part;
    jb_symbols(b, 1, 11);
    jb_frame_types(b);
    jb_pools_rest(b);
}

/* part 2: part 1 after an empty stack trace pool (the reader meets it
 * first: the header names the last checkpoint) */
static inline void jb_pools_split(struct jb *b, int part)
{
    if (part == 2) {
        jb_int(b, JB_STACK, 8);
        jb_int(b, 0, 4);
        part = 1;
    }
    if (part == 0) {
        jb_symbols(b, 1, 5);
        jb_frame_types(b);
    } else {
        jb_symbols(b, 6, 11);
        jb_pools_rest(b);
    }
}

struct jb_opts {
    bool split;        /* the Symbol pool over two checkpoints */
    bool empty_stacks; /* with split: an empty stack pool read first */
    uint64_t tps;      /* ticks per second (0: 1e9) */
    int64_t start_ns;
};

/* The events of a chunk: what test_jfr.c expects, in this order. */
static inline void jb_events(struct jb *b)
{
    size_t at = jb_begin(b, JB_EXEC); /* stack 1, thread 1 */
    jb_int(b, 1000 + 1, 8);
    jb_int(b, 1, 8);
    jb_int(b, 1, 8);
    jb_int(b, 0, 8);
    jb_str(b, "a field this reader has never heard of");
    jb_end(b, at);
    at = jb_begin(b, JB_UNKNOWN);
    jb_int(b, 1000, 8);
    jb_int(b, 7, 8);
    jb_str(b, "pair");
    jb_int(b, 3, 4);
    jb_int(b, 1, 8);
    jb_int(b, 1ull << 62, 8);
    jb_int(b, 3, 8);
    jb_str(b, "text");
    jb_int(b, 2, 8);
    jb_end(b, at);
    at = jb_begin(b, JB_EXEC); /* stack 2 */
    jb_int(b, 1000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 2, 8);
    jb_int(b, 0, 8);
    jb_str(b, NULL);
    jb_end(b, at);
    at = jb_begin(b, JB_WALL);
    jb_int(b, 1000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 1, 8);
    jb_int(b, 0, 8);
    jb_int(b, 5, 4);
    jb_int(b, 100, 8);
    jb_end(b, at);
    at = jb_begin(b, JB_TLAB_IN); /* byte[] in a 4096-byte TLAB */
    jb_int(b, 1000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 1, 8);
    jb_int(b, 3, 8);
    jb_int(b, 100, 8);
    jb_int(b, 4096, 8);
    jb_end(b, at);
    at = jb_begin(b, JB_TLAB_OUT); /* String[] of 300 bytes */
    jb_int(b, 1000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 1, 8);
    jb_int(b, 4, 8);
    jb_int(b, 300, 8);
    jb_end(b, at);
    at = jb_begin(b, JB_PARK); /* 4000 ticks */
    jb_int(b, 1000, 8);
    jb_int(b, 4000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 1, 8);
    jb_int(b, 5, 8);
    jb_int(b, 0, 8);
    jb_int(b, 0, 8);
    jb_int(b, 0xdead, 8);
    jb_end(b, at);
    at = jb_begin(b, JB_MALLOC);
    jb_int(b, 1000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 2, 8);
    jb_int(b, 0xbeef, 8);
    jb_int(b, 64, 8);
    jb_end(b, at);
    at = jb_begin(b, JB_FREE);
    jb_int(b, 1000, 8);
    jb_int(b, 1, 8);
    jb_int(b, 2, 8);
    jb_int(b, 0xbeef, 8);
    jb_end(b, at);
}

/* Appends one chunk to b. */
static inline void jb_chunk(struct jb *b, const struct jb_opts *o)
{
    size_t start = b->n;
    jb_put(b, "FLR\0", 4);
    jb_be(b, 2, 2);
    jb_be(b, 0, 2);
    size_t fixup = b->n;
    jb_be(b, 0, 8);
    jb_be(b, 0, 8);
    jb_be(b, 0, 8);
    jb_be(b, (uint64_t)o->start_ns, 8);
    jb_be(b, 5000000000ull, 8);
    jb_be(b, 1000, 8);
    jb_be(b, o->tps ? o->tps : 1000000000ull, 8);
    jb_be(b, b->compressed ? 1 : 0, 4);
    jb_events(b);
    size_t cp;
    if (o->split) {
        size_t a = jb_checkpoint(b, start, 0, 2, jb_pools_split, 0);
        size_t here = b->n - start;
        cp = jb_checkpoint(b, start, (int64_t)a - (int64_t)here, o->empty_stacks ? 7 : 6,
                           jb_pools_split, o->empty_stacks ? 2 : 1);
    } else {
        cp = jb_checkpoint(b, start, 0, 7, jb_pools_all, 0);
    }
    size_t meta = b->n - start;
    jb_metadata(b);
    uint64_t size = b->n - start;
    uint64_t v[3] = {size, cp, meta};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 8; i++)
            b->p[fixup + 8 * (size_t)k + (size_t)i] = (uint8_t)(v[k] >> (56 - 8 * i));
}

#endif
