// SPDX-License-Identifier: Apache-2.0
// The HTTP routes of the lease broker (/v1/pools, /v1/leases), apart from libmicrohttpd:
// server.c matches the path, checks the client's identity and limits as for every write route,
// decodes the body, and queues what pools_route() answers.
#pragma once

#include <stdint.h>

#include "api/codec.h"
#include "scheduler/metrics.h"
#include "scheduler/pools-service.h"

enum pools_method {
        POOLS_GET,
        POOLS_POST,
        POOLS_PUT,
        POOLS_DELETE,
};

struct pools_reply {
        unsigned status;
        struct json_object *body; /* owned by the caller once returned; NULL for an error */
        /* An error (body NULL): the ErrorReply's field (NULL for none) and message. */
        const char *field;
        char message[512];
        /* When api_r < 0 the request body did not decode: the caller answers err as it answers
         * every decoding error (400 naming the field, 413, 503). */
        int api_r;
        struct api_error err;
};

/* Serves route (ROUTE_POOLS ... ROUTE_LEASE_RENEW) for method, param being the {node} or {id} of
 * the path and body the decoded request body (NULL when none). identity is the verified client
 * certificate's name, or NULL where the client is trusted (plain HTTP on loopback): a consumer
 * may only lease, renew and release for itself. now_usec is CLOCK_REALTIME. */
void pools_route(struct pool_service *ps, enum route route, enum pools_method method,
                 const char *param, const char *identity, const struct json_object *body,
                 uint64_t now_usec, struct pools_reply *ret);
