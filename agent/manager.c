// SPDX-License-Identifier: Apache-2.0
#include "agent/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "agent/bpfsig.h"
#include "agent/decision.h"
#include "agent/kill.h"
#include "agent/mode.h"
#include "agent/node.h"
#include "agent/pressure.h"
#include "agent/psi.h"
#include "agent/report.h"
#include "agent/reporter.h"
#include "agent/status.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"
#include "plugins/memagent-plugin.h"
#include "plugins/policy.h"

#define SCRATCH_SIZE       (64 * 1024)
#define REFRESH_EVERY_USEC (10 * 1000000ull)
#define KILL_WAIT_MS       5000
#define KILL_HISTORY       64
#define API_TIMEOUT_SEC    2

enum scope_id {
        SCOPE_NODE,
        SCOPE_KUBEPODS,
        _SCOPE_MAX,
};
static const char *const scope_names[_SCOPE_MAX] = { "node", "kubepods" };

struct scope {
        struct pressure_state st;
        struct pressure_params params;
        bool active; /* kubepods without a memory limit is not a scope of its own */
        struct psi_trigger trig;
        sd_event_source *trig_src;
};

/* An eviction in flight: SIGTERM sent, waiting out the grace period. */
struct inflight {
        bool active;
        uint64_t decision_id;
        char cgroup[256];
        uint64_t cgroup_id;
        uint64_t decided_usec;
        sd_event_source *timer; /* the end of the grace period: kill what is left */
        int events_fd;          /* the victim's cgroup.events: empty before the end? */
        sd_event_source *events_src;
};

struct manager {
        struct daemon_params p;
        /* copies of what cannot change at run time: p's pointers to them stay valid */
        char *cgroup_root, *proc_root, *sys_root, *api_socket;
        sd_event *event;
        int cg_fd, proc_fd, sys_fd;
        char *scratch;
        struct model model;
        struct node_sample node;
        bool have_node;
        struct scope scopes[_SCOPE_MAX];
        struct policy_chain *chain;
        struct decision_log log;
        struct inflight inflight;
        uint64_t cooldown_until_usec;
        uint64_t kill_times[KILL_HISTORY]; /* monotonic usec of recent kills, ring */
        size_t kill_head;
        uint64_t kills_total, decisions_total;
        /* the first signal of the current pressure episode, for trigger-to-decision latency */
        uint64_t episode_start_usec;
        uint64_t tick_start_usec; /* when the current tick began: sample-to-decision latency */
        char episode_trigger[32];
        /* sources */
        sd_event_source *timer;
        uint64_t next_refresh_usec;
        bool refresh_needed;
        int inotify_fd;
        sd_event_source *inotify_src;
        int kp_events_wd;
        int listen_fd;
        sd_event_source *api_src;
        bool ready_sent;
        /* BPF memory signals, NULL when unavailable (the agent runs on PSI alone) */
        struct bpfsig *bpf;
        sd_event_source *bpf_src;
        uint64_t kernel_oom_kills, stall_events;
        bool oom_seen;
        /* the balloon and vertical scaling (agent/elastic.h), NULL if it could not start */
        struct elastic *elastic;
        /* the node report to memschedd, NULL without schedulerUrl */
        struct reporter *reporter;
        char *node_name;
        enum pressure_level report_level;
        uint64_t report_level_since_usec;
        bool relief_exhausted; /* at medium or above with nothing left to evict */
        bool self_in_pods;     /* memagentd runs inside a pod (checked at every refresh) */
        int (*reload)(struct manager *m, void *userdata);
        void *reload_userdata;
};

static void scope_params(struct manager *m, struct scope *s, uint64_t total)
{
        s->params = (struct pressure_params){
                .avail_low_bytes = config_bytes_or_percent_resolve(&m->p.avail_low, total),
                .avail_medium_bytes = config_bytes_or_percent_resolve(&m->p.avail_medium, total),
                .avail_critical_bytes =
                    config_bytes_or_percent_resolve(&m->p.avail_critical, total),
                .psi_low_some = m->p.psi_low_some,
                .psi_medium_full = m->p.psi_medium_full,
                .psi_critical_full = m->p.psi_critical_full,
                .raise_samples = m->p.raise_samples,
                .clear_hold_usec = m->p.clear_hold_usec,
        };
}

static enum pressure_level manager_level(const struct manager *m, enum scope_id *ret_scope)
{
        enum pressure_level lvl = LEVEL_NONE;
        enum scope_id which = SCOPE_NODE;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (m->scopes[i].active && m->scopes[i].st.level > lvl) {
                        lvl = m->scopes[i].st.level;
                        which = i;
                }
        if (ret_scope)
                *ret_scope = which;
        return lvl;
}

/* ---- candidates and ranking ---- */

static bool glob_match(const char *const *globs, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (fnmatch(globs[i], path, 0) == 0) /* no FNM_PATHNAME: a star may cross a slash */
                        return true;
        return false;
}

/* systemd-oomd's convention: user.oomd_omit / user.oomd_avoid = "1" on the cgroup directory,
 * honoured only when the directory is owned by root (an unprivileged owner could otherwise
 * shield itself). */
static bool xattr_set(int dfd, const char *name)
{
        struct stat st;
        char v[8];
        if (fstat(dfd, &st) < 0 || st.st_uid != 0)
                return false;
        ssize_t n = fgetxattr(dfd, name, v, sizeof(v) - 1);
        if (n <= 0)
                return false;
        v[n] = '\0';
        return v[0] == '1' || strcasecmp(v, "true") == 0;
}

static uint32_t candidate_flags(const struct manager *m, const struct cgroup *c)
{
        uint32_t f = 0;
        if (glob_match(m->p.protected_globs, m->p.n_protected, c->path) ||
            xattr_set(c->dfd, "user.oomd_omit") || xattr_set(c->dfd, "user.memagent_omit"))
                f |= MEMAGENT_CAND_PROTECTED;
        if (glob_match(m->p.avoid_globs, m->p.n_avoid, c->path) ||
            xattr_set(c->dfd, "user.oomd_avoid") || xattr_set(c->dfd, "user.memagent_avoid"))
                f |= MEMAGENT_CAND_AVOID;
        return f;
}

static void fill_candidate(const struct manager *m, struct memagent_candidate *cand,
                           const struct cgroup *c, const char *name, enum qos_class qos)
{
        const struct cg_sample *s = &c->s;
        *cand = (struct memagent_candidate){
                .name = name,
                .cgroup = c->path,
                .cgroup_id = c->id,
                .qos = policy_qos_to_abi(qos),
                .flags = candidate_flags(m, c),
                .current_bytes = s->current,
                .working_set_bytes = s->working_set,
                .request_bytes = (s->have & CG_HAVE(CGF_MIN)) ? s->min : 0,
                .limit_bytes = (s->have & CG_HAVE(CGF_MAX)) ? s->max : MEMAGENT_NO_LIMIT,
                .growth_bytes_per_sec = c->growth_bytes_per_sec,
                .psi_some_avg10 = s->psi.some.avg10,
                .psi_full_avg10 = s->psi.full.avg10,
                .reclaim_stall_usec = s->reclaim_stall_usec,
        };
}

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

/* ---- acting ---- */

static unsigned kills_last_minute(const struct manager *m, uint64_t now)
{
        unsigned n = 0;
        for (size_t i = 0; i < KILL_HISTORY; i++)
                if (m->kill_times[i] && now - m->kill_times[i] < 60 * 1000000ull)
                        n++;
        return n;
}

static void note_kill(struct manager *m, uint64_t now)
{
        m->kill_times[m->kill_head] = now;
        m->kill_head = (m->kill_head + 1) % KILL_HISTORY;
        m->kills_total++;
}

static void finish_kill(struct manager *m, struct decision *d, const char *cgroup, uint64_t id)
{
        struct kill_result kr;
        int r = cgroup_kill_verified(m->cg_fd, cgroup, id, KILL_WAIT_MS, &kr);
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (r < 0) {
                snprintf(d->outcome, sizeof(d->outcome), "kill failed: %s", strerror(-r));
        } else {
                snprintf(d->outcome, sizeof(d->outcome), "%s", kill_outcome_to_string(kr.outcome));
                if (kr.outcome == KILL_DONE || kr.outcome == KILL_TIMEOUT) {
                        note_kill(m, now);
                        d->freed_bytes = kr.current_before_bytes > kr.current_after_bytes
                                             ? kr.current_before_bytes - kr.current_after_bytes
                                             : 0;
                }
                if (kr.outcome == KILL_DONE)
                        d->decision_to_empty_usec = now - d->time_mono_usec;
        }
        d->done = true;
        char freed[FORMAT_BYTES_MAX];
        log_notice("Eviction #%llu of %s: %s, freed %s in %llu ms; cooling down for %llu ms",
                   (unsigned long long)d->id, cgroup, d->outcome,
                   format_bytes_iec(d->freed_bytes, freed, sizeof(freed)),
                   (unsigned long long)((now - d->time_mono_usec) / 1000),
                   (unsigned long long)(m->p.kill_cooldown_usec / 1000));
        m->cooldown_until_usec = now + m->p.kill_cooldown_usec;
        m->refresh_needed = true;
}

static void inflight_clear(struct manager *m)
{
        m->inflight.timer = sd_event_source_disable_unref(m->inflight.timer);
        m->inflight.events_src = sd_event_source_disable_unref(m->inflight.events_src);
        m->inflight.events_fd = safe_close(m->inflight.events_fd);
        m->inflight.active = false;
}

/* The victim left within the grace period: record it and start the cooldown. */
static void inflight_terminated(struct manager *m, struct decision *d)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        snprintf(d->outcome, sizeof(d->outcome), "terminated gracefully");
        d->decision_to_empty_usec = now - d->time_mono_usec;
        d->done = true;
        note_kill(m, now);
        m->cooldown_until_usec = now + m->p.kill_cooldown_usec;
        m->refresh_needed = true;
        log_notice(
            "Eviction #%llu of %s: terminated gracefully in %llu ms; cooling down for %llu ms",
            (unsigned long long)d->id, m->inflight.cgroup,
            (unsigned long long)(d->decision_to_empty_usec / 1000),
            (unsigned long long)(m->p.kill_cooldown_usec / 1000));
}

static struct decision *inflight_decision(struct manager *m, struct decision *scratch)
{
        struct decision *d = decision_log_find(&m->log, m->inflight.decision_id);
        /* The ring wrapped over it: still act, just do not record. */
        return d ? d : memset(scratch, 0, sizeof(*scratch));
}

static int on_grace_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct manager *m = userdata;
        struct decision scratch;
        (void)s;
        (void)usec;
        struct decision *d = inflight_decision(m, &scratch);
        int pop = cgroup_populated(m->cg_fd, m->inflight.cgroup);
        if (pop == 0 || errno_is_vanished(pop))
                inflight_terminated(m, d);
        else
                finish_kill(m, d, m->inflight.cgroup, m->inflight.cgroup_id);
        inflight_clear(m);
        return 0;
}

static int on_victim_events(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        struct decision scratch;
        char buf[256];
        (void)s;
        (void)revents;
        ssize_t n = pread_full(fd, buf, sizeof(buf));
        if (n >= 0 && !strstr(buf, "populated 0"))
                return 0; /* still running: keep waiting */
        inflight_terminated(m, inflight_decision(m, &scratch));
        inflight_clear(m);
        return 0;
}

/* True when pid is one of the cgroup's processes (its own cgroup.procs, not descendants'). */
static bool cgroup_has_pid(int dfd, pid_t pid)
{
        static char buf[65536]; /* the loop's thread only */
        ssize_t n = read_file_at(dfd, "cgroup.procs", buf, sizeof(buf));
        if (n <= 0)
                return false;
        for (char *q = buf; *q;) {
                char *end;
                long v = strtol(q, &end, 10);
                if (end == q)
                        break;
                if (v == pid)
                        return true;
                q = *end ? end + 1 : end;
        }
        return false;
}

/* memagentd never evicts the pod (or service) it runs in. Found by our pid in the candidate's
 * processes, which works in a cgroup namespace too, where /proc/self/cgroup only says "/" (the
 * DaemonSet runs with hostPID, so cgroup.procs lists our own pid). */
static bool is_own_pod(const struct pod *p, pid_t self)
{
        if (cgroup_has_pid(p->cg.dfd, self))
                return true;
        for (size_t j = 0; j < p->n_containers; j++)
                if (cgroup_has_pid(p->containers[j].cg.dfd, self))
                        return true;
        return false;
}

static void decide_and_act(struct manager *m, enum scope_id sid, uint64_t now)
{
        const struct scope *sc = &m->scopes[sid];
        size_t n = 0, cap = m->model.n_pods + (m->model.has_kubepods ? 0 : m->model.n_workloads);
        _cleanup_free_ struct memagent_candidate *cands = calloc(cap + 1, sizeof(*cands));
        _cleanup_free_ char(*names)[96] = calloc(cap + 1, sizeof(*names));
        if (!cands || !names)
                return;
        for (size_t i = 0; i < m->model.n_pods; i++) {
                struct pod *p = &m->model.pods[i];
                snprintf(names[n], sizeof(names[n]), "pod %s", p->uid);
                fill_candidate(m, &cands[n], &p->cg, names[n], p->qos);
                if (is_own_pod(p, getpid()))
                        cands[n].flags |= MEMAGENT_CAND_PROTECTED;
                n++;
        }
        /* On a host without Kubernetes, configured workloads are what there is to protect the
         * node with. On a Kubernetes node, system services (kubelet, containerd, sshd) are
         * never evicted: the kubelet does not evict them either. */
        if (!m->model.has_kubepods)
                for (size_t i = 0; i < m->model.n_workloads; i++) {
                        struct workload *w = &m->model.workloads[i];
                        snprintf(names[n], sizeof(names[n]), "%s", w->name);
                        fill_candidate(m, &cands[n], &w->cg, names[n], w->qos);
                        cands[n].flags |= MEMAGENT_CAND_WORKLOAD;
                        if (cgroup_has_pid(w->cg.dfd, getpid()))
                                cands[n].flags |= MEMAGENT_CAND_PROTECTED;
                        n++;
                }

        struct memagent_rank_context ctx = {
                .level = policy_level_to_abi(sc->st.level),
                .scope = scope_names[sid],
                .scope_total_bytes = sc->st.total_bytes,
                .scope_available_bytes = sc->st.available_bytes,
        };
        _cleanup_free_ size_t *order = calloc(n + 1, sizeof(*order));
        _cleanup_free_ struct memagent_rank *ranks = calloc(n + 1, sizeof(*ranks));
        size_t n_ranked = 0;
        if (!order || !ranks)
                return;
        int r = policy_chain_rank(m->chain, &ctx, cands, n, order, &n_ranked, ranks);

        struct decision *d = decision_log_new(&m->log);
        m->decisions_total++;
        snprintf(d->scope, sizeof(d->scope), "%s", scope_names[sid]);
        snprintf(d->level, sizeof(d->level), "%s", pressure_level_to_string(sc->st.level));
        snprintf(d->trigger, sizeof(d->trigger), "%s",
                 m->episode_trigger[0] ? m->episode_trigger : "sample");
        pressure_describe(&sc->st, d->signals, sizeof(d->signals));
        d->available_bytes = sc->st.available_bytes;
        d->total_bytes = sc->st.total_bytes;
        d->psi_some_pct = sc->st.some_pct;
        d->psi_full_pct = sc->st.full_pct;
        d->dry_run = m->p.dry_run;
        d->n_candidates = (unsigned)n;
        d->n_excluded = (unsigned)(n - (r < 0 ? 0 : n_ranked));
        d->sample_to_decision_usec = d->time_mono_usec - m->tick_start_usec;
        d->trigger_to_decision_usec =
            m->episode_start_usec ? d->time_mono_usec - m->episode_start_usec : 0;
        m->cooldown_until_usec = now + m->p.kill_cooldown_usec;

        if (r < 0 || n_ranked == 0) {
                snprintf(d->action, sizeof(d->action), "none");
                snprintf(d->outcome, sizeof(d->outcome),
                         r < 0 ? "ranking failed" : "no candidate (all protected or none)");
                m->relief_exhausted = true;
                d->done = true;
                log_warning("%s pressure is %s (%s) but there is nothing to evict: %s",
                            scope_names[sid], d->level, d->signals, d->outcome);
                return;
        }
        const struct memagent_candidate *v = &cands[order[0]];
        d->has_victim = true;
        copy_candidate(&d->victim, v, ranks[order[0]].reason);
        for (size_t i = 1; i < n_ranked && d->n_runners_up < DECISION_RUNNERS_UP; i++)
                copy_candidate(&d->runners_up[d->n_runners_up++], &cands[order[i]],
                               ranks[order[i]].reason);

        bool critical = sc->st.level >= LEVEL_CRITICAL;
        snprintf(d->action, sizeof(d->action), "%s",
                 critical || m->p.grace_period_usec == 0 ? "kill" : "terminate");
        log_notice("%s pressure is %s (%s): %s %s %s (%s)%s", scope_names[sid], d->level,
                   d->signals, m->p.dry_run ? "would" : "will", d->action, v->name,
                   d->victim.reason, m->p.dry_run ? " [dry run]" : "");
        if (m->p.dry_run) {
                snprintf(d->outcome, sizeof(d->outcome), "not acted: dry run");
                d->done = true;
                return;
        }
        if (critical || m->p.grace_period_usec == 0) {
                finish_kill(m, d, v->cgroup, v->cgroup_id);
                return;
        }
        int k = cgroup_signal_all(m->cg_fd, v->cgroup, SIGTERM);
        if (k <= 0) {
                /* Nothing to signal (exited) or failed: the kill path sorts it out now. */
                finish_kill(m, d, v->cgroup, v->cgroup_id);
                return;
        }
        m->inflight = (struct inflight){ .active = true,
                                         .decision_id = d->id,
                                         .cgroup_id = v->cgroup_id,
                                         .decided_usec = now,
                                         .events_fd = -1 };
        snprintf(m->inflight.cgroup, sizeof(m->inflight.cgroup), "%s", v->cgroup);
        snprintf(d->outcome, sizeof(d->outcome), "SIGTERM sent to %d processes, grace %llu ms", k,
                 (unsigned long long)(m->p.grace_period_usec / 1000));
        r = sd_event_add_time_relative(m->event, &m->inflight.timer, CLOCK_MONOTONIC,
                                       m->p.grace_period_usec, 1000, on_grace_timer, m);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the grace timer: %m, killing now");
                inflight_clear(m);
                finish_kill(m, d, v->cgroup, v->cgroup_id);
                return;
        }
        /* Learn at once when the victim is gone: the kernel notifies on cgroup.events. */
        char ev[300];
        snprintf(ev, sizeof(ev), "%s/cgroup.events",
                 v->cgroup[0] == '/' ? v->cgroup + 1 : v->cgroup);
        m->inflight.events_fd = openat(m->cg_fd, ev, O_RDONLY | O_CLOEXEC);
        if (m->inflight.events_fd >= 0 &&
            sd_event_add_io(m->event, &m->inflight.events_src, m->inflight.events_fd, EPOLLPRI,
                            on_victim_events, m) < 0)
                m->inflight.events_fd = safe_close(m->inflight.events_fd);
}

/* ---- the balloon and vertical scaling (agent/elastic.c) ---- */

/* What may be lent without raising level low anywhere: the least, over the active scopes, of
 * available memory above the scope's low threshold. */
static uint64_t lendable_bytes(const struct manager *m)
{
        uint64_t h = UINT64_MAX;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope *s = &m->scopes[i];
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

static void elastic_step(struct manager *m, uint64_t now)
{
        if (!m->elastic)
                return;
        enum scope_id sid;
        enum pressure_level lvl = manager_level(m, &sid);
        char signals[192];
        pressure_describe(&m->scopes[sid].st, signals, sizeof(signals));
        struct elastic_view v = {
                .model = &m->model,
                .node = &m->node,
                .now_usec = now,
                .level = lvl,
                .scope = scope_names[sid],
                .signals = signals,
                .headroom_bytes = lendable_bytes(m),
                .dry_run = m->p.dry_run,
                .log = &m->log,
        };
        elastic_tick(m->elastic, &v);
}

/* ---- sampling ---- */

static void arm_kubepods_watch(struct manager *m);
static void watch_pod_dirs(struct manager *m);
static void arm_triggers(struct manager *m);

/* Hands the node report to the reporter, which decides whether it is worth sending now. */
static void submit_report(struct manager *m, enum pressure_level lvl, uint64_t now)
{
        if (!m->reporter || !m->have_node)
                return;
        if (lvl != m->report_level || m->report_level_since_usec == 0) {
                m->report_level = lvl;
                m->report_level_since_usec = now;
        }
        if (lvl < LEVEL_MEDIUM)
                m->relief_exhausted = false;
        bool limited = m->model.has_kubepods && (m->model.kubepods.s.have & CG_HAVE(CGF_MAX)) &&
                       m->model.kubepods.s.max != CG_UNLIMITED;
        uint64_t kp_max = limited ? m->model.kubepods.s.max : 0;
        struct report_input in = {
                .node_name = m->node_name,
                .node = &m->node,
                .model = &m->model,
                .level = lvl,
                .level_duration_ms = (now - m->report_level_since_usec) / 1000,
                .relief_exhausted =
                    m->relief_exhausted ||
                    (lvl >= LEVEL_MEDIUM && kills_last_minute(m, now) >= m->p.max_kills_per_minute),
                /* what the kubelet keeps from pods: capacity minus allocatable */
                .reserved_bytes =
                    kp_max && m->node.mem.total > kp_max ? m->node.mem.total - kp_max : 0,
        };
        struct json_object *rep = report_build(&in);
        if (rep) {
                reporter_submit(m->reporter, rep);
                json_object_put(rep);
        }
}

static void tick(struct manager *m, const char *why)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        m->tick_start_usec = now;

        if (m->refresh_needed || now >= m->next_refresh_usec) {
                bool had_kp = m->model.has_kubepods;
                uint64_t kp_id = had_kp ? m->model.kubepods.id : 0;
                if (model_refresh(&m->model, m->p.workload_roots, m->p.n_workload_roots) == 0) {
                        m->refresh_needed = false;
                        m->self_in_pods = false;
                        for (size_t i = 0; i < m->model.n_pods && !m->self_in_pods; i++)
                                m->self_in_pods = is_own_pod(&m->model.pods[i], getpid());
                        m->next_refresh_usec = now + REFRESH_EVERY_USEC;
                        if (m->model.has_kubepods != had_kp ||
                            (had_kp && m->model.kubepods.id != kp_id)) {
                                arm_kubepods_watch(m);
                                arm_triggers(m);
                        }
                        watch_pod_dirs(m);
                }
        }
        if (node_sample(m->proc_fd, m->sys_fd, &m->node, m->scratch, SCRATCH_SIZE) == 0)
                m->have_node = true;
        model_sample(&m->model, m->scratch, SCRATCH_SIZE);
        if (m->bpf) {
                (void)bpfsig_consume(m->bpf); /* stall events do not wake us: drain them here */
                bpfsig_fill_model(m->bpf, &m->model);
        }

        if (!m->have_node)
                return;
        enum pressure_level before = manager_level(m, NULL);

        struct scope *ns = &m->scopes[SCOPE_NODE];
        scope_params(m, ns, m->node.mem.total);
        /* The balloon's worker stalls inside memory.reclaim by design; that time is ours, not the
         * node's pressure: take it out of the stall totals (a cumulative counter, so the
         * difference between samples drops exactly the time spent in this interval). */
        uint64_t own_usec = elastic_reclaim_busy_usec(m->elastic);
#define LESS_OWN(t) ((t) > own_usec ? (t)-own_usec : 0)
        struct pressure_input in = {
                .total_bytes = m->node.mem.total,
                .available_bytes = m->node.mem.available,
                .has_psi = m->node.has_psi,
                .psi_some_total_usec = LESS_OWN(m->node.psi.some.total_usec),
                .psi_full_total_usec = LESS_OWN(m->node.psi.full.total_usec),
                .now_usec = now,
        };
        enum pressure_level old = ns->st.level;
        pressure_update(&ns->st, &ns->params, &in);
        ns->active = true;

        struct scope *ks = &m->scopes[SCOPE_KUBEPODS];
        const struct cg_sample *kp = &m->model.kubepods.s;
        bool kp_limited =
            m->model.has_kubepods && (kp->have & CG_HAVE(CGF_MAX)) && kp->max != CG_UNLIMITED;
        enum pressure_level kold = ks->st.level;
        if (kp_limited) {
                scope_params(m, ks, kp->max);
                struct pressure_input kin = {
                        .total_bytes = kp->max,
                        .available_bytes =
                            kp->max > kp->working_set ? kp->max - kp->working_set : 0,
                        .has_psi = (kp->have & CG_HAVE(CGF_PRESSURE)) != 0,
                        /* when memagentd itself runs in a pod (a DaemonSet) */
                        .psi_some_total_usec = m->self_in_pods ? LESS_OWN(kp->psi.some.total_usec)
                                                               : kp->psi.some.total_usec,
                        .psi_full_total_usec = m->self_in_pods ? LESS_OWN(kp->psi.full.total_usec)
                                                               : kp->psi.full.total_usec,
                        .now_usec = now,
                };
                pressure_update(&ks->st, &ks->params, &kin);
                ks->active = true;
        } else {
                ks->active = false;
                ks->st = (struct pressure_state){ 0 };
        }
#undef LESS_OWN

        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                struct scope *s = &m->scopes[i];
                enum pressure_level was = i == SCOPE_NODE ? old : kold;
                if (s->active && s->st.level != was) {
                        char desc[192];
                        pressure_describe(&s->st, desc, sizeof(desc));
                        log_full_errno(s->st.level > was ? LOG_NOTICE : LOG_INFO, 0,
                                       "%s memory pressure %s -> %s: %s", scope_names[i],
                                       pressure_level_to_string(was),
                                       pressure_level_to_string(s->st.level), desc);
                }
        }

        /* Episode bookkeeping: the first sign of trouble starts the latency clock. */
        bool rising = false;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (m->scopes[i].active && m->scopes[i].st.raw >= LEVEL_MEDIUM)
                        rising = true;
        enum scope_id sid;
        enum pressure_level lvl = manager_level(m, &sid);
        if ((rising || lvl >= LEVEL_MEDIUM) && m->episode_start_usec == 0) {
                m->episode_start_usec = now;
                snprintf(m->episode_trigger, sizeof(m->episode_trigger), "%s", why);
        } else if (!rising && lvl < LEVEL_MEDIUM && before < LEVEL_MEDIUM) {
                m->episode_start_usec = 0;
                m->episode_trigger[0] = '\0';
        }

        elastic_step(m, now); /* the first rung: reclaim cold memory, lend before an OOM */

        /* Act on pressure that is there now: after a kill the level stays up for clearHold
         * (hysteresis), but a sample below medium means the kill already relieved it. */
        if (lvl >= LEVEL_MEDIUM && m->scopes[sid].st.raw >= LEVEL_MEDIUM && !m->inflight.active &&
            now >= m->cooldown_until_usec) {
                if (kills_last_minute(m, now) >= m->p.max_kills_per_minute) {
                        log_warning("%s pressure is %s but %u kills in the last minute reached "
                                    "maxKillsPerMinute, holding off",
                                    scope_names[sid], pressure_level_to_string(lvl),
                                    m->p.max_kills_per_minute);
                        m->cooldown_until_usec = now + 1000000;
                } else {
                        decide_and_act(m, sid, now);
                        m->episode_start_usec = 0;
                        m->episode_trigger[0] = '\0';
                }
        }
        submit_report(m, lvl, now);
}

static uint64_t current_interval(const struct manager *m)
{
        if (manager_level(m, NULL) >= LEVEL_LOW || m->inflight.active || m->episode_start_usec ||
            elastic_wants_fast(m->elastic))
                return m->p.fast_sample_interval_usec;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (m->scopes[i].active && m->scopes[i].st.raw > LEVEL_NONE)
                        return m->p.fast_sample_interval_usec;
        return m->p.sample_interval_usec;
}

static void rearm_timer(struct manager *m)
{
        uint64_t next = now_usec(CLOCK_MONOTONIC) + current_interval(m);
        (void)sd_event_source_set_time(m->timer, next);
        (void)sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static void run_tick(struct manager *m, const char *why)
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
        run_tick(userdata, "sample");
        return 0;
}

static int on_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)fd;
        if (revents & EPOLLERR) {
                /* The cgroup went away: drop the trigger, the next refresh re-arms. */
                for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                        if (m->scopes[i].trig_src == s) {
                                m->scopes[i].trig_src =
                                    sd_event_source_disable_unref(m->scopes[i].trig_src);
                                psi_trigger_close(&m->scopes[i].trig);
                        }
                m->refresh_needed = true;
                return 0;
        }
        run_tick(m, "psi");
        return 0;
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
                        if (ev->wd == m->kp_events_wd && (ev->mask & IN_MODIFY))
                                events_changed = true;
                        else
                                m->refresh_needed = true;
                        p += sizeof(*ev) + ev->len;
                }
        }
        if (events_changed)
                run_tick(m, "memory.events");
        return 0;
}

/* Watches kubepods' memory.events (the kernel notifies on every max/high/oom event) and the
 * directories where pods appear and vanish. */
/* Containers appear in a pod's directory after the pod does: watch each pod's directory too.
 * inotify_add_watch() on a watched path is a no-op, and watches of removed directories go by
 * themselves, so this runs after every refresh. */
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
        snprintf(path, sizeof(path), "%s%s", m->p.cgroup_root, m->model.kubepods.path);
        (void)inotify_add_watch(m->inotify_fd, path, IN_CREATE | IN_DELETE | IN_ONLYDIR);
        static const char *const qos_dirs[] = { "kubepods-burstable.slice",
                                                "kubepods-besteffort.slice", "burstable",
                                                "besteffort" };
        for (size_t i = 0; i < ELEMENTSOF(qos_dirs); i++) {
                char sub[600];
                snprintf(sub, sizeof(sub), "%s/%s", path, qos_dirs[i]);
                (void)inotify_add_watch(m->inotify_fd, sub, IN_CREATE | IN_DELETE | IN_ONLYDIR);
        }
}

static void arm_one_trigger(struct manager *m, enum scope_id i, int dirfd, const char *file)
{
        struct scope *s = &m->scopes[i];
        s->trig_src = sd_event_source_disable_unref(s->trig_src);
        if (s->trig.fd >= 0)
                psi_trigger_close(&s->trig);
        uint64_t stall = (uint64_t)((double)m->p.psi_window_usec * m->p.psi_low_some / 100.0);
        if (stall == 0)
                stall = 1;
        int r = psi_trigger_arm(dirfd, file, PSI_SOME, stall, m->p.psi_window_usec, &s->trig);
        if (r < 0) {
                s->trig.fd = -1;
                log_info_errno(r,
                               "Cannot arm a PSI trigger for %s (%m); sampling alone will detect "
                               "its pressure",
                               scope_names[i]);
                return;
        }
        r = sd_event_add_io(m->event, &s->trig_src, s->trig.fd, EPOLLPRI, on_trigger, m);
        if (r < 0) {
                psi_trigger_close(&s->trig);
                log_warning_errno(r, "Failed to watch the PSI trigger of %s: %m, ignoring",
                                  scope_names[i]);
                return;
        }
        log_info("PSI trigger armed for %s: some %llu ms in %llu ms windows%s", scope_names[i],
                 (unsigned long long)s->trig.stall_usec / 1000,
                 (unsigned long long)s->trig.window_usec / 1000,
                 s->trig.adjusted ? " (window widened: the kernel refused the configured one)"
                                  : "");
}

static void arm_triggers(struct manager *m)
{
        arm_one_trigger(m, SCOPE_NODE, m->proc_fd, "pressure/memory");
        if (m->model.has_kubepods)
                arm_one_trigger(m, SCOPE_KUBEPODS, m->model.kubepods.dfd, "memory.pressure");
}

/* ---- BPF memory signals ---- */

static const char *cgroup_path_of(struct manager *m, uint64_t id)
{
        if (m->model.has_kubepods && m->model.kubepods.id == id)
                return m->model.kubepods.path;
        for (size_t i = 0; i < m->model.n_pods; i++) {
                struct pod *p = &m->model.pods[i];
                if (p->cg.id == id)
                        return p->cg.path;
                for (size_t j = 0; j < p->n_containers; j++)
                        if (p->containers[j].cg.id == id)
                                return p->containers[j].cg.path;
        }
        for (size_t i = 0; i < m->model.n_workloads; i++)
                if (m->model.workloads[i].cg.id == id)
                        return m->model.workloads[i].cg.path;
        return NULL;
}

static void on_bpf_event(const union bpfsig_event *ev, void *userdata)
{
        struct manager *m = userdata;
        if (ev->type == MEMSIG_EV_OOM_VICTIM) {
                const struct memsig_oom_event *o = &ev->oom;
                const char *cg = cgroup_path_of(m, o->victim_cgroup_id);
                char rss[FORMAT_BYTES_MAX];
                m->kernel_oom_kills++;
                m->oom_seen = true;
                m->refresh_needed = true;
                log_warning(
                    "The kernel OOM killer took pid %u (%.16s) in %s, anon rss %s: memagent "
                    "did not get there first",
                    o->victim_tgid, o->victim_comm, cg ? cg : "a cgroup memagent does not track",
                    format_bytes_iec(o->anon_rss_pages * 4096, rss, sizeof(rss)));
        } else if (ev->type == MEMSIG_EV_STALL) {
                const struct memsig_stall_event *st = &ev->stall;
                const char *cg = cgroup_path_of(m, st->cgroup_id);
                m->stall_events++;
                log_debug("Reclaim stall of %llu us in %s (pid %u, %.16s)",
                          (unsigned long long)(st->duration_ns / 1000), cg ? cg : "?", st->pid,
                          st->comm);
        }
}

static int on_bpf_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        (void)fd;
        (void)revents;
        m->oom_seen = false;
        (void)bpfsig_consume(m->bpf);
        if (m->oom_seen)
                run_tick(m, "oom");
        return 0;
}

static void setup_bpf(struct manager *m)
{
        char why[512] = "";
        if (!m->p.bpf_enabled) {
                log_info("BPF memory signals off (bpfEnabled=false): running on PSI and "
                         "memory.available alone");
                return;
        }
        struct bpfsig_opts o = {
                .stall_threshold_usec = m->p.bpf_stall_threshold_usec,
                .pin_dir = BPFSIG_PIN_DIR_DEFAULT,
                .lazy_stall_events = true,
                .why = why,
                .why_size = sizeof(why),
        };
        int r = bpfsig_open(&o, &m->bpf);
        if (r < 0) {
                log_notice(
                    "BPF memory signals unavailable: %s; running on PSI and memory.available alone",
                    why[0] ? why : strerror(-r));
                m->bpf = NULL;
                return;
        }
        bpfsig_set_event_cb(m->bpf, on_bpf_event, m);
        r = sd_event_add_io(m->event, &m->bpf_src, bpfsig_event_fd(m->bpf), EPOLLIN, on_bpf_ready,
                            m);
        if (r < 0)
                log_warning_errno(r, "Failed to watch the BPF ring buffer: %m; OOM victims will be "
                                     "seen on the next sample");
        log_info("BPF memory signals attached with %s: %s",
                 bpfsig_attach_to_string(bpfsig_attach_type(m->bpf)),
                 bpfsig_attached_hooks(m->bpf));
}

/* ---- local API ---- */

static struct json_object *daemon_status_json(struct manager *m)
{
        struct json_object *root = status_to_json(&m->node, &m->model);
        if (!root)
                return NULL;
        struct json_object *pr = json_object_new_object();
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope *s = &m->scopes[i];
                if (!s->active) {
                        json_object_object_add(pr, scope_names[i], NULL);
                        continue;
                }
                struct json_object *o = json_object_new_object();
                json_object_object_add(
                    o, "level", json_object_new_string(pressure_level_to_string(s->st.level)));
                json_object_object_add(o, "available_bytes",
                                       json_object_new_uint64(s->st.available_bytes));
                json_object_object_add(o, "total_bytes", json_object_new_uint64(s->st.total_bytes));
                json_object_object_add(o, "stall_some_pct", json_object_new_double(s->st.some_pct));
                json_object_object_add(o, "stall_full_pct", json_object_new_double(s->st.full_pct));
                json_object_object_add(o, "low_below_bytes",
                                       json_object_new_uint64(s->params.avail_low_bytes));
                json_object_object_add(o, "medium_below_bytes",
                                       json_object_new_uint64(s->params.avail_medium_bytes));
                json_object_object_add(o, "critical_below_bytes",
                                       json_object_new_uint64(s->params.avail_critical_bytes));
                json_object_object_add(pr, scope_names[i], o);
        }
        json_object_object_add(root, "pressure", pr);
        struct json_object *dm = json_object_new_object();
        json_object_object_add(dm, "dry_run", json_object_new_boolean(m->p.dry_run));
        json_object_object_add(dm, "kills_total", json_object_new_uint64(m->kills_total));
        json_object_object_add(dm, "decisions_total", json_object_new_uint64(m->decisions_total));
        json_object_object_add(
            dm, "bpf_attach",
            m->bpf ? json_object_new_string(bpfsig_attach_to_string(bpfsig_attach_type(m->bpf)))
                   : NULL);
        json_object_object_add(dm, "kernel_oom_kills_total",
                               json_object_new_uint64(m->kernel_oom_kills));
        json_object_object_add(dm, "reclaim_stall_events_total",
                               json_object_new_uint64(m->stall_events));
        if (m->elastic) {
                uint64_t reclaimed, lent;
                elastic_totals(m->elastic, &reclaimed, &lent);
                json_object_object_add(dm, "balloon_reclaimed_bytes_total",
                                       json_object_new_uint64(reclaimed));
                json_object_object_add(dm, "vscale_lent_bytes", json_object_new_uint64(lent));
        }
        json_object_object_add(root, "daemon", dm);
        json_object_object_add(root, "scheduler",
                               m->reporter ? reporter_stats_json(m->reporter) : NULL);
        return root;
}

static int on_api(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        (void)revents;
        _cleanup_close_ int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        struct timeval tv = { .tv_sec = API_TIMEOUT_SEC };
        (void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        char req[128];
        ssize_t n = recv(c, req, sizeof(req) - 1, 0);
        if (n <= 0)
                return 0;
        req[n] = '\0';
        req[strcspn(req, "\r\n")] = '\0';

        struct json_object *resp = NULL;
        if (streq(req, "status"))
                resp = daemon_status_json(m);
        else if (strncmp(req, "explain", 7) == 0) {
                unsigned long k = req[7] == ' ' ? strtoul(req + 8, NULL, 10) : 10;
                resp = json_object_new_object();
                json_object_object_add(resp, "decisions", decision_log_json(&m->log, k ? k : 10));
        } else if (streq(req, "recommend") && m->elastic) {
                resp = elastic_recommend_json(m->elastic, &m->model, now_usec(CLOCK_MONOTONIC));
        } else {
                resp = json_object_new_object();
                char msg[200];
                snprintf(msg, sizeof(msg),
                         "unknown request \"%.60s\" (status, explain [N], recommend)", req);
                json_object_object_add(resp, "error", json_object_new_string(msg));
        }
        if (!resp)
                return 0;
        const char *out = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(out), off = 0;
        while (off < len) {
                ssize_t w = send(c, out + off, len - off, MSG_NOSIGNAL);
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        json_object_put(resp);
        return 0;
}

static int setup_api(struct manager *m)
{
        if (!m->p.api_socket || !*m->p.api_socket)
                return 0;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(m->p.api_socket) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "apiSocket %s: path too long",
                                       m->p.api_socket);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->p.api_socket);
        /* Create the parent directory (/run/memagent) if needed, private to root. */
        char dir[sizeof(sa.sun_path)];
        snprintf(dir, sizeof(dir), "%s", m->p.api_socket);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void)mkdir(dir, 0755);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the API socket: %m");
        (void)unlink(m->p.api_socket);
        mode_t old = umask(0177); /* the socket is 0600: root only, from the start */
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r == 0)
                r = chmod(m->p.api_socket, 0600);
        if (r < 0 || listen(fd, 16) < 0) {
                r = log_error_errno(errno, "Failed to listen on %s: %m", m->p.api_socket);
                safe_close(fd);
                return r;
        }
        m->listen_fd = fd;
        r = sd_event_add_io(m->event, &m->api_src, fd, EPOLLIN, on_api, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the API socket: %m");
        log_info("Local API listening on %s", m->p.api_socket);
        return 0;
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

static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
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
        m->p.decision_log_size = logsize;
        m->refresh_needed = true;
        if (m->elastic)
                elastic_set_params(m->elastic, &m->p.elastic);
        if (psi_changed && m->event)
                arm_triggers(m);
        return 0;
}

int manager_new(const struct daemon_params *p, struct manager **ret, char *why, size_t why_size)
{
        struct manager *m = calloc(1, sizeof(*m));
        int r;
        if (!m)
                return -ENOMEM;
        m->cg_fd = m->proc_fd = m->sys_fd = m->inotify_fd = m->listen_fd = -1;
        m->kp_events_wd = -1;
        m->inflight.events_fd = -1;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                m->scopes[i].trig.fd = -1;
        m->model.kubepods.dfd = -1;

        m->cgroup_root = strdup(p->cgroup_root);
        m->proc_root = strdup(p->proc_root);
        m->sys_root = strdup(p->sys_root);
        m->api_socket = strdup(p->api_socket ? p->api_socket : "");
        if (!m->cgroup_root || !m->proc_root || !m->sys_root || !m->api_socket) {
                manager_free(m);
                return -ENOMEM;
        }
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
                manager_free(m);
                return -EMEDIUMTYPE;
        }
        r = cgroup_root_check(p->cgroup_root, m->cg_fd, why, why_size);
        if (r < 0) {
                manager_free(m);
                return -EMEDIUMTYPE;
        }
        raise_nofile();
        m->scratch = malloc(SCRATCH_SIZE);
        if (!m->scratch || decision_log_init(&m->log, p->decision_log_size) < 0) {
                manager_free(m);
                return -ENOMEM;
        }
        r = manager_apply_params(m, p);
        if (r < 0) {
                snprintf(why, why_size,
                         "cannot load the eviction policy chain (see the log above)");
                manager_free(m);
                return r;
        }
        r = model_discover(&m->model, m->cg_fd, p->workload_roots, p->n_workload_roots);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        m->next_refresh_usec = now_usec(CLOCK_MONOTONIC) + REFRESH_EVERY_USEC;
        m->refresh_needed = true; /* the first tick refreshes: self_in_pods and the like */

        r = sd_event_default(&m->event);
        if (r < 0) {
                manager_free(m);
                return log_error_errno(r, "Failed to create the event loop: %m");
        }
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
                                            m)) < 0) {
                manager_free(m);
                return log_error_errno(r, "Failed to set up event sources: %m");
        }
        (void)sd_event_set_watchdog(m->event, true); /* WATCHDOG=1 pings when WatchdogSec= is set */
        r = elastic_new(m->event, &m->elastic);
        if (r < 0) {
                log_warning_errno(r, "Failed to start the balloon's reclaim worker: %m; running "
                                     "without the balloon and vertical scaling");
                m->elastic = NULL;
        } else
                elastic_set_params(m->elastic, &m->p.elastic);
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        arm_kubepods_watch(m);
        arm_triggers(m);
        setup_bpf(m);
        r = setup_api(m);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        if (p->scheduler_url && *p->scheduler_url) {
                struct reporter_params rp = REPORTER_PARAMS_DEFAULT;
                if (p->report_heartbeat_usec)
                        rp.heartbeat_usec = p->report_heartbeat_usec;
                m->node_name = strdup(p->node_name ? p->node_name : "");
                r = m->node_name
                        ? reporter_new(m->event, p->scheduler_url, m->node_name, &rp, &m->reporter)
                        : -ENOMEM;
                if (r == -EINVAL) {
                        snprintf(
                            why, why_size,
                            "cannot report to memschedd at \"%s\" as node \"%s\": not a URL or "
                            "not a Kubernetes node name; set schedulerUrl and nodeName",
                            p->scheduler_url, m->node_name);
                        manager_free(m);
                        return -EMEDIUMTYPE;
                }
                if (r < 0) {
                        manager_free(m);
                        return log_error_errno(r, "Failed to set up the node report to %s: %m",
                                               p->scheduler_url);
                }
        }
        *ret = m;
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
        inflight_clear(m);
        m->reporter = reporter_free(m->reporter); /* before the event loop it runs on */
        free(m->node_name);
        elastic_free(m->elastic);
        m->bpf_src = sd_event_source_disable_unref(m->bpf_src);
        bpfsig_free(m->bpf);
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                m->scopes[i].trig_src = sd_event_source_disable_unref(m->scopes[i].trig_src);
                if (m->scopes[i].trig.fd >= 0)
                        psi_trigger_close(&m->scopes[i].trig);
        }
        m->inotify_src = sd_event_source_disable_unref(m->inotify_src);
        m->api_src = sd_event_source_disable_unref(m->api_src);
        m->timer = sd_event_source_disable_unref(m->timer);
        if (m->listen_fd >= 0 && m->p.api_socket)
                (void)unlink(m->p.api_socket);
        safe_close(m->listen_fd);
        safe_close(m->inotify_fd);
        model_done(&m->model);
        if (m->chain)
                policy_chain_free(m->chain);
        decision_log_done(&m->log);
        free(m->scratch);
        safe_close(m->cg_fd);
        safe_close(m->proc_fd);
        safe_close(m->sys_fd);
        sd_event_unref(m->event);
        free(m->cgroup_root);
        free(m->proc_root);
        free(m->sys_root);
        free(m->api_socket);
        free(m);
}
