/* fuzz_tags: "k:v,k:v" lists (core/tags.h) as FLAMESHOT_TAGS, a rule's
 * tags and a Pod's flameshot.io/tags annotation give them: 0 or -EINVAL
 * with the bad item's index and a reason; every parsed key found by
 * tags_get; the list joined for DataKit's tags_profiler parses again with
 * every (sanitized) key present. */
#include "core/tags.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char *k = NULL, *v = NULL;
    const char *why = NULL;
    int rc = tags_parse_item(s, &k, &v, &why);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    FUZZ_CHECK(rc != -EINVAL || (why && why[0]));
    free(k);
    free(v);

    struct tags t = {NULL, 0}, back = {NULL, 0};
    size_t bad = (size_t)-1;
    why = NULL;
    rc = tags_parse_list(s, &t, &bad, &why);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == -EINVAL)
        FUZZ_CHECK(why && why[0] && bad != (size_t)-1);
    if (rc == 0) {
        for (size_t i = 0; i < t.n; i++)
            FUZZ_CHECK(tags_get(&t, t.items[i].key) != NULL);
        char *joined = NULL;
        FUZZ_CHECK(tags_join_profiler(&t, &joined) == 0 && joined);
        FUZZ_CHECK(!strchr(joined, '\n'));
        rc = tags_parse_list(joined, &back, &bad, &why);
        if (rc)
            fprintf(stderr, "joined '%s' does not parse: %s\n", joined, why);
        FUZZ_CHECK(rc == 0);
        for (size_t i = 0; i < t.n; i++) {
            char *key = strdup(t.items[i].key);
            FUZZ_CHECK(key);
            tags_sanitize_key(key);
            FUZZ_CHECK(!key[0] || tags_get(&back, key));
            free(key);
        }
        tags_free(&back);
        free(joined);
    }
    tags_free(&t);
    free(s);
    return 0;
}
