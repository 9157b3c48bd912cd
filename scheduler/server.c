// SPDX-License-Identifier: Apache-2.0
// memschedd's HTTP server on libmicrohttpd: connections, their deadlines and limits, the memory
// budget of bodies in flight, and collecting a body before routes.c answers it.
#include "scheduler/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/mhd-log.h"
#include "common/clock.h"
#include "common/log.h"
#include "scheduler/server-private.h"

/* Reserves REQUEST_MEMORY_FACTOR times body_bytes for rq against the global budget. A request
 * alone in flight always gets its share (the body limit bounds it), so that a budget smaller
 * than the largest body still serves one at a time. */
static bool body_memory_take(struct server *srv, struct request *rq, size_t body_bytes)
{
        size_t want = body_bytes * REQUEST_MEMORY_FACTOR;
        if (want <= rq->reserved_bytes)
                return true;
        size_t delta = want - rq->reserved_bytes;
        size_t before = atomic_fetch_add(&srv->body_memory_bytes, delta);
        if (before + delta > srv->cfg.request_memory_budget_bytes && before > rq->reserved_bytes) {
                atomic_fetch_sub(&srv->body_memory_bytes, delta);
                return false;
        }
        rq->reserved_bytes = want;
        return true;
}

static enum MHD_Result respond_busy(struct server *srv, struct MHD_Connection *conn,
                                    struct request *rq)
{
        atomic_fetch_add_explicit(&srv->metrics.busy_refusals, 1, memory_order_relaxed);
        return respond_error(conn, rq, 503, NULL,
                             "request bodies being decoded already use the memory budget of "
                             "%zu MiB; retry",
                             srv->cfg.request_memory_budget_bytes >> 20);
}

static struct conn_track *conn_track_of(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

/* deadline: 0 for "now plus the client timeout", else the value. */
static void conn_set_deadline(struct server *srv, struct MHD_Connection *conn, uint64_t deadline)
{
        struct conn_track *t = conn_track_of(conn);
        if (!t)
                return;
        pthread_mutex_lock(&srv->conns_lock);
        t->deadline_usec =
            deadline ? deadline
                     : now_usec(CLOCK_MONOTONIC) + (uint64_t)srv->cfg.client_timeout_sec * 1000000;
        pthread_mutex_unlock(&srv->conns_lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        struct server *srv = cls;
        struct request *rq = *con_cls;
        (void)version;

        if (!rq) {
                unsigned methods = 0;
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                rq->start_usec = now_usec(CLOCK_MONOTONIC);
                *con_cls = rq;
                int r = route_match(url, rq, &methods);
                if (r == ROUTE_UNKNOWN) {
                        rq->route = ROUTE_UNKNOWN;
                        return respond_error(conn, rq, 404, NULL, "no such path: %.200s", url);
                }
                rq->methods = methods;
                if (r < 0)
                        return respond_error(
                            conn, rq, 400, rq->param_field,
                            "%s: not a valid %s (RFC 1123 subdomain)", rq->param_field,
                            strcmp(rq->param_field, "id") == 0 ? "lease id" : "node name");
                rq->route = (enum route)r;
                bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                           strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
                rq->method = get                                           ? M_GET
                             : strcmp(method, MHD_HTTP_METHOD_POST) == 0   ? M_POST
                             : strcmp(method, MHD_HTTP_METHOD_PUT) == 0    ? M_PUT
                             : strcmp(method, MHD_HTTP_METHOD_DELETE) == 0 ? M_DELETE
                                                                           : 0;
                if (!(rq->method & methods))
                        return respond_error(conn, rq, 405, NULL,
                                             "method %.16s not allowed on %.200s", method, url);
                if (check_identity(srv, conn, rq) != MHD_YES || rq->status)
                        return rq->status ? MHD_YES : MHD_NO;
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body_bytes)
                        return respond_error(conn, rq, 413, NULL,
                                             "request body of %.20s bytes exceeds the limit of %zu",
                                             cl, srv->cfg.max_body_bytes);
                if (cl && !body_memory_take(srv, rq, (size_t)strtoull(cl, NULL, 10)))
                        return respond_busy(srv, conn, rq);
                return MHD_YES;
        }
        if (rq->status)
                return MHD_YES; /* already answered; discard the rest */
        if (*upload_size) {
                size_t n = *upload_size;
                *upload_size = 0;
                if (rq->too_large || rq->len + n > srv->cfg.max_body_bytes) {
                        rq->too_large = true;
                        return MHD_YES;
                }
                if (!body_memory_take(srv, rq, rq->len + n))
                        return respond_busy(srv, conn, rq);
                if (rq->len + n + 1 > rq->cap) {
                        size_t cap = rq->cap ? rq->cap : 4096;
                        while (cap < rq->len + n + 1)
                                cap *= 2;
                        char *b = realloc(rq->body, cap);
                        if (!b) {
                                /* Give the memory back first: the answer needs a little. */
                                free(rq->body);
                                rq->body = NULL;
                                rq->len = rq->cap = 0;
                                return respond_error(conn, rq, 503, NULL,
                                                     "out of memory receiving the body");
                        }
                        rq->body = b;
                        rq->cap = cap;
                }
                memcpy(rq->body + rq->len, upload, n);
                rq->len += n;
                rq->body[rq->len] = '\0';
                return MHD_YES;
        }
        if (rq->too_large)
                return respond_error(conn, rq, 413, NULL,
                                     "request body exceeds the limit of %zu bytes",
                                     srv->cfg.max_body_bytes);
        /* Received in time: answering is not bound by the request deadline. */
        conn_set_deadline(srv, conn, UINT64_MAX);
        return dispatch(srv, conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct server *srv = cls;
        struct request *rq = *con_cls;
        /* The next request on this connection gets its own deadline. */
        conn_set_deadline(srv, conn, 0);
        if (!rq)
                return;
        atomic_fetch_sub(&srv->body_memory_bytes, rq->reserved_bytes);
        if (rq->status || toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                metrics_observe(&srv->metrics, rq->route, rq->status ? rq->status : 500,
                                now_usec(CLOCK_MONOTONIC) - rq->start_usec);
        free(rq->body);
        free(rq);
        *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        struct server *srv = cls;
        struct conn_track *t = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci =
                    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                t = calloc(1, sizeof(*t));
                if (!t || !ci)
                        return free(t);
                t->fd = ci->connect_fd;
                t->deadline_usec =
                    now_usec(CLOCK_MONOTONIC) + (uint64_t)srv->cfg.client_timeout_sec * 1000000;
                pthread_mutex_lock(&srv->conns_lock);
                t->next = srv->conns;
                if (srv->conns)
                        srv->conns->prev = t;
                srv->conns = t;
                pthread_mutex_unlock(&srv->conns_lock);
                *socket_context = t;
                return;
        }
        /* Closed: libmicrohttpd closes the socket after this returns, so the sweeper (which
         * holds the lock while it shuts sockets down) never sees a reused descriptor. */
        if (!t)
                return;
        pthread_mutex_lock(&srv->conns_lock);
        if (t->prev)
                t->prev->next = t->next;
        else
                srv->conns = t->next;
        if (t->next)
                t->next->prev = t->prev;
        pthread_mutex_unlock(&srv->conns_lock);
        free(t);
        *socket_context = NULL;
}

/* libmicrohttpd's connection timeout restarts with every byte received: a client trickling its
 * headers a byte a second holds a connection forever, and 1,024 of them hold them all. Every
 * connection gets client_timeout_sec for each request to arrive in full; past that the sweeper
 * shuts its socket down, and libmicrohttpd closes it as a client that went away. */
static void *sweeper(void *arg)
{
        struct server *srv = arg;
        pthread_mutex_lock(&srv->conns_lock);
        while (!srv->stopping) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250 * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&srv->sweep_wake, &srv->conns_lock, &ts);
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                for (struct conn_track *t = srv->conns; t; t = t->next)
                        if (!t->shut && now > t->deadline_usec) {
                                shutdown(t->fd, SHUT_RDWR);
                                t->shut = true;
                                atomic_fetch_add_explicit(&srv->metrics.deadline_closes, 1,
                                                          memory_order_relaxed);
                        }
        }
        pthread_mutex_unlock(&srv->conns_lock);
        return NULL;
}

/* libmicrohttpd decodes "%00" into a NUL that ends the C string: "/v1/nodes/w1%00evil" would be
 * served as w1. A path or query value holding %00 is left encoded, so that it matches nothing or
 * fails the node name check (400). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
        (void)cls;
        (void)conn;
        if (strstr(s, "%00"))
                return strlen(s);
        return MHD_http_unescape(s);
}

static void server_free(struct server *s)
{
        pthread_cond_destroy(&s->sweep_wake);
        pthread_mutex_destroy(&s->conns_lock);
        free(s->tls_cert_pem);
        free(s->tls_key_pem);
        free(s->client_ca_pem);
        tokens_free(s->tokens);
        free(s);
}

bool sockaddr_is_loopback(const struct sockaddr *a)
{
        if (a->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
        if (a->sa_family == AF_INET6) {
                const struct in6_addr *in6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(in6) ||
                       (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
        }
        return false;
}

int server_start(struct cluster *c, const struct server_config *cfg, struct server **ret)
{
        struct server *srv = calloc(1, sizeof(*srv));
        if (!srv)
                return log_error_errno(ENOMEM, "Failed to start the HTTP server: %m");
        srv->cluster = c;
        srv->cfg = *cfg;
        pthread_mutex_init(&srv->conns_lock, NULL);
        respond_oom_init();
        pthread_cond_init(&srv->sweep_wake, NULL);
        struct MHD_OptionItem tls_opts[4] = { { MHD_OPTION_END, 0, NULL } };
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        if (cfg->tls_cert_path) {
                int r = load_tls(srv);
                if (r < 0) {
                        server_free(srv);
                        return r;
                }
                tls_opts[0] =
                    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert_pem };
                tls_opts[1] =
                    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key_pem };
                tls_opts[2] =
                    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->client_ca_pem };
                tls_opts[3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
                flags |= MHD_USE_TLS;
                srv->tls = true;
        } else if (cfg->loopback_by_default) {
                log_notice("No TLS certificate (tlsCert): serving plain HTTP on loopback only. "
                           "Give tlsCert, tlsKey and clientCA to serve the cluster, or "
                           "--insecure for plain HTTP on every address");
        } else if (!sockaddr_is_loopback((const struct sockaddr *)&cfg->addr)) {
                if (!cfg->insecure) {
                        server_free(srv);
                        if (cfg->token_file_path)
                                return log_error_errno(
                                    EPERM,
                                    "Refusing bearer tokens (tokenFile) over plain HTTP on a "
                                    "non-loopback address: they would cross the network in clear "
                                    "for anyone on the path to replay. Pass --tls-cert, --tls-key "
                                    "and --client-ca, or --insecure");
                        return log_error_errno(EPERM,
                                               "Refusing to serve plain HTTP on a non-loopback "
                                               "address: anyone reaching it could report for any "
                                               "node. Pass --tls-cert, --tls-key and "
                                               "--client-ca, or --insecure");
                }
                if (cfg->token_file_path)
                        log_warning("Serving plain HTTP on a non-loopback address (--insecure): "
                                    "bearer tokens cross the network in clear, where anyone on "
                                    "the path can read and replay them");
                else
                        log_warning("Serving plain HTTP on a non-loopback address without "
                                    "authentication (--insecure): anyone reaching it can report "
                                    "for any node and bind any pod");
        }
        if (cfg->token_file_path && tokens_load(srv) < 0) {
                server_free(srv);
                return -EINVAL;
        }
        srv->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&srv->cfg.addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->client_timeout_sec,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_client,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_debug, NULL,
            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE,
            (unsigned)1, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
        if (!srv->daemon) {
                char addr[INET6_ADDRSTRLEN] = "?";
                const struct sockaddr_in *in = (const struct sockaddr_in *)&cfg->addr;
                inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
                server_free(srv);
                return log_error_errno(EADDRNOTAVAIL,
                                       "Failed to listen on %s:%u (address in use or not local?)",
                                       addr, (unsigned)ntohs(in->sin_port));
        }
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &len) == 0)
                srv->port =
                    ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
        if (pthread_create(&srv->sweeper, NULL, sweeper, srv) != 0) {
                int r = errno;
                server_stop(srv);
                return log_error_errno(r, "Failed to start the connection sweeper: %m");
        }
        srv->sweeper_started = true;
        *ret = srv;
        return 0;
}

void server_set_kube(struct server *s, struct sched_kube *k)
{
        s->kube = k;
}

uint16_t server_port(const struct server *s)
{
        return s->port;
}

void server_set_ready(struct server *s, bool ready)
{
        atomic_store(&s->ready, ready);
}

void server_stop(struct server *s)
{
        if (!s)
                return;
        if (s->sweeper_started) {
                pthread_mutex_lock(&s->conns_lock);
                s->stopping = true;
                pthread_cond_signal(&s->sweep_wake);
                pthread_mutex_unlock(&s->conns_lock);
                pthread_join(s->sweeper, NULL);
        }
        MHD_stop_daemon(s->daemon);
        server_free(s);
}
