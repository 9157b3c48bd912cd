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

#include <cmocka.h>

#include "step-world.h"

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
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
