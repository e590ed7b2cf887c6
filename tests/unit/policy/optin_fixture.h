/* optin_fixture: one Pod, shop/api-0 (OPTIN_UID; container "app",
 * OPTIN_CID), in a real podcache and podtable, to be opted in and out (or
 * deleted) the way the API server's watch would, for the tests of what
 * must never attach outside an opted-in Pod. */
#ifndef FS_TEST_OPTIN_FIXTURE_H
#define FS_TEST_OPTIN_FIXTURE_H

#include "kube/podtable.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>

#define OPTIN_UID "0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b"
#define OPTIN_CID "aa00000000000000000000000000000000000000000000000000000000000001"
#define OPTIN_ON  "\"flameshot.io/enabled\":\"true\""

struct optin {
    struct podcache *cache;
    struct podtable *pt;
    int rv; /* the Pod's resourceVersion, bumped by every change */
};

/* The Pod with annotations (a JSON object's members, may be "") into the
 * cache; deleted: as a DELETED event. Then the table's sync, as the
 * monitor's tick does. 0 or -errno. */
static inline int optin_set(struct optin *o, const char *annotations, bool deleted)
{
    char js[1024], err[256];
    struct pod p;
    snprintf(js, sizeof(js),
             "{\"metadata\":{\"uid\":\"" OPTIN_UID "\",\"namespace\":\"shop\",\"name\":\"api-0\","
             "\"resourceVersion\":\"%d\",\"annotations\":{%s}},"
             "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"app\","
             "\"restartCount\":0,\"containerID\":\"containerd://" OPTIN_CID "\"}]}}",
             ++o->rv, annotations);
    cJSON *j = cJSON_Parse(js);
    int rc = j ? pod_parse(j, &p, err, sizeof(err)) : -EINVAL;
    cJSON_Delete(j);
    if (rc == 0)
        rc = deleted ? podcache_delete(o->cache, &p, 0) : podcache_put(o->cache, &p, 0);
    return rc ?: (podtable_sync(o->pt, 0, NULL, NULL) < 0 ? -ENOMEM : 0);
}

/* The table for cfg with the Pod opted in. 0 or -errno. */
static inline int optin_open(struct optin *o, const struct config *cfg)
{
    *o = (struct optin){0};
    o->cache = podcache_new(0);
    o->pt = o->cache ? podtable_new(cfg, o->cache, NULL) : NULL;
    return o->pt ? optin_set(o, OPTIN_ON, false) : -ENOMEM;
}

/* A reference to the Pod's configuration in force (NULL when none). */
static inline struct podref *optin_ref(struct optin *o)
{
    return podtable_lookup(o->pt, OPTIN_UID);
}

static inline void optin_close(struct optin *o)
{
    podtable_free(o->pt);
    podcache_free(o->cache);
}

#endif
