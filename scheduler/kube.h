// SPDX-License-Identifier: Apache-2.0
// memschedd and the Kubernetes API server: binds through pods/binding and migrations carried out
// through the Eviction API, with the client of api/kube/; and the informers of all nodes and all
// pods (api/kube/informer.c), whose view placement reads (struct kube_view in model.h): a node
// the API does not know, not Ready or tainted is no target, pods bound but not yet reported are
// counted, and a bind is refused for a pod the API does not show Pending.
//
// Threads. The client runs on an sd-event loop (curl multi); memschedd's HTTP handlers run on
// libmicrohttpd's thread pool. One dedicated thread owns the loop, the client and every API
// call: handlers hand it binds through a queue and an eventfd and wait for the answer (a bind
// is one short request that kube-scheduler waits for anyway, bounded by the client's request
// timeout), and a timer on the same loop carries planned migrations out. So no client state is
// ever touched from two threads, and a burst of filter/prioritize calls never waits on the API.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "api/kube/client.h"
#include "api/kube/informer.h"
#include "api/kube/status.h"
#include "scheduler/cluster.h"

/* How often planned migrations are looked at, and the backoff of a refused eviction (a 429 from
 * a PodDisruptionBudget, or no answer): doubling from MIN to MAX, or the server's Retry-After
 * when longer. */
#define SCHED_KUBE_TICK_USEC        (1000000ull)
#define SCHED_KUBE_BACKOFF_MIN_USEC (1000000ull)
#define SCHED_KUBE_BACKOFF_MAX_USEC (60ull * 1000000)
/* Informer changes are published to placement in batches: at most this long after the first
 * change of a batch (a relist of thousands of pods is one publication, not thousands). */
#define SCHED_KUBE_VIEW_DELAY_USEC (100000ull)

struct sched_kube;

struct sched_kube_options {
        const char *kubeconfig; /* NULL or "": in-cluster when KUBERNETES_SERVICE_HOST is set */
        const char *sa_dir;     /* NULL: the service account's standard directory */
        unsigned max_concurrent_migrations;
        const char *instance; /* Events' reportingInstance, "memschedd-<host>" */
};

/* Starts the API thread for cl. *ret is NULL when no API is configured (no kubeconfig and not
 * in a cluster; said once in the log). Returns 0, or -EMEDIUMTYPE with err saying why the
 * configuration is unusable (exit 2), or another negative errno. */
int sched_kube_start(struct cluster *cl, const struct sched_kube_options *o,
                     struct sched_kube **ret, char *err, size_t err_size);

/* Stops the thread (requests still in flight are dropped) and frees k. Stop the HTTP server
 * first: a handler waiting in sched_kube_bind() needs the thread. NULL-safe. */
void sched_kube_stop(struct sched_kube *k);

/* Creates the Binding of pod NS/NAME (uid: precondition, may be NULL or "") to node and waits
 * for the API's answer in *ret_status. First, the pod must be Pending and unbound with that uid
 * as the pod informer knows it (one GET when it does not know the pod yet); else no Binding is
 * sent and -EPERM is returned with ret_status->message saying why. Returns 0 when the API
 * answered (look at the status), -EPERM, -ESHUTDOWN when stopping, -EINVAL or -ENOMEM. */
int sched_kube_bind(struct sched_kube *k, const char *namespace_, const char *name, const char *uid,
                    const char *node, struct kube_status *ret_status);

/* What /metrics says of the API: a copy the API thread refreshes every tick. */
struct sched_kube_stats {
        struct kube_client_stats client;
        struct kube_informer_stats nodes, pods;
        size_t n_nodes, n_pods; /* objects in the informers' tables */
        bool nodes_synced, pods_synced;
        uint64_t view_publications; /* views handed to placement */
        uint64_t bind_refusals;     /* binds refused before any Binding (not Pending, ...) */
        uint64_t bind_gets;         /* GETs of pods the informer did not know at bind time */
        uint64_t at_usec;           /* CLOCK_MONOTONIC of the copy; 0 before the first */
};

/* Copies the last stats (zeroed before the API thread's first tick). */
void sched_kube_get_stats(struct sched_kube *k, struct sched_kube_stats *ret);
