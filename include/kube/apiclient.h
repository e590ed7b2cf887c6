/* apiclient: LIST and WATCH of the Pods on this node from the API server,
 * and the writes others make (Events), over HTTPS verified against the
 * service account's CA (libcurl).
 *
 * The bearer token is the projected service-account token, which the
 * kubelet rotates: it is re-read from its file at least every minute and
 * after any 401 (then the request is retried once), as client-go does.
 *
 * These are the two requests only; the loop around them (re-list on
 * -ESTALE, re-watch from the last resourceVersion when a stream ends, back
 * off with jitter on failures, its own thread) belongs to the caller.
 *
 * Threads: one client belongs to one thread; every call blocks for the
 * network (bounded by the timeouts below). */
#ifndef FS_KUBE_APICLIENT_H
#define FS_KUBE_APICLIENT_H

#include "kube/pod.h"
#include "kube/watchparse.h"

#include <stdatomic.h>
#include <stddef.h>

/* LIST page size: bounds one answer's size */
#define KUBEAPI_LIST_LIMIT 500
/* one kubeapi_send, connection included */
#define KUBEAPI_SEND_TIMEOUT_S 30

/* The URL and sa_dir are core/config's kube_api and kube_sa_dir (the
 * in-cluster defaults or their FLAMESHOT_KUBE_API / _SA_DIR overrides). */
struct kubeapi;

/* url: "https://host[:port]" (no path; http:// is refused: the token never
 * travels in clear). sa_dir holds "token" and "ca.crt". node: this node's
 * name (the fieldSelector). NULL with the reason in err. Does not block. */
struct kubeapi *kubeapi_new(const char *url, const char *sa_dir, const char *node, char *err,
                            size_t errlen);

void kubeapi_free(struct kubeapi *a);

/* Another thread stops a request of a by setting *stop (which must outlive
 * a): the call in progress returns -EINTR within about a second (libcurl's
 * progress callback, called about once a second on an idle stream), as do
 * later calls while it stays set. NULL removes the hook. */
void kubeapi_set_stop(struct kubeapi *a, const atomic_bool *stop);

/* fn(arg) is called, in kubeapi_watch's thread, once the server has
 * answered a WATCH with 2xx (its headers, before any event): the stream is
 * open, though a quiet node may send nothing for minutes. NULL removes
 * the hook. */
void kubeapi_set_watch_open(struct kubeapi *a, void (*fn)(void *arg), void *arg);

/* LIST /api/v1/pods?fieldSelector=spec.nodeName=<node>, every page
 * (limit/continue), into *out (release with pod_list_free; its cont is
 * NULL and its resourceVersion the one to watch from; rejected Pods are
 * counted, the first reason in err). Returns 0, -ESTALE (410 Gone: a
 * continue token expired; list again), -EACCES (401 even with a fresh
 * token), -EPERM (403: RBAC), -EIO (any other failure: TLS, connection,
 * status, a body that is not a PodList), -ENOMEM, -EINTR (stopped:
 * kubeapi_set_stop); the reason in err. */
int kubeapi_list(struct kubeapi *a, struct pod_list *out, char *err, size_t errlen);

/* WATCH from resource_version with allowWatchBookmarks and timeoutSeconds
 * = timeout_s, every event handed to cb (through watchparse) as it
 * arrives. Returns 0 when the server ended the stream (watch again from
 * the last resourceVersion seen), -ESTALE on 410 Gone (the status or an
 * ERROR event: list again), the callback's non-zero value, or an error
 * like kubeapi_list. */
int kubeapi_watch(struct kubeapi *a, const char *resource_version, int timeout_s, watch_cb cb,
                  void *arg, char *err, size_t errlen);

/* method "POST" or "PATCH" of body (content_type, e.g. "application/json"
 * or "application/strategic-merge-patch+json") to base+path (starting
 * with "/", query included), with the token policy above. The answer's
 * body is not kept. *status (NULL: not wanted): the HTTP status of the
 * answer, 0 when there was none. Returns 0 (2xx), -EACCES (401 even with a
 * fresh token, or no usable token), -EPERM (403), -ESTALE (410), -EIO
 * (any other status: tell them apart by *status; TLS, connection,
 * timeout), -EINVAL (another method, no body, a content type over 128
 * bytes or holding a line break), -ENOMEM, -EINTR (stopped); the reason
 * in err. Blocks up to KUBEAPI_SEND_TIMEOUT_S (a retry after a 401
 * included, twice that). */
int kubeapi_send(struct kubeapi *a, const char *method, const char *path, const char *content_type,
                 const char *body, long *status, char *err, size_t errlen);

#endif
