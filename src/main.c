/* flameshotd: command-line entry. Only parses the command and wires
 * modules together; every decision lives in a module. */
#include "capture/cli_jcmd.h"
#include "core/config.h"
#include "daemon.h"
#include "core/log.h"
#include "core/version.h"
#include "flame/cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out, "usage: flameshotd [--check-config | --version | --help]\n"
                 "       flameshotd jcmd <pid> <command> [arguments...]\n"
                 "       flameshotd flamegraph IN -o OUT [options]   (--help for them)\n"
                 "\n"
                 "Node-level profiling agent for Java workloads. Configured entirely through\n"
                 "FLAMESHOT_* environment variables (see README.md). Without any, it watches\n"
                 "every Java process of this host and keeps results under /var/lib/flameshot.\n"
                 "\n"
                 "  --check-config  validate the configuration, print it as JSON, exit 0 or 2\n"
                 "  --version       print the version\n"
                 "  jcmd            run a diagnostic command in a JVM through the HotSpot attach\n"
                 "                  protocol, as the JDK's jcmd does, without needing a JDK\n"
                 "  flamegraph      render a JFR or collapsed stacks as a flame graph, heat map\n"
                 "                  or diff (HTML), or as collapsed text; starts no daemon\n");
}

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
    log_route_libbpf();
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("flameshotd %s (%s)\n", FS_VERSION, FS_GIT_REV);
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
        usage(stderr);
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
