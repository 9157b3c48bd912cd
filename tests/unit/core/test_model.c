// SPDX-License-Identifier: Apache-2.0
// Discovery of Kubernetes pods and containers in the guest's real cgroup trees (systemd and
// cgroupfs drivers), name recognition, sampling (working set), cgroups vanishing mid-scan, and
// model_refresh keeping fds, and tiered sampling (light samples, their escalation, figure age).
// Expected pods and containers come from listing the fixture directories here; expected values from
// reading the fixture files here.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/kernel/model.h"
#include "common/fileio.h"
#include "testutil.h"

#define SCRATCH 65536

/* The pods the capture script created (tests/vm/scenarios/capture-fixtures.sh). */
static const struct {
        const char *uid;
        enum qos_class qos;
} pods_want[] = {
        { "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", QOS_GUARANTEED }, /* web */
        { "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", QOS_GUARANTEED }, /* oom */
        { "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", QOS_BURSTABLE },  /* app */
        { "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", QOS_BESTEFFORT }, /* batch */
};
static const struct workload_root system_slice[] = { { "/system.slice", QOS_BURSTABLE } };

/* The pod's directory, relative to the cgroup root, the way each driver names it. */
static char *pod_rel(enum cg_driver drv, const char *uid, enum qos_class q)
{
        if (drv == DRIVER_CGROUPFS)
                return q == QOS_GUARANTEED
                           ? tu_strdupf("/kubepods/pod%s", uid)
                           : tu_strdupf("/kubepods/%s/pod%s", qos_to_string(q), uid);
        char u[KUBE_ID_MAX];
        snprintf(u, sizeof(u), "%s", uid);
        for (char *p = u; *p; p++)
                if (*p == '-')
                        *p = '_';
        if (q == QOS_GUARANTEED)
                return tu_strdupf("/kubepods.slice/kubepods-pod%s.slice", u);
        return tu_strdupf("/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice",
                          qos_to_string(q), qos_to_string(q), u);
}

static int open_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("open %s: %s", path, strerror(errno));
        return fd;
}

/* Subdirectory names of dir, sorted, NULL-terminated (caller frees each and the array). */
static char **subdirs(const char *dir, size_t *ret_n)
{
        DIR *d = opendir(dir);
        if (!d)
                fail_msg("opendir %s: %s", dir, strerror(errno));
        char **v = calloc(256, sizeof(*v));
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && de->d_type == DT_DIR && n < 255)
                        v[n++] = strdup(de->d_name);
        closedir(d);
        *ret_n = n;
        return v;
}

static void free_strv(char **v)
{
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static const struct pod *find_pod(const struct model *m, const char *uid)
{
        const struct pod *hit = NULL;
        for (size_t i = 0; i < m->n_pods; i++)
                if (strcmp(m->pods[i].uid, uid) == 0) {
                        if (hit)
                                fail_msg("pod %s found twice", uid);
                        hit = &m->pods[i];
                }
        return hit;
}

static const struct container *find_container(const struct pod *p, const char *id)
{
        for (size_t j = 0; j < p->n_containers; j++)
                if (strcmp(p->containers[j].id, id) == 0)
                        return &p->containers[j];
        return NULL;
}

/* Every pod found where the driver puts it, with its QoS class and uid; every container
 * directory found as a container with its runtime and id. */
static void check_discovery(const char *root, enum cg_driver drv, const struct model *m)
{
        assert_true(m->has_kubepods);
        assert_string_equal(m->kubepods.path,
                            drv == DRIVER_SYSTEMD ? "/kubepods.slice" : "/kubepods");
        assert_int_equal(m->n_pods, sizeof(pods_want) / sizeof(pods_want[0]));
        size_t n_containers = 0;
        for (size_t i = 0; i < sizeof(pods_want) / sizeof(pods_want[0]); i++) {
                const struct pod *p = find_pod(m, pods_want[i].uid);
                if (!p)
                        fail_msg("%s driver: pod %s not found", driver_to_string(drv),
                                 pods_want[i].uid);
                char *rel = pod_rel(drv, pods_want[i].uid, pods_want[i].qos);
                assert_string_equal(p->cg.path, rel);
                assert_int_equal(p->qos, pods_want[i].qos);
                assert_int_equal(p->driver, drv);
                assert_true(p->cg.dfd >= 0);

                /* Containers: exactly the subdirectories of the pod's directory. */
                char *abs = tu_strdupf("%s%s", root, rel);
                size_t n;
                char **names = subdirs(abs, &n);
                assert_true(n >= 2); /* the sandbox and at least one container */
                assert_int_equal(p->n_containers, n);
                for (size_t j = 0; j < n; j++) {
                        char id[KUBE_ID_MAX];
                        const char *name = names[j];
                        if (drv == DRIVER_SYSTEMD) {
                                assert_int_equal(strncmp(name, "cri-containerd-", 15), 0);
                                snprintf(id, sizeof(id), "%.*s", (int)(strlen(name) - 15 - 6),
                                         name + 15);
                        } else
                                snprintf(id, sizeof(id), "%s", name);
                        const struct container *c = find_container(p, id);
                        if (!c)
                                fail_msg("container %s of pod %s not found", id, p->uid);
                        assert_string_equal(c->runtime,
                                            drv == DRIVER_SYSTEMD ? "containerd" : "unknown");
                        char *cpath = tu_strdupf("%s/%s", rel, name);
                        assert_string_equal(c->cg.path, cpath);
                        free(cpath);
                }
                n_containers += n;
                free_strv(names);
                free(abs);
                free(rel);
        }
        /* system.slice's children are workloads, with the root's QoS. */
        assert_int_equal(m->n_workloads, 2);
        bool demo = false, getty = false;
        for (size_t i = 0; i < m->n_workloads; i++) {
                const struct workload *w = &m->workloads[i];
                assert_int_equal(w->qos, QOS_BURSTABLE);
                if (strcmp(w->name, "demo.service") == 0) {
                        demo = true;
                        assert_string_equal(w->cg.path, "/system.slice/demo.service");
                } else if (strcmp(w->name, "system-serial\\x2dgetty.slice") == 0) {
                        getty = true;
                        assert_string_equal(w->cg.path,
                                            "/system.slice/system-serial\\x2dgetty.slice");
                }
        }
        assert_true(demo && getty);
        assert_int_equal(model_count(m), 1 + m->n_pods + n_containers + m->n_workloads);
}

static void discover_fixture(const char *driver_dir, enum cg_driver drv)
{
        char *root = tu_guest_fixture(driver_dir);
        int fd = open_dir(root);
        struct model m;
        assert_int_equal(model_discover(&m, fd, system_slice, 1), 0);
        check_discovery(root, drv, &m);
        model_done(&m);
        close(fd);
        free(root);
}

static void test_discover_systemd(void **state)
{
        (void)state;
        discover_fixture("systemd", DRIVER_SYSTEMD);
}

static void test_discover_cgroupfs(void **state)
{
        (void)state;
        discover_fixture("cgroupfs", DRIVER_CGROUPFS);
}

static void test_workload_roots(void **state)
{
        (void)state;
        char *root = tu_guest_fixture("systemd");
        int fd = open_dir(root);
        struct model m;

        /* No roots: no workloads, pods unaffected. */
        assert_int_equal(model_discover(&m, fd, NULL, 0), 0);
        assert_int_equal(m.n_workloads, 0);
        assert_int_equal(m.n_pods, 4);
        model_done(&m);

        /* Two roots with their own classes, one nested. */
        const struct workload_root roots[] = {
                { "/system.slice/system-serial\\x2dgetty.slice", QOS_GUARANTEED },
                { "/system.slice", QOS_BESTEFFORT },
        };
        assert_int_equal(model_discover(&m, fd, roots, 1), 0);
        assert_int_equal(m.n_workloads, 1);
        assert_string_equal(m.workloads[0].name, "serial-getty@ttyS0.service");
        assert_int_equal(m.workloads[0].qos, QOS_GUARANTEED);
        model_done(&m);
        assert_int_equal(model_discover(&m, fd, roots + 1, 1), 0);
        assert_int_equal(m.n_workloads, 2);
        for (size_t i = 0; i < m.n_workloads; i++)
                assert_int_equal(m.workloads[i].qos, QOS_BESTEFFORT);
        model_done(&m);
        close(fd);
        free(root);
}

/* ---- names ---- */

static void test_pod_slice_names(void **state)
{
        (void)state;
        enum qos_class q = QOS_NONE;
        char uid[KUBE_ID_MAX];

        assert_true(kube_parse_pod_slice(
            "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice", &q, uid));
        assert_int_equal(q, QOS_BURSTABLE);
        assert_string_equal(uid, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
        assert_true(kube_parse_pod_slice(
            "kubepods-besteffort-pod9e8d7c6b_5a4f_4e3d_8c2b_1a0f9e8d7c6b.slice", &q, uid));
        assert_int_equal(q, QOS_BESTEFFORT);
        assert_string_equal(uid, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b");
        assert_true(kube_parse_pod_slice("kubepods-pod6f1c2a8e_3b4d_4e5f_8a9b_0c1d2e3f4a5b.slice",
                                         &q, uid));
        assert_int_equal(q, QOS_GUARANTEED);
        assert_string_equal(uid, "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
        /* systemd's escape for a literal '-' */
        assert_true(kube_parse_pod_slice(
            "kubepods-burstable-pod3c4d5e6f\\x2d7a8b\\x2d4c9d\\x2d8e0f\\x2d1a2b3c4d5e6f.slice", &q,
            uid));
        assert_string_equal(uid, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
        /* nested under a prefixed parent (kind's kubelet.slice, custom cgroup roots) */
        assert_true(kube_parse_pod_slice(
            "kubelet-kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice", &q, uid));
        assert_int_equal(q, QOS_BURSTABLE);
        assert_string_equal(uid, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
        assert_true(kube_parse_pod_slice(
            "kubelet-kubepods-pod6f1c2a8e_3b4d_4e5f_8a9b_0c1d2e3f4a5b.slice", &q, uid));
        assert_int_equal(q, QOS_GUARANTEED);
        /* static pods: a 32-hex config hash as the uid */
        assert_true(kube_parse_pod_slice(
            "kubepods-besteffort-pod0123456789abcdef0123456789abcdef.slice", &q, uid));
        assert_string_equal(uid, "0123456789abcdef0123456789abcdef");

        static const char *const not_pods[] = {
                "kubepods.slice",
                "kubepods-burstable.slice",
                "kubepods-besteffort.slice",
                "kubepods-burstable-pod.slice",
                "kubepods-burstable-podXYZ.slice",
                "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.scope",
                "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f",
                "mykubepods-pod6f1c2a8e_3b4d_4e5f_8a9b_0c1d2e3f4a5b.slice",
                "system-serial\\x2dgetty.slice",
                "kubepods-pod0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                "0123456789abcdef.slice", /* longer than KUBE_ID_MAX */
        };
        for (size_t i = 0; i < sizeof(not_pods) / sizeof(not_pods[0]); i++)
                if (kube_parse_pod_slice(not_pods[i], &q, uid))
                        fail_msg("\"%s\" taken for a pod slice (uid %s)", not_pods[i], uid);
}

static void test_pod_dir_names(void **state)
{
        (void)state;
        enum qos_class q;
        char uid[KUBE_ID_MAX];
        const char *u = "pod3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";

        assert_true(kube_parse_pod_dir("kubepods", NULL, u, &q, uid));
        assert_int_equal(q, QOS_GUARANTEED);
        assert_string_equal(uid, u + 3);
        assert_true(kube_parse_pod_dir("burstable", "kubepods", u, &q, uid));
        assert_int_equal(q, QOS_BURSTABLE);
        assert_true(kube_parse_pod_dir("besteffort", "kubepods", u, &q, uid));
        assert_int_equal(q, QOS_BESTEFFORT);
        assert_false(kube_parse_pod_dir("burstable", "other", u, &q, uid));
        assert_false(kube_parse_pod_dir("system.slice", NULL, u, &q, uid));
        assert_false(kube_parse_pod_dir(NULL, NULL, u, &q, uid));
        assert_false(kube_parse_pod_dir("kubepods", NULL, "pod", &q, uid));
        assert_false(kube_parse_pod_dir("kubepods", NULL, "besteffort", &q, uid));
        assert_false(kube_parse_pod_dir("kubepods", NULL, "podZZ", &q, uid));
}

static void test_container_names(void **state)
{
        (void)state;
        char id[KUBE_ID_MAX];
        const char *rt = NULL;
        const char *hex = "3333333333333333333333333333333333333333333333333333333333333333";
        char *n;

        n = tu_strdupf("cri-containerd-%s.scope", hex);
        assert_true(kube_parse_container(n, id, &rt));
        assert_string_equal(id, hex);
        assert_string_equal(rt, "containerd");
        free(n);
        n = tu_strdupf("crio-%s.scope", hex);
        assert_true(kube_parse_container(n, id, &rt));
        assert_string_equal(rt, "cri-o");
        assert_string_equal(id, hex);
        free(n);
        n = tu_strdupf("crio-%s", hex); /* cri-o under cgroupfs */
        assert_true(kube_parse_container(n, id, &rt));
        assert_string_equal(rt, "cri-o");
        free(n);
        n = tu_strdupf("docker-%s.scope", hex);
        assert_true(kube_parse_container(n, id, &rt));
        assert_string_equal(rt, "docker");
        free(n);
        assert_true(kube_parse_container(hex, id, &rt));
        assert_string_equal(rt, "unknown");
        assert_string_equal(id, hex);

        n = tu_strdupf("crio-conmon-%s.scope", hex); /* cri-o's monitor: not a container */
        rt = "untouched";
        assert_false(kube_parse_container(n, id, &rt));
        free(n);
        n = tu_strdupf("crio-conmon-%s", hex);
        assert_false(kube_parse_container(n, id, &rt));
        free(n);
        assert_false(kube_parse_container("cri-containerd-.scope", id, &rt));
        assert_false(kube_parse_container("cri-containerd-xyz.scope", id, &rt));
        assert_false(kube_parse_container("init.scope", id, &rt));
        assert_false(kube_parse_container("memory.stat", id, &rt));
        assert_false(kube_parse_container("", id, &rt));

        assert_true(kube_is_kubepods("kubepods.slice"));
        assert_true(kube_is_kubepods("kubepods"));
        assert_true(kube_is_kubepods("kubelet-kubepods.slice"));
        assert_false(kube_is_kubepods("kubepods-burstable.slice"));
        assert_false(kube_is_kubepods("system.slice"));

        assert_int_equal(qos_from_string("Burstable"), QOS_BURSTABLE);
        assert_int_equal(qos_from_string("GUARANTEED"), QOS_GUARANTEED);
        assert_int_equal(qos_from_string("besteffort"), QOS_BESTEFFORT);
        assert_int_equal(qos_from_string("best-effort"), -EINVAL);
}

/* ---- a temp copy of a fixture tree, for renaming and removing ---- */

struct tree {
        char *tmp;  /* the temp dir */
        char *root; /* tmp/<driver>: the cgroup root */
        int fd;
};

static void tree_make(struct tree *t, const char *driver_dir)
{
        char *src = tu_guest_fixture(driver_dir);
        t->tmp = tu_mkdtemp("model");
        t->root = tu_strdupf("%s/%s", t->tmp, driver_dir);
        tu_copy_tree(src, t->root);
        t->fd = open_dir(t->root);
        free(src);
}

static void tree_done(struct tree *t)
{
        close(t->fd);
        tu_rm_rf(t->tmp);
        free(t->tmp);
        free(t->root);
}

static char *at(const struct tree *t, const char *rel)
{
        return tu_strdupf("%s%s", t->root, rel);
}

static void xrename(const struct tree *t, const char *from, const char *to)
{
        char *a = at(t, from), *b = at(t, to);
        if (rename(a, b) < 0)
                fail_msg("rename %s %s: %s", a, b, strerror(errno));
        free(a);
        free(b);
}

/* Pods under a prefixed kubepods slice, a pod slice with \x2d escapes, cri-o containers with
 * their conmon scopes: a tree made by renaming the real capture's directories. */
static void test_discover_renamed_tree(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        const char *cid = "3333333333333333333333333333333333333333333333333333333333333333";

        char *kp = at(&t, "/kubelet.slice");
        assert_int_equal(mkdir(kp, 0755), 0);
        free(kp);
        xrename(&t, "/kubepods.slice", "/kubelet.slice/kubelet-kubepods.slice");
        const char *b = "/kubelet.slice/kubelet-kubepods.slice/kubepods-burstable.slice";
        char *from =
            tu_strdupf("%s/kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice", b);
        char *to = tu_strdupf(
            "%s/kubelet-kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice", b);
        xrename(&t, from, to);
        char *cfrom = tu_strdupf("%s/cri-containerd-%s.scope", to, cid);
        char *cto = tu_strdupf("%s/crio-%s.scope", to, cid);
        xrename(&t, cfrom, cto);
        /* conmon: a copy of a real container directory under cri-o's monitor name */
        char *conmon_src = at(&t, cto);
        char *conmon = tu_strdupf("%s%s/crio-conmon-%s.scope", t.root, to, cid);
        tu_copy_tree(conmon_src, conmon);
        const char *g = "/kubelet.slice/kubelet-kubepods.slice";
        char *gfrom = tu_strdupf("%s/kubepods-pod6f1c2a8e_3b4d_4e5f_8a9b_0c1d2e3f4a5b.slice", g);
        char *gto = tu_strdupf(
            "%s/kubepods-pod6f1c2a8e\\x2d3b4d\\x2d4e5f\\x2d8a9b\\x2d0c1d2e3f4a5b.slice", g);
        xrename(&t, gfrom, gto);

        struct model m;
        assert_int_equal(model_discover(&m, t.fd, system_slice, 1), 0);
        assert_true(m.has_kubepods);
        assert_string_equal(m.kubepods.path, g);
        assert_int_equal(m.n_pods, 4);
        for (size_t i = 0; i < 4; i++) {
                const struct pod *p = find_pod(&m, pods_want[i].uid);
                assert_non_null(p);
                assert_int_equal(p->qos, pods_want[i].qos);
        }
        const struct pod *app = find_pod(&m, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
        assert_string_equal(app->cg.path, to);
        assert_int_equal(app->n_containers, 3); /* conmon skipped */
        const struct container *c = find_container(app, cid);
        assert_non_null(c);
        assert_string_equal(c->runtime, "cri-o");
        assert_string_equal(c->cg.path, cto);
        const struct pod *web = find_pod(&m, "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
        assert_string_equal(web->cg.path, gto);

        /* The renamed containers are sampled like any other. */
        char *scratch = malloc(SCRATCH);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        char *cdir = at(&t, cto);
        assert_int_equal(c->cg.s.current, tu_read_value(cdir, "memory.current"));
        free(cdir);
        free(scratch);
        model_done(&m);
        free(from);
        free(to);
        free(cfrom);
        free(cto);
        free(conmon_src);
        free(conmon);
        free(gfrom);
        free(gto);
        tree_done(&t);
}

/* ---- sampling ---- */

static void check_sample(const char *root, const struct cgroup *c)
{
        char *dir = tu_strdupf("%s%s", root, c->path);
        const struct cg_sample *s = &c->s;
        uint64_t cur = tu_read_value(dir, "memory.current");
        uint64_t inactive = tu_read_key(dir, "memory.stat", "inactive_file");
        assert_int_equal(s->have & CG_HAVE(CGF_CURRENT), CG_HAVE(CGF_CURRENT));
        assert_int_equal(s->have & CG_HAVE(CGF_STAT), CG_HAVE(CGF_STAT));
        assert_int_equal(s->current, cur);
        assert_int_equal(s->stat.inactive_file, inactive);
        assert_int_equal(s->working_set, cur > inactive ? cur - inactive : 0);
        assert_int_equal(s->max, tu_read_value(dir, "memory.max"));
        assert_int_equal(s->high, tu_read_value(dir, "memory.high"));
        assert_int_equal(s->min, tu_read_value(dir, "memory.min"));
        assert_int_equal(s->swap_current, tu_read_value(dir, "memory.swap.current"));
        assert_int_equal(s->peak, tu_read_value(dir, "memory.peak"));
        assert_int_equal(s->events.oom_kill, tu_read_key(dir, "memory.events", "oom_kill"));
        assert_int_equal(s->events.high, tu_read_key(dir, "memory.events", "high"));
        assert_true(s->have & CG_HAVE(CGF_PRESSURE));
        assert_true(s->have & CG_HAVE(CGF_NUMA_STAT));
        assert_true(s->time_usec > 0);
        free(dir);
}

static void sample_fixture(const char *driver_dir)
{
        char *root = tu_guest_fixture(driver_dir);
        int fd = open_dir(root);
        struct model m;
        char *scratch = malloc(SCRATCH);
        assert_int_equal(model_discover(&m, fd, system_slice, 1), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        check_sample(root, &m.kubepods);
        bool some_cache = false;
        for (size_t i = 0; i < m.n_pods; i++) {
                check_sample(root, &m.pods[i].cg);
                for (size_t j = 0; j < m.pods[i].n_containers; j++) {
                        const struct cgroup *c = &m.pods[i].containers[j].cg;
                        check_sample(root, c);
                        if (c->s.stat.inactive_file > 0 && c->s.working_set < c->s.current)
                                some_cache = true;
                }
        }
        for (size_t i = 0; i < m.n_workloads; i++)
                check_sample(root, &m.workloads[i].cg);
        /* The capture has a container with page cache: working set really subtracted it. */
        assert_true(some_cache);
        model_done(&m);
        free(scratch);
        close(fd);
        free(root);
}

static void test_sample_systemd(void **state)
{
        (void)state;
        sample_fixture("systemd");
}

static void test_sample_cgroupfs(void **state)
{
        (void)state;
        sample_fixture("cgroupfs");
}

#define CACHE_REL                                                                                  \
        "/kubepods.slice/kubepods-burstable.slice/"                                                \
        "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice/"                        \
        "cri-containerd-4444444444444444444444444444444444444444444444444444444444444444.scope"

static const struct container *find_by_path(const struct model *m, const char *path)
{
        for (size_t i = 0; i < m->n_pods; i++)
                for (size_t j = 0; j < m->pods[i].n_containers; j++)
                        if (strcmp(m->pods[i].containers[j].cg.path, path) == 0)
                                return &m->pods[i].containers[j];
        return NULL;
}

/* memory.current below inactive_file (the two files are not read atomically): working set
 * clamps at 0 instead of wrapping to 16 EiB. Without memory.stat it is memory.current. */
static void test_working_set_clamps(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        char *dir = at(&t, CACHE_REL);
        uint64_t inactive = tu_read_key(dir, "memory.stat", "inactive_file");
        assert_true(inactive > 4096);
        char *p = tu_strdupf("%s/memory.current", dir);
        char *v = tu_strdupf("%" PRIu64 "\n", inactive - 4096);
        tu_write(p, v, strlen(v));

        struct model m;
        char *scratch = malloc(SCRATCH);
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        model_sample(&m, scratch, SCRATCH);
        const struct container *c = find_by_path(&m, CACHE_REL);
        assert_non_null(c);
        assert_int_equal(c->cg.s.current, inactive - 4096);
        assert_int_equal(c->cg.s.working_set, 0);

        /* A fresh model (cached fds would still read the unlinked file). */
        model_done(&m);
        char *st = tu_strdupf("%s/memory.stat", dir);
        assert_int_equal(unlink(st), 0);
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_non_null(c);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_STAT), 0);
        assert_int_equal(c->cg.s.working_set, inactive - 4096);
        model_done(&m);
        free(st);
        free(scratch);
        free(v);
        free(p);
        free(dir);
        tree_done(&t);
}

/* ---- tiered sampling (issue 13) ---- */

#define NEAR_REL                                                                                   \
        "/kubepods.slice/kubepods-burstable.slice/"                                                \
        "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice/"                        \
        "cri-containerd-3333333333333333333333333333333333333333333333333333333333333333.scope"

static uint32_t want_light(void *ud, const struct cgroup *c)
{
        (void)ud;
        (void)c;
        return CG_FILES_LIGHT;
}

static void write_u64(const char *dir, const char *name, uint64_t v)
{
        char *p = tu_strdupf("%s/%s", dir, name);
        char *s = tu_strdupf("%" PRIu64 "\n", v);
        tu_write(p, s, strlen(s));
        free(s);
        free(p);
}

/* Replaces "key N" in a keyed file of dir by "key v". */
static void set_key(const char *dir, const char *name, const char *key, uint64_t v)
{
        char *p = tu_strdupf("%s/%s", dir, name);
        char *old = tu_read(p, NULL);
        size_t kl = strlen(key);
        char *out = malloc(strlen(old) + 32), *o = out;
        for (char *line = old; *line;) {
                char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) + 1 : strlen(line);
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
                        o += sprintf(o, "%s %" PRIu64 "\n", key, v);
                else {
                        memcpy(o, line, len);
                        o += len;
                }
                line += len;
        }
        *o = '\0';
        tu_write(p, out, strlen(out));
        free(out);
        free(old);
        free(p);
}

/* A light sample reads usage and events: memory.current moves, memory.stat is not read (its bit
 * clear, its values and their time kept: working_set subtracts the last inactive_file), settings
 * keep their bit. A full sample reads memory.stat again and dates it. */
static void test_light_sample_keeps_age(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        char *dir = at(&t, CACHE_REL);
        uint64_t inactive = tu_read_key(dir, "memory.stat", "inactive_file");
        struct model m;
        char *scratch = malloc(SCRATCH);
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        const struct container *c = find_by_path(&m, CACHE_REL);
        assert_non_null(c);
        uint32_t had = c->cg.s.have;
        assert_true(had & CG_HAVE(CGF_STAT));
        assert_true(had & CG_HAVE(CGF_HIGH));
        uint64_t stat_usec = c->cg.s.stat_usec, first_usec = c->cg.s.time_usec;
        assert_int_equal(stat_usec, first_usec);

        write_u64(dir, "memory.current", inactive + 8 * 4096);
        set_key(dir, "memory.stat", "inactive_file", inactive / 2);
        assert_int_equal(model_sample_files(&m, want_light, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_int_equal(c->cg.s.current, inactive + 8 * 4096);
        assert_true(c->cg.s.time_usec > first_usec);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_STAT), 0);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_PRESSURE), 0);
        assert_true(c->cg.s.have & CG_HAVE(CGF_HIGH)); /* a setting: kept */
        assert_true(c->cg.s.have & CG_HAVE(CGF_EVENTS));
        assert_int_equal(c->cg.s.stat_usec, stat_usec); /* the age of what is kept */
        assert_int_equal(c->cg.s.stat.inactive_file, inactive);
        assert_int_equal(c->cg.s.working_set, 8 * 4096);
        assert_false(c->cg.events_changed);

        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_true(c->cg.s.have & CG_HAVE(CGF_STAT));
        assert_true(c->cg.s.stat_usec > stat_usec);
        assert_int_equal(c->cg.s.stat.inactive_file, inactive / 2);
        assert_int_equal(c->cg.s.working_set, inactive + 8 * 4096 - inactive / 2);
        model_done(&m);
        free(scratch);
        free(dir);
        tree_done(&t);
}

/* A cgroup read light whose memory.events moved is read in full at once, in the same sample;
 * one near its limit too (the capture's throttled container, at 98% of memory.max); a calm one
 * whose events did not move is not. */
static void test_light_sample_escalates(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        char *calm = at(&t, CACHE_REL);
        struct model m;
        char *scratch = malloc(SCRATCH);
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        const struct container *c = find_by_path(&m, CACHE_REL);
        uint64_t high = c->cg.s.events.high;

        assert_int_equal(model_sample_files(&m, want_light, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_STAT), 0);
        const struct container *near = find_by_path(&m, NEAR_REL);
        assert_non_null(near);
        assert_true(near->cg.s.have & CG_HAVE(CGF_STAT));
        assert_true(near->cg.s.have & CG_HAVE(CGF_PRESSURE));
        /* what a decision needs, not memory.numa_stat (status and the report's, read in full) */
        assert_int_equal(near->cg.s.have & CG_HAVE(CGF_NUMA_STAT), 0);

        set_key(calm, "memory.events", "high", high + 3);
        set_key(calm, "memory.stat", "inactive_file", 4096);
        assert_int_equal(model_sample_files(&m, want_light, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_true(c->cg.events_changed);
        assert_int_equal(c->cg.s.events.high, high + 3);
        assert_true(c->cg.s.have & CG_HAVE(CGF_STAT));
        assert_int_equal(c->cg.s.stat.inactive_file, 4096);
        assert_int_equal(c->cg.s.stat_usec >= c->cg.s.time_usec, true);

        /* Unchanged since: light again. */
        assert_int_equal(model_sample_files(&m, want_light, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_false(c->cg.events_changed);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_STAT), 0);
        assert_int_equal(c->cg.s.events.high, high + 3);
        model_done(&m);
        free(scratch);
        free(calm);
        tree_done(&t);
}

/* Runs model_sample with stderr captured; returns the count and what was logged. */
static size_t sample_capturing_log(struct model *m, char *scratch, char **ret_log)
{
        char *tmp = tu_mkdtemp("log");
        char *path = tu_strdupf("%s/stderr", tmp);
        fflush(stderr);
        int saved = dup(STDERR_FILENO);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(saved >= 0 && fd >= 0);
        dup2(fd, STDERR_FILENO);
        close(fd);
        size_t n = model_sample(m, scratch, SCRATCH);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        *ret_log = tu_read(path, NULL);
        tu_rm_rf(tmp);
        free(path);
        free(tmp);
        return n;
}

/* A container removed between discovery and sampling is dropped, silently; the rest keep
 * their values. Then a whole pod goes. */
static void test_vanish_mid_scan(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        struct model m;
        char *scratch = malloc(SCRATCH), *log;
        assert_int_equal(model_discover(&m, t.fd, system_slice, 1), 0);
        size_t total = model_count(&m);
        const struct pod *app = find_pod(&m, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
        size_t app_containers = app->n_containers;

        char *gone = at(&t, CACHE_REL);
        tu_rm_rf(gone);
        assert_false(tu_exists(gone));
        size_t n = sample_capturing_log(&m, scratch, &log);
        if (log[0])
                fail_msg("a vanished cgroup was reported: %s", log);
        free(log);
        assert_int_equal(n, total - 1);
        assert_int_equal(model_count(&m), total - 1);
        app = find_pod(&m, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
        assert_int_equal(app->n_containers, app_containers - 1);
        assert_null(find_by_path(&m, CACHE_REL));
        /* Everything else sampled with the files' values. */
        check_sample(t.root, &m.kubepods);
        for (size_t i = 0; i < m.n_pods; i++) {
                check_sample(t.root, &m.pods[i].cg);
                for (size_t j = 0; j < m.pods[i].n_containers; j++)
                        check_sample(t.root, &m.pods[i].containers[j].cg);
        }

        /* A whole pod: its containers go with it. */
        char *batch =
            pod_rel(DRIVER_SYSTEMD, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", QOS_BESTEFFORT);
        char *batch_abs = at(&t, batch);
        size_t batch_n = find_pod(&m, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")->n_containers;
        tu_rm_rf(batch_abs);
        /* Its files were opened by the first sample; on a real cgroup2 mount reads of a removed
         * cgroup fail with ENODEV, here the directory is gone but open files still read: drop
         * the cached fds so the next sample sees what the kernel would. */
        for (size_t i = 0; i < m.n_pods; i++)
                if (strcmp(m.pods[i].cg.path, batch) == 0) {
                        cgroup_drop_fds(&m.pods[i].cg);
                        for (size_t j = 0; j < m.pods[i].n_containers; j++)
                                cgroup_drop_fds(&m.pods[i].containers[j].cg);
                }
        n = sample_capturing_log(&m, scratch, &log);
        if (log[0])
                fail_msg("a vanished pod was reported: %s", log);
        free(log);
        assert_int_equal(n, total - 1 - 1 - batch_n);
        assert_int_equal(m.n_pods, 3);
        assert_null(find_pod(&m, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"));
        model_done(&m);
        free(batch);
        free(batch_abs);
        free(gone);
        free(scratch);
        tree_done(&t);
}

static size_t count_open_fds(void)
{
        size_t n = 0;
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

/* The fd budget (issue 15): with room for 6 fds, the cgroups keep no more than that open (the
 * every-tick files of the first ones, no other file), every cgroup is still sampled whole (those
 * beyond it read by their path), the budget is said once, and everything is given back. */
static void test_fd_budget(void **state)
{
        (void)state;
        enum { BUDGET = 6 };
        struct tree t;
        tree_make(&t, "systemd");
        char *scratch = malloc(SCRATCH);
        size_t fds_before = count_open_fds();
        assert_int_equal(cgroup_fds_kept(), 0);
        cgroup_set_fd_budget(BUDGET);
        struct model m;
        /* Said at the walk, which reaches the budget: stderr captured around walk and sample. */
        char *tmp = tu_mkdtemp("log");
        char *path = tu_strdupf("%s/stderr", tmp);
        fflush(stderr);
        int saved = dup(STDERR_FILENO);
        int lfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(saved >= 0 && lfd >= 0);
        dup2(lfd, STDERR_FILENO);
        close(lfd);
        assert_int_equal(model_discover(&m, t.fd, system_slice, 1), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        char *log = tu_read(path, NULL);
        tu_rm_rf(tmp);
        free(path);
        free(tmp);

        assert_true(model_count(&m) * 3 > BUDGET); /* the test means something */
        /* kubepods keeps its directory whatever the budget (its PSI trigger needs it) */
        assert_true(cgroup_fds_kept() <= BUDGET + 1);
        assert_true(count_open_fds() <= fds_before + BUDGET + 1);
        size_t by_path = 0;
        check_sample(t.root, &m.kubepods);
        for (size_t i = 0; i < m.n_pods; i++) {
                check_sample(t.root, &m.pods[i].cg);
                by_path += m.pods[i].cg.dfd < 0;
                for (size_t j = 0; j < m.pods[i].n_containers; j++) {
                        const struct cgroup *c = &m.pods[i].containers[j].cg;
                        check_sample(t.root, c);
                        by_path += c->dfd < 0;
                        /* memory.stat is not read every tick: never kept over half the budget */
                        assert_true(c->fds[CGF_STAT] < 0);
                }
        }
        for (size_t i = 0; i < m.n_workloads; i++)
                check_sample(t.root, &m.workloads[i].cg);
        assert_true(by_path > 0);
        /* A directory opened for the caller works for one read by path too. */
        for (size_t i = 0; i < m.n_pods; i++)
                if (m.pods[i].cg.dfd < 0) {
                        int dfd = cgroup_dir_open(&m.pods[i].cg);
                        assert_true(dfd >= 0);
                        char buf[64];
                        assert_true(read_file_at(dfd, "memory.current", buf, sizeof(buf)) > 0);
                        close(dfd);
                        break;
                }
        const char *said = strstr(log, "Keeping");
        assert_non_null(said);
        assert_null(strstr(said + 1, "Keeping"));
        free(log);
        /* A second sample says nothing new and opens nothing more. */
        size_t kept = cgroup_fds_kept();
        assert_int_equal(sample_capturing_log(&m, scratch, &log), model_count(&m));
        assert_string_equal(log, "");
        free(log);
        assert_int_equal(cgroup_fds_kept(), kept);
        model_done(&m);
        assert_int_equal(cgroup_fds_kept(), 0);
        assert_int_equal(count_open_fds(), fds_before);
        cgroup_set_fd_budget(SIZE_MAX);
        free(scratch);
        tree_done(&t);
}

/* Only what is read every tick stays open: memory.stat read by one full sample is closed after
 * it, kept from the second full sample in a row, and closed once light samples do not read it;
 * the every-tick files stay open throughout. */
static void test_every_tick_files_kept(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        char *scratch = malloc(SCRATCH);
        struct model m;
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        const struct container *c = find_by_path(&m, CACHE_REL);
        assert_true(c->cg.fds[CGF_CURRENT] >= 0 && c->cg.fds[CGF_EVENTS] >= 0);
        assert_true(c->cg.fds[CGF_STAT] < 0);
        size_t after_one = cgroup_fds_kept();
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_true(c->cg.fds[CGF_STAT] >= 0);
        assert_true(cgroup_fds_kept() > after_one);
        /* A light sample: closed at the start of the next sample that finds it was not read
         * (a file read by the escalation of a light sample stays open for the next one). */
        assert_int_equal(model_sample_files(&m, want_light, NULL, scratch, SCRATCH),
                         model_count(&m));
        assert_int_equal(model_sample_files(&m, want_light, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = find_by_path(&m, CACHE_REL);
        assert_true(c->cg.fds[CGF_STAT] < 0);
        assert_true(c->cg.fds[CGF_CURRENT] >= 0 && c->cg.fds[CGF_EVENTS] >= 0);
        /* The capture's container near its limit is read in full on every light sample: kept. */
        const struct container *near = find_by_path(&m, NEAR_REL);
        assert_true(near->cg.fds[CGF_STAT] >= 0);
        model_done(&m);
        assert_int_equal(cgroup_fds_kept(), 0);
        free(scratch);
        tree_done(&t);
}

/* What observe.c's want_files() asks of a calm tick: memory.current alone for a cgroup whose
 * memory.events is watched, everything once it is woken. */
static uint32_t want_calm(void *ud, const struct cgroup *c)
{
        (void)ud;
        if (c->woken)
                return CG_FILES_ALL;
        return c->events_watched ? CG_HAVE(CGF_CURRENT) : CG_FILES_LIGHT;
}

/* Events before polling: a watched container's memory.events is not read by calm ticks (its
 * counts stay, marked current); the kernel's IN_MODIFY on it (tmpfs sends the same on a write)
 * wakes it, and the next sample reads it in full at once, then light again. */
static void test_events_watch_wakes(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        char *calm = at(&t, CACHE_REL);
        char *events = tu_strdupf("%s/memory.events", calm);
        char *scratch = malloc(SCRATCH);
        struct model m;
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        struct container *c = (struct container *)find_by_path(&m, CACHE_REL);
        uint64_t high = c->cg.s.events.high;
        int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(ifd >= 0);
        int wd = inotify_add_watch(ifd, events, IN_MODIFY);
        assert_true(wd >= 0);
        c->cg.events_watched = true;

        /* Calm: memory.events is not read, its counts are still taken as current. */
        set_key(calm, "memory.events", "high", high + 5);
        set_key(calm, "memory.stat", "inactive_file", 8192);
        assert_int_equal(model_sample_files(&m, want_calm, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = (struct container *)find_by_path(&m, CACHE_REL);
        assert_true(c->cg.s.have & CG_HAVE(CGF_EVENTS));
        assert_int_equal(c->cg.s.events.high, high);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_STAT), 0);
        assert_false(c->cg.events_changed);

        /* The write raised IN_MODIFY on that watch: the manager wakes the cgroup. */
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(ifd, buf, sizeof(buf));
        assert_true(n >= (ssize_t)sizeof(struct inotify_event));
        const struct inotify_event *ev = (const struct inotify_event *)buf;
        assert_int_equal(ev->wd, wd);
        assert_true(ev->mask & IN_MODIFY);
        c->cg.woken = true;
        assert_int_equal(model_sample_files(&m, want_calm, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = (struct container *)find_by_path(&m, CACHE_REL);
        assert_int_equal(c->cg.s.events.high, high + 5);
        assert_true(c->cg.events_changed);
        assert_true(c->cg.s.have & CG_HAVE(CGF_STAT));
        assert_int_equal(c->cg.s.stat.inactive_file, 8192);
        assert_false(c->cg.woken);

        /* Light again. */
        assert_int_equal(model_sample_files(&m, want_calm, NULL, scratch, SCRATCH),
                         model_count(&m));
        c = (struct container *)find_by_path(&m, CACHE_REL);
        assert_int_equal(c->cg.s.have & CG_HAVE(CGF_STAT), 0);
        assert_false(c->cg.events_changed);
        close(ifd);
        model_done(&m);
        free(scratch);
        free(events);
        free(calm);
        tree_done(&t);
}

/* A file that cannot be read is said once for its cgroup, not at every sample, and again only
 * after reads worked in between (issue 15: 58,216 warnings at 2,000 pods). */
static void test_read_failure_said_once(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        char *calm = at(&t, CACHE_REL);
        char *stat_path = tu_strdupf("%s/memory.stat", calm);
        char *scratch = malloc(SCRATCH);
        struct model m;
        assert_int_equal(model_discover(&m, t.fd, NULL, 0), 0);
        /* A directory in the file's place: open works, read fails with EISDIR. */
        char *saved = tu_strdupf("%s.saved", stat_path);
        assert_int_equal(rename(stat_path, saved), 0);
        assert_int_equal(mkdir(stat_path, 0755), 0);
        char *log;
        size_t said = 0;
        for (int i = 0; i < 3; i++) {
                assert_int_equal(sample_capturing_log(&m, scratch, &log), model_count(&m));
                for (const char *p = log; (p = strstr(p, "memory.stat")); p++)
                        said++;
                free(log);
        }
        assert_int_equal(said, 1);
        /* Fixed: said to be whole again, then a new failure is said again. */
        assert_int_equal(rmdir(stat_path), 0);
        assert_int_equal(rename(saved, stat_path), 0);
        const struct container *c = find_by_path(&m, CACHE_REL);
        cgroup_drop_fds((struct cgroup *)&c->cg);
        assert_int_equal(sample_capturing_log(&m, scratch, &log), model_count(&m));
        assert_non_null(strstr(log, "works again"));
        free(log);
        assert_true(find_by_path(&m, CACHE_REL)->cg.s.have & CG_HAVE(CGF_STAT));
        model_done(&m);
        free(saved);
        free(stat_path);
        free(calm);
        free(scratch);
        tree_done(&t);
}

/* model_refresh: unchanged cgroups keep their open fds (same numbers) and last sample; a pod
 * created since is picked up, with fresh fds. */
static void test_refresh_keeps_fds(void **state)
{
        (void)state;
        struct tree t;
        tree_make(&t, "systemd");
        struct model m;
        char *scratch = malloc(SCRATCH);
        assert_int_equal(model_discover(&m, t.fd, system_slice, 1), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        /* Twice: a file read on two samples in a row is read every tick, and kept open. */
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));

        /* Remember every cgroup's fds by path. */
        size_t n_old = model_count(&m);
        struct {
                char *path;
                int fds[_CGF_MAX];
                uint64_t current;
        } *old = calloc(n_old, sizeof(*old));
        size_t k = 0;
#define REMEMBER(cgp)                                                                              \
        do {                                                                                       \
                old[k].path = strdup((cgp)->path);                                                 \
                memcpy(old[k].fds, (cgp)->fds, sizeof(old[k].fds));                                \
                old[k].current = (cgp)->s.current;                                                 \
                k++;                                                                               \
        } while (0)
        REMEMBER(&m.kubepods);
        for (size_t i = 0; i < m.n_pods; i++) {
                REMEMBER(&m.pods[i].cg);
                for (size_t j = 0; j < m.pods[i].n_containers; j++)
                        REMEMBER(&m.pods[i].containers[j].cg);
        }
        for (size_t i = 0; i < m.n_workloads; i++)
                REMEMBER(&m.workloads[i].cg);
#undef REMEMBER
        assert_int_equal(k, n_old);
        for (size_t i = 0; i < n_old; i++)
                for (size_t f = 0; f < _CGF_MAX; f++)
                        if (old[i].fds[f] < 0)
                                fail_msg("%s: %s not opened by the sample", old[i].path,
                                         cg_file_names[f]);

        /* A new besteffort pod: a copy of the batch pod under a new uid. */
        const char *new_uid = "aaaabbbb-cccc-4ddd-8eee-ffff00001111";
        char *batch_rel =
            pod_rel(DRIVER_SYSTEMD, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", QOS_BESTEFFORT);
        char *src = at(&t, batch_rel);
        free(batch_rel);
        char *new_rel = pod_rel(DRIVER_SYSTEMD, new_uid, QOS_BESTEFFORT);
        char *dst = at(&t, new_rel);
        tu_copy_tree(src, dst);

        assert_int_equal(model_refresh(&m, system_slice, 1), 0);
        assert_int_equal(model_count(&m), n_old + 3); /* pod + sandbox + container */
        size_t matched = 0;
        const struct cgroup *all[64];
        size_t n_all = 0;
        all[n_all++] = &m.kubepods;
        for (size_t i = 0; i < m.n_pods; i++) {
                all[n_all++] = &m.pods[i].cg;
                for (size_t j = 0; j < m.pods[i].n_containers; j++)
                        all[n_all++] = &m.pods[i].containers[j].cg;
        }
        for (size_t i = 0; i < m.n_workloads; i++)
                all[n_all++] = &m.workloads[i].cg;
        for (size_t a = 0; a < n_all; a++) {
                const struct cgroup *c = all[a];
                bool found = false;
                for (size_t i = 0; i < n_old; i++)
                        if (strcmp(old[i].path, c->path) == 0) {
                                found = true;
                                matched++;
                                if (memcmp(old[i].fds, c->fds, sizeof(c->fds)) != 0)
                                        fail_msg("%s: fds changed across model_refresh", c->path);
                                assert_int_equal(c->s.current, old[i].current);
                        }
                if (!found) {
                        assert_int_equal(strncmp(c->path, new_rel, strlen(new_rel)), 0);
                        for (size_t f = 0; f < _CGF_MAX; f++)
                                assert_int_equal(c->fds[f], -1); /* not opened yet */
                }
        }
        assert_int_equal(matched, n_old);
        const struct pod *np = find_pod(&m, new_uid);
        assert_non_null(np);
        assert_int_equal(np->qos, QOS_BESTEFFORT);
        assert_int_equal(np->n_containers, 2);
        /* The fds still work, and the new pod samples. */
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        check_sample(t.root, &np->cg);
        check_sample(t.root, &m.kubepods);

        for (size_t i = 0; i < n_old; i++)
                free(old[i].path);
        free(old);
        free(src);
        free(dst);
        free(new_rel);
        model_done(&m);
        free(scratch);
        tree_done(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pod_slice_names),
                cmocka_unit_test(test_pod_dir_names),
                cmocka_unit_test(test_container_names),
                cmocka_unit_test(test_discover_systemd),
                cmocka_unit_test(test_discover_cgroupfs),
                cmocka_unit_test(test_workload_roots),
                cmocka_unit_test(test_discover_renamed_tree),
                cmocka_unit_test(test_sample_systemd),
                cmocka_unit_test(test_sample_cgroupfs),
                cmocka_unit_test(test_working_set_clamps),
                cmocka_unit_test(test_vanish_mid_scan),
                cmocka_unit_test(test_refresh_keeps_fds),
                cmocka_unit_test(test_light_sample_keeps_age),
                cmocka_unit_test(test_light_sample_escalates),
                cmocka_unit_test(test_fd_budget),
                cmocka_unit_test(test_every_tick_files_kept),
                cmocka_unit_test(test_events_watch_wakes),
                cmocka_unit_test(test_read_failure_said_once),
        };
        free(tu_guest_fixture("systemd"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
