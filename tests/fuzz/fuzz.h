/* fuzz.h: what every libFuzzer target (tests/fuzz/<target>/fuzz.c) shares:
 * the entry point's prototype, NUL-terminated copies of the input, and the
 * check that a parser's output string ends inside its buffer. A broken
 * contract aborts, which libFuzzer reports as a crash with the input. */
#ifndef FS_FUZZ_H
#define FS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a malloc'd C string (cut at its first NUL, as a reader of
 * text would see it). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* buf[0..cap) holds a NUL: a string the parser wrote stays in its bounds. */
#define FUZZ_TERMINATED(buf) FUZZ_CHECK(memchr((buf), '\0', sizeof(buf)) != NULL)

/* The input as an environment: NAME=value lines (the first of a name
 * wins), looked up by fuzz_getenv (a config_getenv_fn). */
struct fuzz_env {
    char *text;
    char *names[64];
    char *values[64];
    size_t n;
};

static inline void fuzz_env_parse(struct fuzz_env *e, const uint8_t *data, size_t size)
{
    e->text = fuzz_str(data, size);
    e->n = 0;
    for (char *line = e->text, *next; line && e->n < 64; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        e->names[e->n] = line;
        e->values[e->n++] = eq + 1;
    }
}

static inline const char *fuzz_getenv(const char *name, void *arg)
{
    const struct fuzz_env *e = arg;
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], name))
            return e->values[i];
    return NULL;
}

#endif
