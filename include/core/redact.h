/* redact: a process's command line as the HTTP API may show it. Values
 * that look secret are replaced by "***" so that /v1/targets (readable by
 * whoever reaches the API) does not hand out the passwords and tokens
 * that applications take on their command line:
 *
 *   key=value        the key (the run of [A-Za-z0-9._-] before '=', e.g.
 *                    -Ddb.password, --api-key, a query parameter) contains
 *                    token, secret, passwd, password, pwd, credential,
 *                    apikey or api_key, or ends with "key". A key that
 *                    starts the argument hides the rest of it; one inside
 *                    it (jdbc:...?user=a&password=b) its value up to the
 *                    next & ; , or blank.
 *   scheme://user:password@host   the password.
 *   --password x     a flag of its own (-x or --x, not -D or -X) whose
 *                    name is such a key hides the next argument whole.
 *
 * The heuristics err towards hiding: a harmless value may be hidden, a
 * secret under another name (e.g. -Dauth=...) is not recognised. */
#ifndef FS_CORE_REDACT_H
#define FS_CORE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* The raw NUL-separated argv (as /proc/<pid>/cmdline) joined by spaces as
 * procfs_argv_join() joins it, with secret-looking values replaced by
 * "***". *redacted tells whether anything was replaced. Returns a malloc'd
 * string (caller frees), or NULL when len is 0 or out of memory. */
char *redact_argv(const char *argv, size_t len, bool *redacted);

/* True when a key (or a flag's name, dashes included) looks secret by the
 * rules above. */
bool redact_secret_key(const char *key, size_t len);

#endif
