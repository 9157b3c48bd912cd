// SPDX-License-Identifier: Apache-2.0
// A client of etcd's v3 API through its JSON gateway (POST /v3/kv/range, /v3/kv/txn,
// /v3/lease/grant, ...), with libcurl, so memschedd needs no gRPC or Go toolchain: a pool of
// handles (with their connections) for callers on several threads, the endpoints tried in order
// within one time budget, the gateway's errors as errnos, and the gateway's encoding (keys and
// values in base64, 64-bit integers as JSON strings). What the keys mean is store-etcd.c's.
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/curl-dl.h"

#define ETCD_CONNECT_TIMEOUT_MS 1000L
#define ETCD_REQUEST_TIMEOUT_MS 3000L
/* Handles kept for reuse (with their connections); more threads than this make new ones. */
#define ETCD_POOL_MAX 8

struct etcd_client {
        pthread_mutex_t pool_lock; /* guards pool, n_pool and last_error */
        CURL *pool[ETCD_POOL_MAX];
        size_t n_pool;
        struct curl_slist *headers;
        char **endpoints;
        size_t n_endpoints;
        atomic_size_t current; /* where to start: the last endpoint that answered */
        char *cert, *key, *ca;
        char last_error[CURL_ERROR_SIZE + 1024 + 8]; /* the last failure, for the logs */
};

/* Sets up ec (zeroed by the caller) for the comma-separated http(s) endpoints, with the TLS files
 * (NULL or "": none). Returns 0, or a negative errno, logged; call etcd_client_done() either
 * way. Sends nothing. */
int etcd_client_init(struct etcd_client *ec, const char *endpoints, const char *cert,
                     const char *key, const char *ca);
void etcd_client_done(struct etcd_client *ec);

/* POSTs body to path on the first endpoint that answers, within ETCD_REQUEST_TIMEOUT_MS over all
 * of them, and parses the reply into *ret (the caller's). A request that reached a member and
 * then timed out is tried elsewhere only when idempotent. Returns 0, or -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH, -EPROTO, or the gateway's error (-ENOENT, -EINVAL, -EAGAIN,
 * -EIO), whose text stays in ec->last_error. Safe from several threads at once. */
int etcd_call(struct etcd_client *ec, const char *path, struct json_object *body, bool idempotent,
              struct json_object **ret);
/* A new handle set up as the pool's (headers, TLS, connect timeout) with timeout_ms in all, for
 * a long request of its own (a watch); the caller cleans it up. NULL when out of memory. */
CURL *etcd_client_handle_new(struct etcd_client *ec, long timeout_ms);

/* The gateway's encoding: a JSON string of s in base64, of v in decimal; an int64 field that the
 * gateway sends as a string (0 when absent); and {"key": k, "range_end": ...} for every key that
 * starts with k (-EINVAL for a k of only 0xff bytes). */
struct json_object *etcd_b64_string(const char *s);
struct json_object *etcd_u64_string(uint64_t v);
uint64_t etcd_get_u64(const struct json_object *o, const char *key);
int etcd_add_prefix_range(struct json_object *req, const char *k);
