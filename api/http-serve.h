// SPDX-License-Identifier: Apache-2.0
// A small, strict HTTP/1.1 server side for plain-text GET endpoints (memagentd's /metrics,
// /healthz and /readyz): a parser of one request head from a buffer, and a writer of a response
// head. Pure: no sockets, no clock, no allocation, so that it is unit-tested and fuzzed alone;
// agent/daemon/metrics-http.c drives it on the daemon's loop.
//
// What it takes (RFC 9112): a request line "METHOD SP origin-form (or absolute-form) SP
// HTTP/1.x", header fields "name: value", CRLF or bare LF line ends (§2.2), empty lines before the
// request line ignored. What it refuses, with the status to answer, after which the connection
// is closed: a malformed request line or field, obs-fold, a bare CR, a missing or repeated Host in
// HTTP/1.1 (400); a target longer than HTTP_TARGET_MAX_BYTES (414); a head longer than
// HTTP_REQUEST_HEAD_MAX_BYTES (431); a major version other than 1 (505); Transfer-Encoding (501);
// a body (Content-Length > 0): 405 for methods other than GET and HEAD, 413 for those, since no
// endpoint takes one and the body is never read.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The whole head of a request, from the first byte of its request line to its empty line. */
#define HTTP_REQUEST_HEAD_MAX_BYTES 8192
/* The request target as sent (path and query). */
#define HTTP_TARGET_MAX_BYTES 1024
/* Methods are tokens; no method this server knows is longer. */
#define HTTP_METHOD_MAX_BYTES 32
/* Room for any head http_response_head() writes with a Content-Type of up to 100 bytes. */
#define HTTP_RESPONSE_HEAD_MAX_BYTES 320

enum http_method {
        HTTP_METHOD_GET,
        HTTP_METHOD_HEAD,
        HTTP_METHOD_OTHER, /* any other token: answered 405 */
};

struct http_request {
        enum http_method method;
        unsigned version_minor; /* HTTP/1.version_minor (a minor above 1 is served as 1.1) */
        /* RFC 9112 §9.3: HTTP/1.1 keeps the connection unless "Connection: close"; HTTP/1.0
         * closes it unless "Connection: keep-alive". */
        bool keep_alive;
        /* The target's path, without query string or fragment, not percent-decoded; for an
         * absolute-form target ("http://host/metrics") the path part ("/" if none). */
        char path[HTTP_TARGET_MAX_BYTES + 1];
        /* On an error, the status to answer (4xx or 5xx); 0 otherwise. */
        unsigned error_status;
};

/* Parses the request head at the start of buf[0..size). Returns:
 *   > 0      a request is complete: *ret is filled and the value is the bytes it took (the head,
 *            and the empty lines before it); a pipelined request starts right after;
 *   0        more bytes are needed (nothing is wrong so far; *ret is unspecified);
 *   -EBADMSG the request cannot be served: ret->error_status is the status to answer, and
 *            ret->method the method when the request line was read that far (else OTHER, so that
 *            the answer carries its body). The connection is to be closed after the answer.
 * Reads no byte outside buf[0..size). */
int http_request_parse(const char *buf, size_t size, struct http_request *ret);

/* "OK", "Not Found", ... for the statuses this server answers; "Unknown" for others. */
const char *http_status_reason(unsigned status);

/* Writes a response head into buf: "HTTP/1.1 STATUS REASON", Date (RFC 9110 IMF-fixdate of
 * realtime_usec, CLOCK_REALTIME), Content-Type, Content-Length (content_length_bytes, also for a
 * HEAD answer, which then carries no body), "Allow: GET, HEAD" on 405, "Connection: close" when
 * close, and the empty line. Returns its length, or -ENOBUFS when it does not fit in size. */
int http_response_head(char *buf, size_t size, unsigned status, const char *content_type,
                       size_t content_length_bytes, bool close, uint64_t realtime_usec);
