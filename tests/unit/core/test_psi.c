// SPDX-License-Identifier: Apache-2.0
// psi_trigger_arm()'s refusal of values no kernel takes, checked before anything is written:
// the target here is a plain file that would accept any text, so only the function's own
// checks can refuse.
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/kernel/psi.h"
#include "testutil.h"

struct ctx {
        char *dir, *file;
        int dfd;
};

static int setup(void **state)
{
        struct ctx *c = calloc(1, sizeof(*c));
        c->dir = tu_mkdtemp("psi");
        c->file = tu_strdupf("%s/memory.pressure", c->dir);
        tu_write(c->file, "", 0);
        c->dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *state = c;
        return 0;
}

static int teardown(void **state)
{
        struct ctx *c = *state;
        close(c->dfd);
        tu_rm_rf(c->dir);
        free(c->file);
        free(c->dir);
        free(c);
        return 0;
}

static void refused(struct ctx *c, enum psi_kind k, uint64_t stall, uint64_t window)
{
        struct psi_trigger t = { .fd = -42 };
        int r = psi_trigger_arm(c->dfd, "memory.pressure", k, stall, window, &t);
        if (r != -EINVAL)
                fail_msg("stall %llu window %llu: got %d, want -EINVAL", (unsigned long long)stall,
                         (unsigned long long)window, r);
        assert_int_equal(t.fd, -42); /* untouched */
        char *s = tu_read(c->file, NULL);
        assert_string_equal(s, ""); /* nothing written */
        free(s);
}

static void test_refuses_impossible(void **state)
{
        struct ctx *c = *state;
        refused(c, PSI_SOME, 100000, 20000000); /* window 20 s > 10 s */
        refused(c, PSI_SOME, 100000, 10000001); /* just past 10 s */
        refused(c, PSI_FULL, 100000, 499999);   /* just under 500 ms */
        refused(c, PSI_SOME, 2000001, 2000000); /* stall > window */
        refused(c, PSI_SOME, 0, 2000000);       /* no stall */
        refused(c, PSI_SOME, 100000, 0);
}

/* A plain file (a copied tree, a fixture) is no pressure file: even in-range values are refused
 * and nothing is written into it. The kernel's side is test_psi_live. */
static void test_plain_file_refused(void **state)
{
        struct ctx *c = *state;
        struct psi_trigger t = { .fd = -42 };
        assert_int_equal(psi_trigger_arm(c->dfd, "memory.pressure", PSI_FULL, 150000, 2000000, &t),
                         -EOPNOTSUPP);
        assert_int_equal(t.fd, -42); /* untouched */
        char *s = tu_read(c->file, NULL);
        assert_string_equal(s, ""); /* nothing written */
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_refuses_impossible, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plain_file_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
