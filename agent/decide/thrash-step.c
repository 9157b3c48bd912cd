// SPDX-License-Identifier: Apache-2.0
// Step 2b of agent_step(): thrashing is pressure (issue 17, struct thrash_params in step.h). A pod
// stalled reading its page cache back on a tight node, with pods ranked before it holding memory,
// puts the node at level medium for the sample; the eviction that follows is the usual one.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "agent/decide/step-internal.h"
#include "common/quantity.h"

/* Ranked before the thrashing pod, pods must hold at least this share of MemTotal (per mille):
 * evicting less would not give its page cache back. */
#define THRASH_HOLD_PERMILLE 50

static bool thrash_enabled(const struct agent_params *p)
{
        return p->thrash.stall_some_pct > 0;
}

static bool node_tight(const struct agent_params *p, uint64_t total_bytes, uint64_t available_bytes)
{
        return available_bytes < config_bytes_or_percent_resolve(&p->thrash.available, total_bytes);
}

bool agent_thrash_wants_all(const struct agent_state *st, const struct agent_params *p,
                            const struct scope_input *node, uint64_t now_usec)
{
        if (!thrash_enabled(p))
                return false;
        for (size_t i = 0; i < AGENT_THRASH_PODS; i++)
                if (st->thrash[i].since_usec)
                        return true;
        if (!node->present || !node_tight(p, node->total_bytes, node->available_bytes))
                return false;
        /* The node's stall since its last sample: at least any pod's. Compared with the total
         * the step kept (the balloon's own reclaim taken out): never less than the truth. */
        const struct pressure_state *ps = &st->scopes[SCOPE_NODE].st;
        if (!node->has_psi || !ps->have_prev || now_usec <= ps->prev_time_usec ||
            node->psi_some_total_usec < ps->prev_some_usec)
                return false;
        double some = 100.0 * (double)(node->psi_some_total_usec - ps->prev_some_usec) /
                      (double)(now_usec - ps->prev_time_usec);
        return some >= p->thrash.stall_some_pct;
}

/* Usage at or above pct of the cgroup's own memory.max or memory.high. */
static bool near_own_limit(const struct cgroup *cg, double pct)
{
        const struct cg_sample *s = &cg->s;
        uint64_t lim = CG_UNLIMITED;
        if ((s->have & CG_HAVE(CGF_MAX)) && s->max < lim)
                lim = s->max;
        if ((s->have & CG_HAVE(CGF_HIGH)) && s->high < lim)
                lim = s->high;
        return lim != CG_UNLIMITED && (double)s->current >= (double)lim * pct / 100.0;
}

static bool pod_near_own_limit(const struct pod *pod, double pct)
{
        if (near_own_limit(&pod->cg, pct))
                return true;
        for (size_t j = 0; j < pod->n_containers; j++)
                if (near_own_limit(&pod->containers[j].cg, pct))
                        return true;
        return false;
}

/* Where a pass over the pods stands in the watches: the slot to try first, and how many slots the
 * pass has handed out. */
struct watch_cursor {
        size_t next;
        size_t taken;
};

/* The pod's watch, or a free one given to it; NULL when all are taken. Pods come in the model's
 * order and took their watches in that order, so the next pod's is almost always the slot after
 * the last one returned; and once the pass has handed out every slot, the pods left have none.
 * A scan of all the slots for each pod, twice per tick, was a quarter of a calm tick at 250 pods
 * (issue 13). A cgroup holds one slot at most, so what the shortcuts find is what the scan
 * would. */
static struct thrash_watch *thrash_watch_get(struct agent_state *st, uint64_t id,
                                             struct watch_cursor *cur)
{
        if (cur->taken >= AGENT_THRASH_PODS)
                return NULL; /* every slot is an earlier pod's of this pass */
        struct thrash_watch *w = NULL;
        if (cur->next < AGENT_THRASH_PODS && st->thrash[cur->next].cgroup_id == id)
                w = &st->thrash[cur->next];
        struct thrash_watch *free_slot = NULL;
        for (size_t i = 0; !w && i < AGENT_THRASH_PODS; i++) {
                if (st->thrash[i].cgroup_id == id)
                        w = &st->thrash[i];
                else if (!free_slot && st->thrash[i].cgroup_id == 0)
                        free_slot = &st->thrash[i];
        }
        if (!w && free_slot) {
                *free_slot = (struct thrash_watch){ .cgroup_id = id };
                w = free_slot;
        }
        if (w) {
                cur->next = (size_t)(w - st->thrash) + 1;
                cur->taken++;
        }
        return w;
}

/* A window whose stall and refault rate are both at least this many times their thresholds is
 * extreme: THRASH_EXTREME_WINDOWS of them in a row are enough, whatever thrashSustain says. A
 * node filling fast (a pod allocating at once) goes from the first refaults to the kernel's OOM
 * killer in seconds; waiting out a 5 s sustain there lets the kernel choose the victim. A burst
 * that severe is not a pause between two reads. */
#define THRASH_EXTREME_FACTOR  4
#define THRASH_EXTREME_WINDOWS 2

static bool thrash_fired(const struct thrash_watch *w, const struct agent_params *p, uint64_t now)
{
        return w->since_usec && (now - w->since_usec >= p->thrash.sustain_usec ||
                                 w->extreme >= THRASH_EXTREME_WINDOWS);
}

/* One pod's reading. At the end of each window (THRASH_WINDOW_USEC or more since its start): its
 * stall share and refault rate over the window, and whether every threshold holds; one window
 * below them is forgiven (a pause between two reads), two end the watch. Returns true once they
 * have held for sustain_usec, or for THRASH_EXTREME_WINDOWS extreme windows in a row. A sample
 * that did not read the pod's memory.pressure and memory.stat leaves the watch alone. */
static bool thrash_watch_update(struct thrash_watch *w, const struct agent_params *p,
                                const struct pod *pod, bool tight, uint64_t now)
{
        const struct cg_sample *s = &pod->cg.s;
        bool fired = thrash_fired(w, p, now);
        if (!(s->have & CG_HAVE(CGF_PRESSURE)) || !(s->have & CG_HAVE(CGF_STAT)))
                return fired;
        uint64_t some = s->psi.some.total_usec, refaults = s->stat.workingset_refault_file;
        if (!w->have_prev || now < w->prev_usec || some < w->prev_some_usec ||
            refaults < w->prev_refaults) { /* first reading, or counters reset (a new cgroup) */
                *w = (struct thrash_watch){ .cgroup_id = w->cgroup_id,
                                            .have_prev = true,
                                            .prev_some_usec = some,
                                            .prev_refaults = refaults,
                                            .prev_usec = now,
                                            .sample = w->sample };
                return false;
        }
        if (now - w->prev_usec < THRASH_WINDOW_USEC)
                return fired;
        double dt = (double)(now - w->prev_usec);
        w->stall_pct = 100.0 * (double)(some - w->prev_some_usec) / dt;
        if (w->stall_pct > 100.0)
                w->stall_pct = 100.0;
        w->refaults_per_sec = (double)(refaults - w->prev_refaults) * 1e6 / dt;
        w->prev_some_usec = some;
        w->prev_refaults = refaults;
        w->prev_usec = now;
        bool hot = tight && w->stall_pct >= p->thrash.stall_some_pct &&
                   w->refaults_per_sec >= p->thrash.refaults_per_sec &&
                   !pod_near_own_limit(pod, p->thrash.own_limit_pct);
        if (!hot) {
                w->extreme = 0;
                if (++w->misses >= 2)
                        w->since_usec = 0;
                return thrash_fired(w, p, now);
        }
        w->misses = 0;
        if (w->stall_pct >= THRASH_EXTREME_FACTOR * p->thrash.stall_some_pct &&
            w->refaults_per_sec >= THRASH_EXTREME_FACTOR * p->thrash.refaults_per_sec)
                w->extreme++;
        else
                w->extreme = 0;
        if (!w->since_usec)
                w->since_usec = now;
        return thrash_fired(w, p, now);
}

/* ---- the full stall that is a thrashing pod's own ----
 *
 * PSI counts "full" per CPU: a pod alone on its CPU, stalled reading its page cache back, is a full
 * stall of kubepods and of the node however little memory it holds, and nothing else need be
 * stalled at all (seen in the guest: 12-50% full from the db's own stall alone). The full-stall
 * levels would then evict the first ranked, which is often that pod itself (its hot cache counts
 * in its working set). Such a pod is the victim of the pressure, not its cause: while its memory
 * is being taken (it refaults) and its own full stall is most of the scope's, that share is not
 * the scope's full stall; the thrash signal owns it, and evicts what ranks before the pod only
 * once the node is tight. A stall of several pods, or of a pod that is not refaulting (anonymous
 * memory, its own limit), still counts in full. */

/* Of a scope's full stall over a sample, at least this share (per mille) must be one pod's own for
 * it to be that pod's. */
#define VICTIM_FULL_PERMILLE 750

void thrash_sample(const struct node_snapshot *snap, struct agent_state *st,
                   const struct agent_params *p)
{
        if (!thrash_enabled(p) || !snap->model)
                return;
        uint64_t now = snap->now_usec;
        struct watch_cursor cur = { 0 };
        for (size_t i = 0; i < snap->model->n_pods; i++) {
                const struct pod *pod = &snap->model->pods[i];
                const struct cg_sample *s = &pod->cg.s;
                struct thrash_watch *w = thrash_watch_get(st, pod->cg.id, &cur);
                if (!w)
                        continue;
                w->sample.from_usec = w->sample.at_usec = 0;
                if (!(s->have & CG_HAVE(CGF_PRESSURE)) || !(s->have & CG_HAVE(CGF_STAT)))
                        continue; /* a light sample: the next delta spans it, and is not used */
                uint64_t full = s->psi.full.total_usec, refaults = s->stat.workingset_refault_file;
                if (w->sample.read_usec && now > w->sample.read_usec &&
                    full >= w->sample.full_usec && refaults >= w->sample.refaults) {
                        w->sample.from_usec = w->sample.read_usec;
                        w->sample.at_usec = now;
                        w->sample.d_full_usec = full - w->sample.full_usec;
                        w->sample.d_refaults = refaults - w->sample.refaults;
                }
                w->sample.read_usec = now;
                w->sample.full_usec = full;
                w->sample.refaults = refaults;
        }
}

uint64_t thrash_victim_full_usec(const struct agent_state *st, uint64_t from_usec,
                                 uint64_t now_usec, uint64_t scope_full_usec)
{
        uint64_t most = 0;
        for (size_t i = 0; i < AGENT_THRASH_PODS; i++) {
                const struct thrash_watch *w = &st->thrash[i];
                if (w->cgroup_id && w->sample.at_usec == now_usec &&
                    w->sample.from_usec == from_usec && w->sample.d_refaults > 0 &&
                    w->sample.d_full_usec > most)
                        most = w->sample.d_full_usec;
        }
        if (scope_full_usec == 0 || most * 1000 < scope_full_usec * VICTIM_FULL_PERMILLE)
                return 0;
        return most < scope_full_usec ? most : scope_full_usec;
}

/* The candidate of this pod cgroup, NULL when it is not offered. */
static const struct snap_candidate *candidate_of(const struct node_snapshot *snap, uint64_t id)
{
        for (size_t i = 0; i < snap->n_cands; i++)
                if (snap->cands[i].c.cgroup_id == id)
                        return &snap->cands[i];
        return NULL;
}

/* Do pods ranked before this one hold memory? Its rank in the order the node's eviction would
 * use at medium; the working sets of those before it, at least THRASH_HOLD_PERMILLE of the
 * total. */
static int ranked_before_hold(const struct node_snapshot *snap, const struct agent_state *st,
                              const struct agent_params *p, uint64_t pod_id, bool *ret)
{
        const struct scope_state *sc = &st->scopes[SCOPE_NODE];
        _cleanup_(ranking_done) struct ranking k = { 0 };
        if (rank_candidates(snap, p, sc, SCOPE_NODE, LEVEL_MEDIUM, &k) < 0)
                return -ENOMEM;
        uint64_t held = 0;
        bool found = false;
        for (size_t i = 0; i < k.n_ranked && !found; i++) {
                if (k.cands[k.order[i]].cgroup_id == pod_id)
                        found = true;
                else
                        held += k.cands[k.order[i]].working_set_bytes;
        }
        /* a pod that is not ranked (protected): everyone ranked may relieve it */
        *ret = held > 0 && held >= sc->st.total_bytes / 1000 * THRASH_HOLD_PERMILLE;
        return 0;
}

/* Feeds every pod's reading to its watch; when one has thrashed for sustain_usec on a tight node
 * and pods ranked before it hold memory, the node is at medium for this sample (the level, and
 * the raw level the eviction asks for). The pod that stalls most is the one named. */
int thrash_step(const struct node_snapshot *snap, struct agent_state *st,
                const struct agent_params *p, struct action_list *out)
{
        st->thrash_raised = false;
        if (!thrash_enabled(p) || !snap->model) {
                memset(st->thrash, 0, sizeof(st->thrash));
                return 0;
        }
        struct scope_state *node = &st->scopes[SCOPE_NODE];
        bool tight = node_tight(p, node->st.total_bytes, node->st.available_bytes);
        uint64_t now = snap->now_usec;
        bool seen[AGENT_THRASH_PODS] = { false };
        const struct pod *worst = NULL;
        const struct thrash_watch *worst_w = NULL;
        struct watch_cursor cur = { 0 };
        for (size_t i = 0; i < snap->model->n_pods; i++) {
                const struct pod *pod = &snap->model->pods[i];
                struct thrash_watch *w = thrash_watch_get(st, pod->cg.id, &cur);
                if (!w)
                        continue; /* more pods than watches: the others are still ranked */
                seen[w - st->thrash] = true;
                if (thrash_watch_update(w, p, pod, tight, now) &&
                    (!worst_w || w->stall_pct > worst_w->stall_pct)) {
                        worst = pod;
                        worst_w = w;
                }
        }
        for (size_t i = 0; i < AGENT_THRASH_PODS; i++)
                if (!seen[i])
                        st->thrash[i] = (struct thrash_watch){ 0 }; /* the pod is gone */
        if (!worst)
                return 0;
        bool hold = false;
        if (ranked_before_hold(snap, st, p, worst->cg.id, &hold) < 0)
                return -ENOMEM;
        if (!hold)
                return 0; /* it ranks first: only the normal signals may evict it */
        const struct snap_candidate *c = candidate_of(snap, worst->cg.id);
        if (c && c->meta)
                snprintf(st->thrash_pod, sizeof(st->thrash_pod), "%.40s/%.54s", c->meta->namespace_,
                         c->meta->name);
        else
                snprintf(st->thrash_pod, sizeof(st->thrash_pod), "pod %s", worst->uid);
        snprintf(st->thrash_note, sizeof(st->thrash_note), "stall some %.1f%%, refaults %.0f/s",
                 worst_w->stall_pct, worst_w->refaults_per_sec);
        st->thrash_raised = node->st.raw < LEVEL_MEDIUM;
        if (!st->thrash_raised)
                return 0; /* medium or above already: the usual eviction */
        /* the episode began when the pod began to thrash, not when it had for long enough */
        if (st->episode_start_usec == 0) {
                st->episode_start_usec = worst_w->since_usec;
                snprintf(st->episode_trigger, sizeof(st->episode_trigger), "thrash");
        }
        enum pressure_level was = node->st.level;
        node->st.raw = LEVEL_MEDIUM;
        if (node->st.level < LEVEL_MEDIUM)
                node->st.level = LEVEL_MEDIUM;
        node->st.below_since_usec = 0;
        node->st.streak = 0;
        if (was == node->st.level)
                return 0;
        /* step_log() may move nothing we hold: the strings live in st */
        return step_log(out, LOG_NOTICE,
                        "node memory pressure %s -> medium: thrashing of %s (%s) while the node "
                        "is tight and pods ranked before it hold memory",
                        pressure_level_to_string(was), st->thrash_pod, st->thrash_note);
}
