// SPDX-License-Identifier: Apache-2.0
// What memagentd starts for remote memory: with poolDonate, the donor (locked memory served over
// TCP) and its registration with memschedd; with remoteSwapBytes, the consumer's remote swap
// (swap.h). Threads of their own; memagentd's loop only starts
// and stops them.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

struct remote_service_params {
        struct config_bytes_or_percent donate; /* 0: no donor */
        uint64_t slab_bytes;
        const char *address; /* listened on and offered; "" for every address, offering node */
        uint16_t port;
        const char *scheduler_url; /* "" : serve only (grants never arrive; tests) */
        const char *scheduler_ca, *scheduler_cert, *scheduler_key;
        const char *scheduler_token_file; /* "" or NULL for none */
        const char *node_name;
        uint64_t renew_usec; /* the offer's renewal period (the report heartbeat) */
        /* The consumer: remote swap of swap_bytes (0: none), at swap_priority. */
        uint64_t swap_bytes;
        int swap_priority;
        uint64_t swap_lease_ttl_sec;
};

struct remote_service;

/* Starts what p asks for; *ret is NULL when it asks for nothing. Errors are logged once. */
int remote_service_start(const struct remote_service_params *p, struct remote_service **ret);
/* The consumer's remote swap, NULL when none (memagentd's step drives it). */
struct remote_swap *remote_service_swap(struct remote_service *s);
/* clean: a normal exit, the offer is withdrawn. NULL is fine. */
void remote_service_stop(struct remote_service *s, bool clean);
