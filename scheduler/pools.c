// SPDX-License-Identifier: Apache-2.0
#include "scheduler/pools.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t pools_rng_next(struct pools_rng *rng)
{
        uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

void pools_init(struct pools *p, const struct pools_config *cfg, pools_random_fn random)
{
        *p = (struct pools){ .cfg = *cfg, .random = random };
        if (!p->cfg.offer_ttl_usec)
                p->cfg.offer_ttl_usec = POOLS_OFFER_TTL_USEC_DEFAULT;
        if (!p->cfg.expired_retention_usec)
                p->cfg.expired_retention_usec = POOLS_EXPIRED_RETENTION_USEC_DEFAULT;
}

void pools_done(struct pools *p)
{
        for (size_t i = 0; i < p->n_leases; i++)
                lease_done(&p->leases[i].l);
        free(p->leases);
        free(p->donors);
        free(p->gone);
        *p = (struct pools){};
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
        if (n < *cap)
                return 0;
        size_t ncap = *cap ? *cap * 2 : 8;
        void *a = realloc(*arr, ncap * size);
        if (!a)
                return -ENOMEM;
        *arr = a;
        *cap = ncap;
        return 0;
}

static int note_gone(struct pools *p, const char *collection, const char *name)
{
        if (grow((void **)&p->gone, &p->cap_gone, p->n_gone, sizeof(*p->gone)) < 0)
                return -ENOMEM;
        snprintf(p->gone[p->n_gone++], sizeof(*p->gone), "%s/%s", collection, name);
        return 0;
}

static ssize_t donor_index(const struct pools *p, const char *node)
{
        for (size_t i = 0; i < p->n_donors; i++)
                if (strcmp(p->donors[i].offer.node, node) == 0)
                        return (ssize_t)i;
        return -1;
}

static ssize_t lease_index(const struct pools *p, const char *id)
{
        for (size_t i = 0; i < p->n_leases; i++)
                if (strcmp(p->leases[i].l.id, id) == 0)
                        return (ssize_t)i;
        return -1;
}

const struct pool_donor *pools_donor_find(const struct pools *p, const char *node)
{
        ssize_t i = donor_index(p, node);
        return i < 0 ? NULL : &p->donors[i];
}

const struct lease *pools_lease_find(const struct pools *p, const char *id)
{
        ssize_t i = lease_index(p, id);
        return i < 0 ? NULL : &p->leases[i].l;
}

static uint64_t donor_slab_count(const struct pool_donor *d)
{
        return d->offer.bytes / d->offer.slab_bytes;
}

/* Which of a donor's slabs are held, rebuilt from the leases whenever it is needed: the leases
 * are the one truth, so no count can drift from them. */
struct usage {
        bool *used;
        uint64_t n_slabs, n_free;
};

static void usage_free(struct usage *u, size_t n)
{
        for (size_t i = 0; u && i < n; i++)
                free(u[i].used);
        free(u);
}

static bool slab_holds(const struct lease *l, const struct lease_slab *s)
{
        return l->state == LEASE_ACTIVE && !s->revoked;
}

static int usage_build(const struct pools *p, struct usage **ret)
{
        struct usage *u = calloc(p->n_donors ? p->n_donors : 1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_donors; i++) {
                u[i].n_slabs = u[i].n_free = donor_slab_count(&p->donors[i]);
                u[i].used = calloc(u[i].n_slabs ? u[i].n_slabs : 1, sizeof(bool));
                if (!u[i].used) {
                        usage_free(u, i);
                        return -ENOMEM;
                }
        }
        for (size_t k = 0; k < p->n_leases; k++) {
                const struct lease *l = &p->leases[k].l;
                for (size_t j = 0; j < l->n_slabs; j++) {
                        const struct lease_slab *s = &l->slabs[j];
                        ssize_t d = slab_holds(l, s) ? donor_index(p, s->donor) : -1;
                        if (d < 0)
                                continue;
                        uint64_t idx = s->offset / p->donors[d].offer.slab_bytes;
                        if (idx < u[d].n_slabs && !u[d].used[idx]) {
                                u[d].used[idx] = true;
                                u[d].n_free--;
                        }
                }
        }
        *ret = u;
        return 0;
}

void pools_donor_slabs(const struct pools *p, const struct pool_donor *d, uint64_t *ret_slabs,
                       uint64_t *ret_free)
{
        uint64_t n = donor_slab_count(d), used = 0;
        for (size_t k = 0; k < p->n_leases; k++) {
                const struct lease *l = &p->leases[k].l;
                for (size_t j = 0; j < l->n_slabs; j++)
                        used += slab_holds(l, &l->slabs[j]) &&
                                strcmp(l->slabs[j].donor, d->offer.node) == 0 &&
                                l->slabs[j].offset / d->offer.slab_bytes < n;
        }
        *ret_slabs = n;
        *ret_free = used < n ? n - used : 0;
}

void pools_totals(const struct pools *p, struct pools_totals *ret)
{
        struct pools_totals t = { .donors = p->n_donors };
        for (size_t i = 0; i < p->n_donors; i++) {
                uint64_t n, free_slabs;
                pools_donor_slabs(p, &p->donors[i], &n, &free_slabs);
                t.offered_bytes += n * p->donors[i].offer.slab_bytes;
                t.free_bytes += free_slabs * p->donors[i].offer.slab_bytes;
        }
        t.leased_bytes = t.offered_bytes - t.free_bytes;
        for (size_t k = 0; k < p->n_leases; k++)
                t.leases_active += p->leases[k].l.state == LEASE_ACTIVE;
        *ret = t;
}

/* ---------- revocation ---------- */

/* Revokes the slabs of lease k that match (donor, or every one when NULL; from_slab: only
 * those at or beyond that slab index of the donor). Raises the epoch once if any. */
static size_t revoke_slabs(struct pools *p, struct pool_lease *pl, const char *donor,
                           uint64_t from_slab)
{
        size_t n = 0;
        for (size_t j = 0; j < pl->l.n_slabs; j++) {
                struct lease_slab *s = &pl->l.slabs[j];
                if (s->revoked || (donor && strcmp(s->donor, donor) != 0))
                        continue;
                if (donor && from_slab) {
                        ssize_t d = donor_index(p, donor);
                        if (d >= 0 && s->offset / p->donors[d].offer.slab_bytes < from_slab)
                                continue;
                }
                s->revoked = true;
                n++;
        }
        if (n) {
                pl->l.epoch++;
                pl->dirty = true;
                p->revocations_total += n;
        }
        return n;
}

static void revoke_donor(struct pools *p, const char *node, uint64_t from_slab)
{
        for (size_t k = 0; k < p->n_leases; k++)
                if (p->leases[k].l.state == LEASE_ACTIVE)
                        revoke_slabs(p, &p->leases[k], node, from_slab);
}

/* ---------- offers ---------- */

int pools_offer_put(struct pools *p, const struct pool_offer *o, uint64_t now_usec)
{
        ssize_t i = donor_index(p, o->node);
        if (i >= 0) {
                struct pool_donor *d = &p->donors[i];
                bool resliced = d->offer.slab_bytes != o->slab_bytes;
                uint64_t keep = o->bytes / o->slab_bytes;
                /* Slabs the new offer no longer covers are revoked under the old geometry. */
                if (resliced)
                        revoke_donor(p, o->node, 0);
                else if (keep < donor_slab_count(d))
                        revoke_donor(p, o->node, keep); /* keep >= 1: bytes >= slab_bytes */
                d->offer = *o;
                d->renewed_at_usec = now_usec;
                d->dirty = true;
                return 0;
        }
        if (grow((void **)&p->donors, &p->cap_donors, p->n_donors, sizeof(*p->donors)) < 0)
                return -ENOMEM;
        p->donors[p->n_donors++] =
            (struct pool_donor){ .offer = *o, .renewed_at_usec = now_usec, .dirty = true };
        return 1;
}

int pools_offer_touch(struct pools *p, const char *node, uint64_t now_usec)
{
        ssize_t i = donor_index(p, node);
        if (i < 0)
                return -ENOENT;
        p->donors[i].renewed_at_usec = now_usec;
        p->donors[i].dirty = true;
        return 0;
}

static void donor_remove(struct pools *p, size_t i)
{
        (void)note_gone(p, "pools", p->donors[i].offer.node);
        memmove(&p->donors[i], &p->donors[i + 1], (p->n_donors - i - 1) * sizeof(*p->donors));
        p->n_donors--;
}

int pools_offer_withdraw(struct pools *p, const char *node, uint64_t now_usec)
{
        (void)now_usec;
        ssize_t i = donor_index(p, node);
        if (i < 0)
                return -ENOENT;
        revoke_donor(p, node, 0);
        donor_remove(p, (size_t)i);
        return 0;
}

int pools_donor_grants(const struct pools *p, const char *node, struct pool_grant **ret,
                       size_t *ret_n)
{
        size_t n = 0, cap = 0;
        struct pool_grant *g = NULL;
        for (size_t k = 0; k < p->n_leases; k++) {
                const struct lease *l = &p->leases[k].l;
                for (size_t j = 0; j < l->n_slabs; j++) {
                        const struct lease_slab *s = &l->slabs[j];
                        if (!slab_holds(l, s) || strcmp(s->donor, node) != 0)
                                continue;
                        if (grow((void **)&g, &cap, n, sizeof(*g)) < 0) {
                                free(g);
                                return -ENOMEM;
                        }
                        g[n++] = (struct pool_grant){ .lease_id = l->id,
                                                      .consumer = l->node,
                                                      .epoch = l->epoch,
                                                      .offset = s->offset,
                                                      .length = s->length,
                                                      .token = s->token,
                                                      .expires_at_usec = l->expires_at_usec };
                }
        }
        *ret = g;
        *ret_n = n;
        return 0;
}

/* ---------- placement ---------- */

static bool excluded(const struct pool_donor *d, const char *const *exclude, size_t n_exclude)
{
        for (size_t i = 0; i < n_exclude; i++)
                if (strcmp(d->offer.node, exclude[i]) == 0)
                        return true;
        return false;
}

/* Power of two choices: of the donors with a free slab of at least min_length (and not in
 * exclude), draw two at random and take the one with more free slabs. Takes that donor's lowest
 * free slab. Returns the donor index and the slab index, or -ENOSPC. */
static ssize_t place_slab(const struct pools *p, struct usage *u, struct pools_rng *rng,
                          const char *const *exclude, size_t n_exclude, uint64_t min_length,
                          uint64_t *ret_slab)
{
        size_t eligible = 0;
        for (size_t i = 0; i < p->n_donors; i++)
                eligible += u[i].n_free > 0 && p->donors[i].offer.slab_bytes >= min_length &&
                            !excluded(&p->donors[i], exclude, n_exclude);
        if (!eligible)
                return -ENOSPC;
        /* The a-th and b-th eligible donors, a != b when there are two or more. */
        size_t a = pools_rng_next(rng) % eligible, b = a;
        if (eligible > 1) {
                b = pools_rng_next(rng) % (eligible - 1);
                if (b >= a)
                        b++;
        }
        ssize_t da = -1, db = -1;
        for (size_t i = 0, e = 0; i < p->n_donors; i++) {
                if (!(u[i].n_free > 0 && p->donors[i].offer.slab_bytes >= min_length &&
                      !excluded(&p->donors[i], exclude, n_exclude)))
                        continue;
                if (e == a)
                        da = (ssize_t)i;
                if (e == b)
                        db = (ssize_t)i;
                e++;
        }
        ssize_t d = u[db].n_free > u[da].n_free ? db : da;
        for (uint64_t s = 0; s < u[d].n_slabs; s++)
                if (!u[d].used[s]) {
                        u[d].used[s] = true;
                        u[d].n_free--;
                        *ret_slab = s;
                        return d;
                }
        return -ENOSPC; /* n_free said otherwise: cannot happen */
}

static void hex(char *out, const uint8_t *b, size_t n)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 15];
        }
        out[2 * n] = '\0';
}

static int new_token(struct pools *p, char token[static LEASE_TOKEN_MAX])
{
        uint8_t b[LEASE_TOKEN_BYTES];
        int r = p->random(b, sizeof(b));
        if (r < 0)
                return r;
        hex(token, b, sizeof(b));
        return 0;
}

static const struct pool_transport *preferred_transport(const struct pool_offer *o)
{
        for (size_t i = 0; i < o->n_transports; i++)
                if (o->transports[i].kind == POOL_TRANSPORT_RDMA)
                        return &o->transports[i];
        return &o->transports[0];
}

/* Appends to l a slab for (chunk, replica) of length bytes, placed away from the donors in
 * exclude. */
static int add_slab(struct pools *p, struct usage *u, struct pools_rng *rng, struct lease *l,
                    size_t *cap, uint32_t chunk, uint32_t replica, uint64_t length,
                    const char *const *exclude, size_t n_exclude, ssize_t *ret_donor)
{
        uint64_t slab = 0;
        if (l->n_slabs >= LEASE_SLABS_MAX)
                return -ENOSPC;
        ssize_t d = place_slab(p, u, rng, exclude, n_exclude, length, &slab);
        if (d < 0)
                return (int)d;
        if (grow((void **)&l->slabs, cap, l->n_slabs, sizeof(*l->slabs)) < 0)
                return -ENOMEM;
        const struct pool_offer *o = &p->donors[d].offer;
        struct lease_slab *s = &l->slabs[l->n_slabs];
        *s = (struct lease_slab){ .transport = *preferred_transport(o),
                                  .offset = slab * o->slab_bytes,
                                  .length = length ? length : o->slab_bytes,
                                  .chunk = chunk,
                                  .replica = replica };
        snprintf(s->donor, sizeof(s->donor), "%s", o->node);
        int r = new_token(p, s->token);
        if (r < 0)
                return r;
        l->n_slabs++;
        if (ret_donor)
                *ret_donor = d;
        return 0;
}

int pools_lease_grant(struct pools *p, const struct lease_request *q, struct pools_rng *rng,
                      uint64_t now_usec, const struct lease **ret)
{
        if (*q->id) {
                const struct lease *old = pools_lease_find(p, q->id);
                if (old && strcmp(old->node, q->node) != 0)
                        return -EEXIST;
                if (old) {
                        *ret = old;
                        return 0;
                }
        }
        struct usage *u = NULL;
        int r = usage_build(p, &u);
        if (r < 0)
                return r;
        struct lease l = { .bytes = q->bytes,
                           .ttl_sec = q->ttl_sec,
                           .durable = q->durable,
                           .state = LEASE_ACTIVE,
                           .epoch = 1,
                           .created_at_usec = now_usec,
                           .renewed_at_usec = now_usec,
                           .expires_at_usec = now_usec + q->ttl_sec * 1000000 };
        size_t cap = 0;
        snprintf(l.node, sizeof(l.node), "%s", q->node);
        if (*q->id)
                snprintf(l.id, sizeof(l.id), "%s", q->id);
        else {
                uint8_t b[12];
                r = p->random(b, sizeof(b));
                l.id[0] = 'l';
                hex(l.id + 1, b, sizeof(b));
        }
        uint64_t left = q->bytes;
        for (uint32_t chunk = 0; r >= 0 && left > 0; chunk++) {
                ssize_t primary = -1;
                /* The chunk is as long as the primary's slab (or what is left); its replica
                 * goes to another donor with slabs at least that long. */
                r = add_slab(p, u, rng, &l, &cap, chunk, 0, 0, NULL, 0, &primary);
                if (r < 0)
                        break;
                struct lease_slab *s = &l.slabs[l.n_slabs - 1];
                if (s->length > left)
                        s->length = left;
                left -= s->length;
                if (q->durable) {
                        const char *ex[1] = { p->donors[primary].offer.node };
                        r = add_slab(p, u, rng, &l, &cap, chunk, 1, s->length, ex, 1, NULL);
                }
        }
        usage_free(u, p->n_donors);
        if (r >= 0)
                r = grow((void **)&p->leases, &p->cap_leases, p->n_leases, sizeof(*p->leases));
        if (r < 0) {
                lease_done(&l);
                return r;
        }
        p->leases[p->n_leases] = (struct pool_lease){ .l = l, .dirty = true };
        *ret = &p->leases[p->n_leases++].l;
        return 1;
}

static void expire(struct pools *p, struct pool_lease *pl)
{
        revoke_slabs(p, pl, NULL, 0);
        pl->l.state = LEASE_EXPIRED;
        pl->dirty = true;
        p->expirations_total++;
}

/* Whether slab j of l was replaced: a later unrevoked slab holds its chunk and replica. */
static bool superseded(const struct lease *l, size_t j)
{
        for (size_t k = 0; k < l->n_slabs; k++)
                if (k != j && !l->slabs[k].revoked && l->slabs[k].chunk == l->slabs[j].chunk &&
                    l->slabs[k].replica == l->slabs[j].replica)
                        return true;
        return false;
}

int pools_lease_renew(struct pools *p, const char *id, struct pools_rng *rng, uint64_t now_usec,
                      const struct lease **ret)
{
        ssize_t k = lease_index(p, id);
        if (k < 0)
                return -ENOENT;
        struct pool_lease *pl = &p->leases[k];
        if (pl->l.state == LEASE_ACTIVE && now_usec >= pl->l.expires_at_usec)
                expire(p, pl);
        if (pl->l.state != LEASE_ACTIVE) {
                *ret = &pl->l;
                return 0;
        }
        pl->l.renewed_at_usec = now_usec;
        pl->l.expires_at_usec = now_usec + pl->l.ttl_sec * 1000000;
        pl->dirty = true;

        /* The revoked slabs the previous answer reported as replaced are gone from this one. */
        struct lease *l = &pl->l;
        for (size_t j = 0; j < l->n_slabs;)
                if (l->slabs[j].revoked && superseded(l, j)) {
                        memmove(&l->slabs[j], &l->slabs[j + 1],
                                (l->n_slabs - j - 1) * sizeof(*l->slabs));
                        l->n_slabs--;
                } else
                        j++;

        /* Re-grant the revoked replicas where the pool has room, each away from the donors
         * that hold the rest of its chunk. */
        struct usage *u = NULL;
        int r = usage_build(p, &u);
        if (r < 0)
                return r;
        size_t cap = l->n_slabs, n_before = l->n_slabs;
        bool regranted = false;
        for (size_t j = 0; j < n_before; j++) {
                if (!l->slabs[j].revoked || superseded(l, j))
                        continue;
                /* Copies: adding a slab may move l->slabs. */
                char names[2][API_NODE_NAME_MAX];
                const char *ex[2] = { names[0], names[1] };
                size_t n_ex = 0;
                snprintf(names[n_ex++], API_NODE_NAME_MAX, "%s", l->slabs[j].donor);
                for (size_t m = 0; m < l->n_slabs && n_ex < 2; m++)
                        if (!l->slabs[m].revoked && l->slabs[m].chunk == l->slabs[j].chunk)
                                snprintf(names[n_ex++], API_NODE_NAME_MAX, "%s", l->slabs[m].donor);
                struct lease_slab old = l->slabs[j];
                r = add_slab(p, u, rng, l, &cap, old.chunk, old.replica, old.length, ex, n_ex,
                             NULL);
                if (r == -ENOSPC)
                        continue; /* stays revoked; the next renewal tries again */
                if (r < 0)
                        break;
                regranted = true;
        }
        usage_free(u, p->n_donors);
        if (regranted)
                l->epoch++;
        *ret = l;
        return r < 0 && r != -ENOSPC ? r : 1;
}

int pools_lease_release(struct pools *p, const char *id)
{
        ssize_t k = lease_index(p, id);
        if (k < 0)
                return -ENOENT;
        (void)note_gone(p, "leases", id);
        lease_done(&p->leases[k].l);
        memmove(&p->leases[k], &p->leases[k + 1], (p->n_leases - k - 1) * sizeof(*p->leases));
        p->n_leases--;
        return 0;
}

size_t pools_sweep(struct pools *p, uint64_t now_usec)
{
        size_t changed = 0;
        for (size_t i = 0; i < p->n_donors;)
                if (now_usec >= p->donors[i].renewed_at_usec + p->cfg.offer_ttl_usec) {
                        revoke_donor(p, p->donors[i].offer.node, 0);
                        donor_remove(p, i);
                        changed++;
                } else
                        i++;
        for (size_t k = 0; k < p->n_leases;) {
                struct pool_lease *pl = &p->leases[k];
                if (pl->l.state == LEASE_ACTIVE && now_usec >= pl->l.expires_at_usec) {
                        expire(p, pl);
                        changed++;
                }
                if (pl->l.state == LEASE_EXPIRED &&
                    now_usec >= pl->l.expires_at_usec + p->cfg.expired_retention_usec) {
                        char id[LEASE_ID_MAX];
                        snprintf(id, sizeof(id), "%s", pl->l.id);
                        pools_lease_release(p, id);
                        changed++;
                        continue;
                }
                k++;
        }
        return changed;
}

int pools_restore_offer(struct pools *p, const struct pool_offer *o, uint64_t renewed_at_usec)
{
        if (donor_index(p, o->node) >= 0)
                return -EEXIST;
        if (grow((void **)&p->donors, &p->cap_donors, p->n_donors, sizeof(*p->donors)) < 0)
                return -ENOMEM;
        p->donors[p->n_donors++] =
            (struct pool_donor){ .offer = *o, .renewed_at_usec = renewed_at_usec };
        return 0;
}

int pools_restore_lease(struct pools *p, struct lease *l)
{
        if (lease_index(p, l->id) >= 0)
                return -EEXIST;
        if (grow((void **)&p->leases, &p->cap_leases, p->n_leases, sizeof(*p->leases)) < 0)
                return -ENOMEM;
        p->leases[p->n_leases++] = (struct pool_lease){ .l = *l };
        *l = (struct lease){};
        return 0;
}

int pools_take_changes(struct pools *p, const struct pools_sink *sink)
{
        int first = 0, r;
        for (size_t i = 0; i < p->n_donors; i++)
                if (p->donors[i].dirty) {
                        r = sink->save_offer(sink->ud, &p->donors[i]);
                        if (r >= 0)
                                p->donors[i].dirty = false;
                        else if (!first)
                                first = r;
                }
        for (size_t k = 0; k < p->n_leases; k++)
                if (p->leases[k].dirty) {
                        r = sink->save_lease(sink->ud, &p->leases[k].l);
                        if (r >= 0)
                                p->leases[k].dirty = false;
                        else if (!first)
                                first = r;
                }
        size_t kept = 0;
        for (size_t g = 0; g < p->n_gone; g++) {
                r = sink->remove(sink->ud, p->gone[g]);
                if (r < 0) {
                        if (!first)
                                first = r;
                        memmove(p->gone[kept++], p->gone[g], sizeof(*p->gone));
                }
        }
        p->n_gone = kept;
        return first;
}
