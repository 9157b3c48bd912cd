// SPDX-License-Identifier: Apache-2.0
// memschedd's configuration: struct memschedd_config, the table that describes every key
// (scheduler/daemon-config.c) and the command line. The mechanism is common/config.h, the same as
// memagentd's (agent/daemon-config.h); this file only says which keys memschedd has.
//
// Sources, later ones winning: the table's defaults, the YAML file (--config PATH, default
// MEMSCHEDD_CONFIG_DEFAULT_PATH, which may be missing), then flags, each a key in kebab-case
// (staleAfterSec is --stale-after-sec=N or --stale-after-sec N). Nothing is reloaded at run time.
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "scheduler/config.h"
#include "scheduler/server.h"

#define MEMSCHEDD_CONFIG_DEFAULT_PATH "/etc/memagent/memschedd.yaml"
#define MEMSCHEDD_ACTION_LIST_ROUTES  "list-routes"
/* Where plain HTTP is served when listen is left at its default (see the listen key). */
#define MEMSCHEDD_LISTEN_PLAIN_DEFAULT "127.0.0.1:8787"

struct memschedd_config {
        char *listen;     /* "ADDR:PORT", IPv4 or [IPv6]; see memschedd_config_server() */
        char *state_file; /* SQLite file */
        char *tls_cert, *tls_key, *client_ca; /* PEM files; "" for plain HTTP */
        bool insecure;                        /* plain HTTP on a non-loopback address */
        char *token_file;                     /* bearer tokens; "" for none */
        char *port_file;                      /* "" for none */
        char *etcd_endpoints;                 /* "" for SQLite, else "URL[,URL...]" */
        char *etcd_cert, *etcd_key, *etcd_ca; /* "" for none */
        int64_t leader_lease_sec;
        char *kubeconfig; /* "" for in-cluster or none */
        int64_t max_concurrent_migrations;
        int64_t threads, max_connections, client_timeout_sec, max_connections_per_client;
        uint64_t max_body_bytes, request_memory_budget_bytes;

        int64_t stale_after_sec, assume_ttl_sec, reservation_ttl_sec, sustained_pressure_sec;
        int64_t pool_offer_ttl_sec;
        bool admit_unknown_nodes;
        double relief_target_percent; /* of the node's memory */
        int64_t max_migrations_per_plan;
        double weight_fragmentation_percent, weight_headroom_percent, weight_pressure_percent;

        int log_level; /* LOG_ERR .. LOG_DEBUG, for log_set_max_level() */

        /* Not keys: where the values came from. */
        struct config_sources sources;
};

/* The table (exposed for tests and documentation generators). */
extern const struct config_table memschedd_config_table;

/* Parses memschedd's command line (see config_parse_command_line(): --config PATH,
 * --print-config, --help/-h, --version, --list-routes and a flag for every key) with
 * default_path as the optional default file. Returns 0 with *ret and *ret_args filled (release
 * with memschedd_config_free() and config_args_done()); the caller acts on help, version,
 * print_config and action, else runs. Or a negative errno with one line in err (bad usage or
 * configuration: exit 2); nothing to free then. */
int memschedd_config_load(int argc, char *argv[], const char *default_path,
                          struct memschedd_config *ret, struct config_args *ret_args, char *err,
                          size_t err_size);

/* --help: usage, every key of the table as a flag, and the exit codes. */
void memschedd_config_print_help(const char *default_path, FILE *f);

/* --print-config: the effective configuration as a YAML file --config reads back. Returns 0 or
 * a negative errno from writing. */
int memschedd_config_print(const struct memschedd_config *cfg, const struct config_args *args,
                           FILE *f);

/* The cluster's tunables from cfg. */
void memschedd_config_sched(const struct memschedd_config *cfg, struct sched_config *ret);

/* The HTTP server's settings from cfg (the listen address parsed). Returns 0, or -EINVAL when
 * listen does not parse (the table's check prevents that). */
int memschedd_config_server(const struct memschedd_config *cfg, struct server_config *ret);

/* Releases everything cfg owns and zeroes it; safe on a zeroed struct and twice. */
void memschedd_config_free(struct memschedd_config *cfg);
