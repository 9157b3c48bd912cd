// SPDX-License-Identifier: Apache-2.0
#include "scheduler/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

struct sched_store {
        sqlite3 *db;
        sqlite3_stmt *upsert;
};

static int sql_error(sqlite3 *db, const char *what)
{
        int code = db ? sqlite3_errcode(db) : SQLITE_ERROR;
        int e = code == SQLITE_NOMEM ? ENOMEM
                : (code == SQLITE_CANTOPEN || code == SQLITE_PERM || code == SQLITE_READONLY)
                    ? EACCES
                    : EIO;
        return log_error_errno(e, "SQLite: %s: %s", what, db ? sqlite3_errmsg(db) : "?");
}

void store_close(struct sched_store *st)
{
        if (!st)
                return;
        sqlite3_finalize(st->upsert);
        sqlite3_close(st->db);
        free(st);
}

int store_open(const char *path, struct sched_store **ret)
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
        struct sched_store *st = calloc(1, sizeof(*st));
        char *msg = NULL;

        if (!st)
                return log_error_errno(ENOMEM, "Failed to allocate the state store: %m");
        /* Created private before SQLite opens it (SQLite would use 0644 less the umask); its
         * -wal and -shm files take the database file's mode. */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
                close(fd);
        if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK) {
                int r = sql_error(st->db, path);
                store_close(st);
                return r;
        }
        sqlite3_busy_timeout(st->db, 5000);
        if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
                int r = log_error_errno(EIO, "Failed to set up state database %s: %s", path,
                                        msg ? msg : "?");
                sqlite3_free(msg);
                store_close(st);
                return r;
        }
        if (sqlite3_prepare_v2(
                st->db,
                "INSERT OR REPLACE INTO migrations (id, state, created_at_usec, body)"
                " VALUES (?1, ?2, ?3, ?4)",
                -1, &st->upsert, NULL) != SQLITE_OK) {
                int r = sql_error(st->db, "prepare");
                store_close(st);
                return r;
        }
        *ret = st;
        return 0;
}

int store_save_migration(struct sched_store *st, const struct migration *m)
{
        _cleanup_json_ struct json_object *o = migration_encode(m);
        _cleanup_free_ char *body = o ? api_to_string(o, NULL) : NULL;
        if (!body)
                return log_error_errno(ENOMEM, "Failed to encode migration %s: %m", m->id);
        sqlite3_reset(st->upsert);
        sqlite3_bind_text(st->upsert, 1, m->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st->upsert, 2, migration_state_to_string(m->state), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st->upsert, 3, (sqlite3_int64)m->created_at_usec);
        sqlite3_bind_text(st->upsert, 4, body, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st->upsert);
        sqlite3_reset(st->upsert);
        if (rc != SQLITE_DONE)
                return sql_error(st->db, "saving a migration");
        return 0;
}

int store_load_migrations(struct sched_store *st, struct migration **ret, size_t *ret_n)
{
        sqlite3_stmt *q = NULL;
        struct migration *l = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        if (sqlite3_prepare_v2(st->db,
                               "SELECT id, body FROM migrations ORDER BY created_at_usec, id", -1,
                               &q, NULL) != SQLITE_OK)
                return sql_error(st->db, "prepare");
        for (;;) {
                int rc = sqlite3_step(q);
                if (rc == SQLITE_DONE)
                        break;
                if (rc != SQLITE_ROW) {
                        r = sql_error(st->db, "loading migrations");
                        goto fail;
                }
                const char *id = (const char *)sqlite3_column_text(q, 0);
                const char *body = (const char *)sqlite3_column_text(q, 1);
                struct json_object *o = NULL;
                struct api_error err = {};
                if (!body || api_parse(body, strlen(body), &o, &err) < 0) {
                        log_warning("State database: migration %s is not valid JSON (%s), "
                                    "ignoring",
                                    id ? id : "?", err.message);
                        continue;
                }
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        struct migration *nl = realloc(l, cap * sizeof(*nl));
                        if (!nl) {
                                json_object_put(o);
                                r = log_error_errno(ENOMEM, "Failed to load migrations: %m");
                                goto fail;
                        }
                        l = nl;
                }
                r = migration_decode(o, "", &l[n], &err);
                json_object_put(o);
                if (r < 0) {
                        log_warning("State database: migration %s: %s: %s, ignoring", id ? id : "?",
                                    err.field, err.message);
                        r = 0;
                        continue;
                }
                n++;
        }
        sqlite3_finalize(q);
        *ret = l;
        *ret_n = n;
        return 0;
fail:
        sqlite3_finalize(q);
        migration_list_free(l, n);
        return r;
}

int store_prune(struct sched_store *st, size_t keep)
{
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db,
                               "DELETE FROM migrations WHERE state != 'planned' AND id NOT IN ("
                               " SELECT id FROM migrations ORDER BY created_at_usec DESC LIMIT ?1)",
                               -1, &q, NULL) != SQLITE_OK)
                return sql_error(st->db, "prepare");
        sqlite3_bind_int64(q, 1, (sqlite3_int64)keep);
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
                return sql_error(st->db, "pruning migrations");
        return 0;
}
