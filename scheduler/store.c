// SPDX-License-Identifier: Apache-2.0
#include "scheduler/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "scheduler/store-backend.h"

#define MIGRATION_PREFIX "migrations/"

/* The revision at which this handle last read or wrote a plan: what its next update of that
 * plan compares against. */
struct seen_revision {
        char *id;
        uint64_t mod_revision;
};

struct sched_store {
        const struct store_backend *ops;
        void *be;
        /* SQLite holds one connection that is not safe to use from two threads at once; callers
         * are mostly serialised already (cluster write_lock). Also guards seen. */
        pthread_mutex_t lock;
        struct seen_revision *seen;
        size_t n_seen, cap_seen;
};

void store_record_done(struct store_record *r)
{
        if (!r)
                return;
        free(r->key);
        free(r->value);
        *r = (struct store_record){};
}

void store_record_list_free(struct store_record *l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                store_record_done(&l[i]);
        free(l);
}

int store_record_list_append(struct store_record **list, size_t *n, size_t *cap, const char *key,
                             const char *value, uint64_t mod_revision, uint64_t lease_id)
{
        if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                struct store_record *nl = realloc(*list, ncap * sizeof(*nl));
                if (!nl)
                        return -ENOMEM;
                *list = nl;
                *cap = ncap;
        }
        struct store_record r = { .key = strdup(key),
                                  .value = strdup(value),
                                  .mod_revision = mod_revision,
                                  .lease_id = lease_id };
        if (!r.key || !r.value) {
                store_record_done(&r);
                return -ENOMEM;
        }
        (*list)[(*n)++] = r;
        return 0;
}

int store_open_with(const struct store_options *o, struct sched_store **ret)
{
        struct sched_store *st = calloc(1, sizeof(*st));
        int r;

        if (!st)
                return log_error_errno(ENOMEM, "Failed to allocate the state store: %m");
        if (o->etcd_endpoints && *o->etcd_endpoints) {
                st->ops = &store_backend_etcd;
                r = store_etcd_open(o, &st->be);
        } else {
                st->ops = &store_backend_sqlite;
                r = store_sqlite_open(o->sqlite_path, &st->be);
        }
        if (r < 0) {
                free(st);
                return r;
        }
        pthread_mutex_init(&st->lock, NULL);
        *ret = st;
        return 0;
}

int store_open(const char *path, struct sched_store **ret)
{
        return store_open_with(&(struct store_options){ .sqlite_path = path }, ret);
}

void store_close(struct sched_store *st)
{
        if (!st)
                return;
        st->ops->close(st->be);
        for (size_t i = 0; i < st->n_seen; i++)
                free(st->seen[i].id);
        free(st->seen);
        pthread_mutex_destroy(&st->lock);
        free(st);
}

const char *store_backend_name(const struct sched_store *st)
{
        return st->ops->name;
}

/* A backend call, under the lock unless the backend serialises itself (etcd: one request need
 * not wait for another one's answer). */
#define LOCKED(st, call)                                                                           \
        ({                                                                                         \
                bool _lock_ = !(st)->ops->thread_safe;                                             \
                if (_lock_)                                                                        \
                        pthread_mutex_lock(&(st)->lock);                                           \
                int _r_ = (call);                                                                  \
                if (_lock_)                                                                        \
                        pthread_mutex_unlock(&(st)->lock);                                         \
                _r_;                                                                               \
        })

int store_get(struct sched_store *st, const char *key, struct store_record *ret)
{
        return LOCKED(st, st->ops->get(st->be, key, ret));
}

int store_list(struct sched_store *st, const char *prefix, struct store_record **ret, size_t *ret_n)
{
        return LOCKED(st, st->ops->list(st->be, prefix, ret, ret_n, NULL));
}

int store_list_at(struct sched_store *st, const char *prefix, struct store_record **ret,
                  size_t *ret_n, uint64_t *ret_revision)
{
        uint64_t rev = 0;
        int r = LOCKED(st, st->ops->list(st->be, prefix, ret, ret_n, &rev));
        if (r >= 0)
                *ret_revision = rev;
        return r;
}

void store_event_list_free(struct store_event *l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                store_record_done(&l[i].rec);
        free(l);
}

int store_watch(struct sched_store *st, const char *prefix, uint64_t after_revision,
                uint64_t timeout_ms, struct store_event **ret, size_t *ret_n,
                uint64_t *ret_revision)
{
        if (!st->ops->watch)
                return -EOPNOTSUPP;
        return st->ops->watch(st->be, prefix, after_revision, timeout_ms, ret, ret_n, ret_revision);
}

int store_create(struct sched_store *st, const char *key, const char *value, uint64_t lease_id,
                 uint64_t *ret_mod_revision)
{
        uint64_t rev = 0;
        int r = LOCKED(st, st->ops->create(st->be, key, value, lease_id, &rev));
        if (r >= 0 && ret_mod_revision)
                *ret_mod_revision = rev;
        return r;
}

int store_update(struct sched_store *st, const char *key, const char *value,
                 uint64_t expect_mod_revision, uint64_t *ret_mod_revision)
{
        uint64_t rev = 0;
        int r = LOCKED(st, st->ops->update(st->be, key, value, expect_mod_revision, &rev));
        if (r >= 0 && ret_mod_revision)
                *ret_mod_revision = rev;
        return r;
}

int store_update_leased(struct sched_store *st, const char *key, const char *value,
                        uint64_t lease_id, uint64_t expect_mod_revision, uint64_t *ret_mod_revision)
{
        uint64_t rev = 0;
        if (!st->ops->update_leased)
                return -EOPNOTSUPP;
        int r = LOCKED(
            st, st->ops->update_leased(st->be, key, value, lease_id, expect_mod_revision, &rev));
        if (r >= 0 && ret_mod_revision)
                *ret_mod_revision = rev;
        return r;
}

int store_delete(struct sched_store *st, const char *key, uint64_t expect_mod_revision)
{
        return LOCKED(st, st->ops->remove(st->be, key, expect_mod_revision));
}

int store_put_guarded(struct sched_store *st, const char *key, const char *value,
                      const struct store_guard *guards, size_t n_guards, uint64_t *ret_mod_revision)
{
        if (n_guards > STORE_GUARDS_MAX ||
            strncmp(key, MIGRATION_PREFIX, strlen(MIGRATION_PREFIX)) == 0)
                return -EINVAL;
        for (size_t i = 0; i < n_guards; i++)
                if (strncmp(guards[i].key, MIGRATION_PREFIX, strlen(MIGRATION_PREFIX)) == 0 ||
                    guards[i].mod_revision == 0)
                        return -EINVAL;
        uint64_t rev = 0;
        int r = LOCKED(st, st->ops->put_guarded(st->be, key, value, guards, n_guards, &rev));
        if (r >= 0 && ret_mod_revision)
                *ret_mod_revision = rev;
        return r;
}

/* Last writer wins: the record is read for its revision and replaced against it; a writer that
 * slipped in between (-ESTALE, -EEXIST, -ENOENT) makes us read again. */
#define STORE_PUT_ATTEMPTS 5

int store_put(struct sched_store *st, const char *key, const char *value)
{
        int r = -ESTALE;
        for (int attempt = 0; attempt < STORE_PUT_ATTEMPTS; attempt++) {
                struct store_record rec = {};
                r = store_get(st, key, &rec);
                if (r == -ENOENT)
                        r = store_create(st, key, value, 0, NULL);
                else if (r >= 0)
                        r = store_update(st, key, value, rec.mod_revision, NULL);
                store_record_done(&rec);
                if (r != -ESTALE && r != -EEXIST && r != -ENOENT)
                        return r < 0 ? r : 0;
        }
        return r;
}

int store_remove(struct sched_store *st, const char *key)
{
        int r = -ESTALE;
        for (int attempt = 0; attempt < STORE_PUT_ATTEMPTS; attempt++) {
                struct store_record rec = {};
                r = store_get(st, key, &rec);
                if (r >= 0)
                        r = store_delete(st, key, rec.mod_revision);
                store_record_done(&rec);
                if (r == -ENOENT)
                        return 0;
                if (r != -ESTALE)
                        return r < 0 ? r : 0;
        }
        return r;
}

int store_lease_grant(struct sched_store *st, uint64_t ttl_sec, uint64_t *ret_lease_id)
{
        if (ttl_sec == 0)
                return -EINVAL;
        return LOCKED(st, st->ops->lease_grant(st->be, ttl_sec, ret_lease_id));
}

int store_lease_keepalive(struct sched_store *st, uint64_t lease_id)
{
        return LOCKED(st, st->ops->lease_keepalive(st->be, lease_id));
}

int store_lease_revoke(struct sched_store *st, uint64_t lease_id)
{
        return LOCKED(st, st->ops->lease_revoke(st->be, lease_id));
}

/* Called with st->lock held. */
static struct seen_revision *seen_find(struct sched_store *st, const char *id)
{
        /* Linear: a few thousand plans at most, and each save costs an fsync or a round trip. */
        for (size_t i = 0; i < st->n_seen; i++)
                if (strcmp(st->seen[i].id, id) == 0)
                        return &st->seen[i];
        return NULL;
}

static int seen_set(struct sched_store *st, const char *id, uint64_t mod_revision)
{
        struct seen_revision *s = seen_find(st, id);
        if (s) {
                s->mod_revision = mod_revision;
                return 0;
        }
        if (st->n_seen == st->cap_seen) {
                size_t ncap = st->cap_seen ? st->cap_seen * 2 : 64;
                struct seen_revision *n = realloc(st->seen, ncap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                st->seen = n;
                st->cap_seen = ncap;
        }
        char *dup = strdup(id);
        if (!dup)
                return -ENOMEM;
        st->seen[st->n_seen++] = (struct seen_revision){ .id = dup, .mod_revision = mod_revision };
        return 0;
}

static void seen_drop(struct sched_store *st, const char *id)
{
        struct seen_revision *s = seen_find(st, id);
        if (!s)
                return;
        free(s->id);
        *s = st->seen[--st->n_seen];
}

static int migration_key(const char *id, char *buf, size_t size)
{
        if (!id || !*id || strchr(id, '/'))
                return -EINVAL;
        if ((size_t)snprintf(buf, size, MIGRATION_PREFIX "%s", id) >= size)
                return -ENAMETOOLONG;
        return 0;
}

int store_save_migration(struct sched_store *st, const struct migration *m)
{
        char key[256];
        int r = migration_key(m->id, key, sizeof(key));
        if (r < 0)
                return log_error_errno(r, "Refusing to store migration \"%s\": bad id",
                                       m->id ? m->id : "");
        _cleanup_json_ struct json_object *o = migration_encode(m);
        _cleanup_free_ char *body = o ? api_to_string(o, NULL) : NULL;
        if (!body)
                return log_error_errno(ENOMEM, "Failed to encode migration %s: %m", m->id);

        pthread_mutex_lock(&st->lock);
        struct seen_revision *seen = seen_find(st, m->id);
        uint64_t rev = 0;
        if (seen)
                r = st->ops->update(st->be, key, body, seen->mod_revision, &rev);
        else
                r = st->ops->create(st->be, key, body, 0, &rev);
        if (r >= 0)
                r = seen_set(st, m->id, rev);
        pthread_mutex_unlock(&st->lock);
        if (r == -EEXIST || r == -ESTALE || r == -ENOENT)
                return log_warning_errno(r,
                                         "Migration %s was changed by another writer since this "
                                         "replica read it (%s), not saving",
                                         m->id, seen ? "revision moved" : "already exists");
        if (r < 0)
                return log_error_errno(r, "Failed to save migration %s in the %s store: %m", m->id,
                                       st->ops->name);
        return 0;
}

struct loaded {
        struct migration m;
        uint64_t mod_revision;
};

static int loaded_cmp(const void *a, const void *b)
{
        const struct migration *x = &((const struct loaded *)a)->m,
                               *y = &((const struct loaded *)b)->m;
        if (x->created_at_usec != y->created_at_usec)
                return x->created_at_usec < y->created_at_usec ? -1 : 1;
        return strcmp(x->id, y->id);
}

/* Decodes one stored plan; logs and returns < 0 for one that is not valid. */
static int decode_plan(const char *key, const char *value, struct migration *ret)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        if (api_parse(value, strlen(value), &o, &err) < 0) {
                log_warning("State store: migration %s is not valid JSON (%s), ignoring", key,
                            err.message);
                return -EBADMSG;
        }
        int r = migration_decode(o, "", ret, &err);
        json_object_put(o);
        if (r < 0)
                log_warning("State store: migration %s: %s: %s, ignoring", key, err.field,
                            err.message);
        return r;
}

/* Decodes the stored plans, oldest first. Called with st->lock held. */
static int load_locked(struct sched_store *st, struct loaded **ret, size_t *ret_n,
                       uint64_t *ret_revision)
{
        struct store_record *recs = NULL;
        size_t n_recs = 0, n = 0;
        int r = st->ops->list(st->be, MIGRATION_PREFIX, &recs, &n_recs, ret_revision);
        if (r < 0)
                return log_error_errno(r, "Failed to load migrations from the %s store: %m",
                                       st->ops->name);
        struct loaded *l = calloc(n_recs ? n_recs : 1, sizeof(*l));
        if (!l) {
                store_record_list_free(recs, n_recs);
                return log_error_errno(ENOMEM, "Failed to load migrations: %m");
        }
        for (size_t i = 0; i < n_recs; i++)
                if (decode_plan(recs[i].key, recs[i].value, &l[n].m) >= 0)
                        l[n++].mod_revision = recs[i].mod_revision;
        store_record_list_free(recs, n_recs);
        qsort(l, n, sizeof(*l), loaded_cmp);
        *ret = l;
        *ret_n = n;
        return 0;
}

static void loaded_free(struct loaded *l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                migration_done(&l[i].m);
        free(l);
}

int store_load_migrations(struct sched_store *st, struct migration **ret, size_t *ret_n)
{
        uint64_t revision;
        return store_load_migrations_at(st, ret, ret_n, &revision);
}

int store_load_migrations_at(struct sched_store *st, struct migration **ret, size_t *ret_n,
                             uint64_t *ret_revision)
{
        struct loaded *l = NULL;
        size_t n = 0;
        uint64_t revision = 0;
        int r;

        pthread_mutex_lock(&st->lock);
        r = load_locked(st, &l, &n, &revision);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = seen_set(st, l[i].m.id, l[i].mod_revision);
        pthread_mutex_unlock(&st->lock);
        if (r < 0) {
                loaded_free(l, n);
                return r;
        }
        struct migration *out = calloc(n ? n : 1, sizeof(*out));
        if (!out) {
                loaded_free(l, n);
                return log_error_errno(ENOMEM, "Failed to load migrations: %m");
        }
        for (size_t i = 0; i < n; i++)
                out[i] = l[i].m; /* moved */
        free(l);
        *ret = out;
        *ret_n = n;
        *ret_revision = revision;
        return 0;
}

int store_prune(struct sched_store *st, size_t keep)
{
        struct loaded *l = NULL;
        size_t n = 0;
        char key[256];
        int r;

        pthread_mutex_lock(&st->lock);
        r = load_locked(st, &l, &n, NULL);
        for (size_t i = 0; r >= 0 && n > keep && i < n - keep; i++) {
                if (l[i].m.state == MIGRATION_PLANNED ||
                    migration_key(l[i].m.id, key, sizeof(key)) < 0)
                        continue;
                r = st->ops->remove(st->be, key, l[i].mod_revision);
                if (r == -ESTALE || r == -ENOENT)
                        r = 0; /* another writer touched it: it is theirs to prune */
                else if (r >= 0)
                        seen_drop(st, l[i].m.id);
        }
        pthread_mutex_unlock(&st->lock);
        loaded_free(l, n);
        if (r < 0)
                return log_error_errno(r, "Failed to prune migrations: %m");
        return 0;
}

void migration_change_list_free(struct migration_change *l, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(l[i].id);
                migration_done(&l[i].m);
        }
        free(l);
}

int store_watch_migrations(struct sched_store *st, uint64_t after_revision, uint64_t timeout_ms,
                           struct migration_change **ret, size_t *ret_n, uint64_t *ret_revision)
{
        struct store_event *ev = NULL;
        size_t n_ev = 0, n = 0;
        uint64_t revision = after_revision;
        int r =
            store_watch(st, MIGRATION_PREFIX, after_revision, timeout_ms, &ev, &n_ev, &revision);
        if (r < 0)
                return r;
        struct migration_change *l = calloc(n_ev ? n_ev : 1, sizeof(*l));
        if (!l) {
                store_event_list_free(ev, n_ev);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_ev; i++) {
                struct migration_change *c = &l[n];
                *c = (struct migration_change){ .id = strdup(ev[i].rec.key +
                                                             strlen(MIGRATION_PREFIX)),
                                                .deleted = ev[i].type == STORE_EVENT_DELETE,
                                                .mod_revision = ev[i].rec.mod_revision };
                if (!c->id) {
                        r = -ENOMEM;
                        break;
                }
                if (!c->deleted && decode_plan(ev[i].rec.key, ev[i].rec.value, &c->m) < 0) {
                        free(c->id);
                        continue;
                }
                n++;
        }
        store_event_list_free(ev, n_ev);
        if (r < 0) {
                migration_change_list_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        *ret_revision = revision;
        return 0;
}

size_t store_note_migration_changes(struct sched_store *st, struct migration_change *l, size_t n)
{
        size_t k = 0;
        pthread_mutex_lock(&st->lock);
        for (size_t i = 0; i < n; i++) {
                struct seen_revision *seen = seen_find(st, l[i].id);
                bool known = seen && seen->mod_revision >= l[i].mod_revision;
                if (!known && l[i].deleted)
                        seen_drop(st, l[i].id);
                else if (!known && seen_set(st, l[i].id, l[i].mod_revision) < 0)
                        known = true; /* out of memory: its next save will say -ESTALE */
                if (known) {
                        free(l[i].id);
                        migration_done(&l[i].m);
                        continue;
                }
                l[k++] = l[i];
        }
        pthread_mutex_unlock(&st->lock);
        return k;
}
