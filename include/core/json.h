/* json: the few cJSON additions every JSON-producing module wants, so
 * times, durations and optional strings look the same everywhere. */
#ifndef FS_CORE_JSON_H
#define FS_CORE_JSON_H

#include <stdint.h>

struct cJSON;

/* key: RFC 3339 with nanoseconds (UTC), or null when ns is 0. */
void json_add_time(struct cJSON *o, const char *key, uint64_t ns);

/* key: a duration as configured ("1m30s", "500ms"). */
void json_add_duration(struct cJSON *o, const char *key, uint64_t ms);

/* key: v, or null when v is NULL. */
void json_add_str_or_null(struct cJSON *o, const char *key, const char *v);

#endif
