// SPDX-License-Identifier: Apache-2.0
// memschedd as one of several replicas on etcd: a thread that campaigns for leadership
// (store-election.h) and keeps the cluster model current with what the other replicas write
// (cluster_follow). Only the leader plans migrations and sweeps expired reservations
// (cluster->follower is false only there); every replica answers the extender and the REST API
// from its model, and writes from any replica go through etcd's compare-and-swap.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/cluster.h"

struct replica;

/* Starts the thread; identity names this replica in the leader key. The cluster counts as a
 * follower until the first election step makes it leader. */
int replica_start(struct cluster *c, const char *identity, uint64_t lease_ttl_sec,
                  struct replica **ret);
/* Stops the thread and resigns, so that another replica takes over at once. NULL is a no-op. */
void replica_stop(struct replica *r);
bool replica_is_leader(const struct replica *r);
