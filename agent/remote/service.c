// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/remote/donor.h"
#include "agent/remote/registrar.h"
#include "agent/remote/swap.h"
#include "common/log.h"
#include "common/quantity.h"

struct remote_service {
        struct donor *donor;
        struct registrar *registrar;
        struct remote_swap *swap;
};

static int swap_start(const struct remote_service_params *p, struct remote_service *s)
{
        if (!p->scheduler_url || !*p->scheduler_url) {
                log_error("remoteSwapBytes needs schedulerUrl: the swap is leased from memschedd");
                return -EINVAL;
        }
        struct remote_swap_params sp = {
                .bytes = p->swap_bytes,
                .ttl_sec = p->swap_lease_ttl_sec,
                .priority = p->swap_priority,
                .node_name = p->node_name,
                .http = { .base_url = p->scheduler_url,
                          .ca_file = p->scheduler_ca,
                          .cert_file = p->scheduler_cert,
                          .key_file = p->scheduler_key,
                          .token_file = p->scheduler_token_file,
                          .timeout_ms = 5000 },
                .timeout_ms = 5000,
        };
        int r = remote_swap_start(&sp, &s->swap);
        if (r < 0)
                return log_error_errno(r, "Failed to start remote swap: %m");
        return 0;
}

static uint64_t physical_bytes(void)
{
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

int remote_service_start(const struct remote_service_params *p, struct remote_service **ret)
{
        uint64_t bytes = config_bytes_or_percent_resolve(&p->donate, physical_bytes());
        int r;
        *ret = NULL;
        if (bytes == 0 && p->swap_bytes == 0)
                return 0;
        struct remote_service *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        if (p->swap_bytes) {
                r = swap_start(p, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        if (bytes == 0) {
                *ret = s;
                return 0;
        }
        struct donor_config dc = { .bytes = bytes,
                                   .slab_bytes = p->slab_bytes,
                                   .listen_address = p->address && *p->address ? p->address : NULL,
                                   .port = p->port,
                                   .lock = true };
        char b[32];
        r = donor_new(&dc, &s->donor);
        if (r < 0) {
                log_error_errno(r,
                                "Failed to set up the pool donation of %s on port %u (poolDonate "
                                "must hold a whole poolSlabSize; locking needs CAP_IPC_LOCK or "
                                "RLIMIT_MEMLOCK): %m",
                                format_bytes_iec(bytes, b, sizeof(b)), p->port);
                remote_service_stop(s, false);
                return r;
        }
        r = donor_start(s->donor);
        if (r < 0) {
                remote_service_stop(s, false);
                return log_error_errno(r, "Failed to start the pool donor: %m");
        }
        format_bytes_iec(donor_bytes(s->donor), b, sizeof(b));
        log_info("Donating %s of locked memory, serving slabs on port %u", b, donor_port(s->donor));
        if (p->scheduler_url && *p->scheduler_url) {
                struct remote_http h = { .base_url = p->scheduler_url,
                                         .ca_file = p->scheduler_ca,
                                         .cert_file = p->scheduler_cert,
                                         .key_file = p->scheduler_key,
                                         .token_file = p->scheduler_token_file,
                                         .timeout_ms = 5000 };
                r = registrar_start(s->donor, &h, p->node_name,
                                    p->address && *p->address ? p->address : p->node_name,
                                    p->renew_usec, &s->registrar);
                if (r < 0) {
                        remote_service_stop(s, false);
                        return log_error_errno(r, "Failed to start offering the pool: %m");
                }
        } else
                log_warning("poolDonate is set without schedulerUrl: no consumer will be granted "
                            "a slab");
        *ret = s;
        return 0;
}

struct remote_swap *remote_service_swap(struct remote_service *s)
{
        return s ? s->swap : NULL;
}

void remote_service_stop(struct remote_service *s, bool clean)
{
        if (!s)
                return;
        /* Our own swap drains before anything else (it may be served by our own donor in a
         * one-node test). Then withdraw: the broker revokes the slabs before the donor stops
         * serving them. */
        remote_swap_stop(s->swap);
        registrar_stop(s->registrar, clean);
        donor_free(s->donor);
        free(s);
}
