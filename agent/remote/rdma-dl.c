// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "agent/remote/rdma-dl.h"

DLSYM_DEFINE(ibv_ack_cq_events);
DLSYM_DEFINE(ibv_alloc_pd);
DLSYM_DEFINE(ibv_create_comp_channel);
DLSYM_DEFINE(ibv_create_cq);
DLSYM_DEFINE(ibv_dealloc_pd);
DLSYM_DEFINE(ibv_dereg_mr);
DLSYM_DEFINE(ibv_destroy_comp_channel);
DLSYM_DEFINE(ibv_destroy_cq);
DLSYM_DEFINE(ibv_free_device_list);
DLSYM_DEFINE(ibv_get_cq_event);
DLSYM_DEFINE(ibv_get_device_list);
DLSYM_DEFINE(ibv_reg_mr);

DLSYM_DEFINE(rdma_accept);
DLSYM_DEFINE(rdma_ack_cm_event);
DLSYM_DEFINE(rdma_bind_addr);
DLSYM_DEFINE(rdma_connect);
DLSYM_DEFINE(rdma_create_event_channel);
DLSYM_DEFINE(rdma_create_id);
DLSYM_DEFINE(rdma_create_qp);
DLSYM_DEFINE(rdma_destroy_event_channel);
DLSYM_DEFINE(rdma_destroy_id);
DLSYM_DEFINE(rdma_destroy_qp);
DLSYM_DEFINE(rdma_disconnect);
DLSYM_DEFINE(rdma_get_cm_event);
DLSYM_DEFINE(rdma_listen);
DLSYM_DEFINE(rdma_reject);
DLSYM_DEFINE(rdma_resolve_addr);
DLSYM_DEFINE(rdma_resolve_route);

/* Packagers and tests/vm/vmrun learn from these notes that the binary may dlopen both libraries.
 * "suggested": every node works without them, over TCP. */
ELF_NOTE_DLOPEN(ibverbs, "rdma", "remote memory over RDMA (verbs)", "suggested", IBVERBS_DL_SONAME);
ELF_NOTE_DLOPEN(rdmacm, "rdma", "remote memory over RDMA (connection manager)", "suggested",
                RDMACM_DL_SONAME);

#define RDMA_DL_FEATURE "remote memory over RDMA"

static void *ibverbs_dl, *rdmacm_dl;
static pthread_mutex_t rdma_dl_lock = PTHREAD_MUTEX_INITIALIZER;
static bool rdma_dl_tried;
static int rdma_dl_result;

int rdma_dl_open(void)
{
        pthread_mutex_lock(&rdma_dl_lock);
        if (!rdma_dl_tried) {
                /* libibverbs first: librdmacm needs it, and a missing libibverbs is then named as
                 * such rather than as a dependency librdmacm could not find. */
                int r = DLOPEN_SYMS(&ibverbs_dl, IBVERBS_DL_SONAME, RDMA_DL_FEATURE,
                                    DLSYM_ARG(ibv_ack_cq_events), DLSYM_ARG(ibv_alloc_pd),
                                    DLSYM_ARG(ibv_create_comp_channel), DLSYM_ARG(ibv_create_cq),
                                    DLSYM_ARG(ibv_dealloc_pd), DLSYM_ARG(ibv_dereg_mr),
                                    DLSYM_ARG(ibv_destroy_comp_channel), DLSYM_ARG(ibv_destroy_cq),
                                    DLSYM_ARG(ibv_free_device_list), DLSYM_ARG(ibv_get_cq_event),
                                    DLSYM_ARG(ibv_get_device_list), DLSYM_ARG(ibv_reg_mr));
                if (r == 0)
                        r = DLOPEN_SYMS(
                            &rdmacm_dl, RDMACM_DL_SONAME, RDMA_DL_FEATURE, DLSYM_ARG(rdma_accept),
                            DLSYM_ARG(rdma_ack_cm_event), DLSYM_ARG(rdma_bind_addr),
                            DLSYM_ARG(rdma_connect), DLSYM_ARG(rdma_create_event_channel),
                            DLSYM_ARG(rdma_create_id), DLSYM_ARG(rdma_create_qp),
                            DLSYM_ARG(rdma_destroy_event_channel), DLSYM_ARG(rdma_destroy_id),
                            DLSYM_ARG(rdma_destroy_qp), DLSYM_ARG(rdma_disconnect),
                            DLSYM_ARG(rdma_get_cm_event), DLSYM_ARG(rdma_listen),
                            DLSYM_ARG(rdma_reject), DLSYM_ARG(rdma_resolve_addr),
                            DLSYM_ARG(rdma_resolve_route));
                rdma_dl_result = r;
                rdma_dl_tried = true;
        }
        int r = rdma_dl_result;
        pthread_mutex_unlock(&rdma_dl_lock);
        return r;
}
