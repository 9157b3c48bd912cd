// SPDX-License-Identifier: Apache-2.0
// Memory pools (PUT/DELETE /v1/pools/{node}, GET /v1/pools): what a donor node offers to lend
// (bytes cut into slabs, and where to reach it), and the broker's view of each donor.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"

enum pool_transport_kind {
        POOL_TRANSPORT_RDMA = 0, /* rdma_cm on address:port, one-sided READ/WRITE */
        POOL_TRANSPORT_TCP,      /* the same protocol over TCP where no RDMA device exists */
        _POOL_TRANSPORT_MAX,
};
const char *pool_transport_kind_to_string(enum pool_transport_kind k);
int pool_transport_kind_from_string(const char *s);

#define POOL_TRANSPORTS_MAX 8
/* An IP address or DNS name, as a consumer connects to it. */
#define POOL_ADDRESS_MAX 254
/* Slabs are whole pages and at least 1 MiB: smaller ones would make leases of thousands. */
#define POOL_SLAB_BYTES_MIN (1ull << 20)
#define POOL_PAGE_BYTES     4096ull
/* Slabs per donor: bounds what the broker walks and keeps per donor (16 TiB in 1 GiB slabs). */
#define POOL_SLABS_MAX 16384ull

struct pool_transport {
        enum pool_transport_kind kind;
        char address[POOL_ADDRESS_MAX];
        uint16_t port;
};

struct pool_offer {
        char node[API_NODE_NAME_MAX]; /* the donor; from the URL */
        uint64_t bytes;               /* offered; a whole number of slabs is used */
        uint64_t slab_bytes;
        struct pool_transport transports[POOL_TRANSPORTS_MAX];
        size_t n_transports;
};

/* PUT body: {"bytes", "slab_bytes", "transports": [{"kind": "rdma"|"tcp", "address", "port"}]}
 * (and "node", which must then match ret->node when that is set). bytes >= slab_bytes, and
 * at most POOL_SLABS_MAX slabs; slab_bytes a multiple of 4096 and >= 1 MiB; 1..8 transports. */
int pool_offer_decode(const struct json_object *o, const char *path, struct pool_offer *ret,
                      struct api_error *err);
/* {"node", "bytes", "slab_bytes", "transports": [...]} */
struct json_object *pool_offer_encode(const struct pool_offer *o);
struct json_object *pool_transport_encode(const struct pool_transport *t);

/* A slab of this donor lent out: what the donor checks a connection against (the PUT answer
 * hands them to the donor; nobody else reads them). */
struct pool_grant {
        const char *lease_id;
        const char *consumer;
        uint64_t epoch;
        uint64_t offset, length;
        const char *token;
        uint64_t expires_at_usec;
};

/* One grant of the PUT answer's "grants" (see pool_donor_status_encode()), as the donor reads
 * it: the strings borrow from o (valid while o is). lease and token must be non-empty and fit
 * LEASE_ID_MAX / LEASE_TOKEN_MAX (api/lease.h), length nonzero. */
int pool_grant_decode(const struct json_object *o, const char *path, struct pool_grant *ret,
                      struct api_error *err);

/* The donor's side of fencing (the broker hands out grants, each donor checks them): whether a
 * connection presenting (token, epoch) may use grant g at now_usec. 0 when it may; -EACCES for a
 * wrong token, -ESTALE for another epoch than the grant's current one (a revocation or re-grant
 * happened since), -ETIME when expired. The token comparison takes the same time whatever the
 * token. */
int pool_fence_check(const struct pool_grant *g, const char *token, uint64_t epoch,
                     uint64_t now_usec);

/* One donor as the broker sees it (GET /v1/pools, and the PUT answer with its grants). */
struct pool_donor_status {
        const struct pool_offer *offer;
        uint64_t slabs, free_slabs;
        uint64_t leased_bytes, free_bytes;
        uint64_t renewed_at_usec, expires_at_usec; /* CLOCK_REALTIME */
        const struct pool_grant *grants;           /* NULL: not encoded */
        size_t n_grants;
};
/* {"node", "bytes", "slab_bytes", "transports", "slabs", "free_slabs", "leased_bytes",
 *  "free_bytes", "renewed_at_usec", "expires_at_usec"[, "grants": [{"lease", "consumer",
 *  "epoch", "offset", "length", "token", "expires_at_usec"}]]} */
struct json_object *pool_donor_status_encode(const struct pool_donor_status *d);

/* GET /v1/pools: {"donors": [...], "donor_count", "offered_bytes", "leased_bytes",
 * "free_bytes"}; takes ownership of donors (a JSON array of pool_donor_status_encode()). */
struct json_object *pool_list_encode(struct json_object *donors, uint64_t offered_bytes,
                                     uint64_t leased_bytes, uint64_t free_bytes);
