#include "core/json.h"

#include "core/units.h"

#include <cjson/cJSON.h>

void json_add_time(cJSON *o, const char *key, uint64_t ns)
{
    char b[64];
    if (ns)
        cJSON_AddStringToObject(o, key, units_rfc3339nano(ns, b, sizeof(b)));
    else
        cJSON_AddNullToObject(o, key);
}

void json_add_duration(cJSON *o, const char *key, uint64_t ms)
{
    char b[32];
    cJSON_AddStringToObject(o, key, units_format_duration(ms, b, sizeof(b)));
}

void json_add_str_or_null(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}
