// SPDX-License-Identifier: Apache-2.0
// ExtenderBindingArgs and ExtenderBindingResult: the bind verb's request and answer.
#include "api/extender.h"

void extender_binding_args_done(struct extender_binding_args *a)
{
        if (a && a->root)
                json_object_put(a->root);
        if (a)
                *a = (struct extender_binding_args){};
}

int extender_binding_args_decode(struct json_object *root, struct extender_binding_args *ret,
                                 struct api_error *err)
{
        struct extender_binding_args a = { .pod_namespace = "default", .pod_uid = "" };
        int r;

        if (!json_object_is_type(root, json_type_object))
                return api_error_set(err, -EINVAL, "",
                                     "body must be a JSON object (ExtenderBindingArgs)");
        if ((r = api_get_string(root, "", "PodName", true, true, &a.pod_name, err)) < 0 ||
            (r = api_get_string(root, "", "PodNamespace", false, true, &a.pod_namespace, err)) <
                0 ||
            (r = api_get_string(root, "", "PodUID", false, true, &a.pod_uid, err)) < 0 ||
            (r = api_get_string(root, "", "Node", true, true, &a.node, err)) < 0)
                return r;
        if (!*a.pod_namespace)
                a.pod_namespace = "default";
        a.root = json_object_get(root);
        *ret = a;
        return 0;
}

struct json_object *extender_binding_args_encode(const struct extender_binding_args *a)
{
        struct json_object *o = json_object_new_object();
        api_add(o, "PodName", json_object_new_string(a->pod_name));
        api_add(o, "PodNamespace", json_object_new_string(a->pod_namespace));
        api_add(o, "PodUID", json_object_new_string(a->pod_uid));
        api_add(o, "Node", json_object_new_string(a->node));
        return o;
}

struct json_object *extender_binding_result_encode(const char *error)
{
        struct json_object *o = json_object_new_object();
        api_add(o, "Error", json_object_new_string(error ? error : ""));
        return o;
}

int extender_binding_result_decode(const struct json_object *root, const char **ret,
                                   struct api_error *err)
{
        const char *e = "";
        if (!json_object_is_type(root, json_type_object))
                return api_error_set(err, -EINVAL, "",
                                     "must be a JSON object (ExtenderBindingResult)");
        int r = api_get_string(root, "", "Error", false, true, &e, err);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}
