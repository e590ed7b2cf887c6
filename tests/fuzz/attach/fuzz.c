/* fuzz_attach: a JVM's replies on the attach socket (capture/attach.h):
 * the status line is a line inside the reply or -EPROTO, a load reply is
 * one of the four documented outcomes with an agent code that agrees; a
 * request built from the input's lines is framed within its buffer as
 * "1\0cmd\0arg\0arg\0arg\0" or refused. */
#include "capture/attach.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>

static void frame(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size), *parts[4] = {s, NULL, NULL, NULL};
    for (int i = 1; i < 4 && parts[i - 1]; i++) {
        char *nl = strchr(parts[i - 1], '\n');
        if (nl)
            *nl = '\0', parts[i] = nl + 1;
    }
    const char *const args[ATTACH_NARGS] = {parts[1], parts[2], parts[3]};
    char buf[4 + ATTACH_NAME_MAX + ATTACH_NARGS * (ATTACH_ARG_MAX + 1)], err[96] = "";
    size_t len = 0;
    int rc = attach_frame(parts[0], args, buf, sizeof(buf), &len, err, sizeof(err));
    FUZZ_TERMINATED(err);
    FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -EINVAL);
    if (rc) {
        FUZZ_CHECK(err[0]);
        free(s);
        return;
    }
    FUZZ_CHECK(len <= sizeof(buf) && len >= 2 && !memcmp(buf, "1", 2));
    size_t off = 2;
    for (int i = 0; i < 4; i++) {
        const char *want = parts[i] ? parts[i] : "";
        size_t n = strlen(want);
        FUZZ_CHECK(off + n < len && !memcmp(buf + off, want, n) && !buf[off + n]);
        off += n + 1;
    }
    FUZZ_CHECK(off == len);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *reply = (const char *)data;
    int code = -1;
    int rc = attach_parse_status(reply, size, &code);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO || (rc > 0 && (size_t)rc <= size && reply[rc - 1] == '\n'));

    int agent_rc = 12345;
    char err[128] = "";
    rc = attach_parse_load(reply, size, &agent_rc, err, sizeof(err));
    FUZZ_TERMINATED(err);
    FUZZ_CHECK(rc == 0 || rc == -EIO || rc == -ENOEXEC || rc == -EPROTO);
    FUZZ_CHECK(rc != 0 || agent_rc == 0);
    FUZZ_CHECK(rc != -EIO || agent_rc != 0);

    frame(data, size);
    return 0;
}
