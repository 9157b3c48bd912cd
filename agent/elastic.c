// SPDX-License-Identifier: Apache-2.0
#include "agent/elastic.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "agent/vscale.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

#define MiB             (1ull << 20)
#define SWAP_MIN_FREE   (16 * MiB) /* less free swap than this: anonymous pages stay */
#define FAST_NEAR_PCT   80.0       /* sample fast while a growing container is this close */
#define FAST_GROWTH_BPS (1 << 20)
#define YOUNG_SEC       10 /* pages younger than this are not cold */

/* ---- the apply layer ---------------------------------------------------------------------- */

static int read_u64_at(int dfd, const char *name, uint64_t *ret)
{
        char buf[64];
        ssize_t n = read_file_at(dfd, name, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        buf[n] = '\0';
        if (strncmp(buf, "max", 3) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        if (errno || end == buf)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int write_u64_at(int dfd, const char *name, uint64_t v)
{
        char buf[32];
        if (v == UINT64_MAX)
                snprintf(buf, sizeof(buf), "max");
        else
                snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return write_string_at(dfd, name, buf);
}

int elastic_reclaim_at(int dfd, uint64_t bytes)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        int r = write_string_at(dfd, "memory.reclaim", buf);
        if (r != -ENOENT)
                return r;
        /* No memory.reclaim (before 5.19): pulse memory.high. The kernel reclaims down to the new
         * value in the writer's context, then the old value goes back. */
        char old[64];
        ssize_t n = read_file_at(dfd, "memory.high", old, sizeof(old));
        if (n < 0)
                return (int)n;
        old[n] = '\0';
        old[strcspn(old, "\n")] = '\0';
        uint64_t cur;
        r = read_u64_at(dfd, "memory.current", &cur);
        if (r < 0)
                return r;
        uint64_t target = cur > bytes ? cur - bytes : 0;
        r = write_u64_at(dfd, "memory.high", target);
        int r2 = write_string_at(dfd, "memory.high", old);
        if (r < 0)
                return r;
        if (r2 < 0)
                return r2;
        uint64_t after;
        if (read_u64_at(dfd, "memory.current", &after) == 0 && after > target)
                return -EAGAIN;
        return 0;
}

/* ---- the reclaim worker ------------------------------------------------------------------- */

struct job {
        bool pending, running, done;
        int dfd; /* ours (dup), closed by the loop after completion */
        uint64_t cgroup_id;
        uint64_t bytes;
        bool pressure;
        /* results */
        int r;
        uint64_t before_bytes, after_bytes, usec;
};

/* ---- per-container state ------------------------------------------------------------------ */

struct unit {
        uint64_t id; /* cgroup inode */
        bool seen;
        bool is_container;
        enum qos_class qos;
        char name[96];
        char cgroup[256];
        struct balloon_state b;
        struct balloon_step last;
        bool ballooned; /* the balloon runs for this unit (QoS class enabled) */
        struct vscale_loan loan;
        uint64_t current_bytes, working_set_bytes, request_bytes, limit_bytes, peak_bytes;
        bool near;               /* growing close to its limit: sample fast */
        uint64_t inactive_bytes; /* reclaimable inactive memory at the last sample */
        uint64_t ep_freed_bytes; /* reclaimed during the current pressure episode */
};

struct episode {
        bool open;
        uint64_t decision_id;
        uint64_t freed_bytes;
        unsigned containers, steps;
};

struct elastic {
        struct elastic_params p;
        bool have_params;
        sd_event_source *efd_src;
        int efd;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        bool stop;
        struct job job; /* guarded by mu */
        bool busy;      /* loop side: a job is submitted and not yet collected */
        struct unit *units;
        size_t n_units, cap_units;
        struct episode ep;
        char ep_scope[16], ep_signals[192];
        enum pressure_level ep_level;
        struct decision_log *log; /* from the last tick, for completions */
        enum pressure_level level;
        uint64_t reclaimed_total;
        bool fast;
        /* Wall time the worker spent inside memory.reclaim writes (guarded by mu): finished
         * writes, and the start of the one in progress (0: none). */
        uint64_t busy_done_usec, busy_since_usec;
};

static void *worker(void *arg)
{
        struct elastic *e = arg;
        pthread_mutex_lock(&e->mu);
        for (;;) {
                while (!e->job.pending && !e->stop)
                        pthread_cond_wait(&e->cv, &e->mu);
                if (e->stop)
                        break;
                e->job.pending = false;
                e->job.running = true;
                e->busy_since_usec = now_usec(CLOCK_MONOTONIC);
                int dfd = e->job.dfd;
                uint64_t bytes = e->job.bytes;
                pthread_mutex_unlock(&e->mu);

                uint64_t t0 = now_usec(CLOCK_MONOTONIC), before = 0, after = 0;
                (void)read_u64_at(dfd, "memory.current", &before);
                int r = elastic_reclaim_at(dfd, bytes);
                (void)read_u64_at(dfd, "memory.current", &after);
                uint64_t t1 = now_usec(CLOCK_MONOTONIC);

                pthread_mutex_lock(&e->mu);
                e->busy_done_usec += now_usec(CLOCK_MONOTONIC) - e->busy_since_usec;
                e->busy_since_usec = 0;
                e->job.running = false;
                e->job.done = true;
                e->job.r = r;
                e->job.before_bytes = before;
                e->job.after_bytes = after;
                e->job.usec = t1 - t0;
                uint64_t one = 1;
                (void)!write(e->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&e->mu);
        return NULL;
}

static struct unit *unit_find(struct elastic *e, uint64_t id)
{
        for (size_t i = 0; i < e->n_units; i++)
                if (e->units[i].id == id)
                        return &e->units[i];
        return NULL;
}

static struct unit *unit_get(struct elastic *e, uint64_t id)
{
        struct unit *u = unit_find(e, id);
        if (u)
                return u;
        if (e->n_units == e->cap_units) {
                size_t cap = e->cap_units ? e->cap_units * 2 : 32;
                struct unit *n = realloc(e->units, cap * sizeof(*n));
                if (!n)
                        return NULL;
                e->units = n;
                e->cap_units = cap;
        }
        u = &e->units[e->n_units++];
        *u = (struct unit){ .id = id };
        return u;
}

static void fill_candidate(struct decision_candidate *c, const struct unit *u, const char *reason)
{
        snprintf(c->name, sizeof(c->name), "%s", u->name);
        snprintf(c->cgroup, sizeof(c->cgroup), "%s", u->cgroup);
        snprintf(c->qos, sizeof(c->qos), "%s", qos_to_string(u->qos));
        c->current_bytes = u->current_bytes;
        c->working_set_bytes = u->working_set_bytes;
        c->request_bytes = u->request_bytes;
        snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

/* A reclaim step finished: account it, and report it in the pressure episode's decision. */
static void collect(struct elastic *e)
{
        struct job j;
        pthread_mutex_lock(&e->mu);
        if (!e->job.done) {
                pthread_mutex_unlock(&e->mu);
                return;
        }
        j = e->job;
        e->job.done = false;
        pthread_mutex_unlock(&e->mu);
        safe_close(j.dfd);
        e->busy = false;

        uint64_t freed = j.before_bytes > j.after_bytes ? j.before_bytes - j.after_bytes : 0;
        e->reclaimed_total += freed;
        struct unit *u = unit_find(e, j.cgroup_id);
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        if (!u)
                return; /* the container went away meanwhile */
        balloon_reclaimed(&u->b, freed);
        if (j.r < 0 && j.r != -EAGAIN && !errno_is_vanished(j.r))
                log_warning_errno(j.r, "Balloon: reclaiming %s from %s failed: %m, ignoring",
                                  format_bytes_iec(j.bytes, a, sizeof(a)), u->cgroup);
        log_debug("Balloon: reclaimed %s of %s asked from %s in %" PRIu64 " ms%s",
                  format_bytes_iec(freed, a, sizeof(a)), format_bytes_iec(j.bytes, b, sizeof(b)),
                  u->cgroup, j.usec / 1000, j.pressure ? " (node pressure)" : "");
        if (!j.pressure || freed == 0 || !e->log)
                return;
        if (!e->ep.open)
                return; /* pressure cleared while the step ran */
        struct decision *d =
            e->ep.decision_id ? decision_log_find(e->log, e->ep.decision_id) : NULL;
        if (!d) {
                /* The first step that freed something opens the record (the ring may also have
                 * wrapped over the old one). */
                d = decision_log_new(e->log);
                snprintf(d->scope, sizeof(d->scope), "%s", e->ep_scope);
                snprintf(d->level, sizeof(d->level), "%s", pressure_level_to_string(e->ep_level));
                snprintf(d->trigger, sizeof(d->trigger), "balloon");
                snprintf(d->signals, sizeof(d->signals), "%s", e->ep_signals);
                snprintf(d->action, sizeof(d->action), "reclaim");
                e->ep.decision_id = d->id;
        }
        e->ep.freed_bytes += freed;
        e->ep.steps++;
        if (u->ep_freed_bytes == 0)
                e->ep.containers++;
        u->ep_freed_bytes += freed;
        d->freed_bytes = e->ep.freed_bytes;
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
        d->n_candidates = e->ep.containers;
        snprintf(d->outcome, sizeof(d->outcome), "freed %s from %u container%s in %u steps",
                 format_bytes_iec(e->ep.freed_bytes, a, sizeof(a)), e->ep.containers,
                 e->ep.containers == 1 ? "" : "s", e->ep.steps);
}

static int on_worker(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct elastic *e = userdata;
        uint64_t n;
        (void)s;
        (void)revents;
        (void)!read(fd, &n, sizeof(n));
        collect(e);
        return 0;
}

int elastic_new(struct sd_event *ev, struct elastic **ret)
{
        struct elastic *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->efd < 0) {
                int r = negative_errno();
                free(e);
                return r;
        }
        pthread_mutex_init(&e->mu, NULL);
        pthread_cond_init(&e->cv, NULL);
        int r = sd_event_add_io(ev, &e->efd_src, e->efd, EPOLLIN, on_worker, e);
        if (r < 0) {
                elastic_free(e);
                return r;
        }
        /* The worker takes no signals: the loop owns them (signalfd). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&e->thread, NULL, worker, e);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                elastic_free(e);
                return r;
        }
        e->thread_started = true;
        *ret = e;
        return 0;
}

void elastic_set_params(struct elastic *e, const struct elastic_params *p)
{
        e->p = *p;
        e->have_params = true;
}

void elastic_free(struct elastic *e)
{
        if (!e)
                return;
        if (e->thread_started) {
                pthread_mutex_lock(&e->mu);
                e->stop = true;
                pthread_cond_signal(&e->cv);
                pthread_mutex_unlock(&e->mu);
                pthread_join(e->thread, NULL);
        }
        if (e->job.done || e->job.pending)
                safe_close(e->job.dfd);
        e->efd_src = sd_event_source_disable_unref(e->efd_src);
        safe_close(e->efd);
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        free(e->units);
        free(e);
}

static void submit(struct elastic *e, const struct cgroup *cg, struct unit *u, uint64_t bytes,
                   bool pressure)
{
        int dfd = fcntl(cg->dfd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return;
        pthread_mutex_lock(&e->mu);
        e->job = (struct job){ .pending = true,
                               .dfd = dfd,
                               .cgroup_id = u->id,
                               .bytes = bytes,
                               .pressure = pressure };
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
        e->busy = true;
}

/* ---- one tick ----------------------------------------------------------------------------- */

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

struct cand {
        struct unit *u;
        const struct cgroup *cg;
        uint64_t bytes;
        uint64_t cold_bytes;
};

static void balloon_unit(struct elastic *e, const struct elastic_view *v, struct unit *u,
                         const struct cgroup *cg, struct cand *cands, size_t *n_cands)
{
        const struct cg_sample *s = &cg->s;
        bool swap = v->node->mem.swap_free >= SWAP_MIN_FREE &&
                    val(s, CGF_SWAP_MAX, UINT64_MAX) > val(s, CGF_SWAP_CURRENT, 0) + MiB;
        uint64_t min = val(s, CGF_MIN, 0), low = val(s, CGF_LOW, 0);
        struct balloon_input in = {
                .now_usec = v->now_usec,
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
                .pressure = v->level >= LEVEL_LOW,
        };
        u->inactive_bytes = in.inactive_bytes;
        balloon_update(&u->b, &e->p.balloon, &in, &u->last);
        if (u->last.verdict == BALLOON_RECLAIM && !v->dry_run) {
                /* Coldness: inactive reclaimable memory, less what the container added in the
                 * last YOUNG_SEC seconds (new pages start on the inactive list, but they are not
                 * cold: a growing container is using them). */
                uint64_t young = cg->growth_bytes_per_sec > 0
                                     ? (uint64_t)cg->growth_bytes_per_sec * YOUNG_SEC
                                     : 0;
                uint64_t cold = in.inactive_bytes > young ? in.inactive_bytes - young : 0;
                cands[(*n_cands)++] = (struct cand){ u, cg, u->last.bytes, cold };
        }
}

static void record_vscale(struct elastic *e, const struct elastic_view *v, struct unit *u,
                          const struct vscale_decision *d, const char *outcome)
{
        struct decision *r = decision_log_new(v->log);
        snprintf(r->scope, sizeof(r->scope), "container");
        snprintf(r->level, sizeof(r->level), "%s", pressure_level_to_string(v->level));
        snprintf(r->trigger, sizeof(r->trigger), "%s",
                 d->action == VSCALE_STAND_BACK ? "limit changed" : "working set");
        snprintf(r->signals, sizeof(r->signals), "%s", v->signals ? v->signals : "");
        snprintf(r->action, sizeof(r->action), "%s", vscale_action_to_string(d->action));
        r->dry_run = v->dry_run;
        r->has_victim = true;
        fill_candidate(&r->victim, u, d->reason);
        r->n_candidates = 1;
        r->amount_bytes = d->bytes;
        r->limit_before_bytes = d->old_max;
        r->limit_after_bytes = d->new_max;
        r->done = true;
        snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
        (void)e;
}

/* Writes the loan's limits in an order that never leaves the container above its pod: raise the
 * pod first, lower it last. Returns 0 or the first error (what was written is rolled back). */
static int apply_limits(const struct cgroup *cg, const struct cgroup *pod,
                        const struct vscale_input *in, const struct vscale_decision *d)
{
        bool up = d->action == VSCALE_LOAN;
        int r = 0;
        if (up && pod && d->new_pod_max != VSCALE_NO_LIMIT &&
            (r = write_u64_at(pod->dfd, "memory.max", d->new_pod_max)) < 0)
                return r;
        if ((r = write_u64_at(cg->dfd, "memory.max", d->new_max)) < 0)
                goto undo_pod;
        if (d->new_high != VSCALE_NO_LIMIT &&
            (r = write_u64_at(cg->dfd, "memory.high", d->new_high)) < 0) {
                (void)write_u64_at(cg->dfd, "memory.max", in->max_bytes);
                goto undo_pod;
        }
        if (!up && pod && d->new_pod_max != VSCALE_NO_LIMIT)
                (void)write_u64_at(pod->dfd, "memory.max", d->new_pod_max);
        return 0;
undo_pod:
        if (up && pod && d->new_pod_max != VSCALE_NO_LIMIT)
                (void)write_u64_at(pod->dfd, "memory.max", in->pod_max_bytes);
        return r;
}

static void vscale_unit(struct elastic *e, const struct elastic_view *v, struct unit *u,
                        const struct cgroup *cg, const struct cgroup *pod, uint64_t *headroom)
{
        const struct cg_sample *s = &cg->s;
        struct vscale_input in = {
                .now_usec = v->now_usec,
                .current_bytes = s->current,
                .working_set_bytes = s->working_set,
                .max_bytes = val(s, CGF_MAX, VSCALE_NO_LIMIT),
                .high_bytes = val(s, CGF_HIGH, VSCALE_NO_LIMIT),
                .pod_max_bytes = pod ? val(&pod->s, CGF_MAX, VSCALE_NO_LIMIT) : VSCALE_NO_LIMIT,
                .growth_bytes_per_sec = cg->growth_bytes_per_sec,
                .events_max = s->events.max,
                .headroom_bytes = *headroom,
        };
        uint64_t orig = u->loan.active ? u->loan.orig_max : in.max_bytes;
        struct vscale_params vp = {
                .step_bytes = orig == VSCALE_NO_LIMIT
                                  ? 0
                                  : config_bytes_or_percent_resolve(&e->p.vscale_step, orig),
                .ceiling_bytes = orig == VSCALE_NO_LIMIT
                                     ? 0
                                     : config_bytes_or_percent_resolve(&e->p.vscale_ceiling, orig),
                .return_hold_usec = e->p.vscale_return_hold_usec,
        };
        int64_t g = cg->growth_bytes_per_sec;
        u->near = in.max_bytes != VSCALE_NO_LIMIT && g > FAST_GROWTH_BPS &&
                  (double)(in.working_set_bytes + (uint64_t)g * 2) >=
                      (double)in.max_bytes * FAST_NEAR_PCT / 100.0;
        if (!e->p.vscale_enabled && !u->loan.active)
                return;
        struct vscale_decision d;
        bool was_refused = u->loan.refused;
        vscale_decide(&vp, &u->loan, &in, &d);
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        char outcome[112];
        switch (d.action) {
        case VSCALE_NONE:
                return;
        case VSCALE_REFUSED:
                log_notice("Vertical scaling: %s is %s", u->cgroup, d.reason);
                return;
        case VSCALE_STAND_BACK:
                log_notice("Vertical scaling: standing back from %s: %s; its loan of %s is "
                           "forgotten and its limits are left alone from now on",
                           u->cgroup, d.reason, format_bytes_iec(d.bytes, a, sizeof(a)));
                d.new_max = in.max_bytes;
                snprintf(outcome, sizeof(outcome), "stood back: someone else set the limit");
                record_vscale(e, v, u, &d, outcome);
                return;
        case VSCALE_LOAN:
                if (!e->p.vscale_enabled)
                        return; /* switched off: no new loans, existing ones return */
                break;
        case VSCALE_RETURN:
                break;
        }
        if (v->dry_run) {
                /* Nothing written: say it once per episode (the loan's refusal flag). */
                if (!was_refused)
                        log_notice("Vertical scaling: would %s %s for %s (%s) [dry run]",
                                   d.action == VSCALE_LOAN ? "lend" : "take back",
                                   format_bytes_iec(d.bytes, a, sizeof(a)), u->cgroup, d.reason);
                if (!was_refused)
                        record_vscale(e, v, u, &d, "not acted: dry run");
                u->loan.refused = true;
                return;
        }
        int r = apply_limits(cg, pod, &in, &d);
        if (r < 0) {
                if (!errno_is_vanished(r))
                        log_warning_errno(r,
                                          "Vertical scaling: writing the limits of %s failed: "
                                          "%m; trying again on the next sample",
                                          u->cgroup);
                return;
        }
        vscale_applied(&u->loan, &in, &d);
        if (d.action == VSCALE_LOAN)
                *headroom = *headroom > d.bytes ? *headroom - d.bytes : 0;
        snprintf(outcome, sizeof(outcome), "memory.max %s -> %s",
                 format_bytes_iec(d.old_max, a, sizeof(a)),
                 format_bytes_iec(d.new_max, b, sizeof(b)));
        log_notice("Vertical scaling: %s %s %s (%s): %s",
                   d.action == VSCALE_LOAN ? "lent" : "took back",
                   format_bytes_iec(d.bytes, a, sizeof(a)), u->cgroup, d.reason, outcome);
        record_vscale(e, v, u, &d, outcome);
}

static void unit_refresh(struct unit *u, const struct cgroup *cg, enum qos_class qos,
                         const char *name, bool is_container)
{
        u->seen = true;
        u->qos = qos;
        u->is_container = is_container;
        snprintf(u->name, sizeof(u->name), "%s", name);
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
}

/* A pressure episode runs from level low until none again. Its decision record opens with the
 * first step that frees something (collect()), so an episode with nothing to reclaim leaves no
 * record behind. */
static void episode_update(struct elastic *e, const struct elastic_view *v)
{
        if (v->level >= LEVEL_LOW && !e->ep.open) {
                e->ep = (struct episode){ .open = true };
                for (size_t i = 0; i < e->n_units; i++)
                        e->units[i].ep_freed_bytes = 0;
        } else if (v->level == LEVEL_NONE && e->ep.open) {
                struct decision *d =
                    e->ep.decision_id ? decision_log_find(v->log, e->ep.decision_id) : NULL;
                if (d) {
                        d->done = true;
                        char a[FORMAT_BYTES_MAX];
                        log_notice("Balloon: pressure episode over; reclaimed %s from %u "
                                   "container%s, coldest first",
                                   format_bytes_iec(e->ep.freed_bytes, a, sizeof(a)),
                                   e->ep.containers, e->ep.containers == 1 ? "" : "s");
                }
                e->ep.open = false;
        }
        if (v->level >= LEVEL_LOW) {
                /* The record names the highest level and its scope seen in the episode. */
                if (v->level >= e->ep_level || !e->ep.decision_id) {
                        e->ep_level = v->level;
                        snprintf(e->ep_scope, sizeof(e->ep_scope), "%s",
                                 v->scope ? v->scope : "node");
                        snprintf(e->ep_signals, sizeof(e->ep_signals), "%s",
                                 v->signals ? v->signals : "");
                }
        } else {
                e->ep_level = LEVEL_NONE;
        }
}

void elastic_tick(struct elastic *e, const struct elastic_view *v)
{
        if (!e->have_params)
                return;
        const struct model *m = v->model;
        e->log = v->log;
        e->level = v->level;
        collect(e); /* in case the eventfd has not been dispatched yet */

        size_t n_total = 0;
        for (size_t i = 0; i < m->n_pods; i++)
                n_total += m->pods[i].n_containers;
        n_total += m->n_workloads;
        struct cand *cands = calloc(n_total ? n_total : 1, sizeof(*cands));
        size_t n_cands = 0;
        if (!cands)
                return;

        for (size_t i = 0; i < e->n_units; i++)
                e->units[i].seen = false;

        /* What may be lent: the scopes' headroom minus loans not yet drawn on. */
        uint64_t promised = 0;
        for (size_t i = 0; i < e->n_units; i++) {
                const struct unit *u = &e->units[i];
                if (u->loan.active && u->loan.our_max > u->current_bytes) {
                        uint64_t base = u->current_bytes > u->loan.orig_max ? u->current_bytes
                                                                            : u->loan.orig_max;
                        if (u->loan.our_max > base)
                                promised += u->loan.our_max - base;
                }
        }
        uint64_t headroom = v->headroom_bytes > promised ? v->headroom_bytes - promised : 0;

        bool fast = false;
        for (size_t i = 0; i < m->n_pods; i++) {
                const struct pod *p = &m->pods[i];
                for (size_t j = 0; j < p->n_containers; j++) {
                        const struct container *c = &p->containers[j];
                        if (c->cg.gone || !(c->cg.s.have & CG_HAVE(CGF_CURRENT)))
                                continue;
                        struct unit *u = unit_get(e, c->cg.id);
                        if (!u)
                                continue;
                        char name[96];
                        snprintf(name, sizeof(name), "pod %.36s container %.12s", p->uid, c->id);
                        unit_refresh(u, &c->cg, p->qos, name, true);
                        u->ballooned = e->p.balloon_enabled && e->p.balloon_qos[p->qos];
                        if (u->ballooned)
                                balloon_unit(e, v, u, &c->cg, cands, &n_cands);
                        if (p->qos == QOS_BURSTABLE) {
                                bool pod_limited = (p->cg.s.have & CG_HAVE(CGF_MAX)) &&
                                                   p->cg.s.max != CG_UNLIMITED;
                                vscale_unit(e, v, u, &c->cg, pod_limited ? &p->cg : NULL,
                                            &headroom);
                                fast |= u->near && e->p.vscale_enabled;
                        }
                }
        }
        for (size_t i = 0; i < m->n_workloads; i++) {
                const struct workload *w = &m->workloads[i];
                if (w->cg.gone || !(w->cg.s.have & CG_HAVE(CGF_CURRENT)))
                        continue;
                struct unit *u = unit_get(e, w->cg.id);
                if (!u)
                        continue;
                unit_refresh(u, &w->cg, w->qos, w->name, false);
                u->ballooned = e->p.balloon_enabled && e->p.balloon_qos[w->qos];
                if (u->ballooned)
                        balloon_unit(e, v, u, &w->cg, cands, &n_cands);
        }
        /* Forget the containers that are gone. */
        for (size_t i = 0; i < e->n_units;) {
                if (!e->units[i].seen)
                        e->units[i] = e->units[--e->n_units];
                else
                        i++;
        }
        e->fast = fast;

        episode_update(e, v);
        if (!e->busy && n_cands > 0) {
                /* Routine: the step due longest ago. Under pressure: the coldest container
                 * (most inactive, reclaimable memory; those stalling are backing off already). */
                size_t best = 0;
                for (size_t i = 1; i < n_cands; i++) {
                        bool better =
                            v->level >= LEVEL_LOW
                                ? cands[i].cold_bytes > cands[best].cold_bytes
                                : cands[i].u->b.next_step_usec < cands[best].u->b.next_step_usec;
                        if (better)
                                best = i;
                }
                struct cand *c = &cands[best];
                bool pressure = v->level >= LEVEL_LOW;
                balloon_commit(&c->u->b, &e->p.balloon, pressure, v->now_usec);
                submit(e, c->cg, c->u, c->bytes, pressure);
        }
        free(cands);
}

bool elastic_wants_fast(const struct elastic *e)
{
        return e && e->fast;
}

uint64_t elastic_reclaim_busy_usec(struct elastic *e)
{
        if (!e)
                return 0;
        pthread_mutex_lock(&e->mu);
        uint64_t t = e->busy_done_usec +
                     (e->busy_since_usec ? now_usec(CLOCK_MONOTONIC) - e->busy_since_usec : 0);
        pthread_mutex_unlock(&e->mu);
        return t;
}

void elastic_totals(const struct elastic *e, uint64_t *ret_reclaimed, uint64_t *ret_lent)
{
        uint64_t lent = 0;
        for (size_t i = 0; i < e->n_units; i++)
                if (e->units[i].loan.active)
                        lent += e->units[i].loan.lent_bytes;
        *ret_reclaimed = e->reclaimed_total;
        *ret_lent = lent;
}

#define SET(o, k, v) json_object_object_add((o), (k), (v))

static struct json_object *u64_or_null(uint64_t v)
{
        return v == UINT64_MAX ? NULL : json_object_new_uint64(v);
}

struct json_object *elastic_recommend_json(const struct elastic *e, const struct model *m,
                                           uint64_t now_usec)
{
        struct json_object *root = json_object_new_object(), *a = json_object_new_array();
        (void)m;
        for (size_t i = 0; i < e->n_units; i++) {
                const struct unit *u = &e->units[i];
                struct json_object *o = json_object_new_object();
                uint64_t est, stable, req, lim;
                bool settled = false;
                const char *source;
                if (u->ballooned && u->b.first_usec) {
                        settled = balloon_estimate(&u->b, &e->p.balloon, now_usec, &est, &stable);
                        source = "balloon";
                } else {
                        /* Not ballooned: the working set is all there is to go by. */
                        est = u->working_set_bytes;
                        stable = 0;
                        source = "working_set";
                }
                balloon_suggest(est, u->peak_bytes, &req, &lim);
                SET(o, "name", json_object_new_string(u->name));
                SET(o, "cgroup", json_object_new_string(u->cgroup));
                SET(o, "qos", json_object_new_string(qos_to_string(u->qos)));
                SET(o, "balloon",
                    json_object_new_string(
                        u->ballooned ? balloon_verdict_to_string(u->b.last_verdict) : "off"));
                SET(o, "current_bytes", json_object_new_uint64(u->current_bytes));
                SET(o, "working_set_bytes", json_object_new_uint64(u->working_set_bytes));
                SET(o, "peak_bytes", json_object_new_uint64(u->peak_bytes));
                SET(o, "estimate_bytes", json_object_new_uint64(est));
                SET(o, "estimate_source", json_object_new_string(source));
                SET(o, "settled", json_object_new_boolean(settled));
                SET(o, "stable_usec", json_object_new_uint64(stable));
                SET(o, "confidence",
                    json_object_new_string(settled ? balloon_confidence(stable) : "none"));
                SET(o, "request_bytes",
                    u->request_bytes ? json_object_new_uint64(u->request_bytes) : NULL);
                SET(o, "limit_bytes", u64_or_null(u->limit_bytes));
                SET(o, "suggested_request_bytes", json_object_new_uint64(req));
                SET(o, "suggested_limit_bytes", json_object_new_uint64(lim));
                SET(o, "reclaimed_bytes", json_object_new_uint64(u->b.reclaimed_bytes));
                SET(o, "reclaim_steps", json_object_new_uint64(u->b.steps));
                SET(o, "stall_pct", json_object_new_double(u->b.last_stall_pct));
                SET(o, "loan_bytes",
                    json_object_new_uint64(u->loan.active ? u->loan.lent_bytes : 0));
                SET(o, "stood_back", json_object_new_boolean(u->loan.stood_back));
                json_object_array_add(a, o);
        }
        SET(root, "containers", a);
        SET(root, "reclaimed_bytes", json_object_new_uint64(e->reclaimed_total));
        return root;
}
