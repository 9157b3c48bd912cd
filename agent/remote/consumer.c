// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/consumer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/codec.h"
#include "common/log.h"
#include "common/macro.h"

static int lease_answer(int status, struct json_object *answer, struct lease *ret)
{
        if (status < 0)
                return status;
        if (status == 404)
                return -ENOENT;
        if (status == 507)
                return -ENOSPC;
        if (status != 200 && status != 201)
                return -EPROTO;
        struct api_error err = {};
        if (!answer || lease_decode(answer, "", ret, &err) < 0) {
                log_warning("memschedd's lease answer does not decode (%s: %s)", err.field,
                            err.message);
                return -EPROTO;
        }
        return 0;
}

int consumer_lease_create(const struct remote_http *h, const char *id, const char *node,
                          uint64_t bytes, uint64_t ttl_sec, bool durable, struct lease *ret)
{
        struct lease_request q = { .bytes = bytes, .ttl_sec = ttl_sec, .durable = durable };
        if (snprintf(q.node, sizeof(q.node), "%s", node) >= (int)sizeof(q.node) ||
            snprintf(q.id, sizeof(q.id), "%s", id ? id : "") >= (int)sizeof(q.id))
                return -EINVAL;
        _cleanup_(json_object_putp) struct json_object *body = lease_request_encode(&q);
        _cleanup_(json_object_putp) struct json_object *answer = NULL;
        int status = remote_http_request(h, "POST", "/v1/leases", body, &answer);
        return lease_answer(status, answer, ret);
}

int consumer_lease_renew(const struct remote_http *h, const char *id, struct lease *ret)
{
        char path[32 + LEASE_ID_MAX];
        snprintf(path, sizeof(path), "/v1/leases/%s/renew", id);
        _cleanup_(json_object_putp) struct json_object *answer = NULL;
        int status = remote_http_request(h, "POST", path, NULL, &answer);
        return lease_answer(status, answer, ret);
}

int consumer_lease_release(const struct remote_http *h, const char *id)
{
        char path[32 + LEASE_ID_MAX];
        snprintf(path, sizeof(path), "/v1/leases/%s", id);
        _cleanup_(json_object_putp) struct json_object *answer = NULL;
        int status = remote_http_request(h, "DELETE", path, NULL, &answer);
        if (status < 0)
                return status;
        return status == 404 ? -ENOENT : status >= 200 && status < 300 ? 0 : -EPROTO;
}
