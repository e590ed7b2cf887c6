/* jvmopts: the one reading of a Java process's options, with the rules of
 * the JDK's `java` launcher (libjli args.c and java.c) and of HotSpot's
 * argument parser (arguments.cpp). Every module that asks "which -XX flag
 * is in effect", "what is the main class" or "is this an application
 * argument" asks here.
 *
 * The launcher (JDK 9+), from /proc/<pid>/cmdline:
 * - Options end at the main entry: the first argument without a leading
 *   '-' (the main class, or a source file `Foo.java`; after `-jar` the
 *   jar), or the value of `-m`/`--module <module>[/<class>]`, or
 *   `--module=<m>`. Everything after it belongs to the application and is
 *   never read as a JVM option. There is no `--` terminator: the launcher
 *   hands `--` to the VM, which refuses it, so a running JVM never has one.
 * - `-jar` itself takes no value: options may still follow it, and the
 *   first argument without a '-' is the jar.
 * - White-space options take the next argument as their value, when that
 *   argument does not start with '-': -cp, -classpath, --class-path, -p,
 *   --module-path, --upgrade-module-path, --add-modules,
 *   --enable-native-access, --limit-modules, --add-exports, --add-opens,
 *   --add-reads, --patch-module, -d, --describe-module, --source (and -m,
 *   --module above). `--opt=value` forms are one argument. -splash:<file>,
 *   -D, -X and -XX: options are one argument.
 * - An argument `@file` is replaced by the arguments in file (its own
 *   tokenizer: whitespace, '...' and "..." quotes with \ escapes inside
 *   them, # comments), until the main entry has been found or
 *   `--disable-@files` is seen; `@@x` is the argument `@x`; a lone `@` is
 *   an argument; argfiles do not nest. Values of white-space options are
 *   expanded too (Jib images: `-cp @/app/jib-classpath-file
 *   @/app/jib-main-class-file`). A path is relative to the JVM's cwd.
 * - JDK_JAVA_OPTIONS (environment) is split on whitespace ('...' and "..."
 *   group, no escapes), @files in it expanded, and PREPENDED to the
 *   command line's arguments, only by the `java` launcher itself (argv[0]
 *   named `java`).
 *
 * The VM reads its options in this order, and the LAST setting of a flag
 * wins: JAVA_TOOL_OPTIONS, then the launcher's options (JDK_JAVA_OPTIONS
 * first, then the command line), then _JAVA_OPTIONS. The two environment
 * variables are split like JDK_JAVA_OPTIONS (no @files). A
 * -XX:VMOptionsFile=<file> in any of the three is replaced in place by the
 * options in file (split the same way; not nested). So the command line
 * overrides JAVA_TOOL_OPTIONS, and _JAVA_OPTIONS overrides both. Not read:
 * -XX:Flags=<file> (read before all the others, so the lowest precedence)
 * and options built into the JDK image (jlink --add-options).
 *
 * Files (@argfiles, VMOptionsFile) are in the container's filesystem: they
 * are read only through the caller's read function (for the capture side,
 * jvm_options in a confined child). Without one, or when a read fails, the
 * file is recorded as unread and `incomplete` is set; after an unread
 * @argfile among the launcher's options the rest of the command line is
 * unknown (it may have held the main class), so nothing after it is taken.
 *
 * Pure: no I/O except through read and in jvmopts_of_pid (/proc only).
 * Not thread-safe per struct; distinct structs are independent. */
#ifndef FS_JVMOPTS_H
#define FS_JVMOPTS_H

#include <stdbool.h>
#include <stddef.h>

enum jvmopts_mode {
    JVMOPTS_NONE = 0, /* no main entry (java -version, or unknown) */
    JVMOPTS_CLASS,    /* main is a class name */
    JVMOPTS_JAR,      /* main is the jar of -jar */
    JVMOPTS_MODULE,   /* main is <module>[/<class>] */
    JVMOPTS_SOURCE,   /* main is a source file (Foo.java, or --source N) */
};

struct jvmopts {
    char **vm; /* the VM's options in the order it reads them (see above) */
    size_t n_vm;
    enum jvmopts_mode mode;
    char *main;       /* the main entry, or NULL */
    bool incomplete;  /* some options could not be read (a file, a cap) */
    size_t n_unread;  /* files that could not be read */
    char unread[256]; /* the first of them, as the JVM names it */
    int unread_err;   /* and why (-errno) */
    size_t cap_vm;    /* private */
};

/* Reads a file named by the options (path as the JVM wrote it). Returns 0
 * with *text malloc'd (the caller frees) and *len, or -errno: the file is
 * then recorded as unread. */
typedef int (*jvmopts_read_fn)(void *ctx, const char *path, char **text, size_t *len);

struct jvmopts_input {
    const char *argv; /* raw NUL-separated /proc/<pid>/cmdline */
    size_t argv_len;
    const char *env; /* raw NUL-separated /proc/<pid>/environ, or NULL */
    size_t env_len;
    jvmopts_read_fn read; /* NULL: no file is read */
    void *ctx;
};

/* Parses in into out (jvmopts_free it, whatever the result). Returns 0,
 * -EINVAL for an empty argv, -ENOMEM. */
int jvmopts_parse(const struct jvmopts_input *in, struct jvmopts *out);

void jvmopts_free(struct jvmopts *o);

/* Reads /proc/<pid>/cmdline and /proc/<pid>/environ (each at most 1 MiB;
 * an unreadable environment is left out) and parses them with read/ctx.
 * proc_root NULL: /proc. Returns jvmopts_parse's result, -ESRCH when the
 * process is gone, -errno. Blocks only on /proc and on read. */
int jvmopts_of_pid(const char *proc_root, int pid, jvmopts_read_fn read, void *ctx,
                   struct jvmopts *out);

/* The boolean -XX:+Name / -XX:-Name in effect: 1, 0, or -1 when never set
 * (the VM's default applies). */
int jvmopts_flag(const struct jvmopts *o, const char *name);

/* The value of the last -XX:Name=value (or -XX:Name:=value) setting, ""
 * when set empty, NULL when never set. Points into o. */
const char *jvmopts_value(const struct jvmopts *o, const char *name);

#endif
