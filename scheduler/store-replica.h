// SPDX-License-Identifier: Apache-2.0
// memschedd as one of several replicas on etcd: a thread that campaigns for leadership
// (store-election.h) and keeps the cluster model current with what the other replicas write
// (cluster_follow), and shares node reports with the other replicas (store-reports.h). Only the
// leader plans migrations and sweeps expired reservations (cluster->follower is false only there);
// every replica answers the extender and the REST API from its model, and writes from any replica
// go through etcd's compare-and-swap.
#pragma once

#include <stdbool.h>
#include <stddef.h>
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

/* How far behind the store this replica's model may be, in microseconds: the time since its
 * watches (plans, shared node reports) were last known current, 0 while they are. Where a watch
 * is broken, the time since it broke plus the bound below, so that it reads as lagging at once. */
uint64_t replica_lag_usec(const struct replica *r);
/* Whether the model is current enough to answer from: both watches current within
 * REPLICA_READY_LAG_USEC. Writes a line for /readyz to buf ("leader, lag 0.2 s" and why not).
 * A NULL replica (SQLite, the only writer) is always ready. */
#define REPLICA_READY_LAG_USEC (5 * 1000000ULL)
bool replica_ready(const struct replica *r, char *buf, size_t size);
