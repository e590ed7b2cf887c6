#include "capture/journal.h"

#include "core/fsutil.h"
#include "core/log.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD       "journal"
#define ENTRY_MAX (64u << 10) /* an entry is < 20 KiB escaped; anything larger is not ours */

struct journal {
    char dir[PATH_MAX - 80];
    atomic_uint seq;
};

int journal_open(const char *dir, struct journal **out)
{
    *out = NULL;
    if (strlen(dir) >= sizeof(((struct journal *)0)->dir))
        return -ENAMETOOLONG;
    int rc = fsutil_mkdirs(dir, 0700);
    if (rc < 0)
        return rc;
    struct journal *jn = calloc(1, sizeof(*jn));
    if (!jn)
        return -ENOMEM;
    snprintf(jn->dir, sizeof(jn->dir), "%s", dir);
    *out = jn;
    return 0;
}

void journal_close(struct journal *jn)
{
    free(jn);
}

static void path_of(const struct journal *jn, const char *id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s.json", jn->dir, id);
}

/* The fields of an entry, for both directions. */
#define STR_FIELDS(X)                                                                              \
    X(dir) X(jfr) X(log) X(recording) X(staged) X(repos_before) X(dump) X(node_part)

char *journal_format(const struct journal_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pid", e->proc.pid);
    cJSON_AddNumberToObject(o, "nspid", e->proc.nspid);
    cJSON_AddNumberToObject(o, "start_time", (double)e->proc.start_time);
    cJSON_AddNumberToObject(o, "uid", e->proc.uid);
    cJSON_AddNumberToObject(o, "gid", e->proc.gid);
    cJSON_AddStringToObject(o, "comm", e->proc.comm);
#define ADD(f) cJSON_AddStringToObject(o, #f, e->f);
    STR_FIELDS(ADD)
#undef ADD
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int get_num(const cJSON *o, const char *key, double lo, double hi, double *v)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(n) || n->valuedouble < lo || n->valuedouble > hi)
        return -EINVAL;
    *v = n->valuedouble;
    return 0;
}

static int get_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(s) || strlen(s->valuestring) >= cap)
        return -EINVAL;
    memcpy(buf, s->valuestring, strlen(s->valuestring) + 1);
    return 0;
}

static int parse_proc(const cJSON *o, struct proc_ident *p)
{
    double pid = 0, nspid = 0, st = 0, uid = 0, gid = 0;
    int rc = get_num(o, "pid", 1, INT_MAX, &pid);
    rc = rc ?: get_num(o, "nspid", 0, INT_MAX, &nspid);
    rc = rc ?: get_num(o, "start_time", 0, 9007199254740992.0, &st);
    rc = rc ?: get_num(o, "uid", 0, UINT32_MAX, &uid);
    rc = rc ?: get_num(o, "gid", 0, UINT32_MAX, &gid);
    rc = rc ?: get_str(o, "comm", p->comm, sizeof(p->comm));
    p->pid = (int)pid;
    p->nspid = (int)nspid;
    p->start_time = (uint64_t)st;
    p->uid = (uid_t)uid;
    p->gid = (gid_t)gid;
    return rc;
}

int journal_parse(const char *text, struct journal_entry *e)
{
    memset(e, 0, sizeof(*e));
    cJSON *o = cJSON_Parse(text);
    int rc = cJSON_IsObject(o) ? parse_proc(o, &e->proc) : -EINVAL;
#define GET(f) rc = rc ?: get_str(o, #f, e->f, sizeof(e->f));
    STR_FIELDS(GET)
#undef GET
    cJSON_Delete(o);
    return rc;
}

int journal_write(struct journal *jn, struct journal_entry *e)
{
    if (!jn)
        return 0;
    if (!e->id[0])
        snprintf(e->id, sizeof(e->id), "%d-%llu-%u", e->proc.pid,
                 (unsigned long long)e->proc.start_time, atomic_fetch_add(&jn->seq, 1));
    char path[PATH_MAX], *text = journal_format(e);
    if (!text)
        return -ENOMEM;
    path_of(jn, e->id, path, sizeof(path));
    int rc = fsutil_write_atomic(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

int journal_remove(struct journal *jn, const struct journal_entry *e)
{
    char path[PATH_MAX];
    if (!jn || !e->id[0])
        return 0;
    path_of(jn, e->id, path, sizeof(path));
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* One file of the directory: an entry is handed to fn, then removed;
 * anything else of ours goes at once. */
static int drain_one(struct journal *jn, const char *name, journal_fn fn, void *arg)
{
    char path[PATH_MAX], *text = NULL;
    size_t len = strlen(name);
    struct journal_entry e;
    snprintf(path, sizeof(path), "%s/%s", jn->dir, name);
    if (fsutil_is_atomic_temp(name)) {
        unlink(path);
        return 0;
    }
    if (len <= 5 || strcmp(name + len - 5, ".json") != 0)
        return 0;
    int rc = fsutil_read_all(path, ENTRY_MAX, &text, NULL);
    rc = rc ?: journal_parse(text, &e);
    free(text);
    if (rc < 0)
        log_warn(MOD, "%s: unreadable (%s), removed", path, strerror(-rc));
    else {
        snprintf(e.id, sizeof(e.id), "%.*s", (int)(len - 5), name);
        fn(&e, arg);
    }
    unlink(path);
    return rc < 0 ? 0 : 1;
}

int journal_drain(struct journal *jn, journal_fn fn, void *arg)
{
    struct dirent **names = NULL;
    int n = scandir(jn->dir, &names, NULL, by_name), seen = 0;
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.')
            seen += drain_one(jn, names[i]->d_name, fn, arg);
        free(names[i]);
    }
    free(names);
    return seen;
}
