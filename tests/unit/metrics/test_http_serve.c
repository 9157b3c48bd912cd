// SPDX-License-Identifier: Apache-2.0
// memagentd's HTTP/1.1 request parser and response head writer (api/http-serve.h), on requests
// as the real clients send them: a Prometheus 2.x scrape, a kubelet probe, curl. Each is fed
// whole, cut at every byte (more bytes needed until the last one), and pipelined; then every
// refusal with its status, the query string and absolute-form, HEAD, keep-alive and close by
// version and Connection, and the head written for each kind of answer.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "api/http-serve.h"
#include "common/macro.h"

/* Prometheus 2.45's scrape (scrape/scrape.go: acceptHeader, the scrape timeout header; Go's
 * net/http writes Host and User-Agent first, then the rest). */
static const char prometheus_scrape[] =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 10.244.1.7:9808\r\n"
    "User-Agent: Prometheus/2.45.0\r\n"
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
    "\r\n";

/* The kubelet's HTTP probe (pkg/probe/http: keep-alives off, so Connection: close). */
static const char kubelet_probe[] = "GET /healthz HTTP/1.1\r\n"
                                    "Host: 10.244.1.7:9808\r\n"
                                    "User-Agent: kube-probe/1.29\r\n"
                                    "Accept: */*\r\n"
                                    "Connection: close\r\n"
                                    "Accept-Encoding: gzip\r\n"
                                    "\r\n";

/* curl 7.88 as `curl http://127.0.0.1:9808/readyz` sends it. */
static const char curl_get[] = "GET /readyz HTTP/1.1\r\n"
                               "Host: 127.0.0.1:9808\r\n"
                               "User-Agent: curl/7.88.1\r\n"
                               "Accept: */*\r\n"
                               "\r\n";

/* Parses s[0..n) from an allocation of exactly n bytes, so that ASan sees any read past it. */
static int parse_exact(const char *s, size_t n, struct http_request *req)
{
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, s, n);
        int r = http_request_parse(copy, n, req);
        free(copy);
        return r;
}

static int parse(const char *s, struct http_request *req)
{
        return parse_exact(s, strlen(s), req);
}

/* The request's status when refused; 0 when it parsed, -1 when more bytes were wanted. */
static int refusal(const char *s)
{
        struct http_request req;
        int r = parse(s, &req);
        if (r == -EBADMSG)
                return (int)req.error_status;
        return r > 0 ? 0 : -1;
}

static void test_real_clients(void **state)
{
        (void)state;
        struct http_request req;

        assert_int_equal(parse(prometheus_scrape, &req), (int)strlen(prometheus_scrape));
        assert_int_equal(req.method, HTTP_METHOD_GET);
        assert_string_equal(req.path, "/metrics");
        assert_int_equal(req.version_minor, 1);
        assert_true(req.keep_alive);

        assert_int_equal(parse(kubelet_probe, &req), (int)strlen(kubelet_probe));
        assert_int_equal(req.method, HTTP_METHOD_GET);
        assert_string_equal(req.path, "/healthz");
        assert_false(req.keep_alive);

        assert_int_equal(parse(curl_get, &req), (int)strlen(curl_get));
        assert_string_equal(req.path, "/readyz");
        assert_true(req.keep_alive);
}

/* Every proper prefix asks for more; the whole request parses, consuming all of it. */
static void test_split_at_every_byte(void **state)
{
        (void)state;
        const char *requests[] = { prometheus_scrape, kubelet_probe, curl_get };
        struct http_request req;
        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                size_t n = strlen(requests[i]);
                for (size_t k = 0; k < n; k++) {
                        int r = parse_exact(requests[i], k, &req);
                        if (r != 0)
                                fail_msg("request %zu cut at %zu of %zu: %d (status %u)", i, k, n,
                                         r, req.error_status);
                }
                assert_int_equal(parse_exact(requests[i], n, &req), (int)n);
        }
}

static void test_pipelined(void **state)
{
        (void)state;
        char buf[2048];
        int n = snprintf(buf, sizeof(buf), "%s%s", kubelet_probe, prometheus_scrape);
        struct http_request req;

        int first = parse_exact(buf, (size_t)n, &req);
        assert_int_equal(first, (int)strlen(kubelet_probe));
        assert_string_equal(req.path, "/healthz");
        int second = parse_exact(buf + first, (size_t)n - (size_t)first, &req);
        assert_int_equal(second, (int)strlen(prometheus_scrape));
        assert_string_equal(req.path, "/metrics");
        /* The second, cut short: more bytes wanted, the first still complete. */
        assert_int_equal(parse_exact(buf, (size_t)n - 3, &req), first);
        assert_int_equal(parse_exact(buf + first, (size_t)n - (size_t)first - 3, &req), 0);
}

static void test_refusals(void **state)
{
        (void)state;
        /* Malformed request lines and fields: 400. */
        assert_int_equal(refusal("GARBAGE\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics\r\n\r\n"), 400); /* HTTP/0.9 */
        assert_int_equal(refusal("GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics http/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"),
                         400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: \x01\r\n\r\n"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\n\r\n"), 400); /* no Host */
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
        assert_int_equal(refusal("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n"), 400);
        assert_int_equal(
            refusal("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\n"),
            400);
        /* A NUL in a field, as raw bytes (strlen would stop at it). */
        static const char nul[] = "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n";
        struct http_request req;
        assert_int_equal(parse_exact(nul, sizeof(nul) - 1, &req), -EBADMSG);
        assert_int_equal(req.error_status, 400);

        /* Refused at once, before the line ends: a TLS ClientHello, a bad method byte. */
        assert_int_equal(refusal("\x16\x03\x01\x02"), 400);
        assert_int_equal(refusal("GE\x01"), 400);
        assert_int_equal(refusal("GET /metrics HTTP/1.1x"), 400);

        /* Other statuses. */
        char long_target[HTTP_TARGET_MAX_BYTES + 64];
        memset(long_target, 'a', sizeof(long_target));
        memcpy(long_target, "GET /", 5);
        long_target[5 + HTTP_TARGET_MAX_BYTES] = '\0'; /* no space, no line end yet */
        assert_int_equal(refusal(long_target), 414);
        snprintf(long_target + 4 + HTTP_TARGET_MAX_BYTES + 1, 40, " HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(refusal(long_target), 414);
        /* A target of exactly the bound. */
        snprintf(long_target + 4 + HTTP_TARGET_MAX_BYTES, 40, " HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(refusal(long_target), 0);

        static char big[HTTP_REQUEST_HEAD_MAX_BYTES + 256];
        int n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ");
        memset(big + n, 'p', sizeof(big) - (size_t)n - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(refusal(big), 431); /* still in its headers past the bound */
        memcpy(big + sizeof(big) - 5, "\r\n\r\n", 4);
        assert_int_equal(refusal(big), 431); /* complete, but over the bound */

        assert_int_equal(refusal("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
        assert_int_equal(refusal("GET /metrics HTTP/0.9\r\nHost: x\r\n\r\n"), 505);
        assert_int_equal(
            refusal("GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
        assert_int_equal(refusal("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"),
                         405);
        assert_int_equal(refusal("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"),
                         413);
        /* The method is known when the request line was read, for HEAD's bodiless answer. */
        assert_int_equal(
            parse("HEAD /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", &req),
            -EBADMSG);
        assert_int_equal(req.error_status, 413);
        assert_int_equal(req.method, HTTP_METHOD_HEAD);
}

static void test_targets_and_methods(void **state)
{
        (void)state;
        struct http_request req;

        assert_true(parse("GET /metrics?name[]=up&x=1 HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
        assert_string_equal(req.path, "/metrics");
        assert_true(parse("GET http://10.0.0.1:9808/healthz?x HTTP/1.1\r\nHost: x\r\n\r\n", &req) >
                    0);
        assert_string_equal(req.path, "/healthz");
        assert_true(parse("GET HTTP://h:1 HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
        assert_string_equal(req.path, "/");
        assert_true(parse("GET /?a HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
        assert_string_equal(req.path, "/");
        assert_int_equal(refusal("GET ftp://h/metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 400);

        assert_true(parse("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
        assert_int_equal(req.method, HTTP_METHOD_HEAD);
        assert_true(parse("DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
        assert_int_equal(req.method, HTTP_METHOD_OTHER);
        assert_true(parse("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &req) >
                    0);
        assert_int_equal(req.method, HTTP_METHOD_OTHER);
        /* Methods are case-sensitive. */
        assert_true(parse("get /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
        assert_int_equal(req.method, HTTP_METHOD_OTHER);
}

static void test_connection_and_line_ends(void **state)
{
        (void)state;
        struct http_request req;

        /* HTTP/1.0: close unless keep-alive; no Host needed. */
        assert_true(parse("GET /healthz HTTP/1.0\r\n\r\n", &req) > 0);
        assert_int_equal(req.version_minor, 0);
        assert_false(req.keep_alive);
        assert_true(parse("GET /healthz HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", &req) > 0);
        assert_true(req.keep_alive);
        /* HTTP/1.1: keep-alive unless close, among other options, in any case. */
        assert_true(parse("GET / HTTP/1.1\r\nHOST: x\r\nCONNECTION: TE, Close\r\n\r\n", &req) > 0);
        assert_false(req.keep_alive);
        assert_true(parse("GET / HTTP/1.1\r\nhost: x\r\nConnection: keep-alive\r\n\r\n", &req) > 0);
        assert_true(req.keep_alive);
        /* A later minor version is served as 1.1. */
        assert_true(parse("GET / HTTP/1.9\r\nHost: x\r\n\r\n", &req) > 0);
        assert_int_equal(req.version_minor, 1);
        assert_true(req.keep_alive);

        /* Bare LF line ends, and empty lines before the request line, are taken (RFC 9112 §2.2);
         * the empty lines count in what was consumed. */
        static const char lf[] = "\r\n\nGET /readyz HTTP/1.1\nHost: x\n\n";
        assert_int_equal(parse(lf, &req), (int)strlen(lf));
        assert_string_equal(req.path, "/readyz");
        /* Whitespace around a value is not part of it. */
        assert_true(parse("GET / HTTP/1.1\r\nHost:x\r\nConnection: \t close \t\r\n\r\n", &req) > 0);
        assert_false(req.keep_alive);
        /* Nothing yet, or only empty lines: more bytes wanted. */
        assert_int_equal(parse("", &req), 0);
        assert_int_equal(parse("\r\n\r", &req), 0);
}

static void test_response_head(void **state)
{
        (void)state;
        char buf[HTTP_RESPONSE_HEAD_MAX_BYTES];
        /* RFC 9110 §5.6.7's example instant: Sun, 06 Nov 1994 08:49:37 GMT. */
        const uint64_t t = 784111777ULL * 1000000u + 123456u;

        int n = http_response_head(buf, sizeof(buf), 200,
                                   "text/plain; version=0.0.4; charset=utf-8", 104857, false, t);
        assert_string_equal(buf, "HTTP/1.1 200 OK\r\n"
                                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                 "Content-Length: 104857\r\n"
                                 "\r\n");
        assert_int_equal(n, (int)strlen(buf));

        n = http_response_head(buf, sizeof(buf), 405, "text/plain; charset=utf-8", 32, true, t);
        assert_int_equal(n, (int)strlen(buf));
        assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
        assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));
        assert_non_null(strstr(buf, "\r\nConnection: close\r\n\r\n"));

        n = http_response_head(buf, sizeof(buf), 431, "text/plain", 0, true, t);
        assert_non_null(strstr(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert_null(strstr(buf, "Allow:"));

        /* A buffer too small is refused, not cut. */
        assert_int_equal(http_response_head(buf, 40, 200, "text/plain", 1, false, t), -ENOBUFS);
        /* The largest head this server writes fits its bound. */
        char type[101];
        memset(type, 't', 100);
        type[100] = '\0';
        assert_true(http_response_head(buf, sizeof(buf), 505, type, SIZE_MAX, true, t) > 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_clients),
                cmocka_unit_test(test_split_at_every_byte),
                cmocka_unit_test(test_pipelined),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_targets_and_methods),
                cmocka_unit_test(test_connection_and_line_ends),
                cmocka_unit_test(test_response_head),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
