/* entry: what flameshotd's two programs share. The lean entry
 * (src/main_lean.c, build/flameshotd, /usr/bin/flameshotd) links libc only
 * and runs --help, --version and jcmd itself, so the commands users time
 * do not load libcurl, libmicrohttpd and libbpf; it hands every other
 * command to the full program (src/main.c), which handles them all.
 *
 * The full program lives at <parent of the lean entry's directory>/
 * libexec/flameshot/flameshotd: /usr/bin/flameshotd ->
 * /usr/libexec/flameshot/flameshotd in the image, build/bin/flameshotd
 * (build/flameshotd is a link to it) -> build/libexec/flameshot/flameshotd
 * in the build tree. Same file name: ps and /proc/PID/comm still say
 * flameshotd. */
#ifndef FS_ENTRY_H
#define FS_ENTRY_H

#include <stddef.h>
#include <stdio.h>

#define ENTRY_FULL_REL "libexec/flameshot/flameshotd"

/* Exit status when the full program cannot be run (as a shell's: 127 it
 * is missing, 126 it cannot be executed). */
enum { ENTRY_EXIT_NOEXEC = 126, ENTRY_EXIT_MISSING = 127 };

/* The usage text of `flameshotd --help`. */
void entry_usage(FILE *out);

/* The line `flameshotd --version` prints. */
void entry_version(FILE *out);

/* The full program's path for the lean entry at self_exe (an absolute,
 * resolved path such as /proc/self/exe gives): self_exe's directory's
 * parent + "/" ENTRY_FULL_REL. Returns 0, -EINVAL (not absolute) or
 * -ENAMETOOLONG (does not fit cap). */
int entry_full_path(const char *self_exe, char *out, size_t cap);

/* Replaces this process with the full program, argv and environ
 * unchanged (same PID). Returns only on failure: ENTRY_EXIT_MISSING or
 * ENTRY_EXIT_NOEXEC, after printing on stderr why and which path. */
int entry_exec_full(char **argv);

#endif
