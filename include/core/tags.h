/* tags: "k:v" lists as Flameshot and DataKit use them. Parsing tolerates
 * spaces around items and around the colon ("host: node_a, pod:p"); the
 * value may itself contain ':' (split at the first one). */
#ifndef FS_TAGS_H
#define FS_TAGS_H

#include <stddef.h>

struct tag {
    char *key;
    char *value;
};

struct tags {
    struct tag *items;
    size_t n;
};

/* Parses one "k:v" item. Returns 0, or -EINVAL with a static reason. */
int tags_parse_item(const char *item, char **key, char **value, const char **why);

/* Parses a comma-separated list. On error returns -EINVAL and sets *bad_index
 * to the 0-based item index and *why to a static reason. */
int tags_parse_list(const char *list, struct tags *out, size_t *bad_index, const char **why);

/* Adds (or replaces, when the key exists) key=value; copies both.
 * Returns 0 or -ENOMEM. */
int tags_set(struct tags *t, const char *key, const char *value);

/* Returns the value for key or NULL. */
const char *tags_get(const struct tags *t, const char *key);

/* Appends every tag of src into dst (src wins on a shared key). */
int tags_merge(struct tags *dst, const struct tags *src);

void tags_free(struct tags *t);

/* DataKit's tags_profiler is "k:v,k:v": keys lose spaces, commas and
 * colons; values lose commas and newlines (replaced by '_' / ' ').
 * Writes a malloc'd string to *out. 0 or -ENOMEM. */
int tags_join_profiler(const struct tags *t, char **out);

/* Sanitises in place as tags_join_profiler does. */
void tags_sanitize_key(char *key);
void tags_sanitize_value(char *value);

#endif
