// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/replica.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
        [REPLICA_NONE] = "none",
        [REPLICA_HEALTHY] = "healthy",
        [REPLICA_SYNCING] = "syncing",
        [REPLICA_FAILED] = "failed",
};

const char *replica_state_to_string(enum replica_state s)
{
        return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s]
                                                                          : "unknown";
}

static bool live(const struct replica *r)
{
        return r->state == REPLICA_HEALTHY || r->state == REPLICA_SYNCING;
}

static int healthy_slot(const struct replica_chunk *c, unsigned not_slot)
{
        for (unsigned i = 0; i < REPLICA_SLOTS; i++)
                if (i != not_slot && c->slot[i].state == REPLICA_HEALTHY)
                        return (int)i;
        return -1;
}

int replica_set_init(struct replica_set *s, size_t n_chunks, uint64_t chunk_bytes)
{
        if (n_chunks == 0 || chunk_bytes == 0)
                return -EINVAL;
        struct replica_chunk *c = calloc(n_chunks, sizeof(*c));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n_chunks; i++)
                for (unsigned k = 0; k < REPLICA_SLOTS; k++)
                        c[i].slot[k].slab = REPLICA_NO_SLAB;
        *s = (struct replica_set){ .chunk_bytes = chunk_bytes, .n_chunks = n_chunks, .chunks = c };
        return 0;
}

void replica_set_done(struct replica_set *s)
{
        free(s->chunks);
        *s = (struct replica_set){};
}

int replica_attach(struct replica_set *s, size_t chunk, unsigned slot, uint32_t slab, bool fresh)
{
        if (chunk >= s->n_chunks || slot >= REPLICA_SLOTS)
                return -ERANGE;
        struct replica_chunk *c = &s->chunks[chunk];
        if (live(&c->slot[slot]))
                return -EBUSY;
        if (fresh) {
                c->slot[slot] = (struct replica){ .state = REPLICA_HEALTHY, .slab = slab };
                return 0;
        }
        if (healthy_slot(c, slot) < 0)
                return -ENODATA;
        c->slot[slot] = (struct replica){ .state = REPLICA_SYNCING, .slab = slab };
        return 0;
}

size_t replica_fail_slab(struct replica_set *s, uint32_t slab)
{
        size_t n = 0;
        for (size_t i = 0; i < s->n_chunks; i++)
                for (unsigned k = 0; k < REPLICA_SLOTS; k++) {
                        struct replica *r = &s->chunks[i].slot[k];
                        if (live(r) && r->slab == slab) {
                                r->state = REPLICA_FAILED;
                                n++;
                        }
                }
        return n;
}

int replica_plan_write(const struct replica_set *s, size_t chunk, unsigned ret_slots[REPLICA_SLOTS])
{
        if (chunk >= s->n_chunks)
                return -ERANGE;
        if (s->state != REPLICA_SET_ACTIVE)
                return -EROFS;
        /* Syncing replicas take every write, above the copy cursor too: the copy reaches that
         * extent later and reads the survivor, which holds this write by then. */
        int n = 0;
        for (unsigned k = 0; k < REPLICA_SLOTS; k++)
                if (live(&s->chunks[chunk].slot[k]))
                        ret_slots[n++] = k;
        return n > 0 ? n : -EIO;
}

static void transfer_done(struct replica_set *s, size_t chunk, unsigned slot, int r)
{
        if (chunk >= s->n_chunks || slot >= REPLICA_SLOTS || r >= 0)
                return;
        struct replica *rep = &s->chunks[chunk].slot[slot];
        if (live(rep))
                rep->state = REPLICA_FAILED;
}

void replica_write_done(struct replica_set *s, size_t chunk, unsigned slot, int r)
{
        transfer_done(s, chunk, slot, r);
}

int replica_write_outcome(const struct replica_set *s, size_t chunk,
                          const unsigned slots[REPLICA_SLOTS], size_t n, const int results[])
{
        if (chunk >= s->n_chunks)
                return -ERANGE;
        /* A syncing replica alone does not hold the chunk: its copy may be short of the end. */
        for (size_t i = 0; i < n; i++)
                if (results[i] >= 0 && slots[i] < REPLICA_SLOTS &&
                    s->chunks[chunk].slot[slots[i]].state == REPLICA_HEALTHY)
                        return 0;
        return -EIO;
}

int replica_plan_read(struct replica_set *s, size_t chunk, unsigned *ret_slot)
{
        if (chunk >= s->n_chunks)
                return -ERANGE;
        struct replica_chunk *c = &s->chunks[chunk];
        for (unsigned i = 0; i < REPLICA_SLOTS; i++) {
                unsigned k = (c->read_turn + i) % REPLICA_SLOTS;
                if (c->slot[k].state == REPLICA_HEALTHY) {
                        c->read_turn = k + 1;
                        *ret_slot = k;
                        return 0;
                }
        }
        return -EIO;
}

void replica_read_done(struct replica_set *s, size_t chunk, unsigned slot, int r)
{
        transfer_done(s, chunk, slot, r);
}

int replica_next_repair(const struct replica_set *s, bool durable, size_t *ret_chunk,
                        unsigned *ret_slot)
{
        for (size_t i = 0; i < s->n_chunks; i++) {
                const struct replica_chunk *c = &s->chunks[i];
                for (unsigned k = 0; k < REPLICA_SLOTS; k++) {
                        enum replica_state st = c->slot[k].state;
                        bool wanted = st == REPLICA_FAILED || (durable && st == REPLICA_NONE);
                        if (wanted && healthy_slot(c, k) >= 0) {
                                *ret_chunk = i;
                                *ret_slot = k;
                                return 1;
                        }
                }
        }
        return 0;
}

int replica_sync_next(const struct replica_set *s, size_t chunk, unsigned slot, uint64_t max_bytes,
                      unsigned *ret_src_slot, uint64_t *ret_offset, uint64_t *ret_length)
{
        if (chunk >= s->n_chunks || slot >= REPLICA_SLOTS || max_bytes == 0)
                return -ERANGE;
        const struct replica_chunk *c = &s->chunks[chunk];
        const struct replica *r = &c->slot[slot];
        if (r->state != REPLICA_SYNCING)
                return 0;
        int src = healthy_slot(c, slot);
        if (src < 0)
                return -ENODATA;
        uint64_t left = s->chunk_bytes - r->synced_bytes;
        *ret_src_slot = (unsigned)src;
        *ret_offset = r->synced_bytes;
        *ret_length = left < max_bytes ? left : max_bytes;
        return 1;
}

void replica_sync_done(struct replica_set *s, size_t chunk, unsigned slot, unsigned src_slot,
                       uint64_t length, int read_r, int write_r)
{
        if (chunk >= s->n_chunks || slot >= REPLICA_SLOTS || src_slot >= REPLICA_SLOTS)
                return;
        struct replica_chunk *c = &s->chunks[chunk];
        if (read_r < 0) {
                transfer_done(s, chunk, src_slot, read_r);
                return; /* the next step picks another source, if any */
        }
        if (write_r < 0) {
                transfer_done(s, chunk, slot, write_r);
                return;
        }
        struct replica *r = &c->slot[slot];
        if (r->state != REPLICA_SYNCING)
                return;
        r->synced_bytes += length;
        if (r->synced_bytes >= s->chunk_bytes) {
                r->synced_bytes = s->chunk_bytes;
                r->state = REPLICA_HEALTHY;
        }
}

size_t replica_set_lost_chunks(const struct replica_set *s)
{
        size_t n = 0;
        for (size_t i = 0; i < s->n_chunks; i++)
                if (healthy_slot(&s->chunks[i], REPLICA_SLOTS) < 0)
                        n++;
        return n;
}

size_t replica_set_degraded_chunks(const struct replica_set *s, bool durable)
{
        size_t n = 0, want = durable ? 2 : 1;
        for (size_t i = 0; i < s->n_chunks; i++) {
                size_t healthy = 0;
                for (unsigned k = 0; k < REPLICA_SLOTS; k++)
                        healthy += s->chunks[i].slot[k].state == REPLICA_HEALTHY;
                if (healthy < want)
                        n++;
        }
        return n;
}

void replica_set_begin_drain(struct replica_set *s)
{
        if (s->state == REPLICA_SET_ACTIVE)
                s->state = REPLICA_SET_DRAINING;
}

void replica_set_drained(struct replica_set *s)
{
        if (s->state == REPLICA_SET_DRAINING)
                s->state = REPLICA_SET_DRAINED;
}

bool replica_slab_releasable(const struct replica_set *s, uint32_t slab)
{
        if (s->state == REPLICA_SET_DRAINED)
                return true;
        for (size_t i = 0; i < s->n_chunks; i++) {
                const struct replica_chunk *c = &s->chunks[i];
                for (unsigned k = 0; k < REPLICA_SLOTS; k++) {
                        const struct replica *r = &c->slot[k];
                        if (!live(r) || r->slab != slab)
                                continue;
                        int other = healthy_slot(c, k);
                        if (other < 0 || c->slot[other].slab == slab)
                                return false;
                }
        }
        return true;
}

bool replica_set_may_release(const struct replica_set *s)
{
        return s->state == REPLICA_SET_DRAINED;
}

int replica_set_from_lease(struct replica_set *s, const struct lease *l)
{
        uint64_t length = 0;
        size_t n_chunks = 0;
        int r;

        for (size_t i = 0; i < l->n_slabs; i++) {
                const struct lease_slab *sl = &l->slabs[i];
                if (sl->revoked)
                        continue;
                if (length && sl->length != length)
                        return -EINVAL;
                if (sl->replica >= REPLICA_SLOTS)
                        return -EINVAL;
                length = sl->length;
                if ((size_t)sl->chunk + 1 > n_chunks)
                        n_chunks = (size_t)sl->chunk + 1;
        }
        if (n_chunks == 0)
                return -EINVAL;

        struct replica_set t;
        r = replica_set_init(&t, n_chunks, length);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n_slabs; i++) {
                const struct lease_slab *sl = &l->slabs[i];
                if (sl->revoked)
                        continue;
                r = replica_attach(&t, sl->chunk, sl->replica, (uint32_t)i, true);
                if (r < 0) {
                        replica_set_done(&t);
                        return r == -EBUSY ? -EINVAL : r;
                }
        }
        *s = t;
        return 0;
}
