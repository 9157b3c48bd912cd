// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

#define WALK_DEPTH_MAX 8

const char *driver_to_string(enum cg_driver d)
{
        return d == DRIVER_SYSTEMD ? "systemd" : "cgroupfs";
}

static bool has_suffix(const char *s, const char *suffix, size_t *ret_stem)
{
        size_t n = strlen(s), k = strlen(suffix);
        if (n < k || strcmp(s + n - k, suffix) != 0)
                return false;
        *ret_stem = n - k;
        return true;
}

/* Copies a pod uid out of a unit name component, undoing systemd's escaping: the kubelet
 * writes '-' as '_', and systemd escapes a literal '-' as "\x2d". Accepts hex digits and '-'
 * only (API uids, and static pods' 32-hex hashes). */
static bool copy_uid(const char *s, size_t len, char ret[KUBE_ID_MAX])
{
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                char ch = s[i];
                if (ch == '_')
                        ch = '-';
                else if (ch == '\\' && i + 3 < len && s[i + 1] == 'x' && s[i + 2] == '2' &&
                         s[i + 3] == 'd') {
                        ch = '-';
                        i += 3;
                } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || ch == '-'))
                        return false;
                if (o + 1 >= KUBE_ID_MAX)
                        return false;
                ret[o++] = ch;
        }
        if (o == 0)
                return false;
        ret[o] = '\0';
        return true;
}

bool kube_parse_pod_slice(const char *name, enum qos_class *ret_qos, char ret_uid[KUBE_ID_MAX])
{
        static const struct {
                const char *marker;
                enum qos_class qos;
        } kinds[] = {
                { "kubepods-burstable-pod", QOS_BURSTABLE },
                { "kubepods-besteffort-pod", QOS_BESTEFFORT },
                { "kubepods-pod", QOS_GUARANTEED },
        };
        size_t stem;

        if (!has_suffix(name, ".slice", &stem))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                const char *m = strstr(name, kinds[i].marker);
                /* The marker starts the name or follows a '-' (a parent slice's prefix). */
                if (!m || (m != name && m[-1] != '-'))
                        continue;
                const char *uid = m + strlen(kinds[i].marker);
                if (uid > name + stem)
                        continue;
                if (!copy_uid(uid, (size_t)(name + stem - uid), ret_uid))
                        return false;
                *ret_qos = kinds[i].qos;
                return true;
        }
        return false;
}

bool kube_parse_pod_dir(const char *parent, const char *grandparent, const char *name,
                        enum qos_class *ret_qos, char ret_uid[KUBE_ID_MAX])
{
        enum qos_class q;

        if (strncmp(name, "pod", 3) != 0 || !parent)
                return false;
        if (streq(parent, "kubepods"))
                q = QOS_GUARANTEED;
        else if (grandparent && streq(grandparent, "kubepods") && streq(parent, "burstable"))
                q = QOS_BURSTABLE;
        else if (grandparent && streq(grandparent, "kubepods") && streq(parent, "besteffort"))
                q = QOS_BESTEFFORT;
        else
                return false;
        if (!copy_uid(name + 3, strlen(name + 3), ret_uid))
                return false;
        *ret_qos = q;
        return true;
}

bool kube_parse_container(const char *name, char ret_id[KUBE_ID_MAX], const char **ret_runtime)
{
        static const struct {
                const char *prefix;
                const char *runtime;
        } runtimes[] = {
                { "cri-containerd-", "containerd" },
                { "crio-conmon-", NULL }, /* cri-o's monitor process, not a container */
                { "crio-", "cri-o" },
                { "docker-", "docker" },
        };
        const char *runtime = "unknown", *id = name;
        size_t len = strlen(name), stem;

        if (has_suffix(name, ".scope", &stem))
                len = stem;
        for (size_t i = 0; i < ELEMENTSOF(runtimes); i++) {
                size_t pl = strlen(runtimes[i].prefix);
                if (strncmp(name, runtimes[i].prefix, pl) == 0) {
                        if (!runtimes[i].runtime)
                                return false;
                        runtime = runtimes[i].runtime;
                        id = name + pl;
                        len -= pl;
                        break;
                }
        }
        /* Runtimes name containers by 64-hex ids; a bare directory name (cgroupfs) must be one,
         * so that stray directories inside a pod are not taken for containers. */
        if (len == 0 || len >= KUBE_ID_MAX || (id == name && len != 64))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return false;
        memcpy(ret_id, id, len);
        ret_id[len] = '\0';
        *ret_runtime = runtime;
        return true;
}

bool kube_is_kubepods(const char *name)
{
        size_t stem;
        if (streq(name, "kubepods") || streq(name, "kubepods.slice"))
                return true;
        return has_suffix(name, "-kubepods.slice", &stem);
}

static const char *basename_of(const char *path)
{
        const char *b = strrchr(path, '/');
        return b ? b + 1 : path;
}

/* Grows *array (of elem_size) to hold one more; returns the new slot zeroed, or NULL. The
 * capacity is implied by n: 4, then doubling at each power of two. */
static void *array_push(void *array_p, size_t *n, size_t elem_size)
{
        void **array = array_p;
        if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
                void *a = reallocarray(*array, *n ? *n * 2 : 4, elem_size);
                if (!a)
                        return NULL;
                *array = a;
        }
        void *slot = (char *)*array + *n * elem_size;
        memset(slot, 0, elem_size);
        (*n)++;
        return slot;
}

/* Gives back what array_push() reserved beyond n, once nothing more is pushed: a pod's three
 * containers held four slots, 250 pods 256 (issue 13: struct container is 728 bytes). The arrays
 * of a walked model are exact; nothing pushes onto them again (a refresh walks anew). */
static void array_trim(void *array_p, size_t n, size_t elem_size)
{
        void **array = array_p;
        if (n == 0 || (n >= 4 && (n & (n - 1)) == 0))
                return; /* full already */
        void *a = reallocarray(*array, n, elem_size);
        if (a) /* shrinking cannot fail in glibc; should it, the larger block is still right */
                *array = a;
}

struct walk {
        struct model *m;
        const struct workload_root *roots;
        size_t n_roots;
};

/* Lists the subdirectories of path (relative to root). Calls fn for each. Returns 0 or a
 * negative errno; a directory that vanished while listed counts as empty. */
static int for_each_subdir(int root_fd, const char *path,
                           int (*fn)(void *ud, const char *path, const char *name), void *ud)
{
        const char *rel = path;
        while (*rel == '/')
                rel++;
        int fd = openat(root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno_is_vanished(-errno) ? 0 : negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        int r = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                            !S_ISDIR(st.st_mode))
                                continue;
                }
                char *child;
                if (asprintf(&child, "%s/%s", streq(path, "/") ? "" : path, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = fn(ud, child, de->d_name);
                free(child);
                if (r < 0)
                        break;
        }
        if (r == 0 && errno && !errno_is_vanished(-errno))
                r = negative_errno();
        closedir(d);
        return r;
}

struct pod_walk {
        struct model *m;
        struct pod *pod;
};

static int add_container(void *ud, const char *path, const char *name)
{
        struct pod_walk *pw = ud;
        char id[KUBE_ID_MAX];
        const char *runtime;

        if (!kube_parse_container(name, id, &runtime))
                return 0;
        struct container *c = array_push(&pw->pod->containers, &pw->pod->n_containers, sizeof(*c));
        if (!c)
                return -ENOMEM;
        int r = cgroup_open_budgeted(&c->cg, pw->m->root_fd, path);
        if (r < 0) {
                pw->pod->n_containers--;
                if (!errno_is_vanished(r))
                        log_warning_errno(r, "Failed to open cgroup %s: %m, skipping", path);
                return 0;
        }
        memcpy(c->id, id, sizeof(id));
        c->runtime = runtime;
        return 0;
}

static int add_pod(struct walk *w, const char *path, enum qos_class qos, const char *uid,
                   enum cg_driver driver)
{
        struct model *m = w->m;
        struct pod *p = array_push(&m->pods, &m->n_pods, sizeof(*p));
        if (!p)
                return -ENOMEM;
        int r = cgroup_open_budgeted(&p->cg, m->root_fd, path);
        if (r < 0) {
                m->n_pods--;
                if (!errno_is_vanished(r))
                        log_warning_errno(r, "Failed to open cgroup %s: %m, skipping", path);
                return 0;
        }
        snprintf(p->uid, sizeof(p->uid), "%s", uid);
        p->qos = qos;
        p->driver = driver;
        struct pod_walk pw = { m, p };
        r = for_each_subdir(m->root_fd, path, add_container, &pw);
        array_trim(&p->containers, p->n_containers, sizeof(*p->containers));
        if (r < 0 && r != -ENOMEM)
                log_warning_errno(r, "Failed to list containers of %s: %m, ignoring", path);
        return r == -ENOMEM ? r : 0;
}

static int add_workload(void *ud, const char *path, const char *name)
{
        struct walk *w = ud;
        struct model *m = w->m;
        (void)name;
        struct workload *wl = array_push(&m->workloads, &m->n_workloads, sizeof(*wl));
        if (!wl)
                return -ENOMEM;
        int r = cgroup_open_budgeted(&wl->cg, m->root_fd, path);
        if (r < 0) {
                m->n_workloads--;
                if (!errno_is_vanished(r))
                        log_warning_errno(r, "Failed to open cgroup %s: %m, skipping", path);
                return 0;
        }
        wl->name = basename_of(wl->cg.path);
        wl->qos = QOS_BURSTABLE;
        return 0;
}

struct dir_ctx {
        struct walk *w;
        unsigned depth;
        const char *parent;      /* basename of the directory being listed */
        const char *grandparent; /* and of its parent */
};

static int visit(void *ud, const char *path, const char *name);

static int walk_dir(struct walk *w, const char *path, unsigned depth, const char *parent,
                    const char *grandparent)
{
        struct dir_ctx ctx = { w, depth, parent, grandparent };
        return for_each_subdir(w->m->root_fd, path, visit, &ctx);
}

static int visit(void *ud, const char *path, const char *name)
{
        struct dir_ctx *ctx = ud;
        struct walk *w = ctx->w;
        enum qos_class qos;
        char uid[KUBE_ID_MAX];

        if (kube_parse_pod_slice(name, &qos, uid))
                return add_pod(w, path, qos, uid, DRIVER_SYSTEMD);
        if (kube_parse_pod_dir(ctx->parent, ctx->grandparent, name, &qos, uid))
                return add_pod(w, path, qos, uid, DRIVER_CGROUPFS);

        for (size_t i = 0; i < w->n_roots; i++)
                if (streq(path, w->roots[i].path)) {
                        size_t first = w->m->n_workloads;
                        int r = for_each_subdir(w->m->root_fd, path, add_workload, w);
                        for (size_t j = first; j < w->m->n_workloads; j++)
                                w->m->workloads[j].qos = w->roots[i].qos;
                        return r == -ENOMEM ? r : 0;
                }

        if (kube_is_kubepods(name) && !w->m->has_kubepods) {
                int r = cgroup_open(&w->m->kubepods, w->m->root_fd, path);
                if (r == 0)
                        w->m->has_kubepods = true;
        }
        if (ctx->depth + 1 >= WALK_DEPTH_MAX)
                return 0;
        return walk_dir(w, path, ctx->depth + 1, name, ctx->parent);
}

int model_discover(struct model *m, int root_fd, const struct workload_root *roots, size_t n_roots)
{
        struct walk w = { m, roots, n_roots };

        *m = (struct model){ .root_fd = root_fd, .kubepods = { .dfd = -1 } };
        int r = walk_dir(&w, "/", 0, NULL, NULL);
        if (r < 0) {
                model_done(m);
                return log_error_errno(r, "Failed to walk the cgroup tree: %m");
        }
        array_trim(&m->pods, m->n_pods, sizeof(*m->pods));
        array_trim(&m->workloads, m->n_workloads, sizeof(*m->workloads));
        return 0;
}

static int cmp_cgroup_ptr(const void *a, const void *b)
{
        const struct cgroup *x = *(struct cgroup *const *)a, *y = *(struct cgroup *const *)b;
        return strcmp(x->path, y->path);
}

/* Lists every tracked cgroup into out (when not NULL); returns how many there are. */
static size_t model_cgroups(const struct model *m, struct cgroup **out)
{
        size_t n = 0;
        if (m->has_kubepods) {
                if (out)
                        out[n] = (struct cgroup *)&m->kubepods;
                n++;
        }
        for (size_t i = 0; i < m->n_pods; i++) {
                if (out)
                        out[n] = &m->pods[i].cg;
                n++;
                for (size_t j = 0; j < m->pods[i].n_containers; j++) {
                        if (out)
                                out[n] = &m->pods[i].containers[j].cg;
                        n++;
                }
        }
        for (size_t i = 0; i < m->n_workloads; i++) {
                if (out)
                        out[n] = &m->workloads[i].cg;
                n++;
        }
        return n;
}

size_t model_count(const struct model *m)
{
        return model_cgroups(m, NULL);
}

int model_refresh(struct model *m, const struct workload_root *roots, size_t n_roots)
{
        struct model next;
        int r = model_discover(&next, m->root_fd, roots, n_roots);
        if (r < 0)
                return r;

        size_t n_old = model_count(m), n_new = model_count(&next);
        _cleanup_free_ struct cgroup **old = calloc(n_old + 1, sizeof(*old));
        _cleanup_free_ struct cgroup **new = calloc(n_new + 1, sizeof(*new));
        if (!old || !new) {
                model_done(&next);
                return -ENOMEM;
        }
        model_cgroups(m, old);
        model_cgroups(&next, new);
        qsort(old, n_old, sizeof(*old), cmp_cgroup_ptr);
        for (size_t i = 0; i < n_new; i++) {
                struct cgroup key = { .path = new[i]->path }, *kp = &key;
                struct cgroup **hit = bsearch(&kp, old, n_old, sizeof(*old), cmp_cgroup_ptr);
                if (hit)
                        cgroup_adopt(new[i], *hit);
        }
        model_done(m);
        *m = next;
        return 0;
}

/* A cgroup read light is read in full at once when what it read says a decision may need the
 * rest: its memory.events counts moved (high, max, oom: the kernel acted in it), or its usage is
 * close to its limit (the balloon and vertical scaling act there, on working set and PSI). */
#define NEAR_LIMIT_PCT 80

static bool wants_the_rest(const struct cgroup *c)
{
        const struct cg_sample *s = &c->s;
        if (c->events_changed)
                return true;
        if (!(s->have & CG_HAVE(CGF_CURRENT)))
                return false;
        uint64_t limit = UINT64_MAX;
        if ((s->have & CG_HAVE(CGF_MAX)) && s->max != CG_UNLIMITED)
                limit = s->max;
        if ((s->have & CG_HAVE(CGF_HIGH)) && s->high != CG_UNLIMITED && s->high < limit)
                limit = s->high;
        return limit != UINT64_MAX && s->current >= limit / 100 * NEAR_LIMIT_PCT;
}

static bool sample_one(struct cgroup *c, uint32_t files, char *scratch, size_t scratch_size)
{
        if (files == 0) /* sampled already by the caller */
                return !c->gone;
        if (cgroup_sample_files(c, files, scratch, scratch_size) < 0)
                return false;
        if ((files & CG_FILES_DECIDE) != CG_FILES_DECIDE && wants_the_rest(c))
                (void)cgroup_sample_more(c, CG_FILES_DECIDE & ~files, scratch, scratch_size);
        return !c->gone;
}

size_t model_sample(struct model *m, char *scratch, size_t scratch_size)
{
        return model_sample_files(m, NULL, NULL, scratch, scratch_size);
}

size_t model_sample_files(struct model *m, uint32_t (*want)(void *ud, const struct cgroup *c),
                          void *ud, char *scratch, size_t scratch_size)
{
        size_t n = 0;
        /* No allocation: this runs every tick. */
        if (m->has_kubepods &&
            sample_one(&m->kubepods, want ? want(ud, &m->kubepods) : CG_FILES_ALL, scratch,
                       scratch_size))
                n++;
        for (size_t i = 0; i < m->n_pods; i++) {
                struct pod *p = &m->pods[i];
                if (sample_one(&p->cg, want ? want(ud, &p->cg) : CG_FILES_ALL, scratch,
                               scratch_size))
                        n++;
                for (size_t j = 0; j < p->n_containers; j++) {
                        struct cgroup *c = &p->containers[j].cg;
                        if (sample_one(c, want ? want(ud, c) : CG_FILES_ALL, scratch, scratch_size))
                                n++;
                }
        }
        for (size_t i = 0; i < m->n_workloads; i++) {
                struct cgroup *c = &m->workloads[i].cg;
                if (sample_one(c, want ? want(ud, c) : CG_FILES_ALL, scratch, scratch_size))
                        n++;
        }
        /* Drop what vanished, keeping order. */
        if (m->has_kubepods && m->kubepods.gone) {
                cgroup_done(&m->kubepods);
                m->has_kubepods = false;
        }
        size_t o = 0;
        for (size_t i = 0; i < m->n_pods; i++) {
                struct pod *p = &m->pods[i];
                size_t oc = 0;
                for (size_t j = 0; j < p->n_containers; j++) {
                        if (p->containers[j].cg.gone)
                                cgroup_done(&p->containers[j].cg);
                        else
                                p->containers[oc++] = p->containers[j];
                }
                p->n_containers = oc;
                if (p->cg.gone) {
                        for (size_t j = 0; j < p->n_containers; j++)
                                cgroup_done(&p->containers[j].cg);
                        free(p->containers);
                        cgroup_done(&p->cg);
                } else
                        m->pods[o++] = *p;
        }
        m->n_pods = o;
        o = 0;
        for (size_t i = 0; i < m->n_workloads; i++) {
                if (m->workloads[i].cg.gone)
                        cgroup_done(&m->workloads[i].cg);
                else
                        m->workloads[o++] = m->workloads[i];
        }
        m->n_workloads = o;
        return n;
}

void model_done(struct model *m)
{
        if (m->has_kubepods)
                cgroup_done(&m->kubepods);
        for (size_t i = 0; i < m->n_pods; i++) {
                for (size_t j = 0; j < m->pods[i].n_containers; j++)
                        cgroup_done(&m->pods[i].containers[j].cg);
                free(m->pods[i].containers);
                cgroup_done(&m->pods[i].cg);
        }
        free(m->pods);
        for (size_t i = 0; i < m->n_workloads; i++)
                cgroup_done(&m->workloads[i].cg);
        free(m->workloads);
        *m = (struct model){ .root_fd = m->root_fd, .kubepods = { .dfd = -1 } };
}

const struct cgroup *model_find_cgroup(const struct model *m, uint64_t id)
{
        if (m->has_kubepods && m->kubepods.id == id)
                return &m->kubepods;
        for (size_t i = 0; i < m->n_pods; i++) {
                const struct pod *p = &m->pods[i];
                if (p->cg.id == id)
                        return &p->cg;
                for (size_t j = 0; j < p->n_containers; j++)
                        if (p->containers[j].cg.id == id)
                                return &p->containers[j].cg;
        }
        for (size_t i = 0; i < m->n_workloads; i++)
                if (m->workloads[i].cg.id == id)
                        return &m->workloads[i].cg;
        return NULL;
}
