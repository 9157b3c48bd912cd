// SPDX-License-Identifier: Apache-2.0
// memagentd: the node daemon. Parses its configuration and hands over to the manager, which
// owns the event loop (agent/daemon/manager.c). Nothing else lives here.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/daemon/daemon-config.h"
#include "agent/daemon/manager.h"
#include "agent/daemon/metrics.h"
#include "agent/remote/service.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

#define EXIT_REFUSED 2

struct daemon {
        struct agent_config cfg;
        char node_name[256]; /* nodeName, else $NODE_NAME, else the host name in lowercase */
        struct workload_root *roots; /* one allocation, see agent_config_workload_roots() */
        size_t n_roots;
};

static int daemon_params_from_config(struct daemon *d, struct daemon_params *p)
{
        struct workload_root *roots = NULL;
        size_t n = 0;
        int r = agent_config_workload_roots(&d->cfg, &roots, &n);
        if (r < 0)
                return r;
        free(d->roots);
        d->roots = roots;
        d->n_roots = n;

        const struct agent_config *c = &d->cfg;
        *p = (struct daemon_params){
                .cgroup_root = c->cgroup_root,
                .proc_root = c->proc_root,
                .sys_root = c->sys_root,
                .workload_roots = d->roots,
                .n_workload_roots = d->n_roots,
                .sample_interval_usec = c->sample_interval_usec,
                .fast_sample_interval_usec = c->fast_sample_interval_usec,
                .psi_window_usec = c->psi_window_usec,
                .psi_low_some = c->psi_low_some,
                .psi_medium_full = c->psi_medium_full,
                .psi_critical_full = c->psi_critical_full,
                .raise_samples = (unsigned)c->raise_samples,
                .clear_hold_usec = c->clear_hold_usec,
                .dry_run = c->dry_run,
                .policies = (const char *const *)c->eviction_policies.items,
                .n_policies = c->eviction_policies.n,
                .plugin_dir = c->plugin_dir,
                .protected_globs = (const char *const *)c->protected_cgroups.items,
                .n_protected = c->protected_cgroups.n,
                .avoid_globs = (const char *const *)c->avoid_cgroups.items,
                .n_avoid = c->avoid_cgroups.n,
                .kill_cooldown_usec = c->kill_cooldown_usec,
                .max_kills_per_minute = (unsigned)c->max_kills_per_minute,
                .grace_period_usec = c->grace_period_usec,
                .api_socket = c->api_socket,
                .state_directory = c->state_directory,
                .decision_log_size = (size_t)c->decision_log_size,
                .bpf_enabled = c->bpf_enabled,
                .bpf_stall_threshold_usec = c->bpf_stall_threshold_usec,
                .scheduler_url = c->scheduler_url,
                .kubeconfig = c->kubeconfig,
                .scheduler_ca = c->scheduler_ca,
                .scheduler_cert = c->scheduler_cert,
                .scheduler_key = c->scheduler_key,
                .scheduler_token_file = c->scheduler_token_file,
                .node_name = d->node_name,
                .report_heartbeat_usec = c->report_heartbeat_usec,
        };
        p->avail_low = c->memory_available_low;
        p->avail_medium = c->memory_available_medium;
        p->avail_critical = c->memory_available_critical;
        p->thrash = (struct thrash_params){
                .stall_some_pct = c->thrash_stall_some,
                .refaults_per_sec = (double)c->thrash_refaults_per_sec,
                .available = c->thrash_available,
                .sustain_usec = c->thrash_sustain_usec,
                .own_limit_pct = c->thrash_own_limit,
        };
        struct elastic_params *ep = &p->elastic;
        *ep = (struct elastic_params){
                .balloon_enabled = c->balloon_enabled,
                .balloon = {
                        .psi_target_pct = c->balloon_psi_target,
                        .interval_usec = c->balloon_interval_usec,
                        .step_pct = c->balloon_step_percent,
                        .max_step_bytes = c->balloon_max_step_bytes,
                        .min_margin_bytes = c->balloon_min_margin_bytes,
                },
                .vscale_enabled = c->vscale_enabled,
                .vscale_return_hold_usec = c->vscale_return_hold_usec,
        };
        for (size_t i = 0; i < c->balloon_qos_classes.n; i++) {
                int q = qos_from_string(c->balloon_qos_classes.items[i]);
                if (q > 0 && (size_t)q < ELEMENTSOF(ep->balloon_qos))
                        ep->balloon_qos[q] = true;
        }
        ep->vscale_step = c->vscale_step;
        ep->vscale_ceiling = c->vscale_ceiling;
        struct lease_params *lp = &p->lease;
        *lp = (struct lease_params){
                .bytes = c->remote_swap_bytes,
                .ttl_usec = c->remote_swap_lease_ttl_usec,
                .level = (enum pressure_level)c->remote_swap_level,
                .calm_hold_usec = c->remote_swap_calm_hold_usec,
                .drain_margin_bytes = c->remote_swap_drain_margin_bytes,
                .retry_usec = 10000000, /* 10 s after a refused lease or a failed drain */
        };
        for (size_t i = 0; i < c->remote_swap_qos_classes.n; i++) {
                int q = qos_from_string(c->remote_swap_qos_classes.items[i]);
                if (q > 0 && (size_t)q < ELEMENTSOF(lp->swap_qos))
                        lp->swap_qos[q] = true;
        }
        return 0;
}

static void resolve_node_name(struct daemon *d)
{
        const char *env = getenv("NODE_NAME");
        if (d->cfg.node_name && *d->cfg.node_name)
                snprintf(d->node_name, sizeof(d->node_name), "%s", d->cfg.node_name);
        else if (env && *env)
                snprintf(d->node_name, sizeof(d->node_name), "%s", env);
        else if (gethostname(d->node_name, sizeof(d->node_name) - 1) < 0)
                snprintf(d->node_name, sizeof(d->node_name), "localhost");
        for (char *c = d->node_name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
}

static int on_reload(struct manager *m, void *userdata)
{
        struct daemon *d = userdata;
        struct daemon_params p;
        int r = agent_config_reload(&d->cfg);
        if (r <= 0)
                return r; /* nothing changed, or an error that kept the old config (logged) */
        log_set_max_level(d->cfg.log_level);
        r = daemon_params_from_config(d, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to apply the reloaded configuration: %m");
        r = manager_apply_params(m, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to apply the reloaded configuration, keeping the "
                                          "running policies: %m");
        log_info("Configuration reloaded from %s (%d keys changed)", d->cfg.config_path, r);
        return 0;
}

static const char *threshold_text(const struct config_bytes_or_percent *t, char *buf, size_t size)
{
        if (t->is_percent)
                snprintf(buf, size, "%g%%", t->percent);
        else
                format_bytes_iec(t->bytes, buf, size);
        return buf;
}

/* glibc's mmap threshold, fixed at its starting value: the per-cgroup arrays (the model's, the
 * units') are served by mmap(), where the pages a grown array has not used yet are never
 * resident and a freed one goes back at once. Left dynamic, the first large block freed (the
 * model a walk replaced) raises the threshold to its size, and from then on those arrays live in
 * the heap among holes (issue 13: 150 KiB of private memory at 250 pods). */
#define MMAP_THRESHOLD_BYTES (128 * 1024)

int main(int argc, char *argv[])
{
        struct daemon d = { 0 };
        struct daemon_params p;
        struct manager *m = NULL;
        char why[1024] = "";
        int r;

        /* A setting of the process's allocator: here, before the first allocation. */
        (void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        log_set_ident("memagentd");
        log_set_target(LOG_TARGET_AUTO);
        r = agent_config_load(argc, argv, &d.cfg);
        if (r < 0)
                return EXIT_REFUSED;
        if (r == 0) {
                agent_config_free(&d.cfg);
                return EXIT_SUCCESS;
        }
        log_set_max_level(d.cfg.log_level);
        resolve_node_name(&d);
        /* libcurl and its TLS library are initialised by the first client that needs them
         * (curl_event_new(): the Kubernetes client, the report to memschedd), not here: without
         * either, OpenSSL's initialised state was half of a calm agent's RSS (issue 13). */
        if (daemon_params_from_config(&d, &p) < 0) {
                agent_config_free(&d.cfg);
                return EXIT_FAILURE;
        }
        r = manager_new(&p, &m, why, sizeof(why));
        if (r == -EMEDIUMTYPE) {
                log_error("%s", why);
                free(d.roots);
                agent_config_free(&d.cfg);
                return EXIT_REFUSED;
        }
        if (r >= 0)
                /* A bind failure is fatal: probes that cannot connect would restart the pod
                 * forever, and a scrape target that is not there hides the agent. */
                r = metrics_server_start(m, d.cfg.metrics_address);
        if (r < 0) {
                manager_free(m);
                free(d.roots);
                agent_config_free(&d.cfg);
                return EXIT_FAILURE;
        }
        char lo[32], me[32], cr[32];
        log_info("memagentd %s watching %s: memory.available low <%s, medium <%s (terminate), "
                 "critical <%s (kill); policies %s%s",
                 MEMAGENT_VERSION, d.cfg.cgroup_root,
                 threshold_text(&d.cfg.memory_available_low, lo, sizeof(lo)),
                 threshold_text(&d.cfg.memory_available_medium, me, sizeof(me)),
                 threshold_text(&d.cfg.memory_available_critical, cr, sizeof(cr)),
                 d.cfg.eviction_policies.n ? d.cfg.eviction_policies.items[0] : "?",
                 d.cfg.dry_run ? "; DRY RUN: decisions are recorded, nothing is killed" : "");
        struct remote_service *remote = NULL;
        struct remote_service_params rp = {
                .donate = d.cfg.pool_donate,
                .slab_bytes = d.cfg.pool_slab_bytes,
                .address = d.cfg.pool_donate_address,
                .port = (uint16_t)d.cfg.pool_donate_port,
                .scheduler_url = d.cfg.scheduler_url,
                .scheduler_ca = d.cfg.scheduler_ca,
                .scheduler_cert = d.cfg.scheduler_cert,
                .scheduler_key = d.cfg.scheduler_key,
                .scheduler_token_file = d.cfg.scheduler_token_file,
                .node_name = d.node_name,
                .renew_usec = d.cfg.report_heartbeat_usec,
                .swap_bytes = d.cfg.remote_swap_bytes,
                .swap_priority = (int)d.cfg.remote_swap_priority,
                .swap_lease_ttl_sec = d.cfg.remote_swap_lease_ttl_usec / 1000000,
        };
        if (remote_service_start(&rp, &remote) < 0) {
                manager_free(m);
                free(d.roots);
                agent_config_free(&d.cfg);
                return EXIT_FAILURE;
        }
        manager_bind_remote_swap(m, remote_service_swap(remote));
        r = manager_run(m, on_reload, &d);
        manager_bind_remote_swap(m, NULL);
        remote_service_stop(remote, r >= 0);
        manager_free(m);
        free(d.roots);
        agent_config_free(&d.cfg);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
