// SPDX-License-Identifier: Apache-2.0
// The HTTP side of memagentd's metrics: libmicrohttpd in its external epoll mode, driven by the
// manager's sd-event loop (the daemon's epoll fd is an io source, MHD_get_timeout() a timer).
// No thread: a scrape runs between two steps and reads the manager as it is. Bounded: a few
// connections at once, each closed after a short idle time, GET and HEAD only.
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/daemon/manager-private.h"
#include "agent/daemon/metrics.h"
#include "api/codec.h"
#include "api/mhd-log.h"
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
/* Seconds an idle connection is kept: a probe or a scrape is one request. */
#define METRICS_CONNECTION_TIMEOUT_SEC 10
#define METRICS_LISTEN_BACKLOG         16

struct metrics_server {
        struct manager *m;
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               char *body, size_t len)
{
        /* body is malloc'ed and handed over (MUST_FREE), or a literal with len 0. */
        struct MHD_Response *resp =
            body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
        char *body = strdup(text);
        if (!body)
                return MHD_NO;
        return respond(conn, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **ctx)
{
        struct metrics_server *srv = cls;
        struct manager *m = srv->m;
        (void)version;
        (void)upload_data;
        (void)upload_data_size;
        (void)ctx;
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "method not allowed: GET or HEAD\n");
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (streq(url, "/metrics")) {
                struct api_buf b = { 0 };
                char *text;
                size_t len;
                api_buf_reserve(&b, 16 * 1024);
                agent_metrics_format(m, now, &b);
                if (api_buf_finish(&b, &text, &len) < 0)
                        return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
                return respond(conn, MHD_HTTP_OK, PROM_CONTENT_TYPE, text, len);
        }
        if (streq(url, "/healthz")) {
                if (agent_metrics_healthy(m, now))
                        return respond_text(conn, MHD_HTTP_OK, "ok\n");
                return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "no step in the last sample intervals: the loop is stuck\n");
        }
        if (streq(url, "/readyz")) {
                if (m->metrics.ready)
                        return respond_text(conn, MHD_HTTP_OK, "ok\n");
                return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "not ready: this node's pods are not listed yet\n");
        }
        return respond_text(conn, MHD_HTTP_NOT_FOUND,
                            "not found: /metrics, /healthz and /readyz are served here\n");
}

/* After every MHD_run(): when MHD next needs to run without socket activity (a timed-out
 * connection to close, a connection with data already read and not yet processed). */
static void rearm_timer(struct metrics_server *srv)
{
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(srv->daemon, &ms) != MHD_YES) {
                (void)sd_event_source_set_enabled(srv->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time(srv->timer, now_usec(CLOCK_MONOTONIC) + ms * 1000);
        (void)sd_event_source_set_enabled(srv->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct metrics_server *srv = userdata;
        (void)s;
        (void)fd;
        (void)revents;
        (void)MHD_run(srv->daemon);
        rearm_timer(srv);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)usec;
        return on_io(s, -1, 0, userdata);
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
        /* MHD owns fd from here and closes it when stopped. Whether a failed start closed it is
         * not documented: leave it (memagentd exits on this error) rather than risk closing a
         * number reused since. */
        srv->daemon = MHD_start_daemon(
            MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, srv,
            MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)METRICS_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            (unsigned)METRICS_MAX_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)METRICS_CONNECTION_TIMEOUT_SEC, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_debug,
            (void *)"metrics server: ", MHD_OPTION_END);
        if (!srv->daemon) {
                free(srv);
                return log_error_errno(EIO,
                                       "Cannot serve metrics on %s: libmicrohttpd did not "
                                       "start (see the debug log)",
                                       address);
        }
        m->metrics_srv = srv;
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                r = -EIO;
        else if ((r = sd_event_add_io(m->event, &srv->io, info->epoll_fd, EPOLLIN, on_io, srv)) >=
                 0)
                r = sd_event_add_time(m->event, &srv->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000,
                                      on_timer, srv);
        if (r < 0) {
                metrics_server_stop(m);
                return log_error_errno(r, "Failed to put the metrics server on the event loop: %m");
        }
        rearm_timer(srv);
        log_info("Serving /metrics, /healthz and /readyz on http://%s",
                 listen_address_format(&addr, where, sizeof(where)));
        return 0;
}

void metrics_server_stop(struct manager *m)
{
        struct metrics_server *srv = m->metrics_srv;
        if (!srv)
                return;
        srv->io = sd_event_source_disable_unref(srv->io);
        srv->timer = sd_event_source_disable_unref(srv->timer);
        if (srv->daemon)
                MHD_stop_daemon(srv->daemon);
        free(srv);
        m->metrics_srv = NULL;
}
