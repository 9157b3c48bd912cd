// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/kill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

const char *kill_outcome_to_string(enum kill_outcome o)
{
        switch (o) {
        case KILL_DONE:
                return "killed";
        case KILL_TIMEOUT:
                return "killed, not yet empty";
        case KILL_ALREADY_EMPTY:
                return "exited on its own";
        case KILL_VANISHED:
                return "cgroup vanished";
        case KILL_REPLACED:
                return "cgroup replaced";
        }
        return "?";
}

static int open_cgroup(int root_fd, const char *path)
{
        while (*path == '/')
                path++;
        int fd = openat(root_fd, *path ? path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

/* Value of "key N" in cgroup.events read through an open fd, or negative errno. */
static int events_value(int fd, const char *key)
{
        char buf[256];
        ssize_t n = pread_full(fd, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        size_t kl = strlen(key);
        for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
                        return p[kl + 1] == '1';
        return -ENODATA;
}

/* Waits until cgroup.events key == want, using POLLPRI notifications (kernfs_notify) and a
 * short re-check period in case a notification raced with our read. */
static int events_wait(int fd, const char *key, int want, int timeout_ms)
{
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000u;
        for (;;) {
                int v = events_value(fd, key);
                if (v < 0)
                        return v;
                if (v == want)
                        return 1;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return 0;
                uint64_t left_ms = (deadline - now) / 1000u;
                struct pollfd pfd = { .fd = fd, .events = POLLPRI };
                (void)poll(&pfd, 1, left_ms < 20 ? (int)left_ms + 1 : 20);
        }
}

static uint64_t read_current(int dfd)
{
        char buf[32];
        if (read_file_at(dfd, "memory.current", buf, sizeof(buf)) < 0)
                return 0;
        return strtoull(buf, NULL, 10);
}

int cgroup_populated(int root_fd, const char *path)
{
        _cleanup_close_ int dfd = open_cgroup(root_fd, path);
        if (dfd < 0)
                return dfd;
        _cleanup_close_ int efd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        if (efd < 0)
                return negative_errno();
        return events_value(efd, "populated");
}

int cgroup_kill_verified(int root_fd, const char *path, uint64_t expect_id, int timeout_ms,
                         struct kill_result *ret)
{
        struct kill_result res = { 0 };
        struct stat st;
        int r;

        _cleanup_close_ int dfd = open_cgroup(root_fd, path);
        if (dfd < 0) {
                if (!errno_is_vanished(dfd))
                        return dfd;
                res.outcome = KILL_VANISHED;
                *ret = res;
                return 0;
        }
        if (fstat(dfd, &st) < 0)
                return negative_errno();
        if (st.st_ino != expect_id) {
                res.outcome = KILL_REPLACED;
                *ret = res;
                return 0;
        }
        _cleanup_close_ int efd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        if (efd < 0)
                return negative_errno();
        r = events_value(efd, "populated");
        if (r == 0 || errno_is_vanished(r)) {
                res.outcome = r == 0 ? KILL_ALREADY_EMPTY : KILL_VANISHED;
                *ret = res;
                return 0;
        }
        res.current_before_bytes = read_current(dfd);
        uint64_t start = now_usec(CLOCK_MONOTONIC);

        /* Freeze: nothing forks, exits into a new cgroup, or allocates while we decide. */
        r = write_string_at(dfd, "cgroup.freeze", "1");
        if (r == 0)
                res.froze = events_wait(efd, "frozen", 1, 200) == 1;
        else if (r != -ENOENT)
                log_debug_errno(r, "Failed to freeze %s: %m, killing without freezing", path);

        /* Still the same cgroup, and still someone in it? */
        r = events_value(efd, "populated");
        _cleanup_close_ int again = open_cgroup(root_fd, path);
        if (again < 0 || fstat(again, &st) < 0 || st.st_ino != expect_id) {
                res.outcome = again < 0 ? KILL_VANISHED : KILL_REPLACED;
        } else if (r == 0) {
                res.outcome = KILL_ALREADY_EMPTY;
        } else {
                r = write_string_at(dfd, "cgroup.kill", "1");
                if (r < 0) {
                        (void)write_string_at(dfd, "cgroup.freeze", "0");
                        return log_error_errno(r, "Failed to write cgroup.kill of %s: %m", path);
                }
                r = events_wait(efd, "populated", 0, timeout_ms);
                res.outcome = r == 1 ? KILL_DONE : KILL_TIMEOUT;
        }
        res.duration_usec = now_usec(CLOCK_MONOTONIC) - start;
        res.current_after_bytes = read_current(dfd);
        (void)write_string_at(dfd, "cgroup.freeze", "0");
        *ret = res;
        return 0;
}

static int signal_tree(int dfd, int sig, int depth)
{
        int n = 0;
        /* Not on the stack: we recurse. Each level is done with it before descending. */
        static char buf[65536];

        ssize_t len = read_file_at(dfd, "cgroup.procs", buf, sizeof(buf));
        if (len < 0)
                return (int)len;
        for (char *p = buf; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (pid > 0 && kill((pid_t)pid, sig) == 0)
                        n++;
                p = *end ? end + 1 : end;
        }
        if (depth > 16)
                return n;
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return n;
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return n;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                        int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (cfd >= 0) {
                                int k = signal_tree(cfd, sig, depth + 1);
                                if (k > 0)
                                        n += k;
                                safe_close(cfd);
                        }
                }
        closedir(d);
        return n;
}

int cgroup_signal_all(int root_fd, const char *path, int sig)
{
        _cleanup_close_ int dfd = open_cgroup(root_fd, path);
        if (dfd < 0)
                return dfd;
        return signal_tree(dfd, sig, 0);
}
