// SPDX-License-Identifier: Apache-2.0
// The table of functions each state backend fills (store-sqlite.c, store-etcd.c); store.c
// dispatches to it and keeps everything that is the same for both (plans as JSON records, the
// revisions read, locking). Semantics are those of store.h's record functions.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/store.h"

struct store_backend {
        const char *name;
        void (*close)(void *be);
        int (*get)(void *be, const char *key, struct store_record *ret);
        int (*list)(void *be, const char *prefix, struct store_record **ret, size_t *ret_n,
                    uint64_t *ret_revision);
        int (*create)(void *be, const char *key, const char *value, uint64_t lease_id,
                      uint64_t *ret_mod_revision);
        int (*update)(void *be, const char *key, const char *value, uint64_t expect_mod_revision,
                      uint64_t *ret_mod_revision);
        int (*remove)(void *be, const char *key, uint64_t expect_mod_revision);
        int (*put_guarded)(void *be, const char *key, const char *value,
                           const struct store_guard *guards, size_t n_guards,
                           uint64_t *ret_mod_revision);
        int (*lease_grant)(void *be, uint64_t ttl_sec, uint64_t *ret_lease_id);
        int (*lease_keepalive)(void *be, uint64_t lease_id);
        int (*lease_revoke)(void *be, uint64_t lease_id);
        /* update that also moves the key to lease_id (0: none). NULL where only records of one
         * writer have leases (SQLite). */
        int (*update_leased)(void *be, const char *key, const char *value, uint64_t lease_id,
                             uint64_t expect_mod_revision, uint64_t *ret_mod_revision);
        /* Whether the calls may run from several threads at once; otherwise store.c serialises
         * them under its lock. */
        bool thread_safe;
        /* NULL where nothing else can write (SQLite: one replica). Called without the store's
         * lock: the backend must not share the connection of the other calls. */
        int (*watch)(void *be, const char *prefix, uint64_t after_revision, uint64_t timeout_ms,
                     struct store_event **ret, size_t *ret_n, uint64_t *ret_revision);
};

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_etcd;

int store_sqlite_open(const char *path, void **ret_be);
int store_etcd_open(const struct store_options *o, void **ret_be);

/* Appends a record (taking copies of key and value) to a growing list. */
int store_record_list_append(struct store_record **list, size_t *n, size_t *cap, const char *key,
                             const char *value, uint64_t mod_revision, uint64_t lease_id);
