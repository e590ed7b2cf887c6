/* kube_fixture: the Pod JSON fixtures of tests/data/kube (as the API
 * server returns them), read and parsed for the kube unit tests. */
#ifndef FS_TEST_KUBE_FIXTURE_H
#define FS_TEST_KUBE_FIXTURE_H

#include "core/fsutil.h"
#include "kube/pod.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define KUBE_DATA "tests/data/kube/"

/* FLAMESHOT_* values for config_load: arg is "NAME=value" entries,
 * NULL-ended */
static inline const char *kf_env_get(const char *name, void *arg)
{
    size_t n = strlen(name);
    for (const char *const *e = arg; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* The fixture's bytes (malloc'd, NUL-terminated) or NULL; *len its size. */
static inline char *kf_read(const char *name, size_t *len)
{
    char path[256], *buf = NULL;
    size_t n = 0;
    snprintf(path, sizeof(path), KUBE_DATA "%s", name);
    if (fsutil_read_all(path, 16u << 20, &buf, &n) != 0)
        return NULL;
    if (len)
        *len = n;
    return buf;
}

static inline cJSON *kf_json(const char *name)
{
    char *s = kf_read(name, NULL);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}

/* pod_parse of a fixture. Returns its result (-ENOENT: no such fixture). */
static inline int kf_pod(const char *name, struct pod *out)
{
    cJSON *j = kf_json(name);
    if (!j)
        return -ENOENT;
    char err[256];
    int rc = pod_parse(j, out, err, sizeof(err));
    cJSON_Delete(j);
    return rc;
}

/* the container IDs of the fixtures (sha256 of a name, as the generator
 * made them) */
#define CID_SHOP_API   "982d4486a936e2e63d7985287730247ad18514560524c8e0f7cc769dcea7dec8"
#define CID_SHOP_API_2 "e666c5d47678caf11b949f2168eb95ae09ff1ec8d5dddc87515ccf185581f837"
#define CID_MIGRATE    "325e786b63e8007104ca86e9a97ce5b4afd941a2377966ce7b599f8fc788ba02"
#define CID_ORDERS_DB  "2adfdbb6f02becbf221291a5907e47da5df07e52fb8ae782bf4e1a21ad93ce1d"
#define CID_DEBUGGER   "a9501247011f5b450a55b169f30f2cc9bea5014395265e57c37e0dee3f0fc73d"
#define CID_APISERVER  "8fa8c3a431ee4c139617ddd7a142a179a95edab4f317a427a31eceab4c9d5d01"
#define CID_LEGACY     "9c279a14e470e3c7c5a7785e0c1019b37082900e89afa08cafcd1fd6f5f93d3f"

#define UID_SHOP    "471203d1-984f-477e-9c35-db96487ffe5e"
#define UID_ORDERS  "897277d4-5e6f-4999-a976-b8340e8d075e"
#define UID_REPORT  "c5a8f2d0-31e4-4f0a-9d6c-7b2e1a4f8c93"
#define UID_STATIC  "2f7c3e1a-6b4d-4f8e-9a0c-1d2e3f4a5b6c"
#define HASH_STATIC "09a70ae9ccc491e651e5c773579b3490"

#endif
