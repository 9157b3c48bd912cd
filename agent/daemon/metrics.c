// SPDX-License-Identifier: Apache-2.0
// memagentd's metrics: the counters the manager bumps after each step and act(), and the
// exposition of the whole manager state in the Prometheus text format (api/prom.h). Runs on the
// manager's loop only (see metrics.h), so nothing here locks.
#include "agent/daemon/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/daemon/manager-private.h"
#include "agent/daemon/reporter.h"
#include "api/prom.h"
#include "bpf/bpfsig.h"
#include "common/fileio.h"
#include "common/macro.h"

/* decision.action values (agent/decide/decision.h; "evict" is the Kubernetes Eviction API's),
 * the last one for anything new. */
static const char *const decision_actions[AGENT_METRICS_DECISION_ACTIONS] = {
        "kill", "terminate", "none", "reclaim", "loan", "return", "stand-back", "evict", "other",
};

/* A decision that starts an eviction, whichever way it is carried out. */
static bool starts_eviction(const struct decision *d)
{
        return !d->dry_run && (streq(d->action, "kill") || streq(d->action, "terminate") ||
                               streq(d->action, "evict"));
}

static const char *const kill_reasons[_KILL_REASON_MAX] = {
        [KILL_REASON_CRITICAL] = "critical",
        [KILL_REASON_NO_GRACE_PERIOD] = "no_grace_period",
        [KILL_REASON_GRACE_PERIOD_OVER] = "grace_period_over",
        [KILL_REASON_SIGNAL_FAILED] = "signal_failed",
};

static const char *const wake_sources[_WAKE_MAX] = {
        [WAKE_TIMER] = "timer",
        [WAKE_PSI_NODE] = "psi_node",
        [WAKE_PSI_KUBEPODS] = "psi_kubepods",
        [WAKE_PSI_POD] = "psi_pod",
        [WAKE_EVENTS_KUBEPODS] = "memory_events_kubepods",
        [WAKE_EVENTS_CGROUP] = "memory_events_cgroup",
};

static const char *const api_verbs[AGENT_METRICS_API_VERBS] = {
        "get", "list", "watch", "create", "update", "patch", "delete", "other",
};

/* The codes the client decides on by value (Status reasons: 409 Conflict, 410 Gone, 422
 * Invalid, 429 TooManyRequests, ...), then a class for each other answer, then no answer. */
static const int api_codes[] = { 200, 201, 400, 401, 403, 404, 409, 410, 422, 429, 500, 503 };
#define API_CODE_CLASS_2XX (ELEMENTSOF(api_codes))
#define API_CODE_ERROR     (API_CODE_CLASS_2XX + 4)
static const char *const api_code_classes[] = { "2xx", "3xx", "4xx", "5xx", "error" };

/* Upper bounds of the step histogram, in seconds; the last bucket is +Inf. A calm step on a
 * node of a hundred pods takes well under a millisecond; the top buckets catch a loop that
 * stalls (a kill waited out on the loop, a slow cgroup filesystem). */
static const double step_bounds_sec[AGENT_METRICS_STEP_BUCKETS - 1] = {
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
        0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,
};

static size_t decision_action_index(const char *action)
{
        for (size_t i = 0; i + 1 < AGENT_METRICS_DECISION_ACTIONS; i++)
                if (streq(action, decision_actions[i]))
                        return i;
        return AGENT_METRICS_DECISION_ACTIONS - 1;
}

static enum pressure_level level_of(const struct decision *d)
{
        int l = pressure_level_from_string(d->level);
        return l < 0 ? LEVEL_NONE : (enum pressure_level)l;
}

static enum scope_id scope_of(const struct decision *d)
{
        return streq(d->scope, scope_to_string(SCOPE_KUBEPODS)) ? SCOPE_KUBEPODS : SCOPE_NODE;
}

void agent_metrics_count_actions(struct agent_metrics *mt, const struct action_list *l,
                                 const struct limits_result *limits, size_t n_limits,
                                 const struct evict_result *after)
{
        const struct decision *last = NULL; /* what RECORD_LAST refers to, as in act() */
        size_t next_limit = 0;
        bool killed_now = false;
        enum kill_reason reason = KILL_REASON_SIGNAL_FAILED;

        for (size_t i = 0; i < l->n; i++) {
                const struct action *a = &l->items[i];
                switch (a->kind) {
                case ACTION_RECORD:
                        /* The balloon's episode record is rewritten at every step: its steps are
                         * counted as reclaim steps, not as decisions. */
                        if (a->record.slot == RECORD_BALLOON)
                                break;
                        last = &a->record.d;
                        mt->decisions[decision_action_index(last->action)][level_of(last)]++;
                        /* Counted from the decision, not from the action that carries it out:
                         * the same for a SIGTERM, a kill at once or the Eviction API. */
                        if (starts_eviction(last))
                                mt->evictions[scope_of(last)][level_of(last)]++;
                        break;
                case ACTION_TERMINATE:
                case ACTION_KILL:
                        if (a->evict.record == RECORD_LAST && last) {
                                if (a->kind == ACTION_KILL)
                                        reason = level_of(last) >= LEVEL_CRITICAL
                                                     ? KILL_REASON_CRITICAL
                                                     : KILL_REASON_NO_GRACE_PERIOD;
                                else
                                        reason = KILL_REASON_SIGNAL_FAILED;
                        } else if (a->kind == ACTION_KILL)
                                reason = KILL_REASON_GRACE_PERIOD_OVER;
                        killed_now = true;
                        break;
                case ACTION_SET_LIMITS: {
                        /* act() reports each write in order (limits_done()); it only records
                         * the decision of a write that succeeded. */
                        const struct limits_result *res =
                            next_limit < n_limits ? &limits[next_limit] : NULL;
                        if (!res || res->cgroup_id != a->limits.c.cgroup_id)
                                break;
                        next_limit++;
                        if (!res->ok)
                                break;
                        if (a->limits.c.up)
                                mt->loans_total++;
                        else
                                mt->returns_total++;
                        mt->decisions[decision_action_index(a->limits.d.action)]
                                     [level_of(&a->limits.d)]++;
                        break;
                }
                case ACTION_RECLAIM:
                        mt->reclaim_steps_total++;
                        break;
                default:
                        /* Logs, reports, the end of an eviction and whatever acts without
                         * deciding anew: nothing to count. */
                        break;
                }
        }
        /* A kill counts once it took processes, as maxKillsPerMinute counts it. */
        if (killed_now && after->outcome == EVICT_KILLED && after->counted)
                mt->kills[reason]++;
}

void agent_metrics_observe_step(struct agent_metrics *mt, uint64_t duration_usec, uint64_t end_usec)
{
        size_t b = 0;
        while (b < AGENT_METRICS_STEP_BUCKETS - 1 &&
               (double)duration_usec > step_bounds_sec[b] * 1e6)
                b++;
        mt->step_buckets[b]++;
        mt->step_sum_usec += duration_usec;
        mt->last_step_usec = end_usec;
}

void agent_metrics_api_request(struct agent_metrics *mt, const char *verb, int code)
{
        size_t v = AGENT_METRICS_API_VERBS - 1, c;
        for (size_t i = 0; verb && i + 1 < AGENT_METRICS_API_VERBS; i++)
                if (streq(verb, api_verbs[i]))
                        v = i;
        if (code <= 0 || code >= 600)
                c = API_CODE_ERROR;
        else {
                c = code < 200 ? API_CODE_ERROR : API_CODE_CLASS_2XX + (size_t)(code / 100 - 2);
                for (size_t i = 0; i < ELEMENTSOF(api_codes); i++)
                        if (api_codes[i] == code)
                                c = i;
        }
        mt->api_requests[v][c]++;
}

void agent_metrics_set_ready(struct agent_metrics *mt, bool ready)
{
        mt->ready = ready;
}

bool agent_metrics_healthy(const struct manager *m, uint64_t now_usec)
{
        /* A few sample intervals: the timer fires every interval, PSI and inotify sooner; one
         * second more for a step that ran long. */
        uint64_t interval = m->p.sample_interval_usec > m->p.fast_sample_interval_usec
                                ? m->p.sample_interval_usec
                                : m->p.fast_sample_interval_usec;
        uint64_t last = m->metrics.last_step_usec;
        return now_usec <= last || now_usec - last <= 3 * interval + 1000000;
}

/* ---- the exposition ---- */

static void counter(struct api_buf *b, const char *name, const char *help, uint64_t v)
{
        prom_family(b, name, PROM_COUNTER, help);
        prom_sample_u64(b, name, NULL, 0, v);
}

static void gauge(struct api_buf *b, const char *name, const char *help, double v)
{
        prom_family(b, name, PROM_GAUGE, help);
        prom_sample_double(b, name, NULL, 0, v);
}

static void format_pressure(struct manager *m, struct api_buf *b)
{
        static const char *const lvl = "memagent_pressure_level";
        static const char *const avail = "memagent_memory_available_bytes";
        static const char *const stall = "memagent_memory_pressure_stall_ratio";
        prom_family(b, lvl, PROM_GAUGE,
                    "Pressure level of a scope: 0 none, 1 low (balloon), 2 medium (graceful "
                    "eviction), 3 critical (kill).");
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope_state *s = &m->state.scopes[i];
                const struct prom_label l[] = { { "scope", scope_to_string(i) } };
                /* The node is always a scope; kubepods only once found with a memory limit. */
                if (s->active || i == SCOPE_NODE)
                        prom_sample_u64(b, lvl, l, 1, s->active ? s->st.level : LEVEL_NONE);
        }
        prom_family(b, avail, PROM_GAUGE,
                    "Memory available in a scope at the last sample (the kubelet's "
                    "memory.available).");
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope_state *s = &m->state.scopes[i];
                const struct prom_label l[] = { { "scope", scope_to_string(i) } };
                if (s->active)
                        prom_sample_u64(b, avail, l, 1, s->st.available_bytes);
        }
        prom_family(b, stall, PROM_GAUGE,
                    "Share of wall time with some or all tasks of a scope stalled on memory, "
                    "between the last two samples (PSI).");
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope_state *s = &m->state.scopes[i];
                if (!s->active || !s->st.have_prev)
                        continue;
                const struct prom_label some[] = { { "scope", scope_to_string(i) },
                                                   { "kind", "some" } };
                const struct prom_label full[] = { { "scope", scope_to_string(i) },
                                                   { "kind", "full" } };
                prom_sample_double(b, stall, some, 2, s->st.some_pct / 100.0);
                prom_sample_double(b, stall, full, 2, s->st.full_pct / 100.0);
        }
}

static void format_decisions(struct manager *m, struct api_buf *b)
{
        const struct agent_metrics *mt = &m->metrics;
        static const char *const dec = "memagent_decisions_total";
        static const char *const ev = "memagent_evictions_total";
        static const char *const kills = "memagent_kills_total";
        prom_family(b, dec, PROM_COUNTER,
                    "Decisions recorded (memagent explain), by action (kill, terminate, evict, "
                    "none, loan, return, stand-back) and the pressure level they were taken at.");
        for (size_t a = 0; a < AGENT_METRICS_DECISION_ACTIONS; a++)
                for (enum pressure_level l = 0; l < _LEVEL_MAX; l++)
                        if (mt->decisions[a][l]) {
                                const struct prom_label lb[] = {
                                        { "action", decision_actions[a] },
                                        { "level", pressure_level_to_string(l) },
                                };
                                prom_sample_u64(b, dec, lb, 2, mt->decisions[a][l]);
                        }
        prom_family(b, ev, PROM_COUNTER,
                    "Evictions decided and started (SIGTERM with a grace period, a kill at once, "
                    "or the Kubernetes Eviction API; not in a dry run), by scope and pressure "
                    "level.");
        for (enum scope_id s = 0; s < _SCOPE_MAX; s++)
                for (enum pressure_level l = 0; l < _LEVEL_MAX; l++)
                        if (mt->evictions[s][l]) {
                                const struct prom_label lb[] = {
                                        { "scope", scope_to_string(s) },
                                        { "level", pressure_level_to_string(l) },
                                };
                                prom_sample_u64(b, ev, lb, 2, mt->evictions[s][l]);
                        }
        prom_family(b, kills, PROM_COUNTER,
                    "Cgroups killed (cgroup.kill) that had processes, by reason: critical, "
                    "no_grace_period, grace_period_over, signal_failed.");
        for (size_t r = 0; r < _KILL_REASON_MAX; r++) {
                const struct prom_label lb[] = { { "reason", kill_reasons[r] } };
                prom_sample_u64(b, kills, lb, 1, mt->kills[r]);
        }
        static const char *const wake = "memagent_wakeups_total";
        prom_family(b, wake, PROM_COUNTER,
                    "Times the kernel or the sampling timer woke memagentd about memory, by "
                    "source: timer, psi_node, psi_kubepods, psi_pod (a pod's own PSI trigger), "
                    "memory_events_kubepods, memory_events_cgroup (a pod's or container's "
                    "memory.events).");
        for (size_t w = 0; w < _WAKE_MAX; w++) {
                const struct prom_label lb[] = { { "source", wake_sources[w] } };
                prom_sample_u64(b, wake, lb, 1, mt->wakeups[w]);
        }
        counter(b, "memagent_kernel_oom_kills_total",
                "Victims of the kernel OOM killer seen through BPF (memagent did not get there "
                "first).",
                m->kernel_oom_kills);
}

static void format_elastic(struct manager *m, struct api_buf *b)
{
        uint64_t lent = 0, loans = 0;
        for (size_t i = 0; i < m->state.n_units; i++) {
                const struct vscale_loan *l = &m->state.units[i].loan;
                if (l->active) {
                        lent += l->lent_bytes;
                        loans++;
                }
        }
        counter(b, "memagent_balloon_reclaimed_bytes_total",
                "Memory the balloon reclaimed from cold containers (memory.reclaim).",
                m->state.reclaimed_total);
        counter(b, "memagent_balloon_reclaim_steps_total",
                "Balloon reclaim steps handed to the reclaim worker.",
                m->metrics.reclaim_steps_total);
        gauge(b, "memagent_vscale_lent_bytes",
              "Memory lent to containers over their original limit by vertical scaling, "
              "outstanding.",
              (double)lent);
        gauge(b, "memagent_vscale_loans", "Containers holding a loan.", (double)loans);
        counter(b, "memagent_vscale_loans_total", "Loans written (memory.max raised).",
                m->metrics.loans_total);
        counter(b, "memagent_vscale_returns_total",
                "Returns written (memory.max lowered back toward the original).",
                m->metrics.returns_total);
}

static void format_reporter(struct manager *m, struct api_buf *b)
{
        struct reporter_stats st = { 0 };
        bool on = m->reporter != NULL;
        if (on)
                reporter_get_stats(m->reporter, &st);
        /* Families always, samples only with a reporter (schedulerUrl set). */
        static const struct {
                const char *name, *help;
                enum prom_type type;
        } fam[] = {
                { "memagent_report_sent_total", "Node reports memschedd accepted.", PROM_COUNTER },
                { "memagent_report_failed_total", "Node report attempts that failed.",
                  PROM_COUNTER },
                { "memagent_report_superseded_total",
                  "Node reports replaced by a newer one before being sent.", PROM_COUNTER },
                { "memagent_report_consecutive_failures",
                  "Failed node report attempts since the last success.", PROM_GAUGE },
                { "memagent_report_reachable",
                  "1 when the last node report reached memschedd (any HTTP answer).", PROM_GAUGE },
                { "memagent_report_last_success_timestamp_seconds",
                  "Unix time of the last node report memschedd accepted (0: never).", PROM_GAUGE },
        };
        const double v[] = { (double)st.sent,       (double)st.failed,
                             (double)st.superseded, (double)st.consecutive_failures,
                             st.reachable ? 1 : 0,  (double)st.last_success_usec / 1e6 };
        for (size_t i = 0; i < ELEMENTSOF(fam); i++) {
                prom_family(b, fam[i].name, fam[i].type, fam[i].help);
                if (on)
                        prom_sample_double(b, fam[i].name, NULL, 0, v[i]);
        }
}

struct stall_hist {
        uint64_t hist[MEMSIG_STALL_KINDS][MEMSIG_HIST_SLOTS];
        uint64_t sum_usec[MEMSIG_STALL_KINDS];
};

static int add_cgroup_stalls(uint64_t cgroup_id, const struct bpfsig_cgroup_stats *s,
                             void *userdata)
{
        struct stall_hist *h = userdata;
        (void)cgroup_id;
        for (size_t k = 0; k < MEMSIG_STALL_KINDS; k++) {
                for (size_t i = 0; i < MEMSIG_HIST_SLOTS; i++)
                        h->hist[k][i] += s->hist[k][i];
                h->sum_usec[k] += s->reclaim[k].stall_usec;
        }
        return 0;
}

static void format_bpf(struct manager *m, struct api_buf *b)
{
        static const char *const name = "memagent_reclaim_stall_seconds";
        static const char *const kinds[MEMSIG_STALL_KINDS] = {
                [MEMSIG_STALL_DIRECT] = "direct",
                [MEMSIG_STALL_MEMCG] = "memcg",
                [MEMSIG_STALL_SOFTLIMIT] = "softlimit",
        };
        prom_family(b, name, PROM_HISTOGRAM,
                    "Time tasks of the node spent stalled in memory reclaim, by kind (direct, "
                    "memcg, softlimit; softlimit reclaim runs inside direct reclaim), from the "
                    "BPF programs' log2 histograms; absent without BPF.");
        if (!m->bpf)
                return;
        struct stall_hist h = { 0 };
        if (bpfsig_for_each_cgroup(m->bpf, add_cgroup_stalls, &h) < 0)
                return;
        /* Slot i holds stalls of [2^i, 2^(i+1)) usec: its upper bound is 2^(i+1) usec; the last
         * slot takes everything above and is the +Inf bucket. */
        double bounds[MEMSIG_HIST_SLOTS - 1];
        for (size_t i = 0; i < MEMSIG_HIST_SLOTS - 1; i++)
                bounds[i] = (double)(UINT64_C(2) << i) / 1e6; /* no libm for ldexp() */
        for (size_t k = 0; k < MEMSIG_STALL_KINDS; k++) {
                const struct prom_label l[] = { { "kind", kinds[k] } };
                prom_histogram(b, name, l, 1, bounds, h.hist[k], MEMSIG_HIST_SLOTS,
                               (double)h.sum_usec[k] / 1e6);
        }
        counter(b, "memagent_bpf_dropped_events_total",
                "BPF ring buffer events the agent fell behind on and lost.",
                bpfsig_dropped_events(m->bpf));
}

static void format_step(struct manager *m, struct api_buf *b)
{
        const struct agent_metrics *mt = &m->metrics;
        static const char *const name = "memagent_step_duration_seconds";
        prom_family(b, name, PROM_HISTOGRAM,
                    "Time of one observation and decision: sampling the cgroups and the node "
                    "(and rescanning the tree when due), detecting and ranking.");
        prom_histogram(b, name, NULL, 0, step_bounds_sec, mt->step_buckets,
                       AGENT_METRICS_STEP_BUCKETS, (double)mt->step_sum_usec / 1e6);

        static const char *const tracked = "memagent_tracked_cgroups";
        size_t containers = 0;
        for (size_t i = 0; i < m->model.n_pods; i++)
                containers += m->model.pods[i].n_containers;
        prom_family(b, tracked, PROM_GAUGE, "Cgroups the agent samples, by kind.");
        const struct {
                const char *kind;
                size_t n;
        } t[] = { { "pod", m->model.n_pods },
                  { "container", containers },
                  { "workload", m->model.n_workloads } };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                const struct prom_label l[] = { { "kind", t[i].kind } };
                prom_sample_u64(b, tracked, l, 1, t[i].n);
        }
}

static void format_api(struct manager *m, struct api_buf *b)
{
        const struct agent_metrics *mt = &m->metrics;
        static const char *const name = "memagent_kubernetes_api_requests_total";
        prom_family(b, name, PROM_COUNTER,
                    "Requests to the Kubernetes API server, by verb and status code (a class "
                    "such as 5xx for codes the agent does not act on by value, error when no "
                    "answer came).");
        for (size_t v = 0; v < AGENT_METRICS_API_VERBS; v++)
                for (size_t c = 0; c < AGENT_METRICS_API_CODES; c++) {
                        if (!mt->api_requests[v][c])
                                continue;
                        char code[8];
                        if (c < ELEMENTSOF(api_codes))
                                snprintf(code, sizeof(code), "%d", api_codes[c]);
                        else
                                snprintf(code, sizeof(code), "%s",
                                         api_code_classes[c - ELEMENTSOF(api_codes)]);
                        const struct prom_label l[] = { { "verb", api_verbs[v] },
                                                        { "code", code } };
                        prom_sample_u64(b, name, l, 2, mt->api_requests[v][c]);
                }
}

/* Remote swap: per donor of the lease, how long transfers took and how many failed (the figures
 * `memagent status` shows as p50/p99), as of the last snapshot. The donor label is bounded by the
 * lease's donors (a handful). Absent without remote swap. */
static void format_remote_swap(struct manager *m, struct api_buf *b)
{
        static const char *const name = "memagent_remote_swap_transfer_seconds";
        static const char *const errors = "memagent_remote_swap_transfer_errors_total";
        if (!m->remote_swap)
                return;
        prom_family(b, name, PROM_HISTOGRAM,
                    "Time of one transfer (a READ or WRITE of a slab extent) to a donor of the "
                    "remote swap lease, by donor, since the lease began.");
        double bounds[REMOTE_LATENCY_SLOTS - 1];
        for (unsigned i = 0; i < REMOTE_LATENCY_SLOTS - 1; i++)
                bounds[i] = (double)remote_latency_slot_upper_usec(i) / 1e6;
        for (size_t i = 0; i < m->n_rswap_donors; i++) {
                const struct remote_swap_donor *d = &m->rswap_donors[i];
                const struct prom_label l[] = { { "donor", d->donor } };
                prom_histogram(b, name, l, 1, bounds, d->latency.slots, REMOTE_LATENCY_SLOTS,
                               (double)d->latency.sum_usec / 1e6);
        }
        prom_family(b, errors, PROM_COUNTER,
                    "Transfers to a donor of the remote swap lease that failed, by donor.");
        for (size_t i = 0; i < m->n_rswap_donors; i++) {
                const struct prom_label l[] = { { "donor", m->rswap_donors[i].donor } };
                prom_sample_u64(b, errors, l, 1, m->rswap_donors[i].latency.errors);
        }
}

/* process_resident_memory_bytes, as the Prometheus client libraries export it: statm's second
 * field, in pages. Our own /proc, not procRoot (which tests point at fixtures). */
static void format_process(struct api_buf *b)
{
        char buf[128];
        unsigned long long size, resident;
        ssize_t n = read_file_at(AT_FDCWD, "/proc/self/statm", buf, sizeof(buf));
        if (n <= 0 || sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return;
        gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
              (double)resident * (double)sysconf(_SC_PAGESIZE));
}

void agent_metrics_format(struct manager *m, uint64_t now_usec, struct api_buf *b)
{
        (void)now_usec;
        prom_family(b, "memagent_build_info", PROM_GAUGE, "memagentd's version, always 1.");
        const struct prom_label v[] = { { "version", MEMAGENT_VERSION } };
        prom_sample_u64(b, "memagent_build_info", v, 1, 1);
        format_pressure(m, b);
        format_decisions(m, b);
        format_elastic(m, b);
        format_reporter(m, b);
        format_bpf(m, b);
        format_step(m, b);
        format_api(m, b);
        format_remote_swap(m, b);
        format_process(b);
}
