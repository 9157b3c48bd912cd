// SPDX-License-Identifier: Apache-2.0
// The parts of a Kubernetes v1.Pod that memory placement needs, read from the Pod object exactly
// as the apiserver serialises it (kube-scheduler forwards it unchanged to extenders).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api/codec.h"

/* Annotation that asks for single-NUMA-zone placement for a pod that is not Guaranteed:
 * value "single-zone". */
#define K8S_ANNOTATION_NUMA  "memagent.io/numa-policy"
#define K8S_NUMA_SINGLE_ZONE "single-zone"
/* Annotation that keeps a pod out of migration plans: value "true". */
#define K8S_ANNOTATION_PROTECTED "memagent.io/protected"

struct k8s_pod {
        /* Borrowed from the JSON tree the pod was decoded from; valid while it is. */
        const char *name;      /* metadata.name (required) */
        const char *namespace; /* metadata.namespace, "default" when absent */
        const char *uid;       /* metadata.uid, "" when absent (not yet created) */
        const char *owner_uid; /* uid of the controller ownerReference, "" when none */
        enum qos_class qos;    /* status.qosClass, or derived from the resources */
        /* Effective memory request, as the scheduler computes it: max(sum of app and sidecar
         * containers, largest init container plus the sidecars started before it) + overhead. */
        uint64_t request_bytes;
        uint64_t
            limit_bytes; /* sum of app container limits + overhead; API_UNLIMITED if any is unset */
        int32_t priority; /* spec.priority, 0 when absent */
        bool single_numa; /* Guaranteed, or annotated K8S_NUMA_SINGLE_ZONE */
        bool protected_;  /* annotated K8S_ANNOTATION_PROTECTED: "true" */
};

/* What memagentd keeps of one of its node's pods, read from the API server (an owned copy: the
 * pod watch replaces it when the pod changes). */
#define K8S_ANNOTATION_PROTECT "memagent.io/protect" /* "true": never evicted by memagentd */
#define K8S_ANNOTATION_AVOID   "memagent.io/avoid"   /* "true": evicted last */
#define K8S_ANNOTATION_MIRROR  "kubernetes.io/config.mirror"
#define K8S_ANNOTATION_SOURCE  "kubernetes.io/config.source" /* "api" unless a static pod */
/* The priority of the system-node-critical PriorityClass: the kubelet never evicts a pod at or
 * above it (pkg/apis/scheduling: SystemCriticalPriority + 1000). */
#define K8S_SYSTEM_NODE_CRITICAL_PRIORITY 2000001000
#define K8S_META_CONTAINERS_MAX           16
#define K8S_NAMESPACE_MAX                 64  /* DNS label (63) + NUL */
#define K8S_NAME_MAX                      254 /* DNS subdomain (253) + NUL */

struct k8s_container_meta {
        char name[64];
        uint64_t request_bytes; /* resources.requests.memory, 0 when unset */
        uint64_t limit_bytes;   /* resources.limits.memory, API_UNLIMITED when unset */
        /* status.containerStatuses[].containerID without its "<runtime>://" prefix: the id in
         * the container's cgroup name; "" until the container runs. */
        char container_id[80];
};

/* The pod's in-place resize, from its PodResizePending / PodResizeInProgress conditions. */
enum k8s_resize_state {
        K8S_RESIZE_NONE = 0,
        K8S_RESIZE_DEFERRED,    /* PodResizePending, reason Deferred */
        K8S_RESIZE_INFEASIBLE,  /* PodResizePending, reason Infeasible */
        K8S_RESIZE_IN_PROGRESS, /* PodResizeInProgress */
};

struct k8s_pod_meta {
        char uid[80];
        char namespace_[K8S_NAMESPACE_MAX];
        char name[K8S_NAME_MAX];
        char node_name[K8S_NAME_MAX]; /* spec.nodeName */
        char phase[16];               /* status.phase */
        int32_t priority;             /* spec.priority, 0 when absent */
        enum qos_class qos;           /* status.qosClass, or derived from the resources */
        char owner_kind[32];          /* kind of the controller ownerReference, "" when none */
        bool protect;                 /* K8S_ANNOTATION_PROTECT: "true" */
        bool avoid;                   /* K8S_ANNOTATION_AVOID: "true" */
        bool mirror;                  /* a mirror pod (K8S_ANNOTATION_MIRROR present) */
        bool static_;                 /* K8S_ANNOTATION_SOURCE present and not "api" */
        /* The kubelet does not evict it: mirror, static, or priority at or above
         * K8S_SYSTEM_NODE_CRITICAL_PRIORITY. */
        bool node_critical;
        uint64_t request_bytes, limit_bytes; /* as struct k8s_pod computes them */
        size_t n_containers;                 /* app containers (spec.containers), at most MAX */
        struct k8s_container_meta containers[K8S_META_CONTAINERS_MAX];
        enum k8s_resize_state resize;
        char resize_message[160]; /* the condition's message */
        /* metadata.deletionTimestamp is set: the pod is being deleted (an eviction was
         * accepted, or someone deleted it); evicting it again would do nothing. */
        bool terminating;
};

/* Decodes a v1.Pod (as LIST and WATCH return it) into *ret. Returns 0 or -EINVAL / -ERANGE with
 * err naming the field; *ret is untouched on failure. */
int k8s_pod_meta_decode(const struct json_object *o, const char *path, struct k8s_pod_meta *ret,
                        struct api_error *err);

/* Decodes a v1.Pod. path is the JSON path of o, for error messages ("Pod"). Quantities are read
 * with quantity_parse_bytes(): "512Mi", "1G", "1.5Gi", "100M", "1e9". Returns 0 or -EINVAL /
 * -ERANGE with err naming the field. *ret is untouched on failure. */
int k8s_pod_decode(const struct json_object *o, const char *path, struct k8s_pod *ret,
                   struct api_error *err);

/* Builds a minimal v1.Pod (one container "main" carrying the request and limit, status.qosClass,
 * the annotations, priority and a controller ownerReference) that k8s_pod_decode() reads back
 * to the same struct. New reference or NULL on OOM. */
struct json_object *k8s_pod_encode(const struct k8s_pod *p);

/* CPU quantity in millicores ("500m", "0.5", "2"). Returns 0 or -EINVAL/-ERANGE. */
int k8s_cpu_parse_millis(const char *s, uint64_t *ret_millis);
