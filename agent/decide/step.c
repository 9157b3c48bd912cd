// SPDX-License-Identifier: Apache-2.0
#include "agent/decide/step.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agent/decide/step-internal.h"
#include "common/macro.h"
#include "plugins/policy.h"

#define USEC_PER_MINUTE (60 * 1000000ull)
#define HOLD_OFF_USEC   1000000ull /* re-check a kill-rate hold-off a second later */

static const char *const scope_names[_SCOPE_MAX] = { "node", "kubepods" };

const char *scope_to_string(enum scope_id s)
{
        return (unsigned)s < _SCOPE_MAX ? scope_names[s] : "?";
}

void agent_state_init(struct agent_state *st)
{
        *st = (struct agent_state){ 0 };
}

void agent_state_done(struct agent_state *st)
{
        free(st->units);
        st->units = NULL;
        st->n_units = st->cap_units = 0;
}

void action_list_clear(struct action_list *l)
{
        l->n = 0;
}

void action_list_done(struct action_list *l)
{
        free(l->items);
        *l = (struct action_list){ 0 };
}

struct action *step_push(struct action_list *l, enum action_kind kind)
{
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                struct action *n = realloc(l->items, cap * sizeof(*n));
                if (!n)
                        return NULL;
                l->items = n;
                l->cap = cap;
        }
        struct action *a = &l->items[l->n++];
        memset(a, 0, sizeof(*a));
        a->kind = kind;
        return a;
}

int step_log(struct action_list *l, int priority, const char *fmt, ...)
{
        struct action *a = step_push(l, ACTION_LOG);
        if (!a)
                return -ENOMEM;
        a->log.priority = priority;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->log.text, sizeof(a->log.text), fmt, ap);
        va_end(ap);
        return 0;
}

enum pressure_level agent_level(const struct agent_state *st, enum scope_id *ret_scope)
{
        enum pressure_level lvl = LEVEL_NONE;
        enum scope_id which = SCOPE_NODE;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (st->scopes[i].active && st->scopes[i].st.level > lvl) {
                        lvl = st->scopes[i].st.level;
                        which = i;
                }
        if (ret_scope)
                *ret_scope = which;
        return lvl;
}

unsigned agent_kills_last_minute(const struct agent_state *st, uint64_t now_usec)
{
        unsigned n = 0;
        for (size_t i = 0; i < AGENT_KILL_HISTORY; i++)
                if (st->kill_times[i] && now_usec - st->kill_times[i] < USEC_PER_MINUTE)
                        n++;
        return n;
}

bool agent_wants_fast(const struct agent_state *st)
{
        if (agent_level(st, NULL) >= LEVEL_LOW || st->inflight.active || st->episode_start_usec ||
            st->elastic_fast)
                return true;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (st->scopes[i].active && st->scopes[i].st.raw > LEVEL_NONE)
                        return true;
        return false;
}

static void note_kill(struct agent_state *st, uint64_t at_usec)
{
        st->kill_times[st->kill_head] = at_usec;
        st->kill_head = (st->kill_head + 1) % AGENT_KILL_HISTORY;
        st->kills_total++;
}

/* ---- 1. the outcome of the eviction in flight ---- */

static int step_outcome(const struct node_snapshot *snap, struct agent_state *st,
                        const struct agent_params *p, struct action_list *out)
{
        const struct evict_result *r = &snap->evict;
        if (!st->inflight.active || r->outcome == EVICT_PENDING)
                return 0;
        bool gone = r->outcome == EVICT_EXITED || (r->outcome == EVICT_GRACE_OVER && !r->populated);
        if (gone) {
                /* The victim left within the grace period: it counts as a kill, and the
                 * cooldown starts now. */
                struct action *a = step_push(out, ACTION_EVICTION_ENDED);
                if (!a)
                        return -ENOMEM;
                a->ended.at_usec = r->at_usec;
                a->ended.decided_usec = st->inflight.decided_usec;
                a->ended.cooldown_usec = p->kill_cooldown_usec;
                snprintf(a->ended.cgroup, sizeof(a->ended.cgroup), "%s", st->inflight.cgroup);
                note_kill(st, r->at_usec);
                st->cooldown_until_usec = r->at_usec + p->kill_cooldown_usec;
                st->inflight.active = false;
                return 0;
        }
        if (r->outcome == EVICT_GRACE_OVER) {
                /* Still populated at the end of the grace period: kill what is left. */
                struct action *a = step_push(out, ACTION_KILL);
                if (!a)
                        return -ENOMEM;
                snprintf(a->evict.cgroup, sizeof(a->evict.cgroup), "%s", st->inflight.cgroup);
                a->evict.cgroup_id = st->inflight.cgroup_id;
                a->evict.cooldown_usec = p->kill_cooldown_usec;
                a->evict.record = RECORD_EVICTION;
                return 0; /* still in flight until the kill's outcome comes back */
        }
        /* EVICT_KILLED: the cooldown runs from the end of the kill. */
        if (r->counted)
                note_kill(st, r->at_usec);
        st->cooldown_until_usec = r->at_usec + p->kill_cooldown_usec;
        st->inflight.active = false;
        return 0;
}

/* ---- 2. pressure per scope ---- */

static void scope_params(const struct agent_params *p, struct scope_state *s, uint64_t total)
{
        s->params = (struct pressure_params){
                .avail_low_bytes = config_bytes_or_percent_resolve(&p->avail_low, total),
                .avail_medium_bytes = config_bytes_or_percent_resolve(&p->avail_medium, total),
                .avail_critical_bytes = config_bytes_or_percent_resolve(&p->avail_critical, total),
                .psi_low_some = p->psi_low_some,
                .psi_medium_full = p->psi_medium_full,
                .psi_critical_full = p->psi_critical_full,
                .raise_samples = p->raise_samples,
                .clear_hold_usec = p->clear_hold_usec,
        };
}

/* The balloon's worker stalls inside memory.reclaim by design; that time is ours, not the
 * scope's pressure: take it out of the stall totals (a cumulative counter, so the difference
 * between samples drops exactly the time spent in this interval). */
static uint64_t less_own(uint64_t total_usec, uint64_t own_usec)
{
        return total_usec > own_usec ? total_usec - own_usec : 0;
}

static int step_pressure(const struct node_snapshot *snap, struct agent_state *st,
                         const struct agent_params *p, struct action_list *out)
{
        enum pressure_level was[_SCOPE_MAX];
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                struct scope_state *s = &st->scopes[i];
                const struct scope_input *in = &snap->scopes[i];
                was[i] = s->st.level;
                /* The node always holds memagentd; kubepods only when it runs in a pod. */
                bool own = i == SCOPE_NODE || snap->self_in_pods;
                if (i != SCOPE_NODE && !in->present) {
                        s->active = false;
                        s->st = (struct pressure_state){ 0 };
                        continue;
                }
                scope_params(p, s, in->total_bytes);
                struct pressure_input pin = {
                        .total_bytes = in->total_bytes,
                        .available_bytes = in->available_bytes,
                        .has_psi = in->has_psi,
                        .psi_some_total_usec =
                            own ? less_own(in->psi_some_total_usec, snap->reclaim_busy_usec)
                                : in->psi_some_total_usec,
                        .psi_full_total_usec =
                            own ? less_own(in->psi_full_total_usec, snap->reclaim_busy_usec)
                                : in->psi_full_total_usec,
                        .now_usec = snap->now_usec,
                };
                pressure_update(&s->st, &s->params, &pin);
                s->active = true;
        }
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope_state *s = &st->scopes[i];
                if (!s->active || s->st.level == was[i])
                        continue;
                char desc[192];
                pressure_describe(&s->st, desc, sizeof(desc));
                if (step_log(out, s->st.level > was[i] ? LOG_NOTICE : LOG_INFO,
                             "%s memory pressure %s -> %s: %s", scope_names[i],
                             pressure_level_to_string(was[i]),
                             pressure_level_to_string(s->st.level), desc) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- 4. the balloon and vertical scaling ---- */

/* What may be lent without raising level low anywhere: the least, over the active scopes, of
 * available memory above the scope's low threshold. */
static uint64_t lendable_bytes(const struct agent_state *st)
{
        uint64_t h = UINT64_MAX;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope_state *s = &st->scopes[i];
                if (!s->active)
                        continue;
                uint64_t a = s->st.available_bytes > s->params.avail_low_bytes
                                 ? s->st.available_bytes - s->params.avail_low_bytes
                                 : 0;
                if (a < h)
                        h = a;
        }
        return h == UINT64_MAX ? 0 : h;
}

static int step_elastic(const struct node_snapshot *snap, struct agent_state *st,
                        const struct agent_params *p, struct action_list *out)
{
        if (!snap->elastic)
                return 0;
        enum scope_id sid;
        enum pressure_level lvl = agent_level(st, &sid);
        char signals[192];
        pressure_describe(&st->scopes[sid].st, signals, sizeof(signals));
        return elastic_step(snap, st, p, lvl, scope_names[sid], signals, lendable_bytes(st), out);
}

/* ---- 5. eviction ---- */

static void copy_candidate(struct decision_candidate *dst, const struct memagent_candidate *c,
                           const char *reason)
{
        snprintf(dst->name, sizeof(dst->name), "%s", c->name);
        snprintf(dst->cgroup, sizeof(dst->cgroup), "%s", c->cgroup);
        snprintf(dst->qos, sizeof(dst->qos), "%s", qos_to_string(policy_qos_from_abi(c->qos)));
        dst->current_bytes = c->current_bytes;
        dst->working_set_bytes = c->working_set_bytes;
        dst->request_bytes = c->request_bytes;
        snprintf(dst->reason, sizeof(dst->reason), "%s", reason ? reason : "");
}

static int step_evict(const struct node_snapshot *snap, struct agent_state *st,
                      const struct agent_params *p, enum scope_id sid, struct action_list *out)
{
        const struct scope_state *sc = &st->scopes[sid];
        uint64_t now = snap->now_usec;
        size_t n = 0;
        _cleanup_free_ struct memagent_candidate *cands = calloc(snap->n_cands + 1, sizeof(*cands));
        _cleanup_free_ size_t *order = calloc(snap->n_cands + 1, sizeof(*order));
        _cleanup_free_ struct memagent_rank *ranks = calloc(snap->n_cands + 1, sizeof(*ranks));
        if (!cands || !order || !ranks)
                return -ENOMEM;
        for (size_t i = 0; i < snap->n_cands; i++) {
                const struct snap_candidate *c = &snap->cands[i];
                /* On a host without Kubernetes, configured workloads are what there is to
                 * protect the node with. On a Kubernetes node, system services (kubelet,
                 * containerd, sshd) are never evicted: the kubelet does not evict them either. */
                if ((c->c.flags & MEMAGENT_CAND_WORKLOAD) && snap->has_kubepods)
                        continue;
                cands[n] = c->c;
                /* memagentd never evicts the pod (or service) it runs in. */
                if (c->holds_self)
                        cands[n].flags |= MEMAGENT_CAND_PROTECTED;
                n++;
        }
        struct memagent_rank_context ctx = {
                .level = policy_level_to_abi(sc->st.level),
                .scope = scope_names[sid],
                .scope_total_bytes = sc->st.total_bytes,
                .scope_available_bytes = sc->st.available_bytes,
        };
        size_t n_ranked = 0;
        int r = p->chain ? policy_chain_rank(p->chain, &ctx, cands, n, order, &n_ranked, ranks)
                         : -EINVAL;

        struct action *rec = step_push(out, ACTION_RECORD);
        if (!rec)
                return -ENOMEM;
        struct decision *d = &rec->record.d;
        rec->record.sample_start_usec = now;
        rec->record.episode_start_usec = st->episode_start_usec;
        st->decisions_total++;
        snprintf(d->scope, sizeof(d->scope), "%s", scope_names[sid]);
        snprintf(d->level, sizeof(d->level), "%s", pressure_level_to_string(sc->st.level));
        snprintf(d->trigger, sizeof(d->trigger), "%s",
                 st->episode_trigger[0] ? st->episode_trigger : "sample");
        pressure_describe(&sc->st, d->signals, sizeof(d->signals));
        d->available_bytes = sc->st.available_bytes;
        d->total_bytes = sc->st.total_bytes;
        d->psi_some_pct = sc->st.some_pct;
        d->psi_full_pct = sc->st.full_pct;
        d->dry_run = p->dry_run;
        d->n_candidates = (unsigned)n;
        d->n_excluded = (unsigned)(n - (r < 0 ? 0 : n_ranked));
        st->cooldown_until_usec = now + p->kill_cooldown_usec;

        if (r < 0 || n_ranked == 0) {
                snprintf(d->action, sizeof(d->action), "none");
                snprintf(d->outcome, sizeof(d->outcome),
                         r < 0 ? "ranking failed" : "no candidate (all protected or none)");
                st->relief_exhausted = true;
                d->done = true;
                /* step_log() may move the list: log from copies */
                struct decision copy = *d;
                return step_log(out, LOG_WARNING,
                                "%s pressure is %s (%s) but there is nothing to evict: %s",
                                scope_names[sid], copy.level, copy.signals, copy.outcome);
        }
        const struct memagent_candidate *v = &cands[order[0]];
        d->has_victim = true;
        copy_candidate(&d->victim, v, ranks[order[0]].reason);
        for (size_t i = 1; i < n_ranked && d->n_runners_up < DECISION_RUNNERS_UP; i++)
                copy_candidate(&d->runners_up[d->n_runners_up++], &cands[order[i]],
                               ranks[order[i]].reason);

        bool kill_now = sc->st.level >= LEVEL_CRITICAL || p->grace_period_usec == 0;
        snprintf(d->action, sizeof(d->action), "%s", kill_now ? "kill" : "terminate");
        if (p->dry_run) {
                snprintf(d->outcome, sizeof(d->outcome), "not acted: dry run");
                d->done = true;
        }
        /* Copy what the actions need before step_push() may move the list (and d with it). */
        char victim_name[sizeof(d->victim.name)], reason[sizeof(d->victim.reason)];
        char level[sizeof(d->level)], signals[sizeof(d->signals)];
        snprintf(victim_name, sizeof(victim_name), "%s", v->name);
        snprintf(reason, sizeof(reason), "%s", d->victim.reason);
        snprintf(level, sizeof(level), "%s", d->level);
        snprintf(signals, sizeof(signals), "%s", d->signals);
        if (step_log(out, LOG_NOTICE, "%s pressure is %s (%s): %s %s %s (%s)%s", scope_names[sid],
                     level, signals, p->dry_run ? "would" : "will", kill_now ? "kill" : "terminate",
                     victim_name, reason, p->dry_run ? " [dry run]" : "") < 0)
                return -ENOMEM;
        if (p->dry_run)
                return 0;

        struct action *a = step_push(out, kill_now ? ACTION_KILL : ACTION_TERMINATE);
        if (!a)
                return -ENOMEM;
        snprintf(a->evict.cgroup, sizeof(a->evict.cgroup), "%s", v->cgroup);
        a->evict.cgroup_id = v->cgroup_id;
        a->evict.grace_usec = kill_now ? 0 : p->grace_period_usec;
        a->evict.cooldown_usec = p->kill_cooldown_usec;
        a->evict.record = RECORD_LAST;
        st->inflight.active = true;
        snprintf(st->inflight.cgroup, sizeof(st->inflight.cgroup), "%s", v->cgroup);
        st->inflight.cgroup_id = v->cgroup_id;
        st->inflight.decided_usec = now;
        return 0;
}

/* ---- 6. the node report ---- */

static int step_report(const struct node_snapshot *snap, struct agent_state *st,
                       const struct agent_params *p, enum pressure_level lvl,
                       struct action_list *out)
{
        uint64_t now = snap->now_usec;
        if (lvl != st->report_level || st->report_level_since_usec == 0) {
                st->report_level = lvl;
                st->report_level_since_usec = now;
        }
        if (lvl < LEVEL_MEDIUM)
                st->relief_exhausted = false;
        const struct scope_input *kp = &snap->scopes[SCOPE_KUBEPODS];
        uint64_t kp_max = kp->present ? kp->total_bytes : 0;
        uint64_t total = snap->node ? snap->node->mem.total : 0;
        struct action *a = step_push(out, ACTION_REPORT);
        if (!a)
                return -ENOMEM;
        a->report.level = lvl;
        a->report.level_duration_ms = (now - st->report_level_since_usec) / 1000;
        /* Relief is exhausted when there was nothing left to evict, or when the kill-rate limit
         * holds further evictions off. */
        a->report.relief_exhausted =
            st->relief_exhausted ||
            (lvl >= LEVEL_MEDIUM && agent_kills_last_minute(st, now) >= p->max_kills_per_minute);
        /* what the kubelet keeps from pods: capacity minus allocatable */
        a->report.reserved_bytes = kp_max && total > kp_max ? total - kp_max : 0;
        return 0;
}

int agent_step(const struct node_snapshot *snap, struct agent_state *st,
               const struct agent_params *p, struct action_list *out)
{
        int r;
        action_list_clear(out);
        if ((r = step_outcome(snap, st, p, out)) < 0)
                return r;
        elastic_step_limits(snap, st);
        if ((r = elastic_step_outcome(snap, st, out)) < 0)
                return r;
        if (!snap->sampled || !snap->have_node)
                return 0;
        uint64_t now = snap->now_usec;
        enum pressure_level before = agent_level(st, NULL);
        if ((r = step_pressure(snap, st, p, out)) < 0)
                return r;

        /* Episode bookkeeping: the first sign of trouble starts the latency clock. */
        bool rising = false;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (st->scopes[i].active && st->scopes[i].st.raw >= LEVEL_MEDIUM)
                        rising = true;
        enum scope_id sid;
        enum pressure_level lvl = agent_level(st, &sid);
        if ((rising || lvl >= LEVEL_MEDIUM) && st->episode_start_usec == 0) {
                st->episode_start_usec = now;
                snprintf(st->episode_trigger, sizeof(st->episode_trigger), "%s",
                         snap->trigger ? snap->trigger : "sample");
        } else if (!rising && lvl < LEVEL_MEDIUM && before < LEVEL_MEDIUM) {
                st->episode_start_usec = 0;
                st->episode_trigger[0] = '\0';
        }

        /* The first rung: reclaim cold memory, lend before an OOM. */
        if ((r = step_elastic(snap, st, p, out)) < 0)
                return r;

        /* Act on pressure that is there now: after a kill the level stays up for clearHold
         * (hysteresis), but a sample below medium means the kill already relieved it. */
        if (lvl >= LEVEL_MEDIUM && st->scopes[sid].st.raw >= LEVEL_MEDIUM && !st->inflight.active &&
            now >= st->cooldown_until_usec) {
                if (agent_kills_last_minute(st, now) >= p->max_kills_per_minute) {
                        if ((r = step_log(out, LOG_WARNING,
                                          "%s pressure is %s but %u kills in the last minute "
                                          "reached maxKillsPerMinute, holding off",
                                          scope_names[sid], pressure_level_to_string(lvl),
                                          p->max_kills_per_minute)) < 0)
                                return r;
                        st->cooldown_until_usec = now + HOLD_OFF_USEC;
                } else {
                        if ((r = step_evict(snap, st, p, sid, out)) < 0)
                                return r;
                        st->episode_start_usec = 0;
                        st->episode_trigger[0] = '\0';
                }
        }
        if (snap->reporting && (r = step_report(snap, st, p, lvl, out)) < 0)
                return r;
        return 0;
}
