// SPDX-License-Identifier: Apache-2.0
// The consumer's connection to one slab on a donor (TCP): a hello with the lease's token and
// epoch, then synchronous READ/WRITE of extents of the slab. The consumer's worker holds one link
// per slab replica; a link that failed is closed and its replica failed (replica.h).
#pragma once

#include <stdint.h>

#include "agent/remote/proto.h"
#include "api/pool.h"

struct remote_link {
        int fd;
        uint64_t epoch;
        uint64_t slab_bytes;
        uint64_t next_handle;
};
#define REMOTE_LINK_NULL ((struct remote_link){ .fd = -1 })

/* Connects to the transport (TCP; an address or DNS name), says hello and waits for the donor's
 * word, each step within timeout_ms. 0 when the donor accepted; its refusal as a negative errno
 * (-EACCES, -ESTALE, -EAGAIN, -ETIME, -ENOENT, -ERANGE); -EPROTONOSUPPORT for an RDMA
 * transport (a later step); connect and I/O errors. ret untouched on failure. */
int remote_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                     struct remote_link *ret);
/* One READ (into buf) or WRITE (from buf) of [offset, offset+length) of the slab. 0, the
 * donor's refusal (negative errno), or the connection's error (the link is then closed). */
int remote_link_io(struct remote_link *l, enum remote_op op, uint64_t offset, void *buf,
                   uint32_t length);
/* Says BYE when open and closes. Safe on a closed link. */
void remote_link_close(struct remote_link *l);
