// SPDX-License-Identifier: Apache-2.0
// memagentd's manager: owns the sd-event loop and every source on it, and runs the
// sample → detect → decide → act cycle. Decisions themselves are pure code elsewhere.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/kernel/elastic.h"
#include "agent/kernel/model.h"
#include "common/config.h"

/* Everything the manager needs, resolved from the configuration. Strings are borrowed: they
 * must outlive the manager (or the next manager_apply_params()). */
struct daemon_params {
        const char *cgroup_root, *proc_root, *sys_root;
        const struct workload_root *workload_roots;
        size_t n_workload_roots;
        uint64_t sample_interval_usec, fast_sample_interval_usec;
        uint64_t psi_window_usec;
        double psi_low_some, psi_medium_full, psi_critical_full;
        /* memory.available thresholds: bytes, or a percentage of the scope's total */
        struct config_bytes_or_percent avail_low, avail_medium, avail_critical;
        unsigned raise_samples;
        uint64_t clear_hold_usec;
        bool dry_run;
        const char *const *policies;
        size_t n_policies;
        const char *plugin_dir;
        const char *const *protected_globs;
        size_t n_protected;
        const char *const *avoid_globs;
        size_t n_avoid;
        uint64_t kill_cooldown_usec;
        unsigned max_kills_per_minute;
        uint64_t grace_period_usec;
        const char *api_socket;      /* "" or NULL: no local API */
        const char *state_directory; /* "" or NULL: remember nothing across restarts */
        bool bpf_enabled;
        uint64_t bpf_stall_threshold_usec;
        size_t decision_log_size;
        struct elastic_params elastic; /* the balloon and vertical scaling */
        struct lease_params lease;     /* remote swap (agent/decide/lease-step.h) */
        struct thrash_params thrash;   /* thrashing is pressure */
        /* memschedd: "" or NULL for none; node_name resolved by the caller */
        const char *scheduler_url, *node_name;
        /* The Kubernetes API (agent/daemon/kube.h): a kubeconfig, or "" / NULL for in-cluster
         * when KUBERNETES_SERVICE_HOST is set, else standalone. */
        const char *kubeconfig;
        /* PEM files for an https:// scheduler_url, "" or NULL for none (reporter_params) */
        const char *scheduler_ca, *scheduler_cert, *scheduler_key;
        const char *scheduler_token_file; /* bearer token (reporter_params), "" or NULL */
        uint64_t report_heartbeat_usec;
};

struct manager;

/* Opens the roots, checks cgroup v2 + memory (refusal explained in why, -EMEDIUMTYPE), loads
 * the policy chain, and sets up every event source. Returns 0 or a negative errno (logged). */
int manager_new(const struct daemon_params *p, struct manager **ret, char *why, size_t why_size);
/* Runs until SIGTERM/SIGINT. SIGHUP calls reload(userdata) which may call
 * manager_apply_params(). Returns 0 on a clean exit, negative errno on failure. */
int manager_run(struct manager *m, int (*reload)(struct manager *m, void *userdata),
                void *userdata);
/* Applies reloadable parameters (thresholds, intervals, policies, protection, dry run). */
int manager_apply_params(struct manager *m, const struct daemon_params *p);
void manager_free(struct manager *m);
/* The consumer's remote swap worker (agent/remote/swap.h) the step's lease actions go to and
 * whose state each snapshot reads; NULL unbinds (before it stops). Defined in actuators.c. */
struct remote_swap;
void manager_bind_remote_swap(struct manager *m, struct remote_swap *s);
