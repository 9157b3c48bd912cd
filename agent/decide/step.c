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
#include "common/quantity.h"
#include "plugins/policy.h"

#define USEC_PER_MINUTE (60 * 1000000ull)
#define HOLD_OFF_USEC   1000000ull /* re-check a kill-rate hold-off a second later */

const char *const scope_names[_SCOPE_MAX] = { "node", "kubepods" };

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
        elastic_units_done(st);
        lease_step_state_done(&st->lease);
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

struct action *step_push_evict(struct action_list *l, enum action_kind kind, const char *cgroup,
                               uint64_t cgroup_id, uint64_t grace_usec, uint64_t cooldown_usec,
                               enum record_ref record)
{
        struct action *a = step_push(l, kind);
        if (!a)
                return NULL;
        snprintf(a->evict.cgroup, sizeof(a->evict.cgroup), "%s", cgroup);
        a->evict.cgroup_id = cgroup_id;
        a->evict.grace_usec = grace_usec;
        a->evict.cooldown_usec = cooldown_usec;
        a->evict.record = record;
        return a;
}

int step_push_outcome(struct action_list *l, enum record_ref record, const char *outcome,
                      const char *api, bool done, const struct decision_candidate *victim)
{
        struct action *a = step_push(l, ACTION_OUTCOME);
        if (!a)
                return -ENOMEM;
        a->outcome.record = record;
        snprintf(a->outcome.outcome, sizeof(a->outcome.outcome), "%s", outcome ? outcome : "");
        snprintf(a->outcome.api, sizeof(a->outcome.api), "%s", api ? api : "");
        a->outcome.done = done;
        if (victim) {
                a->outcome.has_victim = true;
                a->outcome.victim = *victim;
        }
        return 0;
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
        for (size_t i = 0; i < AGENT_THRASH_PODS; i++)
                if (st->thrash[i].since_usec)
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
                a->ended.api_accepted = st->inflight.api_accepted;
                snprintf(a->ended.cgroup, sizeof(a->ended.cgroup), "%s", st->inflight.cgroup);
                note_kill(st, r->at_usec);
                st->cooldown_until_usec = r->at_usec + p->kill_cooldown_usec;
                memset(&st->inflight, 0, sizeof(st->inflight));
                return 0;
        }
        if (r->outcome == EVICT_GRACE_OVER) {
                /* Still populated at the end of the grace period: kill what is left. After an
                 * eviction the API accepted, the record says that the kubelet did not stop it. */
                if (st->inflight.api_accepted &&
                    step_push_outcome(out, RECORD_EVICTION, NULL,
                                      "still populated after the grace period: killed through "
                                      "the cgroup",
                                      false, NULL) < 0)
                        return -ENOMEM;
                if (!step_push_evict(out, ACTION_KILL, st->inflight.cgroup, st->inflight.cgroup_id,
                                     0, p->kill_cooldown_usec, RECORD_EVICTION))
                        return -ENOMEM;
                if (st->inflight.known &&
                    kube_push_event(out, &st->inflight.pod, "Warning", "Kill", "MemoryPressureKill",
                                    "Still running after the %llu ms grace period: killed "
                                    "through the cgroup. %s",
                                    (unsigned long long)(p->grace_period_usec / 1000),
                                    st->inflight.note) < 0)
                        return -ENOMEM;
                return 0; /* still in flight until the kill's outcome comes back */
        }
        /* EVICT_KILLED: the cooldown runs from the end of the kill. */
        if (r->counted)
                note_kill(st, r->at_usec);
        st->cooldown_until_usec = r->at_usec + p->kill_cooldown_usec;
        memset(&st->inflight, 0, sizeof(st->inflight));
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
        thrash_sample(snap, st, p);
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
                /* A full stall that is one thrashing pod's own is not the scope's (thrash-step.c)
                 */
                if (!in->has_psi ||
                    (s->have_raw_prev && in->psi_full_total_usec < s->prev_raw_full_usec))
                        s->victim_full_usec = 0; /* no PSI, or the counter reset */
                else if (s->have_raw_prev && s->st.have_prev)
                        s->victim_full_usec += thrash_victim_full_usec(
                            st, s->st.prev_time_usec, snap->now_usec,
                            in->psi_full_total_usec - s->prev_raw_full_usec);
                s->have_raw_prev = in->has_psi;
                s->prev_raw_full_usec = in->psi_full_total_usec;
                uint64_t full = own ? less_own(in->psi_full_total_usec, snap->reclaim_busy_usec)
                                    : in->psi_full_total_usec;
                struct pressure_input pin = {
                        .total_bytes = in->total_bytes,
                        .available_bytes = in->available_bytes,
                        .has_psi = in->has_psi,
                        .psi_some_total_usec =
                            own ? less_own(in->psi_some_total_usec, snap->reclaim_busy_usec)
                                : in->psi_some_total_usec,
                        .psi_full_total_usec = less_own(full, s->victim_full_usec),
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
                           const struct snap_candidate *sc, const char *reason)
{
        if (sc->meta) /* as the API names it, whatever name the candidate came with */
                snprintf(dst->name, sizeof(dst->name), "%.40s/%.54s", sc->meta->namespace_,
                         sc->meta->name);
        else
                snprintf(dst->name, sizeof(dst->name), "%s", c->name);
        snprintf(dst->uid, sizeof(dst->uid), "%s", sc->uid ? sc->uid : "");
        snprintf(dst->namespace_, sizeof(dst->namespace_), "%s",
                 sc->meta ? sc->meta->namespace_ : "");
        snprintf(dst->pod_name, sizeof(dst->pod_name), "%s", sc->meta ? sc->meta->name : "");
        snprintf(dst->cgroup, sizeof(dst->cgroup), "%s", c->cgroup);
        snprintf(dst->qos, sizeof(dst->qos), "%s", qos_to_string(policy_qos_from_abi(c->qos)));
        dst->current_bytes = c->current_bytes;
        dst->working_set_bytes = c->working_set_bytes;
        dst->request_bytes = c->request_bytes;
        snprintf(dst->reason, sizeof(dst->reason), "%s", reason ? reason : "");
}

/* The victim goes through the Eviction API: the API is usable, the level is medium with a grace
 * period, and the API knows the pod. */
static bool through_api(const struct node_snapshot *snap, bool kill_now,
                        const struct snap_candidate *c)
{
        return snap->kube_usable && !kill_now && c->meta;
}

void ranking_done(struct ranking *k)
{
        free(k->cands);
        free(k->order);
        free(k->src);
        free(k->ranks);
        *k = (struct ranking){ 0 };
}

/* Ranks the candidates the decision may offer: on a Kubernetes node no system service, and
 * never the one memagentd runs in. */
int rank_candidates(const struct node_snapshot *snap, const struct agent_params *p,
                    const struct scope_state *sc, enum scope_id sid, enum pressure_level level,
                    struct ranking *k)
{
        size_t n = 0;
        *k = (struct ranking){
                .cands = calloc(snap->n_cands + 1, sizeof(*k->cands)),
                .order = calloc(snap->n_cands + 1, sizeof(*k->order)),
                .src = calloc(snap->n_cands + 1, sizeof(*k->src)),
                .ranks = calloc(snap->n_cands + 1, sizeof(*k->ranks)),
        };
        if (!k->cands || !k->order || !k->src || !k->ranks) {
                ranking_done(k);
                return -ENOMEM;
        }
        struct memagent_candidate *cands = k->cands;
        size_t *src = k->src;
        for (size_t i = 0; i < snap->n_cands; i++) {
                const struct snap_candidate *c = &snap->cands[i];
                /* On a host without Kubernetes, configured workloads are what there is to
                 * protect the node with. On a Kubernetes node, system services (kubelet,
                 * containerd, sshd) are never evicted: the kubelet does not evict them either. */
                if ((c->c.flags & MEMAGENT_CAND_WORKLOAD) && snap->has_kubepods)
                        continue;
                cands[n] = c->c;
                kube_candidate_apply(&cands[n], c->meta);
                /* memagentd never evicts the pod (or service) it runs in. */
                if (c->holds_self)
                        cands[n].flags |= MEMAGENT_CAND_PROTECTED;
                src[n] = i;
                n++;
        }
        struct memagent_rank_context ctx = {
                .level = policy_level_to_abi(level),
                .scope = scope_names[sid],
                .scope_total_bytes = sc->st.total_bytes,
                .scope_available_bytes = sc->st.available_bytes,
        };
        k->n = n;
        k->r = p->chain
                   ? policy_chain_rank(p->chain, &ctx, cands, n, k->order, &k->n_ranked, k->ranks)
                   : -EINVAL;
        if (k->r < 0)
                k->n_ranked = 0;
        return 0;
}

static int step_evict(const struct node_snapshot *snap, struct agent_state *st,
                      const struct agent_params *p, enum scope_id sid, struct action_list *out)
{
        const struct scope_state *sc = &st->scopes[sid];
        uint64_t now = snap->now_usec;
        _cleanup_(ranking_done) struct ranking rk = { 0 };
        if (rank_candidates(snap, p, sc, sid, sc->st.level, &rk) < 0)
                return -ENOMEM;
        struct memagent_candidate *cands = rk.cands;
        size_t *order = rk.order, *src = rk.src, n = rk.n, n_ranked = rk.n_ranked;
        struct memagent_rank *ranks = rk.ranks;
        int r = rk.r;
        bool kill_now = sc->st.level >= LEVEL_CRITICAL || p->grace_period_usec == 0;

        /* A pod the API asked not to evict before its Retry-After is passed over while the
         * eviction would go through the API again; the order of the others stands. */
        size_t n_held = 0;
        if (r >= 0) {
                size_t k = 0;
                for (size_t i = 0; i < n_ranked; i++) {
                        const struct snap_candidate *c = &snap->cands[src[order[i]]];
                        if (through_api(snap, kill_now, c) && kube_held_off(st, c->meta->uid, now))
                                n_held++;
                        else
                                order[k++] = order[i];
                }
                n_ranked = k;
        }

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
        d->n_excluded = (unsigned)(n - (r < 0 ? 0 : n_ranked + n_held));
        if (st->thrash_raised && sid == SCOPE_NODE) {
                snprintf(d->trigger, sizeof(d->trigger), "thrash");
                snprintf(d->thrash, sizeof(d->thrash), "thrashing of %s (%s)", st->thrash_pod,
                         st->thrash_note);
        }
        if (n_held)
                snprintf(d->api, sizeof(d->api),
                         "%zu candidate(s) passed over: the API asked to retry later (429)",
                         n_held);
        st->cooldown_until_usec = now + p->kill_cooldown_usec;

        if (r < 0 || n_ranked == 0) {
                snprintf(d->action, sizeof(d->action), "none");
                snprintf(d->outcome, sizeof(d->outcome),
                         r < 0    ? "ranking failed"
                         : n_held ? "no candidate (the API refused the others for now)"
                                  : "no candidate (all protected or none)");
                st->relief_exhausted = true;
                d->done = true;
                /* step_log() may move the list: log from copies */
                struct decision copy = *d;
                return step_log(out, LOG_WARNING,
                                "%s pressure is %s (%s) but there is nothing to evict: %s",
                                scope_names[sid], copy.level, copy.signals, copy.outcome);
        }
        const struct memagent_candidate *v = &cands[order[0]];
        const struct snap_candidate *vs = &snap->cands[src[order[0]]];
        bool api = through_api(snap, kill_now, vs);
        d->has_victim = true;
        copy_candidate(&d->victim, v, vs, ranks[order[0]].reason);
        if (d->thrash[0]) {
                size_t len = strlen(d->thrash);
                snprintf(d->thrash + len, sizeof(d->thrash) - len, ", relieved by evicting %s",
                         d->victim.name);
                /* the relief must show before the signal calls for another eviction */
                for (size_t i = 0; i < AGENT_THRASH_PODS; i++)
                        st->thrash[i].since_usec = 0;
        }
        for (size_t i = 1; i < n_ranked && d->n_runners_up < DECISION_RUNNERS_UP; i++)
                copy_candidate(&d->runners_up[d->n_runners_up++], &cands[order[i]],
                               &snap->cands[src[order[i]]], ranks[order[i]].reason);

        const char *verb = api ? "evict" : kill_now ? "kill" : "terminate";
        snprintf(d->action, sizeof(d->action), "%s", verb);
        if (p->dry_run) {
                snprintf(d->outcome, sizeof(d->outcome), "not acted: dry run");
                d->done = true;
        } else if (api) {
                snprintf(d->outcome, sizeof(d->outcome), "evicting through the API");
        }
        /* Copy what the actions need before step_push() may move the list (and d with it). */
        char victim_name[sizeof(d->victim.name)], reason[sizeof(d->victim.reason)];
        char level[sizeof(d->level)], signals[sizeof(d->signals)];
        struct decision_candidate victim = d->victim;
        snprintf(victim_name, sizeof(victim_name), "%s", v->name);
        snprintf(reason, sizeof(reason), "%s", d->victim.reason);
        snprintf(level, sizeof(level), "%s", d->level);
        snprintf(signals, sizeof(signals), "%s", d->signals);
        if (step_log(out, LOG_NOTICE, "%s pressure is %s (%s): %s %s %s%s (%s)%s", scope_names[sid],
                     level, signals, p->dry_run ? "would" : "will", verb, victim_name,
                     api ? " through the Kubernetes API" : "", reason,
                     p->dry_run ? " [dry run]" : "") < 0)
                return -ENOMEM;
        if (p->dry_run)
                return 0;

        memset(&st->inflight, 0, sizeof(st->inflight));
        st->inflight.active = true;
        snprintf(st->inflight.cgroup, sizeof(st->inflight.cgroup), "%s", v->cgroup);
        st->inflight.cgroup_id = v->cgroup_id;
        st->inflight.decided_usec = now;
        snprintf(st->inflight.scope, sizeof(st->inflight.scope), "%s", scope_names[sid]);
        snprintf(st->inflight.level, sizeof(st->inflight.level), "%s", level);
        char avail[FORMAT_BYTES_MAX], total[FORMAT_BYTES_MAX];
        snprintf(st->inflight.note, sizeof(st->inflight.note),
                 "Memory pressure %s on %s (available %s of %s): %s", level, scope_names[sid],
                 format_bytes_iec(sc->st.available_bytes, avail, sizeof(avail)),
                 format_bytes_iec(sc->st.total_bytes, total, sizeof(total)), reason);
        /* The ranked candidates, for the next try when the API refuses this one (429). */
        for (size_t i = 0; i < n_ranked && st->inflight.n_choices < AGENT_EVICT_CHOICES; i++) {
                const struct snap_candidate *c = &snap->cands[src[order[i]]];
                struct evict_choice *ch = &st->inflight.choices[st->inflight.n_choices++];
                copy_candidate(&ch->cand, &cands[order[i]], c, ranks[order[i]].reason);
                ch->cgroup_id = c->c.cgroup_id;
                ch->known = c->meta != NULL;
                if (c->meta)
                        kube_ref_from_meta(&ch->pod, c->meta);
        }
        st->inflight.known = vs->meta != NULL;
        if (vs->meta)
                kube_ref_from_meta(&st->inflight.pod, vs->meta);

        if (api) {
                st->inflight.api_wait = true;
                st->inflight.api_sent_usec = now;
                if (kube_push_evict(out, &st->inflight.pod, p, RECORD_LAST) < 0 ||
                    kube_push_event(out, &st->inflight.pod, "Warning", "Evict",
                                    "MemoryPressureEviction",
                                    "Evicting through the Eviction API. %s", st->inflight.note) < 0)
                        return -ENOMEM;
                return 0;
        }
        if (!step_push_evict(out, kill_now ? ACTION_KILL : ACTION_TERMINATE, v->cgroup,
                             v->cgroup_id, kill_now ? 0 : p->grace_period_usec,
                             p->kill_cooldown_usec, RECORD_LAST))
                return -ENOMEM;
        if (!vs->meta)
                return 0;
        /* A pod the API knows, killed (or terminated) through its cgroup: the kubelet would
         * restart it here, so it is evicted through the API as well, once the API can be
         * reached. */
        if (kube_push_event(out, &st->inflight.pod, "Warning", kill_now ? "Kill" : "Terminate",
                            "MemoryPressureKill", "%s through the cgroup. %s",
                            kill_now ? "Killed" : "Terminated", st->inflight.note) < 0 ||
            kube_enqueue(st, &st->inflight.pod, &victim, scope_names[sid], level, now, out) < 0)
                return -ENOMEM;
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
        if ((r = kube_step_answers(snap, st, p, out)) < 0)
                return r;
        if ((r = step_outcome(snap, st, p, out)) < 0)
                return r;
        elastic_step_limits(snap, st);
        if ((r = elastic_step_outcome(snap, st, out)) < 0)
                return r;
        if (!snap->sampled || !snap->have_node)
                return kube_step_queue(snap, st, p, out);
        uint64_t now = snap->now_usec;
        enum pressure_level before = agent_level(st, NULL);
        if ((r = step_pressure(snap, st, p, out)) < 0)
                return r;
        if ((r = thrash_step(snap, st, p, out)) < 0)
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

        /* The node never waits on the API: an eviction it has not answered in time, or pressure
         * that turned critical meanwhile, goes through the cgroup. */
        if ((r = kube_step_overdue(snap, st, p, lvl, out)) < 0)
                return r;

        /* The first rung: reclaim cold memory, lend before an OOM. */
        if ((r = step_elastic(snap, st, p, out)) < 0)
                return r;

        /* Remote swap: lease under pressure, drain when calm; a lease that must end but whose
         * pages do not fit asks for an eviction first (lease-step.h). */
        bool evict_for_drain = false;
        if ((r = lease_step(snap, st, p, lvl, &evict_for_drain, out)) < 0)
                return r;

        /* Act on pressure that is there now: after a kill the level stays up for clearHold
         * (hysteresis), but a sample below medium means the kill already relieved it. */
        if (((lvl >= LEVEL_MEDIUM && st->scopes[sid].st.raw >= LEVEL_MEDIUM) || evict_for_drain) &&
            !st->inflight.active && now >= st->cooldown_until_usec) {
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
        /* Pods killed through their cgroup, evicted through the API once it answers. */
        if ((r = kube_step_queue(snap, st, p, out)) < 0)
                return r;
        if (snap->reporting && (r = step_report(snap, st, p, lvl, out)) < 0)
                return r;
        return 0;
}
