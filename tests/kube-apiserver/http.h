// SPDX-License-Identifier: Apache-2.0
// libmicrohttpd glue shared by the API and the control port: one struct request per request
// (the raw URI with its query, the bounded body), JSON answers, and the daemon start.
#pragma once

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "state.h"

struct request {
        char *uri; /* as received, query included */
        char *body;
        size_t len, cap;
        bool started, too_large;
        unsigned code; /* the answer's status, once queued */
};

typedef enum MHD_Result (*route_fn)(struct state *st, struct MHD_Connection *conn,
                                    struct request *rq, const char *method, const char *path);

/* Queues o (consumed) as application/json with the status code; with retry_after_sec > 0 also a
 * Retry-After header. */
enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *rq, unsigned code,
                             struct json_object *o, uint32_t retry_after_sec);
/* Queues a metav1.Status (consumed) with its own code, and Retry-After when its details ask. */
enum MHD_Result respond_status(struct MHD_Connection *conn, struct request *rq,
                               struct json_object *status);
enum MHD_Result respond_text(struct MHD_Connection *conn, struct request *rq, unsigned code,
                             const char *text, uint32_t retry_after_sec);

/* The query parameter, or NULL. */
const char *query_arg(struct MHD_Connection *conn, const char *key);
const char *header_value(struct MHD_Connection *conn, const char *key);

struct http_server {
        struct MHD_Daemon *daemon;
        struct state *st;
        route_fn route;
        uint16_t port; /* bound */
};

/* Starts hs->route on addr:port (0: ephemeral): each body is collected (at most
 * KT_BODY_MAX_BYTES; more sets too_large) before route is called. cert_pem/key_pem: HTTPS, NULL
 * for plain HTTP. Returns 0 or a negative errno, said on stderr. */
int http_start(struct http_server *hs, const char *addr, uint16_t port, const char *cert_pem,
               const char *key_pem);
void http_stop(struct http_server *hs);

/* Splits path at '/' into at most max segments (the path is modified). Returns the count, or
 * -1 when there are more. */
int path_split(char *path, char **seg, int max);
