// SPDX-License-Identifier: Apache-2.0
// Remote swap as decided by agent_step() (agent/decide/lease-step.h): lease under pressure only
// when a container may swap, renew, drain when calm for a while, release once drained; the
// memory.swap.max written per QoS class and pod override while the device is on and restored
// after; and a lease that must end whose pages do not fit evicts by policy before it drains.
// Snapshots are built in memory: a model of pods and containers, the worker's reported state.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/decide/step.h"
#include "agent/kernel/parse.h"
#include "common/macro.h"
#include "plugins/policy.h"

#define MiB   (1024ull * 1024)
#define SEC   1000000ull
#define TOTAL (1024 * MiB)

struct world {
        struct agent_params p;
        struct policy_chain *chain;
        struct agent_state st;
        struct action_list out;
        struct node_sample node;
        struct model model;
        struct pod pods[3];
        struct container ctrs[3];
        char paths[6][64];
        struct snap_candidate cands[3];
        struct remote_swap_input remote;
};

/* Pod i of class qos with one container; the container's memory.swap.max reads "max". */
static void add_pod(struct world *w, enum qos_class qos, uint64_t ws_mib)
{
        size_t i = w->model.n_pods++;
        struct pod *p = &w->pods[i];
        struct container *c = &w->ctrs[i];
        snprintf(w->paths[2 * i], sizeof(w->paths[0]), "/kubepods/pod%zu", i);
        snprintf(w->paths[2 * i + 1], sizeof(w->paths[0]), "/kubepods/pod%zu/c%zu", i, i);
        *c = (struct container){ .cg = { .path = w->paths[2 * i + 1], .id = 2000 + i } };
        c->cg.s.have = CG_HAVE(CGF_SWAP_MAX);
        c->cg.s.swap_max = CG_UNLIMITED;
        *p = (struct pod){ .cg = { .path = w->paths[2 * i], .id = 1000 + i },
                           .qos = qos,
                           .containers = c,
                           .n_containers = 1 };
        w->cands[i] = (struct snap_candidate){
                .c = { .name = w->paths[2 * i],
                       .cgroup = w->paths[2 * i],
                       .cgroup_id = 1000 + i,
                       .qos = policy_qos_to_abi(qos),
                       .current_bytes = ws_mib * MiB,
                       .working_set_bytes = ws_mib * MiB,
                       .limit_bytes = MEMAGENT_NO_LIMIT },
        };
}

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
                .raise_samples = 1,
                .clear_hold_usec = 2 * SEC,
                .chain = w.chain,
                .kill_cooldown_usec = 5 * SEC,
                .max_kills_per_minute = 6,
                .grace_period_usec = 3 * SEC,
                .lease = { .bytes = 512 * MiB,
                           .ttl_usec = 30 * SEC,
                           .level = LEVEL_LOW,
                           .calm_hold_usec = 20 * SEC,
                           .drain_margin_bytes = 64 * MiB,
                           .retry_usec = 10 * SEC,
                           .swap_qos = { [QOS_BURSTABLE] = true, [QOS_BESTEFFORT] = true } },
        };
        w.model.pods = w.pods;
        w.model.has_kubepods = true;
        w.remote.configured = true;
        snprintf(w.remote.lease_id, sizeof(w.remote.lease_id), "L1");
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

static void step(struct world *w, double t, uint64_t avail_mib)
{
        w->node.mem.total = TOTAL;
        w->node.mem.available = avail_mib * MiB;
        struct node_snapshot s = {
                .now_usec = (uint64_t)(t * SEC),
                .trigger = "sample",
                .sampled = true,
                .have_node = true,
                .node = &w->node,
                .model = &w->model,
                .has_kubepods = true,
                .cands = w->cands,
                .n_cands = w->model.n_pods,
                .scopes[SCOPE_NODE] = { .present = true,
                                        .total_bytes = TOTAL,
                                        .available_bytes = avail_mib * MiB },
                .remote = w->remote,
        };
        assert_int_equal(agent_step(&s, &w->st, &w->p, &w->out), 0);
}

static const struct action *find_op(const struct world *w, enum lease_op op)
{
        for (size_t i = 0; i < w->out.n; i++)
                if (w->out.items[i].kind == ACTION_REMOTE_SWAP &&
                    w->out.items[i].remote_swap.op == op)
                        return &w->out.items[i];
        return NULL;
}

static const struct action *find_record(const struct world *w, const char *action)
{
        for (size_t i = 0; i < w->out.n; i++)
                if (w->out.items[i].kind == ACTION_RECORD &&
                    strcmp(w->out.items[i].record.d.action, action) == 0)
                        return &w->out.items[i];
        return NULL;
}

static const struct action *find_kind(const struct world *w, enum action_kind k)
{
        for (size_t i = 0; i < w->out.n; i++)
                if (w->out.items[i].kind == k)
                        return &w->out.items[i];
        return NULL;
}

/* The swap.max written for cgroup id in the last step, or -1 when none was. */
static int64_t swap_max_of(const struct world *w, uint64_t id)
{
        for (size_t i = 0; i < w->out.n; i++)
                if (w->out.items[i].kind == ACTION_SWAP_MAX &&
                    w->out.items[i].swap_max.cgroup_id == id)
                        return (int64_t)(w->out.items[i].swap_max.value_bytes == CG_UNLIMITED
                                             ? INT64_MAX
                                             : w->out.items[i].swap_max.value_bytes);
        return -1;
}

/* Calm: no lease. Low pressure with a Burstable pod: one lease, recorded, and not asked again
 * while the worker sets it up. */
static void test_lease_only_under_pressure(void **state)
{
        struct world *w = *state;
        add_pod(w, QOS_BURSTABLE, 100);
        step(w, 1, 800);
        assert_null(find_op(w, LEASE_OP_LEASE));
        step(w, 2, 250); /* below low (300 MiB), above medium */
        const struct action *a = find_op(w, LEASE_OP_LEASE);
        assert_non_null(a);
        assert_int_equal(a->remote_swap.bytes, 512 * MiB);
        const struct action *rec = find_record(w, "lease");
        assert_non_null(rec);
        assert_int_equal(rec->record.d.amount_bytes, 512 * MiB);
        step(w, 3, 250); /* the worker has not reported yet */
        assert_null(find_op(w, LEASE_OP_LEASE));
        w->remote.phase = RSWAP_LEASING;
        step(w, 4, 250);
        assert_null(find_op(w, LEASE_OP_LEASE));
}

/* Only Guaranteed pods: nobody could swap, so no lease however short the node is. */
static void test_no_lease_without_swappable(void **state)
{
        struct world *w = *state;
        add_pod(w, QOS_GUARANTEED, 100);
        step(w, 1, 250);
        step(w, 2, 250);
        assert_null(find_op(w, LEASE_OP_LEASE));
        /* ... unless the pod's override allows it */
        w->cands[0].swap = SWAP_OVERRIDE_ALLOW;
        step(w, 3, 250);
        assert_non_null(find_op(w, LEASE_OP_LEASE));
}

/* While the device is on: Guaranteed and a denied Burstable pod get swap.max 0, the allowed one
 * keeps "max" (no write); when the device goes, the values found are written back. */
static void test_swap_max_per_qos(void **state)
{
        struct world *w = *state;
        add_pod(w, QOS_GUARANTEED, 100);
        add_pod(w, QOS_BURSTABLE, 100);
        add_pod(w, QOS_BURSTABLE, 100);
        w->cands[2].swap = SWAP_OVERRIDE_DENY;
        w->ctrs[2].cg.s.swap_max = 4096 * 1024; /* set by someone else: restored as it was */
        step(w, 1, 800);
        assert_null(find_kind(w, ACTION_SWAP_MAX)); /* device off: nothing written */
        w->remote.phase = RSWAP_ON;
        step(w, 2, 250);
        assert_int_equal(swap_max_of(w, 2000), 0);
        assert_int_equal(swap_max_of(w, 2001), -1);
        assert_int_equal(swap_max_of(w, 2002), 0);
        step(w, 3, 250); /* written once */
        assert_null(find_kind(w, ACTION_SWAP_MAX));
        w->remote.phase = RSWAP_OFF;
        step(w, 4, 800);
        assert_int_equal(swap_max_of(w, 2000), INT64_MAX);
        assert_int_equal(swap_max_of(w, 2001), -1);
        assert_int_equal(swap_max_of(w, 2002), 4096 * 1024);
        step(w, 5, 800); /* restored once */
        assert_null(find_kind(w, ACTION_SWAP_MAX));
}

/* On: renewed every third of the TTL; drained only after calmHold below the level (hysteresis);
 * released once the worker reports the device drained. */
static void test_renew_drain_release(void **state)
{
        struct world *w = *state;
        add_pod(w, QOS_BURSTABLE, 100);
        w->remote.phase = RSWAP_ON;
        w->remote.lease_bytes = 512 * MiB;
        w->remote.swapped_bytes = 100 * MiB;
        step(w, 1, 250);
        assert_null(find_op(w, LEASE_OP_RENEW));
        w->remote.renew_due = true; /* the worker's third of the TTL */
        step(w, 12, 250);
        assert_non_null(find_op(w, LEASE_OP_RENEW));
        step(w, 13, 250); /* not again before a tenth of the TTL (3 s) */
        assert_null(find_op(w, LEASE_OP_RENEW));
        step(w, 15, 250);
        assert_non_null(find_op(w, LEASE_OP_RENEW));
        w->remote.renew_due = false;
        w->remote.renewals = 1;
        step(w, 13, 800); /* the worker renewed: recorded. Calm from now on */
        assert_non_null(find_record(w, "renew"));
        assert_null(find_op(w, LEASE_OP_DRAIN));
        step(w, 25, 250); /* pressure again within the hold: the calm clock restarts */
        assert_null(find_op(w, LEASE_OP_DRAIN));
        step(w, 26, 800);
        step(w, 30, 800); /* below low for clearHold: calm from here at the latest */
        step(w, 45, 800);
        assert_null(find_op(w, LEASE_OP_DRAIN));
        step(w, 52, 800); /* 22 s calm */
        const struct action *d = find_op(w, LEASE_OP_DRAIN);
        assert_non_null(d);
        assert_string_equal(d->remote_swap.lease_id, "L1");
        assert_non_null(find_record(w, "drain"));
        step(w, 53, 800); /* asked once */
        assert_null(find_op(w, LEASE_OP_DRAIN));
        w->remote.phase = RSWAP_DRAINING;
        step(w, 54, 800);
        w->remote.phase = RSWAP_DRAINED;
        step(w, 55, 800);
        assert_non_null(find_op(w, LEASE_OP_RELEASE));
        assert_non_null(find_record(w, "release"));
        step(w, 56, 800);
        assert_null(find_op(w, LEASE_OP_RELEASE));
        w->remote.phase = RSWAP_OFF;
        step(w, 57, 250); /* pressure again: a new lease */
        assert_non_null(find_op(w, LEASE_OP_LEASE));
}

/* The lease is ending and 400 MiB are swapped out while 250 MiB are available: swapoff would
 * have the kernel lose or kill. The step evicts by policy first (the BestEffort pod), does not
 * drain, and drains once the pages fit. A calm drain that does not fit only waits. */
static void test_drain_evicts_first_when_pages_do_not_fit(void **state)
{
        struct world *w = *state;
        add_pod(w, QOS_BURSTABLE, 100);
        add_pod(w, QOS_BESTEFFORT, 300);
        w->remote.phase = RSWAP_ON;
        w->remote.lease_bytes = 512 * MiB;
        w->remote.swapped_bytes = 400 * MiB;
        /* calm, but the pages do not fit: wait, evict nothing */
        step(w, 1, 350);
        step(w, 30, 350);
        assert_null(find_op(w, LEASE_OP_DRAIN));
        assert_null(find_kind(w, ACTION_TERMINATE));
        assert_null(find_kind(w, ACTION_KILL));
        assert_non_null(find_record(w, "drain")); /* says why it waits */
        /* the lease ends */
        w->remote.ending = true;
        step(w, 31, 350);
        assert_null(find_op(w, LEASE_OP_DRAIN));
        assert_non_null(find_record(w, "revoke"));
        const struct action *t = find_kind(w, ACTION_TERMINATE);
        assert_non_null(t);
        assert_string_equal(t->evict.cgroup, "/kubepods/pod1");
        /* the victim is gone: its memory came back */
        struct node_snapshot o = { .now_usec = 33 * SEC,
                                   .evict = { .outcome = EVICT_EXITED, .at_usec = 33 * SEC } };
        assert_int_equal(agent_step(&o, &w->st, &w->p, &w->out), 0);
        w->model.n_pods = 1;
        step(w, 34, 650); /* 400 + 64 <= 650 */
        assert_non_null(find_op(w, LEASE_OP_DRAIN));
        assert_null(find_kind(w, ACTION_TERMINATE));
}

static void test_drain_fits(void **state)
{
        (void)state;
        assert_true(lease_drain_fits(500, 400, 100));
        assert_false(lease_drain_fits(499, 400, 100));
        assert_false(lease_drain_fits(100, 400, 0));
        assert_false(lease_drain_fits(UINT64_MAX, 1, UINT64_MAX)); /* no overflow */
        assert_true(lease_drain_fits(0, 0, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lease_only_under_pressure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_lease_without_swappable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swap_max_per_qos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_renew_drain_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_drain_evicts_first_when_pages_do_not_fit,
                                                setup, teardown),
                cmocka_unit_test(test_drain_fits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
