// SPDX-License-Identifier: Apache-2.0
// memschedd's keys, their checks and defaults, and its command line; see
// scheduler/daemon-config.h.
#include "scheduler/daemon-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/listen-address.h"
#include "common/macro.h"

/* ---- The listen address ------------------------------------------------------------------- */

/* "ADDR:PORT" with a numeric IPv4 address, or "[IPv6]:PORT"; port 0 picks a free one. The
 * parser is the common one; memschedd refuses its ":PORT" (every address): it names the address
 * it serves on, since plain HTTP is for loopback. */
static int parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len)
{
        if (s[0] == ':')
                return -EINVAL;
        return listen_address_parse(s, ret_addr, ret_len);
}

static int check_listen(const char *s, char *err, size_t err_size)
{
        struct sockaddr_storage addr;
        socklen_t len;
        if (parse_listen(s, &addr, &len) == 0)
                return 0;
        snprintf(err, err_size,
                 "is not ADDR:PORT with a numeric address (like 0.0.0.0:8787 or [::]:8787)");
        return -EINVAL;
}

/* etcdEndpoints: "" or a comma-separated list of http(s) URLs. */
static int check_etcd_endpoints(const char *s, char *err, size_t err_size)
{
        char buf[1024];
        if (!*s)
                return 0;
        if (strlen(s) >= sizeof(buf)) {
                snprintf(err, err_size, "is longer than %zu characters", sizeof(buf) - 1);
                return -EINVAL;
        }
        snprintf(buf, sizeof(buf), "%s", s);
        char *save = NULL;
        for (char *u = strtok_r(buf, ",", &save); u; u = strtok_r(NULL, ",", &save))
                if (config_check_http_url(u, err, err_size) < 0)
                        return -EINVAL;
        return 0;
}

/* ---- The table ----------------------------------------------------------------------------- */

#define C       struct memschedd_config
#define RESTART false

static const struct config_entry entries[] = {
        /* listen stays first: memschedd_config_server() reads its source by index */
        CONFIG_ENTRY_STRING(C, listen, "listen", "0.0.0.0:8787", check_listen, "ADDR:PORT", RESTART,
                            "Address to serve on (IPv4, or [IPv6]:PORT); port 0 picks a free "
                            "one. The default is every address, as a Service in front of "
                            "memschedd needs, with tlsCert or insecure; without either it is "
                            "127.0.0.1:8787 (plain HTTP is served on loopback only)."),
        CONFIG_ENTRY_STRING(C, state_file, "stateFile", "/var/lib/memschedd/state.db",
                            config_check_not_empty, "PATH", RESTART,
                            "SQLite file for plans and reservations; its directory is created "
                            "when missing."),
        CONFIG_ENTRY_STRING(C, etcd_endpoints, "etcdEndpoints", "", check_etcd_endpoints,
                            "URL[,URL...]", RESTART,
                            "Keep the state in etcd (v3 API) instead of stateFile, so that "
                            "several replicas share it (one leads: plans, migrations and "
                            "expiry); endpoints are tried in order. \"\" for SQLite."),
        CONFIG_ENTRY_STRING(C, etcd_cert, "etcdCert", "", NULL, "PATH", RESTART,
                            "TLS client certificate (PEM) presented to etcd; \"\" for none."),
        CONFIG_ENTRY_STRING(C, etcd_key, "etcdKey", "", NULL, "PATH", RESTART,
                            "Key of etcdCert (PEM)."),
        CONFIG_ENTRY_STRING(C, etcd_ca, "etcdCA", "", NULL, "PATH", RESTART,
                            "CA that signed etcd's certificate (PEM); \"\" for the system's."),
        CONFIG_ENTRY_INT(C, leader_lease_sec, "leaderLeaseSec", "10", "2", "3600", RESTART,
                         "With etcd: the leader's lease; a dead leader is replaced within this "
                         "many seconds."),
        CONFIG_ENTRY_STRING(C, port_file, "portFile", "", NULL, "PATH", RESTART,
                            "Write the bound port there once serving; \"\" for none."),
        CONFIG_ENTRY_STRING(C, kubeconfig, "kubeconfig", "", config_check_optional_absolute_path,
                            "PATH", RESTART,
                            "kubeconfig file for the Kubernetes API server (current context). "
                            "\"\": in-cluster when KUBERNETES_SERVICE_HOST is set (the pod's "
                            "service account), else no API. With the API, /extender/bind "
                            "creates the pod's Binding and planned migrations are carried out "
                            "through the Eviction API."),
        CONFIG_ENTRY_INT(C, max_concurrent_migrations, "maxConcurrentMigrations", "2", "1", "1000",
                         RESTART,
                         "Most migrations whose pod is being evicted or whose replacement is "
                         "awaited at once, cluster-wide; at most one per source node anyway."),
        CONFIG_ENTRY_INT(C, threads, "threads", "4", "1", "256", RESTART, "HTTP worker threads."),
        CONFIG_ENTRY_BYTES(C, max_body_bytes, "maxBodyBytes", "64Mi", "1Ki", "4Gi", RESTART,
                           "Largest request body; larger ones get 413."),
        CONFIG_ENTRY_BYTES(C, request_memory_budget_bytes, "requestMemoryBudget", "512Mi", "1Mi",
                           "64Gi", RESTART,
                           "Memory for the request bodies being received and decoded at once (a "
                           "body is counted 4 times: the bound on what decoding it takes); "
                           "beyond it requests get 503 with Retry-After."),
        CONFIG_ENTRY_INT(C, client_timeout_sec, "clientTimeoutSec", "10", "1", "3600", RESTART,
                         "Close idle connections after this many seconds, and those whose "
                         "request (headers and body) is not in after this many seconds, however "
                         "slowly its bytes trickle in."),
        CONFIG_ENTRY_INT(C, max_connections, "maxConnections", "1024", "1", "65536", RESTART,
                         "Concurrent connections."),
        CONFIG_ENTRY_INT(C, max_connections_per_client, "maxConnectionsPerClient", "64", "0",
                         "65536", RESTART,
                         "Concurrent connections from one client address, so that one client "
                         "cannot take them all; 0 for no limit."),
        CONFIG_ENTRY_INT(C, stale_after_sec, "staleAfterSec", "30", "1", "86400", RESTART,
                         "A node without a report for this many seconds is stale."),
        CONFIG_ENTRY_INT(C, assume_ttl_sec, "assumeTtlSec", "120", "0", "86400", RESTART,
                         "A pod bound by the extender counts against its node until the node "
                         "reports it, or for at most this many seconds."),
        CONFIG_ENTRY_INT(C, reservation_ttl_sec, "reservationTtlSec", "600", "1", "604800", RESTART,
                         "Migration reservations last this many seconds."),
        CONFIG_ENTRY_INT(C, pool_offer_ttl_sec, "poolOfferTtlSec", "60", "2", "86400", RESTART,
                         "A donor's memory pool offer not renewed (PUT /v1/pools/NODE) for this "
                         "many seconds is withdrawn and its leased slabs are revoked."),
        CONFIG_ENTRY_INT(C, sustained_pressure_sec, "sustainedPressureSec", "60", "0", "86400",
                         RESTART,
                         "Pressure this many seconds long with the node's relief exhausted "
                         "starts a migration plan."),
        CONFIG_ENTRY_BOOL(C, admit_unknown_nodes, "admitUnknownNodes", "false", RESTART,
                          "Pass nodes that never reported instead of failing them."),
        CONFIG_ENTRY_PERCENT(C, relief_target_percent, "reliefTarget", "10", NULL, NULL, RESTART,
                             "A migration plan frees memory until the node's available memory "
                             "is at least this share of its total."),
        CONFIG_ENTRY_INT(C, max_migrations_per_plan, "maxMigrationsPerPlan", "3", "1", "100",
                         RESTART, "Most pods one migration plan moves."),
        CONFIG_ENTRY_PERCENT(C, weight_fragmentation_percent, "weightFragmentation", "40", NULL,
                             NULL, RESTART,
                             "Weight of NUMA fragmentation in a node's placement score; the "
                             "three weights add up to 100%."),
        CONFIG_ENTRY_PERCENT(C, weight_headroom_percent, "weightHeadroom", "30", NULL, NULL,
                             RESTART, "Weight of memory headroom in a node's placement score."),
        CONFIG_ENTRY_PERCENT(C, weight_pressure_percent, "weightPressure", "30", NULL, NULL,
                             RESTART, "Weight of memory pressure in a node's placement score."),
        CONFIG_ENTRY_ENUM(C, log_level, "logLevel", "info", config_log_levels, RESTART,
                          "Least severe messages logged."),
        CONFIG_ENTRY_STRING(C, tls_cert, "tlsCert", "", NULL, "PATH", RESTART,
                            "PEM certificate (chain) to serve HTTPS with; with tlsKey and "
                            "clientCA. \"\" serves plain HTTP, on loopback addresses only unless "
                            "insecure is set."),
        CONFIG_ENTRY_STRING(C, tls_key, "tlsKey", "", NULL, "PATH", RESTART,
                            "PEM private key of tlsCert."),
        CONFIG_ENTRY_STRING(C, client_ca, "clientCA", "", NULL, "PATH", RESTART,
                            "PEM CA certificates that client certificates must chain to. Over "
                            "HTTPS every state change (node reports, binds) needs a client "
                            "certificate it verifies (or a bearer token from tokenFile), and a "
                            "node report one whose common name is the node."),
        /* Bearer tokens (issue 15): one block, keep it together. */
        CONFIG_ENTRY_STRING(C, token_file, "tokenFile", "", config_check_optional_absolute_path,
                            "PATH", RESTART,
                            "Bearer tokens that may change state, as an alternative to client "
                            "certificates: kube-apiserver's static token file, one "
                            "token,user,uid[,\"group,...\"] line a client (a node's user is "
                            "the node name). Re-read when it changes: rotation needs no "
                            "restart. Over plain HTTP only on loopback or with insecure. \"\" "
                            "for none."),
        CONFIG_ENTRY_BOOL(C, insecure, "insecure", "false", RESTART,
                          "Serve plain HTTP on a non-loopback address: anyone who can reach it "
                          "can report for any node and bind any pod."),
};

#undef C
#undef RESTART

static int memschedd_config_check(const void *cfg, char *err, size_t err_size)
{
        const struct memschedd_config *c = cfg;
        double sum = c->weight_fragmentation_percent + c->weight_headroom_percent +
                     c->weight_pressure_percent;

        if (!*c->tls_cert != !*c->tls_key) {
                snprintf(err, err_size, "keys \"tlsCert\" and \"tlsKey\" go together");
                return -EINVAL;
        }
        if (*c->tls_cert && !*c->client_ca) {
                snprintf(err, err_size,
                         "key \"tlsCert\" needs \"clientCA\": over HTTPS, state changes need a "
                         "client certificate");
                return -EINVAL;
        }
        if (*c->client_ca && !*c->tls_cert) {
                snprintf(err, err_size, "key \"clientCA\" needs \"tlsCert\" and \"tlsKey\"");
                return -EINVAL;
        }
        if (fabs(sum - 100.0) > 1e-9) {
                snprintf(err, err_size,
                         "keys \"weightFragmentation\" (%g%%), \"weightHeadroom\" (%g%%) and "
                         "\"weightPressure\" (%g%%) must add up to 100%%",
                         c->weight_fragmentation_percent, c->weight_headroom_percent,
                         c->weight_pressure_percent);
                return -EINVAL;
        }
        return 0;
}

const struct config_table memschedd_config_table = {
        .entries = entries,
        .n_entries = ELEMENTSOF(entries),
        .struct_size = sizeof(struct memschedd_config),
        .check = memschedd_config_check,
};

_Static_assert(ELEMENTSOF(entries) <= CONFIG_ENTRIES_MAX, "too many configuration keys");

/* ---- Command line --------------------------------------------------------------------------- */

static const struct config_action actions[] = {
        { MEMSCHEDD_ACTION_LIST_ROUTES, "Print the HTTP routes served and exit." },
        { NULL, NULL },
};

static struct config_command_line command_line(const char *default_path)
{
        return (struct config_command_line){
                .program = "memschedd",
                .summary = "Cluster memory scheduler: node reports, NUMA-aware placement, the "
                           "kube-scheduler extender webhook (/extender/filter, "
                           "/extender/prioritize, /extender/bind), placement hints and migration "
                           "plans.",
                .default_path = default_path,
                .actions = actions,
        };
}

void memschedd_config_print_help(const char *default_path, FILE *f)
{
        const struct config_command_line cl = command_line(default_path);
        config_print_usage(&memschedd_config_table, &cl, f);
}

int memschedd_config_load(int argc, char *argv[], const char *default_path,
                          struct memschedd_config *ret, struct config_args *ret_args, char *err,
                          size_t err_size)
{
        const struct config_command_line cl = command_line(default_path);
        struct memschedd_config c = { 0 };
        int r;

        r = config_parse_command_line(&memschedd_config_table, &cl, argc, argv, &c, &c.sources,
                                      ret_args, err, err_size);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

int memschedd_config_print(const struct memschedd_config *cfg, const struct config_args *args,
                           FILE *f)
{
        fprintf(f,
                "# memschedd %s, effective configuration: defaults, then\n# %s%s, then "
                "flags.\n\n",
                MEMAGENT_VERSION, args->config_path, args->file_missing ? " (missing)" : "");
        return config_dump_yaml(&memschedd_config_table, cfg, &cfg->sources, f);
}

void memschedd_config_sched(const struct memschedd_config *cfg, struct sched_config *ret)
{
        *ret = (struct sched_config){
                .stale_after_usec = (uint64_t)cfg->stale_after_sec * 1000000,
                .assume_ttl_usec = (uint64_t)cfg->assume_ttl_sec * 1000000,
                .reservation_ttl_usec = (uint64_t)cfg->reservation_ttl_sec * 1000000,
                .pool_offer_ttl_usec = (uint64_t)cfg->pool_offer_ttl_sec * 1000000,
                .sustained_pressure_ms = (uint64_t)cfg->sustained_pressure_sec * 1000,
                .relief_target_ratio = cfg->relief_target_percent / 100,
                .max_migrations_per_plan = (unsigned)cfg->max_migrations_per_plan,
                .admit_unknown_nodes = cfg->admit_unknown_nodes,
                .weight_fragmentation = cfg->weight_fragmentation_percent / 100,
                .weight_headroom = cfg->weight_headroom_percent / 100,
                .weight_pressure = cfg->weight_pressure_percent / 100,
        };
}

int memschedd_config_server(const struct memschedd_config *cfg, struct server_config *ret)
{
        struct server_config s = {
                .threads = (unsigned)cfg->threads,
                .max_body_bytes = (size_t)cfg->max_body_bytes,
                .client_timeout_sec = (unsigned)cfg->client_timeout_sec,
                .max_connections = (unsigned)cfg->max_connections,
                .max_connections_per_client = (unsigned)cfg->max_connections_per_client,
                .request_memory_budget_bytes = (size_t)cfg->request_memory_budget_bytes,
                .tls_cert_path = *cfg->tls_cert ? cfg->tls_cert : NULL,
                .tls_key_path = *cfg->tls_key ? cfg->tls_key : NULL,
                .client_ca_path = *cfg->client_ca ? cfg->client_ca : NULL,
                .token_file_path = *cfg->token_file ? cfg->token_file : NULL,
                .insecure = cfg->insecure,
        };
        /* listen left at its default, with no certificate and no insecure: plain HTTP on
         * loopback only (the local host is trusted), on the default's port. A listen address the
         * operator set is served as set, and the server refuses it when it is not loopback. */
        const char *listen = cfg->listen;
        if (cfg->sources.of[0] == CONFIG_SOURCE_DEFAULT && !s.tls_cert_path && !cfg->insecure) {
                listen = MEMSCHEDD_LISTEN_PLAIN_DEFAULT;
                s.loopback_by_default = true;
        }
        int r = parse_listen(listen, &s.addr, &s.addr_len);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

void memschedd_config_free(struct memschedd_config *cfg)
{
        if (!cfg)
                return;
        config_free(&memschedd_config_table, cfg);
        *cfg = (struct memschedd_config){ 0 };
}
