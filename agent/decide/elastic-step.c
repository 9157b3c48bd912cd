// SPDX-License-Identifier: Apache-2.0
// The balloon and vertical scaling inside agent_step(): per container, the balloon's controller
// (agent/decide/balloon.h) and the loan logic (agent/decide/vscale.h) on the fresh sample, the one
// reclaim step to start, the loans and returns to write, and the decision records they leave. Pure:
// the actuators (agent/kernel/elastic.c) write and reclaim, and report back in the next snapshot.
//
// While the node or kubepods is at level low or above, the balloon reclaims from the coldest
// containers first (the most inactive reclaimable memory, less what a growing container added in
// the last 10 s; containers whose stall is over the target are backing off and not offered, nor
// are those whose page cache refaults: see balloon.h; of the rest, those without any refaults
// go before those with a few), in
// bigger, more frequent steps, and one "reclaim" decision per pressure episode reports what it
// freed and from whom. Loans, returns and stand-backs are decisions of their own; routine balloon
// steps are not (there are many): `memagent recommend` counts them per container.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agent/decide/step-internal.h"
#include "common/fileio.h"
#include "common/quantity.h"

#define MiB             (1ull << 20)
#define SWAP_MIN_FREE   (16 * MiB) /* less free swap than this: anonymous pages stay */
#define FAST_NEAR_PCT   80.0       /* sample fast while a growing container is this close */
#define FAST_GROWTH_BPS (1 << 20)
#define YOUNG_SEC       10 /* pages younger than this are not cold */

/* Units are kept sorted by cgroup id between steps (elastic_step() sorts what it added and what
 * restore.c appended), so that finding one is a binary search: a walk of every unit for every
 * container was quadratic, 1.5 M instructions per tick at 1,000 pods (issue 13). A step appends
 * the units it creates; n_sorted is where they start, searched one by one. */
static int cmp_unit(const void *a, const void *b)
{
        uint64_t x = ((const struct elastic_unit *)a)->id, y = ((const struct elastic_unit *)b)->id;
        return (x > y) - (x < y);
}

static struct elastic_unit *unit_find_in(struct agent_state *st, uint64_t id, size_t n_sorted)
{
        struct elastic_unit key = { .id = id };
        struct elastic_unit *u =
            n_sorted ? bsearch(&key, st->units, n_sorted, sizeof(*st->units), cmp_unit) : NULL;
        for (size_t i = n_sorted; !u && i < st->n_units; i++)
                if (st->units[i].id == id)
                        u = &st->units[i];
        return u;
}

static struct elastic_unit *unit_find(struct agent_state *st, uint64_t id)
{
        return unit_find_in(st, id, st->n_units);
}

/* Sorts the units when they are not (restored ones, or added by the last step). */
static void units_sort(struct agent_state *st)
{
        for (size_t i = 1; i < st->n_units; i++)
                if (st->units[i - 1].id > st->units[i].id) {
                        qsort(st->units, st->n_units, sizeof(*st->units), cmp_unit);
                        return;
                }
}

struct elastic_unit *elastic_unit_append(struct agent_state *st, uint64_t id)
{
        if (st->n_units == st->cap_units) {
                /* By half: doubling left up to half of the array unused, at 1,000 containers
                 * 1.6 MiB (issue 13). Units come all at once in the first step; this is not a
                 * calm tick's work. */
                size_t cap = st->cap_units ? st->cap_units + st->cap_units / 2 : 32;
                struct elastic_unit *n = reallocarray(st->units, cap, sizeof(*n));
                if (!n)
                        return NULL;
                st->units = n;
                st->cap_units = cap;
        }
        struct elastic_unit *u = &st->units[st->n_units++];
        *u = (struct elastic_unit){ .id = id };
        return u;
}

/* The bounds of the fixed arrays the labels were (struct elastic_unit): what they held is what
 * they hold. */
enum {
        LABEL_NAME,
        LABEL_POD_UID,
        LABEL_CONTAINER_ID,
        LABEL_POD_NAMESPACE,
        LABEL_POD_NAME,
        LABEL_POD_API_UID,
        _LABEL_MAX,
};

int elastic_unit_label(struct elastic_unit *u, const char *name, const char *pod_uid,
                       const char *container_id, const struct k8s_pod_meta *meta)
{
        static const size_t max_len[_LABEL_MAX] = {
                [LABEL_NAME] = UNIT_NAME_MAX,
                [LABEL_POD_UID] = 79,
                [LABEL_CONTAINER_ID] = 79,
                [LABEL_POD_NAMESPACE] = sizeof(((struct kube_pod_ref *)0)->namespace_) - 1,
                [LABEL_POD_NAME] = sizeof(((struct kube_pod_ref *)0)->name) - 1,
                [LABEL_POD_API_UID] = sizeof(((struct kube_pod_ref *)0)->uid) - 1,
        };
        const char *src[_LABEL_MAX] = {
                [LABEL_NAME] = name,
                [LABEL_POD_UID] = pod_uid,
                [LABEL_CONTAINER_ID] = container_id,
                [LABEL_POD_NAMESPACE] = meta ? meta->namespace_ : NULL,
                [LABEL_POD_NAME] = meta ? meta->name : NULL,
                [LABEL_POD_API_UID] = meta ? meta->uid : NULL,
        };
        size_t len[_LABEL_MAX], total = 0;
        for (size_t i = 0; i < _LABEL_MAX; i++) {
                len[i] = src[i] ? strnlen(src[i], max_len[i]) : 0;
                total += len[i] + 1;
        }
        char *block = malloc(total);
        if (!block)
                return -ENOMEM;
        const char *at[_LABEL_MAX];
        char *p = block;
        for (size_t i = 0; i < _LABEL_MAX; i++) {
                at[i] = p;
                memcpy(p, src[i] ? src[i] : "", len[i]);
                p[len[i]] = '\0';
                p += len[i] + 1;
        }
        free(u->name);
        u->name = block;
        u->pod_uid = at[LABEL_POD_UID];
        u->container_id = at[LABEL_CONTAINER_ID];
        u->known = meta != NULL;
        u->pod_namespace = at[LABEL_POD_NAMESPACE];
        u->pod_name = at[LABEL_POD_NAME];
        u->pod_api_uid = at[LABEL_POD_API_UID];
        return 0;
}

void elastic_unit_pod_ref(const struct elastic_unit *u, struct kube_pod_ref *ret)
{
        *ret = (struct kube_pod_ref){ 0 };
        snprintf(ret->namespace_, sizeof(ret->namespace_), "%s", unit_str(u->pod_namespace));
        snprintf(ret->name, sizeof(ret->name), "%s", unit_str(u->pod_name));
        snprintf(ret->uid, sizeof(ret->uid), "%s", unit_str(u->pod_api_uid));
}

void elastic_units_done(struct agent_state *st)
{
        for (size_t i = 0; i < st->n_units; i++)
                free(st->units[i].name);
        free(st->units);
        st->units = NULL;
        st->n_units = st->cap_units = 0;
        free(st->balloon_cands);
        st->balloon_cands = NULL;
        st->cap_balloon_cands = 0;
}

/* The unit of this cgroup, created at the end when new (units may move: hold indexes). */
static struct elastic_unit *unit_get(struct agent_state *st, uint64_t id, size_t n_sorted)
{
        struct elastic_unit *u = unit_find_in(st, id, n_sorted);
        return u ? u : elastic_unit_append(st, id);
}

static void fill_candidate(struct decision_candidate *c, const struct elastic_unit *u,
                           const char *reason)
{
        snprintf(c->name, sizeof(c->name), "%s", unit_str(u->name));
        snprintf(c->uid, sizeof(c->uid), "%s", unit_str(u->pod_uid));
        snprintf(c->namespace_, sizeof(c->namespace_), "%s",
                 u->known ? unit_str(u->pod_namespace) : "");
        snprintf(c->pod_name, sizeof(c->pod_name), "%s", u->known ? unit_str(u->pod_name) : "");
        snprintf(c->cgroup, sizeof(c->cgroup), "%s", u->cgroup);
        snprintf(c->qos, sizeof(c->qos), "%s", qos_to_string(u->qos));
        c->current_bytes = u->current_bytes;
        c->working_set_bytes = u->working_set_bytes;
        c->request_bytes = u->request_bytes;
        snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

static int push_balloon_record(struct agent_state *st, struct action_list *out)
{
        struct action *a = step_push(out, ACTION_RECORD);
        if (!a)
                return -ENOMEM;
        a->record.d = st->balloon_ep.record;
        a->record.slot = RECORD_BALLOON;
        return 0;
}

int elastic_step_outcome(const struct node_snapshot *snap, struct agent_state *st,
                         struct action_list *out)
{
        const struct reclaim_result *j = &snap->reclaim;
        struct balloon_episode *ep = &st->balloon_ep;
        if (!j->done)
                return 0;
        uint64_t freed = j->before_bytes > j->after_bytes ? j->before_bytes - j->after_bytes : 0;
        st->reclaimed_total += freed;
        struct elastic_unit *u = unit_find(st, j->cgroup_id);
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        if (!u)
                return 0; /* the container went away meanwhile */
        balloon_reclaimed(&u->b, freed);
        if (j->r < 0 && j->r != -EAGAIN && !errno_is_vanished(j->r) &&
            step_log(out, LOG_WARNING, "Balloon: reclaiming %s from %s failed: %s, ignoring",
                     format_bytes_iec(j->asked_bytes, a, sizeof(a)), u->cgroup,
                     strerror(-j->r)) < 0)
                return -ENOMEM;
        if (step_log(out, LOG_DEBUG,
                     "Balloon: reclaimed %s of %s asked from %s in %" PRIu64 " ms%s",
                     format_bytes_iec(freed, a, sizeof(a)),
                     format_bytes_iec(j->asked_bytes, b, sizeof(b)), u->cgroup, j->usec / 1000,
                     j->pressure ? " (node pressure)" : "") < 0)
                return -ENOMEM;
        if (!j->pressure || freed == 0)
                return 0;
        if (!ep->open)
                return 0; /* pressure cleared while the step ran */
        struct decision *d = &ep->record;
        if (!ep->has_record) {
                /* The first step that freed something opens the record. */
                *d = (struct decision){ 0 };
                snprintf(d->scope, sizeof(d->scope), "%s", ep->scope);
                snprintf(d->level, sizeof(d->level), "%s", pressure_level_to_string(ep->level));
                snprintf(d->trigger, sizeof(d->trigger), "balloon");
                snprintf(d->signals, sizeof(d->signals), "%s", ep->signals);
                snprintf(d->action, sizeof(d->action), "reclaim");
                ep->has_record = true;
        }
        ep->freed_bytes += freed;
        ep->steps++;
        if (u->ep_freed_bytes == 0)
                ep->containers++;
        u->ep_freed_bytes += freed;
        d->freed_bytes = ep->freed_bytes;
        /* The containers reclaimed from: the first as "victim", the next as runners-up. */
        struct decision_candidate *slot = NULL;
        if (!d->has_victim || streq(d->victim.cgroup, u->cgroup)) {
                slot = &d->victim;
                d->has_victim = true;
        } else {
                for (unsigned i = 0; i < d->n_runners_up && !slot; i++)
                        if (streq(d->runners_up[i].cgroup, u->cgroup))
                                slot = &d->runners_up[i];
                if (!slot && d->n_runners_up < DECISION_RUNNERS_UP)
                        slot = &d->runners_up[d->n_runners_up++];
        }
        if (slot) {
                char reason[128];
                snprintf(reason, sizeof(reason), "reclaimed %s of cold memory (%s inactive)",
                         format_bytes_iec(u->ep_freed_bytes, a, sizeof(a)),
                         format_bytes_iec(u->inactive_bytes, b, sizeof(b)));
                fill_candidate(slot, u, reason);
        }
        d->n_candidates = ep->containers;
        snprintf(d->outcome, sizeof(d->outcome), "freed %s from %u container%s in %u steps",
                 format_bytes_iec(ep->freed_bytes, a, sizeof(a)), ep->containers,
                 ep->containers == 1 ? "" : "s", ep->steps);
        return push_balloon_record(st, out);
}

void elastic_step_limits(const struct node_snapshot *snap, struct agent_state *st)
{
        for (size_t i = 0; i < snap->n_limits; i++) {
                struct elastic_unit *u = unit_find(st, snap->limits[i].cgroup_id);
                if (!u || !u->pending)
                        continue;
                /* Written: the loan now holds the new values. Failed: decided again on the next
                 * sample. */
                if (snap->limits[i].ok) {
                        const struct vscale_decision d = {
                                .action = u->pending_d.action,
                                .bytes = u->pending_d.bytes,
                                .new_max = u->pending_d.new_max,
                                .new_high = u->pending_d.new_high,
                                .new_pod_max = u->pending_d.new_pod_max,
                                .old_max = u->pending_d.old_max,
                        };
                        vscale_applied(&u->loan, &u->pending_in, &d);
                }
                u->pending = false;
        }
}

static uint64_t val(const struct cg_sample *s, enum cg_file f, uint64_t dflt)
{
        if (!(s->have & CG_HAVE(f)))
                return dflt;
        switch (f) {
        case CGF_MIN:
                return s->min;
        case CGF_LOW:
                return s->low;
        case CGF_HIGH:
                return s->high;
        case CGF_MAX:
                return s->max;
        case CGF_SWAP_MAX:
                return s->swap_max;
        case CGF_SWAP_CURRENT:
                return s->swap_current;
        default:
                return dflt;
        }
}

struct balloon_cand {
        size_t u; /* index in st->units: a unit created later in the step may move them */
        uint64_t bytes;
        uint64_t cold_bytes;
        bool refaulting; /* some file refaults, under the hot threshold */
};

/* The view of one tick, shared by the per-container parts. */
struct tick {
        const struct node_snapshot *snap;
        const struct agent_state *st;
        const struct agent_params *p;
        enum pressure_level level;
        const char *signals;
        uint64_t headroom;
        struct action_list *out;
};

/* What the API says of the pod with this cgroup, from its eviction candidate; NULL when unknown. */
/* hint: where the pod's candidate usually is (observe lists pods first, in the model's order):
 * a search of every candidate for every container is quadratic at 1,000 pods (issue 13). */
static const struct k8s_pod_meta *pod_meta(const struct node_snapshot *snap,
                                           const struct cgroup *pod, size_t hint)
{
        if (hint < snap->n_cands && snap->cands[hint].c.cgroup_id == pod->id)
                return snap->cands[hint].meta;
        for (size_t i = 0; i < snap->n_cands; i++)
                if (snap->cands[i].c.cgroup_id == pod->id)
                        return snap->cands[i].meta;
        return NULL;
}

/* The Event regarding the pod of a loan, a return or a stand-back, when the API knows it. */
static int vscale_event(const struct tick *t, const struct elastic_unit *u,
                        const struct vscale_decision *d, uint64_t old_max)
{
        if (!u->known)
                return 0;
        struct kube_pod_ref pod;
        elastic_unit_pod_ref(u, &pod);
        char amount[FORMAT_BYTES_MAX], before[FORMAT_BYTES_MAX], after[FORMAT_BYTES_MAX];
        format_bytes_iec(d->bytes, amount, sizeof(amount));
        format_bytes_iec(old_max, before, sizeof(before));
        format_bytes_iec(d->new_max, after, sizeof(after));
        const char *lvl = pressure_level_to_string(t->level);
        switch (d->action) {
        case VSCALE_LOAN:
                return kube_push_event(t->out, &pod, "Normal", "Lend", "MemoryLoan",
                                       "Lending %s to container %s (memory.max %s -> %s), node "
                                       "pressure %s: %s",
                                       amount, u->name, before, after, lvl, d->reason);
        case VSCALE_RETURN:
                return kube_push_event(t->out, &pod, "Normal", "Return", "MemoryReturn",
                                       "Taking back %s from container %s (memory.max %s -> %s), "
                                       "node pressure %s: %s",
                                       amount, u->name, before, after, lvl, d->reason);
        case VSCALE_STAND_BACK:
                return kube_push_event(t->out, &pod, "Warning", "StandBack", "StandBack",
                                       "Standing back from container %s: %s; its loan of %s is "
                                       "forgotten and its limits are left alone",
                                       u->name, d->reason, amount);
        default:
                return 0;
        }
}

static void balloon_unit(const struct tick *t, struct elastic_unit *u, const struct cgroup *cg,
                         struct balloon_cand *cands, size_t *n_cands)
{
        const struct cg_sample *s = &cg->s;
        bool swap = t->snap->node->mem.swap_free >= SWAP_MIN_FREE &&
                    val(s, CGF_SWAP_MAX, UINT64_MAX) > val(s, CGF_SWAP_CURRENT, 0) + MiB;
        uint64_t min = val(s, CGF_MIN, 0), low = val(s, CGF_LOW, 0);
        struct balloon_input in = {
                .now_usec = t->snap->now_usec,
                .current_bytes = s->current,
                .max_bytes = val(s, CGF_MAX, UINT64_MAX),
                .protected_bytes = min > low ? min : low,
                .file_lru_bytes = s->stat.active_file + s->stat.inactive_file,
                .anon_lru_bytes = s->stat.active_anon + s->stat.inactive_anon,
                .inactive_bytes = s->stat.inactive_file + (swap ? s->stat.inactive_anon : 0),
                .anon_reclaimable = swap,
                .has_psi = (s->have & CG_HAVE(CGF_PRESSURE)) != 0,
                .psi_some_total_usec = s->psi.some.total_usec,
                .events_max = s->events.max,
                .pressure = t->level >= LEVEL_LOW,
                .has_refault_rate = cg->has_refault_rate,
                .refault_file_per_sec = cg->refault_file_per_sec,
                .activate_file_per_sec = cg->activate_file_per_sec,
        };
        u->inactive_bytes = in.inactive_bytes;
        balloon_update(&u->b, &t->p->elastic.balloon, &in, &u->last);
        if (u->last.verdict == BALLOON_RECLAIM && !t->p->dry_run) {
                /* Coldness: inactive reclaimable memory, less what the container added in the
                 * last YOUNG_SEC seconds (new pages start on the inactive list, but they are not
                 * cold: a growing container is using them). */
                uint64_t young = cg->growth_bytes_per_sec > 0
                                     ? (uint64_t)cg->growth_bytes_per_sec * YOUNG_SEC
                                     : 0;
                uint64_t cold = in.inactive_bytes > young ? in.inactive_bytes - young : 0;
                bool refaulting = in.has_refault_rate && in.refault_file_per_sec > 0.0;
                cands[(*n_cands)++] = (struct balloon_cand){ (size_t)(u - t->st->units),
                                                             u->last.bytes, cold, refaulting };
        }
}

static void vscale_record(const struct tick *t, const struct elastic_unit *u,
                          const struct vscale_decision *d, const char *outcome, struct decision *r)
{
        *r = (struct decision){ 0 };
        snprintf(r->scope, sizeof(r->scope), "container");
        snprintf(r->level, sizeof(r->level), "%s", pressure_level_to_string(t->level));
        snprintf(r->trigger, sizeof(r->trigger), "%s",
                 d->action == VSCALE_STAND_BACK ? "limit changed" : "working set");
        snprintf(r->signals, sizeof(r->signals), "%s", t->signals ? t->signals : "");
        snprintf(r->action, sizeof(r->action), "%s", vscale_action_to_string(d->action));
        r->dry_run = t->p->dry_run;
        r->has_victim = true;
        fill_candidate(&r->victim, u, d->reason);
        r->n_candidates = 1;
        r->amount_bytes = d->bytes;
        r->limit_before_bytes = d->old_max;
        r->limit_after_bytes = d->new_max;
        r->done = true;
        snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
}

static int push_vscale_record(const struct tick *t, const struct elastic_unit *u,
                              const struct vscale_decision *d, const char *outcome)
{
        struct action *a = step_push(t->out, ACTION_RECORD);
        if (!a)
                return -ENOMEM;
        vscale_record(t, u, d, outcome, &a->record.d);
        return 0;
}

static int vscale_unit(struct tick *t, struct elastic_unit *u, const struct cgroup *cg,
                       const struct cgroup *pod)
{
        const struct elastic_params *ep = &t->p->elastic;
        const struct cg_sample *s = &cg->s;
        struct vscale_input in = {
                .now_usec = t->snap->now_usec,
                .current_bytes = s->current,
                .working_set_bytes = s->working_set,
                .max_bytes = val(s, CGF_MAX, VSCALE_NO_LIMIT),
                .high_bytes = val(s, CGF_HIGH, VSCALE_NO_LIMIT),
                .pod_max_bytes = pod ? val(&pod->s, CGF_MAX, VSCALE_NO_LIMIT) : VSCALE_NO_LIMIT,
                .growth_bytes_per_sec = cg->growth_bytes_per_sec,
                .events_max = s->events.max,
                .headroom_bytes = t->headroom,
        };
        uint64_t orig = u->loan.active ? u->loan.orig_max : in.max_bytes;
        struct vscale_params vp = {
                .step_bytes = orig == VSCALE_NO_LIMIT
                                  ? 0
                                  : config_bytes_or_percent_resolve(&ep->vscale_step, orig),
                .ceiling_bytes = orig == VSCALE_NO_LIMIT
                                     ? 0
                                     : config_bytes_or_percent_resolve(&ep->vscale_ceiling, orig),
                .return_hold_usec = ep->vscale_return_hold_usec,
        };
        int64_t g = cg->growth_bytes_per_sec;
        u->near = in.max_bytes != VSCALE_NO_LIMIT && g > FAST_GROWTH_BPS &&
                  (double)(in.working_set_bytes + (uint64_t)g * 2) >=
                      (double)in.max_bytes * FAST_NEAR_PCT / 100.0;
        if (!ep->vscale_enabled && !u->loan.active)
                return 0;
        struct vscale_decision d;
        bool was_refused = u->loan.refused;
        vscale_decide(&vp, &u->loan, &in, &d);
        char a[FORMAT_BYTES_MAX];
        switch (d.action) {
        case VSCALE_NONE:
                return 0;
        case VSCALE_REFUSED:
                return step_log(t->out, LOG_NOTICE, "Vertical scaling: %s is %s", u->cgroup,
                                d.reason);
        case VSCALE_STAND_BACK:
                if (step_log(t->out, LOG_NOTICE,
                             "Vertical scaling: standing back from %s: %s; its loan of %s is "
                             "forgotten and its limits are left alone from now on",
                             u->cgroup, d.reason, format_bytes_iec(d.bytes, a, sizeof(a))) < 0)
                        return -ENOMEM;
                d.new_max = in.max_bytes;
                if (vscale_event(t, u, &d, in.max_bytes) < 0)
                        return -ENOMEM;
                return push_vscale_record(t, u, &d, "stood back: someone else set the limit");
        case VSCALE_LOAN:
                if (!ep->vscale_enabled)
                        return 0; /* switched off: no new loans, existing ones return */
                break;
        case VSCALE_RETURN:
                break;
        }
        if (t->p->dry_run) {
                /* Nothing written: say it once per episode (the loan's refusal flag). */
                u->loan.refused = true;
                if (was_refused)
                        return 0;
                if (step_log(t->out, LOG_NOTICE,
                             "Vertical scaling: would %s %s for %s (%s) [dry run]",
                             d.action == VSCALE_LOAN ? "lend" : "take back",
                             format_bytes_iec(d.bytes, a, sizeof(a)), u->cgroup, d.reason) < 0)
                        return -ENOMEM;
                return push_vscale_record(t, u, &d, "not acted: dry run");
        }
        struct action *act = step_push(t->out, ACTION_SET_LIMITS);
        if (!act)
                return -ENOMEM;
        act->limits.c = (struct limits_change){
                .cgroup_id = u->id,
                .pod_cgroup_id = pod ? pod->id : 0,
                .up = d.action == VSCALE_LOAN,
                .new_max = d.new_max,
                .new_high = d.new_high,
                .new_pod_max = d.new_pod_max,
                .old_max = in.max_bytes,
                .old_pod_max = in.pod_max_bytes,
        };
        vscale_record(t, u, &d, "", &act->limits.d);
        act->limits.known = u->is_container && u->known;
        if (act->limits.known) {
                elastic_unit_pod_ref(u, &act->limits.pod);
                snprintf(act->limits.container_id, sizeof(act->limits.container_id), "%s",
                         unit_str(u->container_id));
        }
        if (vscale_event(t, u, &d, in.max_bytes) < 0)
                return -ENOMEM;
        u->pending = true;
        u->pending_in = in;
        u->pending_d.action = d.action;
        u->pending_d.bytes = d.bytes;
        u->pending_d.new_max = d.new_max;
        u->pending_d.new_high = d.new_high;
        u->pending_d.new_pod_max = d.new_pod_max;
        u->pending_d.old_max = d.old_max;
        /* What this loan takes is not there for the next container (should the write fail, it
         * is only this tick that lends less). */
        if (d.action == VSCALE_LOAN)
                t->headroom = t->headroom > d.bytes ? t->headroom - d.bytes : 0;
        return 0;
}

/* A container's names: its pod's namespace/name (or uid) and its id. They change only when the
 * unit is new (or restored from the state file, pod_uid still empty) or the API learns or forgets
 * its pod (a uid's namespace and name never change): formatted then, not every tick (issue 13:
 * three snprintf() per container per tick were a third of a calm tick at 250 pods). */
static int container_label(struct elastic_unit *u, const struct pod *pd, const struct container *c,
                           const struct k8s_pod_meta *meta)
{
        if (u->pod_uid && u->pod_uid[0] && u->known == (meta != NULL) &&
            streq(u->pod_uid, pd->uid) && streq(u->container_id, c->id))
                return 0;
        char name[UNIT_NAME_MAX + 1];
        if (meta)
                snprintf(name, sizeof(name), "%.30s/%.40s container %.12s", meta->namespace_,
                         meta->name, c->id);
        else
                snprintf(name, sizeof(name), "pod %.36s container %.12s", pd->uid, c->id);
        return elastic_unit_label(u, name, pd->uid, c->id, meta);
}

/* name: the unit's name, NULL when container_label() keeps it. Returns 0 or -ENOMEM. */
static int unit_refresh(struct elastic_unit *u, const struct cgroup *cg, enum qos_class qos,
                        const char *name, bool is_container)
{
        u->seen = true;
        u->qos = qos;
        u->is_container = is_container;
        /* the same every tick but the first (as far as the label holds it: a longer name must
         * not be labelled again at every tick) */
        if (name && strncmp(unit_str(u->name), name, UNIT_NAME_MAX) != 0 &&
            elastic_unit_label(u, name, NULL, NULL, NULL) < 0)
                return -ENOMEM;
        if (strcmp(u->cgroup, cg->path) != 0)
                snprintf(u->cgroup, sizeof(u->cgroup), "%s", cg->path);
        const struct cg_sample *s = &cg->s;
        u->current_bytes = s->current;
        u->working_set_bytes = s->working_set;
        u->request_bytes = val(s, CGF_MIN, 0);
        u->limit_bytes = val(s, CGF_MAX, UINT64_MAX);
        uint64_t peak = val(s, CGF_PEAK, 0);
        if ((s->have & CG_HAVE(CGF_PEAK)) && peak > u->peak_bytes)
                u->peak_bytes = peak;
        if (s->current > u->peak_bytes)
                u->peak_bytes = s->current;
        return 0;
}

/* A pressure episode runs from level low until none again. Its decision record opens with the
 * first step that frees something (elastic_step_outcome()), so an episode with nothing to
 * reclaim leaves no record behind. */
static int episode_update(struct agent_state *st, const struct tick *t, const char *scope)
{
        struct balloon_episode *ep = &st->balloon_ep;
        if (t->level >= LEVEL_LOW && !ep->open) {
                ep->open = true;
                ep->has_record = false;
                ep->freed_bytes = 0;
                ep->containers = ep->steps = 0;
                for (size_t i = 0; i < st->n_units; i++)
                        st->units[i].ep_freed_bytes = 0;
        } else if (t->level == LEVEL_NONE && ep->open) {
                if (ep->has_record) {
                        char a[FORMAT_BYTES_MAX];
                        ep->record.done = true;
                        if (push_balloon_record(st, t->out) < 0 ||
                            step_log(t->out, LOG_NOTICE,
                                     "Balloon: pressure episode over; reclaimed %s from %u "
                                     "container%s, coldest first",
                                     format_bytes_iec(ep->freed_bytes, a, sizeof(a)),
                                     ep->containers, ep->containers == 1 ? "" : "s") < 0)
                                return -ENOMEM;
                }
                ep->open = false;
                ep->has_record = false;
        }
        if (t->level >= LEVEL_LOW) {
                /* The record names the highest level and its scope seen in the episode. */
                if (t->level >= ep->level || !ep->has_record) {
                        ep->level = t->level;
                        snprintf(ep->scope, sizeof(ep->scope), "%s", scope ? scope : "node");
                        snprintf(ep->signals, sizeof(ep->signals), "%s",
                                 t->signals ? t->signals : "");
                }
        } else {
                ep->level = LEVEL_NONE;
        }
        return 0;
}

int elastic_step(const struct node_snapshot *snap, struct agent_state *st,
                 const struct agent_params *p, enum pressure_level level, const char *scope,
                 const char *signals, uint64_t headroom_bytes, struct action_list *out)
{
        const struct elastic_params *ep = &p->elastic;
        const struct model *m = snap->model;
        int r = 0;
        if (!m)
                return 0;
        size_t n_total = 0;
        for (size_t i = 0; i < m->n_pods; i++)
                n_total += m->pods[i].n_containers;
        n_total += m->n_workloads;
        /* Kept between steps, grown only when the model grows: a calm step allocates nothing
         * (issue 13; it was a calloc of 24 KiB per tick at 250 pods). */
        if (n_total > st->cap_balloon_cands) {
                struct balloon_cand *n =
                    reallocarray(st->balloon_cands, n_total, sizeof(*st->balloon_cands));
                if (!n)
                        return -ENOMEM;
                st->balloon_cands = n;
                st->cap_balloon_cands = n_total;
        }
        struct balloon_cand *cands = st->balloon_cands;
        size_t n_cands = 0;

        for (size_t i = 0; i < st->n_units; i++)
                st->units[i].seen = false;

        /* What may be lent: the scopes' headroom minus loans not yet drawn on. */
        uint64_t promised = 0;
        for (size_t i = 0; i < st->n_units; i++) {
                const struct elastic_unit *u = &st->units[i];
                if (u->loan.active && u->loan.our_max > u->current_bytes) {
                        uint64_t base = u->current_bytes > u->loan.orig_max ? u->current_bytes
                                                                            : u->loan.orig_max;
                        if (u->loan.our_max > base)
                                promised += u->loan.our_max - base;
                }
        }
        struct tick t = {
                .snap = snap,
                .st = st,
                .p = p,
                .level = level,
                .signals = signals,
                .headroom = headroom_bytes > promised ? headroom_bytes - promised : 0,
                .out = out,
        };

        bool fast = false;
        units_sort(st);
        size_t n_sorted = st->n_units;
        for (size_t i = 0; i < m->n_pods && r >= 0; i++) {
                const struct pod *pd = &m->pods[i];
                for (size_t j = 0; j < pd->n_containers && r >= 0; j++) {
                        const struct container *c = &pd->containers[j];
                        if (c->cg.gone || !(c->cg.s.have & CG_HAVE(CGF_CURRENT)))
                                continue;
                        struct elastic_unit *u = unit_get(st, c->cg.id, n_sorted);
                        if (!u)
                                return -ENOMEM;
                        const struct k8s_pod_meta *meta = pod_meta(snap, &pd->cg, i);
                        if (container_label(u, pd, c, meta) < 0)
                                return -ENOMEM;
                        unit_refresh(u, &c->cg, pd->qos, NULL, true);
                        u->ballooned = ep->balloon_enabled && ep->balloon_qos[pd->qos];
                        if (u->ballooned)
                                balloon_unit(&t, u, &c->cg, cands, &n_cands);
                        if (pd->qos == QOS_BURSTABLE) {
                                bool pod_limited = (pd->cg.s.have & CG_HAVE(CGF_MAX)) &&
                                                   pd->cg.s.max != CG_UNLIMITED;
                                r = vscale_unit(&t, u, &c->cg, pod_limited ? &pd->cg : NULL);
                                fast |= u->near && ep->vscale_enabled;
                        }
                }
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_workloads; i++) {
                const struct workload *w = &m->workloads[i];
                if (w->cg.gone || !(w->cg.s.have & CG_HAVE(CGF_CURRENT)))
                        continue;
                struct elastic_unit *u = unit_get(st, w->cg.id, n_sorted);
                if (!u)
                        return -ENOMEM;
                if (unit_refresh(u, &w->cg, w->qos, w->name, false) < 0)
                        return -ENOMEM;
                u->ballooned = ep->balloon_enabled && ep->balloon_qos[w->qos];
                if (u->ballooned)
                        balloon_unit(&t, u, &w->cg, cands, &n_cands);
        }
        /* Forget the containers that are gone (units may move: cands[] point into them). */
        st->elastic_fast = fast;
        if ((r = episode_update(st, &t, scope)) < 0)
                return r;
        if (!snap->reclaim_busy && n_cands > 0) {
                /* Routine: the step due longest ago. Under pressure: the coldest container
                 * (no refaults before a few, then most inactive, reclaimable memory; those
                 * stalling or with a hot cache are held by their balloon already). */
                size_t best = 0;
                for (size_t i = 1; i < n_cands; i++) {
                        const struct balloon_cand *a = &cands[i], *b = &cands[best];
                        bool better = level >= LEVEL_LOW ? (a->refaulting != b->refaulting
                                                                ? !a->refaulting
                                                                : a->cold_bytes > b->cold_bytes)
                                                         : st->units[a->u].b.next_step_usec <
                                                               st->units[b->u].b.next_step_usec;
                        if (better)
                                best = i;
                }
                const struct balloon_cand *c = &cands[best];
                bool pressure = level >= LEVEL_LOW;
                struct elastic_unit *cu = &st->units[c->u];
                balloon_commit(&cu->b, &ep->balloon, pressure, snap->now_usec);
                struct action *a = step_push(out, ACTION_RECLAIM);
                if (!a)
                        return -ENOMEM;
                a->reclaim.cgroup_id = cu->id;
                a->reclaim.bytes = c->bytes;
                a->reclaim.pressure = pressure;
        }
        size_t o = 0;
        for (size_t i = 0; i < st->n_units; i++)
                if (st->units[i].seen) {
                        if (o != i)
                                st->units[o] = st->units[i];
                        o++;
                } else
                        free(st->units[i].name);
        st->n_units = o;
        units_sort(st); /* the ones added this step: sorted for the finders until the next */
        return 0;
}
