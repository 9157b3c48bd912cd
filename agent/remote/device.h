// SPDX-License-Identifier: Apache-2.0
// The consumer's block layer: a lease's slabs as one block device of n chunks (the lease's
// chunk order), each chunk on its replicas (replica.h), each replica reached through a link to
// its donor (link.h). Used by one thread, the worker that serves the kernel's NBD socket, so it
// takes no locks: reads, writes and copy steps run one at a time, which is what the replica
// state machine requires of copies and writes to one chunk.
//
// Epochs: the lease's epoch rises on every revocation and re-grant; the device presents the
// latest it knows. A donor still holding an older grant answers EAGAIN (it renews within its
// period), a link opened with an older epoch is fenced (ESTALE) and opened again with the new
// one; only a donor that is gone, refuses the token, or lost the grant fails a replica.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/remote/latency.h"
#include "agent/remote/link.h"
#include "agent/remote/replica.h"
#include "api/lease.h"

struct remote_device_stats {
        uint64_t reads, writes;
        uint64_t read_bytes, written_bytes;
        uint64_t replica_failures; /* replicas failed by a transfer, a revocation or a re-grant */
        uint64_t synced_bytes;     /* copied from survivors onto new slabs */
        uint64_t relinks;          /* links opened again under a newer epoch */
};

struct remote_device;

/* Opens a link to every unrevoked slab of l (copied). A slab that cannot be reached fails its
 * replica. -ENODATA when some chunk has no replica left, -EINVAL for a lease whose slabs do not
 * form a device (replica_set_from_lease()). */
int remote_device_open(const struct lease *l, int timeout_ms, struct remote_device **ret);
void remote_device_free(struct remote_device *d);

/* How the device learns the lease again when a donor says its epoch is old (a revocation it was
 * not told of): fills *ret (caller's lease_done) from memschedd, e.g. POST
 * /v1/leases/{id}/renew. Without one, a fenced replica is failed. Called from the I/O path. */
typedef int (*remote_device_refresh_t)(void *userdata, const struct lease *current,
                                       struct lease *ret);
void remote_device_set_refresh(struct remote_device *d, remote_device_refresh_t refresh,
                               void *userdata);

uint64_t remote_device_bytes(const struct remote_device *d);
const struct lease *remote_device_lease(const struct remote_device *d);
const struct replica_set *remote_device_replicas(const struct remote_device *d);
void remote_device_get_stats(const struct remote_device *d, struct remote_device_stats *ret);
/* Every transfer to the donor named donor so far, over all its slabs (also slabs since revoked),
 * timed around the link's call: NULL when there was none. Donors beyond the first
 * REMOTE_DEVICE_DONORS_MAX are not timed. Owned by d, valid until its next transfer. */
#define REMOTE_DEVICE_DONORS_MAX 16
const struct remote_latency *remote_device_donor_latency(const struct remote_device *d,
                                                         const char *donor);

/* [offset, offset+length) of the device, across chunks. 0, -ERANGE past the end, -EIO when a
 * chunk has no replica left that could serve it (the write is then not acknowledged), -EROFS
 * for a write once draining. */
int remote_device_read(struct remote_device *d, uint64_t offset, void *buf, size_t length);
int remote_device_write(struct remote_device *d, uint64_t offset, const void *buf, size_t length);

/* The lease as memschedd answered it last (a renewal): revoked slabs fail their replicas, new
 * slabs (re-granted replicas) join as syncing, and the epoch moves on. -EINVAL when nl is
 * another lease or has another geometry. */
int remote_device_update(struct remote_device *d, const struct lease *nl);
/* One copy step of up to max_bytes for every syncing replica. Returns how many replicas are
 * still syncing, or -ENODATA when a chunk lost its last healthy replica. */
int remote_device_repair_step(struct remote_device *d, uint64_t max_bytes);
/* Whether a replica wants a new slab: the consumer renews early to get it re-granted. */
bool remote_device_wants_slabs(const struct remote_device *d);

/* Called by remote_device_serve_nbd() between requests, at least every poll_ms: the owner's
 * periodic work on the device's thread (renewing the lease, applying the answer). */
typedef void (*remote_device_tick_t)(void *userdata, struct remote_device *d);
void remote_device_set_tick(struct remote_device *d, remote_device_tick_t tick, void *userdata);

/* Serves the kernel's NBD requests on fd (its end of the socketpair given to NBD_CMD_CONNECT)
 * until NBD_CMD_DISC, the peer closes, or *stop turns true (checked between requests, at least
 * every poll_ms); copy steps run while no request waits. Returns 0 after a disconnect, or the
 * socket's error. */
int remote_device_serve_nbd(struct remote_device *d, int fd, const volatile bool *stop,
                            int poll_ms);
