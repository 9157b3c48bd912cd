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
