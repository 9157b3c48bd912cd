// SPDX-License-Identifier: Apache-2.0
// The etcd v3 JSON gateway client (see etcd-client.h). The calls block (libcurl easy interface),
// each bounded by ETCD_REQUEST_TIMEOUT_MS in all, over every endpoint it tries; each call borrows
// a curl handle from a small pool, so that callers on several threads never queue behind one
// another on a slow member.
//
// Endpoints are tried in order on connection failure, starting from the last one that answered.
// A request that reached a member and then timed out is retried elsewhere only when repeating it
// is harmless (reads, lease renewals); a transaction may have been applied, so its caller gets
// -ETIMEDOUT and reads back instead of writing twice.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/log.h"
#include "scheduler/etcd-client.h"

/* gRPC status codes the gateway returns in {"error", "code", "message"}. */
#define GRPC_INVALID_ARGUMENT 3
#define GRPC_NOT_FOUND        5
#define GRPC_UNAVAILABLE      14

static void configure(struct etcd_client *ec, CURL *c, long timeout_ms);

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
        api_buf_append(userdata, data, size * nmemb);
        return size * nmemb;
}

static void set_last_error(struct etcd_client *ec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_last_error(struct etcd_client *ec, const char *fmt, ...)
{
        va_list ap;
        pthread_mutex_lock(&ec->pool_lock);
        va_start(ap, fmt);
        vsnprintf(ec->last_error, sizeof(ec->last_error), fmt, ap);
        va_end(ap);
        log_debug("etcd %s", ec->last_error);
        pthread_mutex_unlock(&ec->pool_lock);
}

/* A handle from the pool, or a new one configured alike. */
static CURL *handle_get(struct etcd_client *ec)
{
        CURL *c = NULL;
        pthread_mutex_lock(&ec->pool_lock);
        if (ec->n_pool > 0)
                c = ec->pool[--ec->n_pool];
        pthread_mutex_unlock(&ec->pool_lock);
        if (c)
                return c;
        c = sym_curl_easy_init();
        if (!c)
                return NULL;
        configure(ec, c, ETCD_REQUEST_TIMEOUT_MS);
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        return c;
}

static void handle_put(struct etcd_client *ec, CURL *c)
{
        pthread_mutex_lock(&ec->pool_lock);
        if (ec->n_pool < ETCD_POOL_MAX) {
                ec->pool[ec->n_pool++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&ec->pool_lock);
        if (c)
                sym_curl_easy_cleanup(c);
}

/* Maps the gateway's error body to an errno; keeps its message for the caller's log. */
static int gateway_error(struct etcd_client *ec, long status, const char *body)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        int64_t code = -1;
        const char *msg = NULL;
        if (body && api_parse(body, strlen(body), &o, &err) >= 0) {
                struct json_object *c = json_object_object_get(o, "code"),
                                   *m = json_object_object_get(o, "message");
                if (c)
                        code = json_object_get_int64(c);
                msg = m ? json_object_get_string(m) : NULL;
        }
        set_last_error(ec, "answered HTTP %ld: %s", status, msg ? msg : body ? body : "");
        json_object_put(o);
        switch (code) {
        case GRPC_NOT_FOUND:
                return -ENOENT;
        case GRPC_INVALID_ARGUMENT:
                return -EINVAL;
        case GRPC_UNAVAILABLE:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

/* POSTs body to path on the first endpoint that answers and parses the reply into *ret. */
int etcd_call(struct etcd_client *ec, const char *path, struct json_object *body, bool idempotent,
              struct json_object **ret)
{
        _cleanup_free_ char *text = api_to_string(body, NULL);
        int r = -ECONNREFUSED;
        if (!text)
                return -ENOMEM;
        CURL *curl = handle_get(ec);
        if (!curl)
                return -ENOMEM;
        char curl_error[CURL_ERROR_SIZE];
        sym_curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
        /* One budget for all the endpoints tried, so that a caller (an HTTP thread) waits at
         * most ETCD_REQUEST_TIMEOUT_MS whatever state the members are in. */
        uint64_t deadline_ms = now_usec(CLOCK_MONOTONIC) / 1000 + ETCD_REQUEST_TIMEOUT_MS;
        size_t first = ec->current;
        for (size_t attempt = 0; attempt < ec->n_endpoints; attempt++) {
                size_t i = (first + attempt) % ec->n_endpoints;
                char url[1024];
                struct api_buf reply = {};
                long status = 0;
                uint64_t now_ms = now_usec(CLOCK_MONOTONIC) / 1000;
                if (now_ms >= deadline_ms) {
                        r = -ETIMEDOUT;
                        break;
                }
                snprintf(url, sizeof(url), "%s%s", ec->endpoints[i], path);
                sym_curl_easy_setopt(curl, CURLOPT_URL, url);
                sym_curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
                sym_curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
                /* A request that may be repeated gets its share of the budget per member, so
                 * that a stalled member (connection taken, no answer) leaves time to ask the
                 * next: the election renews its lease well within the lease that way. A
                 * transaction gets all that is left: it is not repeated elsewhere. */
                uint64_t left_ms = deadline_ms - now_ms;
                if (idempotent && attempt + 1 < ec->n_endpoints &&
                    left_ms > ETCD_REQUEST_TIMEOUT_MS / ec->n_endpoints)
                        left_ms = ETCD_REQUEST_TIMEOUT_MS / ec->n_endpoints;
                sym_curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)left_ms);
                curl_error[0] = '\0';
                CURLcode cc = sym_curl_easy_perform(curl);
                if (cc == CURLE_OK)
                        sym_curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
                char *data = NULL;
                size_t size = 0;
                if (api_buf_finish(&reply, &data, &size) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (cc != CURLE_OK) {
                        bool never_sent = cc == CURLE_COULDNT_CONNECT ||
                                          cc == CURLE_COULDNT_RESOLVE_HOST ||
                                          cc == CURLE_SSL_CONNECT_ERROR;
                        set_last_error(ec, "%s: %s", url,
                                       curl_error[0] ? curl_error : sym_curl_easy_strerror(cc));
                        free(data);
                        r = cc == CURLE_OPERATION_TIMEDOUT     ? -ETIMEDOUT
                            : cc == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
                            : cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH
                                                               : -EPROTO;
                        ec->current = (i + 1) % ec->n_endpoints; /* avoid it next time too */
                        if (never_sent || idempotent)
                                continue;
                        break;
                }
                if (status != 200) {
                        r = gateway_error(ec, status, data);
                        free(data);
                        if (r == -EAGAIN && idempotent) {
                                ec->current = (i + 1) % ec->n_endpoints;
                                continue; /* that member has no leader: ask another */
                        }
                        break;
                }
                struct api_error err = {};
                r = api_parse(data ? data : "", size, ret, &err);
                free(data);
                if (r < 0) {
                        r = log_error_errno(EBADMSG,
                                            "etcd %s answered something that is not "
                                            "JSON: %s",
                                            url, err.message);
                        break;
                }
                ec->current = i;
                r = 0;
                break;
        }
        sym_curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
        handle_put(ec, curl);
        return r;
}

struct json_object *etcd_b64_string(const char *s)
{
        _cleanup_free_ char *enc = base64_encode(s, strlen(s));
        return enc ? json_object_new_string(enc) : NULL;
}

struct json_object *etcd_u64_string(uint64_t v)
{
        char buf[24];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
        return json_object_new_string(buf);
}

/* An int64 field the gateway sends as a string (absent when 0). */
uint64_t etcd_get_u64(const struct json_object *o, const char *key)
{
        struct json_object *v = o ? json_object_object_get(o, key) : NULL;
        int64_t x = v ? json_object_get_int64(v) : 0;
        return x > 0 ? (uint64_t)x : 0;
}

/* Adds {"key": k, "range_end": every key that starts with k}: k with its last byte incremented. */
int etcd_add_prefix_range(struct json_object *req, const char *k)
{
        size_t len = strlen(k);
        _cleanup_free_ char *end = strdup(k);
        if (!end)
                return -ENOMEM;
        while (len > 0 && (unsigned char)end[len - 1] == 0xff)
                end[--len] = '\0';
        if (len == 0)
                return -EINVAL;
        end[len - 1]++;
        api_add(req, "key", etcd_b64_string(k));
        api_add(req, "range_end", etcd_b64_string(end));
        return 0;
}

static int split_endpoints(struct etcd_client *ec, const char *list)
{
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t len = strlen(t);
                while (len && t[len - 1] == '/')
                        t[--len] = '\0';
                if (!len)
                        continue;
                if (strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0)
                        return log_error_errno(EINVAL,
                                               "etcd endpoint \"%s\" is not an http:// or "
                                               "https:// URL",
                                               t);
                char **n = realloc(ec->endpoints, (ec->n_endpoints + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                ec->endpoints = n;
                if (!(ec->endpoints[ec->n_endpoints] = strdup(t)))
                        return -ENOMEM;
                ec->n_endpoints++;
        }
        if (!ec->n_endpoints)
                return log_error_errno(EINVAL, "No etcd endpoint in \"%s\"", list);
        return 0;
}

static int dup_opt(const char *s, char **ret)
{
        if (!s || !*s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* What every request to etcd shares: JSON, short timeouts, the TLS files. */
static void configure(struct etcd_client *ec, CURL *c, long timeout_ms)
{
        sym_curl_easy_setopt(c, CURLOPT_HTTPHEADER, ec->headers);
        sym_curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ETCD_CONNECT_TIMEOUT_MS);
        sym_curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (ec->cert)
                sym_curl_easy_setopt(c, CURLOPT_SSLCERT, ec->cert);
        if (ec->key)
                sym_curl_easy_setopt(c, CURLOPT_SSLKEY, ec->key);
        if (ec->ca)
                sym_curl_easy_setopt(c, CURLOPT_CAINFO, ec->ca);
}

CURL *etcd_client_handle_new(struct etcd_client *ec, long timeout_ms)
{
        CURL *c = sym_curl_easy_init();
        if (c)
                configure(ec, c, timeout_ms);
        return c;
}

int etcd_client_init(struct etcd_client *ec, const char *endpoints, const char *cert,
                     const char *key, const char *ca)
{
        int r;
        pthread_mutex_init(&ec->pool_lock, NULL);
        r = split_endpoints(ec, endpoints);
        if (r < 0)
                return r;
        if ((r = dup_opt(cert, &ec->cert)) < 0 || (r = dup_opt(key, &ec->key)) < 0 ||
            (r = dup_opt(ca, &ec->ca)) < 0)
                return r;
        if ((r = curl_dl_open("the etcd state store")) < 0)
                return r;
        ec->headers = sym_curl_slist_append(NULL, "Content-Type: application/json");
        if (!ec->headers)
                return log_error_errno(ENOMEM, "Failed to set up libcurl: %m");
        return 0;
}

void etcd_client_done(struct etcd_client *ec)
{
        for (size_t i = 0; i < ec->n_pool; i++)
                sym_curl_easy_cleanup(ec->pool[i]);
        pthread_mutex_destroy(&ec->pool_lock);
        sym_curl_slist_free_all(ec->headers);
        for (size_t i = 0; i < ec->n_endpoints; i++)
                free(ec->endpoints[i]);
        free(ec->endpoints);
        free(ec->cert);
        free(ec->key);
        free(ec->ca);
}
