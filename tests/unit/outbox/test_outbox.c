/* The outbox and the local sink on real files in a temporary directory
 * (and, for ENOSPC, on a real 512 KiB tmpfs). DataKit delivery against a
 * real HTTP receiver is in tests/integration/30_outbox_*.sh. */
#include "core/fsutil.h"
#include "harness.h"
#include "core/log.h"
#include "core/metrics.h"
#include "outbox/outbox.h"
#include "core/units.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmpdir(char *buf)
{
    strcpy(buf, "/tmp/test_outbox.XXXXXX");
    return mkdtemp(buf);
}

/* Files in dir (not . and ..), recursively, whose name contains needle. */
static int count_files(const char *dir, const char *needle)
{
    char p[PATH_MAX];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".lock"))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_files(p, needle);
        else if (!needle || strstr(de->d_name, needle))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void meta_for(struct artefact_meta *m, enum artefact_kind kind, int pid)
{
    artefact_meta_init(m, kind);
    artefact_set(&m->service, "orders");
    artefact_set(&m->host, "node-a");
    artefact_set(&m->process_name, "java");
    artefact_set(&m->library_type, "jfr");
    artefact_set(&m->library_version, "17.0.15");
    m->pid = pid;
    m->start_ns = 1795278120000000000ull;
    m->end_ns = m->start_ns + 5000000000ull;
    tags_set(&m->trigger_tags, "trigger", "http");
}

static void k8s_of(struct artefact_meta *m)
{
    artefact_set(&m->k8s.pod_name, "orders-1");
    artefact_set(&m->k8s.pod_namespace, "shop");
    artefact_set(&m->k8s.container_name, "app");
    artefact_set(&m->k8s.pod_uid, "uid-1");
    artefact_set(&m->k8s.container_id, "cid");
}

/* An outbox whose first backoff is backoff_ms (at most, half at least). */
static int open_ob_backoff(const char *root, const char *dk, uint64_t max, struct metrics *mx,
                           uint64_t backoff_ms, struct outbox **ob)
{
    char err[256];
    struct outbox_opts o = {.root = root,
                            .datakit_addr = dk,
                            .max_bytes = max,
                            .metrics = mx,
                            .backoff_min_ms = backoff_ms,
                            .backoff_max_ms = 2 * backoff_ms};
    int rc = outbox_open(&o, ob, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "outbox_open: %s\n", err);
    return rc;
}

static int open_ob(const char *root, const char *dk, uint64_t max, struct metrics *mx,
                   struct outbox **ob)
{
    return open_ob_backoff(root, dk, max, mx, 200, ob);
}

/* Commits a payload of size bytes (filled with c). */
static int put_payload(struct outbox *ob, const struct artefact_meta *m, size_t size, char c,
                       struct outbox_receipt *r)
{
    struct outbox_tx tx;
    char err[256], *buf = malloc(size ? size : 1);
    int rc = outbox_begin(ob, size, &tx);
    memset(buf, c, size);
    if (rc == 0)
        rc = bounded_put(&tx.out, buf, size);
    if (rc < 0)
        outbox_abort(ob, &tx);
    free(buf);
    if (rc == 0 && (rc = outbox_commit(ob, &tx, m, r, err, sizeof(err))) < 0)
        fprintf(stderr, "commit: %s\n", err);
    return rc;
}

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    if (fsutil_read_all(path, 1 << 24, &text, NULL) < 0)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

TEST(commit_then_local_delivery_with_sidecar_and_index)
{
    char root[64], path[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_receipt r;
    struct metrics mx = {0};
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, &mx, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 42);
    k8s_of(&m);
    CHECK_EQ(put_payload(ob, &m, 3000, 'j', &r), 0);
    artefact_meta_free(&m);
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, ".payload"), 1);
    CHECK_EQ(count_files(path, ".json"), 1);
    CHECK_EQ(atomic_load(&mx.outbox_items), 1);
    CHECK_STREQ(strrchr(r.local_path, '/'), "/profile_42_20261121_162200.jfr");
    CHECK_CONTAINS(r.local_path, "/profiles/shop/orders-1/app/");
    CHECK_EQ(outbox_run_once(ob), 1);
    CHECK_EQ(count_files(path, NULL), 0);
    struct stat st;
    CHECK_EQ(stat(r.local_path, &st), 0);
    CHECK_EQ(st.st_size, 3000);
    snprintf(path, sizeof(path), "%s.json", r.local_path);
    cJSON *side = read_json(path);
    CHECK(side != NULL);
    CHECK_STREQ(cJSON_GetObjectItem(side, "payload")->valuestring,
                "profile_42_20261121_162200.jfr");
    CHECK_CONTAINS(cJSON_GetObjectItem(side, "tags_profiler")->valuestring, "pod_name:orders-1");
    cJSON_Delete(side);
    snprintf(path, sizeof(path), "%s/profiles/index.json", root);
    cJSON *idx = read_json(path);
    CHECK_EQ(cJSON_GetArraySize(idx), 1);
    CHECK_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(idx, 0), "path")->valuestring, r.local_path);
    cJSON_Delete(idx);
    CHECK_EQ(atomic_load(&mx.uploads_ok), 1);
    CHECK_EQ(atomic_load(&mx.outbox_items), 0);
    outbox_close(ob);
    rm_rf(root);
}

TEST(abort_and_crash_leftovers_leave_nothing)
{
    char root[64], path[PATH_MAX], err[256];
    struct outbox *ob, *second;
    struct outbox_tx tx;
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    struct outbox_opts o2 = {.root = root};
    CHECK(outbox_open(&o2, &second, err, sizeof(err)) < 0); /* one process per outbox */
    CHECK_CONTAINS(err, "another process is using this outbox");
    CHECK_EQ(outbox_begin(ob, 3, &tx), 0);
    CHECK_EQ(bounded_put(&tx.out, "abc", 3), 0);
    outbox_abort(ob, &tx);
    outbox_abort(ob, &tx); /* twice is fine */
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, NULL), 0);
    /* what a SIGKILL leaves: a temp payload, an orphan payload, a temp record */
    CHECK_EQ(outbox_begin(ob, 3, &tx), 0);
    close(tx.fd);
    outbox_close(ob);
    const char *junk[] = {"00000000000000000001-00000001.payload",
                          "00000000000000000002-00000002.json.tmp.1234"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/outbox/%s", root, junk[i]);
        CHECK_EQ(fsutil_write_atomic(path, "x", 1, 0600), 0);
    }
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, NULL), 3);
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    CHECK_EQ(count_files(path, NULL), 0);
    outbox_close(ob);
    rm_rf(root);
}

TEST(pending_artefacts_survive_a_restart)
{
    char root[64];
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_receipt r1, r2;
    char err[256];
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 7);
    CHECK_EQ(put_payload(ob, &m, 100, 'a', &r1), 0);
    artefact_meta_free(&m);
    meta_for(&m, ARTEFACT_PROCESS_EXIT, 7);
    artefact_field_str(&m, "message", "process exit detected for pid=7");
    CHECK_EQ(outbox_put_summary(ob, &m, &r2, err, sizeof(err)), 0);
    artefact_meta_free(&m);
    outbox_close(ob); /* nothing delivered */
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 2);
    CHECK_EQ(outbox_run_once(ob), 2);
    CHECK_EQ(access(r1.local_path, F_OK), 0);
    CHECK_EQ(access(r2.local_path, F_OK), 0);
    CHECK_CONTAINS(r2.local_path, "/profiles/host/orders/process_exit_7_");
    cJSON *j = read_json(r2.local_path);
    cJSON *summary = cJSON_GetObjectItem(j, "summary");
    CHECK_STREQ(cJSON_GetObjectItem(summary, "measurement")->valuestring, "flameshot_process_exit");
    CHECK_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(summary, "fields"), "status")->valuestring,
                "warning");
    cJSON_Delete(j);
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 0);
    CHECK_EQ(st.local_items, 2);
    outbox_close(ob);
    /* the local sink re-indexes what is on disk */
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    cJSON *idx = outbox_local_index(ob);
    CHECK_EQ(cJSON_GetArraySize(idx), 2);
    cJSON_Delete(idx);
    outbox_close(ob);
    rm_rf(root);
}

TEST(jcmd_snapshot_summary_names_where_the_text_is)
{
    char root[64], side[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_receipt r;
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    meta_for(&m, ARTEFACT_JCMD_SNAPSHOT, 9);
    artefact_field_str(&m, "snapshot_type", "thread_print");
    artefact_field_str(&m, "preview", "\"main\" #1");
    CHECK_EQ(put_payload(ob, &m, 512, 't', &r), 0);
    artefact_meta_free(&m);
    CHECK_CONTAINS(r.local_path, "/profiles/host/orders/jcmd_thread_print_9_20261121_162200.txt");
    CHECK_EQ(outbox_run_once(ob), 1);
    snprintf(side, sizeof(side), "%s.json", r.local_path);
    cJSON *j = read_json(side);
    cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "fields");
    CHECK_STREQ(cJSON_GetObjectItem(f, "output_path")->valuestring, r.local_path);
    CHECK_EQ(cJSON_GetObjectItem(f, "output_size_bytes")->valuedouble, 512);
    CHECK_STREQ(cJSON_GetObjectItem(f, "status")->valuestring, "info");
    CHECK_CONTAINS(cJSON_GetObjectItem(f, "message")->valuestring, "captured thread_print");
    cJSON_Delete(j);
    outbox_close(ob);
    rm_rf(root);
}

TEST(budget_drops_the_oldest_first_and_counts)
{
    char root[64], path[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_receipt r[12];
    struct metrics mx = {0};
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 200 * 1024, &mx, &ob), 0);
    /* 4 delivered to the local sink, then 8 pending: 12 x 32 KiB > 200 KiB */
    for (int i = 0; i < 12; i++) {
        meta_for(&m, ARTEFACT_PROFILE, 100 + i);
        m.created_ns = 1000000000ull * (uint64_t)(i + 1);
        CHECK_EQ(put_payload(ob, &m, 32 * 1024, 'x', &r[i]), 0);
        artefact_meta_free(&m);
        if (i == 3)
            CHECK_EQ(outbox_run_once(ob), 4);
    }
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK(st.bytes + st.local_bytes <= 200 * 1024);
    CHECK(st.dropped >= 6);
    CHECK_EQ(atomic_load(&mx.outbox_dropped), st.dropped);
    /* the oldest went first: the locally kept ones, then the oldest pending */
    for (int i = 0; i < 4; i++)
        CHECK_MSG(access(r[i].local_path, F_OK) != 0, "%s kept", r[i].local_path);
    CHECK_EQ(st.local_items, 0);
    CHECK_EQ(st.items, 12 - st.dropped);
    CHECK_EQ(outbox_run_once(ob), (int)st.items);
    CHECK_EQ(access(r[11].local_path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/profiles/index.json", root);
    cJSON *idx = read_json(path);
    CHECK_EQ(cJSON_GetArraySize(idx), (int)st.items);
    cJSON_Delete(idx);
    outbox_close(ob);
    rm_rf(root);
}

/* After every writer aborted: no budget held, nothing dropped, no file
 * left in outbox/. Closes ob and removes root. */
static void nothing_held_nor_left(struct t_state *t_, struct outbox *ob, const char *root)
{
    char path[PATH_MAX];
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK_EQ(st.reserved, 0);
    CHECK_EQ(st.dropped, 0);
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, NULL), 0);
    outbox_close(ob);
    rm_rf(root);
}

TEST(an_artefact_larger_than_the_budget_is_refused_while_written)
{
    char root[64];
    struct outbox *ob;
    struct outbox_tx tx;
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 64 * 1024, NULL, &ob), 0);
    CHECK_EQ(outbox_begin(ob, 1 << 20, &tx), 0);
    static char big[32 * 1024];
    CHECK_EQ(bounded_put(&tx.out, big, sizeof(big)), 0);
    CHECK_EQ(bounded_put(&tx.out, big, sizeof(big)), -EFBIG); /* 64 KiB + its record */
    CHECK_EQ(fsutil_file_size(tx.path), sizeof(big));         /* never on disk */
    outbox_abort(ob, &tx);
    nothing_held_nor_left(t_, ob, root);
}

/* Commits a payload of size bytes created at second sec (the drop order). */
static void put_aged(struct t_state *t_, struct outbox *ob, size_t size, int sec)
{
    struct artefact_meta m;
    meta_for(&m, ARTEFACT_PROFILE, 400 + sec);
    m.created_ns = 1000000000ull * (uint64_t)sec;
    CHECK_EQ(put_payload(ob, &m, size, 'a', NULL), 0);
    artefact_meta_free(&m);
}

TEST(budget_is_held_from_begin_and_grows_before_the_bytes_are_written)
{
    char root[64], err[256];
    struct outbox *ob;
    struct outbox_tx tx;
    struct outbox_stats st;
    struct artefact_meta m;
    static char mib[1 << 20];
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 5 << 19, NULL, &ob), 0); /* 2.5 MiB */
    put_aged(t_, ob, sizeof(mib), 1);
    put_aged(t_, ob, sizeof(mib), 2);
    /* begin holds room for the record at least: nothing to drop yet */
    CHECK_EQ(outbox_begin(ob, 8 << 20, &tx), 0);
    outbox_stats(ob, &st);
    CHECK_EQ(st.dropped, 0);
    CHECK(st.reserved >= 4096 && st.bytes + st.reserved <= st.max_bytes);
    /* the first MiB needs the oldest gone: dropped before a byte is written */
    CHECK_EQ(bounded_put(&tx.out, mib, sizeof(mib)), 0);
    outbox_stats(ob, &st);
    CHECK_EQ(st.dropped, 1);
    CHECK_EQ(st.items, 1);
    CHECK(st.reserved >= sizeof(mib) + 4096);
    CHECK(st.bytes + st.reserved <= st.max_bytes);
    /* half a MiB more: the second goes too, while writing, not at commit */
    CHECK_EQ(bounded_put(&tx.out, mib, sizeof(mib) / 2), 0);
    outbox_stats(ob, &st);
    CHECK_EQ(st.dropped, 2);
    CHECK_EQ(st.items, 0);
    meta_for(&m, ARTEFACT_PROFILE, 500);
    CHECK_MSG(outbox_commit(ob, &tx, &m, NULL, err, sizeof(err)) == 0, "%s", err);
    artefact_meta_free(&m);
    outbox_stats(ob, &st);
    CHECK_EQ(st.reserved, 0);
    CHECK_EQ(st.items, 1);
    CHECK_EQ(st.dropped, 2);
    outbox_close(ob);
    rm_rf(root);
}

TEST(writers_never_share_the_same_budget)
{
    char root[64];
    struct outbox *ob;
    struct outbox_tx a, b;
    static char mib[1 << 20];
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 2 << 20, NULL, &ob), 0);
    CHECK_EQ(outbox_begin(ob, 8 << 20, &a), 0);
    CHECK_EQ(outbox_begin(ob, 8 << 20, &b), 0);
    CHECK_EQ(bounded_put(&b.out, mib, sizeof(mib) / 2), 0);
    CHECK_EQ(bounded_put(&a.out, mib, sizeof(mib) / 2), 0);
    /* each holds half the budget; what b holds is not a's to take */
    CHECK_EQ(bounded_put(&a.out, mib, sizeof(mib)), -ENOSPC);
    CHECK_EQ(fsutil_file_size(a.path), sizeof(mib) / 2);
    outbox_abort(ob, &b); /* gives its budget back */
    CHECK_EQ(bounded_put(&a.out, mib, sizeof(mib)), 0);
    outbox_abort(ob, &a);
    nothing_held_nor_left(t_, ob, root);
}

TEST(a_payload_past_its_cap_is_refused_whole)
{
    char root[64];
    struct outbox *ob;
    struct outbox_tx tx;
    static char k[1024];
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    CHECK_EQ(outbox_begin(ob, 1500, &tx), 0);
    CHECK_EQ(bounded_put(&tx.out, k, sizeof(k)), 0);
    CHECK_EQ(bounded_put(&tx.out, k, sizeof(k)), -EFBIG);
    CHECK_EQ(fsutil_file_size(tx.path), sizeof(k));
    outbox_abort(ob, &tx);
    nothing_held_nor_left(t_, ob, root);
}

struct producer {
    struct outbox *ob;
    int id;
    int failed;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    char err[256];
    for (int i = 0; i < 25; i++) {
        struct artefact_meta m;
        meta_for(&m, i % 2 ? ARTEFACT_OOM_HPROF : ARTEFACT_PROFILE, 77); /* same names */
        artefact_field_str(&m, "message", "x");
        int rc = i % 2 ? outbox_put_summary(p->ob, &m, NULL, err, sizeof(err))
                       : put_payload(p->ob, &m, 1000 + (size_t)p->id, 'p', NULL);
        p->failed += rc != 0;
        artefact_meta_free(&m);
    }
    return NULL;
}

TEST(concurrent_producers_with_the_delivery_thread)
{
    char root[64], path[PATH_MAX];
    struct outbox *ob;
    pthread_t th[4];
    struct producer p[4];
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    CHECK_EQ(outbox_start(ob), 0);
    for (int i = 0; i < 4; i++) {
        p[i] = (struct producer){.ob = ob, .id = i};
        pthread_create(&th[i], NULL, produce, &p[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(p[i].failed, 0);
    }
    CHECK_EQ(outbox_flush(ob, 20000), 0);
    outbox_close(ob);
    /* 100 artefacts with the same pid and second: 100 distinct names */
    snprintf(path, sizeof(path), "%s/profiles/host/orders", root);
    CHECK_EQ(count_files(path, ".jfr.json"), 52);
    CHECK_EQ(count_files(path, "oom_hprof_77_"), 48);
    CHECK_EQ(count_files(path, NULL), 152);
    snprintf(path, sizeof(path), "%s/profiles/index.json", root);
    cJSON *idx = read_json(path);
    CHECK_EQ(cJSON_GetArraySize(idx), 100);
    cJSON_Delete(idx);
    rm_rf(root);
}

/* The body runs on a mounted tmpfs; the caller unmounts it whatever happens. */
static void enospc_on(struct t_state *t_, const char *root)
{
    char path[PATH_MAX], err[256];
    struct outbox *ob;
    struct artefact_meta m;
    CHECK_EQ(open_ob(root, NULL, 64 << 20, NULL, &ob), 0); /* the budget is not the limit */
    int kept = 0;
    for (int i = 0; i < 5; i++) {
        meta_for(&m, ARTEFACT_PROFILE, 200 + i);
        m.created_ns = 1000000000ull * (uint64_t)(i + 1);
        kept += put_payload(ob, &m, 100 * 1024, 'f', NULL) == 0;
        artefact_meta_free(&m);
    }
    struct outbox_stats st;
    outbox_stats(ob, &st);
    int items = (int)st.items, dropped = (int)st.dropped;
    /* a write that hits ENOSPC drops the oldest and succeeds on retry */
    struct outbox_tx tx;
    static char chunk[150 * 1024];
    int rc = outbox_begin(ob, sizeof(chunk), &tx);
    if (rc == 0)
        rc = bounded_put(&tx.out, chunk, sizeof(chunk));
    meta_for(&m, ARTEFACT_PROFILE, 300);
    if (rc == 0)
        rc = outbox_commit(ob, &tx, &m, NULL, err, sizeof(err));
    else
        outbox_abort(ob, &tx);
    artefact_meta_free(&m);
    struct outbox_stats st2;
    outbox_stats(ob, &st2);
    outbox_close(ob);
    CHECK_EQ(kept, 5);    /* the fifth fitted once the oldest was dropped */
    CHECK_EQ(dropped, 1); /* FLAMESHOT_SPOOL_MAX_MB is far: ENOSPC did it */
    CHECK_EQ(items, 4);
    CHECK_MSG(rc == 0, "commit after ENOSPC: %s", err);
    CHECK(st2.dropped > st.dropped);
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, ".tmp"), 0);
}

/* Runs body on a fresh 512 KiB tmpfs, unmounted after (with any mount
 * body left stacked on it). */
static void on_tmpfs(struct t_state *t_, void (*body)(struct t_state *, const char *))
{
    char root[64];
    NEED(geteuid() == 0, "mounting a tmpfs needs root");
    CHECK(tmpdir(root));
    CHECK_EQ(mount("tmpfs", root, "tmpfs", 0, "size=512k"), 0);
    body(t_, root);
    while (umount(root) == 0)
        ;
    rmdir(root);
}

TEST(enospc_drops_the_oldest_and_retries_once)
{
    on_tmpfs(t_, enospc_on);
}

/* Fills the filesystem of dir: a file that takes every byte left. */
static void fill_up(const char *dir, char *filler, size_t cap)
{
    static char block[64 * 1024];
    snprintf(filler, cap, "%s/filler", dir);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
        ;
    while (fd >= 0 && write(fd, block, 1) > 0) /* the last partial block */
        ;
    if (fd >= 0)
        close(fd);
}

static uint64_t dropped_of(struct outbox *ob, char *spool_error, size_t cap)
{
    struct outbox_stats st;
    outbox_stats(ob, &st);
    snprintf(spool_error, cap, "%s", st.spool_error);
    return st.dropped;
}

static void unwritable_spool_on(struct t_state *t_, const char *root)
{
    char err[256], why[256], filler[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    struct metrics mx = {0};
    CHECK_EQ(open_ob(root, NULL, 64 << 20, &mx, &ob), 0);
    /* read-only (a read-only bind mount over the spool: the tmpfs itself
     * cannot be remounted read-only while the outbox holds .lock open) */
    CHECK_EQ(mount(root, root, NULL, MS_BIND, NULL), 0);
    CHECK_EQ(mount(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), 0);
    meta_for(&m, ARTEFACT_PROFILE, 1);
    int rc = put_payload(ob, &m, 1000, 'r', NULL);
    artefact_meta_free(&m);
    CHECK_EQ(rc, -EROFS);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 1);
    CHECK_CONTAINS(why, "Read-only file system");
    meta_for(&m, ARTEFACT_PROCESS_EXIT, 2);
    rc = outbox_put_summary(ob, &m, NULL, err, sizeof(err));
    artefact_meta_free(&m);
    CHECK_EQ(rc, -EROFS);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 2);
    CHECK_EQ(atomic_load(&mx.outbox_dropped), 2);
    /* writable again: kept, and the reason is gone */
    CHECK_EQ(umount(root), 0);
    meta_for(&m, ARTEFACT_PROFILE, 3);
    CHECK_EQ(put_payload(ob, &m, 1000, 'w', NULL), 0);
    artefact_meta_free(&m);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 2);
    CHECK_STREQ(why, "");
    /* full, and still full after the one pending artefact is dropped */
    fill_up(root, filler, sizeof(filler));
    meta_for(&m, ARTEFACT_PROFILE, 4);
    rc = put_payload(ob, &m, 100 * 1024, 'f', NULL);
    artefact_meta_free(&m);
    CHECK_EQ(rc, -ENOSPC);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 4); /* the pending one, then the new one */
    CHECK_CONTAINS(why, "No space left on device");
    CHECK_EQ(atomic_load(&mx.outbox_dropped), 4);
    /* space returns */
    CHECK_EQ(unlink(filler), 0);
    meta_for(&m, ARTEFACT_PROFILE, 5);
    CHECK_EQ(put_payload(ob, &m, 100 * 1024, 'g', NULL), 0);
    artefact_meta_free(&m);
    CHECK_EQ(outbox_run_once(ob), 1);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 4);
    CHECK_STREQ(why, "");
    outbox_close(ob);
}

TEST(an_unwritable_spool_counts_each_lost_artefact_and_recovers)
{
    on_tmpfs(t_, unwritable_spool_on);
}

/* A profile of pid with size bytes of c, committed. */
static int put_profile(struct outbox *ob, int pid, size_t size, char c)
{
    struct artefact_meta m;
    meta_for(&m, ARTEFACT_PROFILE, pid);
    int rc = put_payload(ob, &m, size, c, NULL);
    artefact_meta_free(&m);
    return rc;
}

static void read_only_start_on(struct t_state *t_, const char *root)
{
    char err[256], why[256];
    struct outbox *ob = NULL, *second = NULL;
    struct metrics mx = {0};
    CHECK_EQ(open_ob(root, NULL, 64 << 20, NULL, &ob), 0); /* an earlier run made the spool */
    CHECK_EQ(put_profile(ob, 1, 1000, 'a'), 0);
    outbox_close(ob);
    ob = NULL;
    /* nothing holds it open now: the tmpfs itself goes read-only */
    CHECK_EQ(mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY, "size=512k"), 0);
    int rc = open_ob(root, NULL, 64 << 20, &mx, &ob);
    CHECK_MSG(rc == 0, "a read-only spool stops the agent: %d", rc);
    if (rc < 0)
        return;
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 0);
    CHECK_CONTAINS(why, "Read-only file system");
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 1); /* what it had is still there */
    /* still one agent per spool */
    struct outbox_opts o = {.root = root};
    CHECK_EQ(outbox_open(&o, &second, err, sizeof(err)), -EWOULDBLOCK);
    CHECK_CONTAINS(err, "another process is using this outbox");
    /* what it cannot keep is counted */
    CHECK_EQ(put_profile(ob, 2, 1000, 'b'), -EROFS);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 1);
    CHECK_EQ(atomic_load(&mx.outbox_dropped), 1);
    /* remounted read-write: kept again, the error gone */
    CHECK_EQ(mount(NULL, root, NULL, MS_REMOUNT, "size=512k"), 0);
    CHECK_EQ(put_profile(ob, 3, 1000, 'c'), 0);
    CHECK_EQ(dropped_of(ob, why, sizeof(why)), 1);
    CHECK_STREQ(why, "");
    outbox_close(ob);
}

/* The agent starts on a spool gone read-only: the lock is taken through a
 * read-only fd (a second outbox is still refused), the spool's error is
 * shown at once, each artefact it cannot keep is a drop, and once the
 * filesystem is remounted read-write artefacts are kept again. */
TEST(an_outbox_opens_on_a_read_only_spool_and_recovers)
{
    on_tmpfs(t_, read_only_start_on);
}

/* Never written and read-only: there is no .lock to take; refused,
 * naming the path and why. */
static void read_only_fresh_on(struct t_state *t_, const char *root)
{
    char err[256], dir[PATH_MAX];
    struct outbox *ob = NULL;
    snprintf(dir, sizeof(dir), "%s/outbox", root);
    CHECK_EQ(mkdir(dir, 0750), 0);
    CHECK_EQ(mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY, "size=512k"), 0);
    struct outbox_opts o = {.root = root};
    CHECK_EQ(outbox_open(&o, &ob, err, sizeof(err)), -EROFS);
    CHECK_CONTAINS(err, "/outbox/.lock");
    CHECK_CONTAINS(err, "read-only");
}

TEST(a_read_only_spool_never_written_is_refused_naming_it)
{
    on_tmpfs(t_, read_only_fresh_on);
}

TEST(datakit_routes_become_local_when_the_address_is_removed)
{
    char root[64], path[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, "http://127.0.0.1:9/profiling/v1/input", 0, NULL, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 5);
    CHECK_EQ(put_payload(ob, &m, 10, 'd', NULL), 0);
    artefact_meta_free(&m);
    outbox_close(ob);
    CHECK_EQ(open_ob(root, NULL, 0, NULL, &ob), 0);
    CHECK_EQ(outbox_run_once(ob), 1);
    snprintf(path, sizeof(path), "%s/profiles/host/orders", root);
    CHECK_EQ(count_files(path, ".jfr"), 2);
    outbox_close(ob);
    rm_rf(root);
}

TEST(an_unreachable_datakit_backs_off_and_keeps_the_artefact)
{
    char root[64], err[256];
    struct outbox *ob;
    struct artefact_meta m;
    struct metrics mx = {0};
    CHECK(tmpdir(root));
    /* port 9 (discard) is closed here: connection refused. A minute's
     * backoff: with 200 ms, a stall of 100 ms between the two runs (seen
     * once under load) let the second one retry. */
    CHECK_EQ(open_ob_backoff(root, "http://127.0.0.1:9/profiling/v1/input", 0, &mx, 60000, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 5);
    CHECK_EQ(put_payload(ob, &m, 10, 'd', NULL), 0);
    artefact_meta_free(&m);
    meta_for(&m, ARTEFACT_OOM_HPROF, 5);
    artefact_field_str(&m, "message", "m");
    CHECK_EQ(outbox_put_summary(ob, &m, NULL, err, sizeof(err)), 0);
    artefact_meta_free(&m);
    CHECK_EQ(outbox_run_once(ob), 0);
    CHECK_EQ(outbox_run_once(ob), 0); /* both sinks in backoff: no second attempt */
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 2);
    CHECK_EQ(st.sinks[1].failed, 1);
    CHECK_EQ(st.sinks[2].failed, 1);
    CHECK(st.sinks[1].retry_in_ms > 0 && st.sinks[1].retry_in_ms <= 60000);
    CHECK_CONTAINS(st.sinks[1].last_error, "onnect");
    CHECK_EQ(atomic_load(&mx.uploads_failed), 2);
    cJSON *j = outbox_stats_json(ob);
    cJSON *dp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sinks"), "datakit_profiling");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(dp, "healthy")));
    CHECK_EQ(cJSON_GetObjectItem(dp, "pending")->valuedouble, 1);
    cJSON_Delete(j);
    outbox_close(ob);
    /* the attempt count is in the record */
    CHECK_EQ(open_ob_backoff(root, "http://127.0.0.1:9/profiling/v1/input", 0, NULL, 60000, &ob),
             0);
    usleep(10000);
    outbox_close(ob);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/outbox", root);
    DIR *d = opendir(path);
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json"))
            continue;
        snprintf(path, sizeof(path), "%s/outbox/%s", root, de->d_name);
        cJSON *rec = read_json(path);
        CHECK_EQ(cJSON_GetObjectItem(rec, "attempts")->valuedouble, 1);
        CHECK_CONTAINS(cJSON_GetObjectItem(rec, "last_error")->valuestring, "onnect");
        cJSON_Delete(rec);
        seen++;
    }
    closedir(d);
    CHECK_EQ(seen, 2);
    rm_rf(root);
}

TEST(stop_aborts_an_upload_in_flight_without_losing_it)
{
    char root[64], url[128];
    struct outbox *ob;
    struct artefact_meta m;
    /* a listener that never answers: the request is sent, no response comes */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(s, 4), 0);
    getsockname(s, (struct sockaddr *)&a, &alen);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/profiling/v1/input", ntohs(a.sin_port));
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, url, 0, NULL, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 5);
    CHECK_EQ(put_payload(ob, &m, 10, 'd', NULL), 0);
    artefact_meta_free(&m);
    CHECK_EQ(outbox_start(ob), 0);
    usleep(300000);
    uint64_t t0 = units_now_mono_ms();
    outbox_stop(ob);
    CHECK((units_now_mono_ms() - t0) < 1000);
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 1);
    CHECK_EQ(st.sinks[1].failed, 0); /* an abort is not an attempt */
    outbox_close(ob);
    close(s);
    rm_rf(root);
}

/* A forward proxy of one request: records the request's head, answers
 * 200 without reading the body, and closes. */
struct proxy {
    int s;
    char head[4096];
};

static void *proxy_serve(void *arg)
{
    struct proxy *p = arg;
    int c = accept(p->s, NULL, NULL);
    size_t len = 0;
    while (c >= 0 && len + 1 < sizeof(p->head) && !strstr(p->head, "\r\n\r\n")) {
        ssize_t n = read(c, p->head + len, sizeof(p->head) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        p->head[len] = '\0';
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (c >= 0 && write(c, ok, sizeof(ok) - 1) < 0)
        p->head[0] = '\0';
    if (c >= 0) {
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

/* Uploads honour http_proxy (libcurl's default, kept on purpose: some
 * sites reach DataKit only through one): DataKit's address is a closed
 * port, the proxy this test runs takes the request and answers. */
TEST(datakit_uploads_go_through_the_proxy_of_the_environment)
{
    char root[64], proxy_url[64];
    struct outbox *ob;
    struct artefact_meta m;
    struct proxy p = {.s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    pthread_t t;
    CHECK_EQ(bind(p.s, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(p.s, 4), 0);
    getsockname(p.s, (struct sockaddr *)&a, &alen);
    snprintf(proxy_url, sizeof(proxy_url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    CHECK_EQ(pthread_create(&t, NULL, proxy_serve, &p), 0);
    setenv("http_proxy", proxy_url, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, "http://127.0.0.1:9/profiling/v1/input", 0, NULL, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 8);
    CHECK_EQ(put_payload(ob, &m, 10, 'p', NULL), 0);
    artefact_meta_free(&m);
    outbox_run_once(ob);
    struct outbox_stats st;
    outbox_stats(ob, &st);
    outbox_close(ob);
    unsetenv("http_proxy");
    shutdown(p.s, SHUT_RDWR); /* ends an accept still waiting */
    pthread_join(t, NULL);
    close(p.s);
    rm_rf(root);
    CHECK_MSG(strncmp(p.head, "POST http://127.0.0.1:9/profiling/v1/input ", 43) == 0,
              "the proxy got: %.200s", p.head);
    CHECK_EQ(st.items, 0); /* delivered: the proxy's 200 */
}

/* A Go profile: one payload, kept locally as a directory of the files
 * its upload carries; the index counts them, the budget drops them. */
TEST(a_go_profile_is_kept_as_a_directory_of_its_attachments)
{
    char root[64], path[PATH_MAX], *text = NULL;
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_receipt r;
    struct metrics mx = {0};
    CHECK(tmpdir(root));
    CHECK_EQ(open_ob(root, NULL, 0, &mx, &ob), 0);
    meta_for(&m, ARTEFACT_PROFILE, 7);
    artefact_set(&m.language, "golang");
    artefact_set(&m.library_type, "go_pprof");
    CHECK_EQ(artefact_add_attachment(&m, "cpu.pprof", 1000), 0);
    CHECK_EQ(artefact_add_attachment(&m, "delta-heap.pprof", 500), 0);
    struct outbox_tx tx;
    char buf[1500], err[256];
    memset(buf, 'c', 1000);
    memset(buf + 1000, 'h', 500);
    CHECK_EQ(outbox_begin(ob, sizeof(buf), &tx), 0);
    CHECK_EQ(bounded_put(&tx.out, buf, sizeof(buf)), 0);
    CHECK_EQ(outbox_commit(ob, &tx, &m, &r, err, sizeof(err)), 0);
    artefact_meta_free(&m);
    CHECK_STREQ(strrchr(r.local_path, '/'), "/pprof_7_20261121_162200");
    CHECK_EQ(outbox_run_once(ob), 1);
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/delta-heap.pprof", r.local_path);
    CHECK_EQ(fsutil_read_all(path, 1 << 20, &text, &len), 0);
    CHECK(len == 500 && text[0] == 'h' && text[499] == 'h');
    free(text);
    snprintf(path, sizeof(path), "%s/cpu.pprof", r.local_path);
    CHECK_EQ(fsutil_file_size(path), 1000);
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, NULL), 0);
    struct outbox_stats st;
    outbox_stats(ob, &st);
    CHECK_EQ(st.local_items, 1);
    CHECK(st.local_bytes >= 1500);
    snprintf(path, sizeof(path), "%s.json", r.local_path);
    cJSON *side = read_json(path);
    CHECK_CONTAINS(cJSON_GetObjectItem(side, "tags_profiler")->valuestring, "language:golang");
    cJSON_Delete(side);
    outbox_close(ob);
    /* reopened: indexed again with the directory's bytes */
    CHECK_EQ(open_ob(root, NULL, 0, &mx, &ob), 0);
    outbox_stats(ob, &st);
    CHECK_EQ(st.local_items, 1);
    CHECK(st.local_bytes >= 1500);
    outbox_close(ob);
    /* a budget too small for it drops the whole directory */
    CHECK_EQ(open_ob(root, NULL, 1024, &mx, &ob), 0);
    outbox_stats(ob, &st);
    CHECK_EQ(st.local_items, 0);
    CHECK_MSG(access(r.local_path, F_OK) != 0, "%s kept", r.local_path);
    outbox_close(ob);
    rm_rf(root);
}

/* FLAMESHOT_LOCAL_KEEP=true beside a DataKit that refuses connections
 * (port 9, discard, is closed here). */
static struct outbox_opts keep_opts(const char *root)
{
    return (struct outbox_opts){.root = root,
                                .datakit_addr = "http://127.0.0.1:9/profiling/v1/input",
                                .local_keep = true,
                                .backoff_min_ms = 200,
                                .backoff_max_ms = 400};
}

/* FLAMESHOT_LOCAL_KEEP: a profile reaches the local sink at once, DataKit
 * down or not, and stays pending for DataKit, uploaded from the kept file;
 * a Go profile (split into files locally) goes to DataKit first. */
TEST(a_kept_profile_is_local_at_once_and_still_pending_for_datakit)
{
    char root[64], err[256], path[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_receipt r;
    struct outbox_stats st;
    struct outbox_opts o = keep_opts(root);
    CHECK(tmpdir(root));
    CHECK_EQ(outbox_open(&o, &ob, err, sizeof(err)), 0);
    meta_for(&m, ARTEFACT_PROFILE, 5);
    CHECK_EQ(put_payload(ob, &m, 10, 'd', &r), 0);
    artefact_meta_free(&m);
    CHECK(r.local_path[0]);
    CHECK_EQ(outbox_run_once(ob), 1); /* the local sink; DataKit refused the connection */
    outbox_stats(ob, &st);
    CHECK_EQ(st.local_items, 1);
    CHECK_EQ(st.items, 1);
    CHECK_EQ(st.sinks[1].failed, 1);
    CHECK_EQ(fsutil_file_size(r.local_path), 10);
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, ".payload"), 0); /* one copy on disk: the kept one */
    outbox_close(ob);
    /* a restart keeps it pending for DataKit, its payload the kept file */
    CHECK_EQ(outbox_open(&o, &ob, err, sizeof(err)), 0);
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 1);
    CHECK_EQ(st.local_items, 1);
    CHECK_EQ(st.sinks[1].pending, 1);
    meta_for(&m, ARTEFACT_PROFILE, 7);
    artefact_set(&m.library_type, "go_pprof");
    CHECK_EQ(artefact_add_attachment(&m, "cpu.pprof", 10), 0);
    CHECK_EQ(put_payload(ob, &m, 10, 'c', &r), 0);
    artefact_meta_free(&m);
    usleep(450000); /* past the sink's backoff */
    outbox_run_once(ob);
    outbox_stats(ob, &st);
    CHECK_EQ(st.local_items, 1); /* the Go profile waits for DataKit before being split */
    outbox_close(ob);
    rm_rf(root);
}

/* A kept copy that a pending upload reads from goes with that upload when
 * the budget drops it: one artefact, one drop, no upload of a file gone. */
TEST(a_dropped_kept_copy_takes_its_pending_upload_along)
{
    char root[64], err[256], path[PATH_MAX];
    struct outbox *ob;
    struct artefact_meta m;
    struct outbox_stats st;
    struct outbox_opts o = keep_opts(root);
    CHECK(tmpdir(root));
    CHECK_EQ(outbox_open(&o, &ob, err, sizeof(err)), 0);
    meta_for(&m, ARTEFACT_PROFILE, 5);
    CHECK_EQ(put_payload(ob, &m, 3000, 'a', NULL), 0);
    artefact_meta_free(&m);
    CHECK_EQ(outbox_run_once(ob), 1); /* kept; DataKit refused */
    outbox_stats(ob, &st);
    CHECK_EQ(st.items, 1);
    outbox_close(ob);
    o.max_bytes = 3000 + 4096 + 1000; /* room for one payload and its record hold, not two */
    CHECK(st.bytes + st.local_bytes + 3000 + 4096 > o.max_bytes);
    CHECK_EQ(outbox_open(&o, &ob, err, sizeof(err)), 0);
    meta_for(&m, ARTEFACT_PROFILE, 6);
    m.created_ns = 0;
    CHECK_EQ(put_payload(ob, &m, 3000, 'b', NULL), 0);
    artefact_meta_free(&m);
    outbox_stats(ob, &st);
    CHECK_EQ(st.dropped, 1);
    CHECK_EQ(st.items, 1);
    CHECK_EQ(st.local_items, 0);
    snprintf(path, sizeof(path), "%s/outbox", root);
    CHECK_EQ(count_files(path, ".json"), 1);
    outbox_close(ob);
    rm_rf(root);
}

TEST_MAIN(a_go_profile_is_kept_as_a_directory_of_its_attachments,
          commit_then_local_delivery_with_sidecar_and_index,
          abort_and_crash_leftovers_leave_nothing, pending_artefacts_survive_a_restart,
          jcmd_snapshot_summary_names_where_the_text_is, budget_drops_the_oldest_first_and_counts,
          an_artefact_larger_than_the_budget_is_refused_while_written,
          budget_is_held_from_begin_and_grows_before_the_bytes_are_written,
          writers_never_share_the_same_budget, a_payload_past_its_cap_is_refused_whole,
          concurrent_producers_with_the_delivery_thread, enospc_drops_the_oldest_and_retries_once,
          an_unwritable_spool_counts_each_lost_artefact_and_recovers,
          datakit_routes_become_local_when_the_address_is_removed,
          an_unreachable_datakit_backs_off_and_keeps_the_artefact,
          stop_aborts_an_upload_in_flight_without_losing_it,
          a_kept_profile_is_local_at_once_and_still_pending_for_datakit,
          a_dropped_kept_copy_takes_its_pending_upload_along,
          an_outbox_opens_on_a_read_only_spool_and_recovers,
          a_read_only_spool_never_written_is_refused_naming_it,
          datakit_uploads_go_through_the_proxy_of_the_environment)
