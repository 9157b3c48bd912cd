// SPDX-License-Identifier: Apache-2.0
// memschedd's HTTP API on libmicrohttpd (internal thread pool, epoll). Every request body is
// collected up to max_body_bytes (413 beyond), then routed; handlers read an immutable snapshot
// and never wait for report ingestion.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "scheduler/cluster.h"
#include "scheduler/kube.h"
#include "scheduler/metrics.h"

/* What decoding a body may take, as a multiple of its size (api_parse() bounds the JSON tree to
 * API_PARSE_TREE_FACTOR times it, the body itself is one more). */
#define REQUEST_MEMORY_FACTOR 4

struct server_config {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        unsigned threads;
        size_t max_body_bytes;
        /* Idle connections are closed after this, and so is a request not fully received after
         * this long (libmicrohttpd's own timeout restarts with every byte received). */
        unsigned client_timeout_sec;
        unsigned max_connections;
        unsigned max_connections_per_client; /* 0: no limit */
        /* Bodies in flight count REQUEST_MEMORY_FACTOR times their size against this; beyond
         * it, 503 with Retry-After. */
        size_t request_memory_budget_bytes;
        /* HTTPS when set (all three together; borrowed, read at start). Without them plain
         * HTTP, refused on a non-loopback address unless insecure. */
        const char *tls_cert_path, *tls_key_path, *client_ca_path;
        /* Bearer tokens: kube-apiserver's static token file (token,user,uid[,groups]), re-read
         * when it changes; NULL for none. Borrowed for the server's life. */
        const char *token_file_path;
        bool insecure;
        /* listen was left at its default and became loopback for plain HTTP: say so at start */
        bool loopback_by_default;
};

struct server;

int server_start(struct cluster *c, const struct server_config *cfg, struct server **ret);
/* Binds through the Kubernetes API from now on (k may be NULL: only recorded). Call before
 * requests arrive (before the port is published). */
void server_set_kube(struct server *s, struct sched_kube *k);
/* The bound port (useful with port 0). */
uint16_t server_port(const struct server *s);
void server_set_ready(struct server *s, bool ready);
void server_stop(struct server *s);
/* Prints "METHOD /path" for every route served, one a line. */
void server_print_routes(FILE *f);
