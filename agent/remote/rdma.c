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

#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

/* How long the donor's listener thread waits for a hello after a connection is established: it
 * serves no one meanwhile, so a consumer that connects and says nothing must not hold it long. */
#define HELLO_TIMEOUT_MS 2000
/* Bounce buffer per link: the consumer's pages pass through one registered buffer, in pieces,
 * rather than registering every NBD request's buffer (registration pins and costs more than the
 * copy). 128 KiB covers the kernel's default max_sectors_kb in one piece; a consumer holds one
 * per slab replica, locked, on a node short of memory. */
#define BOUNCE_BYTES     (128u << 10)
/* One-sided operations outstanding at the responder. */
#define RD_ATOMIC        4
/* How long a consumer polls its CQ before it sleeps on the completion channel (cq_wait()): many
 * round trips on real RDMA hardware (a few usec each), a few under software RoCE. */
#define SPIN_USEC        200
_Static_assert(BOUNCE_BYTES >= REMOTE_LINK_START_BYTES_MAX, "a started transfer fits the bounce");

int remote_rdma_available(void)
{
        int n = 0;
        struct ibv_device **list = ibv_get_device_list(&n);
        if (list)
                ibv_free_device_list(list);
        return n > 0 ? 1 : 0;
}

static uint64_t deadline_after(int timeout_ms)
{
        return now_usec(CLOCK_MONOTONIC) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
}

static int ms_left(uint64_t deadline_usec)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        return now >= deadline_usec ? 0 : (int)((deadline_usec - now + 999) / 1000);
}

/* Waits until fd is readable or deadline passes: 0, -ETIMEDOUT, or poll's error (EINTR
 * retried). */
static int wait_readable(int fd, uint64_t deadline_usec)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int k = poll(&p, 1, ms_left(deadline_usec));
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
static int cq_wait(struct ibv_cq *cq, struct ibv_comp_channel *cc, uint64_t deadline_usec,
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
                int r = wait_readable(cc->fd, deadline_usec);
                if (r < 0)
                        return r;
                struct ibv_cq *ev_cq;
                void *ev_ctx;
                if (ibv_get_cq_event(cc, &ev_cq, &ev_ctx) == 0)
                        ibv_ack_cq_events(ev_cq, 1);
                armed = false;
        }
}

static int wc_errno(const struct ibv_wc *wc)
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
static int cm_wait(struct rdma_event_channel *ch, uint64_t deadline_usec,
                   struct rdma_cm_event **ret)
{
        for (;;) {
                int r = wait_readable(ch->fd, deadline_usec);
                if (r < 0)
                        return r;
                if (rdma_get_cm_event(ch, ret) < 0)
                        return negative_errno();
                return 0;
        }
}

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
        ibv_dereg_mr(c->slab_mr);
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
                rdma_destroy_qp(c->id);
        if (c->msg_mr)
                ibv_dereg_mr(c->msg_mr);
        if (c->cq)
                ibv_destroy_cq(c->cq);
        if (c->cc)
                ibv_destroy_comp_channel(c->cc);
        if (c->pd)
                ibv_dealloc_pd(c->pd);
        if (c->id)
                rdma_destroy_id(c->id);
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
        c->pd = ibv_alloc_pd(id->verbs);
        c->cc = c->pd ? ibv_create_comp_channel(id->verbs) : NULL;
        c->cq = c->cc ? ibv_create_cq(id->verbs, 4, NULL, c->cc, 0) : NULL;
        c->msg_mr =
            c->cq ? ibv_reg_mr(c->pd, c->msg, sizeof(c->msg), IBV_ACCESS_LOCAL_WRITE) : NULL;
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
        if (rdma_create_qp(id, c->pd, &qa) < 0) {
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
        if (rdma_accept(id, &p) < 0) {
                r = negative_errno();
                goto fail;
        }
        c->next = l->conns;
        l->conns = c;
        return 0;
fail:
        log_warning_errno(r, "Failed to accept an RDMA connection, rejecting it: %m");
        (void)rdma_reject(id, NULL, 0);
        if (id->qp)
                rdma_destroy_qp(id);
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
        r = cq_wait(c->cq, c->cc, deadline_after(HELLO_TIMEOUT_MS), 0, &wc);
        return r < 0 ? r : wc_errno(&wc);
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
        int r = cq_wait(c->cq, c->cc, deadline_after(HELLO_TIMEOUT_MS), 0, &wc);
        if (r == 0)
                r = wc_errno(&wc);
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
                c->slab_mr = ibv_reg_mr(c->pd, l->mem + c->hello.offset, c->hello.length,
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
        (void)rdma_disconnect(c->id);
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
                (void)rdma_disconnect(c->id);
        }
}

static void on_cm_event(struct rdma_listener *l)
{
        struct rdma_cm_event *ev;
        if (rdma_get_cm_event(l->ch, &ev) < 0)
                return;
        enum rdma_cm_event_type type = ev->event;
        struct rdma_cm_id *id = ev->id;
        struct listener_conn *c = id->context;
        /* Ack first: rdma_destroy_id waits for every event of its id to be acked. */
        rdma_ack_cm_event(ev);
        switch (type) {
        case RDMA_CM_EVENT_CONNECT_REQUEST:
                if (on_connect_request(l, id) < 0)
                        rdma_destroy_id(id);
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
        l->ch = rdma_create_event_channel();
        if (!l->ch || rdma_create_id(l->ch, &l->listen_id, l, RDMA_PS_TCP) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (rdma_bind_addr(l->listen_id, (struct sockaddr *)&ss) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (address && !l->listen_id->verbs) {
                r = -ENODEV; /* bound to an address no RDMA device has (loopback, say) */
                goto fail;
        }
        if (rdma_listen(l->listen_id, 16) < 0) {
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
                (void)rdma_disconnect(c->id);
                conn_free(l, c);
        }
        if (l->listen_id)
                rdma_destroy_id(l->listen_id);
        if (l->ch)
                rdma_destroy_event_channel(l->ch);
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
        int r = cm_wait(l->ch, deadline_usec, &ev);
        if (r < 0)
                return r;
        enum rdma_cm_event_type got = ev->event;
        int status = ev->status;
        rdma_ack_cm_event(ev);
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
        int r = cq_wait(l->cq, l->cc, deadline_after(l->timeout_ms), SPIN_USEC, &wc);
        return r < 0 ? r : wc_errno(&wc);
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
        const uint64_t deadline = deadline_after(l->timeout_ms);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        char port[8];
        snprintf(port, sizeof(port), "%u", t->port);
        int r = getaddrinfo(t->address, port, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? negative_errno() : -EHOSTUNREACH;
        r = rdma_resolve_addr(l->id, NULL, ai->ai_addr, ms_left(deadline)) < 0 ? negative_errno()
                                                                               : 0;
        freeaddrinfo(ai);
        if (r == 0)
                r = link_expect(l, RDMA_CM_EVENT_ADDR_RESOLVED, deadline);
        if (r < 0)
                return r;
        if (rdma_resolve_route(l->id, ms_left(deadline)) < 0)
                return negative_errno();
        r = link_expect(l, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline);
        if (r < 0)
                return r;

        l->pd = ibv_alloc_pd(l->id->verbs);
        l->cc = l->pd ? ibv_create_comp_channel(l->id->verbs) : NULL;
        l->cq = l->cc ? ibv_create_cq(l->id->verbs, 4, NULL, l->cc, 0) : NULL;
        l->buf = l->cq ? aligned_alloc(4096, LINK_BUF_BYTES) : NULL;
        l->mr = l->buf ? ibv_reg_mr(l->pd, l->buf, LINK_BUF_BYTES, IBV_ACCESS_LOCAL_WRITE) : NULL;
        if (!l->mr)
                return errno > 0 ? -errno : -ENOMEM;
        struct ibv_qp_init_attr qa = {
                .send_cq = l->cq,
                .recv_cq = l->cq,
                .qp_type = IBV_QPT_RC,
                .cap = { .max_send_wr = 2, .max_recv_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 }
        };
        if (rdma_create_qp(l->id, l->pd, &qa) < 0)
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
        if (rdma_connect(l->id, &p) < 0)
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
        r = cq_wait(l->cq, l->cc, deadline, 0, &wc);
        if (r == 0)
                r = wc_errno(&wc);
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
        l->ch = rdma_create_event_channel();
        if (!l->ch || rdma_create_id(l->ch, &l->id, l, RDMA_PS_TCP) < 0)
                return negative_errno();
        return link_connect(l, &l->transport, &l->hello);
}

int rdma_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                   struct rdma_link **ret)
{
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
        if (cm_wait(l->ch, deadline_after(100), &ev) < 0)
                return false;
        bool gone = ev->event == RDMA_CM_EVENT_DISCONNECTED;
        rdma_ack_cm_event(ev);
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
                if (rdma_disconnect(l->id) == 0) {
                        struct rdma_cm_event *ev;
                        if (cm_wait(l->ch, deadline_after(1000), &ev) == 0)
                                rdma_ack_cm_event(ev);
                }
                l->connected = false;
        }
        if (l->id && l->id->qp)
                rdma_destroy_qp(l->id);
        if (l->mr)
                ibv_dereg_mr(l->mr);
        if (l->buf) {
                explicit_bzero(l->buf, LINK_BUF_BYTES);
                free(l->buf);
        }
        if (l->cq)
                ibv_destroy_cq(l->cq);
        if (l->cc)
                ibv_destroy_comp_channel(l->cc);
        if (l->pd)
                ibv_dealloc_pd(l->pd);
        if (l->id)
                rdma_destroy_id(l->id);
        if (l->ch)
                rdma_destroy_event_channel(l->ch);
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

#endif
