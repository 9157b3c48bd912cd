// SPDX-License-Identifier: Apache-2.0
// ExtenderArgs: the body kube-scheduler POSTs to the filter and prioritize verbs.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/extender.h"

void extender_args_done(struct extender_args *a)
{
        if (!a)
                return;
        free(a->node_names);
        free(a->nodes);
        if (a->root)
                json_object_put(a->root);
        *a = (struct extender_args){};
}

int extender_args_decode(struct json_object *root, struct extender_args *ret, struct api_error *err)
{
        struct extender_args a = {};
        struct json_object *pod = NULL, *names = NULL, *list = NULL, *items = NULL;
        char field[API_FIELD_MAX];
        int r;

        if (!json_object_is_type(root, json_type_object))
                return api_error_set(err, -EINVAL, "", "body must be a JSON object (ExtenderArgs)");
        if ((r = api_get_object(root, "", "Pod", true, true, &pod, err)) < 0 ||
            (r = api_get_array(root, "", "NodeNames", false, true, &names, err)) < 0 ||
            (r = api_get_object(root, "", "Nodes", false, true, &list, err)) < 0)
                return r;
        r = k8s_pod_decode(pod, "Pod", &a.pod, err);
        if (r < 0)
                return r;

        if (names) {
                a.node_cache_capable = true;
                a.n_nodes = json_object_array_length(names);
                a.node_names = calloc(a.n_nodes ? a.n_nodes : 1, sizeof(*a.node_names));
                if (!a.node_names)
                        return -ENOMEM;
                for (size_t i = 0; i < a.n_nodes; i++) {
                        struct json_object *v = json_object_array_get_idx(names, i);
                        if (!json_object_is_type(v, json_type_string) ||
                            json_object_get_string_len(v) == 0) {
                                free(a.node_names);
                                return api_error_set(err, -EINVAL,
                                                     api_path_index(field, "NodeNames", i),
                                                     "must be a non-empty string");
                        }
                        a.node_names[i] = json_object_get_string(v);
                }
        } else if (list) {
                r = api_get_array(list, "Nodes", "items", false, true, &items, err);
                if (r < 0)
                        return r;
                a.n_nodes = items ? json_object_array_length(items) : 0;
                a.node_names = calloc(a.n_nodes ? a.n_nodes : 1, sizeof(*a.node_names));
                a.nodes = calloc(a.n_nodes ? a.n_nodes : 1, sizeof(*a.nodes));
                if (!a.node_names || !a.nodes) {
                        free(a.node_names);
                        free(a.nodes);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < a.n_nodes; i++) {
                        char ipath[API_FIELD_MAX], mpath[API_FIELD_MAX];
                        struct json_object *n = json_object_array_get_idx(items, i);
                        struct json_object *meta = NULL;
                        api_path_index(ipath, "Nodes.items", i);
                        api_path(mpath, ipath, "metadata");
                        r = json_object_is_type(n, json_type_object)
                                ? 0
                                : api_error_set(err, -EINVAL, ipath, "must be an object");
                        if (r >= 0)
                                r = api_get_object(n, ipath, "metadata", true, false, &meta, err);
                        if (r >= 0)
                                r = api_get_string(meta, mpath, "name", true, false,
                                                   &a.node_names[i], err);
                        if (r < 0) {
                                free(a.node_names);
                                free(a.nodes);
                                return r;
                        }
                        a.nodes[i] = n;
                }
        } else
                return api_error_set(err, -EINVAL, "NodeNames",
                                     "either NodeNames or Nodes is required");

        a.root = json_object_get(root);
        *ret = a;
        return 0;
}

struct json_object *extender_args_encode(const struct k8s_pod *pod, const char *const *names,
                                         size_t n, bool node_cache_capable)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        api_add(o, "Pod", k8s_pod_encode(pod));
        if (node_cache_capable) {
                struct json_object *a = json_object_new_array_ext((int)n);
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, json_object_new_string(names[i]));
                api_add(o, "Nodes", NULL);
                api_add(o, "NodeNames", a);
        } else {
                struct json_object *list = json_object_new_object();
                struct json_object *items = json_object_new_array_ext((int)n);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *node = json_object_new_object();
                        struct json_object *meta = json_object_new_object();
                        struct json_object *labels = json_object_new_object();
                        api_add(labels, "kubernetes.io/hostname", json_object_new_string(names[i]));
                        api_add(meta, "name", json_object_new_string(names[i]));
                        api_add(meta, "labels", labels);
                        api_add(node, "metadata", meta);
                        api_add(node, "spec", json_object_new_object());
                        api_add(node, "status", json_object_new_object());
                        json_object_array_add(items, node);
                }
                api_add(list, "metadata", json_object_new_object());
                api_add(list, "items", items);
                api_add(o, "Nodes", list);
                api_add(o, "NodeNames", NULL);
        }
        return o;
}
