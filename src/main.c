/* flameshotd, the full program (build/libexec/flameshot/flameshotd): every
 * command, the daemon included; the lean entry (main_lean.c, core/entry.h)
 * execs it for all but --help, --version and jcmd. Only parses the command
 * and wires modules together; every decision lives in a module. */
#include "capture/cli_jcmd.h"
#include "core/config.h"
#include "core/entry.h"
#include "daemon.h"
#include "core/log.h"
#include "flame/cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void report_unknown(const char *name, const char *near, void *arg)
{
    (void)arg;
    if (near && near[0] == '(')
        log_warn("config", "%s is ignored %s", name, near);
    else if (near)
        log_warn("config", "unknown variable %s ignored (did you mean %s?)", name, near);
    else
        log_warn("config", "unknown variable %s ignored", name);
}

/* Exit status 2 on a configuration error, as --check-config documents. */
static int load_config(struct config *cfg)
{
    struct config_error err;
    int rc = config_load(cfg, NULL, NULL, &err);
    if (rc < 0) {
        log_error("config", "%s: %s", err.path, err.reason);
        return 2;
    }
    log_set_level((enum log_level)cfg->log_level);
    config_check_unknown(environ, report_unknown, NULL);
    return 0;
}

static int check_config(void)
{
    struct config cfg;
    int rc = load_config(&cfg);
    if (rc)
        return rc;
    cJSON *j = config_to_json(&cfg);
    char *s = j ? cJSON_Print(j) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
    config_free(&cfg);
    return s ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        entry_usage(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        entry_version(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--check-config") == 0)
        return check_config();
    if (argc > 1 && strcmp(argv[1], "jcmd") == 0)
        return cli_jcmd_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "flamegraph") == 0)
        return flame_cli_main(argc - 1, argv + 1);
    if (argc > 1) {
        fprintf(stderr, "flameshotd: unknown argument '%s'\n", argv[1]);
        entry_usage(stderr);
        return 2;
    }
    struct config cfg;
    int rc = load_config(&cfg);
    if (rc)
        return rc;
    rc = daemon_run(&cfg);
    config_free(&cfg);
    return rc;
}
