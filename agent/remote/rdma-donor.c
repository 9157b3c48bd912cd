// SPDX-License-Identifier: Apache-2.0
// The donor's side of the RDMA transport (see rdma.h): the listener thread, one connection per
// slab grant, fenced by deregistering the slab's region.
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

/* ------------------------------------------------------------------ donor */

struct listener_conn {
        struct rdma_cm_id *id;
        struct ibv_pd *pd;
        struct ibv_comp_channel *cc;
        struct ibv_cq *cq;
        struct ibv_mr *msg_mr; /* hello and answer buffers */
        struct ibv_mr *slab_mr;
        uint8_t msg[REMOTE_HELLO_BYTES + REMOTE_RDMA_ANSWER_BYTES];
        struct remote_hello hello;
        bool serving;
        struct listener_conn *next;
};

struct rdma_listener {
        uint8_t *mem;
        uint64_t bytes;
        rdma_grant_check_t check;
        void *userdata;
        struct rdma_event_channel *ch;
        struct rdma_cm_id *listen_id;
        int stop_fd, kick_fd;
        pthread_t thread;
        bool started;
        struct listener_conn *conns;

        pthread_mutex_t lock; /* the counters */
        uint64_t accepted;
        size_t open;
};

/* Deregisters the connection's slab region: from here on its rkey is dead, and a one-sided
 * READ or WRITE the consumer still sends fails at our end with an access error. */
static void conn_drop_region(struct rdma_listener *l, struct listener_conn *c)
{
        if (!c->slab_mr)
                return;
        sym_ibv_dereg_mr(c->slab_mr);
        c->slab_mr = NULL;
        pthread_mutex_lock(&l->lock);
        l->open--;
        pthread_mutex_unlock(&l->lock);
}

static void conn_free(struct rdma_listener *l, struct listener_conn *c)
{
        if (!c)
                return;
        conn_drop_region(l, c);
        if (c->id && c->id->qp)
                sym_rdma_destroy_qp(c->id);
        if (c->msg_mr)
                sym_ibv_dereg_mr(c->msg_mr);
        if (c->cq)
                sym_ibv_destroy_cq(c->cq);
        if (c->cc)
                sym_ibv_destroy_comp_channel(c->cc);
        if (c->pd)
                sym_ibv_dealloc_pd(c->pd);
        if (c->id)
                sym_rdma_destroy_id(c->id);
        explicit_bzero(&c->hello, sizeof(c->hello)); /* the token */
        explicit_bzero(c->msg, sizeof(c->msg));
        free(c);
}

static void conn_unlink(struct rdma_listener *l, struct listener_conn *c)
{
        for (struct listener_conn **p = &l->conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        return;
                }
}

/* A connection request: a queue pair with a receive posted for the hello, then accept. */
static int on_connect_request(struct rdma_listener *l, struct rdma_cm_id *id)
{
        struct listener_conn *c = calloc(1, sizeof(*c));
        int r = -ENOMEM;
        if (!c)
                goto fail;
        c->id = id;
        id->context = c;
        c->pd = sym_ibv_alloc_pd(id->verbs);
        c->cc = c->pd ? sym_ibv_create_comp_channel(id->verbs) : NULL;
        c->cq = c->cc ? sym_ibv_create_cq(id->verbs, 4, NULL, c->cc, 0) : NULL;
        c->msg_mr =
            c->cq ? sym_ibv_reg_mr(c->pd, c->msg, sizeof(c->msg), IBV_ACCESS_LOCAL_WRITE) : NULL;
        if (!c->msg_mr) {
                r = errno > 0 ? -errno : -ENOMEM;
                goto fail;
        }
        struct ibv_qp_init_attr qa = {
                .send_cq = c->cq,
                .recv_cq = c->cq,
                .qp_type = IBV_QPT_RC,
                .cap = { .max_send_wr = 2, .max_recv_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 }
        };
        if (sym_rdma_create_qp(id, c->pd, &qa) < 0) {
                r = negative_errno();
                goto fail;
        }
        struct ibv_sge sge = { .addr = (uintptr_t)c->msg,
                               .length = REMOTE_HELLO_BYTES,
                               .lkey = c->msg_mr->lkey };
        struct ibv_recv_wr wr = { .wr_id = 1, .sg_list = &sge, .num_sge = 1 }, *bad;
        r = ibv_post_recv(id->qp, &wr, &bad);
        if (r != 0) {
                r = -r;
                goto fail;
        }
        struct rdma_conn_param p = { .responder_resources = RD_ATOMIC,
                                     .initiator_depth = RD_ATOMIC,
                                     .rnr_retry_count = 7 };
        if (sym_rdma_accept(id, &p) < 0) {
                r = negative_errno();
                goto fail;
        }
        c->next = l->conns;
        l->conns = c;
        return 0;
fail:
        log_warning_errno(r, "Failed to accept an RDMA connection, rejecting it: %m");
        (void)sym_rdma_reject(id, NULL, 0);
        if (id->qp)
                sym_rdma_destroy_qp(id);
        if (c) {
                c->id = NULL; /* the caller destroys the id after acking the event */
                conn_free(l, c);
        }
        id->context = NULL;
        return r;
}

/* Sends the answer on c and waits for the send's completion. */
static int send_answer(struct listener_conn *c, const struct remote_rdma_answer *a)
{
        uint8_t *buf = c->msg + REMOTE_HELLO_BYTES;
        remote_rdma_answer_encode(a, buf);
        struct ibv_sge sge = { .addr = (uintptr_t)buf,
                               .length = REMOTE_RDMA_ANSWER_BYTES,
                               .lkey = c->msg_mr->lkey };
        struct ibv_send_wr wr = { .wr_id = 2,
                                  .sg_list = &sge,
                                  .num_sge = 1,
                                  .opcode = IBV_WR_SEND,
                                  .send_flags = IBV_SEND_SIGNALED },
                           *bad;
        int r = ibv_post_send(c->id->qp, &wr, &bad);
        if (r != 0)
                return -r;
        struct ibv_wc wc;
        r = rd_cq_wait(c->cq, c->cc, rd_deadline_after(HELLO_TIMEOUT_MS), 0, &wc);
        return r < 0 ? r : rd_wc_errno(&wc);
}

static const char *peer(struct rdma_cm_id *id, char *buf, size_t size)
{
        struct sockaddr *sa = rdma_get_peer_addr(id);
        const void *a = sa->sa_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)sa)->sin_addr;
        if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)size))
                snprintf(buf, size, "?");
        return buf;
}

/* Established: the hello arrives (its receive was posted before accept), the grant check decides,
 * and an accepted slab becomes a region of its own for this connection. */
static void on_established(struct rdma_listener *l, struct listener_conn *c)
{
        struct remote_rdma_answer a = {};
        struct ibv_wc wc;
        char who[INET6_ADDRSTRLEN];
        int r = rd_cq_wait(c->cq, c->cc, rd_deadline_after(HELLO_TIMEOUT_MS), 0, &wc);
        if (r == 0)
                r = rd_wc_errno(&wc);
        if (r == 0 && (wc.opcode != IBV_WC_RECV || wc.byte_len != REMOTE_HELLO_BYTES))
                r = -EBADMSG;
        if (r == 0)
                r = remote_hello_decode(c->msg, &c->hello);
        explicit_bzero(c->msg, REMOTE_HELLO_BYTES);
        if (r == 0 && (c->hello.offset > l->bytes || c->hello.length > l->bytes - c->hello.offset ||
                       c->hello.length == 0))
                r = -ERANGE;
        if (r == 0)
                r = l->check(l->userdata, &c->hello);
        if (r == 0) {
                c->slab_mr = sym_ibv_reg_mr(c->pd, l->mem + c->hello.offset, c->hello.length,
                                            IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
                                                IBV_ACCESS_REMOTE_WRITE);
                if (!c->slab_mr)
                        r = errno > 0 ? -errno : -ENOMEM;
                else {
                        pthread_mutex_lock(&l->lock);
                        l->open++;
                        pthread_mutex_unlock(&l->lock);
                }
        }
        if (r == 0)
                a = (struct remote_rdma_answer){ .addr = (uintptr_t)(l->mem + c->hello.offset),
                                                 .rkey = c->slab_mr->rkey,
                                                 .length = c->hello.length };
        else
                a.error = (uint32_t)-r;
        int k = send_answer(c, &a);
        if (r == 0 && k == 0) {
                c->serving = true;
                pthread_mutex_lock(&l->lock);
                l->accepted++;
                pthread_mutex_unlock(&l->lock);
                log_info("Serving lease %s slab %" PRIu64 "+%" PRIu64 " over RDMA to %s",
                         c->hello.lease_id, c->hello.offset, c->hello.length,
                         peer(c->id, who, sizeof(who)));
                return;
        }
        if (r < 0)
                log_full_errno(r == -EAGAIN || r == -ENOENT ? LOG_DEBUG : LOG_INFO, r,
                               "Refused an RDMA connection for lease %s at %" PRIu64 ": %m",
                               c->hello.lease_id, c->hello.offset);
        /* Refused, or the answer did not go out: the region goes before the connection. */
        conn_drop_region(l, c);
        (void)sym_rdma_disconnect(c->id);
}

/* The grants changed or time passed: a connection whose grant no longer passes loses its region
 * first (no write lands after this), then its connection. */
static void refence(struct rdma_listener *l)
{
        for (struct listener_conn *c = l->conns; c; c = c->next) {
                if (!c->serving)
                        continue;
                int r = l->check(l->userdata, &c->hello);
                if (r == 0)
                        continue;
                log_info_errno(r,
                               "Fenced the RDMA connection of lease %s at %" PRIu64
                               " (%m): region deregistered, disconnecting",
                               c->hello.lease_id, c->hello.offset);
                c->serving = false;
                conn_drop_region(l, c);
                (void)sym_rdma_disconnect(c->id);
        }
}

static void on_cm_event(struct rdma_listener *l)
{
        struct rdma_cm_event *ev;
        if (sym_rdma_get_cm_event(l->ch, &ev) < 0)
                return;
        enum rdma_cm_event_type type = ev->event;
        struct rdma_cm_id *id = ev->id;
        struct listener_conn *c = id->context;
        /* Ack first: rdma_destroy_id waits for every event of its id to be acked. */
        sym_rdma_ack_cm_event(ev);
        switch (type) {
        case RDMA_CM_EVENT_CONNECT_REQUEST:
                if (on_connect_request(l, id) < 0)
                        sym_rdma_destroy_id(id);
                break;
        case RDMA_CM_EVENT_ESTABLISHED:
                if (c)
                        on_established(l, c);
                break;
        case RDMA_CM_EVENT_DISCONNECTED:
        case RDMA_CM_EVENT_REJECTED:
        case RDMA_CM_EVENT_CONNECT_ERROR:
        case RDMA_CM_EVENT_UNREACHABLE:
        case RDMA_CM_EVENT_DEVICE_REMOVAL:
        case RDMA_CM_EVENT_TIMEWAIT_EXIT:
                if (c && id != l->listen_id) {
                        if (type == RDMA_CM_EVENT_DISCONNECTED && c->serving)
                                log_info("RDMA connection of lease %s at %" PRIu64 " closed",
                                         c->hello.lease_id, c->hello.offset);
                        conn_unlink(l, c);
                        conn_free(l, c);
                }
                break;
        default:
                break;
        }
}

static void *listener_main(void *arg)
{
        struct rdma_listener *l = arg;
        struct pollfd p[3] = { { .fd = l->ch->fd, .events = POLLIN },
                               { .fd = l->stop_fd, .events = POLLIN },
                               { .fd = l->kick_fd, .events = POLLIN } };
        for (;;) {
                int k = poll(p, 3, 1000);
                if (k < 0 && errno != EINTR) {
                        log_error_errno(negative_errno(), "RDMA listener stops, poll failed: %m");
                        return NULL;
                }
                if (k > 0 && p[1].revents)
                        return NULL;
                if (k > 0 && p[0].revents)
                        on_cm_event(l);
                if (k > 0 && p[2].revents) {
                        uint64_t n;
                        (void)!read(l->kick_fd, &n, sizeof(n));
                }
                refence(l);
        }
}

int rdma_listener_new(uint8_t *mem, uint64_t bytes, const char *address, uint16_t port,
                      rdma_grant_check_t check, void *userdata, struct rdma_listener **ret)
{
        if (remote_rdma_available() <= 0)
                return -ENODEV;
        struct rdma_listener *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (struct rdma_listener){ .mem = mem,
                                     .bytes = bytes,
                                     .check = check,
                                     .userdata = userdata,
                                     .stop_fd = -1,
                                     .kick_fd = -1 };
        pthread_mutex_init(&l->lock, NULL);
        int r;

        struct sockaddr_storage ss = {};
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        if (address && inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons(port);
        } else if (!address || inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6; /* any: IPv4 too */
                a6->sin6_port = htons(port);
        } else {
                r = -EINVAL;
                goto fail;
        }
        l->ch = sym_rdma_create_event_channel();
        if (!l->ch || sym_rdma_create_id(l->ch, &l->listen_id, l, RDMA_PS_TCP) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (sym_rdma_bind_addr(l->listen_id, (struct sockaddr *)&ss) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (address && !l->listen_id->verbs) {
                r = -ENODEV; /* bound to an address no RDMA device has (loopback, say) */
                goto fail;
        }
        if (sym_rdma_listen(l->listen_id, 16) < 0) {
                r = negative_errno();
                goto fail;
        }
        l->stop_fd = eventfd(0, EFD_CLOEXEC);
        l->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->stop_fd < 0 || l->kick_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = -pthread_create(&l->thread, NULL, listener_main, l);
        if (r < 0)
                goto fail;
        l->started = true;
        *ret = l;
        return 0;
fail:
        rdma_listener_free(l);
        return r;
}

void rdma_listener_kick(struct rdma_listener *l)
{
        if (!l)
                return;
        uint64_t one = 1;
        (void)!write(l->kick_fd, &one, sizeof(one));
}

void rdma_listener_free(struct rdma_listener *l)
{
        if (!l)
                return;
        if (l->started) {
                uint64_t one = 1;
                (void)!write(l->stop_fd, &one, sizeof(one));
                pthread_join(l->thread, NULL);
        }
        /* The thread is gone: nobody else touches the connections. Regions first, so that no
         * one-sided write lands while the queue pairs go down. */
        for (struct listener_conn *c = l->conns; c; c = c->next)
                conn_drop_region(l, c);
        while (l->conns) {
                struct listener_conn *c = l->conns;
                l->conns = c->next;
                (void)sym_rdma_disconnect(c->id);
                conn_free(l, c);
        }
        if (l->listen_id)
                sym_rdma_destroy_id(l->listen_id);
        if (l->ch)
                sym_rdma_destroy_event_channel(l->ch);
        safe_close(l->stop_fd);
        safe_close(l->kick_fd);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

uint64_t rdma_listener_accepted(const struct rdma_listener *l)
{
        struct rdma_listener *m = (struct rdma_listener *)l;
        pthread_mutex_lock(&m->lock);
        uint64_t n = m->accepted;
        pthread_mutex_unlock(&m->lock);
        return n;
}

size_t rdma_listener_connections(const struct rdma_listener *l)
{
        struct rdma_listener *m = (struct rdma_listener *)l;
        pthread_mutex_lock(&m->lock);
        size_t n = m->open;
        pthread_mutex_unlock(&m->lock);
        return n;
}
