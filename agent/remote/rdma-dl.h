// SPDX-License-Identifier: Apache-2.0
// libibverbs and librdmacm, loaded with dlopen() when this node first lends or borrows memory over
// RDMA (the donor's listener, the consumer's link: rdma-donor.c, rdma-link.c), so that a node that
// does neither never maps them, nor libnl-route-3 and libnl-3 that they bring (about 0.74 MiB of
// RSS in every memagentd; issue 13). No binary links -libverbs or -lrdmacm: every call goes
// through the sym_ pointers declared here, valid once rdma_dl_open() returned 0. What verbs.h and
// rdma_cma.h define inline (ibv_post_send, ibv_post_recv, ibv_poll_cq, ibv_req_notify_cq,
// rdma_get_peer_addr) reaches the provider through the device context and needs no symbol. The
// binaries name both sonames in an ELF .note.dlopen note (common/dlopen.h), which tests/vm/vmrun
// reads to put them, and the libraries they load, into guests.
// Only in a build with RDMA (MEMAGENT_HAVE_RDMA).
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "common/dlopen.h"

DLSYM_DECLARE(ibv_ack_cq_events);
DLSYM_DECLARE(ibv_alloc_pd);
DLSYM_DECLARE(ibv_create_comp_channel);
DLSYM_DECLARE(ibv_create_cq);
DLSYM_DECLARE(ibv_dealloc_pd);
DLSYM_DECLARE(ibv_dereg_mr);
DLSYM_DECLARE(ibv_destroy_comp_channel);
DLSYM_DECLARE(ibv_destroy_cq);
DLSYM_DECLARE(ibv_free_device_list);
DLSYM_DECLARE(ibv_get_cq_event);
DLSYM_DECLARE(ibv_get_device_list);
/* The exported function, not verbs.h's macro of that name: ours never asks for
 * IBV_ACCESS_OPTIONAL_RANGE, for which the macro would call ibv_reg_mr_iova2 instead. */
DLSYM_DECLARE(ibv_reg_mr);

DLSYM_DECLARE(rdma_accept);
DLSYM_DECLARE(rdma_ack_cm_event);
DLSYM_DECLARE(rdma_bind_addr);
DLSYM_DECLARE(rdma_connect);
DLSYM_DECLARE(rdma_create_event_channel);
DLSYM_DECLARE(rdma_create_id);
DLSYM_DECLARE(rdma_create_qp);
DLSYM_DECLARE(rdma_destroy_event_channel);
DLSYM_DECLARE(rdma_destroy_id);
DLSYM_DECLARE(rdma_destroy_qp);
DLSYM_DECLARE(rdma_disconnect);
DLSYM_DECLARE(rdma_get_cm_event);
DLSYM_DECLARE(rdma_listen);
DLSYM_DECLARE(rdma_reject);
DLSYM_DECLARE(rdma_resolve_addr);
DLSYM_DECLARE(rdma_resolve_route);

/* The sonames opened, for messages and the ELF note. */
#define IBVERBS_DL_SONAME "libibverbs.so.1"
#define RDMACM_DL_SONAME  "librdmacm.so.1"

/* Loads libibverbs, then librdmacm, and resolves every sym_ pointer above, once: the first call's
 * outcome is kept, so that a consumer asking at every link it opens neither retries dlopen() nor
 * repeats the log line. Thread-safe (the donor's listener and the consumer's links run on threads
 * of their own). Returns 0, -EOPNOTSUPP (a library cannot be loaded: logged once, naming it and
 * remote memory over RDMA) or -ELIBBAD (a symbol missing; logged once). */
int rdma_dl_open(void);
