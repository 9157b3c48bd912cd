// SPDX-License-Identifier: Apache-2.0
#include "api/kube/pod-watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/node-name.h"

static int decode_pod_meta(const struct json_object *o, const char *path, void *ret,
                           struct api_error *err)
{
        return k8s_pod_meta_decode(o, path, ret, err);
}

const struct kube_informer_type kube_pod_meta_type = {
        .noun = "pods",
        .list_kind = "PodList",
        .key_field = "uid",
        .object_size = sizeof(struct k8s_pod_meta),
        .key_offset = offsetof(struct k8s_pod_meta, uid),
        .decode = decode_pod_meta,
};

struct kube_pod_watch {
        struct kube_informer *inf;
        kube_pod_change_fn on_change;
        void *userdata;
};

static void forward_change(struct kube_informer *inf, const void *old, const void *new_,
                           void *userdata)
{
        struct kube_pod_watch *w = userdata;
        (void)inf;
        if (w->on_change)
                w->on_change(w, old, new_, w->userdata);
}

int kube_pod_watch_start(struct kube_client *c, const char *node_name, kube_pod_change_fn on_change,
                         void *userdata, struct kube_pod_watch **ret)
{
        char path[K8S_NAME_MAX + 64], what[K8S_NAME_MAX + 32];
        if (!c || !node_name || !node_name_is_valid(node_name, strlen(node_name)))
                return -EINVAL;
        struct kube_pod_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->on_change = on_change;
        w->userdata = userdata;
        /* fieldSelector=spec.nodeName=NODE, its "=" escaped; node names need no other escape. */
        snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", node_name);
        snprintf(what, sizeof(what), "pods of node %s", node_name);
        int r = kube_informer_start(c, &kube_pod_meta_type, path, what, forward_change, w, &w->inf);
        if (r < 0) {
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

struct kube_pod_watch *kube_pod_watch_free(struct kube_pod_watch *w)
{
        if (!w)
                return NULL;
        kube_informer_free(w->inf);
        free(w);
        return NULL;
}

bool kube_pod_watch_synced(const struct kube_pod_watch *w)
{
        return w && kube_informer_synced(w->inf);
}

const struct k8s_pod_meta *kube_pod_watch_find(const struct kube_pod_watch *w, const char *uid)
{
        return w ? kube_informer_find(w->inf, uid) : NULL;
}

size_t kube_pod_watch_count(const struct kube_pod_watch *w)
{
        return w ? kube_informer_count(w->inf) : 0;
}

const struct k8s_pod_meta *kube_pod_watch_get(const struct kube_pod_watch *w, size_t i)
{
        return w ? kube_informer_get(w->inf, i) : NULL;
}

const char *kube_pod_watch_resource_version(const struct kube_pod_watch *w)
{
        return w ? kube_informer_resource_version(w->inf) : "";
}

void kube_pod_watch_get_stats(const struct kube_pod_watch *w, struct kube_pod_watch_stats *ret)
{
        kube_informer_get_stats(w->inf, ret);
}

const char *kube_pod_watch_last_error(const struct kube_pod_watch *w)
{
        return kube_informer_last_error(w->inf);
}
