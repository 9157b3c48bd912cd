// SPDX-License-Identifier: Apache-2.0
// memagentd's HTTP/1.1 request parser (api/http-serve.h) on the input as the bytes a client sent,
// served as the daemon serves them: request after pipelined request until more bytes are needed
// or one is refused. Beyond the sanitizers (libFuzzer's buffer is exactly the input, so a read
// past it is caught), the parser's contract: it returns the bytes a request took (never more
// than it was given, and the same when given only those bytes), 0 for more only below the head's
// bound, or -EBADMSG with a 4xx or 5xx status; a parsed path starts with '/', is no longer than
// the target's bound and holds no query; and the answer's head fits the writer's bound.
#include <string.h>

#include "api/http-serve.h"
#include "tests/fuzz/fuzz.h"

static void answer_head(unsigned status)
{
        char head[HTTP_RESPONSE_HEAD_MAX_BYTES];
        int n = http_response_head(head, sizeof(head), status, "text/plain; charset=utf-8", 6877,
                                   true, 784111777ULL * 1000000u);
        if (n <= 0 || (size_t)n >= sizeof(head) || memcmp(head, "HTTP/1.1 ", 9) != 0)
                fuzz_fail("no head for status %u: %d", status, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        size_t off = 0;

        /* The server's input buffer holds one head at most: what it would have read. */
        for (unsigned served = 0; off < size && served < 64; served++) {
                size_t n = size - off;
                struct http_request req;
                int r = http_request_parse(buf + off, n, &req);
                if (r == 0) {
                        if (n >= HTTP_REQUEST_HEAD_MAX_BYTES)
                                fuzz_fail("more wanted with %zu bytes, past the head's bound", n);
                        return 0;
                }
                if (r == -EBADMSG) {
                        if (req.error_status < 400 || req.error_status > 599)
                                fuzz_fail("refused with status %u", req.error_status);
                        answer_head(req.error_status);
                        return 0;
                }
                if (r < 0 || (size_t)r > n)
                        fuzz_fail("returned %d for %zu bytes", r, n);
                if (r > HTTP_REQUEST_HEAD_MAX_BYTES)
                        fuzz_fail("a request of %d bytes, past the head's bound", r);
                size_t len = strnlen(req.path, sizeof(req.path));
                if (req.path[0] != '/' || len > HTTP_TARGET_MAX_BYTES || memchr(req.path, '?', len))
                        fuzz_fail("path \"%.*s\"", (int)len, req.path);
                if (req.method > HTTP_METHOD_OTHER || req.version_minor > 1)
                        fuzz_fail("method %d, version 1.%u", (int)req.method, req.version_minor);
                /* A request does not depend on the bytes after it. */
                struct http_request alone;
                if (http_request_parse(buf + off, (size_t)r, &alone) != r ||
                    strcmp(alone.path, req.path) != 0 || alone.method != req.method ||
                    alone.keep_alive != req.keep_alive)
                        fuzz_fail("the request parses differently without what follows it");
                answer_head(200);
                off += (size_t)r;
        }
        return 0;
}
