// SPDX-License-Identifier: Apache-2.0
// The informer of this node's pods: LIST /api/v1/pods?fieldSelector=spec.nodeName=NODE, then
// WATCH from the list's resourceVersion with bookmarks, keeping a table of struct k8s_pod_meta by
// uid. As client-go's reflector does:
//  - the watch is re-opened from the last resourceVersion when the server ends it (its
//    timeoutSeconds is drawn in [5, 10) min so that agents do not reconnect in step);
//  - BOOKMARK events only advance the resourceVersion;
//  - 410 Gone, as the answer or as an ERROR event whose Status reason is Expired or Gone
//    ("too old resource version"), means the version was compacted away: LIST again;
//  - other failures wait with backoff (0.5 s doubling to 30 s, +-20% jitter) and retry the same
//    step; resourceVersions are opaque strings, never compared.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/k8s_pod.h"
#include "api/kube/client.h"

#define KUBE_WATCH_BACKOFF_MIN_USEC 500000ull
#define KUBE_WATCH_BACKOFF_MAX_USEC (30ull * 1000000)
#define KUBE_WATCH_TIMEOUT_MIN_SEC  300

struct kube_pod_watch;

/* A pod appeared (old NULL), changed, or went away (new NULL). Both are borrowed for the call.
 * Both NULL: a LIST completed, the table holds every pod of the node. */
typedef void (*kube_pod_change_fn)(struct kube_pod_watch *w, const struct k8s_pod_meta *old,
                                   const struct k8s_pod_meta *new_, void *userdata);

struct kube_pod_watch_stats {
        uint64_t lists;   /* LISTs that succeeded */
        uint64_t watches; /* WATCHes opened */
        uint64_t relists; /* LISTs again because the resourceVersion expired (410) */
        uint64_t events;  /* ADDED, MODIFIED, DELETED and BOOKMARK events applied */
        uint64_t errors;  /* failed LISTs and WATCHes, undecodable events */
        uint64_t bookmarks;
};

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
/* Iteration: pods 0 .. count-1, in no particular order; valid until the loop runs again. */
size_t kube_pod_watch_count(const struct kube_pod_watch *w);
const struct k8s_pod_meta *kube_pod_watch_get(const struct kube_pod_watch *w, size_t i);
/* The last resourceVersion seen ("" before the first LIST). */
const char *kube_pod_watch_resource_version(const struct kube_pod_watch *w);
void kube_pod_watch_get_stats(const struct kube_pod_watch *w, struct kube_pod_watch_stats *ret);
/* The last failure, for status output ("" when none). */
const char *kube_pod_watch_last_error(const struct kube_pod_watch *w);
