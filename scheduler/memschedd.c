// SPDX-License-Identifier: Apache-2.0
// memschedd: the cluster side of memagent. Parses flags, opens the state, starts the HTTP server
// and runs housekeeping (reservation and assumed-pod expiry) until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/quantity.h"
#include "scheduler/cluster.h"
#include "scheduler/server.h"
#include "scheduler/store-replica.h"

#define DEFAULT_LISTEN     "0.0.0.0:8787"
#define DEFAULT_STATE_FILE "/var/lib/memschedd/state.db"

static void usage(FILE *f)
{
        fprintf(
            f,
            "Usage: memschedd [--listen ADDR:PORT] [OPTIONS]\n"
            "\n"
            "Cluster memory scheduler: node reports, NUMA-aware placement, the kube-scheduler\n"
            "extender webhook (/extender/filter, /extender/prioritize, /extender/bind),\n"
            "placement hints and migration plans.\n"
            "\n"
            "  --listen ADDR:PORT            address to serve on (IPv4, or [IPv6]:PORT); port 0\n"
            "                                picks a free one (default " DEFAULT_LISTEN ": every\n"
            "                                address, as a Service in front of it needs)\n"
            "  --state-file PATH             SQLite file for plans and reservations\n"
            "                                (default " DEFAULT_STATE_FILE ")\n"
            "  --etcd-endpoints URL[,URL...] keep the state in etcd (v3 API) instead, so that\n"
            "                                several replicas share it; tried in order\n"
            "  --etcd-cert PATH, --etcd-key PATH, --etcd-ca PATH\n"
            "                                TLS client certificate, its key, and the CA that\n"
            "                                signed etcd's certificate (PEM)\n"
            "  --leader-lease-sec N          with etcd: the leader's lease; a dead leader is\n"
            "                                replaced within N s (default 10)\n"
            "  --port-file PATH              write the bound port there once serving\n"
            "  --threads N                   HTTP worker threads (default 4)\n"
            "  --max-body-bytes QUANTITY     largest request body (default 64Mi); larger get 413\n"
            "  --client-timeout-sec N        close idle or slow connections after N s (default "
            "10)\n"
            "  --max-connections N           concurrent connections (default 1024)\n"
            "  --stale-after-sec N           a node without a report for N s is stale (default "
            "30)\n"
            "  --assume-ttl-sec N            bound pods count against a node for at most N s\n"
            "                                until reported (default 120)\n"
            "  --reservation-ttl-sec N       migration reservations last N s (default 600)\n"
            "  --sustained-pressure-sec N    pressure this long with relief exhausted starts\n"
            "                                a migration plan (default 60)\n"
            "  --admit-unknown-nodes         pass nodes that never reported instead of failing "
            "them\n"
            "  --log-level LEVEL             debug, info, notice, warning, error (default info)\n"
            "  --list-routes                 print the HTTP routes served and exit\n"
            "  -h, --help                    this text\n");
}

static int parse_listen(const char *s, struct server_config *cfg)
{
        char host[INET6_ADDRSTRLEN + 2];
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
                return -EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        char *end;
        errno = 0;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port > 65535)
                return -EINVAL;
        memset(&cfg->addr, 0, sizeof(cfg->addr));
        if (host[0] == '[') {
                size_t n = strlen(host);
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&cfg->addr;
                if (n < 3 || host[n - 1] != ']')
                        return -EINVAL;
                host[n - 1] = '\0';
                if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
                        return -EINVAL;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t)port);
                cfg->addr_len = sizeof(*a);
                return 0;
        }
        struct sockaddr_in *a = (struct sockaddr_in *)&cfg->addr;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                return -EINVAL;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        cfg->addr_len = sizeof(*a);
        return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int refuse(const char *fmt, const char *arg)
{
        fprintf(stderr, "memschedd: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "; see memschedd --help\n");
        return 2;
}

int main(int argc, char **argv)
{
        enum {
                ARG_LISTEN = 0x100,
                ARG_STATE,
                ARG_PORT_FILE,
                ARG_THREADS,
                ARG_MAX_BODY,
                ARG_CLIENT_TIMEOUT,
                ARG_MAX_CONN,
                ARG_STALE,
                ARG_ASSUME_TTL,
                ARG_RES_TTL,
                ARG_SUSTAINED,
                ARG_ADMIT_UNKNOWN,
                ARG_LOG_LEVEL,
                ARG_LIST_ROUTES,
                ARG_ETCD_ENDPOINTS,
                ARG_ETCD_CERT,
                ARG_ETCD_KEY,
                ARG_ETCD_CA,
                ARG_LEADER_LEASE,
        };
        static const struct option opts[] = {
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "state-file", required_argument, NULL, ARG_STATE },
                { "port-file", required_argument, NULL, ARG_PORT_FILE },
                { "threads", required_argument, NULL, ARG_THREADS },
                { "max-body-bytes", required_argument, NULL, ARG_MAX_BODY },
                { "client-timeout-sec", required_argument, NULL, ARG_CLIENT_TIMEOUT },
                { "max-connections", required_argument, NULL, ARG_MAX_CONN },
                { "stale-after-sec", required_argument, NULL, ARG_STALE },
                { "assume-ttl-sec", required_argument, NULL, ARG_ASSUME_TTL },
                { "reservation-ttl-sec", required_argument, NULL, ARG_RES_TTL },
                { "sustained-pressure-sec", required_argument, NULL, ARG_SUSTAINED },
                { "admit-unknown-nodes", no_argument, NULL, ARG_ADMIT_UNKNOWN },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "list-routes", no_argument, NULL, ARG_LIST_ROUTES },
                { "etcd-endpoints", required_argument, NULL, ARG_ETCD_ENDPOINTS },
                { "etcd-cert", required_argument, NULL, ARG_ETCD_CERT },
                { "etcd-key", required_argument, NULL, ARG_ETCD_KEY },
                { "etcd-ca", required_argument, NULL, ARG_ETCD_CA },
                { "leader-lease-sec", required_argument, NULL, ARG_LEADER_LEASE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct server_config scfg = { .threads = 4,
                                      .max_body_bytes = 64 << 20,
                                      .client_timeout_sec = 10,
                                      .max_connections = 1024 };
        const char *state = DEFAULT_STATE_FILE, *port_file = NULL;
        struct store_options store = {}; /* etcd when etcd_endpoints is set, else state */
        unsigned long long leader_lease_sec = 10;
        struct replica *replica = NULL;
        bool have_listen = false;
        unsigned long long v;
        int c;

        log_set_ident("memschedd");
        log_set_target(LOG_TARGET_AUTO);
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case ARG_LISTEN:
                        if (parse_listen(optarg, &scfg) < 0)
                                return refuse("--listen \"%s\" is not ADDR:PORT with a numeric "
                                              "address",
                                              optarg);
                        have_listen = true;
                        break;
                case ARG_STATE:
                        state = optarg;
                        break;
                case ARG_PORT_FILE:
                        port_file = optarg;
                        break;
                case ARG_THREADS:
                        if (parse_uint(optarg, 256, &v) < 0 || v == 0)
                                return refuse("--threads \"%s\" must be 1..256", optarg);
                        scfg.threads = (unsigned)v;
                        break;
                case ARG_MAX_BODY: {
                        uint64_t b;
                        if (quantity_parse_bytes(optarg, &b) < 0 || b < 1024 || b > (1ULL << 32))
                                return refuse("--max-body-bytes \"%s\" must be a quantity between "
                                              "1Ki and 4Gi",
                                              optarg);
                        scfg.max_body_bytes = (size_t)b;
                        break;
                }
                case ARG_CLIENT_TIMEOUT:
                        if (parse_uint(optarg, 3600, &v) < 0 || v == 0)
                                return refuse("--client-timeout-sec \"%s\" must be 1..3600",
                                              optarg);
                        scfg.client_timeout_sec = (unsigned)v;
                        break;
                case ARG_MAX_CONN:
                        if (parse_uint(optarg, 65536, &v) < 0 || v == 0)
                                return refuse("--max-connections \"%s\" must be 1..65536", optarg);
                        scfg.max_connections = (unsigned)v;
                        break;
                case ARG_STALE:
                        if (parse_uint(optarg, 86400, &v) < 0 || v == 0)
                                return refuse("--stale-after-sec \"%s\" must be 1..86400", optarg);
                        cfg.stale_after_usec = v * 1000000;
                        break;
                case ARG_ASSUME_TTL:
                        if (parse_uint(optarg, 86400, &v) < 0)
                                return refuse("--assume-ttl-sec \"%s\" must be 0..86400", optarg);
                        cfg.assume_ttl_usec = v * 1000000;
                        break;
                case ARG_RES_TTL:
                        if (parse_uint(optarg, 7 * 86400, &v) < 0 || v == 0)
                                return refuse("--reservation-ttl-sec \"%s\" must be 1..604800",
                                              optarg);
                        cfg.reservation_ttl_usec = v * 1000000;
                        break;
                case ARG_SUSTAINED:
                        if (parse_uint(optarg, 86400, &v) < 0)
                                return refuse("--sustained-pressure-sec \"%s\" must be 0..86400",
                                              optarg);
                        cfg.sustained_pressure_ms = v * 1000;
                        break;
                case ARG_ADMIT_UNKNOWN:
                        cfg.admit_unknown_nodes = true;
                        break;
                case ARG_LOG_LEVEL: {
                        int l = log_level_from_string(optarg);
                        if (l < 0)
                                return refuse("--log-level \"%s\" is not a log level", optarg);
                        log_set_max_level(l);
                        break;
                }
                case ARG_ETCD_ENDPOINTS:
                        store.etcd_endpoints = optarg;
                        break;
                case ARG_ETCD_CERT:
                        store.etcd_cert = optarg;
                        break;
                case ARG_ETCD_KEY:
                        store.etcd_key = optarg;
                        break;
                case ARG_ETCD_CA:
                        store.etcd_ca = optarg;
                        break;
                case ARG_LEADER_LEASE:
                        if (parse_uint(optarg, 3600, &leader_lease_sec) < 0 || leader_lease_sec < 2)
                                return refuse("--leader-lease-sec \"%s\" must be 2..3600", optarg);
                        break;
                case ARG_LIST_ROUTES:
                        server_print_routes(stdout);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "memschedd: see memschedd --help\n");
                        return 2;
                }
        }
        if (optind < argc)
                return refuse("unexpected argument \"%s\"", argv[optind]);
        if (!have_listen && parse_listen(DEFAULT_LISTEN, &scfg) < 0)
                return refuse("%s", "the default listen address " DEFAULT_LISTEN " does not parse");
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

        struct cluster *cl = NULL;
        struct server *srv = NULL;
        store.sqlite_path = state;
        if (store.etcd_endpoints && cluster_open(&cfg, &store, &cl) < 0) {
                log_error("Cannot reach etcd at %s; check --etcd-endpoints and the TLS files",
                          store.etcd_endpoints);
                return 1;
        }
        if (!store.etcd_endpoints && cluster_open(&cfg, &store, &cl) < 0) {
                log_error("Cannot open the state file %s; check the path and permissions, or "
                          "pass --state-file",
                          state);
                return 1;
        }
        if (store.etcd_endpoints) {
                /* One of several replicas: campaign, and follow the others' writes. */
                char host[256] = "memschedd", identity[300];
                (void)gethostname(host, sizeof(host) - 1);
                snprintf(identity, sizeof(identity), "%s-%d", host, (int)getpid());
                if (replica_start(cl, identity, leader_lease_sec, &replica) < 0) {
                        cluster_free(cl);
                        return 1;
                }
        }
        if (server_start(cl, &scfg, &srv) < 0) {
                replica_stop(replica);
                cluster_free(cl);
                return 1;
        }
        if (port_file) {
                char tmp[PATH_MAX];
                snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
                FILE *f = fopen(tmp, "we");
                if (!f || fprintf(f, "%u\n", server_port(srv)) < 0 || fclose(f) != 0 ||
                    rename(tmp, port_file) < 0) {
                        log_error_errno(errno, "Failed to write the port file %s: %m", port_file);
                        server_stop(srv);
                        replica_stop(replica);
                        cluster_free(cl);
                        return 1;
                }
        }
        server_set_ready(srv, true);
        log_info("Serving on port %u with %u threads; state in %s; nodes stale after %llu s",
                 server_port(srv), scfg.threads,
                 store.etcd_endpoints ? store.etcd_endpoints : state,
                 (unsigned long long)(cfg.stale_after_usec / 1000000));

        for (;;) {
                struct timespec one_second = { .tv_sec = 1 };
                int sig = sigtimedwait(&mask, NULL, &one_second);
                if (sig == SIGTERM || sig == SIGINT) {
                        log_info("Received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                        break;
                }
                if (cluster_tick(cl, now_monotonic_usec(), now_realtime_usec()) < 0)
                        log_warning("Housekeeping failed, retrying in 1 s");
        }
        server_set_ready(srv, false);
        replica_stop(replica); /* resigns: another replica leads at once */
        server_stop(srv);
        cluster_free(cl);
        return 0;
}
