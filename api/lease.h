// SPDX-License-Identifier: Apache-2.0
// Memory leases (POST /v1/leases, POST /v1/leases/{id}/renew, DELETE /v1/leases/{id},
// GET /v1/leases[/{id}]): a consumer node borrows bytes from the pools for a time, as slabs on
// donors, each reached through a transport with a token, and fenced by the lease's epoch.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "api/pool.h"

/* Lease ids are RFC 1123 labels (they travel in URLs): the broker makes "l" and 24 hex digits;
 * a client may choose its own to make its create idempotent. */
#define LEASE_ID_MAX 64
/* A slab token: 128 random bits in hex. */
#define LEASE_TOKEN_BYTES 16
#define LEASE_TOKEN_MAX   (2 * LEASE_TOKEN_BYTES + 1)
#define LEASE_TTL_SEC_MAX 86400
/* Slabs per lease (both replicas counted): bounds a lease's record and answer. */
#define LEASE_SLABS_MAX 1024

enum lease_state {
        LEASE_ACTIVE = 0, /* renewable; some slabs may be revoked (see each slab) */
        LEASE_EXPIRED,    /* not renewed in time: every slab revoked; drain and forget it */
        _LEASE_STATE_MAX,
};
const char *lease_state_to_string(enum lease_state s);
int lease_state_from_string(const char *s);

struct lease_slab {
        char donor[API_NODE_NAME_MAX];
        struct pool_transport transport; /* the donor's first transport (RDMA preferred) */
        uint64_t offset, length;         /* in the donor's offered memory */
        uint32_t chunk;                  /* which length-sized piece of the lease it holds */
        uint32_t replica;                /* 0, or 1 for the second copy of a durable lease */
        char token[LEASE_TOKEN_MAX];     /* presented to the donor; never logged */
        bool revoked;                    /* the donor no longer serves it */
};

struct lease {
        char id[LEASE_ID_MAX];
        char node[API_NODE_NAME_MAX]; /* the consumer */
        uint64_t bytes;               /* asked for; the slabs cover at least that */
        uint64_t ttl_sec;
        bool durable; /* two replicas of every chunk on two different donors */
        enum lease_state state;
        uint64_t epoch; /* grows on every revocation and re-grant; donors refuse older ones */
        uint64_t created_at_usec, renewed_at_usec, expires_at_usec; /* CLOCK_REALTIME */
        struct lease_slab *slabs;
        size_t n_slabs;
};
void lease_done(struct lease *l);
int lease_copy(const struct lease *src, struct lease *ret);

/* {"id", "node", "bytes", "ttl_seconds", "durable", "state", "epoch", "created_at_usec",
 *  "renewed_at_usec", "expires_at_usec", "slabs": [{"donor", "transport", "address", "port",
 *  "offset", "length", "chunk", "replica", "token", "revoked"}]}. The tokens only when
 * with_tokens (the consumer's own answers and the store), else null. */
struct json_object *lease_encode(const struct lease *l, bool with_tokens);
/* The stored form (with tokens). */
int lease_decode(const struct json_object *o, const char *path, struct lease *ret,
                 struct api_error *err);

/* POST /v1/leases: {"node", "bytes", "ttl_seconds", "durable": true (default), "id" (optional)}
 * bytes 1..INT64_MAX; ttl_seconds 1..86400. */
struct lease_request {
        char id[LEASE_ID_MAX]; /* "" when the broker picks */
        char node[API_NODE_NAME_MAX];
        uint64_t bytes;
        uint64_t ttl_sec;
        bool durable;
};
int lease_request_decode(const struct json_object *o, struct lease_request *ret,
                         struct api_error *err);
struct json_object *lease_request_encode(const struct lease_request *q);
