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

static int cmp_zone(const void *a, const void *b)
{
        const struct numa_zone *x = a, *y = b;
        return (x->id > y->id) - (x->id < y->id);
}

static int read_zones(int sys_fd, struct node_sample *ns, char *buf, size_t size)
{
        int fd = openat(sys_fd, NODE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        struct dirent *de;
        while ((de = readdir(d)) && ns->n_zones < NUMA_NODES_MAX) {
                char *end, path[320];
                struct parse_error perr;
                if (strncmp(de->d_name, "node", 4) != 0 || de->d_name[4] < '0' ||
                    de->d_name[4] > '9')
                        continue;
                unsigned long id = strtoul(de->d_name + 4, &end, 10);
                if (*end || id > 4096)
                        continue;
                struct numa_zone *z = &ns->zones[ns->n_zones];
                *z = (struct numa_zone){ .id = (unsigned)id };

                snprintf(path, sizeof(path), "%s/%s/meminfo", NODE_DIR, de->d_name);
                ssize_t n = read_file_at(sys_fd, path, buf, size);
                if (n < 0) {
                        log_warning_errno((int)n, "Failed to read %s: %m, skipping NUMA node %lu",
                                          path, id);
                        continue;
                }
                struct meminfo mi;
                if (parse_meminfo(buf, &mi, &perr) < 0) {
                        log_warning("Malformed %s line %u: %s, skipping NUMA node %lu", path,
                                    perr.line, perr.what, id);
                        continue;
                }
                z->total = mi.total;
                z->free = mi.free;
                z->file = mi.active_file + mi.inactive_file;
                z->sreclaimable = mi.sreclaimable;

                snprintf(path, sizeof(path), "%s/%s/distance", NODE_DIR, de->d_name);
                n = read_file_at(sys_fd, path, buf, size);
                if (n >= 0 &&
                    parse_distance(buf, z->distance, NUMA_NODES_MAX, &z->n_distance, &perr) < 0)
                        log_warning("Malformed %s: %s, ignoring distances", path, perr.what);
                ns->n_zones++;
        }
        closedir(d);
        qsort(ns->zones, ns->n_zones, sizeof(ns->zones[0]), cmp_zone);
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
