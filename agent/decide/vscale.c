// SPDX-License-Identifier: Apache-2.0
#include "agent/decide/vscale.h"

#include <stdio.h>

#include "common/quantity.h"

#define MiB       (1ull << 20)
#define PAGE_MASK (~(uint64_t)4095)

bool vscale_same_limit(uint64_t a, uint64_t b)
{
        return a == b ||
               (a != VSCALE_NO_LIMIT && b != VSCALE_NO_LIMIT && (a & PAGE_MASK) == (b & PAGE_MASK));
}

const char *vscale_action_to_string(enum vscale_action a)
{
        switch (a) {
        case VSCALE_NONE:
                return "none";
        case VSCALE_LOAN:
                return "loan";
        case VSCALE_RETURN:
                return "return";
        case VSCALE_STAND_BACK:
                return "stand-back";
        case VSCALE_REFUSED:
                return "refused";
        }
        return "?";
}

static uint64_t need_bytes(const struct vscale_input *in)
{
        int64_t g = in->growth_bytes_per_sec > 0 ? in->growth_bytes_per_sec : 0;
        return in->working_set_bytes + (uint64_t)g * (VSCALE_LEAD_USEC / 1000000ull);
}

static bool external_write(const struct vscale_loan *l, const struct vscale_input *in, char *why,
                           size_t size)
{
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        if (!vscale_same_limit(in->max_bytes, l->our_max)) {
                snprintf(why, size, "memory.max is %s, not the %s we wrote",
                         in->max_bytes == VSCALE_NO_LIMIT
                             ? "max"
                             : format_bytes_iec(in->max_bytes, a, sizeof(a)),
                         format_bytes_iec(l->our_max, b, sizeof(b)));
                return true;
        }
        if (l->our_high != VSCALE_NO_LIMIT && !vscale_same_limit(in->high_bytes, l->our_high)) {
                snprintf(why, size, "memory.high is %s, not the %s we wrote",
                         in->high_bytes == VSCALE_NO_LIMIT
                             ? "max"
                             : format_bytes_iec(in->high_bytes, a, sizeof(a)),
                         format_bytes_iec(l->our_high, b, sizeof(b)));
                return true;
        }
        if (l->our_pod_max != VSCALE_NO_LIMIT &&
            !vscale_same_limit(in->pod_max_bytes, l->our_pod_max)) {
                snprintf(why, size, "the pod's memory.max is %s, not the %s we wrote",
                         in->pod_max_bytes == VSCALE_NO_LIMIT
                             ? "max"
                             : format_bytes_iec(in->pod_max_bytes, a, sizeof(a)),
                         format_bytes_iec(l->our_pod_max, b, sizeof(b)));
                return true;
        }
        return false;
}

static void lend(const struct vscale_params *p, struct vscale_loan *l,
                 const struct vscale_input *in, struct vscale_decision *d, uint64_t need,
                 bool max_event)
{
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX];
        uint64_t orig = l->active ? l->orig_max : in->max_bytes;
        uint64_t lent = l->active ? l->lent_bytes : 0;
        uint64_t left = p->ceiling_bytes > lent ? p->ceiling_bytes - lent : 0;
        uint64_t want = p->step_bytes < left ? p->step_bytes : left;
        uint64_t give = want < in->headroom_bytes ? want : in->headroom_bytes;
        give &= PAGE_MASK;
        uint64_t min_useful = p->step_bytes / 4 > MiB ? p->step_bytes / 4 : MiB;

        if (give < min_useful) {
                d->action = VSCALE_REFUSED;
                if (left < min_useful)
                        snprintf(d->reason, sizeof(d->reason),
                                 "near its limit (need %s of %s) but the loan is at the ceiling "
                                 "(%s lent)",
                                 format_bytes_iec(need, a, sizeof(a)),
                                 format_bytes_iec(in->max_bytes, b, sizeof(b)),
                                 format_bytes_iec(lent, c, sizeof(c)));
                else
                        snprintf(d->reason, sizeof(d->reason),
                                 "near its limit (need %s of %s) but the node can lend only %s",
                                 format_bytes_iec(need, a, sizeof(a)),
                                 format_bytes_iec(in->max_bytes, b, sizeof(b)),
                                 format_bytes_iec(in->headroom_bytes, c, sizeof(c)));
                return;
        }
        d->action = VSCALE_LOAN;
        d->bytes = give;
        d->new_max = in->max_bytes + give;
        d->new_high = in->high_bytes != VSCALE_NO_LIMIT ? in->high_bytes + give : VSCALE_NO_LIMIT;
        d->new_pod_max =
            in->pod_max_bytes != VSCALE_NO_LIMIT ? in->pod_max_bytes + give : VSCALE_NO_LIMIT;
        snprintf(
            d->reason, sizeof(d->reason),
            "%s: working set %s, growing %lld KiB/s, limit %s; lent %s of at most %s over "
            "the original %s",
            max_event ? "hitting its limit" : "nearing its limit",
            format_bytes_iec(in->working_set_bytes, a, sizeof(a)),
            (long long)(in->growth_bytes_per_sec / 1024),
            format_bytes_iec(in->max_bytes, b, sizeof(b)),
            format_bytes_iec(lent + give, c, sizeof(c)),
            format_bytes_iec(p->ceiling_bytes, (char[FORMAT_BYTES_MAX]){ 0 }, FORMAT_BYTES_MAX),
            format_bytes_iec(orig, (char[FORMAT_BYTES_MAX]){ 0 }, FORMAT_BYTES_MAX));
}

void vscale_decide(const struct vscale_params *params, struct vscale_loan *l,
                   const struct vscale_input *in, struct vscale_decision *d)
{
        /* Steps in whole pages, so that every value written reads back as written. */
        struct vscale_params aligned = *params;
        aligned.step_bytes &= PAGE_MASK;
        aligned.ceiling_bytes &= PAGE_MASK;
        const struct vscale_params *p = &aligned;
        *d = (struct vscale_decision){ .action = VSCALE_NONE,
                                       .new_max = VSCALE_NO_LIMIT,
                                       .new_high = VSCALE_NO_LIMIT,
                                       .new_pod_max = VSCALE_NO_LIMIT,
                                       .old_max = in->max_bytes };
        bool max_event = l->have_prev && in->events_max > l->prev_events_max;
        l->have_prev = true;
        l->prev_events_max = in->events_max;

        if (l->stood_back)
                return;
        if (l->active && external_write(l, in, d->reason, sizeof(d->reason))) {
                d->action = VSCALE_STAND_BACK;
                d->bytes = l->lent_bytes;
                l->active = false;
                l->stood_back = true;
                return;
        }
        if (in->max_bytes == VSCALE_NO_LIMIT)
                return; /* nothing to hit */

        uint64_t need = need_bytes(in);
        bool near = (double)need >= (double)in->max_bytes * VSCALE_NEAR_PCT / 100.0 ||
                    (max_event && (double)in->working_set_bytes >=
                                      (double)in->max_bytes * VSCALE_RETURN_PCT / 100.0);
        if (near) {
                l->below_since_usec = 0;
                lend(p, l, in, d, need, max_event);
                if (d->action == VSCALE_REFUSED && l->refused)
                        d->action = VSCALE_NONE; /* said so already this episode */
                l->refused =
                    d->action == VSCALE_REFUSED || (l->refused && d->action == VSCALE_NONE);
                return;
        }
        l->refused = false;
        if (!l->active)
                return;

        /* Return: one step down, never below the original limit. */
        uint64_t down = l->lent_bytes < p->step_bytes ? l->lent_bytes : p->step_bytes;
        uint64_t target = l->our_max - down;
        if ((double)need > (double)target * VSCALE_RETURN_PCT / 100.0) {
                l->below_since_usec = 0;
                return;
        }
        if (l->below_since_usec == 0) {
                l->below_since_usec = in->now_usec;
                return;
        }
        if (in->now_usec - l->below_since_usec < p->return_hold_usec)
                return;
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX];
        d->action = VSCALE_RETURN;
        d->bytes = down;
        d->new_max = target;
        d->new_high = l->our_high != VSCALE_NO_LIMIT ? l->our_high - down : VSCALE_NO_LIMIT;
        d->new_pod_max =
            l->our_pod_max != VSCALE_NO_LIMIT ? l->our_pod_max - down : VSCALE_NO_LIMIT;
        snprintf(d->reason, sizeof(d->reason),
                 "working set %s has receded under %.0f%% of %s for %llu s; %s still lent",
                 format_bytes_iec(in->working_set_bytes, a, sizeof(a)), VSCALE_RETURN_PCT,
                 format_bytes_iec(target, b, sizeof(b)),
                 (unsigned long long)((in->now_usec - l->below_since_usec) / 1000000u),
                 format_bytes_iec(l->lent_bytes - down, c, sizeof(c)));
}

void vscale_applied(struct vscale_loan *l, const struct vscale_input *in,
                    const struct vscale_decision *d)
{
        if (d->action == VSCALE_LOAN) {
                if (!l->active) {
                        l->active = true;
                        l->orig_max = in->max_bytes;
                        l->orig_high = in->high_bytes;
                        l->orig_pod_max = in->pod_max_bytes;
                        l->lent_bytes = 0;
                }
                l->lent_bytes += d->bytes;
        } else if (d->action == VSCALE_RETURN) {
                l->lent_bytes -= d->bytes;
        } else {
                return;
        }
        l->our_max = d->new_max;
        l->our_high = d->new_high;
        l->our_pod_max = d->new_pod_max;
        l->last_change_usec = in->now_usec;
        l->below_since_usec = 0;
        if (l->lent_bytes == 0)
                l->active = false; /* all returned: the original limits are back */
}
