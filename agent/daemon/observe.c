// SPDX-License-Identifier: Apache-2.0
// Observe: every file a decision depends on is read here, into one struct node_snapshot, so that
// agent_step() decides from memory alone. The node and the model are sampled; each eviction
// candidate gets its flags (the operator's globs and xattrs, read now, and whether memagentd runs
// in it, checked at each model refresh); the outcome of the last action comes along.
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agent/daemon/manager-private.h"
#include "agent/decide/pressure.h"
#include "common/config.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "plugins/policy.h"

#define SCRATCH_SIZE (64 * 1024)
/* A calm tick reads usage and events; every file of every cgroup is read at least this often:
 * the limits someone else changed (a resize: vertical scaling must see a lowered memory.max
 * before the container nears it), memory.peak and the working sets that status shows. With
 * reports to memschedd (every reportHeartbeat, 10 s by default), twice as often, since the
 * scheduler places pods by those working sets. The routine read of every file of every cgroup
 * is the largest part of a calm minute (10 files of each of 1,003 cgroups at 250 pods, opened
 * and closed: two thirds of the calm agent's open() calls at 30 s), hence no more often than
 * what needs it (issue 13). */
#define OBSERVE_FULL_EVERY_USEC           (60 * 1000000ull)
#define OBSERVE_FULL_EVERY_REPORTING_USEC (30 * 1000000ull)
/* Containers due for a balloon step read in full per calm tick, in turn: the balloon takes one
 * step per tick, from those whose figures are fresh (the others see no PSI: no step). */
#define BALLOON_FULL_PER_TICK 8

static bool glob_match(const char *const *globs, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (fnmatch(globs[i], path, 0) == 0) /* no FNM_PATHNAME: a star may cross a slash */
                        return true;
        return false;
}

/* systemd-oomd's convention: user.oomd_omit / user.oomd_avoid = "1" on the cgroup directory,
 * honoured only when the directory is owned by root (an unprivileged owner could otherwise
 * shield itself): the caller checks that once for the four names. */
static bool xattr_set(int dfd, const char *name)
{
        char v[8];
        ssize_t n = fgetxattr(dfd, name, v, sizeof(v) - 1);
        if (n <= 0)
                return false;
        v[n] = '\0';
        return v[0] == '1' || strcasecmp(v, "true") == 0;
}

static uint32_t candidate_flags(const struct manager *m, const struct cgroup *c)
{
        uint32_t f = 0;
        /* Its own directory fd, or one opened for the while beyond the fd budget. */
        _cleanup_close_ int tmp = c->dfd >= 0 ? -1 : cgroup_dir_open(c);
        int dfd = c->dfd >= 0 ? c->dfd : tmp;
        struct stat st;
        bool root_owned = fstat(dfd, &st) == 0 && st.st_uid == 0;
        if (glob_match(m->p.protected_globs, m->p.n_protected, c->path) ||
            (root_owned &&
             (xattr_set(dfd, "user.oomd_omit") || xattr_set(dfd, "user.memagent_omit"))))
                f |= MEMAGENT_CAND_PROTECTED;
        if (glob_match(m->p.avoid_globs, m->p.n_avoid, c->path) ||
            (root_owned &&
             (xattr_set(dfd, "user.oomd_avoid") || xattr_set(dfd, "user.memagent_avoid"))))
                f |= MEMAGENT_CAND_AVOID;
        return f;
}

/* user.memagent_swap on a root-owned pod cgroup: "1" lets its containers swap to the remote
 * swap whatever their QoS class, "0" keeps them off it. */
static enum swap_override swap_override_of(const struct cgroup *c)
{
        struct stat st;
        char v[8];
        if (fstat(c->dfd, &st) < 0 || st.st_uid != 0)
                return SWAP_OVERRIDE_NONE;
        ssize_t n = fgetxattr(c->dfd, "user.memagent_swap", v, sizeof(v) - 1);
        if (n <= 0)
                return SWAP_OVERRIDE_NONE;
        v[n] = '\0';
        if (v[0] == '1' || strcasecmp(v, "true") == 0)
                return SWAP_OVERRIDE_ALLOW;
        if (v[0] == '0' || strcasecmp(v, "false") == 0)
                return SWAP_OVERRIDE_DENY;
        return SWAP_OVERRIDE_NONE;
}

/* True when pid is one of the cgroup's processes (its own cgroup.procs, not descendants'). */
static bool cgroup_has_pid(const struct cgroup *c, pid_t pid)
{
        static char buf[65536]; /* the loop's thread only */
        _cleanup_close_ int tmp = c->dfd >= 0 ? -1 : cgroup_dir_open(c);
        ssize_t n = read_file_at(c->dfd >= 0 ? c->dfd : tmp, "cgroup.procs", buf, sizeof(buf));
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
        if (cgroup_has_pid(&p->cg, self))
                return true;
        for (size_t j = 0; j < p->n_containers; j++)
                if (cgroup_has_pid(&p->containers[j].cg, self))
                        return true;
        return false;
}

static void self_add(struct manager *m, uint64_t id)
{
        uint64_t *n = realloc(m->self_ids, (m->n_self_ids + 1) * sizeof(*n));
        if (!n)
                return;
        m->self_ids = n;
        m->self_ids[m->n_self_ids++] = id;
}

void observe_self(struct manager *m)
{
        pid_t self = getpid();
        m->n_self_ids = 0;
        m->self_in_pods = false;
        for (size_t i = 0; i < m->model.n_pods; i++)
                if (is_own_pod(&m->model.pods[i], self)) {
                        m->self_in_pods = true;
                        self_add(m, m->model.pods[i].cg.id);
                }
        for (size_t i = 0; i < m->model.n_workloads; i++)
                if (cgroup_has_pid(&m->model.workloads[i].cg, self))
                        self_add(m, m->model.workloads[i].cg.id);
}

static bool holds_self(const struct manager *m, uint64_t id)
{
        for (size_t i = 0; i < m->n_self_ids; i++)
                if (m->self_ids[i] == id)
                        return true;
        return false;
}

/* cand still holds what the previous sample put in this slot: on a calm tick, the same cgroup
 * keeps its flags (the operator's globs and xattrs, five system calls per candidate) until the
 * next full sample, which every decision that ranks candidates runs on. The routine full read
 * (routine) keeps them too: only a ranking reads them, and no ranking runs on it (its level
 * stays none, see needs_all()); they were 2,000 of its system calls at 250 pods (issue 13). The
 * swap override is read on it as before: the remote swap's step uses it at any level. */
static void fill_candidate(const struct manager *m, struct snap_candidate *cand, size_t i,
                           const struct cgroup *c, const char *name, enum qos_class qos,
                           bool routine)
{
        const struct cg_sample *s = &c->s;
        bool same = i < m->n_cands_prev && cand->c.cgroup_id == c->id;
        bool keep = !m->sampled_all && same;
        uint32_t flags = keep || (routine && same) ? cand->c.flags : candidate_flags(m, c);
        enum swap_override swap = keep ? cand->swap : swap_override_of(c);
        *cand = (struct snap_candidate){
                .c = {
                        .name = name,
                        .cgroup = c->path,
                        .cgroup_id = c->id,
                        .qos = policy_qos_to_abi(qos),
                        .flags = flags,
                        .current_bytes = s->current,
                        .working_set_bytes = s->working_set,
                        .request_bytes = (s->have & CG_HAVE(CGF_MIN)) ? s->min : 0,
                        .limit_bytes = (s->have & CG_HAVE(CGF_MAX)) ? s->max : MEMAGENT_NO_LIMIT,
                        .growth_bytes_per_sec = c->growth_bytes_per_sec,
                        .psi_some_avg10 = s->psi.some.avg10,
                        .psi_full_avg10 = s->psi.full.avg10,
                        .reclaim_stall_usec = s->reclaim_stall_usec,
                },
                .holds_self = holds_self(m, c->id),
                .swap = swap,
        };
}

/* The QoS class of a pod comes from its cgroup path: the kubelet put it there, and the kubelet's
 * cgroups are what the kernel enforces and what the OOM killer and our kill act on. A spec that
 * disagrees (an API answer older than a re-created pod with the same uid cannot happen, but a
 * resize that changed the class, or a decoder that derived it differently, can) is reported once
 * per pod, and the path wins. */
static void check_qos(struct manager *m, const struct pod *p, const struct k8s_pod_meta *meta)
{
        if (meta->qos == p->qos || meta->qos == QOS_NONE)
                return;
        for (size_t i = 0; i < m->n_qos_warned; i++)
                if (streq(m->qos_warned[i], p->uid))
                        return;
        char(*n)[KUBE_ID_MAX] = realloc(m->qos_warned, (m->n_qos_warned + 1) * sizeof(*n));
        if (n) {
                m->qos_warned = n;
                snprintf(m->qos_warned[m->n_qos_warned++], KUBE_ID_MAX, "%s", p->uid);
        }
        log_warning("Pod %s/%s (uid %s): the API says QoS class %s but its cgroup %s says %s; "
                    "ranking it as %s, the class its cgroups are enforced with",
                    meta->namespace_, meta->name, p->uid, qos_to_string(meta->qos), p->cg.path,
                    qos_to_string(p->qos), qos_to_string(p->qos));
}

/* Does slot i still hold the name of this cgroup from the last sample? The same cgroup in the same
 * slot, and the API knows its pod as it did (a uid's namespace and name never change): its name
 * is not formatted again (issue 13: a snprintf() per pod per calm tick). */
static bool candidate_name_kept(const struct manager *m, size_t i, uint64_t id,
                                const struct k8s_pod_meta *meta)
{
        return i < m->n_cands_prev && m->cands[i].c.cgroup_id == id &&
               (m->cands[i].meta != NULL) == (meta != NULL);
}

/* Every pod, and every workload (the decision leaves workloads out on a Kubernetes node).
 * A pod the API knows gets its namespace/name and what the API says of it (the step applies
 * it); "pod <uid>" otherwise. Returns their number, or -ENOMEM. */
static ssize_t observe_candidates(struct manager *m, bool routine)
{
        size_t cap = m->model.n_pods + m->model.n_workloads, n = 0;
        if (cap > m->cap_cands) {
                struct snap_candidate *c = realloc(m->cands, cap * sizeof(*c));
                if (c)
                        m->cands = c;
                char(*names)[96] = realloc(m->cand_names, cap * sizeof(*names));
                if (names)
                        m->cand_names = names;
                if (!c || !names)
                        return -ENOMEM;
                m->cap_cands = cap;
        }
        for (size_t i = 0; i < m->model.n_pods; i++) {
                const struct pod *p = &m->model.pods[i];
                const struct k8s_pod_meta *meta =
                    m->kube.pod_lookup ? m->kube.pod_lookup(m->kube.ud, p->uid) : NULL;
                if (meta)
                        check_qos(m, p, meta);
                if (!candidate_name_kept(m, n, p->cg.id, meta)) {
                        if (meta)
                                snprintf(m->cand_names[n], sizeof(m->cand_names[n]), "%.40s/%.54s",
                                         meta->namespace_, meta->name);
                        else
                                snprintf(m->cand_names[n], sizeof(m->cand_names[n]), "pod %s",
                                         p->uid);
                }
                fill_candidate(m, &m->cands[n], n, &p->cg, m->cand_names[n], p->qos, routine);
                m->cands[n].uid = p->uid;
                m->cands[n].meta = meta;
                n++;
        }
        for (size_t i = 0; i < m->model.n_workloads; i++) {
                const struct workload *w = &m->model.workloads[i];
                if (!candidate_name_kept(m, n, w->cg.id, NULL))
                        snprintf(m->cand_names[n], sizeof(m->cand_names[n]), "%s", w->name);
                fill_candidate(m, &m->cands[n], n, &w->cg, m->cand_names[n], w->qos, routine);
                m->cands[n].c.flags |= MEMAGENT_CAND_WORKLOAD;
                n++;
        }
        return (ssize_t)n;
}

void observe_outcome(struct manager *m, uint64_t now_usec, struct node_snapshot *snap)
{
        *snap = (struct node_snapshot){
                .now_usec = now_usec,
                .trigger = "outcome",
                .sampled = false,
                .have_node = m->have_node,
                .node = &m->node,
                .model = &m->model,
                .evict = m->evict.result,
                .elastic = m->elastic != NULL,
                .limits = m->limits,
                .n_limits = m->n_limits,
                .kube_usable = m->kube.usable && m->kube.usable(m->kube.ud),
                .kube_answers = m->kube_answers,
                .n_kube_answers = m->n_kube_answers,
        };
        m->evict.result = (struct evict_result){ 0 };
        /* taken: the step reads them now, the next actions start a new list */
        m->n_limits = 0;
        m->n_kube_answers = 0;
        (void)elastic_take_result(m->elastic, &snap->reclaim);
        snap->reclaim_busy = elastic_busy(m->elastic);
}

/* Would this sample lift the scope's raw pressure above none? The step's own detector, run on a
 * copy of its state (its stall totals without the balloon's own time subtracted: never less). */
static bool scope_may_rise(const struct manager *m, enum scope_id i, const struct scope_input *in,
                           uint64_t now_usec)
{
        if (!in->present)
                return false;
        struct pressure_state st = m->state.scopes[i].st;
        const struct agent_params *ap = &m->ap;
        const struct pressure_params pp = {
                .avail_low_bytes = config_bytes_or_percent_resolve(&ap->avail_low, in->total_bytes),
                .avail_medium_bytes =
                    config_bytes_or_percent_resolve(&ap->avail_medium, in->total_bytes),
                .avail_critical_bytes =
                    config_bytes_or_percent_resolve(&ap->avail_critical, in->total_bytes),
                .psi_low_some = ap->psi_low_some,
                .psi_medium_full = ap->psi_medium_full,
                .psi_critical_full = ap->psi_critical_full,
                .raise_samples = ap->raise_samples,
                .clear_hold_usec = ap->clear_hold_usec,
        };
        const struct pressure_input pin = {
                .total_bytes = in->total_bytes,
                .available_bytes = in->available_bytes,
                .has_psi = in->has_psi,
                .psi_some_total_usec = in->psi_some_total_usec,
                .psi_full_total_usec = in->psi_full_total_usec,
                .now_usec = now_usec,
        };
        pressure_update(&st, &pp, &pin);
        return st.raw > LEVEL_NONE;
}

/* Does the decision on this sample need every file of every cgroup? The eviction ladder ranks
 * candidates on working set, PSI and limits only once a scope's level rises, which takes a raw
 * level above none first: with none, and the agent calm, no candidate figure is used but the
 * balloon's and vertical scaling's (plan_calm()). */
static bool needs_all(const struct manager *m, uint64_t now_usec, const char *why,
                      const struct node_snapshot *snap, bool *ret_routine)
{
        *ret_routine = false;
        if (!streq(why, "sample") || agent_wants_fast(&m->state))
                return true;
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++)
                if (scope_may_rise(m, i, &snap->scopes[i], now_usec))
                        return true;
        /* a pod may be thrashing: its memory.pressure and memory.stat are the signal */
        if (agent_thrash_wants_all(&m->state, &m->ap, &snap->scopes[SCOPE_NODE], now_usec))
                return true;
        *ret_routine = now_usec >= m->next_full_usec;
        return *ret_routine;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

static void full_id_add(struct manager *m, uint64_t id)
{
        if (m->n_full_ids == m->cap_full_ids) {
                size_t cap = m->cap_full_ids ? m->cap_full_ids * 2 : 64;
                uint64_t *n = reallocarray(m->full_ids, cap, sizeof(*n));
                if (!n)
                        return; /* read light: the balloon sees no PSI and waits */
                m->full_ids = n;
                m->cap_full_ids = cap;
        }
        m->full_ids[m->n_full_ids++] = id;
}

/* The containers a calm tick reads in full: those vertical scaling watches (near their limit, on
 * a loan, a limit write pending), those the balloon watches after a step, and
 * BALLOON_FULL_PER_TICK of those due for a balloon step, in turn. */
static void plan_calm(struct manager *m, uint64_t now_usec)
{
        size_t n_due = 0;
        m->n_full_ids = 0;
        for (size_t i = 0; i < m->state.n_units; i++) {
                const struct elastic_unit *u = &m->state.units[i];
                bool all =
                    u->near || u->loan.active || u->pending || (u->ballooned && u->b.watch_step);
                if (!all && u->ballooned && now_usec >= u->b.next_step_usec &&
                    now_usec >= u->b.backoff_until_usec) {
                        all =
                            n_due >= m->balloon_rr && n_due < m->balloon_rr + BALLOON_FULL_PER_TICK;
                        n_due++;
                }
                if (all)
                        full_id_add(m, u->id);
        }
        m->balloon_rr += BALLOON_FULL_PER_TICK;
        if (m->balloon_rr >= n_due)
                m->balloon_rr = 0;
        if (m->n_full_ids > 1) /* full_ids is NULL until the first */
                qsort(m->full_ids, m->n_full_ids, sizeof(*m->full_ids), cmp_u64);
        /* A container's pod with it: vertical scaling raises and returns the pod's memory.max
         * along with the container's, and checks both. */
        size_t n_units = m->n_full_ids;
        for (size_t i = 0; i < m->model.n_pods && n_units > 0; i++) {
                const struct pod *p = &m->model.pods[i];
                for (size_t j = 0; j < p->n_containers; j++)
                        if (bsearch(&p->containers[j].cg.id, m->full_ids, n_units,
                                    sizeof(*m->full_ids), cmp_u64)) {
                                full_id_add(m, p->cg.id);
                                break;
                        }
        }
        if (m->n_full_ids > n_units)
                qsort(m->full_ids, m->n_full_ids, sizeof(*m->full_ids), cmp_u64);
}

/* What a calm tick reads of a cgroup: memory.current, and memory.events unless a watch says when
 * it changes (manager.c, watch_cgroup_events(): a woken cgroup is read in full instead). */
static uint32_t light_files(const struct cgroup *c)
{
        return c->events_watched ? CG_HAVE(CGF_CURRENT) : CG_FILES_LIGHT;
}

static uint32_t want_files(void *ud, const struct cgroup *c)
{
        const struct manager *m = ud;
        if (m->model.has_kubepods && c == &m->model.kubepods)
                return 0; /* sampled before the plan */
        if (m->sampled_all)
                return m->all_files;
        if (c->woken || (m->n_full_ids > 0 && bsearch(&c->id, m->full_ids, m->n_full_ids,
                                                      sizeof(*m->full_ids), cmp_u64)))
                return CG_FILES_DECIDE;
        return light_files(c);
}

int observe_sample(struct manager *m, uint64_t now_usec, const char *why,
                   struct node_snapshot *snap)
{
        if (node_sample(m->proc_fd, m->sys_fd, &m->node, m->scratch, SCRATCH_SIZE) == 0)
                m->have_node = true;
        /* The scopes first: whether the rest is read in full depends on them. */
        if (m->model.has_kubepods) /* its NUMA split: see all_files */
                (void)cgroup_sample_files(&m->model.kubepods, CG_FILES_DECIDE, m->scratch,
                                          SCRATCH_SIZE);

        observe_outcome(m, now_usec, snap);
        snap->trigger = why;
        snap->sampled = true;
        snap->reclaim_busy_usec = elastic_reclaim_busy_usec(m->elastic);
        snap->self_in_pods = m->self_in_pods;
        snap->reporting = m->reporter != NULL;
        snap->scopes[SCOPE_NODE] = (struct scope_input){
                .present = true,
                .total_bytes = m->node.mem.total,
                .available_bytes = m->node.mem.available,
                .has_psi = m->node.has_psi,
                .psi_some_total_usec = m->node.psi.some.total_usec,
                .psi_full_total_usec = m->node.psi.full.total_usec,
        };
        /* kubepods is a scope of its own only with a memory limit */
        const struct cg_sample *kp = &m->model.kubepods.s;
        if (m->model.has_kubepods && !m->model.kubepods.gone && (kp->have & CG_HAVE(CGF_MAX)) &&
            kp->max != CG_UNLIMITED)
                snap->scopes[SCOPE_KUBEPODS] = (struct scope_input){
                        .present = true,
                        .total_bytes = kp->max,
                        .available_bytes =
                            kp->max > kp->working_set ? kp->max - kp->working_set : 0,
                        .has_psi = (kp->have & CG_HAVE(CGF_PRESSURE)) != 0,
                        .psi_some_total_usec = kp->psi.some.total_usec,
                        .psi_full_total_usec = kp->psi.full.total_usec,
                };

        bool routine;
        m->sampled_all = needs_all(m, now_usec, why, snap, &routine);
        /* The routine full read (every OBSERVE_FULL_EVERY_USEC, calm) skips memory.numa_stat:
         * no decision and no report uses a cgroup's NUMA split (the report's zones come from
         * sysfs), only status, which shows it when fresh; it was a third of that read's parse
         * (issue 13). A full read for a decision reads it, as before. */
        m->all_files = routine ? CG_FILES_DECIDE : CG_FILES_ALL;
        if (m->sampled_all)
                m->next_full_usec = now_usec + (m->reporter ? OBSERVE_FULL_EVERY_REPORTING_USEC
                                                            : OBSERVE_FULL_EVERY_USEC);
        else
                plan_calm(m, now_usec);
        model_sample_files(&m->model, want_files, m, m->scratch, SCRATCH_SIZE);
        bpf_events_drain(m);
        snap->has_kubepods = m->model.has_kubepods;

        ssize_t n = observe_candidates(m, m->sampled_all && routine);
        if (n < 0) {
                m->n_cands_prev = 0;
                return log_warning_errno((int)n, "Failed to list eviction candidates: %m; "
                                                 "deciding on the next sample");
        }
        m->n_cands_prev = (size_t)n;
        snap->cands = m->cands;
        snap->n_cands = (size_t)n;
        if (m->remote_swap) {
                remote_swap_get(m->remote_swap, &m->rswap_in, m->rswap_donors, &m->n_rswap_donors);
                snap->remote = m->rswap_in;
        }
        return 0;
}
