/* tools/soak/nojit.c: preloaded into the agent under valgrind's memcheck
 * (tools/soak/run --agent valgrind). Memcheck cannot follow PCRE2's JIT
 * code: its SIMD loads read whole 16-byte words past a subject's end, and
 * every such match is reported (Addr16, Cond at "???" frames; PCRE2's
 * pcre2jit(3) says the same: JIT code needs a valgrind-aware build). With
 * the JIT refused, the agent's regexes run in PCRE2's interpreter, as
 * src/core/rx.c already allows ("JIT is an optimisation"), and memcheck
 * sees every byte they read. */
#include <stdint.h>

#define PCRE2_ERROR_JIT_BADOPTION (-45)

int pcre2_jit_compile_8(void *code, uint32_t options);

int pcre2_jit_compile_8(void *code, uint32_t options)
{
    (void)code;
    (void)options;
    return PCRE2_ERROR_JIT_BADOPTION;
}
