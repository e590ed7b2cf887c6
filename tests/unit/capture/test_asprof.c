/* asprof: Flameshot event names -> async-profiler agent options, the
 * start/stop option strings, and the version embedded in a library. */
#include "capture/asprof.h"
#include "harness.h"
#include "core/rules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *map(unsigned mask, int major, char *note)
{
    static char buf[256];
    if (asprof_event_options(mask, major, buf, sizeof(buf), note, 256) < 0)
        return "(overflow)";
    return buf;
}

/* Through the rules parser, as a rule's "events" string arrives. */
static const char *map_str(const char *events, int major)
{
    unsigned mask = 0;
    const char *why = NULL;
    if (prof_events_parse(events, &mask, &why, NULL, 0) < 0)
        return why;
    char note[256];
    return map(mask, major, note);
}

TEST(single_events)
{
    char note[256];
    CHECK_STREQ(map(PROF_EV_CPU, 3, note), "event=cpu");
    CHECK_STREQ(note, "");
    CHECK_STREQ(map(PROF_EV_ITIMER, 3, note), "event=itimer");
    CHECK_STREQ(map(PROF_EV_CACHE_MISSES, 3, note), "event=cache-misses");
    CHECK_STREQ(map(PROF_EV_WALL, 3, note), "event=wall");
    CHECK_STREQ(map(PROF_EV_ALLOC, 3, note), "alloc=512k");
    CHECK_STREQ(map(PROF_EV_LOCK, 3, note), "lock=10us");
    CHECK_STREQ(map(PROF_EV_NATIVEMEM, 3, note), "nativemem");
}

/* async-profiler has no "cs": it would be taken as a symbol to trace */
TEST(cs_is_context_switches)
{
    char note[256];
    CHECK_STREQ(map(PROF_EV_CS, 3, note), "event=context-switches");
    CHECK_STREQ(map_str("cs", 3), "event=context-switches");
    CHECK_STREQ(map_str("context-switches", 3), "event=context-switches");
    CHECK(strstr(map_str("cpu,cs,alloc", 3), "event=cs") == NULL);
}

TEST(default_is_cpu)
{
    char note[256];
    CHECK_STREQ(map(0, 3, note), "event=cpu");
    CHECK_STREQ(map(PROF_EV_DEFAULT, 0, note), "event=cpu");
}

TEST(several_events_for_jfr)
{
    char note[256];
    CHECK_STREQ(map_str("cpu,alloc", 3), "event=cpu,alloc=512k");
    CHECK_STREQ(map(PROF_EV_CPU | PROF_EV_ALLOC | PROF_EV_LOCK | PROF_EV_WALL, 3, note),
                "event=cpu,wall,alloc=512k,lock=10us");
    CHECK_STREQ(map(PROF_EV_WALL | PROF_EV_ALLOC, 3, note), "event=wall,alloc=512k");
    CHECK_STREQ(map(PROF_EV_CS | PROF_EV_LOCK | PROF_EV_NATIVEMEM, 3, note),
                "event=context-switches,lock=10us,nativemem");
}

TEST(one_sampling_engine_wins)
{
    char note[256];
    CHECK_STREQ(map(PROF_EV_CPU | PROF_EV_ITIMER | PROF_EV_CS, 3, note), "event=cpu");
    CHECK_CONTAINS(note, "dropped itimer");
    CHECK_CONTAINS(note, "dropped cs");
    CHECK_STREQ(map(PROF_EV_CACHE_MISSES | PROF_EV_CS, 3, note), "event=cache-misses");
    CHECK_CONTAINS(note, "dropped cs (only cache-misses");
}

TEST(all_by_version)
{
    char note[256];
    CHECK_STREQ(map(PROF_EV_ALL, 4, note), "all");
    CHECK_STREQ(note, "");
    CHECK_STREQ(map(PROF_EV_ALL, 0, note), "all"); /* unknown version: assume current */
    CHECK_STREQ(map_str("all", 4), "all");
    CHECK_STREQ(map(PROF_EV_ALL | PROF_EV_ITIMER, 4, note), "all,event=itimer");
    CHECK_STREQ(map(PROF_EV_ALL | PROF_EV_ALLOC, 4, note), "all");
    CHECK_STREQ(map(PROF_EV_ALL, 3, note), "event=cpu,wall,alloc=512k,lock=10us");
    CHECK_CONTAINS(note, "async-profiler 3 has no 'all'");
    CHECK_STREQ(map(PROF_EV_ALL | PROF_EV_NATIVEMEM, 2, note),
                "event=cpu,wall,alloc=512k,lock=10us,nativemem");
}

TEST(start_and_stop_options)
{
    char buf[512], note[128];
    CHECK_EQ(asprof_start_options(PROF_EV_CPU | PROF_EV_ALLOC, 3, "/tmp/.flameshot-10001/p.jfr",
                                  "/tmp/.flameshot-10001/a.log", 90, buf, sizeof(buf), note,
                                  sizeof(note)),
             0);
    CHECK_STREQ(buf, "start,event=cpu,alloc=512k,jfr,file=/tmp/.flameshot-10001/p.jfr,"
                     "log=/tmp/.flameshot-10001/a.log,timeout=90");
    CHECK_EQ(asprof_stop_options("/tmp/x/p.jfr", "/tmp/x/a.log", buf, sizeof(buf)), 0);
    CHECK_STREQ(buf, "stop,jfr,file=/tmp/x/p.jfr,log=/tmp/x/a.log");
    CHECK_EQ(asprof_stop_options("/tmp/x/p.jfr", "/tmp/x/a.log", buf, 10), -ENOSPC);
    CHECK_EQ(asprof_start_options(PROF_EV_CPU, 3, "/p.jfr", "/a.log", 1, buf, 20, NULL, 0),
             -ENOSPC);
}

/* Where versions are found: async-profiler 3.x/4.x's launcher text
 * ("Async-profiler 3.0 built on ..."), and what 4.5 really carries: its
 * library's .rodata holds the first 16 bytes of "async-profiler 4.5" glued
 * to the next string (the compiler copies it in pieces), its debug
 * information and its JFR output the whole string, lower case. A version
 * cut off by the end of the data is not taken (it may go on: "4.51"). */
TEST(version_embedded_in_library)
{
    static const struct {
        const char *data;
        size_t len;
        const char *want; /* NULL: -ENOENT */
        int major;
    } cases[] = {
#define BYTES(s) s, sizeof(s)
        {BYTES("\x7f"
               "ELF\0\0garbage\0Async-profiler 3.0 built on Jan 15 2024\n\0more"),
         "3.0", 3},
        {BYTES("x\0Async-profiler \0Async-profiler 4.1-9b2d0e1 built on May 2 2025"), "4.1-9b2d0e1",
         4},
        {BYTES("\0async-profiler 4async-profiler.jfr\0Async-profiler Timer\0"
               "\0async-profiler 4.5\0async-profiler.jfr"),
         "4.5", 4},
        {BYTES("\x03\x12"
               "async-profiler 4.5\x03\x12"
               "async-profiler.jfr"),
         "4.5", 4},
        {BYTES("\0async-profiler 4async-profiler.jfr\0"), NULL, 0},
        {"Async-profiler by Andrei Pangin", 31, NULL, 0},
        {"Async-profiler v2", 17, NULL, 0},
        {"async-profiler 4.5", 18, NULL, 0},
        {"async-profiler 4.5- ", 20, NULL, 0},
#undef BYTES
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char v[64] = "";
        int major = -1;
        int rc = asprof_version_from_bytes(cases[i].data, cases[i].len, v, sizeof(v), &major);
        CHECK_MSG(rc == (cases[i].want ? 0 : -ENOENT), "case %zu: rc %d", i, rc);
        if (cases[i].want)
            CHECK_MSG(strcmp(v, cases[i].want) == 0 && major == cases[i].major,
                      "case %zu: \"%s\" major %d", i, v, major);
    }
}

static void put_at(const char *path, off_t off, const char *s, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    if (ftruncate(fd, size) < 0 || (s && pwrite(fd, s, strlen(s), off) < 0))
        perror(path);
    close(fd);
}

/* Files read, never loaded: the string is found across the scan's chunk
 * boundaries, past 64 MiB nothing is read, and a library without the
 * string (stripped) takes the version of the install's bin/asprof. */
TEST(version_of_a_library_file)
{
    char dir[] = "/tmp/test_asprof_XXXXXX", lib[128], bin[128], v[64];
    int major = -1;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(lib, sizeof(lib), "%s/lib", dir);
    mkdir(lib, 0755);
    snprintf(bin, sizeof(bin), "%s/bin", dir);
    mkdir(bin, 0755);
    snprintf(lib, sizeof(lib), "%s/lib/libasyncProfiler.so", dir);
    snprintf(bin, sizeof(bin), "%s/bin/asprof", dir);
    for (off_t off = (256 << 10) - 24; off < (256 << 10) + 8; off += 5) {
        put_at(lib, off, "async-profiler 4.5\0", (1 << 20));
        CHECK_EQ(asprof_library_version(lib, v, sizeof(v), &major), 0);
        CHECK_STREQ(v, "4.5");
        CHECK_EQ(major, 4);
    }
    put_at(lib, (65 << 20), "async-profiler 4.5\0", (66 << 20)); /* sparse */
    CHECK_EQ(asprof_library_version(lib, v, sizeof(v), &major), -ENOENT);
    CHECK_STREQ(v, "unknown");
    CHECK_EQ(major, 0);
    put_at(bin, 4096, "Async-profiler 4.5 built on Dec  1 2026\n", 8192);
    CHECK_EQ(asprof_library_version(lib, v, sizeof(v), &major), 0);
    CHECK_STREQ(v, "4.5");
    CHECK_EQ(major, 4);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* cs under perf_event_paranoid >= 2 without CAP_PERFMON/CAP_SYS_ADMIN
 * yields an empty profile (async-profiler 4.5, seen in 22_asprof_real):
 * the result says so; nothing is said where samples do come. */
TEST(kernel_note_for_cs)
{
    char note[384] = "";
    asprof_kernel_note(PROF_EV_CS, 2, 0, note, sizeof(note));
    CHECK_CONTAINS(note, "cs: kernel.perf_event_paranoid=2 gives this JVM user-space perf events");
    CHECK_CONTAINS(note, "expect no samples");
    snprintf(note, sizeof(note), "dropped x");
    asprof_kernel_note(PROF_EV_CS | PROF_EV_WALL, 3, 1ull << 20, note, sizeof(note));
    CHECK_CONTAINS(note, "dropped x; cs: kernel.perf_event_paranoid=3");
    note[0] = '\0';
    asprof_kernel_note(PROF_EV_CS, 1, 0, note, sizeof(note));
    asprof_kernel_note(PROF_EV_CS, 2, 1ull << 38, note, sizeof(note));      /* CAP_PERFMON */
    asprof_kernel_note(PROF_EV_CS, 2, 1ull << 21, note, sizeof(note));      /* CAP_SYS_ADMIN */
    asprof_kernel_note(PROF_EV_CS | PROF_EV_CPU, 2, 0, note, sizeof(note)); /* cs dropped */
    asprof_kernel_note(PROF_EV_CPU | PROF_EV_ALLOC, 2, 0, note, sizeof(note));
    CHECK_STREQ(note, "");
    int paranoid = -9;
    uint64_t cap_eff = 1;
    CHECK_EQ(asprof_perf_limits(getpid(), &paranoid, &cap_eff), 0);
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int want = 2;
    if (f) {
        CHECK_EQ(fscanf(f, "%d", &want), 1);
        fclose(f);
    }
    CHECK_EQ(paranoid, want);
    CHECK_EQ(asprof_perf_limits(-1, &paranoid, &cap_eff), -ESRCH);
}

TEST(library_path_of_an_install)
{
    char dir[] = "/tmp/test_asprof_XXXXXX", p[512], buf[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(p, sizeof(p), "%s/lib", dir);
    mkdir(p, 0755);
    int missing = asprof_library_path(dir, buf, sizeof(buf));
    snprintf(p, sizeof(p), "%s/lib/libasyncProfiler.so", dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    int found = asprof_library_path(dir, buf, sizeof(buf));
    int direct = asprof_library_path(p, buf, sizeof(buf));
    unlink(p);
    snprintf(p, sizeof(p), "%s/lib", dir);
    rmdir(p);
    rmdir(dir);
    CHECK_EQ(missing, -ENOENT);
    CHECK_EQ(found, 0);
    CHECK_EQ(direct, 0);
    CHECK_CONTAINS(buf, "/lib/libasyncProfiler.so");
}

TEST_MAIN(single_events, cs_is_context_switches, default_is_cpu, several_events_for_jfr,
          one_sampling_engine_wins, all_by_version, start_and_stop_options,
          version_embedded_in_library, version_of_a_library_file, kernel_note_for_cs,
          library_path_of_an_install)
