/* fuzz_rules: FLAMESHOT_PROCESSES (core/rules.h), both forms: the whole
 * input as the JSON variable, and its NAME=value lines as the indexed
 * FLAMESHOT_PROCESSES_<i>_<FIELD> variables. 0 with rules whose regex
 * compiled and which print as JSON and match a command line without a
 * matcher error, or -EINVAL with a path and a reason. */
#include "core/rules.h"
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>
#include <errno.h>

static void check(int rc, struct rule_set *set, const struct rule_error *err)
{
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    FUZZ_TERMINATED(err->path);
    FUZZ_TERMINATED(err->reason);
    if (rc) {
        FUZZ_CHECK(rc != -EINVAL || (err->path[0] && err->reason[0]));
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        const struct rule *r = &set->items[i];
        FUZZ_CHECK(r->re && r->command); /* service NULL: named per process */
        FUZZ_CHECK(rule_match(r, "java -jar /app/app.jar --name=a") >= 0);
        cJSON *j = rule_to_json(r);
        FUZZ_CHECK(j);
        cJSON_Delete(j);
        char path[256];
        rule_field_path(r, set->is_indexed, "duration", path, sizeof(path));
        FUZZ_TERMINATED(path);
    }
    (void)rules_find(set, "java -jar /app/app.jar", "app");
    rules_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rule_limits lim = {.service_override = size & 1 ? "svc" : NULL,
                              .short_intervals = size & 2};
    struct rule_set set;
    struct rule_error err = {"", ""};
    char *s = fuzz_str(data, size);
    check(rules_parse(s, &lim, &set, &err), &set, &err);
    free(s);

    struct fuzz_env env;
    fuzz_env_parse(&env, data, size);
    struct rule_error err2 = {"", ""};
    check(rules_parse_indexed(fuzz_getenv, &env, &lim, &set, &err2), &set, &err2);
    free(env.text);
    return 0;
}
