/* objstore: an S3-compatible object-storage client for heap dumps
 * (FLAMESHOT_HPROF_UPLOAD_*), over libcurl with its AWS Signature V4
 * signing (CURLOPT_AWS_SIGV4, "aws:amz:<region>:s3").
 *
 * Requests: PutObject for a small file; for a large one the multipart
 * upload (CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload), each part a range of the same file. Every request
 * carries x-amz-content-sha256 (the body's SHA-256, computed here: libcurl
 * 7.88 signs that header's value and cannot hash a body read from a file)
 * and x-amz-security-token when a session token is set (libcurl signs every
 * x-amz-* header). The query is written in canonical order (libcurl 7.88
 * signs it as given; S3 sorts it), "uploads=" with its '='.
 *
 * Addressing: path-style <endpoint>/<bucket>/<key> or virtual-hosted
 * <scheme>://<bucket>.<host>/<key> (FLAMESHOT_HPROF_UPLOAD_S3_PATH_STYLE).
 * OSS is reached through its S3-compatible API, virtual-hosted always (OSS
 * refuses path-style), its region taken from an oss-<region>.aliyuncs.com
 * endpoint when not given. An endpoint without a scheme gets https://, as
 * in Flameshot. The key is percent-encoded per segment (RFC 3986
 * unreserved characters and '/' kept): that encoded path is what is signed.
 *
 * Templates ({service}, {pod_name}, {pod_namespace}, {host}, {pid},
 * {timestamp}, {filename}, {profiling_path}, {bucket}, {endpoint},
 * {object_key}) are Flameshot's: the object key is the rendered path
 * template cleaned like Go's path.Clean("/"+key) without the leading '/';
 * the download URL is the rendered FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE,
 * else the object's URL.
 *
 * One struct objstore is used by one thread at a time (it keeps one curl
 * handle, so the connection is reused); requests block up to the timeout
 * and stop at once when *abort becomes true. */
#ifndef FS_OBJSTORE_H
#define FS_OBJSTORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OBJSTORE_MIN_PART  (5ull << 20) /* S3: every part but the last */
#define OBJSTORE_MAX_PARTS 10000

struct objstore_opts {
    const char *provider; /* "s3" | "oss" */
    const char *endpoint; /* with or without scheme */
    const char *region;   /* NULL: us-east-1 (s3), from the endpoint (oss) */
    const char *bucket;
    const char *access_key_id;
    const char *access_key_secret;
    const char *security_token; /* NULL: none */
    bool path_style;            /* s3 only */
    uint64_t timeout_ms;        /* each request; 0: 5 min */
    const atomic_bool *abort;   /* may be NULL */
};

/* The values a template may name; NULL members render empty. */
struct objstore_vars {
    const char *service, *pod_name, *pod_namespace, *host;
    int pid;
    const char *timestamp; /* Flameshot's layout: 20060102T150405Z */
    const char *filename;
    const char *profiling_path;
    const char *bucket, *endpoint, *object_key;
};

/* Outcome of one request. */
struct objstore_result {
    long status;     /* HTTP status, 0 when there was no response */
    bool transient;  /* transport error, 5xx, 408, 429: worth retrying */
    char code[64];   /* S3's <Code> (e.g. "NoSuchUpload"), "" when none */
    char error[512]; /* why, in words ("HTTP 403 SignatureDoesNotMatch: ...") */
};

struct objstore_part {
    unsigned number; /* 1.. */
    char etag[80];   /* as the server returned it, quotes included */
};

struct objstore;

/* Checks opts (provider, endpoint URL, bucket, keys, region) and copies
 * them. 0, -EINVAL with a reason in err, or -ENOMEM. */
int objstore_new(const struct objstore_opts *opts, struct objstore **out, char *err, size_t errcap);
void objstore_free(struct objstore *os);

/* The normalized endpoint ("https://" added, trailing '/' removed) into
 * buf. 0 or -ENAMETOOLONG. */
int objstore_normalize_endpoint(const char *endpoint, char *buf, size_t cap);

/* Region of an oss-<region>.aliyuncs.com endpoint ("oss-cn-hangzhou"),
 * into buf. 0, or -ENOENT when the host does not name one. */
int objstore_oss_region(const char *endpoint, char *buf, size_t cap);

/* Replaces every {name} of tmpl by its value in v (unknown names are
 * kept). 0 or -ENAMETOOLONG. */
int objstore_render(const char *tmpl, const struct objstore_vars *v, char *buf, size_t cap);

/* The object key: tmpl rendered, then cleaned ("a//b/./c" -> "a/b/c",
 * ".." drops a segment, never above the root); v->filename when nothing
 * is left. 0, -EINVAL (empty) or -ENAMETOOLONG. */
int objstore_object_key(const char *tmpl, const struct objstore_vars *v, char *buf, size_t cap);

/* URL of key, with query (NULL: none; already canonical and encoded). 0
 * or -ENAMETOOLONG. */
int objstore_url(const struct objstore *os, const char *key, const char *query, char *buf,
                 size_t cap);

/* The download URL of key: dl_tmpl (NULL or "": none) rendered with v
 * (bucket, endpoint, object_key filled here), else the object's URL. */
int objstore_download_url(const struct objstore *os, const char *dl_tmpl,
                          const struct objstore_vars *v, const char *key, char *buf, size_t cap);

/* Percent-encodes s (RFC 3986 unreserved kept, and '/' when keep_slash).
 * 0 or -ENAMETOOLONG. */
int objstore_encode(const char *s, bool keep_slash, char *buf, size_t cap);

/* The requests. Each blocks up to the timeout and returns 0 on a 2xx;
 * -EAGAIN when res->transient, -ECANCELED when aborted, -EIO for any
 * other answer (res says which), or -errno reading the file. The body of
 * put and upload_part is len bytes of fd from off (pread). */
int objstore_put(struct objstore *os, const char *key, int fd, uint64_t off, uint64_t len,
                 struct objstore_result *res);
int objstore_initiate(struct objstore *os, const char *key, char *upload_id, size_t idcap,
                      struct objstore_result *res);
int objstore_upload_part(struct objstore *os, const char *key, const char *upload_id,
                         struct objstore_part *part, int fd, uint64_t off, uint64_t len,
                         struct objstore_result *res);
int objstore_complete(struct objstore *os, const char *key, const char *upload_id,
                      const struct objstore_part *parts, size_t n, struct objstore_result *res);
int objstore_abort(struct objstore *os, const char *key, const char *upload_id,
                   struct objstore_result *res);

/* The canonical query of an UploadPart ("partNumber=N&uploadId=<enc>")
 * into buf: partNumber sorts first. 0 or -ENAMETOOLONG. */
int objstore_part_query(unsigned number, const char *upload_id, char *buf, size_t cap);

/* The CompleteMultipartUpload body, malloc'd (caller frees); NULL on
 * ENOMEM. */
char *objstore_complete_xml(const struct objstore_part *parts, size_t n);

#endif
