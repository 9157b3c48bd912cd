// SPDX-License-Identifier: Apache-2.0
#include "scheduler/server-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/error_reply.h"

/* The answer when there is no memory left to build one: made at start, queued as is (a
 * response can be queued any number of times). One per process, like the daemon. */
static struct MHD_Response *oom_response;
static const char oom_body[] = "{\"error\":\"out of memory\",\"field\":null}";

static enum MHD_Result respond_oom(struct MHD_Connection *conn, struct request *rq)
{
        if (!oom_response)
                return MHD_NO;
        rq->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, oom_response);
}

enum MHD_Result respond(struct MHD_Connection *conn, struct request *rq, unsigned status,
                        const char *content_type, char *body, size_t len)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return respond_oom(conn, rq);
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        rq->challenge ? rq->challenge : "Bearer");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
                char allow[32] = "";
                static const char *const names[] = { "GET, HEAD", "POST", "PUT", "DELETE" };
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (rq->methods & (1u << i))
                                snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow),
                                         "%s%s", *allow ? ", " : "", names[i]);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        }
        rq->status = status;
        enum MHD_Result ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *rq, unsigned status,
                             struct json_object *o)
{
        size_t len = 0;
        char *s = o ? api_to_string(o, &len) : NULL;
        if (o)
                json_object_put(o);
        if (!s)
                return respond_oom(conn, rq);
        return respond(conn, rq, status, "application/json", s, len);
}

enum MHD_Result respond_error(struct MHD_Connection *conn, struct request *rq, unsigned status,
                              const char *field, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        struct error_reply e = { .message = msg, .field = field };
        return respond_json(conn, rq, status, error_reply_encode(&e));
}

enum MHD_Result respond_api_error(struct MHD_Connection *conn, struct request *rq, int r,
                                  const struct api_error *err)
{
        if (r == -ENOMEM) {
                /* The body is no longer needed and the answer needs a little memory. */
                free(rq->body);
                rq->body = NULL;
                rq->len = rq->cap = 0;
                return respond_error(conn, rq, 503, NULL, "%s",
                                     err->message[0] ? err->message
                                                     : "out of memory decoding the request");
        }
        if (r == -E2BIG)
                return respond_error(conn, rq, 413, NULL, "%s", err->message);
        if (err->field[0])
                return respond_error(conn, rq, 400, err->field, "%s: %s", err->field, err->message);
        return respond_error(conn, rq, 400, NULL, "%s", err->message);
}

void respond_oom_init(void)
{
        if (oom_response)
                return;
        oom_response = MHD_create_response_from_buffer(sizeof(oom_body) - 1, (void *)oom_body,
                                                       MHD_RESPMEM_PERSISTENT);
        if (oom_response) {
                MHD_add_response_header(oom_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        "application/json");
                MHD_add_response_header(oom_response, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        }
}

enum MHD_Result respond_text(struct MHD_Connection *conn, struct request *rq, unsigned status,
                             const char *text)
{
        char *s = strdup(text);
        if (!s)
                return MHD_NO;
        return respond(conn, rq, status, "text/plain; charset=utf-8", s, strlen(s));
}

enum MHD_Result parse_body(struct MHD_Connection *conn, struct request *rq,
                           struct json_object **ret)
{
        struct api_error err = {};
        int r = api_parse(rq->body ? rq->body : "", rq->len, ret, &err);
        if (r < 0)
                return respond_api_error(conn, rq, r, &err);
        return MHD_YES;
}
