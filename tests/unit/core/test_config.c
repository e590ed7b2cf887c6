/* Table-driven tests of every FLAMESHOT_* variable and every rejection:
 * each bad input must name the variable (and JSON path) and the reason. */
#include "core/config.h"
#include "harness.h"
#include "core/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <unistd.h>

/* A fake environment: NULL-terminated "NAME=value" list. */
static const char *fake_get(const char *name, void *arg)
{
    const char *const *env = arg;
    size_t n = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

struct reject_case {
    const char *env[4];
    const char *path;   /* expected error path */
    const char *reason; /* expected substring of the reason */
};

static const struct reject_case rejects[] = {
    /* malformed JSON names the offset */
    {{"FLAMESHOT_PROCESSES=[{\"command\": \"java\",}]"},
     "FLAMESHOT_PROCESSES",
     "malformed JSON at offset 21"},
    {{"FLAMESHOT_PROCESSES=[{\"command\": \"java\""}, "FLAMESHOT_PROCESSES", "malformed JSON"},
    {{"FLAMESHOT_PROCESSES={\"command\":\"java\"}"}, "FLAMESHOT_PROCESSES", "must be a JSON array"},
    {{"FLAMESHOT_PROCESSES=[]"}, "FLAMESHOT_PROCESSES", "empty array"},
    {{"FLAMESHOT_PROCESSES="}, "FLAMESHOT_PROCESSES", "set but empty"},
    {{"FLAMESHOT_PROCESSES=[\"java\"]"}, "FLAMESHOT_PROCESSES[0]", "must be an object"},
    /* unknown field with did-you-mean */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"cpu_usage_precent\":80}]"},
     "FLAMESHOT_PROCESSES[0].cpu_usage_precent",
     "did you mean \"cpu_usage_percent\""},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\"},{\"command\":\"x\",\"durration\":\"1m\"}]"},
     "FLAMESHOT_PROCESSES[1].durration",
     "did you mean \"duration\""},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"zzzzzzzz\":1}]"},
     "FLAMESHOT_PROCESSES[0].zzzzzzzz",
     "unknown field \"zzzzzzzz\""},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"command\":\"x\"}]"},
     "FLAMESHOT_PROCESSES[0].command",
     "duplicate field"},
    /* wrong types */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"cpu_usage_percent\":\"80\"}]"},
     "FLAMESHOT_PROCESSES[0].cpu_usage_percent",
     "must be a number"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":42}]"},
     "FLAMESHOT_PROCESSES[0].command",
     "must be a string"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"tags\":\"env:prod\"}]"},
     "FLAMESHOT_PROCESSES[0].tags",
     "must be an array"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"tags\":[\"envprod\"]}]"},
     "FLAMESHOT_PROCESSES[0].tags[0]",
     "expected key:value"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"duration\":30}]"},
     "FLAMESHOT_PROCESSES[0].duration",
     "must be a duration string"},
    /* negative numbers */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"mem_usage_mb\":-1}]"},
     "FLAMESHOT_PROCESSES[0].mem_usage_mb",
     "must not be negative"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"cpu_usage_percent\":-5}]"},
     "FLAMESHOT_PROCESSES[0].cpu_usage_percent",
     "must not be negative"},
    /* memory percent > 100 */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"mem_usage_percent\":101}]"},
     "FLAMESHOT_PROCESSES[0].mem_usage_percent",
     "cannot exceed 100"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"mem_usage_percent_emergency\":150}]"},
     "FLAMESHOT_PROCESSES[0].mem_usage_percent_emergency",
     "cannot exceed 100"},
    /* regex that does not compile: PCRE2's message and offset */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java(\"}]"},
     "FLAMESHOT_PROCESSES[0].command",
     "regex does not compile: missing closing parenthesis at offset 5"},
    {{"FLAMESHOT_PROCESSES=[{\"service\":\"a\"}]"}, "FLAMESHOT_PROCESSES[0].command", "missing"},
    /* a bare number or garbage as a duration */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"duration\":\"30\"}]"},
     "FLAMESHOT_PROCESSES[0].duration",
     "missing unit"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"emergency_duration\":\"soon\"}]"},
     "FLAMESHOT_PROCESSES[0].emergency_duration",
     "is not a duration"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"duration\":\"5d\"}]"},
     "FLAMESHOT_PROCESSES[0].duration",
     "unknown unit"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"duration\":\"1h\"}]"},
     "FLAMESHOT_PROCESSES[0].duration",
     "too long"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"cooldown\":\"10ms\"}]"},
     "FLAMESHOT_PROCESSES[0].cooldown",
     "too short"},
    {{"FLAMESHOT_AUTO_PROFILING=300"}, "FLAMESHOT_AUTO_PROFILING", "missing unit"},
    {{"FLAMESHOT_AUTO_PROFILING_DURATION=abc"},
     "FLAMESHOT_AUTO_PROFILING_DURATION",
     "is not a duration"},
    {{"FLAMESHOT_JCMD_TIMEOUT=10"}, "FLAMESHOT_JCMD_TIMEOUT", "missing unit"},
    {{"FLAMESHOT_OOM_HPROF_MATCH_WINDOW=2 minutes"},
     "FLAMESHOT_OOM_HPROF_MATCH_WINDOW",
     "is not a duration"},
    {{"FLAMESHOT_MONITOR_INTERVAL=fast"}, "FLAMESHOT_MONITOR_INTERVAL", "is not a duration"},
    {{"FLAMESHOT_MONITOR_INTERVAL=0"}, "FLAMESHOT_MONITOR_INTERVAL", "at least 100ms"},
    /* auto-profiling under 1m */
    {{"FLAMESHOT_AUTO_PROFILING=30s"}, "FLAMESHOT_AUTO_PROFILING", "too short (minimum 1m)"},
    {{"FLAMESHOT_AUTO_PROFILING=1m", "FLAMESHOT_AUTO_PROFILING_DURATION=1m"},
     "FLAMESHOT_AUTO_PROFILING_DURATION",
     "must be shorter"},
    /* language go needs its pprof address; python is not supported */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\"}]"},
     "FLAMESHOT_PROCESSES[0].pprof_url",
     "missing: a go rule needs the address"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"python\"}]"},
     "FLAMESHOT_PROCESSES[0].language",
     "not supported in this version"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\",\"pprof_url\":"
      "\"https://127.0.0.1:6060\"}]"},
     "FLAMESHOT_PROCESSES[0].pprof_url",
     "https is not supported"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\",\"pprof_url\":"
      "\"http://app.local:6060\"}]"},
     "FLAMESHOT_PROCESSES[0].pprof_url",
     "must be an IP address or localhost"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\",\"pprof_url\":"
      "\"http://127.0.0.1:70000\"}]"},
     "FLAMESHOT_PROCESSES[0].pprof_url",
     "between 1 and 65535"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\",\"pprof_url\":"
      "\"http://[::1]:6060\",\"pprof_types\":[\"cpu\",\"threadcreate\"]}]"},
     "FLAMESHOT_PROCESSES[0].pprof_types[1]",
     "\"threadcreate\": unknown pprof type"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\",\"pprof_url\":"
      "\"http://127.0.0.1\",\"pprof_timeout\":\"2h\"}]"},
     "FLAMESHOT_PROCESSES[0].pprof_timeout",
     "too long"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"go\",\"pprof_url\":"
      "\"http://127.0.0.1\",\"events\":\"cpu,alloc\"}]"},
     "FLAMESHOT_PROCESSES[0].events",
     "\"alloc\": unknown pprof type"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"pprof_url\":\"http://127.0.0.1:6060\"}]"},
     "FLAMESHOT_PROCESSES[0].pprof_url",
     "applies to language go only"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"language\":\"cobol\"}]"},
     "FLAMESHOT_PROCESSES[0].language",
     "unsupported language \"cobol\""},
    /* events */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"events\":\"cpu,heap\"}]"},
     "FLAMESHOT_PROCESSES[0].events",
     "\"heap\": unknown event"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"events\":[\"cpu\",7]}]"},
     "FLAMESHOT_PROCESSES[0].events[1]",
     "must be a string"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"x\",\"container\":\"\"}]"},
     "FLAMESHOT_PROCESSES[0].container",
     "must not be empty"},
    /* scalar variables */
    {{"FLAMESHOT_MODE=cluster"}, "FLAMESHOT_MODE", "not one of auto, kubernetes, standalone"},
    {{"FLAMESHOT_BPF=maybe"}, "FLAMESHOT_BPF", "not one of auto, on, off"},
    {{"FLAMESHOT_BPF_RING_KB=2"}, "FLAMESHOT_BPF_RING_KB", "out of range [4, 65536]"},
    {{"FLAMESHOT_BPF_RING_KB=131072"}, "FLAMESHOT_BPF_RING_KB", "out of range"},
    {{"FLAMESHOT_BPF_RING_KB=100"}, "FLAMESHOT_BPF_RING_KB", "100 is not a power of two"},
    {{"FLAMESHOT_BPF_RING_KB=256k"}, "FLAMESHOT_BPF_RING_KB", "not a whole number"},
    {{"FLAMESHOT_BPF_RING_KB=-4"}, "FLAMESHOT_BPF_RING_KB", "must not be negative"},
    {{"FLAMESHOT_EVIDENCE_LEAD=3"}, "FLAMESHOT_EVIDENCE_LEAD", "not a duration"},
    {{"FLAMESHOT_LOG_LEVEL=verbose"}, "FLAMESHOT_LOG_LEVEL", "not one of debug"},
    {{"FLAMESHOT_DATAKIT_ADDR=datakit:9529"}, "FLAMESHOT_DATAKIT_ADDR", "must start with http"},
    {{"FLAMESHOT_DATAKIT_ADDR=http://"}, "FLAMESHOT_DATAKIT_ADDR", "has no host"},
    {{"FLAMESHOT_PROFILING_PATH=data"}, "FLAMESHOT_PROFILING_PATH", "absolute path"},
    {{"FLAMESHOT_ASYNC_PROFILER_PATH=opt/ap"}, "FLAMESHOT_ASYNC_PROFILER_PATH", "absolute path"},
    {{"FLAMESHOT_OOM_HPROF_ENABLED=maybe"}, "FLAMESHOT_OOM_HPROF_ENABLED", "not a boolean"},
    {{"FLAMESHOT_JCMD_SNAPSHOT_ENABLED=2"}, "FLAMESHOT_JCMD_SNAPSHOT_ENABLED", "not a boolean"},
    {{"FLAMESHOT_ATTACH_PREWARM=later"}, "FLAMESHOT_ATTACH_PREWARM", "not a boolean"},
    {{"FLAMESHOT_POD_MEM_LIMIT=-512"}, "FLAMESHOT_POD_MEM_LIMIT", "must not be negative"},
    {{"FLAMESHOT_POD_MEM_LIMIT=1Gi"}, "FLAMESHOT_POD_MEM_LIMIT", "not a whole number"},
    {{"FLAMESHOT_POD_CPU_LIMIT=1.5"}, "FLAMESHOT_POD_CPU_LIMIT", "not a whole number"},
    {{"FLAMESHOT_POD_CPU_LIMIT=0"}, "FLAMESHOT_POD_CPU_LIMIT", "out of range"},
    {{"FLAMESHOT_HTTP_LOCAL_IP=localhost"}, "FLAMESHOT_HTTP_LOCAL_IP", "not an IPv4 or IPv6"},
    {{"FLAMESHOT_HTTP_LOCAL_PORT=70000"}, "FLAMESHOT_HTTP_LOCAL_PORT", "out of range"},
    {{"FLAMESHOT_HTTP_LOCAL_PORT=http"}, "FLAMESHOT_HTTP_LOCAL_PORT", "not a whole number"},
    {{"FLAMESHOT_HTTP_TOKEN=a b"}, "FLAMESHOT_HTTP_TOKEN", "whitespace"},
    {{"FLAMESHOT_TAGS=host:a,broken"}, "FLAMESHOT_TAGS[1]", "expected key:value"},
    {{"FLAMESHOT_TAGS=:x"}, "FLAMESHOT_TAGS[0]", "empty key"},
    {{"FLAMESHOT_MAX_CONCURRENT_JOBS=0"}, "FLAMESHOT_MAX_CONCURRENT_JOBS", "out of range"},
    {{"FLAMESHOT_MAX_CONCURRENT_JOBS=-1"}, "FLAMESHOT_MAX_CONCURRENT_JOBS", "negative"},
    {{"FLAMESHOT_SPOOL_MAX_MB=lots"}, "FLAMESHOT_SPOOL_MAX_MB", "not a whole number"},
    {{"FLAMESHOT_LOCAL_KEEP=maybe"}, "FLAMESHOT_LOCAL_KEEP", "not a boolean"},
    {{"FLAMESHOT_UI_MAX_KB=0"}, "FLAMESHOT_UI_MAX_KB", "out of range"},
    {{"FLAMESHOT_MAX_JOBS_PER_CONTAINER=0"}, "FLAMESHOT_MAX_JOBS_PER_CONTAINER", "out of range"},
    {{"FLAMESHOT_MAX_JOBS_PER_CONTAINER=3"},
     "FLAMESHOT_MAX_JOBS_PER_CONTAINER",
     "more than FLAMESHOT_MAX_CONCURRENT_JOBS (2)"},
    {{"FLAMESHOT_MAX_QUEUED_PER_CONTAINER=65"},
     "FLAMESHOT_MAX_QUEUED_PER_CONTAINER",
     "out of range"},
    {{"FLAMESHOT_MAX_QUEUED_PER_CONTAINER=x"},
     "FLAMESHOT_MAX_QUEUED_PER_CONTAINER",
     "not a whole number"},
    {{"FLAMESHOT_HTTP_LOCAL_IP=10.0.0.7"},
     "FLAMESHOT_HTTP_LOCAL_IP",
     "not a loopback address and FLAMESHOT_HTTP_TOKEN is unset: set FLAMESHOT_HTTP_TOKEN, or "
     "FLAMESHOT_HTTP_INSECURE=true"},
    {{"FLAMESHOT_HTTP_LOCAL_IP=0.0.0.0"}, "FLAMESHOT_HTTP_LOCAL_IP", "not a loopback address"},
    {{"FLAMESHOT_HTTP_LOCAL_IP=::"}, "FLAMESHOT_HTTP_LOCAL_IP", "not a loopback address"},
    {{"FLAMESHOT_HTTP_LOCAL_IP=fe80::1", "FLAMESHOT_HTTP_INSECURE=false"},
     "FLAMESHOT_HTTP_LOCAL_IP",
     "not a loopback address"},
    {{"FLAMESHOT_HTTP_LOCAL_IP=10.0.0.7", "FLAMESHOT_HTTP_INSECURE=sure"},
     "FLAMESHOT_HTTP_INSECURE",
     "not a boolean"},
    {{"FLAMESHOT_MAX_PROFILE_MB=0"}, "FLAMESHOT_MAX_PROFILE_MB", "out of range"},
    {{"FLAMESHOT_MAX_PROFILE_MB=2048"},
     "FLAMESHOT_MAX_PROFILE_MB",
     "more than FLAMESHOT_SPOOL_MAX_MB"},
    {{"FLAMESHOT_SPOOL_MAX_MB=100", "FLAMESHOT_MAX_PROFILE_MB=101"},
     "FLAMESHOT_MAX_PROFILE_MB",
     "no profile that large could be kept"},
    /* Flameshot's indexed variables: the variable, then the JSON path */
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_1_SERVICE=b", "FLAMESHOT_PROCESSES_1_DURATION=30"},
     "FLAMESHOT_PROCESSES_1_DURATION (FLAMESHOT_PROCESSES[1].duration)",
     "missing unit"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a"},
     "FLAMESHOT_PROCESSES_0_COMMAND (FLAMESHOT_PROCESSES[0].command)",
     "missing"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_0_CPU_USAGE_PERCENT=80%"},
     "FLAMESHOT_PROCESSES_0_CPU_USAGE_PERCENT (FLAMESHOT_PROCESSES[0].cpu_usage_percent)",
     "\"80%\" is not a number"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_0_MEM_USAGE_PERCENT_EMERGENCY=101"},
     "FLAMESHOT_PROCESSES_0_MEM_USAGE_PERCENT_EMERGENCY "
     "(FLAMESHOT_PROCESSES[0].mem_usage_percent_emergency)",
     "cannot exceed 100"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_0_MEM_USAGE_MB=-1"},
     "FLAMESHOT_PROCESSES_0_MEM_USAGE_MB (FLAMESHOT_PROCESSES[0].mem_usage_mb)",
     "must not be negative"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_0_TAGS=env:prod"},
     "FLAMESHOT_PROCESSES_0_TAGS (FLAMESHOT_PROCESSES[0].tags)",
     "is not JSON"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_0_TAGS=[\"env:prod\",\"broken\"]"},
     "FLAMESHOT_PROCESSES_0_TAGS (FLAMESHOT_PROCESSES[0].tags[1])",
     "expected key:value"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_0_EVENTS=cpu,heap"},
     "FLAMESHOT_PROCESSES_0_EVENTS (FLAMESHOT_PROCESSES[0].events)",
     "\"heap\": unknown event"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=x",
      "FLAMESHOT_PROCESSES_0_LANGUAGE=go"},
     "FLAMESHOT_PROCESSES_0_PPROF_URL (FLAMESHOT_PROCESSES[0].pprof_url)",
     "missing: a go rule needs the address"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java(",
      "FLAMESHOT_PROCESSES_0_COOLDOWN=2m"},
     "FLAMESHOT_PROCESSES_0_COMMAND (FLAMESHOT_PROCESSES[0].command)",
     "regex does not compile"},
    /* a rule at the end of the list (no SERVICE) would be dropped */
    {{"FLAMESHOT_PROCESSES_0_COMMAND=java"},
     "FLAMESHOT_PROCESSES_0_SERVICE (FLAMESHOT_PROCESSES[0].service)",
     "missing, but FLAMESHOT_PROCESSES_0_COMMAND is set"},
    {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
      "FLAMESHOT_PROCESSES_1_COMMAND=x", "FLAMESHOT_PROCESSES_1_SERVICE="},
     "FLAMESHOT_PROCESSES_1_SERVICE (FLAMESHOT_PROCESSES[1].service)",
     "missing, but FLAMESHOT_PROCESSES_1_COMMAND is set"},
    /* both forms: Flameshot would concatenate them */
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\"}]", "FLAMESHOT_PROCESSES_0_SERVICE=a",
      "FLAMESHOT_PROCESSES_0_COMMAND=java"},
     "FLAMESHOT_PROCESSES",
     "give the rules in one form only"},
    {{"FLAMESHOT_PROCESSES=[{\"command\":\"java\"}]", "FLAMESHOT_PROCESSES_0_COMMAND=java"},
     "FLAMESHOT_PROCESSES",
     "give the rules in one form only"},
    /* the API server's URL: https, a host, nothing after it */
    {{"FLAMESHOT_MODE=kubernetes", "FLAMESHOT_KUBE_API=http://10.0.0.1:6443"},
     "FLAMESHOT_KUBE_API",
     "is not https://host[:port]"},
    {{"FLAMESHOT_MODE=kubernetes", "FLAMESHOT_KUBE_API=https://10.0.0.1/api/v1"},
     "FLAMESHOT_KUBE_API",
     "is not https://host[:port]"},
    {{"FLAMESHOT_MODE=kubernetes", "FLAMESHOT_KUBE_API=https://"},
     "FLAMESHOT_KUBE_API",
     "is not https://host[:port]"},
    /* heap-dump upload: Flameshot's AssumeRole is refused, settings required */
    {{"FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE=assume_role"},
     "FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE",
     "AssumeRole is not supported"},
    {{"FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_SOURCE_ACCESS_KEY_SECRET=x"},
     "FLAMESHOT_HPROF_UPLOAD_ASSUME_ROLE_SOURCE_ACCESS_KEY_SECRET",
     "AssumeRole is not supported"},
    {{"FLAMESHOT_HPROF_UPLOAD_ENABLED=true"},
     "FLAMESHOT_HPROF_UPLOAD_PROVIDER",
     "is required when FLAMESHOT_HPROF_UPLOAD_ENABLED is true"},
    {{"FLAMESHOT_HPROF_UPLOAD_ENABLED=true", "FLAMESHOT_HPROF_UPLOAD_PROVIDER=gcs"},
     "FLAMESHOT_HPROF_UPLOAD_PROVIDER",
     "not supported (s3 or oss)"},
    {{"FLAMESHOT_HPROF_UPLOAD_ENABLED=true", "FLAMESHOT_HPROF_UPLOAD_PROVIDER=s3",
      "FLAMESHOT_HPROF_UPLOAD_ENDPOINT=s3.example.com", "FLAMESHOT_HPROF_UPLOAD_BUCKET=b"},
     "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID",
     "is required"},
    {{"FLAMESHOT_HPROF_UPLOAD_TIMEOUT=10ms"}, "FLAMESHOT_HPROF_UPLOAD_TIMEOUT", "too short"},
};

TEST(every_rejection_names_variable_path_and_reason)
{
    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        const struct reject_case *c = &rejects[i];
        const char *env[6] = {c->env[0], c->env[1], c->env[2], c->env[3], NULL};
        struct config cfg;
        struct config_error err;
        int rc = config_load(&cfg, fake_get, (void *)env, &err);
        CHECK_MSG(rc == -EINVAL, "case %zu (%s) was accepted", i, c->env[0]);
        CHECK_MSG(strcmp(err.path, c->path) == 0, "case %zu (%s): path \"%s\", want \"%s\"", i,
                  c->env[0], err.path, c->path);
        CHECK_MSG(strstr(err.reason, c->reason) != NULL,
                  "case %zu (%s): reason \"%s\" lacks \"%s\"", i, c->env[0], err.reason, c->reason);
    }
}

static int load(const char **env, struct config *cfg);

TEST(hprof_upload_settings_flameshot_names_and_redacted)
{
    const char *off[] = {NULL};
    const char *env[] = {"FLAMESHOT_HPROF_UPLOAD_ENABLED=true",
                         "FLAMESHOT_HPROF_UPLOAD_PROVIDER=S3",
                         "FLAMESHOT_HPROF_UPLOAD_AUTH_TYPE=static",
                         "FLAMESHOT_HPROF_UPLOAD_ENDPOINT=https://s3.example.com",
                         "FLAMESHOT_HPROF_UPLOAD_BUCKET=dumps",
                         "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_ID=AKID",
                         "FLAMESHOT_HPROF_UPLOAD_ACCESS_KEY_SECRET=very-secret",
                         "FLAMESHOT_HPROF_UPLOAD_SECURITY_TOKEN=sts-token",
                         "FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE=https://dl/{object_key}",
                         "FLAMESHOT_HPROF_UPLOAD_TIMEOUT=90s",
                         "FLAMESHOT_HPROF_UPLOAD_S3_PATH_STYLE=false",
                         NULL};
    struct config c;
    CHECK_EQ(load(off, &c), 0);
    CHECK(!c.hprof_upload.enabled);
    CHECK_STREQ(c.hprof_upload.path_template, "{service}/{pod_name}/{timestamp}/{filename}");
    CHECK_EQ(c.hprof_upload.timeout_ms, 300000);
    CHECK(c.hprof_upload.s3_path_style);
    config_free(&c);
    CHECK_EQ(load(env, &c), 0);
    CHECK(c.hprof_upload.enabled);
    CHECK_STREQ(c.hprof_upload.provider, "s3");
    CHECK_STREQ(c.hprof_upload.region, "us-east-1");
    CHECK_STREQ(c.hprof_upload.download_url_template, "https://dl/{object_key}");
    CHECK_EQ(c.hprof_upload.timeout_ms, 90000);
    CHECK(!c.hprof_upload.s3_path_style);
    cJSON *j = config_to_json(&c);
    char *text = cJSON_PrintUnformatted(j);
    cJSON *u = cJSON_GetObjectItem(j, "hprof_upload");
    CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(u, "access_key_secret")), "***");
    CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(u, "security_token")), "***");
    CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(u, "access_key_id")), "AKID");
    CHECK(!strstr(text, "very-secret") && !strstr(text, "sts-token"));
    free(text);
    cJSON_Delete(j);
    config_free(&c);
}

static int load(const char **env, struct config *cfg)
{
    struct config_error err;
    int rc = config_load(cfg, fake_get, (void *)env, &err);
    if (rc < 0)
        fprintf(stderr, "# unexpected error %s: %s\n", err.path, err.reason);
    return rc;
}

TEST(defaults_are_flameshot_defaults)
{
    const char *env[] = {NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.mode, FS_MODE_STANDALONE);
    CHECK(c.datakit_addr == NULL);
    CHECK_STREQ(c.profiling_path, "/var/lib/flameshot");
    CHECK_EQ(c.monitor_interval_ms, 1000);
    CHECK_EQ(c.log_level, LOG_INFO);
    CHECK_EQ(c.auto_profiling_ms, 0);
    CHECK_EQ(c.auto_profiling_duration_ms, 30000);
    CHECK(!c.oom_hprof_enabled);
    CHECK_EQ(c.oom_hprof_match_window_ms, 120000);
    CHECK(c.jcmd_snapshot_enabled);
    CHECK_EQ(c.jcmd_timeout_ms, 10000);
    CHECK(c.attach_prewarm);
    CHECK_EQ(c.pod_mem_limit_mb, 0);
    CHECK_EQ(c.pod_cpu_limit_millis, 0);
    CHECK_STREQ(c.http_ip, "127.0.0.1");
    CHECK_EQ(c.http_port, 8089);
    CHECK(c.service == NULL);
    CHECK_EQ(c.tags.n, 0);
    CHECK(c.node_name && c.node_name[0]);
    CHECK_STREQ(c.async_profiler_path, "/opt/async-profiler");
    CHECK_EQ(c.bpf, FS_BPF_AUTO);
    CHECK_EQ(c.bpf_ring_kb, 256);
    CHECK_EQ(c.max_concurrent_jobs, 2);
    CHECK_EQ(c.max_jobs_per_container, 1);
    CHECK_EQ(c.max_queued_per_container, 8);
    CHECK_EQ(c.spool_max_mb, 1024);
    CHECK_EQ(c.max_profile_mb, 256);
    CHECK(!c.local_keep);
    CHECK_EQ(c.ui_max_kb, 65536);
    CHECK(c.http_token == NULL);
    CHECK(!c.http_insecure);
    CHECK(c.rules.is_default);
    CHECK_EQ(c.rules.n, 1);
    config_free(&c);
    const char *small[] = {"FLAMESHOT_SPOOL_MAX_MB=100", NULL}; /* the default fits the budget */
    CHECK_EQ(load(small, &c), 0);
    CHECK_EQ(c.max_profile_mb, 100);
    config_free(&c);
}

TEST(every_variable_is_read)
{
    const char *env[] = {"FLAMESHOT_MODE=standalone",
                         "FLAMESHOT_DATAKIT_ADDR=http://datakit:9529/profiling/v1/input",
                         "FLAMESHOT_PROFILING_PATH=/data/fs",
                         "FLAMESHOT_MONITOR_INTERVAL=500ms",
                         "FLAMESHOT_LOG_LEVEL=debug",
                         "FLAMESHOT_AUTO_PROFILING=1h",
                         "FLAMESHOT_AUTO_PROFILING_DURATION=1m30s",
                         "FLAMESHOT_OOM_HPROF_ENABLED=true",
                         "FLAMESHOT_OOM_HPROF_MATCH_WINDOW=5m",
                         "FLAMESHOT_JCMD_SNAPSHOT_ENABLED=off",
                         "FLAMESHOT_JCMD_TIMEOUT=2s",
                         "FLAMESHOT_ATTACH_PREWARM=false",
                         "FLAMESHOT_POD_MEM_LIMIT=512Mi",
                         "FLAMESHOT_POD_CPU_LIMIT=1500m",
                         "FLAMESHOT_HTTP_LOCAL_IP=::1",
                         "FLAMESHOT_HTTP_LOCAL_PORT=9099",
                         "FLAMESHOT_SERVICE=checkout",
                         "FLAMESHOT_TAGS=host: host_name,pod_name:pod_a , url:http://x:1",
                         "FLAMESHOT_NODE_NAME=node-7",
                         "FLAMESHOT_ASYNC_PROFILER_PATH=/opt/ap",
                         "FLAMESHOT_BPF=off",
                         "FLAMESHOT_BPF_RING_KB=64",
                         "FLAMESHOT_MAX_CONCURRENT_JOBS=4",
                         "FLAMESHOT_MAX_JOBS_PER_CONTAINER=3",
                         "FLAMESHOT_MAX_QUEUED_PER_CONTAINER=16",
                         "FLAMESHOT_HTTP_INSECURE=true",
                         "FLAMESHOT_SPOOL_MAX_MB=64",
                         "FLAMESHOT_MAX_PROFILE_MB=48",
                         "FLAMESHOT_LOCAL_KEEP=true",
                         "FLAMESHOT_UI_MAX_KB=2048",
                         "FLAMESHOT_HTTP_TOKEN=s3cret",
                         "FLAMESHOT_PROCESSES=[{\"service\":\"user-service\",\"language\":\"java\","
                         "\"command\":\"^java.*user-service\\\\.jar$\",\"duration\":\"60s\","
                         "\"events\":\"cpu,alloc\","
                         "\"cpu_usage_percent\":80,\"mem_usage_percent\":80,\"mem_usage_mb\":1024,"
                         "\"mem_usage_percent_emergency\":92,\"mem_usage_mb_emergency\":1536,"
                         "\"emergency_duration\":\"10s\",\"tags\":[\"env:prod\",\"version:v1.2\"],"
                         "\"jdk_version\":\"17\",\"container\":\"app\",\"cooldown\":\"2m\"}]",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_STREQ(c.datakit_addr, "http://datakit:9529/profiling/v1/input");
    CHECK_STREQ(c.profiling_path, "/data/fs");
    CHECK_EQ(c.monitor_interval_ms, 500);
    CHECK_EQ(c.log_level, LOG_DEBUG);
    CHECK_EQ(c.auto_profiling_ms, 3600000);
    CHECK_EQ(c.auto_profiling_duration_ms, 90000);
    CHECK(c.oom_hprof_enabled);
    CHECK_EQ(c.oom_hprof_match_window_ms, 300000);
    CHECK(!c.jcmd_snapshot_enabled);
    CHECK_EQ(c.jcmd_timeout_ms, 2000);
    CHECK(!c.attach_prewarm);
    CHECK_EQ(c.pod_mem_limit_mb, 512);
    CHECK_EQ(c.pod_cpu_limit_millis, 1500);
    CHECK_STREQ(c.http_ip, "::1");
    CHECK_EQ(c.http_port, 9099);
    CHECK_STREQ(c.service, "checkout");
    CHECK_EQ(c.tags.n, 3);
    CHECK_STREQ(tags_get(&c.tags, "host"), "host_name");
    CHECK_STREQ(tags_get(&c.tags, "pod_name"), "pod_a");
    CHECK_STREQ(tags_get(&c.tags, "url"), "http://x:1");
    CHECK_STREQ(c.node_name, "node-7");
    CHECK_STREQ(c.async_profiler_path, "/opt/ap");
    CHECK_EQ(c.bpf, FS_BPF_OFF);
    CHECK_EQ(c.bpf_ring_kb, 64);
    CHECK_EQ(c.max_concurrent_jobs, 4);
    CHECK_EQ(c.max_jobs_per_container, 3);
    CHECK_EQ(c.max_queued_per_container, 16);
    CHECK(c.http_insecure);
    CHECK_EQ(c.spool_max_mb, 64);
    CHECK_EQ(c.max_profile_mb, 48);
    CHECK(c.local_keep);
    CHECK_EQ(c.ui_max_kb, 2048);
    CHECK_STREQ(c.http_token, "s3cret");
    CHECK_EQ(c.rules.n, 1);
    const struct rule *r = &c.rules.items[0];
    CHECK_STREQ(r->service, "checkout"); /* FLAMESHOT_SERVICE replaces every rule's service */
    CHECK_EQ(r->duration_ms, 60000);
    CHECK_EQ(r->events, PROF_EV_CPU | PROF_EV_ALLOC);
    CHECK(r->cpu_usage_percent == 80 && r->mem_usage_percent == 80 && r->mem_usage_mb == 1024);
    CHECK(r->mem_usage_percent_emergency == 92 && r->mem_usage_mb_emergency == 1536);
    CHECK_EQ(r->emergency_duration_ms, 10000);
    CHECK_STREQ(tags_get(&r->tags, "env"), "prod");
    CHECK_STREQ(r->jdk_version, "17");
    CHECK_STREQ(r->container, "app");
    CHECK_EQ(r->cooldown_ms, 120000);
    CHECK_EQ(rule_match(r, "java -jar /srv/user-service.jar"), 1);
    CHECK_EQ(rule_match(r, "java -jar /srv/order-service.jar"), 0);
    config_free(&c);
}

TEST(monitor_interval_accepts_flameshot_bare_seconds)
{
    const char *env[] = {"FLAMESHOT_MONITOR_INTERVAL=2", NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.monitor_interval_ms, 2000);
    config_free(&c);
}

TEST(mode_auto_follows_kubernetes_service_host)
{
    const char *env[] = {"KUBERNETES_SERVICE_HOST=10.0.0.1", NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.mode, FS_MODE_KUBERNETES);
    CHECK_EQ(c.mode_requested, FS_MODE_AUTO);
    config_free(&c);
    const char *env2[] = {"KUBERNETES_SERVICE_HOST=10.0.0.1", "FLAMESHOT_MODE=standalone", NULL};
    CHECK_EQ(load(env2, &c), 0);
    CHECK_EQ(c.mode, FS_MODE_STANDALONE);
    config_free(&c);
}

TEST(kube_api_and_service_account_in_kubernetes_mode_only)
{
    const char *incluster[] = {"KUBERNETES_SERVICE_HOST=fd00:10:96::1",
                               "KUBERNETES_SERVICE_PORT=443", NULL};
    struct config c;
    CHECK_EQ(load(incluster, &c), 0);
    CHECK_STREQ(c.kube_api, "https://[fd00:10:96::1]:443");
    CHECK_STREQ(c.kube_sa_dir, "/var/run/secrets/kubernetes.io/serviceaccount");
    config_free(&c);
    const char *override[] = {"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443",
                              "FLAMESHOT_KUBE_API=https://127.0.0.1:6443/",
                              "FLAMESHOT_KUBE_SA_DIR=/tmp/sa", NULL};
    CHECK_EQ(load(override, &c), 0);
    CHECK_STREQ(c.kube_api, "https://127.0.0.1:6443/");
    CHECK_STREQ(c.kube_sa_dir, "/tmp/sa");
    cJSON *j = config_to_json(&c);
    char *text = cJSON_PrintUnformatted(j);
    CHECK_CONTAINS(text, "\"kube_api\":\"https://127.0.0.1:6443/\",\"kube_sa_dir\":\"/tmp/sa\"");
    free(text);
    cJSON_Delete(j);
    config_free(&c);
    /* without an API server no Pod is known: nothing could ever be watched */
    const char *nowhere[] = {"FLAMESHOT_MODE=kubernetes", NULL};
    struct config_error e;
    CHECK_EQ(config_load(&c, fake_get, (void *)nowhere, &e), -EINVAL);
    CHECK_STREQ(e.path, "FLAMESHOT_KUBE_API");
    CHECK_CONTAINS(e.reason, "needs the API server");
    const char *standalone[] = {"FLAMESHOT_MODE=standalone", "FLAMESHOT_KUBE_API=nonsense", NULL};
    CHECK_EQ(load(standalone, &c), 0);
    CHECK(!c.kube_api && !c.kube_sa_dir);
    config_free(&c);
}

TEST(test_override_allows_short_auto_profiling)
{
    const char *env[] = {"FLAMESHOT_TEST_SHORT_INTERVALS=1", "FLAMESHOT_AUTO_PROFILING=5s",
                         "FLAMESHOT_AUTO_PROFILING_DURATION=2s", NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.auto_profiling_ms, 5000);
    CHECK(c.short_intervals);
    config_free(&c);
}

/* Flameshot (time.ParseDuration, then "auto > 0 && auto < 1m") treats 0 as
 * off; so do we, with or without a unit. */
TEST(auto_profiling_zero_means_off)
{
    const char *zeros[] = {"0", "0s", "0m", "0ms", "0h0m"};
    for (size_t i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++) {
        char var[64];
        snprintf(var, sizeof(var), "FLAMESHOT_AUTO_PROFILING=%s", zeros[i]);
        const char *env[] = {var, NULL};
        struct config c;
        CHECK_MSG(load(env, &c) == 0, "FLAMESHOT_AUTO_PROFILING=%s refused", zeros[i]);
        CHECK_EQ(c.auto_profiling_ms, 0);
        config_free(&c);
    }
    /* off, so the duration need not be shorter than it */
    const char *env[] = {"FLAMESHOT_AUTO_PROFILING=0", "FLAMESHOT_AUTO_PROFILING_DURATION=1m",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.auto_profiling_ms, 0);
    config_free(&c);
}

TEST(evidence_lead_defaults_to_3s_and_0_turns_it_off)
{
    static const struct {
        const char *env;
        uint64_t ms;
    } cases[] = {{NULL, 3000},
                 {"FLAMESHOT_EVIDENCE_LEAD=0", 0},
                 {"FLAMESHOT_EVIDENCE_LEAD=0s", 0},
                 {"FLAMESHOT_EVIDENCE_LEAD=1500ms", 1500},
                 {"FLAMESHOT_EVIDENCE_LEAD=10s", 10000}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i].env, NULL};
        struct config c;
        CHECK_MSG(load(env, &c) == 0, "%s refused", cases[i].env);
        CHECK_MSG(c.evidence_lead_ms == cases[i].ms, "%s: %llu ms", cases[i].env,
                  (unsigned long long)c.evidence_lead_ms);
        config_free(&c);
    }
}

TEST(bpf_ring_defaults_to_256_kib_and_takes_powers_of_two)
{
    static const struct {
        const char *env;
        uint32_t kb;
    } cases[] = {{NULL, 256},
                 {"FLAMESHOT_BPF_RING_KB=4", 4},
                 {"FLAMESHOT_BPF_RING_KB=1024", 1024},
                 {"FLAMESHOT_BPF_RING_KB=65536", 65536}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i].env, NULL};
        struct config c;
        CHECK_MSG(load(env, &c) == 0, "%s refused", cases[i].env);
        CHECK_MSG(c.bpf_ring_kb == cases[i].kb, "%s: %u KiB", cases[i].env, c.bpf_ring_kb);
        cJSON *j = config_to_json(&c);
        CHECK_EQ(cJSON_GetObjectItem(j, "bpf_ring_kb")->valueint, (int)cases[i].kb);
        cJSON_Delete(j);
        config_free(&c);
    }
}

TEST(events_default_and_all_names)
{
    const char *env[] = {"FLAMESHOT_PROCESSES=[{\"command\":\"a\"},{\"command\":\"b\",\"events\":"
                         "\"cpu,alloc,lock,wall,itimer,cache-misses,cs,nativemem,all\"},"
                         "{\"command\":\"c\",\"events\":[\"context-switches\",\"wall\"]}]",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.rules.items[0].events, PROF_EV_DEFAULT);
    CHECK_EQ(c.rules.items[1].events, 0x1ff);
    CHECK_EQ(c.rules.items[2].events, PROF_EV_CS | PROF_EV_WALL);
    char b[128];
    CHECK_STREQ(prof_events_format(c.rules.items[2].events, b, sizeof(b)), "wall,cs");
    config_free(&c);
}

TEST(default_rule_matches_java_launchers_only)
{
    const char *env[] = {NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    const struct rule *r = &c.rules.items[0];
    CHECK_EQ(rule_match(r, "java -jar app.jar"), 1);
    CHECK_EQ(rule_match(r, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xmx1g Main"), 1);
    CHECK_EQ(rule_match(r, "java"), 1);
    CHECK_EQ(rule_match(r, "/usr/bin/javac Main.java"), 0);
    CHECK_EQ(rule_match(r, "python3 java.py"), 0);
    CHECK(r->cpu_usage_percent == 80 && r->mem_usage_percent == 85);
    CHECK(r->mem_usage_percent_emergency == 95);
    config_free(&c);
}

TEST(rules_find_honours_container_scope_and_order)
{
    const char *env[] = {"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"container\":\"app\","
                         "\"service\":\"a\"},{\"command\":\"java\",\"service\":\"b\"}]",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_STREQ(rules_find(&c.rules, "java -jar x", "app")->service, "a");
    CHECK_STREQ(rules_find(&c.rules, "java -jar x", "sidecar")->service, "b");
    CHECK(rules_find(&c.rules, "python x", "app") == NULL);
    config_free(&c);
}

TEST(check_config_json_masks_token_and_normalizes)
{
    const char *env[] = {"FLAMESHOT_HTTP_TOKEN=s3cret", "FLAMESHOT_AUTO_PROFILING=90s",
                         "FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"duration\":\"1m30s\"}]",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    cJSON *j = config_to_json(&c);
    char *s = cJSON_PrintUnformatted(j);
    CHECK(s != NULL);
    CHECK(strstr(s, "s3cret") == NULL);
    CHECK_CONTAINS(s, "\"http_token\":\"(set)\"");
    CHECK_CONTAINS(s, "\"auto_profiling\":\"1m30s\"");
    CHECK_CONTAINS(s, "\"duration\":\"1m30s\"");
    CHECK_CONTAINS(s, "\"sink\":\"local\"");
    CHECK_CONTAINS(s, "\"max_profile_mb\":256");
    CHECK_CONTAINS(s, "\"attach_prewarm\":true");
    free(s);
    cJSON_Delete(j);
    config_free(&c);
}

/* Flameshot's indexed form, every field; index 0 first, the list ends at
 * the first missing SERVICE (its config.loadProcessesFromEnv). */
TEST(indexed_variables_are_flameshot_processes)
{
    const char *env[] = {"FLAMESHOT_SERVICE=checkout",
                         "FLAMESHOT_PROCESSES_0_SERVICE=tmall",
                         "FLAMESHOT_PROCESSES_0_COMMAND=java -jar tmall\\.jar",
                         "FLAMESHOT_PROCESSES_0_LANGUAGE=java",
                         "FLAMESHOT_PROCESSES_0_EVENTS=cpu,alloc",
                         "FLAMESHOT_PROCESSES_0_DURATION=30s",
                         "FLAMESHOT_PROCESSES_0_EMERGENCY_DURATION=10s",
                         "FLAMESHOT_PROCESSES_0_TAGS=[\"env:prod\",\"version:1.0.0\"]",
                         "FLAMESHOT_PROCESSES_0_JDK_VERSION=17",
                         "FLAMESHOT_PROCESSES_0_CPU_USAGE_PERCENT=80",
                         "FLAMESHOT_PROCESSES_0_MEM_USAGE_PERCENT=75.5",
                         "FLAMESHOT_PROCESSES_0_MEM_USAGE_MB=1024",
                         "FLAMESHOT_PROCESSES_0_MEM_USAGE_PERCENT_EMERGENCY=92",
                         "FLAMESHOT_PROCESSES_0_MEM_USAGE_MB_EMERGENCY=1536",
                         "FLAMESHOT_PROCESSES_0_CONTAINER=app",
                         "FLAMESHOT_PROCESSES_0_COOLDOWN=2m",
                         "FLAMESHOT_PROCESSES_1_SERVICE=tmall_server",
                         "FLAMESHOT_PROCESSES_1_COMMAND=^java\\b.*server",
                         "FLAMESHOT_PROCESSES_1_JDK_VERSION=",
                         "FLAMESHOT_PROCESSES_3_SERVICE=dropped",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK(c.rules.is_indexed && !c.rules.is_default);
    CHECK_EQ(c.rules.n, 2);
    const struct rule *r = &c.rules.items[0];
    CHECK_EQ(r->index, 0);
    CHECK_STREQ(r->service, "tmall"); /* FLAMESHOT_SERVICE replaces JSON rules' only */
    CHECK_EQ(rule_match(r, "java -jar tmall.jar"), 1);
    CHECK_EQ(r->events, PROF_EV_CPU | PROF_EV_ALLOC);
    CHECK_EQ(r->duration_ms, 30000);
    CHECK_EQ(r->emergency_duration_ms, 10000);
    CHECK_STREQ(tags_get(&r->tags, "version"), "1.0.0");
    CHECK_STREQ(r->jdk_version, "17");
    CHECK(r->cpu_usage_percent == 80 && r->mem_usage_percent == 75.5 && r->mem_usage_mb == 1024);
    CHECK(r->mem_usage_percent_emergency == 92 && r->mem_usage_mb_emergency == 1536);
    CHECK_STREQ(r->container, "app");
    CHECK_EQ(r->cooldown_ms, 120000);
    r = &c.rules.items[1];
    CHECK_STREQ(r->service, "tmall_server");
    CHECK(r->jdk_version == NULL); /* empty is unset, as in Flameshot */
    CHECK_EQ(r->duration_ms, 60000);
    cJSON *j = config_to_json(&c);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "processes_indexed")));
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "processes")), 2);
    cJSON_Delete(j);
    config_free(&c);
}

/* The most CPU can read, in the base the thresholds use. */
TEST(cpu_ceiling_follows_the_base)
{
    CHECK(rule_cpu_ceiling(4, 0, 0) == 400);       /* no quota: percent of one core */
    CHECK(rule_cpu_ceiling(4, 1000, 1000) == 100); /* percent of the quota */
    CHECK(rule_cpu_ceiling(4, 0, 500) == 800);     /* an override the kernel does not enforce */
    CHECK(rule_cpu_ceiling(4, 1000, 500) == 200);  /* ... under a 1-core quota */
    CHECK(rule_cpu_ceiling(2, 8000, 8000) == 25);  /* a quota above the host's cores */
    CHECK(rule_cpu_ceiling(0, 0, 0) == 100);
}

TEST(unreachable_thresholds_are_named_one_by_one)
{
    const char *env[] = {"FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"cpu_usage_percent\":320,"
                         "\"mem_usage_mb\":2048,\"mem_usage_mb_emergency\":100}]",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    char field[64], why[256], path[192];
    int next = 0;
    const struct rule *r = &c.rules.items[0];
    CHECK_EQ(rule_unreachable(r, 100, 1024, &next, field, sizeof(field), why, sizeof(why)), 1);
    CHECK_STREQ(field, "cpu_usage_percent");
    CHECK_STREQ(why, "320 is above 100, the most CPU can read: it can never fire");
    CHECK_EQ(rule_unreachable(r, 100, 1024, &next, field, sizeof(field), why, sizeof(why)), 1);
    CHECK_STREQ(field, "mem_usage_mb");
    CHECK_EQ(rule_unreachable(r, 100, 1024, &next, field, sizeof(field), why, sizeof(why)), 0);
    next = 0;
    CHECK_EQ(rule_unreachable(r, 400, 0, &next, field, sizeof(field), why, sizeof(why)), 0);
    rule_field_path(r, true, "cpu_usage_percent", path, sizeof(path));
    CHECK_STREQ(path, "FLAMESHOT_PROCESSES_0_CPU_USAGE_PERCENT "
                      "(FLAMESHOT_PROCESSES[0].cpu_usage_percent)");
    config_free(&c);
}

/* At load time, against this host: cores x 100 without an override. */
TEST(a_threshold_this_host_cannot_reach_is_a_warning)
{
    const char *env[] = {
        "FLAMESHOT_PROCESSES=[{\"command\":\"java\",\"cpu_usage_percent\":100000}]", NULL};
    t_stderr_begin();
    struct config c;
    int rc = load(env, &c);
    const char *buf = t_stderr_end();
    CHECK_EQ(rc, 0);
    CHECK_CONTAINS(buf, "level=warn module=config msg=\"FLAMESHOT_PROCESSES[0].cpu_usage_percent: "
                        "100000 is above ");
    CHECK_CONTAINS(buf, "CPU in percent of one core");
    config_free(&c);
}

static int unknown_count;
static char unknown_near[64];
static char unknown_log[1024]; /* "name|near;" per report */
static void on_unknown(const char *name, const char *near, void *arg)
{
    (void)arg;
    if (!unknown_count)
        unknown_log[0] = '\0';
    unknown_count++;
    snprintf(unknown_near, sizeof(unknown_near), "%s", near ? near : "");
    size_t n = strlen(unknown_log);
    snprintf(unknown_log + n, sizeof(unknown_log) - n, "%s|%s;", name, near ? near : "");
}

TEST(unknown_variables_are_reported_with_suggestion)
{
    char *envp[] = {"PATH=/bin", "FLAMESHOT_MONITOR_INTERVALL=1s", "FLAMESHOT_SERVICE=x", NULL};
    unknown_count = 0;
    config_check_unknown(envp, on_unknown, NULL);
    CHECK_EQ(unknown_count, 1);
    CHECK_STREQ(unknown_near, "FLAMESHOT_MONITOR_INTERVAL");
}

/* Off the loopback, the API needs a token or an explicit FLAMESHOT_HTTP_INSECURE. */
TEST(http_off_loopback_needs_token_or_insecure)
{
    static const char *const ok[][3] = {
        {"FLAMESHOT_HTTP_LOCAL_IP=127.0.0.1"},
        {"FLAMESHOT_HTTP_LOCAL_IP=127.3.2.1"},
        {"FLAMESHOT_HTTP_LOCAL_IP=::1"},
        {"FLAMESHOT_HTTP_LOCAL_IP=::ffff:127.0.0.1"},
        {"FLAMESHOT_HTTP_LOCAL_IP=10.0.0.7", "FLAMESHOT_HTTP_TOKEN=t0k"},
        {"FLAMESHOT_HTTP_LOCAL_IP=0.0.0.0", "FLAMESHOT_HTTP_INSECURE=true"},
        {"FLAMESHOT_HTTP_LOCAL_IP=fd00::7", "FLAMESHOT_HTTP_INSECURE=1"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *env[3] = {ok[i][0], ok[i][1], NULL};
        struct config c;
        CHECK_MSG(load(env, &c) == 0, "case %zu (%s %s) refused", i, ok[i][0],
                  ok[i][1] ? ok[i][1] : "");
        config_free(&c);
    }
}

TEST(indexed_variables_unknown_or_past_the_end_are_named)
{
    char *known[] = {"FLAMESHOT_PROCESSES_0_SERVICE=a",
                     "FLAMESHOT_PROCESSES_0_COMMAND=java",
                     "FLAMESHOT_PROCESSES_0_MEM_USAGE_MB_EMERGENCY=9",
                     "FLAMESHOT_PROCESSES_1_SERVICE=b",
                     "FLAMESHOT_PROCESSES_1_TAGS=[]",
                     NULL};
    unknown_count = 0;
    config_check_unknown(known, on_unknown, NULL);
    CHECK_EQ(unknown_count, 0);
    char *typo[] = {"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_DURATON=1m", NULL};
    unknown_count = 0;
    config_check_unknown(typo, on_unknown, NULL);
    CHECK_EQ(unknown_count, 1);
    CHECK_STREQ(unknown_near, "FLAMESHOT_PROCESSES_0_DURATION");
    /* index 2 after a missing FLAMESHOT_PROCESSES_1_SERVICE: dropped, so named */
    char *gap[] = {"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_2_SERVICE=c",
                   "FLAMESHOT_PROCESSES_01_SERVICE=x", NULL};
    unknown_count = 0;
    config_check_unknown(gap, on_unknown, NULL);
    CHECK_EQ(unknown_count, 2);
    CHECK_CONTAINS(unknown_log, "FLAMESHOT_PROCESSES_2_SERVICE|(FLAMESHOT_PROCESSES_1_SERVICE is "
                                "unset: the indexed list ends there");
    CHECK_CONTAINS(unknown_log, "FLAMESHOT_PROCESSES_01_SERVICE|;"); /* %d never writes 01 */
    unknown_count = 0;
    config_check_unknown(gap + 1, on_unknown, NULL);
    CHECK_EQ(unknown_count, 2);
    CHECK_CONTAINS(unknown_log, "FLAMESHOT_PROCESSES_2_SERVICE|(FLAMESHOT_PROCESSES_0_SERVICE");
}

/* a sidecar's limit on a DaemonSet would be every Pod's limit */
TEST(pod_limits_refused_in_kubernetes_mode)
{
    const char *k8s[] = {"FLAMESHOT_MODE=kubernetes", "FLAMESHOT_KUBE_API=https://10.0.0.1",
                         "FLAMESHOT_POD_MEM_LIMIT=512Mi", NULL};
    struct config c;
    struct config_error e;
    CHECK_EQ(config_load(&c, fake_get, (void *)k8s, &e), -EINVAL);
    CHECK_STREQ(e.path, "FLAMESHOT_POD_MEM_LIMIT");
    CHECK_CONTAINS(e.reason, "own cgroup");
    k8s[2] = "FLAMESHOT_POD_CPU_LIMIT=500m";
    CHECK_EQ(config_load(&c, fake_get, (void *)k8s, &e), -EINVAL);
    CHECK_STREQ(e.path, "FLAMESHOT_POD_CPU_LIMIT");
    const char *standalone[] = {"FLAMESHOT_MODE=standalone", "FLAMESHOT_POD_MEM_LIMIT=512Mi", NULL};
    CHECK_EQ(load(standalone, &c), 0);
    CHECK_EQ(c.pod_mem_limit_mb, 512);
    config_free(&c);
}

/* Flameshot's go rule fields: pprof_types (a list, or "a,b" in the
 * indexed form), else events as pprof types, else cpu; pprof_timeout never
 * under the profile's duration + 15 s. */
TEST(go_rules_take_flameshots_pprof_fields)
{
    struct rule_set set;
    struct rule_error err;
    const char *json =
        "[{\"command\":\"^/app/api\",\"language\":\" GoLang \",\"pprof_url\":"
        "\"http://127.0.0.1:6060/base?token=x\",\"pprof_types\":[\"goroutines\",\"heap\"],"
        "\"pprof_timeout\":\"2m\"},"
        "{\"command\":\"b\",\"events\":\"mutex, block\",\"language\":\"go\",\"pprof_url\":"
        "\"http://localhost:6060\"},"
        "{\"command\":\"c\",\"language\":\"go\",\"pprof_url\":\"http://[::1]:6060\"},"
        "{\"command\":\"d\",\"language\":\"go\",\"pprof_url\":\"http://127.0.0.1:1\","
        "\"pprof_types\":\"all\"}]";
    int rc = rules_parse(json, NULL, &set, &err);
    CHECK_MSG(rc == 0, "%s: %s", err.path, err.reason);
    CHECK_EQ(set.items[0].language, RULE_LANG_GO);
    CHECK_EQ(set.items[0].pprof_types, RULE_PPROF_GOROUTINE | RULE_PPROF_HEAP);
    CHECK_STREQ(set.items[0].pprof_url, "http://127.0.0.1:6060/base?token=x");
    CHECK_EQ(rule_pprof_timeout(&set.items[0], 30000), 120000);
    CHECK_EQ(rule_pprof_timeout(&set.items[0], 110000), 125000);
    CHECK_EQ(set.items[1].pprof_types, RULE_PPROF_MUTEX | RULE_PPROF_BLOCK);
    CHECK_EQ(set.items[2].pprof_types, RULE_PPROF_CPU);
    CHECK_EQ(rule_pprof_timeout(&set.items[2], 60000), 75000);
    CHECK_EQ(set.items[3].pprof_types, RULE_PPROF_ALL);
    cJSON *j = rule_to_json(&set.items[0]);
    CHECK_STREQ(cJSON_GetObjectItem(j, "language")->valuestring, "go");
    CHECK_STREQ(cJSON_GetObjectItem(j, "pprof_types")->valuestring, "goroutine,heap");
    CHECK_STREQ(cJSON_GetObjectItem(j, "pprof_timeout")->valuestring, "2m");
    cJSON_Delete(j);
    rules_free(&set);
    const char *env[] = {"FLAMESHOT_PROCESSES_0_SERVICE=api",
                         "FLAMESHOT_PROCESSES_0_COMMAND=api",
                         "FLAMESHOT_PROCESSES_0_LANGUAGE=go",
                         "FLAMESHOT_PROCESSES_0_PPROF_URL=http://127.0.0.1:6060",
                         "FLAMESHOT_PROCESSES_0_PPROF_TYPES=[\"cpu\",\"mutex\"]",
                         "FLAMESHOT_PROCESSES_1_SERVICE=b",
                         "FLAMESHOT_PROCESSES_1_COMMAND=b",
                         "FLAMESHOT_PROCESSES_1_LANGUAGE=golang",
                         "FLAMESHOT_PROCESSES_1_PPROF_URL=http://127.0.0.1:6060",
                         "FLAMESHOT_PROCESSES_1_PPROF_TYPES=heap, block",
                         "FLAMESHOT_PROCESSES_1_PPROF_TIMEOUT=90s",
                         NULL};
    struct config c;
    CHECK_EQ(load(env, &c), 0);
    CHECK_EQ(c.rules.n, 2);
    CHECK_EQ(c.rules.items[0].pprof_types, RULE_PPROF_CPU | RULE_PPROF_MUTEX);
    CHECK_EQ(c.rules.items[1].pprof_types, RULE_PPROF_HEAP | RULE_PPROF_BLOCK);
    CHECK_EQ(c.rules.items[1].pprof_timeout_ms, 90000);
    config_free(&c);
}

/* Flameshot's heap-dump variables, its profiling switch and the rule
 * field heap_dump_on_memory_emergency (absent: allowed when enabled). */
TEST(heap_dump_settings_and_profiling_switch)
{
    const char *none[] = {NULL};
    struct config c;
    CHECK_EQ(load(none, &c), 0);
    CHECK(c.profiling_enabled && !c.heap_dump_enabled);
    CHECK_EQ(c.heap_dump_timeout_ms, 120000);
    CHECK_EQ(c.heap_dump_cooldown_ms, 600000);
    CHECK_STREQ(c.heap_dump_path_template,
                "{profiling_path}/dumps/{service}_{pod_name}_{pid}_{timestamp}.hprof");
    CHECK(c.rules.items[0].heap_dump == RULE_HEAP_DUMP_UNSET);
    CHECK(rule_heap_dump_allowed(&c.rules.items[0], true));
    CHECK(!rule_heap_dump_allowed(&c.rules.items[0], false));
    config_free(&c);
    const char *set[] = {
        "FLAMESHOT_PROFILING_ENABLED=false",
        "FLAMESHOT_HEAP_DUMP_ENABLED=true",
        "FLAMESHOT_HEAP_DUMP_TIMEOUT=30s",
        "FLAMESHOT_HEAP_DUMP_COOLDOWN=1h",
        "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE=/dumps/{pod_namespace}/{host}-{filename}",
        "FLAMESHOT_PROCESSES=[{\"command\":\"a\",\"heap_dump_on_memory_emergency\":false},"
        "{\"command\":\"b\",\"heap_dump_on_memory_emergency\":true},{\"command\":\"c\"}]",
        NULL};
    CHECK_EQ(load(set, &c), 0);
    CHECK(!c.profiling_enabled && c.heap_dump_enabled);
    CHECK_EQ(c.heap_dump_timeout_ms, 30000);
    CHECK_EQ(c.heap_dump_cooldown_ms, 3600000);
    CHECK_STREQ(c.heap_dump_path_template, "/dumps/{pod_namespace}/{host}-{filename}");
    CHECK(!rule_heap_dump_allowed(&c.rules.items[0], true));
    CHECK(rule_heap_dump_allowed(&c.rules.items[1], true));
    CHECK(rule_heap_dump_allowed(&c.rules.items[2], true));
    cJSON *j = config_to_json(&c);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "profiling_enabled")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "heap_dump_enabled")));
    CHECK_STREQ(cJSON_GetObjectItem(j, "heap_dump_cooldown")->valuestring, "1h");
    cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "processes"), 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(r0, "heap_dump_on_memory_emergency")));
    CHECK(!cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "processes"), 2),
                               "heap_dump_on_memory_emergency"));
    cJSON_Delete(j);
    config_free(&c);
    const char *indexed[] = {"FLAMESHOT_PROCESSES_0_SERVICE=a",
                             "FLAMESHOT_PROCESSES_0_COMMAND=java",
                             "FLAMESHOT_PROCESSES_0_HEAP_DUMP_ON_MEMORY_EMERGENCY=off", NULL};
    CHECK_EQ(load(indexed, &c), 0);
    CHECK(c.rules.items[0].heap_dump == RULE_HEAP_DUMP_OFF);
    config_free(&c);
    static const struct reject_case bad[] = {
        {{"FLAMESHOT_PROFILING_ENABLED=maybe"}, "FLAMESHOT_PROFILING_ENABLED", "not a boolean"},
        {{"FLAMESHOT_HEAP_DUMP_TIMEOUT=0s"}, "FLAMESHOT_HEAP_DUMP_TIMEOUT", "too short"},
        {{"FLAMESHOT_HEAP_DUMP_COOLDOWN=soon"}, "FLAMESHOT_HEAP_DUMP_COOLDOWN", "not a duration"},
        {{"FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE=dumps/{pid}.hprof"},
         "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE",
         "must be an absolute path"},
        {{"FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE=/d/{podname}.hprof"},
         "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE",
         "unknown name {podname}"},
        {{"FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE=/d/../{pid}.hprof"},
         "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE",
         "\"..\" component"},
        {{"FLAMESHOT_PROCESSES=[{\"command\":\"a\",\"heap_dump_on_memory_emergency\":\"yes\"}]"},
         "FLAMESHOT_PROCESSES[0].heap_dump_on_memory_emergency",
         "must be true or false"},
        {{"FLAMESHOT_PROCESSES_0_SERVICE=a", "FLAMESHOT_PROCESSES_0_COMMAND=java",
          "FLAMESHOT_PROCESSES_0_HEAP_DUMP_ON_MEMORY_EMERGENCY=ja"},
         "FLAMESHOT_PROCESSES_0_HEAP_DUMP_ON_MEMORY_EMERGENCY "
         "(FLAMESHOT_PROCESSES[0].heap_dump_on_memory_emergency)",
         "not a boolean"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *env[4] = {bad[i].env[0], bad[i].env[1], bad[i].env[2], NULL};
        struct config_error err;
        CHECK_MSG(config_load(&c, fake_get, (void *)env, &err) == -EINVAL, "case %zu accepted", i);
        CHECK_MSG(strcmp(err.path, bad[i].path) == 0, "case %zu: path %s", i, err.path);
        CHECK_MSG(strstr(err.reason, bad[i].reason), "case %zu: reason %s", i, err.reason);
    }
    /* jmap is accepted and ignored, and the warning says why */
    char *jmap[] = {"FLAMESHOT_HEAP_DUMP_JMAP_PATH=/opt/jdk/bin/jmap", NULL};
    unknown_count = 0;
    config_check_unknown(jmap, on_unknown, NULL);
    CHECK_EQ(unknown_count, 1);
    CHECK_CONTAINS(unknown_near, "no jmap is needed");
}

TEST_MAIN(
    go_rules_take_flameshots_pprof_fields, pod_limits_refused_in_kubernetes_mode,
    evidence_lead_defaults_to_3s_and_0_turns_it_off,
    bpf_ring_defaults_to_256_kib_and_takes_powers_of_two, http_off_loopback_needs_token_or_insecure,
    every_rejection_names_variable_path_and_reason, defaults_are_flameshot_defaults,
    every_variable_is_read, monitor_interval_accepts_flameshot_bare_seconds,
    mode_auto_follows_kubernetes_service_host, kube_api_and_service_account_in_kubernetes_mode_only,
    test_override_allows_short_auto_profiling, auto_profiling_zero_means_off,
    events_default_and_all_names, default_rule_matches_java_launchers_only,
    rules_find_honours_container_scope_and_order, check_config_json_masks_token_and_normalizes,
    unknown_variables_are_reported_with_suggestion, indexed_variables_are_flameshot_processes,
    indexed_variables_unknown_or_past_the_end_are_named, cpu_ceiling_follows_the_base,
    unreachable_thresholds_are_named_one_by_one, a_threshold_this_host_cannot_reach_is_a_warning,
    heap_dump_settings_and_profiling_switch, hprof_upload_settings_flameshot_names_and_redacted)
