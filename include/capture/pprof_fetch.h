/* pprof_fetch: Go profiles pulled from a target's net/http/pprof handlers
 * the way Flameshot pulls them (its go_pprof.go: the same paths, query,
 * order, cap and timeout), but from inside the target's network
 * namespace: Flameshot's sidecar shared the Pod's network and reached
 * 127.0.0.1:6060; the node agent does not, so a confined child
 * (nsexec.h) enters the target's network namespace (that alone: not its
 * mount or PID namespace), drops to the target's uid/gid and every
 * capability, and makes each request there as a plain HTTP/1.1 client
 * (httpget.h says why not libcurl). A Pod need not expose pprof on any
 * address: 127.0.0.1 inside its network is enough.
 *
 * Each response body goes to a memfd of ours the child writes into, never
 * past max_bytes; the parent reads them back. Types are pulled one after
 * another in the order cpu, goroutine, heap, mutex, block; a failed type
 * does not stop the next (Flameshot's runGoPProf), a cancel does. */
#ifndef FS_PPROF_FETCH_H
#define FS_PPROF_FETCH_H

#include "core/httpurl.h"
#include "core/rules.h"
#include "events/procfs.h"

#include <stddef.h>
#include <stdint.h>

/* Flameshot's cap for one response (defaultGoPProfMaxBytes). */
#define PPROF_FETCH_MAX_BYTES (128ull << 20)

struct pprof_fetch_req {
    const char *url;      /* the rule's pprof_url */
    unsigned types;       /* RULE_PPROF_* */
    uint64_t duration_ms; /* the cpu profile's length: seconds=duration/1000 (at least 1) */
    uint64_t timeout_ms;  /* each request, connect to last byte (rule_pprof_timeout) */
    uint64_t max_bytes;   /* each response body; 0: PPROF_FETCH_MAX_BYTES */
    int cancel_fd;        /* readable: stop now; -1: none */
};

struct pprof_pull {
    int rc;          /* 0; -ENODATA: not asked or not reached; -EIO: a status other than
                        200; -EFBIG: past max_bytes; httpget's -errno otherwise */
    int status;      /* HTTP status; 0 without a response */
    char error[320]; /* why it failed: "HTTP 404: Unknown profile", "connect: ..." */
    void *data;      /* the body when rc == 0 (malloc'd; pprof_pulls_free) */
    size_t len;
    uint64_t start_ns, end_ns; /* CLOCK_REALTIME around the request */
};

/* The request target (path and query) for type i (0..RULE_PPROF_N) under
 * u, as Flameshot's buildGoPProfURL builds it: u's path joined with
 * /debug/pprof/<profile|goroutine|heap|mutex|block>, u's query kept,
 * debug=0 added for goroutine and seconds=<duration in s> set for cpu.
 * Returns 0 or -ENAMETOOLONG. */
int pprof_fetch_target(const struct httpurl *u, int type, uint64_t duration_ms, char *buf,
                       size_t cap);

/* Pulls req->types from the process p names (checked by start time, so a
 * reused pid is never asked). out[i] is filled for every type i. Blocks
 * up to each asked type's timeout in turn (pprof_fetch_budget_ms).
 * Returns 0 when the child ran (see each out[i]: a cancel ends the pulls,
 * the one in flight with -ECANCELED); -ESRCH when the process is gone;
 * -EINVAL for a URL httpurl_parse refuses; or the helper's failure
 * (nsexec_run's -errno), with err saying why (the pulls it finished are
 * in out all the same). */
int pprof_fetch(const struct proc_ident *p, const struct pprof_fetch_req *req,
                struct pprof_pull out[RULE_PPROF_N], char *err, size_t errcap);

void pprof_pulls_free(struct pprof_pull out[RULE_PPROF_N]);

/* The longest a pull of rule r's types for a profile of duration_ms may
 * take, helper overhead included: what a job must be allowed. */
uint64_t pprof_fetch_budget_ms(const struct rule *r, uint64_t duration_ms);

#endif
