// SPDX-License-Identifier: Apache-2.0
#include "api/kube/client.h"

#include "api/curl-dl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/codec.h"
#include "api/kube/curl-event.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/node-name.h"

struct kube_client {
        sd_event *event;
        struct curl_event *curl;
        struct kube_config cfg; /* owned copy */
        char *token;            /* the bearer token in use; NULL: none */
        uint64_t token_read_usec;
        struct kube_request *requests; /* in flight */
        struct kube_client_stats stats;
        bool token_error_logged;
        kube_answer_observer_fn observer;
        void *observer_ud;
};

struct kube_request {
        struct kube_request *next;
        struct kube_client *c;
        CURL *easy;
        struct curl_slist *headers;
        char *method, *url, *content_type, *body;
        long timeout_ms;
        kube_done_fn done;
        kube_data_fn on_data; /* a stream */
        void *userdata;
        bool retried;        /* the one retry after a 401 was made */
        int abort_errno;     /* on_data's negative return */
        struct api_buf resp; /* a non-2xx body, or a 2xx one read whole */
        char retry_after[32];
        char curl_error[CURL_ERROR_SIZE];
};

const char *kube_api_verb(const char *method, const char *path)
{
        const char *q = strchr(path, '?');
        size_t len = q ? (size_t)(q - path) : strlen(path);
        if (streq(method, "GET")) {
                if (q && (strstr(q, "watch=true") || strstr(q, "watch=1")))
                        return "watch";
                /* A collection ends in its resource's plural ("/pods"); an object has a name
                 * after it. The paths memagentd uses are /api/v1/pods and
                 * /api/v1/namespaces/NS/pods[/NAME]. */
                static const char pods[] = "/pods";
                bool collection = len >= sizeof(pods) - 1 && memcmp(path + len - (sizeof(pods) - 1),
                                                                    pods, sizeof(pods) - 1) == 0;
                return collection ? "list" : "get";
        }
        if (streq(method, "POST"))
                return "create";
        if (streq(method, "PATCH"))
                return "patch";
        if (streq(method, "PUT"))
                return "update";
        if (streq(method, "DELETE"))
                return "delete";
        return "other";
}

void kube_client_set_observer(struct kube_client *c, kube_answer_observer_fn fn, void *userdata)
{
        c->observer = fn;
        c->observer_ud = userdata;
}

const char *kube_verb_name(enum kube_verb v)
{
        static const char *const names[_KUBE_VERB_MAX] = { "GET", "POST", "PATCH", "other" };
        return (unsigned)v < _KUBE_VERB_MAX ? names[v] : "other";
}

static enum kube_verb verb_of(const char *method)
{
        if (streq(method, "GET"))
                return KUBE_VERB_GET;
        if (streq(method, "POST"))
                return KUBE_VERB_POST;
        if (streq(method, "PATCH"))
                return KUBE_VERB_PATCH;
        return KUBE_VERB_OTHER;
}

/* ---------- the token ---------- */

/* Reads the token file when due (force: after a 401). Returns true when the token changed. */
static bool token_refresh(struct kube_client *c, bool force)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (!c->cfg.token_file) {
                if (!c->token && c->cfg.token)
                        c->token = strdup(c->cfg.token);
                return false;
        }
        if (!force && c->token && now - c->token_read_usec < KUBE_TOKEN_REREAD_USEC)
                return false;
        char *t = NULL;
        int r = kube_config_read_token(&c->cfg, &t);
        c->stats.token_reads++;
        c->token_read_usec = now;
        if (r < 0) {
                /* Keep the token we have: the file may be in the middle of its rotation. */
                if (!c->token_error_logged)
                        log_warning("Failed to read the Kubernetes token %s: %s; keeping the "
                                    "previous one",
                                    c->cfg.token_file, strerror(-r));
                c->token_error_logged = true;
                return false;
        }
        c->token_error_logged = false;
        bool changed = !c->token || !streq(c->token, t);
        free(c->token);
        c->token = t;
        return changed;
}

/* ---------- one request ---------- */

static void request_free(struct kube_request *q)
{
        if (!q)
                return;
        if (q->easy) {
                curl_event_remove(q->c->curl, q->easy);
                sym_curl_easy_cleanup(q->easy);
        }
        sym_curl_slist_free_all(q->headers);
        free(q->method);
        free(q->url);
        free(q->content_type);
        free(q->body);
        free(q->resp.data);
        free(q);
}

static void request_unlink(struct kube_request *q)
{
        for (struct kube_request **p = &q->c->requests; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

static bool is_2xx(long code)
{
        return code >= 200 && code < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct kube_request *q = userdata;
        size_t n = size * nmemb;
        long code = 0;

        sym_curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
        if (q->on_data && is_2xx(code)) {
                int r = q->on_data(data, n, q->userdata);
                if (r < 0) {
                        q->abort_errno = r;
                        return 0; /* CURLE_WRITE_ERROR ends the transfer */
                }
                return n;
        }
        if (q->resp.len + n > KUBE_RESPONSE_MAX_BYTES) {
                q->abort_errno = -EFBIG;
                return 0;
        }
        api_buf_append(&q->resp, data, n);
        if (q->resp.oom) {
                q->abort_errno = -ENOMEM;
                return 0;
        }
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct kube_request *q = userdata;
        size_t n = size * nmemb;
        static const char name[] = "Retry-After:";
        if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
                size_t v = n - (sizeof(name) - 1);
                if (v >= sizeof(q->retry_after))
                        v = sizeof(q->retry_after) - 1;
                memcpy(q->retry_after, data + sizeof(name) - 1, v);
                q->retry_after[v] = '\0';
                q->retry_after[strcspn(q->retry_after, "\r\n")] = '\0';
        }
        return n;
}

static int set_tls(struct kube_request *q)
{
        const struct kube_config *cfg = &q->c->cfg;
        CURL *e = q->easy;
        CURLcode k = CURLE_OK;

        if (cfg->insecure_skip_tls_verify) {
                k = sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                if (k == CURLE_OK)
                        k = sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (k == CURLE_OK && cfg->ca_file)
                k = sym_curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
        if (k == CURLE_OK && cfg->ca_data.data) {
                struct curl_blob b = { cfg->ca_data.data, cfg->ca_data.size, CURL_BLOB_COPY };
                k = sym_curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
        }
#if LIBCURL_VERSION_NUM >= 0x075700
        /* The service account's ca.crt is rewritten when the cluster CA rotates. */
        if (k == CURLE_OK && cfg->ca_file)
                k = sym_curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
        if (k == CURLE_OK && cfg->cert_file)
                k = sym_curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
        if (k == CURLE_OK && cfg->key_file)
                k = sym_curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
        if (k == CURLE_OK && cfg->cert_data.data) {
                struct curl_blob b = { cfg->cert_data.data, cfg->cert_data.size, CURL_BLOB_COPY };
                k = sym_curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
                if (k == CURLE_OK)
                        k = sym_curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        }
        if (k == CURLE_OK && cfg->key_data.data) {
                struct curl_blob b = { cfg->key_data.data, cfg->key_data.size, CURL_BLOB_COPY };
                k = sym_curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
                if (k == CURLE_OK)
                        k = sym_curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        }
        return k == CURLE_OK ? 0 : -EINVAL;
}

static void on_done(CURL *easy, CURLcode res, void *userdata);

/* (Re)starts q on a fresh easy handle with the current token. */
static int request_start(struct kube_request *q)
{
        struct kube_client *c = q->c;
        char *auth = NULL;
        int r = -ENOMEM;

        if (q->easy) {
                sym_curl_easy_cleanup(q->easy);
                q->easy = NULL;
        }
        sym_curl_slist_free_all(q->headers);
        q->headers = NULL;
        q->resp.len = 0;
        q->retry_after[0] = '\0';
        q->curl_error[0] = '\0';
        q->abort_errno = 0;

        token_refresh(c, false);
        q->easy = sym_curl_easy_init();
        if (!q->easy)
                goto out;
        struct curl_slist *h = sym_curl_slist_append(NULL, "Accept: application/json");
        if (!h)
                goto out;
        q->headers = h;
        if (c->token) {
                if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0) {
                        auth = NULL;
                        goto out;
                }
                if (!(h = sym_curl_slist_append(q->headers, auth)))
                        goto out;
                q->headers = h;
        }
        if (q->content_type) {
                char ct[128];
                snprintf(ct, sizeof(ct), "Content-Type: %s", q->content_type);
                if (!(h = sym_curl_slist_append(q->headers, ct)))
                        goto out;
                q->headers = h;
        }
        /* No "Expect: 100-continue" round trip (curl waits up to 1 s for it). */
        if (!(h = sym_curl_slist_append(q->headers, "Expect:")))
                goto out;
        q->headers = h;

        sym_curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
        sym_curl_easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, q->method);
        if (q->body) {
                sym_curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->body);
                sym_curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                     (curl_off_t)strlen(q->body));
        } else if (!streq(q->method, "GET"))
                sym_curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        sym_curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers);
        sym_curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, q->timeout_ms);
        sym_curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        sym_curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_write);
        sym_curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
        sym_curl_easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, on_header);
        sym_curl_easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
        sym_curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->curl_error);
        sym_curl_easy_setopt(q->easy, CURLOPT_USERAGENT, "memagentd/" MEMAGENT_VERSION);
        /* A watch is idle between events for minutes; keep the connection alive under NATs. */
        sym_curl_easy_setopt(q->easy, CURLOPT_TCP_KEEPALIVE, 1L);
        if (set_tls(q) < 0) {
                r = -EINVAL;
                goto out;
        }
        r = curl_event_add(c->curl, q->easy, on_done, q);
        if (r < 0)
                goto out;
        c->stats.requests++;
        r = 0;
out:
        if (auth) {
                explicit_bzero(auth, strlen(auth));
                free(auth);
        }
        return r;
}

static int transport_errno(CURLcode res)
{
        switch (res) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
                return -EPROTO;
        default:
                return -EIO;
        }
}

static void on_done(CURL *easy, CURLcode res, void *userdata)
{
        struct kube_request *q = userdata;
        struct kube_client *c = q->c;
        struct kube_status st = {};
        _cleanup_json_ struct json_object *body = NULL;
        long code = 0;

        sym_curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        enum kube_verb verb = verb_of(q->method);
        bool transport_failed = res != CURLE_OK && !(q->abort_errno && code > 0);
        if (c->observer)
                c->observer(kube_api_verb(q->method, q->url + strlen(c->cfg.server)),
                            transport_failed ? 0 : (int)code, c->observer_ud);
        if (transport_failed) {
                c->stats.transport_errors++;
                c->stats.by_verb_class[verb][0]++;
                st.transport_errno = q->abort_errno ? q->abort_errno : transport_errno(res);
                snprintf(st.message, sizeof(st.message), "%s%s",
                         res == CURLE_SSL_CONNECT_ERROR || res == CURLE_PEER_FAILED_VERIFICATION
                             ? "TLS: "
                             : "",
                         q->curl_error[0] ? q->curl_error : sym_curl_easy_strerror(res));
        } else {
                if (code >= 100 && code < 600) {
                        c->stats.by_class[code / 100]++;
                        c->stats.by_verb_class[verb][code / 100]++;
                }
                if (code == 401) {
                        c->stats.unauthorized++;
                        /* The bound token rotated under us: read it now and, if it changed,
                         * send this request once more. */
                        if (token_refresh(c, true) && !q->retried) {
                                q->retried = true;
                                /* on_done owns easy now; request_start replaces it. */
                                if (request_start(q) == 0)
                                        return;
                        }
                }
                kube_status_from_reply((int)code, is_2xx(code) ? NULL : q->resp.data,
                                       is_2xx(code) ? 0 : q->resp.len, q->retry_after, &st);
                if (q->abort_errno) {
                        st.transport_errno = q->abort_errno;
                        snprintf(st.message, sizeof(st.message), "transfer stopped: %s",
                                 strerror(-q->abort_errno));
                } else if (is_2xx(code) && !q->on_data && q->resp.len > 0) {
                        struct api_error err = {};
                        if (api_parse(q->resp.data, q->resp.len, &body, &err) < 0) {
                                body = NULL;
                                st.transport_errno = -EBADMSG;
                                snprintf(st.message, sizeof(st.message),
                                         "the answer is not JSON: %s", err.message);
                        }
                }
        }
        request_unlink(q);
        if (q->done)
                q->done(&st, body, q->userdata);
        request_free(q);
}

static int request_new(struct kube_client *c, const char *method, const char *path,
                       const char *content_type, const char *body, long timeout_ms,
                       kube_data_fn on_data, kube_done_fn done, void *userdata,
                       struct kube_request **ret)
{
        if (!c || !method || !path || path[0] != '/' || !done)
                return -EINVAL;
        struct kube_request *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->c = c;
        q->timeout_ms = timeout_ms;
        q->on_data = on_data;
        q->done = done;
        q->userdata = userdata;
        if (!(q->method = strdup(method)) || asprintf(&q->url, "%s%s", c->cfg.server, path) < 0 ||
            (content_type && !(q->content_type = strdup(content_type))) ||
            (body && !(q->body = strdup(body)))) {
                request_free(q);
                return -ENOMEM;
        }
        int r = request_start(q);
        if (r < 0) {
                request_free(q);
                return r;
        }
        q->next = c->requests;
        c->requests = q;
        if (ret)
                *ret = q;
        return 0;
}

int kube_client_request(struct kube_client *c, const char *method, const char *path,
                        const char *content_type, const char *body, kube_done_fn done,
                        void *userdata)
{
        return kube_client_send(c, method, path, content_type, body, done, userdata, NULL);
}

int kube_client_send(struct kube_client *c, const char *method, const char *path,
                     const char *content_type, const char *body, kube_done_fn done, void *userdata,
                     struct kube_request **ret)
{
        return request_new(c, method, path, content_type, body, KUBE_REQUEST_TIMEOUT_MS, NULL, done,
                           userdata, ret);
}

int kube_client_stream(struct kube_client *c, const char *path, long timeout_ms,
                       kube_data_fn on_data, kube_done_fn done, void *userdata,
                       struct kube_request **ret)
{
        if (!on_data)
                return -EINVAL;
        return request_new(c, "GET", path, NULL, NULL, timeout_ms, on_data, done, userdata, ret);
}

void kube_request_cancel(struct kube_request *q)
{
        if (!q)
                return;
        request_unlink(q);
        request_free(q);
}

/* ---------- the client ---------- */

static int dup_blob(struct kube_blob *dst, const struct kube_blob *src)
{
        if (!src->data)
                return 0;
        dst->data = malloc(src->size + 1);
        if (!dst->data)
                return -ENOMEM;
        memcpy(dst->data, src->data, src->size);
        dst->data[src->size] = '\0';
        dst->size = src->size;
        return 0;
}

static int dup_str(char **dst, const char *src)
{
        if (src && !(*dst = strdup(src)))
                return -ENOMEM;
        return 0;
}

static int config_copy(struct kube_config *d, const struct kube_config *s)
{
        *d = (struct kube_config){ .insecure_skip_tls_verify = s->insecure_skip_tls_verify };
        if (dup_str(&d->source, s->source) < 0 || dup_str(&d->server, s->server) < 0 ||
            dup_str(&d->ca_file, s->ca_file) < 0 || dup_blob(&d->ca_data, &s->ca_data) < 0 ||
            dup_str(&d->cert_file, s->cert_file) < 0 || dup_str(&d->key_file, s->key_file) < 0 ||
            dup_blob(&d->cert_data, &s->cert_data) < 0 ||
            dup_blob(&d->key_data, &s->key_data) < 0 || dup_str(&d->token, s->token) < 0 ||
            dup_str(&d->token_file, s->token_file) < 0 ||
            dup_str(&d->namespace_, s->namespace_) < 0) {
                kube_config_done(d);
                return -ENOMEM;
        }
        return 0;
}

int kube_client_new(sd_event *e, const struct kube_config *cfg, struct kube_client **ret)
{
        if (!e || !cfg || !cfg->server)
                return -EINVAL;
        struct kube_client *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        int r = config_copy(&c->cfg, cfg);
        if (r < 0 || (r = curl_event_new(e, "kube", "the Kubernetes API", &c->curl)) < 0) {
                kube_client_free(c);
                return r;
        }
        token_refresh(c, true);
        *ret = c;
        return 0;
}

struct kube_client *kube_client_free(struct kube_client *c)
{
        if (!c)
                return NULL;
        while (c->requests)
                kube_request_cancel(c->requests);
        c->curl = curl_event_free(c->curl);
        if (c->token) {
                explicit_bzero(c->token, strlen(c->token));
                free(c->token);
        }
        kube_config_done(&c->cfg);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

void kube_client_get_stats(const struct kube_client *c, struct kube_client_stats *ret)
{
        *ret = c->stats;
}

sd_event *kube_client_get_event(const struct kube_client *c)
{
        return c->event;
}

const char *kube_client_server(const struct kube_client *c)
{
        return c->cfg.server;
}

/* ---------- the calls the agent makes ---------- */

/* Namespaces and pod names are RFC 1123 names: safe in a URL path as they are. */
static bool names_ok(const char *namespace_, const char *name)
{
        return namespace_ && name && node_name_is_valid(namespace_, strlen(namespace_)) &&
               node_name_is_valid(name, strlen(name));
}

int kube_evict(struct kube_client *c, const char *namespace_, const char *name, const char *uid,
               int64_t grace_period_sec, kube_done_fn done, void *userdata)
{
        _cleanup_free_ char *body = NULL, *path = NULL;
        if (!names_ok(namespace_, name))
                return -EINVAL;
        int r = kube_eviction_body(namespace_, name, uid, grace_period_sec, &body);
        if (r < 0)
                return r;
        if (asprintf(&path, "/api/v1/namespaces/%s/pods/%s/eviction", namespace_, name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        return kube_client_request(c, "POST", path, "application/json", body, done, userdata);
}

int kube_post_event(struct kube_client *c, const struct kube_event *ev, kube_done_fn done,
                    void *userdata)
{
        _cleanup_free_ char *body = NULL, *path = NULL;
        if (!ev || !names_ok(ev->namespace_, ev->pod_name))
                return -EINVAL;
        int r = kube_event_body(ev, &body);
        if (r < 0)
                return r;
        if (asprintf(&path, "/apis/events.k8s.io/v1/namespaces/%s/events", ev->namespace_) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        return kube_client_request(c, "POST", path, "application/json", body, done, userdata);
}

int kube_resize_memory(struct kube_client *c, const char *namespace_, const char *name,
                       const char *container, uint64_t limit_bytes, kube_done_fn done,
                       void *userdata)
{
        _cleanup_free_ char *body = NULL, *path = NULL;
        if (!names_ok(namespace_, name))
                return -EINVAL;
        int r = kube_resize_memory_patch(container, limit_bytes, &body);
        if (r < 0)
                return r;
        if (asprintf(&path, "/api/v1/namespaces/%s/pods/%s/resize", namespace_, name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        return kube_client_request(c, "PATCH", path, "application/strategic-merge-patch+json", body,
                                   done, userdata);
}
