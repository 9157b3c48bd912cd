// SPDX-License-Identifier: Apache-2.0
// agent_step() with the Kubernetes API: the Eviction API before signals, its answers (429, 404,
// 409, none in time), Events, and a node guard without the API that never sends to it.
// Snapshots are built in memory, as in test_step.c.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "step-world.h"

/* ---- the Kubernetes API ---- */

#define NS "shop"

/* Makes cands[i] a pod the API knows as NS/name, with this priority. */
static struct k8s_pod_meta *know(struct world *w, size_t i, const char *name, int32_t priority)
{
        struct k8s_pod_meta *m = &w->meta[i];
        memset(m, 0, sizeof(*m));
        snprintf(m->uid, sizeof(m->uid), "uid-%s", name);
        snprintf(m->namespace_, sizeof(m->namespace_), NS);
        snprintf(m->name, sizeof(m->name), "%s", name);
        m->priority = priority;
        m->qos = policy_qos_from_abi(w->cands[i].c.qos);
        w->cands[i].meta = m;
        w->cands[i].uid = m->uid;
        return m;
}

/* Two BestEffort pods the API knows: "big" (600 MiB, priority 100) and "low" (200 MiB,
 * priority 0), and a third, "third" (100 MiB, priority 50). */
static void kube_cast(struct world *w)
{
        add(w, "/kubepods/besteffort/pod-big", QOS_BESTEFFORT, 600, 0, false);
        know(w, 0, "big", 100);
        add(w, "/kubepods/besteffort/pod-low", QOS_BESTEFFORT, 200, 0, false);
        know(w, 1, "low", 0);
        add(w, "/kubepods/besteffort/pod-third", QOS_BESTEFFORT, 100, 0, false);
        know(w, 2, "third", 50);
        w->kube_usable = true;
}

static void answer(struct world *w, const char *uid, int code, const char *reason,
                   const char *cause, uint64_t retry_after_sec)
{
        assert_true(w->n_answers < 4);
        struct kube_answer *a = &w->answers[w->n_answers++];
        memset(a, 0, sizeof(*a));
        snprintf(a->uid, sizeof(a->uid), "%s", uid);
        a->status.http_code = code;
        snprintf(a->status.reason, sizeof(a->status.reason), "%s", reason);
        snprintf(a->status.cause_reason, sizeof(a->status.cause_reason), "%s", cause);
        if (code == 0)
                snprintf(a->status.message, sizeof(a->status.message), "Connection refused");
        a->status.retry_after_sec = retry_after_sec;
}

static size_t count(const struct action_list *l, enum action_kind k)
{
        size_t n = 0;
        for (size_t i = 0; i < l->n; i++)
                n += l->items[i].kind == k;
        return n;
}

/* The Event regarding this pod with this reason, or fail. */
static const struct action *event_for(const struct world *w, const char *name, const char *reason)
{
        for (size_t i = 0; i < w->out.n; i++) {
                const struct action *a = &w->out.items[i];
                if (a->kind == ACTION_KUBE_EVENT && streq(a->kube_event.pod.name, name) &&
                    streq(a->kube_event.reason, reason)) {
                        assert_string_equal(a->kube_event.pod.namespace_, NS);
                        assert_true(strlen(a->kube_event.note) <= 1024);
                        assert_true(strlen(a->kube_event.note) > 0);
                        return a;
                }
        }
        fail_msg("no Event %s regarding %s", reason, name);
        return NULL;
}

static const struct action *evict_api_for(const struct world *w, const char *name)
{
        for (size_t i = 0; i < w->out.n; i++) {
                const struct action *a = &w->out.items[i];
                if (a->kind == ACTION_EVICT_API && streq(a->evict_api.pod.name, name))
                        return a;
        }
        return NULL;
}

static const struct evict_result NOTHING = { 0 };

/* Some ACTION_OUTCOME of the last step adds this to its record's API answers. */
static bool outcome_api_has(const struct world *w, const char *needle)
{
        for (size_t i = 0; i < w->out.n; i++)
                if (w->out.items[i].kind == ACTION_OUTCOME &&
                    strstr(w->out.items[i].outcome.api, needle))
                        return true;
        return false;
}

/* Raise the node to medium (two samples) with the eviction due on the second. */
static void to_medium(struct world *w, double t0)
{
        do_step(w, t0, 150, NOTHING);
        do_step(w, t0 + 1, 150, NOTHING);
}

/* The kubelet's ranking with the API's priorities: the lower-priority BestEffort pod goes,
 * though the other uses more; through the Eviction API, with the configured grace period. */
static void test_api_lower_priority_evicted(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.action, "evict");
        assert_string_equal(rec->record.d.victim.name, NS "/low");
        assert_string_equal(rec->record.d.victim.uid, "uid-low");
        assert_string_equal(rec->record.d.victim.namespace_, NS);
        assert_string_equal(rec->record.d.victim.pod_name, "low");
        assert_string_equal(rec->record.d.outcome, "evicting through the API");
        const struct action *e = evict_api_for(w, "low");
        assert_non_null(e);
        assert_string_equal(e->evict_api.pod.uid, "uid-low");
        assert_int_equal(e->evict_api.grace_sec, 3);
        assert_int_equal(e->evict_api.record, RECORD_LAST);
        assert_int_equal(count(&w->out, ACTION_EVICT_API), 1);
        /* nothing through the cgroup while the API has not answered */
        assert_null(find(&w->out, ACTION_TERMINATE));
        assert_null(find(&w->out, ACTION_KILL));
        assert_string_equal(event_for(w, "low", "MemoryPressureEviction")->kube_event.type,
                            "Warning");
        /* one eviction at a time: nothing more while the answer is awaited */
        do_step(w, 2, 150, NOTHING);
        assert_null(find(&w->out, ACTION_RECORD));
        assert_null(find(&w->out, ACTION_EVICT_API));
}

/* Annotated memagent.io/protect, node-critical, mirror and static pods are never chosen, however
 * much they use and whatever their priority. */
static void test_api_protected_never_chosen(void **state)
{
        struct world *w = *state;
        add(w, "/kubepods/besteffort/pod-protect", QOS_BESTEFFORT, 900, 0, false);
        know(w, 0, "protect", -100)->protect = true;
        add(w, "/kubepods/besteffort/pod-critical", QOS_BESTEFFORT, 800, 0, false);
        know(w, 1, "critical", K8S_SYSTEM_NODE_CRITICAL_PRIORITY);
        add(w, "/kubepods/besteffort/pod-mirror", QOS_BESTEFFORT, 700, 0, false);
        know(w, 2, "mirror", -100)->mirror = true;
        add(w, "/kubepods/besteffort/pod-static", QOS_BESTEFFORT, 700, 0, false);
        know(w, 3, "static", -100)->static_ = true;
        add(w, "/kubepods/burstable/pod-small", QOS_BURSTABLE, 50, 0, false);
        w->cands[4].c.request_bytes = 100 * MiB;
        know(w, 4, "small", 1000);
        w->kube_usable = true;
        to_medium(w, 0);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.victim.name, NS "/small");
        assert_int_equal(rec->record.d.n_candidates, 5);
        assert_int_equal(rec->record.d.n_excluded, 4);
        assert_non_null(evict_api_for(w, "small"));
        /* at critical too: the kubelet's own rules hold whatever the level */
        agent_state_done(&w->st);
        agent_state_init(&w->st);
        do_step(w, 10, 50, NOTHING);
        do_step(w, 11, 50, NOTHING);
        rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.action, "kill");
        assert_string_equal(find(&w->out, ACTION_KILL)->evict.cgroup,
                            "/kubepods/burstable/pod-small");
}

/* 201: the kubelet stops the pod, the grace period runs as after a SIGTERM (no signal of ours);
 * the pod leaves within it. */
static void test_api_accepted_then_exited(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        answer(w, "uid-low", 201, "", "", 0);
        do_step(w, 1.2, 0, NOTHING);
        const struct action *t = find(&w->out, ACTION_TERMINATE);
        assert_non_null(t);
        assert_true(t->evict.api_accepted);
        assert_string_equal(t->evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_int_equal(t->evict.grace_usec, 3 * SEC);
        assert_int_equal(t->evict.record, RECORD_EVICTION);
        const struct action *o = find(&w->out, ACTION_OUTCOME);
        assert_non_null(o);
        assert_int_equal(o->outcome.record, RECORD_EVICTION);
        assert_true(outcome_api_has(w, NS "/low: 201"));
        assert_null(find(&w->out, ACTION_KILL));
        do_step(w, 3, 0, (struct evict_result){ .outcome = EVICT_EXITED });
        const struct action *e = find(&w->out, ACTION_EVICTION_ENDED);
        assert_non_null(e);
        assert_true(e->ended.api_accepted);
        assert_false(w->st.inflight.active);
        assert_int_equal(w->st.kills_total, 1);
        assert_int_equal(w->st.n_kube_queue, 0); /* evicted already: nothing queued */
}

/* 201, but still populated when the grace period is over: killed through the cgroup, the record
 * says so, an Event too; the API already evicted it, so nothing is queued. */
static void test_api_accepted_then_grace_over(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        answer(w, "uid-low", 201, "", "", 0);
        do_step(w, 1.2, 0, NOTHING);
        do_step(w, 4.2, 0, (struct evict_result){ .outcome = EVICT_GRACE_OVER, .populated = true });
        const struct action *k = find(&w->out, ACTION_KILL);
        assert_non_null(k);
        assert_string_equal(k->evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_int_equal(k->evict.record, RECORD_EVICTION);
        const struct action *o = find(&w->out, ACTION_OUTCOME);
        assert_non_null(o);
        assert_true(outcome_api_has(w, "still populated after the grace period"));
        event_for(w, "low", "MemoryPressureKill");
        assert_null(find(&w->out, ACTION_EVICT_API));
        do_step(w, 4.5, 0, (struct evict_result){ .outcome = EVICT_KILLED, .counted = true });
        assert_false(w->st.inflight.active);
        assert_int_equal(w->st.kills_total, 1);
        assert_int_equal(w->st.n_kube_queue, 0);
}

/* 429 with the DisruptionBudget cause on the first candidate: the next one is evicted in the
 * same decision, the record carries the 429; the refused pod is not asked again before its
 * Retry-After, even in the next decision. */
static void test_api_429_next_candidate(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        assert_non_null(evict_api_for(w, "low"));
        answer(w, "uid-low", 429, "TooManyRequests", "DisruptionBudget", 30);
        do_step(w, 1.2, 0, NOTHING);
        assert_null(find(&w->out, ACTION_RECORD)); /* the same decision */
        const struct action *e = evict_api_for(w, "third");
        assert_non_null(e);
        assert_int_equal(e->evict_api.record, RECORD_EVICTION);
        assert_null(evict_api_for(w, "low"));
        assert_null(find(&w->out, ACTION_TERMINATE));
        assert_null(find(&w->out, ACTION_KILL));
        const struct action *o = find(&w->out, ACTION_OUTCOME);
        assert_non_null(o);
        assert_true(outcome_api_has(w, "429 TooManyRequests (DisruptionBudget)"));
        assert_true(o->outcome.has_victim);
        assert_string_equal(o->outcome.victim.name, NS "/third");
        assert_false(o->outcome.done);
        event_for(w, "third", "MemoryPressureEviction");
        /* third is accepted and leaves */
        answer(w, "uid-third", 201, "", "", 0);
        do_step(w, 1.5, 0, NOTHING);
        assert_true(find(&w->out, ACTION_TERMINATE)->evict.api_accepted);
        do_step(w, 2, 0, (struct evict_result){ .outcome = EVICT_EXITED });
        assert_false(w->st.inflight.active);
        /* the next decision, after the cooldown (5 s) and within low's Retry-After (30 s): big */
        w->cands[2].c.working_set_bytes = 0; /* third is gone */
        w->n_cands = 2;
        do_step(w, 7.5, 150, NOTHING);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.victim.name, NS "/big");
        assert_non_null(strstr(rec->record.d.api, "passed over"));
        assert_non_null(evict_api_for(w, "big"));
        assert_null(evict_api_for(w, "low"));
}

/* 404: the pod is gone; 409: replaced. Recorded, the eviction ends, nobody is killed. */
static void test_api_404_and_409_end(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        answer(w, "uid-low", 404, "NotFound", "", 0);
        do_step(w, 1.2, 0, NOTHING);
        const struct action *o = find(&w->out, ACTION_OUTCOME);
        assert_non_null(o);
        assert_true(o->outcome.done);
        assert_string_equal(o->outcome.outcome, "not evicted: the pod is gone (404)");
        assert_true(outcome_api_has(w, "404 NotFound"));
        assert_null(find(&w->out, ACTION_KILL));
        assert_null(find(&w->out, ACTION_TERMINATE));
        assert_false(w->st.inflight.active);
        assert_int_equal(w->st.kills_total, 0);
        assert_int_equal(w->st.n_kube_queue, 0);
        /* after the cooldown: the next decision, and a 409 */
        do_step(w, 6.2, 150, NOTHING);
        assert_non_null(evict_api_for(w, "low"));
        answer(w, "uid-low", 409, "Conflict", "", 0);
        do_step(w, 6.5, 0, NOTHING);
        o = find(&w->out, ACTION_OUTCOME);
        assert_non_null(o);
        assert_string_equal(o->outcome.outcome, "not evicted: the pod was replaced (409)");
        assert_null(find(&w->out, ACTION_KILL));
        assert_false(w->st.inflight.active);
}

/* The API cannot be reached at medium: killed through the cgroup at once, and the eviction is
 * queued; it is sent once the API is usable again (after the backoff), once, and ends on 201. */
static void test_api_unreachable_kill_then_queue(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        answer(w, "uid-low", 0, "", "", 0);
        do_step(w, 1.2, 0, NOTHING);
        const struct action *k = find(&w->out, ACTION_KILL);
        assert_non_null(k);
        assert_string_equal(k->evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_int_equal(k->evict.record, RECORD_EVICTION);
        assert_true(outcome_api_has(w, "unreachable"));
        event_for(w, "low", "MemoryPressureKill");
        assert_null(find(&w->out, ACTION_EVICT_API)); /* not at once: it just failed */
        assert_int_equal(w->st.n_kube_queue, 1);
        do_step(w, 1.5, 0, (struct evict_result){ .outcome = EVICT_KILLED, .counted = true });
        assert_false(w->st.inflight.active);
        assert_int_equal(w->st.kills_total, 1);
        /* the API is down: nothing is sent */
        w->kube_usable = false;
        w->n_cands = 2; /* low is gone */
        w->cands[1] = w->cands[2];
        w->meta[1] = w->meta[2];
        w->cands[1].meta = &w->meta[1];
        do_step(w, 3, 900, NOTHING);
        assert_null(find(&w->out, ACTION_EVICT_API));
        /* back: sent once */
        w->kube_usable = true;
        do_step(w, 4, 900, NOTHING);
        const struct action *e = evict_api_for(w, "low");
        assert_non_null(e);
        assert_string_equal(e->evict_api.pod.uid, "uid-low");
        assert_int_equal(e->evict_api.record, RECORD_NONE);
        do_step(w, 5, 900, NOTHING);
        assert_null(find(&w->out, ACTION_EVICT_API));
        answer(w, "uid-low", 201, "", "", 0);
        do_step(w, 5.2, 0, NOTHING);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.action, "evict");
        assert_string_equal(rec->record.d.victim.name, NS "/low");
        assert_string_equal(rec->record.d.outcome, "evicted through the API after the cgroup kill");
        assert_non_null(strstr(rec->record.d.api, "201"));
        assert_true(rec->record.d.done);
        event_for(w, "low", "MemoryPressureEviction");
        assert_int_equal(w->st.n_kube_queue, 0);
        do_step(w, 60, 900, NOTHING);
        assert_null(find(&w->out, ACTION_EVICT_API));
}

/* At critical: killed through the cgroup first, then evicted through the API in the same step;
 * a 429 with Retry-After holds the retry off that long; 409 ends it. */
static void test_api_critical_kill_then_evict(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        do_step(w, 0, 50, NOTHING);
        do_step(w, 1, 50, NOTHING);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.action, "kill");
        size_t ki = SIZE_MAX, ei = SIZE_MAX;
        for (size_t i = 0; i < w->out.n; i++) {
                if (w->out.items[i].kind == ACTION_KILL)
                        ki = i;
                if (w->out.items[i].kind == ACTION_EVICT_API)
                        ei = i;
        }
        assert_true(ki < ei && ei < w->out.n); /* the kill first: the node does not wait */
        assert_string_equal(w->out.items[ki].evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_string_equal(w->out.items[ei].evict_api.pod.uid, "uid-low");
        assert_int_equal(w->out.items[ei].evict_api.record, RECORD_NONE);
        event_for(w, "low", "MemoryPressureKill");
        answer(w, "uid-low", 429, "TooManyRequests", "", 5);
        do_step(w, 1.2, 0, (struct evict_result){ .outcome = EVICT_KILLED, .counted = true });
        assert_null(find(&w->out, ACTION_EVICT_API));
        do_step(w, 6.1, 900, NOTHING); /* before 1.2 + 5 s */
        assert_null(evict_api_for(w, "low"));
        do_step(w, 6.3, 900, NOTHING);
        assert_non_null(evict_api_for(w, "low"));
        answer(w, "uid-low", 409, "Conflict", "", 0);
        do_step(w, 6.5, 0, NOTHING);
        rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.outcome, "the pod was replaced (409): not evicted");
        assert_int_equal(w->st.n_kube_queue, 0);
}

/* Standalone, the same pods (no API, nothing known of them) go through the cgroup as ever. */
static void test_standalone_never_api(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        w->kube_usable = false;
        for (size_t i = 0; i < w->n_cands; i++)
                w->cands[i].meta = NULL;
        to_medium(w, 0);
        /* without the priorities, the biggest BestEffort pod goes */
        assert_string_equal(find(&w->out, ACTION_TERMINATE)->evict.cgroup,
                            "/kubepods/besteffort/pod-big");
        assert_null(find(&w->out, ACTION_EVICT_API));
        assert_null(find(&w->out, ACTION_KUBE_EVENT));
        assert_int_equal(w->st.n_kube_queue, 0);
}

/* A loan to a container of a pod the API knows is also an Event regarding the pod, and the
 * record names the pod as the API does. */
static void test_api_loan_event(void **state)
{
        struct world *w = *state;
        w->p.elastic = (struct elastic_params){
                .vscale_enabled = true,
                .vscale_step = { .is_percent = true, .percent = 10 },
                .vscale_ceiling = { .is_percent = true, .percent = 50 },
                .vscale_return_hold_usec = 60 * SEC,
        };
        struct container grow = { .cg = { .path = (char *)"/kubepods/burstable/pod-bu/c1",
                                          .id = 11,
                                          .growth_bytes_per_sec = 10 * MiB },
                                  .id = "c1" };
        struct pod pods[] = {
                { .cg = { .path = (char *)BU, .id = 1001 },
                  .uid = "uid-bu",
                  .qos = QOS_BURSTABLE,
                  .containers = &grow,
                  .n_containers = 1 },
        };
        struct model model = { .has_kubepods = true, .pods = pods, .n_pods = 1 };
        cast(w);
        know(w, 1, "bu", 0);
        w->kube_usable = true;
        w->node.mem.total = TOTAL;
        w->node.mem.available = 900 * MiB;
        bool loaned = false;
        for (int t = 0; t < 12 && !loaned; t++) {
                uint64_t ws = (150 + 5 * (uint64_t)t) * MiB;
                grow.cg.s = (struct cg_sample){
                        .have = CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_MAX) | CG_HAVE(CGF_STAT),
                        .current = ws,
                        .working_set = ws,
                        .max = 200 * MiB,
                };
                struct node_snapshot s = {
                        .now_usec = (uint64_t)t * SEC,
                        .sampled = true,
                        .have_node = true,
                        .node = &w->node,
                        .model = &model,
                        .has_kubepods = true,
                        .cands = w->cands,
                        .n_cands = w->n_cands,
                        .elastic = true,
                        .kube_usable = true,
                        .scopes[SCOPE_NODE] = { .present = true,
                                                .total_bytes = TOTAL,
                                                .available_bytes = 900 * MiB },
                };
                assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
                const struct action *l = find(&w->out, ACTION_SET_LIMITS);
                if (!l) {
                        assert_null(find(&w->out, ACTION_KUBE_EVENT));
                        continue;
                }
                loaned = true;
                assert_string_equal(l->limits.d.action, "loan");
                assert_string_equal(l->limits.d.victim.namespace_, NS);
                assert_string_equal(l->limits.d.victim.pod_name, "bu");
                assert_string_equal(l->limits.d.victim.uid, "uid-bu");
                assert_non_null(strstr(l->limits.d.victim.name, NS "/bu container c1"));
                const struct action *e = event_for(w, "bu", "MemoryLoan");
                assert_string_equal(e->kube_event.type, "Normal");
                assert_string_equal(e->kube_event.action, "Lend");
                assert_string_equal(e->kube_event.pod.uid, "uid-bu");
        }
        assert_true(loaned);
}

/* The request comes from the spec when the cgroup gives none (no MemoryQoS), and a pod annotated
 * memagent.io/avoid goes last, however much it uses. */
static void test_api_spec_request_and_avoid(void **state)
{
        struct world *w = *state;
        add(w, "/kubepods/besteffort/pod-avoid", QOS_BESTEFFORT, 900, 0, false);
        know(w, 0, "avoid", 0)->avoid = true;
        add(w, "/kubepods/burstable/pod-bu", QOS_BURSTABLE, 300, 0, false);
        know(w, 1, "bu", 0)->request_bytes = 500 * MiB; /* no memory.min: within only by spec */
        add(w, "/kubepods/besteffort/pod-be", QOS_BESTEFFORT, 100, 0, false);
        know(w, 2, "be", 0);
        w->kube_usable = true;
        to_medium(w, 0);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.victim.name, NS "/be");
        assert_int_equal(rec->record.d.n_runners_up, 2);
        assert_string_equal(rec->record.d.runners_up[0].name, NS "/bu");
        assert_int_equal(rec->record.d.runners_up[0].request_bytes, 500 * MiB);
        assert_string_equal(rec->record.d.runners_up[1].name, NS "/avoid");
}

/* The node never waits on the API: an eviction unanswered for a grace period is killed through
 * the cgroup and queued; the late answer is ignored, the queue asks anew. Critical pressure
 * while waiting kills at once. */
static void test_api_no_answer_in_time(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        to_medium(w, 0);
        assert_non_null(evict_api_for(w, "low"));
        do_step(w, 3.9, 150, NOTHING); /* 2.9 s: still waiting */
        assert_null(find(&w->out, ACTION_KILL));
        do_step(w, 4.1, 150, NOTHING); /* 3.1 s > grace 3 s */
        const struct action *k = find(&w->out, ACTION_KILL);
        assert_non_null(k);
        assert_string_equal(k->evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_true(outcome_api_has(w, "no answer within"));
        assert_int_equal(w->st.n_kube_queue, 1);
        answer(w, "uid-low", 201, "", "", 0); /* late: the request was given up */
        do_step(w, 4.3, 0, (struct evict_result){ .outcome = EVICT_KILLED, .counted = true });
        assert_null(find(&w->out, ACTION_RECORD));
        assert_int_equal(w->st.n_kube_queue, 1);
        do_step(w, 5.2, 900, NOTHING);
        assert_non_null(evict_api_for(w, "low"));

        /* critical while waiting */
        agent_state_done(&w->st);
        agent_state_init(&w->st);
        to_medium(w, 10);
        assert_non_null(evict_api_for(w, "low"));
        do_step(w, 11.5, 50, NOTHING);
        do_step(w, 12, 50, NOTHING);
        assert_int_equal(agent_level(&w->st, NULL), LEVEL_CRITICAL);
        k = find(&w->out, ACTION_KILL);
        assert_non_null(k);
        assert_string_equal(k->evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_true(outcome_api_has(w, "critical"));
}

/* The API configured but not usable (its pods not listed, or down) when medium pressure comes:
 * a pod it knew is terminated through the cgroup as ever, and queued for the API, which gets the
 * eviction once usable. A 500 on the retry backs off and tries again. */
static void test_api_unusable_terminate_then_queue(void **state)
{
        struct world *w = *state;
        kube_cast(w);
        w->kube_usable = false;
        to_medium(w, 0);
        const struct action *t = find(&w->out, ACTION_TERMINATE);
        assert_non_null(t);
        assert_false(t->evict.api_accepted);
        assert_string_equal(t->evict.cgroup, "/kubepods/besteffort/pod-low");
        assert_string_equal(find(&w->out, ACTION_RECORD)->record.d.action, "terminate");
        assert_null(find(&w->out, ACTION_EVICT_API));
        event_for(w, "low", "MemoryPressureKill");
        assert_int_equal(w->st.n_kube_queue, 1);
        do_step(w, 2, 0, (struct evict_result){ .outcome = EVICT_EXITED });
        w->kube_usable = true;
        do_step(w, 3, 900, NOTHING);
        assert_non_null(evict_api_for(w, "low"));
        answer(w, "uid-low", 503, "ServiceUnavailable", "", 0);
        do_step(w, 3.1, 0, NOTHING);
        assert_null(find(&w->out, ACTION_RECORD));
        assert_int_equal(w->st.n_kube_queue, 1);
        do_step(w, 3.5, 900, NOTHING); /* backing off 1 s */
        assert_null(find(&w->out, ACTION_EVICT_API));
        do_step(w, 4.2, 900, NOTHING);
        assert_non_null(evict_api_for(w, "low"));
        answer(w, "uid-low", 404, "NotFound", "", 0);
        do_step(w, 4.3, 0, NOTHING);
        assert_string_equal(find(&w->out, ACTION_RECORD)->record.d.outcome,
                            "the pod is gone (404): nothing left to evict");
        assert_int_equal(w->st.n_kube_queue, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_api_lower_priority_evicted),
                T(test_api_protected_never_chosen),
                T(test_api_accepted_then_exited),
                T(test_api_accepted_then_grace_over),
                T(test_api_429_next_candidate),
                T(test_api_404_and_409_end),
                T(test_api_unreachable_kill_then_queue),
                T(test_api_critical_kill_then_evict),
                T(test_standalone_never_api),
                T(test_api_loan_event),
                T(test_api_spec_request_and_avoid),
                T(test_api_no_answer_in_time),
                T(test_api_unusable_terminate_then_queue),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
