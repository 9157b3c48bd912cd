// SPDX-License-Identifier: Apache-2.0
#include "api/kube/binding.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "common/macro.h"
#include "common/node-name.h"

int kube_binding_body(const char *namespace_, const char *name, const char *uid, const char *node,
                      char **ret)
{
        if (!namespace_ || !*namespace_ || !name || !*name || !node || !*node)
                return -EINVAL;
        struct json_object *o = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *target = json_object_new_object();
        if (!o || !meta || !target) {
                json_object_put(o);
                json_object_put(meta);
                json_object_put(target);
                return -ENOMEM;
        }
        api_add(o, "apiVersion", json_object_new_string("v1"));
        api_add(o, "kind", json_object_new_string("Binding"));
        api_add(meta, "name", json_object_new_string(name));
        api_add(meta, "namespace", json_object_new_string(namespace_));
        if (uid && *uid)
                api_add(meta, "uid", json_object_new_string(uid));
        api_add(o, "metadata", meta);
        api_add(target, "apiVersion", json_object_new_string("v1"));
        api_add(target, "kind", json_object_new_string("Node"));
        api_add(target, "name", json_object_new_string(node));
        api_add(o, "target", target);
        char *s = api_to_string(o, NULL);
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int kube_bind(struct kube_client *c, const char *namespace_, const char *name, const char *uid,
              const char *node, kube_done_fn done, void *userdata)
{
        _cleanup_free_ char *body = NULL, *path = NULL;
        /* Namespaces and pod names are RFC 1123 names: safe in a URL path as they are. */
        if (!namespace_ || !name || !node_name_is_valid(namespace_, strlen(namespace_)) ||
            !node_name_is_valid(name, strlen(name)))
                return -EINVAL;
        int r = kube_binding_body(namespace_, name, uid, node, &body);
        if (r < 0)
                return r;
        if (asprintf(&path, "/api/v1/namespaces/%s/pods/%s/binding", namespace_, name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        return kube_client_request(c, "POST", path, "application/json", body, done, userdata);
}
