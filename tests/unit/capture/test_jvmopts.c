/* jvmopts: the java launcher's rules (where options end, which options
 * take a value, @argfiles), HotSpot's order of JAVA_TOOL_OPTIONS, the
 * command line, JDK_JAVA_OPTIONS and _JAVA_OPTIONS, and reading a live
 * process's /proc. */
#include "harness.h"
#include "capture/jvmopts.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Files an argfile or VMOptionsFile may name, as the container holds them. */
struct files {
    const char *path[8];
    const char *text[8];
    int calls;
};

static int files_read(void *ctx, const char *path, char **text, size_t *len)
{
    struct files *f = ctx;
    f->calls++;
    for (int i = 0; i < 8 && f->path[i]; i++)
        if (strcmp(f->path[i], path) == 0) {
            *text = strdup(f->text[i]);
            *len = strlen(f->text[i]);
            return *text ? 0 : -ENOMEM;
        }
    return -ENOENT;
}

/* cmd: arguments separated by spaces; env: "NAME=value" entries separated
 * by '|' (values may hold spaces), or NULL. */
static int parse(const char *cmd, const char *env, struct files *f, struct jvmopts *o)
{
    static char a[2048], e[2048];
    size_t n = t_argv(cmd, a, sizeof(a)), el = 0;
    for (const char *p = env; p && *p && el + 1 < sizeof(e); p++)
        e[el++] = *p == '|' ? '\0' : *p;
    e[el++] = '\0';
    struct jvmopts_input in = {.argv = a,
                               .argv_len = n,
                               .env = env ? e : NULL,
                               .env_len = env ? el : 0,
                               .read = f ? files_read : NULL,
                               .ctx = f};
    return jvmopts_parse(&in, o);
}

#define ATTACH_OFF "DisableAttachMechanism"
#define ON_OOM     "HeapDumpOnOutOfMemoryError"

/* issue 9: options after -cp's value were taken for the application's */
TEST(options_continue_after_a_value_option)
{
    struct jvmopts o;
    CHECK_EQ(parse("java -cp app.jar -XX:+HeapDumpOnOutOfMemoryError Main", NULL, NULL, &o), 0);
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    CHECK_EQ(o.mode, JVMOPTS_CLASS);
    CHECK_STREQ(o.main, "Main");
    CHECK(!o.incomplete);
    jvmopts_free(&o);
}

/* issue 9: an argument to the application is not the JVM's */
TEST(application_arguments_are_never_options)
{
    struct jvmopts o;
    CHECK_EQ(parse("java Main -XX:+DisableAttachMechanism", NULL, NULL, &o), 0);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    CHECK_STREQ(o.main, "Main");
    CHECK_EQ(o.n_vm, 0);
    jvmopts_free(&o);
    parse("java -Xmx1g com.ex.App --port 80 -XX:HeapDumpPath=/x -XX:+HeapDumpOnOutOfMemoryError",
          NULL, NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), -1);
    CHECK(jvmopts_value(&o, "HeapDumpPath") == NULL);
    CHECK_EQ(o.n_vm, 1);
    CHECK_STREQ(o.vm[0], "-Xmx1g");
    jvmopts_free(&o);
}

/* -jar takes no value: options may follow it, the next plain argument is
 * the jar, and what follows the jar is the application's */
TEST(jar_is_the_first_plain_argument_after_jar)
{
    struct jvmopts o;
    parse("java -jar -XX:+HeapDumpOnOutOfMemoryError /srv/app.jar -XX:+DisableAttachMechanism",
          NULL, NULL, &o);
    CHECK_EQ(o.mode, JVMOPTS_JAR);
    CHECK_STREQ(o.main, "/srv/app.jar");
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
}

TEST(module_ends_the_options)
{
    struct jvmopts o;
    parse("java -p mods -m shop.app/com.ex.Main -XX:+DisableAttachMechanism", NULL, NULL, &o);
    CHECK_EQ(o.mode, JVMOPTS_MODULE);
    CHECK_STREQ(o.main, "shop.app/com.ex.Main");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    parse("java --module shop.app -XX:+DisableAttachMechanism", NULL, NULL, &o);
    CHECK_STREQ(o.main, "shop.app");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    parse("java -XX:+DisableAttachMechanism --module=shop.app/x.Y -XX:-DisableAttachMechanism",
          NULL, NULL, &o);
    CHECK_EQ(o.mode, JVMOPTS_MODULE);
    CHECK_STREQ(o.main, "shop.app/x.Y");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 1);
    jvmopts_free(&o);
}

TEST(source_file_mode)
{
    struct jvmopts o;
    parse("java -Xss1m /app/Hello.java -XX:+DisableAttachMechanism", NULL, NULL, &o);
    CHECK_EQ(o.mode, JVMOPTS_SOURCE);
    CHECK_STREQ(o.main, "/app/Hello.java");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    parse("java --source 21 script -XX:+DisableAttachMechanism", NULL, NULL, &o);
    CHECK_EQ(o.mode, JVMOPTS_SOURCE);
    CHECK_STREQ(o.main, "script");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    /* a shebang line `#!/usr/bin/java --source 21` passes one argument */
    static const char shebang[] = "java\0--source 21\0/bin/tool\0-XX:+DisableAttachMechanism";
    struct jvmopts_input in = {.argv = shebang, .argv_len = sizeof(shebang)};
    CHECK_EQ(jvmopts_parse(&in, &o), 0);
    CHECK_EQ(o.mode, JVMOPTS_SOURCE);
    CHECK_STREQ(o.main, "/bin/tool");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
}

/* Every white-space option of java.c takes the next argument as its value
 * (never the main class), unless that argument starts with '-'. */
TEST(white_space_options_take_their_value)
{
    static const char *const opts[] = {
        "-cp",
        "-classpath",
        "--class-path",
        "-p",
        "--module-path",
        "--upgrade-module-path",
        "--add-modules",
        "--enable-native-access",
        "--limit-modules",
        "--add-exports",
        "--add-opens",
        "--add-reads",
        "--patch-module",
        "-d",
        "--describe-module",
        "--source",
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char cmd[256];
        struct jvmopts o;
        snprintf(cmd, sizeof(cmd), "java %s some.value -XX:+HeapDumpOnOutOfMemoryError Main x",
                 opts[i]);
        CHECK_EQ(parse(cmd, NULL, NULL, &o), 0);
        CHECK_MSG(o.main && strcmp(o.main, "Main") == 0, "%s: main %s", opts[i],
                  o.main ? o.main : "(none)");
        CHECK_MSG(jvmopts_flag(&o, ON_OOM) == 1, "%s: the flag after its value is lost", opts[i]);
        jvmopts_free(&o);
    }
    struct jvmopts o;
    parse("java --add-opens=java.base/java.lang=ALL-UNNAMED -splash:/s.png "
          "-XX:+DisableAttachMechanism "
          "Main",
          NULL, NULL, &o);
    CHECK_STREQ(o.main, "Main");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 1);
    jvmopts_free(&o);
    /* an unknown --option does not take a value: the next word is the main class */
    parse("java --enable-preview Main", NULL, NULL, &o);
    CHECK_STREQ(o.main, "Main");
    jvmopts_free(&o);
}

TEST(last_setting_wins_and_values)
{
    struct jvmopts o;
    parse("java -XX:+HeapDumpOnOutOfMemoryError -XX:-HeapDumpOnOutOfMemoryError "
          "-XX:HeapDumpPath=/a -XX:HeapDumpPath:=/b -XX:HeapDumpGzipLevel=1 "
          "-XX:+DisableAttachMechanismX Main",
          NULL, NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 0);
    CHECK_STREQ(jvmopts_value(&o, "HeapDumpPath"), "/b");
    CHECK_STREQ(jvmopts_value(&o, "HeapDumpGzipLevel"), "1");
    CHECK(jvmopts_value(&o, "HeapDump") == NULL);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    /* on the command line quotes are the value's own, as HotSpot takes them */
    parse("java -XX:HeapDumpPath='/q' Main", NULL, NULL, &o);
    CHECK_STREQ(jvmopts_value(&o, "HeapDumpPath"), "'/q'");
    jvmopts_free(&o);
}

/* JAVA_TOOL_OPTIONS first, then the launcher's (JDK_JAVA_OPTIONS prepended
 * to the command line), then _JAVA_OPTIONS: the last setting wins. */
TEST(environment_precedence)
{
    struct jvmopts o;
    parse("java -XX:-DisableAttachMechanism Main", "JAVA_TOOL_OPTIONS=-XX:+DisableAttachMechanism",
          NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 0);
    jvmopts_free(&o);
    parse("java Main", "PATH=/bin|JAVA_TOOL_OPTIONS=-Xmx1g  -XX:+DisableAttachMechanism", NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 1);
    jvmopts_free(&o);
    parse("java -XX:-DisableAttachMechanism Main", "JDK_JAVA_OPTIONS=-XX:+DisableAttachMechanism",
          NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 0); /* prepended: the command line comes after */
    jvmopts_free(&o);
    parse("/opt/jdk/bin/java Main",
          "JDK_JAVA_OPTIONS=-XX:+DisableAttachMechanism|JAVA_TOOL_OPTIONS=-XX:-"
          "DisableAttachMechanism",
          NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 1);
    jvmopts_free(&o);
    parse("java -XX:-DisableAttachMechanism Main", "_JAVA_OPTIONS=-XX:+DisableAttachMechanism",
          NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 1);
    jvmopts_free(&o);
    /* JDK_JAVA_OPTIONS is read by the java launcher only */
    parse("jsvc -cp x Main", "JDK_JAVA_OPTIONS=-XX:+DisableAttachMechanism", NULL, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    /* quotes group in the environment; the first definition is getenv's */
    parse("java Main",
          "JAVA_TOOL_OPTIONS=-XX:HeapDumpPath='/dumps/a b' \"-XX:+HeapDumpOnOutOfMemoryError\"|"
          "JAVA_TOOL_OPTIONS=-XX:-HeapDumpOnOutOfMemoryError",
          NULL, &o);
    CHECK_STREQ(jvmopts_value(&o, "HeapDumpPath"), "/dumps/a b");
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    jvmopts_free(&o);
    /* the order the VM reads them in is kept in the raw list */
    parse("java -Xmx2g Main", "_JAVA_OPTIONS=-Xss1m|JDK_JAVA_OPTIONS=-Xms1g|JAVA_TOOL_OPTIONS=-ea",
          NULL, &o);
    CHECK_EQ(o.n_vm, 4);
    CHECK_STREQ(o.vm[0], "-ea");
    CHECK_STREQ(o.vm[1], "-Xms1g");
    CHECK_STREQ(o.vm[2], "-Xmx2g");
    CHECK_STREQ(o.vm[3], "-Xss1m");
    jvmopts_free(&o);
}

TEST(argfiles_are_expanded_until_the_main_class)
{
    struct files f = {
        .path = {"/app/jib-classpath-file", "/app/jib-main-class-file", "env.opts", "opts"},
        .text = {"/app/resources:/app/classes:/app/libs/*\n", "com.ex.App\n",
                 "-XX:+HeapDumpOnOutOfMemoryError",
                 "-XX:+HeapDumpOnOutOfMemoryError\n# where\n"
                 "-XX:HeapDumpPath=\"/dumps dir\" Main -XX:+DisableAttachMechanism"}};
    struct jvmopts o;
    /* Jib's entrypoint: the value of -cp and the main class come from files */
    parse("java -cp @/app/jib-classpath-file @/app/jib-main-class-file -XX:+DisableAttachMechanism",
          NULL, &f, &o);
    CHECK_EQ(o.mode, JVMOPTS_CLASS);
    CHECK_STREQ(o.main, "com.ex.App");
    CHECK_EQ(o.n_vm, 0);
    CHECK(!o.incomplete);
    jvmopts_free(&o);
    /* options, then the main class and an application argument, from a file
     * in the cwd */
    parse("java @opts -XX:+DisableAttachMechanism", NULL, &f, &o);
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    CHECK_STREQ(jvmopts_value(&o, "HeapDumpPath"), "/dumps dir");
    CHECK_STREQ(o.main, "Main");
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    /* after the main class an @ argument is the application's: never read */
    f.calls = 0;
    parse("java Main @opts", NULL, &f, &o);
    CHECK_EQ(f.calls, 0);
    jvmopts_free(&o);
    /* @@ escapes, --disable-@files stops expansion */
    parse("java @@Main", NULL, &f, &o);
    CHECK_STREQ(o.main, "@Main");
    jvmopts_free(&o);
    parse("java --disable-@files @opts", NULL, &f, &o);
    CHECK_STREQ(o.main, "@opts");
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), -1);
    jvmopts_free(&o);
    /* JDK_JAVA_OPTIONS may name argfiles too */
    parse("java Main", "JDK_JAVA_OPTIONS=-Xmx1g @env.opts", &f, &o);
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    CHECK_STREQ(o.main, "Main");
    jvmopts_free(&o);
}

/* A file that cannot be read is recorded; after an unread @argfile nothing
 * is taken, since it may have held the main class. */
TEST(unreadable_argfile_is_recorded_not_fatal)
{
    struct files f = {0};
    struct jvmopts o;
    CHECK_EQ(parse("java -XX:+HeapDumpOnOutOfMemoryError @/etc/missing -XX:+DisableAttachMechanism "
                   "Main",
                   NULL, &f, &o),
             0);
    CHECK(o.incomplete);
    CHECK_EQ(o.n_unread, 1);
    CHECK_STREQ(o.unread, "/etc/missing");
    CHECK_EQ(o.unread_err, -ENOENT);
    CHECK(o.main == NULL);
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), -1);
    jvmopts_free(&o);
    /* without a reader, no file is read */
    parse("java @opts Main", NULL, NULL, &o);
    CHECK(o.incomplete);
    CHECK_EQ(o.unread_err, -ENOSYS);
    jvmopts_free(&o);
    /* an unread VMOptionsFile leaves the launcher's reading whole */
    parse("java -XX:VMOptionsFile=/vm.opts Main", NULL, &f, &o);
    CHECK(o.incomplete);
    CHECK_STREQ(o.unread, "/vm.opts");
    CHECK_STREQ(o.main, "Main");
    jvmopts_free(&o);
}

/* libjli's argfile tokenizer, with cases from its own self-test */
TEST(argfile_tokenizer_follows_libjli)
{
    struct files f = {
        .path = {"a"},
        .text = {"-Dp=\"c:\\\\java libs\\\\one.jar\" -Da #comment\n'-Db #2' #rest\r\n#line 3\n"
                 "-Dc#dropped\n-Dd \"-Dopen quote \n  -De \"-Dx=a \\\n   b\\tc\" -Df'\"'g Main"}};
    struct jvmopts o;
    parse("java @a", NULL, &f, &o);
    CHECK_EQ(o.n_vm, 8);
    CHECK_STREQ(o.vm[0], "-Dp=c:\\java libs\\one.jar");
    CHECK_STREQ(o.vm[1], "-Da");
    CHECK_STREQ(o.vm[2], "-Db #2");
    CHECK_STREQ(o.vm[3], "-Dd"); /* "-Dc" and its comment are gone */
    CHECK_STREQ(o.vm[4], "-Dopen quote ");
    CHECK_STREQ(o.vm[5], "-De");
    CHECK_STREQ(o.vm[6], "-Dx=a b\tc");
    CHECK_STREQ(o.vm[7], "-Df\"g");
    CHECK_STREQ(o.main, "Main");
    jvmopts_free(&o);
}

TEST(vm_options_file_is_read_in_place)
{
    struct files f = {.path = {"/vm.opts", "rel.opts"},
                      .text = {"-XX:-DisableAttachMechanism -XX:VMOptionsFile=rel.opts",
                               "-XX:+DisableAttachMechanism"}};
    struct jvmopts o;
    parse("java -XX:+DisableAttachMechanism -XX:VMOptionsFile=/vm.opts Main", NULL, &f, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 0); /* in place, and not nested */
    jvmopts_free(&o);
    parse("java -XX:-DisableAttachMechanism Main", "JAVA_TOOL_OPTIONS=-XX:VMOptionsFile=rel.opts",
          &f, &o);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 0); /* the command line still comes after */
    jvmopts_free(&o);
}

TEST(empty_or_cut_argv)
{
    struct jvmopts o;
    struct jvmopts_input in = {.argv = "", .argv_len = 0};
    CHECK_EQ(jvmopts_parse(&in, &o), -EINVAL);
    jvmopts_free(&o);
    static const char cut[] = {'j', 'a', 'v', 'a', 0, '-', 'X', 'X', ':', '+', 'A'};
    in = (struct jvmopts_input){.argv = cut, .argv_len = sizeof(cut)};
    CHECK_EQ(jvmopts_parse(&in, &o), 0);
    CHECK(o.incomplete);
    CHECK_EQ(o.n_vm, 0);
    jvmopts_free(&o);
    parse("java -version", NULL, NULL, &o);
    CHECK_EQ(o.mode, JVMOPTS_NONE);
    CHECK(o.main == NULL);
    jvmopts_free(&o);
}

/* A real process: its argv and its environment from /proc. */
TEST(reads_a_live_process)
{
    int in[2];
    CHECK(pipe(in) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        close(in[1]);
        char *argv[] = {"java", "-c", "read x", "-XX:-DisableAttachMechanism", NULL};
        char *envp[] = {
            "JAVA_TOOL_OPTIONS=-XX:+DisableAttachMechanism -XX:+HeapDumpOnOutOfMemoryError", NULL};
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    close(in[0]);
    struct jvmopts o;
    int rc = -1;
    /* /proc shows the new argv once execve is done */
    for (int i = 0; i < 2000; i++) {
        rc = jvmopts_of_pid(NULL, pid, NULL, NULL, &o);
        if (rc == 0 && o.main && strcmp(o.main, "read x") == 0)
            break;
        jvmopts_free(&o);
        usleep(1000);
    }
    close(in[1]);
    waitpid(pid, NULL, 0);
    CHECK_EQ(rc, 0);
    CHECK_STREQ(o.main, "read x");
    CHECK_EQ(jvmopts_flag(&o, ON_OOM), 1);
    CHECK_EQ(jvmopts_flag(&o, ATTACH_OFF), 1); /* "-XX:-..." is the script's argument */
    jvmopts_free(&o);
    CHECK_EQ(jvmopts_of_pid(NULL, pid, NULL, NULL, &o), -ESRCH);
    jvmopts_free(&o);
}

TEST_MAIN(options_continue_after_a_value_option, application_arguments_are_never_options,
          jar_is_the_first_plain_argument_after_jar, module_ends_the_options, source_file_mode,
          white_space_options_take_their_value, last_setting_wins_and_values,
          environment_precedence, argfiles_are_expanded_until_the_main_class,
          unreadable_argfile_is_recorded_not_fatal, argfile_tokenizer_follows_libjli,
          vm_options_file_is_read_in_place, empty_or_cut_argv, reads_a_live_process)
