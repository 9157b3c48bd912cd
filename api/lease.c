// SPDX-License-Identifier: Apache-2.0
#include "api/lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/node-name.h"

static const char *const state_names[_LEASE_STATE_MAX] = {
        [LEASE_ACTIVE] = "active",
        [LEASE_EXPIRED] = "expired",
};

const char *lease_state_to_string(enum lease_state s)
{
        return (unsigned)s < _LEASE_STATE_MAX ? state_names[s] : "unknown";
}

int lease_state_from_string(const char *s)
{
        for (int i = 0; i < _LEASE_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0)
                        return i;
        return -EINVAL;
}

void lease_done(struct lease *l)
{
        if (!l)
                return;
        free(l->slabs);
        *l = (struct lease){};
}

int lease_copy(const struct lease *src, struct lease *ret)
{
        struct lease l = *src;
        l.slabs = calloc(src->n_slabs ? src->n_slabs : 1, sizeof(*l.slabs));
        if (!l.slabs)
                return -ENOMEM;
        if (src->n_slabs)
                memcpy(l.slabs, src->slabs, src->n_slabs * sizeof(*l.slabs));
        *ret = l;
        return 0;
}

struct json_object *lease_encode(const struct lease *l, bool with_tokens)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        api_add(o, "id", json_object_new_string(l->id));
        api_add(o, "node", json_object_new_string(l->node));
        api_add(o, "bytes", json_object_new_uint64(l->bytes));
        api_add(o, "ttl_seconds", json_object_new_uint64(l->ttl_sec));
        api_add(o, "durable", json_object_new_boolean(l->durable));
        api_add(o, "state", json_object_new_string(lease_state_to_string(l->state)));
        api_add(o, "epoch", json_object_new_uint64(l->epoch));
        api_add(o, "created_at_usec", json_object_new_uint64(l->created_at_usec));
        api_add(o, "renewed_at_usec", json_object_new_uint64(l->renewed_at_usec));
        api_add(o, "expires_at_usec", json_object_new_uint64(l->expires_at_usec));
        for (size_t i = 0; i < l->n_slabs; i++) {
                const struct lease_slab *s = &l->slabs[i];
                struct json_object *so = json_object_new_object();
                api_add(so, "donor", json_object_new_string(s->donor));
                api_add(so, "transport",
                        json_object_new_string(pool_transport_kind_to_string(s->transport.kind)));
                api_add(so, "address", json_object_new_string(s->transport.address));
                api_add(so, "port", json_object_new_int(s->transport.port));
                api_add(so, "offset", json_object_new_uint64(s->offset));
                api_add(so, "length", json_object_new_uint64(s->length));
                api_add(so, "chunk", json_object_new_uint64(s->chunk));
                api_add(so, "replica", json_object_new_uint64(s->replica));
                api_add(so, "token", with_tokens ? json_object_new_string(s->token) : NULL);
                api_add(so, "revoked", json_object_new_boolean(s->revoked));
                json_object_array_add(a, so);
        }
        api_add(o, "slabs", a);
        return o;
}

/* A name that must be a node name (RFC 1123 subdomain) into buf. */
static int get_name(const struct json_object *o, const char *path, const char *key, bool required,
                    char *buf, size_t size, struct api_error *err)
{
        const char *s = NULL;
        char field[API_FIELD_MAX];
        int r = api_get_string(o, path, key, required, false, &s, err);
        if (r <= 0)
                return r;
        if (!node_name_is_valid(s, strlen(s)) || strlen(s) >= size)
                return api_error_set(err, -EINVAL, api_path(field, path, key),
                                     "\"%.64s\" is not a valid name (RFC 1123, at most %zu "
                                     "characters)",
                                     s, size - 1);
        snprintf(buf, size, "%s", s);
        return 1;
}

static int slab_decode(const struct json_object *o, const char *path, struct lease_slab *ret,
                       struct api_error *err)
{
        struct lease_slab s = {};
        const char *address = NULL, *token = NULL;
        uint64_t port = 0, chunk = 0, replica = 0;
        int kind = 0, r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        if ((r = get_name(o, path, "donor", true, s.donor, sizeof(s.donor), err)) < 0 ||
            (r = api_get_enum(o, path, "transport", true, pool_transport_kind_from_string, &kind,
                              err)) < 0 ||
            (r = api_get_string(o, path, "address", true, false, &address, err)) < 0 ||
            (r = api_get_u64(o, path, "port", true, 65535, &port, err)) < 0 ||
            (r = api_get_u64(o, path, "offset", true, INT64_MAX, &s.offset, err)) < 0 ||
            (r = api_get_u64(o, path, "length", true, INT64_MAX, &s.length, err)) < 0 ||
            (r = api_get_u64(o, path, "chunk", true, UINT32_MAX, &chunk, err)) < 0 ||
            (r = api_get_u64(o, path, "replica", true, 1, &replica, err)) < 0 ||
            (r = api_get_string(o, path, "token", false, false, &token, err)) < 0 ||
            (r = api_get_bool(o, path, "revoked", true, &s.revoked, err)) < 0)
                return r;
        char field[API_FIELD_MAX];
        if (strlen(address) >= sizeof(s.transport.address))
                return api_error_set(err, -EINVAL, api_path(field, path, "address"), "too long");
        if (token && strlen(token) >= sizeof(s.token))
                return api_error_set(err, -EINVAL, api_path(field, path, "token"), "too long");
        s.transport.kind = kind;
        s.transport.port = (uint16_t)port;
        snprintf(s.transport.address, sizeof(s.transport.address), "%s", address);
        snprintf(s.token, sizeof(s.token), "%s", token ? token : "");
        s.chunk = (uint32_t)chunk;
        s.replica = (uint32_t)replica;
        *ret = s;
        return 0;
}

int lease_decode(const struct json_object *o, const char *path, struct lease *ret,
                 struct api_error *err)
{
        _cleanup_(lease_done) struct lease l = {};
        struct json_object *a = NULL;
        int state = 0, r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be a JSON object (lease)");
        if ((r = get_name(o, path, "id", true, l.id, sizeof(l.id), err)) < 0 ||
            (r = get_name(o, path, "node", true, l.node, sizeof(l.node), err)) < 0 ||
            (r = api_get_u64(o, path, "bytes", true, INT64_MAX, &l.bytes, err)) < 0 ||
            (r = api_get_u64(o, path, "ttl_seconds", true, LEASE_TTL_SEC_MAX, &l.ttl_sec, err)) <
                0 ||
            (r = api_get_bool(o, path, "durable", true, &l.durable, err)) < 0 ||
            (r = api_get_enum(o, path, "state", true, lease_state_from_string, &state, err)) < 0 ||
            (r = api_get_u64(o, path, "epoch", true, INT64_MAX, &l.epoch, err)) < 0 ||
            (r = api_get_u64(o, path, "created_at_usec", true, UINT64_MAX, &l.created_at_usec,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "renewed_at_usec", true, UINT64_MAX, &l.renewed_at_usec,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "expires_at_usec", true, UINT64_MAX, &l.expires_at_usec,
                             err)) < 0 ||
            (r = api_get_array(o, path, "slabs", true, false, &a, err)) < 0)
                return r;
        l.state = (enum lease_state)state;
        size_t n = json_object_array_length(a);
        char spath[API_FIELD_MAX], field[API_FIELD_MAX];
        if (n > LEASE_SLABS_MAX)
                return api_error_set(err, -E2BIG, api_path(field, path, "slabs"),
                                     "more than %d slabs", LEASE_SLABS_MAX);
        l.slabs = calloc(n ? n : 1, sizeof(*l.slabs));
        if (!l.slabs)
                return -ENOMEM;
        api_path(spath, path, "slabs");
        for (size_t i = 0; i < n; i++) {
                r = slab_decode(json_object_array_get_idx(a, i), api_path_index(field, spath, i),
                                &l.slabs[i], err);
                if (r < 0)
                        return r;
                l.n_slabs++;
        }
        *ret = l;
        l = (struct lease){};
        return 0;
}

int lease_request_decode(const struct json_object *o, struct lease_request *ret,
                         struct api_error *err)
{
        struct lease_request q = { .durable = true };
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "", "must be a JSON object (lease request)");
        if ((r = get_name(o, "", "node", true, q.node, sizeof(q.node), err)) < 0 ||
            (r = api_get_u64(o, "", "bytes", true, INT64_MAX, &q.bytes, err)) < 0 ||
            (r = api_get_u64(o, "", "ttl_seconds", true, LEASE_TTL_SEC_MAX, &q.ttl_sec, err)) < 0 ||
            (r = api_get_bool(o, "", "durable", false, &q.durable, err)) < 0 ||
            (r = get_name(o, "", "id", false, q.id, sizeof(q.id), err)) < 0)
                return r;
        if (q.bytes == 0)
                return api_error_set(err, -ERANGE, "bytes", "must be at least 1");
        if (q.ttl_sec == 0)
                return api_error_set(err, -ERANGE, "ttl_seconds", "must be 1 to %d",
                                     LEASE_TTL_SEC_MAX);
        if (*q.id && strchr(q.id, '.'))
                return api_error_set(err, -EINVAL, "id",
                                     "must be an RFC 1123 label (no dots), at most %d characters",
                                     LEASE_ID_MAX - 1);
        *ret = q;
        return 0;
}

struct json_object *lease_request_encode(const struct lease_request *q)
{
        struct json_object *o = json_object_new_object();
        if (*q->id)
                api_add(o, "id", json_object_new_string(q->id));
        api_add(o, "node", json_object_new_string(q->node));
        api_add(o, "bytes", json_object_new_uint64(q->bytes));
        api_add(o, "ttl_seconds", json_object_new_uint64(q->ttl_sec));
        api_add(o, "durable", json_object_new_boolean(q->durable));
        return o;
}
