// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/donor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/remote/io.h"
#include "agent/remote/proto.h"
#include "agent/remote/rdma.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

struct donor_conn {
        struct donor *d;
        int fd;
        pthread_t thread;
        bool done; /* the thread has finished: join it */
        struct donor_conn *next;
};

struct donor {
        uint8_t *mem;
        uint64_t bytes, slab_bytes;
        bool locked;
        int listen_fd, stop_fd;
        uint16_t port;
        char *listen_address;
        struct rdma_listener *rdma; /* NULL where no RDMA device serves the listen address */
        pthread_t accept_thread;
        bool started;

        pthread_mutex_t lock; /* grants, conns and the counters */
        struct donor_grant *grants;
        size_t n_grants;
        struct donor_conn *conns;
        size_t n_conns;
        uint64_t served, refused;
        bool stopping;
};

int donor_check(const struct donor_grant *grants, size_t n, const char *lease_id, const char *token,
                uint64_t epoch, uint64_t offset, uint64_t length, uint64_t now_usec)
{
        for (size_t i = 0; i < n; i++) {
                const struct donor_grant *g = &grants[i];
                if (!streq(g->lease_id, lease_id) || g->offset != offset || g->length != length)
                        continue;
                /* A newer epoch than ours: the broker re-granted since our last renewal; the
                 * consumer is right and we are behind, so it may retry, not give up. */
                if (epoch > g->epoch)
                        return -EAGAIN;
                struct pool_grant pg = { .lease_id = g->lease_id,
                                         .consumer = g->consumer,
                                         .epoch = g->epoch,
                                         .offset = g->offset,
                                         .length = g->length,
                                         .token = g->token,
                                         .expires_at_usec = g->expires_at_usec };
                return pool_fence_check(&pg, token, epoch, now_usec);
        }
        return -ENOENT;
}

static int check_locked(struct donor *d, const struct remote_hello *h, uint64_t epoch)
{
        pthread_mutex_lock(&d->lock);
        int r = donor_check(d->grants, d->n_grants, h->lease_id, h->token, epoch, h->offset,
                            h->length, now_usec(CLOCK_REALTIME));
        if (r < 0)
                d->refused++;
        pthread_mutex_unlock(&d->lock);
        return r;
}

/* The RDMA listener's grant check: the same decision as a TCP hello, on the hello's own epoch
 * (one-sided requests carry none). */
static int check_rdma(void *userdata, const struct remote_hello *h)
{
        return check_locked(userdata, h, h->epoch);
}

static int reply(int fd, uint64_t handle, int r)
{
        struct remote_reply rep = { .handle = handle, .error = r < 0 ? (uint32_t)-r : 0 };
        uint8_t buf[REMOTE_REPLY_BYTES];
        remote_reply_encode(&rep, buf);
        return remote_write_full(fd, buf, sizeof(buf));
}

/* Reads and drops n bytes: a refused WRITE's payload, to keep the stream in step. */
static int discard(int fd, uint64_t n)
{
        uint8_t sink[4096];
        while (n > 0) {
                size_t k = n < sizeof(sink) ? (size_t)n : sizeof(sink);
                int r = remote_read_full(fd, sink, k);
                if (r < 0)
                        return r;
                n -= k;
        }
        return 0;
}

/* One connection: a hello naming a granted slab, then requests until BYE or an error. The token
 * is never logged. */
static int serve(struct donor *d, int fd)
{
        uint8_t hbuf[REMOTE_HELLO_BYTES], qbuf[REMOTE_REQUEST_BYTES];
        struct remote_hello h;
        int r;

        r = remote_read_full(fd, hbuf, sizeof(hbuf));
        if (r < 0)
                return r;
        r = remote_hello_decode(hbuf, &h);
        if (r < 0) {
                (void)reply(fd, 0, r);
                return r;
        }
        r = h.offset > d->bytes || h.length > d->bytes - h.offset ? -ERANGE
                                                                  : check_locked(d, &h, h.epoch);
        if (r < 0) {
                /* A consumer ahead of our grants is normal for one renewal period. */
                log_full_errno(r == -EAGAIN ? LOG_DEBUG : LOG_INFO, r,
                               "Refused a connection for lease %s at %" PRIu64 ": %m", h.lease_id,
                               h.offset);
                (void)reply(fd, 0, r);
                return r;
        }
        r = reply(fd, 0, 0);
        if (r < 0)
                return r;

        for (;;) {
                struct remote_request q;
                r = remote_read_full(fd, qbuf, sizeof(qbuf));
                if (r < 0)
                        return r == -ECONNRESET ? 0 : r;
                r = remote_request_decode(qbuf, &q);
                if (r < 0) {
                        (void)reply(fd, 0, r);
                        return r; /* the stream is out of step: nothing after it can be read */
                }
                if (q.op == REMOTE_OP_BYE)
                        return 0;
                r = remote_request_check_range(&q, h.length);
                if (r == 0)
                        r = check_locked(d, &h, q.epoch);
                uint8_t *at = d->mem + h.offset + q.offset;
                if (r == 0) { /* counted before the reply, so a consumer sees it counted */
                        pthread_mutex_lock(&d->lock);
                        d->served++;
                        pthread_mutex_unlock(&d->lock);
                }
                if (q.op == REMOTE_OP_WRITE) {
                        /* Straight into the slab: the consumer does not reuse the extent until
                         * the reply, and a fenced write never gets here. */
                        int k = r == 0 ? remote_read_full(fd, at, q.length) : discard(fd, q.length);
                        if (k < 0)
                                return k;
                        k = reply(fd, q.handle, r);
                        if (k < 0)
                                return k;
                } else {
                        int k = reply(fd, q.handle, r);
                        if (k == 0 && r == 0)
                                k = remote_write_full(fd, at, q.length);
                        if (k < 0)
                                return k;
                }
                if (r == -EACCES || r == -ESTALE || r == -ETIME || r == -ENOENT)
                        return r; /* fenced: this connection will never be good again */
        }
}

static void *conn_main(void *arg)
{
        struct donor_conn *c = arg;
        int r = serve(c->d, c->fd);
        if (r < 0 && r != -ECONNRESET)
                log_debug_errno(r, "Donor connection closed: %m");
        pthread_mutex_lock(&c->d->lock);
        c->done = true;
        c->d->n_conns--;
        pthread_mutex_unlock(&c->d->lock);
        return NULL;
}

/* Joins and frees finished connections; with all, shuts the others down first. */
static void reap(struct donor *d, bool all)
{
        pthread_mutex_lock(&d->lock);
        if (all)
                for (struct donor_conn *c = d->conns; c; c = c->next)
                        if (!c->done)
                                shutdown(c->fd, SHUT_RDWR);
        struct donor_conn *keep = NULL, *list = d->conns;
        d->conns = NULL;
        pthread_mutex_unlock(&d->lock);

        while (list) {
                struct donor_conn *c = list;
                list = c->next;
                pthread_mutex_lock(&d->lock);
                bool done = c->done;
                pthread_mutex_unlock(&d->lock);
                if (done || all) {
                        pthread_join(c->thread, NULL);
                        close(c->fd);
                        free(c);
                } else {
                        c->next = keep;
                        keep = c;
                }
        }
        pthread_mutex_lock(&d->lock);
        while (keep) {
                struct donor_conn *c = keep;
                keep = c->next;
                c->next = d->conns;
                d->conns = c;
        }
        pthread_mutex_unlock(&d->lock);
}

static void *accept_main(void *arg)
{
        struct donor *d = arg;
        struct pollfd p[2] = { { .fd = d->listen_fd, .events = POLLIN },
                               { .fd = d->stop_fd, .events = POLLIN } };
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(-errno, "Donor stops accepting, poll failed: %m");
                        return NULL;
                }
                if (p[1].revents)
                        return NULL;
                int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                int one = 1;
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                reap(d, false);
                struct donor_conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                *c = (struct donor_conn){ .d = d, .fd = fd };
                pthread_mutex_lock(&d->lock);
                if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
                        pthread_mutex_unlock(&d->lock);
                        close(fd);
                        free(c);
                        continue;
                }
                c->next = d->conns;
                d->conns = c;
                d->n_conns++;
                pthread_mutex_unlock(&d->lock);
        }
}

int donor_new(const struct donor_config *cfg, struct donor **ret)
{
        if (cfg->slab_bytes < POOL_SLAB_BYTES_MIN || cfg->slab_bytes % POOL_PAGE_BYTES ||
            cfg->bytes / cfg->slab_bytes == 0 || cfg->bytes / cfg->slab_bytes > POOL_SLABS_MAX)
                return -EINVAL;
        struct donor *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (struct donor){ .bytes = cfg->bytes / cfg->slab_bytes * cfg->slab_bytes,
                             .slab_bytes = cfg->slab_bytes,
                             .listen_fd = -1,
                             .stop_fd = -1 };
        pthread_mutex_init(&d->lock, NULL);
        int r;
        if (cfg->listen_address && !(d->listen_address = strdup(cfg->listen_address))) {
                r = -ENOMEM;
                goto fail;
        }

        d->mem = mmap(NULL, d->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (d->mem == MAP_FAILED) {
                d->mem = NULL;
                r = negative_errno();
                goto fail;
        }
        /* Lent pages must stay resident: a donor that swapped them would turn the consumer's
         * swap into its own. Locked pages are also never reclaimed. */
        if (cfg->lock) {
                if (mlock(d->mem, d->bytes) < 0) {
                        r = negative_errno();
                        log_error_errno(r, "Failed to lock %" PRIu64 " bytes to donate: %m",
                                        d->bytes);
                        goto fail;
                }
                d->locked = true;
        }
        (void)madvise(d->mem, d->bytes, MADV_DONTDUMP);

        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
                                   .sin6_port = htons(cfg->port),
                                   .sin6_addr = IN6ADDR_ANY_INIT };
        struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(cfg->port) };
        struct sockaddr *sa = (struct sockaddr *)&a6;
        socklen_t salen = sizeof(a6);
        int family = AF_INET6;
        if (cfg->listen_address && inet_pton(AF_INET, cfg->listen_address, &a4.sin_addr) == 1) {
                sa = (struct sockaddr *)&a4;
                salen = sizeof(a4);
                family = AF_INET;
        } else if (cfg->listen_address &&
                   inet_pton(AF_INET6, cfg->listen_address, &a6.sin6_addr) != 1) {
                r = -EINVAL;
                goto fail;
        }
        d->listen_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (d->listen_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        int one = 1;
        (void)setsockopt(d->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(d->listen_fd, sa, salen) < 0 || listen(d->listen_fd, 64) < 0) {
                r = negative_errno();
                goto fail;
        }
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);
        if (getsockname(d->listen_fd, (struct sockaddr *)&bound, &blen) < 0) {
                r = negative_errno();
                goto fail;
        }
        d->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                          : ((struct sockaddr_in6 *)&bound)->sin6_port);
        d->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (d->stop_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        *ret = d;
        return 0;
fail:
        donor_free(d);
        return r;
}

int donor_start(struct donor *d)
{
        /* RDMA beside TCP, on the same port number (rdma_cm's port space is its own), so that a
         * consumer without RDMA reaches us over TCP at the address the broker handed out. */
        int r = rdma_listener_new(d->mem, d->bytes, d->listen_address, d->port, check_rdma, d,
                                  &d->rdma);
        if (r == -EPROTONOSUPPORT || r == -ENODEV)
                log_debug_errno(r, "Serving slabs over TCP only, no RDMA: %m");
        else if (r < 0)
                log_warning_errno(r,
                                  "Failed to listen with rdma_cm on port %u, serving slabs "
                                  "over TCP only: %m",
                                  d->port);
        else
                log_info("Serving slabs over RDMA (rdma_cm, RC) and TCP on port %u", d->port);
        r = pthread_create(&d->accept_thread, NULL, accept_main, d);
        if (r != 0) {
                rdma_listener_free(TAKE_PTR(d->rdma));
                return -r;
        }
        d->started = true;
        return 0;
}

void donor_free(struct donor *d)
{
        if (!d)
                return;
        if (d->started) {
                uint64_t one = 1;
                (void)!write(d->stop_fd, &one, sizeof(one));
                pthread_join(d->accept_thread, NULL);
        }
        /* The RDMA regions go before the memory they map is wiped and unmapped. */
        rdma_listener_free(d->rdma);
        reap(d, true);
        safe_close(d->listen_fd);
        safe_close(d->stop_fd);
        if (d->mem) {
                /* What consumers swapped here must not outlive the lease in freed memory. */
                explicit_bzero(d->mem, d->bytes);
                munmap(d->mem, d->bytes);
        }
        if (d->grants)
                explicit_bzero(d->grants, d->n_grants * sizeof(*d->grants));
        free(d->grants);
        free(d->listen_address);
        pthread_mutex_destroy(&d->lock);
        free(d);
}

uint16_t donor_port(const struct donor *d)
{
        return d->port;
}

uint64_t donor_bytes(const struct donor *d)
{
        return d->bytes;
}

uint8_t *donor_memory(const struct donor *d)
{
        return d->mem;
}

int donor_set_grants(struct donor *d, const struct donor_grant *grants, size_t n)
{
        struct donor_grant *copy = n ? calloc(n, sizeof(*copy)) : NULL;
        size_t kept = 0;
        if (n && !copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const struct donor_grant *g = &grants[i];
                if (g->offset > d->bytes || g->length > d->bytes - g->offset) {
                        log_warning("Grant of lease %s at %" PRIu64 "+%" PRIu64
                                    " lies outside the %" PRIu64 " bytes offered, ignoring",
                                    g->lease_id, g->offset, g->length, d->bytes);
                        continue;
                }
                copy[kept++] = *g;
        }
        pthread_mutex_lock(&d->lock);
        struct donor_grant *old = d->grants;
        size_t n_old = d->n_grants;
        d->grants = copy;
        d->n_grants = kept;
        pthread_mutex_unlock(&d->lock);
        if (old) {
                explicit_bzero(old, n_old * sizeof(*old)); /* the tokens */
                free(old);
        }
        /* One-sided writes pass no check of ours: fence the RDMA connections now. */
        rdma_listener_kick(d->rdma);
        return 0;
}

size_t donor_connections(const struct donor *d)
{
        struct donor *m = (struct donor *)d;
        pthread_mutex_lock(&m->lock);
        size_t n = m->n_conns;
        pthread_mutex_unlock(&m->lock);
        return n + (m->rdma ? rdma_listener_connections(m->rdma) : 0);
}

bool donor_serves_rdma(const struct donor *d)
{
        return d->rdma;
}

uint64_t donor_rdma_accepted(const struct donor *d)
{
        return d->rdma ? rdma_listener_accepted(d->rdma) : 0;
}

uint64_t donor_requests_served(const struct donor *d)
{
        struct donor *m = (struct donor *)d;
        pthread_mutex_lock(&m->lock);
        uint64_t n = m->served;
        pthread_mutex_unlock(&m->lock);
        return n;
}

uint64_t donor_requests_refused(const struct donor *d)
{
        struct donor *m = (struct donor *)d;
        pthread_mutex_lock(&m->lock);
        uint64_t n = m->refused;
        pthread_mutex_unlock(&m->lock);
        return n;
}

int donor_offer(const struct donor *d, const char *node, const char *address,
                struct pool_offer *ret)
{
        struct pool_offer o = { .bytes = d->bytes, .slab_bytes = d->slab_bytes };
        if (snprintf(o.node, sizeof(o.node), "%s", node) >= (int)sizeof(o.node))
                return -EINVAL;
        /* RDMA first where we serve it: the broker hands consumers a donor's RDMA transport. */
        if (d->rdma)
                o.transports[o.n_transports++] =
                    (struct pool_transport){ .kind = POOL_TRANSPORT_RDMA, .port = d->port };
        o.transports[o.n_transports++] =
            (struct pool_transport){ .kind = POOL_TRANSPORT_TCP, .port = d->port };
        for (size_t i = 0; i < o.n_transports; i++)
                if (snprintf(o.transports[i].address, sizeof(o.transports[i].address), "%s",
                             address) >= (int)sizeof(o.transports[i].address))
                        return -EINVAL;
        *ret = o;
        return 0;
}
