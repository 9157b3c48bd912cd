// SPDX-License-Identifier: Apache-2.0
// A client of kube-apiserver on an sd-event loop: requests go through libcurl multi
// (api/kube/curl-event.h), so the loop never blocks on the network. Every answer is handed back as
// a struct kube_status decided on the server's Status body, with the parsed JSON of a 2xx.
//
// Authentication: the bearer token from the config; a token file (tokenFile, the service
// account's) is re-read at least every KUBE_TOKEN_REREAD_USEC and after any 401, and a request
// that got 401 is sent once more when the re-read token differs (the bound token rotated).
//
// Retry-After: a 429 or 503 reports the server's wait in kube_status.retry_after_sec. The client
// never retries on its own (except the one 401 retry above): the caller decides, because what to
// do instead (the next eviction candidate, the cgroup path) is the caller's policy.
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "api/kube/bodies.h"
#include "api/kube/config.h"
#include "api/kube/status.h"

#define KUBE_TOKEN_REREAD_USEC  (60ull * 1000000)
#define KUBE_REQUEST_TIMEOUT_MS 30000
/* The largest answer read whole (a LIST of a node's pods: 110 pods of ~20 kB is 2 MB). */
#define KUBE_RESPONSE_MAX_BYTES (64u << 20)

struct kube_client;
struct kube_request;

/* A request ended: st is the answer; body the parsed JSON of a 2xx answer (borrowed for the
 * call; NULL otherwise or when the body was empty). */
typedef void (*kube_done_fn)(const struct kube_status *st, struct json_object *body,
                             void *userdata);
/* Bytes of a streaming 2xx answer as they arrive; a negative return ends the transfer, and done
 * then gets http_code 200 with transport_errno that value. */
typedef int (*kube_data_fn)(const char *data, size_t n, void *userdata);

/* The verbs memagentd uses, for per-verb counters (requests by verb and code in /metrics). */
enum kube_verb { KUBE_VERB_GET, KUBE_VERB_POST, KUBE_VERB_PATCH, KUBE_VERB_OTHER, _KUBE_VERB_MAX };
const char *kube_verb_name(enum kube_verb v);

struct kube_client_stats {
        uint64_t requests;         /* started (a 401 retry counts again) */
        uint64_t transport_errors; /* no HTTP answer */
        uint64_t by_class[6];      /* answers by code / 100: [2] 2xx ... [5] 5xx */
        /* Answers by verb and code / 100; [verb][0] counts those with no HTTP answer. */
        uint64_t by_verb_class[_KUBE_VERB_MAX][6];
        uint64_t unauthorized; /* 401s */
        uint64_t token_reads;  /* token file reads */
};

/* A client for the server in cfg (copied). Returns 0, -ENOMEM, or the sd-event error. */
int kube_client_new(sd_event *e, const struct kube_config *cfg, struct kube_client **ret);

/* Cancels every request in flight (their done callbacks are not called) and frees c. Never call
 * it from a done callback. NULL-safe; returns NULL. */
struct kube_client *kube_client_free(struct kube_client *c);

/* Starts METHOD path (with its query, already escaped) with an optional body of content_type
 * (NULL: none). done is called exactly once, later, from the event loop, when the request
 * returned 0. Returns 0, -EINVAL or -ENOMEM. */
int kube_client_request(struct kube_client *c, const char *method, const char *path,
                        const char *content_type, const char *body, kube_done_fn done,
                        void *userdata);

/* The same, with a handle: *ret (may be NULL) can be passed to kube_request_cancel() until done
 * is called (done's call ends the handle; never cancel from within it). */
int kube_client_send(struct kube_client *c, const char *method, const char *path,
                     const char *content_type, const char *body, kube_done_fn done, void *userdata,
                     struct kube_request **ret);

/* A GET whose 2xx body is streamed to on_data (a WATCH) instead of being parsed; a non-2xx body
 * is read whole and decided as usual. timeout_ms bounds the whole transfer (0: none). On success
 * *ret (may be NULL) is a handle for kube_request_cancel(), valid until done is called. */
int kube_client_stream(struct kube_client *c, const char *path, long timeout_ms,
                       kube_data_fn on_data, kube_done_fn done, void *userdata,
                       struct kube_request **ret);

/* Stops a request in flight without calling its done. NULL-safe. */
void kube_request_cancel(struct kube_request *r);

/* The Kubernetes API verb of a request (as the apiserver's own metrics name them): "get",
 * "list", "watch", "create", "update", "patch", "delete" or "other". path without the server. */
const char *kube_api_verb(const char *method, const char *path);

/* Hears every answer as it comes (a 401 that is retried counts too): the request's verb
 * (kube_api_verb()) and its HTTP code, 0 when none came. For the daemon's metrics of API requests
 * by verb and code. */
typedef void (*kube_answer_observer_fn)(const char *verb, int code, void *userdata);
void kube_client_set_observer(struct kube_client *c, kube_answer_observer_fn fn, void *userdata);

void kube_client_get_stats(const struct kube_client *c, struct kube_client_stats *ret);
sd_event *kube_client_get_event(const struct kube_client *c);
/* The server, for messages ("https://10.96.0.1:443"). */
const char *kube_client_server(const struct kube_client *c);

/* POST /api/v1/namespaces/NS/pods/NAME/eviction with kube_eviction_body(). 201 on success; 429
 * (reason TooManyRequests, cause DisruptionBudget: a PodDisruptionBudget forbids it now), 404
 * (gone), 409 (the UID precondition failed: a new pod has the name). */
int kube_evict(struct kube_client *c, const char *namespace_, const char *name, const char *uid,
               int64_t grace_period_sec, kube_done_fn done, void *userdata);

/* POST /apis/events.k8s.io/v1/namespaces/NS/events with kube_event_body(). */
int kube_post_event(struct kube_client *c, const struct kube_event *ev, kube_done_fn done,
                    void *userdata);

/* PATCH /api/v1/namespaces/NS/pods/NAME/resize (application/strategic-merge-patch+json) with
 * kube_resize_memory_patch(). A server without the subresource (before Kubernetes 1.33) answers
 * 404 NotFound "the server could not find the requested resource". */
int kube_resize_memory(struct kube_client *c, const char *namespace_, const char *name,
                       const char *container, uint64_t limit_bytes, kube_done_fn done,
                       void *userdata);
