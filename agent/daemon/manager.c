// SPDX-License-Identifier: Apache-2.0
// The manager: the sd-event loop and its sources (the sampling timer, PSI triggers, inotify on
// the cgroup tree, signals), and the cycle they all run: observe (observe.c) → decide
// (agent_step(), agent/decide/step.h) → act (actuators.c), until no outcome is left to feed back.
#include "agent/daemon/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "agent/daemon/kube.h"
#include "agent/daemon/manager-private.h"
#include "agent/daemon/persist.h"
#include "agent/daemon/reporter.h"
#include "agent/kernel/mode.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "plugins/policy.h"

#define SCRATCH_SIZE (64 * 1024)
/* The tree is re-walked on inotify events (pods and containers come and go): the periodic walk is
 * the safety net for what inotify cannot see, and a walk of 1,000 cgroups costs as much as
 * several calm ticks (issue 13), so once a minute. */
#define REFRESH_EVERY_USEC (60 * 1000000ull)
#define REFRESH_SOON_USEC  (100 * 1000ull) /* after a pod or container directory event */
/* Pods' and containers' memory.events watched at most (inotify watches are a per-user budget,
 * fs.inotify.max_user_watches); those beyond read memory.events every tick. */
#define EVENTS_WATCH_MAX 8192
/* Pods with a memory limit given a PSI trigger of their own, at most: each is an fd and a
 * kernel timer, within the fd reserve. */
#define POD_TRIGGERS_MAX 64

static void arm_kubepods_watch(struct manager *m);
static void watch_pod_dirs(struct manager *m);
static void watch_kubepods_dirs(struct manager *m);
static void arm_triggers(struct manager *m);
static void fit_nofile(const struct manager *m);
static void watch_cgroup_events(struct manager *m);
static bool wake_cgroup_event(struct manager *m, int wd);
static void arm_pod_triggers(struct manager *m);
static void pod_triggers_close(struct manager *m);

/* act(), and the metrics of what it did (the limit writes it reports, a kill's result). */
static void act_counted(struct manager *m)
{
        size_t limits_before = m->n_limits;
        act(m, &m->actions);
        agent_metrics_count_actions(&m->metrics, &m->actions,
                                    m->limits ? m->limits + limits_before : NULL,
                                    m->n_limits - limits_before, &m->evict.result);
}

/* Decides and acts on snap, then feeds back what acting produced at once (a kill runs to its
 * end while the actuator waits), until nothing new comes back. started_usec: when the
 * observation began, for the step's cost. */
static void decide_and_act(struct manager *m, const struct node_snapshot *snap,
                           uint64_t started_usec)
{
        int r = agent_step(snap, &m->state, &m->ap, &m->actions);
        uint64_t end = now_usec(CLOCK_MONOTONIC);
        agent_metrics_observe_step(&m->metrics, end - started_usec, end);
        if (r < 0)
                log_warning_errno(r, "Failed to decide: %m; acting on what was decided");
        act_counted(m);
        manager_run_outcome(m);
}

static bool outcome_pending(const struct manager *m)
{
        return m->evict.result.outcome != EVICT_PENDING || m->n_limits > 0 ||
               m->n_kube_answers > 0 || elastic_has_result(m->elastic);
}

void manager_run_outcome(struct manager *m)
{
        /* Acting on an outcome may produce the next one (the grace period ends, the kill runs
         * and returns its result): feed them back until none is left. */
        while (outcome_pending(m)) {
                struct node_snapshot snap;
                observe_outcome(m, now_usec(CLOCK_MONOTONIC), &snap);
                int r = agent_step(&snap, &m->state, &m->ap, &m->actions);
                if (r < 0)
                        log_warning_errno(r, "Failed to decide: %m; acting on what was decided");
                act_counted(m);
        }
        /* The step and its outcomes are settled: keep what a restart must not forget. */
        persist_maybe_save(m);
}

static void refresh(struct manager *m, uint64_t now)
{
        bool had_kp = m->model.has_kubepods;
        uint64_t kp_id = had_kp ? m->model.kubepods.id : 0;
        size_t had_pods = m->model.n_pods;
        watch_kubepods_dirs(m); /* before the scan: see there */
        if (model_refresh(&m->model, m->p.workload_roots, m->p.n_workload_roots) < 0)
                return;
        m->refresh_needed = false;
        fit_nofile(m);
        observe_self(m);
        m->next_refresh_usec = now + REFRESH_EVERY_USEC;
        bool new_watches = m->model.n_pods != had_pods;
        if (m->model.has_kubepods != had_kp || (had_kp && m->model.kubepods.id != kp_id)) {
                arm_kubepods_watch(m);
                arm_triggers(m);
                new_watches = true;
        }
        watch_pod_dirs(m);
        watch_cgroup_events(m);
        m->pod_trigs_stale = true; /* chosen after the next full sample: see arm_pod_triggers() */
        /* A directory created between the scan and its new watch raised no event: scan once
         * more at the next tick, now that the watches are in place. */
        if (new_watches)
                m->refresh_needed = true;
}

static void tick(struct manager *m, const char *why)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        bool refreshed = m->refresh_needed || now >= m->next_refresh_usec;
        if (refreshed)
                refresh(m, now);
        struct node_snapshot snap;
        if (observe_sample(m, now, why, &snap) < 0)
                return;
        if (m->pod_trigs_stale && m->sampled_all)
                arm_pod_triggers(m);
        decide_and_act(m, &snap, now);
        /* A walk builds a whole new model and frees the old one, and the step after it grows its
         * per-cgroup arrays for the cgroups found (realloc, each old block freed):
         * give the freed heap back once both are done, or the high-water mark of start-up and of
         * every rescan stays resident (issue 13: 1.5 of the 3.5 MiB heap at 250 pods). */
        if (refreshed)
                (void)malloc_trim(0);
}

static uint64_t current_interval(const struct manager *m)
{
        return agent_wants_fast(&m->state) ? m->p.fast_sample_interval_usec
                                           : m->p.sample_interval_usec;
}

static void rearm_timer(struct manager *m)
{
        uint64_t next = now_usec(CLOCK_MONOTONIC) + current_interval(m);
        (void)sd_event_source_set_time(m->timer, next);
        (void)sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

void manager_run_tick(struct manager *m, const char *why)
{
        tick(m, why);
        rearm_timer(m);
        if (!m->ready_sent) {
                (void)sd_notify(0, "READY=1\nSTATUS=Watching memory pressure");
                m->ready_sent = true;
        }
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        struct manager *m = userdata;
        m->metrics.wakeups[WAKE_TIMER]++;
        manager_run_tick(m, "sample");
        return 0;
}

static int on_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)fd;
        if (revents & EPOLLERR) {
                /* The cgroup went away: drop the trigger, the next refresh re-arms. */
                for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                        if (m->trig_src[i] == s) {
                                m->trig_src[i] = sd_event_source_disable_unref(m->trig_src[i]);
                                psi_trigger_close(&m->trig[i]);
                        }
                m->refresh_needed = true;
                return 0;
        }
        m->metrics.wakeups[s == m->trig_src[SCOPE_NODE] ? WAKE_PSI_NODE : WAKE_PSI_KUBEPODS]++;
        manager_run_tick(m, "psi");
        return 0;
}

static int cmp_watch(const void *a, const void *b)
{
        const struct events_watch *x = a, *y = b;
        return (x->wd > y->wd) - (x->wd < y->wd);
}

static struct cgroup *find_cgroup_mut(struct manager *m, uint64_t id)
{
        return (struct cgroup *)model_find_cgroup(&m->model, id);
}

/* memory.events of a pod or container changed (the kernel notifies on every high, max, oom
 * event): it is read in full by the next tick. Returns whether wd was one of these watches. */
static bool wake_cgroup_event(struct manager *m, int wd)
{
        struct events_watch key = { .wd = wd };
        const struct events_watch *w =
            m->n_ev_watches ? bsearch(&key, m->ev_watches, m->n_ev_watches, sizeof(key), cmp_watch)
                            : NULL;
        struct cgroup *c = w ? find_cgroup_mut(m, w->cgroup_id) : NULL;
        if (!c)
                return false;
        c->woken = true;
        return true;
}

/* A pod's PSI trigger fired: the pod and its containers are read in full by the next tick. */
static int on_pod_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)fd;
        struct pod_trigger *pt = NULL;
        for (size_t i = 0; i < m->n_pod_trigs && !pt; i++)
                if (m->pod_trigs[i].src == s)
                        pt = &m->pod_trigs[i];
        if (!pt)
                return 0;
        if (revents & EPOLLERR) {
                /* The pod went away: its trigger with it; the walk that follows chooses again. */
                pt->src = sd_event_source_disable_unref(pt->src);
                psi_trigger_close(&pt->t);
                *pt = m->pod_trigs[--m->n_pod_trigs];
                m->refresh_needed = true;
                return 0;
        }
        m->metrics.wakeups[WAKE_PSI_POD]++;
        for (size_t i = 0; i < m->model.n_pods; i++) {
                struct pod *p = &m->model.pods[i];
                if (p->cg.id != pt->cgroup_id)
                        continue;
                p->cg.woken = true;
                for (size_t j = 0; j < p->n_containers; j++)
                        p->containers[j].cg.woken = true;
                break;
        }
        return 0;
}

static void pod_triggers_close(struct manager *m)
{
        for (size_t i = 0; i < m->n_pod_trigs; i++) {
                m->pod_trigs[i].src = sd_event_source_disable_unref(m->pod_trigs[i].src);
                psi_trigger_close(&m->pod_trigs[i].t);
        }
        m->n_pod_trigs = 0;
}

static const struct pod *pod_by_id(const struct manager *m, uint64_t id)
{
        for (size_t i = 0; i < m->model.n_pods; i++)
                if (m->model.pods[i].cg.id == id)
                        return &m->model.pods[i];
        return NULL;
}

static bool pod_limited(const struct pod *p)
{
        return p && (p->cg.s.have & CG_HAVE(CGF_MAX)) && p->cg.s.max != CG_UNLIMITED;
}

/* Events before polling (issue 13): a PSI trigger ("some" stall over the configured share of the
 * PSI window, as the node's) on each pod with a memory limit, up to POD_TRIGGERS_MAX, in the
 * model's order: the kernel wakes the agent when one of them stalls, and the pod is read in full
 * at once. A pod whose trigger is armed keeps it; those no longer chosen (gone, limit removed)
 * lose it. The kernel refuses triggers where they cannot work (a copied tree): sampling alone. */
static void arm_pod_triggers(struct manager *m)
{
        m->pod_trigs_stale = false;
        if (!m->pod_trigs) {
                m->pod_trigs = calloc(POD_TRIGGERS_MAX, sizeof(*m->pod_trigs));
                if (!m->pod_trigs)
                        return;
        }
        for (size_t i = 0; i < m->n_pod_trigs;) {
                if (pod_limited(pod_by_id(m, m->pod_trigs[i].cgroup_id))) {
                        i++;
                        continue;
                }
                m->pod_trigs[i].src = sd_event_source_disable_unref(m->pod_trigs[i].src);
                psi_trigger_close(&m->pod_trigs[i].t);
                m->pod_trigs[i] = m->pod_trigs[--m->n_pod_trigs];
        }
        uint64_t stall = (uint64_t)((double)m->p.psi_window_usec * m->p.psi_low_some / 100.0);
        if (stall == 0)
                stall = 1;
        size_t refused = 0;
        int why = 0;
        for (size_t i = 0; i < m->model.n_pods && m->n_pod_trigs < POD_TRIGGERS_MAX; i++) {
                const struct pod *p = &m->model.pods[i];
                if (!pod_limited(p))
                        continue;
                bool armed = false;
                for (size_t k = 0; k < m->n_pod_trigs && !armed; k++)
                        armed = m->pod_trigs[k].cgroup_id == p->cg.id;
                if (armed)
                        continue;
                struct pod_trigger *pt = &m->pod_trigs[m->n_pod_trigs];
                *pt = (struct pod_trigger){ .cgroup_id = p->cg.id, .t = { .fd = -1 } };
                _cleanup_close_ int dfd = cgroup_dir_open(&p->cg);
                int r = dfd < 0 ? dfd
                                : psi_trigger_arm(dfd, "memory.pressure", PSI_SOME, stall,
                                                  m->p.psi_window_usec, &pt->t);
                if (r >= 0 && (r = sd_event_add_io(m->event, &pt->src, pt->t.fd, EPOLLPRI,
                                                   on_pod_trigger, m)) < 0)
                        psi_trigger_close(&pt->t);
                if (r < 0) {
                        refused++;
                        why = r;
                        continue;
                }
                m->n_pod_trigs++;
        }
        if (refused > 0)
                log_debug_errno(why,
                                "PSI triggers refused for %zu pods with a memory limit (%m): "
                                "sampling alone detects their pressure",
                                refused);
}

static void ev_watch_add(struct manager *m, struct cgroup *c)
{
        if (m->n_ev_watches >= EVENTS_WATCH_MAX)
                return;
        if (m->n_ev_watches == m->cap_ev_watches) {
                size_t cap = m->cap_ev_watches ? m->cap_ev_watches * 2 : 256;
                struct events_watch *n = reallocarray(m->ev_watches, cap, sizeof(*n));
                if (!n)
                        return; /* read every tick, as without a watch */
                m->ev_watches = n;
                m->cap_ev_watches = cap;
        }
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s/memory.events", m->p.cgroup_root, c->path) >=
            (int)sizeof(path))
                return;
        int wd = inotify_add_watch(m->inotify_fd, path, IN_MODIFY);
        if (wd < 0) {
                if (errno == ENOSPC && !m->ev_watches_full_said) {
                        log_info("No inotify watch left for %s (fs.inotify.max_user_watches): "
                                 "cgroups without one read memory.events every tick",
                                 path);
                        m->ev_watches_full_said = true;
                }
                return;
        }
        m->ev_watches[m->n_ev_watches++] = (struct events_watch){ wd, c->id };
        c->events_watched = true;
}

/* Events before polling (issue 13): a watch on each pod's and container's memory.events, up to
 * EVENTS_WATCH_MAX, so that a calm tick need not read them: the kernel says when they change,
 * and the cgroup is read in full by the next tick (not pulled in: the pressure detector's
 * hysteresis counts ticks, and a container throttled at memory.high changes its memory.events
 * all the time), as when every tick read memory.events. Adding a watch on a watched file returns
 * its wd again; the table is rebuilt after each walk, whose cgroups are new. */
static void watch_cgroup_events(struct manager *m)
{
        m->n_ev_watches = 0;
        if (m->inotify_fd < 0)
                return;
        for (size_t i = 0; i < m->model.n_pods; i++) {
                struct pod *p = &m->model.pods[i];
                ev_watch_add(m, &p->cg);
                for (size_t j = 0; j < p->n_containers; j++)
                        ev_watch_add(m, &p->containers[j].cg);
        }
        if (m->n_ev_watches > 1)
                qsort(m->ev_watches, m->n_ev_watches, sizeof(*m->ev_watches), cmp_watch);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool events_changed = false;
        (void)s;
        (void)revents;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)p;
                        if (ev->wd == m->kp_events_wd && (ev->mask & IN_MODIFY)) {
                                events_changed = true;
                                m->metrics.wakeups[WAKE_EVENTS_KUBEPODS]++;
                        } else if (ev->mask & IN_MODIFY) {
                                if (wake_cgroup_event(m, ev->wd))
                                        m->metrics.wakeups[WAKE_EVENTS_CGROUP]++;
                        } else
                                m->refresh_needed = true;
                        p += sizeof(*ev) + ev->len;
                }
        }
        if (events_changed)
                manager_run_tick(m, "memory.events");
        else if (m->refresh_needed) {
                /* A pod or container came or went: look within REFRESH_SOON_USEC rather than at
                 * the next sample, which may be a second away (a burst of creations, as when the
                 * kubelet starts a pod's containers, is one refresh). */
                uint64_t due, soon = now_usec(CLOCK_MONOTONIC) + REFRESH_SOON_USEC;
                if (sd_event_source_get_time(m->timer, &due) >= 0 && due > soon)
                        (void)sd_event_source_set_time(m->timer, soon);
        }
        return 0;
}

/* Watches kubepods' memory.events (the kernel notifies on every max/high/oom event) and the
 * directories where pods appear and vanish. */
/* Containers appear in a pod's directory after the pod does: watch each pod's directory too.
 * inotify_add_watch() on a watched path is a no-op, and watches of removed directories go by
 * themselves, so this runs after every refresh. */
/* kubepods and its QoS-class directories, where pods appear. The kubelet creates the QoS
 * directories after kubepods itself, possibly after the refresh that found kubepods: so this runs
 * before every scan (a watch added before the scan cannot miss a pod the scan does not see). */
static void watch_kubepods_dirs(struct manager *m)
{
        static const char *const qos_dirs[] = { "kubepods-burstable.slice",
                                                "kubepods-besteffort.slice", "burstable",
                                                "besteffort" };
        char path[512];
        if (m->inotify_fd < 0 || !m->model.has_kubepods)
                return;
        snprintf(path, sizeof(path), "%s%s", m->p.cgroup_root, m->model.kubepods.path);
        (void)inotify_add_watch(m->inotify_fd, path, IN_CREATE | IN_DELETE | IN_ONLYDIR);
        for (size_t i = 0; i < ELEMENTSOF(qos_dirs); i++) {
                char sub[600];
                snprintf(sub, sizeof(sub), "%s/%s", path, qos_dirs[i]);
                (void)inotify_add_watch(m->inotify_fd, sub, IN_CREATE | IN_DELETE | IN_ONLYDIR);
        }
}

static void watch_pod_dirs(struct manager *m)
{
        if (m->inotify_fd < 0)
                return;
        for (size_t i = 0; i < m->model.n_pods; i++) {
                char path[600];
                snprintf(path, sizeof(path), "%s%s", m->p.cgroup_root, m->model.pods[i].cg.path);
                (void)inotify_add_watch(m->inotify_fd, path, IN_CREATE | IN_DELETE | IN_ONLYDIR);
        }
}

static void arm_kubepods_watch(struct manager *m)
{
        if (m->inotify_fd < 0)
                return;
        /* Recreate the inotify instance: simplest way to drop every old watch at once. */
        m->inotify_src = sd_event_source_disable_unref(m->inotify_src);
        safe_close(m->inotify_fd);
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        m->kp_events_wd = -1;
        if (m->inotify_fd < 0)
                return;
        if (sd_event_add_io(m->event, &m->inotify_src, m->inotify_fd, EPOLLIN, on_inotify, m) < 0)
                return;
        if (!m->model.has_kubepods) {
                /* No kubepods yet (memagentd started before the kubelet): learn at once when
                 * it appears under the root, rather than at the next periodic rescan. */
                (void)inotify_add_watch(m->inotify_fd, m->p.cgroup_root, IN_CREATE | IN_ONLYDIR);
                return;
        }
        char path[512];
        snprintf(path, sizeof(path), "%s%s/memory.events", m->p.cgroup_root,
                 m->model.kubepods.path);
        m->kp_events_wd = inotify_add_watch(m->inotify_fd, path, IN_MODIFY);
        watch_kubepods_dirs(m);
}

static void arm_one_trigger(struct manager *m, enum scope_id i, int dirfd, const char *file)
{
        struct psi_trigger *t = &m->trig[i];
        m->trig_src[i] = sd_event_source_disable_unref(m->trig_src[i]);
        if (t->fd >= 0)
                psi_trigger_close(t);
        uint64_t stall = (uint64_t)((double)m->p.psi_window_usec * m->p.psi_low_some / 100.0);
        if (stall == 0)
                stall = 1;
        int r = psi_trigger_arm(dirfd, file, PSI_SOME, stall, m->p.psi_window_usec, t);
        if (r < 0) {
                t->fd = -1;
                log_info_errno(r,
                               "Cannot arm a PSI trigger for %s (%m); sampling alone will detect "
                               "its pressure",
                               scope_to_string(i));
                return;
        }
        r = sd_event_add_io(m->event, &m->trig_src[i], t->fd, EPOLLPRI, on_trigger, m);
        if (r < 0) {
                psi_trigger_close(t);
                log_warning_errno(r, "Failed to watch the PSI trigger of %s: %m, ignoring",
                                  scope_to_string(i));
                return;
        }
        log_info("PSI trigger armed for %s: some %llu ms in %llu ms windows%s", scope_to_string(i),
                 (unsigned long long)t->stall_usec / 1000,
                 (unsigned long long)t->window_usec / 1000,
                 t->adjusted ? " (window widened: the kernel refused the configured one)" : "");
}

static void arm_triggers(struct manager *m)
{
        arm_one_trigger(m, SCOPE_NODE, m->proc_fd, "pressure/memory");
        if (m->model.has_kubepods)
                arm_one_trigger(m, SCOPE_KUBEPODS, m->model.kubepods.dfd, "memory.pressure");
}

/* ---- lifecycle ---- */

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        (void)si;
        if (m->reload) {
                (void)sd_notify(0, "RELOADING=1");
                (void)m->reload(m, m->reload_userdata);
                (void)sd_notify(0, "READY=1");
        }
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        log_info("Received %s, exiting", strsignal((int)si->ssi_signo));
        (void)sd_notify(0, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

/* fds kept for everything but cgroups: the loop's sources, sockets, the API's and memschedd's
 * connections, PSI triggers, the state file, the journal. */
#define FD_RESERVE 256
/* A cgroup read every tick keeps its directory, memory.current and memory.events open. */
#define FDS_PER_CGROUP_EVERY_TICK 3

/* The fd budget of the cgroups (agent/kernel/cgroup.h) under the soft limit: what is left after
 * FD_RESERVE, at least half of the limit. */
static void set_fd_budget(rlim_t soft)
{
        size_t limit = soft > SIZE_MAX ? SIZE_MAX : (size_t)soft;
        cgroup_set_fd_budget(limit > 2 * FD_RESERVE ? limit - FD_RESERVE : limit / 2);
}

/* At start: the soft limit up to the hard one (systemd's default soft limit is 1,024, issue 15). */
static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        set_fd_budget(rl.rlim_cur);
}

/* After a walk: when the cgroups' every-tick files need more than the limit, raise the hard
 * limit too (allowed with CAP_SYS_RESOURCE, up to fs.nr_open); otherwise the budget holds, and
 * the cgroups beyond it are read by path (slower, said once). */
static void fit_nofile(const struct manager *m)
{
        struct rlimit rl;
        rlim_t need = (rlim_t)model_count(&m->model) * FDS_PER_CGROUP_EVERY_TICK + FD_RESERVE;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
                return;
        struct rlimit want = { need, rl.rlim_max > need ? rl.rlim_max : need };
        if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
                if (rl.rlim_cur >= rl.rlim_max)
                        return; /* as high as it goes: the budget holds */
                want = (struct rlimit){ rl.rlim_max, rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &want) < 0)
                        return;
        }
        log_info("Raised RLIMIT_NOFILE from %llu to %llu for %zu cgroups",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)want.rlim_cur,
                 model_count(&m->model));
        set_fd_budget(want.rlim_cur);
}

int manager_apply_params(struct manager *m, const struct daemon_params *p)
{
        struct policy_chain *chain = NULL;
        int r = policy_chain_load(p->policies, p->n_policies, p->plugin_dir, &chain);
        if (r < 0)
                return r;
        if (m->chain)
                policy_chain_free(m->chain);
        m->chain = chain;
        bool psi_changed =
            m->p.psi_window_usec != p->psi_window_usec || m->p.psi_low_some != p->psi_low_some;
        size_t logsize = m->p.decision_log_size ? m->p.decision_log_size : p->decision_log_size;
        m->p = *p;
        /* Keep what cannot change at run time, from our own copies. */
        m->p.cgroup_root = m->cgroup_root;
        m->p.proc_root = m->proc_root;
        m->p.sys_root = m->sys_root;
        m->p.api_socket = m->api_socket;
        m->p.state_directory = m->state_directory;
        m->p.decision_log_size = logsize;
        m->ap = (struct agent_params){
                .avail_low = p->avail_low,
                .avail_medium = p->avail_medium,
                .avail_critical = p->avail_critical,
                .psi_low_some = p->psi_low_some,
                .psi_medium_full = p->psi_medium_full,
                .psi_critical_full = p->psi_critical_full,
                .raise_samples = p->raise_samples,
                .clear_hold_usec = p->clear_hold_usec,
                .dry_run = p->dry_run,
                .chain = m->chain,
                .kill_cooldown_usec = p->kill_cooldown_usec,
                .max_kills_per_minute = p->max_kills_per_minute,
                .grace_period_usec = p->grace_period_usec,
                .elastic = p->elastic,
                .lease = p->lease,
                .thrash = p->thrash,
        };
        m->refresh_needed = true;
        if (psi_changed && m->event)
                arm_triggers(m);
        return 0;
}

static void on_reclaim_done(void *userdata)
{
        manager_run_outcome(userdata);
}

static void manager_freep(struct manager **m)
{
        manager_free(*m);
}

int manager_new(const struct daemon_params *p, struct manager **ret, char *why, size_t why_size)
{
        _cleanup_(manager_freep) struct manager *m = calloc(1, sizeof(*m));
        int r;
        if (!m)
                return -ENOMEM;
        m->cg_fd = m->proc_fd = m->sys_fd = m->inotify_fd = m->listen_fd = -1;
        m->kp_events_wd = -1;
        m->evict.events_fd = -1;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                m->trig[i].fd = -1;
        m->model.kubepods.dfd = -1;
        agent_state_init(&m->state);

        m->cgroup_root = strdup(p->cgroup_root);
        m->proc_root = strdup(p->proc_root);
        m->sys_root = strdup(p->sys_root);
        m->api_socket = strdup(p->api_socket ? p->api_socket : "");
        m->state_directory = strdup(p->state_directory ? p->state_directory : "");
        if (!m->cgroup_root || !m->proc_root || !m->sys_root || !m->api_socket ||
            !m->state_directory)
                return -ENOMEM;
        m->cg_fd = open(p->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        m->proc_fd = open(p->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        m->sys_fd = open(p->sys_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->cg_fd < 0 || m->proc_fd < 0 || m->sys_fd < 0) {
                r = negative_errno();
                snprintf(why, why_size, "cannot open %s: %s",
                         m->cg_fd < 0     ? p->cgroup_root
                         : m->proc_fd < 0 ? p->proc_root
                                          : p->sys_root,
                         strerror(-r));
                return -EMEDIUMTYPE;
        }
        if (cgroup_root_check(p->cgroup_root, m->cg_fd, why, why_size) < 0)
                return -EMEDIUMTYPE;
        raise_nofile();
        m->scratch = malloc(SCRATCH_SIZE);
        if (!m->scratch || decision_log_init(&m->log, p->decision_log_size) < 0)
                return -ENOMEM;
        r = manager_apply_params(m, p);
        if (r < 0) {
                snprintf(why, why_size,
                         "cannot load the eviction policy chain (see the log above)");
                return r;
        }
        r = model_discover(&m->model, m->cg_fd, p->workload_roots, p->n_workload_roots);
        if (r < 0)
                return r;
        /* Before the first step: loans to return, stand-backs to keep, a cooldown to honour. */
        persist_restore(m);
        m->next_refresh_usec = now_usec(CLOCK_MONOTONIC) + REFRESH_EVERY_USEC;
        m->refresh_needed = true; /* the first tick refreshes: self_in_pods and the like */

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0 ||
            (r = sd_event_add_time_relative(m->event, &m->timer, CLOCK_MONOTONIC, 0, 1000, on_timer,
                                            m)) < 0)
                return log_error_errno(r, "Failed to set up event sources: %m");
        (void)sd_event_set_watchdog(m->event, true); /* WATCHDOG=1 pings when WatchdogSec= is set */
        r = elastic_new(m->event, on_reclaim_done, m, &m->elastic);
        if (r < 0) {
                log_warning_errno(r, "Failed to start the balloon's reclaim worker: %m; running "
                                     "without the balloon and vertical scaling");
                m->elastic = NULL;
        }
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        arm_kubepods_watch(m);
        arm_triggers(m);
        bpf_events_setup(m);
        r = local_api_setup(m);
        if (r < 0)
                return r;
        /* Standalone (no Kubernetes API client yet): ready at once. The pod watch will clear
         * this until its first list. /healthz counts from now until the first step. */
        agent_metrics_set_ready(&m->metrics, true);
        m->metrics.last_step_usec = now_usec(CLOCK_MONOTONIC);
        r = kube_side_start(m, p->kubeconfig, p->node_name ? p->node_name : "", &m->kube_side, why,
                            why_size);
        if (r < 0)
                return r == -EMEDIUMTYPE ? r
                                         : log_error_errno(r, "Failed to start the Kubernetes "
                                                              "client: %m");
        if (p->scheduler_url && *p->scheduler_url) {
                struct reporter_params rp = REPORTER_PARAMS_DEFAULT;
                if (p->report_heartbeat_usec)
                        rp.heartbeat_usec = p->report_heartbeat_usec;
                rp.ca_file = p->scheduler_ca;
                rp.cert_file = p->scheduler_cert;
                rp.key_file = p->scheduler_key;
                rp.token_file = p->scheduler_token_file;
                m->node_name = strdup(p->node_name ? p->node_name : "");
                r = m->node_name
                        ? reporter_new(m->event, p->scheduler_url, m->node_name, &rp, &m->reporter)
                        : -ENOMEM;
                if (r == -EINVAL) {
                        snprintf(why, why_size,
                                 "cannot report to memschedd at \"%s\" as node \"%s\": not a URL, "
                                 "not a Kubernetes node name or TLS files without https; set "
                                 "schedulerUrl, nodeName and schedulerCA/Cert/Key",
                                 p->scheduler_url, m->node_name);
                        return -EMEDIUMTYPE;
                }
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the node report to %s: %m",
                                               p->scheduler_url);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_run(struct manager *m, int (*reload)(struct manager *m, void *userdata), void *userdata)
{
        m->reload = reload;
        m->reload_userdata = userdata;
        return sd_event_loop(m->event);
}

void manager_free(struct manager *m)
{
        if (!m)
                return;
        eviction_stop(m);
        manager_bind_kube(m, NULL);
        m->kube_side = kube_side_free(m->kube_side); /* before the event loop it runs on */
        metrics_server_stop(m);
        m->reporter = reporter_free(m->reporter); /* before the event loop it runs on */
        free(m->node_name);
        elastic_free(m->elastic);
        bpf_events_close(m);
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                m->trig_src[i] = sd_event_source_disable_unref(m->trig_src[i]);
                if (m->trig[i].fd >= 0)
                        psi_trigger_close(&m->trig[i]);
        }
        m->inotify_src = sd_event_source_disable_unref(m->inotify_src);
        m->timer = sd_event_source_disable_unref(m->timer);
        local_api_close(m);
        safe_close(m->inotify_fd);
        model_done(&m->model);
        if (m->chain)
                policy_chain_free(m->chain);
        action_list_done(&m->actions);
        agent_state_done(&m->state);
        free(m->limits);
        free(m->qos_warned);
        decision_log_done(&m->log);
        free(m->cands);
        free(m->cand_names);
        free(m->self_ids);
        free(m->full_ids);
        pod_triggers_close(m);
        free(m->pod_trigs);
        free(m->ev_watches);
        free(m->scratch);
        safe_close(m->cg_fd);
        safe_close(m->proc_fd);
        safe_close(m->sys_fd);
        sd_event_unref(m->event);
        free(m->cgroup_root);
        free(m->proc_root);
        free(m->sys_root);
        free(m->api_socket);
        free(m->state_directory);
        persisted_state_done(&m->saved);
        free(m);
}
