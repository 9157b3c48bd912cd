// SPDX-License-Identifier: Apache-2.0
// The etcd state backend: etcd's v3 API through its JSON gateway (POST /v3/kv/range, /v3/kv/txn,
// /v3/lease/grant, ...), with libcurl, so memschedd needs no gRPC or Go toolchain. Keys and values
// travel base64-encoded and 64-bit integers as JSON strings, as the gateway's protobuf mapping
// wants. Every change is one transaction whose compare is the record's revision: create only
// while create_revision == 0, update and delete only while mod_revision is what the caller read;
// a failed compare reads the key back to tell "gone" (-ENOENT) from "changed" (-ESTALE).
//
// The calls block (libcurl easy interface), each bounded by ETCD_REQUEST_TIMEOUT_MS in all, over
// every endpoint it tries: cluster.c writes under its write lock and publishes only what was
// stored, exactly as with SQLite's fsync. The backend is safe to call from several threads at once
// (each call borrows a curl handle from a small pool), so that the extender's writes from the HTTP
// threads, the election's renewals and the report shipper (store-reports.c) never queue behind
// one another on a slow member; the extender's filter and prioritize never call the store at all
// (they read the published model). Watches use a handle of their own.
//
// Endpoints are tried in order on connection failure, starting from the last one that answered.
// A request that reached a member and then timed out is retried elsewhere only when repeating it
// is harmless (reads, lease renewals); a transaction may have been applied, so its caller gets
// -ETIMEDOUT and reads back instead of writing twice.
#include "api/curl-dl.h"
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/log.h"
#include "scheduler/store-backend.h"

#define DEFAULT_PREFIX          "/memsched/"
#define ETCD_CONNECT_TIMEOUT_MS 1000L
#define ETCD_REQUEST_TIMEOUT_MS 3000L
/* Handles kept for reuse (with their connections); more threads than this make new ones. */
#define ETCD_POOL_MAX 8

/* gRPC status codes the gateway returns in {"error", "code", "message"}. */
#define GRPC_INVALID_ARGUMENT 3
#define GRPC_NOT_FOUND        5
#define GRPC_UNAVAILABLE      14

struct etcd_store {
        pthread_mutex_t pool_lock; /* guards pool, n_pool and last_error */
        CURL *pool[ETCD_POOL_MAX];
        size_t n_pool;
        struct curl_slist *headers;
        char **endpoints;
        size_t n_endpoints;
        atomic_size_t current; /* where to start: the last endpoint that answered */
        char *prefix;
        char *cert, *key, *ca;
        char last_error[CURL_ERROR_SIZE + 1024 + 8]; /* the last failure, for the logs */
};

static void configure(struct etcd_store *e, CURL *c, long timeout_ms);
static size_t collect(char *data, size_t size, size_t nmemb, void *userdata);

static void etcd_close(void *be)
{
        struct etcd_store *e = be;
        if (!e)
                return;
        for (size_t i = 0; i < e->n_pool; i++)
                sym_curl_easy_cleanup(e->pool[i]);
        pthread_mutex_destroy(&e->pool_lock);
        sym_curl_slist_free_all(e->headers);
        for (size_t i = 0; i < e->n_endpoints; i++)
                free(e->endpoints[i]);
        free(e->endpoints);
        free(e->prefix);
        free(e->cert);
        free(e->key);
        free(e->ca);
        free(e);
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
        api_buf_append(userdata, data, size * nmemb);
        return size * nmemb;
}

static void set_last_error(struct etcd_store *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_last_error(struct etcd_store *e, const char *fmt, ...)
{
        va_list ap;
        pthread_mutex_lock(&e->pool_lock);
        va_start(ap, fmt);
        vsnprintf(e->last_error, sizeof(e->last_error), fmt, ap);
        va_end(ap);
        log_debug("etcd %s", e->last_error);
        pthread_mutex_unlock(&e->pool_lock);
}

/* A handle from the pool, or a new one configured alike. */
static CURL *handle_get(struct etcd_store *e)
{
        CURL *c = NULL;
        pthread_mutex_lock(&e->pool_lock);
        if (e->n_pool > 0)
                c = e->pool[--e->n_pool];
        pthread_mutex_unlock(&e->pool_lock);
        if (c)
                return c;
        c = sym_curl_easy_init();
        if (!c)
                return NULL;
        configure(e, c, ETCD_REQUEST_TIMEOUT_MS);
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        return c;
}

static void handle_put(struct etcd_store *e, CURL *c)
{
        pthread_mutex_lock(&e->pool_lock);
        if (e->n_pool < ETCD_POOL_MAX) {
                e->pool[e->n_pool++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&e->pool_lock);
        if (c)
                sym_curl_easy_cleanup(c);
}

/* Maps the gateway's error body to an errno; keeps its message for the caller's log. */
static int gateway_error(struct etcd_store *e, long status, const char *body)
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
        set_last_error(e, "answered HTTP %ld: %s", status, msg ? msg : body ? body : "");
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
static int call(struct etcd_store *e, const char *path, struct json_object *body, bool idempotent,
                struct json_object **ret)
{
        _cleanup_free_ char *text = api_to_string(body, NULL);
        int r = -ECONNREFUSED;
        if (!text)
                return -ENOMEM;
        CURL *curl = handle_get(e);
        if (!curl)
                return -ENOMEM;
        char curl_error[CURL_ERROR_SIZE];
        sym_curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
        /* One budget for all the endpoints tried, so that a caller (an HTTP thread) waits at
         * most ETCD_REQUEST_TIMEOUT_MS whatever state the members are in. */
        uint64_t deadline_ms = now_usec(CLOCK_MONOTONIC) / 1000 + ETCD_REQUEST_TIMEOUT_MS;
        size_t first = e->current;
        for (size_t attempt = 0; attempt < e->n_endpoints; attempt++) {
                size_t i = (first + attempt) % e->n_endpoints;
                char url[1024];
                struct api_buf reply = {};
                long status = 0;
                uint64_t now_ms = now_usec(CLOCK_MONOTONIC) / 1000;
                if (now_ms >= deadline_ms) {
                        r = -ETIMEDOUT;
                        break;
                }
                snprintf(url, sizeof(url), "%s%s", e->endpoints[i], path);
                sym_curl_easy_setopt(curl, CURLOPT_URL, url);
                sym_curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
                sym_curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
                /* A request that may be repeated gets its share of the budget per member, so
                 * that a stalled member (connection taken, no answer) leaves time to ask the
                 * next: the election renews its lease well within the lease that way. A
                 * transaction gets all that is left: it is not repeated elsewhere. */
                uint64_t left_ms = deadline_ms - now_ms;
                if (idempotent && attempt + 1 < e->n_endpoints &&
                    left_ms > ETCD_REQUEST_TIMEOUT_MS / e->n_endpoints)
                        left_ms = ETCD_REQUEST_TIMEOUT_MS / e->n_endpoints;
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
                        set_last_error(e, "%s: %s", url,
                                       curl_error[0] ? curl_error : sym_curl_easy_strerror(cc));
                        free(data);
                        r = cc == CURLE_OPERATION_TIMEDOUT     ? -ETIMEDOUT
                            : cc == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
                            : cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH
                                                               : -EPROTO;
                        e->current = (i + 1) % e->n_endpoints; /* avoid it next time too */
                        if (never_sent || idempotent)
                                continue;
                        break;
                }
                if (status != 200) {
                        r = gateway_error(e, status, data);
                        free(data);
                        if (r == -EAGAIN && idempotent) {
                                e->current = (i + 1) % e->n_endpoints;
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
                e->current = i;
                r = 0;
                break;
        }
        sym_curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
        handle_put(e, curl);
        return r;
}

static struct json_object *b64_string(const char *s)
{
        _cleanup_free_ char *enc = base64_encode(s, strlen(s));
        return enc ? json_object_new_string(enc) : NULL;
}

static struct json_object *u64_string(uint64_t v)
{
        char buf[24];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
        return json_object_new_string(buf);
}

/* An int64 field the gateway sends as a string (absent when 0). */
static uint64_t get_u64(const struct json_object *o, const char *key)
{
        struct json_object *v = o ? json_object_object_get(o, key) : NULL;
        int64_t x = v ? json_object_get_int64(v) : 0;
        return x > 0 ? (uint64_t)x : 0;
}

static char *full_key(struct etcd_store *e, const char *key)
{
        char *k = NULL;
        if (asprintf(&k, "%s%s", e->prefix, key) < 0)
                return NULL;
        return k;
}

/* Decodes one kv of a response; *ret_key points into *ret_buf past our prefix, NULL when the
 * key is not ours. */
static int decode_kv(struct etcd_store *e, const struct json_object *kv, char **ret_key_buf,
                     const char **ret_key, char **ret_value)
{
        struct json_object *k = json_object_object_get(kv, "key"),
                           *v = json_object_object_get(kv, "value");
        size_t plen = strlen(e->prefix);
        char *key = NULL, *value = NULL;
        if (!k ||
            base64_decode(json_object_get_string(k), strlen(json_object_get_string(k)), &key,
                          NULL) < 0 ||
            base64_decode(v ? json_object_get_string(v) : "",
                          v ? strlen(json_object_get_string(v)) : 0, &value, NULL) < 0) {
                free(key);
                return log_error_errno(EBADMSG, "etcd sent a key or value that is not base64");
        }
        *ret_key_buf = key;
        *ret_key = strncmp(key, e->prefix, plen) == 0 ? key + plen : NULL;
        *ret_value = value;
        return 0;
}

/* Appends the decoded kvs of a range response (prefix stripped) to the list. */
static int append_kvs(struct etcd_store *e, const struct json_object *range,
                      struct store_record **l, size_t *n, size_t *cap)
{
        struct json_object *kvs = json_object_object_get(range, "kvs");
        for (size_t i = 0; kvs && i < json_object_array_length(kvs); i++) {
                struct json_object *kv = json_object_array_get_idx(kvs, i);
                _cleanup_free_ char *buf = NULL, *value = NULL;
                const char *key;
                int r = decode_kv(e, kv, &buf, &key, &value);
                if (r < 0)
                        return r;
                if (!key)
                        continue;
                r = store_record_list_append(l, n, cap, key, value, get_u64(kv, "mod_revision"),
                                             get_u64(kv, "lease"));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Adds {"key": k, "range_end": every key that starts with k}: k with its last byte incremented. */
static int add_prefix_range(struct json_object *req, const char *k)
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
        api_add(req, "key", b64_string(k));
        api_add(req, "range_end", b64_string(end));
        return 0;
}

static int etcd_range(struct etcd_store *e, const char *key, bool prefix, struct store_record **ret,
                      size_t *ret_n, uint64_t *ret_revision)
{
        _cleanup_free_ char *k = full_key(e, key);
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        struct store_record *l = NULL;
        size_t n = 0, cap = 0;
        int r;
        if (!k || !req)
                return -ENOMEM;
        if (prefix) {
                r = add_prefix_range(req, k);
                if (r < 0)
                        return r;
                api_add(req, "sort_order", json_object_new_string("ASCEND"));
                api_add(req, "sort_target", json_object_new_string("KEY"));
        } else
                api_add(req, "key", b64_string(k));
        r = call(e, "/v3/kv/range", req, true, &resp);
        if (r < 0)
                return r;
        r = append_kvs(e, resp, &l, &n, &cap);
        if (r < 0) {
                store_record_list_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        if (ret_revision)
                *ret_revision = get_u64(json_object_object_get(resp, "header"), "revision");
        return 0;
}

static int etcd_get(void *be, const char *key, struct store_record *ret)
{
        struct store_record *l = NULL;
        size_t n = 0;
        int r = etcd_range(be, key, false, &l, &n, NULL);
        if (r < 0)
                return r;
        if (n == 0) {
                free(l);
                return -ENOENT;
        }
        *ret = l[0];
        l[0] = (struct store_record){};
        store_record_list_free(l, n);
        return 0;
}

static int etcd_list(void *be, const char *prefix, struct store_record **ret, size_t *ret_n,
                     uint64_t *ret_revision)
{
        if (!*prefix)
                return -EINVAL;
        return etcd_range(be, prefix, true, ret, ret_n, ret_revision);
}

/* {"key": k, "target": "CREATE"|"MOD", "result": "EQUAL", field: value} */
static struct json_object *compare(const char *k, bool create, uint64_t revision)
{
        struct json_object *c = json_object_new_object();
        if (!c)
                return NULL;
        api_add(c, "key", b64_string(k));
        api_add(c, "target", json_object_new_string(create ? "CREATE" : "MOD"));
        api_add(c, "result", json_object_new_string("EQUAL"));
        api_add(c, create ? "create_revision" : "mod_revision", u64_string(revision));
        return c;
}

static struct json_object *wrap(const char *name, struct json_object *inner)
{
        struct json_object *o = json_object_new_object();
        if (o)
                api_add(o, name, inner);
        return o;
}

/* Runs a one-compare transaction; on a failed compare, reads the key back (failure branch) and
 * returns absent_errno if it is absent, else changed_errno. *ret_revision gets the store revision
 * after a success, which is the mod_revision of what the transaction wrote. */
static int txn(struct etcd_store *e, const char *k, struct json_object *cmp, struct json_object *op,
               int changed_errno, int absent_errno, uint64_t *ret_revision)
{
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        struct json_object *cmps = json_object_new_array(), *succ = json_object_new_array(),
                           *fail = json_object_new_array(), *rng = json_object_new_object();
        if (!req || !cmps || !succ || !fail || !rng || !cmp || !op) {
                json_object_put(cmps);
                json_object_put(succ);
                json_object_put(fail);
                json_object_put(rng);
                json_object_put(cmp);
                json_object_put(op);
                return -ENOMEM;
        }
        json_object_array_add(cmps, cmp);
        json_object_array_add(succ, op);
        api_add(rng, "key", b64_string(k));
        api_add(rng, "keys_only", json_object_new_boolean(true));
        json_object_array_add(fail, wrap("request_range", rng));
        api_add(req, "compare", cmps);
        api_add(req, "success", succ);
        api_add(req, "failure", fail);
        int r = call(e, "/v3/kv/txn", req, false, &resp);
        if (r < 0)
                return r;
        struct json_object *ok = json_object_object_get(resp, "succeeded");
        if (ok && json_object_get_boolean(ok)) {
                *ret_revision = get_u64(json_object_object_get(resp, "header"), "revision");
                return 0;
        }
        struct json_object *resps = json_object_object_get(resp, "responses"),
                           *first = resps ? json_object_array_get_idx(resps, 0) : NULL,
                           *range = first ? json_object_object_get(first, "response_range") : NULL,
                           *kvs = range ? json_object_object_get(range, "kvs") : NULL;
        return kvs && json_object_array_length(kvs) > 0 ? changed_errno : absent_errno;
}

/* {"request_put": {"key", "value", and "lease", or "ignore_lease" to keep the key's own}} */
static struct json_object *put_op(const char *k, const char *value, uint64_t lease_id,
                                  bool keep_lease)
{
        struct json_object *put = json_object_new_object();
        if (!put)
                return NULL;
        api_add(put, "key", b64_string(k));
        api_add(put, "value", b64_string(value));
        if (keep_lease)
                api_add(put, "ignore_lease", json_object_new_boolean(true));
        else if (lease_id)
                api_add(put, "lease", u64_string(lease_id));
        return wrap("request_put", put);
}

static int etcd_create(void *be, const char *key, const char *value, uint64_t lease_id,
                       uint64_t *ret_mod_revision)
{
        struct etcd_store *e = be;
        _cleanup_free_ char *k = full_key(e, key);
        if (!k)
                return -ENOMEM;
        /* A create's compare fails only when the key exists. (A lease that expired fails the
         * whole transaction with the gateway's NOT_FOUND: -ENOENT.) */
        return txn(e, k, compare(k, true, 0), put_op(k, value, lease_id, false), -EEXIST, -EEXIST,
                   ret_mod_revision);
}

static int etcd_update(void *be, const char *key, const char *value, uint64_t expect,
                       uint64_t *ret_mod_revision)
{
        struct etcd_store *e = be;
        _cleanup_free_ char *k = full_key(e, key);
        if (!k)
                return -ENOMEM;
        return txn(e, k, compare(k, false, expect), put_op(k, value, 0, true), -ESTALE, -ENOENT,
                   ret_mod_revision);
}

static int etcd_update_leased(void *be, const char *key, const char *value, uint64_t lease_id,
                              uint64_t expect, uint64_t *ret_mod_revision)
{
        struct etcd_store *e = be;
        _cleanup_free_ char *k = full_key(e, key);
        if (!k)
                return -ENOMEM;
        return txn(e, k, compare(k, false, expect), put_op(k, value, lease_id, false), -ESTALE,
                   -ENOENT, ret_mod_revision);
}

static int etcd_remove(void *be, const char *key, uint64_t expect)
{
        struct etcd_store *e = be;
        _cleanup_free_ char *k = full_key(e, key);
        struct json_object *del = json_object_new_object();
        uint64_t rev = 0;
        if (!k || !del) {
                json_object_put(del);
                return -ENOMEM;
        }
        api_add(del, "key", b64_string(k));
        return txn(e, k, compare(k, false, expect), wrap("request_delete_range", del), -ESTALE,
                   -ENOENT, &rev);
}

/* One transaction: compare every guard's mod_revision, and on success put each guard again (its
 * own value and lease) and then key. Two replicas that placed slabs on the same donor from the
 * same read both compare its offer's revision: the first put moves it, the second fails. */
static int etcd_put_guarded(void *be, const char *key, const char *value,
                            const struct store_guard *guards, size_t n_guards,
                            uint64_t *ret_mod_revision)
{
        struct etcd_store *e = be;
        _cleanup_free_ char *k = full_key(e, key);
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        struct json_object *cmps = json_object_new_array(), *succ = json_object_new_array();
        int r = k && req && cmps && succ ? 0 : -ENOMEM;
        for (size_t i = 0; i < n_guards && r >= 0; i++) {
                _cleanup_free_ char *g = full_key(e, guards[i].key);
                struct json_object *c = g ? compare(g, false, guards[i].mod_revision) : NULL,
                                   *put = g ? put_op(g, guards[i].value, 0, true) : NULL;
                if (!c || !put) {
                        json_object_put(c);
                        json_object_put(put);
                        r = -ENOMEM;
                        break;
                }
                json_object_array_add(cmps, c);
                json_object_array_add(succ, put);
        }
        struct json_object *put = r >= 0 ? put_op(k, value, 0, false) : NULL;
        if (r >= 0 && !put)
                r = -ENOMEM;
        if (r < 0) {
                json_object_put(cmps);
                json_object_put(succ);
                return r;
        }
        json_object_array_add(succ, put);
        api_add(req, "compare", cmps);
        api_add(req, "success", succ);
        r = call(e, "/v3/kv/txn", req, false, &resp);
        if (r < 0)
                return r;
        struct json_object *ok = json_object_object_get(resp, "succeeded");
        if (!ok || !json_object_get_boolean(ok))
                return -ESTALE;
        *ret_mod_revision = get_u64(json_object_object_get(resp, "header"), "revision");
        return 0;
}

static int etcd_lease_grant(void *be, uint64_t ttl_sec, uint64_t *ret_lease_id)
{
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "TTL", u64_string(ttl_sec));
        /* A retry after a timeout may grant a second lease; nothing uses it and it expires. */
        int r = call(be, "/v3/lease/grant", req, true, &resp);
        if (r < 0)
                return r;
        uint64_t id = get_u64(resp, "ID");
        if (!id)
                return -EIO;
        *ret_lease_id = id;
        return 0;
}

static int etcd_lease_keepalive(void *be, uint64_t lease_id)
{
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "ID", u64_string(lease_id));
        int r = call(be, "/v3/lease/keepalive", req, true, &resp);
        if (r < 0)
                return r;
        /* The gateway streams {"result": {...}}; an expired lease comes back without a TTL. */
        struct json_object *res = json_object_object_get(resp, "result");
        return get_u64(res ? res : resp, "TTL") > 0 ? 0 : -ENOENT;
}

static int etcd_lease_revoke(void *be, uint64_t lease_id)
{
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "ID", u64_string(lease_id));
        return call(be, "/v3/lease/revoke", req, true, &resp);
}

static int split_endpoints(struct etcd_store *e, const char *list)
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
                char **n = realloc(e->endpoints, (e->n_endpoints + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                e->endpoints = n;
                if (!(e->endpoints[e->n_endpoints] = strdup(t)))
                        return -ENOMEM;
                e->n_endpoints++;
        }
        if (!e->n_endpoints)
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
static void configure(struct etcd_store *e, CURL *c, long timeout_ms)
{
        sym_curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
        sym_curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ETCD_CONNECT_TIMEOUT_MS);
        sym_curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (e->cert)
                sym_curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
        if (e->key)
                sym_curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
        if (e->ca)
                sym_curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
}

/* A watch reads the gateway's stream, one JSON message a line, until the first batch of events
 * (or the cancellation that a compacted start revision causes), then hangs up. */
struct watch_ctx {
        struct etcd_store *e;
        struct api_buf line;
        struct store_event *events;
        size_t n_events, cap_events;
        uint64_t last_revision;
        bool canceled, done;
        bool answered; /* the member sent anything (it confirms a watch at once) */
        int error;
};

static int watch_message(struct watch_ctx *w, const char *text, size_t size)
{
        _cleanup_json_ struct json_object *o = NULL;
        struct api_error err = {};
        if (api_parse(text, size, &o, &err) < 0)
                return -EBADMSG;
        struct json_object *res = json_object_object_get(o, "result"),
                           *canceled = res ? json_object_object_get(res, "canceled") : NULL,
                           *events = res ? json_object_object_get(res, "events") : NULL;
        if (!res)
                return -EIO; /* {"error": ...} */
        w->answered = true;
        if (canceled && json_object_get_boolean(canceled)) {
                w->canceled = true;
                return 0;
        }
        for (size_t i = 0; events && i < json_object_array_length(events); i++) {
                struct json_object *ev = json_object_array_get_idx(events, i),
                                   *type = json_object_object_get(ev, "type"),
                                   *kv = json_object_object_get(ev, "kv");
                _cleanup_free_ char *buf = NULL, *value = NULL;
                const char *key;
                int r = kv ? decode_kv(w->e, kv, &buf, &key, &value) : -EBADMSG;
                if (r < 0)
                        return r;
                uint64_t rev = get_u64(kv, "mod_revision");
                if (rev > w->last_revision)
                        w->last_revision = rev;
                if (!key)
                        continue;
                if (w->n_events == w->cap_events) {
                        size_t ncap = w->cap_events ? w->cap_events * 2 : 8;
                        struct store_event *n = realloc(w->events, ncap * sizeof(*n));
                        if (!n)
                                return -ENOMEM;
                        w->events = n;
                        w->cap_events = ncap;
                }
                bool del = type && strcmp(json_object_get_string(type), "DELETE") == 0;
                struct store_event *out = &w->events[w->n_events];
                *out = (struct store_event){
                        .type = del ? STORE_EVENT_DELETE : STORE_EVENT_PUT,
                        .rec = { .key = strdup(key),
                                 .value = strdup(del ? "" : value),
                                 .mod_revision = rev,
                                 .lease_id = get_u64(kv, "lease") },
                };
                if (!out->rec.key || !out->rec.value) {
                        store_record_done(&out->rec);
                        return -ENOMEM;
                }
                w->n_events++;
        }
        if (events && json_object_array_length(events) > 0)
                w->done = true;
        return 0;
}

static size_t watch_data(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct watch_ctx *w = userdata;
        size_t n = size * nmemb;
        for (size_t i = 0; i < n; i++) {
                if (data[i] != '\n') {
                        api_buf_append(&w->line, &data[i], 1);
                        continue;
                }
                char *text = NULL;
                size_t len = 0;
                if (api_buf_finish(&w->line, &text, &len) < 0) {
                        w->error = -ENOMEM;
                        return 0;
                }
                int r = len ? watch_message(w, text, len) : 0;
                free(text);
                if (r < 0) {
                        w->error = r;
                        return 0;
                }
                if (w->done || w->canceled)
                        return 0; /* hang up: the caller has what it waited for */
        }
        return n;
}

static int etcd_watch(void *be, const char *prefix, uint64_t after_revision, uint64_t timeout_ms,
                      struct store_event **ret, size_t *ret_n, uint64_t *ret_revision)
{
        struct etcd_store *e = be;
        _cleanup_free_ char *k = full_key(e, prefix);
        _cleanup_json_ struct json_object *req = json_object_new_object(),
                                          *create = json_object_new_object();
        char err[CURL_ERROR_SIZE] = "";
        int r;
        if (!k || !req || !create)
                return -ENOMEM;
        r = add_prefix_range(create, k);
        if (r < 0)
                return r;
        api_add(create, "start_revision", u64_string(after_revision + 1));
        api_add(req, "create_request", json_object_get(create));
        _cleanup_free_ char *body = api_to_string(req, NULL);
        /* Its own handle: a watch waits long, and must not hold the store's other requests. */
        CURL *c = sym_curl_easy_init();
        if (!body || !c) {
                if (c)
                        sym_curl_easy_cleanup(c);
                return -ENOMEM;
        }
        configure(e, c, (long)timeout_ms);
        sym_curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        sym_curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_data);
        struct watch_ctx w = { .e = e, .last_revision = after_revision };
        sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
        r = -ECONNREFUSED;
        size_t first = e->current;
        for (size_t attempt = 0; attempt < e->n_endpoints; attempt++) {
                char url[1024];
                size_t i = (first + attempt) % e->n_endpoints;
                snprintf(url, sizeof(url), "%s/v3/watch", e->endpoints[i]);
                sym_curl_easy_setopt(c, CURLOPT_URL, url);
                CURLcode cc = sym_curl_easy_perform(c);
                if (cc == CURLE_OPERATION_TIMEDOUT && !w.answered && w.error == 0) {
                        /* Not even the watch's confirmation: a stalled member (it took the
                         * connection and says nothing), not a quiet prefix. Counting that as
                         * "no change" would keep this replica ready on a model that no longer
                         * follows; ask the next member. */
                        log_debug("etcd watch %s: no answer within %llu ms", url,
                                  (unsigned long long)timeout_ms);
                        e->current = (i + 1) % e->n_endpoints;
                        r = -ETIMEDOUT;
                        continue;
                }
                if (w.error < 0) {
                        r = w.error;
                        break;
                }
                if (w.canceled) {
                        r = -ESTALE; /* compacted past after_revision: list again */
                        break;
                }
                if (w.done || cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_OK) {
                        e->current = i;
                        r = 0; /* events, or none before the timeout */
                        break;
                }
                log_debug("etcd watch %s: %s", url, err[0] ? err : sym_curl_easy_strerror(cc));
                if (cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST)
                        r = -EPROTO;
        }
        sym_curl_easy_cleanup(c);
        free(w.line.data);
        if (r < 0) {
                store_event_list_free(w.events, w.n_events);
                return r;
        }
        *ret = w.events;
        *ret_n = w.n_events;
        *ret_revision = w.last_revision;
        return 0;
}

/* A count-only range over our prefix: cheap, and proves the gateway speaks /v3/. */
static int etcd_probe(struct etcd_store *e)
{
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "key", b64_string(e->prefix));
        api_add(req, "count_only", json_object_new_boolean(true));
        return call(e, "/v3/kv/range", req, true, &resp);
}

int store_etcd_open(const struct store_options *o, void **ret_be)
{
        struct etcd_store *e = calloc(1, sizeof(*e));
        int r;
        if (!e)
                return log_error_errno(ENOMEM, "Failed to allocate the etcd store: %m");
        pthread_mutex_init(&e->pool_lock, NULL);
        r = split_endpoints(e, o->etcd_endpoints);
        if (r < 0)
                goto fail;
        if ((r = dup_opt(o->etcd_prefix ? o->etcd_prefix : DEFAULT_PREFIX, &e->prefix)) < 0 ||
            (r = dup_opt(o->etcd_cert, &e->cert)) < 0 || (r = dup_opt(o->etcd_key, &e->key)) < 0 ||
            (r = dup_opt(o->etcd_ca, &e->ca)) < 0)
                goto fail;
        if (!e->prefix) {
                r = log_error_errno(EINVAL, "The etcd key prefix must not be empty");
                goto fail;
        }
        if ((r = curl_dl_open("the etcd state store")) < 0)
                goto fail;
        e->headers = sym_curl_slist_append(NULL, "Content-Type: application/json");
        if (!e->headers) {
                r = log_error_errno(ENOMEM, "Failed to set up libcurl: %m");
                goto fail;
        }

        /* Fail at start, with the endpoints named, rather than on the first plan. */
        r = etcd_probe(e);
        if (r < 0) {
                log_error_errno(r, "No etcd endpoint of \"%s\" answered (last: %s): %m",
                                o->etcd_endpoints, e->last_error[0] ? e->last_error : "?");
                goto fail;
        }
        log_info("State in etcd at %s (%zu endpoints), keys under %s", e->endpoints[e->current],
                 e->n_endpoints, e->prefix);
        *ret_be = e;
        return 0;
fail:
        etcd_close(e);
        return r;
}

const struct store_backend store_backend_etcd = {
        .name = "etcd",
        .close = etcd_close,
        .get = etcd_get,
        .list = etcd_list,
        .create = etcd_create,
        .update = etcd_update,
        .update_leased = etcd_update_leased,
        .thread_safe = true,
        .remove = etcd_remove,
        .put_guarded = etcd_put_guarded,
        .lease_grant = etcd_lease_grant,
        .lease_keepalive = etcd_lease_keepalive,
        .lease_revoke = etcd_lease_revoke,
        .watch = etcd_watch,
};
