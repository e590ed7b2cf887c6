/* targets: which processes are watched, service names, exclusions, limits;
 * with real processes started under a fake argv[0]. */
#include "harness.h"
#include "policy/targets.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/log.h"

/* "a\0b\0c\0" from a space-separated literal */
static const char *guess(const char *cmd, const char *comm)
{
    static char out[128];
    char a[512];
    size_t n = t_argv(cmd, a, sizeof(a));
    return targets_guess_service(a, n, comm, out, sizeof(out));
}

static int excluded(const char *cmd, const char *comm)
{
    char a[512];
    size_t n = t_argv(cmd, a, sizeof(a));
    return targets_is_excluded(a, n, comm, 1);
}

static void count_added(struct target *tg, void *arg)
{
    (void)tg;
    (*(int *)arg)++;
}

TEST(service_from_jar_or_main_class)
{
    CHECK_STREQ(guess("java -Xmx1g -jar /srv/user-service.jar --port 8080", "java"),
                "user-service");
    CHECK_STREQ(guess("/usr/bin/java -cp /a:/b com.example.shop.OrderApp arg", "java"), "OrderApp");
    CHECK_STREQ(guess("java --module-path mods -m shop.app/com.ex.Main", "java"), "Main");
    CHECK_STREQ(guess("java -classpath x.jar Burner", "java"), "Burner");
    CHECK_STREQ(guess("java -version", "java"), "java");
    /* the launcher's rules (jvmopts): -jar takes no value, --module=, source files */
    CHECK_STREQ(guess("java -jar -Xmx1g /srv/billing.jar", "java"), "billing");
    CHECK_STREQ(guess("java --module=shop.app/com.ex.Main", "java"), "Main");
    CHECK_STREQ(guess("java -Dx=1 /app/Hello.java", "java"), "Hello");
    CHECK_STREQ(guess("java --add-opens java.base/java.lang=ALL-UNNAMED com.ex.Api", "java"),
                "Api");
}

TEST(jdk_tools_are_never_targets)
{
    CHECK_EQ(excluded("/usr/lib/jvm/java-17-openjdk-amd64/bin/jcmd 42 Thread.print", "jcmd"), 1);
    CHECK_EQ(excluded("jps -l", "jps"), 1);
    CHECK_EQ(excluded("java -m jdk.jcmd/sun.tools.jcmd.JCmd 42 VM.version", "java"), 1);
    CHECK_EQ(excluded("java -cp x sun.jvm.hotspot.SALauncher", "java"), 1);
    CHECK_EQ(excluded("java -jar app.jar", "java"), 0);
    char a[64];
    size_t n = t_argv("java -jar app.jar", a, sizeof(a));
    CHECK_EQ(targets_is_excluded(a, n, "java", getpid()), 1); /* our own child */
}

/* A copy of sleep(1) installed under the name the test wants: the daemon
 * knows a JVM by its executable's name (or libjvm.so), and /proc/<pid>/exe
 * resolves symbolic links, so only a copy carries the name. */
static const char *tool_copy(const char *name)
{
    static char dir[64];
    static char path[128];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fs-targets-XXXXXX");
        if (!mkdtemp(dir))
            return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s' 2>/dev/null || true", path);
    return system(cmd) == 0 ? path : NULL;
}

__attribute__((destructor)) static void remove_tool_copies(void)
{
    const char *any = tool_copy("x");
    char cmd[200];
    if (!any)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf \"$(dirname '%s')\"", any);
    if (system(cmd) != 0)
        return;
}

/* Double fork: our own children are excluded from targets by design, so
 * the test process must not be the parent. argv0 names the executable too
 * (a copy of sleep). Returns the grandchild's pid. */
static pid_t spawn_as(const char *argv0)
{
    const char *exe = argv0[0] == '/' ? NULL : tool_copy(argv0);
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t mid = fork();
    if (mid == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            close(p[1]);
            if (exe)
                execl(exe, argv0, "30", (char *)NULL);
            execlp("sleep", argv0, "30", (char *)NULL);
            _exit(127);
        }
        ssize_t unused = write(p[1], &pid, sizeof(pid));
        (void)unused;
        _exit(0);
    }
    pid_t pid = -1;
    close(p[1]);
    if (read(p[0], &pid, sizeof(pid)) != sizeof(pid))
        pid = -1;
    close(p[0]);
    waitpid(mid, NULL, 0);
    usleep(100000); /* until the exec has happened */
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
        usleep(10000); /* reparented: init reaps it */
}

TEST(matching_process_becomes_a_target_with_limits)
{
    struct config cfg;
    struct config_error err;
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0); /* the default rule */
    struct targets *t = targets_new(&cfg, NULL, NULL);
    pid_t java = spawn_as("java"), tool = spawn_as("jcmd"), other = spawn_as("python3");
    struct target *tg = NULL;
    CHECK_EQ(targets_consider(t, java, &tg), 1);
    CHECK_EQ(targets_consider(t, java, NULL), 0); /* already known */
    CHECK_EQ(targets_consider(t, tool, NULL), 0);
    CHECK_EQ(targets_consider(t, other, NULL), 0);
    CHECK_EQ(targets_count(t), 1);
    CHECK_EQ(tg->id.pid, java);
    CHECK_STREQ(tg->cmdline, "java 30");
    CHECK(tg->limits.mem_bytes > 0);
    CHECK(tg->limits.mem_source == LIMIT_HOST || tg->limits.mem_source == LIMIT_CGROUP);
    cJSON *j = targets_json(t, 1000);
    char *s = cJSON_PrintUnformatted(j);
    CHECK_CONTAINS(s, "\"process_name\":\"java\"");
    free(s);
    cJSON_Delete(j);
    CHECK_EQ(targets_remove(t, java), 1);
    CHECK_EQ(targets_count(t), 0);
    reap(java);
    reap(tool);
    reap(other);
    CHECK_EQ(targets_consider(t, java, NULL), -ESRCH);
    targets_free(t);
    config_free(&cfg);
}

TEST(overrides_win_over_cgroup_limits)
{
    struct config cfg;
    struct config_error err;
    setenv("FLAMESHOT_POD_MEM_LIMIT", "512", 1);
    setenv("FLAMESHOT_POD_CPU_LIMIT", "250m", 1);
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0);
    unsetenv("FLAMESHOT_POD_MEM_LIMIT");
    unsetenv("FLAMESHOT_POD_CPU_LIMIT");
    struct targets *t = targets_new(&cfg, NULL, NULL);
    pid_t java = spawn_as("java");
    struct target *tg = NULL;
    CHECK_EQ(targets_consider(t, java, &tg), 1);
    CHECK_EQ(tg->limits.mem_bytes, 512ull << 20);
    CHECK_EQ(tg->limits.mem_source, LIMIT_OVERRIDE);
    CHECK_EQ(tg->limits.cpu_millis, 250);
    reap(java);
    targets_free(t);
    config_free(&cfg);
}

TEST(startup_scan_finds_existing_targets)
{
    struct config cfg;
    struct config_error err;
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0);
    pid_t a = spawn_as("java"), b = spawn_as("java");
    struct targets *t = targets_new(&cfg, NULL, NULL);
    CHECK(targets_scan(t) >= 2);
    CHECK(targets_find(t, a) != NULL);
    CHECK(targets_find(t, b) != NULL);
    reap(a);
    reap(b);
    targets_free(t);
    config_free(&cfg);
}

TEST(a_matching_non_jvm_waits_as_a_candidate_then_is_dropped)
{
    struct config cfg;
    struct config_error err;
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0);
    struct targets *t = targets_new(&cfg, NULL, NULL);
    pid_t wrapper = spawn_as("/opt/jdk/bin/java"); /* argv[0] says java, exe is sleep */
    CHECK_EQ(targets_consider(t, wrapper, NULL), 0);
    CHECK_EQ(targets_count(t), 0);
    CHECK_EQ(targets_candidates(t), 1);
    int added = 0;
    targets_probe(t);
    targets_recheck(t, units_now_mono_ms(), count_added, &added);
    CHECK_EQ(targets_candidates(t), 1); /* still within its time */
    targets_probe(t);
    targets_recheck(t, units_now_mono_ms() + TARGETS_CANDIDATE_MS + 1, count_added, &added);
    CHECK_EQ(added, 0);
    CHECK_EQ(targets_candidates(t), 0); /* never loaded libjvm.so: dropped */
    reap(wrapper);
    targets_free(t);
    config_free(&cfg);
}

TEST(a_candidate_is_added_once_the_probe_sees_libjvm_mapped)
{
    struct config cfg;
    struct config_error err;
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0);
    struct targets *t = targets_new(&cfg, NULL, NULL);
    /* a custom launcher: not called java, with a library named libjvm.so
     * (a copy of libc's libm) loaded into it */
    const char *lib = tool_copy("libjvm.so");
    CHECK(lib != NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "cp \"$(ldd /bin/sleep | awk '/libc.so/ {print $3}')\" '%s'", lib);
    CHECK_EQ(system(cmd), 0);
    setenv("LD_PRELOAD", lib, 1);
    pid_t launcher = spawn_as("/opt/app/bin/java");
    unsetenv("LD_PRELOAD");
    CHECK_EQ(targets_consider(t, launcher, NULL), 0); /* no maps read here */
    CHECK_EQ(targets_candidates(t), 1);
    int added = 0;
    targets_recheck(t, units_now_mono_ms(), count_added, &added);
    CHECK_EQ(added, 0); /* not probed yet: nothing decided on the loop */
    targets_probe(t);
    targets_recheck(t, units_now_mono_ms(), count_added, &added);
    CHECK_EQ(added, 1);
    CHECK(targets_find(t, launcher) != NULL);
    CHECK_EQ(targets_candidates(t), 0);
    reap(launcher);
    targets_free(t);
    config_free(&cfg);
}

/* Runs the logger into a file while fn runs; returns what it wrote. */
static const char *logged(void (*fn)(void *), void *arg)
{
    t_stderr_begin();
    fn(arg);
    return t_stderr_end();
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

struct refresh_arg {
    struct targets *t;
    pid_t pid;
    struct target *tg;
};

static void consider_then_refresh(void *arg)
{
    struct refresh_arg *a = arg;
    if (targets_consider(a->t, a->pid, &a->tg) != 1)
        return;
    targets_refresh_limits(a->t, a->tg); /* the monitor's periodic refresh */
    targets_refresh_limits(a->t, a->tg);
}

/* cpu_usage_percent 320 where CPU reads as a percentage of a quota (here
 * FLAMESHOT_POD_CPU_LIMIT = every core of the host, so at most 100): never
 * fires, so it is said once; /v1/targets shows the base and its ceiling. */
TEST(a_rule_the_limits_make_unreachable_is_warned_once)
{
    struct config cfg;
    struct config_error err;
    char limit[32];
    snprintf(limit, sizeof(limit), "%dm", procfs_ncpus() * 1000);
    setenv("FLAMESHOT_POD_CPU_LIMIT", limit, 1);
    setenv("FLAMESHOT_PROCESSES", "[{\"command\":\"^java\",\"cpu_usage_percent\":320}]", 1);
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0);
    unsetenv("FLAMESHOT_POD_CPU_LIMIT");
    unsetenv("FLAMESHOT_PROCESSES");
    struct refresh_arg a = {.t = targets_new(&cfg, NULL, NULL), .pid = spawn_as("java")};
    const char *log = logged(consider_then_refresh, &a);
    CHECK(a.tg != NULL);
    CHECK_EQ(count(log, "module=targets"), 1);
    CHECK_CONTAINS(log, "FLAMESHOT_PROCESSES[0].cpu_usage_percent: 320 is above 100, the most CPU "
                        "can read: it can never fire (CPU in percent of its CPU quota)");
    cJSON *j = target_json(a.tg, 1000), *lim = cJSON_GetObjectItem(j, "limits");
    CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(lim, "cpu_base")), "quota");
    double max = cJSON_GetNumberValue(cJSON_GetObjectItem(lim, "cpu_max_percent"));
    CHECK_MSG(max > 0 && max <= 100, "cpu_max_percent %g", max); /* < 100 under a real quota */
    cJSON_Delete(j);
    reap(a.pid);
    targets_free(a.t);
    config_free(&cfg);
}

/* Without a quota CPU is a percentage of one core, up to cores x 100. */
TEST(without_a_quota_cpu_is_percent_of_one_core)
{
    struct config cfg;
    struct config_error err;
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0);
    struct targets *t = targets_new(&cfg, NULL, NULL);
    pid_t java = spawn_as("java");
    struct target *tg = NULL;
    CHECK_EQ(targets_consider(t, java, &tg), 1);
    cJSON *j = target_json(tg, 1000), *lim = cJSON_GetObjectItem(j, "limits");
    const char *base = cJSON_GetStringValue(cJSON_GetObjectItem(lim, "cpu_base"));
    double max = cJSON_GetNumberValue(cJSON_GetObjectItem(lim, "cpu_max_percent"));
    if (tg->limits.cpu_source == LIMIT_NONE) { /* the test runs in a cgroup without a quota */
        CHECK_STREQ(base, "cores");
        CHECK_EQ((int)max, procfs_ncpus() * 100);
    } else {
        CHECK_STREQ(base, "quota");
        CHECK(max > 0 && max <= 100);
    }
    cJSON_Delete(j);
    reap(java);
    targets_free(t);
    config_free(&cfg);
}

/* ---- a /proc tree the test writes, for the rescan after lost events ---- */

struct fakeproc {
    char dir[64], proc[96];
};

static int put_file(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -errno;
    size_t n = fwrite(text, 1, len, fp);
    return fclose(fp) == 0 && n == len ? 0 : -EIO;
}

/* <proc>/<pid>/{stat,status,cmdline,exe}; cmd space-separated, exe the
 * program's path (a java launcher or not) */
static int fp_proc(struct fakeproc *f, int pid, unsigned long long start, const char *cmd,
                   const char *exe)
{
    char d[160], p[200], text[512], argv[256];
    const char *comm = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    snprintf(d, sizeof(d), "%s/%d", f->proc, pid);
    mkdir(d, 0755);
    snprintf(text, sizeof(text), "%d (%s) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 100 0\n",
             pid, comm, start);
    snprintf(p, sizeof(p), "%s/stat", d);
    int rc = put_file(p, text, strlen(text));
    snprintf(text, sizeof(text),
             "Name:\t%s\nTgid:\t%d\nPid:\t%d\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\n",
             comm, pid, pid);
    snprintf(p, sizeof(p), "%s/status", d);
    rc = rc ?: put_file(p, text, strlen(text));
    snprintf(p, sizeof(p), "%s/cmdline", d);
    rc = rc ?: put_file(p, argv, t_argv(cmd, argv, sizeof(argv)));
    snprintf(p, sizeof(p), "%s/exe", d);
    unlink(p);
    return rc ?: (symlink(exe, p) < 0 ? -errno : 0);
}

static void fp_gone(struct fakeproc *f, int pid)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/%d'", f->proc, pid);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s/%d\n", f->proc, pid);
}

static int fp_init(struct fakeproc *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/fs-targets-proc.XXXXXX");
    if (!mkdtemp(f->dir))
        return -errno;
    snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
    char p[128];
    if (mkdir(f->proc, 0755) < 0)
        return -errno;
    snprintf(p, sizeof(p), "%s/meminfo", f->proc);
    int rc = put_file(p, "MemTotal: 8000000 kB\n", 21);
    snprintf(p, sizeof(p), "%s/uptime", f->proc);
    return rc ?: put_file(p, "1000.00 900.00\n", 15);
}

static void fp_done(struct fakeproc *f)
{
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", f->dir);
}

struct resync_seen {
    struct targets *t;
    int added, gone;
    int gone_pids[8];
};

static void resync_added(struct target *tg, void *arg)
{
    (void)tg;
    ((struct resync_seen *)arg)->added++;
}

static void resync_gone(int pid, void *arg)
{
    struct resync_seen *s = arg;
    if (s->gone < 8)
        s->gone_pids[s->gone] = pid;
    s->gone++;
    targets_remove(s->t, pid);
}

static bool gone_has(const struct resync_seen *s, int pid)
{
    for (int i = 0; i < s->gone && i < 8; i++)
        if (s->gone_pids[i] == pid)
            return true;
    return false;
}

#define JAVA "/usr/lib/jvm/bin/java"

/* Events lost in a full ring: an exit (200), an exec of another program
 * (300), a new JVM (400), a pid reused by the same program (500: only its
 * start time tells). The rescan
 * brings the table back to what /proc says, and a second one finds
 * nothing more to do. */
TEST(a_resync_adds_lost_execs_and_drops_lost_exits)
{
    struct fakeproc f;
    struct config cfg;
    struct config_error err;
    CHECK_EQ(fp_init(&f), 0);
    CHECK_EQ(config_load(&cfg, NULL, NULL, &err), 0); /* the default rule: java */
    CHECK_EQ(fp_proc(&f, 100, 50, "/bin/sh -c x", "/bin/sh"), 0);
    CHECK_EQ(fp_proc(&f, 200, 60, "java -cp /a A", JAVA), 0);
    CHECK_EQ(fp_proc(&f, 300, 70, "java -cp /b B", JAVA), 0);
    CHECK_EQ(fp_proc(&f, 500, 80, "java -cp /e E", JAVA), 0);
    struct targets *t = targets_new(&cfg, f.proc, f.dir);
    CHECK_EQ(targets_scan(t), 3);

    fp_gone(&f, 200);
    CHECK_EQ(fp_proc(&f, 300, 70, "python3 /srv/b.py", "/usr/bin/python3"), 0);
    CHECK_EQ(fp_proc(&f, 400, 90, "java -jar /srv/d.jar", JAVA), 0);
    fp_gone(&f, 500);
    CHECK_EQ(fp_proc(&f, 500, 95, "java -cp /e E", JAVA), 0); /* the same command line */
    struct resync_seen seen = {.t = t};
    struct targets_resync r;
    CHECK_EQ(targets_resync(t, resync_added, resync_gone, &seen, &r), 0);
    CHECK_EQ(r.gone, 3);
    CHECK_EQ(seen.gone, 3);
    CHECK(gone_has(&seen, 200) && gone_has(&seen, 300) && gone_has(&seen, 500));
    CHECK_EQ(r.found, 2);
    CHECK_EQ(seen.added, 2);
    CHECK_EQ(targets_count(t), 2);
    CHECK(targets_find(t, 200) == NULL && targets_find(t, 300) == NULL);
    CHECK(targets_find(t, 400) != NULL);
    CHECK_STREQ(targets_find(t, 400)->service, "d");
    CHECK(targets_find(t, 500) != NULL);
    CHECK_EQ(targets_find(t, 500)->id.start_time, 95);
    CHECK_STREQ(targets_find(t, 500)->service, "E");

    seen = (struct resync_seen){.t = t};
    CHECK_EQ(targets_resync(t, resync_added, resync_gone, &seen, &r), 0);
    CHECK_EQ(r.found, 0);
    CHECK_EQ(r.gone, 0);
    CHECK_EQ(targets_count(t), 2);

    /* /proc unreadable: the error, and the targets it cannot see are gone */
    fp_done(&f);
    seen = (struct resync_seen){.t = t};
    CHECK(targets_resync(t, resync_added, resync_gone, &seen, &r) < 0);
    CHECK_EQ(r.gone, 2);
    CHECK_EQ(targets_count(t), 0);
    targets_free(t);
    config_free(&cfg);
}

TEST_MAIN(service_from_jar_or_main_class, a_resync_adds_lost_execs_and_drops_lost_exits,
          a_candidate_is_added_once_the_probe_sees_libjvm_mapped,
          a_matching_non_jvm_waits_as_a_candidate_then_is_dropped, jdk_tools_are_never_targets,
          matching_process_becomes_a_target_with_limits, overrides_win_over_cgroup_limits,
          startup_scan_finds_existing_targets, a_rule_the_limits_make_unreachable_is_warned_once,
          without_a_quota_cpu_is_percent_of_one_core)
