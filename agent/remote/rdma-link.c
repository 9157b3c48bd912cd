// SPDX-License-Identifier: Apache-2.0
// The consumer's side of the RDMA transport (see rdma.h): a link to one slab, one-sided READ and
// WRITE through a registered bounce buffer.
#include "agent/remote/rdma.h"

#include <arpa/inet.h>
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

/* --------------------------------------------------------------- consumer */

struct rdma_link {
        struct rdma_event_channel *ch;
        struct rdma_cm_id *id;
        struct ibv_pd *pd;
        struct ibv_comp_channel *cc;
        struct ibv_cq *cq;
        struct ibv_mr *mr; /* bounce, then the hello and the answer */
        uint8_t *buf;
        uint64_t remote_addr, slab_bytes;
        uint32_t rkey;
        int timeout_ms;
        bool connected;
        /* A transfer started and not finished (rdma_link_start()): its kind and length. */
        bool pending;
        enum remote_op pending_op;
        uint32_t pending_length;
        /* To connect again after a transport failure (the token: cleared on close). */
        struct pool_transport transport;
        struct remote_hello hello;
};

#define LINK_BUF_BYTES (BOUNCE_BYTES + REMOTE_HELLO_BYTES + REMOTE_RDMA_ANSWER_BYTES)

/* Waits for the event expected on the link's id; any other is the failure it names. */
static int link_expect(struct rdma_link *l, enum rdma_cm_event_type expected,
                       uint64_t deadline_usec)
{
        struct rdma_cm_event *ev;
        int r = rd_cm_wait(l->ch, deadline_usec, &ev);
        if (r < 0)
                return r;
        enum rdma_cm_event_type got = ev->event;
        int status = ev->status;
        sym_rdma_ack_cm_event(ev);
        if (got == expected)
                return 0;
        switch (got) {
        case RDMA_CM_EVENT_ADDR_ERROR:
                return -ENODEV; /* no local RDMA device reaches that address */
        case RDMA_CM_EVENT_ROUTE_ERROR:
        case RDMA_CM_EVENT_UNREACHABLE:
                return -EHOSTUNREACH;
        case RDMA_CM_EVENT_REJECTED:
                return -ECONNREFUSED;
        default:
                return status < 0 ? status : -ECONNABORTED;
        }
}

/* Posts one signalled work request on the link's queue pair without waiting for it. */
static int post_wr(struct rdma_link *l, enum ibv_wr_opcode op, uint8_t *local, uint32_t length,
                   uint64_t remote_addr)
{
        struct ibv_sge sge = { .addr = (uintptr_t)local, .length = length, .lkey = l->mr->lkey };
        struct ibv_send_wr wr = { .wr_id = 3,
                                  .sg_list = &sge,
                                  .num_sge = 1,
                                  .opcode = op,
                                  .send_flags = IBV_SEND_SIGNALED },
                           *bad;
        if (op != IBV_WR_SEND) {
                wr.wr.rdma.remote_addr = remote_addr;
                wr.wr.rdma.rkey = l->rkey;
        }
        int r = ibv_post_send(l->id->qp, &wr, &bad);
        return r != 0 ? -r : 0;
}

/* Waits for the completion of the one request outstanding, within the link's timeout. */
static int complete_wr(struct rdma_link *l)
{
        struct ibv_wc wc;
        int r = rd_cq_wait(l->cq, l->cc, rd_deadline_after(l->timeout_ms), SPIN_USEC, &wc);
        return r < 0 ? r : rd_wc_errno(&wc);
}

static int post(struct rdma_link *l, enum ibv_wr_opcode op, uint8_t *local, uint32_t length,
                uint64_t remote_addr)
{
        int r = post_wr(l, op, local, length, remote_addr);
        return r < 0 ? r : complete_wr(l);
}

static int link_connect(struct rdma_link *l, const struct pool_transport *t,
                        const struct remote_hello *h)
{
        const uint64_t deadline = rd_deadline_after(l->timeout_ms);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        char port[8];
        snprintf(port, sizeof(port), "%u", t->port);
        int r = getaddrinfo(t->address, port, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? negative_errno() : -EHOSTUNREACH;
        r = sym_rdma_resolve_addr(l->id, NULL, ai->ai_addr, rd_ms_left(deadline)) < 0
                ? negative_errno()
                : 0;
        freeaddrinfo(ai);
        if (r == 0)
                r = link_expect(l, RDMA_CM_EVENT_ADDR_RESOLVED, deadline);
        if (r < 0)
                return r;
        if (sym_rdma_resolve_route(l->id, rd_ms_left(deadline)) < 0)
                return negative_errno();
        r = link_expect(l, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline);
        if (r < 0)
                return r;

        l->pd = sym_ibv_alloc_pd(l->id->verbs);
        l->cc = l->pd ? sym_ibv_create_comp_channel(l->id->verbs) : NULL;
        l->cq = l->cc ? sym_ibv_create_cq(l->id->verbs, 4, NULL, l->cc, 0) : NULL;
        l->buf = l->cq ? aligned_alloc(4096, LINK_BUF_BYTES) : NULL;
        l->mr =
            l->buf ? sym_ibv_reg_mr(l->pd, l->buf, LINK_BUF_BYTES, IBV_ACCESS_LOCAL_WRITE) : NULL;
        if (!l->mr)
                return errno > 0 ? -errno : -ENOMEM;
        struct ibv_qp_init_attr qa = {
                .send_cq = l->cq,
                .recv_cq = l->cq,
                .qp_type = IBV_QPT_RC,
                .cap = { .max_send_wr = 2, .max_recv_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 }
        };
        if (sym_rdma_create_qp(l->id, l->pd, &qa) < 0)
                return negative_errno();
        uint8_t *hello = l->buf + BOUNCE_BYTES, *answer = hello + REMOTE_HELLO_BYTES;
        struct ibv_sge sge = { .addr = (uintptr_t)answer,
                               .length = REMOTE_RDMA_ANSWER_BYTES,
                               .lkey = l->mr->lkey };
        struct ibv_recv_wr rwr = { .wr_id = 4, .sg_list = &sge, .num_sge = 1 }, *bad;
        r = ibv_post_recv(l->id->qp, &rwr, &bad);
        if (r != 0)
                return -r;
        struct rdma_conn_param p = { .responder_resources = RD_ATOMIC,
                                     .initiator_depth = RD_ATOMIC,
                                     .retry_count = 7,
                                     .rnr_retry_count = 7 };
        if (sym_rdma_connect(l->id, &p) < 0)
                return negative_errno();
        r = link_expect(l, RDMA_CM_EVENT_ESTABLISHED, deadline);
        if (r < 0)
                return r;
        l->connected = true;

        remote_hello_encode(h, hello);
        r = post(l, IBV_WR_SEND, hello, REMOTE_HELLO_BYTES, 0);
        explicit_bzero(hello, REMOTE_HELLO_BYTES);
        if (r < 0)
                return r;
        struct ibv_wc wc;
        r = rd_cq_wait(l->cq, l->cc, deadline, 0, &wc);
        if (r == 0)
                r = rd_wc_errno(&wc);
        if (r == 0 && (wc.opcode != IBV_WC_RECV || wc.byte_len != REMOTE_RDMA_ANSWER_BYTES))
                r = -EBADMSG;
        struct remote_rdma_answer a;
        if (r == 0)
                r = remote_rdma_answer_decode(answer, &a);
        if (r < 0)
                return r;
        if (a.error)
                return -(int)a.error;
        if (a.length != h->length)
                return -EBADMSG;
        l->remote_addr = a.addr;
        l->rkey = a.rkey;
        l->slab_bytes = a.length;
        return 0;
}

static void link_teardown(struct rdma_link *l);

static int link_setup(struct rdma_link *l)
{
        l->ch = sym_rdma_create_event_channel();
        if (!l->ch || sym_rdma_create_id(l->ch, &l->id, l, RDMA_PS_TCP) < 0)
                return negative_errno();
        return link_connect(l, &l->transport, &l->hello);
}

int rdma_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                   struct rdma_link **ret)
{
        /* As rdma_listener_new(): the libraries are loaded only where a verbs device is, and
         * without them this node has no RDMA device it could use. */
        if (remote_rdma_available() <= 0)
                return -ENODEV;
        struct rdma_link *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->timeout_ms = timeout_ms;
        l->transport = *t;
        l->hello = *h;
        int r = link_setup(l);
        if (r < 0) {
                rdma_link_close(l);
                return r;
        }
        *ret = l;
        return 0;
}

int rdma_link_fd(const struct rdma_link *l)
{
        return l->ch->fd;
}

/* After a failed one-sided operation: whether the donor disconnected us, which it does when it
 * fences the connection (it deregisters the region first, but the queue pair may flush before
 * the access error reaches us) or when it goes away. */
static bool link_disconnected(struct rdma_link *l)
{
        struct rdma_cm_event *ev;
        if (rd_cm_wait(l->ch, rd_deadline_after(100), &ev) < 0)
                return false;
        bool gone = ev->event == RDMA_CM_EVENT_DISCONNECTED;
        sym_rdma_ack_cm_event(ev);
        if (gone)
                l->connected = false;
        return gone;
}

/* A failed one-sided operation: -ESTALE when the donor fenced us or went away. */
static int io_failure(struct rdma_link *l, int r)
{
        return r < 0 && r != -ESTALE && link_disconnected(l) ? -ESTALE : r;
}

int rdma_link_start(struct rdma_link *l, enum remote_op op, uint64_t offset, const void *buf,
                    uint32_t length)
{
        if (op != REMOTE_OP_READ && op != REMOTE_OP_WRITE)
                return -EINVAL;
        if (l->pending || length > BOUNCE_BYTES)
                return -EINVAL;
        if (offset > l->slab_bytes || length > l->slab_bytes - offset)
                return -ERANGE;
        if (op == REMOTE_OP_WRITE)
                memcpy(l->buf, buf, length);
        int r = post_wr(l, op == REMOTE_OP_WRITE ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ, l->buf,
                        length, l->remote_addr + offset);
        if (r < 0)
                return io_failure(l, r);
        l->pending = true;
        l->pending_op = op;
        l->pending_length = length;
        return 0;
}

int rdma_link_finish(struct rdma_link *l, void *buf)
{
        if (!l->pending)
                return -EINVAL;
        l->pending = false;
        int r = complete_wr(l);
        if (r == 0 && l->pending_op == REMOTE_OP_READ)
                memcpy(buf, l->buf, l->pending_length);
        return io_failure(l, r);
}

int rdma_link_io(struct rdma_link *l, enum remote_op op, uint64_t offset, void *buf,
                 uint32_t length)
{
        if (op != REMOTE_OP_READ && op != REMOTE_OP_WRITE)
                return -EINVAL;
        if (offset > l->slab_bytes || length > l->slab_bytes - offset)
                return -ERANGE;
        uint8_t *p = buf;
        bool retried = false;
        for (uint32_t done = 0; done < length;) {
                uint32_t n = length - done < BOUNCE_BYTES ? length - done : BOUNCE_BYTES;
                int r = rdma_link_start(l, op, offset + done, p + done, n);
                if (r == 0)
                        r = rdma_link_finish(l, p + done);
                if (r < 0 && r != -ESTALE && !retried) {
                        /* A transport failure (RC retries exhausted while the link dropped
                         * packets, a completion later than our limit): connect once more and
                         * redo this piece, since reading or writing it again is harmless. Only
                         * a second failure fails the replica, which may be the last one. */
                        retried = true;
                        log_info_errno(r,
                                       "RDMA transfer of lease %s at %" PRIu64 " failed (%m), "
                                       "connecting again",
                                       l->hello.lease_id, l->hello.offset);
                        link_teardown(l);
                        r = link_setup(l);
                        if (r == 0)
                                continue;
                }
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

/* Frees the connection's resources and leaves l as calloc'ed but for its settings. */
static void link_teardown(struct rdma_link *l)
{
        if (l->connected) {
                /* Wait briefly for DISCONNECTED so the donor frees its side now, not at its
                 * timewait; a donor that is gone does not hold us up beyond a second. */
                if (sym_rdma_disconnect(l->id) == 0) {
                        struct rdma_cm_event *ev;
                        if (rd_cm_wait(l->ch, rd_deadline_after(1000), &ev) == 0)
                                sym_rdma_ack_cm_event(ev);
                }
                l->connected = false;
        }
        if (l->id && l->id->qp)
                sym_rdma_destroy_qp(l->id);
        if (l->mr)
                sym_ibv_dereg_mr(l->mr);
        if (l->buf) {
                explicit_bzero(l->buf, LINK_BUF_BYTES);
                free(l->buf);
        }
        if (l->cq)
                sym_ibv_destroy_cq(l->cq);
        if (l->cc)
                sym_ibv_destroy_comp_channel(l->cc);
        if (l->pd)
                sym_ibv_dealloc_pd(l->pd);
        if (l->id)
                sym_rdma_destroy_id(l->id);
        if (l->ch)
                sym_rdma_destroy_event_channel(l->ch);
        l->id = NULL, l->ch = NULL, l->pd = NULL, l->cc = NULL, l->cq = NULL, l->mr = NULL;
        l->buf = NULL;
        l->pending = false;
}

void rdma_link_close(struct rdma_link *l)
{
        if (!l)
                return;
        link_teardown(l);
        explicit_bzero(&l->hello, sizeof(l->hello));
        free(l);
}
