// SPDX-License-Identifier: Apache-2.0
// The two HTTP faces of the test API server: the Kubernetes API (HTTPS, bearer token, answers
// and records as kube-apiserver would) and the control port (plain HTTP on loopback, no auth)
// through which a test scripts answers, changes pods, compacts, bookmarks and splits frames.
#pragma once

#include <microhttpd.h>
#include <stdint.h>

#include "state.h"

struct MHD_Connection;
struct request;

/* Limits: a request body (kube-apiserver's own limit is 3 MiB; what memagent sends is a few
 * KiB), the request line and headers, open connections (each one a thread). */
#define KT_BODY_MAX_BYTES    (1u << 20)
#define KT_HEADERS_MAX_BYTES (64u << 10)
#define KT_CONNECTIONS_MAX   96

/* The routes of the two ports (http.h's route_fn). */
enum MHD_Result api_route(struct state *st, struct MHD_Connection *conn, struct request *rq,
                          const char *method, const char *path);
enum MHD_Result control_route(struct state *st, struct MHD_Connection *conn, struct request *rq,
                              const char *method, const char *path);
