// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/link.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent/remote/io.h"
#include "agent/remote/rdma.h"
#include "common/log.h"
#include "common/macro.h"

static int connect_tcp(const struct pool_transport *t, int timeout_ms)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *ai = NULL;
        char port[8];
        snprintf(port, sizeof(port), "%u", t->port);
        int r = getaddrinfo(t->address, port, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? negative_errno() : -EHOSTUNREACH;
        r = -EHOSTUNREACH;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        r = negative_errno();
                        continue;
                }
                /* Timeouts on every transfer: a donor that hangs must fail the replica, not the
                 * worker (the kernel's NBD timeout would otherwise fail the whole device). */
                struct timeval tv = { .tv_sec = timeout_ms / 1000,
                                      .tv_usec = (timeout_ms % 1000) * 1000 };
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                int one = 1;
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
                        freeaddrinfo(ai);
                        return fd;
                }
                r = negative_errno();
                close(fd);
        }
        freeaddrinfo(ai);
        return r;
}

/* The transport's error as the return value; the donor's word in *ret_refusal (0 or -errno):
 * the two must not mix, since a receive timeout is -EAGAIN too. */
static int read_reply(int fd, uint64_t handle, int *ret_refusal)
{
        uint8_t buf[REMOTE_REPLY_BYTES];
        struct remote_reply rep;
        int r = remote_read_full(fd, buf, sizeof(buf));
        if (r < 0)
                return r;
        r = remote_reply_decode(buf, &rep);
        if (r < 0)
                return r;
        if (rep.handle != handle)
                return -EBADMSG;
        *ret_refusal = rep.error ? -(int)rep.error : 0;
        return 0;
}

/* Refusals after which the donor closes the connection: it will never serve it again. */
static bool fenced(int refusal)
{
        return refusal == -EACCES || refusal == -ESTALE || refusal == -ETIME || refusal == -ENOENT;
}

static int open_rdma(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                     struct remote_link *ret)
{
        struct rdma_link *rl = NULL;
        int r = rdma_link_open(t, h, timeout_ms, &rl);
        if (r < 0)
                return r;
        *ret = (struct remote_link){ .fd = rdma_link_fd(rl),
                                     .rdma = rl,
                                     .epoch = h->epoch,
                                     .slab_bytes = h->length,
                                     .next_handle = 1 };
        return 0;
}

int remote_link_open(const struct pool_transport *t, const struct remote_hello *h, int timeout_ms,
                     struct remote_link *ret)
{
        uint8_t buf[REMOTE_HELLO_BYTES];
        if (t->kind >= _POOL_TRANSPORT_MAX)
                return -EPROTONOSUPPORT;
        if (t->kind == POOL_TRANSPORT_RDMA) {
                int local = remote_rdma_available();
                if (remote_transport_choose(t->kind, local) == POOL_TRANSPORT_RDMA)
                        return open_rdma(t, h, timeout_ms, ret);
                /* The donor serves TCP on the same port: slower, but the swap works. */
                static atomic_bool said;
                if (!atomic_exchange(&said, true))
                        log_info("No RDMA %s on this node: reaching RDMA donors over TCP",
                                 local < 0 ? "support in this build" : "device");
        }
        int fd = connect_tcp(t, timeout_ms);
        if (fd < 0)
                return fd;
        remote_hello_encode(h, buf);
        int refusal = 0;
        int r = remote_write_full(fd, buf, sizeof(buf));
        if (r == 0)
                r = read_reply(fd, 0, &refusal);
        explicit_bzero(buf, sizeof(buf));
        if (r == 0)
                r = refusal;
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret = (struct remote_link){
                .fd = fd, .epoch = h->epoch, .slab_bytes = h->length, .next_handle = 1
        };
        return 0;
}

/* After an RDMA transfer: a failed link is closed (-ERANGE leaves it open), and one that connected
 * again has another channel. */
static int rdma_settle(struct remote_link *l, int r)
{
        if (r < 0 && r != -ERANGE) {
                rdma_link_close(l->rdma);
                l->rdma = NULL;
                l->fd = -1;
        } else
                l->fd = rdma_link_fd(l->rdma);
        return r;
}

/* Sends a TCP request (and a WRITE's bytes); its answer is remote_link_finish()'s. */
static int tcp_start(struct remote_link *l, enum remote_op op, uint64_t offset, const void *buf,
                     uint32_t length)
{
        struct remote_request q = { .op = op,
                                    .handle = l->next_handle++,
                                    .epoch = l->epoch,
                                    .offset = offset,
                                    .length = length };
        uint8_t qbuf[REMOTE_REQUEST_BYTES];
        remote_request_encode(&q, qbuf);
        int r = remote_write_full(l->fd, qbuf, sizeof(qbuf));
        if (r == 0 && op == REMOTE_OP_WRITE)
                r = remote_write_full(l->fd, buf, length);
        if (r < 0) {
                l->fd = safe_close(l->fd);
                return r;
        }
        l->pending = true;
        l->pending_op = op;
        l->pending_handle = q.handle;
        l->pending_length = length;
        return 0;
}

int remote_link_start(struct remote_link *l, enum remote_op op, uint64_t offset, const void *buf,
                      uint32_t length)
{
        if (l->fd < 0)
                return -ENOTCONN;
        if ((op != REMOTE_OP_READ && op != REMOTE_OP_WRITE) || l->pending ||
            length > REMOTE_LINK_START_BYTES_MAX)
                return -EINVAL;
        if (l->rdma)
                return rdma_settle(l, rdma_link_start(l->rdma, op, offset, buf, length));
        return tcp_start(l, op, offset, buf, length);
}

int remote_link_finish(struct remote_link *l, void *buf)
{
        if (l->fd < 0)
                return -ENOTCONN;
        if (l->rdma)
                return rdma_settle(l, rdma_link_finish(l->rdma, buf));
        if (!l->pending)
                return -EINVAL;
        l->pending = false;
        int refusal = 0;
        int r = read_reply(l->fd, l->pending_handle, &refusal);
        if (r == 0 && refusal == 0 && l->pending_op == REMOTE_OP_READ)
                r = remote_read_full(l->fd, buf, l->pending_length);
        if (r < 0 || fenced(refusal)) {
                l->fd = safe_close(l->fd);
                return r < 0 ? r : refusal;
        }
        return refusal; /* 0, or a refusal after which the stream is still in step */
}

int remote_link_io(struct remote_link *l, enum remote_op op, uint64_t offset, void *buf,
                   uint32_t length)
{
        if (l->fd < 0)
                return -ENOTCONN;
        if (op != REMOTE_OP_READ && op != REMOTE_OP_WRITE)
                return -EINVAL;
        if (l->rdma)
                return rdma_settle(l, rdma_link_io(l->rdma, op, offset, buf, length));
        int r = tcp_start(l, op, offset, buf, length);
        return r < 0 ? r : remote_link_finish(l, buf);
}

void remote_link_close(struct remote_link *l)
{
        l->pending = false;
        if (l->fd < 0)
                return;
        if (l->rdma) {
                rdma_link_close(l->rdma);
                l->rdma = NULL;
                l->fd = -1;
                return;
        }
        struct remote_request q = { .op = REMOTE_OP_BYE, .epoch = l->epoch };
        uint8_t qbuf[REMOTE_REQUEST_BYTES];
        remote_request_encode(&q, qbuf);
        (void)remote_write_full(l->fd, qbuf, sizeof(qbuf));
        l->fd = safe_close(l->fd);
}
