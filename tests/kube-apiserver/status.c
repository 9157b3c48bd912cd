// SPDX-License-Identifier: Apache-2.0
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kjson.h"

static int add_nonempty(struct json_object *o, const char *key, const char *value)
{
        if (!value || !*value)
                return 0;
        return kjson_set_string(o, key, value);
}

struct json_object *status_details(const char *name, const char *group, const char *kind)
{
        struct json_object *d = json_object_new_object();
        if (!d)
                return NULL;
        /* metav1.StatusDetails field order: name, group, kind, uid, causes, retryAfterSeconds */
        if (add_nonempty(d, "name", name) < 0 || add_nonempty(d, "group", group) < 0 ||
            add_nonempty(d, "kind", kind) < 0) {
                json_object_put(d);
                return NULL;
        }
        return d;
}

int status_details_add_cause(struct json_object *details, const char *reason, const char *message,
                             const char *field)
{
        struct json_object *causes;
        if (!json_object_object_get_ex(details, "causes", &causes)) {
                causes = json_object_new_array();
                if (!causes || json_object_object_add(details, "causes", causes) < 0) {
                        json_object_put(causes);
                        return -ENOMEM;
                }
        }
        struct json_object *c = json_object_new_object();
        if (!c)
                return -ENOMEM;
        if (add_nonempty(c, "reason", reason) < 0 || add_nonempty(c, "message", message) < 0 ||
            add_nonempty(c, "field", field) < 0 || json_object_array_add(causes, c) < 0) {
                json_object_put(c);
                return -ENOMEM;
        }
        /* retryAfterSeconds comes after causes in the Go struct: move it to the end. */
        struct json_object *ra;
        if (json_object_object_get_ex(details, "retryAfterSeconds", &ra)) {
                json_object_get(ra);
                json_object_object_del(details, "retryAfterSeconds");
                if (json_object_object_add(details, "retryAfterSeconds", ra) < 0) {
                        json_object_put(ra);
                        return -ENOMEM;
                }
        }
        return 0;
}

int status_details_set_retry_after(struct json_object *details, uint32_t retry_after_sec)
{
        json_object_object_del(details, "retryAfterSeconds");
        if (retry_after_sec == 0)
                return 0;
        struct json_object *n = json_object_new_int64(retry_after_sec);
        if (!n || json_object_object_add(details, "retryAfterSeconds", n) < 0) {
                json_object_put(n);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *status_new(const char *status, int code, const char *reason,
                                      const char *message, struct json_object *details)
{
        struct json_object *o = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *c = json_object_new_int(code);
        if (!o || !meta || !c)
                goto fail;
        if (kjson_set_string(o, "kind", "Status") < 0 ||
            kjson_set_string(o, "apiVersion", "v1") < 0)
                goto fail;
        if (json_object_object_add(o, "metadata", meta) < 0)
                goto fail;
        meta = NULL;
        if (kjson_set_string(o, "status", status) < 0 || add_nonempty(o, "message", message) < 0 ||
            add_nonempty(o, "reason", reason) < 0)
                goto fail;
        if (details) {
                if (json_object_object_add(o, "details", details) < 0)
                        goto fail;
                details = NULL;
        }
        if (json_object_object_add(o, "code", c) < 0)
                goto fail;
        return o;
fail:
        json_object_put(o);
        json_object_put(meta);
        json_object_put(c);
        json_object_put(details);
        return NULL;
}

struct json_object *status_failure(int code, const char *reason, const char *message,
                                   struct json_object *details)
{
        return status_new("Failure", code, reason, message, details);
}

struct json_object *status_success(int code)
{
        return status_new("Success", code, NULL, NULL, NULL);
}

struct json_object *status_not_found(const char *resource, const char *name)
{
        char msg[768];
        snprintf(msg, sizeof(msg), "%s \"%s\" not found", resource, name);
        struct json_object *d = status_details(name, NULL, resource);
        return d ? status_failure(404, "NotFound", msg, d) : NULL;
}

struct json_object *status_conflict(const char *resource, const char *name, const char *why)
{
        char msg[1024];
        snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": %s", resource, name,
                 why);
        struct json_object *d = status_details(name, NULL, resource);
        return d ? status_failure(409, "Conflict", msg, d) : NULL;
}

struct json_object *status_generic(int code)
{
        const char *reason, *msg;
        switch (code) {
        case 404:
                reason = "NotFound";
                msg = "the server could not find the requested resource";
                break;
        case 405:
                reason = "MethodNotAllowed";
                msg = "the server does not allow this method on the requested resource";
                break;
        case 415:
                reason = "UnsupportedMediaType";
                msg = "the server does not support the media type";
                break;
        default:
                reason = "InternalError";
                msg = "an error on the server (\"\") has prevented the request from succeeding";
                break;
        }
        struct json_object *d = status_details(NULL, NULL, NULL);
        return d ? status_failure(code, reason, msg, d) : NULL;
}

struct json_object *status_unauthorized(void)
{
        return status_failure(401, "Unauthorized", "Unauthorized", NULL);
}

struct json_object *status_bad_request(const char *message)
{
        return status_failure(400, "BadRequest", message, NULL);
}

struct json_object *status_expired(const char *message)
{
        return status_failure(410, "Expired", message, NULL);
}

struct json_object *status_gone(const char *message)
{
        return status_failure(410, "Gone", message, NULL);
}

struct json_object *status_internal_error(const char *err)
{
        char msg[768];
        snprintf(msg, sizeof(msg), "Internal error occurred: %s", err);
        struct json_object *d = status_details(NULL, NULL, NULL);
        if (!d || status_details_add_cause(d, NULL, err, NULL) < 0) {
                json_object_put(d);
                return NULL;
        }
        return status_failure(500, "InternalError", msg, d);
}

struct json_object *status_service_unavailable(const char *message)
{
        return status_failure(503, "ServiceUnavailable", message, NULL);
}

struct json_object *status_entity_too_large(const char *message)
{
        char msg[512];
        snprintf(msg, sizeof(msg), "Request entity too large: %s", message);
        return status_failure(413, "RequestEntityTooLarge", msg, NULL);
}

struct json_object *status_too_many_requests(const char *message, uint32_t retry_after_sec)
{
        struct json_object *d = status_details(NULL, NULL, NULL);
        if (!d || status_details_set_retry_after(d, retry_after_sec) < 0) {
                json_object_put(d);
                return NULL;
        }
        return status_failure(429, "TooManyRequests", message, d);
}

struct json_object *status_invalid_errors(const char *group, const char *kind, const char *name,
                                          const struct field_error *errs, size_t n)
{
        char qualified[128], msg[4096];
        if (group && *group)
                snprintf(qualified, sizeof(qualified), "%s.%s", kind, group);
        else
                snprintf(qualified, sizeof(qualified), "%s", kind);
        /* errs.ToAggregate(): one error as is, several in brackets. */
        size_t off = (size_t)snprintf(msg, sizeof(msg), "%s \"%s\" is invalid: %s", qualified, name,
                                      n > 1 ? "[" : "");
        for (size_t i = 0; i < n && off < sizeof(msg); i++)
                off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s%s: %s", i ? ", " : "",
                                        errs[i].field, errs[i].body);
        if (n > 1 && off < sizeof(msg))
                snprintf(msg + off, sizeof(msg) - off, "]");
        struct json_object *d = status_details(name, group, kind);
        for (size_t i = 0; d && i < n; i++)
                if (status_details_add_cause(d, errs[i].type, errs[i].body, errs[i].field) < 0) {
                        json_object_put(d);
                        d = NULL;
                }
        return d ? status_failure(422, "Invalid", msg, d) : NULL;
}

struct json_object *status_invalid(const char *group, const char *kind, const char *name,
                                   const char *field, const char *cause_reason,
                                   const char *cause_message)
{
        struct field_error e = { .type = cause_reason, .field = field, .body = cause_message };
        return status_invalid_errors(group, kind, name, &e, 1);
}

uint32_t status_retry_after(struct json_object *status)
{
        struct json_object *d, *ra;
        if (!json_object_object_get_ex(status, "details", &d) ||
            !json_object_object_get_ex(d, "retryAfterSeconds", &ra))
                return 0;
        int64_t v = json_object_get_int64(ra);
        return v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

int status_code(struct json_object *status)
{
        struct json_object *c;
        return json_object_object_get_ex(status, "code", &c) ? json_object_get_int(c) : 500;
}
