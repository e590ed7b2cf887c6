/* The pure parts of an active heap dump: the heap's used size from
 * GC.heap_info as each collector prints it (the dump's size estimate),
 * the JDK that may compress, and the free-space decision that keeps a
 * dump from filling a Pod's ephemeral storage; and a dump that outlasts
 * its timeout (tests/helpers/fake_jvm hang-dump) says which step timed
 * out and leaves nothing behind. */
#include "capture/heapdump.h"
#include "fakejvm.h"
#include "harness.h"

#include <errno.h>
#include <sys/stat.h>

#define K 1024ull

TEST(heap_used_from_every_collector)
{
    static const struct {
        const char *name, *text;
        uint64_t used;
    } cases[] = {
        {"serial",
         " def new generation   total 9792K, used 4353K [0x00000000f0000000, 0x00000000f0aa0000)\n"
         "  eden space 8704K,  50% used [0x00000000f0000000, 0x00000000f0880000)\n"
         "  from space 1088K,   0% used [0x00000000f0880000, 0x00000000f0990000)\n"
         " tenured generation   total 21888K, used 65536K [0x00000000f5550000, "
         "0x00000000f6aa0000)\n"
         "   the space 21888K,   0% used [0x00000000f5550000, 0x00000000f5550000)\n"
         " Metaspace       used 1143K, committed 1344K, reserved 1114112K\n"
         "  class space    used 97K, committed 192K, reserved 1048576K\n",
         (4353 + 65536) * K},
        {"parallel",
         " PSYoungGen      total 76288K, used 3932K [0x000000076ab00000, 0x0000000770000000)\n"
         "  eden space 65536K, 6% used [0x000000076ab00000,0x000000076aed7240,0x000000076eb00000)\n"
         " ParOldGen       total 175104K, used 100K [0x00000006c0000000, 0x00000006cab00000)\n"
         "  object space 175104K, 0% used [0x00000006c0000000,0x00000006c0000000)\n"
         " Metaspace       used 2785K, committed 4480K, reserved 1056768K\n",
         (3932 + 100) * K},
        {"g1",
         " garbage-first heap   total 258048K, used 10240K [0x00000000f0000000, "
         "0x0000000100000000)\n"
         "  region size 1024K, 11 young (11264K), 0 survivors (0K)\n"
         " Metaspace       used 1189K, committed 1344K, reserved 1114112K\n",
         10240 * K},
        {"zgc",
         " ZHeap           used 8M, capacity 32M, max capacity 256M\n"
         " Metaspace       used 1155K, committed 1344K, reserved 1114112K\n",
         8 * K * K},
        {"shenandoah",
         "Shenandoah Heap\n"
         " 262144K max, 262144K soft max, 262144K committed, 17338K used\n"
         " 1024 x 256K regions\n",
         17338 * K},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t b = 0;
        CHECK_MSG(heapdump_parse_heap_used(cases[i].text, &b) == 0, "%s: no figure", cases[i].name);
        CHECK_MSG(b == cases[i].used, "%s: %llu, want %llu", cases[i].name, (unsigned long long)b,
                  (unsigned long long)cases[i].used);
    }
    uint64_t b;
    CHECK_EQ(heapdump_parse_heap_used(" Metaspace       used 1143K, committed 1344K\n", &b),
             -ENOENT);
    CHECK_EQ(heapdump_parse_heap_used("  eden space 8704K,  50% used\n", &b), -ENOENT);
    CHECK_EQ(heapdump_parse_heap_used("", &b), -ENOENT);
}

TEST(gz_from_jdk_15)
{
    CHECK_EQ(heapdump_jdk_major("17.0.15"), 17);
    CHECK_EQ(heapdump_jdk_major("1.8.0_392"), 8);
    CHECK_EQ(heapdump_jdk_major("11.0.2"), 11);
    CHECK_EQ(heapdump_jdk_major("21"), 21);
    CHECK_EQ(heapdump_jdk_major("unknown"), 0);
    CHECK(heapdump_jdk_major("15.0.1") >= HEAPDUMP_GZ_MIN_JDK);
    CHECK(heapdump_jdk_major("14.0.2") < HEAPDUMP_GZ_MIN_JDK);
}

/* The dump, a quarter more for the estimate's error, and the margin: a
 * dump that would leave less is refused before the JVM writes a byte. */
TEST(free_space_decision)
{
    char why[256] = "";
    uint64_t heap = 100ull << 20;
    uint64_t need = heap + heap / 4 + HEAPDUMP_CONTAINER_MARGIN;
    CHECK_EQ(heapdump_space_needed(heap), need);
    CHECK_EQ(heapdump_space_check(heap, need, why, sizeof(why)), 0);
    CHECK_EQ(heapdump_space_check(heap, need + 1, why, sizeof(why)), 0);
    CHECK_EQ(heapdump_space_check(heap, need - 1, why, sizeof(why)), -ENOSPC);
    CHECK_CONTAINS(why, "a heap of 100 MiB needs 189 MiB free");
    CHECK_CONTAINS(why, "188 MiB available");
    /* a 16 MiB tmpfs never takes even a small heap's dump */
    CHECK_EQ(heapdump_space_check(8ull << 20, 16ull << 20, why, sizeof(why)), -ENOSPC);
    CHECK_EQ(heapdump_space_check(0, HEAPDUMP_CONTAINER_MARGIN, why, sizeof(why)), 0);
}

/* The reason carries the attach step's own words: "timed out waiting for
 * the JVM's reply" here, "its queue of connections is full" when the
 * connect itself timed out and no dump began (test_attach). */
TEST(a_dump_past_its_timeout_names_the_step_and_leaves_nothing)
{
    NEED_FAKE_JVM();
    struct fakejvm f;
    struct proc_ident id;
    struct heapdump_result res = {0};
    char dir[] = "/tmp/fs-heapdump-XXXXXX", node[64], left[PATH_MAX + 32];
    struct stat st;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(node, sizeof(node), "%s/heap.hprof", dir);
    int rc = -99, started = fakejvm_start(&f, "hang-dump", "java", NULL) == 0;
    if (started && procfs_ident("/proc", f.pid, &id) == 0) {
        struct heapdump_req req = {.node_path = node,
                                   .node_cap = 1ull << 30,
                                   .timeout_ms = 1000,
                                   .attach_timeout_ms = 5000};
        rc = heapdump_capture(&id, &req, &res);
        snprintf(left, sizeof(left), "/proc/%d/root%s", f.pid, res.container_path);
    }
    int kept = rc != -99 && res.container_path[0] && lstat(left, &st) == 0;
    if (started)
        fakejvm_stop(&f);
    int empty = rmdir(dir) == 0; /* nothing on the node either */
    char rm[64];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    if (!empty && system(rm) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    CHECK_MSG(rc == -ETIMEDOUT, "rc %d: %s", rc, res.reason);
    CHECK_EQ(res.outcome, HEAPDUMP_TIMEOUT);
    CHECK_CONTAINS(res.reason,
                   "GC.heap_dump timed out after 1000 ms (FLAMESHOT_HEAP_DUMP_TIMEOUT)");
    CHECK_CONTAINS(res.reason, "timed out waiting for the JVM's reply");
    CHECK_MSG(!kept, "%s is left in the container", res.container_path);
    CHECK_EQ(res.node_path[0], '\0');
    CHECK_MSG(empty, "%s was not empty", dir);
}

TEST_MAIN(heap_used_from_every_collector, gz_from_jdk_15, free_space_decision,
          a_dump_past_its_timeout_names_the_step_and_leaves_nothing)
