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
#include "scheduler/metrics.h"

struct server_config {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        unsigned threads;
        size_t max_body_bytes;
        unsigned client_timeout_sec; /* idle/slow connections are closed after this */
        unsigned max_connections;
};

struct server;

int server_start(struct cluster *c, const struct server_config *cfg, struct server **ret);
/* The bound port (useful with port 0). */
uint16_t server_port(const struct server *s);
void server_set_ready(struct server *s, bool ready);
void server_stop(struct server *s);
/* Prints "METHOD /path" for every route served, one a line. */
void server_print_routes(FILE *f);
