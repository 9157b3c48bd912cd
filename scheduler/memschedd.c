// SPDX-License-Identifier: Apache-2.0
// memschedd: the cluster side of memagent. Reads its configuration (scheduler/daemon-config.c:
// defaults, YAML file, flags), opens the state, starts the HTTP server and runs housekeeping
// (reservation and assumed-pod expiry) until SIGTERM or SIGINT.
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/curl-dl.h"
#include "api/kube/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "scheduler/cluster.h"
#include "scheduler/daemon-config.h"
#include "scheduler/kube.h"
#include "scheduler/server.h"
#include "scheduler/store-replica.h"

/* Bad usage or configuration: one line on stderr (also under systemd, where the unit's status
 * shows it), exit 2. */
static int refuse(const char *why)
{
        fprintf(stderr, "memschedd: error: %s\n", why);
        return 2;
}

/* The command line and the file, then the actions that print and exit. Returns -1 to run, or
 * the exit status. */
static int configure(int argc, char **argv, struct memschedd_config *cfg, struct config_args *args)
{
        char err[CONFIG_ERR_MAX];
        int r = memschedd_config_load(argc, argv, MEMSCHEDD_CONFIG_DEFAULT_PATH, cfg, args, err,
                                      sizeof(err));
        if (r < 0)
                return refuse(err);
        if (args->help) {
                memschedd_config_print_help(MEMSCHEDD_CONFIG_DEFAULT_PATH, stdout);
                return 0;
        }
        if (args->version) {
                printf("memschedd %s\n", MEMAGENT_VERSION);
                return 0;
        }
        if (args->action) { /* the only one: --list-routes */
                server_print_routes(stdout);
                return 0;
        }
        if (args->print_config) {
                r = memschedd_config_print(cfg, args, stdout);
                if (r < 0) {
                        log_error_errno(r, "Failed to write the configuration: %m");
                        return 1;
                }
                return 0;
        }
        return -1;
}

/* The Kubernetes API side (scheduler/kube.h): kubeconfig, else in-cluster, else none. Returns
 * 0 (*ret NULL without an API), or the exit status: 2 when the configuration is unusable. */
static int start_kube(const struct memschedd_config *mcfg, struct cluster *cl,
                      struct sched_kube **ret)
{
        char host[256] = "memschedd", instance[300], err[KUBE_CONFIG_ERR_MAX + 128] = "";
        (void)gethostname(host, sizeof(host) - 1);
        snprintf(instance, sizeof(instance), "memschedd-%s", host);
        int r = sched_kube_start(
            cl,
            &(struct sched_kube_options){
                .kubeconfig = mcfg->kubeconfig,
                .max_concurrent_migrations = (unsigned)mcfg->max_concurrent_migrations,
                .instance = instance,
            },
            ret, err, sizeof(err));
        if (r == -EMEDIUMTYPE)
                return refuse(err);
        if (r < 0) {
                log_error_errno(r, "Failed to start the Kubernetes API client: %m");
                return 1;
        }
        return 0;
}

/* Serves until SIGTERM or SIGINT. Returns the exit status. */
static int run(const struct memschedd_config *mcfg)
{
        const char *state = mcfg->state_file,
                   *port_file = *mcfg->port_file ? mcfg->port_file : NULL;
        struct sched_config cfg;
        struct server_config scfg;
        int r;

        memschedd_config_sched(mcfg, &cfg);
        if (memschedd_config_server(mcfg, &scfg) < 0)
                return refuse("the listen address does not parse"); /* the table checks it */

        /* The state file's directory (/var/lib/memschedd by default) may not exist yet on a
         * fresh node or in a fresh container: create it, private to us. */
        {
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%s", state);
                char *slash = strrchr(dir, '/');
                if (slash && slash != dir) {
                        *slash = '\0';
                        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                                log_warning_errno(errno, "Failed to create %s: %m", dir);
                }
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts */
        signal(SIGPIPE, SIG_IGN);

        /* libcurl at start, whatever the configuration: memschedd serves extender and pool calls
         * that may reach etcd or the Kubernetes API, and one code path (not a load on first use
         * from one of the HTTP threads) is simpler to reason about than the few MiB it saves. */
        if (curl_dl_open("memschedd (the etcd store, the Kubernetes API)") < 0)
                return 2;

        struct cluster *cl = NULL;
        struct server *srv = NULL;
        struct replica *replica = NULL;
        /* etcd when etcdEndpoints is set (several replicas share it), else the SQLite file. */
        bool etcd = *mcfg->etcd_endpoints;
        const struct store_options so = {
                .sqlite_path = state,
                .etcd_endpoints = etcd ? mcfg->etcd_endpoints : NULL,
                .etcd_cert = *mcfg->etcd_cert ? mcfg->etcd_cert : NULL,
                .etcd_key = *mcfg->etcd_key ? mcfg->etcd_key : NULL,
                .etcd_ca = *mcfg->etcd_ca ? mcfg->etcd_ca : NULL,
        };
        if (cluster_open(&cfg, &so, &cl) < 0) {
                if (etcd)
                        log_error("Cannot reach etcd at %s; check --etcd-endpoints and the TLS "
                                  "files",
                                  mcfg->etcd_endpoints);
                else
                        log_error("Cannot open the state file %s; check the path and "
                                  "permissions, or pass --state-file",
                                  state);
                return 1;
        }
        if (etcd) {
                /* One of several replicas: campaign, and follow the others' writes. */
                char host[256] = "memschedd", identity[300];
                (void)gethostname(host, sizeof(host) - 1);
                snprintf(identity, sizeof(identity), "%s-%d", host, (int)getpid());
                if (replica_start(cl, identity, (uint64_t)mcfg->leader_lease_sec, &replica) < 0) {
                        cluster_free(cl);
                        return 1;
                }
        }
        struct sched_kube *kube = NULL;
        r = start_kube(mcfg, cl, &kube);
        if (r == 0) {
                r = server_start(cl, &scfg, &srv);
                if (r < 0)
                        /* refused: plain HTTP off loopback, or an unusable token file; said why */
                        r = r == -EPERM || r == -EINVAL ? 2 : 1;
        }
        if (r != 0) {
                sched_kube_stop(kube);
                replica_stop(replica);
                cluster_free(cl);
                return r;
        }
        server_set_kube(srv, kube);
        if (port_file) {
                char tmp[PATH_MAX];
                snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
                FILE *f = fopen(tmp, "we");
                if (!f || fprintf(f, "%u\n", server_port(srv)) < 0 || fclose(f) != 0 ||
                    rename(tmp, port_file) < 0) {
                        log_error_errno(errno, "Failed to write the port file %s: %m", port_file);
                        server_stop(srv);
                        sched_kube_stop(kube);
                        replica_stop(replica);
                        cluster_free(cl);
                        return 1;
                }
        }
        server_set_ready(srv, true);
        log_info("Serving on port %u with %u threads; state in %s; nodes stale after %llu s",
                 server_port(srv), scfg.threads, etcd ? mcfg->etcd_endpoints : state,
                 (unsigned long long)(cfg.stale_after_usec / 1000000));

        for (;;) {
                struct timespec one_second = { .tv_sec = 1 };
                int sig = sigtimedwait(&mask, NULL, &one_second);
                if (sig == SIGTERM || sig == SIGINT) {
                        log_info("Received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                        break;
                }
                if (cluster_tick(cl, now_usec(CLOCK_MONOTONIC), now_usec(CLOCK_REALTIME)) < 0)
                        log_warning("Housekeeping failed, retrying in 1 s");
        }
        server_set_ready(srv, false);
        /* The server first: its /metrics reads the replica's state. */
        server_stop(srv);
        replica_stop(replica); /* resigns: another replica leads at once */
        sched_kube_stop(kube); /* after the server: a bind in progress needs its thread */
        cluster_free(cl);
        return 0;
}

int main(int argc, char **argv)
{
        struct memschedd_config cfg = { 0 };
        struct config_args args = { 0 };

        log_set_ident("memschedd");
        log_set_target(LOG_TARGET_AUTO);
        int status = configure(argc, argv, &cfg, &args);
        config_args_done(&args);
        if (status < 0) {
                log_set_max_level(cfg.log_level);
                status = run(&cfg);
        }
        memschedd_config_free(&cfg);
        return status;
}
