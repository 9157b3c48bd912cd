// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "step-world.h"

int setup(void **state)
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

int teardown(void **state)
{
        struct world *w = *state;
        action_list_done(&w->out);
        agent_state_done(&w->st);
        policy_chain_free(w->chain);
        return 0;
}

void add(struct world *w, const char *cgroup, enum qos_class qos, uint64_t ws_mib, uint32_t flags,
         bool holds_self)
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

const struct action *find(const struct action_list *l, enum action_kind k)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].kind == k)
                        return &l->items[i];
        return NULL;
}

void do_step(struct world *w, double t, uint64_t avail_mib, struct evict_result ev)
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

void step_row(struct world *w, const struct row *r, size_t i)
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

void run(struct world *w, const struct row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++)
                step_row(w, &rows[i], i);
}

void cast(struct world *w)
{
        add(w, "/kubepods/besteffort/pod-be", QOS_BESTEFFORT, 100, 0, false);
        add(w, "/kubepods/burstable/pod-bu", QOS_BURSTABLE, 300, 0, false);
        w->cands[w->n_cands - 1].c.request_bytes = 500 * MiB;
        add(w, "/kubepods/pod-g", QOS_GUARANTEED, 400, 0, false);
        w->cands[w->n_cands - 1].c.request_bytes = 400 * MiB;
}
