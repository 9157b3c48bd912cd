// SPDX-License-Identifier: Apache-2.0
// memagentd's decision, as one pure step: a snapshot of the node in, a list of actions out.
//
// The manager observes (reads the cgroup tree, the node, PSI, candidate flags, the outcomes of
// what it did before) into a struct node_snapshot, calls agent_step(), and carries out the
// actions it returns; the outcomes come back in the next snapshot. agent_step() does no I/O,
// reads no clock and touches no global: everything it remembers between steps is in struct
// agent_state, so tests drive whole pressure episodes with snapshots built in memory.
//
// One step, for a snapshot with a fresh sample:
//   1. the outcomes that came back: the eviction in flight (exited, grace over, killed), a
//      finished reclaim step, limits written for a loan or a return;
//   2. the pressure level of each scope (the node, kubepods when it has a memory limit), with
//      hysteresis (agent/decide/pressure.h), the balloon's own reclaim taken out of the stall
//      totals;
//   2b. thrashing (struct thrash_params): a pod stalled reading its page cache back for
//      thrashSustain on a tight node, with pods ranked before it holding memory, puts the node at
//      medium for this sample; the eviction's record says so ("thrashing of ..., relieved by
//      evicting ...");
//   3. the episode: its first signal starts the trigger-to-decision clock;
//   4. the balloon and vertical scaling (the first rung, agent/decide/elastic-step.c): per
//   container,
//      the balloon's controller and the loan logic on the fresh sample; the one reclaim step
//      to start (the coldest container first under pressure), loans and returns to write,
//      stand-backs, and their records;
//   5. eviction, at medium or above when the current sample is still at medium or above, no
//      eviction is in flight, the cooldown is over and fewer than maxKillsPerMinute kills took
//      place in the last minute: the victim from the policy chain (protected candidates, the
//      one holding memagentd and, on a Kubernetes node, system services are never offered),
//      terminated with a grace period, or killed at once at critical or with no grace period;
//   6. the node report.
// On a node whose API server is configured, a pod the API knows (its struct k8s_pod_meta came
// along with the candidate) is evicted through the Eviction API at medium, so that the kubelet
// does not restart it in place; the answers come back in the next snapshots (kube_answers):
//   - 2xx: the grace period runs as after a SIGTERM (the kubelet stops the pod); still populated
//     after it: cgroup kill, as today;
//   - 429 (a PodDisruptionBudget, or Retry-After): recorded, and the next candidate of the same
//     decision is evicted instead; the refused pod is not asked again before its Retry-After;
//   - 404 / 409: the pod is gone or was replaced: recorded, the eviction ends;
//   - no answer (the API is down), 5xx or any other error: the node cannot wait: cgroup kill,
//     and the eviction through the API is queued.
// At critical, with no grace period, or with the API unusable, a known pod is killed through the
// cgroup as today and then queued for eviction through the API; the queue is retried while the
// API is usable (Retry-After honoured, backing off) until 2xx, 404 or 409. Every eviction, kill,
// loan, return and stand-back of a known pod is also an Event regarding it (ACTION_KUBE_EVENT).
// Standalone (no pod directory: no meta, kube_usable false), none of this happens.
// A snapshot without a sample (the end of a grace period, the victim's cgroup emptied, a reclaim
// step finished, limits written) only carries outcomes: step 1 alone runs.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/decide/balloon.h"
#include "agent/decide/decision.h"
#include "agent/decide/lease-step.h"
#include "agent/decide/pressure.h"
#include "agent/decide/vscale.h"
#include "agent/kernel/model.h"
#include "agent/kernel/node.h"
#include "api/k8s_pod.h"
#include "api/kube/status.h"
#include "common/config.h"
#include "common/memtypes.h"
#include "plugins/memagent-plugin.h"

struct policy_chain;
struct balloon_cand;

enum scope_id {
        SCOPE_NODE,
        SCOPE_KUBEPODS,
        _SCOPE_MAX,
};
/* "node", "kubepods". */
const char *scope_to_string(enum scope_id s);

#define AGENT_KILL_HISTORY 64

/* The balloon (agent/decide/balloon.h) and vertical scaling (agent/decide/vscale.h). */
struct elastic_params {
        bool balloon_enabled;
        bool balloon_qos[_QOS_MAX]; /* indexed by enum qos_class */
        struct balloon_params balloon;
        bool vscale_enabled;
        /* a quantity, or a percentage of the original limit */
        struct config_bytes_or_percent vscale_step, vscale_ceiling;
        uint64_t vscale_return_hold_usec;
};

/* Thrashing is pressure (issue 17). A pod whose own memory stall (its memory.pressure "some"
 * share of wall time, since its last reading) and file refaults (its page cache read back from
 * disk) stay above these thresholds for `sustain_usec`, while the node is tight (MemAvailable
 * below `available`: page cache counts as available, so a node whose cache is being thrashed
 * still shows 20% or so; tightness only gates, the pod's stall and refaults are the signal), is
 * pressure for the node: it raises the node to level medium when pods ranked before it in the
 * eviction order hold memory (at least THRASH_HOLD_PERMILLE of MemTotal, their working sets
 * together), and the normal ranking picks the victim. A pod near its own limit (memory.current at
 * or above `own_limit_pct` of its memory.max or memory.high, or one of its containers near its
 * own) thrashes inside that limit: its own business, never the node's. stall_some_pct 0 disables
 * the signal. */
struct thrash_params {
        double stall_some_pct;
        double refaults_per_sec; /* file pages per second (workingset_refault_file) */
        struct config_bytes_or_percent available;
        uint64_t sustain_usec;
        double own_limit_pct;
};

/* The decision's settings, from the configuration. Pointers are borrowed for the step. */
struct agent_params {
        struct config_bytes_or_percent avail_low, avail_medium, avail_critical;
        double psi_low_some, psi_medium_full, psi_critical_full;
        unsigned raise_samples;
        uint64_t clear_hold_usec;
        bool dry_run;
        const struct policy_chain *chain; /* ranking is pure (plugins/policy.h) */
        uint64_t kill_cooldown_usec;
        unsigned max_kills_per_minute;
        uint64_t grace_period_usec;
        struct elastic_params elastic;
        struct lease_params lease; /* remote swap (agent/decide/lease-step.h) */
        struct thrash_params thrash;
};

/* One pressure scope as sampled. */
struct scope_input {
        bool present; /* kubepods: exists and has a memory limit */
        uint64_t total_bytes, available_bytes;
        bool has_psi;
        uint64_t psi_some_total_usec, psi_full_total_usec; /* as the kernel counts them */
};

/* An eviction candidate: a pod, or a workload (MEMAGENT_CAND_WORKLOAD). c.flags carry the
 * protection and avoidance the operator set (globs, xattrs); holds_self marks the cgroup
 * memagentd itself runs in. c.name is "namespace/name" when the API knows the pod, "pod <uid>"
 * otherwise. */
struct snap_candidate {
        struct memagent_candidate c;
        bool holds_self;
        const char *uid; /* the pod's uid, NULL for a workload */
        /* What the API server says of the pod; NULL when it does not know it (standalone, or not
         * listed yet). The step applies it: its priority, its request when the cgroup gives none,
         * protect or node_critical: never evicted; avoid: last. Borrowed for the step. */
        const struct k8s_pod_meta *meta;
        enum swap_override swap; /* user.memagent_swap on the pod's cgroup */
};

/* A pod as the API names it. */
struct kube_pod_ref {
        char namespace_[K8S_NAMESPACE_MAX];
        char name[K8S_NAME_MAX];
        char uid[80];
};

/* The API's answer to an ACTION_EVICT_API, for the pod with this uid. */
struct kube_answer {
        char uid[80];
        struct kube_status status;
};

/* What became of the eviction in flight since the last step. */
enum evict_outcome {
        EVICT_PENDING = 0, /* nothing new */
        EVICT_EXITED,      /* the victim's cgroup emptied before the grace period ended */
        EVICT_GRACE_OVER,  /* the grace period ended; populated says whether anyone is left */
        EVICT_KILLED,      /* the kill ran; counted when it took processes (done, or timeout) */
        EVICT_KILL_FAILED, /* the kill could not run, or found nothing */
};

struct evict_result {
        enum evict_outcome outcome;
        bool populated; /* EVICT_GRACE_OVER */
        bool counted;   /* EVICT_KILLED: counts against maxKillsPerMinute */
        uint64_t at_usec;
};

/* A reclaim step the balloon's worker finished (agent/kernel/elastic.h). */
struct reclaim_result {
        bool done;
        uint64_t cgroup_id;
        uint64_t asked_bytes, before_bytes, after_bytes; /* memory.current around the write */
        uint64_t usec;
        int r; /* 0, -EAGAIN (reclaimed less than asked), or the write's error */
        bool pressure;
};

/* A limit change (a loan or a return) the actuator wrote, or failed to. */
struct limits_result {
        uint64_t cgroup_id;
        bool ok;
};

struct node_snapshot {
        uint64_t now_usec;   /* CLOCK_MONOTONIC, when the observation began */
        const char *trigger; /* what woke the agent: "sample", "psi", "memory.events", "oom" */
        bool sampled;        /* false: only an eviction outcome, no fresh sample */
        bool have_node;      /* the node has been sampled at least once */
        const struct node_sample *node;
        const struct model *model;
        struct scope_input scopes[_SCOPE_MAX];
        /* the balloon's worker time inside memory.reclaim, cumulative (see elastic.h) */
        uint64_t reclaim_busy_usec;
        bool self_in_pods; /* memagentd runs inside a pod: its reclaim stalls count in kubepods */
        bool has_kubepods;
        const struct snap_candidate *cands;
        size_t n_cands;
        struct evict_result evict;
        bool reporting; /* a node report is wanted (schedulerUrl set) */
        /* the balloon and vertical scaling: off when the reclaim worker could not start */
        bool elastic;
        bool reclaim_busy; /* a reclaim step is on the worker */
        struct reclaim_result reclaim;
        const struct limits_result *limits;
        size_t n_limits;
        /* The Kubernetes API: configured and this node's pods listed. False standalone: then
         * the step never emits ACTION_EVICT_API. */
        bool kube_usable;
        const struct kube_answer *kube_answers; /* answers since the last step */
        size_t n_kube_answers;
        struct remote_swap_input remote; /* the remote swap worker */
};

/* What the balloon and vertical scaling remember of one container (or workload). */
struct elastic_unit {
        uint64_t id; /* cgroup inode */
        bool seen;
        bool is_container;
        enum qos_class qos;
        /* Its names, sized exactly (elastic_unit_label()): one block that name points to and the
         * unit owns, the others point into it; NULL until labelled (read them through
         * unit_str()). Fixed arrays for them were 650 of the unit's 1,648 bytes, per container
         * (issue 13). */
        char *name;               /* "namespace/name container <id>" when the API knows the pod */
        const char *pod_uid;      /* a container's pod, "" for a workload */
        const char *container_id; /* the runtime's id, from the container's cgroup name */
        bool known; /* the API knows the pod: pod_* are filled (elastic_unit_pod_ref()), Events
                     * are sent */
        const char *pod_namespace, *pod_name, *pod_api_uid;
        char cgroup[256];
        struct balloon_state b;
        struct balloon_step last;
        bool ballooned; /* the balloon runs for this unit (QoS class enabled) */
        struct vscale_loan loan;
        uint64_t current_bytes, working_set_bytes, request_bytes, limit_bytes, peak_bytes;
        bool near;               /* growing close to its limit: sample fast */
        uint64_t inactive_bytes; /* reclaimable inactive memory at the last sample */
        uint64_t ep_freed_bytes; /* reclaimed during the current pressure episode */
        /* a limit change handed to the actuator: applied to loan once it reports success */
        bool pending;
        struct vscale_input pending_in;
        /* the decision's figures, without its reason: vscale_applied() does not read it, and
         * it was 200 of the unit's bytes (issue 13) */
        struct {
                enum vscale_action action;
                uint64_t bytes, new_max, new_high, new_pod_max, old_max;
        } pending_d;
};

#define UNIT_NAME_MAX 95 /* characters of a unit's name kept */

/* A unit's label, "" when it has none. */
static inline const char *unit_str(const char *s)
{
        return s ? s : "";
}

/* Sets u's names in one new block sized to them, freeing the old one; meta (NULL: the API does
 * not know the pod) gives the pod's namespace, name and uid. Each is cut to the length its fixed
 * array once held (name 95, pod_uid and container_id 79 characters, the pod's as in struct
 * kube_pod_ref). NULL strings are "". Returns 0, or -ENOMEM with u unchanged. */
int elastic_unit_label(struct elastic_unit *u, const char *name, const char *pod_uid,
                       const char *container_id, const struct k8s_pod_meta *meta);
/* The pod of a known unit, as the API names it. */
void elastic_unit_pod_ref(const struct elastic_unit *u, struct kube_pod_ref *ret);

/* A balloon pressure episode: from level low until none again. */
struct balloon_episode {
        bool open;
        bool has_record; /* its decision record exists (the first step that freed something) */
        struct decision record;
        uint64_t freed_bytes;
        unsigned containers, steps;
        enum pressure_level level; /* the highest seen, with its scope and signals */
        char scope[16], signals[192];
};

struct scope_state {
        bool active;
        struct pressure_state st;
        struct pressure_params params; /* resolved against the scope's total at the last sample */
        /* The full stall that was one thrashing pod's own (thrash_victim_full_usec()), summed:
         * taken out of the scope's total like the balloon's own reclaim. */
        uint64_t victim_full_usec;
        bool have_raw_prev;
        uint64_t prev_raw_full_usec; /* the scope's full total at the last sample, as read */
};

#define AGENT_EVICT_CHOICES 8  /* candidates of one decision, for 429s */
#define AGENT_KUBE_QUEUE    32 /* pods killed through the cgroup, not yet evicted via the API */
#define AGENT_KUBE_HOLDOFFS 16 /* pods whose eviction the API asked to retry later */

/* A candidate of the decision in flight, in rank order, for the next try after a 429. */
struct evict_choice {
        struct decision_candidate cand;
        uint64_t cgroup_id;
        bool known; /* the API knows the pod: pod is filled */
        struct kube_pod_ref pod;
        bool tried;
};

/* A pod killed through its cgroup and still to evict through the API, so that the kubelet does
 * not restart it on this node. */
struct kube_pending {
        struct kube_pod_ref pod;
        struct decision_candidate cand;
        char scope[16], level[16];
        uint64_t next_usec;    /* not before (backoff, Retry-After) */
        uint64_t backoff_usec; /* the last wait, doubled on each failure */
        unsigned attempts;
        bool sent; /* an ACTION_EVICT_API is out, its answer not back */
};

struct kube_holdoff {
        char uid[80];
        uint64_t until_usec;
};

#define AGENT_THRASH_PODS 256 /* pods watched for thrashing; more pods than a node runs */

/* The thrash signal judges a pod over windows of at least this long: a pod's stall and refaults
 * come in bursts of a few milliseconds, and while watched the node is sampled every 100 ms. */
#define THRASH_WINDOW_USEC 1000000ull

/* What the thrash signal remembers of one pod (struct thrash_params). */
struct thrash_watch {
        uint64_t cgroup_id; /* 0: free slot */
        /* the window's start: memory.pressure some and workingset_refault_file totals then */
        bool have_prev;
        uint64_t prev_some_usec, prev_refaults, prev_usec;
        uint64_t since_usec; /* every window above the thresholds since then, 0: not */
        unsigned misses;     /* windows in a row below them (one is forgiven) */
        unsigned extreme;    /* windows in a row far above them (thrash-step.c) */
        double stall_pct, refaults_per_sec; /* over the last window */
        /* Sample to sample, for the full-stall attribution (thrash_victim_full_usec()): the
         * pod's last reading, and what changed between the one before and it. */
        struct {
                uint64_t read_usec, full_usec, refaults; /* the last reading; read_usec 0: none */
                uint64_t from_usec, at_usec;             /* the interval of the deltas; 0: none */
                uint64_t d_full_usec, d_refaults;
        } sample;
};

/* The memory between steps. Zero it (agent_state_init()) before the first step. */
struct agent_state {
        struct scope_state scopes[_SCOPE_MAX];
        /* the eviction in flight: SIGTERM sent, the grace period running */
        struct {
                bool active;
                char cgroup[256];
                uint64_t cgroup_id;
                uint64_t decided_usec;
                /* through the Eviction API: the answer is awaited (api_wait), or the API accepted
                 * it and the grace period runs */
                bool api_wait, api_accepted;
                uint64_t api_sent_usec; /* when the awaited eviction was asked for */
                bool known; /* the API knows the victim: pod is filled, events are sent */
                struct kube_pod_ref pod;
                char note[512]; /* what the Events say of the decision: level, scope, numbers */
                char scope[16], level[16];
                struct evict_choice choices[AGENT_EVICT_CHOICES];
                size_t n_choices, current;
        } inflight;
        struct kube_pending kube_queue[AGENT_KUBE_QUEUE];
        size_t n_kube_queue;
        struct kube_holdoff kube_holdoffs[AGENT_KUBE_HOLDOFFS];
        uint64_t cooldown_until_usec;
        uint64_t kill_times[AGENT_KILL_HISTORY]; /* monotonic usec of recent kills, a ring */
        size_t kill_head;
        uint64_t kills_total, decisions_total;
        /* the first signal of the current pressure episode, for trigger-to-decision latency */
        uint64_t episode_start_usec;
        char episode_trigger[32];
        /* the node report */
        enum pressure_level report_level;
        uint64_t report_level_since_usec;
        bool relief_exhausted; /* at medium or above with nothing left to evict */
        /* the balloon and vertical scaling */
        struct elastic_unit *units;
        size_t n_units, cap_units;
        /* the balloon's candidates of a step (elastic-step.c), kept so that a calm step
         * allocates nothing */
        struct balloon_cand *balloon_cands;
        size_t cap_balloon_cands;
        struct balloon_episode balloon_ep;
        uint64_t reclaimed_total;
        struct lease_step_state lease; /* remote swap */
        bool elastic_fast;             /* a container is growing close to its limit */
        /* the thrash signal: pods watched, and the one that raised the node this step */
        struct thrash_watch thrash[AGENT_THRASH_PODS];
        bool thrash_raised;    /* this sample's node level is medium because of it */
        char thrash_pod[96];   /* the thrashing pod as the decision names it */
        char thrash_note[128]; /* "stall some 41.0%, refaults 5210/s" */
};

void agent_state_init(struct agent_state *st);
void agent_state_done(struct agent_state *st);

/* Appends a new unit for cgroup id (units may move: hold indexes), unlabelled; NULL on ENOMEM. */
struct elastic_unit *elastic_unit_append(struct agent_state *st, uint64_t id);
/* Frees the units, their names and the balloon's candidates (agent_state_done()). */
void elastic_units_done(struct agent_state *st);

enum action_kind {
        ACTION_LOG,            /* a line for the journal */
        ACTION_RECORD,         /* append a decision record (memagent explain) */
        ACTION_TERMINATE,      /* SIGTERM, grace timer, cgroup.events watch */
        ACTION_KILL,           /* freeze and kill, verified */
        ACTION_EVICTION_ENDED, /* the victim left in its grace period: close its record */
        ACTION_RECLAIM,        /* one balloon step on the reclaim worker */
        ACTION_SET_LIMITS,     /* a loan or a return: memory.max/high, the pod's memory.max */
        ACTION_REPORT,         /* the node report to memschedd */
        ACTION_EVICT_API,      /* POST pods/eviction; the answer comes back as a kube_answer */
        ACTION_KUBE_EVENT,     /* an events.k8s.io/v1 Event regarding a pod */
        ACTION_OUTCOME,        /* rewrites a record: its outcome, the API's answer, its victim */
        ACTION_REMOTE_SWAP,    /* lease, renew, drain or release remote swap (lease-step.h) */
        ACTION_SWAP_MAX,       /* a container's memory.swap.max */
};

/* A loan or a return to write. */
struct limits_change {
        uint64_t cgroup_id, pod_cgroup_id;       /* pod 0: leave the pod alone */
        bool up;                                 /* a loan: raise the pod first */
        uint64_t new_max, new_high, new_pod_max; /* VSCALE_NO_LIMIT: leave as is */
        uint64_t old_max, old_pod_max;           /* to roll back */
};

/* Which record an action refers to: the one recorded earlier in the same list, the record of
 * the eviction in flight, or the balloon episode's (the actuators keep their ids). */
enum record_ref {
        RECORD_NONE,
        RECORD_LAST,
        RECORD_EVICTION,
        RECORD_BALLOON,
};

struct action {
        enum action_kind kind;
        union {
                struct {
                        int priority; /* LOG_NOTICE, ... */
                        char text[512];
                } log;
                struct {
                        /* Everything but id and times, which the log assigns. The actuator also
                         * fills sample_to_decision_usec (from the snapshot's now_usec) and
                         * trigger_to_decision_usec (from episode_start_usec, 0: none), measured
                         * at the moment of recording as the agent always has. */
                        struct decision d;
                        uint64_t sample_start_usec;
                        uint64_t episode_start_usec;
                        /* RECORD_NONE: a new record. RECORD_BALLOON: the balloon episode's,
                         * made on the first such action and rewritten by the next ones. */
                        enum record_ref slot;
                } record;
                struct {
                        char cgroup[256];
                        uint64_t cgroup_id;
                        uint64_t grace_usec;
                        uint64_t cooldown_usec; /* for the log line of the outcome */
                        enum record_ref record;
                        /* ACTION_TERMINATE: the API accepted the eviction, the kubelet stops
                         * the pod: no SIGTERM, only the grace timer and the cgroup.events
                         * watch */
                        bool api_accepted;
                } evict; /* ACTION_TERMINATE, ACTION_KILL */
                struct {
                        struct kube_pod_ref pod;
                        uint64_t grace_sec;     /* deleteOptions.gracePeriodSeconds */
                        enum record_ref record; /* RECORD_NONE: a queued eviction */
                } evict_api;
                struct {
                        struct kube_pod_ref pod; /* regarding */
                        char type[8];            /* "Normal", "Warning" */
                        char action[32];         /* "Evict", "Kill", "Lend", ... */
                        char reason[64];         /* "MemoryPressureEviction", ... */
                        char note[1025];         /* at most 1024 characters, as the API wants */
                } kube_event;
                struct {
                        enum record_ref record;
                        char outcome[112]; /* "": unchanged */
                        char api[256];     /* appended to the record's API answers, "": none */
                        bool done;         /* the outcome is final */
                        bool has_victim;   /* the victim changed (the next after a 429) */
                        struct decision_candidate victim;
                } outcome;
                struct {
                        uint64_t at_usec;
                        uint64_t decided_usec;
                        uint64_t cooldown_usec;
                        char cgroup[256];
                        bool api_accepted; /* evicted through the API: the kubelet stopped it */
                } ended;                   /* ACTION_EVICTION_ENDED: "terminated gracefully" */
                struct {
                        uint64_t cgroup_id;
                        uint64_t bytes;
                        bool pressure;
                } reclaim;
                struct {
                        struct limits_change c;
                        /* the record to make once written; its outcome says what changed */
                        struct decision d;
                        /* The pod as the API knows it (known), and the container's runtime id:
                         * the actuator also asks the API server to resize the container, so
                         * that the kubelet's next sync keeps the new limit. */
                        bool known;
                        struct kube_pod_ref pod;
                        char container_id[80];
                } limits;
                struct {
                        enum pressure_level level;
                        uint64_t level_duration_ms;
                        bool relief_exhausted;
                        uint64_t reserved_bytes;
                } report;
                struct {
                        enum lease_op op;
                        uint64_t bytes; /* LEASE_OP_LEASE */
                        char lease_id[LEASE_ID_MAX];
                } remote_swap;
                struct {
                        char cgroup[256];
                        uint64_t cgroup_id;
                        uint64_t value_bytes; /* CG_UNLIMITED: "max" */
                } swap_max;
        };
};

struct action_list {
        struct action *items;
        size_t n, cap;
};

void action_list_clear(struct action_list *l);
void action_list_done(struct action_list *l);

/* Decides, from snap and what st remembers, and appends the actions to out (cleared first).
 * Updates st. Returns 0, or -ENOMEM (st may then be partly updated; out holds what fitted). */
int agent_step(const struct node_snapshot *snap, struct agent_state *st,
               const struct agent_params *p, struct action_list *out);

/* The level of the highest active scope, and which one (the node when none is raised). */
enum pressure_level agent_level(const struct agent_state *st, enum scope_id *ret_scope);
/* Kills in the minute before now. */
unsigned agent_kills_last_minute(const struct agent_state *st, uint64_t now_usec);
/* True while the agent should sample at the fast interval (pressure, an episode, an eviction, a
 * pod thrashing). */
bool agent_wants_fast(const struct agent_state *st);
/* True when this sample may feed the thrash signal, so every pod's memory.pressure and
 * memory.stat must be read: the node (as just sampled) is tight and stalled at least
 * thrash.stall_some_pct since the last sample (a pod's stall is also the node's), or a pod is
 * already watched. node: the node scope's input for this sample. */
bool agent_thrash_wants_all(const struct agent_state *st, const struct agent_params *p,
                            const struct scope_input *node, uint64_t now_usec);
