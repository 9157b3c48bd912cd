// SPDX-License-Identifier: Apache-2.0
#include "api/kube/objects.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"

/* Copies s into buf, or fails naming field when it does not fit (a key or name longer than
 * Kubernetes allows is not something to cut silently). */
static int copy_str(char *buf, size_t size, const char *s, const char *field, struct api_error *err)
{
        size_t n = s ? strlen(s) : 0;
        if (n >= size)
                return api_error_set(err, -ERANGE, field, "longer than %zu characters", size - 1);
        memcpy(buf, s ? s : "", n + 1);
        return 0;
}

static int effect_from_string(const char *s)
{
        if (streq(s, "NoSchedule"))
                return KUBE_TAINT_NO_SCHEDULE;
        if (streq(s, "NoExecute"))
                return KUBE_TAINT_NO_EXECUTE;
        return -1;
}

static int decode_taints(const struct json_object *spec, const char *path,
                         struct kube_node_info *ret, struct api_error *err)
{
        struct json_object *taints = NULL;
        char p[API_FIELD_MAX], f[API_FIELD_MAX];
        int r = api_get_array(spec, path, "taints", false, false, &taints, err);
        if (r < 0)
                return r;
        api_path(p, path, "taints");
        size_t n = taints ? json_object_array_length(taints) : 0;
        for (size_t i = 0; i < n; i++) {
                const struct json_object *t = json_object_array_get_idx(taints, i);
                const char *key = NULL, *value = NULL, *effect = NULL;
                api_path_index(f, p, i);
                if ((r = api_get_string(t, f, "key", true, false, &key, err)) < 0 ||
                    (r = api_get_string(t, f, "value", false, false, &value, err)) < 0 ||
                    (r = api_get_string(t, f, "effect", true, false, &effect, err)) < 0)
                        return r;
                int e = effect_from_string(effect);
                if (e < 0)
                        continue; /* PreferNoSchedule: a preference, not a rule */
                if (ret->n_taints == KUBE_TAINTS_MAX)
                        return api_error_set(err, -ERANGE, p,
                                             "more than %d NoSchedule/NoExecute "
                                             "taints",
                                             KUBE_TAINTS_MAX);
                struct kube_taint *k = &ret->taints[ret->n_taints];
                char kf[API_FIELD_MAX];
                if ((r = copy_str(k->key, sizeof(k->key), key, api_path(kf, f, "key"), err)) < 0 ||
                    (r = copy_str(k->value, sizeof(k->value), value, api_path(kf, f, "value"),
                                  err)) < 0)
                        return r;
                k->effect = (enum kube_taint_effect)e;
                ret->n_taints++;
        }
        return 0;
}

int kube_node_info_decode(const struct json_object *o, const char *path, struct kube_node_info *ret,
                          struct api_error *err)
{
        struct kube_node_info n;
        struct json_object *meta = NULL, *spec = NULL, *status = NULL, *alloc = NULL, *conds = NULL,
                           *labels = NULL, *mem = NULL;
        const char *name = NULL, *uid = NULL;
        char p[API_FIELD_MAX], f[API_FIELD_MAX];
        bool unsched = false;
        int r;

        memset(&n, 0, sizeof(n));
        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "not an object");
        if ((r = api_get_object(o, path, "metadata", true, false, &meta, err)) < 0 ||
            (r = api_get_string(meta, api_path(p, path, "metadata"), "name", true, false, &name,
                                err)) < 0 ||
            (r = api_get_string(meta, p, "uid", false, false, &uid, err)) < 0 ||
            (r = api_get_object(meta, p, "labels", false, false, &labels, err)) < 0 ||
            (r = copy_str(n.name, sizeof(n.name), name, api_path(f, p, "name"), err)) < 0 ||
            (r = copy_str(n.uid, sizeof(n.uid), uid, api_path(f, p, "uid"), err)) < 0)
                return r;
        if (labels) {
                /* json-c keeps insertion order; the apiserver writes labels sorted by key. */
                json_object_object_foreach(labels, k, v)
                {
                        const char *value = NULL;
                        if (n.n_labels == KUBE_LABELS_MAX)
                                break;
                        char lp[API_FIELD_MAX];
                        api_path(lp, p, "labels");
                        if ((r = api_string_value(v, api_path(f, lp, k), &value, err)) < 0)
                                return r;
                        if (strlen(k) >= KUBE_LABEL_KEY_MAX ||
                            strlen(value) >= KUBE_LABEL_VALUE_MAX)
                                continue;
                        strcpy(n.labels[n.n_labels].key, k);
                        strcpy(n.labels[n.n_labels].value, value);
                        n.n_labels++;
                }
        }
        if ((r = api_get_object(o, path, "spec", false, false, &spec, err)) < 0 ||
            (r = api_get_object(o, path, "status", false, false, &status, err)) < 0)
                return r;
        if (spec) {
                api_path(p, path, "spec");
                if ((r = api_get_bool(spec, p, "unschedulable", false, &unsched, err)) < 0 ||
                    (r = decode_taints(spec, p, &n, err)) < 0)
                        return r;
                n.unschedulable = unsched;
        }
        if (status) {
                api_path(p, path, "status");
                if ((r = api_get_object(status, p, "allocatable", false, false, &alloc, err)) < 0 ||
                    (r = api_get_array(status, p, "conditions", false, false, &conds, err)) < 0)
                        return r;
                mem = alloc ? api_lookup(alloc, "memory", false) : NULL;
                if (mem && (r = api_quantity_bytes(mem, api_path(f, p, "allocatable.memory"),
                                                   &n.allocatable_bytes, err)) < 0)
                        return r;
                api_path(f, p, "conditions");
                size_t nc = conds ? json_object_array_length(conds) : 0;
                for (size_t i = 0; i < nc; i++) {
                        const struct json_object *c = json_object_array_get_idx(conds, i);
                        const char *type = NULL, *st = NULL;
                        char cf[API_FIELD_MAX];
                        api_path_index(cf, f, i);
                        if ((r = api_get_string(c, cf, "type", true, false, &type, err)) < 0 ||
                            (r = api_get_string(c, cf, "status", true, false, &st, err)) < 0)
                                return r;
                        if (streq(type, "Ready"))
                                n.ready = streq(st, "True");
                }
        }
        *ret = n;
        return 0;
}

int kube_pod_brief_decode(const struct json_object *o, const char *path, struct kube_pod_brief *ret,
                          struct api_error *err)
{
        struct kube_pod_brief b;
        struct k8s_pod pod;
        struct json_object *meta = NULL, *spec = NULL, *status = NULL, *owners = NULL;
        const char *node = NULL, *phase = NULL, *deletion = NULL;
        char p[API_FIELD_MAX];
        int r;

        memset(&b, 0, sizeof(b));
        if ((r = k8s_pod_decode(o, path, &pod, err)) < 0)
                return r;
        if ((r = api_get_object(o, path, "metadata", true, false, &meta, err)) < 0 ||
            (r = api_get_string(meta, api_path(p, path, "metadata"), "deletionTimestamp", false,
                                false, &deletion, err)) < 0 ||
            (r = api_get_array(meta, p, "ownerReferences", false, false, &owners, err)) < 0 ||
            (r = api_get_object(o, path, "spec", false, false, &spec, err)) < 0 ||
            (r = api_get_object(o, path, "status", false, false, &status, err)) < 0)
                return r;
        if (spec && (r = api_get_string(spec, api_path(p, path, "spec"), "nodeName", false, false,
                                        &node, err)) < 0)
                return r;
        if (status && (r = api_get_string(status, api_path(p, path, "status"), "phase", false,
                                          false, &phase, err)) < 0)
                return r;
        for (size_t i = 0; owners && i < json_object_array_length(owners); i++) {
                const struct json_object *ow = json_object_array_get_idx(owners, i);
                bool controller = false;
                const char *kind = NULL;
                char f[API_FIELD_MAX];
                api_path_index(f, "metadata.ownerReferences", i);
                if ((r = api_get_bool(ow, f, "controller", false, &controller, err)) < 0 ||
                    (r = api_get_string(ow, f, "kind", false, false, &kind, err)) < 0)
                        return r;
                if (controller && kind && strlen(kind) < sizeof(b.owner_kind))
                        strcpy(b.owner_kind, kind);
        }
        if ((r = copy_str(b.uid, sizeof(b.uid), pod.uid, "metadata.uid", err)) < 0 ||
            (r = copy_str(b.namespace_, sizeof(b.namespace_), pod.namespace, "metadata.namespace",
                          err)) < 0 ||
            (r = copy_str(b.name, sizeof(b.name), pod.name, "metadata.name", err)) < 0 ||
            (r = copy_str(b.node_name, sizeof(b.node_name), node, "spec.nodeName", err)) < 0 ||
            (r = copy_str(b.phase, sizeof(b.phase), phase, "status.phase", err)) < 0 ||
            (r = copy_str(b.owner_uid, sizeof(b.owner_uid), pod.owner_uid,
                          "metadata.ownerReferences.uid", err)) < 0)
                return r;
        if (!b.uid[0])
                return api_error_set(err, -EINVAL, "metadata.uid", "a stored pod has a uid");
        b.request_bytes = pod.request_bytes;
        b.terminating = deletion && *deletion;
        *ret = b;
        return 0;
}

bool kube_pod_brief_holds_memory(const struct kube_pod_brief *p)
{
        return p->node_name[0] && !streq(p->phase, "Succeeded") && !streq(p->phase, "Failed");
}

static int decode_node_cb(const struct json_object *o, const char *path, void *ret,
                          struct api_error *err)
{
        return kube_node_info_decode(o, path, ret, err);
}

static int decode_pod_cb(const struct json_object *o, const char *path, void *ret,
                         struct api_error *err)
{
        return kube_pod_brief_decode(o, path, ret, err);
}

const struct kube_informer_type kube_node_info_type = {
        .noun = "nodes",
        .list_kind = "NodeList",
        .key_field = "name",
        .object_size = sizeof(struct kube_node_info),
        .key_offset = offsetof(struct kube_node_info, name),
        .decode = decode_node_cb,
};

const struct kube_informer_type kube_pod_brief_type = {
        .noun = "pods",
        .list_kind = "PodList",
        .key_field = "uid",
        .object_size = sizeof(struct kube_pod_brief),
        .key_offset = offsetof(struct kube_pod_brief, uid),
        .decode = decode_pod_cb,
};

int kube_tolerations_decode(const struct json_object *pod, const char *path,
                            struct kube_toleration *ret, size_t max, struct api_error *err)
{
        struct json_object *spec = NULL, *tols = NULL;
        char sp[API_FIELD_MAX], p[API_FIELD_MAX], f[API_FIELD_MAX], kf[API_FIELD_MAX];
        size_t kept = 0;
        int r;

        if ((r = api_get_object(pod, path, "spec", false, false, &spec, err)) < 0)
                return r;
        if (!spec)
                return 0;
        if ((r = api_get_array(spec, api_path(sp, path, "spec"), "tolerations", false, false, &tols,
                               err)) < 0 ||
            !tols)
                return r < 0 ? r : 0;
        api_path(p, sp, "tolerations");
        for (size_t i = 0; i < json_object_array_length(tols); i++) {
                const struct json_object *t = json_object_array_get_idx(tols, i);
                const char *key = NULL, *op = NULL, *value = NULL, *effect = NULL;
                struct kube_toleration k = { .effect = -1 };
                api_path_index(f, p, i);
                if ((r = api_get_string(t, f, "key", false, false, &key, err)) < 0 ||
                    (r = api_get_string(t, f, "operator", false, false, &op, err)) < 0 ||
                    (r = api_get_string(t, f, "value", false, false, &value, err)) < 0 ||
                    (r = api_get_string(t, f, "effect", false, false, &effect, err)) < 0)
                        return r;
                if (op && streq(op, "Exists"))
                        k.op = KUBE_TOLERATE_EXISTS;
                else if (op && *op && !streq(op, "Equal"))
                        return api_error_set(err, -EINVAL, api_path(kf, f, "operator"),
                                             "must be Equal or Exists, not %.32s", op);
                if (effect && *effect) {
                        k.effect = effect_from_string(effect);
                        if (k.effect < 0)
                                continue; /* PreferNoSchedule: nothing placement checks */
                }
                if ((r = copy_str(k.key, sizeof(k.key), key, api_path(kf, f, "key"), err)) < 0 ||
                    (r = copy_str(k.value, sizeof(k.value), value, api_path(kf, f, "value"), err)) <
                        0)
                        return r;
                if (kept < max)
                        ret[kept++] = k;
        }
        return (int)kept;
}

bool kube_taint_tolerated(const struct kube_taint *t, const struct kube_toleration *tolerations,
                          size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const struct kube_toleration *k = &tolerations[i];
                if (k->effect >= 0 && k->effect != (int)t->effect)
                        continue;
                /* An empty key with Exists tolerates everything (v1.Toleration.ToleratesTaint). */
                if (k->key[0] && !streq(k->key, t->key))
                        continue;
                if (k->op == KUBE_TOLERATE_EXISTS || streq(k->value, t->value))
                        return true;
        }
        return false;
}
