// SPDX-License-Identifier: Apache-2.0
// Sends the node report to memschedd (POST {base_url}/v1/nodes/{node}/report) from the agent's
// sd-event loop. libcurl's multi interface is driven by the loop (its sockets are sd-event io
// sources, its timeouts one sd-event timer), so the loop never waits on the network.
//
// The manager submits a report on every tick; the reporter decides when to send:
//   - at once when it differs materially from the last report memschedd accepted (see
//     reporter_report_changed()), else at the heartbeat (default every 10 s);
//   - one request at a time; a report submitted meanwhile replaces any older unsent one (the
//     newest wins) and goes out when the request ends;
//   - when memschedd is down (connection refused, timeout, 5xx) the next attempt waits with an
//     exponential backoff (1 s doubling to 60 s) with jitter (each delay drawn from [d/2, d]);
//     4xx (a report memschedd refuses) is counted and retried at the heartbeat, without backoff;
//     a failed TLS handshake (memschedd's certificate not trusted, ours refused) counts as
//     unreachable, with curl's reason in the log line and in last_error.
// It logs state changes only: once when memschedd becomes unreachable (with the reason and the
// retry delay), once when it is reachable again. The agent keeps protecting its node on its own
// whatever memschedd's state: nothing here blocks or fails the loop.
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "api/node_report.h"

struct reporter_params {
        uint64_t heartbeat_usec;   /* send at least this often (default 10 s) */
        uint64_t timeout_usec;     /* whole request, connect included (default 5 s) */
        uint64_t backoff_min_usec; /* first retry delay after a failure (default 1 s) */
        uint64_t backoff_max_usec; /* cap (default 60 s) */
        /* For an https:// base URL, PEM files (absolute paths; NULL or "" for none), copied by
         * reporter_new(): the CA bundle that signed memschedd's certificate (none: the system's
         * CAs), and the client certificate and its key (both or neither). curl reads them at
         * each new connection, so rotated files are picked up without a restart. The server's
         * certificate and host name are always verified. */
        const char *ca_file, *cert_file, *key_file;
        /* A file holding a bearer token sent as Authorization on every report (NULL or "" for
         * none), copied by reporter_new(). Read at each send, so a rotated token is used at once;
         * while it cannot be read no report is sent, and that is said once. */
        const char *token_file;
};
#define REPORTER_PARAMS_DEFAULT                                                                    \
        ((struct reporter_params){ .heartbeat_usec = 10000000,                                     \
                                   .timeout_usec = 5000000,                                        \
                                   .backoff_min_usec = 1000000,                                    \
                                   .backoff_max_usec = 60000000 })

struct reporter_stats {
        uint64_t sent;                 /* reports memschedd accepted (2xx) */
        uint64_t failed;               /* attempts that failed, any reason */
        uint64_t superseded;           /* reports replaced by a newer one before being sent */
        unsigned consecutive_failures; /* since the last success */
        bool reachable;                /* the last attempt reached memschedd (any HTTP answer) */
        bool in_flight;
        uint64_t backoff_usec;      /* current backoff before jitter; 0 while healthy */
        uint64_t next_attempt_usec; /* CLOCK_MONOTONIC of the next send, 0 if none planned */
        uint64_t last_success_usec; /* CLOCK_REALTIME of the last accepted report, 0 never */
        uint64_t last_attempt_usec; /* CLOCK_REALTIME */
        char last_error[256];       /* why the last attempt failed; "" after a success */
};

struct reporter;

/* Creates a reporter on loop e (a reference is taken). base_url is "http://host:port" or
 * "https://host:port" (a trailing '/' is ignored); node_name must be a Kubernetes node name
 * (RFC 1123 subdomain). p may be NULL for the defaults. Returns 0, -EINVAL (bad name, URL or
 * parameters, a certificate without its key or TLS files with an http:// URL, logged) or
 * -ENOMEM. Nothing is sent before the first reporter_submit(). */
int reporter_new(sd_event *e, const char *base_url, const char *node_name,
                 const struct reporter_params *p, struct reporter **ret);
/* Hands over the current report: the reporter keeps its own copy (the caller keeps report). It
 * sets seq (increasing per send) and heartbeat_interval_ms, and encodes it with
 * node_report_encode(). Returns 0, or -ENOMEM (the previous report, if any, stays current). */
int reporter_submit(struct reporter *r, const struct node_report *report);
void reporter_get_stats(const struct reporter *r, struct reporter_stats *ret);
/* The stats as JSON for the agent's status: {"url", "sent", "failed", "superseded",
 * "consecutive_failures", "reachable", "backoff_ms", "last_success_usec" (null if never),
 * "last_error" (null after a success)}. New reference or NULL. */
struct json_object *reporter_stats_json(const struct reporter *r);
/* Aborts any request in flight and releases every source. NULL-safe; returns NULL. */
struct reporter *reporter_free(struct reporter *r);

/* Whether report `now` must be sent before the heartbeat, given `last` (the last report
 * memschedd accepted, NULL if none): the pressure level or relief_exhausted changed, the set of
 * pod uids changed, or memory_available_bytes moved by more than 5% of its last value (and by
 * at least 16 MiB, so that a nearly full node does not report every byte). Pure. */
bool reporter_report_changed(const struct node_report *last, const struct node_report *now);
