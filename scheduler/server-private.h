// SPDX-License-Identifier: Apache-2.0
// What server.c (libmicrohttpd, limits, deadlines), server-respond.c (answers), routes.c (the
// routing table and the handlers) and server-auth.c (TLS and who may change state) share: the
// server, one request, and the calls between them. Not for use outside the HTTP layer.
#pragma once

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "common/macro.h"
#include "scheduler/server.h"

struct token_store;

/* One open connection, for the request deadline. */
struct conn_track {
        struct conn_track *prev, *next;
        int fd;
        uint64_t deadline_usec; /* UINT64_MAX while the request is being answered */
        bool shut;
};

struct server {
        struct MHD_Daemon *daemon;
        struct cluster *cluster;
        struct sched_kube *kube; /* NULL: no Kubernetes API, binds are only recorded */
        struct server_config cfg;
        struct metrics metrics;
        atomic_bool ready;
        uint16_t port;
        /* Bytes reserved by the bodies being received and decoded (REQUEST_MEMORY_FACTOR times
         * each body). */
        atomic_size_t body_memory_bytes;
        /* Open connections and the thread that closes those past their deadline. */
        pthread_mutex_t conns_lock;
        pthread_cond_t sweep_wake;
        struct conn_track *conns;
        pthread_t sweeper;
        bool sweeper_started, stopping;
        /* HTTPS: the PEM texts libmicrohttpd reads (kept for the daemon's life). */
        bool tls;
        char *tls_cert_pem, *tls_key_pem, *client_ca_pem;
        /* Bearer tokens from tokenFile (server-auth.c); NULL without it. */
        struct token_store *tokens;
};

struct request {
        enum route route;
        unsigned methods;             /* the route's (for Allow) */
        unsigned method;              /* this request's method_bit */
        char node[API_NODE_NAME_MAX]; /* the path's {name}, {node} or {id} */
        char param_field[16];         /* its name, for errors */
        char identity[256];           /* the verified certificate's or token's name, else "" */
        const char *challenge; /* a 401's WWW-Authenticate (static), NULL for the plain one */
        char *body;
        size_t len, cap;
        bool too_large;
        unsigned status;
        uint64_t start_usec;
        size_t reserved_bytes; /* this request's share of srv->body_memory_bytes */
};

/* Answers stay below ANSWER_FACTOR times the request plus ANSWER_SLACK_BYTES. */
#define ANSWER_FACTOR      4
#define ANSWER_SLACK_BYTES (1 << 20)

enum method_bit {
        M_GET = 1,
        M_POST = 2,
        M_PUT = 4,
        M_DELETE = 8,
};

/* ---------- answers (server-respond.c) ---------- */

/* Makes the process's one out-of-memory answer (idempotent; at start, while memory is there). */
void respond_oom_init(void);
/* Queues an answer; body is taken (freed on failure too). Sets rq->status. */
enum MHD_Result respond(struct MHD_Connection *conn, struct request *rq, unsigned status,
                        const char *content_type, char *body, size_t len);
/* Queues o (taken) as JSON; the out-of-memory answer when it cannot be formatted. */
enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *rq, unsigned status,
                             struct json_object *o);
/* Queues an ErrorReply with the message formatted and field (NULL for none). */
enum MHD_Result respond_error(struct MHD_Connection *conn, struct request *rq, unsigned status,
                              const char *field, const char *fmt, ...) _printf_(5, 6);
/* Queues the answer to a decoding error: 503 for ENOMEM, 413 for E2BIG, else 400 naming the
 * field. */
enum MHD_Result respond_api_error(struct MHD_Connection *conn, struct request *rq, int r,
                                  const struct api_error *err);
enum MHD_Result respond_text(struct MHD_Connection *conn, struct request *rq, unsigned status,
                             const char *text);
/* Parses rq's body into *ret; on failure the error is queued (rq->status set) and *ret NULL. */
enum MHD_Result parse_body(struct MHD_Connection *conn, struct request *rq,
                           struct json_object **ret);

/* ---------- routing (routes.c) ---------- */

/* The route of url and the methods it accepts; the {name} into rq->node, its name into
 * rq->param_field. -EINVAL for an invalid name; ROUTE_UNKNOWN when nothing matches. */
int route_match(const char *url, struct request *rq, unsigned *ret_methods);
/* Answers a request received in full. */
enum MHD_Result dispatch(struct server *srv, struct MHD_Connection *conn, struct request *rq);

/* ---------- who may change state (server-auth.c) ---------- */

/* MHD_YES to go on (rq->identity set when a certificate or token gave one), or the 401 or 403
 * queued. */
enum MHD_Result check_identity(struct server *srv, struct MHD_Connection *conn, struct request *rq);
/* Reads the PEM files of srv->cfg into srv; checks libmicrohttpd has TLS. */
int load_tls(struct server *srv);
/* Reads srv->cfg.token_file_path into srv->tokens (set even on failure, for tokens_free()).
 * Returns 0, or -EINVAL (logged: the file cannot be read or parsed). */
int tokens_load(struct server *srv);
void tokens_free(struct token_store *s);
/* An IPv4 127/8, IPv6 ::1 or IPv4-mapped 127/8 address. */
bool sockaddr_is_loopback(const struct sockaddr *a);
