// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/device.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/remote/io.h"
#include "agent/remote/proto.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

/* How long a donor behind our epoch (EAGAIN) is waited for within one transfer: about two of
 * its renewal periods would be right; the transfer's timeout bounds it. */
#define BEHIND_RETRY_USEC 50000

struct remote_device {
        struct lease lease; /* the latest answer, with tokens */
        struct replica_set set;
        struct remote_link *links; /* parallel to lease.slabs */
        int timeout_ms;
        struct remote_device_stats stats;
        uint8_t *copy_buf;
        size_t copy_buf_size;
        remote_device_refresh_t refresh;
        void *refresh_ud;
        remote_device_tick_t tick;
        void *tick_ud;
        struct {
                char donor[API_NODE_NAME_MAX];
                struct remote_latency latency;
        } donors[REMOTE_DEVICE_DONORS_MAX];
        size_t n_donors;
};

static struct remote_hello slab_hello(const struct remote_device *d, size_t i)
{
        const struct lease_slab *s = &d->lease.slabs[i];
        struct remote_hello h = { .epoch = d->lease.epoch,
                                  .offset = s->offset,
                                  .length = s->length };
        snprintf(h.lease_id, sizeof(h.lease_id), "%s", d->lease.id);
        snprintf(h.token, sizeof(h.token), "%s", s->token);
        return h;
}

static void pause_usec(uint64_t usec)
{
        struct timespec ts = { .tv_sec = (time_t)(usec / 1000000),
                               .tv_nsec = (long)(usec % 1000000) * 1000 };
        nanosleep(&ts, NULL);
}

/* Opens the link to slab i. A donor answers from the grants of its last renewal with memschedd,
 * so a grant just made (ENOENT) or an epoch just raised (EAGAIN) reaches it within its period:
 * both are waited for until deadline (CLOCK_MONOTONIC). */
static int link_open(struct remote_device *d, size_t i, uint64_t deadline_usec)
{
        for (;;) {
                struct remote_hello h = slab_hello(d, i);
                int r =
                    remote_link_open(&d->lease.slabs[i].transport, &h, d->timeout_ms, &d->links[i]);
                explicit_bzero(h.token, sizeof(h.token));
                if ((r != -EAGAIN && r != -ENOENT) || now_usec(CLOCK_MONOTONIC) >= deadline_usec)
                        return r;
                pause_usec(BEHIND_RETRY_USEC);
        }
}

static uint32_t slab_of(const struct remote_device *d, size_t chunk, unsigned slot)
{
        return d->set.chunks[chunk].slot[slot].slab;
}

/* Asks the owner for the lease as memschedd has it now; true when the epoch moved on. */
static bool refresh_lease(struct remote_device *d)
{
        struct lease nl = {};
        if (!d->refresh || d->refresh(d->refresh_ud, &d->lease, &nl) < 0)
                return false;
        bool newer = nl.epoch > d->lease.epoch && remote_device_update(d, &nl) == 0;
        lease_done(&nl);
        return newer;
}

static struct remote_latency *donor_latency(struct remote_device *d, const char *donor)
{
        for (size_t k = 0; k < d->n_donors; k++)
                if (streq(d->donors[k].donor, donor))
                        return &d->donors[k].latency;
        if (d->n_donors == REMOTE_DEVICE_DONORS_MAX)
                return NULL;
        size_t k = d->n_donors++;
        snprintf(d->donors[k].donor, sizeof(d->donors[k].donor), "%s", donor);
        return &d->donors[k].latency;
}

/* remote_link_io(), timed for the donor's latency figures. */
static int timed_link_io(struct remote_device *d, uint32_t slab, enum remote_op op, uint64_t offset,
                         void *buf, uint32_t length)
{
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r = remote_link_io(&d->links[slab], op, offset, buf, length);
        struct remote_latency *lat = donor_latency(d, d->lease.slabs[slab].donor);
        if (lat)
                remote_latency_add(lat, now_usec(CLOCK_MONOTONIC) - t0, r == 0);
        return r;
}

/* One transfer on the replica (chunk, slot), riding out what is not the replica's fault: a link
 * fenced because our epoch moved on (open it again), a donor that has not seen our epoch yet
 * (wait for its renewal), a donor that has seen a newer epoch than ours (refresh the lease, and
 * go on if the replica survived it). */
static int replica_io(struct remote_device *d, size_t chunk, unsigned slot, enum remote_op op,
                      uint64_t offset, void *buf, uint32_t length)
{
        const uint64_t deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)d->timeout_ms * 1000;
        bool refreshed = false;
        int r;
        for (;;) {
                const struct replica *rep = &d->set.chunks[chunk].slot[slot];
                if (rep->state != REPLICA_HEALTHY && rep->state != REPLICA_SYNCING)
                        return -ESTALE; /* a refresh revoked it */
                uint32_t i = rep->slab;
                if (i >= d->lease.n_slabs)
                        return -ENOENT;
                struct remote_link *l = &d->links[i];
                if (l->fd >= 0 && l->epoch < d->lease.epoch)
                        remote_link_close(l);
                if (l->fd < 0) {
                        r = link_open(d, i, deadline);
                        if (r == -ESTALE && !refreshed) {
                                refreshed = true;
                                if (refresh_lease(d))
                                        continue;
                        }
                        if (r < 0)
                                return r;
                        d->stats.relinks++;
                }
                r = timed_link_io(d, i, op, offset, buf, length);
                if (r == -ESTALE && l->epoch < d->lease.epoch)
                        continue;
                if (r == -ESTALE && !refreshed) {
                        refreshed = true;
                        if (refresh_lease(d))
                                continue;
                }
                if (r == -EAGAIN && l->fd >= 0 && now_usec(CLOCK_MONOTONIC) < deadline) {
                        pause_usec(BEHIND_RETRY_USEC);
                        continue;
                }
                return r;
        }
}

int remote_device_open(const struct lease *l, int timeout_ms, struct remote_device **ret)
{
        struct remote_device *d = calloc(1, sizeof(*d));
        int r;
        if (!d)
                return -ENOMEM;
        d->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
        r = lease_copy(l, &d->lease);
        if (r < 0) {
                free(d);
                return r;
        }
        r = replica_set_from_lease(&d->set, &d->lease);
        if (r < 0) {
                lease_done(&d->lease);
                free(d);
                return r;
        }
        d->links = calloc(d->lease.n_slabs ? d->lease.n_slabs : 1, sizeof(*d->links));
        if (!d->links) {
                remote_device_free(d);
                return -ENOMEM;
        }
        for (size_t i = 0; i < d->lease.n_slabs; i++)
                d->links[i] = REMOTE_LINK_NULL;
        for (size_t i = 0; i < d->lease.n_slabs; i++) {
                if (d->lease.slabs[i].revoked)
                        continue;
                r = link_open(d, i, now_usec(CLOCK_MONOTONIC) + (uint64_t)d->timeout_ms * 1000);
                if (r < 0) {
                        log_warning_errno(r,
                                          "Failed to reach slab %zu of lease %s on %s, its "
                                          "replica is lost: %m",
                                          i, d->lease.id, d->lease.slabs[i].donor);
                        d->stats.replica_failures += replica_fail_slab(&d->set, (uint32_t)i);
                }
        }
        if (replica_set_lost_chunks(&d->set) > 0) {
                remote_device_free(d);
                return -ENODATA;
        }
        *ret = d;
        return 0;
}

void remote_device_set_refresh(struct remote_device *d, remote_device_refresh_t refresh,
                               void *userdata)
{
        d->refresh = refresh;
        d->refresh_ud = userdata;
}

void remote_device_set_tick(struct remote_device *d, remote_device_tick_t tick, void *userdata)
{
        d->tick = tick;
        d->tick_ud = userdata;
}

void remote_device_free(struct remote_device *d)
{
        if (!d)
                return;
        for (size_t i = 0; d->links && i < d->lease.n_slabs; i++)
                remote_link_close(&d->links[i]);
        free(d->links);
        replica_set_done(&d->set);
        for (size_t i = 0; i < d->lease.n_slabs; i++)
                explicit_bzero(d->lease.slabs[i].token, sizeof(d->lease.slabs[i].token));
        lease_done(&d->lease);
        free(d->copy_buf);
        free(d);
}

uint64_t remote_device_bytes(const struct remote_device *d)
{
        return d->set.chunk_bytes * d->set.n_chunks;
}

const struct lease *remote_device_lease(const struct remote_device *d)
{
        return &d->lease;
}

const struct replica_set *remote_device_replicas(const struct remote_device *d)
{
        return &d->set;
}

void remote_device_get_stats(const struct remote_device *d, struct remote_device_stats *ret)
{
        *ret = d->stats;
}

const struct remote_latency *remote_device_donor_latency(const struct remote_device *d,
                                                         const char *donor)
{
        for (size_t k = 0; k < d->n_donors; k++)
                if (streq(d->donors[k].donor, donor))
                        return &d->donors[k].latency;
        return NULL;
}

static void note_failure(struct remote_device *d, size_t chunk, unsigned slot, int r)
{
        d->stats.replica_failures++;
        log_warning_errno(r,
                          "Replica %u of chunk %zu of lease %s on %s failed, serving from the "
                          "other: %m",
                          slot, chunk, d->lease.id, d->lease.slabs[slab_of(d, chunk, slot)].donor);
}

static int chunk_read(struct remote_device *d, size_t chunk, uint64_t off, uint8_t *buf,
                      uint32_t len)
{
        unsigned slot;
        for (;;) {
                int r = replica_plan_read(&d->set, chunk, &slot);
                if (r < 0)
                        return r;
                r = replica_io(d, chunk, slot, REMOTE_OP_READ, off, buf, len);
                if (r < 0)
                        note_failure(d, chunk, slot, r);
                replica_read_done(&d->set, chunk, slot, r);
                if (r == 0)
                        return 0;
        }
}

/* The fast path of a write: [off, off+len) (at most REMOTE_LINK_START_BYTES_MAX) started on
 * every replica in slots[0..n) whose link is open under the lease's epoch, then finished on each,
 * so that both replicas' transfers are in flight together rather than one after the other (the
 * wire's round trip paid once, not twice). results[k] is 0 where that replica has the bytes, else
 * -EAGAIN (not started) or what went wrong; the caller redoes those through replica_io(), which
 * opens links, rides out epochs and retries: writing a block twice is harmless. */
static void chunk_write_together(struct remote_device *d, size_t chunk, const unsigned *slots,
                                 int n, uint64_t off, const uint8_t *buf, uint32_t len,
                                 int *results)
{
        uint64_t t0[REPLICA_SLOTS];
        for (int k = 0; k < n; k++) {
                const struct replica *rep = &d->set.chunks[chunk].slot[slots[k]];
                struct remote_link *l = rep->slab < d->lease.n_slabs ? &d->links[rep->slab] : NULL;
                results[k] = -EAGAIN;
                if (!l || l->fd < 0 || l->epoch != d->lease.epoch ||
                    (rep->state != REPLICA_HEALTHY && rep->state != REPLICA_SYNCING))
                        continue;
                t0[k] = now_usec(CLOCK_MONOTONIC);
                results[k] =
                    remote_link_start(l, REMOTE_OP_WRITE, off, buf, len) == 0 ? 1 : -EAGAIN;
        }
        for (int k = 0; k < n; k++) {
                if (results[k] != 1)
                        continue;
                uint32_t i = d->set.chunks[chunk].slot[slots[k]].slab;
                results[k] = remote_link_finish(&d->links[i], NULL);
                struct remote_latency *lat = donor_latency(d, d->lease.slabs[i].donor);
                if (lat)
                        remote_latency_add(lat, now_usec(CLOCK_MONOTONIC) - t0[k], results[k] == 0);
        }
}

static int chunk_write(struct remote_device *d, size_t chunk, uint64_t off, const uint8_t *buf,
                       uint32_t len)
{
        unsigned slots[REPLICA_SLOTS];
        int results[REPLICA_SLOTS] = {}, piece[REPLICA_SLOTS];
        int n = replica_plan_write(&d->set, chunk, slots);
        if (n < 0)
                return n;
        for (uint32_t done = 0; done < len;) {
                uint32_t m = len - done < REMOTE_LINK_START_BYTES_MAX ? len - done
                                                                      : REMOTE_LINK_START_BYTES_MAX;
                chunk_write_together(d, chunk, slots, n, off + done, buf + done, m, piece);
                for (int k = 0; k < n; k++) {
                        if (results[k] < 0)
                                continue; /* that replica failed an earlier piece */
                        if (piece[k] != 0)
                                piece[k] = replica_io(d, chunk, slots[k], REMOTE_OP_WRITE,
                                                      off + done, (void *)(buf + done), m);
                        results[k] = piece[k];
                }
                done += m;
        }
        for (int k = 0; k < n; k++) {
                if (results[k] < 0)
                        note_failure(d, chunk, slots[k], results[k]);
                replica_write_done(&d->set, chunk, slots[k], results[k]);
        }
        return replica_write_outcome(&d->set, chunk, slots, (size_t)n, results);
}

/* Splits [offset, offset+length) at chunk boundaries and at REMOTE_IO_BYTES_MAX. */
static int device_io(struct remote_device *d, bool write, uint64_t offset, uint8_t *buf,
                     size_t length)
{
        const uint64_t size = remote_device_bytes(d);
        if (offset > size || length > size - offset)
                return -ERANGE;
        while (length > 0) {
                size_t chunk = offset / d->set.chunk_bytes;
                uint64_t off = offset % d->set.chunk_bytes;
                uint64_t n = d->set.chunk_bytes - off;
                if (n > length)
                        n = length;
                if (n > REMOTE_IO_BYTES_MAX)
                        n = REMOTE_IO_BYTES_MAX;
                int r = write ? chunk_write(d, chunk, off, buf, (uint32_t)n)
                              : chunk_read(d, chunk, off, buf, (uint32_t)n);
                if (r < 0)
                        return r;
                offset += n;
                buf += n;
                length -= n;
        }
        return 0;
}

int remote_device_read(struct remote_device *d, uint64_t offset, void *buf, size_t length)
{
        int r = device_io(d, false, offset, buf, length);
        if (r == 0) {
                d->stats.reads++;
                d->stats.read_bytes += length;
        }
        return r;
}

int remote_device_write(struct remote_device *d, uint64_t offset, const void *buf, size_t length)
{
        int r = device_io(d, true, offset, (uint8_t *)buf, length);
        if (r == 0) {
                d->stats.writes++;
                d->stats.written_bytes += length;
        }
        return r;
}

static bool same_slab(const struct lease_slab *a, const struct lease_slab *b)
{
        return a->chunk == b->chunk && a->replica == b->replica && a->offset == b->offset &&
               streq(a->donor, b->donor);
}

int remote_device_update(struct remote_device *d, const struct lease *nl)
{
        if (!streq(nl->id, d->lease.id))
                return -EINVAL;
        for (size_t j = 0; j < nl->n_slabs; j++)
                if (nl->slabs[j].length != d->set.chunk_bytes ||
                    nl->slabs[j].chunk >= d->set.n_chunks || nl->slabs[j].replica >= REPLICA_SLOTS)
                        return -EINVAL;

        struct remote_link *links = calloc(nl->n_slabs ? nl->n_slabs : 1, sizeof(*links));
        uint32_t *map = calloc(d->lease.n_slabs ? d->lease.n_slabs : 1, sizeof(*map));
        struct lease copy;
        if (!links || !map || lease_copy(nl, &copy) < 0) {
                free(links);
                free(map);
                return -ENOMEM;
        }
        for (size_t j = 0; j < nl->n_slabs; j++)
                links[j] = REMOTE_LINK_NULL;

        /* Old slab i becomes new slab map[i], or is gone (superseded and dropped). */
        for (size_t i = 0; i < d->lease.n_slabs; i++) {
                map[i] = REPLICA_NO_SLAB;
                for (size_t j = 0; j < nl->n_slabs; j++)
                        if (same_slab(&d->lease.slabs[i], &nl->slabs[j])) {
                                map[i] = (uint32_t)j;
                                break;
                        }
                if (map[i] == REPLICA_NO_SLAB || nl->slabs[map[i]].revoked) {
                        size_t n = replica_fail_slab(&d->set, (uint32_t)i);
                        if (n)
                                log_warning("Slab %zu of lease %s on %s was revoked, %zu "
                                            "replica(s) to copy again",
                                            i, d->lease.id, d->lease.slabs[i].donor, n);
                        d->stats.replica_failures += n;
                        remote_link_close(&d->links[i]);
                } else
                        links[map[i]] = d->links[i];
        }
        /* Renumber the replicas to the new slab indexes. */
        for (size_t c = 0; c < d->set.n_chunks; c++)
                for (unsigned k = 0; k < REPLICA_SLOTS; k++) {
                        struct replica *r = &d->set.chunks[c].slot[k];
                        if (r->slab != REPLICA_NO_SLAB)
                                r->slab =
                                    r->slab < d->lease.n_slabs ? map[r->slab] : REPLICA_NO_SLAB;
                }
        free(map);
        free(d->links);
        d->links = links;
        for (size_t i = 0; i < d->lease.n_slabs; i++)
                explicit_bzero(d->lease.slabs[i].token, sizeof(d->lease.slabs[i].token));
        lease_done(&d->lease);
        d->lease = copy;

        /* New slabs: a re-granted replica, copied from the survivor. */
        for (size_t j = 0; j < nl->n_slabs; j++) {
                const struct lease_slab *s = &nl->slabs[j];
                if (s->revoked)
                        continue;
                const struct replica *r = &d->set.chunks[s->chunk].slot[s->replica];
                if (r->slab == j && (r->state == REPLICA_HEALTHY || r->state == REPLICA_SYNCING))
                        continue;
                int k = replica_attach(&d->set, s->chunk, s->replica, (uint32_t)j, false);
                if (k < 0) {
                        log_warning_errno(k,
                                          "Cannot copy chunk %u of lease %s onto its new slab "
                                          "on %s: %m",
                                          s->chunk, nl->id, s->donor);
                        continue;
                }
                log_info("Copying chunk %u of lease %s onto a new slab on %s", s->chunk, nl->id,
                         s->donor);
        }
        return 0;
}

int remote_device_repair_step(struct remote_device *d, uint64_t max_bytes)
{
        if (max_bytes > REMOTE_IO_BYTES_MAX)
                max_bytes = REMOTE_IO_BYTES_MAX;
        if (d->copy_buf_size < max_bytes) {
                uint8_t *b = realloc(d->copy_buf, max_bytes);
                if (!b)
                        return -ENOMEM;
                d->copy_buf = b;
                d->copy_buf_size = max_bytes;
        }
        int syncing = 0;
        for (size_t c = 0; c < d->set.n_chunks; c++)
                for (unsigned k = 0; k < REPLICA_SLOTS; k++) {
                        unsigned src;
                        uint64_t off, len;
                        int r = replica_sync_next(&d->set, c, k, max_bytes, &src, &off, &len);
                        if (r == -ENODATA)
                                return r;
                        if (r != 1)
                                continue;
                        int rr =
                            replica_io(d, c, src, REMOTE_OP_READ, off, d->copy_buf, (uint32_t)len);
                        int wr = rr < 0 ? 0
                                        : replica_io(d, c, k, REMOTE_OP_WRITE, off, d->copy_buf,
                                                     (uint32_t)len);
                        if (rr < 0)
                                note_failure(d, c, src, rr);
                        if (wr < 0)
                                note_failure(d, c, k, wr);
                        replica_sync_done(&d->set, c, k, src, len, rr, wr);
                        if (rr == 0 && wr == 0)
                                d->stats.synced_bytes += len;
                        if (d->set.chunks[c].slot[k].state == REPLICA_SYNCING)
                                syncing++;
                        else if (d->set.chunks[c].slot[k].state == REPLICA_HEALTHY)
                                log_info("Chunk %zu of lease %s has two replicas again", c,
                                         d->lease.id);
                }
        return replica_set_lost_chunks(&d->set) > 0 ? -ENODATA : syncing;
}

bool remote_device_wants_slabs(const struct remote_device *d)
{
        size_t c;
        unsigned s;
        return replica_next_repair(&d->set, d->lease.durable, &c, &s) == 1;
}

int remote_device_serve_nbd(struct remote_device *d, int fd, const volatile bool *stop, int poll_ms)
{
        uint8_t qbuf[REMOTE_NBD_REQUEST_BYTES], rbuf[REMOTE_NBD_REPLY_BYTES];
        uint8_t *data = malloc(REMOTE_IO_BYTES_MAX);
        int r = 0;
        if (!data)
                return -ENOMEM;
        uint64_t last_tick = now_usec(CLOCK_MONOTONIC);
        while (!(stop && *stop)) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (d->tick && now_usec(CLOCK_MONOTONIC) - last_tick >= (uint64_t)poll_ms * 1000) {
                        d->tick(d->tick_ud, d);
                        last_tick = now_usec(CLOCK_MONOTONIC);
                }
                bool syncing = false;
                for (size_t c = 0; c < d->set.n_chunks && !syncing; c++)
                        for (unsigned k = 0; k < REPLICA_SLOTS; k++)
                                syncing |= d->set.chunks[c].slot[k].state == REPLICA_SYNCING;
                /* Copy while the kernel is quiet; a request waiting goes first. */
                int n = poll(&p, 1, syncing ? 0 : poll_ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0) {
                        if (syncing)
                                (void)remote_device_repair_step(d, 256 * 1024);
                        continue;
                }
                struct remote_nbd_request q;
                r = remote_read_full(fd, qbuf, sizeof(qbuf));
                if (r < 0)
                        break;
                r = remote_nbd_request_decode(qbuf, &q);
                if (r < 0)
                        break; /* out of step with the kernel: nothing after it can be trusted */
                int io = 0;
                switch (q.cmd) {
                case REMOTE_NBD_READ:
                        io = remote_device_read(d, q.from_bytes, data, q.length_bytes);
                        break;
                case REMOTE_NBD_WRITE:
                        r = remote_read_full(fd, data, q.length_bytes);
                        if (r < 0)
                                goto out;
                        io = remote_device_write(d, q.from_bytes, data, q.length_bytes);
                        break;
                case REMOTE_NBD_FLUSH: /* acknowledged writes are in the donors' memory */
                case REMOTE_NBD_TRIM:  /* nothing to give back below a slab */
                        break;
                case REMOTE_NBD_DISC:
                        r = 0;
                        goto out;
                }
                remote_nbd_reply_encode(q.handle, io < 0 ? (uint32_t)-io : 0, rbuf);
                r = remote_write_full(fd, rbuf, sizeof(rbuf));
                if (r == 0 && q.cmd == REMOTE_NBD_READ && io == 0)
                        r = remote_write_full(fd, data, q.length_bytes);
                if (r < 0)
                        break;
        }
out:
        free(data);
        return r == -ECONNRESET ? 0 : r;
}
