// SPDX-License-Identifier: Apache-2.0
// The SQLite state backend: one replica, one file (--state-file), the schema memschedd has always
// written. Plans stay in the `migrations` table (id, state, created_at_usec, body), the columns
// SQLite derives from the JSON body; other collections go to `records`. Schema 2 adds to both the
// revision of the last change (a counter in `meta`, like etcd's store revision) and a lease id;
// a schema 1 file is upgraded in place on open. Writes run in BEGIN IMMEDIATE transactions so that
// two handles on one file compare and swap like two etcd clients do. Leases expire by the wall
// clock, since they must survive a restart: expired records are hidden on read and purged on the
// next write.
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "scheduler/cluster.h"
#include "scheduler/store-backend.h"

#define MIGRATION_PREFIX "migrations/"

struct sqlite_store {
        sqlite3 *db;
};

static int sql_error(sqlite3 *db, const char *what)
{
        int code = db ? sqlite3_errcode(db) : SQLITE_ERROR;
        int e = code == SQLITE_NOMEM ? ENOMEM
                : (code == SQLITE_CANTOPEN || code == SQLITE_PERM || code == SQLITE_READONLY)
                    ? EACCES
                : code == SQLITE_BUSY ? EBUSY
                                      : EIO;
        return log_error_errno(e, "SQLite: %s: %s", what, db ? sqlite3_errmsg(db) : "?");
}

/* Which table holds key, and the row id within it. */
static const char *table_for(const char *key, const char **ret_id)
{
        size_t n = strlen(MIGRATION_PREFIX);
        if (strncmp(key, MIGRATION_PREFIX, n) == 0) {
                *ret_id = key + n;
                return "migrations";
        }
        *ret_id = key;
        return "records";
}

static void sqlite_close(void *be)
{
        struct sqlite_store *s = be;
        if (!s)
                return;
        sqlite3_close(s->db);
        free(s);
}

static int exec(sqlite3 *db, const char *sql)
{
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
                return 0;
        int r = log_error_errno(sqlite3_errcode(db) == SQLITE_BUSY ? EBUSY : EIO, "SQLite: %s",
                                msg ? msg : "?");
        sqlite3_free(msg);
        return r;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
        if (sqlite3_prepare_v2(db, sql, -1, ret, NULL) != SQLITE_OK)
                return sql_error(db, "prepare");
        return 0;
}

static bool has_column(sqlite3 *db, const char *table, const char *column)
{
        sqlite3_stmt *q = NULL;
        char sql[128];
        bool found = false;
        snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                return false;
        while (!found && sqlite3_step(q) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(q, 1);
                found = name && strcmp(name, column) == 0;
        }
        sqlite3_finalize(q);
        return found;
}

int store_sqlite_open(const char *path, void **ret_be)
{
        static const char schema[] =
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=FULL;"
            "CREATE TABLE IF NOT EXISTS migrations ("
            "  id TEXT PRIMARY KEY,"
            "  state TEXT NOT NULL,"
            "  created_at_usec INTEGER NOT NULL,"
            "  body TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', '1');";
        static const char schema2[] = "BEGIN IMMEDIATE;"
                                      "CREATE TABLE IF NOT EXISTS records ("
                                      "  id TEXT PRIMARY KEY,"
                                      "  body TEXT NOT NULL,"
                                      "  mod_revision INTEGER NOT NULL,"
                                      "  lease_id INTEGER NOT NULL DEFAULT 0);"
                                      "CREATE TABLE IF NOT EXISTS leases ("
                                      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                      "  ttl_usec INTEGER NOT NULL,"
                                      "  expires_at_usec INTEGER NOT NULL);"
                                      "INSERT OR IGNORE INTO meta VALUES ('revision', '1');"
                                      "UPDATE meta SET value = '2' WHERE key = 'schema_version';";
        struct sqlite_store *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return log_error_errno(ENOMEM, "Failed to allocate the state store: %m");
        if (!path)
                path = ":memory:";
        /* Created private before SQLite opens it (SQLite would use 0644 less the umask); its
         * -wal and -shm files take the database file's mode. */
        if (strcmp(path, ":memory:") != 0) {
                int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd >= 0)
                        close(fd);
        }
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK) {
                r = sql_error(s->db, path);
                goto fail;
        }
        sqlite3_busy_timeout(s->db, 5000);
        r = exec(s->db, schema);
        if (r < 0)
                goto fail;
        r = exec(s->db, schema2);
        if (r < 0)
                goto fail;
        /* Schema 1 → 2: rows written before revisions existed count as revision 1. */
        if (!has_column(s->db, "migrations", "mod_revision"))
                r = exec(s->db, "ALTER TABLE migrations ADD COLUMN mod_revision INTEGER NOT NULL "
                                "DEFAULT 1;"
                                "ALTER TABLE migrations ADD COLUMN lease_id INTEGER NOT NULL "
                                "DEFAULT 0;");
        /* Every write purges what expired leases held: find those rows without a scan. */
        if (r >= 0)
                r = exec(s->db,
                         "CREATE INDEX IF NOT EXISTS migrations_lease ON migrations (lease_id);"
                         "CREATE INDEX IF NOT EXISTS records_lease ON records (lease_id);");
        if (r >= 0)
                r = exec(s->db, "COMMIT;");
        if (r < 0) {
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                log_error("Failed to set up state database %s", path);
                goto fail;
        }
        *ret_be = s;
        return 0;
fail:
        sqlite_close(s);
        return r;
}

/* A record is live while it has no lease or its lease has not expired (?9 = now). */
#define LIVE "(lease_id = 0 OR lease_id IN (SELECT id FROM leases WHERE expires_at_usec > ?9))"

static int sqlite_get(void *be, const char *key, struct store_record *ret)
{
        struct sqlite_store *s = be;
        const char *id;
        const char *table = table_for(key, &id);
        sqlite3_stmt *q = NULL;
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT body, mod_revision, lease_id FROM %s WHERE id = ?1 AND " LIVE, table);
        int r = prepare(s->db, sql, &q);
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 9, (sqlite3_int64)now_usec(CLOCK_REALTIME));
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
                struct store_record rec = {
                        .key = strdup(key),
                        .value = strdup((const char *)sqlite3_column_text(q, 0)),
                        .mod_revision = (uint64_t)sqlite3_column_int64(q, 1),
                        .lease_id = (uint64_t)sqlite3_column_int64(q, 2),
                };
                r = rec.key && rec.value ? 0 : -ENOMEM;
                if (r < 0)
                        store_record_done(&rec);
                else
                        *ret = rec;
        } else
                r = rc == SQLITE_DONE ? -ENOENT : sql_error(s->db, "reading a record");
        sqlite3_finalize(q);
        return r;
}

/* The revision of the last write (meta's counter). */
static int store_revision(struct sqlite_store *s, uint64_t *ret)
{
        sqlite3_stmt *q = NULL;
        int r =
            prepare(s->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'revision'", &q);
        if (r < 0)
                return r;
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
                *ret = (uint64_t)sqlite3_column_int64(q, 0);
        else
                r = sql_error(s->db, "reading the revision");
        sqlite3_finalize(q);
        return r;
}

static int sqlite_list(void *be, const char *prefix, struct store_record **ret, size_t *ret_n,
                       uint64_t *ret_revision)
{
        struct sqlite_store *s = be;
        const char *id_prefix;
        const char *table = table_for(prefix, &id_prefix);
        bool plans = strcmp(table, "migrations") == 0;
        size_t skip = (size_t)(id_prefix - prefix);
        struct store_record *l = NULL;
        size_t n = 0, cap = 0;
        sqlite3_stmt *q = NULL;
        char sql[512];
        /* Plans in creation order, as memschedd always loaded them. */
        snprintf(sql, sizeof(sql),
                 "SELECT id, body, mod_revision, lease_id FROM %s"
                 " WHERE substr(id, 1, length(?1)) = ?1 AND " LIVE " ORDER BY %s",
                 table, plans ? "created_at_usec, id" : "id");
        int r = prepare(s->db, sql, &q);
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, id_prefix, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 9, (sqlite3_int64)now_usec(CLOCK_REALTIME));
        for (;;) {
                int rc = sqlite3_step(q);
                if (rc == SQLITE_DONE)
                        break;
                if (rc != SQLITE_ROW) {
                        r = sql_error(s->db, "listing records");
                        goto fail;
                }
                const char *id = (const char *)sqlite3_column_text(q, 0);
                const char *body = (const char *)sqlite3_column_text(q, 1);
                char key[512];
                snprintf(key, sizeof(key), "%.*s%s", (int)skip, prefix, id ? id : "");
                r = store_record_list_append(&l, &n, &cap, key, body ? body : "",
                                             (uint64_t)sqlite3_column_int64(q, 2),
                                             (uint64_t)sqlite3_column_int64(q, 3));
                if (r < 0)
                        goto fail;
        }
        sqlite3_finalize(q);
        q = NULL;
        if (ret_revision && (r = store_revision(s, ret_revision)) < 0)
                goto fail;
        *ret = l;
        *ret_n = n;
        return 0;
fail:
        sqlite3_finalize(q);
        store_record_list_free(l, n);
        return r;
}

/* Starts a write: takes the database's write lock, drops what expired leases held, and returns
 * the next revision in *ret_revision. */
static int write_begin(struct sqlite_store *s, uint64_t *ret_revision)
{
        sqlite3_stmt *q = NULL;
        int r = exec(s->db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        static const char *purge[] = {
                "DELETE FROM migrations WHERE lease_id != 0 AND lease_id NOT IN"
                " (SELECT id FROM leases WHERE expires_at_usec > ?1)",
                "DELETE FROM records WHERE lease_id != 0 AND lease_id NOT IN"
                " (SELECT id FROM leases WHERE expires_at_usec > ?1)",
                "DELETE FROM leases WHERE expires_at_usec <= ?1",
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'"
                " RETURNING CAST(value AS INTEGER)",
        };
        uint64_t now_real_usec = now_usec(CLOCK_REALTIME);
        for (size_t i = 0; i < ELEMENTSOF(purge) && r >= 0; i++) {
                r = prepare(s->db, purge[i], &q);
                if (r < 0)
                        break;
                if (i < 3)
                        sqlite3_bind_int64(q, 1, (sqlite3_int64)now_real_usec);
                int rc = sqlite3_step(q);
                if (i == 3 && rc == SQLITE_ROW)
                        *ret_revision = (uint64_t)sqlite3_column_int64(q, 0);
                else if (rc != SQLITE_DONE)
                        r = sql_error(s->db, "starting a write");
                sqlite3_finalize(q);
        }
        if (r < 0)
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* Commits on r >= 0, else rolls back; returns r or the commit's error. */
static int write_end(struct sqlite_store *s, int r)
{
        if (r < 0) {
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        r = exec(s->db, "COMMIT");
        if (r < 0)
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* The revision of the live row id in table (0 when there is none). */
static int current_revision(struct sqlite_store *s, const char *table, const char *id,
                            uint64_t *ret)
{
        sqlite3_stmt *q = NULL;
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT mod_revision FROM %s WHERE id = ?1", table);
        int r = prepare(s->db, sql, &q);
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
                *ret = (uint64_t)sqlite3_column_int64(q, 0);
        else if (rc == SQLITE_DONE)
                *ret = 0;
        else
                r = sql_error(s->db, "reading a revision");
        sqlite3_finalize(q);
        return r;
}

static int step_done(struct sqlite_store *s, sqlite3_stmt *q, const char *what)
{
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        return rc == SQLITE_DONE ? 0 : sql_error(s->db, what);
}

/* One record written by sql, whose parameters are ?1 id, ?2 value (the body), ?3 rev (its
 * mod_revision) and, where the statement has it, ?4 lease_id. */
static int write_record(struct sqlite_store *s, const char *sql, const char *id, const char *value,
                        uint64_t rev, uint64_t lease_id, const char *what)
{
        sqlite3_stmt *q = NULL;
        int r = prepare(s->db, sql, &q);
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)rev);
        if (sqlite3_bind_parameter_count(q) >= 4)
                sqlite3_bind_int64(q, 4, (sqlite3_int64)lease_id);
        return step_done(s, q, what);
}

static int lease_alive(struct sqlite_store *s, uint64_t lease_id)
{
        sqlite3_stmt *q = NULL;
        int r = prepare(s->db, "SELECT 1 FROM leases WHERE id = ?1 AND expires_at_usec > ?2", &q);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, (sqlite3_int64)lease_id);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)now_usec(CLOCK_REALTIME));
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sql_error(s->db, "lease");
}

static int sqlite_create(void *be, const char *key, const char *value, uint64_t lease_id,
                         uint64_t *ret_mod_revision)
{
        struct sqlite_store *s = be;
        const char *id;
        const char *table = table_for(key, &id);
        uint64_t rev = 0, cur = 0;
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        r = current_revision(s, table, id, &cur);
        if (r >= 0 && cur)
                r = -EEXIST;
        if (r >= 0 && lease_id)
                r = lease_alive(s, lease_id);
        if (r >= 0)
                r = write_record(s,
                                 strcmp(table, "migrations") == 0
                                     ? "INSERT INTO migrations (id, state, created_at_usec, body,"
                                       " mod_revision, lease_id) VALUES (?1,"
                                       " json_extract(?2, '$.state'),"
                                       " json_extract(?2, '$.created_at_usec'), ?2, ?3, ?4)"
                                     : "INSERT INTO records (id, body, mod_revision, lease_id)"
                                       " VALUES (?1, ?2, ?3, ?4)",
                                 id, value, rev, lease_id, "creating a record");
        r = write_end(s, r);
        if (r >= 0)
                *ret_mod_revision = rev;
        return r;
}

/* The compare half of update and delete: -ENOENT when gone, -ESTALE when changed. */
static int compare_revision(struct sqlite_store *s, const char *table, const char *id,
                            uint64_t expect)
{
        uint64_t cur = 0;
        int r = current_revision(s, table, id, &cur);
        if (r < 0)
                return r;
        return cur == 0 ? -ENOENT : cur != expect ? -ESTALE : 0;
}

static int sqlite_update(void *be, const char *key, const char *value, uint64_t expect,
                         uint64_t *ret_mod_revision)
{
        struct sqlite_store *s = be;
        const char *id;
        const char *table = table_for(key, &id);
        uint64_t rev = 0;
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        r = compare_revision(s, table, id, expect);
        if (r >= 0)
                r = write_record(
                    s,
                    strcmp(table, "migrations") == 0
                        ? "UPDATE migrations SET state = json_extract(?2, '$.state'),"
                          " created_at_usec = json_extract(?2, '$.created_at_usec'),"
                          " body = ?2, mod_revision = ?3 WHERE id = ?1"
                        : "UPDATE records SET body = ?2, mod_revision = ?3 WHERE id = ?1",
                    id, value, rev, 0, "updating a record");
        r = write_end(s, r);
        if (r >= 0)
                *ret_mod_revision = rev;
        return r;
}

/* The same transaction as etcd's: every guard compared and written again, then key upserted. */
static int sqlite_put_guarded(void *be, const char *key, const char *value,
                              const struct store_guard *guards, size_t n_guards,
                              uint64_t *ret_mod_revision)
{
        struct sqlite_store *s = be;
        const char *id, *gid;
        uint64_t rev = 0;
        if (strcmp(table_for(key, &id), "records") != 0)
                return -EINVAL;
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_guards && r >= 0; i++) {
                if (strcmp(table_for(guards[i].key, &gid), "records") != 0) {
                        r = -EINVAL;
                        break;
                }
                r = compare_revision(s, "records", gid, guards[i].mod_revision);
                if (r == -ENOENT)
                        r = -ESTALE;
                if (r >= 0)
                        r = write_record(
                            s, "UPDATE records SET body = ?2, mod_revision = ?3 WHERE id = ?1", gid,
                            guards[i].value, rev, 0, "writing a guard record");
        }
        if (r >= 0)
                r = write_record(s,
                                 "INSERT INTO records (id, body, mod_revision, lease_id)"
                                 " VALUES (?1, ?2, ?3, 0) ON CONFLICT(id) DO UPDATE SET"
                                 " body = excluded.body, mod_revision = excluded.mod_revision,"
                                 " lease_id = 0",
                                 id, value, rev, 0, "writing a guarded record");
        r = write_end(s, r);
        if (r >= 0)
                *ret_mod_revision = rev;
        return r;
}

static int sqlite_remove(void *be, const char *key, uint64_t expect)
{
        struct sqlite_store *s = be;
        const char *id;
        const char *table = table_for(key, &id);
        uint64_t rev = 0;
        sqlite3_stmt *q = NULL;
        char sql[96];
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        r = compare_revision(s, table, id, expect);
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?1", table);
        if (r >= 0)
                r = prepare(s->db, sql, &q);
        if (r >= 0) {
                sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
                r = step_done(s, q, "deleting a record");
        }
        return write_end(s, r);
}

static int sqlite_lease_grant(void *be, uint64_t ttl_sec, uint64_t *ret_lease_id)
{
        struct sqlite_store *s = be;
        uint64_t rev = 0;
        sqlite3_stmt *q = NULL;
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        r = prepare(s->db, "INSERT INTO leases (ttl_usec, expires_at_usec) VALUES (?1, ?2)", &q);
        if (r >= 0) {
                sqlite3_bind_int64(q, 1, (sqlite3_int64)(ttl_sec * 1000000));
                sqlite3_bind_int64(q, 2,
                                   (sqlite3_int64)(now_usec(CLOCK_REALTIME) + ttl_sec * 1000000));
                r = step_done(s, q, "granting a lease");
        }
        uint64_t id = (uint64_t)sqlite3_last_insert_rowid(s->db);
        r = write_end(s, r);
        if (r >= 0)
                *ret_lease_id = id;
        return r;
}

static int sqlite_lease_keepalive(void *be, uint64_t lease_id)
{
        struct sqlite_store *s = be;
        uint64_t rev = 0;
        sqlite3_stmt *q = NULL;
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        r = prepare(s->db,
                    "UPDATE leases SET expires_at_usec = ?2 + ttl_usec"
                    " WHERE id = ?1 AND expires_at_usec > ?2",
                    &q);
        if (r >= 0) {
                sqlite3_bind_int64(q, 1, (sqlite3_int64)lease_id);
                sqlite3_bind_int64(q, 2, (sqlite3_int64)now_usec(CLOCK_REALTIME));
                r = step_done(s, q, "renewing a lease");
        }
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return write_end(s, r);
}

static int sqlite_lease_revoke(void *be, uint64_t lease_id)
{
        struct sqlite_store *s = be;
        static const char *sql[] = {
                "DELETE FROM migrations WHERE lease_id = ?1",
                "DELETE FROM records WHERE lease_id = ?1",
                "DELETE FROM leases WHERE id = ?1",
        };
        uint64_t rev = 0;
        int r = write_begin(s, &rev);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(sql) && r >= 0; i++) {
                sqlite3_stmt *q = NULL;
                r = prepare(s->db, sql[i], &q);
                if (r < 0)
                        break;
                sqlite3_bind_int64(q, 1, (sqlite3_int64)lease_id);
                r = step_done(s, q, "revoking a lease");
                if (r >= 0 && i == 2 && sqlite3_changes(s->db) == 0)
                        r = -ENOENT;
        }
        return write_end(s, r);
}

const struct store_backend store_backend_sqlite = {
        .name = "sqlite",
        .close = sqlite_close,
        .get = sqlite_get,
        .list = sqlite_list,
        .create = sqlite_create,
        .update = sqlite_update,
        .remove = sqlite_remove,
        .put_guarded = sqlite_put_guarded,
        .lease_grant = sqlite_lease_grant,
        .lease_keepalive = sqlite_lease_keepalive,
        .lease_revoke = sqlite_lease_revoke,
};
