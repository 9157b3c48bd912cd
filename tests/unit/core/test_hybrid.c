// SPDX-License-Identifier: Apache-2.0
// The live refusal on a hybrid-mode host (this build machine and CI): `memagent status` on the
// real /sys/fs/cgroup exits 2 and says where cgroup2 is mounted, which controllers it has, and
// where the v1 memory controller is instead. Skips loudly on hosts that are not hybrid.
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/magic.h>

#include "agent/kernel/mode.h"
#include "testutil.h"

#define MEMAGENT MEMAGENT_BIN_DIR "/agent/memagent"
#define ROOT     "/sys/fs/cgroup"
#define UNIFIED  ROOT "/unified"

static char controllers[512];
static char v1_memory[512];

/* The v1 mount carrying the memory controller, from /proc/self/mountinfo (not libcgroup:
 * an independent answer). */
static bool find_v1_memory_mount(char *buf, size_t size)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[1024];
        bool found = false;
        while (f && fgets(line, sizeof(line), f)) {
                char mnt[512], fstype[64], src[256], opts[512];
                char *sep = strstr(line, " - ");
                if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
                    sscanf(sep + 3, "%63s %255s %511s", fstype, src, opts) != 3)
                        continue;
                if (strcmp(fstype, "cgroup") != 0)
                        continue;
                for (char *o = strtok(opts, ","); o; o = strtok(NULL, ","))
                        if (strcmp(o, "memory") == 0) {
                                snprintf(buf, size, "%s", mnt);
                                found = true;
                        }
        }
        if (f)
                fclose(f);
        return found;
}

static void require_hybrid(void)
{
        struct statfs a, b;
        if (statfs(ROOT, &a) < 0 || a.f_type != TMPFS_MAGIC)
                tu_skip_loudly("%s is not a tmpfs: this host is not in hybrid cgroup mode", ROOT);
        if (statfs(UNIFIED, &b) < 0 || b.f_type != CGROUP2_SUPER_MAGIC)
                tu_skip_loudly("no cgroup2 at %s: this host is not in hybrid cgroup mode", UNIFIED);
        FILE *f = fopen(UNIFIED "/cgroup.controllers", "re");
        if (!f || !fgets(controllers, sizeof(controllers), f))
                controllers[0] = '\0';
        if (f)
                fclose(f);
        controllers[strcspn(controllers, "\n")] = '\0';
        if (strstr(controllers, "memory"))
                tu_skip_loudly("%s has the memory controller (%s): not the hybrid refusal case",
                               UNIFIED, controllers);
        if (!find_v1_memory_mount(v1_memory, sizeof(v1_memory)))
                tu_skip_loudly("no v1 memory controller mounted: not the hybrid refusal case");
}

static void check_message(const char *msg)
{
        char *want_ctl = tu_strdupf("[%s]", controllers);
        if (!strstr(msg, UNIFIED) || !strstr(msg, want_ctl) || !strstr(msg, v1_memory) ||
            !strstr(msg, "hybrid"))
                fail_msg("refusal does not name %s, its controllers %s and the v1 memory mount "
                         "%s: %s",
                         UNIFIED, want_ctl, v1_memory, msg);
        free(want_ctl);
}

static void test_cli_refuses_hybrid(void **state)
{
        (void)state;
        char *argv[] = { (char *)MEMAGENT, "status", "--cgroup-root", ROOT, NULL };
        char *out, *err;
        int st = tu_run(argv, &out, &err);
        if (st != 2)
                fail_msg("exit %d, expected 2; stderr: %s", st, err);
        check_message(err);
        assert_string_equal(out, "");
        /* one line */
        assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));
        free(out);
        free(err);
        /* JSON output asked for: still refused the same way. */
        char *argv2[] = { (char *)MEMAGENT, "status", "--output", "json",
                          "--cgroup-root",  ROOT,     NULL };
        st = tu_run(argv2, &out, &err);
        assert_int_equal(st, 2);
        check_message(err);
        free(out);
        free(err);
}

static void test_root_check_hybrid(void **state)
{
        (void)state;
        int fd = open(ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        char why[1024] = "";
        assert_int_equal(cgroup_root_check(ROOT, fd, why, sizeof(why)), -EMEDIUMTYPE);
        check_message(why);
        close(fd);
        /* The unified mount itself: a v2 root, but without memory. */
        fd = open(UNIFIED, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(cgroup_root_check(UNIFIED, fd, why, sizeof(why)), -EMEDIUMTYPE);
        assert_non_null(strstr(why, "but not memory"));
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cli_refuses_hybrid),
                cmocka_unit_test(test_root_check_hybrid),
        };
        require_hybrid();
        if (!tu_exists(MEMAGENT))
                tu_skip_loudly("%s is not built", MEMAGENT);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
