// SPDX-License-Identifier: Apache-2.0
// See scheduler/kube.h. Everything below the queue runs on the API thread only.
#include "scheduler/kube.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/kube/binding.h"
#include "api/kube/client.h"
#include "api/kube/config.h"
#include "api/kube/informer.h"
#include "api/kube/objects.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"
#include "scheduler/migrate.h"

#define PICK_MAX 64

struct bind_job {
        struct bind_job *next;
        const char *namespace_, *name, *uid, *node; /* borrowed from the waiting handler */
        struct kube_status status;
        bool refused; /* by memschedd, before any Binding: status.message says why */
        bool done;
};

/* What the API thread remembers of a plan it carries out; not durable (the plan's step is). */
struct attempt {
        char id[128];
        uint64_t not_before_usec; /* CLOCK_MONOTONIC: backoff after a refusal */
        uint64_t backoff_usec;
        bool in_flight;
        bool said_evicting, said_refused, said_final; /* Events posted */
};

struct sched_kube {
        struct cluster *cl;
        unsigned max_concurrent;
        char instance[300];
        struct kube_config cfg;
        /* Owned by the API thread. */
        sd_event *event;
        struct kube_client *client;
        sd_event_source *wake_source, *timer;
        struct attempt *attempts;
        size_t n_attempts;
        /* The informers of all nodes and all pods, and the view of them placement reads
         * (published at most every SCHED_KUBE_VIEW_DELAY_USEC, once both are synced). */
        struct kube_informer *nodes, *pods;
        sd_event_source *publish;
        bool publish_armed;
        uint64_t bind_refusals, bind_gets;
        /* Shared, under lock. */
        struct sched_kube_stats stats;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct bind_job *queue;
        bool stopping, started;
        int start_r;
        int wake_fd;
        pthread_t thread;
};

/* ---- binds ---------------------------------------------------------------------------------- */

static void job_finish(struct sched_kube *k, struct bind_job *j, const struct kube_status *st)
{
        pthread_mutex_lock(&k->lock);
        j->status = *st;
        j->done = true;
        pthread_cond_broadcast(&k->cond);
        pthread_mutex_unlock(&k->lock);
}

struct bind_call {
        struct sched_kube *k;
        struct bind_job *job;
};

static void on_bound(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct bind_call *c = userdata;
        (void)body;
        job_finish(c->k, c->job, st);
        free(c);
}

/* Why the API's pod p may not be bound by this job, in why; true when it may. Issue 15: binds
 * only for pods the API says are pending, so that a stale or forged bind cannot move a running
 * pod's accounting, nor bind a pod that someone else bound meanwhile. */
static bool pod_bindable(const struct kube_pod_brief *p, const struct bind_job *j, char *why,
                         size_t size)
{
        if (j->uid && *j->uid && strcmp(p->uid, j->uid) != 0)
                snprintf(why, size,
                         "memsched: pod %.63s/%.120s has uid %.80s in the Kubernetes API, not "
                         "%.80s",
                         j->namespace_, j->name, p->uid, j->uid);
        else if (p->node_name[0])
                snprintf(why, size,
                         "memsched: pod %.63s/%.120s is already bound to node %.120s (Kubernetes "
                         "API)",
                         j->namespace_, j->name, p->node_name);
        else if (p->terminating)
                snprintf(why, size, "memsched: pod %.63s/%.120s is being deleted", j->namespace_,
                         j->name);
        else if (p->phase[0] && strcmp(p->phase, "Pending") != 0)
                snprintf(why, size,
                         "memsched: pod %.63s/%.120s is %.15s in the Kubernetes API, not Pending",
                         j->namespace_, j->name, p->phase);
        else
                return true;
        return false;
}

static void job_refuse(struct sched_kube *k, struct bind_job *j, const char *why)
{
        struct kube_status st = {};
        snprintf(st.message, sizeof(st.message), "%s", why);
        k->bind_refusals++;
        pthread_mutex_lock(&k->lock);
        j->refused = true;
        pthread_mutex_unlock(&k->lock);
        job_finish(k, j, &st);
}

static void send_bind(struct sched_kube *k, struct bind_job *j)
{
        struct bind_call *c = calloc(1, sizeof(*c));
        int r = c ? kube_bind(k->client, j->namespace_, j->name, j->uid, j->node, on_bound, c)
                  : -ENOMEM;
        if (c) {
                c->k = k;
                c->job = j;
        }
        if (r < 0) {
                free(c);
                struct kube_status st = { .transport_errno = r };
                snprintf(st.message, sizeof(st.message), "memsched: %s", strerror(-r));
                job_finish(k, j, &st);
        }
}

/* The pod of job j as the informer knows it, by uid, else by namespace and name. */
static const struct kube_pod_brief *informer_pod(struct sched_kube *k, const struct bind_job *j)
{
        const struct kube_pod_brief *p =
            j->uid && *j->uid ? kube_informer_find(k->pods, j->uid) : NULL;
        if (p && streq(p->namespace_, j->namespace_) && streq(p->name, j->name))
                return p;
        for (size_t i = 0; i < kube_informer_count(k->pods); i++) {
                p = kube_informer_get(k->pods, i);
                if (streq(p->namespace_, j->namespace_) && streq(p->name, j->name))
                        return p;
        }
        return NULL;
}

/* The one GET for a pod the informer does not know yet (created a moment ago). */
static void on_pod_got(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct bind_call *c = userdata;
        struct sched_kube *k = c->k;
        struct bind_job *j = c->job;
        struct kube_pod_brief p;
        struct api_error err = {};
        char why[sizeof(st->message)];

        free(c);
        if (st->http_code == 404) {
                /* The API's own answer: the pod is not there (what the Binding would say). */
                k->bind_refusals++;
                job_finish(k, j, st);
                return;
        }
        memset(&p, 0, sizeof(p));
        if (kube_status_ok(st) && body && kube_pod_brief_decode(body, "Pod", &p, &err) == 0 &&
            !pod_bindable(&p, j, why, sizeof(why))) {
                job_refuse(k, j, why);
                return;
        }
        /* Pending, or the GET did not tell: the Binding decides (and says the API's error). */
        send_bind(k, j);
}

static void start_binds(struct sched_kube *k)
{
        char why[sizeof(((struct kube_status *)0)->message)];
        pthread_mutex_lock(&k->lock);
        struct bind_job *list = TAKE_PTR(k->queue);
        pthread_mutex_unlock(&k->lock);
        while (list) {
                struct bind_job *j = list;
                list = j->next;
                const struct kube_pod_brief *p =
                    kube_informer_synced(k->pods) ? informer_pod(k, j) : NULL;
                if (p) {
                        if (pod_bindable(p, j, why, sizeof(why)))
                                send_bind(k, j);
                        else
                                job_refuse(k, j, why);
                        continue;
                }
                _cleanup_free_ char *path = NULL;
                struct bind_call *c = calloc(1, sizeof(*c));
                if (c &&
                    asprintf(&path, "/api/v1/namespaces/%s/pods/%s", j->namespace_, j->name) >= 0) {
                        c->k = k;
                        c->job = j;
                        k->bind_gets++;
                        if (kube_client_send(k->client, "GET", path, NULL, NULL, on_pod_got, c,
                                             NULL) >= 0)
                                continue;
                        k->bind_gets--;
                }
                free(c);
                send_bind(k, j);
        }
}

int sched_kube_bind(struct sched_kube *k, const char *namespace_, const char *name, const char *uid,
                    const char *node, struct kube_status *ret_status)
{
        struct bind_job j = { .namespace_ = namespace_, .name = name, .uid = uid, .node = node };
        uint64_t one = 1;

        if (!namespace_ || !*namespace_ || !name || !*name || !node || !*node)
                return -EINVAL;
        pthread_mutex_lock(&k->lock);
        if (k->stopping) {
                pthread_mutex_unlock(&k->lock);
                return -ESHUTDOWN;
        }
        j.next = k->queue;
        k->queue = &j;
        if (write(k->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                log_warning_errno(errno, "Failed to wake the Kubernetes API thread: %m");
        /* Bounded: the client ends every request within its timeout and answers it. */
        while (!j.done)
                pthread_cond_wait(&k->cond, &k->lock);
        pthread_mutex_unlock(&k->lock);
        *ret_status = j.status;
        return j.refused ? -EPERM : 0;
}

/* ---- Events ------------------------------------------------------------------------------- */

static void on_event_posted(const struct kube_status *st, struct json_object *body, void *userdata)
{
        char *what = userdata;
        (void)body;
        if (!kube_status_ok(st)) {
                char text[768];
                kube_status_format(st, text, sizeof(text));
                log_warning("Kubernetes: Event %s refused: %s, ignoring", what, text);
        }
        free(what);
}

/* Each step of a migration is an Event on its pod (the one that moves), so that `kubectl
 * describe pod` and `kubectl get events` tell the story. Best effort: a lost Event is logged. */
static void post_event(struct sched_kube *k, const struct migration *m, bool warning,
                       const char *action, const char *reason, const char *note)
{
        struct kube_event ev = {
                .namespace_ = m->pod_namespace,
                .pod_name = m->pod_name,
                .pod_uid = m->pod_uid,
                .reporting_instance = k->instance,
                .reporting_controller = KUBE_REPORTING_CONTROLLER_SCHEDULER,
                .action = action,
                .reason = reason,
                .note = note,
                .warning = warning,
        };
        char *what = NULL;
        if (asprintf(&what, "%s for %s/%s (migration %s)", reason, m->pod_namespace, m->pod_name,
                     m->id) < 0)
                return;
        if (kube_post_event(k->client, &ev, on_event_posted, what) < 0) {
                log_warning("Kubernetes: cannot send Event %s, ignoring", what);
                free(what);
        }
}

static void refresh_stats(struct sched_kube *k);

/* ---- migrations ------------------------------------------------------------------------------ */

static struct attempt *attempt_find(struct sched_kube *k, const char *id, bool create)
{
        for (size_t i = 0; i < k->n_attempts; i++)
                if (strcmp(k->attempts[i].id, id) == 0)
                        return &k->attempts[i];
        if (!create)
                return NULL;
        struct attempt *n = realloc(k->attempts, (k->n_attempts + 1) * sizeof(*n));
        if (!n)
                return NULL;
        k->attempts = n;
        struct attempt *a = &k->attempts[k->n_attempts++];
        *a = (struct attempt){ .backoff_usec = SCHED_KUBE_BACKOFF_MIN_USEC };
        snprintf(a->id, sizeof(a->id), "%s", id);
        return a;
}

static bool ready(const struct migration *m, void *userdata)
{
        struct sched_kube *k = userdata;
        const struct attempt *a = attempt_find(k, m->id, false);
        return !a || (!a->in_flight && now_usec(CLOCK_MONOTONIC) >= a->not_before_usec);
}

struct evict_call {
        struct sched_kube *k;
        struct migration m; /* a copy of the plan as it was when the eviction went out */
};

static void record_step(struct sched_kube *k, const char *id, const char *step, const char *msg,
                        uint64_t evicted_at_usec, bool cancel)
{
        int r = cluster_migration_step(k->cl, id, step, msg, false, evicted_at_usec, cancel);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Migration %s: cannot record step %s: %m, ignoring", id, step);
}

static void on_evicted(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct evict_call *c = userdata;
        struct sched_kube *k = c->k;
        const struct migration *m = &c->m;
        struct attempt *a = attempt_find(k, m->id, true);
        char text[768], msg[1024];
        (void)body;

        if (a)
                a->in_flight = false;
        kube_status_format(st, text, sizeof(text));
        if (kube_status_ok(st) || st->http_code == 404) {
                /* Accepted, or the pod is already gone: either way its controller makes the
                 * replacement that the reservation on the target waits for. */
                snprintf(msg, sizeof(msg), "%s; the replacement is steered to %s",
                         kube_status_ok(st) ? "evicted" : "the pod was already gone",
                         m->target_node);
                log_info("Migration %s: pod %s/%s %s", m->id, m->pod_namespace, m->pod_name, msg);
                record_step(k, m->id, "evicted", msg, now_usec(CLOCK_REALTIME), false);
                if (kube_status_ok(st))
                        post_event(k, m, false, "Migrate", "Evicted", msg);
        } else if (st->http_code == 409) {
                /* The UID precondition failed: a different pod has the name now; the one that
                 * was planned is gone. Nothing of this plan can happen any more. */
                snprintf(msg, sizeof(msg), "not evicted: %s", text);
                log_info("Migration %s cancelled: %s", m->id, msg);
                record_step(k, m->id, "cancelled", msg, 0, true);
        } else {
                /* 429 (a PodDisruptionBudget says not now), 5xx or no answer: the plan stays
                 * pending and is tried again later. Never deleted around the budget. */
                uint64_t wait = a ? a->backoff_usec : SCHED_KUBE_BACKOFF_MIN_USEC;
                if (st->retry_after_sec * 1000000ull > wait)
                        wait = st->retry_after_sec * 1000000ull;
                if (a) {
                        a->not_before_usec = now_usec(CLOCK_MONOTONIC) + wait;
                        a->backoff_usec = a->backoff_usec * 2 > SCHED_KUBE_BACKOFF_MAX_USEC
                                              ? SCHED_KUBE_BACKOFF_MAX_USEC
                                              : a->backoff_usec * 2;
                }
                snprintf(msg, sizeof(msg), "eviction refused, retrying in %llu s: %s",
                         (unsigned long long)((wait + 999999) / 1000000), text);
                log_info("Migration %s: pod %s/%s %s", m->id, m->pod_namespace, m->pod_name, msg);
                record_step(k, m->id, "pending", msg, 0, false);
                if (a && !a->said_refused && st->http_code == 429) {
                        a->said_refused = true;
                        post_event(k, m, true, "Migrate",
                                   st->cause_reason[0] ? st->cause_reason : "TooManyRequests", msg);
                }
        }
        migration_done(&c->m);
        free(c);
}

static void evict_one(struct sched_kube *k, const struct migration *m)
{
        struct attempt *a = attempt_find(k, m->id, true);
        struct evict_call *c = calloc(1, sizeof(*c));
        char msg[768];
        int r;

        if (!a || !c || migration_copy(m, &c->m) < 0) {
                free(c);
                log_warning("Migration %s: out of memory, retrying", m->id);
                return;
        }
        c->k = k;
        snprintf(msg, sizeof(msg), "evicting pod %s/%s (uid %s) to move it from %s to %s: %s",
                 m->pod_namespace, m->pod_name, m->pod_uid, m->source_node, m->target_node,
                 m->reason ? m->reason : "");
        r = cluster_migration_step(k->cl, m->id, "evicting", msg, true, 0, false);
        if (r < 0) {
                if (r != -ENOENT && r != -ESTALE)
                        log_warning_errno(r,
                                          "Migration %s: cannot record its eviction: %m, "
                                          "retrying",
                                          m->id);
                migration_done(&c->m);
                free(c);
                return;
        }
        if (!a->said_evicting) {
                a->said_evicting = true;
                post_event(k, m, false, "Migrate", "Migrating", msg);
        }
        r = kube_evict(k->client, m->pod_namespace, m->pod_name, m->pod_uid, KUBE_GRACE_DEFAULT,
                       on_evicted, c);
        if (r < 0) {
                log_warning_errno(r, "Migration %s: cannot send the eviction: %m, retrying", m->id);
                a->not_before_usec = now_usec(CLOCK_MONOTONIC) + a->backoff_usec;
                migration_done(&c->m);
                free(c);
                return;
        }
        a->in_flight = true;
        log_info("Migration %s: %s", m->id, msg);
}

/* The end of a plan this memschedd carried out: its last Event, and its memory forgotten. */
static void say_final(struct sched_kube *k, const struct migration *m)
{
        struct attempt *a = attempt_find(k, m->id, false);
        if (!a || a->said_final || !m->evicted_at_usec)
                return;
        a->said_final = true;
        char msg[512];
        if (m->state == MIGRATION_BOUND) {
                snprintf(msg, sizeof(msg), "migrated from %s to %s: replacement %s bound there",
                         m->source_node, m->target_node,
                         m->replacement_pod ? m->replacement_pod : "?");
                post_event(k, m, false, "Migrate", "Migrated", msg);
        } else if (m->state == MIGRATION_EXPIRED) {
                snprintf(msg, sizeof(msg),
                         "no replacement was bound to %s in time: reservation released",
                         m->target_node);
                post_event(k, m, true, "Migrate", "MigrationExpired", msg);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct sched_kube *k = userdata;
        size_t picks[PICK_MAX];

        (void)usec;
        refresh_stats(k);
        if (!atomic_load(&k->cl->follower)) {
                _cleanup_snapshot_ struct sched_snapshot *snap = snapshot_acquire(&k->cl->slot);
                for (size_t i = 0; i < snap->n_plans; i++) {
                        const struct migration *m = &snap->plans[i];
                        /* A plan whose eviction went out before this memschedd started (or
                         * became leader) is remembered, so that its end gets its Event too. */
                        if (m->state == MIGRATION_PLANNED && m->evicted_at_usec &&
                            !attempt_find(k, m->id, false)) {
                                struct attempt *a = attempt_find(k, m->id, true);
                                if (a)
                                        a->said_evicting = true;
                        }
                        if (m->state != MIGRATION_PLANNED)
                                say_final(k, m);
                }
                size_t n = migrate_pick(snap->plans, snap->n_plans, k->max_concurrent, ready, k,
                                        picks, PICK_MAX);
                for (size_t i = 0; i < n; i++)
                        evict_one(k, &snap->plans[picks[i]]);
                /* Forget plans that ended and were told. */
                for (size_t i = 0; i < k->n_attempts;) {
                        struct attempt *a = &k->attempts[i];
                        bool keep = a->in_flight;
                        for (size_t p = 0; p < snap->n_plans && !keep; p++)
                                if (strcmp(snap->plans[p].id, a->id) == 0)
                                        keep = snap->plans[p].state == MIGRATION_PLANNED ||
                                               (!a->said_final && snap->plans[p].evicted_at_usec);
                        if (keep)
                                i++;
                        else
                                *a = k->attempts[--k->n_attempts];
                }
        }
        return sd_event_source_set_time_relative(s, SCHED_KUBE_TICK_USEC);
}

/* ---- the API's view of the cluster ------------------------------------------------------- */

static int on_publish(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct sched_kube *k = userdata;
        struct kube_view *view = NULL;
        size_t nn = kube_informer_count(k->nodes), np = kube_informer_count(k->pods);
        const struct kube_node_info **nodes = malloc((nn ? nn : 1) * sizeof(*nodes));
        const struct kube_pod_brief **pods = malloc((np ? np : 1) * sizeof(*pods));
        int r = nodes && pods ? 0 : -ENOMEM;
        (void)s;
        (void)usec;

        k->publish_armed = false;
        for (size_t i = 0; r >= 0 && i < nn; i++)
                nodes[i] = kube_informer_get(k->nodes, i);
        for (size_t i = 0; r >= 0 && i < np; i++)
                pods[i] = kube_informer_get(k->pods, i);
        if (r >= 0)
                r = kube_view_new(nodes, nn, pods, np, &view);
        if (r >= 0)
                r = cluster_set_kube_view(k->cl, view);
        free(nodes);
        free(pods);
        if (r < 0) {
                /* Placement goes on with the previous view; try again shortly. */
                log_warning_errno(r, "Cannot publish the Kubernetes API's view: %m, retrying");
                k->publish_armed = true;
                return sd_event_source_set_time_relative(k->publish, SCHED_KUBE_VIEW_DELAY_USEC) < 0
                           ? 0
                           : sd_event_source_set_enabled(k->publish, SD_EVENT_ONESHOT);
        }
        pthread_mutex_lock(&k->lock);
        k->stats.view_publications++;
        pthread_mutex_unlock(&k->lock);
        return 0;
}

/* Either informer changed: publish once both hold the whole cluster (before that, placement
 * works from the reports alone, as without an API: a half-listed cluster would make every node
 * unknown). */
static void on_informer_change(struct kube_informer *inf, const void *old, const void *new_,
                               void *userdata)
{
        struct sched_kube *k = userdata;
        (void)inf;
        (void)old;
        (void)new_;
        if (k->publish_armed || !kube_informer_synced(k->nodes) || !kube_informer_synced(k->pods))
                return;
        k->publish_armed = true;
        (void)sd_event_source_set_time_relative(k->publish, SCHED_KUBE_VIEW_DELAY_USEC);
        (void)sd_event_source_set_enabled(k->publish, SD_EVENT_ONESHOT);
}

static void refresh_stats(struct sched_kube *k)
{
        struct sched_kube_stats st;
        pthread_mutex_lock(&k->lock);
        st = k->stats;
        pthread_mutex_unlock(&k->lock);
        kube_client_get_stats(k->client, &st.client);
        kube_informer_get_stats(k->nodes, &st.nodes);
        kube_informer_get_stats(k->pods, &st.pods);
        st.n_nodes = kube_informer_count(k->nodes);
        st.n_pods = kube_informer_count(k->pods);
        st.nodes_synced = kube_informer_synced(k->nodes);
        st.pods_synced = kube_informer_synced(k->pods);
        st.bind_refusals = k->bind_refusals;
        st.bind_gets = k->bind_gets;
        st.at_usec = now_usec(CLOCK_MONOTONIC);
        pthread_mutex_lock(&k->lock);
        st.view_publications = k->stats.view_publications;
        k->stats = st;
        pthread_mutex_unlock(&k->lock);
}

void sched_kube_get_stats(struct sched_kube *k, struct sched_kube_stats *ret)
{
        pthread_mutex_lock(&k->lock);
        *ret = k->stats;
        pthread_mutex_unlock(&k->lock);
}

/* ---- the thread ---------------------------------------------------------------------------- */

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct sched_kube *k = userdata;
        uint64_t n;
        (void)s;
        (void)revents;
        if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                log_debug_errno(errno, "Reading the wake-up eventfd failed: %m, ignoring");
        pthread_mutex_lock(&k->lock);
        bool stopping = k->stopping;
        pthread_mutex_unlock(&k->lock);
        if (stopping)
                return sd_event_exit(k->event, 0);
        start_binds(k);
        return 0;
}

static void *thread_main(void *userdata)
{
        struct sched_kube *k = userdata;
        int r = sd_event_new(&k->event);
        if (r >= 0)
                r = kube_client_new(k->event, &k->cfg, &k->client);
        if (r >= 0)
                r = sd_event_add_io(k->event, &k->wake_source, k->wake_fd, EPOLLIN, on_wake, k);
        if (r >= 0)
                r = sd_event_add_time_relative(k->event, &k->timer, CLOCK_MONOTONIC,
                                               SCHED_KUBE_TICK_USEC, 0, on_tick, k);
        if (r >= 0)
                r = sd_event_source_set_enabled(k->timer, SD_EVENT_ON);
        if (r >= 0)
                r = sd_event_add_time_relative(k->event, &k->publish, CLOCK_MONOTONIC,
                                               SCHED_KUBE_VIEW_DELAY_USEC, 0, on_publish, k);
        if (r >= 0)
                r = sd_event_source_set_enabled(k->publish, SD_EVENT_OFF);
        if (r >= 0)
                r = kube_informer_start(k->client, &kube_node_info_type, "/api/v1/nodes", "nodes",
                                        on_informer_change, k, &k->nodes);
        if (r >= 0)
                r = kube_informer_start(k->client, &kube_pod_brief_type, "/api/v1/pods",
                                        "pods of the cluster", on_informer_change, k, &k->pods);
        pthread_mutex_lock(&k->lock);
        k->start_r = r;
        k->started = true;
        pthread_cond_broadcast(&k->cond);
        pthread_mutex_unlock(&k->lock);
        if (r >= 0) {
                r = sd_event_loop(k->event);
                if (r < 0)
                        log_error_errno(r, "The Kubernetes API loop failed: %m");
        }
        /* Binds never started get an answer, so that no handler waits forever. */
        pthread_mutex_lock(&k->lock);
        for (struct bind_job *j = TAKE_PTR(k->queue), *next; j; j = next) {
                next = j->next;
                j->status = (struct kube_status){ .transport_errno = -ESHUTDOWN };
                snprintf(j->status.message, sizeof(j->status.message), "memsched: stopping");
                j->done = true;
        }
        pthread_cond_broadcast(&k->cond);
        pthread_mutex_unlock(&k->lock);
        /* The informers before their client. */
        k->nodes = kube_informer_free(k->nodes);
        k->pods = kube_informer_free(k->pods);
        k->client = kube_client_free(k->client);
        k->publish = sd_event_source_disable_unref(k->publish);
        k->timer = sd_event_source_disable_unref(k->timer);
        k->wake_source = sd_event_source_disable_unref(k->wake_source);
        k->event = sd_event_unref(k->event);
        return NULL;
}

static void sched_kube_free(struct sched_kube *k)
{
        if (!k)
                return;
        if (k->wake_fd >= 0)
                close(k->wake_fd);
        kube_config_done(&k->cfg);
        pthread_mutex_destroy(&k->lock);
        pthread_cond_destroy(&k->cond);
        free(k->attempts);
        free(k);
}

int sched_kube_start(struct cluster *cl, const struct sched_kube_options *o,
                     struct sched_kube **ret, char *err, size_t err_size)
{
        char why[KUBE_CONFIG_ERR_MAX] = "";
        struct kube_config cfg = {};
        bool explicit_ = o->kubeconfig && *o->kubeconfig;
        int r = kube_config_load(o->kubeconfig, o->sa_dir, &cfg, why, sizeof(why));

        *ret = NULL;
        if (r == -ENOENT && !explicit_) {
                log_info("No Kubernetes API configured (no kubeconfig, KUBERNETES_SERVICE_HOST "
                         "unset): /extender/bind only records, migrations are only planned");
                return 0;
        }
        if (r < 0 && explicit_) {
                snprintf(err, err_size, "%s", why[0] ? why : strerror(-r));
                return -EMEDIUMTYPE;
        }
        if (r < 0) {
                /* In a pod without a usable service account: placement still works. */
                log_warning("Kubernetes in-cluster configuration unusable (%s): /extender/bind "
                            "only records, migrations are only planned",
                            why[0] ? why : strerror(-r));
                return 0;
        }
        struct sched_kube *k = calloc(1, sizeof(*k));
        if (!k) {
                kube_config_done(&cfg);
                return -ENOMEM;
        }
        k->cl = cl;
        k->cfg = cfg;
        k->max_concurrent = o->max_concurrent_migrations ? o->max_concurrent_migrations : 1;
        snprintf(k->instance, sizeof(k->instance), "%s", o->instance ? o->instance : "memschedd");
        pthread_mutex_init(&k->lock, NULL);
        pthread_cond_init(&k->cond, NULL);
        k->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (k->wake_fd < 0) {
                r = -errno;
                sched_kube_free(k);
                return r;
        }
        /* Plans whose eviction went out before a restart: remembered before the store's expiry
         * sweep may end them, so that their last Event (Migrated, MigrationExpired) is told
         * after the restart as it would have been without it. */
        {
                _cleanup_snapshot_ struct sched_snapshot *snap = snapshot_acquire(&cl->slot);
                for (size_t i = 0; i < snap->n_plans; i++) {
                        const struct migration *m = &snap->plans[i];
                        if (m->state != MIGRATION_PLANNED || !m->evicted_at_usec)
                                continue;
                        struct attempt *a = attempt_find(k, m->id, true);
                        if (a)
                                a->said_evicting = true;
                }
                if (k->n_attempts)
                        log_info("%zu migration(s) evicted before this start: their completion "
                                 "or expiry will be told in an Event",
                                 k->n_attempts);
        }
        r = -pthread_create(&k->thread, NULL, thread_main, k);
        if (r < 0) {
                sched_kube_free(k);
                return r;
        }
        pthread_mutex_lock(&k->lock);
        while (!k->started)
                pthread_cond_wait(&k->cond, &k->lock);
        r = k->start_r;
        pthread_mutex_unlock(&k->lock);
        if (r < 0) {
                pthread_join(k->thread, NULL);
                snprintf(err, err_size, "cannot start the Kubernetes client for %s (%s): %s",
                         k->cfg.server ? k->cfg.server : "?", k->cfg.source ? k->cfg.source : "?",
                         strerror(-r));
                sched_kube_free(k);
                return -EMEDIUMTYPE;
        }
        log_info("Kubernetes API at %s (%s): watching nodes and pods; binds through pods/binding, "
                 "migrations through the Eviction API (at most %u at once, one per node)",
                 k->cfg.server, k->cfg.source, k->max_concurrent);
        *ret = k;
        return 0;
}

void sched_kube_stop(struct sched_kube *k)
{
        uint64_t one = 1;
        if (!k)
                return;
        pthread_mutex_lock(&k->lock);
        k->stopping = true;
        pthread_mutex_unlock(&k->lock);
        if (write(k->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                log_warning_errno(errno, "Failed to wake the Kubernetes API thread: %m");
        pthread_join(k->thread, NULL);
        sched_kube_free(k);
}
