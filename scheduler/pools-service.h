// SPDX-License-Identifier: Apache-2.0
// The lease broker as memschedd runs it: the pure broker (pools.h) behind a lock, fed the real
// clock, getrandom() and the state store. Every change is written to the store before its
// answer goes out, so a restarted memschedd finds the offers and leases again, and on etcd the
// other replicas see it.
#pragma once

#include <pthread.h>

#include "api/codec.h"
#include "scheduler/pools.h"
#include "scheduler/store.h"

struct pool_service {
        pthread_mutex_t lock;
        struct pools pools;
        struct pools_rng rng;
        struct sched_store *store; /* borrowed */
        /* etcd: other replicas change offers and leases too, so every section starts from the
         * store's state, and a lease is written guarded by its donors' offers as that state had
         * them (store_put_guarded()): of two replicas granting the same free slab at once, one
         * writes, the other answers 503 and drops its section's changes. */
        bool shared;
        /* The stored offers as last read: what a lease's write is guarded by. */
        struct offer_seen *seen;
        size_t n_seen, cap_seen;
        bool lost_race; /* a guarded write failed in this section */
};

struct offer_seen {
        char node[API_NODE_NAME_MAX];
        uint64_t mod_revision;
        char *value;
};

/* Loads the offers and leases kept in st. */
int pool_service_open(struct sched_store *st, const struct pools_config *cfg,
                      struct pool_service **ret);
void pool_service_free(struct pool_service *ps);

/* Locks the broker and brings it to now_usec (CLOCK_REALTIME): expiries happen here. */
struct pools *pool_service_begin(struct pool_service *ps, uint64_t now_usec);
/* Writes what changed to the store and unlocks. Returns the first store error (the changes stay
 * marked and are written with the next call). */
int pool_service_end(struct pool_service *ps);

/* A node report from node: renews its pool offer, if it has one, and returns what the report's
 * answer tells a consumer of its leases ({"id", "state", "epoch", "expires_at_usec",
 * "revoked_slabs"} each, so that it learns of a revocation without waiting for its renewal), or
 * NULL when the node holds none. */
struct json_object *pool_service_report(struct pool_service *ps, const char *node,
                                        uint64_t now_usec);

/* Appends the pool and lease figures (Prometheus text) to b, as of now. NULL-safe. */
void pool_service_metrics(struct pool_service *ps, struct api_buf *b);

/* 128 bits of token from getrandom(). */
int pool_service_random(void *buf, size_t n);
