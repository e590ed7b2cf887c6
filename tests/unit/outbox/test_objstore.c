/* objstore: Flameshot's templates, object keys, the URLs and query strings
 * that are signed (path-style, virtual-hosted, OSS), the multipart XML.
 * The signatures themselves are checked by botocore in test_upload and
 * 33_hprof_upload. */
#include "outbox/objstore.h"
#include "harness.h"

#include <errno.h>

static const struct objstore_vars vars = {.service = "checkout",
                                          .pod_name = "checkout-7d9f",
                                          .pod_namespace = "shop",
                                          .host = "node-1",
                                          .pid = 7,
                                          .timestamp = "20250102T030405Z",
                                          .filename = "java_pid7.hprof",
                                          .profiling_path = "/var/lib/flameshot"};

static struct objstore *store(const char *provider, const char *endpoint, const char *region,
                              bool path_style, char *err, size_t errcap)
{
    struct objstore_opts o = {.provider = provider,
                              .endpoint = endpoint,
                              .region = region,
                              .bucket = "dumps",
                              .access_key_id = "AK",
                              .access_key_secret = "SK",
                              .path_style = path_style};
    struct objstore *os = NULL;
    objstore_new(&o, &os, err, errcap);
    return os;
}

TEST(default_template_renders_flameshot_key)
{
    char key[256];
    CHECK_EQ(
        objstore_object_key("{service}/{pod_name}/{timestamp}/{filename}", &vars, key, sizeof(key)),
        0);
    CHECK_STREQ(key, "checkout/checkout-7d9f/20250102T030405Z/java_pid7.hprof");
    CHECK_EQ(objstore_object_key("{pod_namespace}/{host}/{pid}/{unknown}/{filename", &vars, key,
                                 sizeof(key)),
             0);
    CHECK_STREQ(key, "shop/node-1/7/{unknown}/{filename");
}

TEST(key_is_cleaned_like_go_path_clean)
{
    struct objstore_vars v = vars;
    char key[256];
    v.pod_name = NULL; /* outside Kubernetes: no empty segment */
    CHECK_EQ(
        objstore_object_key("/{service}/{pod_name}/{timestamp}//{filename}", &v, key, sizeof(key)),
        0);
    CHECK_STREQ(key, "checkout/20250102T030405Z/java_pid7.hprof");
    CHECK_EQ(objstore_object_key("a/./b/../../../c/{filename}", &v, key, sizeof(key)), 0);
    CHECK_STREQ(key, "c/java_pid7.hprof");
    CHECK_EQ(objstore_object_key("{pod_name}/..", &v, key, sizeof(key)), 0);
    CHECK_STREQ(key, "java_pid7.hprof"); /* nothing left: the file name */
    v.filename = NULL;
    CHECK_EQ(objstore_object_key("./", &v, key, sizeof(key)), -EINVAL);
    CHECK_EQ(objstore_object_key("{service}{service}", &v, key, 10), -ENAMETOOLONG);
}

TEST(endpoint_is_normalized_as_flameshot_does)
{
    char b[128];
    CHECK_EQ(objstore_normalize_endpoint(" s3.example.com/ ", b, sizeof(b)), 0);
    CHECK_STREQ(b, "https://s3.example.com");
    CHECK_EQ(objstore_normalize_endpoint("http://127.0.0.1:9000//", b, sizeof(b)), 0);
    CHECK_STREQ(b, "http://127.0.0.1:9000");
    CHECK_EQ(objstore_oss_region("https://oss-cn-hangzhou.aliyuncs.com", b, sizeof(b)), 0);
    CHECK_STREQ(b, "oss-cn-hangzhou");
    CHECK_EQ(objstore_oss_region("oss-cn-beijing-internal.aliyuncs.com", b, sizeof(b)), 0);
    CHECK_STREQ(b, "oss-cn-beijing");
    CHECK_EQ(objstore_oss_region("https://s3.amazonaws.com", b, sizeof(b)), -ENOENT);
}

TEST(keys_are_percent_encoded_once_per_segment)
{
    char b[256];
    CHECK_EQ(objstore_encode("svc a/pod+1/ü~x_y.z-", true, b, sizeof(b)), 0);
    CHECK_STREQ(b, "svc%20a/pod%2B1/%C3%BC~x_y.z-");
    CHECK_EQ(objstore_encode("a/b", false, b, sizeof(b)), 0);
    CHECK_STREQ(b, "a%2Fb");
}

TEST(path_style_and_virtual_hosted_urls)
{
    char err[256], url[512];
    struct objstore *os = store("s3", "http://127.0.0.1:9000/base/", NULL, true, err, sizeof(err));
    CHECK_MSG(os, "%s", err);
    CHECK_EQ(objstore_url(os, "svc a/x.hprof", NULL, url, sizeof(url)), 0);
    CHECK_STREQ(url, "http://127.0.0.1:9000/base/dumps/svc%20a/x.hprof");
    CHECK_EQ(objstore_url(os, "k", "uploads=", url, sizeof(url)), 0);
    CHECK_STREQ(url, "http://127.0.0.1:9000/base/dumps/k?uploads=");
    objstore_free(os);
    os = store("s3", "s3.eu-west-1.amazonaws.com", "eu-west-1", false, err, sizeof(err));
    CHECK_MSG(os, "%s", err);
    CHECK_EQ(objstore_url(os, "a/b", NULL, url, sizeof(url)), 0);
    CHECK_STREQ(url, "https://dumps.s3.eu-west-1.amazonaws.com/a/b");
    objstore_free(os);
    /* OSS: virtual-hosted whatever FLAMESHOT_HPROF_UPLOAD_S3_PATH_STYLE says */
    os = store("oss", "oss-cn-hangzhou.aliyuncs.com", NULL, true, err, sizeof(err));
    CHECK_MSG(os, "%s", err);
    CHECK_EQ(objstore_url(os, "a/b", NULL, url, sizeof(url)), 0);
    CHECK_STREQ(url, "https://dumps.oss-cn-hangzhou.aliyuncs.com/a/b");
    objstore_free(os);
}

TEST(download_url_template_or_object_url)
{
    char err[256], url[512];
    struct objstore *os = store("s3", "https://s3.example.com", NULL, true, err, sizeof(err));
    CHECK_MSG(os, "%s", err);
    CHECK_EQ(objstore_download_url(os, NULL, &vars, "svc/x y.hprof", url, sizeof(url)), 0);
    CHECK_STREQ(url, "https://s3.example.com/dumps/svc/x%20y.hprof");
    CHECK_EQ(objstore_download_url(os, "https://console/{bucket}/{object_key}?ns={pod_namespace}",
                                   &vars, "svc/x.hprof", url, sizeof(url)),
             0);
    CHECK_STREQ(url, "https://console/dumps/svc/x.hprof?ns=shop");
    CHECK_EQ(objstore_download_url(os, "{endpoint}", &vars, "k", url, sizeof(url)), 0);
    CHECK_STREQ(url, "https://s3.example.com");
    objstore_free(os);
}

TEST(bad_settings_are_named)
{
    char err[256];
    CHECK(!store("gcs", "https://x", NULL, true, err, sizeof(err)));
    CHECK_CONTAINS(err, "not supported");
    CHECK(!store("s3", "", NULL, true, err, sizeof(err)));
    CHECK_CONTAINS(err, "endpoint is required");
    CHECK(!store("s3", "https:///path", NULL, true, err, sizeof(err)));
    CHECK_CONTAINS(err, "has no host");
    CHECK(!store("oss", "https://minio.local", NULL, true, err, sizeof(err)));
    CHECK_CONTAINS(err, "region is required for oss");
}

TEST(part_query_is_in_canonical_order_and_encoded)
{
    char q[256];
    CHECK_EQ(objstore_part_query(12, "id~x/y+z=", q, sizeof(q)), 0);
    /* partNumber < uploadId: the order S3 signs, libcurl 7.88 keeps ours */
    CHECK_STREQ(q, "partNumber=12&uploadId=id~x%2Fy%2Bz%3D");
}

TEST(complete_xml_lists_parts_in_order)
{
    struct objstore_part p[2] = {{1, "\"aa\""}, {2, "\"bb\""}};
    char *x = objstore_complete_xml(p, 2);
    CHECK(x);
    CHECK_STREQ(x, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"aa\"</ETag>"
                   "</Part><Part><PartNumber>2</PartNumber><ETag>\"bb\"</ETag></Part>"
                   "</CompleteMultipartUpload>");
    free(x);
}

TEST_MAIN(default_template_renders_flameshot_key, key_is_cleaned_like_go_path_clean,
          endpoint_is_normalized_as_flameshot_does, keys_are_percent_encoded_once_per_segment,
          path_style_and_virtual_hosted_urls, download_url_template_or_object_url,
          bad_settings_are_named, part_query_is_in_canonical_order_and_encoded,
          complete_xml_lists_parts_in_order)
