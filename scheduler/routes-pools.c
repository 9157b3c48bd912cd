// SPDX-License-Identifier: Apache-2.0
#include "scheduler/routes-pools.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void reply_error(struct pools_reply *ret, unsigned status, const char *field,
                        const char *fmt, ...) _printf_(4, 5);

static void reply_error(struct pools_reply *ret, unsigned status, const char *field,
                        const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ret->message, sizeof(ret->message), fmt, ap);
        va_end(ap);
        ret->status = status;
        ret->field = field;
}

static void reply(struct pools_reply *ret, unsigned status, struct json_object *body)
{
        ret->status = status;
        ret->body = body;
}

/* Ends the broker section; a change the store did not take is not promised to the client. */
static bool end_durably(struct pool_service *ps, struct pools_reply *ret)
{
        if (pool_service_end(ps) >= 0)
                return true;
        if (ret->body)
                json_object_put(ret->body);
        ret->body = NULL;
        reply_error(ret, 503, NULL,
                    "the change could not be written to the state store; retry (a lease create "
                    "with an \"id\" is safe to repeat)");
        return false;
}

static struct json_object *donor_encode(const struct pools *p, const struct pool_donor *d,
                                        bool with_grants, struct pool_grant *grants,
                                        size_t n_grants)
{
        struct pool_donor_status st = { .offer = &d->offer,
                                        .renewed_at_usec = d->renewed_at_usec,
                                        .expires_at_usec =
                                            d->renewed_at_usec + p->cfg.offer_ttl_usec };
        pools_donor_slabs(p, d, &st.slabs, &st.free_slabs);
        st.free_bytes = st.free_slabs * d->offer.slab_bytes;
        st.leased_bytes = (st.slabs - st.free_slabs) * d->offer.slab_bytes;
        if (with_grants) {
                st.grants = grants ? grants : (struct pool_grant[1]){};
                st.n_grants = n_grants;
        }
        return pool_donor_status_encode(&st);
}

static void list_pools(struct pool_service *ps, uint64_t now, struct pools_reply *ret)
{
        struct pools *p = pool_service_begin(ps, now);
        struct json_object *a = json_object_new_array();
        struct pools_totals t;
        for (size_t i = 0; i < p->n_donors; i++)
                json_object_array_add(a, donor_encode(p, &p->donors[i], false, NULL, 0));
        pools_totals(p, &t);
        reply(ret, 200, pool_list_encode(a, t.offered_bytes, t.leased_bytes, t.free_bytes));
        (void)pool_service_end(ps);
}

static void put_pool(struct pool_service *ps, const char *node, const struct json_object *body,
                     uint64_t now, struct pools_reply *ret)
{
        struct pool_offer offer = {};
        snprintf(offer.node, sizeof(offer.node), "%s", node);
        ret->api_r = pool_offer_decode(body, "", &offer, &ret->err);
        if (ret->api_r < 0)
                return;
        struct pools *p = pool_service_begin(ps, now);
        int r = pools_offer_put(p, &offer, now);
        if (r >= 0) {
                struct pool_grant *g = NULL;
                size_t n = 0;
                const struct pool_donor *d = pools_donor_find(p, node);
                if (pools_donor_grants(p, node, &g, &n) >= 0)
                        reply(ret, r == 1 ? 201 : 200, donor_encode(p, d, true, g, n));
                else
                        reply_error(ret, 503, NULL, "out of memory");
                free(g);
                if (r == 1)
                        log_info("Pool offer from %s: %llu bytes in slabs of %llu", node,
                                 (unsigned long long)offer.bytes,
                                 (unsigned long long)offer.slab_bytes);
        } else
                reply_error(ret, 503, NULL, "out of memory");
        end_durably(ps, ret);
}

static void delete_pool(struct pool_service *ps, const char *node, uint64_t now,
                        struct pools_reply *ret)
{
        struct pools *p = pool_service_begin(ps, now);
        uint64_t before = p->revocations_total;
        int r = pools_offer_withdraw(p, node, now);
        if (r == -ENOENT) {
                reply_error(ret, 404, "node", "node: %s offers no pool memory", node);
                (void)pool_service_end(ps);
                return;
        }
        struct json_object *o = json_object_new_object();
        api_add(o, "node", json_object_new_string(node));
        api_add(o, "revoked_slabs", json_object_new_uint64(p->revocations_total - before));
        reply(ret, 200, o);
        log_info("Pool offer of %s withdrawn: %llu leased slabs revoked", node,
                 (unsigned long long)(p->revocations_total - before));
        end_durably(ps, ret);
}

static bool may_act_for(const char *identity, const char *node, struct pools_reply *ret)
{
        if (!identity || strcmp(identity, node) == 0)
                return true;
        reply_error(ret, 403, "node",
                    "node: a client certificate for \"%.64s\" may only lease for that node, not "
                    "\"%s\"",
                    identity, node);
        return false;
}

static void create_lease(struct pool_service *ps, const char *identity,
                         const struct json_object *body, uint64_t now, struct pools_reply *ret)
{
        struct lease_request q;
        ret->api_r = lease_request_decode(body, &q, &ret->err);
        if (ret->api_r < 0 || !may_act_for(identity, q.node, ret))
                return;
        struct pools *p = pool_service_begin(ps, now);
        struct pools_rng *rng = &ps->rng;
        const struct lease *l = NULL;
        int r = pools_lease_grant(p, &q, rng, now, &l);
        if (r == -EEXIST)
                reply_error(ret, 409, "id", "id: lease %s is held by another node", q.id);
        else if (r == -ENOSPC) {
                struct pools_totals t;
                pools_totals(p, &t);
                /* 507: the pool is short, which the client can act on (ask for less, later, or
                 * without durable), unlike a conflict. */
                reply_error(ret, 507, "bytes",
                            "bytes: the pools cannot hold %llu bytes%s: %llu bytes free on %zu "
                            "donors",
                            (unsigned long long)q.bytes,
                            q.durable ? " twice on two different donors (durable)" : "",
                            (unsigned long long)t.free_bytes, t.donors);
        } else if (r < 0)
                reply_error(ret, 503, NULL, "failed to grant the lease: %s", strerror(-r));
        else {
                reply(ret, r == 1 ? 201 : 200, lease_encode(l, true));
                if (r == 1)
                        log_info("Lease %s granted to %s: %llu bytes in %zu slabs for %llu s",
                                 l->id, l->node, (unsigned long long)l->bytes, l->n_slabs,
                                 (unsigned long long)l->ttl_sec);
        }
        end_durably(ps, ret);
}

static void lease_op(struct pool_service *ps, enum route route, enum pools_method m, const char *id,
                     const char *identity, uint64_t now, struct pools_reply *ret)
{
        struct pools *p = pool_service_begin(ps, now);
        const struct lease *l = pools_lease_find(p, id);
        if (!l) {
                reply_error(ret, 404, "id",
                            "id: no lease %s (never granted, released, or expired "
                            "long ago)",
                            id);
                (void)pool_service_end(ps);
                return;
        }
        if (route == ROUTE_LEASE && m == POOLS_GET) {
                reply(ret, 200, lease_encode(l, false));
                (void)pool_service_end(ps);
                return;
        }
        if (!may_act_for(identity, l->node, ret)) {
                (void)pool_service_end(ps);
                return;
        }
        if (route == ROUTE_LEASE_RENEW) {
                int r = pools_lease_renew(p, id, &ps->rng, now, &l);
                if (r < 0)
                        reply_error(ret, 503, NULL, "failed to renew the lease: %s", strerror(-r));
                else
                        reply(ret, 200, lease_encode(l, true));
        } else {
                (void)pools_lease_release(p, id);
                struct json_object *o = json_object_new_object();
                api_add(o, "id", json_object_new_string(id));
                api_add(o, "released", json_object_new_boolean(true));
                reply(ret, 200, o);
        }
        end_durably(ps, ret);
}

static void list_leases(struct pool_service *ps, uint64_t now, struct pools_reply *ret)
{
        struct pools *p = pool_service_begin(ps, now);
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        for (size_t k = 0; k < p->n_leases; k++)
                json_object_array_add(a, lease_encode(&p->leases[k].l, false));
        api_add(o, "lease_count", json_object_new_uint64(p->n_leases));
        api_add(o, "leases", a);
        reply(ret, 200, o);
        (void)pool_service_end(ps);
}

void pools_route(struct pool_service *ps, enum route route, enum pools_method method,
                 const char *param, const char *identity, const struct json_object *body,
                 uint64_t now_usec, struct pools_reply *ret)
{
        *ret = (struct pools_reply){};
        switch (route) {
        case ROUTE_POOLS:
                return list_pools(ps, now_usec, ret);
        case ROUTE_POOL:
                if (method == POOLS_PUT)
                        return put_pool(ps, param, body, now_usec, ret);
                return delete_pool(ps, param, now_usec, ret);
        case ROUTE_LEASES:
                if (method == POOLS_POST)
                        return create_lease(ps, identity, body, now_usec, ret);
                return list_leases(ps, now_usec, ret);
        case ROUTE_LEASE:
        case ROUTE_LEASE_RENEW:
                return lease_op(ps, route, method, param, identity, now_usec, ret);
        default:
                return reply_error(ret, 404, NULL, "no such path");
        }
}
