/* jfr_chunk: the JFR reader's model of one chunk (its types, pools and
 * event plans) and what its files share (src/flame/jfr*.c only):
 * jfr.c reads the file, chunks and events and names frames; jfr_pool.c
 * reads values, the metadata event and the constant pools. */
#ifndef FS_JFR_CHUNK_H
#define FS_JFR_CHUNK_H

#include "flame/jfr.h"
#include "jfr_int.h"

#define HDR_SIZE  68
#define MAX_DEPTH 32 /* metadata elements and nested inline values */

enum kind { K_STRUCT, K_BYTE, K_SHORT, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_STRING };

/* How a field is read: the common scalars directly, the rest (arrays,
 * strings, inline structs, floats) by its type. */
enum op { OP_SLOW, OP_LONG, OP_INT, OP_SHORT, OP_BYTE };

struct jfield {
    const char *name;
    uint64_t type_id;
    uint32_t tidx;
    bool cpool, array;
    uint8_t op;
};

struct jtype {
    uint64_t id;
    const char *name;
    enum kind kind;
    struct jfield *fields;
    size_t nfields, cap;
};

/* The sample events read, and what each counts as. */
enum ev_type {
    T_EXEC,
    T_NATIVE,
    T_WALL,
    T_TLAB_IN,
    T_TLAB_OUT,
    T_ALLOC_SAMPLE,
    T_MONITOR,
    T_PARK,
    T_MALLOC,
    T_FREE,
    T_N
};

/* Where an event's field goes. */
enum slot {
    S_NONE,
    S_TIME,
    S_DUR,
    S_THREAD,
    S_STACK,
    S_CLASS,
    S_SIZE,
    S_TLAB,
    S_WEIGHT,
    S_SAMPLES,
    S_N
};

struct plan {
    uint32_t tidx;
    uint8_t *slots; /* per field */
};

struct jclass {
    uint64_t name;              /* symbol */
    const char *cname, *sfx[2]; /* resolved: dotted, and with _[i] / _[k] */
};
struct jmethod {
    uint64_t cls, name;
    const char *resolved[2]; /* [native] */
};
struct jthread {
    uint64_t tid;
    const char *name;
};
#define STACK_LAZY UINT32_MAX /* jstack.n: not decoded yet, off is into chunk.lazy */

struct jstack {
    uint32_t off, n;
    struct jfr_frame *res; /* resolved, one spare slot before the leaf */
};
struct jsframe {
    uint64_t method;
    uint8_t type;
};

struct chunk {
    int no;
    uint32_t serial; /* of the chunks read in the process, 1..2^24-1: stack keys' top bits */
    uint64_t start, end;
    int64_t start_ns, dur_ns, start_ticks, tps;
    bool compressed;
    unsigned flags;
    long long work; /* values left to walk: bounds hostile nesting */
    struct jarena ar;
    struct jtype *types;
    size_t ntypes, tcap;
    struct jmap type_ids;
    struct plan plans[T_N];
    bool has[T_N];
    struct jmap ev_of_type; /* type id -> enum ev_type */
    uint8_t ev_small[1024]; /* the same for small ids (1 + enum ev_type; 0: none) */
    /* pools */
    const char **syms, **strs;
    struct jclass *classes;
    struct jmethod *methods;
    struct jthread *threads;
    struct jstack *stacks;
    struct jsframe *frames;
    size_t nsyms, nstrs, nclasses, nmethods, nthreads, nstacks, nframes;
    size_t csyms, cstrs, cclasses, cmethods, cthreads, cstacks, cframes;
    struct jmap sym_ids, str_ids, class_ids, method_ids, thread_ids, stack_ids;
    bool kernel_frames; /* async-profiler's FrameType: 3 is a C frame */
    /* stack traces skipped in the pools, decoded on first use: their
     * bytes (checked when skipped) and their type */
    uint8_t *lazy;
    size_t nlazy, clazy;
    uint32_t stack_tidx;
};

struct win {
    int fd;
    uint8_t *buf;
    size_t cap, len;
    uint64_t off;
};

struct reader {
    struct win w;
    struct chunk ck;
    const struct jfr_opts *o;
    jfr_sample_fn fn;
    void *arg;
    struct jfr_stats *st;
    char *err;
    size_t errcap;
    struct jval *vals; /* scratch per struct read */
    size_t cvals;
};

struct jval {
    uint64_t u;
    const char *s;
};

/* -EINVAL with err "chunk N at byte AT: ..." */
int jr_fail(struct reader *r, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The record (event) at pos: its size, checked against the chunk, and a
 * cursor over the rest of it. */
int jr_record_open(struct reader *r, uint64_t pos, struct jcur *c, uint64_t *size);
/* The metadata event at pos: ck's types and fields. */
int jr_read_metadata(struct reader *r, uint64_t pos);
/* The checkpoint chain from the newest at pos: ck's pools. */
int jr_read_pools(struct reader *r, uint64_t pos);
int jr_field_index(const struct jtype *t, const char *name);
const struct jtype *jr_type_named(const struct chunk *ck, const char *name);

/* Decodes the stack s skipped in the pools (n == STACK_LAZY): its frames
 * go to ck->frames. 0, -ENOMEM, -EINVAL. */
int jr_stack_decode(struct reader *r, struct jstack *s);

uint64_t jr_read_field_slow(struct chunk *ck, struct jcur *c, const struct jfield *f, int depth);

/* One field's value (an array: all its elements); numbers returned. The
 * common scalars here, inlined into the loops over fields. */
static inline uint64_t read_field(struct chunk *ck, struct jcur *c, const struct jfield *f,
                                  int depth)
{
    switch (f->op) {
    case OP_LONG:
        return jc_int(c, 8);
    case OP_INT:
        return jc_int(c, 4);
    case OP_SHORT:
        return jc_int(c, 2);
    case OP_BYTE:
        return jc_u8(c);
    default:
        return jr_read_field_slow(ck, c, f, depth);
    }
}

#endif
