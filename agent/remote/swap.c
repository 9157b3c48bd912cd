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
        pthread_t worker_thread, serve_thread;
        pthread_mutex_t lock; /* guards the command, the state below it, and stop */
        pthread_cond_t cond;
        bool stop; /* remote_swap_stop() was called */
        bool has_command;
        enum lease_op command;
        uint64_t command_bytes;
        /* What remote_swap_get() reports. */
        enum remote_swap_phase phase;
        uint64_t renewals, revoked, errors;
        int last_error;
        bool ending;           /* late or lost: drain now */
        bool lost;             /* memschedd said expired, or a chunk lost every replica */
        uint64_t renewed_usec; /* CLOCK_MONOTONIC of the grant or the last renewal */
        char lease_id[LEASE_ID_MAX];
        uint64_t lease_bytes;
        struct remote_swap_donor donors[REMOTE_SWAP_DONORS_MAX];
        size_t n_donors;

        /* The worker's own. */
        volatile bool halt; /* the serve loop ends */
        volatile bool renew_wanted;
        bool serving;
        struct lease lease;
        struct remote_device *dev;
        int sock; /* our end of the socketpair */
        int index;
        char path[32];
        bool swapped_on;
        uint64_t next_renew_usec, last_renew_usec;
        uint64_t published_usec; /* CLOCK_MONOTONIC of the serve thread's last publish_lease() */
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

static void set_phase(struct remote_swap *s, enum remote_swap_phase phase)
{
        pthread_mutex_lock(&s->lock);
        s->phase = phase;
        if (phase == RSWAP_OFF) {
                s->lease_id[0] = '\0';
                s->lease_bytes = 0;
                s->ending = s->lost = false;
                s->n_donors = 0;
        }
        pthread_mutex_unlock(&s->lock);
}

static void set_error(struct remote_swap *s, int r)
{
        pthread_mutex_lock(&s->lock);
        s->last_error = r;
        s->errors++;
        pthread_mutex_unlock(&s->lock);
}

/* The per-donor view for status: how many of its replicas are healthy, syncing, failed, and
 * with_latency (only on the serve thread, which owns the device's figures) how its transfers
 * went. */
static void publish_lease(struct remote_swap *s, const struct lease *l, bool with_latency)
{
        const struct replica_set *rs = s->dev ? remote_device_replicas(s->dev) : NULL;
        size_t n = 0;
        struct remote_swap_donor donors[REMOTE_SWAP_DONORS_MAX] = {};
        for (size_t i = 0; i < l->n_slabs; i++) {
                const struct lease_slab *sl = &l->slabs[i];
                size_t k = 0;
                while (k < n && strcmp(donors[k].donor, sl->donor) != 0)
                        k++;
                if (k == n) {
                        if (n == REMOTE_SWAP_DONORS_MAX)
                                continue;
                        snprintf(donors[n].donor, sizeof(donors[n].donor), "%s", sl->donor);
                        n++;
                }
                enum replica_state st = sl->revoked ? REPLICA_FAILED : REPLICA_HEALTHY;
                if (rs && sl->chunk < rs->n_chunks && sl->replica < REPLICA_SLOTS &&
                    rs->chunks[sl->chunk].slot[sl->replica].slab == i)
                        st = rs->chunks[sl->chunk].slot[sl->replica].state;
                if (donors[k].slabs == 0 && with_latency && s->dev) {
                        const struct remote_latency *lat =
                            remote_device_donor_latency(s->dev, sl->donor);
                        if (lat)
                                donors[k].latency = *lat;
                }
                donors[k].slabs++;
                donors[k].bytes += sl->length;
                if (st == REPLICA_HEALTHY)
                        donors[k].healthy++;
                else if (st == REPLICA_SYNCING)
                        donors[k].syncing++;
                else
                        donors[k].failed++;
        }
        pthread_mutex_lock(&s->lock);
        snprintf(s->lease_id, sizeof(s->lease_id), "%s", l->id);
        s->lease_bytes = l->bytes;
        /* Off the serve thread the figures stay as last published, for the donors that remain. */
        for (size_t k = 0; k < n && !with_latency; k++)
                for (size_t j = 0; j < s->n_donors; j++)
                        if (streq(s->donors[j].donor, donors[k].donor))
                                donors[k].latency = s->donors[j].latency;
        memcpy(s->donors, donors, sizeof(donors));
        s->n_donors = n;
        pthread_mutex_unlock(&s->lock);
}

static int renew_cb(void *ud, const struct lease *current, struct lease *ret)
{
        struct remote_swap *s = ud;
        return consumer_lease_renew(&s->p.http, current->id, ret);
}

static size_t count_revoked(const struct lease *l)
{
        size_t n = 0;
        for (size_t i = 0; i < l->n_slabs; i++)
                n += l->slabs[i].revoked;
        return n;
}

/* On the serve thread: renew when memagentd's step asks (every third of the TTL while the lease
 * is wanted), when a replica wants a new slab (the renewal re-grants; then once a second), and
 * on our own when the step has not asked for two thirds of the TTL (the loop may be stalled by
 * the very pressure the swap relieves: the lease must not lapse for that). The answer is
 * applied: revocations fail replicas, re-grants start copies. */
static void tick(void *ud, struct remote_device *d)
{
        struct remote_swap *s = ud;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (now >= s->published_usec + 1000000) {
                publish_lease(s, remote_device_lease(d), true);
                s->published_usec = now;
        }
        bool asked = s->renew_wanted;
        bool overdue = now >= s->last_renew_usec + s->p.ttl_sec * 2000000 / 3;
        bool wants = remote_device_wants_slabs(d) && now >= s->last_renew_usec + 1000000;
        /* Renewals that do not come through: the donors stop serving at expiry, so the step must
         * drain before it (checked every tick, whatever the renewals do). */
        const struct lease *cur = remote_device_lease(d);
        bool ending =
            remote_swap_lease_ending(cur->expires_at_usec, s->p.ttl_sec, now_usec(CLOCK_REALTIME));
        uint64_t real = now_usec(CLOCK_REALTIME);
        uint64_t left_usec = cur->expires_at_usec > real ? cur->expires_at_usec - real : 0;
        pthread_mutex_lock(&s->lock);
        if (ending && !s->ending && !s->lost)
                log_warning("Lease %s missed a renewal and expires in %" PRIu64 " s: it must be "
                            "drained before",
                            cur->id, left_usec / 1000000);
        /* A renewal that comes through late takes it back, unless the drain began. */
        s->ending = s->lost || ending;
        /* This thread serves the kernel's requests, and a renewal blocks it for as long as
         * memschedd takes to answer (its timeout when it is away): once the lease is ending or
         * draining, swapoff's reads come first. */
        bool serve_only = s->ending || s->phase == RSWAP_DRAINING;
        pthread_mutex_unlock(&s->lock);
        if (serve_only || (!asked && !overdue && !wants))
                return;
        s->renew_wanted = false;
        s->last_renew_usec = now;
        struct lease nl = {};
        int r = consumer_lease_renew(&s->p.http, remote_device_lease(d)->id, &nl);
        if (r < 0) {
                log_warning_errno(r, "Failed to renew lease %s: %m", remote_device_lease(d)->id);
                set_error(s, r);
                return;
        }
        size_t revoked_before = count_revoked(remote_device_lease(d));
        if (nl.state != LEASE_ACTIVE)
                log_error("Lease %s expired: its slabs are revoked; draining what is left", nl.id);
        r = remote_device_update(d, &nl);
        if (r < 0)
                log_warning_errno(r, "Failed to apply the renewal of lease %s: %m", nl.id);
        size_t revoked_now = count_revoked(&nl);
        bool lost = replica_set_lost_chunks(remote_device_replicas(d)) > 0;
        publish_lease(s, &nl, true);
        s->published_usec = now;
        pthread_mutex_lock(&s->lock);
        s->renewals++;
        s->renewed_usec = now;
        if (revoked_now > revoked_before)
                s->revoked += revoked_now - revoked_before;
        s->lost = s->lost || nl.state != LEASE_ACTIVE || lost;
        s->ending = s->ending || s->lost;
        pthread_mutex_unlock(&s->lock);
        lease_done(&nl);
}

bool remote_swap_lease_ending(uint64_t expires_at_usec, uint64_t ttl_sec, uint64_t now_usec)
{
        /* A renewal is due with two thirds left: half left means it did not come through. */
        uint64_t half = ttl_sec * 1000000 / 2;
        return expires_at_usec != 0 && now_usec + half >= expires_at_usec;
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
        s->last_renew_usec = now_usec(CLOCK_MONOTONIC);
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
        s->halt = false;
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

/* Drain: the kernel reads every swapped page back (served by the worker), and only then is the
 * device disconnected. A swapoff that fails keeps everything as it was: the device served, the
 * lease held. */
static int drain(struct remote_swap *s)
{
        if (s->swapped_on) {
                log_info("Draining remote swap %s of lease %s (swapoff)", s->path, s->lease.id);
                if (swapoff(s->path) < 0)
                        return log_error_errno(-errno,
                                               "Failed to swapoff %s; keeping lease %s so that no "
                                               "swapped page is lost: %m",
                                               s->path, s->lease.id);
                s->swapped_on = false;
                log_info("Drained remote swap %s of lease %s", s->path, s->lease.id);
        }
        if (s->index >= 0) {
                int r = nbd_netlink_disconnect((uint32_t)s->index);
                if (r < 0)
                        log_warning_errno(r, "Failed to disconnect %s: %m", s->path);
                s->index = -1;
        }
        if (s->serving) {
                s->halt = true;
                if (s->sock >= 0)
                        shutdown(s->sock, SHUT_RDWR);
                pthread_join(s->serve_thread, NULL);
                s->serving = false;
        }
        s->sock = safe_close(s->sock);
        remote_device_free(s->dev);
        s->dev = NULL;
        return 0;
}

/* After a drain (or a setup that never swapped on): give the lease back. */
static void release(struct remote_swap *s)
{
        if (!*s->lease.id)
                return;
        int r = consumer_lease_release(&s->p.http, s->lease.id);
        if (r < 0)
                log_warning_errno(r, "Failed to release lease %s, it expires: %m", s->lease.id);
        else
                log_info("Released lease %s after draining it", s->lease.id);
        lease_done(&s->lease);
        memset(&s->lease, 0, sizeof(s->lease));
}

static void do_lease(struct remote_swap *s, uint64_t bytes)
{
        set_phase(s, RSWAP_LEASING);
        int r = consumer_lease_create(&s->p.http, NULL, s->p.node_name, bytes ? bytes : s->p.bytes,
                                      s->p.ttl_sec, true, &s->lease);
        if (r < 0) {
                log_warning_errno(r, "No remote swap lease of %" PRIu64 " bytes (%s): %m",
                                  bytes ? bytes : s->p.bytes,
                                  r == -ENOSPC ? "the pools are short" : "memschedd");
                set_error(s, r);
                set_phase(s, RSWAP_OFF);
                return;
        }
        publish_lease(s, &s->lease, false);
        pthread_mutex_lock(&s->lock);
        s->renewed_usec = now_usec(CLOCK_MONOTONIC);
        pthread_mutex_unlock(&s->lock);
        r = setup(s);
        if (r < 0) {
                (void)drain(s);
                release(s);
                set_error(s, r);
                set_phase(s, RSWAP_OFF);
                return;
        }
        publish_lease(s, &s->lease, false);
        set_phase(s, RSWAP_ON);
}

static void *worker_main(void *arg)
{
        struct remote_swap *s = arg;
        for (;;) {
                pthread_mutex_lock(&s->lock);
                while (!s->stop && !s->has_command)
                        pthread_cond_wait(&s->cond, &s->lock);
                if (s->stop) {
                        pthread_mutex_unlock(&s->lock);
                        return NULL;
                }
                enum lease_op op = s->command;
                uint64_t bytes = s->command_bytes;
                enum remote_swap_phase phase = s->phase;
                s->has_command = false;
                pthread_mutex_unlock(&s->lock);

                switch (op) {
                case LEASE_OP_LEASE:
                        if (phase == RSWAP_OFF)
                                do_lease(s, bytes);
                        break;
                case LEASE_OP_RENEW:
                        if (phase == RSWAP_ON)
                                s->renew_wanted = true;
                        break;
                case LEASE_OP_DRAIN:
                        if (phase != RSWAP_ON)
                                break;
                        set_phase(s, RSWAP_DRAINING);
                        int r = drain(s);
                        if (r < 0)
                                set_error(s, r);
                        set_phase(s, r < 0 ? RSWAP_ON : RSWAP_DRAINED);
                        break;
                case LEASE_OP_RELEASE:
                        if (phase != RSWAP_DRAINED)
                                break;
                        release(s);
                        set_phase(s, RSWAP_OFF);
                        break;
                }
        }
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
        int r = pthread_create(&s->worker_thread, NULL, worker_main, s);
        if (r != 0) {
                free(s);
                return -r;
        }
        *ret = s;
        return 0;
}

void remote_swap_command(struct remote_swap *s, enum lease_op op, uint64_t bytes)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        /* One command at a time: the step asks again if the newer one mattered. A renewal
         * does not replace a drain or a release in waiting. */
        if (!(s->has_command && op == LEASE_OP_RENEW && s->command != LEASE_OP_RENEW)) {
                s->command = op;
                s->command_bytes = bytes;
                s->has_command = true;
        }
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

int remote_swap_used_bytes(const char *proc_swaps, const char *path, uint64_t *ret)
{
        size_t n = strlen(path);
        for (const char *line = proc_swaps; line && *line;) {
                const char *end = strchr(line, '\n');
                if (strncmp(line, path, n) == 0 && (line[n] == ' ' || line[n] == '\t')) {
                        char type[32];
                        unsigned long long size_kib, used_kib;
                        if (sscanf(line + n, "%31s %llu %llu", type, &size_kib, &used_kib) != 3)
                                return -EBADMSG;
                        *ret = (uint64_t)used_kib * 1024;
                        return 0;
                }
                line = end ? end + 1 : NULL;
        }
        return -ENOENT;
}

void remote_swap_get(struct remote_swap *s, struct remote_swap_input *ret,
                     struct remote_swap_donor *ret_donors, size_t *ret_n_donors)
{
        pthread_mutex_lock(&s->lock);
        *ret = (struct remote_swap_input){
                .configured = true,
                .phase = s->phase,
                .lease_bytes = s->lease_bytes,
                .ending = s->ending,
                .renew_due =
                    s->phase == RSWAP_ON &&
                    now_usec(CLOCK_MONOTONIC) >= s->renewed_usec + s->p.ttl_sec * 1000000 / 3,
                .renewals = s->renewals,
                .revoked = s->revoked,
                .last_error = s->last_error,
                .last_error_count = s->errors,
        };
        snprintf(ret->lease_id, sizeof(ret->lease_id), "%s", s->lease_id);
        char path[32];
        snprintf(path, sizeof(path), "%s",
                 s->phase == RSWAP_ON || s->phase == RSWAP_DRAINING ? s->path : "");
        if (ret_donors && ret_n_donors) {
                memcpy(ret_donors, s->donors, s->n_donors * sizeof(*ret_donors));
                *ret_n_donors = s->n_donors;
        }
        pthread_mutex_unlock(&s->lock);
        /* Swapped bytes: the kernel's count for our device (/proc/swaps, in KiB). During a drain
         * swapoff has already taken the device out of the list: count it all as swapped. */
        if (!*path)
                return;
        char buf[4096];
        FILE *f = fopen("/proc/swaps", "re");
        if (!f)
                return;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        uint64_t used = 0;
        if (remote_swap_used_bytes(buf, path, &used) == 0)
                ret->swapped_bytes = used;
        else if (ret->phase == RSWAP_DRAINING)
                ret->swapped_bytes = ret->lease_bytes;
}

void remote_swap_stop(struct remote_swap *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->worker_thread, NULL);

        /* Our pages come home before the lease goes; a failed swapoff keeps the lease (it
         * expires unless renewed) and leaves the device to the kernel. */
        if (drain(s) == 0)
                release(s);
        else if (s->serving) {
                s->halt = true;
                if (s->sock >= 0)
                        shutdown(s->sock, SHUT_RDWR);
                pthread_join(s->serve_thread, NULL);
        }
        safe_close(s->sock);
        remote_device_free(s->dev);
        lease_done(&s->lease);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}
