/* log: the one logger. logfmt lines on stderr:
 *   ts=2026-11-21T16:22:00.123Z level=info module=config msg="..."
 * Every line carries a level and the module tag of its caller. Thread-safe;
 * one write(2) per line so lines from threads and forked children never
 * interleave. libbpf's own output is routed here by events/bpf_events.c. */
#ifndef FS_LOG_H
#define FS_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Parses "debug|info|warn|error" (case-sensitive, "warning" accepted).
 * Returns the level, or -1 if the name is unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* Sets the minimum level printed (default LOG_INFO). */
void log_set_level(enum log_level level);

void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(enum log_level level, const char *module, const char *fmt, va_list ap);

#define log_debug(mod, ...) log_write(LOG_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_write(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_write(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_write(LOG_ERROR, mod, __VA_ARGS__)

#endif
