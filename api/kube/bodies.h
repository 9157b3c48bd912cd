// SPDX-License-Identifier: Apache-2.0
// The bodies memagentd sends to kube-apiserver, in Kubernetes' own shapes: pure JSON encoders
// (no I/O), so the tests validate them against the Kubernetes OpenAPI schema.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KUBE_REPORTING_CONTROLLER           "memagent.io/agent"
#define KUBE_REPORTING_CONTROLLER_SCHEDULER "memagent.io/scheduler"
/* events.k8s.io/v1 validation (pkg/apis/core/validation/events.go): note at most 1024 bytes,
 * action and reason at most 128. */
#define KUBE_EVENT_NOTE_MAX   1024
#define KUBE_EVENT_ACTION_MAX 128
/* No gracePeriodSeconds in the Eviction: the pod's own terminationGracePeriodSeconds applies. */
#define KUBE_GRACE_DEFAULT (-1)

/* A policy/v1 Eviction of pod NS/NAME with deleteOptions.preconditions.uid = uid (so that a pod
 * replaced under the same name is not evicted) and gracePeriodSeconds when grace_period_sec >= 0.
 * Returns 0 and a malloc'ed NUL-terminated JSON text in *ret (caller frees), -EINVAL for an empty
 * namespace, name or uid, or -ENOMEM. */
int kube_eviction_body(const char *namespace_, const char *name, const char *uid,
                       int64_t grace_period_sec, char **ret);

struct kube_event {
        /* The pod the event is about (regarding: v1 Pod). */
        const char *namespace_, *pod_name, *pod_uid;
        /* metadata.name; when NULL or "", metadata.generateName "<pod_name>." asks the server
         * to make one up. */
        const char *name;
        const char *reporting_instance; /* "memagentd-<node>": which agent */
        /* reportingController; NULL or "": KUBE_REPORTING_CONTROLLER (memschedd sets
         * KUBE_REPORTING_CONTROLLER_SCHEDULER) */
        const char *reporting_controller;
        const char *action;       /* "Evict", "Kill", "Lend", "Return", "StandBack" */
        const char *reason;       /* CamelCase: "MemoryPressure", "DisruptionBudget" */
        const char *note;         /* why, for people; cut to KUBE_EVENT_NOTE_MAX bytes */
        bool warning;             /* type Warning, else Normal */
        uint64_t event_time_usec; /* CLOCK_REALTIME; 0: now */
};

/* An events.k8s.io/v1 Event (reportingController KUBE_REPORTING_CONTROLLER, eventTime in
 * RFC 3339 with microseconds, as metav1.MicroTime). The note is cut at a UTF-8 character
 * boundary. Returns 0 and a malloc'ed JSON text in *ret, -EINVAL when a required field is empty,
 * or -ENOMEM. */
int kube_event_body(const struct kube_event *ev, char **ret);

/* The strategic merge patch for pods/resize that sets one container's memory limit:
 * {"spec":{"containers":[{"name":C,"resources":{"limits":{"memory":"N"}}}]}}, N in bytes.
 * Returns 0 and a malloc'ed JSON text, -EINVAL for an empty container name, or -ENOMEM. */
int kube_resize_memory_patch(const char *container, uint64_t limit_bytes, char **ret);

/* metav1.MicroTime: "2026-11-30T01:02:03.123456Z". buf must hold 32 bytes. */
char *kube_format_micro_time(uint64_t realtime_usec, char buf[static 32]);
