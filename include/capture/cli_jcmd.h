/* cli_jcmd: `flameshotd jcmd <pid> <command> [arguments...]`, a jcmd that
 * needs no JDK. It prints what the JDK's `jcmd <pid> <command>` prints —
 * "<pid>:" on the first line, then the JVM's output, or "Command executed
 * successfully" when there is none — and, when the JVM reports a failure,
 * the JVM's message on stderr (its lines joined, as jcmd does) with exit
 * status 1, as jcmd does. The arguments after the pid are joined with
 * spaces into one command line, as jcmd does.
 *
 * Exit status: 0 success; 1 the JVM reported a failure; 2 usage or bad
 * FLAMESHOT_JCMD_TIMEOUT; 3 no such process, not a HotSpot JVM (OpenJ9 is
 * reported as unsupported); 4 attach failed (attach disabled, timeout,
 * permission: not root, refused symbolic link), with the reason on stderr.
 * FLAMESHOT_JCMD_TIMEOUT (default 10s) bounds the whole command. */
#ifndef FS_CLI_JCMD_H
#define FS_CLI_JCMD_H

/* argv[0] is "jcmd". Returns the exit status. Blocks for the command. */
int cli_jcmd_main(int argc, char **argv);

#endif
