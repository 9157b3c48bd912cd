// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/elastic.h"

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

#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

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

struct elastic {
        sd_event_source *efd_src;
        int efd;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        bool stop;
        struct job job; /* guarded by mu */
        bool busy;      /* loop side: a job is submitted and not yet taken */
        void (*on_done)(void *userdata);
        void *userdata;
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

bool elastic_busy(const struct elastic *e)
{
        return e && e->busy;
}

bool elastic_has_result(struct elastic *e)
{
        if (!e)
                return false;
        pthread_mutex_lock(&e->mu);
        bool done = e->job.done;
        pthread_mutex_unlock(&e->mu);
        return done;
}

bool elastic_take_result(struct elastic *e, struct reclaim_result *ret)
{
        struct job j;
        if (!e)
                return false;
        pthread_mutex_lock(&e->mu);
        if (!e->job.done) {
                pthread_mutex_unlock(&e->mu);
                return false;
        }
        j = e->job;
        e->job.done = false;
        pthread_mutex_unlock(&e->mu);
        safe_close(j.dfd);
        e->busy = false;
        *ret = (struct reclaim_result){
                .done = true,
                .cgroup_id = j.cgroup_id,
                .asked_bytes = j.bytes,
                .before_bytes = j.before_bytes,
                .after_bytes = j.after_bytes,
                .usec = j.usec,
                .r = j.r,
                .pressure = j.pressure,
        };
        return true;
}

static int on_worker(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct elastic *e = userdata;
        uint64_t n;
        (void)s;
        (void)revents;
        (void)!read(fd, &n, sizeof(n));
        if (e->on_done)
                e->on_done(e->userdata);
        return 0;
}

int elastic_new(struct sd_event *ev, void (*on_done)(void *userdata), void *userdata,
                struct elastic **ret)
{
        struct elastic *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->on_done = on_done;
        e->userdata = userdata;
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
        free(e);
}

int elastic_reclaim_submit(struct elastic *e, int dfd, uint64_t cgroup_id, uint64_t bytes,
                           bool pressure)
{
        if (e->busy)
                return -EBUSY;
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        pthread_mutex_lock(&e->mu);
        e->job = (struct job){ .pending = true,
                               .dfd = fd,
                               .cgroup_id = cgroup_id,
                               .bytes = bytes,
                               .pressure = pressure };
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
        e->busy = true;
        return 0;
}

/* ---- loans and returns -------------------------------------------------------------------- */

int elastic_apply_limits(int dfd, int pod_dfd, const struct limits_change *c)
{
        bool pod = pod_dfd >= 0 && c->new_pod_max != VSCALE_NO_LIMIT;
        int r = 0;
        if (c->up && pod && (r = write_u64_at(pod_dfd, "memory.max", c->new_pod_max)) < 0)
                return r;
        if ((r = write_u64_at(dfd, "memory.max", c->new_max)) < 0)
                goto undo_pod;
        if (c->new_high != VSCALE_NO_LIMIT &&
            (r = write_u64_at(dfd, "memory.high", c->new_high)) < 0) {
                (void)write_u64_at(dfd, "memory.max", c->old_max);
                goto undo_pod;
        }
        if (!c->up && pod)
                (void)write_u64_at(pod_dfd, "memory.max", c->new_pod_max);
        return 0;
undo_pod:
        if (c->up && pod)
                (void)write_u64_at(pod_dfd, "memory.max", c->old_pod_max);
        return r;
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

void elastic_totals(const struct agent_state *st, uint64_t *ret_reclaimed, uint64_t *ret_lent)
{
        uint64_t lent = 0;
        for (size_t i = 0; i < st->n_units; i++)
                if (st->units[i].loan.active)
                        lent += st->units[i].loan.lent_bytes;
        *ret_reclaimed = st->reclaimed_total;
        *ret_lent = lent;
}

#define SET(o, k, v) json_object_object_add((o), (k), (v))

static struct json_object *u64_or_null(uint64_t v)
{
        return v == UINT64_MAX ? NULL : json_object_new_uint64(v);
}

struct json_object *elastic_recommend_json(const struct agent_state *st,
                                           const struct elastic_params *p, uint64_t now_usec)
{
        struct json_object *root = json_object_new_object(), *a = json_object_new_array();
        for (size_t i = 0; i < st->n_units; i++) {
                const struct elastic_unit *u = &st->units[i];
                struct json_object *o = json_object_new_object();
                uint64_t est, stable, req, lim;
                bool settled = false;
                const char *source;
                if (u->ballooned && u->b.first_usec) {
                        settled = balloon_estimate(&u->b, &p->balloon, now_usec, &est, &stable);
                        source = "balloon";
                } else {
                        /* Not ballooned: the working set is all there is to go by. */
                        est = u->working_set_bytes;
                        stable = 0;
                        source = "working_set";
                }
                balloon_suggest(est, u->peak_bytes, &req, &lim);
                SET(o, "name", json_object_new_string(unit_str(u->name)));
                /* the container's pod as the API names it (null when unknown, or a workload) */
                SET(o, "pod_uid",
                    *unit_str(u->pod_uid) ? json_object_new_string(u->pod_uid) : NULL);
                SET(o, "namespace",
                    u->known ? json_object_new_string(unit_str(u->pod_namespace)) : NULL);
                SET(o, "pod_name", u->known ? json_object_new_string(unit_str(u->pod_name)) : NULL);
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
        SET(root, "reclaimed_bytes", json_object_new_uint64(st->reclaimed_total));
        return root;
}
