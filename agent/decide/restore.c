// SPDX-License-Identifier: Apache-2.0
// What memagentd remembers across a restart (see restore.h).
#include "agent/decide/restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void persisted_state_done(struct persisted_state *s)
{
        free(s->units);
        *s = (struct persisted_state){ 0 };
}

int agent_state_export(const struct agent_state *st, struct persisted_state *ret)
{
        struct persisted_state s = { .cooldown_until_usec = st->cooldown_until_usec };
        /* The ring from its oldest slot (kill_head) round. */
        for (size_t i = 0; i < AGENT_KILL_HISTORY; i++) {
                uint64_t t = st->kill_times[(st->kill_head + i) % AGENT_KILL_HISTORY];
                if (t)
                        s.kill_usec[s.n_kills++] = t;
        }
        size_t n = 0;
        for (size_t i = 0; i < st->n_units; i++)
                if (st->units[i].loan.active || st->units[i].loan.stood_back)
                        n++;
        if (n > 0) {
                s.units = calloc(n, sizeof(*s.units));
                if (!s.units)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < st->n_units; i++) {
                const struct elastic_unit *u = &st->units[i];
                const struct vscale_loan *l = &u->loan;
                if (!l->active && !l->stood_back)
                        continue;
                struct persisted_unit *pu = &s.units[s.n_units++];
                pu->cgroup_id = u->id;
                snprintf(pu->cgroup, sizeof(pu->cgroup), "%s", u->cgroup);
                pu->stood_back = l->stood_back;
                if (l->active) {
                        pu->orig_max = l->orig_max;
                        pu->orig_high = l->orig_high;
                        pu->orig_pod_max = l->orig_pod_max;
                        pu->our_max = l->our_max;
                        pu->our_high = l->our_high;
                        pu->our_pod_max = l->our_pod_max;
                        pu->lent_bytes = l->lent_bytes;
                        pu->last_change_usec = l->last_change_usec;
                }
        }
        *ret = s;
        return 0;
}

static bool unit_equal(const struct persisted_unit *a, const struct persisted_unit *b)
{
        return a->cgroup_id == b->cgroup_id && strcmp(a->cgroup, b->cgroup) == 0 &&
               a->stood_back == b->stood_back && a->orig_max == b->orig_max &&
               a->orig_high == b->orig_high && a->orig_pod_max == b->orig_pod_max &&
               a->our_max == b->our_max && a->our_high == b->our_high &&
               a->our_pod_max == b->our_pod_max && a->lent_bytes == b->lent_bytes &&
               a->last_change_usec == b->last_change_usec;
}

bool persisted_state_equal(const struct persisted_state *a, const struct persisted_state *b)
{
        if (a->cooldown_until_usec != b->cooldown_until_usec || a->n_kills != b->n_kills ||
            a->n_units != b->n_units)
                return false;
        for (size_t i = 0; i < a->n_kills; i++)
                if (a->kill_usec[i] != b->kill_usec[i])
                        return false;
        for (size_t i = 0; i < a->n_units; i++)
                if (!unit_equal(&a->units[i], &b->units[i]))
                        return false;
        return true;
}

/* t on a clock reading from_now, on a clock reading to_now; 0 when before to_now's zero. */
static uint64_t shift(uint64_t t, uint64_t from_now, uint64_t to_now)
{
        if (t == 0)
                return 0;
        if (t >= from_now)
                return to_now + (t - from_now);
        uint64_t ago = from_now - t;
        return ago < to_now ? to_now - ago : 0;
}

void persisted_state_shift(struct persisted_state *s, uint64_t from_now_usec, uint64_t to_now_usec)
{
        s->cooldown_until_usec = s->cooldown_until_usec > from_now_usec
                                     ? shift(s->cooldown_until_usec, from_now_usec, to_now_usec)
                                     : 0;
        size_t n = 0;
        for (size_t i = 0; i < s->n_kills; i++) {
                uint64_t t = shift(s->kill_usec[i], from_now_usec, to_now_usec);
                if (t)
                        s->kill_usec[n++] = t;
        }
        s->n_kills = n;
        for (size_t i = 0; i < s->n_units; i++)
                s->units[i].last_change_usec =
                    shift(s->units[i].last_change_usec, from_now_usec, to_now_usec);
}

const char *reconcile_verdict_to_string(enum reconcile_verdict v)
{
        switch (v) {
        case RECONCILE_RESUMED:
                return "resumed";
        case RECONCILE_DROPPED:
                return "dropped";
        case RECONCILE_STOOD_BACK:
                return "stood back";
        case RECONCILE_KEPT_BACK:
                return "still standing back";
        }
        return "?";
}

static bool still_ours(const struct persisted_unit *pu, const struct observed_limits *o)
{
        return vscale_same_limit(o->max_bytes, pu->our_max) &&
               (pu->our_high == VSCALE_NO_LIMIT ||
                vscale_same_limit(o->high_bytes, pu->our_high)) &&
               (pu->our_pod_max == VSCALE_NO_LIMIT ||
                vscale_same_limit(o->pod_max_bytes, pu->our_pod_max));
}

int agent_state_reconcile(struct agent_state *st, const struct persisted_state *p,
                          const struct observed_limits *obs, enum reconcile_verdict *ret_verdicts)
{
        st->cooldown_until_usec = p->cooldown_until_usec;
        /* Oldest first, so that the newest are kept should there be more than the ring holds. */
        for (size_t i = 0; i < p->n_kills; i++) {
                st->kill_times[st->kill_head] = p->kill_usec[i];
                st->kill_head = (st->kill_head + 1) % AGENT_KILL_HISTORY;
        }
        for (size_t i = 0; i < p->n_units; i++) {
                const struct persisted_unit *pu = &p->units[i];
                const struct observed_limits *o = &obs[i];
                if (!o->present || o->cgroup_id != pu->cgroup_id) {
                        ret_verdicts[i] = RECONCILE_DROPPED;
                        continue;
                }
                struct elastic_unit *u = elastic_unit_append(st, pu->cgroup_id);
                if (!u)
                        return -ENOMEM;
                u->is_container = true;
                snprintf(u->cgroup, sizeof(u->cgroup), "%s", pu->cgroup);
                if (elastic_unit_label(u, pu->cgroup, NULL, NULL, NULL) < 0) { /* until sampled */
                        st->n_units--;
                        return -ENOMEM;
                }
                if (pu->stood_back || !still_ours(pu, o)) {
                        u->loan.stood_back = true;
                        ret_verdicts[i] =
                            pu->stood_back ? RECONCILE_KEPT_BACK : RECONCILE_STOOD_BACK;
                        continue;
                }
                u->loan = (struct vscale_loan){
                        .active = true,
                        .orig_max = pu->orig_max,
                        .orig_high = pu->orig_high,
                        .orig_pod_max = pu->orig_pod_max,
                        .our_max = pu->our_max,
                        .our_high = pu->our_high,
                        .our_pod_max = pu->our_pod_max,
                        .lent_bytes = pu->lent_bytes,
                        .last_change_usec = pu->last_change_usec,
                };
                ret_verdicts[i] = RECONCILE_RESUMED;
        }
        return 0;
}
