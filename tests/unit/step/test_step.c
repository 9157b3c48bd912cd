// SPDX-License-Identifier: Apache-2.0
// agent_step() through whole pressure episodes: each test is a world (candidates, settings) and
// a table of steps, one row per snapshot (a sample, or an eviction outcome alone), each with the
// actions and the level it must produce. Snapshots are built in memory: no file, no clock.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/decide/step.h"
#include "common/macro.h"
#include "plugins/policy.h"

#define MiB   (1024ull * 1024)
#define SEC   1000000ull
#define TOTAL (1024 * MiB)

/* A step of an episode. avail_mib 0 with an outcome: an outcome alone, no sample. */
struct row {
        double t;           /* seconds */
        uint64_t avail_mib; /* the node's MemAvailable */
        enum evict_outcome outcome;
        bool populated, counted;
        /* expectations */
        enum pressure_level level;
        const char *record_action; /* the eviction record's action, NULL: no record */
        const char *victim;        /* its victim's cgroup, NULL: none */
        bool terminate, kill, ended;
        enum { ANY, NO, YES } relief; /* the report's relief_exhausted */
};

struct world {
        struct agent_params p;
        struct snap_candidate cands[8];
        size_t n_cands;
        bool has_kubepods;
        struct node_sample node;
        struct agent_state st;
        struct action_list out;
        struct policy_chain *chain;
        /* the Kubernetes API: what it says of cands[i] (meta[i], when known), whether it is
         * usable, and its answers for the next step */
        struct k8s_pod_meta meta[8];
        bool kube_usable;
        struct kube_answer answers[4];
        size_t n_answers;
};

static int setup(void **state)
{
        static struct world w;
        memset(&w, 0, sizeof(w));
        const char *qos[] = { "qos" };
        assert_int_equal(policy_chain_load(qos, 1, NULL, &w.chain), 0);
        w.p = (struct agent_params){
                .avail_low = { .bytes = 300 * MiB },
                .avail_medium = { .bytes = 200 * MiB },
                .avail_critical = { .bytes = 100 * MiB },
                .raise_samples = 2,
                .clear_hold_usec = 5 * SEC,
                .chain = w.chain,
                .kill_cooldown_usec = 5 * SEC,
                .max_kills_per_minute = 6,
                .grace_period_usec = 3 * SEC,
        };
        w.has_kubepods = true;
        agent_state_init(&w.st);
        *state = &w;
        return 0;
}

static int teardown(void **state)
{
        struct world *w = *state;
        action_list_done(&w->out);
        agent_state_done(&w->st);
        policy_chain_free(w->chain);
        return 0;
}

static void add(struct world *w, const char *cgroup, enum qos_class qos, uint64_t ws_mib,
                uint32_t flags, bool holds_self)
{
        assert_true(w->n_cands < 8);
        uint64_t id = 1000 + w->n_cands;
        w->cands[w->n_cands++] = (struct snap_candidate){
                .c = { .name = cgroup,
                       .cgroup = cgroup,
                       .cgroup_id = id,
                       .qos = policy_qos_to_abi(qos),
                       .flags = flags,
                       .current_bytes = ws_mib * MiB,
                       .working_set_bytes = ws_mib * MiB,
                       .limit_bytes = MEMAGENT_NO_LIMIT },
                .holds_self = holds_self,
        };
}

static const struct action *find(const struct action_list *l, enum action_kind k)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].kind == k)
                        return &l->items[i];
        return NULL;
}

/* One step: a sample when avail_mib > 0, else an outcome alone; the world's API answers go
 * along (and are used up). */
static void do_step(struct world *w, double t, uint64_t avail_mib, struct evict_result ev)
{
        bool sampled = avail_mib > 0;
        w->node.mem.total = TOTAL;
        if (sampled)
                w->node.mem.available = avail_mib * MiB;
        ev.at_usec = (uint64_t)(t * SEC);
        struct node_snapshot s = {
                .now_usec = (uint64_t)(t * SEC),
                .trigger = "sample",
                .sampled = sampled,
                .have_node = true,
                .node = &w->node,
                .has_kubepods = w->has_kubepods,
                .cands = w->cands,
                .n_cands = w->n_cands,
                .reporting = true,
                .evict = ev,
                .scopes[SCOPE_NODE] = { .present = true,
                                        .total_bytes = TOTAL,
                                        .available_bytes = w->node.mem.available },
                .kube_usable = w->kube_usable,
                .kube_answers = w->answers,
                .n_kube_answers = w->n_answers,
        };
        assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
        w->n_answers = 0;
}

static void step_row(struct world *w, const struct row *r, size_t i)
{
        bool sampled = r->avail_mib > 0;
        w->node.mem.total = TOTAL;
        if (sampled)
                w->node.mem.available = r->avail_mib * MiB;
        struct node_snapshot s = {
                .now_usec = (uint64_t)(r->t * SEC),
                .trigger = "sample",
                .sampled = sampled,
                .have_node = true,
                .node = &w->node,
                .has_kubepods = w->has_kubepods,
                .cands = w->cands,
                .n_cands = w->n_cands,
                .reporting = true,
                .evict = { .outcome = r->outcome,
                           .populated = r->populated,
                           .counted = r->counted,
                           .at_usec = (uint64_t)(r->t * SEC) },
                .scopes[SCOPE_NODE] = { .present = true,
                                        .total_bytes = TOTAL,
                                        .available_bytes = w->node.mem.available },
        };
        assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);

        char where[64];
        snprintf(where, sizeof(where), "row %zu (t=%.1f s)", i, r->t);
        enum pressure_level lvl = agent_level(&w->st, NULL);
        if (lvl != r->level)
                fail_msg("%s: level %s, want %s", where, pressure_level_to_string(lvl),
                         pressure_level_to_string(r->level));
        const struct action *rec = find(&w->out, ACTION_RECORD);
        if (!r->record_action && rec)
                fail_msg("%s: unexpected decision \"%s\" of %s", where, rec->record.d.action,
                         rec->record.d.victim.cgroup);
        if (r->record_action) {
                if (!rec)
                        fail_msg("%s: no decision, want \"%s\"", where, r->record_action);
                assert_string_equal(rec->record.d.action, r->record_action);
                if (r->victim) {
                        assert_true(rec->record.d.has_victim);
                        assert_string_equal(rec->record.d.victim.cgroup, r->victim);
                } else {
                        assert_false(rec->record.d.has_victim);
                }
        }
        const struct action *term = find(&w->out, ACTION_TERMINATE);
        const struct action *kill = find(&w->out, ACTION_KILL);
        const struct action *ended = find(&w->out, ACTION_EVICTION_ENDED);
        if (!!term != r->terminate)
                fail_msg("%s: terminate %s, want %s", where, term ? "yes" : "no",
                         r->terminate ? "yes" : "no");
        if (!!kill != r->kill)
                fail_msg("%s: kill %s, want %s", where, kill ? "yes" : "no",
                         r->kill ? "yes" : "no");
        if (!!ended != r->ended)
                fail_msg("%s: eviction ended %s, want %s", where, ended ? "yes" : "no",
                         r->ended ? "yes" : "no");
        /* The action carries what its actuator needs: the victim, and the record to update. */
        if (term) {
                assert_string_equal(term->evict.cgroup, r->victim);
                assert_int_equal(term->evict.grace_usec, w->p.grace_period_usec);
                assert_int_equal(term->evict.record, RECORD_LAST);
        }
        if (kill && r->victim)
                assert_string_equal(kill->evict.cgroup, r->victim);
        /* Standalone (no pod known to an API): nothing ever goes to the API. */
        for (size_t k = 0; k < w->n_cands; k++)
                if (w->cands[k].meta)
                        return;
        if (find(&w->out, ACTION_EVICT_API) || find(&w->out, ACTION_KUBE_EVENT))
                fail_msg("%s: standalone, yet an action for the Kubernetes API", where);
        if (r->relief != ANY) {
                const struct action *rep = find(&w->out, ACTION_REPORT);
                if (sampled && !rep)
                        fail_msg("%s: no report", where);
                if (rep && rep->report.relief_exhausted != (r->relief == YES))
                        fail_msg("%s: relief_exhausted %d, want %d", where,
                                 rep->report.relief_exhausted, r->relief);
        }
}

static void run(struct world *w, const struct row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++)
                step_row(w, &rows[i], i);
}

#define RUN(w, rows) run((w), (rows), sizeof(rows) / sizeof((rows)[0]))

/* The default cast: a BestEffort pod, a Burstable one within its request, a Guaranteed one. */
static void cast(struct world *w)
{
        add(w, "/kubepods/besteffort/pod-be", QOS_BESTEFFORT, 100, 0, false);
        add(w, "/kubepods/burstable/pod-bu", QOS_BURSTABLE, 300, 0, false);
        w->cands[w->n_cands - 1].c.request_bytes = 500 * MiB;
        add(w, "/kubepods/pod-g", QOS_GUARANTEED, 400, 0, false);
        w->cands[w->n_cands - 1].c.request_bytes = 400 * MiB;
}

#define BE "/kubepods/besteffort/pod-be"
#define BU "/kubepods/burstable/pod-bu"

/* calm → low → medium → graceful eviction → cooldown → relief. */
static void test_graceful_episode(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 900, .level = LEVEL_NONE, .relief = NO },
                { 1, 900, .level = LEVEL_NONE },
                { 2, 250, .level = LEVEL_NONE }, /* low, once: hysteresis */
                { 3, 250, .level = LEVEL_LOW },
                { 4, 150, .level = LEVEL_LOW }, /* medium, once */
                { 5, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true, .relief = NO },
                { 6, 150, .level = LEVEL_MEDIUM }, /* in flight: nothing more */
                { 7, .outcome = EVICT_EXITED, .level = LEVEL_MEDIUM, .ended = true },
                { 8, 150, .level = LEVEL_MEDIUM }, /* cooling down until 12 s */
                { 11.9, 150, .level = LEVEL_MEDIUM },
                { 12, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
                { 12.5, .outcome = EVICT_EXITED, .level = LEVEL_MEDIUM, .ended = true },
                { 18, 900, .level = LEVEL_MEDIUM }, /* relieved: below medium starts the hold */
                { 22, 900, .level = LEVEL_MEDIUM },
                { 23, 900, .level = LEVEL_NONE, .relief = NO },
        };
        RUN(w, rows);
        assert_int_equal(w->st.kills_total, 2);
        assert_int_equal(w->st.decisions_total, 2);
}

/* The eviction's record carries the episode's first signal: the latency from the trigger. */
static void test_episode_start_in_record(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 900, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_NONE },
                { 2, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
        };
        RUN(w, rows);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_non_null(rec);
        assert_int_equal(rec->record.episode_start_usec, 1 * SEC);
        assert_int_equal(rec->record.sample_start_usec, 2 * SEC);
        assert_string_equal(rec->record.d.trigger, "sample");
        assert_string_equal(rec->record.d.scope, "node");
        assert_string_equal(rec->record.d.level, "medium");
        assert_int_equal(rec->record.d.available_bytes, 150 * MiB);
        assert_int_equal(rec->record.d.n_candidates, 3);
        assert_int_equal(rec->record.d.n_runners_up, 2);
        assert_false(rec->record.d.done);
        /* the decision starts a new episode: the next one times from its own first signal */
        assert_int_equal(w->st.episode_start_usec, 0);
}

/* One sample below critical between calm ones must not act. */
static void test_spike_does_not_act(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 900, .level = LEVEL_NONE }, { 1, 50, .level = LEVEL_NONE },
                { 2, 900, .level = LEVEL_NONE }, { 3, 50, .level = LEVEL_NONE },
                { 4, 900, .level = LEVEL_NONE },
        };
        RUN(w, rows);
        assert_int_equal(w->st.decisions_total, 0);
}

/* At critical, or with no grace period, the victim is killed at once; the kill's outcome starts
 * the cooldown from its end. */
static void test_critical_kills_at_once(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 50, .level = LEVEL_NONE },
                { 1, 50, .level = LEVEL_CRITICAL, "kill", BE, .kill = true },
                { 2, .outcome = EVICT_KILLED, .counted = true, .level = LEVEL_CRITICAL },
                { 6.9, 50, .level = LEVEL_CRITICAL }, /* cooldown from the kill's end, 2 s */
                { 7, 50, .level = LEVEL_CRITICAL, "kill", BE, .kill = true },
        };
        RUN(w, rows);
        assert_int_equal(w->st.kills_total, 1);
}

/* maxKillsPerMinute: the third eviction within a minute is held off (and the report says
 * relief is exhausted) until the first kill is a minute old. */
static void test_kill_rate_hold_off(void **state)
{
        struct world *w = *state;
        cast(w);
        w->p.max_kills_per_minute = 2;
        w->p.kill_cooldown_usec = 0;
        w->p.grace_period_usec = 0;
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "kill", BE, .kill = true, .relief = NO },
                { 1.1, .outcome = EVICT_KILLED, .counted = true, .level = LEVEL_MEDIUM },
                { 2, 150, .level = LEVEL_MEDIUM, "kill", BE, .kill = true },
                { 2.1, .outcome = EVICT_KILLED, .counted = true, .level = LEVEL_MEDIUM },
                { 3, 150, .level = LEVEL_MEDIUM, .relief = YES }, /* held off */
                { 30, 150, .level = LEVEL_MEDIUM, .relief = YES },
                { 61, 150, .level = LEVEL_MEDIUM, .relief = YES }, /* the first is 59.9 s old */
                { 61.5, 150, .level = LEVEL_MEDIUM },              /* re-checked a second after */
                { 62, 150, .level = LEVEL_MEDIUM, "kill", BE, .kill = true, .relief = NO },
        };
        RUN(w, rows);
        assert_int_equal(w->st.decisions_total, 3);
}

/* A kill that took nothing (the cgroup was already empty) does not count against the rate. */
static void test_uncounted_kill_does_not_hold_off(void **state)
{
        struct world *w = *state;
        cast(w);
        w->p.max_kills_per_minute = 1;
        w->p.kill_cooldown_usec = 0;
        w->p.grace_period_usec = 0;
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "kill", BE, .kill = true },
                { 1.1, .outcome = EVICT_KILLED, .counted = false, .level = LEVEL_MEDIUM },
                { 2, 150, .level = LEVEL_MEDIUM, "kill", BE, .kill = true },
        };
        RUN(w, rows);
}

/* Neither a protected pod nor the pod memagentd runs in is ever chosen. */
static void test_protected_and_self_never_chosen(void **state)
{
        struct world *w = *state;
        add(w, "/kubepods/besteffort/pod-protected", QOS_BESTEFFORT, 800, MEMAGENT_CAND_PROTECTED,
            false);
        add(w, "/kubepods/besteffort/pod-memagent", QOS_BESTEFFORT, 900, 0, true);
        add(w, BU, QOS_BURSTABLE, 100, 0, false);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", BU, .terminate = true },
        };
        RUN(w, rows);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_int_equal(rec->record.d.n_candidates, 3);
        assert_int_equal(rec->record.d.n_excluded, 2);
        assert_int_equal(rec->record.d.n_runners_up, 0);
}

/* Nothing to evict: the decision says so, relief is exhausted until the level drops. */
static void test_nothing_to_evict(void **state)
{
        struct world *w = *state;
        add(w, "/kubepods/besteffort/pod-a", QOS_BESTEFFORT, 800, MEMAGENT_CAND_PROTECTED, false);
        add(w, "/kubepods/besteffort/pod-memagent", QOS_BESTEFFORT, 100, 0, true);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE, .relief = NO },
                { 1, 150, .level = LEVEL_MEDIUM, "none", NULL, .relief = YES },
                { 2, 150, .level = LEVEL_MEDIUM, .relief = YES }, /* cooling down */
                { 6, 150, .level = LEVEL_MEDIUM, "none", NULL, .relief = YES },
                { 7, 900, .level = LEVEL_MEDIUM, .relief = YES },
                { 12, 900, .level = LEVEL_NONE, .relief = NO },
        };
        RUN(w, rows);
        assert_int_equal(w->st.kills_total, 0);
}

/* SIGKILL after the grace period when the victim is still there; the cooldown runs from the
 * kill's end. */
static void test_kill_after_grace(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
                { 2, 150, .level = LEVEL_MEDIUM },
                { 4, .outcome = EVICT_GRACE_OVER, .populated = true, .level = LEVEL_MEDIUM,
                  .victim = BE, .kill = true },
                { 4.5, .outcome = EVICT_KILLED, .counted = true, .level = LEVEL_MEDIUM },
                { 9.4, 150, .level = LEVEL_MEDIUM },
                { 9.5, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
        };
        RUN(w, rows);
        assert_int_equal(w->st.kills_total, 1);
}

/* One eviction at a time: while the victim has its grace period, no second one starts, even
 * with no cooldown at all. */
static void test_one_eviction_in_flight(void **state)
{
        struct world *w = *state;
        cast(w);
        w->p.kill_cooldown_usec = 0;
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
                { 2, 150, .level = LEVEL_MEDIUM },
                { 3, 150, .level = LEVEL_MEDIUM },
                { 3.5, .outcome = EVICT_EXITED, .level = LEVEL_MEDIUM, .ended = true },
                { 4, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
        };
        RUN(w, rows);
}

static void test_kill_after_grace_targets_the_record(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
                { 4, .outcome = EVICT_GRACE_OVER, .populated = true, .level = LEVEL_MEDIUM,
                  .victim = BE, .kill = true },
        };
        RUN(w, rows);
        const struct action *k = find(&w->out, ACTION_KILL);
        assert_int_equal(k->evict.record, RECORD_EVICTION);
        assert_int_equal(k->evict.cgroup_id, 1000);
        assert_true(w->st.inflight.active); /* until the kill's outcome comes back */
}

/* A victim that exits on its own before the grace period ends: nobody is killed, and nothing
 * else dies during the cooldown. */
static void test_victim_exits_on_its_own(void **state)
{
        struct world *w = *state;
        cast(w);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", BE, .terminate = true },
                { 4, .outcome = EVICT_GRACE_OVER, .populated = false, .level = LEVEL_MEDIUM,
                  .ended = true },
                { 5, 150, .level = LEVEL_MEDIUM },
                { 8.9, 150, .level = LEVEL_MEDIUM },
        };
        RUN(w, rows);
        assert_int_equal(w->st.kills_total, 1);
        assert_false(w->st.inflight.active);
}

/* A host without Kubernetes: the configured workloads are the candidates. On a Kubernetes node
 * they never are. */
static void test_workloads_without_kubepods(void **state)
{
        struct world *w = *state;
        w->has_kubepods = false;
        add(w, "/system.slice/batch.service", QOS_BESTEFFORT, 500, MEMAGENT_CAND_WORKLOAD, false);
        add(w, "/system.slice/db.service", QOS_GUARANTEED, 600, MEMAGENT_CAND_WORKLOAD, false);
        add(w, "/system.slice/memagentd.service", QOS_BESTEFFORT, 900, MEMAGENT_CAND_WORKLOAD,
            true);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", "/system.slice/batch.service",
                  .terminate = true },
        };
        RUN(w, rows);
        assert_int_equal(find(&w->out, ACTION_RECORD)->record.d.n_candidates, 3);
}

static void test_workloads_never_on_kubernetes(void **state)
{
        struct world *w = *state;
        add(w, "/system.slice/kubelet.service", QOS_BESTEFFORT, 500, MEMAGENT_CAND_WORKLOAD, false);
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "none", NULL, .relief = YES },
        };
        RUN(w, rows);
        assert_int_equal(find(&w->out, ACTION_RECORD)->record.d.n_candidates, 0);
}

/* Dry run: decided and recorded, not acted on. */
static void test_dry_run(void **state)
{
        struct world *w = *state;
        cast(w);
        w->p.dry_run = true;
        const struct row rows[] = {
                { 0, 150, .level = LEVEL_NONE },
                { 1, 150, .level = LEVEL_MEDIUM, "terminate", BE },
        };
        RUN(w, rows);
        const struct action *rec = find(&w->out, ACTION_RECORD);
        assert_true(rec->record.d.dry_run);
        assert_true(rec->record.d.done);
        assert_string_equal(rec->record.d.outcome, "not acted: dry run");
        assert_false(w->st.inflight.active);
}

/* The balloon's own reclaim stalls are taken out of the stall totals: a node whose only
 * stall is the balloon's worker stays calm. */
static void test_own_reclaim_is_not_pressure(void **state)
{
        struct world *w = *state;
        w->p.psi_medium_full = 10;
        w->node.mem.total = TOTAL;
        for (int i = 0; i <= 4; i++) {
                uint64_t busy = (uint64_t)i * 500000; /* 50% of every second in memory.reclaim */
                struct node_snapshot s = {
                        .now_usec = (uint64_t)i * SEC,
                        .sampled = true,
                        .have_node = true,
                        .node = &w->node,
                        .reclaim_busy_usec = busy,
                        .scopes[SCOPE_NODE] = { .present = true,
                                                .total_bytes = TOTAL,
                                                .available_bytes = 900 * MiB,
                                                .has_psi = true,
                                                .psi_some_total_usec = busy,
                                                .psi_full_total_usec = busy },
                };
                assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
                assert_int_equal(agent_level(&w->st, NULL), LEVEL_NONE);
        }
        /* the same stall from someone else is pressure */
        for (int i = 5; i <= 7; i++) {
                struct node_snapshot s = {
                        .now_usec = (uint64_t)i * SEC,
                        .sampled = true,
                        .have_node = true,
                        .node = &w->node,
                        .reclaim_busy_usec = 2000000,
                        .scopes[SCOPE_NODE] = { .present = true,
                                                .total_bytes = TOTAL,
                                                .available_bytes = 900 * MiB,
                                                .has_psi = true,
                                                .psi_some_total_usec = (uint64_t)i * 500000,
                                                .psi_full_total_usec = (uint64_t)i * 500000 },
                };
                assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
        }
        assert_int_equal(agent_level(&w->st, NULL), LEVEL_MEDIUM);
}

/* The escalation order under slowly rising pressure: the balloon reclaims first (routinely,
 * then harder once the node is at level low), a container growing into its limit gets a loan
 * while the node can afford one, and only at medium is a pod evicted; by then there is no
 * headroom left to lend. */
static void test_escalation_order(void **state)
{
        struct world *w = *state;
        w->p.elastic = (struct elastic_params){
                .balloon_enabled = true,
                .balloon_qos[QOS_BESTEFFORT] = true,
                .balloon = { .psi_target_pct = 10,
                             .interval_usec = 4 * SEC,
                             .step_pct = 5,
                             .max_step_bytes = 64 * MiB,
                             .min_margin_bytes = 16 * MiB },
                .vscale_enabled = true,
                .vscale_step = { .is_percent = true, .percent = 10 },
                .vscale_ceiling = { .is_percent = true, .percent = 50 },
                .vscale_return_hold_usec = 60 * SEC,
        };
        /* a Burstable container growing 10 MiB/s towards its 200 MiB limit, and a BestEffort
         * one with 400 MiB of cold page cache */
        struct container grow = { .cg = { .path = (char *)"/kubepods/burstable/pod-bu/c1",
                                          .id = 11,
                                          .growth_bytes_per_sec = 10 * MiB },
                                  .id = "c1" };
        struct container cold = {
                .cg = { .path = (char *)"/kubepods/besteffort/pod-be/c2", .id = 21 }, .id = "c2"
        };
        struct pod pods[] = {
                { .cg = { .path = (char *)BU, .id = 1001 },
                  .uid = "bu",
                  .qos = QOS_BURSTABLE,
                  .containers = &grow,
                  .n_containers = 1 },
                { .cg = { .path = (char *)BE, .id = 1000 },
                  .uid = "be",
                  .qos = QOS_BESTEFFORT,
                  .containers = &cold,
                  .n_containers = 1 },
        };
        struct model model = { .has_kubepods = true, .pods = pods, .n_pods = 2 };
        cast(w);
        cold.cg.s = (struct cg_sample){
                .have = CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_STAT) | CG_HAVE(CGF_PRESSURE),
                .current = 500 * MiB,
                .working_set = 100 * MiB,
                .stat = { .inactive_file = 400 * MiB,
                          .active_file = 50 * MiB,
                          .active_anon = 50 * MiB },
        };
        w->node.mem.total = TOTAL;

        /* node available, MiB, per second: calm, then low, then medium */
        static const uint64_t avail[] = { 900, 900, 900, 900, 400, 400, 400, 400,
                                          280, 280, 280, 280, 150, 150, 150, 150 };
        int first_reclaim = -1, first_pressure_reclaim = -1, first_loan = -1, first_evict = -1;
        int routine_steps = 0, pressure_steps = 0;
        struct limits_result lr[4];
        size_t n_lr = 0;
        struct reclaim_result done = { 0 };
        uint64_t max = 200 * MiB; /* c1's memory.max, as the actuator writes it */
        for (int t = 0; t < (int)(sizeof(avail) / sizeof(avail[0])); t++) {
                uint64_t ws = (100 + 10 * (uint64_t)t) * MiB;
                grow.cg.s = (struct cg_sample){
                        .have = CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_MAX) | CG_HAVE(CGF_STAT),
                        .current = ws,
                        .working_set = ws,
                        .max = max,
                };
                w->node.mem.available = avail[t] * MiB;
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
                        .reclaim = done,
                        .limits = lr,
                        .n_limits = n_lr,
                        .scopes[SCOPE_NODE] = { .present = true,
                                                .total_bytes = TOTAL,
                                                .available_bytes = avail[t] * MiB,
                                                .has_psi = true },
                };
                assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
                enum pressure_level lvl = agent_level(&w->st, NULL);
                n_lr = 0;
                done = (struct reclaim_result){ 0 };
                for (size_t k = 0; k < w->out.n; k++) {
                        const struct action *a = &w->out.items[k];
                        switch (a->kind) {
                        case ACTION_RECLAIM:
                                assert_int_equal(a->reclaim.cgroup_id, 21);
                                assert_int_equal(a->reclaim.pressure, lvl >= LEVEL_LOW);
                                if (first_reclaim < 0)
                                        first_reclaim = t;
                                if (a->reclaim.pressure)
                                        pressure_steps += t < 13;
                                else
                                        routine_steps++;
                                if (a->reclaim.pressure && first_pressure_reclaim < 0)
                                        first_pressure_reclaim = t;
                                /* the worker frees 8 MiB by the next sample */
                                done = (struct reclaim_result){ .done = true,
                                                                .cgroup_id = 21,
                                                                .asked_bytes = a->reclaim.bytes,
                                                                .before_bytes = 500 * MiB,
                                                                .after_bytes = 492 * MiB,
                                                                .pressure = a->reclaim.pressure };
                                break;
                        case ACTION_SET_LIMITS:
                                assert_int_equal(a->limits.c.cgroup_id, 11);
                                assert_true(a->limits.c.up);
                                assert_true(lvl < LEVEL_MEDIUM);
                                assert_string_equal(a->limits.d.action, "loan");
                                if (first_loan < 0)
                                        first_loan = t;
                                max = a->limits.c.new_max;
                                lr[n_lr++] = (struct limits_result){ .cgroup_id = 11, .ok = true };
                                break;
                        case ACTION_TERMINATE:
                                assert_int_equal(lvl, LEVEL_MEDIUM);
                                if (first_evict < 0)
                                        first_evict = t;
                                break;
                        default:
                                break;
                        }
                }
        }
        if (!(first_reclaim >= 0 && first_loan > first_reclaim && first_evict > first_loan))
                fail_msg("order: reclaim at %d s, loan at %d s, eviction at %d s", first_reclaim,
                         first_loan, first_evict);
        assert_true(first_pressure_reclaim >= 8 && first_pressure_reclaim < first_evict);
        /* under pressure the balloon steps every second; routinely every 4 s */
        assert_int_equal(pressure_steps, 4);
        assert_true(routine_steps <= 2);
        /* the loan was applied once written, and the balloon's reclaim was accounted */
        assert_int_equal(max, 220 * MiB);
        bool lent = false;
        for (size_t k = 0; k < w->st.n_units; k++)
                if (w->st.units[k].id == 11)
                        lent = w->st.units[k].loan.active &&
                               w->st.units[k].loan.lent_bytes == 20 * MiB;
        assert_true(lent);
        assert_int_equal(w->st.reclaimed_total > 0, true);
        assert_true(w->st.balloon_ep.has_record);
        assert_string_equal(w->st.balloon_ep.record.action, "reclaim");
}

/* Under node pressure (level low) with two BestEffort containers of page cache: the one with the
 * most inactive memory whose file pages refault at refault_a pages/s, and a smaller one without
 * refaults. Returns the cgroup id of the first reclaim step: 21 (the bigger) or 22. */
static uint64_t pressure_choice(struct world *w, double refault_a)
{
        w->p.elastic = (struct elastic_params){
                .balloon_enabled = true,
                .balloon_qos[QOS_BESTEFFORT] = true,
                .balloon = { .psi_target_pct = 10,
                             .interval_usec = 2 * SEC,
                             .step_pct = 5,
                             .max_step_bytes = 64 * MiB,
                             .min_margin_bytes = 16 * MiB },
        };
        struct container c[2] = {
                { .cg = { .path = (char *)"/kubepods/besteffort/pod-be/c1",
                          .id = 21,
                          .has_refault_rate = true,
                          .refault_file_per_sec = refault_a },
                  .id = "c1" },
                { .cg = { .path = (char *)"/kubepods/besteffort/pod-be/c2",
                          .id = 22,
                          .has_refault_rate = true },
                  .id = "c2" },
        };
        for (int i = 0; i < 2; i++)
                c[i].cg.s = (struct cg_sample){
                        .have = CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_STAT) | CG_HAVE(CGF_PRESSURE),
                        .current = (i == 0 ? 500 : 400) * MiB,
                        .working_set = 100 * MiB,
                        .stat = { .inactive_file = (i == 0 ? 400 : 300) * MiB,
                                  .active_file = 50 * MiB,
                                  .active_anon = 50 * MiB },
                };
        struct pod pod = { .cg = { .path = (char *)BE, .id = 1000 },
                           .uid = "be",
                           .qos = QOS_BESTEFFORT,
                           .containers = c,
                           .n_containers = 2 };
        struct model model = { .has_kubepods = true, .pods = &pod, .n_pods = 1 };
        w->n_cands = 0; /* a fresh world for each call */
        cast(w);
        w->node.mem.total = TOTAL;
        w->node.mem.available = 280 * MiB; /* under avail_low, over avail_medium */
        agent_state_done(&w->st);
        agent_state_init(&w->st);
        for (int t = 0; t < 8; t++) {
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
                        .scopes[SCOPE_NODE] = { .present = true,
                                                .total_bytes = TOTAL,
                                                .available_bytes = 280 * MiB,
                                                .has_psi = true },
                };
                assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
                const struct action *a = find(&w->out, ACTION_RECLAIM);
                if (a) {
                        assert_true(a->reclaim.pressure);
                        assert_int_equal(agent_level(&w->st, NULL), LEVEL_LOW);
                        return a->reclaim.cgroup_id;
                }
        }
        fail_msg("no reclaim step under pressure");
        return 0;
}

/* Coldest first, but never a hot cache, and memory without refaults before memory with a few:
 * the bigger cache goes first only while it does not refault. */
static void test_pressure_skips_refaulting_cache(void **state)
{
        struct world *w = *state;
        assert_int_equal(pressure_choice(w, 0), 21);   /* no refaults: the coldest */
        assert_int_equal(pressure_choice(w, 500), 22); /* hot cache: held by its balloon */
        bool held = false;
        for (size_t i = 0; i < w->st.n_units; i++)
                if (w->st.units[i].id == 21)
                        held = w->st.units[i].last.verdict == BALLOON_HOT;
        assert_true(held);
        assert_int_equal(pressure_choice(w, 10), 22); /* a few refaults: after the quiet one */
}

/* ---- thrashing is pressure ---- */

/* A node with a BestEffort pod holding 400 MiB of anonymous memory, a Burstable "db" over its
 * request whose working set is page cache, and a Guaranteed pod. Each pod is in the model (its
 * memory.pressure and memory.stat as read this sample) and among the candidates (same id). */
struct thrash_world {
        struct container ctr[3];
        struct pod pods[3];
        struct model model;
        uint64_t db_some_usec; /* the db pod's memory.pressure some total */
        uint64_t db_refaults;  /* its memory.stat workingset_refault_file */
};

#define TH_BE 0
#define TH_DB 1
#define TH_GU 2

static void thrash_cast(struct world *w, struct thrash_world *tw)
{
        memset(tw, 0, sizeof(*tw));
        w->p.thrash = (struct thrash_params){
                .stall_some_pct = 20,
                .refaults_per_sec = 1000,
                .available = { .is_percent = true, .percent = 40 },
                .sustain_usec = 5 * SEC,
                .own_limit_pct = 90,
        };
        add(w, "/kubepods/besteffort/pod-be", QOS_BESTEFFORT, 400, 0, false);
        add(w, "/kubepods/burstable/pod-db", QOS_BURSTABLE, 300, 0, false);
        w->cands[TH_DB].c.request_bytes = 128 * MiB;
        add(w, "/kubepods/pod-gu", QOS_GUARANTEED, 100, 0, false);
        w->cands[TH_GU].c.request_bytes = 128 * MiB;
        w->cands[TH_GU].c.limit_bytes = 128 * MiB;
        static const char *const uids[] = { "be", "db", "gu" };
        static const enum qos_class qos[] = { QOS_BESTEFFORT, QOS_BURSTABLE, QOS_GUARANTEED };
        for (size_t i = 0; i < 3; i++) {
                tw->ctr[i] = (struct container){ .cg = { .path = (char *)"c", .id = 10 + i } };
                tw->pods[i] = (struct pod){ .cg = { .path = (char *)w->cands[i].c.cgroup,
                                                    .id = w->cands[i].c.cgroup_id },
                                            .qos = qos[i],
                                            .containers = &tw->ctr[i],
                                            .n_containers = 1 };
                snprintf(tw->pods[i].uid, sizeof(tw->pods[i].uid), "%s", uids[i]);
        }
        tw->model = (struct model){ .has_kubepods = true, .pods = tw->pods, .n_pods = 3 };
}

/* Runs one step at t seconds over the pods as set: the node with avail_mib available and, when
 * node_full_usec is given, that full (and some) stall total. Returns the eviction record, NULL
 * when none. */
static const struct action *thrash_run(struct world *w, struct thrash_world *tw, double t,
                                       uint64_t avail_mib, const uint64_t *node_full_usec)
{
        w->node.mem.total = TOTAL;
        w->node.mem.available = avail_mib * MiB;
        struct node_snapshot s = {
                .now_usec = (uint64_t)(t * SEC),
                .trigger = "sample",
                .sampled = true,
                .have_node = true,
                .node = &w->node,
                .model = &tw->model,
                .has_kubepods = true,
                .cands = w->cands,
                .n_cands = w->n_cands,
                .scopes[SCOPE_NODE] = { .present = true,
                                        .total_bytes = TOTAL,
                                        .available_bytes = avail_mib * MiB,
                                        .has_psi = node_full_usec != NULL,
                                        .psi_some_total_usec = node_full_usec ? *node_full_usec : 0,
                                        .psi_full_total_usec =
                                            node_full_usec ? *node_full_usec : 0 },
        };
        assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
        return find(&w->out, ACTION_RECORD);
}

/* One sample at t seconds (one second after the last): the db pod stalled stall_pct of that
 * second and refaulting refaults/s, its memory.max db_max_mib (0: none); the node's MemAvailable
 * avail_mib (350 MiB: no level of its own, tight for the thrash signal). Returns the eviction
 * record, NULL when none. */
static const struct action *thrash_step(struct world *w, struct thrash_world *tw, double t,
                                        double stall_pct, double refaults, uint64_t db_max_mib)
{
        uint64_t avail_mib = 350;
        tw->db_some_usec += (uint64_t)(stall_pct / 100.0 * SEC);
        tw->db_refaults += (uint64_t)refaults;
        for (size_t i = 0; i < 3; i++) {
                struct pod *pod = &tw->pods[i];
                bool db = i == TH_DB;
                pod->cg.s = (struct cg_sample){
                        .have = CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_STAT) | CG_HAVE(CGF_PRESSURE) |
                                CG_HAVE(CGF_MAX),
                        .current = w->cands[i].c.current_bytes,
                        .working_set = w->cands[i].c.working_set_bytes,
                        .max = db && db_max_mib ? db_max_mib * MiB : CG_UNLIMITED,
                        .psi.some.total_usec = db ? tw->db_some_usec : 0,
                        .stat.workingset_refault_file = db ? tw->db_refaults : 0,
                };
        }
        return thrash_run(w, tw, t, avail_mib, NULL);
}

/* The db stalls 40% of the time reading back 5000 pages/s on a tight node, for longer than
 * thrashSustain: the node goes to medium and the BestEffort pod, ranked first, is terminated;
 * the record names the thrash and its relief. Before the sustain is over, nothing happens. */
static void test_thrash_evicts_lower_class(void **state)
{
        struct world *w = *state;
        struct thrash_world tw;
        thrash_cast(w, &tw);
        const struct action *rec = thrash_step(w, &tw, 0, 0, 0, 0); /* first reading */
        assert_null(rec);
        for (int t = 1; t <= 5; t++) {
                rec = thrash_step(w, &tw, t, 40, 5000, 0);
                if (rec)
                        fail_msg("t=%d: decided before thrashSustain: %s", t, rec->record.d.action);
                assert_int_equal(agent_level(&w->st, NULL), LEVEL_NONE);
                assert_true(agent_wants_fast(&w->st)); /* watched: sampled fast, in full */
        }
        rec = thrash_step(w, &tw, 6, 40, 5000, 0);
        assert_non_null(rec);
        assert_int_equal(agent_level(&w->st, NULL), LEVEL_MEDIUM);
        assert_string_equal(rec->record.d.action, "terminate");
        assert_string_equal(rec->record.d.victim.cgroup, "/kubepods/besteffort/pod-be");
        assert_string_equal(rec->record.d.trigger, "thrash");
        assert_int_equal(rec->record.episode_start_usec, 1 * SEC); /* its first thrashing window */
        const char *th = rec->record.d.thrash;
        if (!strstr(th, "thrashing of pod db (stall some 40.0%, refaults 5000/s)") ||
            !strstr(th, "relieved by evicting /kubepods/besteffort/pod-be"))
                fail_msg("record: \"%s\"", th);
        assert_non_null(find(&w->out, ACTION_TERMINATE));
}

/* The same stall and refaults, but the db uses 300 of its own 320 MiB memory.max: it thrashes
 * inside its limit, its own business; nothing is evicted however long it lasts. Without the
 * limit the same series evicts (the control). */
static void test_thrash_inside_own_limit(void **state)
{
        struct world *w = *state;
        struct thrash_world tw;
        thrash_cast(w, &tw);
        for (int t = 0; t <= 12; t++) {
                const struct action *rec = thrash_step(w, &tw, t, 40, 5000, 320);
                if (rec)
                        fail_msg("t=%d: evicted for a pod thrashing in its own limit", t);
                assert_int_equal(agent_level(&w->st, NULL), LEVEL_NONE);
        }
        bool evicted = false;
        for (int t = 13; t <= 20 && !evicted; t++)
                evicted = thrash_step(w, &tw, t, 40, 5000, 0) != NULL;
        assert_true(evicted);
}

/* A burst of 3 s (under thrashSustain) then calm, twice: no eviction. Then the same stall held:
 * evicted (the control). Refaults without a stall, and a stall without refaults, are not
 * thrashing either. */
static void test_thrash_short_burst(void **state)
{
        struct world *w = *state;
        struct thrash_world tw;
        thrash_cast(w, &tw);
        double t = 0;
        assert_null(thrash_step(w, &tw, t++, 0, 0, 0));
        for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 3; i++)
                        assert_null(thrash_step(w, &tw, t++, 60, 8000, 0));
                for (int i = 0; i < 3; i++)
                        assert_null(thrash_step(w, &tw, t++, 0, 0, 0));
        }
        for (int i = 0; i < 8; i++)
                assert_null(thrash_step(w, &tw, t++, 40, 100, 0)); /* stall, few refaults */
        for (int i = 0; i < 8; i++)
                assert_null(thrash_step(w, &tw, t++, 5, 8000, 0)); /* refaults, little stall */
        assert_int_equal(agent_level(&w->st, NULL), LEVEL_NONE);
        bool evicted = false;
        for (int i = 0; i < 8 && !evicted; i++)
                evicted = thrash_step(w, &tw, t++, 60, 8000, 0) != NULL;
        assert_true(evicted);
}

/* Thrashing far above both thresholds (stall 90% against 20, refaults 5000/s against 1000) is
 * pressure after two windows, not thrashSustain (5 s): a node filling at once leaves no time.
 * One extreme window between milder ones does not shorten anything. */
static void test_thrash_extreme_is_quick(void **state)
{
        struct world *w = *state;
        struct thrash_world tw;
        thrash_cast(w, &tw);
        assert_null(thrash_step(w, &tw, 0, 0, 0, 0));
        assert_null(thrash_step(w, &tw, 1, 90, 5000, 0)); /* the first extreme window */
        const struct action *rec = thrash_step(w, &tw, 2, 90, 5000, 0);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.victim.cgroup, "/kubepods/besteffort/pod-be");
        assert_string_equal(rec->record.d.trigger, "thrash");

        agent_state_done(&w->st);
        agent_state_init(&w->st);
        double t = 100;
        assert_null(thrash_step(w, &tw, t++, 0, 0, 0));
        for (int i = 0; i < 2; i++) {
                assert_null(thrash_step(w, &tw, t++, 90, 5000, 0));
                assert_null(thrash_step(w, &tw, t++, 40, 5000, 0));
        }
}

/* With nothing ranked before the thrashing pod holding memory (an empty BestEffort pod; the
 * Guaranteed one ranks after the db), the signal does not evict: the db itself would go only if
 * it ranked first on the normal signals. Once the BestEffort pod holds memory, it is evicted at
 * once (the watch kept counting). */
static void test_thrash_ranks_first_not_evicted(void **state)
{
        struct world *w = *state;
        struct thrash_world tw;
        thrash_cast(w, &tw);
        w->cands[TH_BE].c.current_bytes = w->cands[TH_BE].c.working_set_bytes = 0;
        for (int t = 0; t <= 12; t++)
                if (thrash_step(w, &tw, t, 40, 5000, 0))
                        fail_msg("t=%d: evicted with nothing ranked before the thrashing pod", t);
        assert_int_equal(agent_level(&w->st, NULL), LEVEL_NONE);
        /* the BestEffort pod fills up: now it holds the memory, and it goes */
        w->cands[TH_BE].c.current_bytes = w->cands[TH_BE].c.working_set_bytes = 400 * MiB;
        const struct action *rec = thrash_step(w, &tw, 13, 40, 5000, 0);
        assert_non_null(rec);
        assert_string_equal(rec->record.d.victim.cgroup, "/kubepods/besteffort/pod-be");
}

/* One sample at t seconds for the full-stall attribution: the node (not tight: 600 MiB available)
 * stalled in full node_full_pct of the last second, the db pod db_full_pct of it on its own while
 * refaulting refaults/s. Returns the eviction record, NULL when none. */
static const struct action *full_step(struct world *w, struct thrash_world *tw, double t,
                                      double node_full_pct, double db_full_pct, double refaults)
{
        static uint64_t node_full_usec, db_full_usec;
        if (t == 0)
                node_full_usec = db_full_usec = 0;
        node_full_usec += (uint64_t)(node_full_pct / 100.0 * SEC);
        db_full_usec += (uint64_t)(db_full_pct / 100.0 * SEC);
        tw->db_refaults += (uint64_t)refaults;
        for (size_t i = 0; i < 3; i++) {
                bool db = i == TH_DB;
                tw->pods[i].cg.s = (struct cg_sample){
                        .have = CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_STAT) | CG_HAVE(CGF_PRESSURE),
                        .current = w->cands[i].c.current_bytes,
                        .working_set = w->cands[i].c.working_set_bytes,
                        .psi.some.total_usec = db ? db_full_usec : 0,
                        .psi.full.total_usec = db ? db_full_usec : 0,
                        .stat.workingset_refault_file = db ? tw->db_refaults : 0,
                };
        }
        return thrash_run(w, tw, t, 600, &node_full_usec);
}

/* The BestEffort pod still small (20 MiB), the db (ranked first: 300 MiB, 172 MiB over its
 * request) stalls alone reading its cache back, and that stall is all of the node's full stall
 * (30%, above psiMediumFull): it is the victim, not the cause, and is not evicted however long it
 * lasts. The same full stall without refaults (not its cache being taken), or with the db's own
 * stall a small part of the node's (others stalled too), is node pressure: the db, first ranked,
 * goes (the controls). */
static void test_full_stall_of_thrashing_pod_is_its_own(void **state)
{
        struct world *w = *state;
        struct thrash_world tw;
        thrash_cast(w, &tw);
        w->p.psi_medium_full = 10;
        w->cands[TH_BE].c.current_bytes = w->cands[TH_BE].c.working_set_bytes = 20 * MiB;
        for (int t = 0; t <= 10; t++)
                if (full_step(w, &tw, t, 30, 30, 3000))
                        fail_msg("t=%d: evicted for the thrashing pod's own full stall", t);
        assert_int_equal(agent_level(&w->st, NULL), LEVEL_NONE);

        bool evicted = false;
        for (int t = 11; t <= 14 && !evicted; t++)
                evicted = full_step(w, &tw, t, 30, 30, 0) != NULL; /* no refaults */
        assert_true(evicted);

        const struct action *rec = NULL;
        agent_state_done(&w->st);
        agent_state_init(&w->st);
        memset(&tw.db_refaults, 0, sizeof(tw.db_refaults));
        for (int t = 0; t <= 4 && !rec; t++)
                rec = full_step(w, &tw, t, 30, 5, 3000); /* the node stalls, not only the db */
        assert_non_null(rec);
        assert_string_equal(rec->record.d.victim.cgroup, "/kubepods/burstable/pod-db");
}

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
                T(test_graceful_episode),
                T(test_episode_start_in_record),
                T(test_spike_does_not_act),
                T(test_critical_kills_at_once),
                T(test_kill_rate_hold_off),
                T(test_uncounted_kill_does_not_hold_off),
                T(test_protected_and_self_never_chosen),
                T(test_nothing_to_evict),
                T(test_kill_after_grace),
                T(test_one_eviction_in_flight),
                T(test_kill_after_grace_targets_the_record),
                T(test_victim_exits_on_its_own),
                T(test_workloads_without_kubepods),
                T(test_workloads_never_on_kubernetes),
                T(test_dry_run),
                T(test_own_reclaim_is_not_pressure),
                T(test_escalation_order),
                T(test_pressure_skips_refaulting_cache),
                T(test_thrash_evicts_lower_class),
                T(test_thrash_inside_own_limit),
                T(test_thrash_short_burst),
                T(test_thrash_ranks_first_not_evicted),
                T(test_thrash_extreme_is_quick),
                T(test_full_stall_of_thrashing_pod_is_its_own),
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
