// SPDX-License-Identifier: Apache-2.0
// The state memagentd keeps across a restart: exported from struct agent_state, saved and loaded
// as a file, and reconciled with what the cgroups say (resumed, dropped, stood back).
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/daemon/persist.h"
#include "agent/decide/restore.h"
#include "agent/decide/vscale.h"

#define MiB (1024ull * 1024)
#define SEC 1000000ull

static struct elastic_unit *add_unit(struct agent_state *st, uint64_t id, const char *path)
{
        if (st->n_units == st->cap_units) {
                st->cap_units = st->cap_units ? st->cap_units * 2 : 8;
                st->units = realloc(st->units, st->cap_units * sizeof(*st->units));
                assert_non_null(st->units);
        }
        struct elastic_unit *u = &st->units[st->n_units++];
        *u = (struct elastic_unit){ .id = id };
        snprintf(u->cgroup, sizeof(u->cgroup), "%s", path);
        return u;
}

/* A state with a loan out (pod limited, memory.high unset), a stand-back, a container with
 * neither (not persisted), a cooldown and three kills. */
static void make_state(struct agent_state *st)
{
        agent_state_init(st);
        struct elastic_unit *u = add_unit(st, 101, "/kubepods/burstable/podA/c1");
        u->loan = (struct vscale_loan){
                .active = true,
                .orig_max = 256 * MiB,
                .orig_high = VSCALE_NO_LIMIT,
                .orig_pod_max = 300 * MiB,
                .our_max = 320 * MiB,
                .our_high = VSCALE_NO_LIMIT,
                .our_pod_max = 364 * MiB,
                .lent_bytes = 64 * MiB,
                .last_change_usec = 900 * SEC,
        };
        u = add_unit(st, 102, "/kubepods/burstable/podB/c2");
        u->loan.stood_back = true;
        add_unit(st, 103, "/kubepods/burstable/podC/c3");
        st->cooldown_until_usec = 1005 * SEC;
        for (uint64_t t = 970; t <= 990; t += 10) {
                st->kill_times[st->kill_head] = t * SEC;
                st->kill_head = (st->kill_head + 1) % AGENT_KILL_HISTORY;
        }
}

static void test_export(void **unused)
{
        (void)unused;
        struct agent_state st;
        struct persisted_state p;
        make_state(&st);
        assert_int_equal(agent_state_export(&st, &p), 0);
        assert_int_equal(p.n_units, 2); /* c3 has nothing to remember */
        assert_int_equal(p.units[0].cgroup_id, 101);
        assert_false(p.units[0].stood_back);
        assert_int_equal(p.units[0].lent_bytes, 64 * MiB);
        assert_true(p.units[1].stood_back);
        assert_int_equal(p.n_kills, 3);
        assert_int_equal(p.kill_usec[0], 970 * SEC); /* oldest first */
        assert_int_equal(p.cooldown_until_usec, 1005 * SEC);

        /* Nothing changed: nothing to save. A return changes the loan: save. */
        struct persisted_state q;
        assert_int_equal(agent_state_export(&st, &q), 0);
        assert_true(persisted_state_equal(&p, &q));
        persisted_state_done(&q);
        st.units[0].loan.lent_bytes -= 32 * MiB;
        st.units[0].loan.our_max -= 32 * MiB;
        assert_int_equal(agent_state_export(&st, &q), 0);
        assert_false(persisted_state_equal(&p, &q));
        persisted_state_done(&q);
        persisted_state_done(&p);
        agent_state_done(&st);
}

/* Monotonic 1000 s is realtime 1.7e9 s: times move by the difference, a kill from before the
 * new clock's zero is dropped, a cooldown already over is none. */
static void test_shift(void **unused)
{
        (void)unused;
        struct agent_state st;
        struct persisted_state p;
        make_state(&st);
        assert_int_equal(agent_state_export(&st, &p), 0);
        uint64_t real = 1700000000ull * SEC;
        persisted_state_shift(&p, 1000 * SEC, real);
        assert_int_equal(p.cooldown_until_usec, real + 5 * SEC);
        assert_int_equal(p.kill_usec[2], real - 10 * SEC);
        assert_int_equal(p.units[0].last_change_usec, real - 100 * SEC);
        /* After a reboot: monotonic 25 s. The kill 30 s ago is from before the boot. */
        persisted_state_shift(&p, real + 2 * SEC, 25 * SEC);
        assert_int_equal(p.cooldown_until_usec, 28 * SEC);
        assert_int_equal(p.n_kills, 2);
        assert_int_equal(p.kill_usec[0], 3 * SEC);
        /* Later still: the cooldown is over. */
        persisted_state_shift(&p, 100 * SEC, 100 * SEC);
        assert_int_equal(p.cooldown_until_usec, 0);
        persisted_state_done(&p);
        agent_state_done(&st);
}

static char dir[] = "/tmp/test-persist-XXXXXX";

static void test_save_load(void **unused)
{
        (void)unused;
        struct agent_state st;
        struct persisted_state p, q;
        char why[200] = "", sub[64], path[128];
        make_state(&st);
        assert_int_equal(agent_state_export(&st, &p), 0);
        snprintf(sub, sizeof(sub), "%s/state", dir);
        assert_int_equal(persist_load(sub, &q, why, sizeof(why)), -ENOENT);
        assert_int_equal(persist_save(sub, &p, 1234), 0);
        /* Saved twice: the second replaces the first. */
        assert_int_equal(persist_save(sub, &p, 1235), 0);

        struct stat sb;
        assert_int_equal(stat(sub, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0700);
        snprintf(path, sizeof(path), "%s/%s", sub, PERSIST_FILE);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0600);
        snprintf(path, sizeof(path), "%s/%s.tmp", sub, PERSIST_FILE);
        assert_int_equal(stat(path, &sb), -1); /* renamed, not left behind */

        assert_int_equal(persist_load(sub, &q, why, sizeof(why)), 0);
        assert_true(persisted_state_equal(&p, &q));
        assert_int_equal(q.units[0].our_high, VSCALE_NO_LIMIT); /* "max" survives */
        assert_int_equal(q.units[0].our_pod_max, 364 * MiB);
        persisted_state_done(&q);
        persisted_state_done(&p);
        agent_state_done(&st);
}

static void write_file(const char *sub, const char *text)
{
        char path[128];
        (void)mkdir(sub, 0700);
        snprintf(path, sizeof(path), "%s/%s", sub, PERSIST_FILE);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* Not a state file: refused with a reason, never half taken. */
static void test_corrupt(void **unused)
{
        (void)unused;
        static const struct {
                const char *text, *why;
        } cases[] = {
                { "{\"version\":1,\"cooldownUntilUsec\":5,\"killsUsec\":[1,2", "not JSON" },
                { "garbage", "not JSON" },
                { "[1,2]", "not a JSON object" },
                { "{\"version\":2,\"cooldownUntilUsec\":0,\"killsUsec\":[],\"units\":[]}",
                  "version 2" },
                { "{\"version\":1,\"cooldownUntilUsec\":-4,\"killsUsec\":[],\"units\":[]}",
                  "cooldownUntilUsec" },
                { "{\"version\":1,\"cooldownUntilUsec\":0,\"killsUsec\":[\"x\"],\"units\":[]}",
                  "killsUsec" },
                { "{\"version\":1,\"cooldownUntilUsec\":0,\"killsUsec\":[],\"units\":[{"
                  "\"cgroup\":\"/a/../../etc\",\"standBack\":false}]}",
                  "cgroup" },
                { "{\"version\":1,\"cooldownUntilUsec\":0,\"killsUsec\":[],\"units\":[{"
                  "\"cgroup\":\"/a\",\"standBack\":false,\"cgroupId\":1}]}",
                  "origMax" },
        };
        char sub[64], why[200];
        snprintf(sub, sizeof(sub), "%s/corrupt", dir);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct persisted_state q = { 0 };
                write_file(sub, cases[i].text);
                why[0] = '\0';
                assert_int_equal(persist_load(sub, &q, why, sizeof(why)), -EBADMSG);
                if (!strstr(why, cases[i].why))
                        fail_msg("case %zu: \"%s\" does not say \"%s\"", i, why, cases[i].why);
                assert_null(q.units);
        }
}

/* Five units as persisted, and what the cgroups say of each after the restart. */
static void test_reconcile(void **unused)
{
        (void)unused;
        struct persisted_unit loan = {
                .orig_max = 256 * MiB,
                .orig_high = VSCALE_NO_LIMIT,
                .orig_pod_max = VSCALE_NO_LIMIT,
                .our_max = 320 * MiB,
                .our_high = VSCALE_NO_LIMIT,
                .our_pod_max = VSCALE_NO_LIMIT,
                .lent_bytes = 64 * MiB,
                .last_change_usec = 5 * SEC,
        };
        struct persisted_unit units[5];
        for (int i = 0; i < 5; i++) {
                units[i] = loan;
                units[i].cgroup_id = 201 + (uint64_t)i;
                snprintf(units[i].cgroup, sizeof(units[i].cgroup), "/kubepods/burstable/pod/c%d",
                         i);
        }
        units[4].stood_back = true;
        struct persisted_state p = {
                .cooldown_until_usec = 40 * SEC,
                .kill_usec = { 20 * SEC, 30 * SEC },
                .n_kills = 2,
                .units = units,
                .n_units = 5,
        };
        struct observed_limits obs[5] = {
                /* 0: as we left it: resumed */
                { .present = true,
                  .cgroup_id = 201,
                  .max_bytes = 320 * MiB,
                  .high_bytes = VSCALE_NO_LIMIT,
                  .pod_max_bytes = VSCALE_NO_LIMIT },
                /* 1: gone */
                { .present = false },
                /* 2: another container at the same path (a new inode): dropped */
                { .present = true, .cgroup_id = 999, .max_bytes = 320 * MiB },
                /* 3: the operator set memory.max since: stood back */
                { .present = true,
                  .cgroup_id = 204,
                  .max_bytes = 512 * MiB,
                  .high_bytes = VSCALE_NO_LIMIT,
                  .pod_max_bytes = VSCALE_NO_LIMIT },
                /* 4: a stand-back, its container still there: still standing back */
                { .present = true,
                  .cgroup_id = 205,
                  .max_bytes = 320 * MiB,
                  .high_bytes = VSCALE_NO_LIMIT,
                  .pod_max_bytes = VSCALE_NO_LIMIT },
        };
        enum reconcile_verdict v[5];
        struct agent_state st;
        agent_state_init(&st);
        assert_int_equal(agent_state_reconcile(&st, &p, obs, v), 0);
        assert_int_equal(v[0], RECONCILE_RESUMED);
        assert_int_equal(v[1], RECONCILE_DROPPED);
        assert_int_equal(v[2], RECONCILE_DROPPED);
        assert_int_equal(v[3], RECONCILE_STOOD_BACK);
        assert_int_equal(v[4], RECONCILE_KEPT_BACK);
        assert_int_equal(st.n_units, 3);
        assert_int_equal(st.units[0].id, 201);
        assert_true(st.units[0].loan.active);
        assert_int_equal(st.units[0].loan.our_max, 320 * MiB);
        assert_int_equal(st.units[0].loan.lent_bytes, 64 * MiB);
        assert_int_equal(st.units[1].id, 204);
        assert_false(st.units[1].loan.active);
        assert_true(st.units[1].loan.stood_back);
        assert_true(st.units[2].loan.stood_back);
        /* The cooldown and the kills are back: two kills count in the last minute. */
        assert_int_equal(st.cooldown_until_usec, 40 * SEC);
        assert_int_equal(agent_kills_last_minute(&st, 50 * SEC), 2);

        /* The resumed loan is returned by the normal logic once the working set has receded
         * for the hold period; the stood-back container is left alone even near its limit. */
        struct vscale_params vp = { .step_bytes = 64 * MiB,
                                    .ceiling_bytes = 128 * MiB,
                                    .return_hold_usec = 10 * SEC };
        struct vscale_input in = { .now_usec = 50 * SEC,
                                   .current_bytes = 100 * MiB,
                                   .working_set_bytes = 100 * MiB,
                                   .max_bytes = 320 * MiB,
                                   .high_bytes = VSCALE_NO_LIMIT,
                                   .pod_max_bytes = VSCALE_NO_LIMIT,
                                   .headroom_bytes = 1024 * MiB };
        struct vscale_decision d;
        vscale_decide(&vp, &st.units[0].loan, &in, &d);
        assert_int_equal(d.action, VSCALE_NONE); /* the hold starts */
        in.now_usec += 11 * SEC;
        vscale_decide(&vp, &st.units[0].loan, &in, &d);
        assert_int_equal(d.action, VSCALE_RETURN);
        assert_int_equal(d.new_max, 256 * MiB);
        in.max_bytes = 512 * MiB;
        in.working_set_bytes = 500 * MiB;
        vscale_decide(&vp, &st.units[1].loan, &in, &d);
        assert_int_equal(d.action, VSCALE_NONE);
        agent_state_done(&st);
}

int main(void)
{
        if (!mkdtemp(dir))
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_export),    cmocka_unit_test(test_shift),
                cmocka_unit_test(test_save_load), cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_reconcile),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                return 1;
        return r;
}
