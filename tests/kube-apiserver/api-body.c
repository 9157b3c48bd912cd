// SPDX-License-Identifier: Apache-2.0
// Request bodies: JSON decoded and refused with kube-apiserver's words (transformDecodeError),
// and a create's Content-Type checked first (NegotiateInputSerializer).
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "kjson.h"
#include "server.h"
#include "status.h"

/* What the JSON decoder says about a body that is not JSON; kube-apiserver's text comes from
 * Go's encoding/json, ours from json-c, behind the same prefix (transformDecodeError). */
static struct json_object *decode_error(const struct request *rq, const char *why)
{
        char summary[64], msg[512];
        if (rq->len == 0)
                snprintf(summary, sizeof(summary), "<empty>");
        else if (rq->len > 30)
                snprintf(summary, sizeof(summary), "%.30s ...", rq->body);
        else
                snprintf(summary, sizeof(summary), "%s", rq->body);
        snprintf(msg, sizeof(msg),
                 "the object provided is unrecognized (%s): couldn't get version/kind; json "
                 "parse error: %s",
                 summary, why);
        return status_bad_request(msg);
}

struct json_object *parse_body(const struct request *rq, struct json_object **ret)
{
        *ret = NULL;
        if (!rq->body || rq->len == 0)
                return decode_error(rq, "unexpected end of JSON input");
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return status_internal_error("out of memory");
        struct json_object *o = json_tokener_parse_ex(tok, rq->body, (int)rq->len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || err != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                /* Input that stops inside a value: Go's words for it. */
                const char *why = err == json_tokener_success    ? "not a JSON object"
                                  : err == json_tokener_continue ? "unexpected end of JSON input"
                                                                 : json_tokener_error_desc(err);
                return decode_error(rq, why);
        }
        for (; used < rq->len; used++)
                if (rq->body[used] != ' ' && rq->body[used] != '\n' && rq->body[used] != '\r' &&
                    rq->body[used] != '\t') {
                        json_object_put(o);
                        return decode_error(rq, "invalid character after top-level value");
                }
        *ret = o;
        return NULL;
}

/* A create's body is decoded by its Content-Type; none means JSON (NegotiateInputSerializer).
 * Any other type than JSON is refused here, where kube-apiserver also takes YAML and
 * protobuf. */
static struct json_object *check_content_type(struct MHD_Connection *conn)
{
        const char *ct = header_value(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!ct || !*ct ||
            (strncmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';')))
                return NULL;
        return status_failure(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media "
                              "types include: application/json, application/yaml, "
                              "application/vnd.kubernetes.protobuf",
                              NULL);
}

/* A create's JSON body, after its Content-Type: NULL and *ret, or the Status to answer. */
struct json_object *create_body(struct MHD_Connection *conn, const struct request *rq,
                                struct json_object **ret)
{
        struct json_object *bad = check_content_type(conn);
        *ret = NULL;
        return bad ? bad : parse_body(rq, ret);
}

struct json_object *create_body_named(struct MHD_Connection *conn, const struct request *rq,
                                      const char *kind, const char *name, struct json_object **ret)
{
        struct json_object *bad = create_body(conn, rq, ret);
        if (bad)
                return bad;
        const char *body_name = kjson_get_string(*ret, "metadata", "name", NULL);
        if (body_name && strcmp(body_name, name) == 0)
                return NULL;
        json_object_put(*ret);
        *ret = NULL;
        char msg[128];
        snprintf(msg, sizeof(msg), "name in URL does not match name in %s object", kind);
        return status_bad_request(msg);
}
