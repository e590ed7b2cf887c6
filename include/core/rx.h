/* rx: PCRE2 regular expressions, compiled and matched one way for every
 * module: rules from the configuration and patterns arriving over HTTP.
 * A pattern from an untrusted client is compiled without \C (it could
 * split a UTF-8 character) and without JIT, and matched under PCRE2's
 * match, depth and heap limits, so it cannot hold a thread on
 * catastrophic backtracking. Compiled patterns are read-only and may be
 * matched from several threads at once. */
#ifndef FS_RX_H
#define FS_RX_H

#include <stdbool.h>
#include <stddef.h>

/* Backtracking steps an untrusted pattern may take on one subject. */
#define RX_UNTRUSTED_MATCH_LIMIT 200000

/* Compiles pattern (UTF-8). Returns the compiled pattern, or NULL with
 * "regex does not compile: <PCRE2's message> at offset <n>" (or "out of
 * memory") in err. */
void *rx_compile(const char *pattern, bool untrusted, char *err, size_t errcap);

/* 1 when re matches s, 0 when not, -1 on a matcher error (an untrusted
 * pattern past its limits, or no memory). */
int rx_match(const void *re, const char *s, bool untrusted);

void rx_free(void *re);

#endif
