// SPDX-License-Identifier: Apache-2.0
#include "scheduler/store-reports.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/codec.h"
#include "common/clock.h"
#include "common/log.h"

#define REPORTS_PREFIX     "reports/"
#define REPORTS_WATCH_MS   1000ULL
#define REPORTS_CAS_TRIES  4
#define REPORTS_RETRY_NSEC (200 * 1000 * 1000L)

/* A report waiting to be written: the latest accepted for its node. */
struct pending {
        char *name, *value, *run_id;
        uint64_t seq, received_real_usec;
};

/* Which report a stored value holds: what the newer rule compares. */
struct stored_report {
        uint64_t seq, received_real_usec;
        char *run_id; /* NULL: none */
};

/* The revision of a node's key as this replica last saw it (its own write or the watch), and,
 * when it was read from the store, which report it holds: a compare-and-swap on a revision the
 * watch brought in must not replace that report with an older one accepted here meanwhile. */
struct known {
        char *name;
        uint64_t mod_revision;
        bool foreign;
        struct stored_report stored;
};

struct report_share {
        struct cluster *c;
        char *identity;
        uint64_t lease_ttl_sec, lease_rotate_usec;
        pthread_t shipper, follower;
        bool shipper_started, follower_started;
        atomic_bool stop;

        pthread_mutex_t lock; /* guards pending, known */
        pthread_cond_t wake;
        struct pending *pending;
        size_t n_pending, cap_pending;
        struct known *known;
        size_t n_known, cap_known;

        uint64_t lease_id, lease_granted_usec; /* shipper thread only */
        uint64_t revision;                     /* follower thread only: watch from here */
        atomic_bool current;
        atomic_ullong current_since_usec;
        atomic_ullong shipped, coalesced, applied;
};

/* Set on the follower thread while it ingests another replica's report, so that the hook does
 * not ship it back. */
static _Thread_local bool applying_remote;

static void pending_done(struct pending *p)
{
        free(p->name);
        free(p->value);
        free(p->run_id);
        *p = (struct pending){};
}

/* Called with s->lock held. */
static struct known *known_find(struct report_share *s, const char *name, bool add)
{
        for (size_t i = 0; i < s->n_known; i++)
                if (strcmp(s->known[i].name, name) == 0)
                        return &s->known[i];
        if (!add)
                return NULL;
        if (s->n_known == s->cap_known) {
                size_t ncap = s->cap_known ? s->cap_known * 2 : 64;
                struct known *n = realloc(s->known, ncap * sizeof(*n));
                if (!n)
                        return NULL;
                s->known = n;
                s->cap_known = ncap;
        }
        char *copy = strdup(name);
        if (!copy)
                return NULL;
        s->known[s->n_known] = (struct known){ .name = copy };
        return &s->known[s->n_known++];
}

/* Parses a stored value: false when it is unreadable. */
static bool stored_report_parse(const char *value, struct stored_report *ret)
{
        _cleanup_json_ struct json_object *o = NULL;
        struct api_error err = {};
        struct json_object *rep = NULL;
        const char *run = NULL;
        uint64_t seq = 0, received = 0;
        if (api_parse(value, strlen(value), &o, &err) < 0 ||
            api_get_object(o, "", "report", true, false, &rep, &err) < 0 ||
            api_get_u64(o, "", "received_at_usec", true, UINT64_MAX, &received, &err) < 0 ||
            api_get_u64(rep, "report", "seq", false, UINT64_MAX, &seq, &err) < 0 ||
            api_get_string(rep, "report", "run_id", false, false, &run, &err) < 0)
                return false;
        *ret = (struct stored_report){ .seq = seq,
                                       .received_real_usec = received,
                                       .run_id = run && *run ? strdup(run) : NULL };
        return true;
}

/* The newer rule (see the header): within one agent run seq decides; across runs, the later
 * receipt. */
static bool stored_report_is_newer(const struct stored_report *st, uint64_t seq, const char *run_id,
                                   uint64_t received_real_usec)
{
        if (run_id && !*run_id)
                run_id = NULL;
        bool same_run =
            (!st->run_id && !run_id) || (st->run_id && run_id && strcmp(st->run_id, run_id) == 0);
        return same_run ? st->seq >= seq : st->received_real_usec >= received_real_usec;
}

/* The revision known for p's node, 0 when absent; *ret_newer when that revision, as read from
 * the store, holds a report newer than p. */
static uint64_t known_get(struct report_share *s, const struct pending *p, bool *ret_newer)
{
        pthread_mutex_lock(&s->lock);
        struct known *k = known_find(s, p->name, false);
        uint64_t rev = k ? k->mod_revision : 0;
        *ret_newer = k && rev && k->foreign &&
                     stored_report_is_newer(&k->stored, p->seq, p->run_id, p->received_real_usec);
        pthread_mutex_unlock(&s->lock);
        return rev;
}

/* Records what the store holds for name: 0 when absent; value is the record read from the store
 * at that revision (NULL for our own write or a deletion). A revision older than the one known (the
 * watch lagging behind our own write) changes nothing, unless it says the key is gone. */
static void known_set(struct report_share *s, const char *name, uint64_t mod_revision, bool deleted,
                      const char *value)
{
        struct stored_report st = {};
        bool foreign = !deleted && value && stored_report_parse(value, &st);
        pthread_mutex_lock(&s->lock);
        struct known *k = known_find(s, name, true);
        if (k && (deleted ? mod_revision >= k->mod_revision : mod_revision > k->mod_revision)) {
                k->mod_revision = deleted ? 0 : mod_revision;
                free(k->stored.run_id);
                k->foreign = foreign;
                k->stored = st;
                st.run_id = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        free(st.run_id);
}

/* The hook cluster_ingest calls under its write lock: encode and queue, never wait on etcd. */
static void report_accepted(void *userdata, const char *name, const struct node_report *r,
                            uint64_t now_real_usec)
{
        struct report_share *s = userdata;
        if (applying_remote)
                return;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *rep = node_report_encode(r);
        if (!o || !rep) {
                json_object_put(rep);
                log_warning("Failed to encode the report of %s for the other replicas, ignoring",
                            name);
                return;
        }
        api_add(o, "received_at_usec", json_object_new_uint64(now_real_usec));
        api_add(o, "replica", json_object_new_string(s->identity));
        api_add(o, "report", rep);
        struct pending p = { .name = strdup(name),
                             .value = api_to_string(o, NULL),
                             .run_id = r->run_id ? strdup(r->run_id) : NULL,
                             .seq = r->seq,
                             .received_real_usec = now_real_usec };
        if (!p.name || !p.value || (r->run_id && !p.run_id)) {
                pending_done(&p);
                return;
        }
        pthread_mutex_lock(&s->lock);
        size_t i;
        for (i = 0; i < s->n_pending; i++)
                if (strcmp(s->pending[i].name, name) == 0)
                        break;
        if (i < s->n_pending) {
                /* cluster_ingest accepts only newer reports: this one replaces the queued one. */
                pending_done(&s->pending[i]);
                s->pending[i] = p;
                atomic_fetch_add(&s->coalesced, 1);
        } else {
                if (s->n_pending == s->cap_pending) {
                        size_t ncap = s->cap_pending ? s->cap_pending * 2 : 64;
                        struct pending *n = realloc(s->pending, ncap * sizeof(*n));
                        if (n) {
                                s->pending = n;
                                s->cap_pending = ncap;
                        }
                }
                if (s->n_pending < s->cap_pending)
                        s->pending[s->n_pending++] = p;
                else
                        pending_done(&p); /* out of memory: the next report tries again */
        }
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
}

bool report_share_stored_is_newer(const char *value, uint64_t seq, const char *run_id,
                                  uint64_t received_real_usec)
{
        struct stored_report st = {};
        if (!stored_report_parse(value, &st))
                return false; /* unreadable: ours replaces it */
        bool newer = stored_report_is_newer(&st, seq, run_id, received_real_usec);
        free(st.run_id);
        return newer;
}

/* A lease for the next writes: granted for 1.5 x stale-after, replaced every stale-after/2. */
static int ensure_lease(struct report_share *s)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (s->lease_id && now - s->lease_granted_usec < s->lease_rotate_usec)
                return 0;
        uint64_t id = 0;
        int r = store_lease_grant(s->c->store, s->lease_ttl_sec, &id);
        if (r < 0)
                return r;
        s->lease_id = id;
        s->lease_granted_usec = now;
        return 0;
}

/* Writes p unless the store holds a newer report for its node (see the header). */
static int ship_one(struct report_share *s, const struct pending *p)
{
        char key[300];
        snprintf(key, sizeof(key), REPORTS_PREFIX "%s", p->name);
        bool newer = false;
        uint64_t rev = known_get(s, p, &newer);
        if (newer)
                return 0; /* the watch brought another replica's later report of this node */
        int r = -ESTALE;
        for (int attempt = 0; attempt < REPORTS_CAS_TRIES; attempt++) {
                uint64_t new_rev = 0;
                r = rev ? store_update_leased(s->c->store, key, p->value, s->lease_id, rev,
                                              &new_rev)
                        : store_create(s->c->store, key, p->value, s->lease_id, &new_rev);
                if (r >= 0) {
                        known_set(s, p->name, new_rev, false, NULL);
                        atomic_fetch_add(&s->shipped, 1);
                        return 0;
                }
                if (r != -ESTALE && r != -EEXIST && r != -ENOENT)
                        return r;
                /* Someone wrote or deleted it since we looked: read what is there now. */
                struct store_record rec = {};
                int k = store_get(s->c->store, key, &rec);
                if (k == -ENOENT) {
                        if (rev == 0 &&
                            r == -ENOENT) /* a create that failed so: our lease is gone */
                                return -ENOENT;
                        known_set(s, p->name, rev, true, NULL);
                        rev = 0;
                        continue;
                }
                if (k < 0)
                        return k;
                newer = report_share_stored_is_newer(rec.value, p->seq, p->run_id,
                                                     p->received_real_usec);
                rev = rec.mod_revision;
                known_set(s, p->name, rev, false, rec.value);
                store_record_done(&rec);
                if (newer)
                        return 0; /* another replica has a later report of this node */
        }
        return r;
}

static void *shipper_main(void *arg)
{
        struct report_share *s = arg;
        while (!atomic_load(&s->stop)) {
                pthread_mutex_lock(&s->lock);
                while (!atomic_load(&s->stop) && s->n_pending == 0)
                        pthread_cond_wait(&s->wake, &s->lock);
                struct pending *batch = s->pending;
                size_t n = s->n_pending;
                s->pending = NULL;
                s->n_pending = s->cap_pending = 0;
                pthread_mutex_unlock(&s->lock);

                int r = n ? ensure_lease(s) : 0;
                for (size_t i = 0; i < n; i++) {
                        if (r >= 0) {
                                r = ship_one(s, &batch[i]);
                                if (r == -ENOENT) {
                                        s->lease_id = 0; /* expired under us: a new one */
                                        r = ensure_lease(s);
                                        if (r >= 0)
                                                r = ship_one(s, &batch[i]);
                                }
                        }
                        if (r < 0)
                                log_debug("Report of %s not shared (%s); its next report will be",
                                          batch[i].name, strerror(-r));
                        pending_done(&batch[i]);
                }
                free(batch);
                if (r < 0) {
                        /* etcd unreachable: the next reports are shared once it answers again. */
                        log_warning_errno(r, "Failed to share node reports with the other "
                                             "replicas: %m; retrying with the next ones");
                        struct timespec ts = { .tv_nsec = REPORTS_RETRY_NSEC };
                        nanosleep(&ts, NULL);
                }
        }
        return NULL;
}

/* Ingests another replica's report into the model, received when it says (so that it goes stale
 * when it would have there). */
static void apply(struct report_share *s, const struct store_record *rec, const char *name)
{
        _cleanup_json_ struct json_object *o = NULL;
        struct api_error err = {};
        struct json_object *rep_o = NULL;
        uint64_t received = 0;
        struct node_report rep;
        if (api_parse(rec->value, strlen(rec->value), &o, &err) < 0 ||
            api_get_object(o, "", "report", true, false, &rep_o, &err) < 0 ||
            api_get_u64(o, "", "received_at_usec", true, UINT64_MAX, &received, &err) < 0 ||
            node_report_decode(rep_o, &rep, &err) < 0) {
                log_warning("Shared report of %s does not decode (%s), ignoring", name,
                            err.message);
                return;
        }
        uint64_t now_mono = now_usec(CLOCK_MONOTONIC), now_real = now_usec(CLOCK_REALTIME);
        uint64_t age = now_real > received ? now_real - received : 0;
        if (age >= now_mono)
                age = now_mono - 1;
        applying_remote = true;
        int r = cluster_ingest(s->c, name, &rep, now_mono - age, now_real);
        applying_remote = false;
        node_report_done(&rep);
        if (r >= 0)
                atomic_fetch_add(&s->applied, 1);
        else if (r != -ESTALE) /* -ESTALE: we have it already (our own, or a newer one) */
                log_warning_errno(r, "Failed to apply the shared report of %s: %m", name);
}

static const char *node_of(const char *key)
{
        return strncmp(key, REPORTS_PREFIX, strlen(REPORTS_PREFIX)) == 0
                   ? key + strlen(REPORTS_PREFIX)
                   : NULL;
}

static void set_current(struct report_share *s, bool current)
{
        if (atomic_exchange(&s->current, current) != current)
                atomic_store(&s->current_since_usec, now_usec(CLOCK_MONOTONIC));
}

/* Reads every stored report into the model; the watch goes on from there. */
static int resync(struct report_share *s)
{
        struct store_record *l = NULL;
        size_t n = 0;
        uint64_t revision = 0;
        int r = store_list_at(s->c->store, REPORTS_PREFIX, &l, &n, &revision);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *name = node_of(l[i].key);
                if (!name)
                        continue;
                known_set(s, name, l[i].mod_revision, false, l[i].value);
                apply(s, &l[i], name);
        }
        store_record_list_free(l, n);
        s->revision = revision;
        return 0;
}

static void *follower_main(void *arg)
{
        struct report_share *s = arg;
        bool listed = true; /* report_share_start listed them */
        while (!atomic_load(&s->stop)) {
                int r = 0;
                if (!listed) {
                        r = resync(s);
                        listed = r >= 0;
                }
                struct store_event *ev = NULL;
                size_t n = 0;
                uint64_t revision = s->revision;
                if (r >= 0)
                        r = store_watch(s->c->store, REPORTS_PREFIX, s->revision, REPORTS_WATCH_MS,
                                        &ev, &n, &revision);
                if (r == -ESTALE) {
                        log_notice("Report history since revision %llu was compacted; "
                                   "reading every report again",
                                   (unsigned long long)s->revision);
                        listed = false;
                        continue;
                }
                if (r < 0) {
                        set_current(s, false);
                        struct timespec ts = { .tv_nsec = REPORTS_RETRY_NSEC };
                        nanosleep(&ts, NULL);
                        continue;
                }
                for (size_t i = 0; i < n; i++) {
                        const char *name = node_of(ev[i].rec.key);
                        if (!name)
                                continue;
                        bool del = ev[i].type == STORE_EVENT_DELETE;
                        known_set(s, name, ev[i].rec.mod_revision, del, ev[i].rec.value);
                        /* A deletion is the lease running out: the model lets the node go
                         * stale on its own clock. */
                        if (!del)
                                apply(s, &ev[i].rec, name);
                }
                store_event_list_free(ev, n);
                if (revision > s->revision)
                        s->revision = revision;
                set_current(s, true);
        }
        return NULL;
}

int report_share_start(struct cluster *c, const char *identity, struct report_share **ret)
{
        struct report_share *s = calloc(1, sizeof(*s));
        int r;
        if (!s)
                return -ENOMEM;
        uint64_t stale_sec = (c->cfg.stale_after_usec + 999999) / 1000000;
        s->c = c;
        s->identity = strdup(identity);
        s->lease_ttl_sec = stale_sec * 3 / 2 > 2 ? stale_sec * 3 / 2 : 2;
        s->lease_rotate_usec = c->cfg.stale_after_usec / 2;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->wake, NULL);
        if (!s->identity) {
                r = -ENOMEM;
                goto fail;
        }
        /* Before serving: a replica that starts knows every node the others heard from. */
        r = resync(s);
        if (r < 0) {
                log_error_errno(r, "Failed to read the shared node reports: %m");
                goto fail;
        }
        set_current(s, true);
        r = -pthread_create(&s->follower, NULL, follower_main, s);
        if (r < 0)
                goto fail;
        s->follower_started = true;
        r = -pthread_create(&s->shipper, NULL, shipper_main, s);
        if (r < 0)
                goto fail;
        s->shipper_started = true;
        pthread_mutex_lock(&c->write_lock); /* cluster_ingest reads the hook under it */
        c->report_accepted_userdata = s;
        c->report_accepted = report_accepted;
        pthread_mutex_unlock(&c->write_lock);
        *ret = s;
        return 0;
fail:
        report_share_stop(s);
        return r;
}

void report_share_stop(struct report_share *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->c->write_lock);
        if (s->c->report_accepted_userdata == s) {
                s->c->report_accepted = NULL;
                s->c->report_accepted_userdata = NULL;
        }
        pthread_mutex_unlock(&s->c->write_lock);
        atomic_store(&s->stop, true);
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
        if (s->shipper_started)
                pthread_join(s->shipper, NULL);
        if (s->follower_started)
                pthread_join(s->follower, NULL); /* within one watch round */
        for (size_t i = 0; i < s->n_pending; i++)
                pending_done(&s->pending[i]);
        free(s->pending);
        for (size_t i = 0; i < s->n_known; i++) {
                free(s->known[i].name);
                free(s->known[i].stored.run_id);
        }
        free(s->known);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s->identity);
        free(s);
}

bool report_share_current(struct report_share *s, uint64_t *ret_since_usec)
{
        *ret_since_usec = atomic_load(&s->current_since_usec);
        return atomic_load(&s->current);
}

void report_share_counts(struct report_share *s, uint64_t *ret_shipped, uint64_t *ret_coalesced,
                         uint64_t *ret_applied)
{
        *ret_shipped = atomic_load(&s->shipped);
        *ret_coalesced = atomic_load(&s->coalesced);
        *ret_applied = atomic_load(&s->applied);
}
