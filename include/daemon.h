/* daemon: the one context struct and the agent's main loop. Owns every
 * module instance; main.c builds a config and hands it here. */
#ifndef FS_DAEMON_H
#define FS_DAEMON_H

#include "core/config.h"

/* Runs the agent until SIGTERM/SIGINT. Takes ownership of nothing: cfg must
 * outlive the call. Returns the process exit status (0 on a clean stop). */
int daemon_run(const struct config *cfg);

#endif
