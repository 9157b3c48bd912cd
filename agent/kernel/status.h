// SPDX-License-Identifier: Apache-2.0
// `memagent status`: the node and every pod, as JSON (a contract other parts read) or a table.
#pragma once

#include <json-c/json.h>
#include <stdio.h>

#include "agent/kernel/model.h"
#include "agent/kernel/node.h"
#include "api/psi.h"

/* Builds the status document. Returns a new reference (caller puts it) or NULL on OOM.
 * Keys: node {memory_total_bytes, memory_available_bytes, memory_free_bytes, swap_total_bytes,
 * swap_free_bytes, psi, numa[]}, kubepods, pods[] {uid, qos, driver, cgroup, memory, psi, events,
 * numa, refault_file_per_sec, containers[]}, workloads[]. Byte values are integers; null where
 * there is no limit
 * ("max") or the kernel does not provide the file. refault_file_per_sec (every cgroup): file pages
 * refaulted per second between the model's last two samples, null after only one. */
struct json_object *status_to_json(const struct node_sample *ns, const struct model *m);

/* One line of a pressure file as the wire's PSI object takes it (psi_encode()). */
struct psi_avgs status_psi_avgs(const struct psi_line *l);

/* Writes the human table: node summary, then pods grouped by QoS class with their containers,
 * then workloads. Bytes in IEC units. */
void status_print_table(FILE *f, const struct node_sample *ns, const struct model *m);
