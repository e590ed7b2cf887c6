/* containerid: every cgroup path shape the kubelet and the runtimes make,
 * and what must not be taken for a container or a Pod. Whole
 * /proc/<pid>/cgroup files are under tests/data/cgroup/proc_cgroup/, named
 * for the shape they show. */
#include "events/cgroup.h"
#include "events/containerid.h"
#include "harness.h"

#include <stdio.h>

#define FIXTURES "tests/data/cgroup/proc_cgroup/"

/* the issue's own Pod UIDs, in both spellings */
#define U1   "471203d1-984f-477e-9c35-db96487ffe5e"
#define U1_  "471203d1_984f_477e_9c35_db96487ffe5e"
#define U2   "897277d4-5e6f-4999-a976-b8340e8d075e"
#define U3   "29349498-197c-4919-b13f-9a928e7d001b"
#define U3_  "29349498_197c_4919_b13f_9a928e7d001b"
#define U4   "c98d4a8d-6af4-4150-b66d-51aa08e5959f"
#define U4_  "c98d4a8d_6af4_4150_b66d_51aa08e5959f"
#define HASH "09a70ae9ccc491e651e5c773579b3490" /* a static Pod's config hash */

#define A    "1efa6758b44f62450a7d7024b4cbe3be04c9cfd7b7998071be0af75dd5896a4a"
#define B    "8d1dc1909cc89235bd8e68a44b867089eaf337baf34c4c906640c6fd4a306baf"
#define C    "f362aca51ee9e726cbaa485d74956e415765422ce5a1b72439c36c73fec6bd4b"
#define D    "a48d476df53ef8ca31bf9e2c47b1be783b887cb4530ec914b03ef72419cb33c1"
#define E    "15b91818be44eb29f334e2151a8721af6fd884ba255d4f9818c26f3d0d57b0bf"
#define NODE "4b6b0526fe6b125d5881e749e9458bfc82977e291e50a4ea06561f8c6b4c4c42" /* a kind node */
#define A63  "1efa6758b44f62450a7d7024b4cbe3be04c9cfd7b7998071be0af75dd5896a4"
#define AUP  "1EFA6758B44F62450A7D7024B4CBE3BE04C9CFD7B7998071BE0AF75DD5896A4A"

#define BURST "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
#define BEST  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"

#define CD     CONTAINER_RUNTIME_CONTAINERD
#define CRIO   CONTAINER_RUNTIME_CRIO
#define DOCKER CONTAINER_RUNTIME_DOCKER
#define UNK    CONTAINER_RUNTIME_UNKNOWN
#define NONE   POD_QOS_NONE
#define GUAR   POD_QOS_GUARANTEED
#define BURS   POD_QOS_BURSTABLE
#define BEFF   POD_QOS_BESTEFFORT

struct shape {
    const char *path;
    enum container_runtime rt;
    const char *id, *pod;
    bool is_static;
    enum pod_qos qos;
};

static const struct shape shapes[] = {
    /* containerd, systemd driver */
    {BURST U1_ ".slice/cri-containerd-" A ".scope", CD, A, U1, false, BURS},
    {BEST U1_ ".slice/cri-containerd-" A ".scope", CD, A, U1, false, BEFF},
    {"/kubepods.slice/kubepods-pod" U1_ ".slice/cri-containerd-" A ".scope", CD, A, U1, false,
     GUAR},
    /* CRI-O, systemd driver (v2); its conmon is not the container */
    {BURST U1_ ".slice/crio-" C ".scope", CRIO, C, U1, false, BURS},
    {BURST U1_ ".slice/crio-conmon-" C ".scope", UNK, "", U1, false, BURS},
    /* cgroupfs driver: containerd or CRI-O; Guaranteed has no QoS level */
    {"/kubepods/besteffort/pod" U2 "/" E, UNK, E, U2, false, BEFF},
    {"/kubepods/burstable/pod" U2 "/crio-" C, CRIO, C, U2, false, BURS},
    {"/kubepods/burstable/pod" U2 "/crio-conmon-" C, UNK, "", U2, false, BURS},
    {"/kubepods/pod" U2 "/" E, UNK, E, U2, false, GUAR},
    /* docker / cri-dockerd */
    {BEST U4_ ".slice/docker-" D ".scope", DOCKER, D, U4, false, BEFF},
    {"/kubepods/burstable/pod" U4 "/" D, UNK, D, U4, false, BURS},
    /* systemd driver on v1, runc's colon form */
    {"/podruntime.slice/containerd.service/kubepods-burstable-pod" U3_ ".slice:cri-containerd:" B,
     CD, B, U3, false, BURS},
    {"/system.slice/containerd.service/kubepods-pod" U3_ ".slice:cri-containerd:" B, CD, B, U3,
     false, GUAR},
    {"/system.slice/crio.service/kubepods-besteffort-pod" U3_ ".slice:crio:" B, CRIO, B, U3, false,
     BEFF},
    /* through a cgroup namespace */
    {"/../../kubepods-besteffort-pod" U4_ ".slice/docker-" D ".scope", DOCKER, D, U4, false, BEFF},
    {"/../kubepods-pod" U4_ ".slice/cri-containerd-" A ".scope", CD, A, U4, false, GUAR},
    /* static Pods: the config hash, kept as is */
    {BURST HASH ".slice/cri-containerd-" A ".scope", CD, A, HASH, true, BURS},
    {"/kubepods/besteffort/pod" HASH "/" E, UNK, E, HASH, true, BEFF},
    {"/kubepods/pod" HASH "/" E, UNK, E, HASH, true, GUAR},
    /* nested (kind): the innermost kubepods part wins, not the node's container */
    {"/system.slice/docker-" NODE ".scope/kubelet/kubepods/burstable/pod" U4 "/" D, UNK, D, U4,
     false, BURS},
    {"/system.slice/docker-" NODE ".scope/kubelet.slice/kubelet-kubepods.slice/"
     "kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" U4_
     ".slice/cri-containerd-" A ".scope",
     CD, A, U4, false, BURS},
    {"/kubepods/pod" U2 "/" E "/kubepods/besteffort/pod" U4 "/" D, UNK, D, U4, false, BEFF},
    {"/system.slice/docker-" NODE ".scope/kubelet/kubepods/burstable/pod" U4, UNK, "", U4, false,
     BURS}, /* the nested Pod's own cgroup: not the node container */
    {"/system.slice/docker-" NODE ".scope/system.slice/containerd.service", DOCKER, NODE, "", false,
     NONE}, /* the kind node itself */
    /* a prefix before kubepods (--cgroup-root) and levels below the container */
    {"/flameshot-test-99/kubepods/burstable/pod" U2 "/" E, UNK, E, U2, false, BURS},
    {BURST U1_ ".slice/cri-containerd-" A ".scope/init.scope", CD, A, U1, false, BURS},
    /* plain Docker and Podman: a container, no Pod */
    {"/docker/" D, DOCKER, D, "", false, NONE},
    {"/system.slice/docker-" D ".scope", DOCKER, D, "", false, NONE},
    {"/machine.slice/libpod-" D ".scope", UNK, D, "", false, NONE},
};

/* What must not be taken for a container (and, where said, for a Pod). */
static const struct shape negatives[] = {
    {"/user.slice/user-1000.slice/session-4.scope", UNK, "", "", false, NONE},
    {"/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/"
     "vte-spawn-8d6f.scope",
     UNK, "", "", false, NONE},
    {"/system.slice/docker.service", UNK, "", "", false, NONE},
    {"/system.slice/containerd.service", UNK, "", "", false, NONE},
    {"/", UNK, "", "", false, NONE},
    {"", UNK, "", "", false, NONE},
    {"///", UNK, "", "", false, NONE},
    {"garbage", UNK, "", "", false, NONE},
    {":::", UNK, "", "", false, NONE},
    {"/kubepods.slice", UNK, "", "", false, NONE},
    {"/kubepods/burstable", UNK, "", "", false, NONE},
    {"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice", UNK, "", "", false,
     NONE},
    /* truncated, overlong and uppercase IDs */
    {BURST U1_ ".slice/cri-containerd-" A63 ".scope", UNK, "", U1, false, BURS},
    {BURST U1_ ".slice/cri-containerd-" A "0.scope", UNK, "", U1, false, BURS},
    {BURST U1_ ".slice/cri-containerd-" AUP ".scope", UNK, "", U1, false, BURS},
    {"/kubepods/pod" U2 "/" A63, UNK, "", U2, false, GUAR},
    {"/kubepods/pod" U2 "/" AUP, UNK, "", U2, false, GUAR},
    {"/docker/" A63, UNK, "", "", false, NONE},
    {"/system.slice/unknownrt-" A ".scope", UNK, "", "", false, NONE},
    {"/system.slice/containerd.service/kubepods-pod" U3_ ".slice:cri-containerd:" A63, UNK, "", U3,
     false, GUAR},
    /* Pod UIDs of the wrong length, case or separator: the container stays, the Pod does not */
    {"/kubepods/burstable/pod471203d1-984f-477e-9c35-db96487ffe5/" E, UNK, E, "", false, NONE},
    {"/kubepods/burstable/pod" U1 "0/" E, UNK, E, "", false, NONE},
    {"/kubepods/burstable/pod471203D1-984F-477E-9C35-DB96487FFE5E/" E, UNK, E, "", false, NONE},
    {"/kubepods/burstable/pod" U1_ "/" E, UNK, E, "", false, NONE},
    {BURST "471203d1_984f_477e_9c35_db96487ffe5e0.slice/cri-containerd-" A ".scope", CD, A, "",
     false, NONE},
    {BURST U1 ".slice/cri-containerd-" A ".scope", CD, A, "", false, NONE},
    {BURST "09a70ae9ccc491e651e5c773579b349.slice/cri-containerd-" A ".scope", CD, A, "", false,
     NONE},
    {"/kubepods.slice/kubepods-slow-pod" U1_ ".slice/cri-containerd-" A ".scope", CD, A, "", false,
     NONE},
    /* a Pod-looking name outside kubepods is not a Pod */
    {"/pod" U2 "/" E, UNK, E, "", false, NONE},
    {"/system.slice/mypod-pod" U1_ ".slice/cri-containerd-" A ".scope", CD, A, "", false, NONE},
};

static int check_shape(const struct shape *s, const struct container_ident *ci, int found,
                       char *why, size_t cap)
{
    if (found != (s->id[0] != '\0'))
        snprintf(why, cap, "found %d", found);
    else if (strcmp(ci->id, s->id) != 0)
        snprintf(why, cap, "id '%s'", ci->id);
    else if (ci->runtime != s->rt)
        snprintf(why, cap, "runtime %s", containerid_runtime_name(ci->runtime));
    else if (strcmp(ci->pod_uid, s->pod) != 0)
        snprintf(why, cap, "pod '%s'", ci->pod_uid);
    else if (ci->pod_static != s->is_static)
        snprintf(why, cap, "static %d", ci->pod_static);
    else if (ci->qos != s->qos)
        snprintf(why, cap, "qos '%s'", containerid_qos_name(ci->qos));
    else if (ci->role != CONTAINER_ROLE_UNKNOWN)
        snprintf(why, cap, "role %d from a path", (int)ci->role);
    else
        return 0;
    return -1;
}

static int run_table(const struct shape *t, size_t n, char *why, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        struct container_ident ci;
        int found = containerid_parse_path(t[i].path, strlen(t[i].path), &ci);
        char what[128];
        if (check_shape(&t[i], &ci, found, what, sizeof(what)) < 0) {
            snprintf(why, cap, "%s: %s", t[i].path, what);
            return -1;
        }
    }
    return 0;
}

TEST(every_kubelet_and_runtime_shape)
{
    char why[1024] = "";
    CHECK_MSG(run_table(shapes, sizeof(shapes) / sizeof(shapes[0]), why, sizeof(why)) == 0, "%s",
              why);
}

TEST(what_is_not_a_container_or_a_pod)
{
    char why[1024] = "";
    CHECK_MSG(run_table(negatives, sizeof(negatives) / sizeof(negatives[0]), why, sizeof(why)) == 0,
              "%s", why);
}

/* The length bounds the walk: no NUL is needed, nothing past len is read. */
TEST(the_path_ends_at_len)
{
    static const char line[] = "/kubepods/pod" U2 "/" E "/garbage-after";
    struct container_ident ci;
    size_t upto_id = strlen("/kubepods/pod" U2 "/" E);
    CHECK_EQ(containerid_parse_path(line, upto_id, &ci), 1);
    CHECK_STREQ(ci.id, E);
    CHECK_EQ(containerid_parse_path(line, upto_id - 1, &ci), 0); /* 63 hex digits */
    CHECK_STREQ(ci.pod_uid, U2);
}

TEST(very_long_paths)
{
    static char path[200000];
    size_t n = 0;
    while (n < sizeof(path) - 400) {
        memcpy(path + n, "/system.slice", 13);
        n += 13;
    }
    snprintf(path + n, sizeof(path) - n, "%s", BURST U1_ ".slice/cri-containerd-" A ".scope");
    struct container_ident ci;
    CHECK_EQ(containerid_parse_path(path, strlen(path), &ci), 1);
    CHECK_STREQ(ci.id, A);
    CHECK_STREQ(ci.pod_uid, U1);
    /* one component of 200k hex digits, and one of colons */
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    CHECK_EQ(containerid_parse_path(path, strlen(path), &ci), 0);
    memset(path, ':', sizeof(path) - 1);
    CHECK_EQ(containerid_parse_path(path, strlen(path), &ci), 0);
    CHECK_STREQ(ci.pod_uid, "");
}

/* A memory line too long for the membership is dropped, never cut into a
 * shorter path that would name an outer container. */
TEST(an_overlong_line_is_dropped_not_cut)
{
    static char text[CGROUP_PATH_LEN * 2 + 256];
    int n = snprintf(text, sizeof(text), "4:memory:/system.slice/docker-%s.scope", NODE);
    while (n < CGROUP_PATH_LEN)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "/kubelet");
    snprintf(text + n, sizeof(text) - (size_t)n, "/kubepods/pod%s/%s\n0::/\n", U2, E);
    struct cgroup_membership *m = malloc(sizeof(*m));
    CHECK(m);
    int rc = cgroup_parse_membership(text, m);
    struct container_ident ci;
    int found = containerid_from_paths(m->memory_path, m->unified_path, &ci);
    free(m);
    CHECK_EQ(rc, 0);
    CHECK_EQ(found, 0);
    CHECK_STREQ(ci.id, "");
}

struct choice {
    const char *memory_v1, *unified, *id, *pod;
};

/* Which line wins when v1 and v2 disagree: memory's, unless it names no
 * container. */
TEST(memory_v1_line_first_then_v2)
{
    static const struct choice choices[] = {
        {"/kubepods/pod" U2 "/" E, BURST U1_ ".slice/cri-containerd-" A ".scope", E, U2},
        {"/kubepods/pod" U2 "/" E, "/system.slice/containerd.service", E, U2},
        {"", BURST U1_ ".slice/cri-containerd-" A ".scope", A, U1},
        {NULL, BURST U1_ ".slice/cri-containerd-" A ".scope", A, U1},
        {"/user.slice", BURST U1_ ".slice/cri-containerd-" A ".scope", A, U1},
        {"/kubepods/pod" U2, "/system.slice/containerd.service", "", U2},
        {NULL, NULL, "", ""},
    };
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        const struct choice *c = &choices[i];
        struct container_ident ci;
        int found = containerid_from_paths(c->memory_v1, c->unified, &ci);
        CHECK_MSG(found == (c->id[0] != '\0') && strcmp(ci.id, c->id) == 0 &&
                      strcmp(ci.pod_uid, c->pod) == 0,
                  "choice %zu: found %d id '%s' pod '%s'", i, found, ci.id, ci.pod_uid);
    }
}

struct fixture {
    const char *file, *id, *pod;
    enum container_runtime rt;
    enum pod_qos qos;
};

static int from_file(const char *name, struct container_ident *ci)
{
    char path[256], text[16384];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    struct cgroup_membership *m = malloc(sizeof(*m));
    if (!m || cgroup_parse_membership(text, m) < 0) {
        free(m);
        return -1;
    }
    int found = containerid_from_paths(m->memory_path, m->has_unified ? m->unified_path : NULL, ci);
    free(m);
    return found;
}

TEST(whole_proc_cgroup_files)
{
    static const struct fixture files[] = {
        {"v2_containerd_systemd.cgroup", A, U1, CD, BURS},
        {"v2_crio_conmon.cgroup", "", U1, UNK, BURS},
        /* the v2 line names only containerd.service: the memory line wins */
        {"hybrid_containerd_v1_colon.cgroup", B, U3, CD, BURS},
        {"v1_dockershim_cgroupfs.cgroup", E, U2, UNK, BEFF},
        {"v2_kind_nested_cgroupfs.cgroup", D, U4, UNK, BURS},
        {"v2_cgroupns_docker.cgroup", D, U4, DOCKER, BEFF},
        {"v2_session.cgroup", "", "", UNK, NONE},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        const struct fixture *x = &files[i];
        struct container_ident ci;
        int found = from_file(x->file, &ci);
        CHECK_MSG(found == (x->id[0] != '\0'), "%s: found %d", x->file, found);
        CHECK_MSG(strcmp(ci.id, x->id) == 0 && strcmp(ci.pod_uid, x->pod) == 0 &&
                      ci.runtime == x->rt && ci.qos == x->qos,
                  "%s: id '%s' pod '%s' runtime %s qos '%s'", x->file, ci.id, ci.pod_uid,
                  containerid_runtime_name(ci.runtime), containerid_qos_name(ci.qos));
    }
}

/* The Pod's statuses tell the sandbox: its ID is never among them. */
TEST(sandbox_is_the_id_the_pod_does_not_list)
{
    const char *const statuses[] = {"containerd://" A, NULL, "", "containerd://" B};
    struct container_ident app, sandbox, none, bare;
    const char *app_path = BURST U1_ ".slice/cri-containerd-" A ".scope";
    const char *pause_path = BURST U1_ ".slice/cri-containerd-" C ".scope";
    containerid_parse_path(app_path, strlen(app_path), &app);
    containerid_parse_path(pause_path, strlen(pause_path), &sandbox);
    containerid_parse_path("/kubepods/pod" U1, strlen("/kubepods/pod" U1), &none);
    containerid_parse_path("/kubepods/pod" U1 "/" B, strlen("/kubepods/pod" U1 "/" B), &bare);
    CHECK_EQ(containerid_classify(&app, statuses, 4), CONTAINER_ROLE_APP);
    CHECK_EQ(app.role, CONTAINER_ROLE_APP);
    CHECK_EQ(containerid_classify(&sandbox, statuses, 4), CONTAINER_ROLE_SANDBOX);
    CHECK_EQ(containerid_classify(&none, statuses, 4), CONTAINER_ROLE_UNKNOWN);
    /* the cgroupfs path names no runtime: the status does */
    CHECK_EQ(bare.runtime, CONTAINER_RUNTIME_UNKNOWN);
    CHECK_EQ(containerid_classify(&bare, statuses, 4), CONTAINER_ROLE_APP);
    CHECK_EQ(bare.runtime, CONTAINER_RUNTIME_CONTAINERD);
    /* a bare ID and cri-o's scheme; a prefix of an ID is not the ID */
    const char *const crio[] = {"cri-o://" C, A63};
    CHECK_EQ(containerid_classify(&sandbox, crio, 2), CONTAINER_ROLE_APP);
    CHECK_EQ(sandbox.runtime, CONTAINER_RUNTIME_CONTAINERD); /* the path's own stays */
    CHECK_EQ(containerid_classify(&app, crio, 2), CONTAINER_ROLE_SANDBOX);
    const char *const docker[] = {"docker://" B};
    CHECK_EQ(containerid_classify(&app, docker, 1), CONTAINER_ROLE_SANDBOX);
    CHECK_EQ(containerid_classify(&app, NULL, 0), CONTAINER_ROLE_SANDBOX);
    /* a restart brings a new ID; re-classifying follows it */
    const char *const restarted[] = {"containerd://" E};
    CHECK_EQ(containerid_classify(&bare, restarted, 1), CONTAINER_ROLE_SANDBOX);
}

TEST(names)
{
    CHECK_STREQ(containerid_runtime_name(CONTAINER_RUNTIME_CONTAINERD), "containerd");
    CHECK_STREQ(containerid_runtime_name(CONTAINER_RUNTIME_CRIO), "crio");
    CHECK_STREQ(containerid_runtime_name(CONTAINER_RUNTIME_DOCKER), "docker");
    CHECK_STREQ(containerid_runtime_name(CONTAINER_RUNTIME_UNKNOWN), "unknown");
    CHECK_STREQ(containerid_qos_name(POD_QOS_GUARANTEED), "Guaranteed");
    CHECK_STREQ(containerid_qos_name(POD_QOS_BURSTABLE), "Burstable");
    CHECK_STREQ(containerid_qos_name(POD_QOS_BESTEFFORT), "BestEffort");
    CHECK_STREQ(containerid_qos_name(POD_QOS_NONE), "");
}

TEST_MAIN(every_kubelet_and_runtime_shape, what_is_not_a_container_or_a_pod, the_path_ends_at_len,
          very_long_paths, an_overlong_line_is_dropped_not_cut, memory_v1_line_first_then_v2,
          whole_proc_cgroup_files, sandbox_is_the_id_the_pod_does_not_list, names)
