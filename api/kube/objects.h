// SPDX-License-Identifier: Apache-2.0
// What memschedd keeps of the cluster's v1.Node and v1.Pod objects (LIST and WATCH, and one GET
// before a bind), decoded from the apiserver's JSON, and the taint/toleration rule placement
// applies. Fixed-size structs so that the informer can compare two decodes with memcmp.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "api/k8s_pod.h"
#include "api/kube/informer.h"

#define KUBE_TAINTS_MAX      16
#define KUBE_LABELS_MAX      16
#define KUBE_TOLERATIONS_MAX 32
#define KUBE_LABEL_KEY_MAX   254 /* prefix (253) "/" name (63): longer ones are not kept */
#define KUBE_LABEL_VALUE_MAX 64  /* 63 + NUL */

/* The taint effects that keep pods off a node; PreferNoSchedule only steers kube-scheduler's
 * scoring and is not kept. */
enum kube_taint_effect {
        KUBE_TAINT_NO_SCHEDULE = 0,
        KUBE_TAINT_NO_EXECUTE,
};

struct kube_taint {
        char key[KUBE_LABEL_KEY_MAX];
        char value[KUBE_LABEL_VALUE_MAX];
        enum kube_taint_effect effect;
};

struct kube_label {
        char key[KUBE_LABEL_KEY_MAX];
        char value[KUBE_LABEL_VALUE_MAX];
};

/* The taint the node lifecycle controller puts on a cordoned node (spec.unschedulable): a node
 * decoded with unschedulable true carries it, whether or not the controller added it yet. */
#define KUBE_TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"

struct kube_node_info {
        char name[K8S_NAME_MAX];
        char uid[80];
        /* status.allocatable.memory (what the kubelet offers pods); 0 when absent. */
        uint64_t allocatable_bytes;
        bool ready;         /* the Ready condition is True */
        bool unschedulable; /* spec.unschedulable (cordoned) */
        size_t n_taints;    /* NoSchedule and NoExecute taints, at most KUBE_TAINTS_MAX */
        struct kube_taint taints[KUBE_TAINTS_MAX];
        size_t n_labels; /* the first KUBE_LABELS_MAX labels, in key order */
        struct kube_label labels[KUBE_LABELS_MAX];
};

struct kube_pod_brief {
        char uid[80];
        char namespace_[K8S_NAMESPACE_MAX];
        char name[K8S_NAME_MAX];
        char node_name[K8S_NAME_MAX]; /* spec.nodeName, "" when not bound */
        char phase[16];               /* status.phase, "" when absent */
        char owner_uid[80];           /* the controller ownerReference, "" when none */
        char owner_kind[32];
        uint64_t request_bytes; /* the effective memory request, as kube-scheduler counts it */
        bool terminating;       /* metadata.deletionTimestamp set */
};

/* Decode a v1.Node / v1.Pod into *ret (zeroed first by the caller for memcmp). Return 0 or
 * -EINVAL / -ERANGE with err naming the field. */
int kube_node_info_decode(const struct json_object *o, const char *path, struct kube_node_info *ret,
                          struct api_error *err);
int kube_pod_brief_decode(const struct json_object *o, const char *path, struct kube_pod_brief *ret,
                          struct api_error *err);

/* Informer types: nodes keyed by name, pods by uid. */
extern const struct kube_informer_type kube_node_info_type;
extern const struct kube_informer_type kube_pod_brief_type;

/* A pod bound to a node and not finished (Succeeded/Failed): its request is held there. */
bool kube_pod_brief_holds_memory(const struct kube_pod_brief *p);

/* One of a pod's spec.tolerations. */
enum kube_toleration_op { KUBE_TOLERATE_EQUAL = 0, KUBE_TOLERATE_EXISTS };
struct kube_toleration {
        char key[KUBE_LABEL_KEY_MAX]; /* "" with Exists: every key */
        char value[KUBE_LABEL_VALUE_MAX];
        enum kube_toleration_op op;
        int effect; /* enum kube_taint_effect, or -1: every effect (also PreferNoSchedule) */
};

/* Reads a Pod's spec.tolerations into ret[0..max); tolerations for PreferNoSchedule only are
 * skipped. Returns the count kept, or -EINVAL with err naming the field. */
int kube_tolerations_decode(const struct json_object *pod, const char *path,
                            struct kube_toleration *ret, size_t max, struct api_error *err);

/* Whether one of tolerations[0..n) tolerates taint t (v1.Toleration.ToleratesTaint). */
bool kube_taint_tolerated(const struct kube_taint *t, const struct kube_toleration *tolerations,
                          size_t n);
