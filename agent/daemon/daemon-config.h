// SPDX-License-Identifier: Apache-2.0
// memagentd's configuration: struct agent_config, the table that describes every key
// (agent/daemon/daemon-config.c), the command line, and the SIGHUP reload. The mechanism is
// common/config.h; this file only says which keys memagentd has.
//
// Sources, later ones winning: the table's defaults, the YAML file (--config PATH, default
// AGENT_CONFIG_DEFAULT_PATH), then flags, each a key in kebab-case (sampleInterval is
// --sample-interval=VALUE or --sample-interval VALUE). A reload re-reads the file only; flags
// keep overriding it.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/kernel/model.h"
#include "common/config.h"

#define AGENT_CONFIG_DEFAULT_PATH "/etc/memagent/memagentd.yaml"

struct agent_config {
        /* Roots: where the cgroup2 mount, procfs and sysfs are (tests point them at fixtures). */
        char *cgroup_root, *proc_root, *sys_root;
        /* "PATH[=QOS]" items, PATH relative to cgroup_root; see agent_config_workload_roots(). */
        struct config_strv workload_roots;

        uint64_t sample_interval_usec, fast_sample_interval_usec;
        uint64_t psi_window_usec;
        double psi_low_some, psi_medium_full, psi_critical_full; /* percent of wall time */
        struct config_bytes_or_percent memory_available_low, memory_available_medium,
            memory_available_critical;
        int64_t raise_samples;
        uint64_t clear_hold_usec;
        /* thrashing is pressure (agent/decide/step.h, struct thrash_params) */
        double thrash_stall_some, thrash_own_limit; /* percent */
        int64_t thrash_refaults_per_sec;
        struct config_bytes_or_percent thrash_available;
        uint64_t thrash_sustain_usec;

        bool dry_run;
        struct config_strv eviction_policies; /* plugins/policy.h chain entries */
        char *plugin_dir;
        struct config_strv protected_cgroups, avoid_cgroups; /* fnmatch(3) patterns */
        uint64_t kill_cooldown_usec;
        int64_t max_kills_per_minute;
        uint64_t grace_period_usec;

        char *api_socket;      /* "" for no local API */
        char *state_directory; /* loans, stand-backs, kills across restarts; "" for none */
        int64_t decision_log_size;
        int log_level; /* LOG_ERR .. LOG_DEBUG, for log_set_max_level() */
        bool bpf_enabled;
        uint64_t bpf_stall_threshold_usec;
        char *scheduler_url; /* "" for none */
        /* PEM files for https (absolute paths, "" for none): the CA bundle that signed
         * memschedd's certificate ("" for the system's), and the client certificate and key
         * (both or neither). */
        char *scheduler_ca, *scheduler_cert, *scheduler_key;
        char *scheduler_token_file; /* bearer token for memschedd, "" for none */
        char *node_name;            /* "" for $NODE_NAME or the host name */
        char *kubeconfig;           /* "" for in-cluster or standalone */
        char *metrics_address; /* /metrics, /healthz, /readyz: HOST:PORT, [v6]:PORT, :PORT, none */
        uint64_t report_heartbeat_usec;
        /* Remote memory (agent/remote/): what this node lends to the pools. */
        struct config_bytes_or_percent pool_donate;
        uint64_t pool_slab_bytes;
        char *pool_donate_address;
        int64_t pool_donate_port;
        uint64_t remote_swap_bytes; /* leased and swapped on; 0 for none */
        int64_t remote_swap_priority;
        uint64_t remote_swap_lease_ttl_usec;
        int remote_swap_level; /* enum pressure_level */
        uint64_t remote_swap_calm_hold_usec;
        uint64_t remote_swap_drain_margin_bytes;
        struct config_strv remote_swap_qos_classes;

        /* The balloon (agent/decide/balloon.h) and vertical scaling (agent/decide/vscale.h). */
        bool balloon_enabled;
        struct config_strv balloon_qos_classes;
        double balloon_psi_target;
        uint64_t balloon_interval_usec;
        double balloon_step_percent;
        uint64_t balloon_max_step_bytes, balloon_min_margin_bytes;
        bool vscale_enabled;
        struct config_bytes_or_percent vscale_step, vscale_ceiling;
        uint64_t vscale_return_hold_usec;

        /* Not keys: where the values came from, for agent_config_reload(). */
        char *config_path;         /* the file read, or to read on reload */
        bool config_path_required; /* given with --config: a missing file is an error */
        struct config_sources sources;
};

/* The table (exposed for tests and documentation generators). */
extern const struct config_table agent_config_table;

/* Parses memagentd's command line: --config PATH, --print-config, --help (-h), --version, and a
 * flag for every key. Reads the file (the default one is optional when missing; one given with
 * --config is not), applies the flags over it and runs the cross-field checks.
 * Returns 1: *ret holds the configuration, run the daemon.
 *         0: --help, --version or --print-config was printed on stdout; exit 0.
 * Either way *ret must be released with agent_config_free().
 * A negative errno: one line saying what is wrong was logged (log_error); exit 2; *ret holds
 * nothing to free. */
int agent_config_load(int argc, char *argv[], struct agent_config *ret);

/* The same with another default path: for tests, which must not depend on /etc. */
int agent_config_load_from(int argc, char *argv[], const char *default_path,
                           struct agent_config *ret);

/* SIGHUP: re-reads cfg->config_path and applies what may change at run time (see
 * config_reload(): each change, and each change that needs a restart, is logged). On any error
 * the whole old configuration stays, and one error line says why and that it was kept.
 * Returns the number of keys changed (0: nothing to apply), or a negative errno (logged). The
 * caller then applies the new values (log level, manager_apply_params()). */
int agent_config_reload(struct agent_config *cfg);

/* Splits workload_roots into structs for model_discover(). One allocation: *ret_roots and the
 * path strings it points to are released with a single free(). Returns 0 or -ENOMEM. */
int agent_config_workload_roots(const struct agent_config *cfg, struct workload_root **ret_roots,
                                size_t *ret_n);

/* Releases everything cfg owns and zeroes it; safe on a zeroed struct and twice. */
void agent_config_free(struct agent_config *cfg);
