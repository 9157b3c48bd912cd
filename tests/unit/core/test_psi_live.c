// SPDX-License-Identifier: Apache-2.0
// PSI trigger re-arm against the real kernel: in a child cgroup of this host's cgroup2 mount
// (/sys/fs/cgroup/unified on the hybrid build machines), a 500 ms window is refused with EINVAL
// for a writer without CAP_SYS_RESOURCE, and psi_trigger_arm() comes back armed with a 2 s
// window and the threshold scaled to match. Skips loudly where there is no writable cgroup2
// mount there; when the kernel takes 500 ms windows (CAP_SYS_RESOURCE) it checks no
// adjustment was made.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/magic.h>

#include "agent/kernel/psi.h"
#include "testutil.h"

#define UNIFIED "/sys/fs/cgroup/unified"

static char group[256];
static int gfd = -1;

static void remove_group(void)
{
        if (gfd >= 0)
                close(gfd);
        gfd = -1;
        if (group[0] && rmdir(group) < 0 && errno != ENOENT)
                fprintf(stderr, "test_psi_live: cannot remove %s: %s\n", group, strerror(errno));
        group[0] = '\0';
}

static bool has_cap_sys_resource(void)
{
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0)
                return false;
        return d[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32));
}

/* What the kernel itself says to a 500 ms window here, without psi_trigger_arm. */
static int kernel_answer(const char *text)
{
        int fd = openat(gfd, "memory.pressure", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        assert_true(fd >= 0);
        int r = write(fd, text, strlen(text) + 1) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void test_rearm_on_einval(void **state)
{
        (void)state;
        int raw = kernel_answer("some 100000 500000");
        struct psi_trigger t;
        int r = psi_trigger_arm(gfd, "memory.pressure", PSI_SOME, 100000, 500000, &t);
        assert_int_equal(r, 0);
        assert_true(t.fd >= 0);
        if (raw == -EINVAL) {
                /* The case on this machine: root without CAP_SYS_RESOURCE. */
                assert_false(has_cap_sys_resource());
                assert_true(t.adjusted);
                assert_int_equal(t.window_usec, 2000000);
                assert_int_equal(t.stall_usec, 400000); /* 20 % of the window, as asked */
        } else {
                assert_int_equal(raw, 0);
                printf("NOTE: the kernel took a 500 ms window (CAP_SYS_RESOURCE): no re-arm\n");
                assert_false(t.adjusted);
                assert_int_equal(t.window_usec, 500000);
        }
        /* Armed for real: a poll sees no error (an unarmed pressure fd reports POLLERR). */
        struct pollfd p = { .fd = t.fd, .events = POLLPRI };
        assert_true(poll(&p, 1, 0) >= 0);
        assert_int_equal(p.revents & (POLLERR | POLLNVAL), 0);
        assert_int_equal(psi_trigger_wait(&t, 10), 0); /* idle group: times out */
        psi_trigger_close(&t);

        /* Windows the kernel takes from anyone are not touched. */
        r = psi_trigger_arm(gfd, "memory.pressure", PSI_FULL, 150000, 2000000, &t);
        assert_int_equal(r, 0);
        assert_false(t.adjusted);
        assert_int_equal(t.window_usec, 2000000);
        assert_int_equal(t.stall_usec, 150000);
        psi_trigger_close(&t);

        /* 3 s rounds up to 4 s, stall scaled by 4/3. */
        r = psi_trigger_arm(gfd, "memory.pressure", PSI_SOME, 300000, 3000000, &t);
        assert_int_equal(r, 0);
        if (raw == -EINVAL) {
                assert_true(t.adjusted);
                assert_int_equal(t.window_usec, 4000000);
                assert_int_equal(t.stall_usec, 400000);
        }
        psi_trigger_close(&t);
}

/* The group going away under an armed trigger: the wait reports it. */
static void test_wait_after_rmdir(void **state)
{
        (void)state;
        struct psi_trigger t;
        assert_int_equal(psi_trigger_arm(gfd, "memory.pressure", PSI_SOME, 100000, 2000000, &t), 0);
        char keep[256];
        snprintf(keep, sizeof(keep), "%s", group);
        remove_group();
        int r = psi_trigger_wait(&t, 100);
        assert_true(r == -ENODEV || r == 1);
        psi_trigger_close(&t);
        /* Recreate for any later test (and so teardown has something to remove). */
        snprintf(group, sizeof(group), "%s", keep);
        assert_int_equal(mkdir(group, 0755), 0);
        gfd = open(group, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int group_setup(void **state)
{
        (void)state;
        snprintf(group, sizeof(group), UNIFIED "/memagent-test-%d", (int)getpid());
        if (mkdir(group, 0755) < 0) {
                group[0] = '\0';
                return -1;
        }
        gfd = open(group, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return gfd >= 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
        (void)state;
        remove_group();
        return 0;
}

int main(void)
{
        struct statfs sfs;
        if (statfs(UNIFIED, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
                tu_skip_loudly("no cgroup2 mount at %s", UNIFIED);
        if (access(UNIFIED, W_OK) < 0)
                tu_skip_loudly("%s is not writable (run as root)", UNIFIED);
        if (access(UNIFIED "/memory.pressure", F_OK) < 0)
                tu_skip_loudly("%s has no memory.pressure (kernel without PSI, or psi=0)", UNIFIED);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rearm_on_einval),
                cmocka_unit_test(test_wait_after_rmdir),
        };
        /* Group setup/teardown: the child cgroup is removed even when a test fails. */
        int r = cmocka_run_group_tests(tests, group_setup, group_teardown);
        remove_group();
        return r;
}
