/* fuzz_units: the values people type into variables (core/units.h):
 * durations parse to 0, -EINVAL or -ERANGE with a reason; a parsed duration
 * is the sum of its groups parsed alone (never wrapped past 2^64 ms) and
 * formats to text that parses back to the same milliseconds; booleans and
 * integers return their documented codes, an integer within its bound. */
#include "core/units.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>

/* The groups of s ("1m30s": "1m", "30s") parsed one by one and summed:
 * -1 when one does not parse alone, 1 when the sum passes 2^64, else 0. */
static int by_groups(const char *s, uint64_t *sum)
{
    *sum = 0;
    while (*s) {
        size_t n = strspn(s, "0123456789");
        n += strspn(s + n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        uint64_t ms;
        char *group = n ? strndup(s, n) : NULL; /* leading zeros make it long */
        if (!group)
            return -1;
        int rc = units_parse_duration(group, &ms, NULL);
        free(group);
        if (rc < 0)
            return -1;
        if (__builtin_add_overflow(*sum, ms, sum))
            return 1;
        s += n;
    }
    return 0;
}

static void duration(const char *s)
{
    uint64_t ms = 0, back = 0;
    const char *why = NULL;
    int rc = units_parse_duration(s, &ms, &why);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (rc) {
        FUZZ_CHECK(why && why[0]);
        return;
    }
    uint64_t sum;
    FUZZ_CHECK(by_groups(s, &sum) == 0 && sum == ms); /* no group lost, no sum wrapped */
    char buf[64];
    units_format_duration(ms, buf, sizeof(buf));
    FUZZ_TERMINATED(buf);
    FUZZ_CHECK(units_parse_duration(buf, &back, &why) == 0 && back == ms);
}

static void integer(const char *s, uint64_t max)
{
    uint64_t v = 0, back = 0;
    int rc = units_parse_u64(s, max, &v);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (rc)
        return;
    FUZZ_CHECK(v <= max);
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    FUZZ_CHECK(units_parse_u64(buf, max, &back) == 0 && back == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    duration(s);
    integer(s, UINT64_MAX);
    integer(s, 65535);
    bool b;
    int rc = units_parse_bool(s, &b);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    free(s);
    return 0;
}
