// SPDX-License-Identifier: Apache-2.0
// The consumer's replica state machine, pure (no I/O, no clock): a remote device of n chunks,
// each chunk held by up to two replicas (slabs on two different donors). The worker asks it where
// each block request goes and tells it how each transfer ended:
//   - a write goes to every live replica (healthy or syncing) and succeeds when one of them took
//     it; a replica that failed a transfer is failed for good (its donor died, or revoked it);
//   - a read is served by either healthy replica, alternating, and retried on the other;
//   - a failed replica is replaced by a new slab (the broker re-grants it on the next renewal),
//     which is filled from the survivor extent by extent (syncing) while writes keep landing on
//     both; when the copy reaches the chunk's end it is healthy again;
//   - a lease is released only after the device is drained (swapoff read every page back, or
//     no page of the chunk is in use): replica_set_may_release().
// Writes and copy steps of one chunk must not overlap in flight: the worker runs a copy step
// between requests, so a copy never carries data older than a write that was acknowledged.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/lease.h"

#define REPLICA_SLOTS   2
#define REPLICA_NO_SLAB UINT32_MAX

enum replica_state {
        REPLICA_NONE = 0, /* no slab in this slot (a lease without durability has one) */
        REPLICA_HEALTHY,  /* holds every acknowledged write of its chunk */
        REPLICA_SYNCING,  /* new; [0, synced_bytes) copied from the survivor */
        REPLICA_FAILED,   /* lost: a transfer failed or its slab was revoked */
};
const char *replica_state_to_string(enum replica_state s);

enum replica_set_state {
        REPLICA_SET_ACTIVE = 0,
        REPLICA_SET_DRAINING, /* swapoff is reading the pages back: reads only */
        REPLICA_SET_DRAINED,  /* nothing on it is in use: its slabs may be released */
};

struct replica {
        enum replica_state state;
        uint32_t slab; /* the caller's id of the slab (an index in its slab table) */
        uint64_t synced_bytes;
};

struct replica_chunk {
        struct replica slot[REPLICA_SLOTS];
        uint32_t read_turn; /* which healthy replica serves the next read */
};

struct replica_set {
        uint64_t chunk_bytes;
        size_t n_chunks;
        struct replica_chunk *chunks;
        enum replica_set_state state;
};

/* An empty device of n_chunks chunks of chunk_bytes, no replicas yet. -EINVAL for zero sizes. */
int replica_set_init(struct replica_set *s, size_t n_chunks, uint64_t chunk_bytes);
void replica_set_done(struct replica_set *s);

/* Puts slab into (chunk, slot). fresh: the device has never been written (a new lease), so the
 * replica is healthy at once; otherwise it is syncing from the chunk's healthy replica, and
 * -ENODATA when the chunk has none left (the data is lost; the caller fails the device). -EBUSY
 * when the slot holds a live replica, -ERANGE for a chunk or slot out of range. */
int replica_attach(struct replica_set *s, size_t chunk, unsigned slot, uint32_t slab, bool fresh);

/* Fails every replica on slab (its donor died or revoked it). Returns how many it failed. */
size_t replica_fail_slab(struct replica_set *s, uint32_t slab);

/* Where a write of chunk goes: fills ret_slots with the live slots (1 or 2) and returns their
 * count; -EIO when the chunk has no live replica, -EROFS once draining. */
int replica_plan_write(const struct replica_set *s, size_t chunk,
                       unsigned ret_slots[REPLICA_SLOTS]);
/* How the write to (chunk, slot) ended: r < 0 fails that replica. */
void replica_write_done(struct replica_set *s, size_t chunk, unsigned slot, int r);
/* Whether an acknowledged write may be reported to the kernel: returns 0 when at least one of
 * the planned slots took it and is still live, -EIO otherwise. */
int replica_write_outcome(const struct replica_set *s, size_t chunk,
                          const unsigned slots[REPLICA_SLOTS], size_t n, const int results[]);

/* Which slot serves a read of chunk: a healthy one, alternating between two. -EIO when none. */
int replica_plan_read(struct replica_set *s, size_t chunk, unsigned *ret_slot);
/* How the read from (chunk, slot) ended: r < 0 fails that replica (then plan again). */
void replica_read_done(struct replica_set *s, size_t chunk, unsigned slot, int r);

/* A (chunk, slot) that needs a new slab: failed or empty while the chunk's other replica is
 * healthy (a non-durable chunk, one slot NONE from the start, is not repaired). 1 and the
 * position when there is one, 0 when none. */
int replica_next_repair(const struct replica_set *s, bool durable, size_t *ret_chunk,
                        unsigned *ret_slot);

/* The next copy step for the syncing (chunk, slot): from ret_src_slot, [ret_offset,
 * ret_offset + ret_length) of the chunk, at most max_bytes. 1 with a step, 0 when no replica of
 * chunk is syncing in slot, -ENODATA when the chunk has no healthy source left. */
int replica_sync_next(const struct replica_set *s, size_t chunk, unsigned slot, uint64_t max_bytes,
                      unsigned *ret_src_slot, uint64_t *ret_offset, uint64_t *ret_length);
/* How that step ended: read_r for the source, write_r for the target; a failure fails that
 * replica. On success the cursor advances, and the replica is healthy at the chunk's end. */
void replica_sync_done(struct replica_set *s, size_t chunk, unsigned slot, unsigned src_slot,
                       uint64_t length, int read_r, int write_r);

/* Chunks without any live replica: the device has lost data (never 0 until two failures hit one
 * chunk before its repair finished). */
size_t replica_set_lost_chunks(const struct replica_set *s);
/* Chunks with fewer healthy replicas than wanted (2 when durable). */
size_t replica_set_degraded_chunks(const struct replica_set *s, bool durable);

void replica_set_begin_drain(struct replica_set *s);
/* The caller's word that nothing on the device is in use any more (swapoff returned). */
void replica_set_drained(struct replica_set *s);
/* Whether slab may be given back: when the device is drained, or when the slab holds no replica
 * that a chunk still needs (every replica on it failed, or each of its chunks has another healthy
 * replica elsewhere, which is how a slab is moved: sync a new one, then release the old). */
bool replica_slab_releasable(const struct replica_set *s, uint32_t slab);
bool replica_set_may_release(const struct replica_set *s);

/* A fresh device from a lease just granted: chunk_bytes from its slabs (all of one length),
 * each unrevoked slab i attached healthy to (chunk, replica) with id i. -EINVAL for a lease
 * without slabs, with mixed lengths, or with two slabs in one place. */
int replica_set_from_lease(struct replica_set *s, const struct lease *l);
