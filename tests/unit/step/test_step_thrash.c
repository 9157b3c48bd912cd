// SPDX-License-Identifier: Apache-2.0
// agent_step() and thrashing (issue 17): a pod stalled reading its page cache back on a tight
// node is pressure, relieved by evicting what ranks first; a full stall that is one refaulting
// pod's own is not the node's. Snapshots are built in memory, as in test_step.c.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "step-world.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_thrash_evicts_lower_class), T(test_thrash_inside_own_limit),
                T(test_thrash_short_burst),        T(test_thrash_ranks_first_not_evicted),
                T(test_thrash_extreme_is_quick),   T(test_full_stall_of_thrashing_pod_is_its_own),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
