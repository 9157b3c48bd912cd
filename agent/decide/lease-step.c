// SPDX-License-Identifier: Apache-2.0
#include "agent/decide/lease-step.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agent/decide/step-internal.h"
#include "agent/kernel/parse.h"
#include "common/quantity.h"

static const char *const phase_names[_RSWAP_PHASE_MAX] = {
        [RSWAP_OFF] = "off",           [RSWAP_LEASING] = "leasing", [RSWAP_ON] = "on",
        [RSWAP_DRAINING] = "draining", [RSWAP_DRAINED] = "drained",
};

const char *remote_swap_phase_to_string(enum remote_swap_phase p)
{
        return (unsigned)p < _RSWAP_PHASE_MAX ? phase_names[p] : "?";
}

const char *lease_op_to_string(enum lease_op op)
{
        switch (op) {
        case LEASE_OP_LEASE:
                return "lease";
        case LEASE_OP_RENEW:
                return "renew";
        case LEASE_OP_DRAIN:
                return "drain";
        case LEASE_OP_RELEASE:
                return "release";
        }
        return "?";
}

bool swap_allowed(const struct lease_params *p, enum qos_class qos, enum swap_override o)
{
        if (o == SWAP_OVERRIDE_ALLOW)
                return true;
        if (o == SWAP_OVERRIDE_DENY)
                return false;
        return (unsigned)qos < _QOS_MAX && p->swap_qos[qos];
}

bool lease_drain_fits(uint64_t available_bytes, uint64_t swapped_bytes, uint64_t margin_bytes)
{
        /* written so that no sum overflows */
        return swapped_bytes <= available_bytes && margin_bytes <= available_bytes - swapped_bytes;
}

void lease_step_state_done(struct lease_step_state *ls)
{
        free(ls->saved);
        ls->saved = NULL;
        ls->n_saved = ls->cap_saved = 0;
}

/* A decision record of the lease: action, bytes, what came of it. */
static int lease_record(struct action_list *out, const struct node_snapshot *snap,
                        enum pressure_level level, const char *action, uint64_t bytes,
                        const char *fmt, ...) _printf_(6, 7);
static int lease_record(struct action_list *out, const struct node_snapshot *snap,
                        enum pressure_level level, const char *action, uint64_t bytes,
                        const char *fmt, ...)
{
        struct action *a = step_push(out, ACTION_RECORD);
        if (!a)
                return -ENOMEM;
        struct decision *d = &a->record.d;
        a->record.sample_start_usec = snap->now_usec;
        snprintf(d->scope, sizeof(d->scope), "node");
        snprintf(d->level, sizeof(d->level), "%s", pressure_level_to_string(level));
        snprintf(d->trigger, sizeof(d->trigger), "%s", snap->trigger ? snap->trigger : "sample");
        snprintf(d->action, sizeof(d->action), "%s", action);
        if (snap->node) {
                d->available_bytes = snap->node->mem.available;
                d->total_bytes = snap->node->mem.total;
        }
        d->amount_bytes = bytes;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->outcome, sizeof(d->outcome), fmt, ap);
        va_end(ap);
        d->done = true;
        char copy[sizeof(d->outcome)];
        snprintf(copy, sizeof(copy), "%s", d->outcome);
        return step_log(out, LOG_NOTICE, "Remote swap %s: %s", action, copy);
}

static int push_op(struct action_list *out, enum lease_op op, uint64_t bytes, const char *id)
{
        struct action *a = step_push(out, ACTION_REMOTE_SWAP);
        if (!a)
                return -ENOMEM;
        a->remote_swap.op = op;
        a->remote_swap.bytes = bytes;
        snprintf(a->remote_swap.lease_id, sizeof(a->remote_swap.lease_id), "%s", id ? id : "");
        return 0;
}

static struct swap_max_saved *saved_find(struct lease_step_state *ls, uint64_t id)
{
        for (size_t i = 0; i < ls->n_saved; i++)
                if (ls->saved[i].cgroup_id == id)
                        return &ls->saved[i];
        return NULL;
}

static enum swap_override pod_override(const struct node_snapshot *snap, uint64_t pod_id)
{
        for (size_t i = 0; i < snap->n_cands; i++)
                if (snap->cands[i].c.cgroup_id == pod_id)
                        return snap->cands[i].swap;
        return SWAP_OVERRIDE_NONE;
}

static int push_swap_max(struct action_list *out, const char *cgroup, uint64_t id, uint64_t v)
{
        struct action *a = step_push(out, ACTION_SWAP_MAX);
        if (!a)
                return -ENOMEM;
        snprintf(a->swap_max.cgroup, sizeof(a->swap_max.cgroup), "%s", cgroup);
        a->swap_max.cgroup_id = id;
        a->swap_max.value_bytes = v;
        return 0;
}

/* Counts the containers that may swap; with `on`, writes memory.swap.max where it differs from
 * what the policy wants, remembering the value found first; without, writes every remembered
 * value back. */
static int swap_max_apply(const struct node_snapshot *snap, struct lease_step_state *ls,
                          const struct lease_params *p, bool on, size_t *ret_allowed,
                          struct action_list *out)
{
        size_t allowed = 0;
        const struct model *m = snap->model;
        for (size_t i = 0; i < ls->n_saved; i++)
                ls->saved[i].seen = false;
        for (size_t i = 0; m && i < m->n_pods; i++) {
                const struct pod *pod = &m->pods[i];
                bool yes = swap_allowed(p, pod->qos, pod_override(snap, pod->cg.id));
                for (size_t j = 0; j < pod->n_containers; j++) {
                        const struct container *c = &pod->containers[j];
                        if (c->cg.gone)
                                continue;
                        allowed += yes;
                        struct swap_max_saved *sv = saved_find(ls, c->cg.id);
                        if (sv)
                                sv->seen = true;
                        if (!on || !(c->cg.s.have & CG_HAVE(CGF_SWAP_MAX)))
                                continue;
                        uint64_t want = yes ? CG_UNLIMITED : 0;
                        if (sv ? sv->written == want : c->cg.s.swap_max == want)
                                continue;
                        if (!sv) {
                                if (ls->n_saved == ls->cap_saved) {
                                        size_t cap = ls->cap_saved ? ls->cap_saved * 2 : 16;
                                        struct swap_max_saved *n =
                                            realloc(ls->saved, cap * sizeof(*n));
                                        if (!n)
                                                return -ENOMEM;
                                        ls->saved = n;
                                        ls->cap_saved = cap;
                                }
                                sv = &ls->saved[ls->n_saved++];
                                *sv = (struct swap_max_saved){ .cgroup_id = c->cg.id,
                                                               .original = c->cg.s.swap_max,
                                                               .seen = true };
                                snprintf(sv->cgroup, sizeof(sv->cgroup), "%s", c->cg.path);
                        }
                        sv->written = want;
                        if (push_swap_max(out, c->cg.path, c->cg.id, want) < 0)
                                return -ENOMEM;
                }
        }
        /* Forget containers that are gone; restore the others when the device is off. */
        size_t k = 0;
        for (size_t i = 0; i < ls->n_saved; i++) {
                struct swap_max_saved *sv = &ls->saved[i];
                if (!sv->seen)
                        continue;
                if (!on) {
                        if (push_swap_max(out, sv->cgroup, sv->cgroup_id, sv->original) < 0)
                                return -ENOMEM;
                        continue;
                }
                ls->saved[k++] = *sv;
        }
        ls->n_saved = k;
        *ret_allowed = allowed;
        return 0;
}

int lease_step(const struct node_snapshot *snap, struct agent_state *st,
               const struct agent_params *p, enum pressure_level level, bool *ret_evict,
               struct action_list *out)
{
        const struct lease_params *lp = &p->lease;
        const struct remote_swap_input *in = &snap->remote;
        struct lease_step_state *ls = &st->lease;
        uint64_t now = snap->now_usec;
        char b[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX];
        int r;

        *ret_evict = false;
        if (!in->configured || lp->bytes == 0)
                return 0;
        bool on = in->phase == RSWAP_ON || in->phase == RSWAP_DRAINING;
        size_t allowed = 0;
        if ((r = swap_max_apply(snap, ls, lp, on, &allowed, out)) < 0)
                return r;

        /* What the worker reports since the last step: renewals, revocations, failures. */
        if (in->revoked > ls->revoked &&
            (r = lease_record(out, snap, level, "revoke", 0,
                              "lease %s: %" PRIu64 " slab(s) revoked; the replicas re-replicate",
                              in->lease_id, in->revoked - ls->revoked)) < 0)
                return r;
        if (in->renewals > ls->renewals &&
            (r = lease_record(out, snap, level, "renew", in->lease_bytes, "lease %s renewed",
                              in->lease_id)) < 0)
                return r;
        if (in->last_error_count > ls->errors) {
                /* A refused lease, or a failed drain (the pages stay on the device): back off. */
                ls->retry_after_usec = now + lp->retry_usec;
                if ((r = step_log(
                         out, LOG_WARNING, "Remote swap (%s): the worker failed: %s",
                         remote_swap_phase_to_string(in->phase),
                         strerror(in->last_error > 0 ? in->last_error : -in->last_error))) < 0)
                        return r;
                ls->asked = RSWAP_OFF;
        }
        ls->revoked = in->revoked;
        ls->renewals = in->renewals;
        ls->errors = in->last_error_count;
        /* The worker caught up with what was asked. */
        if ((ls->asked == RSWAP_LEASING && in->phase != RSWAP_OFF) ||
            (ls->asked == RSWAP_DRAINING && in->phase != RSWAP_ON) ||
            (ls->asked == RSWAP_DRAINED && in->phase != RSWAP_DRAINED))
                ls->asked = RSWAP_OFF;

        bool wanted = level >= lp->level && allowed > 0;
        if (wanted)
                ls->calm_since_usec = 0;
        else if (ls->calm_since_usec == 0)
                ls->calm_since_usec = now;

        switch (in->phase) {
        case RSWAP_OFF:
                ls->drain_waiting = false;
                ls->was_ending = false;
                if (!wanted || ls->asked != RSWAP_OFF || now < ls->retry_after_usec)
                        return 0;
                ls->asked = RSWAP_LEASING;
                ls->asked_usec = now;
                if ((r = lease_record(out, snap, level, "lease", lp->bytes,
                                      "leasing %s: %zu container(s) may swap",
                                      format_bytes_iec(lp->bytes, b, sizeof(b)), allowed)) < 0)
                        return r;
                return push_op(out, LEASE_OP_LEASE, lp->bytes, NULL);
        case RSWAP_LEASING:
        case RSWAP_DRAINING:
                return 0;
        case RSWAP_DRAINED:
                if (ls->asked == RSWAP_DRAINED)
                        return 0;
                ls->asked = RSWAP_DRAINED;
                if ((r = lease_record(out, snap, level, "release", in->lease_bytes,
                                      "lease %s drained, given back", in->lease_id)) < 0)
                        return r;
                return push_op(out, LEASE_OP_RELEASE, 0, in->lease_id);
        case RSWAP_ON:
        case _RSWAP_PHASE_MAX:
                break;
        }

        bool calm = !wanted && now - ls->calm_since_usec >= lp->calm_hold_usec;
        bool ending = in->ending;
        if (ending && !ls->was_ending &&
            (r = lease_record(out, snap, level, "revoke", in->lease_bytes,
                              "lease %s is ending (expired or lost a chunk): drain it",
                              in->lease_id)) < 0)
                return r;
        ls->was_ending = ending;
        if ((calm || ending) && ls->asked != RSWAP_DRAINING && now >= ls->retry_after_usec) {
                uint64_t avail = snap->node ? snap->node->mem.available : 0;
                if (lease_drain_fits(avail, in->swapped_bytes, lp->drain_margin_bytes)) {
                        ls->asked = RSWAP_DRAINING;
                        ls->drain_waiting = false;
                        ls->next_renew_usec = 0;
                        if ((r = lease_record(out, snap, level, "drain", in->swapped_bytes,
                                              "lease %s: %s swapped comes home (%s available); %s",
                                              in->lease_id,
                                              format_bytes_iec(in->swapped_bytes, b, sizeof(b)),
                                              format_bytes_iec(avail, b2, sizeof(b2)),
                                              ending ? "the lease is ending" : "calm")) < 0)
                                return r;
                        return push_op(out, LEASE_OP_DRAIN, 0, in->lease_id);
                }
                /* The node cannot hold the pages: swapoff would fail or have the kernel kill. A
                 * calm drain waits; a lease that ends makes room by the normal policy first. */
                if (!ls->drain_waiting &&
                    (r = lease_record(out, snap, level, "drain", in->swapped_bytes,
                                      "lease %s: %s swapped does not fit in %s available; %s",
                                      in->lease_id,
                                      format_bytes_iec(in->swapped_bytes, b, sizeof(b)),
                                      format_bytes_iec(avail, b2, sizeof(b2)),
                                      ending ? "evicting by policy first" : "waiting")) < 0)
                        return r;
                ls->drain_waiting = true;
                *ret_evict = ending;
        }
        /* Due by the worker's clock (a third of the TTL since the lease was granted or last
         * renewed); asked again at most every tenth of the TTL while it does not come. */
        if (in->renew_due && now >= ls->next_renew_usec && ls->asked != RSWAP_DRAINING) {
                ls->next_renew_usec = now + lp->ttl_usec / 10;
                return push_op(out, LEASE_OP_RENEW, 0, in->lease_id);
        }
        return 0;
}
