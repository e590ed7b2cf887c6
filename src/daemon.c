#include "daemon.h"

#include "fsutil.h"
#include "log.h"
#include "version.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct daemon {
    const struct config *cfg;
    int sigfd;
};

static int block_signals(struct daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* threads created later inherit the mask: only the loop sees signals */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return d->sigfd < 0 ? -errno : 0;
}

static void log_startup(const struct config *cfg)
{
    log_info("daemon", "flameshotd %s starting: mode=%s node=%s rules=%zu%s", FS_VERSION,
             config_mode_name(cfg->mode), cfg->node_name, cfg->rules.n,
             cfg->rules.is_default ? " (default: every Java process)" : "");
    if (cfg->datakit_addr)
        log_info("daemon", "sink: DataKit at %s", cfg->datakit_addr);
    else
        log_info("daemon", "sink: local directory %s/profiles (FLAMESHOT_DATAKIT_ADDR unset)",
                 cfg->profiling_path);
}

int daemon_run(const struct config *cfg)
{
    struct daemon d = {.cfg = cfg, .sigfd = -1};
    int rc = block_signals(&d);
    if (rc < 0) {
        log_error("daemon", "cannot set up signal handling: %s", strerror(-rc));
        return 1;
    }
    rc = fsutil_mkdirs(cfg->profiling_path, 0750);
    if (rc < 0) {
        log_error("daemon", "FLAMESHOT_PROFILING_PATH %s: %s", cfg->profiling_path,
                  strerror(-rc));
        close(d.sigfd);
        return 1;
    }
    log_startup(cfg);
    for (;;) {
        struct pollfd pfd = {.fd = d.sigfd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            break;
        struct signalfd_siginfo si;
        if (read(d.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            log_info("daemon", "received %s, shutting down", strsignal((int)si.ssi_signo));
            break;
        }
    }
    close(d.sigfd);
    log_info("daemon", "stopped");
    return 0;
}
