// SPDX-License-Identifier: Apache-2.0
// The scheduler extender messages of k8s.io/kube-scheduler/extender/v1, as kube-scheduler's
// HTTPExtender marshals them with Go's encoding/json. The Go structs carry no json tags, so the
// keys are the Go field names ("Pod", "NodeNames", "FailedNodes", "Host", "Score", ...), every
// field is always present and nil pointers are null. Like Go's decoder, ours match keys ignoring
// case, so clients that send "pod"/"nodenames" are served too. Encoders emit the exact names.
//
// Each decoder takes its own reference on the JSON tree; the decoded strings borrow from it and
// stay valid until the matching _done() call.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "api/k8s_pod.h"

#define EXTENDER_SCORE_MIN 0  /* extenderv1.MinExtenderPriority */
#define EXTENDER_SCORE_MAX 10 /* extenderv1.MaxExtenderPriority */
/* Most candidate nodes in one call (Kubernetes supports 5,000 nodes a cluster): bounds the
 * per-node arrays and the answer whatever the names' length. More is -E2BIG (413). */
#define EXTENDER_NODES_MAX 100000

/* ExtenderArgs {Pod, Nodes, NodeNames}: the body of filter and prioritize calls. */
struct extender_args {
        struct json_object *root;
        struct k8s_pod pod;
        /* true when NodeNames was sent (nodeCacheCapable: true), false for Nodes (a v1.NodeList).
         */
        bool node_cache_capable;
        const char **node_names;    /* n_nodes names, in the order sent */
        struct json_object **nodes; /* Nodes mode: the v1.Node items (borrowed), else NULL */
        /* Nodes mode through extender_args_parse_nodes(): each item's text in the body (nodes is
         * NULL then), and the copies of the names node_names point into. */
        struct extender_node_text {
                const char *json;
                size_t len;
        } * node_texts;
        char *name_arena;
        size_t n_nodes;
};

int extender_args_decode(struct json_object *root, struct extender_args *ret,
                         struct api_error *err);
void extender_args_done(struct extender_args *a);
/* The fast path for names mode, straight from the request body (size bytes, NUL-terminated):
 * returns 1 and fills *ret (the names point into body, which is modified and must outlive *ret;
 * root is the Pod), 0 when the body is not the plain names-mode shape (then body is untouched
 * and the caller uses api_parse() + extender_args_decode(), which also produce every error
 * message), -E2BIG for more than EXTENDER_NODES_MAX names, or -ENOMEM. */
int extender_args_parse_names(char *body, size_t size, struct extender_args *ret);
/* The Nodes-mode path: {"Pod", "Nodes": {"items": [...]}, "NodeNames": null} decoded one item at a
 * time, so that a 5,000-node body never becomes one JSON tree. Returns 1 and fills *ret (node
 * texts point into body, which must outlive *ret), 0 when the body is not that shape (use the
 * generic path), or a negative errno with *err naming the field. */
int extender_args_parse_nodes(const char *body, size_t size, struct extender_args *ret,
                              struct api_error *err);
/* Builds ExtenderArgs as kube-scheduler does: NodeNames (and "Nodes": null) when
 * node_cache_capable, else a v1.NodeList of minimal v1.Node objects (and "NodeNames": null). */
struct json_object *extender_args_encode(const struct k8s_pod *pod, const char *const *names,
                                         size_t n, bool node_cache_capable);

/* One entry of FailedNodes / FailedAndUnresolvableNodes (FailedNodesMap: name → message). */
struct extender_failed_node {
        const char *node;
        const char *reason;
};

/* ExtenderFilterResult {Nodes, NodeNames, FailedNodes, FailedAndUnresolvableNodes, Error}. */
struct extender_filter_result {
        struct json_object *root;   /* set by the decoder only */
        bool node_cache_capable;    /* which of NodeNames / Nodes carries the passing nodes */
        const char **node_names;    /* passing nodes */
        struct json_object **nodes; /* Nodes mode: passing v1.Node objects, echoed as received */
        size_t n_nodes;
        struct extender_failed_node *failed;
        size_t n_failed;
        struct extender_failed_node *unresolvable;
        size_t n_unresolvable;
        const char *error; /* "" for none */
};

/* Encodes r. In names mode "Nodes" is null; in Nodes mode "NodeNames" is null and "Nodes" is a
 * v1.NodeList whose items are the (reference-counted) node objects. */
struct json_object *extender_filter_result_encode(const struct extender_filter_result *r);
/* Writes the same JSON straight into a malloc'ed string (the fast path for large node lists).
 * Returns 0 and the string (caller frees) or -ENOMEM. */
int extender_filter_result_format(const struct extender_filter_result *r, char **ret,
                                  size_t *ret_size);
/* Streams an ExtenderFilterResult without building the result arrays first (the extender's hot
 * path): init, then pass/failed/unresolvable per node in any order (each group keeps its order),
 * then finish, which writes the same JSON as extender_filter_result_format() and releases the
 * writer. In Nodes mode pass() takes the v1.Node object, in names mode the name. Strings are
 * copied. finish returns 0 and the string (caller frees) or -ENOMEM; call done() instead of
 * finish to abandon a writer. */
struct extender_filter_writer {
        bool node_cache_capable;
        struct api_buf pass, failed, unresolvable;
        size_t n_pass, n_failed, n_unresolvable;
};
void extender_filter_writer_init(struct extender_filter_writer *w, bool node_cache_capable,
                                 size_t n_hint);
void extender_filter_writer_pass(struct extender_filter_writer *w, const char *name,
                                 struct json_object *node);
/* Nodes mode: a passing v1.Node echoed from its text as received. */
void extender_filter_writer_pass_text(struct extender_filter_writer *w, const char *json,
                                      size_t len);
void extender_filter_writer_failed(struct extender_filter_writer *w, const char *node,
                                   const char *reason);
void extender_filter_writer_unresolvable(struct extender_filter_writer *w, const char *node,
                                         const char *reason);
int extender_filter_writer_finish(struct extender_filter_writer *w, const char *error, char **ret,
                                  size_t *ret_size);
void extender_filter_writer_done(struct extender_filter_writer *w);

int extender_filter_result_decode(struct json_object *root, struct extender_filter_result *ret,
                                  struct api_error *err);
void extender_filter_result_done(struct extender_filter_result *r);

/* HostPriority {Host, Score}; a HostPriorityList is a JSON array of them. */
struct host_priority {
        const char *host;
        int64_t score; /* EXTENDER_SCORE_MIN .. EXTENDER_SCORE_MAX */
};

struct json_object *host_priority_list_encode(const struct host_priority *list, size_t n);
int host_priority_list_format(const struct host_priority *list, size_t n, char **ret,
                              size_t *ret_size);
/* *ret_list is malloc'ed (caller frees); hosts borrow from root, which the caller keeps. */
int host_priority_list_decode(const struct json_object *root, struct host_priority **ret_list,
                              size_t *ret_n, struct api_error *err);

/* ExtenderBindingArgs {PodName, PodNamespace, PodUID, Node}. */
struct extender_binding_args {
        struct json_object *root;
        const char *pod_name;
        const char *pod_namespace;
        const char *pod_uid;
        const char *node;
};

int extender_binding_args_decode(struct json_object *root, struct extender_binding_args *ret,
                                 struct api_error *err);
void extender_binding_args_done(struct extender_binding_args *a);
struct json_object *extender_binding_args_encode(const struct extender_binding_args *a);

/* ExtenderBindingResult {Error}: "" on success. */
struct json_object *extender_binding_result_encode(const char *error);
/* *ret borrows from root. */
int extender_binding_result_decode(const struct json_object *root, const char **ret,
                                   struct api_error *err);
