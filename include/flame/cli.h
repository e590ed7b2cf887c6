/* cli: `flameshotd flamegraph`, the offline renderer. Reads a JFR (or
 * collapsed stacks) and writes a flame graph, a heat map, a diff or
 * collapsed text. Never starts the daemon, needs no privilege and touches
 * no BPF: it only reads the files it is given and writes its output.
 *
 *   flameshotd flamegraph IN -o OUT|- [--event cpu|wall|alloc|lock|nativemem]
 *       [--collapsed] [--from T --to T] [--diff BASE] [--heatmap] [--icicle]
 *       [--title S]
 *
 * Exit status: 0 written; 1 an input cannot be read or is not a capture
 * (the reader's message on stderr) or the output cannot be written; 2 a
 * usage error. A truncated JFR renders what is complete, with a warning on
 * stderr. The event shown, when picked rather than given, is said on
 * stderr. */
#ifndef FS_FLAME_CLI_H
#define FS_FLAME_CLI_H

#include <stdio.h>

/* argv[0] is "flamegraph". Returns the exit status. */
int flame_cli_main(int argc, char **argv);

/* The usage text. */
void flame_cli_usage(FILE *out);

#endif
