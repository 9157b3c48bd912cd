// SPDX-License-Identifier: Apache-2.0
// Node reports shared between replicas through etcd. Agents report to the Service, which sends
// each report to any one replica; every replica must still plan and filter from every node's
// latest report. So each replica writes the reports it accepts to etcd ("reports/NODE", one key
// per node, soft state under a short lease) and applies the ones the others wrote from a watch.
//
// Cost: one etcd transaction per accepted report, written by a thread of its own (an HTTP thread
// only queues it), the queue holding at most the latest report per node, so a slow etcd coalesces
// reports instead of growing a backlog; one lease grant per replica every stale-after/2.
//
// Order: a put without compare would let a late, older report (a retry, a slow replica) replace a
// newer one for a whole stale-after period. Each write is instead a compare-and-swap on the key's
// revision as this replica last saw it; when another replica wrote in between, the stored report
// is read back and ours is written only if it is newer: a higher seq of the same agent run, or,
// across runs (an agent restarted, its seq counting from 1 again), the later receipt. So no older
// report overwrites a newer one, whatever the replicas' interleaving.
//
// Expiry: a report lives at least stale-after and at most 1.5 x stale-after in etcd. The lease a
// replica writes under is granted with a TTL of 1.5 x stale-after, never renewed, and replaced by
// a new one every stale-after/2: a node that stops reporting disappears from etcd on its own (a
// replica that starts later does not bring it back), and a replica's death takes nothing with it
// that is still fresh.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/cluster.h"

struct report_share;

/* Lists the reports in the store into c's model, then starts the threads that ship this
 * replica's reports (c->report_accepted) and apply the others'. identity names this replica in
 * what it writes. */
int report_share_start(struct cluster *c, const char *identity, struct report_share **ret);
/* Stops the threads and unhooks c. NULL is a no-op. */
void report_share_stop(struct report_share *s);
/* Whether the watch is current (its last round ended without error); *ret_since_usec gets the
 * CLOCK_MONOTONIC time since which it has been current or broken. */
bool report_share_current(struct report_share *s, uint64_t *ret_since_usec);
/* Whether value, a shared report as stored ({"received_at_usec", "replica", "report"}), is at
 * least as new as a report of seq and run_id (NULL or "" for none) received at
 * received_real_usec: a seq not below within one agent run, a receipt not earlier across runs.
 * false when value does not parse (it is then replaced). */
bool report_share_stored_is_newer(const char *value, uint64_t seq, const char *run_id,
                                  uint64_t received_real_usec);
/* Writes to etcd and acknowledged (reports_shipped), coalesced into a newer one before they
 * went out (reports_coalesced), applied from other replicas (reports_applied). */
void report_share_counts(struct report_share *s, uint64_t *ret_shipped, uint64_t *ret_coalesced,
                         uint64_t *ret_applied);
