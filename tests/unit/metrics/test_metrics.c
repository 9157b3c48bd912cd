// SPDX-License-Identifier: Apache-2.0
// The Prometheus text encoder, the listen-address parser, and memagentd's metric counting: kill
// reasons from the actions that led to a kill, loans and returns paired with their writes, the
// balloon's episode record kept out of the decisions, API verbs and codes folded into bounded
// labels, /healthz's staleness, and the exposition of a manager built in memory.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/daemon/manager-private.h"
#include "agent/daemon/metrics.h"
#include "api/prom.h"
#include "common/listen-address.h"

static char *finish(struct api_buf *b)
{
        char *s = NULL;
        size_t n;
        assert_int_equal(api_buf_finish(b, &s, &n), 0);
        return s;
}

static void test_prom_escaping(void **state)
{
        (void)state;
        struct api_buf b = { 0 };
        prom_family(&b, "x_total", PROM_COUNTER, "a \\ b\nc \"q\"");
        const struct prom_label l[] = { { "path", "C:\\dir \"x\"\nend" }, { "k", "v" } };
        prom_sample_u64(&b, "x_total", l, 2, 7);
        prom_sample_double(&b, "y", NULL, 0, 0.25);
        _cleanup_free_ char *s = finish(&b);
        assert_string_equal(s, "# HELP x_total a \\\\ b\\nc \"q\"\n"
                               "# TYPE x_total counter\n"
                               "x_total{path=\"C:\\\\dir \\\"x\\\"\\nend\",k=\"v\"} 7\n"
                               "y 0.25\n");
}

static void test_prom_histogram(void **state)
{
        (void)state;
        struct api_buf b = { 0 };
        const double bounds[] = { 0.1, 1 };
        const uint64_t counts[] = { 1, 0, 2 };
        const struct prom_label l[] = { { "kind", "a" } };
        prom_histogram(&b, "h_seconds", l, 1, bounds, counts, 3, 4.5);
        prom_histogram(&b, "g_seconds", NULL, 0, bounds, counts, 3, 0);
        _cleanup_free_ char *s = finish(&b);
        assert_string_equal(s, "h_seconds_bucket{kind=\"a\",le=\"0.1\"} 1\n"
                               "h_seconds_bucket{kind=\"a\",le=\"1\"} 1\n"
                               "h_seconds_bucket{kind=\"a\",le=\"+Inf\"} 3\n"
                               "h_seconds_sum{kind=\"a\"} 4.5\n"
                               "h_seconds_count{kind=\"a\"} 3\n"
                               "g_seconds_bucket{le=\"0.1\"} 1\n"
                               "g_seconds_bucket{le=\"1\"} 1\n"
                               "g_seconds_bucket{le=\"+Inf\"} 3\n"
                               "g_seconds_sum 0\n"
                               "g_seconds_count 3\n");
}

static void test_listen_address(void **state)
{
        (void)state;
        struct sockaddr_storage a;
        socklen_t len;
        char buf[64];

        assert_int_equal(listen_address_parse(":9808", &a, &len), 0);
        assert_int_equal(a.ss_family, AF_INET6);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        assert_true(IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a)->sin6_addr));
        assert_string_equal(listen_address_format(&a, buf, sizeof(buf)), "[::]:9808");

        assert_int_equal(listen_address_parse("127.0.0.1:0", &a, &len), 0);
        assert_int_equal(a.ss_family, AF_INET);
        assert_string_equal(listen_address_format(&a, buf, sizeof(buf)), "127.0.0.1:0");

        assert_int_equal(listen_address_parse("[::1]:65535", &a, &len), 0);
        assert_string_equal(listen_address_format(&a, buf, sizeof(buf)), "[::1]:65535");

        static const char *const bad[] = {
                "9808", "none",     "localhost:80", "1.2.3.4:65536", "[::1:80", ":-1",
                ":",    "1.2.3.4:", "::1:80",       ":+80",          "[]:80",   "1.2.3.4:80x"
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct sockaddr_storage untouched = { .ss_family = 12345 };
                if (listen_address_parse(bad[i], &untouched, &len) != -EINVAL)
                        fail_msg("\"%s\" accepted", bad[i]);
                assert_int_equal(untouched.ss_family, 12345);
        }
}

static struct action record(const char *action, const char *level, const char *scope,
                            enum record_ref slot)
{
        struct action a = { .kind = ACTION_RECORD };
        snprintf(a.record.d.action, sizeof(a.record.d.action), "%s", action);
        snprintf(a.record.d.level, sizeof(a.record.d.level), "%s", level);
        snprintf(a.record.d.scope, sizeof(a.record.d.scope), "%s", scope);
        a.record.slot = slot;
        return a;
}

static struct action evict(enum action_kind kind, enum record_ref ref)
{
        return (struct action){ .kind = kind, .evict = { .record = ref } };
}

static void count(struct agent_metrics *mt, struct action *items, size_t n,
                  const struct limits_result *limits, size_t n_limits, enum evict_outcome outcome,
                  bool counted)
{
        struct action_list l = { .items = items, .n = n, .cap = n };
        struct evict_result r = { .outcome = outcome, .counted = counted };
        agent_metrics_count_actions(mt, &l, limits, n_limits, &r);
}

static void test_count_evictions_and_kills(void **state)
{
        (void)state;
        struct agent_metrics mt = { 0 };

        /* Critical: decided and killed at once, the kill took processes. */
        struct action a1[] = { record("kill", "critical", "kubepods", RECORD_NONE),
                               evict(ACTION_KILL, RECORD_LAST) };
        count(&mt, a1, 2, NULL, 0, EVICT_KILLED, true);
        assert_int_equal(mt.decisions[0][LEVEL_CRITICAL], 1); /* "kill" */
        assert_int_equal(mt.evictions[SCOPE_KUBEPODS][LEVEL_CRITICAL], 1);
        assert_int_equal(mt.kills[KILL_REASON_CRITICAL], 1);

        /* Medium with a grace period: an eviction, no kill yet. */
        struct action a2[] = { record("terminate", "medium", "node", RECORD_NONE),
                               evict(ACTION_TERMINATE, RECORD_LAST) };
        count(&mt, a2, 2, NULL, 0, EVICT_PENDING, false);
        assert_int_equal(mt.decisions[1][LEVEL_MEDIUM], 1);
        assert_int_equal(mt.evictions[SCOPE_NODE][LEVEL_MEDIUM], 1);

        /* The grace period ran out: a kill of the eviction in flight, no new eviction. */
        struct action a3[] = { evict(ACTION_KILL, RECORD_EVICTION) };
        count(&mt, a3, 1, NULL, 0, EVICT_KILLED, true);
        assert_int_equal(mt.kills[KILL_REASON_GRACE_PERIOD_OVER], 1);
        assert_int_equal(mt.evictions[SCOPE_NODE][LEVEL_MEDIUM], 1);

        /* Medium with gracePeriod 0; and a kill that found nothing does not count. */
        struct action a4[] = { record("kill", "medium", "node", RECORD_NONE),
                               evict(ACTION_KILL, RECORD_LAST) };
        count(&mt, a4, 2, NULL, 0, EVICT_KILLED, true);
        assert_int_equal(mt.kills[KILL_REASON_NO_GRACE_PERIOD], 1);
        count(&mt, a4, 2, NULL, 0, EVICT_KILLED, false);
        assert_int_equal(mt.kills[KILL_REASON_NO_GRACE_PERIOD], 1);
        assert_int_equal(mt.evictions[SCOPE_NODE][LEVEL_MEDIUM], 3);

        /* SIGTERM reached nobody: act() killed at once. */
        count(&mt, a2, 2, NULL, 0, EVICT_KILLED, true);
        assert_int_equal(mt.kills[KILL_REASON_SIGNAL_FAILED], 1);
        assert_int_equal(mt.kills[KILL_REASON_CRITICAL], 1);

        /* A dry run decides, and neither evicts nor kills. */
        struct action a6[] = { record("kill", "critical", "node", RECORD_NONE) };
        a6[0].record.d.dry_run = true;
        count(&mt, a6, 1, NULL, 0, EVICT_PENDING, false);
        assert_int_equal(mt.decisions[0][LEVEL_CRITICAL], 2);
        assert_int_equal(mt.evictions[SCOPE_NODE][LEVEL_CRITICAL], 0);

        /* An eviction through the Kubernetes API is an eviction too (no cgroup action here). */
        struct action a7[] = { record("evict", "medium", "kubepods", RECORD_NONE) };
        count(&mt, a7, 1, NULL, 0, EVICT_PENDING, false);
        assert_int_equal(mt.decisions[7][LEVEL_MEDIUM], 1);
        assert_int_equal(mt.evictions[SCOPE_KUBEPODS][LEVEL_MEDIUM], 1);

        /* A kill result with no kill in this list (left from before) is not counted again. */
        struct action a5[] = { record("none", "medium", "node", RECORD_NONE) };
        count(&mt, a5, 1, NULL, 0, EVICT_KILLED, true);
        uint64_t total = 0;
        for (size_t i = 0; i < _KILL_REASON_MAX; i++)
                total += mt.kills[i];
        assert_int_equal(total, 4);
        assert_int_equal(mt.decisions[2][LEVEL_MEDIUM], 1); /* "none" */
}

static void test_count_elastic(void **state)
{
        (void)state;
        struct agent_metrics mt = { 0 };
        struct action loan = { .kind = ACTION_SET_LIMITS };
        loan.limits.c.cgroup_id = 11;
        loan.limits.c.up = true;
        snprintf(loan.limits.d.action, sizeof(loan.limits.d.action), "loan");
        snprintf(loan.limits.d.level, sizeof(loan.limits.d.level), "none");
        struct action ret = loan;
        ret.limits.c.cgroup_id = 12;
        ret.limits.c.up = false;
        snprintf(ret.limits.d.action, sizeof(ret.limits.d.action), "return");
        struct action items[] = { record("reclaim", "low", "node", RECORD_BALLOON),
                                  { .kind = ACTION_RECLAIM },
                                  loan,
                                  ret,
                                  record("stand-back", "none", "node", RECORD_NONE) };
        /* The loan was written, the return failed. */
        const struct limits_result res[] = { { .cgroup_id = 11, .ok = true },
                                             { .cgroup_id = 12, .ok = false } };
        count(&mt, items, ELEMENTSOF(items), res, 2, EVICT_PENDING, false);
        assert_int_equal(mt.reclaim_steps_total, 1);
        assert_int_equal(mt.decisions[3][LEVEL_LOW], 0); /* the balloon's record: not a decision */
        assert_int_equal(mt.loans_total, 1);
        assert_int_equal(mt.returns_total, 0);
        assert_int_equal(mt.decisions[4][LEVEL_NONE], 1); /* "loan" */
        assert_int_equal(mt.decisions[5][LEVEL_NONE], 0); /* "return" failed */
        assert_int_equal(mt.decisions[6][LEVEL_NONE], 1); /* "stand-back" */
        /* A write act() could not report (no result): nothing counted. */
        count(&mt, &items[3], 1, NULL, 0, EVICT_PENDING, false);
        assert_int_equal(mt.returns_total, 0);
}

static void test_api_requests(void **state)
{
        (void)state;
        struct manager *m = calloc(1, sizeof(*m));
        assert_non_null(m);
        agent_metrics_api_request(&m->metrics, "list", 200);
        agent_metrics_api_request(&m->metrics, "create", 429);
        agent_metrics_api_request(&m->metrics, "create", 429);
        agent_metrics_api_request(&m->metrics, "proxy", 302);
        agent_metrics_api_request(&m->metrics, "patch", 418);
        agent_metrics_api_request(&m->metrics, "watch", -ETIMEDOUT);
        agent_metrics_api_request(&m->metrics, NULL, 0);
        agent_metrics_api_request(&m->metrics, "get", 700);
        struct api_buf b = { 0 };
        agent_metrics_format(m, 0, &b);
        _cleanup_free_ char *s = finish(&b);
        static const char *const want[] = {
                "memagent_kubernetes_api_requests_total{verb=\"list\",code=\"200\"} 1\n",
                "memagent_kubernetes_api_requests_total{verb=\"create\",code=\"429\"} 2\n",
                "memagent_kubernetes_api_requests_total{verb=\"other\",code=\"3xx\"} 1\n",
                "memagent_kubernetes_api_requests_total{verb=\"patch\",code=\"4xx\"} 1\n",
                "memagent_kubernetes_api_requests_total{verb=\"watch\",code=\"error\"} 1\n",
                "memagent_kubernetes_api_requests_total{verb=\"other\",code=\"error\"} 1\n",
                "memagent_kubernetes_api_requests_total{verb=\"get\",code=\"error\"} 1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(s, want[i]))
                        fail_msg("missing: %s", want[i]);
        free(m);
}

static void test_format_and_health(void **state)
{
        (void)state;
        struct manager *m = calloc(1, sizeof(*m));
        assert_non_null(m);
        m->p.sample_interval_usec = 1000000;
        m->p.fast_sample_interval_usec = 100000;
        m->state.scopes[SCOPE_NODE].active = true;
        m->state.scopes[SCOPE_NODE].st.level = LEVEL_CRITICAL;
        m->state.scopes[SCOPE_NODE].st.available_bytes = 4096;
        m->state.reclaimed_total = 1 << 20;
        agent_metrics_observe_step(&m->metrics, 300, 10000000);     /* 0.3 ms */
        agent_metrics_observe_step(&m->metrics, 3000000, 10000000); /* 3 s: +Inf */

        assert_true(agent_metrics_healthy(m, 10000000 + 4000000));
        assert_false(agent_metrics_healthy(m, 10000000 + 4000001));

        struct api_buf b = { 0 };
        agent_metrics_format(m, 10000000, &b);
        _cleanup_free_ char *s = finish(&b);
        static const char *const want[] = {
                "memagent_pressure_level{scope=\"node\"} 3\n",
                "memagent_memory_available_bytes{scope=\"node\"} 4096\n",
                "memagent_balloon_reclaimed_bytes_total 1048576\n",
                "memagent_step_duration_seconds_bucket{le=\"0.0005\"} 1\n",
                "memagent_step_duration_seconds_bucket{le=\"2.5\"} 1\n",
                "memagent_step_duration_seconds_bucket{le=\"+Inf\"} 2\n",
                "memagent_step_duration_seconds_sum 3.0003\n",
                "memagent_step_duration_seconds_count 2\n",
                "# TYPE memagent_reclaim_stall_seconds histogram\n",
                "# TYPE memagent_report_sent_total counter\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(s, want[i]))
                        fail_msg("missing: %s", want[i]);
        /* kubepods is not a scope until found with a limit; no reporter: no report samples. */
        assert_null(strstr(s, "scope=\"kubepods\""));
        assert_null(strstr(s, "\nmemagent_report_sent_total "));
        free(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_prom_escaping),
                cmocka_unit_test(test_prom_histogram),
                cmocka_unit_test(test_listen_address),
                cmocka_unit_test(test_count_evictions_and_kills),
                cmocka_unit_test(test_count_elastic),
                cmocka_unit_test(test_api_requests),
                cmocka_unit_test(test_format_and_health),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
