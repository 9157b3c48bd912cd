// SPDX-License-Identifier: Apache-2.0
// The consumer's connection to one slab on a donor: a hello with the lease's token and epoch, then
// synchronous READ/WRITE of extents of the slab, over TCP (requests and replies, proto.h) or RDMA
// (one-sided verbs, rdma.h) behind the same calls. The consumer's worker holds one link per slab
// replica; a link that failed is closed and its replica failed (replica.h).
#pragma once

#include <stdint.h>

#include "agent/remote/proto.h"
#include "api/pool.h"

struct rdma_link;
struct remote_link {
        int fd;                 /* >= 0 while open: the TCP socket, or the RDMA link's channel */
        struct rdma_link *rdma; /* the RDMA backend's connection, or NULL over TCP */
        uint64_t epoch;
        uint64_t slab_bytes;
        uint64_t next_handle;
};
#define REMOTE_LINK_NULL ((struct remote_link){ .fd = -1 })

/* Connects to the transport (an address or DNS name), says hello and waits for the donor's word,
 * each step within timeout_ms. An RDMA transport is reached over RDMA when this node has an RDMA
 * device, else over TCP at the same address and port (remote_transport_choose()). 0 when the
 * donor accepted; its refusal as a negative errno (-EACCES, -ESTALE, -EAGAIN, -ETIME, -ENOENT,
 * -ERANGE); connect and I/O errors. ret untouched on failure. */
int remote_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                     struct remote_link *ret);
/* One READ (into buf) or WRITE (from buf) of [offset, offset+length) of the slab. 0, the
 * donor's refusal (negative errno; -ESTALE also when an RDMA donor fenced the connection), or the
 * connection's error (the link is then closed). */
int remote_link_io(struct remote_link *l, enum remote_op op, uint64_t offset, void *buf,
                   uint32_t length);
/* Says BYE when open and closes. Safe on a closed link. */
void remote_link_close(struct remote_link *l);
