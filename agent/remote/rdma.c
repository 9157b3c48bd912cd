// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/rdma.h"

#include <errno.h>

#include "agent/remote/link.h"

enum pool_transport_kind remote_transport_choose(enum pool_transport_kind offered, int local_rdma)
{
        return offered == POOL_TRANSPORT_RDMA && local_rdma > 0 ? POOL_TRANSPORT_RDMA
                                                                : POOL_TRANSPORT_TCP;
}

#if !MEMAGENT_HAVE_RDMA

int remote_rdma_available(void)
{
        return -EPROTONOSUPPORT;
}
int rdma_listener_new(uint8_t *mem, uint64_t bytes, const char *address, uint16_t port,
                      rdma_grant_check_t check, void *userdata, struct rdma_listener **ret)
{
        (void)mem, (void)bytes, (void)address, (void)port, (void)check, (void)userdata, (void)ret;
        return -EPROTONOSUPPORT;
}
void rdma_listener_kick(struct rdma_listener *l)
{
        (void)l;
}
void rdma_listener_free(struct rdma_listener *l)
{
        (void)l;
}
uint64_t rdma_listener_accepted(const struct rdma_listener *l)
{
        (void)l;
        return 0;
}
size_t rdma_listener_connections(const struct rdma_listener *l)
{
        (void)l;
        return 0;
}
int rdma_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                   struct rdma_link **ret)
{
        (void)t, (void)h, (void)timeout_ms, (void)ret;
        return -EPROTONOSUPPORT;
}
int rdma_link_fd(const struct rdma_link *l)
{
        (void)l;
        return -1;
}
int rdma_link_io(struct rdma_link *l, enum remote_op op, uint64_t offset, void *buf,
                 uint32_t length)
{
        (void)l, (void)op, (void)offset, (void)buf, (void)length;
        return -EPROTONOSUPPORT;
}
int rdma_link_start(struct rdma_link *l, enum remote_op op, uint64_t offset, const void *buf,
                    uint32_t length)
{
        (void)l, (void)op, (void)offset, (void)buf, (void)length;
        return -EPROTONOSUPPORT;
}
int rdma_link_finish(struct rdma_link *l, void *buf)
{
        (void)l, (void)buf;
        return -EPROTONOSUPPORT;
}
void rdma_link_close(struct rdma_link *l)
{
        (void)l;
}

#else

#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/remote/rdma-internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

/* Whether the kernel has a verbs device for user space: libibverbs finds its devices as
 * /sys/class/infiniband_verbs/uverbsN (ib_uverbs), so where there is none it would list none
 * either, and loading it (with librdmacm and libnl, 0.74 MiB) would only cost a donor that serves
 * over TCP its memory. */
static bool have_uverbs_device(void)
{
        DIR *d = opendir("/sys/class/infiniband_verbs");
        if (!d)
                return false;
        bool found = false;
        for (struct dirent *de; !found && (de = readdir(d));)
                found = strncmp(de->d_name, "uverbs", 6) == 0;
        closedir(d);
        return found;
}

int remote_rdma_available(void)
{
        if (!have_uverbs_device())
                return 0;
        /* Libraries that cannot be loaded are a node without RDMA, as far as the transport choice
         * goes (rdma_dl_open() said which library and why, once). */
        if (rdma_dl_open() < 0)
                return 0;
        int n = 0;
        struct ibv_device **list = sym_ibv_get_device_list(&n);
        if (list)
                sym_ibv_free_device_list(list);
        return n > 0 ? 1 : 0;
}

uint64_t rd_deadline_after(int timeout_ms)
{
        return now_usec(CLOCK_MONOTONIC) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
}

int rd_ms_left(uint64_t deadline_usec)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        return now >= deadline_usec ? 0 : (int)((deadline_usec - now + 999) / 1000);
}

/* Waits until fd is readable or deadline passes: 0, -ETIMEDOUT, or poll's error (EINTR
 * retried). */
int rd_wait_readable(int fd, uint64_t deadline_usec)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int k = poll(&p, 1, rd_ms_left(deadline_usec));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                return k == 0 ? -ETIMEDOUT : 0;
        }
}

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
               uint64_t spin_usec, struct ibv_wc *ret_wc)
{
        bool armed = false;
        const uint64_t spin_until = spin_usec ? now_usec(CLOCK_MONOTONIC) + spin_usec : 0;
        for (;;) {
                int n = ibv_poll_cq(cq, 1, ret_wc);
                if (n < 0)
                        return -EIO;
                if (n > 0)
                        return 0;
                if (!armed && spin_until && now_usec(CLOCK_MONOTONIC) < spin_until) {
                        sched_yield();
                        continue;
                }
                if (!armed) {
                        /* Arm, then poll once more: a completion that landed in between would
                         * raise no event. */
                        if (ibv_req_notify_cq(cq, 0) != 0)
                                return -EIO;
                        armed = true;
                        continue;
                }
                int r = rd_wait_readable(cc->fd, deadline_usec);
                if (r < 0)
                        return r;
                struct ibv_cq *ev_cq;
                void *ev_ctx;
                if (sym_ibv_get_cq_event(cc, &ev_cq, &ev_ctx) == 0)
                        sym_ibv_ack_cq_events(ev_cq, 1);
                armed = false;
        }
}

int rd_wc_errno(const struct ibv_wc *wc)
{
        switch (wc->status) {
        case IBV_WC_SUCCESS:
                return 0;
        case IBV_WC_REM_ACCESS_ERR:
        case IBV_WC_REM_INV_REQ_ERR:
                return -ESTALE; /* the donor deregistered the slab: fenced */
        case IBV_WC_RETRY_EXC_ERR:
        case IBV_WC_RNR_RETRY_EXC_ERR:
                return -ETIMEDOUT;
        default:
                return -EIO;
        }
}

/* Waits for the next rdma_cm event on ch until deadline; the caller acks it. */
int rd_cm_wait(struct rdma_event_channel *ch, uint64_t deadline_usec, struct rdma_cm_event **ret)
{
        for (;;) {
                int r = rd_wait_readable(ch->fd, deadline_usec);
                if (r < 0)
                        return r;
                if (sym_rdma_get_cm_event(ch, ret) < 0)
                        return negative_errno();
                return 0;
        }
}

#endif
