// SPDX-License-Identifier: Apache-2.0
// pods/binding: what a scheduler sends to put a pod on a node (memschedd's /extender/bind, when
// kube-scheduler leaves binding to its extender). The encoder is pure, so the tests validate its
// output against the Kubernetes OpenAPI schema.
#pragma once

#include "api/kube/client.h"

/* A v1 Binding of pod NS/NAME to node: {"apiVersion":"v1","kind":"Binding","metadata":{"name",
 * "namespace","uid"},"target":{"apiVersion":"v1","kind":"Node","name":NODE}}. metadata.uid is a
 * precondition: the apiserver refuses (409) to bind a pod that was replaced under the same name.
 * uid may be NULL or "" (no precondition). Returns 0 and a malloc'ed JSON text in *ret, -EINVAL
 * for an empty namespace, name or node, or -ENOMEM. */
int kube_binding_body(const char *namespace_, const char *name, const char *uid, const char *node,
                      char **ret);

/* POST /api/v1/namespaces/NS/pods/NAME/binding with kube_binding_body(). 201 on success; 409
 * Conflict "pod NAME is already assigned to node ..." (or "is being deleted", or the UID
 * precondition), 404 when the pod is gone. Returns 0 (done is called later) or -EINVAL/-ENOMEM. */
int kube_bind(struct kube_client *c, const char *namespace_, const char *name, const char *uid,
              const char *node, kube_done_fn done, void *userdata);
