// SPDX-License-Identifier: Apache-2.0
// memagentd's side of the Kubernetes API (agent/daemon/kube.c): the client and the watch of this
// node's pods, bound to the manager as its struct kube_binding.
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct manager;
struct kube_side;

/* Loads the configuration (kubeconfig when not NULL or "", else in-cluster when
 * KUBERNETES_SERVICE_HOST is set), starts the client and the pod watch on m's loop and binds
 * them. With neither configured: *ret NULL, 0, and one line saying memagentd runs standalone.
 * A kubeconfig that cannot be used is an error (-EMEDIUMTYPE with why saying which file and
 * key); an unusable in-cluster configuration is a warning and memagentd runs standalone. */
int kube_side_start(struct manager *m, const char *kubeconfig, const char *node_name,
                    struct kube_side **ret, char *why, size_t why_size);

/* Stops the watch and the requests in flight. NULL-safe; returns NULL. */
struct kube_side *kube_side_free(struct kube_side *k);

struct kube_side_status {
        bool configured;
        const char *server; /* borrowed */
        bool synced;        /* the node's pods are listed */
        size_t pods;
        const char *last_error; /* "" when none */
        size_t events_pending;  /* Events waiting for the API server */
        bool resize_supported;  /* false once the server said it has no pods/resize */
};
void kube_side_status(const struct kube_side *k, struct kube_side_status *ret);
