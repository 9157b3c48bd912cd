// SPDX-License-Identifier: Apache-2.0
// The Kubernetes API side of agent_step(): what the API says of a pod applied to its candidate,
// the answers to evictions through the Eviction API, the queue of pods killed through their
// cgroup and still to evict through the API, and the Events. Pure, as the rest of the step: the
// actuators talk to the API server and hand its answers back in the next snapshot.
//
// Why a pod killed through its cgroup is still evicted through the API: the kubelet sees its
// sandbox die and restarts it in place, on the same starved node. Only the Eviction API (with the
// pod's UID as a precondition, so that a replacement is never hit) makes the kubelet let it go.
// The node cannot wait for the API, so the kill comes first and the eviction is queued, retried
// with backoff (and never before a Retry-After) while the API is usable, until the API server
// accepts it (2xx) or says the pod is gone (404) or replaced (409).
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "agent/decide/step-internal.h"
#include "api/kube/status.h"
#include "common/macro.h"
#include "common/quantity.h"

#define USEC_PER_SEC     1000000ull
#define KUBE_BACKOFF_MIN (1 * USEC_PER_SEC)
#define KUBE_BACKOFF_MAX (60 * USEC_PER_SEC)
/* A 429 without Retry-After: the eviction REST handler's own hint for a disruption budget
 * (pkg/registry/core/pod/storage/eviction.go asks clients to come back in 10 s). */
#define KUBE_HOLDOFF_DEFAULT (10 * USEC_PER_SEC)
/* An answer that retrying will not change (403, 422, ...): give up after this many. */
#define KUBE_ATTEMPTS_MAX 10

static bool code_ok(int code)
{
        return code >= 200 && code < 300;
}

void kube_candidate_apply(struct memagent_candidate *c, const struct k8s_pod_meta *meta)
{
        if (!meta)
                return;
        c->priority = meta->priority;
        /* The cgroup gives a request only under MemoryQoS (memory.min); the spec always has it. */
        if (c->request_bytes == 0)
                c->request_bytes = meta->request_bytes;
        /* The kubelet does not evict mirror, static or node-critical pods: neither do we (the
         * decoder sums them up in node_critical; the parts are checked too, so that a meta built
         * elsewhere cannot forget one). */
        if (meta->protect || meta->node_critical || meta->mirror || meta->static_ ||
            meta->priority >= K8S_SYSTEM_NODE_CRITICAL_PRIORITY)
                c->flags |= MEMAGENT_CAND_PROTECTED;
        if (meta->avoid)
                c->flags |= MEMAGENT_CAND_AVOID;
}

void kube_ref_from_meta(struct kube_pod_ref *ref, const struct k8s_pod_meta *meta)
{
        snprintf(ref->namespace_, sizeof(ref->namespace_), "%s", meta->namespace_);
        snprintf(ref->name, sizeof(ref->name), "%s", meta->name);
        snprintf(ref->uid, sizeof(ref->uid), "%s", meta->uid);
}

bool kube_held_off(const struct agent_state *st, const char *uid, uint64_t now_usec)
{
        for (size_t i = 0; i < AGENT_KUBE_HOLDOFFS; i++)
                if (st->kube_holdoffs[i].uid[0] && streq(st->kube_holdoffs[i].uid, uid) &&
                    now_usec < st->kube_holdoffs[i].until_usec)
                        return true;
        return false;
}

static void hold_off(struct agent_state *st, const char *uid, uint64_t until_usec)
{
        /* The same pod's slot, else a free or expired one, else the one ending first. */
        struct kube_holdoff *slot = &st->kube_holdoffs[0];
        for (size_t i = 0; i < AGENT_KUBE_HOLDOFFS; i++) {
                struct kube_holdoff *h = &st->kube_holdoffs[i];
                if (streq(h->uid, uid)) {
                        slot = h;
                        break;
                }
                if (h->until_usec < slot->until_usec)
                        slot = h;
        }
        snprintf(slot->uid, sizeof(slot->uid), "%s", uid);
        slot->until_usec = until_usec;
}

static uint64_t grace_sec(const struct agent_params *p)
{
        return (p->grace_period_usec + USEC_PER_SEC - 1) / USEC_PER_SEC;
}

int kube_push_event(struct action_list *out, const struct kube_pod_ref *pod, const char *type,
                    const char *action, const char *reason, const char *fmt, ...)
{
        struct action *a = step_push(out, ACTION_KUBE_EVENT);
        if (!a)
                return -ENOMEM;
        a->kube_event.pod = *pod;
        snprintf(a->kube_event.type, sizeof(a->kube_event.type), "%s", type);
        snprintf(a->kube_event.action, sizeof(a->kube_event.action), "%s", action);
        snprintf(a->kube_event.reason, sizeof(a->kube_event.reason), "%s", reason);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->kube_event.note, sizeof(a->kube_event.note), fmt, ap);
        va_end(ap);
        return 0;
}

int kube_push_evict(struct action_list *out, const struct kube_pod_ref *pod,
                    const struct agent_params *p, enum record_ref record)
{
        struct action *a = step_push(out, ACTION_EVICT_API);
        if (!a)
                return -ENOMEM;
        a->evict_api.pod = *pod;
        a->evict_api.grace_sec = grace_sec(p);
        a->evict_api.record = record;
        return 0;
}

int kube_enqueue(struct agent_state *st, const struct kube_pod_ref *pod,
                 const struct decision_candidate *cand, const char *scope, const char *level,
                 uint64_t not_before_usec, struct action_list *out)
{
        for (size_t i = 0; i < st->n_kube_queue; i++)
                if (streq(st->kube_queue[i].pod.uid, pod->uid))
                        return 0; /* already queued: its own backoff goes on */
        if (st->n_kube_queue == AGENT_KUBE_QUEUE)
                return step_log(out, LOG_WARNING,
                                "Kubernetes: %u pods already wait to be evicted through the API; "
                                "%s/%s was killed through its cgroup only and may be restarted "
                                "on this node",
                                AGENT_KUBE_QUEUE, pod->namespace_, pod->name);
        struct kube_pending *q = &st->kube_queue[st->n_kube_queue++];
        *q = (struct kube_pending){ .pod = *pod, .cand = *cand, .next_usec = not_before_usec };
        snprintf(q->scope, sizeof(q->scope), "%s", scope);
        snprintf(q->level, sizeof(q->level), "%s", level);
        return 0;
}

/* The decision in flight ends without a kill: 404, 409, or every candidate refused. */
static void inflight_end(struct agent_state *st, const struct agent_params *p, uint64_t now)
{
        memset(&st->inflight, 0, sizeof(st->inflight));
        st->cooldown_until_usec = now + p->kill_cooldown_usec;
}

/* The next candidate of the decision in flight after a 429: untried, and not held off by the
 * API when it would be asked again. -1 when none is left. */
static ssize_t next_choice(const struct agent_state *st, uint64_t now)
{
        for (size_t i = st->inflight.current + 1; i < st->inflight.n_choices; i++) {
                const struct evict_choice *c = &st->inflight.choices[i];
                if (c->tried || (c->known && kube_held_off(st, c->pod.uid, now)))
                        continue;
                return (ssize_t)i;
        }
        return -1;
}

static int answer_inflight(const struct node_snapshot *snap, struct agent_state *st,
                           const struct agent_params *p, const struct kube_answer *ans,
                           struct action_list *out)
{
        uint64_t now = snap->now_usec;
        const struct kube_status *s = &ans->status;
        struct evict_choice *cur = &st->inflight.choices[st->inflight.current];
        struct kube_pod_ref pod = st->inflight.pod;
        char text[200], api[256], outcome[112];
        kube_status_format(s, text, sizeof(text));
        snprintf(api, sizeof(api), "%.40s/%.60s: %.150s", pod.namespace_, pod.name, text);
        cur->tried = true;
        st->inflight.api_wait = false;

        if (code_ok(s->http_code)) {
                /* Accepted: the kubelet stops the pod; the grace period runs as after a SIGTERM,
                 * and a cgroup still populated at its end is killed. */
                snprintf(outcome, sizeof(outcome), "evicted through the API, grace %" PRIu64 " s",
                         grace_sec(p));
                if (step_push_outcome(out, RECORD_EVICTION, outcome, api, false, NULL) < 0)
                        return -ENOMEM;
                struct action *a = step_push_evict(out, ACTION_TERMINATE, st->inflight.cgroup,
                                                   st->inflight.cgroup_id, p->grace_period_usec,
                                                   p->kill_cooldown_usec, RECORD_EVICTION);
                if (!a)
                        return -ENOMEM;
                a->evict.api_accepted = true;
                st->inflight.api_accepted = true;
                return 0;
        }

        if (s->http_code == 429) {
                /* A disruption budget (or the server's rate limit) refuses this pod now: do not
                 * ask again before its Retry-After, and evict the next candidate instead. */
                hold_off(st, pod.uid,
                         now + (s->retry_after_sec ? s->retry_after_sec * USEC_PER_SEC
                                                   : KUBE_HOLDOFF_DEFAULT));
                ssize_t k = next_choice(st, now);
                if (k < 0) {
                        if (step_push_outcome(out, RECORD_EVICTION,
                                              "not evicted: the API refused every candidate (429)",
                                              api, true, NULL) < 0 ||
                            step_log(out, LOG_WARNING,
                                     "Kubernetes: the API refused to evict %s/%s (%s) and no "
                                     "other candidate is left; deciding again after the cooldown",
                                     pod.namespace_, pod.name, text) < 0)
                                return -ENOMEM;
                        inflight_end(st, p, now);
                        return 0;
                }
                struct evict_choice *next = &st->inflight.choices[k];
                st->inflight.current = (size_t)k;
                snprintf(st->inflight.cgroup, sizeof(st->inflight.cgroup), "%s", next->cand.cgroup);
                st->inflight.cgroup_id = next->cgroup_id;
                st->inflight.known = next->known;
                st->inflight.pod = next->known ? next->pod : (struct kube_pod_ref){ 0 };
                if (step_log(out, LOG_NOTICE,
                             "Kubernetes: the API refused to evict %s/%s (%s); evicting %s "
                             "instead",
                             pod.namespace_, pod.name, text, next->cand.name) < 0)
                        return -ENOMEM;
                if (next->known && snap->kube_usable) {
                        snprintf(outcome, sizeof(outcome), "evicting %.80s through the API",
                                 next->cand.name);
                        if (step_push_outcome(out, RECORD_EVICTION, outcome, api, false,
                                              &next->cand) < 0 ||
                            kube_push_evict(out, &next->pod, p, RECORD_EVICTION) < 0 ||
                            kube_push_event(out, &next->pod, "Warning", "Evict",
                                            "MemoryPressureEviction",
                                            "Evicting through the Eviction API (another pod's "
                                            "disruption budget refused): %s",
                                            st->inflight.note) < 0)
                                return -ENOMEM;
                        st->inflight.api_wait = true;
                        st->inflight.api_sent_usec = now;
                        return 0;
                }
                /* Not known to the API (or the API went away): SIGTERM through the cgroup. */
                if (step_push_outcome(out, RECORD_EVICTION, "", api, false, &next->cand) < 0)
                        return -ENOMEM;
                if (!step_push_evict(out, ACTION_TERMINATE, next->cand.cgroup, next->cgroup_id,
                                     p->grace_period_usec, p->kill_cooldown_usec, RECORD_EVICTION))
                        return -ENOMEM;
                if (next->known &&
                    (kube_push_event(out, &next->pod, "Warning", "Terminate", "MemoryPressureKill",
                                     "Terminating through the cgroup: %s", st->inflight.note) < 0 ||
                     kube_enqueue(st, &next->pod, &next->cand, st->inflight.scope,
                                  st->inflight.level, now, out) < 0))
                        return -ENOMEM;
                return 0;
        }

        if (s->http_code == 404 || s->http_code == 409) {
                /* The pod is gone, or the UID precondition failed: a replacement holds the name.
                 * Either way there is nothing of ours left to evict. */
                if (step_push_outcome(out, RECORD_EVICTION,
                                      s->http_code == 404
                                          ? "not evicted: the pod is gone (404)"
                                          : "not evicted: the pod was replaced (409)",
                                      api, true, NULL) < 0)
                        return -ENOMEM;
                inflight_end(st, p, now);
                return 0;
        }

        /* No answer, 5xx, or an error retrying will not mend now: the node cannot wait for the
         * API. Kill through the cgroup as without the API, and evict through it later so that
         * the kubelet does not restart the pod here. */
        snprintf(api + strlen(api), sizeof(api) - strlen(api), "; killed through the cgroup");
        uint64_t wait = s->retry_after_sec * USEC_PER_SEC;
        if (step_push_outcome(out, RECORD_EVICTION, NULL, api, false, NULL) < 0)
                return -ENOMEM;
        if (!step_push_evict(out, ACTION_KILL, st->inflight.cgroup, st->inflight.cgroup_id, 0,
                             p->kill_cooldown_usec, RECORD_EVICTION))
                return -ENOMEM;
        if (kube_push_event(out, &pod, "Warning", "Kill", "MemoryPressureKill",
                            "Killed through the cgroup, the API could not evict (%s): %s", text,
                            st->inflight.note) < 0 ||
            kube_enqueue(st, &pod, &cur->cand, st->inflight.scope, st->inflight.level,
                         now + (wait > KUBE_BACKOFF_MIN ? wait : KUBE_BACKOFF_MIN), out) < 0)
                return -ENOMEM;
        return 0;
}

static void queue_remove(struct agent_state *st, size_t i)
{
        memmove(&st->kube_queue[i], &st->kube_queue[i + 1],
                (st->n_kube_queue - i - 1) * sizeof(st->kube_queue[0]));
        st->n_kube_queue--;
}

/* A record of its own for the end of a queued eviction. */
static int queue_record(const struct node_snapshot *snap, struct agent_state *st,
                        const struct kube_pending *q, const char *outcome, const char *api,
                        struct action_list *out)
{
        struct action *a = step_push(out, ACTION_RECORD);
        if (!a)
                return -ENOMEM;
        struct decision *d = &a->record.d;
        a->record.sample_start_usec = snap->now_usec;
        snprintf(d->scope, sizeof(d->scope), "%s", q->scope);
        snprintf(d->level, sizeof(d->level), "%s", q->level);
        snprintf(d->trigger, sizeof(d->trigger), "api");
        snprintf(d->action, sizeof(d->action), "evict");
        d->has_victim = true;
        d->victim = q->cand;
        d->n_candidates = 1;
        snprintf(d->outcome, sizeof(d->outcome), "%s", outcome);
        snprintf(d->api, sizeof(d->api), "%s", api);
        d->done = true;
        st->decisions_total++;
        return 0;
}

static int answer_queued(const struct node_snapshot *snap, struct agent_state *st, size_t i,
                         const struct kube_answer *ans, struct action_list *out)
{
        const struct kube_status *s = &ans->status;
        struct kube_pending q = st->kube_queue[i];
        char text[200], api[256];
        kube_status_format(s, text, sizeof(text));
        snprintf(api, sizeof(api), "%.40s/%.60s: %.150s", q.pod.namespace_, q.pod.name, text);
        int code = s->http_code;
        if (code_ok(code) || code == 404 || code == 409) {
                queue_remove(st, i);
                if (queue_record(snap, st, &q,
                                 code_ok(code) ? "evicted through the API after the cgroup kill"
                                 : code == 404 ? "the pod is gone (404): nothing left to evict"
                                               : "the pod was replaced (409): not evicted",
                                 api, out) < 0)
                        return -ENOMEM;
                if (code_ok(code) &&
                    kube_push_event(out, &q.pod, "Normal", "Evict", "MemoryPressureEviction",
                                    "Evicted through the Eviction API after the cgroup kill, so "
                                    "that the kubelet does not restart it on this node") < 0)
                        return -ENOMEM;
                return 0;
        }
        struct kube_pending *e = &st->kube_queue[i];
        e->sent = false;
        e->attempts++;
        bool retryable = code == 0 || code == 429 || code >= 500;
        if (!retryable && e->attempts >= KUBE_ATTEMPTS_MAX) {
                queue_remove(st, i);
                if (queue_record(snap, st, &q, "gave up evicting through the API", api, out) < 0)
                        return -ENOMEM;
                return step_log(out, LOG_WARNING,
                                "Kubernetes: gave up evicting %s/%s after %u attempts (%s); the "
                                "kubelet may restart it on this node",
                                q.pod.namespace_, q.pod.name, e->attempts, text);
        }
        e->backoff_usec = e->backoff_usec ? e->backoff_usec * 2 : KUBE_BACKOFF_MIN;
        if (e->backoff_usec > KUBE_BACKOFF_MAX)
                e->backoff_usec = KUBE_BACKOFF_MAX;
        uint64_t wait = s->retry_after_sec * USEC_PER_SEC;
        if (wait < e->backoff_usec)
                wait = e->backoff_usec;
        e->next_usec = snap->now_usec + wait;
        return step_log(out, LOG_WARNING,
                        "Kubernetes: evicting %s/%s (killed through its cgroup) failed: %s; "
                        "retrying in %llu s",
                        q.pod.namespace_, q.pod.name, text,
                        (unsigned long long)(wait / USEC_PER_SEC));
}

int kube_step_answers(const struct node_snapshot *snap, struct agent_state *st,
                      const struct agent_params *p, struct action_list *out)
{
        for (size_t k = 0; k < snap->n_kube_answers; k++) {
                const struct kube_answer *ans = &snap->kube_answers[k];
                int r = 0;
                if (st->inflight.active && st->inflight.api_wait &&
                    streq(st->inflight.pod.uid, ans->uid)) {
                        r = answer_inflight(snap, st, p, ans, out);
                } else {
                        size_t i = 0;
                        while (
                            i < st->n_kube_queue &&
                            !(st->kube_queue[i].sent && streq(st->kube_queue[i].pod.uid, ans->uid)))
                                i++;
                        if (i < st->n_kube_queue)
                                r = answer_queued(snap, st, i, ans, out);
                        else
                                r = step_log(out, LOG_DEBUG,
                                             "Kubernetes: an answer for pod %s that nothing waits "
                                             "for, ignored",
                                             ans->uid);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int kube_step_overdue(const struct node_snapshot *snap, struct agent_state *st,
                      const struct agent_params *p, enum pressure_level level,
                      struct action_list *out)
{
        if (!st->inflight.active || !st->inflight.api_wait)
                return 0;
        uint64_t waited = snap->now_usec - st->inflight.api_sent_usec;
        bool critical = level >= LEVEL_CRITICAL;
        if (!critical && waited < p->grace_period_usec)
                return 0;
        /* As if the API could not be reached: kill through the cgroup, evict through the API
         * later (a late answer to this request is ignored; the queued one is asked anew). */
        struct kube_answer ans = { .status = { .http_code = 0, .transport_errno = -ETIMEDOUT } };
        snprintf(ans.uid, sizeof(ans.uid), "%s", st->inflight.pod.uid);
        if (critical)
                snprintf(ans.status.message, sizeof(ans.status.message),
                         "pressure is critical: not waiting for the API's answer");
        else
                snprintf(ans.status.message, sizeof(ans.status.message), "no answer within %llu ms",
                         (unsigned long long)(waited / 1000));
        return answer_inflight(snap, st, p, &ans, out);
}

int kube_step_queue(const struct node_snapshot *snap, struct agent_state *st,
                    const struct agent_params *p, struct action_list *out)
{
        if (!snap->kube_usable)
                return 0;
        for (size_t i = 0; i < st->n_kube_queue; i++) {
                struct kube_pending *q = &st->kube_queue[i];
                if (q->sent || snap->now_usec < q->next_usec)
                        continue;
                if (kube_push_evict(out, &q->pod, p, RECORD_NONE) < 0)
                        return -ENOMEM;
                q->sent = true;
        }
        return 0;
}
