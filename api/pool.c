// SPDX-License-Identifier: Apache-2.0
#include "api/pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/lease.h"

static const char *const kind_names[_POOL_TRANSPORT_MAX] = {
        [POOL_TRANSPORT_RDMA] = "rdma",
        [POOL_TRANSPORT_TCP] = "tcp",
};

const char *pool_transport_kind_to_string(enum pool_transport_kind k)
{
        return (unsigned)k < _POOL_TRANSPORT_MAX ? kind_names[k] : "unknown";
}

int pool_transport_kind_from_string(const char *s)
{
        for (int i = 0; i < _POOL_TRANSPORT_MAX; i++)
                if (strcmp(s, kind_names[i]) == 0)
                        return i;
        return -EINVAL;
}

static int transport_decode(const struct json_object *o, const char *path,
                            struct pool_transport *ret, struct api_error *err)
{
        const char *address = NULL;
        uint64_t port = 0;
        int kind = 0, r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        if ((r = api_get_enum(o, path, "kind", true, pool_transport_kind_from_string, &kind, err)) <
                0 ||
            (r = api_get_string(o, path, "address", true, false, &address, err)) < 0 ||
            (r = api_get_u64(o, path, "port", true, 65535, &port, err)) < 0)
                return r;
        char field[API_FIELD_MAX];
        if (!*address || strlen(address) >= POOL_ADDRESS_MAX || strpbrk(address, " \t\r\n/"))
                return api_error_set(err, -EINVAL, api_path(field, path, "address"),
                                     "must be an IP address or host name of 1 to %d characters",
                                     POOL_ADDRESS_MAX - 1);
        if (port == 0)
                return api_error_set(err, -ERANGE, api_path(field, path, "port"),
                                     "must be 1 to 65535");
        *ret = (struct pool_transport){ .kind = kind, .port = (uint16_t)port };
        snprintf(ret->address, sizeof(ret->address), "%s", address);
        return 0;
}

int pool_offer_decode(const struct json_object *o, const char *path, struct pool_offer *ret,
                      struct api_error *err)
{
        struct pool_offer p = {};
        struct json_object *a = NULL;
        const char *node = NULL;
        char field[API_FIELD_MAX];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be a JSON object (pool offer)");
        if ((r = api_get_string(o, path, "node", false, false, &node, err)) < 0 ||
            (r = api_get_u64(o, path, "bytes", true, INT64_MAX, &p.bytes, err)) < 0 ||
            (r = api_get_u64(o, path, "slab_bytes", true, INT64_MAX, &p.slab_bytes, err)) < 0 ||
            (r = api_get_array(o, path, "transports", true, false, &a, err)) < 0)
                return r;
        if (node) {
                if (*ret->node && strcmp(node, ret->node) != 0)
                        return api_error_set(err, -EINVAL, api_path(field, path, "node"),
                                             "\"%.64s\" does not match the node in the URL "
                                             "(\"%s\")",
                                             node, ret->node);
                if (strlen(node) >= sizeof(p.node))
                        return api_error_set(err, -EINVAL, api_path(field, path, "node"),
                                             "too long");
                snprintf(p.node, sizeof(p.node), "%s", node);
        } else
                snprintf(p.node, sizeof(p.node), "%s", ret->node);
        if (p.slab_bytes < POOL_SLAB_BYTES_MIN || p.slab_bytes % POOL_PAGE_BYTES)
                return api_error_set(err, -ERANGE, api_path(field, path, "slab_bytes"),
                                     "must be a multiple of 4096 and at least 1 MiB");
        if (p.bytes < p.slab_bytes)
                return api_error_set(err, -ERANGE, api_path(field, path, "bytes"),
                                     "must be at least slab_bytes (%llu)",
                                     (unsigned long long)p.slab_bytes);
        if (p.bytes / p.slab_bytes > POOL_SLABS_MAX)
                return api_error_set(err, -ERANGE, api_path(field, path, "bytes"),
                                     "is more than %llu slabs of slab_bytes; offer larger slabs",
                                     POOL_SLABS_MAX);
        size_t n = json_object_array_length(a);
        if (n == 0 || n > POOL_TRANSPORTS_MAX)
                return api_error_set(err, -EINVAL, api_path(field, path, "transports"),
                                     "must list 1 to %d transports", POOL_TRANSPORTS_MAX);
        char tpath[API_FIELD_MAX];
        api_path(tpath, path, "transports");
        for (size_t i = 0; i < n; i++) {
                r = transport_decode(json_object_array_get_idx(a, i),
                                     api_path_index(field, tpath, i), &p.transports[i], err);
                if (r < 0)
                        return r;
        }
        p.n_transports = n;
        *ret = p;
        return 0;
}

struct json_object *pool_transport_encode(const struct pool_transport *t)
{
        struct json_object *o = json_object_new_object();
        api_add(o, "kind", json_object_new_string(pool_transport_kind_to_string(t->kind)));
        api_add(o, "address", json_object_new_string(t->address));
        api_add(o, "port", json_object_new_int(t->port));
        return o;
}

static void offer_fields(struct json_object *o, const struct pool_offer *p)
{
        struct json_object *a = json_object_new_array();
        api_add(o, "node", json_object_new_string(p->node));
        api_add(o, "bytes", json_object_new_uint64(p->bytes));
        api_add(o, "slab_bytes", json_object_new_uint64(p->slab_bytes));
        for (size_t i = 0; i < p->n_transports; i++)
                json_object_array_add(a, pool_transport_encode(&p->transports[i]));
        api_add(o, "transports", a);
}

struct json_object *pool_offer_encode(const struct pool_offer *p)
{
        struct json_object *o = json_object_new_object();
        offer_fields(o, p);
        return o;
}

struct json_object *pool_donor_status_encode(const struct pool_donor_status *d)
{
        struct json_object *o = json_object_new_object();
        offer_fields(o, d->offer);
        api_add(o, "slabs", json_object_new_uint64(d->slabs));
        api_add(o, "free_slabs", json_object_new_uint64(d->free_slabs));
        api_add(o, "leased_bytes", json_object_new_uint64(d->leased_bytes));
        api_add(o, "free_bytes", json_object_new_uint64(d->free_bytes));
        api_add(o, "renewed_at_usec", json_object_new_uint64(d->renewed_at_usec));
        api_add(o, "expires_at_usec", json_object_new_uint64(d->expires_at_usec));
        if (d->grants) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < d->n_grants; i++) {
                        const struct pool_grant *g = &d->grants[i];
                        struct json_object *go = json_object_new_object();
                        api_add(go, "lease", json_object_new_string(g->lease_id));
                        api_add(go, "consumer", json_object_new_string(g->consumer));
                        api_add(go, "epoch", json_object_new_uint64(g->epoch));
                        api_add(go, "offset", json_object_new_uint64(g->offset));
                        api_add(go, "length", json_object_new_uint64(g->length));
                        api_add(go, "token", json_object_new_string(g->token));
                        api_add(go, "expires_at_usec", json_object_new_uint64(g->expires_at_usec));
                        json_object_array_add(a, go);
                }
                api_add(o, "grants", a);
        }
        return o;
}

struct json_object *pool_list_encode(struct json_object *donors, uint64_t offered_bytes,
                                     uint64_t leased_bytes, uint64_t free_bytes)
{
        struct json_object *o = json_object_new_object();
        api_add(o, "donor_count", json_object_new_uint64(json_object_array_length(donors)));
        api_add(o, "donors", donors);
        api_add(o, "offered_bytes", json_object_new_uint64(offered_bytes));
        api_add(o, "leased_bytes", json_object_new_uint64(leased_bytes));
        api_add(o, "free_bytes", json_object_new_uint64(free_bytes));
        return o;
}

int pool_fence_check(const struct pool_grant *g, const char *token, uint64_t epoch,
                     uint64_t now_usec)
{
        /* Constant time over the token's length: no early exit that would time the guess. */
        size_t n = strlen(g->token), tn = strlen(token);
        unsigned char diff = tn != n;
        for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(g->token[i] ^ (i < tn ? token[i] : 0));
        if (diff)
                return -EACCES;
        if (epoch != g->epoch)
                return -ESTALE;
        if (now_usec >= g->expires_at_usec)
                return -ETIME;
        return 0;
}

int pool_grant_decode(const struct json_object *o, const char *path, struct pool_grant *ret,
                      struct api_error *err)
{
        struct pool_grant g = {};
        char field[API_FIELD_MAX];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object (grant)");
        if ((r = api_get_string(o, path, "lease", true, false, &g.lease_id, err)) < 0 ||
            (r = api_get_string(o, path, "consumer", false, false, &g.consumer, err)) < 0 ||
            (r = api_get_u64(o, path, "epoch", true, INT64_MAX, &g.epoch, err)) < 0 ||
            (r = api_get_u64(o, path, "offset", true, INT64_MAX, &g.offset, err)) < 0 ||
            (r = api_get_u64(o, path, "length", true, INT64_MAX, &g.length, err)) < 0 ||
            (r = api_get_string(o, path, "token", true, false, &g.token, err)) < 0 ||
            (r = api_get_u64(o, path, "expires_at_usec", true, INT64_MAX, &g.expires_at_usec,
                             err)) < 0)
                return r;
        if (!*g.lease_id || strlen(g.lease_id) >= LEASE_ID_MAX)
                return api_error_set(err, -EINVAL, api_path(field, path, "lease"),
                                     "must be 1 to %d characters", LEASE_ID_MAX - 1);
        if (!*g.token || strlen(g.token) >= LEASE_TOKEN_MAX)
                return api_error_set(err, -EINVAL, api_path(field, path, "token"),
                                     "must be 1 to %d characters", LEASE_TOKEN_MAX - 1);
        if (g.length == 0)
                return api_error_set(err, -EINVAL, api_path(field, path, "length"),
                                     "must be positive");
        if (!g.consumer)
                g.consumer = "";
        *ret = g;
        return 0;
}
