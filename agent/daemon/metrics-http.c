// SPDX-License-Identifier: Apache-2.0
// The HTTP side of memagentd's metrics: a small HTTP/1.1 responder on the manager's sd-event
// loop, the request parsed by api/http-serve.h. Not libmicrohttpd: its constructor initialises
// GnuTLS, which maps 2.5 MiB of TLS libraries into a daemon that serves three plain-text GETs
// to the kubelet's probes and Prometheus on the node.
//
// No thread: a scrape runs between two steps and reads the manager as it is. Bounded: at most
// METRICS_MAX_CONNECTIONS connections, METRICS_MAX_CONNECTIONS_PER_IP from one client address
// (the rest are closed as soon as accepted); each connection has METRICS_DEADLINE_USEC to
// complete a request (from its accept, or the end of its previous answer) and as long to take
// the answer, whatever trickle of bytes it sends (a slowloris client is closed); GET and HEAD
// only. Per connection an input buffer of one request head; per answer, the body alone is
// allocated (/metrics; the probes' bodies are literals).
//
// A connection's life: read → (a complete request head) answer → write what the socket takes,
// EPOLLOUT for the rest → the next pipelined request, in order; or, after an answer that closes
// (an error, "Connection: close", HTTP/1.0), shut the write side and drain what the client still
// sends for a moment before closing, so that the kernel does not reset the connection (losing
// the answer) over an unread request body.
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/daemon/manager-private.h"
#include "agent/daemon/metrics.h"
#include "api/codec.h"
#include "api/http-serve.h"
#include "api/prom.h"
#include "common/clock.h"
#include "common/listen-address.h"
#include "common/log.h"
#include "common/macro.h"

/* Prometheus and the kubelet's probes each hold one connection; a few more for people. One
 * client (address) gets at most half, so that it cannot starve the probes; connections past
 * either limit are closed as soon as accepted. */
#define METRICS_MAX_CONNECTIONS        16
#define METRICS_MAX_CONNECTIONS_PER_IP 8
/* Time a connection has to send a complete request, and then to take the answer: a probe or a
 * scrape is one request, and Prometheus' scrape timeout is 10 s by default. */
#define METRICS_DEADLINE_USEC (10 * 1000000ULL)
/* After an answer that closes: how long, and how many bytes, the client's leftovers are read
 * and dropped before closing. */
#define METRICS_LINGER_USEC    (2 * 1000000ULL)
#define METRICS_LINGER_BYTES   (64 * 1024)
#define METRICS_LISTEN_BACKLOG 16
/* Connections accepted per wakeup of the listening socket, so that a flood cannot hold the loop. */
#define METRICS_ACCEPT_BURST 32

#define TEXT_PLAIN "text/plain; charset=utf-8"

enum conn_state {
        CONN_READING, /* waiting for a complete request */
        CONN_WRITING, /* an answer is being written */
        CONN_LINGER,  /* answered and shut down for writing; dropping what the client sends */
};

struct metrics_conn {
        struct metrics_server *srv;
        int fd;
        sd_event_source *io;
        struct sockaddr_storage peer;
        enum conn_state state;
        uint64_t deadline_usec; /* CLOCK_MONOTONIC: closed when reached */
        bool close_after;       /* the answer being written is the last */
        bool peer_done;         /* the client shut its write side */
        size_t in_len, linger_bytes;
        size_t head_len, body_len, sent; /* sent counts the head, then the body */
        char *body_free;                 /* the body when allocated (/metrics), else NULL */
        const char *body;
        char head[HTTP_RESPONSE_HEAD_MAX_BYTES];
        char in[HTTP_REQUEST_HEAD_MAX_BYTES];
};

struct metrics_server {
        struct manager *m;
        int fd;
        sd_event_source *io, *timer;
        struct metrics_conn *conns[METRICS_MAX_CONNECTIONS];
        size_t n_conns;
};

/* Arms the one timer at the earliest deadline of all connections (off when there are none). */
static void rearm_timer(struct metrics_server *srv)
{
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < srv->n_conns; i++)
                if (srv->conns[i]->deadline_usec < next)
                        next = srv->conns[i]->deadline_usec;
        if (next == UINT64_MAX) {
                (void)sd_event_source_set_enabled(srv->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time(srv->timer, next);
        (void)sd_event_source_set_enabled(srv->timer, SD_EVENT_ONESHOT);
}

static void conn_free(struct metrics_conn *c)
{
        struct metrics_server *srv = c->srv;
        for (size_t i = 0; i < srv->n_conns; i++)
                if (srv->conns[i] == c) {
                        srv->conns[i] = srv->conns[--srv->n_conns];
                        break;
                }
        c->io = sd_event_source_disable_unref(c->io);
        safe_close(c->fd);
        free(c->body_free);
        free(c);
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
        if (a->ss_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                              &((const struct sockaddr_in6 *)b)->sin6_addr,
                              sizeof(struct in6_addr)) == 0;
        return false;
}

/* Sets the answer up: the head now, the body (owned: freed after; else a literal) as it is sent.
 * head_only for HEAD: the head says the body's length, and the body is not sent. */
static void conn_answer(struct metrics_conn *c, unsigned status, const char *type, char *owned,
                        const char *body, size_t len, bool head_only, bool close)
{
        int n = http_response_head(c->head, sizeof(c->head), status, type, len, close,
                                   now_usec(CLOCK_REALTIME));
        if (n < 0) {
                /* Cannot happen with this file's types; close rather than send half a head. */
                free(owned);
                c->head_len = 0;
                c->body_len = 0;
                c->close_after = true;
        } else {
                c->head_len = (size_t)n;
                c->body_free = head_only ? (free(owned), NULL) : owned;
                c->body = head_only ? NULL : body;
                c->body_len = head_only ? 0 : len;
                c->close_after = close;
        }
        c->sent = 0;
        c->state = CONN_WRITING;
        c->deadline_usec = now_usec(CLOCK_MONOTONIC) + METRICS_DEADLINE_USEC;
}

static void conn_answer_text(struct metrics_conn *c, unsigned status, const char *text,
                             bool head_only, bool close)
{
        conn_answer(c, status, TEXT_PLAIN, NULL, text, strlen(text), head_only, close);
}

/* The three endpoints: the same bodies and statuses the libmicrohttpd server had. */
static void conn_serve(struct metrics_conn *c, const struct http_request *req)
{
        struct manager *m = c->srv->m;
        bool head_only = req->method == HTTP_METHOD_HEAD, close = !req->keep_alive;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (req->method == HTTP_METHOD_OTHER)
                conn_answer_text(c, 405, "method not allowed: GET or HEAD\n", false, close);
        else if (streq(req->path, "/metrics")) {
                struct api_buf b = { 0 };
                char *text;
                size_t len;
                api_buf_reserve(&b, 16 * 1024);
                agent_metrics_format(m, now, &b);
                if (api_buf_finish(&b, &text, &len) < 0)
                        conn_answer_text(c, 503, "out of memory\n", head_only, close);
                else
                        conn_answer(c, 200, PROM_CONTENT_TYPE, text, text, len, head_only, close);
        } else if (streq(req->path, "/healthz")) {
                if (agent_metrics_healthy(m, now))
                        conn_answer_text(c, 200, "ok\n", head_only, close);
                else
                        conn_answer_text(
                            c, 503, "no step in the last sample intervals: the loop is stuck\n",
                            head_only, close);
        } else if (streq(req->path, "/readyz")) {
                if (m->metrics.ready)
                        conn_answer_text(c, 200, "ok\n", head_only, close);
                else
                        conn_answer_text(c, 503, "not ready: this node's pods are not listed yet\n",
                                         head_only, close);
        } else
                conn_answer_text(c, 404,
                                 "not found: /metrics, /healthz and /readyz are served here\n",
                                 head_only, close);
}

/* An answer for a request that cannot be served; the connection closes after it. */
static void conn_refuse(struct metrics_conn *c, const struct http_request *req)
{
        const char *text;
        switch (req->error_status) {
        case 405:
                text = "method not allowed: GET or HEAD\n";
                break;
        case 413:
                text = "request body not accepted: these endpoints take none\n";
                break;
        case 414:
                text = "request target too long\n";
                break;
        case 431:
                text = "request header fields too large\n";
                break;
        case 501:
                text = "Transfer-Encoding not implemented: these endpoints take no body\n";
                break;
        case 505:
                text = "HTTP version not supported: HTTP/1.0 and HTTP/1.1 only\n";
                break;
        default:
                text = "bad request\n";
                break;
        }
        conn_answer_text(c, req->error_status, text, req->method == HTTP_METHOD_HEAD, true);
}

/* Writes what the socket takes. Returns 1 when the answer is all sent, 0 when the socket is
 * full, or a negative errno (the connection is broken). */
static int conn_flush(struct metrics_conn *c)
{
        while (c->sent < c->head_len + c->body_len) {
                struct iovec iov[2];
                int n = 0;
                if (c->sent < c->head_len)
                        iov[n++] = (struct iovec){ c->head + c->sent, c->head_len - c->sent };
                size_t body_off = c->sent > c->head_len ? c->sent - c->head_len : 0;
                if (c->body_len > body_off)
                        iov[n++] =
                            (struct iovec){ (char *)c->body + body_off, c->body_len - body_off };
                struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
                ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        return negative_errno();
                }
                c->sent += (size_t)w;
        }
        return 1;
}

/* After the last answer: no more writes, and the client's leftovers are dropped for a while. */
static void conn_linger(struct metrics_conn *c)
{
        (void)shutdown(c->fd, SHUT_WR);
        c->state = CONN_LINGER;
        c->deadline_usec = now_usec(CLOCK_MONOTONIC) + METRICS_LINGER_USEC;
        (void)sd_event_source_set_io_events(c->io, EPOLLIN);
}

/* Answers the complete requests in the input, in order, writing each answer before reading the
 * next. Returns false when the connection was freed. */
static bool conn_process(struct metrics_conn *c)
{
        for (;;) {
                if (c->state == CONN_WRITING) {
                        int r = conn_flush(c);
                        if (r < 0) {
                                conn_free(c);
                                return false;
                        }
                        if (r == 0) {
                                (void)sd_event_source_set_io_events(c->io, EPOLLOUT);
                                return true;
                        }
                        free(c->body_free);
                        c->body_free = NULL;
                        c->body = NULL;
                        if (c->close_after) {
                                if (c->peer_done) {
                                        conn_free(c);
                                        return false;
                                }
                                conn_linger(c);
                                return true;
                        }
                        c->state = CONN_READING;
                        c->deadline_usec = now_usec(CLOCK_MONOTONIC) + METRICS_DEADLINE_USEC;
                }
                if (c->state != CONN_READING)
                        return true;
                struct http_request req;
                int r = http_request_parse(c->in, c->in_len, &req);
                if (r == 0) {
                        if (c->peer_done) {
                                /* The client stopped sending before a whole request. */
                                conn_free(c);
                                return false;
                        }
                        (void)sd_event_source_set_io_events(c->io, EPOLLIN);
                        return true;
                }
                if (r < 0) {
                        c->in_len = 0;
                        conn_refuse(c, &req);
                        continue;
                }
                /* Keep a pipelined request's bytes for after this answer. */
                memmove(c->in, c->in + r, c->in_len - (size_t)r);
                c->in_len -= (size_t)r;
                conn_serve(c, &req);
        }
}

/* One event on a connection. Returns whether the connection is still open. */
static bool conn_event(struct metrics_conn *c, uint32_t revents)
{
        if (c->state == CONN_LINGER) {
                char drop[4096];
                ssize_t n = recv(c->fd, drop, sizeof(drop), 0);
                if (n > 0)
                        c->linger_bytes += (size_t)n;
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
                    c->linger_bytes > METRICS_LINGER_BYTES) {
                        conn_free(c);
                        return false;
                }
                return true;
        }
        if (c->state == CONN_READING && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                /* Only as much as one request head: a client that sends more before the answer
                 * waits for the space, and a head that fills it is answered 431. */
                size_t room = sizeof(c->in) - c->in_len;
                ssize_t n = room ? recv(c->fd, c->in + c->in_len, room, 0) : 0;
                if (n > 0)
                        c->in_len += (size_t)n;
                else if (n == 0 && room)
                        c->peer_done = true;
                else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        conn_free(c);
                        return false;
                }
        } else if (revents & EPOLLERR) {
                conn_free(c);
                return false;
        }
        return conn_process(c);
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct metrics_conn *c = userdata;
        struct metrics_server *srv = c->srv;
        (void)s;
        (void)fd;
        (void)conn_event(c, revents);
        /* A deadline moved, or a connection went. */
        rearm_timer(srv);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct metrics_server *srv = userdata;
        (void)s;
        (void)usec;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        for (size_t i = srv->n_conns; i > 0; i--)
                if (srv->conns[i - 1]->deadline_usec <= now) {
                        log_debug("metrics server: closing a connection that did not complete a "
                                  "request or take its answer in time");
                        conn_free(srv->conns[i - 1]);
                }
        rearm_timer(srv);
        return 0;
}

static void conn_accept_one(struct metrics_server *srv, int fd, const struct sockaddr_storage *peer)
{
        size_t same = 0;
        for (size_t i = 0; i < srv->n_conns; i++)
                same += same_address(&srv->conns[i]->peer, peer);
        if (srv->n_conns >= METRICS_MAX_CONNECTIONS || same >= METRICS_MAX_CONNECTIONS_PER_IP) {
                log_debug("metrics server: closing a new connection: %zu open, %zu of them from "
                          "this client",
                          srv->n_conns, same);
                safe_close(fd);
                return;
        }
        struct metrics_conn *c = malloc(sizeof(*c));
        if (!c) {
                safe_close(fd);
                return;
        }
        /* Not calloc: the buffers need no zeroing, and untouched pages stay unmapped. */
        memset(c, 0, offsetof(struct metrics_conn, head));
        c->srv = srv;
        c->fd = fd;
        c->peer = *peer;
        c->state = CONN_READING;
        c->deadline_usec = now_usec(CLOCK_MONOTONIC) + METRICS_DEADLINE_USEC;
        if (sd_event_add_io(srv->m->event, &c->io, fd, EPOLLIN, on_conn_io, c) < 0) {
                safe_close(fd);
                free(c);
                return;
        }
        srv->conns[srv->n_conns++] = c;
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct metrics_server *srv = userdata;
        (void)s;
        (void)revents;
        for (int i = 0; i < METRICS_ACCEPT_BURST; i++) {
                struct sockaddr_storage peer;
                socklen_t len = sizeof(peer);
                int c = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0)
                        break;
                conn_accept_one(srv, c, &peer);
        }
        rearm_timer(srv);
        return 0;
}

/* Binds and listens on addr ourselves, so that the error names the address and says why, and a
 * wildcard [::] that the host cannot do (IPv6 disabled) falls back to 0.0.0.0. Returns the fd or
 * a negative errno. */
static int listen_on(struct sockaddr_storage *addr, socklen_t len)
{
        for (;;) {
                _cleanup_close_ int fd =
                    socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0 && addr->ss_family == AF_INET6 && errno == EAFNOSUPPORT &&
                    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)addr)->sin6_addr)) {
                        uint16_t port = ((struct sockaddr_in6 *)addr)->sin6_port;
                        struct sockaddr_in *in = (struct sockaddr_in *)addr;
                        memset(addr, 0, sizeof(*addr));
                        in->sin_family = AF_INET;
                        in->sin_port = port;
                        in->sin_addr.s_addr = htonl(INADDR_ANY);
                        len = sizeof(*in);
                        continue;
                }
                if (fd < 0)
                        return negative_errno();
                int one = 1, zero = 0;
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                /* The wildcard serves IPv4 too, whatever net.ipv6.bindv6only says. */
                if (addr->ss_family == AF_INET6)
                        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
                if (bind(fd, (struct sockaddr *)addr, len) < 0 ||
                    listen(fd, METRICS_LISTEN_BACKLOG) < 0)
                        return negative_errno();
                /* Port 0: which one the kernel picked, for the log line. */
                socklen_t n = sizeof(*addr);
                (void)getsockname(fd, (struct sockaddr *)addr, &n);
                return TAKE_FD(fd);
        }
}

int metrics_server_start(struct manager *m, const char *address)
{
        struct sockaddr_storage addr;
        socklen_t len;
        char where[INET6_ADDRSTRLEN + 16];
        int r;

        if (!address || streq(address, "none")) {
                log_info("Metrics and health endpoints off (metricsAddress none)");
                return 0;
        }
        if (listen_address_parse(address, &addr, &len) < 0)
                return log_error_errno(EINVAL,
                                       "Cannot serve metrics on \"%s\": not HOST:PORT, "
                                       "[IPv6]:PORT, :PORT or none",
                                       address);
        int fd = listen_on(&addr, len);
        if (fd < 0)
                return log_error_errno(fd,
                                       "Cannot serve metrics on %s (metricsAddress): %m; free the "
                                       "port, or set metricsAddress to another address or none",
                                       address);
        struct metrics_server *srv = calloc(1, sizeof(*srv));
        if (!srv) {
                safe_close(fd);
                return log_error_errno(ENOMEM, "Failed to start the metrics server: %m");
        }
        srv->m = m;
        srv->fd = fd;
        m->metrics_srv = srv;
        r = sd_event_add_io(m->event, &srv->io, fd, EPOLLIN, on_listen, srv);
        if (r >= 0)
                r = sd_event_add_time(m->event, &srv->timer, CLOCK_MONOTONIC, UINT64_MAX, 100000,
                                      on_timer, srv);
        if (r < 0) {
                metrics_server_stop(m);
                return log_error_errno(r, "Failed to put the metrics server on the event loop: %m");
        }
        (void)sd_event_source_set_enabled(srv->timer, SD_EVENT_OFF);
        log_info("Serving /metrics, /healthz and /readyz on http://%s",
                 listen_address_format(&addr, where, sizeof(where)));
        return 0;
}

void metrics_server_stop(struct manager *m)
{
        struct metrics_server *srv = m->metrics_srv;
        if (!srv)
                return;
        while (srv->n_conns > 0)
                conn_free(srv->conns[srv->n_conns - 1]);
        srv->io = sd_event_source_disable_unref(srv->io);
        srv->timer = sd_event_source_disable_unref(srv->timer);
        safe_close(srv->fd);
        free(srv);
        m->metrics_srv = NULL;
}
