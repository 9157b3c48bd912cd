// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/swap.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/swap.h>
#include <time.h>
#include <unistd.h>

#include "agent/remote/consumer.h"
#include "agent/remote/device.h"
#include "agent/remote/nbd-netlink.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

int remote_swap_header(uint64_t size_bytes, const uint8_t uuid[16],
                       uint8_t page[REMOTE_SWAP_PAGE_BYTES])
{
        uint64_t pages = size_bytes / REMOTE_SWAP_PAGE_BYTES;
        if (pages < 10 || pages - 1 > UINT32_MAX)
                return -EINVAL;
        /* Layout of the kernel's union swap_header (include/linux/swap.h), native endian:
         * 1024 boot bytes, then version, last_page, nr_badpages, uuid[16], volume[16]; the
         * magic in the page's last 10 bytes. */
        memset(page, 0, REMOTE_SWAP_PAGE_BYTES);
        uint32_t version = 1, last = (uint32_t)(pages - 1), bad = 0;
        memcpy(page + 1024, &version, 4);
        memcpy(page + 1028, &last, 4);
        memcpy(page + 1032, &bad, 4);
        memcpy(page + 1036, uuid, 16);
        memcpy(page + 1052, "memagent-remote", 15);
        memcpy(page + REMOTE_SWAP_PAGE_BYTES - 10, "SWAPSPACE2", 10);
        return 0;
}

struct remote_swap {
        struct remote_swap_params p;
        char node[256], url[512], ca[512], cert[512], key[512], token[512];
        pthread_t setup_thread, serve_thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;          /* remote_swap_stop() was called */
        volatile bool halt; /* the serve loop ends */
        bool serving;

        struct lease lease;
        struct remote_device *dev;
        int sock; /* our end of the socketpair */
        int index;
        char path[32];
        bool swapped_on;
        uint64_t next_renew_usec, last_renew_usec;
};

static bool wait_stop(struct remote_swap *s, uint64_t usec)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (usec % 1000000) * 1000;
        ts.tv_sec += (time_t)(usec / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&s->lock);
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
                ;
        bool stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        return stop;
}

static int renew_cb(void *ud, const struct lease *current, struct lease *ret)
{
        struct remote_swap *s = ud;
        return consumer_lease_renew(&s->p.http, current->id, ret);
}

/* On the serve thread: renew every third of the TTL and apply the answer (revocations fail
 * replicas, re-grants start copies). */
static void tick(void *ud, struct remote_device *d)
{
        struct remote_swap *s = ud;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        /* Due, or a replica wants a new slab (the renewal re-grants): then once a second. */
        bool due = now >= s->next_renew_usec;
        bool wants = remote_device_wants_slabs(d) && now >= s->last_renew_usec + 1000000;
        if (!due && !wants)
                return;
        s->last_renew_usec = now;
        struct lease nl = {};
        int r = consumer_lease_renew(&s->p.http, remote_device_lease(d)->id, &nl);
        s->next_renew_usec = now + s->p.ttl_sec * 1000000 / 3;
        if (r < 0) {
                log_warning_errno(r, "Failed to renew lease %s, retrying in %" PRIu64 " s: %m",
                                  remote_device_lease(d)->id, s->p.ttl_sec / 3);
                return;
        }
        if (nl.state != LEASE_ACTIVE)
                log_error("Lease %s expired: its slabs are revoked and the pages on them are "
                          "lost unless another replica holds them",
                          nl.id);
        r = remote_device_update(d, &nl);
        if (r < 0)
                log_warning_errno(r, "Failed to apply the renewal of lease %s: %m", nl.id);
        lease_done(&nl);
}

static void *serve_main(void *arg)
{
        struct remote_swap *s = arg;
        /* Our allocations must not wait on reclaim that waits on us. */
        if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0)
                log_debug_errno(-errno, "PR_SET_IO_FLUSHER refused, ignoring: %m");
        int r = remote_device_serve_nbd(s->dev, s->sock, &s->halt, 200);
        if (r < 0)
                log_error_errno(r, "Remote swap worker of %s stopped: %m", s->path);
        return NULL;
}

static int setup(struct remote_swap *s)
{
        uint8_t page[REMOTE_SWAP_PAGE_BYTES], uuid[16];
        int r, sv[2];

        r = remote_device_open(&s->lease, s->p.timeout_ms, &s->dev);
        if (r < 0)
                return log_error_errno(r, "Failed to reach the slabs of lease %s: %m", s->lease.id);
        remote_device_set_refresh(s->dev, renew_cb, s);
        remote_device_set_tick(s->dev, tick, s);
        s->next_renew_usec = now_usec(CLOCK_MONOTONIC) + s->p.ttl_sec * 1000000 / 3;
        if (getrandom(uuid, sizeof(uuid), 0) != sizeof(uuid))
                memset(uuid, 0x5a, sizeof(uuid));
        r = remote_swap_header(remote_device_bytes(s->dev), uuid, page);
        if (r == 0)
                r = remote_device_write(s->dev, 0, page, sizeof(page));
        if (r < 0)
                return log_error_errno(r, "Failed to write the swap signature: %m");

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return log_error_errno(-errno, "Failed to create the NBD socketpair: %m");
        struct nbd_connect_params np = { .size_bytes = remote_device_bytes(s->dev),
                                         .block_bytes = REMOTE_SWAP_PAGE_BYTES,
                                         .timeout_sec = 60,
                                         .sock_fd = sv[1],
                                         .index = -1 };
        r = nbd_netlink_connect(&np);
        close(sv[1]); /* the driver holds its own reference */
        if (r < 0) {
                close(sv[0]);
                return log_error_errno(r, "Failed to connect an NBD device (%s): %m",
                                       r == -ENOENT ? "modprobe nbd" : "needs CAP_SYS_ADMIN");
        }
        s->index = r;
        s->sock = sv[0];
        snprintf(s->path, sizeof(s->path), "/dev/nbd%d", s->index);
        r = pthread_create(&s->serve_thread, NULL, serve_main, s);
        if (r != 0)
                return log_error_errno(-r, "Failed to start the remote swap worker: %m");
        s->serving = true;

        /* The node appears with the device's uevent (devtmpfs): give it a moment. */
        int flags =
            SWAP_FLAG_PREFER | ((s->p.priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
        for (int i = 0; i < 50; i++) {
                r = swapon(s->path, flags) < 0 ? -errno : 0;
                if (r != -ENOENT && r != -ENXIO)
                        break;
                if (wait_stop(s, 100000))
                        return -ECANCELED;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to swapon %s: %m", s->path);
        s->swapped_on = true;
        log_info("Remote swap on %s: lease %s, %" PRIu64 " bytes on %zu slabs, priority %d",
                 s->path, s->lease.id, remote_device_bytes(s->dev), s->lease.n_slabs,
                 s->p.priority);
        return 0;
}

static void *setup_main(void *arg)
{
        struct remote_swap *s = arg;
        uint64_t backoff = 1000000;
        for (;;) {
                int r = consumer_lease_create(&s->p.http, NULL, s->p.node_name, s->p.bytes,
                                              s->p.ttl_sec, true, &s->lease);
                if (r == 0)
                        break;
                log_warning_errno(r,
                                  "No remote swap lease of %" PRIu64 " bytes yet (%s), "
                                  "retrying in %" PRIu64 " s: %m",
                                  s->p.bytes, r == -ENOSPC ? "the pools are short" : "memschedd",
                                  backoff / 1000000);
                if (wait_stop(s, backoff))
                        return NULL;
                backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
        }
        if (setup(s) < 0)
                return NULL;
        (void)wait_stop(s, UINT64_MAX / 4);
        return NULL;
}

int remote_swap_start(const struct remote_swap_params *p, struct remote_swap **ret)
{
        struct remote_swap *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->p = *p;
        snprintf(s->node, sizeof(s->node), "%s", p->node_name);
        snprintf(s->url, sizeof(s->url), "%s", p->http.base_url);
        snprintf(s->ca, sizeof(s->ca), "%s", p->http.ca_file ? p->http.ca_file : "");
        snprintf(s->cert, sizeof(s->cert), "%s", p->http.cert_file ? p->http.cert_file : "");
        snprintf(s->key, sizeof(s->key), "%s", p->http.key_file ? p->http.key_file : "");
        snprintf(s->token, sizeof(s->token), "%s", p->http.token_file ? p->http.token_file : "");
        s->p.node_name = s->node;
        s->p.http = (struct remote_http){ .base_url = s->url,
                                          .ca_file = s->ca,
                                          .cert_file = s->cert,
                                          .key_file = s->key,
                                          .token_file = s->token,
                                          .timeout_ms = p->http.timeout_ms };
        if (s->p.ttl_sec < 3)
                s->p.ttl_sec = 3;
        s->sock = -1;
        s->index = -1;
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);
        /* The worker must never wait for its own pages: keep the daemon resident. */
        if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
                log_warning_errno(-errno, "Failed to lock memagentd's memory; under heavy "
                                          "pressure the remote swap worker may stall: %m");
        int r = pthread_create(&s->setup_thread, NULL, setup_main, s);
        if (r != 0) {
                free(s);
                return -r;
        }
        *ret = s;
        return 0;
}

void remote_swap_stop(struct remote_swap *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->setup_thread, NULL);

        bool drained = !s->swapped_on;
        if (s->swapped_on) {
                /* Drain: the kernel reads every swapped page back (served by the worker). */
                log_info("Draining remote swap %s (swapoff)", s->path);
                if (swapoff(s->path) == 0)
                        drained = true;
                else
                        log_error_errno(-errno,
                                        "Failed to swapoff %s; keeping lease %s so that no "
                                        "swapped page is lost (it expires unless renewed): %m",
                                        s->path, s->lease.id);
        }
        if (s->index >= 0 && drained) {
                int r = nbd_netlink_disconnect((uint32_t)s->index);
                if (r < 0)
                        log_warning_errno(r, "Failed to disconnect %s: %m", s->path);
        }
        if (s->serving) {
                s->halt = true;
                if (s->sock >= 0)
                        shutdown(s->sock, SHUT_RDWR);
                pthread_join(s->serve_thread, NULL);
        }
        if (drained && *s->lease.id) {
                int r = consumer_lease_release(&s->p.http, s->lease.id);
                if (r < 0)
                        log_warning_errno(r, "Failed to release lease %s, it expires: %m",
                                          s->lease.id);
                else
                        log_info("Released lease %s after draining it", s->lease.id);
        }
        safe_close(s->sock);
        remote_device_free(s->dev);
        lease_done(&s->lease);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}
