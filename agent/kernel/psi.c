// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/psi.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"

static int write_trigger(int fd, enum psi_kind kind, uint64_t stall, uint64_t window)
{
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%s %llu %llu", kind == PSI_SOME ? "some" : "full",
                         (unsigned long long)stall, (unsigned long long)window);
        /* The trailing NUL is part of the write, as the kernel documentation's example does. */
        if (write(fd, buf, (size_t)n + 1) < 0)
                return negative_errno();
        return 0;
}

int psi_trigger_arm(int dirfd, const char *name, enum psi_kind kind, uint64_t stall_usec,
                    uint64_t window_usec, struct psi_trigger *ret)
{
        static bool logged_widen;

        if (window_usec < PSI_WINDOW_MIN_USEC || window_usec > PSI_WINDOW_MAX_USEC ||
            stall_usec == 0 || stall_usec > window_usec)
                return -EINVAL;

        _cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Only the kernel's pressure files take triggers; never write one into a plain file
         * (a copied tree, a fixture). */
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0)
                return negative_errno();
        if (sfs.f_type != CGROUP2_SUPER_MAGIC && sfs.f_type != PROC_SUPER_MAGIC)
                return -EOPNOTSUPP;

        uint64_t stall = stall_usec, window = window_usec;
        int r = write_trigger(fd, kind, stall, window);
        if (r == -EINVAL && window % PSI_UNPRIV_WINDOW_STEP_USEC != 0) {
                /* Unprivileged writers get 2 s multiples only (kernel 6.5+ psi_trigger_create).
                 * The write may have half-failed, so start over on a fresh fd. */
                uint64_t w = (window + PSI_UNPRIV_WINDOW_STEP_USEC - 1) /
                             PSI_UNPRIV_WINDOW_STEP_USEC * PSI_UNPRIV_WINDOW_STEP_USEC;
                if (w > PSI_WINDOW_MAX_USEC)
                        w = PSI_WINDOW_MAX_USEC / PSI_UNPRIV_WINDOW_STEP_USEC *
                            PSI_UNPRIV_WINDOW_STEP_USEC;
                uint64_t s = stall * w / window;
                safe_close(fd);
                fd = openat(dirfd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                r = write_trigger(fd, kind, s, w);
                if (r == 0) {
                        if (!logged_widen) {
                                log_notice(
                                    "The kernel refused a PSI window of %llu ms (it treats this "
                                    "process as unprivileged: no CAP_SYS_RESOURCE); using "
                                    "%llu ms windows with thresholds scaled to match",
                                    (unsigned long long)window / 1000,
                                    (unsigned long long)w / 1000);
                                logged_widen = true;
                        }
                        stall = s;
                        window = w;
                }
        }
        if (r < 0)
                return r;
        *ret = (struct psi_trigger){
                .fd = TAKE_FD(fd),
                .kind = kind,
                .stall_usec = stall,
                .window_usec = window,
                .adjusted = window != window_usec,
        };
        return 0;
}

int psi_trigger_wait(const struct psi_trigger *t, int timeout_ms)
{
        struct pollfd pfd = { .fd = t->fd, .events = POLLPRI };
        for (;;) {
                int n = poll(&pfd, 1, timeout_ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 0;
                if (pfd.revents & (POLLERR | POLLNVAL))
                        return -ENODEV;
                return 1;
        }
}

void psi_trigger_close(struct psi_trigger *t)
{
        t->fd = safe_close(t->fd);
}
