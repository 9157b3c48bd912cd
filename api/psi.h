// SPDX-License-Identifier: Apache-2.0
// Pressure stall information on the wire: the one encoder of the PSI object that `memagent status
// --output json` (node and every cgroup) and the node report (node.psi) both write.
#pragma once

#include <stdint.h>

#include <json-c/json.h>

/* One line of a pressure file (some or full). */
struct psi_avgs {
        double avg10, avg60, avg300; /* percent of wall time stalled */
        uint64_t total_usec;
};

/* {"some": {"avg10", "avg60", "avg300", "total_usec"}, "full": {...} or null}; full is NULL
 * when the kernel has no full line. The averages are written with two decimals, the kernel's
 * own precision, so a kernel value is sent exactly as read. New reference, or NULL on OOM. */
struct json_object *psi_encode(const struct psi_avgs *some, const struct psi_avgs *full);
