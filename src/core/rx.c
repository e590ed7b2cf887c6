#include "core/rx.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

void *rx_compile(const char *pattern, bool untrusted, char *err, size_t errcap)
{
    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | (untrusted ? PCRE2_NEVER_BACKSLASH_C : 0);
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(err, errcap, "regex does not compile: %s at offset %zu", (char *)msg, (size_t)off);
        return NULL;
    }
    /* JIT is an optimisation; its absence (or SELinux refusing it) is fine.
     * It would ignore the depth and heap limits an untrusted pattern gets. */
    if (!untrusted)
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static pcre2_match_context *limits(void)
{
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (mc) {
        pcre2_set_match_limit(mc, RX_UNTRUSTED_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, RX_UNTRUSTED_MATCH_LIMIT / 10);
        pcre2_set_heap_limit(mc, 4096); /* KiB */
    }
    return mc;
}

int rx_match(const void *re, const char *s, bool untrusted)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    pcre2_match_context *mc = untrusted ? limits() : NULL;
    int rc = -1;
    if (md && (mc || !untrusted)) {
        rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, mc);
        rc = rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc;
}

void rx_free(void *re)
{
    pcre2_code_free(re);
}
