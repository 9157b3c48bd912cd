// SPDX-License-Identifier: Apache-2.0
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "status.h"

/* Queues resp (destroyed here) with its Content-Type and, when asked, Retry-After. */
static enum MHD_Result queue(struct MHD_Connection *conn, struct request *rq, unsigned code,
                             struct MHD_Response *resp, const char *content_type,
                             uint32_t retry_after_sec)
{
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        if (retry_after_sec) {
                char ra[16];
                snprintf(ra, sizeof(ra), "%u", retry_after_sec);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
        }
        enum MHD_Result r = MHD_queue_response(conn, code, resp);
        MHD_destroy_response(resp);
        rq->code = code;
        return r;
}

enum MHD_Result respond_text(struct MHD_Connection *conn, struct request *rq, unsigned code,
                             const char *text, uint32_t retry_after_sec)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        return queue(conn, rq, code, resp, "text/plain; charset=utf-8", retry_after_sec);
}

enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *rq, unsigned code,
                             struct json_object *o, uint32_t retry_after_sec)
{
        if (!o)
                return respond_text(conn, rq, 500, "out of memory\n", 0);
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        /* kube-apiserver ends its JSON answers with a newline (json.Encoder). */
        size_t n = strlen(s);
        char *body = malloc(n + 2);
        if (!body) {
                json_object_put(o);
                return respond_text(conn, rq, 500, "out of memory\n", 0);
        }
        memcpy(body, s, n);
        body[n] = '\n';
        body[n + 1] = '\0';
        json_object_put(o);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(n + 1, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        return queue(conn, rq, code, resp, "application/json", retry_after_sec);
}

enum MHD_Result respond_status(struct MHD_Connection *conn, struct request *rq,
                               struct json_object *status)
{
        if (!status)
                return respond_text(conn, rq, 500, "out of memory\n", 0);
        return respond_json(conn, rq, (unsigned)status_code(status), status,
                            status_retry_after(status));
}

const char *query_arg(struct MHD_Connection *conn, const char *key)
{
        return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *header_value(struct MHD_Connection *conn, const char *key)
{
        return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, key);
}

int path_split(char *path, char **seg, int max)
{
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (n == max)
                        return -1;
                seg[n++] = t;
        }
        return n;
}

/* The first thing MHD hands over: the URI as sent, query included (the access handler only
 * sees the path). Its return value becomes the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
        (void)cls;
        (void)conn;
        struct request *rq = calloc(1, sizeof(*rq));
        if (rq)
                rq->uri = strdup(uri);
        return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        (void)cls;
        (void)conn;
        (void)toe;
        struct request *rq = *con_cls;
        if (rq) {
                free(rq->uri);
                free(rq->body);
                free(rq);
        }
        *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        (void)version;
        struct http_server *hs = cls;
        struct request *rq = *con_cls;
        if (!rq || !rq->uri)
                return MHD_NO;
        if (!rq->started) {
                rq->started = true;
                const char *cl = header_value(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > KT_BODY_MAX_BYTES)
                        rq->too_large = true;
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (rq->too_large || rq->len + n > KT_BODY_MAX_BYTES) {
                        rq->too_large = true;
                        return MHD_YES; /* read and drop the rest, then answer 413 */
                }
                if (rq->len + n + 1 > rq->cap) {
                        size_t cap = rq->cap ? rq->cap : 4096;
                        while (cap < rq->len + n + 1)
                                cap *= 2;
                        char *b = realloc(rq->body, cap);
                        if (!b)
                                return MHD_NO;
                        rq->body = b;
                        rq->cap = cap;
                }
                memcpy(rq->body + rq->len, upload_data, n);
                rq->len += n;
                rq->body[rq->len] = '\0';
                return MHD_YES;
        }
        return hs->route(hs->st, conn, rq, method, url);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        (void)cls;
        fputs("kube-test-apiserver: libmicrohttpd: ", stderr);
        vfprintf(stderr, fmt, ap);
}

int http_start(struct http_server *hs, const char *addr, uint16_t port, const char *cert_pem,
               const char *key_pem)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                fprintf(stderr, "kube-test-apiserver: --listen %s: not an IPv4 address\n", addr);
                return -EINVAL;
        }
        /* One thread per connection: a watch blocks its thread on the state's condition
         * variable until there is something to send, which keeps the stream logic linear. */
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_ERROR_LOG | MHD_USE_POLL;
        if (cert_pem) {
                if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
                        fprintf(stderr, "kube-test-apiserver: libmicrohttpd has no TLS\n");
                        return -EOPNOTSUPP;
                }
                hs->daemon = MHD_start_daemon(
                    flags | MHD_USE_TLS, port, NULL, NULL, on_request, hs,
                    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                    MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)KT_CONNECTIONS_MAX,
                    MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                    (size_t)KT_HEADERS_MAX_BYTES, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
        } else {
                hs->daemon = MHD_start_daemon(
                    flags, port, NULL, NULL, on_request, hs, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                    NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 32u,
                    MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                    (size_t)KT_HEADERS_MAX_BYTES, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
        }
        if (!hs->daemon) {
                fprintf(stderr, "kube-test-apiserver: cannot listen on %s:%u%s\n", addr,
                        (unsigned)port, cert_pem ? " (HTTPS: check the certificate and key)" : "");
                return -EADDRNOTAVAIL;
        }
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(hs->daemon, MHD_DAEMON_INFO_BIND_PORT);
        hs->port = info ? info->port : port;
        return 0;
}

void http_stop(struct http_server *hs)
{
        if (hs->daemon)
                MHD_stop_daemon(hs->daemon);
        hs->daemon = NULL;
}
