// SPDX-License-Identifier: Apache-2.0
#include "scheduler/pools-service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/log.h"

#define OFFER_PREFIX "pools/"
#define LEASE_PREFIX "leases/"

int pool_service_random(void *buf, size_t n)
{
        size_t got = 0;
        while (got < n) {
                ssize_t r = getrandom((char *)buf + got, n - got, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t)r;
        }
        return 0;
}

/* A stored offer or lease into the broker: 0, or -EINVAL with err filled when it does not
 * decode. Offers count as renewed at floor_usec at the latest. */
typedef int (*restore_fn)(struct pools *p, const struct json_object *o, const char *name,
                          uint64_t floor_usec, struct api_error *err);

static int restore_offer(struct pools *p, const struct json_object *o, const char *name,
                         uint64_t floor_usec, struct api_error *err)
{
        struct pool_offer offer = {};
        uint64_t renewed = 0;
        int r;
        if ((r = pool_offer_decode(o, "", &offer, err)) < 0 ||
            (r = api_get_u64(o, "", "renewed_at_usec", true, UINT64_MAX, &renewed, err)) < 0)
                return r;
        if (strcmp(offer.node, name) != 0)
                return api_error_set(err, -EINVAL, "node", "is not the key's (%s)", name);
        (void)pools_restore_offer(p, &offer, renewed > floor_usec ? renewed : floor_usec);
        return 0;
}

static int restore_lease(struct pools *p, const struct json_object *o, const char *name,
                         uint64_t floor_usec, struct api_error *err)
{
        (void)floor_usec;
        struct lease l = {};
        int r = lease_decode(o, "", &l, err);
        if (r < 0)
                return r;
        if (strcmp(l.id, name) != 0) {
                lease_done(&l);
                return api_error_set(err, -EINVAL, "id", "is not the key's (%s)", name);
        }
        if (pools_restore_lease(p, &l) < 0)
                lease_done(&l);
        return 0;
}

static void seen_clear(struct offer_seen *seen, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(seen[i].value);
}

static struct offer_seen *seen_find(struct pool_service *ps, const char *node)
{
        for (size_t i = 0; i < ps->n_seen; i++)
                if (strcmp(ps->seen[i].node, node) == 0)
                        return &ps->seen[i];
        return NULL;
}

/* Remembers an offer record as read (node, revision, value); -ENOMEM. */
static int seen_set(struct pool_service *ps, const char *node, uint64_t rev, const char *value)
{
        struct offer_seen *o = seen_find(ps, node);
        if (!o) {
                if (ps->n_seen == ps->cap_seen) {
                        size_t cap = ps->cap_seen ? ps->cap_seen * 2 : 16;
                        struct offer_seen *n = realloc(ps->seen, cap * sizeof(*n));
                        if (!n)
                                return -ENOMEM;
                        ps->seen = n;
                        ps->cap_seen = cap;
                }
                o = &ps->seen[ps->n_seen++];
                *o = (struct offer_seen){};
                snprintf(o->node, sizeof(o->node), "%s", node);
        }
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(o->value);
        o->value = v;
        o->mod_revision = rev;
        return 0;
}

/* Reads the offer of node again (after a write of ours moved its revision, or for an offer not
 * seen yet); forgets it when it is gone. */
static int seen_refresh(struct pool_service *ps, const char *node)
{
        char key[sizeof(OFFER_PREFIX) + API_NODE_NAME_MAX];
        snprintf(key, sizeof(key), OFFER_PREFIX "%s", node);
        struct store_record rec = {};
        int r = store_get(ps->store, key, &rec);
        if (r == 0)
                r = seen_set(ps, node, rec.mod_revision, rec.value);
        else if (r == -ENOENT) {
                struct offer_seen *o = seen_find(ps, node);
                if (o) {
                        free(o->value);
                        *o = ps->seen[--ps->n_seen];
                }
        }
        store_record_done(&rec);
        return r;
}

/* Every record under prefix into p; one that does not decode is skipped, said. Offers are also
 * remembered as read (ps->seen) when remember is set. */
static int load(struct pool_service *ps, struct pools *p, const char *prefix, const char *what,
                restore_fn restore, uint64_t floor_usec)
{
        struct store_record *recs = NULL;
        size_t n = 0;
        int r = store_list(ps->store, prefix, &recs, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read the %s from the store: %m", what);
        if (restore == restore_offer) {
                seen_clear(ps->seen, ps->n_seen);
                ps->n_seen = 0;
        }
        for (size_t i = 0; i < n; i++) {
                if (restore == restore_offer && seen_set(ps, recs[i].key + strlen(prefix),
                                                         recs[i].mod_revision, recs[i].value) < 0) {
                        store_record_list_free(recs, n);
                        return log_error_errno(ENOMEM, "Failed to read the %s: %m", what);
                }
                _cleanup_json_ struct json_object *o = NULL;
                struct api_error err = {};
                if (api_parse(recs[i].value, strlen(recs[i].value), &o, &err) < 0 ||
                    restore(p, o, recs[i].key + strlen(prefix), floor_usec, &err) < 0)
                        log_warning("Stored %s record %s does not decode (%s: %s), ignoring", what,
                                    recs[i].key, err.field, err.message);
        }
        store_record_list_free(recs, n);
        return 0;
}

int pool_service_open(struct sched_store *st, const struct pools_config *cfg,
                      struct pool_service **ret)
{
        struct pool_service *ps = calloc(1, sizeof(*ps));
        if (!ps)
                return log_error_errno(ENOMEM, "Failed to start the lease broker: %m");
        pthread_mutex_init(&ps->lock, NULL);
        pools_init(&ps->pools, cfg, pool_service_random);
        ps->store = st;
        int r = pool_service_random(&ps->rng.state, sizeof(ps->rng.state));
        /* Donors could not renew while memschedd was down: their offers live a full TTL from
         * now, rather than all being withdrawn (and every lease on them revoked) by the first
         * sweep after a long outage. Leases keep their deadline: donors enforce it themselves. */
        uint64_t now = now_usec(CLOCK_REALTIME);
        if (r >= 0)
                r = load(ps, &ps->pools, OFFER_PREFIX, "pool offers", restore_offer, now);
        if (r >= 0)
                r = load(ps, &ps->pools, LEASE_PREFIX, "memory leases", restore_lease, 0);
        ps->shared = strcmp(store_backend_name(st), "etcd") == 0;
        if (r < 0) {
                pool_service_free(ps);
                return r;
        }
        if (ps->pools.n_donors || ps->pools.n_leases)
                log_info("Lease broker: %zu pool offers and %zu leases restored from the store",
                         ps->pools.n_donors, ps->pools.n_leases);
        *ret = ps;
        return 0;
}

void pool_service_free(struct pool_service *ps)
{
        if (!ps)
                return;
        pools_done(&ps->pools);
        seen_clear(ps->seen, ps->n_seen);
        free(ps->seen);
        pthread_mutex_destroy(&ps->lock);
        free(ps);
}

/* Replaces the broker's state with the store's (other replicas write there too). Kept as it is
 * when the store cannot be read, or while changes of ours are still to be written. */
static void reload(struct pool_service *ps)
{
        struct pools *p = &ps->pools, fresh;
        for (size_t i = 0; i < p->n_donors; i++)
                if (p->donors[i].dirty)
                        return;
        for (size_t k = 0; k < p->n_leases; k++)
                if (p->leases[k].dirty)
                        return;
        if (p->n_gone)
                return;
        pools_init(&fresh, &p->cfg, p->random);
        if (load(ps, &fresh, OFFER_PREFIX, "pool offers", restore_offer, 0) < 0 ||
            load(ps, &fresh, LEASE_PREFIX, "memory leases", restore_lease, 0) < 0) {
                pools_done(&fresh);
                return;
        }
        fresh.revocations_total = p->revocations_total;
        fresh.expirations_total = p->expirations_total;
        pools_done(p);
        *p = fresh;
}

struct pools *pool_service_begin(struct pool_service *ps, uint64_t now_usec)
{
        pthread_mutex_lock(&ps->lock);
        if (ps->shared)
                reload(ps);
        size_t before = ps->pools.expirations_total;
        pools_sweep(&ps->pools, now_usec);
        if (ps->pools.expirations_total != before)
                log_info("Lease broker: %llu leases expired unrenewed; their slabs are revoked",
                         (unsigned long long)(ps->pools.expirations_total - before));
        return &ps->pools;
}

static int save_offer(void *ud, const struct pool_donor *d)
{
        struct pool_service *ps = ud;
        char key[sizeof(OFFER_PREFIX) + API_NODE_NAME_MAX];
        struct json_object *o = pool_offer_encode(&d->offer);
        api_add(o, "renewed_at_usec", json_object_new_uint64(d->renewed_at_usec));
        snprintf(key, sizeof(key), OFFER_PREFIX "%s", d->offer.node);
        _cleanup_free_ char *value = o ? api_to_string(o, NULL) : NULL;
        json_object_put(o);
        if (!value)
                return -ENOMEM;
        /* Written against the revision last read, so that the revision a lease of this section
         * is guarded by is known to be ours. When someone else wrote the offer meanwhile (the
         * donor renewed through another replica), the last writer wins as before, but the offer
         * is no longer known: a lease on it in this section is not granted. */
        struct offer_seen *os = seen_find(ps, d->offer.node);
        uint64_t rev = 0;
        int r = os ? store_update(ps->store, key, value, os->mod_revision, &rev)
                   : store_create(ps->store, key, value, 0, &rev);
        if (r >= 0)
                return seen_set(ps, d->offer.node, rev, value);
        if (r != -ESTALE && r != -EEXIST && r != -ENOENT)
                return r;
        if (os) {
                free(os->value);
                *os = ps->seen[--ps->n_seen];
        }
        return store_put(ps->store, key, value);
}

/* A lease is written guarded by the offers of the donors its live slabs are on, as this section
 * read them: a grant that another replica made from the same free slab meanwhile moved one of
 * them, and this write fails (-ESTALE) instead of handing the slab out twice. */
static int save_lease(void *ud, const struct lease *l)
{
        struct pool_service *ps = ud;
        char key[sizeof(LEASE_PREFIX) + LEASE_ID_MAX];
        snprintf(key, sizeof(key), LEASE_PREFIX "%s", l->id);
        /* The store keeps the tokens: a restarted broker must answer the same ones. */
        _cleanup_free_ char *value = NULL;
        struct json_object *o = lease_encode(l, true);
        value = o ? api_to_string(o, NULL) : NULL;
        json_object_put(o);
        if (!value)
                return -ENOMEM;
        struct store_guard g[STORE_GUARDS_MAX];
        const char *donors[STORE_GUARDS_MAX];
        size_t n = 0;
        int r;
        for (size_t i = 0; i < l->n_slabs; i++) {
                const struct lease_slab *sl = &l->slabs[i];
                bool dup = sl->revoked;
                for (size_t k = 0; k < n && !dup; k++)
                        dup = strcmp(donors[k], sl->donor) == 0;
                if (dup)
                        continue;
                if (n == STORE_GUARDS_MAX)
                        return -E2BIG;
                /* An offer not known as read: with one replica, read it now (nobody else
                 * writes); shared, its state at the grant is unknown, so no grant. */
                const struct offer_seen *os = seen_find(ps, sl->donor);
                if (!os && !ps->shared && (r = seen_refresh(ps, sl->donor)) < 0 && r != -ENOENT)
                        return r;
                os = seen_find(ps, sl->donor);
                if (!os) {
                        log_warning("Lease %s: the offer of %s changed or went meanwhile; not "
                                    "granting, the client retries",
                                    l->id, sl->donor);
                        ps->lost_race = true;
                        return -ESTALE;
                }
                donors[n] = sl->donor;
                g[n++] = (struct store_guard){ .key = NULL,
                                               .value = os->value,
                                               .mod_revision = os->mod_revision };
        }
        char keys[STORE_GUARDS_MAX][sizeof(OFFER_PREFIX) + API_NODE_NAME_MAX];
        for (size_t k = 0; k < n; k++) {
                snprintf(keys[k], sizeof(keys[k]), OFFER_PREFIX "%s", donors[k]);
                g[k].key = keys[k];
        }
        uint64_t rev = 0;
        r = store_put_guarded(ps->store, key, value, g, n, &rev);
        if (r == -ESTALE) {
                log_warning("Lease %s: a donor's offer changed since it was read (another "
                            "replica granted from it, or it was renewed); not granting, the "
                            "client retries",
                            l->id);
                ps->lost_race = true;
                return r;
        }
        /* Our transaction wrote the guards again at its revision: the next lease of this
         * section on the same donors is guarded by that. */
        if (r >= 0)
                for (size_t k = 0; k < n; k++) {
                        struct offer_seen *w = seen_find(ps, donors[k]);
                        if (w)
                                w->mod_revision = rev;
                }
        return r;
}

static int remove_key(void *ud, const char *key)
{
        struct pool_service *ps = ud;
        return store_remove(ps->store, key);
}

int pool_service_end(struct pool_service *ps)
{
        const struct pools_sink sink = {
                .save_offer = save_offer, .save_lease = save_lease, .remove = remove_key, .ud = ps
        };
        int r = pools_take_changes(&ps->pools, &sink);
        bool lost = ps->lost_race;
        if (lost) {
                /* What this section decided rests on a state another replica changed: drop it
                 * all and start the next section from the store's. */
                struct pools *p = &ps->pools;
                for (size_t i = 0; i < p->n_donors; i++)
                        p->donors[i].dirty = false;
                for (size_t k = 0; k < p->n_leases; k++)
                        p->leases[k].dirty = false;
                p->n_gone = 0;
                reload(ps);
                ps->lost_race = false;
        }
        pthread_mutex_unlock(&ps->lock);
        if (lost)
                return -ESTALE; /* said by save_lease() */
        if (r < 0)
                log_warning_errno(r, "Failed to write pool offers or leases to the store (%m); "
                                     "retrying with the next change");
        return r;
}

struct json_object *pool_service_report(struct pool_service *ps, const char *node,
                                        uint64_t now_usec)
{
        struct pools *p = pool_service_begin(ps, now_usec);
        struct json_object *a = NULL;
        (void)pools_offer_touch(p, node, now_usec);
        for (size_t k = 0; k < p->n_leases; k++) {
                const struct lease *l = &p->leases[k].l;
                if (strcmp(l->node, node) != 0)
                        continue;
                uint64_t revoked = 0;
                for (size_t j = 0; j < l->n_slabs; j++)
                        revoked += l->slabs[j].revoked;
                struct json_object *o = json_object_new_object();
                api_add(o, "id", json_object_new_string(l->id));
                api_add(o, "state", json_object_new_string(lease_state_to_string(l->state)));
                api_add(o, "epoch", json_object_new_uint64(l->epoch));
                api_add(o, "expires_at_usec", json_object_new_uint64(l->expires_at_usec));
                api_add(o, "revoked_slabs", json_object_new_uint64(revoked));
                if (!a)
                        a = json_object_new_array();
                json_object_array_add(a, o);
        }
        (void)pool_service_end(ps); /* writes nothing unless something changed */
        return a;
}

void pool_service_metrics(struct pool_service *ps, struct api_buf *b)
{
        if (!ps)
                return;
        struct pools *p = pool_service_begin(ps, now_usec(CLOCK_REALTIME));
        struct pools_totals t;
        pools_totals(p, &t);
        unsigned long long revocations = p->revocations_total, expirations = p->expirations_total;
        (void)pool_service_end(ps);
        api_buf_printf(b,
                       "# HELP memsched_pool_donors Donor nodes with a live pool offer.\n"
                       "# TYPE memsched_pool_donors gauge\nmemsched_pool_donors %zu\n"
                       "# HELP memsched_pool_offered_bytes Memory offered by donors, in whole "
                       "slabs.\n# TYPE memsched_pool_offered_bytes gauge\n"
                       "memsched_pool_offered_bytes %llu\n"
                       "# HELP memsched_pool_leased_bytes Pool memory held by active leases "
                       "(replicas counted).\n# TYPE memsched_pool_leased_bytes gauge\n"
                       "memsched_pool_leased_bytes %llu\n"
                       "# HELP memsched_pool_free_bytes Pool memory free to lease.\n"
                       "# TYPE memsched_pool_free_bytes gauge\nmemsched_pool_free_bytes %llu\n"
                       "# HELP memsched_leases_active Memory leases active.\n"
                       "# TYPE memsched_leases_active gauge\nmemsched_leases_active %zu\n"
                       "# HELP memsched_lease_revocations_total Leased slabs revoked (donor "
                       "withdrawn or gone, lease expired) since start.\n"
                       "# TYPE memsched_lease_revocations_total counter\n"
                       "memsched_lease_revocations_total %llu\n"
                       "# HELP memsched_lease_expirations_total Leases that expired unrenewed "
                       "since start.\n# TYPE memsched_lease_expirations_total counter\n"
                       "memsched_lease_expirations_total %llu\n",
                       t.donors, (unsigned long long)t.offered_bytes,
                       (unsigned long long)t.leased_bytes, (unsigned long long)t.free_bytes,
                       t.leases_active, revocations, expirations);
}
