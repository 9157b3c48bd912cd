// SPDX-License-Identifier: Apache-2.0
// File I/O relative to directory fds, the way cgroup and /proc files are read everywhere here.
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads the whole of an already open file from offset 0 with pread(), into buf (cap bytes, one
 * kept for a terminating NUL). Returns the length read, -EFBIG when the file does not fit, or
 * a negative errno. Pseudo-files (cgroup, /proc) are read whole in one or a few calls. */
ssize_t pread_full(int fd, char *buf, size_t cap);

/* pread_full() in one system call where that is enough: for a file whose every read returns all
 * that is left up to the buffer's size, so that a shorter read is the end (a regular file, and a
 * cgroup's memory.* files and /proc/meminfo, which the kernel shows as one record). Not for a
 * file of many records (cgroup.procs), which one read may return a page of. A read that fills
 * the buffer goes on as pread_full(). pread_full() asks again to see the end: twice the system
 * calls on the agent's every tick (issue 13). */
ssize_t pread_whole(int fd, char *buf, size_t cap);

/* Opens name relative to dirfd (read-only, O_CLOEXEC) and reads it whole like pread_full(). */
ssize_t read_file_at(int dirfd, const char *name, char *buf, size_t cap);

/* Writes s to name relative to dirfd in one write(): the way cgroup control files want it.
 * Returns 0 or a negative errno (the kernel's answer for a refused value). */
int write_string_at(int dirfd, const char *name, const char *s);

/* True for the errors that mean "this cgroup or file went away under us" (ENOENT, ENODEV,
 * ESTALE): a vanished cgroup is skipped quietly, never reported as a failure. */
static inline int errno_is_vanished(int r)
{
        return r == -2 /* ENOENT */ || r == -19 /* ENODEV */ || r == -116 /* ESTALE */;
}
