// SPDX-License-Identifier: Apache-2.0
// An informer: LIST a resource path, then WATCH it from the list's resourceVersion with
// bookmarks, keeping a table of decoded objects keyed by one metadata field (a pod's uid, a
// node's name). One home for what memagentd (its node's pods) and memschedd (all nodes, all
// pods) need of client-go's reflector:
//  - the watch is re-opened from the last resourceVersion when the server ends it (its
//    timeoutSeconds is drawn in [5, 10) min so that clients do not reconnect in step);
//  - BOOKMARK events only advance the resourceVersion;
//  - 410 Gone, as the answer or as an ERROR event whose Status reason is Expired or Gone
//    ("too old resource version"), means the version was compacted away: LIST again, and
//    objects missing from the new list are removed (their DELETED was compacted too);
//  - other failures wait with backoff (0.5 s doubling to 30 s, +-20% jitter) and retry the same
//    step; resourceVersions are opaque strings, never compared.
// What differs between resources is a struct kube_informer_type: the decoder and the key.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "api/kube/client.h"

#define KUBE_WATCH_BACKOFF_MIN_USEC 500000ull
#define KUBE_WATCH_BACKOFF_MAX_USEC (30ull * 1000000)
#define KUBE_WATCH_TIMEOUT_MIN_SEC  300

struct kube_informer;

struct kube_informer_type {
        const char *noun;      /* "pods", "nodes": for log lines */
        const char *list_kind; /* "PodList", "NodeList": for errors about the LIST answer */
        /* The metadata field that names an object in the table and in DELETED events. */
        const char *key_field;
        size_t object_size; /* bytes of one decoded object */
        size_t key_offset;  /* where the object holds its key, a NUL-terminated char array */
        /* Decodes one object into *ret, which the informer zeroed first (so that two decodes of
         * the same object compare equal with memcmp). Returns 0, or a negative errno with err
         * naming the field; the object is then skipped and counted as an error. */
        int (*decode)(const struct json_object *o, const char *path, void *ret,
                      struct api_error *err);
};

/* An object appeared (old NULL), changed, or went away (new NULL). Both are borrowed for the
 * call. Both NULL: a LIST completed, the table holds every object of the path. An update that
 * decodes to the same bytes is not a change and is not told. */
typedef void (*kube_informer_change_fn)(struct kube_informer *inf, const void *old,
                                        const void *new_, void *userdata);

struct kube_informer_stats {
        uint64_t lists;   /* LISTs that succeeded */
        uint64_t watches; /* WATCHes opened */
        uint64_t relists; /* LISTs again because the resourceVersion expired (410) */
        uint64_t events;  /* ADDED, MODIFIED, DELETED and BOOKMARK events applied */
        uint64_t errors;  /* failed LISTs and WATCHes, undecodable events and objects */
        uint64_t bookmarks;
        uint64_t synced_usec; /* CLOCK_MONOTONIC of the last event or LIST applied; 0 before */
};

/* Starts listing and watching path ("/api/v1/nodes", "/api/v1/pods?fieldSelector=…": the
 * watch's query is appended) on c's loop; what names it in log lines ("pods of node n1").
 * type must outlive the informer. on_change (may be NULL) hears every change of the table.
 * Returns 0, -EINVAL or -ENOMEM. */
int kube_informer_start(struct kube_client *c, const struct kube_informer_type *type,
                        const char *path, const char *what, kube_informer_change_fn on_change,
                        void *userdata, struct kube_informer **ret);
/* Stops the LIST or WATCH in flight and frees inf; free it before its client. NULL-safe. */
struct kube_informer *kube_informer_free(struct kube_informer *inf);

/* True once the first LIST is in: the table then holds every object of the path. */
bool kube_informer_synced(const struct kube_informer *inf);
/* The object with this key, or NULL; valid until the loop runs again. O(log n). */
const void *kube_informer_find(const struct kube_informer *inf, const char *key);
/* Iteration: objects 0 .. count-1, in key order; valid until the loop runs again. */
size_t kube_informer_count(const struct kube_informer *inf);
const void *kube_informer_get(const struct kube_informer *inf, size_t i);
/* The last resourceVersion seen ("" before the first LIST). */
const char *kube_informer_resource_version(const struct kube_informer *inf);
void kube_informer_get_stats(const struct kube_informer *inf, struct kube_informer_stats *ret);
/* The last failure, for status output ("" when none). */
const char *kube_informer_last_error(const struct kube_informer *inf);

/* The informer's table and stream handling without a client, for tests: an informer that
 * sends nothing; kube_informer_apply_list() takes a LIST answer's body and
 * kube_informer_apply_frame() one watch line, as the network would deliver them. Return 0,
 * 1 when the answer asks for a relist (410), or a negative errno. */
int kube_informer_new_offline(const struct kube_informer_type *type, const char *what,
                              kube_informer_change_fn on_change, void *userdata,
                              struct kube_informer **ret);
int kube_informer_apply_list(struct kube_informer *inf, const struct json_object *body);
int kube_informer_apply_frame(struct kube_informer *inf, const char *line, size_t len);
