// SPDX-License-Identifier: Apache-2.0
// The donor: memagentd with poolDonate offers a region of its memory, locked so that lent pages
// are never swapped or reclaimed under the consumer, and serves its slabs over TCP with the block
// protocol (proto.h). A connection names one slab with its lease id, token and epoch, and is
// accepted only when a grant from memschedd (the PUT /v1/pools answer) matches it; every request
// is checked against the grant table again, so a revocation or re-grant fences open connections
// at their next request. One thread accepts, one thread serves each connection: the sd-event loop
// of memagentd never waits on a consumer.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/lease.h"
#include "api/pool.h"

struct donor_config {
        uint64_t bytes;             /* offered; rounded down to whole slabs */
        uint64_t slab_bytes;        /* POOL_SLAB_BYTES_MIN or more, a multiple of POOL_PAGE_BYTES */
        const char *listen_address; /* numeric IPv4/IPv6; NULL: any */
        uint16_t port;              /* 0: the kernel picks (tests) */
        bool lock;                  /* mlock the region; false only in tests without the rlimit */
};

/* A grant as the donor keeps it (pool_grant with its strings owned). */
struct donor_grant {
        char lease_id[LEASE_ID_MAX];
        char consumer[API_NODE_NAME_MAX];
        char token[LEASE_TOKEN_MAX];
        uint64_t epoch;
        uint64_t offset, length;
        uint64_t expires_at_usec; /* CLOCK_REALTIME */
};

struct donor;

/* Maps and locks the region and binds the listening socket. -EINVAL for a bad size, -ENOMEM or
 * -EAGAIN when the memory cannot be locked (RLIMIT_MEMLOCK), and the socket's errors. */
int donor_new(const struct donor_config *cfg, struct donor **ret);
/* Starts the accepting thread, and the RDMA listener on the same port when an RDMA device serves
 * the listen address (otherwise TCP only, said in the log). */
int donor_start(struct donor *d);
/* Stops accepting, closes every connection, joins the threads, unmaps. NULL is fine. */
void donor_free(struct donor *d);
static inline void donor_freep(struct donor **d)
{
        donor_free(*d);
}

uint16_t donor_port(const struct donor *d);
uint64_t donor_bytes(const struct donor *d); /* whole slabs */
/* The region itself: tests look at what consumers wrote. */
uint8_t *donor_memory(const struct donor *d);

/* Replaces the grant table (the latest PUT answer is the truth). Grants outside the region are
 * dropped with a warning. */
int donor_set_grants(struct donor *d, const struct donor_grant *grants, size_t n);
/* Connections open (TCP and RDMA) and requests served over TCP, for status and tests. */
size_t donor_connections(const struct donor *d);
/* Whether slabs are served over RDMA too (an RDMA device serves the listen address), and the
 * RDMA connections accepted since the start. */
bool donor_serves_rdma(const struct donor *d);
uint64_t donor_rdma_accepted(const struct donor *d);
uint64_t donor_requests_served(const struct donor *d);
uint64_t donor_requests_refused(const struct donor *d);

/* The donor's decision on one presented (lease, token, epoch) for [offset, offset+length) of
 * its region, pure: 0 to serve, -ENOENT without a grant for that lease and slab, -EACCES for a
 * wrong token, -ESTALE for an epoch older than the grant's, -EAGAIN for a newer one (this donor
 * has not seen the broker's latest answer yet: the consumer retries after the donor's next
 * renewal), -ETIME when the grant expired. */
int donor_check(const struct donor_grant *grants, size_t n, const char *lease_id, const char *token,
                uint64_t epoch, uint64_t offset, uint64_t length, uint64_t now_usec);

/* The offer for PUT /v1/pools/{node}: bytes, slab_bytes and the transports at address and the
 * listening port: RDMA first when served, then TCP. */
int donor_offer(const struct donor *d, const char *node, const char *address,
                struct pool_offer *ret);
