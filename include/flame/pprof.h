/* pprof: Go's profile format (github.com/google/pprof proto/profile.proto)
 * read and written in C: a gzip'd protobuf message. The whole message is
 * modelled: sample types, samples (location ids, values, labels),
 * mappings, locations with their lines, functions, the string table and
 * the scalar fields (times, period, comments, default sample type), so a
 * profile read and written again keeps everything a reader uses. Fields
 * this version does not know are skipped, as protobuf readers do.
 *
 * Strings are indexes into the string table (strings[0] is always ""), as
 * in the wire format; pprof_str() resolves one. A profile read from bytes
 * owns one buffer its strings point into; pprof_free releases it all.
 * Nothing here blocks or keeps state; thread-safe on distinct profiles. */
#ifndef FS_PPROF_H
#define FS_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most a profile may inflate to: a decompression bomb stops here. */
#define PPROF_MAX_DECODED (256u << 20)

struct pprof_value_type {
    int64_t type, unit; /* string indexes: "alloc_space", "bytes" */
};

struct pprof_label {
    int64_t key, str; /* string indexes; str 0 for a numeric label */
    int64_t num, num_unit;
};

struct pprof_sample {
    uint64_t *location_ids; /* leaf first */
    size_t nlocation;
    int64_t *values; /* one per sample type */
    size_t nvalue;
    struct pprof_label *labels;
    size_t nlabel;
};

struct pprof_mapping {
    uint64_t id, memory_start, memory_limit, file_offset;
    int64_t filename, build_id;
    bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_line {
    uint64_t function_id;
    int64_t line, column;
};

struct pprof_location {
    uint64_t id, mapping_id, address;
    struct pprof_line *lines; /* inlined callees first, as Go writes them */
    size_t nline;
    bool is_folded;
};

struct pprof_function {
    uint64_t id;
    int64_t name, system_name, filename, start_line;
};

struct pprof_string {
    const char *s; /* not NUL-terminated */
    size_t len;
};

struct pprof_profile {
    struct pprof_value_type *sample_types;
    size_t nsample_type;
    struct pprof_sample *samples;
    size_t nsample;
    struct pprof_mapping *mappings;
    size_t nmapping;
    struct pprof_location *locations;
    size_t nlocation;
    struct pprof_function *functions;
    size_t nfunction;
    struct pprof_string *strings;
    size_t nstring;
    int64_t drop_frames, keep_frames; /* string indexes */
    int64_t time_nanos, duration_nanos;
    struct pprof_value_type period_type;
    int64_t period;
    int64_t *comments; /* string indexes */
    size_t ncomment;
    int64_t default_sample_type;
    int64_t doc_url;
    void *owned; /* the inflated bytes strings point into */
};

/* Parses data (gzip'd, as Go's net/http/pprof serves it, or a plain
 * protobuf message) into p (initialised here). Checks what a reader relies
 * on: the string table starts with "", every string index is in range,
 * every sample has one value per sample type, and every location id a
 * sample names and every function id a line names exists. Returns 0;
 * -EINVAL (not a profile: why says what is wrong); -EFBIG (inflates past
 * PPROF_MAX_DECODED); -ENOMEM. p needs pprof_free whatever it returns. */
int pprof_parse(const void *data, size_t len, struct pprof_profile *p, char *why, size_t whycap);

/* Encodes p as a gzip'd protobuf message into *out (malloc'd, caller
 * frees) of *outlen bytes. Returns 0, -ENOMEM or -EIO (zlib). */
int pprof_write(const struct pprof_profile *p, void **out, size_t *outlen);

void pprof_free(struct pprof_profile *p);

/* The string at index i, or "" (len 0) when out of range. */
struct pprof_string pprof_str(const struct pprof_profile *p, int64_t i);

/* 1 if the string at index i equals s, else 0. */
int pprof_str_eq(const struct pprof_profile *p, int64_t i, const char *s);

/* The sample type index whose type and unit are these, or -1. */
int pprof_sample_type_index(const struct pprof_profile *p, const char *type, const char *unit);

/* Lookups by id (ids need not be dense nor sorted); NULL when absent. */
const struct pprof_location *pprof_location(const struct pprof_profile *p, uint64_t id);
const struct pprof_function *pprof_function(const struct pprof_profile *p, uint64_t id);
const struct pprof_mapping *pprof_mapping(const struct pprof_profile *p, uint64_t id);

/* Appends s to the string table (a profile being built: strings then
 * point to s, which must outlive p). Returns its index, or -ENOMEM. */
int64_t pprof_add_string(struct pprof_profile *p, const char *s);

#endif
