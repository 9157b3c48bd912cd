// SPDX-License-Identifier: Apache-2.0
// Durable state: migration plans and the reservations they hold, pool offers and memory leases, so
// a restart of memschedd loses none. Node reports are soft state and never stored: the next
// heartbeat rebuilds them.
//
// One interface, two backends behind a table of functions (store-backend.h):
//   - SQLite (default, one replica): the file memschedd has always used, WAL mode with
//     synchronous=FULL, each write committed before it is published.
//   - etcd v3 through its JSON gateway (--etcd-endpoints): several replicas share the state.
// The state is records: a key "<collection>/<id>" (plans live under "migrations/") with a JSON
// value and the store revision that last changed it. Every change is a compare-and-swap, so of two
// writers (two replicas, or two handles on one file) exactly one wins: create succeeds only while
// the key is absent, update and delete only while its revision is the one the caller read.
// Records that must vanish on their own are attached to a lease (a TTL renewed by keep-alive).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/migration.h"

struct sched_store;

struct store_options {
        const char *sqlite_path;    /* used when etcd_endpoints is NULL; ":memory:" for tests */
        const char *etcd_endpoints; /* "URL[,URL...]", tried in order on connection failure */
        const char *etcd_prefix;    /* prepended to every key; NULL for "/memsched/" */
        const char *etcd_cert, *etcd_key, *etcd_ca; /* TLS client certificate, key, CA (PEM) */
};

struct store_record {
        char *key;   /* without the etcd prefix */
        char *value; /* NUL-terminated JSON */
        uint64_t mod_revision;
        uint64_t lease_id; /* 0 when none */
};
void store_record_done(struct store_record *r);
void store_record_list_free(struct store_record *l, size_t n);

/* Opens the backend o selects. Logs and returns a negative errno on failure. */
int store_open_with(const struct store_options *o, struct sched_store **ret);
/* Opens (creating if needed) the SQLite database at path. */
int store_open(const char *path, struct sched_store **ret);
void store_close(struct sched_store *st);
/* "sqlite" or "etcd". */
const char *store_backend_name(const struct sched_store *st);

/* Records. -ENOENT when absent (or its lease expired). */
int store_get(struct sched_store *st, const char *key, struct store_record *ret);
/* Every live record whose key starts with prefix, in key order (plans: creation order). */
int store_list(struct sched_store *st, const char *prefix, struct store_record **ret,
               size_t *ret_n);
/* Creates key; lease_id 0 for none. -EEXIST when it exists. *ret_mod_revision (may be NULL) gets
 * the record's revision. */
int store_create(struct sched_store *st, const char *key, const char *value, uint64_t lease_id,
                 uint64_t *ret_mod_revision);
/* Replaces the value of key, keeping its lease, if its revision is still expect_mod_revision:
 * -ESTALE when someone changed it since, -ENOENT when it is gone. */
int store_update(struct sched_store *st, const char *key, const char *value,
                 uint64_t expect_mod_revision, uint64_t *ret_mod_revision);
/* store_update that also moves key to lease_id (0: none), so that it lives as long as that lease
 * rather than its old one: -ESTALE, -ENOENT as above, -EOPNOTSUPP on SQLite. */
int store_update_leased(struct sched_store *st, const char *key, const char *value,
                        uint64_t lease_id, uint64_t expect_mod_revision,
                        uint64_t *ret_mod_revision);
/* Deletes key if its revision is still expect_mod_revision: -ESTALE, -ENOENT as above. */
int store_delete(struct sched_store *st, const char *key, uint64_t expect_mod_revision);

/* A record a write depends on, as the writer read it: key at mod_revision, holding value. */
struct store_guard {
        const char *key, *value;
        uint64_t mod_revision;
};
/* Creates or replaces key (no lease) with value, in one transaction with a compare on every
 * guard: only if each guard key is still at its mod_revision, and then each guard is written
 * again with its own value, so that its revision moves on and a second writer that read the
 * same revision fails. This is how a slab grant is made safe between memschedd replicas: the
 * lease is written guarded by its donors' offers, and of two grants from one offer exactly one
 * lands. -ESTALE when a guard moved or is gone (nothing written); -EINVAL for more than
 * STORE_GUARDS_MAX guards or a plan key. */
#define STORE_GUARDS_MAX 16
int store_put_guarded(struct sched_store *st, const char *key, const char *value,
                      const struct store_guard *guards, size_t n_guards,
                      uint64_t *ret_mod_revision);

/* Sets key to value whatever it held (creating it when absent): for records one writer owns,
 * such as pool offers and memory leases ("pools/NODE", "leases/ID"). */
int store_put(struct sched_store *st, const char *key, const char *value);
/* Deletes key whatever its revision; 0 also when it was absent. */
int store_remove(struct sched_store *st, const char *key);

/* store_list, and the store revision the listing is at: watch from there. */
int store_list_at(struct sched_store *st, const char *prefix, struct store_record **ret,
                  size_t *ret_n, uint64_t *ret_revision);

enum store_event_type {
        STORE_EVENT_PUT,    /* created or updated: rec.value is the new value */
        STORE_EVENT_DELETE, /* deleted or expired with its lease: rec.value is "" */
};
struct store_event {
        enum store_event_type type;
        struct store_record rec; /* rec.mod_revision: the revision of this change */
};
void store_event_list_free(struct store_event *l, size_t n);
/* Waits up to timeout_ms for changes under prefix after after_revision and returns the first
 * batch, in revision order (none when the time ran out). *ret_revision gets the revision the
 * caller is now current to: watch again from there. -ESTALE when the store no longer has the
 * history since after_revision (compacted): list again. -EOPNOTSUPP on SQLite, where this
 * replica is the only writer. Blocks without holding up the store's other calls. */
int store_watch(struct sched_store *st, const char *prefix, uint64_t after_revision,
                uint64_t timeout_ms, struct store_event **ret, size_t *ret_n,
                uint64_t *ret_revision);

/* A lease lives ttl_sec seconds after its grant or last keep-alive; its records go with it. */
int store_lease_grant(struct sched_store *st, uint64_t ttl_sec, uint64_t *ret_lease_id);
/* -ENOENT when the lease already expired. */
int store_lease_keepalive(struct sched_store *st, uint64_t lease_id);
int store_lease_revoke(struct sched_store *st, uint64_t lease_id);

/* Plans. The store remembers the revision of each plan it loaded or saved: saving a plan it
 * never saw creates it (-EEXIST if another writer did), saving a known one updates it only if
 * nobody else changed it since (-ESTALE otherwise). */
int store_save_migration(struct sched_store *st, const struct migration *m);
/* All stored plans, oldest first; caller frees with migration_list_free(). */
int store_load_migrations(struct sched_store *st, struct migration **ret, size_t *ret_n);
/* The same, and the store revision they were read at (to watch from). */
int store_load_migrations_at(struct sched_store *st, struct migration **ret, size_t *ret_n,
                             uint64_t *ret_revision);
/* Deletes finished plans (not PLANNED) beyond the newest keep. */
int store_prune(struct sched_store *st, size_t keep);

/* Plans that another writer (replica) created, changed or deleted. */
struct migration_change {
        char *id;
        bool deleted;
        struct migration m; /* the new plan, unless deleted */
        uint64_t mod_revision;
};
void migration_change_list_free(struct migration_change *l, size_t n);
/* store_watch() on the plans: the changes after after_revision, decoded, in order. */
int store_watch_migrations(struct sched_store *st, uint64_t after_revision, uint64_t timeout_ms,
                           struct migration_change **ret, size_t *ret_n, uint64_t *ret_revision);
/* Drops from l the changes this handle already has (its own saves come back through the watch,
 * possibly after newer ones) and remembers the revisions of the others, so that its next save of
 * those plans compares against them. Returns how many are left. Call it under the lock that
 * serialises this handle's saves, so that no save slips between the check and its use. */
size_t store_note_migration_changes(struct sched_store *st, struct migration_change *l, size_t n);
