// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/mode.h"

#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "common/fileio.h"
#include "common/macro.h"

static bool word_in_list(const char *list, const char *word)
{
        size_t wl = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += wl)
                if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || p[wl] == '\0'))
                        return true;
        return false;
}

static void chomp(char *s)
{
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
}

/* Where libcgroup says the memory controller is mounted, e.g. "/sys/fs/cgroup/memory" on a
 * hybrid host. Only meaningful for the live system. */
static void memory_mount_from_libcgroup(char *buf, size_t size)
{
        char *mnt = NULL;
        snprintf(buf, size, "unknown");
        if (cgroup_init() != 0)
                return;
        if (cgroup_get_subsys_mount_point("memory", &mnt) == 0 && mnt) {
                snprintf(buf, size, "%s", mnt);
                free(mnt);
        }
}

int cgroup_root_check(const char *root, int root_fd, char *why, size_t why_size)
{
        char ctl[512];
        struct statfs sfs;

        ssize_t n = read_file_at(root_fd, "cgroup.controllers", ctl, sizeof(ctl));
        if (n >= 0) {
                chomp(ctl);
                if (word_in_list(ctl, "memory"))
                        return 0;
                snprintf(why, why_size,
                         "the cgroup v2 hierarchy at %s has controllers [%s] but not memory; "
                         "memagent needs the memory controller in cgroup v2 (is it bound to a v1 "
                         "hierarchy? boot with systemd.unified_cgroup_hierarchy=1)",
                         root, ctl);
                return -EMEDIUMTYPE;
        }
        if (n != -ENOENT) {
                snprintf(why, why_size, "cannot read %s/cgroup.controllers: %s", root,
                         strerror((int)-n));
                return (int)n;
        }

        /* No cgroup.controllers at the root: legacy or hybrid mode (tmpfs with v1 mounts and,
         * in hybrid mode, cgroup2 at unified/), or simply not a cgroup mount. */
        bool is_tmpfs = fstatfs(root_fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
        _cleanup_close_ int ufd = openat(root_fd, "unified", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool unified_v2 = ufd >= 0 && fstatfs(ufd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
        if (unified_v2) {
                char mem[256];
                if (read_file_at(ufd, "cgroup.controllers", ctl, sizeof(ctl)) < 0)
                        ctl[0] = '\0';
                chomp(ctl);
                memory_mount_from_libcgroup(mem, sizeof(mem));
                snprintf(
                    why, why_size,
                    "%s is in hybrid mode: the unified cgroup v2 hierarchy at %s/unified has "
                    "controllers [%s] but not memory, which is bound to the v1 hierarchy at %s; "
                    "memagent needs cgroup v2 with the memory controller: boot with "
                    "systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all)",
                    root, root, ctl, mem);
                return -EMEDIUMTYPE;
        }
        if (is_tmpfs) {
                char mem[256];
                memory_mount_from_libcgroup(mem, sizeof(mem));
                snprintf(why, why_size,
                         "%s is in legacy (v1) mode: no cgroup v2 hierarchy, memory controller at "
                         "%s; memagent needs cgroup v2 with the memory controller: boot with "
                         "systemd.unified_cgroup_hierarchy=1",
                         root, mem);
                return -EMEDIUMTYPE;
        }
        snprintf(why, why_size,
                 "%s is not a cgroup v2 hierarchy (no cgroup.controllers); point --cgroup-root at "
                 "the cgroup2 mount (usually /sys/fs/cgroup)",
                 root);
        return -EMEDIUMTYPE;
}
