// SPDX-License-Identifier: Apache-2.0
// The answer of kube-apiserver, decided on its metav1.Status body as the server writes it
// (staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go): reason, code, details.causes[0],
// details.retryAfterSeconds; the Retry-After header wins over the body's field because the
// server sets both from the same value and proxies in between keep only the header.
#include "api/kube/status.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/codec.h"
#include "common/clock.h"

/* Longest Retry-After honoured: a server asking for more than a day is misconfigured. */
#define RETRY_AFTER_MAX_SEC (24 * 3600)

bool kube_status_ok(const struct kube_status *s)
{
        return s && s->http_code >= 200 && s->http_code < 300;
}

static void copy_str(char *dst, size_t size, const char *src)
{
        snprintf(dst, size, "%s", src ? src : "");
}

/* Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); 0 when neither. */
static uint64_t parse_retry_after(const char *v)
{
        while (v && isspace((unsigned char)*v))
                v++;
        if (!v || !*v)
                return 0;
        if (isdigit((unsigned char)*v)) {
                uint64_t n = 0;
                for (; isdigit((unsigned char)*v); v++) {
                        n = n * 10 + (uint64_t)(*v - '0');
                        if (n > RETRY_AFTER_MAX_SEC)
                                return RETRY_AFTER_MAX_SEC;
                }
                return n;
        }
        struct tm tm = {};
        const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (!end)
                return 0;
        time_t when = timegm(&tm);
        uint64_t now_sec = now_usec(CLOCK_REALTIME) / 1000000u;
        if (when == (time_t)-1 || (uint64_t)when <= now_sec)
                return 0;
        uint64_t d = (uint64_t)when - now_sec;
        return d > RETRY_AFTER_MAX_SEC ? RETRY_AFTER_MAX_SEC : d;
}

/* The first bytes of a body that is not a Status, printable, for the message. */
static void describe_body(const char *body, size_t len, char *dst, size_t size)
{
        size_t o = 0;
        const char *prefix = "not a Status: ";

        if (!body || len == 0) {
                copy_str(dst, size, "empty body");
                return;
        }
        o = (size_t)snprintf(dst, size, "%s", prefix);
        for (size_t i = 0; i < len && o + 1 < size && i < 200; i++) {
                unsigned char ch = (unsigned char)body[i];
                dst[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
        }
        dst[o < size ? o : size - 1] = '\0';
}

void kube_status_from_reply(int http_code, const char *body, size_t body_len,
                            const char *retry_after, struct kube_status *ret)
{
        struct kube_status s = { .http_code = http_code };
        _cleanup_json_ struct json_object *o = NULL;
        struct api_error err = {};
        const char *kind = NULL, *reason = NULL, *message = NULL;
        struct json_object *details = NULL, *causes = NULL;
        uint64_t body_retry = 0;

        s.retry_after_sec = parse_retry_after(retry_after);
        if (body && body_len > 0 && api_parse(body, body_len, &o, &err) == 0 &&
            json_object_is_type(o, json_type_object) &&
            api_get_string(o, "", "kind", false, false, &kind, &err) > 0 && streq(kind, "Status")) {
                (void)api_get_string(o, "", "reason", false, false, &reason, &err);
                (void)api_get_string(o, "", "message", false, false, &message, &err);
                (void)api_get_object(o, "", "details", false, false, &details, &err);
                if (details) {
                        (void)api_get_u64(details, "details", "retryAfterSeconds", false,
                                          RETRY_AFTER_MAX_SEC, &body_retry, &err);
                        (void)api_get_array(details, "details", "causes", false, false, &causes,
                                            &err);
                }
                if (causes && json_object_array_length(causes) > 0) {
                        struct json_object *c = json_object_array_get_idx(causes, 0);
                        const char *cr = NULL, *cm = NULL;
                        if (json_object_is_type(c, json_type_object)) {
                                (void)api_get_string(c, "", "reason", false, false, &cr, &err);
                                (void)api_get_string(c, "", "message", false, false, &cm, &err);
                        }
                        copy_str(s.cause_reason, sizeof(s.cause_reason), cr);
                        copy_str(s.cause_message, sizeof(s.cause_message), cm);
                }
                copy_str(s.reason, sizeof(s.reason), reason);
                copy_str(s.message, sizeof(s.message), message);
                if (!s.retry_after_sec)
                        s.retry_after_sec = body_retry;
        } else if (!(http_code >= 200 && http_code < 300))
                describe_body(body, body_len, s.message, sizeof(s.message));
        *ret = s;
}

void kube_status_format(const struct kube_status *s, char *buf, size_t size)
{
        char retry[48] = "";

        if (!s) {
                copy_str(buf, size, "no answer");
                return;
        }
        if (s->http_code == 0) {
                snprintf(buf, size, "unreachable: %s", s->message[0] ? s->message : "no answer");
                return;
        }
        if (s->retry_after_sec)
                snprintf(retry, sizeof(retry), " (retry after %llu s)",
                         (unsigned long long)s->retry_after_sec);
        snprintf(buf, size, "%d%s%s%s%s%s%s%s%s", s->http_code, s->reason[0] ? " " : "", s->reason,
                 s->cause_reason[0] ? " (" : "", s->cause_reason, s->cause_reason[0] ? ")" : "",
                 s->message[0] ? ": " : "", s->message, retry);
}
