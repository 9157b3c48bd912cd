// SPDX-License-Identifier: Apache-2.0
// The manager's insides, shared by the files that make up memagentd's daemon side:
//   manager.c    the sd-event loop and its sources: timer, PSI triggers, inotify, signals
//   observe.c    reads everything a decision needs into a struct node_snapshot
//   actuators.c  carries out agent_step()'s actions and keeps their outcomes for the next step
//   local-api.c  the unix socket: status, explain, recommend
//   bpf-events.c the BPF ring buffer: kernel OOM kills, reclaim stalls
//   metrics.c    /metrics, /healthz and /readyz (metrics-http.c serves them on the loop)
// The decision itself is agent_step() (agent/decide/step.h), which sees none of this.
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/daemon/manager.h"
#include "agent/daemon/metrics.h"
#include "agent/decide/decision.h"
#include "agent/decide/restore.h"
#include "agent/decide/step.h"
#include "agent/kernel/elastic.h"
#include "agent/kernel/model.h"
#include "agent/kernel/node.h"
#include "agent/kernel/psi.h"
#include "agent/remote/swap.h"

struct bpfsig;
struct metrics_server;
struct reporter;
struct policy_chain;

/* The Kubernetes API client, as it is bound to the manager (api/kube/). Every member may be NULL:
 * nothing is bound standalone, and then the agent acts through cgroups alone. Callbacks run on
 * the loop's thread and never block.
 *   pod_lookup  the pod directory: what the API says of a pod of this node, by uid; NULL when it
 *               does not know it. Borrowed until the loop runs again.
 *   usable      configured, and this node's pods listed: the step may evict through the API.
 *   evict       starts POST pods/eviction (policy/v1 Eviction, the uid as a precondition); the
 *               answer comes back through manager_kube_answer(). A negative errno: not started.
 *   event       posts an events.k8s.io/v1 Event regarding the pod; best effort (kept and sent
 *               again while the API is unreachable).
 *   resize      PATCH pods/resize of the container (by its runtime id) to a memory limit, after
 *               the cgroup write: the API server stays the truth and the kubelet's next sync
 *               keeps the limit. -EOPNOTSUPP once the server said it has no such subresource. */
struct kube_binding {
        const struct k8s_pod_meta *(*pod_lookup)(void *ud, const char *uid);
        bool (*usable)(void *ud);
        int (*evict)(void *ud, const struct kube_pod_ref *pod, uint64_t grace_sec);
        int (*event)(void *ud, const struct kube_pod_ref *pod, const char *type, const char *action,
                     const char *reason, const char *note);
        int (*resize)(void *ud, const struct kube_pod_ref *pod, const char *container_id,
                      uint64_t limit_bytes);
        void *ud;
};

#define MANAGER_KUBE_ANSWERS_MAX 32

/* The eviction actuator's bookkeeping: what the decision does not need to know. */
struct eviction {
        uint64_t decision_id;   /* the record of the eviction in flight, 0: none */
        sd_event_source *timer; /* the end of the grace period */
        int events_fd;          /* the victim's cgroup.events: empty before the end? */
        sd_event_source *events_src;
        char cgroup[256];
        struct evict_result result; /* for the next step; EVICT_PENDING when nothing new */
};

struct manager {
        struct daemon_params p;
        /* copies of what cannot change at run time: p's pointers to them stay valid */
        char *cgroup_root, *proc_root, *sys_root, *api_socket, *state_directory;
        sd_event *event;
        int cg_fd, proc_fd, sys_fd;
        char *scratch;
        struct model model;
        struct node_sample node;
        bool have_node;
        /* decide */
        struct agent_params ap;
        struct agent_state state;
        struct action_list actions;
        struct policy_chain *chain;
        struct decision_log log;
        /* observe */
        struct snap_candidate *cands;
        char (*cand_names)[96];
        size_t cap_cands;
        size_t n_cands_prev; /* filled by the last sample: their flags may be kept */
        uint64_t *self_ids;  /* cgroups whose processes include memagentd (checked at refresh) */
        size_t n_self_ids;
        bool self_in_pods;
        /* tiered sampling: when every file of every cgroup is read next (a calm tick reads
         * usage and events alone), the cgroups a calm tick still reads in full (sorted ids), where
         * the balloon's round-robin of due containers stands, and what the last sample read */
        uint64_t next_full_usec;
        uint64_t *full_ids;
        size_t n_full_ids, cap_full_ids;
        size_t balloon_rr;
        bool sampled_all;
        uint32_t all_files; /* what "every file" means for this sample (CG_HAVE() bits) */
        /* act */
        struct eviction evict;
        uint64_t last_record_id;      /* while acting: the record the list made last */
        uint64_t balloon_record_id;   /* the balloon episode's record */
        struct limits_result *limits; /* limit writes since the last step */
        size_t n_limits, cap_limits;
        /* the Kubernetes API: the client bound, and its answers since the last step */
        struct kube_binding kube;
        struct kube_side *kube_side; /* the client behind kube (agent/daemon/kube.c); NULL */
        struct kube_answer kube_answers[MANAGER_KUBE_ANSWERS_MAX];
        size_t n_kube_answers;
        /* pods whose QoS class from the API disagrees with their cgroup path, warned once */
        char (*qos_warned)[KUBE_ID_MAX];
        size_t n_qos_warned;
        /* the state file (persist.c): what was saved last, in CLOCK_MONOTONIC */
        struct persisted_state saved;
        bool have_saved, save_failed;
        /* sources */
        struct psi_trigger trig[_SCOPE_MAX];
        sd_event_source *trig_src[_SCOPE_MAX];
        sd_event_source *timer;
        uint64_t next_refresh_usec;
        bool refresh_needed;
        int inotify_fd;
        sd_event_source *inotify_src;
        int kp_events_wd;
        /* Watches of pods' and containers' memory.events (manager.c, watch_cgroup_events()):
         * sorted by wd, rebuilt after each walk. */
        struct events_watch {
                int wd;
                uint64_t cgroup_id;
        } * ev_watches;
        size_t n_ev_watches, cap_ev_watches;
        bool ev_watches_full_said;
        /* PSI triggers on the pods that matter (those with a memory limit), up to
         * POD_TRIGGERS_MAX (manager.c, arm_pod_triggers()); re-chosen after a walk, once a full
         * sample has read the pods' limits. */
        struct pod_trigger {
                uint64_t cgroup_id;
                struct psi_trigger t;
                sd_event_source *src;
        } * pod_trigs;
        size_t n_pod_trigs;
        bool pod_trigs_stale;
        int listen_fd;
        sd_event_source *api_src;
        bool ready_sent;
        /* BPF memory signals, NULL when unavailable (the agent runs on PSI alone) */
        struct bpfsig *bpf;
        sd_event_source *bpf_src;
        uint64_t kernel_oom_kills, stall_events;
        bool oom_seen;
        /* the balloon and vertical scaling (agent/kernel/elastic.h), NULL if it could not start */
        struct elastic *elastic;

        /* remote swap: the worker (NULL: none) and its donors as last read, for status */
        struct remote_swap *remote_swap;
        struct remote_swap_input rswap_in;
        struct remote_swap_donor rswap_donors[REMOTE_SWAP_DONORS_MAX];
        size_t n_rswap_donors;
        /* the node report to memschedd, NULL without schedulerUrl */
        struct reporter *reporter;
        char *node_name;
        /* Prometheus metrics and probes (metrics.h); the server is NULL with metricsAddress none */
        struct agent_metrics metrics;
        struct metrics_server *metrics_srv;
        int (*reload)(struct manager *m, void *userdata);
        void *reload_userdata;
};

/* manager.c: one observe → decide → act cycle; why is the trigger ("sample", "psi", ...). */
void manager_run_tick(struct manager *m, const char *why);
/* manager.c: an outcome arrived outside a tick (grace timer, cgroup.events, a reclaim step). */
void manager_run_outcome(struct manager *m);

/* observe.c */
/* Which cgroups hold memagentd's own pid; run after every model refresh. */
void observe_self(struct manager *m);
/* Samples the node and the model and fills snap (borrowing from m). Returns 0, or -ENOMEM
 * (logged): no decision this time. Tiered: every file of every cgroup is read when a decision
 * may use them (any scope's raw pressure above none with this sample, the agent not calm, a
 * trigger other than the timer) and routinely (every 60 s, 30 s when reporting: observe.c);
 * otherwise the node and kubepods in full, the cgroups the balloon and vertical scaling are about
 * to act on in full (with their pods), and every other pod and container its usage and events only
 * (read in full at once when those moved or it nears its limit). */
int observe_sample(struct manager *m, uint64_t now_usec, const char *why,
                   struct node_snapshot *snap);
/* An outcome alone, no sample. */
void observe_outcome(struct manager *m, uint64_t now_usec, struct node_snapshot *snap);

/* actuators.c */
void act(struct manager *m, const struct action_list *l);
/* The remote swap as last observed, for status: null when none runs (new reference). */
struct json_object *remote_swap_status_json(const struct manager *m);
/* Binds the Kubernetes API client (a copy of *b is kept; NULL unbinds: standalone). */
void manager_bind_kube(struct manager *m, const struct kube_binding *b);
/* The API's answer to an eviction the client started for the pod with this uid: handed to the
 * next step, which runs at once. */
void manager_kube_answer(struct manager *m, const char *uid, const struct kube_status *s);
/* The same, without running the step (from inside act()). */
void kube_answer_push(struct manager *m, const char *uid, const struct kube_status *s);
/* Stops the eviction's timer and watch (manager_free, and when the eviction ends). */
void eviction_stop(struct manager *m);

/* persist.c: see persist.h */

/* local-api.c */
int local_api_setup(struct manager *m);
void local_api_close(struct manager *m);

/* bpf-events.c */
void bpf_events_setup(struct manager *m);
/* Drains the ring buffer and fills the model's BPF counters; before each decision. */
void bpf_events_drain(struct manager *m);
void bpf_events_close(struct manager *m);
