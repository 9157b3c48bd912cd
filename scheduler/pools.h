// SPDX-License-Identifier: Apache-2.0
// The lease broker: donors' offers, consumers' leases of slabs on them, and what happens with
// time (renewal, expiry, revocation). Pure: no I/O and no clock; the caller passes the time
// (CLOCK_REALTIME microseconds, so that deadlines survive a restart), the placement RNG and the
// source of token randomness, and persists what pools_take_changes() says changed.
//
// Placement follows Infiniswap: each slab goes to the better of two donors drawn at random among
// those with a free slab (power of two choices: the one with more free slabs), which spreads
// load almost as well as looking at every donor while touching only two. A durable lease (the
// default) gets two replicas of every chunk on two different donors, so one donor lost loses no
// page. When the pool cannot hold the lease, nothing is granted (-ENOSPC).
//
// Revocation: a donor that withdraws (or whose offer is not renewed in time) revokes its slabs;
// an expired lease loses all of them. Every revocation and every re-grant of a revoked replica
// raises the lease's epoch; donors hold each grant with its epoch and refuse a connection that
// presents an older one (pool_fence_check), so a consumer that missed a revocation cannot write.
// The consumer learns of it from its next renewal (or any lease answer): the lease's state, and
// each slab's "revoked".
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/lease.h"
#include "api/pool.h"

struct pools_config {
        uint64_t offer_ttl_usec;         /* an offer not renewed for this long is withdrawn */
        uint64_t expired_retention_usec; /* an expired lease is still answered this long */
};
#define POOLS_OFFER_TTL_USEC_DEFAULT         (60ull * 1000000)
#define POOLS_EXPIRED_RETENTION_USEC_DEFAULT (600ull * 1000000)

/* Placement randomness: a seeded splitmix64 stream, so tests are deterministic. */
struct pools_rng {
        uint64_t state;
};
uint64_t pools_rng_next(struct pools_rng *rng);

/* Fills buf with n unguessable bytes (getrandom in memschedd). Returns 0 or a negative errno. */
typedef int (*pools_random_fn)(void *buf, size_t n);

struct pool_donor {
        struct pool_offer offer;
        uint64_t renewed_at_usec;
        bool dirty; /* to be saved */
};

struct pool_lease {
        struct lease l;
        bool dirty;
};

struct pools {
        struct pools_config cfg;
        pools_random_fn random;
        struct pool_donor *donors;
        size_t n_donors, cap_donors;
        struct pool_lease *leases;
        size_t n_leases, cap_leases;
        /* Donors and leases gone since the last pools_take_changes(): their store keys. */
        char (*gone)[80 + API_NODE_NAME_MAX];
        size_t n_gone, cap_gone;
        uint64_t revocations_total; /* slabs revoked (withdrawal, offer expiry, lease expiry) */
        uint64_t expirations_total; /* leases expired unrenewed */
};

void pools_init(struct pools *p, const struct pools_config *cfg, pools_random_fn random);
void pools_done(struct pools *p);

/* Registers or renews node's offer. A smaller offer (or another slab size) revokes the slabs
 * that no longer fit. Returns 1 when new, 0 when renewed. */
int pools_offer_put(struct pools *p, const struct pool_offer *o, uint64_t now_usec);
/* Renews node's offer as it stands (a donor's node report renews it like a PUT). -ENOENT when it
 * has none. */
int pools_offer_touch(struct pools *p, const char *node, uint64_t now_usec);
/* Withdraws node's offer and revokes its slabs. -ENOENT when it has none. */
int pools_offer_withdraw(struct pools *p, const char *node, uint64_t now_usec);
/* The donor, or NULL. Borrowed until the next call that changes p. */
const struct pool_donor *pools_donor_find(const struct pools *p, const char *node);
/* Slabs of donor d: in all, free (not held by an unrevoked slab of any lease). */
void pools_donor_slabs(const struct pools *p, const struct pool_donor *d, uint64_t *ret_slabs,
                       uint64_t *ret_free);
/* The grants on node's slabs (unrevoked slabs of active leases), malloc'ed (caller frees the
 * array; strings borrow from p until its next change). */
int pools_donor_grants(const struct pools *p, const char *node, struct pool_grant **ret,
                       size_t *ret_n);

/* Grants a lease for q at now_usec. With q->id set and a lease of that id already held by the
 * same node, returns that lease and 0 (an idempotent retry); -EEXIST when another node holds the
 * id. -ENOSPC when the free slabs cannot hold it (and, durable, not on two donors a chunk).
 * Returns 1 when granted; *ret borrows the lease until the next change of p. */
int pools_lease_grant(struct pools *p, const struct lease_request *q, struct pools_rng *rng,
                      uint64_t now_usec, const struct lease **ret);
/* Extends an active lease to now + ttl and re-grants its revoked replicas where the pool has
 * room (raising the epoch). An expired lease is answered as it is. -ENOENT when unknown. */
int pools_lease_renew(struct pools *p, const char *id, struct pools_rng *rng, uint64_t now_usec,
                      const struct lease **ret);
/* Ends a lease: its slabs are free again. -ENOENT when unknown. */
int pools_lease_release(struct pools *p, const char *id);
const struct lease *pools_lease_find(const struct pools *p, const char *id);

/* Expires leases and offers whose time is up and forgets expired leases after the retention.
 * Returns how many things changed. */
size_t pools_sweep(struct pools *p, uint64_t now_usec);

struct pools_totals {
        uint64_t offered_bytes; /* whole slabs of live offers */
        uint64_t leased_bytes;  /* slabs held by active leases (replicas counted) */
        uint64_t free_bytes;
        size_t donors, leases_active;
};
void pools_totals(const struct pools *p, struct pools_totals *ret);

/* Restoring from the store: no placement, no revocation, nothing marked to save. */
int pools_restore_offer(struct pools *p, const struct pool_offer *o, uint64_t renewed_at_usec);
int pools_restore_lease(struct pools *p, struct lease *l); /* takes l's slabs */

/* What changed since the last call, for the store: calls save_offer / save_lease for each
 * changed donor and lease and remove for each gone key ("pools/NODE", "leases/ID"), and clears
 * the marks of those whose callback returned >= 0. Returns the first error. */
struct pools_sink {
        int (*save_offer)(void *ud, const struct pool_donor *d);
        int (*save_lease)(void *ud, const struct lease *l);
        int (*remove)(void *ud, const char *key);
        void *ud;
};
int pools_take_changes(struct pools *p, const struct pools_sink *sink);
