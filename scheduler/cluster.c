// SPDX-License-Identifier: Apache-2.0
#include "scheduler/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "scheduler/placement.h"
#include "scheduler/planner.h"

/* Finished migrations kept for GET /v1/migrations and in the database. */
#define MIGRATION_HISTORY_MAX 1000

static void pod_cache_key(char *buf, size_t size, const char *uid, const char *ns, const char *name)
{
        if (uid && *uid)
                snprintf(buf, size, "%s", uid);
        else
                snprintf(buf, size, "%s/%s", ns ? ns : "default", name ? name : "");
}

void cluster_remember_pod(struct cluster *c, const struct k8s_pod *p)
{
        struct pod_cache_entry e = { .request_bytes = p->request_bytes,
                                     .single_numa = p->single_numa,
                                     .qos = p->qos };
        pod_cache_key(e.key, sizeof(e.key), p->uid, p->namespace, p->name);
        snprintf(e.namespace, sizeof(e.namespace), "%s", p->namespace);
        snprintf(e.owner_uid, sizeof(e.owner_uid), "%s", p->owner_uid);
        uint32_t h = sched_name_hash(e.key);
        size_t slot = h % POD_CACHE_SLOTS;
        pthread_mutex_t *l = &c->cache_locks[slot % POD_CACHE_STRIPES];
        pthread_mutex_lock(l);
        c->cache[slot] = e;
        pthread_mutex_unlock(l);
}

static bool pod_cache_lookup(struct cluster *c, const char *key, struct pod_cache_entry *ret)
{
        size_t slot = sched_name_hash(key) % POD_CACHE_SLOTS;
        pthread_mutex_t *l = &c->cache_locks[slot % POD_CACHE_STRIPES];
        bool found = false;
        pthread_mutex_lock(l);
        if (strcmp(c->cache[slot].key, key) == 0) {
                *ret = c->cache[slot];
                found = true;
        }
        pthread_mutex_unlock(l);
        return found;
}

void cluster_free(struct cluster *c)
{
        if (!c)
                return;
        snapshot_slot_done(&c->slot);
        pool_service_free(c->pools);
        store_close(c->store);
        pthread_mutex_destroy(&c->write_lock);
        for (size_t i = 0; i < POD_CACHE_STRIPES; i++)
                pthread_mutex_destroy(&c->cache_locks[i]);
        free(c->cache);
        free(c);
}

int cluster_new(const struct sched_config *cfg, const char *state_path, struct cluster **ret)
{
        return cluster_open(cfg, &(struct store_options){ .sqlite_path = state_path }, ret);
}

int cluster_open(const struct sched_config *cfg, const struct store_options *so,
                 struct cluster **ret)
{
        struct cluster *c = calloc(1, sizeof(*c));
        struct migration *plans = NULL;
        size_t n_plans = 0;
        int r;

        if (!c)
                return log_error_errno(ENOMEM, "Failed to allocate the cluster model: %m");
        c->cfg = *cfg;
        pthread_mutex_init(&c->write_lock, NULL);
        for (size_t i = 0; i < POD_CACHE_STRIPES; i++)
                pthread_mutex_init(&c->cache_locks[i], NULL);
        c->cache = calloc(POD_CACHE_SLOTS, sizeof(*c->cache));
        if (!c->cache || snapshot_slot_init(&c->slot) < 0) {
                free(c->cache);
                free(c);
                return log_error_errno(ENOMEM, "Failed to allocate the cluster model: %m");
        }
        r = store_open_with(so, &c->store);
        if (r < 0)
                goto fail;
        uint64_t revision = 0;
        r = store_load_migrations_at(c->store, &plans, &n_plans, &revision);
        atomic_store(&c->store_revision, revision);
        if (r < 0)
                goto fail;
        r = pool_service_open(c->store,
                              &(struct pools_config){ .offer_ttl_usec = cfg->pool_offer_ttl_usec },
                              &c->pools);
        if (r < 0)
                goto fail;
        struct snapshot_builder b;
        struct sched_snapshot *s;
        r = snapshot_builder_init(&b, NULL);
        if (r >= 0)
                r = snapshot_builder_set_plans(&b, plans, n_plans);
        if (r >= 0)
                r = snapshot_builder_finish(&b, &s);
        snapshot_builder_done(&b);
        if (r < 0) {
                log_error_errno(r, "Failed to build the initial snapshot: %m");
                goto fail;
        }
        size_t active = 0;
        for (size_t i = 0; i < n_plans; i++)
                active += plans[i].state == MIGRATION_PLANNED;
        if (n_plans)
                log_info("Loaded %zu migration plans (%zu holding reservations) from %s", n_plans,
                         active, so->etcd_endpoints ? so->etcd_endpoints : so->sqlite_path);
        migration_list_free(plans, n_plans);
        snapshot_publish(&c->slot, s);
        *ret = c;
        return 0;
fail:
        migration_list_free(plans, n_plans);
        cluster_free(c);
        return r;
}

/* Appends new plans to the builder's list, keeping at most MIGRATION_HISTORY_MAX finished ones. */
static int builder_append_plans(struct snapshot_builder *b, const struct migration *add, size_t n)
{
        size_t total = b->n_plans + n, finished = 0;
        struct migration *all = calloc(total ? total : 1, sizeof(*all));
        int r = 0;
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_plans; i++)
                finished += b->plans[i].state != MIGRATION_PLANNED;
        size_t drop = finished > MIGRATION_HISTORY_MAX ? finished - MIGRATION_HISTORY_MAX : 0,
               k = 0;
        for (size_t i = 0; i < b->n_plans && r >= 0; i++) {
                if (drop && b->plans[i].state != MIGRATION_PLANNED) {
                        drop--;
                        continue;
                }
                r = migration_copy(&b->plans[i], &all[k]);
                k += r >= 0;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = migration_copy(&add[i], &all[k]);
                k += r >= 0;
        }
        if (r >= 0)
                r = snapshot_builder_set_plans(b, all, k);
        migration_list_free(all, k);
        return r;
}

static int publish_builder(struct cluster *c, struct snapshot_builder *b)
{
        struct sched_snapshot *s;
        int r = snapshot_builder_finish(b, &s);
        if (r < 0)
                return r;
        snapshot_publish(&c->slot, s);
        return 0;
}

/* Runs the planner on s for node index i; on plans, saves them and publishes s plus plans. */
static int maybe_plan(struct cluster *c, struct sched_snapshot *s, size_t i, uint64_t now_usec,
                      uint64_t now_real_usec, bool *ret_published)
{
        struct migration *plans = NULL;
        size_t n = 0;
        char prefix[64];
        int r;

        *ret_published = false;
        if (atomic_load(&c->follower) || !planner_node_qualifies(s, i, &c->cfg))
                return 0;
        snprintf(prefix, sizeof(prefix), "mig-%llx-%llu", (unsigned long long)now_real_usec,
                 (unsigned long long)c->plan_seq++);
        r = planner_plan(s, i, now_usec, now_real_usec, prefix, &c->cfg, &plans, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to plan migrations off %s: %m",
                                       s->nodes[i]->name);
        if (n == 0) {
                log_warning("Node %s is under sustained %s pressure but no pod can move "
                            "(none movable: Guaranteed, protected, or bare pods without a "
                            "controller that would recreate them; or no node can take one); will "
                            "retry on its next report",
                            s->nodes[i]->name,
                            pressure_level_to_string(s->nodes[i]->report.pressure));
                migration_list_free(plans, n);
                return 0;
        }
        for (size_t k = 0; k < n; k++) {
                r = store_save_migration(c->store, &plans[k]);
                if (r < 0) {
                        migration_list_free(plans, n);
                        return r; /* not published: a plan that is not durable is no plan */
                }
                log_info("Migration %s: move pod %s (%s/%s) from %s to %s, reserving %llu bytes",
                         plans[k].id, plans[k].pod_uid,
                         plans[k].pod_namespace ? plans[k].pod_namespace : "?",
                         plans[k].pod_name ? plans[k].pod_name : "?", plans[k].source_node,
                         plans[k].target_node, (unsigned long long)plans[k].reservation_bytes);
        }
        struct snapshot_builder b;
        r = snapshot_builder_init(&b, s);
        if (r >= 0)
                r = builder_append_plans(&b, plans, n);
        if (r >= 0)
                r = publish_builder(c, &b);
        snapshot_builder_done(&b);
        if (r >= 0) {
                atomic_fetch_add(&c->migrations_planned_total, n);
                *ret_published = true;
        }
        migration_list_free(plans, n);
        return r;
}

/* Whether report repeats or precedes what was accepted for the node: a seq not above the last
 * one of the same agent run (same run_id, or both without one) while the node is fresh. A new
 * run_id is a restarted agent counting from 1 again; a stale node's agent was away long enough
 * that its old count says nothing (an agent without run_id restarts that way). */
static bool report_is_old(const struct sched_snapshot *cur, const char *name,
                          const struct node_report *report, uint64_t now_usec,
                          uint64_t stale_after_usec)
{
        ssize_t i = cur ? snapshot_find(cur, name) : -1;
        if (i < 0)
                return false;
        const struct sched_node *prev = cur->nodes[i];
        const char *a = prev->report.run_id, *b = report->run_id;
        bool same_run = (!a && !b) || (a && b && strcmp(a, b) == 0);
        bool stale = now_usec - prev->received_usec > stale_after_usec;
        return same_run && !stale && report->seq <= prev->report.seq;
}

int cluster_ingest(struct cluster *c, const char *name, struct node_report *report,
                   uint64_t now_usec, uint64_t now_real_usec)
{
        struct sched_node *node = NULL;
        struct snapshot_builder b;
        struct sched_snapshot *s = NULL;
        bool published = false;
        int r;

        r = sched_node_new(name, report, now_usec, &node);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->write_lock);
        _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
        if (report_is_old(cur, name, &node->report, now_usec, c->cfg.stale_after_usec)) {
                sched_node_unref(node);
                r = -ESTALE;
                goto out;
        }
        r = snapshot_builder_init(&b, cur);
        if (r < 0) {
                sched_node_unref(node);
                goto out;
        }
        snapshot_builder_prune_assumed(&b, node, now_usec, c->cfg.assume_ttl_usec);
        r = snapshot_builder_put_node(&b, node);
        if (r < 0)
                sched_node_unref(node);
        if (r >= 0)
                r = snapshot_builder_finish(&b, &s);
        snapshot_builder_done(&b);
        if (r < 0)
                goto out;
        atomic_fetch_add(&c->reports_total, 1);
        if (c->report_accepted)
                c->report_accepted(c->report_accepted_userdata, name, &node->report, now_real_usec);
        ssize_t i = snapshot_find(s, name);
        if (i >= 0 && maybe_plan(c, s, (size_t)i, now_usec, now_real_usec, &published) < 0)
                log_warning("Migration planning for %s failed, ignoring until its next report",
                            name);
        if (!published)
                snapshot_publish(&c->slot, TAKE_PTR(s));
out:
        pthread_mutex_unlock(&c->write_lock);
        snapshot_unref(s);
        return r;
}

int cluster_bind(struct cluster *c, const char *namespace, const char *name, const char *uid,
                 const char *node, uint64_t now_usec, char **ret_migration)
{
        struct pod_cache_entry e = {};
        char key[320];
        struct snapshot_builder b;
        char *done_id = NULL;
        int r;

        pod_cache_key(key, sizeof(key), uid, namespace, name);
        if (!pod_cache_lookup(c, key, &e)) {
                /* Seen under the other key? */
                pod_cache_key(key, sizeof(key), NULL, namespace, name);
                (void)pod_cache_lookup(c, key, &e);
        }

        pthread_mutex_lock(&c->write_lock);
        _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
        ssize_t i = snapshot_find(cur, node);
        if (i < 0 && !c->cfg.admit_unknown_nodes) {
                pthread_mutex_unlock(&c->write_lock);
                return -ENOENT;
        }
        struct pod_shape shape = { .request_bytes = e.request_bytes,
                                   .single_numa = e.single_numa,
                                   .qos = e.qos,
                                   .namespace = namespace,
                                   .owner_uid = e.owner_uid };
        struct node_verdict v = { .numa_zone = -1 };
        if (i >= 0)
                placement_evaluate(cur, i, node, &shape, now_usec, &c->cfg, false, &v);

        r = snapshot_builder_init(&b, cur);
        if (r < 0)
                goto out;
        struct migration *bound = NULL;
        for (size_t k = 0; k < b.n_plans; k++) {
                struct migration *m = &b.plans[k];
                if (m->state == MIGRATION_PLANNED && strcmp(m->target_node, node) == 0 &&
                    placement_pod_matches_plan(&shape, m)) {
                        bound = m;
                        break;
                }
        }
        if (bound) {
                char rep[256];
                struct migration upd;
                snprintf(rep, sizeof(rep), "%s/%s", namespace, name);
                r = migration_copy(bound, &upd);
                if (r >= 0) {
                        free(upd.replacement_pod);
                        upd.replacement_pod = strdup(rep);
                        upd.state = MIGRATION_BOUND;
                        r = upd.replacement_pod ? store_save_migration(c->store, &upd) : -ENOMEM;
                        if (r >= 0) {
                                migration_done(bound);
                                *bound = upd;
                                done_id = strdup(bound->id);
                                log_info("Migration %s done: replacement %s bound to %s", bound->id,
                                         rep, node);
                        } else
                                migration_done(&upd);
                }
                if (r < 0)
                        goto out_builder;
        }
        if (i >= 0 && e.request_bytes > 0) {
                struct assumed_pod a = { .node = strdup(node),
                                         .uid = strdup(key),
                                         .request_bytes = e.request_bytes,
                                         .numa_zone = v.numa_zone,
                                         .at_usec = now_usec };
                if (uid && *uid) {
                        free(a.uid);
                        a.uid = strdup(uid);
                }
                if (!a.node || !a.uid) {
                        free(a.node);
                        free(a.uid);
                        r = -ENOMEM;
                        goto out_builder;
                }
                r = snapshot_builder_add_assumed(&b, &a);
                if (r < 0) {
                        free(a.node);
                        free(a.uid);
                        goto out_builder;
                }
        }
        r = publish_builder(c, &b);
        if (r >= 0)
                atomic_fetch_add(&c->binds_total, 1);
out_builder:
        snapshot_builder_done(&b);
out:
        pthread_mutex_unlock(&c->write_lock);
        if (r >= 0 && ret_migration)
                *ret_migration = TAKE_PTR(done_id);
        free(done_id);
        return r;
}

int cluster_migration_step(struct cluster *c, const char *id, const char *step, const char *message,
                           bool count_attempt, uint64_t evicted_at_usec, bool cancel)
{
        struct snapshot_builder b;
        int r;

        if (atomic_load(&c->follower))
                return -ESTALE;
        pthread_mutex_lock(&c->write_lock);
        _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
        r = snapshot_builder_init(&b, cur);
        if (r < 0)
                goto out;
        struct migration *m = NULL;
        for (size_t k = 0; k < b.n_plans && !m; k++)
                if (strcmp(b.plans[k].id, id) == 0)
                        m = &b.plans[k];
        if (!m || m->state != MIGRATION_PLANNED) {
                r = -ENOENT; /* bound or expired meanwhile: nothing left to record */
                goto out_builder;
        }
        struct migration upd;
        r = migration_copy(m, &upd);
        if (r < 0)
                goto out_builder;
        free(upd.step);
        free(upd.step_message);
        upd.step = strdup(step);
        upd.step_message = message ? strdup(message) : NULL;
        if (!upd.step || (message && !upd.step_message)) {
                migration_done(&upd);
                r = -ENOMEM;
                goto out_builder;
        }
        upd.eviction_attempts += count_attempt;
        if (evicted_at_usec)
                upd.evicted_at_usec = evicted_at_usec;
        if (cancel)
                upd.state = MIGRATION_CANCELLED;
        r = store_save_migration(c->store, &upd);
        if (r < 0) {
                migration_done(&upd);
                goto out_builder;
        }
        migration_done(m);
        *m = upd;
        r = publish_builder(c, &b);
out_builder:
        snapshot_builder_done(&b);
out:
        pthread_mutex_unlock(&c->write_lock);
        return r;
}

/* Applies changes (in order) to the builder's plans. */
static int builder_apply_changes(struct snapshot_builder *b, const struct migration_change *ch,
                                 size_t n)
{
        size_t k = 0;
        struct migration *all = calloc(b->n_plans + n + 1, sizeof(*all));
        int r = 0;
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_plans && r >= 0; i++) {
                r = migration_copy(&b->plans[i], &all[k]);
                k += r >= 0;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                size_t at = 0;
                while (at < k && strcmp(all[at].id, ch[i].id) != 0)
                        at++;
                if (ch[i].deleted) {
                        if (at < k) {
                                migration_done(&all[at]);
                                memmove(&all[at], &all[at + 1], (k - at - 1) * sizeof(*all));
                                k--;
                        }
                        continue;
                }
                struct migration m;
                r = migration_copy(&ch[i].m, &m);
                if (r < 0)
                        break;
                if (at < k)
                        migration_done(&all[at]);
                else
                        k++;
                all[at] = m;
        }
        if (r >= 0)
                r = snapshot_builder_set_plans(b, all, k);
        migration_list_free(all, k);
        return r;
}

int cluster_resync(struct cluster *c)
{
        struct migration *plans = NULL;
        size_t n = 0;
        uint64_t revision = 0;
        struct snapshot_builder b;

        /* Under the write lock: no save of ours may land between the read and the publish. */
        pthread_mutex_lock(&c->write_lock);
        int r = store_load_migrations_at(c->store, &plans, &n, &revision);
        if (r >= 0) {
                _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
                r = snapshot_builder_init(&b, cur);
                if (r >= 0)
                        r = snapshot_builder_set_plans(&b, plans, n);
                if (r >= 0)
                        r = publish_builder(c, &b);
                snapshot_builder_done(&b);
        }
        if (r >= 0)
                atomic_store(&c->store_revision, revision);
        pthread_mutex_unlock(&c->write_lock);
        migration_list_free(plans, n);
        if (r < 0)
                return log_error_errno(r, "Failed to reload the plans: %m");
        return 0;
}

int cluster_follow(struct cluster *c, uint64_t timeout_ms)
{
        struct migration_change *ch = NULL;
        size_t n = 0;
        uint64_t from = atomic_load(&c->store_revision), revision = 0;
        struct snapshot_builder b;
        int r;

        r = store_watch_migrations(c->store, from, timeout_ms, &ch, &n, &revision);
        if (r == -ESTALE) {
                /* etcd compacted the history we missed: take the whole list again. */
                log_notice("Plan history since revision %llu was compacted; reloading all plans",
                           (unsigned long long)from);
                r = cluster_resync(c);
                return r < 0 ? r : 1;
        }
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->write_lock);
        n = store_note_migration_changes(c->store, ch, n);
        if (n > 0) {
                _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
                r = snapshot_builder_init(&b, cur);
                if (r >= 0)
                        r = builder_apply_changes(&b, ch, n);
                if (r >= 0)
                        r = publish_builder(c, &b);
                snapshot_builder_done(&b);
        }
        if (r >= 0 && revision > atomic_load(&c->store_revision))
                atomic_store(&c->store_revision, revision);
        pthread_mutex_unlock(&c->write_lock);
        migration_change_list_free(ch, n);
        if (r < 0)
                return log_error_errno(r, "Failed to apply plans changed by other replicas: %m");
        return n > 0;
}

int cluster_tick(struct cluster *c, uint64_t now_usec, uint64_t now_real_usec)
{
        struct snapshot_builder b;
        bool changed = false;
        int r;

        pthread_mutex_lock(&c->write_lock);
        _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
        r = snapshot_builder_init(&b, cur);
        if (r < 0)
                goto out;
        size_t before = b.n_assumed;
        snapshot_builder_prune_assumed(&b, NULL, now_usec, c->cfg.assume_ttl_usec);
        changed = b.n_assumed != before;
        for (size_t k = 0; k < b.n_plans; k++) {
                struct migration *m = &b.plans[k];
                if (m->state != MIGRATION_PLANNED || now_real_usec < m->expires_at_usec ||
                    atomic_load(&c->follower))
                        continue;
                m->state = MIGRATION_EXPIRED;
                if (store_save_migration(c->store, m) < 0) {
                        m->state = MIGRATION_PLANNED; /* retried on the next tick */
                        continue;
                }
                log_info("Migration %s expired: no replacement bound to %s, reservation released",
                         m->id, m->target_node);
                atomic_fetch_add(&c->migrations_expired_total, 1);
                changed = true;
        }
        if (changed)
                r = publish_builder(c, &b);
        snapshot_builder_done(&b);
out:
        pthread_mutex_unlock(&c->write_lock);
        return r < 0 ? r : changed;
}

int cluster_set_kube_view(struct cluster *c, struct kube_view *view)
{
        struct snapshot_builder b;
        pthread_mutex_lock(&c->write_lock);
        _cleanup_snapshot_ struct sched_snapshot *cur = snapshot_acquire(&c->slot);
        int r = snapshot_builder_init(&b, cur);
        if (r >= 0) {
                snapshot_builder_set_view(&b, view);
                view = NULL;
                r = publish_builder(c, &b);
                snapshot_builder_done(&b);
        }
        pthread_mutex_unlock(&c->write_lock);
        kube_view_unref(view);
        return r;
}
