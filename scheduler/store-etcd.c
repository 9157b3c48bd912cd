// SPDX-License-Identifier: Apache-2.0
// The etcd state backend: the store's records as keys under a prefix, through the v3 JSON gateway
// client (etcd-client.c). Every change is one transaction whose compare is the record's
// revision: create only while create_revision == 0, update and delete only while mod_revision is
// what the caller read; a failed compare reads the key back to tell "gone" (-ENOENT) from
// "changed" (-ESTALE).
//
// The calls block, each bounded by the client's budget: cluster.c writes under its write lock and
// publishes only what was stored, exactly as with SQLite's fsync. The backend is safe to call
// from several threads at once (the client's handle pool), so that the extender's writes from the
// HTTP threads, the election's renewals and the report shipper (store-reports.c) never queue
// behind one another on a slow member; the extender's filter and prioritize never call the store
// at all (they read the published model). Watches use a handle of their own.
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "common/base64.h"
#include "common/log.h"
#include "scheduler/etcd-client.h"
#include "scheduler/store-backend.h"

#define DEFAULT_PREFIX "/memsched/"

struct etcd_store {
        struct etcd_client client;
        char *prefix;
};

static void etcd_close(void *be)
{
        struct etcd_store *e = be;
        if (!e)
                return;
        etcd_client_done(&e->client);
        free(e->prefix);
        free(e);
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
                r = store_record_list_append(l, n, cap, key, value,
                                             etcd_get_u64(kv, "mod_revision"),
                                             etcd_get_u64(kv, "lease"));
                if (r < 0)
                        return r;
        }
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
                r = etcd_add_prefix_range(req, k);
                if (r < 0)
                        return r;
                api_add(req, "sort_order", json_object_new_string("ASCEND"));
                api_add(req, "sort_target", json_object_new_string("KEY"));
        } else
                api_add(req, "key", etcd_b64_string(k));
        r = etcd_call(&e->client, "/v3/kv/range", req, true, &resp);
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
                *ret_revision = etcd_get_u64(json_object_object_get(resp, "header"), "revision");
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
        api_add(c, "key", etcd_b64_string(k));
        api_add(c, "target", json_object_new_string(create ? "CREATE" : "MOD"));
        api_add(c, "result", json_object_new_string("EQUAL"));
        api_add(c, create ? "create_revision" : "mod_revision", etcd_u64_string(revision));
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
        api_add(rng, "key", etcd_b64_string(k));
        api_add(rng, "keys_only", json_object_new_boolean(true));
        json_object_array_add(fail, wrap("request_range", rng));
        api_add(req, "compare", cmps);
        api_add(req, "success", succ);
        api_add(req, "failure", fail);
        int r = etcd_call(&e->client, "/v3/kv/txn", req, false, &resp);
        if (r < 0)
                return r;
        struct json_object *ok = json_object_object_get(resp, "succeeded");
        if (ok && json_object_get_boolean(ok)) {
                *ret_revision = etcd_get_u64(json_object_object_get(resp, "header"), "revision");
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
        api_add(put, "key", etcd_b64_string(k));
        api_add(put, "value", etcd_b64_string(value));
        if (keep_lease)
                api_add(put, "ignore_lease", json_object_new_boolean(true));
        else if (lease_id)
                api_add(put, "lease", etcd_u64_string(lease_id));
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
        api_add(del, "key", etcd_b64_string(k));
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
        r = etcd_call(&e->client, "/v3/kv/txn", req, false, &resp);
        if (r < 0)
                return r;
        struct json_object *ok = json_object_object_get(resp, "succeeded");
        if (!ok || !json_object_get_boolean(ok))
                return -ESTALE;
        *ret_mod_revision = etcd_get_u64(json_object_object_get(resp, "header"), "revision");
        return 0;
}

static int etcd_lease_grant(void *be, uint64_t ttl_sec, uint64_t *ret_lease_id)
{
        struct etcd_store *e = be;
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "TTL", etcd_u64_string(ttl_sec));
        /* A retry after a timeout may grant a second lease; nothing uses it and it expires. */
        int r = etcd_call(&e->client, "/v3/lease/grant", req, true, &resp);
        if (r < 0)
                return r;
        uint64_t id = etcd_get_u64(resp, "ID");
        if (!id)
                return -EIO;
        *ret_lease_id = id;
        return 0;
}

static int etcd_lease_keepalive(void *be, uint64_t lease_id)
{
        struct etcd_store *e = be;
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "ID", etcd_u64_string(lease_id));
        int r = etcd_call(&e->client, "/v3/lease/keepalive", req, true, &resp);
        if (r < 0)
                return r;
        /* The gateway streams {"result": {...}}; an expired lease comes back without a TTL. */
        struct json_object *res = json_object_object_get(resp, "result");
        return etcd_get_u64(res ? res : resp, "TTL") > 0 ? 0 : -ENOENT;
}

static int etcd_lease_revoke(void *be, uint64_t lease_id)
{
        struct etcd_store *e = be;
        _cleanup_json_ struct json_object *req = json_object_new_object(), *resp = NULL;
        if (!req)
                return -ENOMEM;
        api_add(req, "ID", etcd_u64_string(lease_id));
        return etcd_call(&e->client, "/v3/lease/revoke", req, true, &resp);
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
                uint64_t rev = etcd_get_u64(kv, "mod_revision");
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
                                 .lease_id = etcd_get_u64(kv, "lease") },
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
        r = etcd_add_prefix_range(create, k);
        if (r < 0)
                return r;
        api_add(create, "start_revision", etcd_u64_string(after_revision + 1));
        api_add(req, "create_request", json_object_get(create));
        _cleanup_free_ char *body = api_to_string(req, NULL);
        /* Its own handle: a watch waits long, and must not hold the store's other requests. */
        CURL *c = etcd_client_handle_new(&e->client, (long)timeout_ms);
        if (!body || !c) {
                if (c)
                        sym_curl_easy_cleanup(c);
                return -ENOMEM;
        }
        sym_curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        sym_curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_data);
        struct watch_ctx w = { .e = e, .last_revision = after_revision };
        sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
        r = -ECONNREFUSED;
        size_t first = e->client.current;
        for (size_t attempt = 0; attempt < e->client.n_endpoints; attempt++) {
                char url[1024];
                size_t i = (first + attempt) % e->client.n_endpoints;
                snprintf(url, sizeof(url), "%s/v3/watch", e->client.endpoints[i]);
                sym_curl_easy_setopt(c, CURLOPT_URL, url);
                CURLcode cc = sym_curl_easy_perform(c);
                if (cc == CURLE_OPERATION_TIMEDOUT && !w.answered && w.error == 0) {
                        /* Not even the watch's confirmation: a stalled member (it took the
                         * connection and says nothing), not a quiet prefix. Counting that as
                         * "no change" would keep this replica ready on a model that no longer
                         * follows; ask the next member. */
                        log_debug("etcd watch %s: no answer within %llu ms", url,
                                  (unsigned long long)timeout_ms);
                        e->client.current = (i + 1) % e->client.n_endpoints;
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
                        e->client.current = i;
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
        api_add(req, "key", etcd_b64_string(e->prefix));
        api_add(req, "count_only", json_object_new_boolean(true));
        return etcd_call(&e->client, "/v3/kv/range", req, true, &resp);
}

int store_etcd_open(const struct store_options *o, void **ret_be)
{
        struct etcd_store *e = calloc(1, sizeof(*e));
        const char *prefix = o->etcd_prefix ? o->etcd_prefix : DEFAULT_PREFIX;
        int r;
        if (!e)
                return log_error_errno(ENOMEM, "Failed to allocate the etcd store: %m");
        r = etcd_client_init(&e->client, o->etcd_endpoints, o->etcd_cert, o->etcd_key, o->etcd_ca);
        if (r < 0)
                goto fail;
        if (!*prefix) {
                r = log_error_errno(EINVAL, "The etcd key prefix must not be empty");
                goto fail;
        }
        e->prefix = strdup(prefix);
        if (!e->prefix) {
                r = -ENOMEM;
                goto fail;
        }

        /* Fail at start, with the endpoints named, rather than on the first plan. */
        r = etcd_probe(e);
        if (r < 0) {
                log_error_errno(r, "No etcd endpoint of \"%s\" answered (last: %s): %m",
                                o->etcd_endpoints,
                                e->client.last_error[0] ? e->client.last_error : "?");
                goto fail;
        }
        log_info("State in etcd at %s (%zu endpoints), keys under %s",
                 e->client.endpoints[e->client.current], e->client.n_endpoints, e->prefix);
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
