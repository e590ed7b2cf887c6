/* upload: the durable heap-dump queue against tests/helpers/s3_server.py
 * (a child process; it checks every signature with python3-botocore): the
 * state file across a restart, resuming a multipart upload after an
 * outage, an upload the store forgot, a permanent error, the disk budget,
 * and the record each dump ends with. */
#include "outbox/upload.h"
#include "harness.h"

#include "core/config.h"
#include "core/fsutil.h"
#include "core/units.h"
#include "outbox/objstore.h"
#include "outbox/outbox.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <sys/wait.h>

#define PY      "/usr/bin/python3" /* Debian's, where python3-botocore is */
#define WAIT_MS 30000
#define PART    (5u << 20)

struct s3 {
    pid_t pid;
    char dir[64];
    int port; /* 0: any; kept for a restart */
};

static bool have_botocore(void)
{
    return system(PY " -c 'import botocore.auth' 2>/dev/null") == 0;
}

static int s3_start(struct s3 *s, const char *const *extra)
{
    char port[16], path[128];
    if (!s->dir[0] && !mkdtemp(strcpy(s->dir, "/tmp/fs-s3-XXXXXX")))
        return -errno;
    snprintf(path, sizeof(path), "%s/port", s->dir);
    unlink(path);
    snprintf(port, sizeof(port), "%d", s->port);
    s->pid = fork();
    if (s->pid == 0) {
        const char *argv[16] = {PY, "tests/helpers/s3_server.py", s->dir, "--port", port};
        int n = 5;
        for (; extra && *extra && n < 15; extra++)
            argv[n++] = *extra;
        execv(PY, (char *const *)argv);
        _exit(127);
    }
    for (uint64_t until = units_now_mono_ms() + WAIT_MS; units_now_mono_ms() < until;) {
        char buf[16];
        if (fsutil_read_small(path, buf, sizeof(buf)) > 0)
            return (s->port = atoi(buf)) > 0 ? 0 : -EIO;
        usleep(20000);
    }
    return -ETIMEDOUT;
}

static void s3_kill(struct s3 *s)
{
    if (s->pid > 0 && kill(s->pid, SIGTERM) == 0)
        waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* How many requests of the log match op (and part, when > 0) and status. */
static int s3_count(const struct s3 *s, const char *op, int part, int status)
{
    char path[128], *text = NULL, *save = NULL;
    size_t len;
    int n = 0;
    snprintf(path, sizeof(path), "%s/requests.jsonl", s->dir);
    if (fsutil_read_all(path, 1 << 24, &text, &len) < 0)
        return -1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const char *o = cJSON_GetStringValue(cJSON_GetObjectItem(j, "op"));
        n += o && !strcmp(o, op) &&
             (part <= 0 || cJSON_GetNumberValue(cJSON_GetObjectItem(j, "part")) == part) &&
             cJSON_GetNumberValue(cJSON_GetObjectItem(j, "status")) == status;
        cJSON_Delete(j);
    }
    free(text);
    return n;
}

/* How many requests were refused with S3 error code (signature checks). */
static int s3_refused(const struct s3 *s, const char *code)
{
    char path[128], *text = NULL, needle[96];
    size_t len;
    int n = 0;
    snprintf(path, sizeof(path), "%s/requests.jsonl", s->dir);
    snprintf(needle, sizeof(needle), "\"sig\": \"%s\"", code);
    if (fsutil_read_all(path, 1 << 24, &text, &len) < 0)
        return -1;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

/* One test's world: a spool, its outbox, the settings. */
struct world {
    char root[64];
    struct config cfg;
    struct outbox *ob;
    struct upload *up;
    char endpoint[64];
};

static int world_open(struct world *w, const struct s3 *s, const char *secret, uint64_t mb)
{
    char err[256];
    if (!w->root[0] && !mkdtemp(strcpy(w->root, "/tmp/fs-upload-XXXXXX")))
        return -errno;
    snprintf(w->endpoint, sizeof(w->endpoint), "http://127.0.0.1:%d", s->port);
    w->cfg.profiling_path = w->root;
    w->cfg.spool_max_mb = mb;
    w->cfg.hprof_upload =
        (struct config_hprof_upload){.enabled = true,
                                     .provider = "s3",
                                     .endpoint = w->endpoint,
                                     .region = "us-east-1",
                                     .bucket = "dumps",
                                     .access_key_id = "AKIDTEST",
                                     .access_key_secret = (char *)secret,
                                     .security_token = "session/token+1=",
                                     .path_template = "{service}/{pod_name}/{timestamp}/{filename}",
                                     .timeout_ms = 10000,
                                     .s3_path_style = true};
    struct outbox_opts oo = {.root = w->root, .max_bytes = mb << 20};
    int rc = outbox_open(&oo, &w->ob, err, sizeof(err));
    struct upload_opts uo = {.cfg = &w->cfg,
                             .outbox = w->ob,
                             .part_size = PART,
                             .backoff_min_ms = 50,
                             .backoff_max_ms = 200};
    if (rc == 0)
        rc = upload_open(&uo, &w->up, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "# %s\n", err);
    return rc;
}

static void world_close(struct world *w, bool remove)
{
    upload_close(w->up);
    outbox_close(w->ob);
    w->up = NULL;
    w->ob = NULL;
    if (remove) {
        char sh[128];
        snprintf(sh, sizeof(sh), "rm -rf %s", w->root);
        if (system(sh) != 0)
            fprintf(stderr, "# could not remove %s\n", w->root);
    }
}

/* A dump of size bytes whose content says where each byte is. */
static int make_dump(const char *root, uint64_t size, char *path, size_t cap)
{
    snprintf(path, cap, "%s/java_pid7.hprof", root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    for (uint64_t off = 0; fd >= 0 && off < size; off += 8) {
        uint64_t v = off * 0x9E3779B97F4A7C15ull;
        if (write(fd, &v, size - off < 8 ? (size_t)(size - off) : 8) < 0)
            break;
    }
    return fd < 0 ? -errno : close(fd);
}

static void summary(struct artefact_meta *m)
{
    artefact_meta_init(m, ARTEFACT_OOM_HPROF);
    artefact_set(&m->service, "checkout");
    artefact_set(&m->k8s.pod_name, "checkout-1");
    m->pid = 4242;
    m->nspid = 7;
    m->end_ns = 1735787045ull * 1000000000ull; /* 2025-01-02T03:04:05Z */
    artefact_field_str(m, "message", "heap dump found");
}

static cJSON *state_of(const struct world *w, const char *id)
{
    char path[256], *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/" UPLOAD_DIR "/%s.json", w->root, id);
    if (fsutil_read_all(path, 1 << 20, &text, &len) < 0)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static int parts_done(const struct world *w, const char *id)
{
    cJSON *j = state_of(w, id);
    int n = j ? cJSON_GetArraySize(cJSON_GetObjectItem(j, "parts")) : -1;
    cJSON_Delete(j);
    return n;
}

static int attempts_of(const struct world *w, const char *id)
{
    cJSON *j = state_of(w, id);
    int n = j ? (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "attempts")) : -1;
    cJSON_Delete(j);
    return n;
}

/* Delivers what is due, then the path of the one flameshot_oom_hprof
 * record the local sink kept (under namespace/pod/container). */
static bool record_path(struct world *w, char *out, size_t cap)
{
    char pat[128];
    glob_t g;
    outbox_run_once(w->ob);
    snprintf(pat, sizeof(pat), "%s/profiles/_/checkout-1/_/oom_hprof_*.json", w->root);
    bool found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1;
    if (found)
        snprintf(out, cap, "%s", g.gl_pathv[0]);
    globfree(&g);
    return found;
}

static bool has_record(struct world *w)
{
    char path[256];
    return record_path(w, path, sizeof(path));
}

/* The fields of that record (caller cJSON_Delete's them), NULL if none. */
static cJSON *record_fields(struct world *w)
{
    char path[256], *text = NULL;
    size_t len;
    cJSON *j = NULL;
    if (!record_path(w, path, sizeof(path))) {
        char sh[160];
        snprintf(sh, sizeof(sh), "find %s/profiles -type f | sed 's/^/# /' >&2", w->root);
        if (system(sh) != 0)
            fprintf(stderr, "# no records\n");
        return NULL;
    }
    if (fsutil_read_all(path, 1 << 20, &text, &len) == 0)
        j = cJSON_Parse(text);
    free(text);
    cJSON *f = cJSON_DetachItemFromObject(cJSON_GetObjectItem(j, "summary"), "fields");
    cJSON_Delete(j);
    return f;
}

static const char *field(const cJSON *f, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(f, k));
}

static bool same_file(const char *a, const char *b)
{
    char sh[600];
    snprintf(sh, sizeof(sh), "cmp -s '%s' '%s'", a, b);
    return system(sh) == 0;
}

#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        uint64_t until_ = units_now_mono_ms() + WAIT_MS;                                           \
        while (!(cond) && units_now_mono_ms() < until_)                                            \
            usleep(10000);                                                                         \
        CHECK_MSG(cond, "timed out waiting for %s", #cond);                                        \
    } while (0)

static const char *const with_token[] = {"--token", "session/token+1=", NULL};

/* A server, a spool and one dump of size bytes submitted and started. */
struct scene {
    struct s3 s;
    struct world w;
    struct artefact_meta m;
    struct upload_receipt r;
    char dump[128];
};

static int scene_start(struct scene *c, const char *const *server_args, const char *secret,
                       uint64_t size)
{
    char err[256];
    memset(c, 0, sizeof(*c));
    summary(&c->m);
    int rc = s3_start(&c->s, server_args);
    rc = rc ?: world_open(&c->w, &c->s, secret, 64);
    rc = rc ?: make_dump(c->w.root, size, c->dump, sizeof(c->dump));
    rc = rc ?: upload_submit_file(c->w.up, c->dump, &c->m, &c->r, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "# scene: %s\n", strerror(-rc));
    return rc ?: upload_start(c->w.up);
}

static void scene_end(struct scene *c)
{
    artefact_meta_free(&c->m);
    world_close(&c->w, true);
    s3_kill(&c->s);
}

/* The object the server stored under the receipt's key is the dump. */
static bool stored(const struct scene *c)
{
    char obj[256];
    snprintf(obj, sizeof(obj), "%s/objects/%s", c->s.dir, c->r.key);
    return same_file(c->dump, obj);
}

static const char *const outage_503[] = {
    "--token", "session/token+1=", "--outage-after-parts", "1", "--outage", "503", NULL};
static const char *const outage_refuse[] = {
    "--token", "session/token+1=", "--outage-after-parts", "1", "--outage", "refuse", NULL};

TEST(multipart_resumes_after_an_outage_and_a_restart)
{
    NEED(have_botocore(), "needs /usr/bin/python3 with python3-botocore (tools/deps.sh)");
    struct scene c;
    char url[256];
    CHECK_EQ(scene_start(&c, outage_503, "secret/test+key", 2 * PART + 3), 0);
    CHECK_STREQ(c.r.key, "checkout/checkout-1/20250102T030405Z/java_pid7.hprof");
    /* part 1 is in, then every request gets 503: it is retried, not failed */
    WAIT_FOR(parts_done(&c.w, c.r.id) == 1 && attempts_of(&c.w, c.r.id) >= 2);
    CHECK_EQ(upload_pending(c.w.up), 1);
    world_close(&c.w, false); /* the agent stops */
    cJSON *st = state_of(&c.w, c.r.id);
    CHECK(st);
    CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(st, "key")), c.r.key);
    CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(st, "upload_id"))) > 0);
    CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(st, "last_error")),
                   "HTTP 503 SlowDown");
    cJSON_Delete(st);
    kill(c.s.pid, SIGUSR1); /* the store is back */
    CHECK_EQ(world_open(&c.w, &c.s, "secret/test+key", 64), 0);
    CHECK_EQ(upload_pending(c.w.up), 1);
    CHECK_EQ(upload_start(c.w.up), 0);
    WAIT_FOR(upload_pending(c.w.up) == 0);
    CHECK(stored(&c));
    CHECK_EQ(s3_count(&c.s, "CreateMultipartUpload", 0, 200), 1);
    CHECK_EQ(s3_count(&c.s, "UploadPart", 1, 200), 1); /* never sent twice */
    CHECK_EQ(s3_count(&c.s, "UploadPart", 3, 200), 1);
    CHECK_EQ(s3_count(&c.s, "CompleteMultipartUpload", 0, 200), 1);
    cJSON *f = record_fields(&c.w);
    CHECK(f);
    CHECK_STREQ(field(f, "hprof_upload_status"), "ok");
    CHECK_STREQ(field(f, "hprof_object_key"), c.r.key);
    CHECK_STREQ(field(f, "hprof_upload_error"), "");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/dumps/%s", c.s.port, c.r.key);
    CHECK_STREQ(field(f, "hprof_download_url"), url);
    cJSON_Delete(f);
    scene_end(&c);
}

TEST(an_upload_the_store_forgot_starts_again)
{
    NEED(have_botocore(), "needs /usr/bin/python3 with python3-botocore (tools/deps.sh)");
    struct scene c;
    CHECK_EQ(scene_start(&c, outage_refuse, "secret/test+key", PART + 1), 0);
    WAIT_FOR(parts_done(&c.w, c.r.id) == 1);
    world_close(&c.w, false);
    s3_kill(&c.s);
    CHECK_EQ(s3_start(&c.s, with_token), 0); /* same port, no memory of the upload */
    CHECK_EQ(world_open(&c.w, &c.s, "secret/test+key", 64), 0);
    CHECK_EQ(upload_start(c.w.up), 0);
    WAIT_FOR(upload_pending(c.w.up) == 0);
    CHECK(stored(&c));
    CHECK_EQ(s3_count(&c.s, "UploadPart", 2, 404), 1); /* NoSuchUpload */
    CHECK_EQ(s3_count(&c.s, "CreateMultipartUpload", 0, 200), 2);
    cJSON *f = record_fields(&c.w);
    CHECK(f && !strcmp(field(f, "hprof_upload_status"), "ok"));
    cJSON_Delete(f);
    scene_end(&c);
}

TEST(wrong_credentials_fail_at_once_and_say_why)
{
    NEED(have_botocore(), "needs /usr/bin/python3 with python3-botocore (tools/deps.sh)");
    struct scene c;
    CHECK_EQ(scene_start(&c, with_token, "not-the-secret", 1000), 0);
    WAIT_FOR(upload_pending(c.w.up) == 0);
    CHECK_EQ(s3_refused(&c.s, "SignatureDoesNotMatch"), 1); /* not retried */
    cJSON *f = record_fields(&c.w);
    CHECK(f);
    CHECK_STREQ(field(f, "hprof_upload_status"), "failed");
    CHECK_CONTAINS(field(f, "hprof_upload_error"), "HTTP 403 SignatureDoesNotMatch");
    cJSON_Delete(f);
    /* its budget is given back */
    struct outbox_stats os;
    outbox_stats(c.w.ob, &os);
    CHECK_EQ(os.reserved, 0);
    scene_end(&c);
}

TEST(small_dump_is_one_signed_put)
{
    NEED(have_botocore(), "needs /usr/bin/python3 with python3-botocore (tools/deps.sh)");
    struct scene c;
    CHECK_EQ(scene_start(&c, with_token, "secret/test+key", 4097), 0);
    WAIT_FOR(upload_pending(c.w.up) == 0);
    CHECK_EQ(s3_count(&c.s, "PutObject", 0, 200), 1);
    CHECK(stored(&c));
    scene_end(&c);
}

TEST(the_key_is_encoded_once_and_signed)
{
    NEED(have_botocore(), "needs /usr/bin/python3 with python3-botocore (tools/deps.sh)");
    struct scene c;
    char err[256];
    CHECK_EQ(scene_start(&c, with_token, "secret/test+key", 10), 0);
    artefact_set(&c.m.k8s.pod_name, "pod with space+plus");
    CHECK_EQ(upload_submit_file(c.w.up, c.dump, &c.m, &c.r, err, sizeof(err)), 0);
    CHECK_EQ(unlink(c.dump), 0); /* the caller may remove its file at once */
    WAIT_FOR(upload_pending(c.w.up) == 0);
    CHECK_EQ(s3_count(&c.s, "PutObject", 0, 200), 2);
    CHECK_CONTAINS(c.r.download_url, "/pod%20with%20space%2Bplus/");
    CHECK_EQ(make_dump(c.w.root, 10, c.dump, sizeof(c.dump)), 0);
    CHECK(stored(&c));
    scene_end(&c);
}

TEST(the_disk_budget_bounds_dumps)
{
    struct s3 s = {.port = 9}; /* never reached */
    struct world w = {0};
    struct artefact_meta m;
    char err[256], dump[128];
    CHECK_EQ(world_open(&w, &s, "x", 1), 0);
    CHECK_EQ(make_dump(w.root, 2u << 20, dump, sizeof(dump)), 0);
    summary(&m);
    CHECK_EQ(upload_submit_file(w.up, dump, &m, NULL, err, sizeof(err)), -EFBIG);
    CHECK_CONTAINS(err, "FLAMESHOT_SPOOL_MAX_MB");
    CHECK_EQ(upload_pending(w.up), 0);
    struct outbox_stats os;
    outbox_stats(w.ob, &os);
    CHECK_EQ(os.reserved, 0);
    CHECK_EQ(upload_fill_failed(&m, "s3", err), 0);
    CHECK_STREQ(artefact_field_get(&m, "hprof_upload_status")->s, "failed");
    artefact_meta_free(&m);
    world_close(&w, true);
}

TEST(the_record_does_not_wait_past_the_timeout)
{
    struct s3 s = {.port = 9}; /* nothing listens: connection refused, retried */
    struct world w = {0};
    struct artefact_meta m;
    struct upload_receipt r;
    char err[256], dump[128];
    CHECK_EQ(world_open(&w, &s, "x", 64), 0);
    w.cfg.hprof_upload.timeout_ms = 1000; /* FLAMESHOT_HPROF_UPLOAD_TIMEOUT's minimum */
    CHECK_EQ(make_dump(w.root, 100, dump, sizeof(dump)), 0);
    summary(&m);
    CHECK_EQ(upload_submit_file(w.up, dump, &m, &r, err, sizeof(err)), 0);
    CHECK_EQ(upload_start(w.up), 0);
    WAIT_FOR(has_record(&w));
    cJSON *f = record_fields(&w);
    CHECK_STREQ(field(f, "hprof_upload_status"), "retrying");
    CHECK_CONTAINS(field(f, "hprof_upload_error"), "connect");
    CHECK_STREQ(field(f, "hprof_object_key"), r.key);
    cJSON_Delete(f);
    CHECK_EQ(upload_pending(w.up), 1); /* the upload itself goes on */
    artefact_meta_free(&m);
    world_close(&w, true);
}

TEST(a_link_is_never_taken_into_the_spool)
{
    struct s3 s = {.port = 9}; /* never reached */
    struct world w = {0};
    struct artefact_meta m;
    char err[256], link[128];
    CHECK_EQ(world_open(&w, &s, "x", 64), 0);
    snprintf(link, sizeof(link), "%s/java_pid7.hprof", w.root);
    CHECK_EQ(symlink("/etc/passwd", link), 0);
    summary(&m);
    CHECK_EQ(upload_submit_file(w.up, link, &m, NULL, err, sizeof(err)), -ELOOP);
    CHECK_EQ(upload_pending(w.up), 0);
    artefact_meta_free(&m);
    world_close(&w, true);
}

TEST_MAIN(multipart_resumes_after_an_outage_and_a_restart, an_upload_the_store_forgot_starts_again,
          wrong_credentials_fail_at_once_and_say_why, small_dump_is_one_signed_put,
          the_key_is_encoded_once_and_signed, the_disk_budget_bounds_dumps,
          a_link_is_never_taken_into_the_spool, the_record_does_not_wait_past_the_timeout)
