// SPDX-License-Identifier: Apache-2.0
// Act: carries out agent_step()'s actions, one actuator per kind, and keeps what came of them
// (the eviction's end, a kill's result) for the next snapshot. A new way of acting (the
// Kubernetes Eviction API, pods/resize) is a new actuator here; the decision does not change.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/daemon/manager-private.h"
#include "agent/daemon/report.h"
#include "agent/daemon/reporter.h"
#include "agent/kernel/kill.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

#define KILL_WAIT_MS 5000

void eviction_stop(struct manager *m)
{
        m->evict.timer = sd_event_source_disable_unref(m->evict.timer);
        m->evict.events_src = sd_event_source_disable_unref(m->evict.events_src);
        m->evict.events_fd = safe_close(m->evict.events_fd);
}

/* The record an action refers to. When the ring wrapped over it: still act, just do not
 * record (a zeroed scratch record). */
static struct decision *record_of(struct manager *m, enum record_ref ref, struct decision *scratch)
{
        uint64_t id = ref == RECORD_LAST       ? m->last_record_id
                      : ref == RECORD_EVICTION ? m->evict.decision_id
                      : ref == RECORD_BALLOON  ? m->balloon_record_id
                                               : 0;
        struct decision *d = id ? decision_log_find(&m->log, id) : NULL;
        return d ? d : memset(scratch, 0, sizeof(*scratch));
}

/* Writes what the step decided into a record of the log, keeping the id and times the log
 * gave it. Returns d. */
static struct decision *record_fill(struct decision *d, const struct decision *content)
{
        uint64_t id = d->id, real = d->time_realtime_usec, mono = d->time_mono_usec;
        *d = *content;
        d->id = id;
        d->time_realtime_usec = real;
        d->time_mono_usec = mono;
        return d;
}

static void act_record(struct manager *m, const struct action *a)
{
        if (a->record.slot == RECORD_BALLOON) {
                /* The episode's record: rewritten in place, made anew when the ring wrapped
                 * over it (or on the first step). */
                struct decision *d =
                    m->balloon_record_id ? decision_log_find(&m->log, m->balloon_record_id) : NULL;
                d = record_fill(d ? d : decision_log_new(&m->log), &a->record.d);
                m->balloon_record_id = d->id;
                return;
        }
        struct decision *d = record_fill(decision_log_new(&m->log), &a->record.d);
        uint64_t mono = d->time_mono_usec;
        d->sample_to_decision_usec = mono - a->record.sample_start_usec;
        d->trigger_to_decision_usec =
            a->record.episode_start_usec ? mono - a->record.episode_start_usec : 0;
        m->last_record_id = d->id;
}

/* Freezes and kills the cgroup, waits for it to empty, and records the result. */
static void act_kill(struct manager *m, const struct action *a)
{
        struct decision scratch;
        struct decision *d = record_of(m, a->evict.record, &scratch);
        struct kill_result kr;
        int r =
            cgroup_kill_verified(m->cg_fd, a->evict.cgroup, a->evict.cgroup_id, KILL_WAIT_MS, &kr);
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        bool counted = false;
        if (r < 0) {
                snprintf(d->outcome, sizeof(d->outcome), "kill failed: %s", strerror(-r));
        } else {
                snprintf(d->outcome, sizeof(d->outcome), "%s", kill_outcome_to_string(kr.outcome));
                if (kr.outcome == KILL_DONE || kr.outcome == KILL_TIMEOUT) {
                        counted = true;
                        d->freed_bytes = kr.current_before_bytes > kr.current_after_bytes
                                             ? kr.current_before_bytes - kr.current_after_bytes
                                             : 0;
                }
                if (kr.outcome == KILL_DONE)
                        d->decision_to_empty_usec = now - d->time_mono_usec;
        }
        d->done = true;
        char freed[FORMAT_BYTES_MAX];
        log_notice("Eviction #%llu of %s: %s, freed %s in %llu ms; cooling down for %llu ms",
                   (unsigned long long)d->id, a->evict.cgroup, d->outcome,
                   format_bytes_iec(d->freed_bytes, freed, sizeof(freed)),
                   (unsigned long long)((now - d->time_mono_usec) / 1000),
                   (unsigned long long)(a->evict.cooldown_usec / 1000));
        eviction_stop(m);
        m->evict.decision_id = 0;
        m->evict.result =
            (struct evict_result){ .outcome = EVICT_KILLED, .counted = counted, .at_usec = now };
        m->refresh_needed = true;
}

static int on_grace_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        (void)usec;
        int pop = cgroup_populated(m->cg_fd, m->evict.cgroup);
        eviction_stop(m);
        m->evict.result = (struct evict_result){
                .outcome = EVICT_GRACE_OVER,
                .populated = !(pop == 0 || errno_is_vanished(pop)),
                .at_usec = now_usec(CLOCK_MONOTONIC),
        };
        manager_run_outcome(m);
        return 0;
}

static int on_victim_events(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        char buf[256];
        (void)s;
        (void)revents;
        ssize_t n = pread_full(fd, buf, sizeof(buf));
        if (n >= 0 && !strstr(buf, "populated 0"))
                return 0; /* still running: keep waiting */
        eviction_stop(m);
        m->evict.result =
            (struct evict_result){ .outcome = EVICT_EXITED, .at_usec = now_usec(CLOCK_MONOTONIC) };
        manager_run_outcome(m);
        return 0;
}

/* SIGTERM to every process of the victim, then wait out the grace period; learn at once when the
 * cgroup empties. When nothing could be signalled (it exited, or the signal failed) or the
 * timer cannot be armed, the kill path sorts it out now. */
static void act_terminate(struct manager *m, const struct action *a)
{
        struct decision scratch;
        struct decision *d = record_of(m, a->evict.record, &scratch);
        eviction_stop(m);
        m->evict.decision_id = d->id;
        snprintf(m->evict.cgroup, sizeof(m->evict.cgroup), "%s", a->evict.cgroup);
        if (!a->evict.api_accepted) {
                int k = cgroup_signal_all(m->cg_fd, a->evict.cgroup, SIGTERM);
                if (k <= 0) {
                        act_kill(m, a);
                        return;
                }
                snprintf(d->outcome, sizeof(d->outcome),
                         "SIGTERM sent to %d processes, grace %llu ms", k,
                         (unsigned long long)(a->evict.grace_usec / 1000));
        }
        /* Evicted through the API: the kubelet stops the pod; wait for it as after SIGTERM
         * (the record already says what the API answered). */
        int r = sd_event_add_time_relative(m->event, &m->evict.timer, CLOCK_MONOTONIC,
                                           a->evict.grace_usec, 1000, on_grace_timer, m);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the grace timer: %m, killing now");
                act_kill(m, a);
                return;
        }
        char ev[300];
        snprintf(ev, sizeof(ev), "%s/cgroup.events",
                 a->evict.cgroup[0] == '/' ? a->evict.cgroup + 1 : a->evict.cgroup);
        m->evict.events_fd = openat(m->cg_fd, ev, O_RDONLY | O_CLOEXEC);
        if (m->evict.events_fd >= 0 &&
            sd_event_add_io(m->event, &m->evict.events_src, m->evict.events_fd, EPOLLPRI,
                            on_victim_events, m) < 0)
                m->evict.events_fd = safe_close(m->evict.events_fd);
}

/* The victim left within the grace period. */
static void act_eviction_ended(struct manager *m, const struct action *a)
{
        struct decision scratch;
        struct decision *d = record_of(m, RECORD_EVICTION, &scratch);
        snprintf(d->outcome, sizeof(d->outcome), "%s",
                 a->ended.api_accepted ? "evicted through the API: gone within the grace period"
                                       : "terminated gracefully");
        d->decision_to_empty_usec = a->ended.at_usec - d->time_mono_usec;
        d->done = true;
        log_notice(
            "Eviction #%llu of %s: terminated gracefully in %llu ms; cooling down for %llu ms",
            (unsigned long long)d->id, a->ended.cgroup,
            (unsigned long long)(d->decision_to_empty_usec / 1000),
            (unsigned long long)(a->ended.cooldown_usec / 1000));
        eviction_stop(m);
        m->evict.decision_id = 0;
        m->refresh_needed = true;
}

/* One balloon step, on the worker. */
static void act_reclaim(struct manager *m, const struct action *a)
{
        const struct cgroup *cg = model_find_cgroup(&m->model, a->reclaim.cgroup_id);
        if (!m->elastic || !cg)
                return;                                /* gone since the sample */
        _cleanup_close_ int dfd = cgroup_dir_open(cg); /* beyond the fd budget it keeps none */
        if (dfd >= 0)
                (void)elastic_reclaim_submit(m->elastic, dfd, a->reclaim.cgroup_id,
                                             a->reclaim.bytes, a->reclaim.pressure);
}

static void limits_done(struct manager *m, uint64_t cgroup_id, bool ok)
{
        if (m->n_limits == m->cap_limits) {
                size_t cap = m->cap_limits ? m->cap_limits * 2 : 8;
                struct limits_result *n = realloc(m->limits, cap * sizeof(*n));
                if (!n)
                        return; /* the loan is decided again on the next sample */
                m->limits = n;
                m->cap_limits = cap;
        }
        m->limits[m->n_limits++] = (struct limits_result){ .cgroup_id = cgroup_id, .ok = ok };
}

/* A loan or a return: write the limits, then record what changed. */
static void act_set_limits(struct manager *m, const struct action *a)
{
        const struct limits_change *c = &a->limits.c;
        const struct cgroup *cg = model_find_cgroup(&m->model, c->cgroup_id);
        const struct cgroup *pod =
            c->pod_cgroup_id ? model_find_cgroup(&m->model, c->pod_cgroup_id) : NULL;
        /* Directory fds of their own: beyond the fd budget a cgroup keeps none. */
        _cleanup_close_ int dfd = cg ? cgroup_dir_open(cg) : -ENOENT;
        _cleanup_close_ int pod_dfd = pod ? cgroup_dir_open(pod) : -1;
        int r = dfd >= 0 ? elastic_apply_limits(dfd, pod_dfd, c) : dfd;
        if (r < 0) {
                if (!errno_is_vanished(r))
                        log_warning_errno(r,
                                          "Vertical scaling: writing the limits of %s failed: "
                                          "%m; trying again on the next sample",
                                          a->limits.d.victim.cgroup);
                limits_done(m, c->cgroup_id, false);
                return;
        }
        limits_done(m, c->cgroup_id, true);
        /* The cgroup first (the node never waits on the API), then the API server, so that the
         * kubelet's next sync keeps the new limit instead of writing the old one back. */
        const char *via = "";
        if (a->limits.known && m->kube.resize && c->new_max != VSCALE_NO_LIMIT) {
                int rr =
                    m->kube.resize(m->kube.ud, &a->limits.pod, a->limits.container_id, c->new_max);
                if (rr >= 0)
                        via = "; pods/resize sent";
                else if (rr != -EOPNOTSUPP)
                        log_debug_errno(rr, "Kubernetes: pods/resize of %s/%s not sent: %m",
                                        a->limits.pod.namespace_, a->limits.pod.name);
        }
        struct decision *d = record_fill(decision_log_new(&m->log), &a->limits.d);
        char x[FORMAT_BYTES_MAX], y[FORMAT_BYTES_MAX];
        snprintf(d->outcome, sizeof(d->outcome), "memory.max %s -> %s%s",
                 format_bytes_iec(d->limit_before_bytes, x, sizeof(x)),
                 format_bytes_iec(d->limit_after_bytes, y, sizeof(y)), via);
        log_notice("Vertical scaling: %s %s %s (%s): %s", c->up ? "lent" : "took back",
                   format_bytes_iec(d->amount_bytes, x, sizeof(x)), d->victim.cgroup,
                   d->victim.reason, d->outcome);
}

/* ---- the Kubernetes API ---- */

void manager_bind_kube(struct manager *m, const struct kube_binding *b)
{
        m->kube = b ? *b : (struct kube_binding){ 0 };
}

void kube_answer_push(struct manager *m, const char *uid, const struct kube_status *s)
{
        if (m->n_kube_answers == MANAGER_KUBE_ANSWERS_MAX) {
                /* The step runs after every action list, so this many answers cannot pile up
                 * unless the client answers in a loop; the eviction waits for its next answer. */
                log_warning("Kubernetes: too many API answers pending, dropping the one for pod "
                            "%s",
                            uid);
                return;
        }
        struct kube_answer *ans = &m->kube_answers[m->n_kube_answers++];
        snprintf(ans->uid, sizeof(ans->uid), "%s", uid);
        ans->status = *s;
}

void manager_kube_answer(struct manager *m, const char *uid, const struct kube_status *s)
{
        kube_answer_push(m, uid, s);
        manager_run_outcome(m);
}

/* POST pods/eviction through the bound client. With none bound (the lead binds api/kube/ here),
 * or when the request cannot start, the answer is "unreachable" at once: the step then kills
 * through the cgroup and queues the eviction, so the node never waits on a missing client. */
static void act_evict_api(struct manager *m, const struct action *a)
{
        const struct kube_pod_ref *pod = &a->evict_api.pod;
        if (a->evict_api.record != RECORD_NONE) {
                struct decision scratch;
                struct decision *d = record_of(m, a->evict_api.record, &scratch);
                m->evict.decision_id = d->id; /* the eviction in flight, for its answers */
        }
        int r = m->kube.evict ? m->kube.evict(m->kube.ud, pod, a->evict_api.grace_sec) : -ENOTCONN;
        if (r >= 0)
                return;
        log_debug("Kubernetes: eviction of %s/%s (uid %s) not sent: %s", pod->namespace_, pod->name,
                  pod->uid, m->kube.evict ? strerror(-r) : "no API client bound");
        struct kube_status s = { .http_code = 0, .transport_errno = r };
        snprintf(s.message, sizeof(s.message), "%s",
                 m->kube.evict ? strerror(-r) : "no Kubernetes API client bound");
        kube_answer_push(m, pod->uid, &s);
}

static void act_kube_event(struct manager *m, const struct action *a)
{
        const struct kube_pod_ref *pod = &a->kube_event.pod;
        if (!m->kube.event) {
                log_debug("Kubernetes: no API client bound, Event %s for %s/%s not sent: %s",
                          a->kube_event.reason, pod->namespace_, pod->name, a->kube_event.note);
                return;
        }
        int r = m->kube.event(m->kube.ud, pod, a->kube_event.type, a->kube_event.action,
                              a->kube_event.reason, a->kube_event.note);
        if (r < 0)
                log_debug_errno(r, "Kubernetes: Event %s for %s/%s not sent: %m, ignoring",
                                a->kube_event.reason, pod->namespace_, pod->name);
}

/* What came of a step's earlier action, written into its record. */
static void act_outcome(struct manager *m, const struct action *a)
{
        struct decision scratch;
        struct decision *d = record_of(m, a->outcome.record, &scratch);
        if (a->outcome.outcome[0])
                snprintf(d->outcome, sizeof(d->outcome), "%s", a->outcome.outcome);
        if (a->outcome.api[0]) {
                size_t n = strlen(d->api);
                snprintf(d->api + n, sizeof(d->api) - n, "%s%s", n ? "; " : "", a->outcome.api);
        }
        if (a->outcome.has_victim)
                d->victim = a->outcome.victim;
        if (a->outcome.done) {
                d->done = true;
                if (a->outcome.record == RECORD_EVICTION) {
                        log_notice("Eviction #%llu: %s%s%s", (unsigned long long)d->id, d->outcome,
                                   d->api[0] ? "; API: " : "", d->api);
                        eviction_stop(m);
                        m->evict.decision_id = 0;
                }
        }
}

/* Hands the node report to the reporter, which decides whether it is worth sending now. */
static void act_report(struct manager *m, const struct action *a)
{
        if (!m->reporter)
                return;
        struct report_input in = {
                .node_name = m->node_name,
                .node = &m->node,
                .model = &m->model,
                .level = a->report.level,
                .level_duration_ms = a->report.level_duration_ms,
                .relief_exhausted = a->report.relief_exhausted,
                .reserved_bytes = a->report.reserved_bytes,
        };
        _cleanup_(node_report_done) struct node_report rep = {};
        if (report_build(&in, &rep) == 0)
                (void)reporter_submit(m->reporter, &rep);
}

void manager_bind_remote_swap(struct manager *m, struct remote_swap *s)
{
        m->remote_swap = s;
        m->n_rswap_donors = 0;
}

struct json_object *remote_swap_status_json(const struct manager *m)
{
        if (!m->remote_swap)
                return NULL;
        const struct remote_swap_input *in = &m->rswap_in;
        struct json_object *o = json_object_new_object(), *ds = json_object_new_array();
        if (!o || !ds) {
                json_object_put(o);
                json_object_put(ds);
                return NULL;
        }
        json_object_object_add(o, "phase",
                               json_object_new_string(remote_swap_phase_to_string(in->phase)));
        json_object_object_add(o, "lease_id",
                               in->lease_id[0] ? json_object_new_string(in->lease_id) : NULL);
        json_object_object_add(o, "lease_bytes", json_object_new_uint64(in->lease_bytes));
        json_object_object_add(o, "swapped_bytes", json_object_new_uint64(in->swapped_bytes));
        json_object_object_add(o, "ending", json_object_new_boolean(in->ending));
        json_object_object_add(o, "renewals", json_object_new_uint64(in->renewals));
        json_object_object_add(o, "revoked_slabs", json_object_new_uint64(in->revoked));
        json_object_object_add(
            o, "last_error",
            in->last_error ? json_object_new_string(strerror(abs(in->last_error))) : NULL);
        for (size_t i = 0; i < m->n_rswap_donors; i++) {
                const struct remote_swap_donor *d = &m->rswap_donors[i];
                struct json_object *dj = json_object_new_object();
                if (!dj)
                        break;
                json_object_object_add(dj, "donor", json_object_new_string(d->donor));
                json_object_object_add(dj, "bytes", json_object_new_uint64(d->bytes));
                json_object_object_add(dj, "slabs", json_object_new_uint64(d->slabs));
                json_object_object_add(dj, "healthy", json_object_new_uint64(d->healthy));
                json_object_object_add(dj, "syncing", json_object_new_uint64(d->syncing));
                json_object_object_add(dj, "failed", json_object_new_uint64(d->failed));
                /* Transfers to the donor and their latency (null before the first). */
                const struct remote_latency *lat = &d->latency;
                json_object_object_add(dj, "ops", json_object_new_uint64(lat->ops));
                json_object_object_add(dj, "errors", json_object_new_uint64(lat->errors));
                json_object_object_add(
                    dj, "latency_p50_usec",
                    lat->ops ? json_object_new_uint64(remote_latency_quantile_usec(lat, 0.50))
                             : NULL);
                json_object_object_add(
                    dj, "latency_p99_usec",
                    lat->ops ? json_object_new_uint64(remote_latency_quantile_usec(lat, 0.99))
                             : NULL);
                json_object_array_add(ds, dj);
        }
        json_object_object_add(o, "donors", ds);
        return o;
}

/* The step's lease, renew, drain or release: handed to the remote swap worker, which never
 * holds the loop; what came of it is in the next snapshot (remote_swap_get()). */
static void act_remote_swap(struct manager *m, const struct action *a)
{
        if (!m->remote_swap) {
                log_warning("Remote swap %s asked for, but no remote swap worker runs, ignoring",
                            lease_op_to_string(a->remote_swap.op));
                return;
        }
        log_debug("Remote swap: %s %s", lease_op_to_string(a->remote_swap.op),
                  a->remote_swap.lease_id);
        remote_swap_command(m->remote_swap, a->remote_swap.op, a->remote_swap.bytes);
}

static const struct cgroup *container_by_id(const struct model *model, uint64_t id)
{
        for (size_t i = 0; i < model->n_pods; i++)
                for (size_t j = 0; j < model->pods[i].n_containers; j++)
                        if (model->pods[i].containers[j].cg.id == id)
                                return &model->pods[i].containers[j].cg;
        return NULL;
}

/* A container's memory.swap.max, while the remote swap is on (0 or "max" by its pod's QoS class
 * and override) or back to what it was. A container gone meanwhile is no error. */
static void act_swap_max(struct manager *m, const struct action *a)
{
        const struct cgroup *c = container_by_id(&m->model, a->swap_max.cgroup_id);
        if (!c || c->gone)
                return;
        char v[32];
        if (a->swap_max.value_bytes == CG_UNLIMITED)
                snprintf(v, sizeof(v), "max");
        else
                snprintf(v, sizeof(v), "%" PRIu64, a->swap_max.value_bytes);
        int r = write_string_at(c->dfd, "memory.swap.max", v);
        if (r == -ENOENT || r == -ENODEV)
                return;
        if (r < 0)
                log_warning_errno(r, "Failed to write memory.swap.max %s to %s, ignoring: %m", v,
                                  a->swap_max.cgroup);
        else
                log_info("memory.swap.max of %s is now %s", a->swap_max.cgroup, v);
}

void act(struct manager *m, const struct action_list *l)
{
        m->last_record_id = 0;
        for (size_t i = 0; i < l->n; i++) {
                const struct action *a = &l->items[i];
                switch (a->kind) {
                case ACTION_LOG:
                        log_full_errno(a->log.priority, 0, "%s", a->log.text);
                        break;
                case ACTION_RECORD:
                        act_record(m, a);
                        break;
                case ACTION_TERMINATE:
                        act_terminate(m, a);
                        break;
                case ACTION_KILL:
                        act_kill(m, a);
                        break;
                case ACTION_EVICTION_ENDED:
                        act_eviction_ended(m, a);
                        break;
                case ACTION_RECLAIM:
                        act_reclaim(m, a);
                        break;
                case ACTION_SET_LIMITS:
                        act_set_limits(m, a);
                        break;
                case ACTION_REPORT:
                        act_report(m, a);
                        break;
                case ACTION_EVICT_API:
                        act_evict_api(m, a);
                        break;
                case ACTION_KUBE_EVENT:
                        act_kube_event(m, a);
                        break;
                case ACTION_OUTCOME:
                        act_outcome(m, a);
                        break;
                case ACTION_REMOTE_SWAP:
                        act_remote_swap(m, a);
                        break;
                case ACTION_SWAP_MAX:
                        act_swap_max(m, a);
                        break;
                }
        }
}
