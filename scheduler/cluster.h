// SPDX-License-Identifier: Apache-2.0
// The cluster state owner: serialises writers (report ingestion, bind decisions, expiry), builds
// and publishes snapshots, runs the migration planner and keeps plans durable. Readers only
// touch cluster->slot (snapshot_acquire) and the pod cache.
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "api/k8s_pod.h"
#include "api/node_report.h"
#include "scheduler/config.h"
#include "scheduler/model.h"
#include "scheduler/pools-service.h"
#include "scheduler/store.h"

/* Pods the extender has seen in filter/prioritize calls, so that bind (which carries only the
 * pod's name and uid) can charge the right request to the node and complete migrations. */
#define POD_CACHE_SLOTS   4096
#define POD_CACHE_STRIPES 64

struct replica;

struct pod_cache_entry {
        char key[320]; /* uid, or namespace/name */
        char namespace[64];
        char owner_uid[64];
        uint64_t request_bytes;
        bool single_numa;
        enum qos_class qos;
};

struct cluster {
        struct sched_config cfg;
        struct snapshot_slot slot;
        pthread_mutex_t write_lock;
        struct sched_store *store;
        uint64_t plan_seq;
        atomic_ullong store_revision; /* the plans in the model are current to it */
        /* Replicated on etcd and not the elected leader: plan nothing, expire nothing; the
         * leader does, and cluster_follow() brings its writes here. */
        atomic_bool follower;
        pthread_mutex_t cache_locks[POD_CACHE_STRIPES];
        struct pod_cache_entry *cache;
        atomic_ullong reports_total, binds_total, migrations_planned_total,
            migrations_expired_total;
        struct pool_service *pools; /* the lease broker, on the same store */
        /* Replicated on etcd (store-replica.c, store-reports.c); NULL on SQLite. report_accepted
         * is told of each report cluster_ingest accepted, under the write lock (it must not
         * block), so that the other replicas learn of it too. */
        struct replica *replica;
        void (*report_accepted)(void *userdata, const char *name, const struct node_report *r,
                                uint64_t now_real_usec);
        void *report_accepted_userdata;
};

/* Opens the SQLite store at state_path and loads the durable plans. */
int cluster_new(const struct sched_config *cfg, const char *state_path, struct cluster **ret);
/* The same with the store that so selects (SQLite or etcd). */
int cluster_open(const struct sched_config *cfg, const struct store_options *so,
                 struct cluster **ret);
void cluster_free(struct cluster *c);

/* Replaces node `name`'s report (takes ownership of *report), then runs the planner for it. */
int cluster_ingest(struct cluster *c, const char *name, struct node_report *report,
                   uint64_t now_usec, uint64_t now_real_usec);

/* Records that the pod was bound to node: charges its request there until a report shows it,
 * and completes a migration whose reservation it takes. *ret_migration (may be NULL) gets the
 * id of that migration or NULL (malloc'ed). -ENOENT if the node is unknown. */
int cluster_bind(struct cluster *c, const char *namespace, const char *name, const char *uid,
                 const char *node, uint64_t now_usec, char **ret_migration);

/* Records a step of carrying out planned migration id (see struct migration): step and message
 * (copied; message may be NULL), one more eviction attempt when count_attempt, evicted_at_usec
 * when not 0, and state cancelled when cancel. Durable before it is published. Returns 0,
 * -ENOENT when the plan is unknown or no longer planned, -ESTALE on a follower replica, or the
 * store's error. */
int cluster_migration_step(struct cluster *c, const char *id, const char *step, const char *message,
                           bool count_attempt, uint64_t evicted_at_usec, bool cancel);

/* Waits up to timeout_ms for plans that other replicas changed in the shared store (etcd) and
 * applies them to the model. Returns 1 if a new snapshot was published, 0 if nothing changed,
 * -EOPNOTSUPP on SQLite (no other replica). Blocks without the write lock; run it in a loop. */
int cluster_follow(struct cluster *c, uint64_t timeout_ms);
/* Reloads every plan from the store (a new leader catches up before it plans). */
int cluster_resync(struct cluster *c);

/* Expires reservations and assumed pods. Returns 1 if a new snapshot was published. */
int cluster_tick(struct cluster *c, uint64_t now_usec, uint64_t now_real_usec);

void cluster_remember_pod(struct cluster *c, const struct k8s_pod *p);

/* Publishes a snapshot with the Kubernetes API's view (takes the caller's reference, also on
 * failure; NULL drops the view): what memschedd's API thread does when its informers change. */
int cluster_set_kube_view(struct cluster *c, struct kube_view *view);
