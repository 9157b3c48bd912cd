// SPDX-License-Identifier: Apache-2.0
// The RDMA transport of remote swap (libibverbs + librdmacm, RC queue pairs): the donor's
// listener and the consumer's link to one slab. The handshake is the block protocol's hello as
// the consumer's first SEND and the donor's answer (proto.h) with the slab's address and rkey;
// pages then move by one-sided RDMA READ/WRITE, which the donor's CPU never sees. So the donor
// fences differently from TCP: each connection's slab is a memory region of its own, and when
// the grant check (donor.c, the one home of that decision) no longer passes, the donor
// deregisters that region and disconnects.
//
// The donor listens with rdma_cm on the same port number as its TCP listener (rdma_cm's port
// space is not the kernel's TCP ports), so a consumer that cannot do RDMA reaches the same donor
// over TCP at the address and port of the RDMA transport: remote_transport_choose().
//
// Built without libibverbs/librdmacm, every entry point answers -EPROTONOSUPPORT. Built with them,
// nothing links them: they are loaded at the first use (rdma-dl.h), and a node where they cannot
// be is one without an RDMA device (-ENODEV).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/remote/proto.h"
#include "api/pool.h"

/* 1 when this node has an RDMA device, 0 when it has none, -EPROTONOSUPPORT when this build has
 * no RDMA backend. The first call on a node with a verbs device loads libibverbs and librdmacm
 * (rdma-dl.h); where they cannot be loaded, this node has no device it could use: 0, after one
 * log line that names the library. */
int remote_rdma_available(void);

/* The transport a consumer uses for a slab the broker named with kind offered, given
 * remote_rdma_available()'s word local_rdma on this node: RDMA only when both sides can, else
 * TCP (to the same address and port). Pure. */
enum pool_transport_kind remote_transport_choose(enum pool_transport_kind offered, int local_rdma);

/* ---- donor side */

/* The grant check of the donor that owns the listener: 0 to serve the slab the hello names, or
 * its refusal (donor_check()'s errnos, -ERANGE for a slab outside the region). Called from the
 * listener's thread. */
typedef int (*rdma_grant_check_t)(void *userdata, const struct remote_hello *h);

struct rdma_listener;

/* Listens with rdma_cm on address (numeric; NULL: any) and port, serving slabs of the region
 * [mem, mem+bytes), from a thread of its own. -EPROTONOSUPPORT when built without RDMA, -ENODEV
 * when no RDMA device serves address, rdma_cm's errors otherwise. */
int rdma_listener_new(uint8_t *mem, uint64_t bytes, const char *address, uint16_t port,
                      rdma_grant_check_t check, void *userdata, struct rdma_listener **ret);
/* Asks the listener to check every connection against the grants again now (they changed);
 * it also does so every second, for expiry. */
void rdma_listener_kick(struct rdma_listener *l);
/* Disconnects everyone, deregisters every region, joins the thread. NULL is fine. */
void rdma_listener_free(struct rdma_listener *l);
/* Connections established and accepted (a valid hello) since the start, and open now. */
uint64_t rdma_listener_accepted(const struct rdma_listener *l);
size_t rdma_listener_connections(const struct rdma_listener *l);

/* ---- consumer side */

struct rdma_link;

/* Connects to the donor at t's address and port with rdma_cm, says hello and waits for the
 * answer, each step within timeout_ms. 0 when accepted; the donor's refusal as a negative errno
 * (as remote_link_open()); -ENODEV when no local RDMA device reaches the address; -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH; -EPROTONOSUPPORT when built without RDMA. */
int rdma_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                   struct rdma_link **ret);
/* A descriptor that stays open as long as the link (its rdma_cm event channel). */
int rdma_link_fd(const struct rdma_link *l);
/* One READ into buf or WRITE from buf of [offset, offset+length) of the slab, one-sided, waiting
 * for its completion within the link's timeout. 0; -ERANGE outside the slab (the link stays
 * open); -ESTALE when the donor revoked the region (fenced); -EIO, -ETIMEDOUT otherwise. After
 * any error but -ERANGE the link is useless: close it. */
int rdma_link_io(struct rdma_link *l, enum remote_op op, uint64_t offset, void *buf,
                 uint32_t length);
/* rdma_link_io() in two halves, so that one thread keeps transfers on several links in flight
 * (a write to both replicas at once): start posts one READ or WRITE of at most
 * REMOTE_LINK_START_BYTES_MAX (a write's bytes are copied at once), finish waits for it and, for
 * a read, copies into buf. One transfer at a time per link (-EINVAL otherwise); no reconnect
 * (rdma_link_io() tries once more, the caller here). Errors as rdma_link_io(). */
int rdma_link_start(struct rdma_link *l, enum remote_op op, uint64_t offset, const void *buf,
                    uint32_t length);
int rdma_link_finish(struct rdma_link *l, void *buf);
/* Disconnects and frees. NULL is fine. */
void rdma_link_close(struct rdma_link *l);
