// SPDX-License-Identifier: Apache-2.0
// kube_status from the answers kube-apiserver really gives: the Status bodies below have the
// shapes that k8s.io/apimachinery/pkg/api/errors (NewTooManyRequests, NewNotFound, NewConflict,
// NewResourceExpired, NewUnauthorized) and pkg/registry/core/pod/storage/eviction.go build, as
// the server serialises them; and a proxy's HTML page that is not a Status at all.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/kube/status.h"

static void from(int code, const char *body, const char *retry_after, struct kube_status *s)
{
        kube_status_from_reply(code, body, body ? strlen(body) : 0, retry_after, s);
}

static void test_pdb_429(void **state)
{
        (void)state;
        struct kube_status s;
        char line[512];
        from(429,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"Cannot evict pod as it would violate the pod's disruption budget.\","
             "\"reason\":\"TooManyRequests\",\"details\":{\"causes\":[{\"reason\":"
             "\"DisruptionBudget\",\"message\":\"The disruption budget web-pdb needs 2 healthy "
             "pods and has 2 currently\"}]},\"code\":429}\n",
             NULL, &s);
        assert_false(kube_status_ok(&s));
        assert_int_equal(s.http_code, 429);
        assert_string_equal(s.reason, "TooManyRequests");
        assert_string_equal(s.cause_reason, "DisruptionBudget");
        assert_string_equal(
            s.cause_message,
            "The disruption budget web-pdb needs 2 healthy pods and has 2 currently");
        assert_string_equal(s.message,
                            "Cannot evict pod as it would violate the pod's disruption budget.");
        assert_int_equal(s.retry_after_sec, 0);
        kube_status_format(&s, line, sizeof(line));
        assert_string_equal(line, "429 TooManyRequests (DisruptionBudget): Cannot evict pod as it "
                                  "would violate the pod's disruption budget.");
}

static void test_retry_after(void **state)
{
        (void)state;
        struct kube_status s;
        char line[512];
        const char *body =
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
            "\"message\":\"Too many requests, please try again later.\",\"reason\":"
            "\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":7},\"code\":429}";
        /* The body's field alone. */
        from(429, body, NULL, &s);
        assert_int_equal(s.retry_after_sec, 7);
        assert_string_equal(s.cause_reason, "");
        /* The header wins (the server sets both; proxies keep only the header). */
        from(429, body, " 3", &s);
        assert_int_equal(s.retry_after_sec, 3);
        kube_status_format(&s, line, sizeof(line));
        assert_non_null(strstr(line, "(retry after 3 s)"));
        /* An HTTP-date in the past is no wait; garbage is none. */
        from(429, body, "Wed, 21 Oct 2015 07:28:00 GMT", &s);
        assert_int_equal(s.retry_after_sec, 7);
        from(503, "", "soon", &s);
        assert_int_equal(s.retry_after_sec, 0);
        /* A wait beyond a day is capped. */
        from(429, NULL, "99999999999", &s);
        assert_int_equal(s.retry_after_sec, 24 * 3600);
}

static void test_not_found_conflict_expired_unauthorized(void **state)
{
        (void)state;
        struct kube_status s;
        from(404,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"pods \\\"web-1\\\" not found\",\"reason\":\"NotFound\",\"details\":"
             "{\"name\":\"web-1\",\"kind\":\"pods\"},\"code\":404}",
             NULL, &s);
        assert_string_equal(s.reason, "NotFound");
        assert_string_equal(s.message, "pods \"web-1\" not found");
        assert_string_equal(s.cause_reason, "");

        from(409,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"Operation cannot be fulfilled on pods \\\"web-1\\\": Precondition "
             "failed: UID in precondition: u-old, UID in object meta: u-new\",\"reason\":"
             "\"Conflict\",\"details\":{\"name\":\"web-1\",\"kind\":\"pods\"},\"code\":409}",
             NULL, &s);
        assert_string_equal(s.reason, "Conflict");
        assert_non_null(strstr(s.message, "UID in precondition: u-old"));

        from(410,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"too old resource version: 12 (40)\",\"reason\":\"Expired\",\"code\":"
             "410}",
             NULL, &s);
        assert_int_equal(s.http_code, 410);
        assert_string_equal(s.reason, "Expired");
        assert_string_equal(s.message, "too old resource version: 12 (40)");

        from(401,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}",
             NULL, &s);
        assert_string_equal(s.reason, "Unauthorized");
}

static void test_not_a_status(void **state)
{
        (void)state;
        struct kube_status s;
        char line[512];
        from(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body></body></html>",
             NULL, &s);
        assert_int_equal(s.http_code, 502);
        assert_string_equal(s.reason, "");
        assert_non_null(strstr(s.message, "not a Status: <html>"));
        assert_null(strchr(s.message, '\n'));
        /* JSON that is not a Status (a Pod under a wrong code) is no Status either. */
        from(500, "{\"kind\":\"Pod\",\"reason\":\"x\"}", NULL, &s);
        assert_string_equal(s.reason, "");
        /* Success: no reason, no message. */
        from(201, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Success\",\"code\":201}",
             NULL, &s);
        assert_true(kube_status_ok(&s));
        assert_string_equal(s.reason, "");
        /* No answer at all. */
        s = (struct kube_status){ .transport_errno = -111 };
        snprintf(s.message, sizeof(s.message), "Connection refused");
        kube_status_format(&s, line, sizeof(line));
        assert_string_equal(line, "unreachable: Connection refused");
        assert_false(kube_status_ok(&s));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pdb_429),
                cmocka_unit_test(test_retry_after),
                cmocka_unit_test(test_not_found_conflict_expired_unauthorized),
                cmocka_unit_test(test_not_a_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
