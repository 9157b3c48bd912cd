// SPDX-License-Identifier: Apache-2.0
// Parsers for the kernel's memory files: cgroup v2 memory.*, PSI, /proc/meminfo and the per-node
// sysfs files. Pure functions over a NUL-terminated buffer, so tests feed them captured files.
// Each returns 0, or -EBADMSG with *err saying which line and what was wrong (callers add the
// file's path when they log). Nothing is written to *ret on failure.
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A limit file that says "max" parses to this. */
#define CG_UNLIMITED UINT64_MAX
/* NUMA nodes tracked per cgroup and per machine; counts above are folded into the last. */
#define NUMA_NODES_MAX 16

struct parse_error {
        unsigned line; /* 1-based; 0 when the problem is the file as a whole */
        char what[120];
};

/* "123\n" or "max\n" (memory.current, memory.max, memory.swap.max, ...). */
int parse_cg_value(const char *buf, uint64_t *ret, struct parse_error *err);

/* memory.stat: "key value" lines, bytes or counts. Only the keys someone here uses are kept (the
 * working set, the balloon's bounds and refault rates, the thrash signal, status): the others,
 * and keys the kernel adds over time, are skipped unread, and the parse stops once it has all of
 * its keys (the kernel writes about fifty; issue 13). anon, file, inactive_file and active_file
 * must be present. A key to keep is a field here and a line in parse.c's table. */
struct memory_stat {
        uint64_t anon, file;
        uint64_t inactive_anon, active_anon, inactive_file, active_file;
        uint64_t workingset_refault_file, workingset_activate_file;
};
int parse_memory_stat(const char *buf, struct memory_stat *ret, struct parse_error *err);

/* memory.events / memory.events.local. low, high, max, oom, oom_kill are required;
 * oom_group_kill (5.17+) is optional. Read like memory.stat. */
struct memory_events {
        uint64_t low, high, max, oom, oom_kill, oom_group_kill;
};
int parse_memory_events(const char *buf, struct memory_events *ret, struct parse_error *err);

/* memory.pressure and /proc/pressure/memory: a "some" line and (for memory) a "full" line. */
struct psi_line {
        double avg10, avg60, avg300; /* percent of wall time stalled */
        uint64_t total_usec;
};
struct psi_stats {
        struct psi_line some, full;
        bool has_full;
};
int parse_psi(const char *buf, struct psi_stats *ret, struct parse_error *err);

/* memory.numa_stat: "key N0=bytes N1=bytes ..." lines; anon and file are kept per node. */
struct numa_stat {
        unsigned n_nodes; /* highest node id seen + 1, at most NUMA_NODES_MAX */
        uint64_t anon[NUMA_NODES_MAX], file[NUMA_NODES_MAX];
};
int parse_numa_stat(const char *buf, struct numa_stat *ret, struct parse_error *err);

/* /proc/meminfo ("MemTotal:  16384 kB") and the per-node sysfs meminfo ("Node 0 MemTotal: ...").
 * Values converted to bytes. MemTotal and MemFree are required; MemAvailable exists only in
 * /proc/meminfo (has_available says whether it was there). */
struct meminfo {
        uint64_t total, free, available, buffers, cached, swap_total, swap_free;
        uint64_t active_file, inactive_file, shmem, sreclaimable;
        bool has_available;
};
int parse_meminfo(const char *buf, struct meminfo *ret, struct parse_error *err);

/* /sys/devices/system/node/nodeN/distance: "10 20 ...". */
int parse_distance(const char *buf, unsigned *ret, unsigned max, unsigned *ret_n,
                   struct parse_error *err);
