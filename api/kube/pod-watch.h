// SPDX-License-Identifier: Apache-2.0
// The informer of this node's pods: LIST /api/v1/pods?fieldSelector=spec.nodeName=NODE, then
// WATCH from the list's resourceVersion with bookmarks, keeping a table of struct k8s_pod_meta by
// uid. The reflector itself (relist on 410, bookmarks, backoff) is api/kube/informer.c; this is
// memagentd's view of it, typed for pods.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/k8s_pod.h"
#include "api/kube/client.h"
#include "api/kube/informer.h"

struct kube_pod_watch;

/* A pod appeared (old NULL), changed, or went away (new NULL). Both are borrowed for the call.
 * Both NULL: a LIST completed, the table holds every pod of the node. */
typedef void (*kube_pod_change_fn)(struct kube_pod_watch *w, const struct k8s_pod_meta *old,
                                   const struct k8s_pod_meta *new_, void *userdata);

#define kube_pod_watch_stats kube_informer_stats

/* The informer's type for struct k8s_pod_meta keyed by uid (memschedd's pods are shaped
 * differently, see scheduler/kube.c). */
extern const struct kube_informer_type kube_pod_meta_type;

/* Starts listing and watching node_name's pods on c's loop. on_change (may be NULL) hears every
 * change of the table. Returns 0, -EINVAL (not a node name) or -ENOMEM. */
int kube_pod_watch_start(struct kube_client *c, const char *node_name, kube_pod_change_fn on_change,
                         void *userdata, struct kube_pod_watch **ret);
/* Stops the LIST or WATCH in flight and frees w; free it before its client. NULL-safe. */
struct kube_pod_watch *kube_pod_watch_free(struct kube_pod_watch *w);

/* True once the first LIST is in: the table then holds every pod of the node. */
bool kube_pod_watch_synced(const struct kube_pod_watch *w);
/* The pod with this uid, or NULL; valid until the loop runs again. */
const struct k8s_pod_meta *kube_pod_watch_find(const struct kube_pod_watch *w, const char *uid);
/* Iteration: pods 0 .. count-1, in uid order; valid until the loop runs again. */
size_t kube_pod_watch_count(const struct kube_pod_watch *w);
const struct k8s_pod_meta *kube_pod_watch_get(const struct kube_pod_watch *w, size_t i);
/* The last resourceVersion seen ("" before the first LIST). */
const char *kube_pod_watch_resource_version(const struct kube_pod_watch *w);
void kube_pod_watch_get_stats(const struct kube_pod_watch *w, struct kube_pod_watch_stats *ret);
/* The last failure, for status output ("" when none). */
const char *kube_pod_watch_last_error(const struct kube_pod_watch *w);
