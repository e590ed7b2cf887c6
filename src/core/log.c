#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The logger is the one piece of process-wide state outside the daemon
 * context: libbpf's print callback (events/bpf_events.c) carries no user
 * pointer, so the level it needs must be reachable from anywhere. An
 * atomic. No libbpf here: the lean entry (src/main_lean.c) links this. */
static _Atomic int min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i <= LOG_ERROR; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    if (strcmp(name, "warning") == 0)
        return LOG_WARN;
    return -1;
}

const char *log_level_name(enum log_level level)
{
    if ((int)level < 0 || level > LOG_ERROR)
        return "unknown";
    return level_names[level];
}

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, level);
}

/* Appends s to buf as the inside of a logfmt quoted value. */
static size_t quote_into(char *buf, size_t pos, size_t cap, const char *s)
{
    for (; *s && pos + 3 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c == '\n') {
            buf[pos++] = '\\';
            buf[pos++] = 'n';
        } else if (c == '\t' || c == '\r') {
            buf[pos++] = ' ';
        } else if (c < 0x20) {
            buf[pos++] = '?';
        } else {
            buf[pos++] = (char)c;
        }
    }
    return pos;
}

void log_vwrite(enum log_level level, const char *module, const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&min_level))
        return;

    char msg[3072];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* libbpf lines end in '\n'; one event must stay one line */
    size_t ml = strlen(msg);
    while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
        msg[--ml] = '\0';

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    char line[4096];
    size_t pos = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos, ".%03ldZ level=%s module=%s msg=\"",
                            ts.tv_nsec / 1000000, log_level_name(level), module ? module : "-");
    pos = quote_into(line, pos, sizeof(line) - 2, msg);
    line[pos++] = '"';
    line[pos++] = '\n';

    ssize_t unused = write(STDERR_FILENO, line, pos);
    (void)unused;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}
