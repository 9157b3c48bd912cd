// SPDX-License-Identifier: Apache-2.0
// Leader election through the state store: the leader is whoever holds one key, created under a
// lease only while the key is absent (create_revision == 0), so two campaigners never both win.
// The leader renews its lease on every step; when a renewal fails, or the step comes too late to
// be sure the lease still lives, it steps down at once (it may find out on the next step that it
// still holds the key and take it up again). If the leader dies, its lease expires after ttl_sec
// and the next campaigner to step takes the key.
//
// Steps block on the store (see store-etcd.c); call election_step() every ttl_sec / 3 or so.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/store.h"

struct election;

/* key: the record campaigned for ("leader"); identity: this replica's name, stored as the key's
 * value. The store must outlive the election. */
int election_new(struct sched_store *st, const char *key, const char *identity, uint64_t ttl_sec,
                 struct election **ret);
/* Frees without resigning: the lease runs out on its own. */
void election_free(struct election *e);

/* Campaigns (follower) or renews (leader). Returns 1 when this replica leads after the step,
 * 0 when another one does, a negative errno when the store could not be asked (not leading). */
int election_step(struct election *e);
/* Whether this replica leads now: it won, and its last renewal is recent enough that its lease
 * cannot have expired yet. */
bool election_is_leader(const struct election *e);
/* The identity that held the key at the last step ("" when nobody did). */
const char *election_leader_identity(const struct election *e);
/* Gives up the key at once (revokes the lease) so that another replica can take over. */
int election_resign(struct election *e);
