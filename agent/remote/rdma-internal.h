// SPDX-License-Identifier: Apache-2.0
// What the RDMA transport's two sides share (rdma.c): the waits on a CQ, an fd and rdma_cm with
// a deadline, and the sizes; libibverbs and librdmacm through their sym_ pointers (rdma-dl.h). Only
// with MEMAGENT_HAVE_RDMA; rdma-donor.c is the donor's listener, rdma-link.c the consumer's link.
#pragma once

#include <stdint.h>

#include "agent/remote/link.h"
#include "agent/remote/rdma-dl.h"
#include "agent/remote/rdma.h"

/* How long the donor's listener thread waits for a hello after a connection is established: it
 * serves no one meanwhile, so a consumer that connects and says nothing must not hold it long. */
#define HELLO_TIMEOUT_MS 2000
/* Bounce buffer per link: the consumer's pages pass through one registered buffer, in pieces,
 * rather than registering every NBD request's buffer (registration pins and costs more than the
 * copy). 128 KiB covers the kernel's default max_sectors_kb in one piece; a consumer holds one
 * per slab replica, locked, on a node short of memory. */
#define BOUNCE_BYTES (128u << 10)
/* One-sided operations outstanding at the responder. */
#define RD_ATOMIC 4
/* How long a consumer polls its CQ before it sleeps on the completion channel (rd_cq_wait()): many
 * round trips on real RDMA hardware (a few usec each), a few under software RoCE. */
#define SPIN_USEC 200
_Static_assert(BOUNCE_BYTES >= REMOTE_LINK_START_BYTES_MAX, "a started transfer fits the bounce");

uint64_t rd_deadline_after(int timeout_ms);
int rd_ms_left(uint64_t deadline_usec);
/* Waits until fd is readable or deadline passes: 0, -ETIMEDOUT, or poll's error (EINTR
 * retried). */
int rd_wait_readable(int fd, uint64_t deadline_usec);
/* Waits for one work completion on cq (armed through channel cc) until deadline. 0 with *ret_wc
 * filled; -ETIMEDOUT; -EIO when the CQ cannot be polled. The completion's own status is the
 * caller's to judge.
 *
 * It polls the CQ busily for up to spin_usec first, yielding the CPU between polls, and only then
 * arms the channel and sleeps: a completion that comes within a few round trips then costs no
 * interrupt, no event read and no wake-up (three system calls and two context switches per
 * transfer otherwise). The yield matters where the verbs device is software (rxe): the kernel
 * work that completes our request must get the CPU we would otherwise spin on. */
int rd_cq_wait(struct ibv_cq *cq, struct ibv_comp_channel *cc, uint64_t deadline_usec,
               uint64_t spin_usec, struct ibv_wc *ret_wc);
int rd_wc_errno(const struct ibv_wc *wc);
/* Waits for the next rdma_cm event on ch until deadline; the caller acks it. */
int rd_cm_wait(struct rdma_event_channel *ch, uint64_t deadline_usec, struct rdma_cm_event **ret);
