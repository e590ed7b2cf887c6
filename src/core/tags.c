#include "core/tags.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *strip_dup(const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

int tags_parse_item(const char *item, char **key, char **value, const char **why)
{
    const char *colon = strchr(item, ':');
    if (!colon) {
        *why = "expected key:value";
        return -EINVAL;
    }
    char *k = strip_dup(item, (size_t)(colon - item));
    char *v = strip_dup(colon + 1, strlen(colon + 1));
    if (!k || !v) {
        free(k);
        free(v);
        *why = "out of memory";
        return -ENOMEM;
    }
    if (!*k) {
        *why = "empty key";
    } else if (strpbrk(k, " \t,=")) {
        *why = "key contains a space, ',' or '='";
    } else if (!*v) {
        *why = "empty value";
    } else {
        *key = k;
        *value = v;
        return 0;
    }
    free(k);
    free(v);
    return -EINVAL;
}

int tags_parse_list(const char *list, struct tags *out, size_t *bad_index, const char **why)
{
    memset(out, 0, sizeof(*out));
    const char *p = list;
    size_t idx = 0;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = strndup(p, len), *k, *v;
        if (!item)
            return -ENOMEM;
        int rc = tags_parse_item(item, &k, &v, why);
        free(item);
        if (rc == 0) {
            rc = tags_set(out, k, v);
            free(k);
            free(v);
        }
        if (rc < 0) {
            *bad_index = idx;
            tags_free(out);
            return rc;
        }
        p = comma ? comma + 1 : NULL;
        idx++;
    }
    return 0;
}

int tags_set(struct tags *t, const char *key, const char *value)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->items[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return -ENOMEM;
            free(t->items[i].value);
            t->items[i].value = v;
            return 0;
        }
    }
    struct tag *n = realloc(t->items, (t->n + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    t->items = n;
    n[t->n].key = strdup(key);
    n[t->n].value = strdup(value);
    if (!n[t->n].key || !n[t->n].value) {
        free(n[t->n].key);
        free(n[t->n].value);
        return -ENOMEM;
    }
    t->n++;
    return 0;
}

const char *tags_get(const struct tags *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].key, key) == 0)
            return t->items[i].value;
    return NULL;
}

int tags_merge(struct tags *dst, const struct tags *src)
{
    for (size_t i = 0; i < src->n; i++) {
        int rc = tags_set(dst, src->items[i].key, src->items[i].value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void tags_free(struct tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->items[i].key);
        free(t->items[i].value);
    }
    free(t->items);
    t->items = NULL;
    t->n = 0;
}

void tags_sanitize_key(char *key)
{
    for (char *p = key; *p; p++)
        if (*p == ',' || *p == ':' || isspace((unsigned char)*p))
            *p = '_';
}

void tags_sanitize_value(char *value)
{
    for (char *p = value; *p; p++) {
        if (*p == ',')
            *p = '_';
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    }
}

int tags_join_profiler(const struct tags *t, char **out)
{
    size_t cap = 1;
    for (size_t i = 0; i < t->n; i++)
        cap += strlen(t->items[i].key) + strlen(t->items[i].value) + 2;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            *p++ = ',';
        char *k = p;
        p = stpcpy(p, t->items[i].key);
        *p = '\0';
        tags_sanitize_key(k);
        *p++ = ':';
        char *v = p;
        p = stpcpy(p, t->items[i].value);
        tags_sanitize_value(v);
    }
    *p = '\0';
    *out = buf;
    return 0;
}
