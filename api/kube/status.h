// SPDX-License-Identifier: Apache-2.0
// What the Kubernetes API server answered. Every non-2xx answer is decided on its metav1.Status
// body (reason, code, details.causes), as kube-apiserver writes it, never on the code alone; a
// Retry-After header (or details.retryAfterSeconds) is kept so the caller can honour it.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_status {
        int http_code;       /* 0: no answer (connection refused, TLS, timeout) */
        int transport_errno; /* with http_code 0: a negative errno describing the failure */
        /* Status.reason ("TooManyRequests", "NotFound", "Conflict", "Expired", "Gone",
         * "Unauthorized", ...); "" on success or when the body was not a Status. */
        char reason[48];
        char message[512]; /* Status.message, or the transport's error text */
        /* The first details.causes[] entry: reason ("DisruptionBudget") and message. */
        char cause_reason[64];
        char cause_message[256];
        uint64_t retry_after_sec; /* Retry-After, else details.retryAfterSeconds; 0: none */
};

/* A 2xx answer. */
bool kube_status_ok(const struct kube_status *s);

/* Fills *ret from an HTTP answer: its code, its body (may be NULL or not a Status: then reason
 * stays "" and message says what came back) and its Retry-After header value (may be NULL).
 * Never fails. */
void kube_status_from_reply(int http_code, const char *body, size_t body_len,
                            const char *retry_after, struct kube_status *ret);

/* One line for logs and decision records, e.g.
 * "429 TooManyRequests (DisruptionBudget): Cannot evict pod as it would violate the pod's
 * disruption budget." or "unreachable: Connection refused". */
void kube_status_format(const struct kube_status *s, char *buf, size_t size);
