// SPDX-License-Identifier: Apache-2.0
// Is there a cgroup v2 hierarchy with the memory controller at the root we were given?
#pragma once

#include <stddef.h>

/* Checks that `root` (a directory, opened as root_fd) is a cgroup v2 hierarchy whose root has
 * the memory controller: its cgroup.controllers lists "memory". On the live system in hybrid
 * or legacy mode (tmpfs at root, cgroup2 at root/unified) it names the unified mount, the
 * controllers it has, and where libcgroup finds the memory controller mounted instead.
 * Returns 0, or -EMEDIUMTYPE with a one-line explanation (what is wrong and what to do) in
 * why; -errno when the root cannot be read at all (also explained in why). */
int cgroup_root_check(const char *root, int root_fd, char *why, size_t why_size);
