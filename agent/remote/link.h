// SPDX-License-Identifier: Apache-2.0
// The consumer's connection to one slab on a donor: a hello with the lease's token and epoch, then
// synchronous READ/WRITE of extents of the slab, over TCP (requests and replies, proto.h) or RDMA
// (one-sided verbs, rdma.h) behind the same calls. The consumer's worker holds one link per slab
// replica; a link that failed is closed and its replica failed (replica.h).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/remote/proto.h"
#include "api/pool.h"

/* The most one remote_link_start() moves: the RDMA link's bounce buffer (rdma.c). */
#define REMOTE_LINK_START_BYTES_MAX (128u << 10)

struct rdma_link;
struct remote_link {
        int fd;                 /* >= 0 while open: the TCP socket, or the RDMA link's channel */
        struct rdma_link *rdma; /* the RDMA backend's connection, or NULL over TCP */
        uint64_t epoch;
        uint64_t slab_bytes;
        uint64_t next_handle;
        /* The TCP request started and not finished (remote_link_start()). */
        bool pending;
        enum remote_op pending_op;
        uint64_t pending_handle;
        uint32_t pending_length;
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
/* remote_link_io() in two halves, so that one thread has a transfer in flight on several links at
 * once (both replicas of a write): start sends the request (a WRITE's bytes with it, copied or
 * sent before it returns) of at most REMOTE_LINK_START_BYTES_MAX, finish waits for its answer
 * (a READ's bytes into buf). One transfer at a time per link; every start is finished, unless
 * it failed. Errors and closing as remote_link_io(), except that there is no second try over RDMA
 * (remote_link_io() connects once more): a caller whose fast path fails goes through
 * remote_link_io(). */
int remote_link_start(struct remote_link *l, enum remote_op op, uint64_t offset, const void *buf,
                      uint32_t length);
int remote_link_finish(struct remote_link *l, void *buf);
/* Says BYE when open and closes. Safe on a closed link. */
void remote_link_close(struct remote_link *l);
