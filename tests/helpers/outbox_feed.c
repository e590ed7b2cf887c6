/* outbox_feed: drives the real outbox from the command line, for the
 * integration tests (before and besides the daemon): queue artefacts, run
 * the delivery thread for a while, print the stats. Being a separate
 * process, it can be SIGKILLed mid-delivery and restarted.
 *
 *   outbox_feed --root DIR [--datakit URL] [--spool-max-bytes N]
 *               [--backoff-min-ms N] [--backoff-max-ms N] [--seq-start N]
 *               [--service S] [--k8s] [--library-version V] [--jdk-version V]
 *               COMMAND...
 * commands, run in order:
 *   put-profile FILE N    N profiles whose JFR is a copy of FILE
 *   put-snapshot FILE N   N jcmd thread_print snapshots of the text in FILE
 *   put-summary KIND N    N summaries (oom_hprof | process_exit)
 *   run-for SECONDS       delivery thread for that long
 *   run-until-empty SECS  delivery thread until nothing is pending (exit 3
 *                         if something still is after SECS)
 *   stats                 print outbox_stats_json
 * Every artefact carries the rule tag seq:<n> (n from --seq-start, +1 each)
 * so that a receiver can tell duplicates from distinct artefacts. */
#include "core/log.h"
#include "outbox/outbox.h"
#include "core/units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FEED_MAX_BYTES (1ull << 40) /* the files fed are the test's own: no cap but the budget */

struct feed {
    struct outbox *ob;
    long seq;
    const char *service;
    const char *library_version;
    const char *jdk_version;
    int k8s;
};

static void identity(struct feed *f, struct artefact_meta *m, enum artefact_kind kind)
{
    char seq[32];
    artefact_meta_init(m, kind);
    artefact_set(&m->service, f->service);
    artefact_set(&m->host, "node-feed");
    m->pid = 4000 + (int)(f->seq % 1000);
    m->nspid = 7;
    artefact_set(&m->process_name, "java");
    artefact_set(&m->jdk_version, f->jdk_version);
    tags_set(&m->trigger_tags, "trigger", "memory_emergency");
    tags_set(&m->trigger_tags, "mem_used_emergency", "812.50");
    tags_set(&m->trigger_tags, "mem_perc_emergency", "96.10");
    tags_set(&m->global_tags, "env", "test");
    tags_set(&m->global_tags, "cluster", "ci, east");
    snprintf(seq, sizeof(seq), "%ld", f->seq++);
    tags_set(&m->rule_tags, "seq", seq);
    tags_set(&m->rule_tags, "version", "1.2.3");
    if (f->k8s) {
        artefact_set(&m->k8s.pod_name, "orders-7f9c");
        artefact_set(&m->k8s.pod_namespace, "shop");
        artefact_set(&m->k8s.pod_uid, "5c1e0b6c-1111-2222-3333-444455556666");
        artefact_set(&m->k8s.container_name, "app");
        artefact_set(&m->k8s.container_id, "containerd://abc123");
    }
    m->end_ns = units_now_real_ns();
    m->start_ns = m->end_ns - 2000000000ull;
}

static int put_file(struct feed *f, enum artefact_kind kind, const char *file)
{
    struct artefact_meta m;
    struct outbox_tx tx;
    struct outbox_receipt r;
    char err[256];
    int in = open(file, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    identity(f, &m, kind);
    if (kind == ARTEFACT_PROFILE) {
        artefact_set(&m.library_type, "jfr");
        artefact_set(&m.library_version, f->library_version);
    } else {
        artefact_field_str(&m, "snapshot_type", "thread_print");
        artefact_field_str(&m, "preview",
                           "\"main\" #1 prio=5 os_prio=0\n"
                           "   java.lang.Thread.State: RUNNABLE\n"
                           "\tat Burn.main(Burn.java:3) \\ \"quoted\", a=b");
        artefact_field_str(&m, "process_name", "java");
        artefact_field_float(&m, "cgroup_mem_percent", 96.1);
    }
    int rc = outbox_begin(f->ob, FEED_MAX_BYTES, &tx);
    if (rc < 0)
        outbox_abort(f->ob, &tx);
    if (rc == 0 && bounded_copy_fd(&tx.out, in) < 0) {
        outbox_abort(f->ob, &tx);
        rc = -EIO;
    }
    if (rc == 0 && (rc = outbox_commit(f->ob, &tx, &m, &r, err, sizeof(err))) < 0)
        fprintf(stderr, "feed: commit: %s\n", err);
    if (rc == 0)
        printf("queued %s %s local=%s\n", artefact_kind_name(kind), r.id, r.local_path);
    close(in);
    artefact_meta_free(&m);
    return rc;
}

static int put_summary(struct feed *f, const char *kind_name)
{
    struct artefact_meta m;
    struct outbox_receipt r;
    char err[256];
    int kind = artefact_kind_parse(kind_name);
    if (kind != ARTEFACT_OOM_HPROF && kind != ARTEFACT_PROCESS_EXIT)
        return -EINVAL;
    identity(f, &m, (enum artefact_kind)kind);
    if (kind == ARTEFACT_OOM_HPROF) {
        artefact_field_str(&m, "message",
                           "OOM detected via cgroup oom_kill, heap dump found at "
                           "/data/dumps/app.hprof (123 bytes)");
        artefact_field_str(&m, "hprof_path", "/data/dumps/app.hprof");
        artefact_field_int(&m, "hprof_size_bytes", 123);
        artefact_field_int(&m, "oom_kill_delta", 1);
        artefact_field_str(&m, "matched_by", "path+time_window");
    } else {
        artefact_field_str(&m, "message",
                           "process exit detected for pid=7 service=feed "
                           "reason=oom_kill");
        artefact_field_str(&m, "exit_signal", "SIGKILL");
        artefact_field_str(&m, "last_samples", "[{\"rss_mb\":812.5,\"cpu\":97.2}]");
        artefact_field_str(&m, "last_artefacts", "profile_7_20261121_162200.jfr");
    }
    artefact_field_str(&m, "process_name", "java");
    int rc = outbox_put_summary(f->ob, &m, &r, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "feed: put_summary: %s\n", err);
    else
        printf("queued %s %s\n", kind_name, r.id);
    artefact_meta_free(&m);
    return rc;
}

static void print_stats(struct outbox *ob)
{
    cJSON *j = outbox_stats_json(ob);
    char *s = cJSON_PrintUnformatted(j);
    printf("stats %s\n", s);
    fflush(stdout);
    free(s);
    cJSON_Delete(j);
}

static int run(struct feed *f, const char *cmd, const char *arg)
{
    int secs = atoi(arg);
    int rc = outbox_start(f->ob);
    if (rc < 0)
        return rc;
    if (!strcmp(cmd, "run-for"))
        sleep((unsigned)secs);
    else
        rc = outbox_flush(f->ob, (uint64_t)secs * 1000) == 0 ? 0 : 3;
    outbox_stop(f->ob);
    print_stats(f->ob);
    return rc;
}

static int command(struct feed *f, char **argv, int argc, int *i)
{
    const char *cmd = argv[*i];
    int rc = 0;
    if (!strcmp(cmd, "stats")) {
        print_stats(f->ob);
        return 0;
    }
    if (*i + 1 >= argc)
        return -EINVAL;
    const char *a1 = argv[++*i];
    if (!strcmp(cmd, "run-for") || !strcmp(cmd, "run-until-empty"))
        return run(f, cmd, a1);
    if (*i + 1 >= argc)
        return -EINVAL;
    long n = atol(argv[++*i]);
    for (long k = 0; rc == 0 && k < n; k++) {
        if (!strcmp(cmd, "put-profile"))
            rc = put_file(f, ARTEFACT_PROFILE, a1);
        else if (!strcmp(cmd, "put-snapshot"))
            rc = put_file(f, ARTEFACT_JCMD_SNAPSHOT, a1);
        else if (!strcmp(cmd, "put-summary"))
            rc = put_summary(f, a1);
        else
            rc = -EINVAL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct outbox_opts o = {0};
    struct feed f = {.seq = 1, .service = "feed-svc", .library_version = "17"};
    char err[256];
    int i = 1;
    log_set_level(getenv("FEED_DEBUG") ? LOG_DEBUG : LOG_INFO);
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(opt, "--k8s")) {
            f.k8s = 1;
            continue;
        }
        i++;
        if (!strcmp(opt, "--root"))
            o.root = v;
        else if (!strcmp(opt, "--datakit"))
            o.datakit_addr = v;
        else if (!strcmp(opt, "--spool-max-bytes"))
            o.max_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(opt, "--backoff-min-ms"))
            o.backoff_min_ms = strtoull(v, NULL, 10);
        else if (!strcmp(opt, "--backoff-max-ms"))
            o.backoff_max_ms = strtoull(v, NULL, 10);
        else if (!strcmp(opt, "--seq-start"))
            f.seq = atol(v);
        else if (!strcmp(opt, "--service"))
            f.service = v;
        else if (!strcmp(opt, "--library-version"))
            f.library_version = v;
        else if (!strcmp(opt, "--jdk-version"))
            f.jdk_version = v;
        else {
            fprintf(stderr, "feed: unknown option %s\n", opt);
            return 2;
        }
    }
    if (!o.root) {
        fprintf(stderr, "feed: --root is required\n");
        return 2;
    }
    if (outbox_open(&o, &f.ob, err, sizeof(err)) < 0) {
        fprintf(stderr, "feed: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (; rc == 0 && i < argc; i++)
        rc = command(&f, argv, argc, &i);
    outbox_close(f.ob);
    if (rc < 0)
        fprintf(stderr, "feed: %s\n", strerror(-rc));
    return rc == 0 ? 0 : rc > 0 ? rc : 1;
}
