// SPDX-License-Identifier: Apache-2.0
// The handlers of the Kubernetes API port, one file a concern, that api.c's router calls with
// the state locked:
//   api.c         authentication, scripted failures, request records, routing
//   api-body.c    decoding a request's JSON body as kube-apiserver's decoder answers
//   api-list.c    LIST (with fieldSelector and continue) and WATCH of pods and nodes
//   api-pods.c    the pod subresources: eviction, binding, resize
//   api-events.c  events.k8s.io/v1 Event create
#pragma once

#include <json-c/json.h>
#include <microhttpd.h>

#include "http.h"
#include "state.h"

/* A JSON object body: NULL and *ret (the caller's), or the Status to answer (and *ret NULL). */
struct json_object *parse_body(const struct request *rq, struct json_object **ret);
/* A create's JSON body, after its Content-Type: NULL and *ret, or the Status to answer. */
struct json_object *create_body(struct MHD_Connection *conn, const struct request *rq,
                                struct json_object **ret);
/* create_body() for a subresource of the object name, whose body (of kind, "Eviction") must
 * carry that metadata.name, or it is refused as kube-apiserver refuses it (400). */
struct json_object *create_body_named(struct MHD_Connection *conn, const struct request *rq,
                                      const char *kind, const char *name, struct json_object **ret);

/* LIST (or WATCH, with ?watch=true) of res in ns (NULL: all namespaces). */
enum MHD_Result pods_list(struct state *st, struct MHD_Connection *conn, struct request *rq,
                          enum kt_resource res, const char *ns);
/* POST pods/NAME/eviction, pods/NAME/binding; PATCH pods/NAME/resize. */
enum MHD_Result pod_evict(struct state *st, struct MHD_Connection *conn, struct request *rq,
                          const char *ns, const char *name);
enum MHD_Result pod_bind(struct state *st, struct MHD_Connection *conn, struct request *rq,
                         const char *ns, const char *name);
enum MHD_Result pod_resize(struct state *st, struct MHD_Connection *conn, struct request *rq,
                           const char *ns, const char *name);
/* POST /apis/events.k8s.io/v1/namespaces/NS/events */
enum MHD_Result event_create(struct state *st, struct MHD_Connection *conn, struct request *rq,
                             const char *ns);
