// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

#define NODE_DIR "devices/system/node"

static int cmp_uint(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return (x > y) - (x < y);
}

/* The kernel numbers NUMA nodes up to MAX_NUMNODES (1024 on x86_64); memagent keeps the
 * NUMA_NODES_MAX lowest-numbered ones (a fixed size keeps every sample allocation-free), and
 * says once when a node has more, rather than folding them in silently. */
#define NUMA_IDS_SCANNED 1024

static int read_zones(int sys_fd, struct node_sample *ns, char *buf, size_t size)
{
        static bool said_too_many;
        unsigned ids[NUMA_IDS_SCANNED], n_ids = 0;
        _cleanup_close_ int fd = openat(sys_fd, NODE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        /* getdents64() into the stack, not readdir(): fdopendir() allocates 32 KiB, and this runs
         * at every sample (issue 13: a calm tick allocates nothing). */
        _Alignas(struct dirent64) char dents[4096];
        ssize_t len;
        while (n_ids < NUMA_IDS_SCANNED && (len = getdents64(fd, dents, sizeof(dents))) > 0)
                for (ssize_t off = 0; off < len && n_ids < NUMA_IDS_SCANNED;) {
                        const struct dirent64 *de = (const struct dirent64 *)(dents + off);
                        char *end;
                        off += de->d_reclen;
                        if (strncmp(de->d_name, "node", 4) != 0 || de->d_name[4] < '0' ||
                            de->d_name[4] > '9')
                                continue;
                        unsigned long id = strtoul(de->d_name + 4, &end, 10);
                        if (*end || id > 4096)
                                continue;
                        ids[n_ids++] = (unsigned)id;
                }
        /* readdir's order is the directory's, not the ids': keep the lowest ones. */
        qsort(ids, n_ids, sizeof(ids[0]), cmp_uint);
        if (n_ids > NUMA_NODES_MAX && !said_too_many) {
                log_warning("This node has %u NUMA nodes; memagent tracks the %d lowest-numbered "
                            "(nodes %u to %u) and leaves the others out of status and reports",
                            n_ids, NUMA_NODES_MAX, ids[0], ids[NUMA_NODES_MAX - 1]);
                said_too_many = true;
        }
        for (unsigned i = 0; i < n_ids && ns->n_zones < NUMA_NODES_MAX; i++) {
                char path[320];
                struct parse_error perr;
                unsigned id = ids[i];
                struct numa_zone *z = &ns->zones[ns->n_zones];
                *z = (struct numa_zone){ .id = id };

                snprintf(path, sizeof(path), "%s/node%u/meminfo", NODE_DIR, id);
                ssize_t n = read_file_at(sys_fd, path, buf, size);
                if (n < 0) {
                        log_warning_errno((int)n, "Failed to read %s: %m, skipping NUMA node %u",
                                          path, id);
                        continue;
                }
                struct meminfo mi;
                if (parse_meminfo(buf, &mi, &perr) < 0) {
                        log_warning("Malformed %s line %u: %s, skipping NUMA node %u", path,
                                    perr.line, perr.what, id);
                        continue;
                }
                z->total = mi.total;
                z->free = mi.free;
                z->file = mi.active_file + mi.inactive_file;
                z->sreclaimable = mi.sreclaimable;

                snprintf(path, sizeof(path), "%s/node%u/distance", NODE_DIR, id);
                n = read_file_at(sys_fd, path, buf, size);
                if (n >= 0 &&
                    parse_distance(buf, z->distance, NUMA_NODES_MAX, &z->n_distance, &perr) < 0)
                        log_warning("Malformed %s: %s, ignoring distances", path, perr.what);
                ns->n_zones++;
        }
        return 0;
}

int node_sample(int proc_fd, int sys_fd, struct node_sample *ret, char *buf, size_t size)
{
        struct node_sample ns = { 0 };
        struct parse_error perr;

        ssize_t n = read_file_at(proc_fd, "meminfo", buf, size);
        if (n < 0)
                return log_error_errno((int)n, "Failed to read meminfo under the proc root: %m");
        if (parse_meminfo(buf, &ns.mem, &perr) < 0)
                return log_error_errno(EBADMSG, "Malformed meminfo line %u: %s", perr.line,
                                       perr.what);
        if (!ns.mem.has_available)
                return log_error_errno(EBADMSG,
                                       "meminfo has no MemAvailable (kernel older than 3.14?)");

        n = read_file_at(proc_fd, "pressure/memory", buf, size);
        if (n >= 0) {
                if (parse_psi(buf, &ns.psi, &perr) < 0)
                        log_warning("Malformed pressure/memory line %u: %s, ignoring", perr.line,
                                    perr.what);
                else
                        ns.has_psi = true;
        } else if (n != -ENOENT && n != -EOPNOTSUPP)
                log_warning_errno((int)n, "Failed to read pressure/memory: %m, ignoring");

        int r = read_zones(sys_fd, &ns, buf, size);
        if (r < 0)
                log_warning_errno(r, "Failed to list NUMA nodes under the sys root: %m, ignoring");
        *ret = ns;
        return 0;
}
