// SPDX-License-Identifier: Apache-2.0
#include "api/k8s_pod.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"

int k8s_cpu_parse_millis(const char *s, uint64_t *ret_millis)
{
        char buf[64];
        size_t n = s ? strlen(s) : 0;
        uint64_t v;
        int r;

        if (n == 0 || n >= sizeof(buf) - 1)
                return -EINVAL;
        memcpy(buf, s, n + 1);
        if (buf[n - 1] == 'm') {
                buf[n - 1] = '\0';
                if (n == 1)
                        return -EINVAL;
                return quantity_parse_bytes(buf, ret_millis);
        }
        if ((buf[n - 1] >= '0' && buf[n - 1] <= '9') || buf[n - 1] == '.') {
                /* A plain decimal: "0.5" cores is "0.5k" millicores. */
                buf[n] = 'k';
                buf[n + 1] = '\0';
                return quantity_parse_bytes(buf, ret_millis);
        }
        r = quantity_parse_bytes(buf, &v);
        if (r < 0)
                return r;
        if (v > INT64_MAX / 1000)
                return -ERANGE;
        *ret_millis = v * 1000;
        return 0;
}

struct resources {
        bool has_mem_req, has_mem_lim, has_cpu_req, has_cpu_lim;
        uint64_t mem_req, mem_lim, cpu_req, cpu_lim;
};

static int read_quantity(const struct json_object *list, const char *path, const char *name,
                         bool is_cpu, bool *ret_has, uint64_t *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = api_lookup(list, name, false);
        if (!v)
                return 0;
        api_path(field, path, name);
        if (!is_cpu) {
                int r = api_quantity_bytes(v, field, ret, err);
                if (r < 0)
                        return r;
                *ret_has = true;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_int))
                return api_error_set(err, -EINVAL, field, "must be a quantity string");
        int r = k8s_cpu_parse_millis(json_object_get_string(v), ret);
        if (r < 0)
                return api_error_set(err, r, field, "\"%.64s\" is not a CPU quantity",
                                     json_object_get_string(v));
        *ret_has = true;
        return 0;
}

static int read_resources(const struct json_object *c, const char *path, struct resources *ret,
                          struct api_error *err)
{
        char rpath[API_FIELD_MAX], qpath[API_FIELD_MAX];
        struct json_object *res = NULL, *req = NULL, *lim = NULL;
        struct resources r = {};
        int k;

        k = api_get_object(c, path, "resources", false, false, &res, err);
        if (k < 0)
                return k;
        api_path(rpath, path, "resources");
        if ((k = api_get_object(res, rpath, "requests", false, false, &req, err)) < 0 ||
            (k = api_get_object(res, rpath, "limits", false, false, &lim, err)) < 0)
                return k;
        api_path(qpath, rpath, "requests");
        if ((k = read_quantity(req, qpath, "memory", false, &r.has_mem_req, &r.mem_req, err)) < 0 ||
            (k = read_quantity(req, qpath, "cpu", true, &r.has_cpu_req, &r.cpu_req, err)) < 0)
                return k;
        api_path(qpath, rpath, "limits");
        if ((k = read_quantity(lim, qpath, "memory", false, &r.has_mem_lim, &r.mem_lim, err)) < 0 ||
            (k = read_quantity(lim, qpath, "cpu", true, &r.has_cpu_lim, &r.cpu_lim, err)) < 0)
                return k;
        /* Apiserver defaulting: a limit without a request sets the request to the limit. */
        if (!r.has_mem_req && r.has_mem_lim) {
                r.has_mem_req = true;
                r.mem_req = r.mem_lim;
        }
        if (!r.has_cpu_req && r.has_cpu_lim) {
                r.has_cpu_req = true;
                r.cpu_req = r.cpu_lim;
        }
        *ret = r;
        return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
        return a > API_UNLIMITED - b ? API_UNLIMITED : a + b;
}

struct qos_acc {
        bool any_set;        /* some container has a request or limit for cpu or memory */
        bool all_guaranteed; /* every container has cpu and memory limits equal to requests */
};

static void qos_account(struct qos_acc *q, const struct resources *r)
{
        if (r->has_mem_req || r->has_mem_lim || r->has_cpu_req || r->has_cpu_lim)
                q->any_set = true;
        if (!r->has_mem_lim || !r->has_cpu_lim || r->mem_req != r->mem_lim ||
            r->cpu_req != r->cpu_lim)
                q->all_guaranteed = false;
}

/* What k8s_pod_meta_decode() needs beyond struct k8s_pod, gathered by the same walk so that
 * requests, limits, QoS and priority have one home. */
struct pod_extra {
        const char *owner_kind; /* borrowed */
        size_t n_containers;
        struct k8s_container_meta containers[K8S_META_CONTAINERS_MAX];
};

static int pod_decode(const struct json_object *o, const char *path, struct k8s_pod *ret,
                      struct pod_extra *extra, struct api_error *err)
{
        char mpath[API_FIELD_MAX], spath[API_FIELD_MAX], cpath[API_FIELD_MAX], ipath[API_FIELD_MAX];
        struct json_object *meta = NULL, *spec = NULL, *status = NULL, *containers = NULL,
                           *inits = NULL, *ann = NULL, *owners = NULL, *overhead = NULL;
        struct k8s_pod p = { .namespace = "default", .uid = "", .owner_uid = "" };
        struct qos_acc qa = { .all_guaranteed = true };
        int64_t prio = 0;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        api_path(mpath, path, "metadata");
        api_path(spath, path, "spec");
        if ((r = api_get_object(o, path, "metadata", true, false, &meta, err)) < 0 ||
            (r = api_get_string(meta, mpath, "name", true, false, &p.name, err)) < 0 ||
            (r = api_get_string(meta, mpath, "namespace", false, false, &p.namespace, err)) < 0 ||
            (r = api_get_string(meta, mpath, "uid", false, false, &p.uid, err)) < 0 ||
            (r = api_get_object(meta, mpath, "annotations", false, false, &ann, err)) < 0 ||
            (r = api_get_array(meta, mpath, "ownerReferences", false, false, &owners, err)) < 0 ||
            (r = api_get_object(o, path, "spec", true, false, &spec, err)) < 0 ||
            (r = api_get_array(spec, spath, "containers", true, false, &containers, err)) < 0 ||
            (r = api_get_array(spec, spath, "initContainers", false, false, &inits, err)) < 0 ||
            (r = api_get_object(spec, spath, "overhead", false, false, &overhead, err)) < 0 ||
            (r = api_get_i64(spec, spath, "priority", false, INT32_MIN, INT32_MAX, &prio, err)) <
                0 ||
            (r = api_get_object(o, path, "status", false, false, &status, err)) < 0)
                return r;
        p.priority = (int32_t)prio;
        if (!*p.namespace)
                p.namespace = "default";

        if (owners) {
                char opath[API_FIELD_MAX], apath[API_FIELD_MAX];
                api_path(apath, mpath, "ownerReferences");
                for (size_t i = 0; i < json_object_array_length(owners); i++) {
                        struct json_object *ow = json_object_array_get_idx(owners, i);
                        bool controller = false;
                        const char *uid = NULL, *kind = NULL;
                        api_path_index(opath, apath, i);
                        if (!json_object_is_type(ow, json_type_object))
                                return api_error_set(err, -EINVAL, opath, "must be an object");
                        if ((r = api_get_bool(ow, opath, "controller", false, &controller, err)) <
                                0 ||
                            (r = api_get_string(ow, opath, "uid", true, false, &uid, err)) < 0 ||
                            (r = api_get_string(ow, opath, "kind", false, false, &kind, err)) < 0)
                                return r;
                        if (controller) {
                                p.owner_uid = uid;
                                if (extra)
                                        extra->owner_kind = kind;
                        }
                }
        }
        if (ann) {
                char apath[API_FIELD_MAX];
                const char *numa = NULL, *prot = NULL;
                api_path(apath, mpath, "annotations");
                if ((r = api_get_string(ann, apath, K8S_ANNOTATION_NUMA, false, false, &numa,
                                        err)) < 0 ||
                    (r = api_get_string(ann, apath, K8S_ANNOTATION_PROTECTED, false, false, &prot,
                                        err)) < 0)
                        return r;
                if (numa && strcmp(numa, K8S_NUMA_SINGLE_ZONE) == 0)
                        p.single_numa = true;
                if (prot && strcmp(prot, "true") == 0)
                        p.protected_ = true;
        }

        /* App containers run together; so do sidecars (init containers with restartPolicy
         * Always), which also run during the init containers that follow them. */
        uint64_t app_req = 0, app_lim = 0, sidecar_req = 0, init_peak = 0;
        bool unlimited = false;
        api_path(cpath, spath, "containers");
        if (json_object_array_length(containers) == 0)
                return api_error_set(err, -EINVAL, cpath, "must not be empty");
        for (size_t i = 0; i < json_object_array_length(containers); i++) {
                char one[API_FIELD_MAX];
                struct json_object *c = json_object_array_get_idx(containers, i);
                struct resources res;
                api_path_index(one, cpath, i);
                if (!json_object_is_type(c, json_type_object))
                        return api_error_set(err, -EINVAL, one, "must be an object");
                if ((r = read_resources(c, one, &res, err)) < 0)
                        return r;
                if (extra && extra->n_containers < K8S_META_CONTAINERS_MAX) {
                        struct k8s_container_meta *m = &extra->containers[extra->n_containers];
                        const char *cname = NULL;
                        if ((r = api_get_string(c, one, "name", false, false, &cname, err)) < 0)
                                return r;
                        snprintf(m->name, sizeof(m->name), "%s", cname ? cname : "");
                        m->request_bytes = res.has_mem_req ? res.mem_req : 0;
                        m->limit_bytes = res.has_mem_lim ? res.mem_lim : API_UNLIMITED;
                        extra->n_containers++;
                }
                qos_account(&qa, &res);
                app_req = sat_add(app_req, res.mem_req);
                if (res.has_mem_lim)
                        app_lim = sat_add(app_lim, res.mem_lim);
                else
                        unlimited = true;
        }
        api_path(ipath, spath, "initContainers");
        for (size_t i = 0; inits && i < json_object_array_length(inits); i++) {
                char one[API_FIELD_MAX];
                struct json_object *c = json_object_array_get_idx(inits, i);
                const char *policy = NULL;
                struct resources res;
                api_path_index(one, ipath, i);
                if (!json_object_is_type(c, json_type_object))
                        return api_error_set(err, -EINVAL, one, "must be an object");
                if ((r = read_resources(c, one, &res, err)) < 0 ||
                    (r = api_get_string(c, one, "restartPolicy", false, false, &policy, err)) < 0)
                        return r;
                qos_account(&qa, &res);
                if (policy && strcmp(policy, "Always") == 0) {
                        sidecar_req = sat_add(sidecar_req, res.mem_req);
                        if (res.has_mem_lim)
                                app_lim = sat_add(app_lim, res.mem_lim);
                        else
                                unlimited = true;
                        if (sidecar_req > init_peak)
                                init_peak = sidecar_req;
                } else if (sat_add(sidecar_req, res.mem_req) > init_peak)
                        init_peak = sat_add(sidecar_req, res.mem_req);
        }
        uint64_t req = sat_add(app_req, sidecar_req);
        if (init_peak > req)
                req = init_peak;
        if (overhead) {
                char opath[API_FIELD_MAX];
                uint64_t oh = 0;
                bool has = false;
                api_path(opath, spath, "overhead");
                if ((r = read_quantity(overhead, opath, "memory", false, &has, &oh, err)) < 0)
                        return r;
                req = sat_add(req, oh);
                app_lim = sat_add(app_lim, oh);
        }
        p.request_bytes = req;
        p.limit_bytes = unlimited ? API_UNLIMITED : app_lim;

        p.qos = !qa.any_set ? QOS_BESTEFFORT : (qa.all_guaranteed ? QOS_GUARANTEED : QOS_BURSTABLE);
        if (status) {
                char stpath[API_FIELD_MAX];
                int q;
                api_path(stpath, path, "status");
                r = api_get_enum(status, stpath, "qosClass", false, qos_from_string, &q, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        p.qos = (enum qos_class)q;
        }
        if (p.qos == QOS_GUARANTEED)
                p.single_numa = true;
        *ret = p;
        return 0;
}

int k8s_pod_decode(const struct json_object *o, const char *path, struct k8s_pod *ret,
                   struct api_error *err)
{
        return pod_decode(o, path, ret, NULL, err);
}

/* Copies src into a fixed field; -ERANGE naming the field when it does not fit. */
static int copy_field(char *dst, size_t size, const char *src, const char *parent, const char *key,
                      struct api_error *err)
{
        char field[API_FIELD_MAX];
        size_t n = src ? strlen(src) : 0;
        if (n >= size)
                return api_error_set(err, -ERANGE, api_path(field, parent, key),
                                     "longer than %zu characters", size - 1);
        memcpy(dst, src ? src : "", n + 1);
        return 0;
}

/* status.containerStatuses: which running container (its id, as in its cgroup's name) is which
 * container of the spec, so that a limit change of a container cgroup can name the container. */
static int read_container_ids(const struct json_object *status, const char *stpath,
                              struct k8s_pod_meta *m, struct api_error *err)
{
        char cpath[API_FIELD_MAX], one[API_FIELD_MAX];
        struct json_object *sts = NULL;
        int r;

        if ((r = api_get_array(status, stpath, "containerStatuses", false, false, &sts, err)) <= 0)
                return r;
        api_path(cpath, stpath, "containerStatuses");
        for (size_t i = 0; i < json_object_array_length(sts); i++) {
                struct json_object *c = json_object_array_get_idx(sts, i);
                const char *name = NULL, *id = NULL;
                api_path_index(one, cpath, i);
                if (!json_object_is_type(c, json_type_object))
                        return api_error_set(err, -EINVAL, one, "must be an object");
                if ((r = api_get_string(c, one, "name", true, false, &name, err)) < 0 ||
                    (r = api_get_string(c, one, "containerID", false, false, &id, err)) < 0)
                        return r;
                if (!id || !*id)
                        continue;
                const char *sep = strstr(id, "://");
                id = sep ? sep + 3 : id;
                for (size_t j = 0; j < m->n_containers; j++)
                        if (streq(m->containers[j].name, name))
                                snprintf(m->containers[j].container_id,
                                         sizeof(m->containers[j].container_id), "%s", id);
        }
        return 0;
}

/* status.conditions: the in-place resize's PodResizePending (reason Deferred or Infeasible) and
 * PodResizeInProgress (Kubernetes 1.33+). Pending wins: the kubelet has not started it. */
static int read_resize(const struct json_object *status, const char *stpath, struct k8s_pod_meta *m,
                       struct api_error *err)
{
        char cpath[API_FIELD_MAX], one[API_FIELD_MAX];
        struct json_object *conds = NULL;
        int r;

        if ((r = api_get_array(status, stpath, "conditions", false, false, &conds, err)) <= 0)
                return r;
        api_path(cpath, stpath, "conditions");
        for (size_t i = 0; i < json_object_array_length(conds); i++) {
                struct json_object *c = json_object_array_get_idx(conds, i);
                const char *type = NULL, *st = NULL, *reason = NULL, *msg = NULL;
                enum k8s_resize_state state;
                api_path_index(one, cpath, i);
                if (!json_object_is_type(c, json_type_object))
                        return api_error_set(err, -EINVAL, one, "must be an object");
                if ((r = api_get_string(c, one, "type", true, false, &type, err)) < 0 ||
                    (r = api_get_string(c, one, "status", false, false, &st, err)) < 0 ||
                    (r = api_get_string(c, one, "reason", false, false, &reason, err)) < 0 ||
                    (r = api_get_string(c, one, "message", false, false, &msg, err)) < 0)
                        return r;
                if (st && !streq(st, "True"))
                        continue;
                if (streq(type, "PodResizePending"))
                        state = reason && streq(reason, "Infeasible") ? K8S_RESIZE_INFEASIBLE
                                                                      : K8S_RESIZE_DEFERRED;
                else if (streq(type, "PodResizeInProgress"))
                        state = K8S_RESIZE_IN_PROGRESS;
                else
                        continue;
                if (m->resize != K8S_RESIZE_NONE && state == K8S_RESIZE_IN_PROGRESS)
                        continue;
                m->resize = state;
                snprintf(m->resize_message, sizeof(m->resize_message), "%s", msg ? msg : "");
        }
        return 0;
}

int k8s_pod_meta_decode(const struct json_object *o, const char *path, struct k8s_pod_meta *ret,
                        struct api_error *err)
{
        char mpath[API_FIELD_MAX], spath[API_FIELD_MAX], stpath[API_FIELD_MAX],
            apath[API_FIELD_MAX];
        struct k8s_pod p;
        struct pod_extra *x = calloc(1, sizeof(*x));
        struct k8s_pod_meta *m = calloc(1, sizeof(*m));
        struct json_object *meta = NULL, *spec = NULL, *status = NULL, *ann = NULL;
        const char *node = NULL, *phase = NULL, *prot = NULL, *avoid = NULL, *mirror = NULL,
                   *source = NULL, *deleting = NULL;
        int r;

        if (!x || !m) {
                r = -ENOMEM;
                goto out;
        }
        if ((r = pod_decode(o, path, &p, x, err)) < 0)
                goto out;
        api_path(mpath, path, "metadata");
        api_path(spath, path, "spec");
        api_path(stpath, path, "status");
        api_path(apath, mpath, "annotations");
        /* pod_decode() checked the types of metadata, spec, status and annotations. */
        (void)api_get_object(o, path, "metadata", false, false, &meta, err);
        (void)api_get_object(o, path, "spec", false, false, &spec, err);
        (void)api_get_object(o, path, "status", false, false, &status, err);
        (void)api_get_object(meta, mpath, "annotations", false, false, &ann, err);
        if ((r = api_get_string(spec, spath, "nodeName", false, false, &node, err)) < 0 ||
            (r = api_get_string(meta, mpath, "deletionTimestamp", false, false, &deleting, err)) <
                0 ||
            (status &&
             (r = api_get_string(status, stpath, "phase", false, false, &phase, err)) < 0) ||
            (ann &&
             ((r = api_get_string(ann, apath, K8S_ANNOTATION_PROTECT, false, false, &prot, err)) <
                  0 ||
              (r = api_get_string(ann, apath, K8S_ANNOTATION_AVOID, false, false, &avoid, err)) <
                  0 ||
              (r = api_get_string(ann, apath, K8S_ANNOTATION_MIRROR, false, false, &mirror, err)) <
                  0 ||
              (r = api_get_string(ann, apath, K8S_ANNOTATION_SOURCE, false, false, &source, err)) <
                  0)))
                goto out;
        if ((r = copy_field(m->uid, sizeof(m->uid), p.uid, mpath, "uid", err)) < 0 ||
            (r = copy_field(m->namespace_, sizeof(m->namespace_), p.namespace, mpath, "namespace",
                            err)) < 0 ||
            (r = copy_field(m->name, sizeof(m->name), p.name, mpath, "name", err)) < 0 ||
            (r = copy_field(m->node_name, sizeof(m->node_name), node, spath, "nodeName", err)) <
                0 ||
            (r = copy_field(m->phase, sizeof(m->phase), phase, stpath, "phase", err)) < 0)
                goto out;
        snprintf(m->owner_kind, sizeof(m->owner_kind), "%s", x->owner_kind ? x->owner_kind : "");
        m->priority = p.priority;
        m->qos = p.qos;
        m->terminating = deleting && *deleting;
        m->protect = prot && streq(prot, "true");
        m->avoid = avoid && streq(avoid, "true");
        m->mirror = mirror != NULL;
        m->static_ = source && !streq(source, "api");
        m->node_critical =
            m->mirror || m->static_ || p.priority >= K8S_SYSTEM_NODE_CRITICAL_PRIORITY;
        m->request_bytes = p.request_bytes;
        m->limit_bytes = p.limit_bytes;
        m->n_containers = x->n_containers;
        memcpy(m->containers, x->containers, sizeof(m->containers));
        if (status && ((r = read_resize(status, stpath, m, err)) < 0 ||
                       (r = read_container_ids(status, stpath, m, err)) < 0))
                goto out;
        *ret = *m;
        r = 0;
out:
        free(x);
        free(m);
        return r;
}

static const char *k8s_qos_name(enum qos_class q)
{
        switch (q) {
        case QOS_GUARANTEED:
                return "Guaranteed";
        case QOS_BURSTABLE:
                return "Burstable";
        case QOS_BESTEFFORT:
                return "BestEffort";
        default:
                return NULL;
        }
}

struct json_object *k8s_pod_encode(const struct k8s_pod *p)
{
        struct json_object *pod = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *spec = json_object_new_object();
        struct json_object *ctr = json_object_new_object();
        struct json_object *res = json_object_new_object();
        struct json_object *req = json_object_new_object();
        struct json_object *lim = json_object_new_object();
        struct json_object *ann = json_object_new_object();
        struct json_object *ctrs = json_object_new_array();
        char buf[32];

        if (!pod || !meta || !spec || !ctr || !res || !req || !lim || !ann || !ctrs) {
                json_object_put(pod);
                json_object_put(meta);
                json_object_put(spec);
                json_object_put(ctr);
                json_object_put(res);
                json_object_put(req);
                json_object_put(lim);
                json_object_put(ann);
                json_object_put(ctrs);
                return NULL;
        }
        api_add(meta, "name", json_object_new_string(p->name ? p->name : ""));
        api_add(meta, "namespace", json_object_new_string(p->namespace ? p->namespace : "default"));
        if (p->uid && *p->uid)
                api_add(meta, "uid", json_object_new_string(p->uid));
        if (p->single_numa && p->qos != QOS_GUARANTEED)
                api_add(ann, K8S_ANNOTATION_NUMA, json_object_new_string(K8S_NUMA_SINGLE_ZONE));
        if (p->protected_)
                api_add(ann, K8S_ANNOTATION_PROTECTED, json_object_new_string("true"));
        api_add(meta, "annotations", ann);
        if (p->owner_uid && *p->owner_uid) {
                struct json_object *owners = json_object_new_array();
                struct json_object *ow = json_object_new_object();
                api_add(ow, "apiVersion", json_object_new_string("apps/v1"));
                api_add(ow, "kind", json_object_new_string("ReplicaSet"));
                api_add(ow, "name", json_object_new_string("owner"));
                api_add(ow, "uid", json_object_new_string(p->owner_uid));
                api_add(ow, "controller", json_object_new_boolean(true));
                json_object_array_add(owners, ow);
                api_add(meta, "ownerReferences", owners);
        }
        api_add(pod, "metadata", meta);

        if (p->request_bytes) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long)p->request_bytes);
                api_add(req, "memory", json_object_new_string(buf));
        }
        if (p->limit_bytes != API_UNLIMITED) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long)p->limit_bytes);
                api_add(lim, "memory", json_object_new_string(buf));
        }
        api_add(res, "requests", req);
        api_add(res, "limits", lim);
        api_add(ctr, "name", json_object_new_string("main"));
        api_add(ctr, "image", json_object_new_string("registry.k8s.io/pause:3.9"));
        api_add(ctr, "resources", res);
        json_object_array_add(ctrs, ctr);
        api_add(spec, "containers", ctrs);
        if (p->priority)
                api_add(spec, "priority", json_object_new_int(p->priority));
        api_add(pod, "spec", spec);
        const char *q = k8s_qos_name(p->qos);
        if (q) {
                struct json_object *st = json_object_new_object();
                api_add(st, "phase", json_object_new_string("Pending"));
                api_add(st, "qosClass", json_object_new_string(q));
                api_add(pod, "status", st);
        }
        return pod;
}
