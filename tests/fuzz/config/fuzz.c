/* fuzz_config: every FLAMESHOT_* variable (core/config.h) from the
 * input's NAME=value lines: config_load returns 0 with a configuration
 * that prints as JSON and takes the same environment as a Pod's overrides,
 * or -EINVAL with "<variable...>: <reason>"; the unknown-variable check
 * reports only FLAMESHOT_ names. */
#include "core/config.h"
#include "core/log.h"
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>
#include <errno.h>

static void unknown(const char *name, const char *near, void *arg)
{
    (void)near;
    (void)arg;
    FUZZ_CHECK(!strncmp(name, "FLAMESHOT_", 10));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        log_set_level(LOG_ERROR); /* a threshold past the host's cores is a warning */
    struct fuzz_env env;
    fuzz_env_parse(&env, data, size);
    struct config cfg;
    struct config_error err = {"", ""};
    int rc = config_load(&cfg, fuzz_getenv, &env, &err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    FUZZ_TERMINATED(err.path);
    FUZZ_TERMINATED(err.reason);
    if (rc == -EINVAL)
        FUZZ_CHECK(!strncmp(err.path, "FLAMESHOT_", 10) && err.reason[0]);
    if (rc == 0) {
        FUZZ_CHECK(cfg.mode == FS_MODE_KUBERNETES || cfg.mode == FS_MODE_STANDALONE);
        FUZZ_CHECK(cfg.rules.n > 0);
        cJSON *j = config_to_json(&cfg);
        FUZZ_CHECK(j);
        cJSON_Delete(j);
        struct config_error oerr = {"", ""};
        rc = config_override(&cfg, fuzz_getenv, &env, &oerr);
        FUZZ_CHECK(rc == 0 || rc == -EINVAL);
        (void)config_namespace_selected(&cfg, "default");
        config_free(&cfg);
    }

    /* envp as the process has it: NAME=value strings */
    char *envp[65];
    char *buf = malloc(size + 64 * 2 + 1), *w = buf;
    FUZZ_CHECK(buf);
    for (size_t i = 0; i < env.n; i++) {
        envp[i] = w;
        w += sprintf(w, "%s=%s", env.names[i], env.values[i]) + 1;
    }
    envp[env.n] = NULL;
    config_check_unknown(envp, unknown, NULL);
    free(buf);
    free(env.text);
    return 0;
}
