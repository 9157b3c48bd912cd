// SPDX-License-Identifier: Apache-2.0
// The cluster's tunables, with their defaults. memschedd fills them from its configuration
// (scheduler/daemon-config.c: the YAML file and flags).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sched_config {
        uint64_t stale_after_usec;      /* a node without a report for this long is stale */
        uint64_t assume_ttl_usec;       /* a bound pod counts against its node until it shows up
                                         * in a report, or for at most this long */
        uint64_t reservation_ttl_usec;  /* a migration's reservation is held this long */
        uint64_t sustained_pressure_ms; /* medium+ pressure this long, relief exhausted → plan */
        double relief_target_ratio;     /* plan to free memory until available ≥ this × total */
        unsigned max_migrations_per_plan;
        bool admit_unknown_nodes; /* pass nodes that never reported instead of failing them */
        /* Score weights (sum 1): fragmentation, headroom, pressure. */
        double weight_fragmentation, weight_headroom, weight_pressure;
        /* A donor's memory pool offer not renewed for this long is withdrawn. */
        uint64_t pool_offer_ttl_usec;
};

#define SCHED_CONFIG_DEFAULTS                                                                      \
        ((struct sched_config){                                                                    \
            .stale_after_usec = 30 * 1000000ULL,                                                   \
            .assume_ttl_usec = 120 * 1000000ULL,                                                   \
            .reservation_ttl_usec = 600 * 1000000ULL,                                              \
            .sustained_pressure_ms = 60 * 1000ULL,                                                 \
            .relief_target_ratio = 0.10,                                                           \
            .max_migrations_per_plan = 3,                                                          \
            .admit_unknown_nodes = false,                                                          \
            .weight_fragmentation = 0.4,                                                           \
            .weight_headroom = 0.3,                                                                \
            .weight_pressure = 0.3,                                                                \
            .pool_offer_ttl_usec = 60 * 1000000ULL,                                                \
        })
