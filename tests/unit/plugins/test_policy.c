// SPDX-License-Identifier: Apache-2.0
// The eviction policy chain on in-memory snapshots: the built-in "qos" order at every class
// boundary, ties, protection, missing data; "largest" (size and growth) loaded through the real
// dlopen path; and the loader's refusal of each kind of broken plugin, message included.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "plugins/policy.h"

#define MI (UINT64_C(1) << 20)
#define GI (UINT64_C(1) << 30)

#define MAX_CANDS 16

/* ---- helpers ---- */

static struct memagent_candidate cand(const char *cgroup, enum memagent_qos qos, uint64_t ws,
                                      uint64_t request)
{
        return (struct memagent_candidate){
                .name = cgroup,
                .cgroup = cgroup,
                .qos = qos,
                .current_bytes = ws,
                .working_set_bytes = ws,
                .request_bytes = request,
                .limit_bytes = MEMAGENT_NO_LIMIT,
        };
}

static struct policy_chain *load_ok(const char *const *names, size_t n, const char *dir)
{
        struct policy_chain *chain = NULL;
        int r = policy_chain_load(names, n, dir, &chain);
        if (r < 0 || !chain)
                fail_msg("policy_chain_load(%s...) failed: %d", names[0], r);
        return chain;
}

struct ranking {
        size_t order[MAX_CANDS];
        size_t n;
        struct memagent_rank ranks[MAX_CANDS];
};

static void rank_ok(const struct policy_chain *chain, const struct memagent_candidate *cands,
                    size_t n, struct ranking *out)
{
        struct memagent_rank_context ctx = { .level = MEMAGENT_LEVEL_CRITICAL, .scope = "node" };
        assert_true(n <= MAX_CANDS);
        memset(out, 0, sizeof(*out));
        int r = policy_chain_rank(chain, &ctx, cands, n, out->order, &out->n, out->ranks);
        if (r < 0)
                fail_msg("policy_chain_rank() failed: %d", r);
}

/* Checks the ranked order by cgroup path; the list ends with NULL. */
static void assert_order(const struct memagent_candidate *cands, const struct ranking *rk, ...)
{
        va_list ap;
        size_t i = 0;
        const char *want;
        char got[1024] = "";

        for (size_t j = 0; j < rk->n; j++) {
                strncat(got, " ", sizeof(got) - strlen(got) - 1);
                strncat(got, cands[rk->order[j]].cgroup ? cands[rk->order[j]].cgroup : "(null)",
                        sizeof(got) - strlen(got) - 1);
        }
        va_start(ap, rk);
        while ((want = va_arg(ap, const char *))) {
                const char *c = i < rk->n ? cands[rk->order[i]].cgroup : "(end)";
                if (i >= rk->n || !c || strcmp(c, want) != 0)
                        fail_msg("rank %zu: want %s, got %s (order:%s)", i, want, c ? c : "(null)",
                                 got);
                i++;
        }
        va_end(ap);
        if (i != rk->n)
                fail_msg("ranked %zu candidates, want %zu (order:%s)", rk->n, i, got);
}

static size_t find(const struct memagent_candidate *cands, size_t n, const char *cgroup)
{
        for (size_t i = 0; i < n; i++)
                if (cands[i].cgroup && strcmp(cands[i].cgroup, cgroup) == 0)
                        return i;
        fail_msg("no candidate %s", cgroup);
        return 0;
}

static void assert_reason(const struct memagent_candidate *cands, size_t n,
                          const struct ranking *rk, const char *cgroup, const char *want)
{
        const char *got = rk->ranks[find(cands, n, cgroup)].reason;
        if (strcmp(got, want) != 0)
                fail_msg("reason for %s:\n  got  \"%s\"\n  want \"%s\"", cgroup, got, want);
}

/* stderr capture, to check what the loader says when it refuses. */
static FILE *capture_file;
static int capture_saved_fd = -1;

static void capture_begin(void)
{
        fflush(stderr);
        capture_file = tmpfile();
        assert_non_null(capture_file);
        capture_saved_fd = dup(STDERR_FILENO);
        assert_true(capture_saved_fd >= 0);
        assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

static char *capture_end(void)
{
        static char buf[8192];
        fflush(stderr);
        assert_true(dup2(capture_saved_fd, STDERR_FILENO) >= 0);
        close(capture_saved_fd);
        capture_saved_fd = -1;
        rewind(capture_file);
        size_t len = fread(buf, 1, sizeof(buf) - 1, capture_file);
        buf[len] = '\0';
        fclose(capture_file);
        capture_file = NULL;
        fprintf(stderr, "%s", buf); /* keep it visible in the test log */
        return buf;
}

/* Loading names must fail with want_r, leave *ret alone, and log one message containing each of
 * the NULL-terminated strings. */
static void assert_refused(const char *const *names, size_t n, const char *dir, int want_r, ...)
{
        struct policy_chain *chain = (struct policy_chain *)(uintptr_t)0x1;
        va_list ap;
        const char *want;

        capture_begin();
        int r = policy_chain_load(names, n, dir, &chain);
        const char *msg = capture_end();
        if (r != want_r)
                fail_msg("loading %s: got %d, want %d; log: %s", names[n - 1], r, want_r, msg);
        assert_ptr_equal(chain, (struct policy_chain *)(uintptr_t)0x1);
        va_start(ap, want_r);
        while ((want = va_arg(ap, const char *)))
                if (!strstr(msg, want))
                        fail_msg("loading %s: log lacks \"%s\": %s", names[n - 1], want, msg);
        va_end(ap);
}

/* ---- the built-in qos policy ---- */

static void test_qos_class_order(void **state)
{
        (void)state;
        const char *const names[] = { "qos" };
        struct policy_chain *chain = load_ok(names, 1, NULL);
        struct memagent_candidate c[] = {
                cand("/guaranteed", MEMAGENT_QOS_GUARANTEED, 4 * GI, 4 * GI),
                cand("/avoid-besteffort", MEMAGENT_QOS_BESTEFFORT, 8 * GI, 0),
                cand("/burstable-within", MEMAGENT_QOS_BURSTABLE, 100 * MI, 200 * MI),
                cand("/besteffort", MEMAGENT_QOS_BESTEFFORT, 10 * MI, 0),
                cand("/burstable-over", MEMAGENT_QOS_BURSTABLE, 201 * MI, 200 * MI),
                cand("/protected-besteffort", MEMAGENT_QOS_BESTEFFORT, 16 * GI, 0),
                cand("/avoid-guaranteed", MEMAGENT_QOS_GUARANTEED, 1 * GI, 1 * GI),
        };
        size_t n = ELEMENTSOF(c);
        c[1].flags = MEMAGENT_CAND_AVOID;
        c[5].flags = MEMAGENT_CAND_PROTECTED;
        c[6].flags = MEMAGENT_CAND_AVOID;
        c[6].priority = -100; /* avoid wins over a low priority */
        struct ranking rk;

        rank_ok(chain, c, n, &rk);
        /* Within the avoid tier: same priority 0 vs -100, so the guaranteed one (lower priority)
         * goes first. */
        assert_order(c, &rk, "/besteffort", "/burstable-over", "/burstable-within", "/guaranteed",
                     "/avoid-guaranteed", "/avoid-besteffort", NULL);
        assert_true(rk.ranks[find(c, n, "/besteffort")].keys[0] == 3);
        assert_true(rk.ranks[find(c, n, "/burstable-over")].keys[0] == 3);
        assert_true(rk.ranks[find(c, n, "/burstable-within")].keys[0] == 2);
        assert_true(rk.ranks[find(c, n, "/guaranteed")].keys[0] == 1);
        assert_true(rk.ranks[find(c, n, "/avoid-besteffort")].keys[0] == 0);
        assert_true(rk.ranks[find(c, n, "/protected-besteffort")].exclude);
        assert_false(rk.ranks[find(c, n, "/besteffort")].exclude);
        assert_reason(c, n, &rk, "/protected-besteffort", "protected, never killed");
        policy_chain_free(chain);
}

static void test_qos_request_boundary(void **state)
{
        (void)state;
        const char *const names[] = { "qos" };
        struct policy_chain *chain = load_ok(names, 1, NULL);
        struct memagent_candidate c[] = {
                /* working set == request is not over; one byte more is */
                cand("/equal", MEMAGENT_QOS_BURSTABLE, 500 * MI, 500 * MI),
                cand("/plus-one", MEMAGENT_QOS_BURSTABLE, 500 * MI + 1, 500 * MI),
                cand("/minus-one", MEMAGENT_QOS_BURSTABLE, 500 * MI - 1, 500 * MI),
                /* a request of 0 is compared as 0: exceeded with any usage, not without */
                cand("/no-request", MEMAGENT_QOS_BURSTABLE, 1 * MI, 0),
                cand("/no-request-no-usage", MEMAGENT_QOS_BURSTABLE, 0, 0),
                /* no class: as burstable */
                cand("/none-over", MEMAGENT_QOS_NONE, 300 * MI, 100 * MI),
                cand("/none-within", MEMAGENT_QOS_NONE, 100 * MI, 300 * MI),
                /* guaranteed somehow over its request stays guaranteed */
                cand("/guaranteed-over", MEMAGENT_QOS_GUARANTEED, 2 * GI, 1 * GI),
                /* besteffort with nothing in use does not exceed its (zero) request */
                cand("/besteffort-empty", MEMAGENT_QOS_BESTEFFORT, 0, 0),
        };
        size_t n = ELEMENTSOF(c);
        struct ranking rk;

        rank_ok(chain, c, n, &rk);
        /* exceeds is working set > request, as the kubelet compares them; keys[2] is signed */
        assert_true(rk.ranks[find(c, n, "/equal")].keys[0] == 2);
        assert_true(rk.ranks[find(c, n, "/equal")].keys[2] == 0);
        assert_true(rk.ranks[find(c, n, "/plus-one")].keys[0] == 3);
        assert_true(rk.ranks[find(c, n, "/plus-one")].keys[2] == 1);
        assert_true(rk.ranks[find(c, n, "/minus-one")].keys[0] == 2);
        assert_true(rk.ranks[find(c, n, "/minus-one")].keys[2] == -1);
        assert_true(rk.ranks[find(c, n, "/no-request")].keys[0] == 3);
        assert_true(rk.ranks[find(c, n, "/no-request")].keys[2] == (double)MI);
        assert_true(rk.ranks[find(c, n, "/no-request-no-usage")].keys[0] == 2);
        assert_true(rk.ranks[find(c, n, "/none-over")].keys[0] == 3);
        assert_true(rk.ranks[find(c, n, "/none-within")].keys[0] == 2);
        assert_true(rk.ranks[find(c, n, "/none-within")].keys[2] == -200.0 * MI);
        assert_true(rk.ranks[find(c, n, "/guaranteed-over")].keys[0] == 1);
        assert_true(rk.ranks[find(c, n, "/guaranteed-over")].keys[2] == (double)GI);
        assert_true(rk.ranks[find(c, n, "/besteffort-empty")].keys[0] == 2);
        assert_order(c, &rk, "/none-over", "/no-request", "/plus-one", "/besteffort-empty",
                     "/equal", "/no-request-no-usage", "/minus-one", "/none-within",
                     "/guaranteed-over", NULL);
        policy_chain_free(chain);
}

static void test_qos_ties(void **state)
{
        (void)state;
        const char *const names[] = { "qos" };
        struct policy_chain *chain = load_ok(names, 1, NULL);
        /* All burstable over their request. Listed in the reverse of the expected order. */
        struct memagent_candidate c[] = {
                cand("/prio-max", MEMAGENT_QOS_BURSTABLE, 9 * GI, 100 * MI),
                cand("/prio-1000", MEMAGENT_QOS_BURSTABLE, 8 * GI, 100 * MI),
                cand("/tie-c", MEMAGENT_QOS_BURSTABLE, 300 * MI, 100 * MI),
                cand("/tie-b", MEMAGENT_QOS_BURSTABLE, 300 * MI, 100 * MI),
                cand("/tie-a", MEMAGENT_QOS_BURSTABLE, 300 * MI, 100 * MI),
                cand("/over-more", MEMAGENT_QOS_BURSTABLE, 1 * GI, 100 * MI),
                cand("/prio-min", MEMAGENT_QOS_BURSTABLE, 101 * MI, 100 * MI),
                cand("/prio-minus-10", MEMAGENT_QOS_BURSTABLE, 101 * MI, 100 * MI),
        };
        size_t n = ELEMENTSOF(c);
        c[0].priority = INT32_MAX;
        c[1].priority = 1000;
        c[6].priority = INT32_MIN;
        c[7].priority = -10;
        /* A tie on every key, also of the current usage the qos policy ignores. */
        c[2].current_bytes = c[3].current_bytes = c[4].current_bytes = 1 * GI;
        struct ranking rk;

        rank_ok(chain, c, n, &rk);
        /* lower priority first, whatever the usage; then more over the request; then path */
        assert_order(c, &rk, "/prio-min", "/prio-minus-10", "/over-more", "/tie-a", "/tie-b",
                     "/tie-c", "/prio-1000", "/prio-max", NULL);

        /* Same order whatever the input order. */
        struct memagent_candidate rev[ELEMENTSOF(c)];
        for (size_t i = 0; i < n; i++)
                rev[i] = c[n - 1 - i];
        rank_ok(chain, rev, n, &rk);
        assert_order(rev, &rk, "/prio-min", "/prio-minus-10", "/over-more", "/tie-a", "/tie-b",
                     "/tie-c", "/prio-1000", "/prio-max", NULL);
        policy_chain_free(chain);
}

/* The kubelet's rankMemoryPressure: exceeding the request first, then lower priority, then usage
 * minus request; no QoS key among the exceeders. A BestEffort pod of high priority outlives a
 * Burstable pod over its request, and a lower-priority BestEffort pod goes first though another
 * uses more. Guaranteed stays last (the mission's order). */
static void test_qos_kubelet_order(void **state)
{
        (void)state;
        const char *const names[] = { "qos" };
        struct policy_chain *chain = load_ok(names, 1, NULL);
        struct memagent_candidate c[] = {
                cand("/guaranteed-low", MEMAGENT_QOS_GUARANTEED, 1 * GI, 1 * GI),
                cand("/burstable-within-low", MEMAGENT_QOS_BURSTABLE, 100 * MI, 200 * MI),
                cand("/besteffort-important", MEMAGENT_QOS_BESTEFFORT, 2 * GI, 0),
                cand("/besteffort-big", MEMAGENT_QOS_BESTEFFORT, 900 * MI, 0),
                cand("/burstable-over", MEMAGENT_QOS_BURSTABLE, 250 * MI, 100 * MI),
                cand("/besteffort-small", MEMAGENT_QOS_BESTEFFORT, 100 * MI, 0),
                cand("/besteffort-low", MEMAGENT_QOS_BESTEFFORT, 10 * MI, 0),
        };
        size_t n = ELEMENTSOF(c);
        c[0].priority = -1000;
        c[1].priority = -1000;
        c[2].priority = 1000;
        c[3].priority = 10;
        c[6].priority = -10;
        struct ranking rk;

        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/besteffort-low", "/burstable-over", "/besteffort-small",
                     "/besteffort-big", "/besteffort-important", "/burstable-within-low",
                     "/guaranteed-low", NULL);
        policy_chain_free(chain);
}

static void test_qos_reasons(void **state)
{
        (void)state;
        const char *const names[] = { "qos" };
        struct policy_chain *chain = load_ok(names, 1, NULL);
        struct memagent_candidate c[] = {
                cand("/be", MEMAGENT_QOS_BESTEFFORT, 812 * MI, 0),
                cand("/over", MEMAGENT_QOS_BURSTABLE, 620 * MI, 500 * MI),
                cand("/within", MEMAGENT_QOS_BURSTABLE, 400 * MI, 500 * MI),
                cand("/norequest", MEMAGENT_QOS_BURSTABLE, 3 * GI / 2, 0),
                cand("/g", MEMAGENT_QOS_GUARANTEED, 1 * GI, 2 * GI),
                cand("/g-over", MEMAGENT_QOS_GUARANTEED, 3 * GI, 2 * GI),
                cand("/none", MEMAGENT_QOS_NONE, 0, 0),
                cand("/avoid", MEMAGENT_QOS_BURSTABLE, 620 * MI, 500 * MI),
        };
        size_t n = ELEMENTSOF(c);
        c[1].priority = 0;
        c[2].priority = -5;
        c[7].flags = MEMAGENT_CAND_AVOID;
        c[7].priority = 2000000000;
        struct ranking rk;

        rank_ok(chain, c, n, &rk);
        assert_reason(c, n, &rk, "/be",
                      "besteffort, working set 812.0 MiB, no request, priority 0");
        assert_reason(c, n, &rk, "/over",
                      "burstable over request by 120.0 MiB (working set 620.0 MiB, request "
                      "500.0 MiB), priority 0");
        assert_reason(c, n, &rk, "/within",
                      "burstable within request (working set 400.0 MiB, request 500.0 MiB), "
                      "priority -5");
        assert_reason(c, n, &rk, "/norequest",
                      "burstable, working set 1.5 GiB, no request, priority 0");
        assert_reason(c, n, &rk, "/g",
                      "guaranteed (working set 1.0 GiB, request 2.0 GiB), priority 0");
        assert_reason(c, n, &rk, "/g-over",
                      "guaranteed, over request by 1.0 GiB (working set 3.0 GiB, request "
                      "2.0 GiB), priority 0");
        assert_reason(c, n, &rk, "/none",
                      "no qos class (as burstable), working set 0 B, no request, priority 0");
        assert_reason(c, n, &rk, "/avoid",
                      "avoid (ranked last), burstable over request by 120.0 MiB (working set "
                      "620.0 MiB, request 500.0 MiB), priority 2000000000");
        policy_chain_free(chain);
}

static void test_qos_missing_data(void **state)
{
        (void)state;
        const char *const names[] = { "qos" };
        struct policy_chain *chain = load_ok(names, 1, NULL);
        struct memagent_candidate c[] = {
                { 0 }, /* nothing known at all: no name, no cgroup, no class, no usage */
                cand("/limited", MEMAGENT_QOS_BURSTABLE, 0, 0),
                cand("/unlimited", MEMAGENT_QOS_BURSTABLE, 0, 0),
        };
        size_t n = ELEMENTSOF(c);
        c[1].limit_bytes = 1 * GI;
        c[2].limit_bytes = MEMAGENT_NO_LIMIT;
        struct ranking rk;

        rank_ok(chain, c, n, &rk);
        /* All tie on every key (the limit is not a qos key); the path decides, NULL as "". */
        assert_int_equal(rk.n, 3);
        assert_int_equal(rk.order[0], 0);
        assert_int_equal(rk.order[1], 1);
        assert_int_equal(rk.order[2], 2);
        assert_string_equal(rk.ranks[0].reason,
                            "no qos class (as burstable), working set 0 B, no request, priority 0");

        /* No candidates at all. */
        size_t order[1] = { 42 }, n_ranked = 42;
        assert_int_equal(policy_chain_rank(chain, NULL, c, 0, order, &n_ranked, NULL), 0);
        assert_int_equal(n_ranked, 0);
        assert_int_equal(order[0], 42);
        /* No context: the policies get an empty one; no ranks wanted. */
        size_t order3[3];
        assert_int_equal(policy_chain_rank(chain, NULL, c, n, order3, &n_ranked, NULL), 0);
        assert_int_equal(n_ranked, 3);
        assert_int_equal(order3[0], 0);
        policy_chain_free(chain);
}

/* ---- protection, through every policy ---- */

static void test_protected_never_chosen(void **state)
{
        (void)state;
        const char *const chains[][2] = {
                { "qos", NULL },    { "largest", NULL }, { "largest:growth", NULL },
                { "nasty", NULL }, /* ignores the flag itself: the chain enforces it */
                { "nasty", "qos" },
        };
        struct memagent_candidate c[] = {
                cand("/huge-protected", MEMAGENT_QOS_BESTEFFORT, 64 * GI, 0),
                cand("/small", MEMAGENT_QOS_GUARANTEED, 10 * MI, 10 * MI),
                cand("/protected-avoid", MEMAGENT_QOS_BESTEFFORT, 32 * GI, 0),
        };
        size_t n = ELEMENTSOF(c);
        c[0].flags = MEMAGENT_CAND_PROTECTED;
        c[0].growth_bytes_per_sec = 1000 * (int64_t)MI;
        c[2].flags = MEMAGENT_CAND_PROTECTED | MEMAGENT_CAND_AVOID;

        for (size_t i = 0; i < ELEMENTSOF(chains); i++) {
                const char *dirs = TEST_PLUGIN_DIR;
                const char *names[2] = { NULL, NULL };
                size_t nn = 0;
                for (size_t j = 0; j < 2 && chains[i][j]; j++)
                        names[nn++] = chains[i][j];
                if (strncmp(names[0], "largest", 7) == 0)
                        dirs = LARGEST_DIR;
                struct policy_chain *chain = load_ok(names, nn, dirs);
                struct ranking rk;
                rank_ok(chain, c, n, &rk);
                assert_order(c, &rk, "/small", NULL);
                assert_true(rk.ranks[0].exclude);
                assert_true(rk.ranks[2].exclude);
                assert_false(rk.ranks[1].exclude);
                assert_string_equal(rk.ranks[0].reason, "protected, never killed");

                /* Everything protected: nobody to kill, and that is not an error. */
                struct memagent_candidate only[] = { c[0], c[2] };
                rank_ok(chain, only, 2, &rk);
                assert_int_equal(rk.n, 0);
                policy_chain_free(chain);
        }
}

/* ---- the chain ---- */

static void test_chain_order(void **state)
{
        (void)state;
        struct memagent_candidate c[] = {
                cand("/besteffort", MEMAGENT_QOS_BESTEFFORT, 100 * MI, 0),
                cand("/g1", MEMAGENT_QOS_GUARANTEED, 1 * GI, 1 * GI),
                cand("/g2", MEMAGENT_QOS_GUARANTEED, 1 * GI, 1 * GI),
        };
        size_t n = ELEMENTSOF(c);
        c[2].current_bytes = 2 * GI; /* page cache: same working set, more charged */
        struct ranking rk;

        const char *const qos_only[] = { "qos" };
        struct policy_chain *chain = load_ok(qos_only, 1, NULL);
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/besteffort", "/g1", "/g2", NULL); /* g1/g2 tie: path */
        policy_chain_free(chain);

        const char *const qos_largest[] = { "qos", "largest" };
        chain = load_ok(qos_largest, 2, LARGEST_DIR);
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/besteffort", "/g2", "/g1", NULL); /* largest breaks the tie */
        assert_reason(c, n, &rk, "/g2",
                      "guaranteed (working set 1.0 GiB, request 1.0 GiB), priority 0; current "
                      "usage 2.0 GiB");
        assert_true(rk.ranks[2].keys[0] == 1); /* the first policy's keys */
        char buf[64];
        assert_string_equal(policy_chain_describe(chain, buf, sizeof(buf)), "qos, largest");
        assert_int_equal(policy_chain_size(chain), 2);
        assert_string_equal(policy_chain_entry(chain, 0), "qos");
        assert_null(policy_chain_path(chain, 0));
        assert_string_equal(policy_chain_path(chain, 1), LARGEST_SO);
        assert_null(policy_chain_entry(chain, 2));
        assert_string_equal(policy_chain_describe(chain, buf, 8), "qos,...");
        policy_chain_free(chain);

        const char *const largest_only[] = { "largest" };
        chain = load_ok(largest_only, 1, LARGEST_DIR);
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/g2", "/g1", "/besteffort", NULL);
        assert_reason(c, n, &rk, "/besteffort", "current usage 100.0 MiB");
        assert_true(rk.ranks[2].keys[0] == (double)(2 * GI));
        policy_chain_free(chain);

        const char *const largest_qos[] = { "largest", "qos" };
        chain = load_ok(largest_qos, 2, LARGEST_DIR);
        c[1].current_bytes = 2 * GI; /* now g1 and g2 tie on size: qos cannot split them */
        c[0].current_bytes = 2 * GI; /* besteffort ties on size too: qos puts it first */
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/besteffort", "/g1", "/g2", NULL);
        policy_chain_free(chain);
}

static void test_largest_growth(void **state)
{
        (void)state;
        struct memagent_candidate c[] = {
                cand("/a", MEMAGENT_QOS_BURSTABLE, 100 * MI, 0),
                cand("/b", MEMAGENT_QOS_BURSTABLE, 200 * MI, 0),
                cand("/shrinking-huge", MEMAGENT_QOS_BESTEFFORT, 5 * GI, 0),
                cand("/flat", MEMAGENT_QOS_BURSTABLE, 1 * GI, 0),
                cand("/unknown", MEMAGENT_QOS_NONE, 0, 0),
        };
        size_t n = ELEMENTSOF(c);
        c[0].growth_bytes_per_sec = 10 * (int64_t)MI;
        c[1].growth_bytes_per_sec = 10 * (int64_t)MI;
        c[2].growth_bytes_per_sec = -5 * (int64_t)MI;
        c[3].growth_bytes_per_sec = 0;
        c[4].growth_bytes_per_sec = INT64_MIN; /* format the extreme without overflow */
        struct ranking rk;

        const char *const growth[] = { "largest:growth" };
        struct policy_chain *chain = load_ok(growth, 1, LARGEST_DIR);
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/b", "/a", "/flat", "/shrinking-huge", "/unknown", NULL);
        assert_reason(c, n, &rk, "/b", "growing 10.0 MiB/s, current usage 200.0 MiB");
        assert_reason(c, n, &rk, "/flat", "not growing, current usage 1.0 GiB");
        assert_reason(c, n, &rk, "/shrinking-huge", "shrinking 5.0 MiB/s, current usage 5.0 GiB");
        assert_reason(c, n, &rk, "/unknown", "shrinking 8.0 EiB/s, current usage 0 B");
        assert_string_equal(policy_chain_entry(chain, 0), "largest:growth");
        policy_chain_free(chain);

        /* "size" is the default, also when spelled out or by absolute path with arguments. */
        const char *const by_path[] = { LARGEST_SO ":size" };
        chain = load_ok(by_path, 1, "/nonexistent");
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/shrinking-huge", "/flat", "/b", "/a", "/unknown", NULL);
        policy_chain_free(chain);

        const char *const by_path_growth[] = { LARGEST_SO ":growth" };
        chain = load_ok(by_path_growth, 1, NULL);
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/b", "/a", "/flat", "/shrinking-huge", "/unknown", NULL);
        policy_chain_free(chain);
}

static void test_misbehaving_plugin(void **state)
{
        (void)state;
        /* nasty: NaN for no usage (ranks after every number), a reason with no NUL. */
        struct memagent_candidate c[] = {
                cand("/zero", MEMAGENT_QOS_BESTEFFORT, 0, 0),
                cand("/small", MEMAGENT_QOS_GUARANTEED, 1 * MI, 1 * MI),
                cand("/big", MEMAGENT_QOS_GUARANTEED, 2 * MI, 2 * MI),
        };
        size_t n = ELEMENTSOF(c);
        struct ranking rk;

        const char *const nasty[] = { "nasty" };
        struct policy_chain *chain = load_ok(nasty, 1, TEST_PLUGIN_DIR);
        rank_ok(chain, c, n, &rk);
        assert_order(c, &rk, "/big", "/small", "/zero", NULL);
        assert_int_equal(strlen(rk.ranks[0].reason), sizeof(rk.ranks[0].reason) - 1);
        policy_chain_free(chain);

        /* Two reasons that do not fit: cut, marked, terminated. */
        const char *const qos_nasty[] = { "qos", "nasty" };
        chain = load_ok(qos_nasty, 2, TEST_PLUGIN_DIR);
        rank_ok(chain, c, n, &rk);
        const char *r = rk.ranks[1].reason;
        assert_int_equal(strlen(r), sizeof(rk.ranks[1].reason) - 1);
        assert_true(strncmp(r, "guaranteed (working set 1.0 MiB", 31) == 0);
        assert_string_equal(r + strlen(r) - 6, "xxx...");
        policy_chain_free(chain);

        /* A policy that fails to rank fails the ranking, says which, and writes nothing. */
        const char *const fails[] = { "qos", "rankfail" };
        chain = load_ok(fails, 2, TEST_PLUGIN_DIR);
        size_t order[3] = { 7, 7, 7 }, n_ranked = 7;
        capture_begin();
        int ret = policy_chain_rank(chain, NULL, c, n, order, &n_ranked, rk.ranks);
        const char *msg = capture_end();
        assert_int_equal(ret, -EIO);
        assert_int_equal(n_ranked, 7);
        assert_int_equal(order[0], 7);
        assert_non_null(strstr(msg, "Policy rankfail failed to rank 3 candidates: "));
        policy_chain_free(chain);
}

/* ---- refusals ---- */

static void test_refuse_broken_plugins(void **state)
{
        (void)state;
        const char *n1[1];
        char want[256];

        n1[0] = TEST_PLUGIN_BROKEN_ABI_SO;
        assert_refused(n1, 1, NULL, -EPROTONOSUPPORT, TEST_PLUGIN_BROKEN_ABI_SO,
                       "abi_version 999, this memagentd speaks 1", NULL);

        n1[0] = "broken-size"; /* by name, from the plugin directory */
        snprintf(want, sizeof(want), "struct_size %zu smaller than %zu",
                 offsetof(struct memagent_policy, spare), sizeof(struct memagent_policy));
        assert_refused(n1, 1, TEST_PLUGIN_DIR, -EPROTO, TEST_PLUGIN_BROKEN_SIZE_SO, want, NULL);

        n1[0] = TEST_PLUGIN_BROKEN_NOSYM_SO;
        assert_refused(n1, 1, NULL, -ENOEXEC, TEST_PLUGIN_BROKEN_NOSYM_SO,
                       "no symbol \"memagent_policy\"", NULL);

        n1[0] = TEST_PLUGIN_BROKEN_NORANK_SO;
        assert_refused(n1, 1, NULL, -EINVAL, TEST_PLUGIN_BROKEN_NORANK_SO, "no rank callback",
                       NULL);

        n1[0] = TEST_PLUGIN_BROKEN_NONAME_SO;
        assert_refused(n1, 1, NULL, -EINVAL, TEST_PLUGIN_BROKEN_NONAME_SO, "no name", NULL);

        /* Not a shared object at all. */
        n1[0] = FIXTURES_DIR "/guest/README.md";
        if (access(n1[0], R_OK) == 0)
                assert_refused(n1, 1, NULL, -ELIBBAD, "Failed to load policy plugin", n1[0], NULL);
}

static void test_refuse_chain_entries(void **state)
{
        (void)state;
        const char *n1[1], *n2[2];

        n1[0] = "nonexistent";
        assert_refused(n1, 1, TEST_PLUGIN_DIR, -ENOENT,
                       TEST_PLUGIN_DIR "/memagent-policy-nonexistent.so: No such file or directory",
                       NULL);
        n1[0] = "/nonexistent/memagent-policy-x.so:growth";
        assert_refused(n1, 1, NULL, -ENOENT, "/nonexistent/memagent-policy-x.so: No such file",
                       NULL);
        n1[0] = TEST_PLUGIN_DIR;
        assert_refused(n1, 1, NULL, -EISDIR, "not a file", NULL);

        const char *const bad_names[] = { "", "../evil", "sub/dir", ":args", "bad name" };
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
                n1[0] = bad_names[i];
                assert_refused(n1, 1, TEST_PLUGIN_DIR, -EINVAL, "Invalid policy chain entry", NULL);
        }

        /* Duplicates: the built-in twice, and the same plugin by name and by path. */
        n2[0] = "qos";
        n2[1] = "qos";
        assert_refused(n2, 2, NULL, -EEXIST, "a policy named \"qos\" is already in the chain",
                       NULL);
        n2[0] = "largest";
        n2[1] = LARGEST_SO ":growth";
        assert_refused(n2, 2, LARGEST_DIR, -EEXIST, LARGEST_SO,
                       "a policy named \"largest\" is already in the chain (from \"largest\")",
                       NULL);

        /* Arguments to a policy that takes none; bad arguments: init fails, named. */
        n1[0] = "qos:fast";
        assert_refused(n1, 1, NULL, -EINVAL, "qos (built-in)", "takes no arguments, got \"fast\"",
                       NULL);
        n1[0] = "largest:biggest";
        assert_refused(n1, 1, LARGEST_DIR, -EINVAL,
                       "Policy largest (" LARGEST_SO ") failed to initialize with \"biggest\": "
                       "Invalid argument",
                       NULL);

        /* A refusal after a good policy undoes the good one too (ASan checks the fini). */
        n2[0] = "largest:growth";
        n2[1] = TEST_PLUGIN_BROKEN_ABI_SO;
        assert_refused(n2, 2, LARGEST_DIR, -EPROTONOSUPPORT, TEST_PLUGIN_BROKEN_ABI_SO, NULL);
        n2[1] = "broken-abi"; /* not in the plugin directory given */
        assert_refused(n2, 2, LARGEST_DIR, -ENOENT, LARGEST_DIR "/memagent-policy-broken-abi.so",
                       NULL);

        /* Nothing to load. */
        assert_refused(n1, 0, NULL, -EINVAL, "The eviction policy chain is empty", NULL);

        /* "qos:" is "qos" without arguments. */
        n1[0] = "qos:";
        struct policy_chain *chain = load_ok(n1, 1, NULL);
        policy_chain_free(chain);
        policy_chain_free(NULL);
}

static void test_builtin_descriptor(void **state)
{
        (void)state;
        /* The built-in goes through the ABI a plugin uses, and would pass the loader's checks. */
        assert_int_equal(policy_qos.abi_version, MEMAGENT_POLICY_ABI_VERSION);
        assert_int_equal(policy_qos.struct_size, sizeof(struct memagent_policy));
        assert_true(policy_qos.struct_size >= POLICY_STRUCT_SIZE_MIN);
        assert_string_equal(policy_qos.name, "qos");
        assert_non_null(policy_qos.rank);
        assert_null(policy_qos.init);
        assert_int_equal(POLICY_STRUCT_SIZE_MIN, sizeof(struct memagent_policy));
}

int main(void)
{
        log_set_target(LOG_TARGET_STDERR);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_qos_class_order),
                cmocka_unit_test(test_qos_request_boundary),
                cmocka_unit_test(test_qos_ties),
                cmocka_unit_test(test_qos_kubelet_order),
                cmocka_unit_test(test_qos_reasons),
                cmocka_unit_test(test_qos_missing_data),
                cmocka_unit_test(test_protected_never_chosen),
                cmocka_unit_test(test_chain_order),
                cmocka_unit_test(test_largest_growth),
                cmocka_unit_test(test_misbehaving_plugin),
                cmocka_unit_test(test_refuse_broken_plugins),
                cmocka_unit_test(test_refuse_chain_entries),
                cmocka_unit_test(test_builtin_descriptor),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
